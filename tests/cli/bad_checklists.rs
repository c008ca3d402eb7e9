//! The corpus of malformed checklists: each one exits 2 with `file:line:col` (where the file
//! has a place to point at), a caret, and a stable message (snapshots).

use crate::support::*;

#[test]
fn every_bad_checklist_exits_2_with_a_located_message() {
    let dir = repo().join("tests/cli/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 25, "the corpus shrank to {}", files.len());
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let rel = format!("tests/cli/bad/{name}.toml");
        let r = run_in(&repo(), &["validate", &rel]);
        assert_eq!(r.code, 2, "{name}: {}", r.all());
        assert!(!r.stderr.contains("panicked"), "{name}: {}", r.all());
        let located = r.stderr.contains(&format!("{rel}:"));
        let placeless = name.contains("no-items") || name.contains("empty-file");
        assert!(
            located || placeless,
            "{name} has no file:line:col: {}",
            r.stderr
        );
        insta::with_settings!({ snapshot_path => "snapshots/bad", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, r.stderr);
        });
    }
}
