//! The checklist JSON Schema, read by a real consumer: Taplo's CLI (the engine of the Even
//! Better TOML editor extension; `ci/install-deps.sh` installs it from npm).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// Bad checklists whose fault a schema cannot see, and why.
const SCHEMA_CANNOT_TELL: &[(&str, &str)] = &[
    (
        "10-unknown-var",
        "a var is defined elsewhere in the file: a schema cannot cross-reference",
    ),
    (
        "11-unset-env",
        "the environment exists only when the checklist is read",
    ),
    (
        "29-var-env-unset",
        "the environment exists only when the checklist is read",
    ),
    (
        "13-unknown-need",
        "`needs` names other items: a schema cannot cross-reference",
    ),
    (
        "14-self-need",
        "`needs` names other items: a schema cannot cross-reference",
    ),
    ("15-cycle", "a cycle spans items"),
    ("16-cycle-of-three", "a cycle spans items"),
    (
        "20-invalid-regex",
        "Rust regex syntax: validators compile ECMA or Python regexes",
    ),
    (
        "43-browser-relative-goto-without-base-url",
        "`goto` is relative only when no `base_url` is set: keys of different tables",
    ),
    (
        "44-browser-unknown-modifier",
        "a key chord inside a string (`Hyper+A`)",
    ),
    (
        "45-browser-run-var-outside-browser",
        "which vars a string may use depends on the kind it is in",
    ),
    (
        "43-waiver-unknown-item",
        "a waiver names an item: a schema cannot cross-reference",
    ),
    (
        "44-waiver-too-long",
        "`until` against today and `max_waiver`: dates compared at read time",
    ),
    (
        "46-waiver-until-not-a-date",
        "`until` may be a string holding a date, and Taplo reads a TOML date as a string too",
    ),
    ("47-waiver-blank-reason", "a blank string is still a string"),
    (
        "71-need-bare-name",
        "`needs` names other items: a schema cannot cross-reference",
    ),
];

fn taplo() -> PathBuf {
    let bin = repo().join("ci/.npm/node_modules/.bin/taplo");
    assert!(
        bin.exists(),
        "Taplo's CLI is missing: run `bash ci/install-deps.sh` (npm @taplo/cli)"
    );
    bin
}

/// Lints `files` against the repository's schema; returns the files Taplo found invalid.
fn taplo_rejects(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let schema = format!("file://{}", repo().join("preflight.schema.json").display());
    let out = Command::new(taplo())
        .args(["lint", "--colors", "never", "--schema", &schema])
        .args(files)
        .output()
        .expect("run taplo");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let rejected: BTreeSet<PathBuf> = text
        .lines()
        .filter(|l| l.contains("invalid file"))
        .filter_map(|l| l.split("path=\"").nth(1))
        .map(|p| PathBuf::from(p.trim_end_matches('"')))
        .collect();
    assert_eq!(
        out.status.success(),
        rejected.is_empty(),
        "taplo's status and its report disagree:\n{text}"
    );
    rejected
}

#[test]
fn the_shipped_schema_is_the_one_the_types_generate() {
    let r = run_in(&repo(), &["schema"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let shipped = read(&repo().join("preflight.schema.json"));
    assert!(
        r.stdout == shipped,
        "preflight.schema.json is stale: run `cargo run -- schema > preflight.schema.json`"
    );
}

/// The demo and every README example that `preflight validate` accepts are valid for the
/// schema too (a schema that rejects a good checklist would put red lines in editors).
#[test]
fn taplo_accepts_the_demo_and_the_readme_examples_preflight_accepts() {
    let d = tempdir();
    let demo = d.path().join("demo.toml");
    // As a user would: the directive at the top of the checklist, the schema next to it.
    std::fs::copy(
        repo().join("preflight.schema.json"),
        d.path().join("preflight.schema.json"),
    )
    .expect("copy schema");
    let text = read(&repo().join("checklists/demo.toml"));
    std::fs::write(&demo, format!("#:schema ./preflight.schema.json\n{text}")).expect("write");
    let out = Command::new(taplo())
        .args(["lint", "--colors", "never"])
        .arg(&demo)
        .output()
        .expect("run taplo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let readme = read(&repo().join("README.md"));
    let mut valid = Vec::new();
    for (n, block) in readme.split("```toml\n").skip(1).enumerate() {
        let block = block.split("```").next().unwrap_or("");
        let path = d.path().join(format!("readme-{n:02}.toml"));
        std::fs::write(&path, block).expect("write");
        // The README's fragments use `${base}` and secrets from the environment.
        let validates = |vars: &[&str]| {
            preflight()
                .current_dir(d.path())
                .arg("validate")
                .args(vars)
                .arg(&path)
                .env("DEPLOY_TOKEN", "a-deploy-token")
                .env("UNLEASH_TOKEN", "an-unleash-token")
                .stderr(std::process::Stdio::null())
                .status()
                .expect("run preflight")
                .success()
        };
        if validates(&[]) || validates(&["--var", "base=http://127.0.0.1:8080"]) {
            valid.push(path);
        }
    }
    assert!(
        valid.len() >= 5,
        "only {} README examples validate",
        valid.len()
    );
    // `include` and `[profile.NAME]`: a main file whose items all come from an included one,
    // and profiles replacing vars, checklist and item keys.
    write(
        d.path(),
        "common.toml",
        "[http.health]\nurl = \"${base}/health\"\n",
    );
    let extra = [
        write(
            d.path(),
            "with-include.toml",
            "include = [\"common.toml\"]\n\n[checklist]\nname = \"shop\"\n\n[vars]\nbase = \"http://127.0.0.1:8080\"\n",
        ),
        write(
            d.path(),
            "with-profiles.toml",
            "[vars]\nbase = \"http://127.0.0.1:8080\"\n\n[http.health]\nurl = \"${base}/health\"\n\n[profile.staging.vars]\nbase = \"https://staging.example\"\n\n[profile.production]\nchecklist = { jobs = 4 }\nhttp.health = { timeout = \"10s\", retries = 2 }\n",
        ),
    ];
    for file in &extra {
        let r = run_in(d.path(), &["validate", file.to_str().expect("utf-8")]);
        assert_eq!(r.code, 0, "{}", r.all());
    }
    valid.extend(extra);
    let rejected = taplo_rejects(&valid);
    assert!(
        rejected.is_empty(),
        "the schema rejects checklists preflight accepts: {rejected:?}"
    );
}

#[test]
fn taplo_rejects_the_bad_checklists_a_schema_can_tell() {
    let dir = repo().join("tests/cli/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("bad corpus")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let rejected = taplo_rejects(&files);
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    let accepted: BTreeSet<String> = files
        .iter()
        .filter(|f| !rejected.contains(*f))
        .filter_map(|f| stem(f))
        .collect();
    let cannot: BTreeSet<String> = SCHEMA_CANNOT_TELL
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(
        accepted, cannot,
        "the bad checklists the schema lets through are not the ones listed as beyond a schema"
    );
    assert!(rejected.len() >= 30, "{rejected:?}");
}
