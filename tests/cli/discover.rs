//! Finding one's way: `list --json`, `--only`/`--skip` previews, `kinds`/`explain`, shell
//! completions, the man page, `--version`, `-v`/`-q`, and the errors of a first try.

use std::process::Command;

use crate::support::*;

const CHECKLIST: &str = r#"[checklist]
timeout = "45s"

[command.build]
run = "true"
tags = ["fast"]

[http.health]
url = "http://127.0.0.1:9/health"
timeout = "2s"

[http.home]
url = "http://127.0.0.1:9/"
needs = ["http.health"]
blocking = false
tags = ["web"]
"#;

fn list_json(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["list", "--json", "preflight.toml"];
    args.extend_from_slice(extra);
    let r = run_in(dir, &args);
    assert_eq!(r.code, 0, "{}", r.all());
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn list_json_gives_each_item_with_its_file_and_line() {
    let d = tempdir();
    write(d.path(), "preflight.toml", CHECKLIST);
    let doc = list_json(d.path(), &[]);
    let items = doc["items"].as_array().expect("items");
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["command.build", "http.health", "http.home"]);
    let home = &items[2];
    assert_eq!(home["kind"], "http");
    assert_eq!(home["line"], 12, "{home}");
    assert_eq!(home["file"], "preflight.toml");
    assert_eq!(home["needs"], serde_json::json!(["http.health"]));
    assert_eq!(home["tags"], serde_json::json!(["web"]));
    assert_eq!(home["blocking"], false);
    assert_eq!(home["timeout"], "45s");
    assert_eq!(items[1]["timeout_seconds"], 2.0);
    assert_eq!(items[0]["line"], 4);
}

/// An item from an included file is placed in that file.
#[test]
fn list_json_places_included_items_in_their_file() {
    let d = tempdir();
    write(
        d.path(),
        "common.toml",
        "# shared\n\n[command.lint]\nrun = \"true\"\n",
    );
    write(
        d.path(),
        "preflight.toml",
        "include = [\"common.toml\"]\n\n[command.build]\nrun = \"true\"\n",
    );
    let doc = list_json(d.path(), &[]);
    let items = doc["items"].as_array().expect("items");
    let lint = items
        .iter()
        .find(|i| i["id"] == "command.lint")
        .expect("lint");
    assert!(
        lint["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("common.toml")),
        "{lint}"
    );
    assert_eq!(lint["line"], 3, "{lint}");
    let build = items
        .iter()
        .find(|i| i["id"] == "command.build")
        .expect("build");
    assert_eq!(build["file"], "preflight.toml", "{build}");
    assert_eq!(build["line"], 3, "{build}");
}

#[test]
fn list_previews_what_only_and_skip_select() {
    let d = tempdir();
    write(d.path(), "preflight.toml", CHECKLIST);
    // `--only` brings what the item needs.
    let doc = list_json(d.path(), &["--only", "http.home"]);
    let ids: Vec<&str> = doc["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["http.health", "http.home"]);
    assert_eq!(doc["not_selected"], serde_json::json!(["command.build"]));
    let r = run_in(d.path(), &["list", "--skip", "fast"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stdout.contains("command.build  "), "{}", r.stdout);
    assert!(
        r.stdout.contains("not selected: command.build"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_bare_item_name_suggests_its_id() {
    let d = tempdir();
    write(d.path(), "preflight.toml", CHECKLIST);
    for args in [
        &["list", "--only", "health"][..],
        &["run", "--only", "health"][..],
    ] {
        let r = run_in(d.path(), args);
        assert_eq!(r.code, 2, "{}", r.all());
        assert!(
            r.stderr.contains(
                "`--only health` matches no item id, kind or tag, did you mean `http.health`?"
            ),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn kinds_and_explain_print_the_readme_tables() {
    let r = run_in(&repo(), &["kinds"]);
    assert_eq!(r.code, 0, "{}", r.all());
    for kind in [
        "http", "command", "manual", "browser", "flags", "soak", "rollback",
    ] {
        assert!(
            r.stdout.contains(&format!("[{kind}.NAME]")),
            "{kind}: {}",
            r.stdout
        );
    }
    let r = run_in(&repo(), &["explain", "command"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let readme = read(&repo().join("README.md"));
    // The row as README writes it, the cells spaced out instead of `|`.
    assert!(readme.contains("| `exit_code` | 0 | expected exit code(s) |"));
    assert!(
        r.stdout.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words == ["`exit_code`", "0", "expected", "exit", "code(s)"]
        }),
        "{}",
        r.stdout
    );
    let r = run_in(&repo(), &["explain", "comand"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("did you mean `command`?"), "{}", r.stderr);
}

#[test]
fn completions_are_valid_shell_and_know_the_subcommands() {
    let d = tempdir();
    for shell in ["bash", "zsh", "fish"] {
        let r = run_in(&repo(), &["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.all());
        for sub in ["run", "gate", "init", "schema", "explain"] {
            assert!(r.stdout.contains(sub), "{shell} lacks {sub}");
        }
        if shell == "bash" {
            let path = write(d.path(), "preflight.bash", &r.stdout);
            let out = Command::new("bash")
                .arg("-n")
                .arg(&path)
                .output()
                .expect("bash");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // Loaded, it completes `preflight ini` to `init`.
            let script = format!(
                "source {}; COMP_WORDS=(preflight ini); COMP_CWORD=1; _preflight preflight ini preflight; echo \"${{COMPREPLY[@]}}\"",
                path.display()
            );
            let out = Command::new("bash")
                .args(["-c", &script])
                .output()
                .expect("bash");
            let words = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                words.trim(),
                "init",
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let r = run_in(&repo(), &["completions", "tcsh"]);
    assert_eq!(r.code, 2, "{}", r.all());
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let r = run_in(&repo(), &["man"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(".TH preflight 1"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    for sub in [
        "run",
        "gate",
        "validate",
        "list",
        "init",
        "schema",
        "completions",
    ] {
        assert!(
            r.stdout.contains(&format!("preflight\\-{sub}")) || r.stdout.contains(sub),
            "{sub}"
        );
    }
}

fn git_head(short: usize) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", &format!("--short={short}"), "HEAD"])
        .current_dir(repo())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let r = run_in(&repo(), &["--version"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let re = regex::Regex::new(
        r"^preflight \d+\.\d+\.\d+ \(commit ([0-9a-f]{10}|unknown), built \d{4}-\d{2}-\d{2}\)$",
    )
    .expect("regex");
    assert!(re.is_match(r.stdout.trim()), "{}", r.stdout);
    if let Some(head) = git_head(10) {
        assert!(r.stdout.contains(&head), "{} lacks {head}", r.stdout);
    }
}

/// A source tarball has no `.git`: build.rs takes the commit that `git archive` wrote into
/// `.commit` (export-subst), and says `unknown` when there is none.
#[test]
fn build_script_finds_the_commit_in_a_tarball_without_git() {
    let Some(head) = git_head(10) else {
        return; // not a git checkout: nothing to archive
    };
    let d = tempdir();
    let src = d.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let archive = Command::new("sh")
        .args([
            "-c",
            &format!("git archive HEAD | tar -x -C {}", src.display()),
        ])
        .current_dir(repo())
        .status()
        .expect("git archive");
    assert!(archive.success());
    assert!(!src.join(".git").exists());
    let exe = d.path().join("build-script");
    let out = Command::new("rustc")
        .args(["--edition", "2024", "-O", "-o"])
        .arg(&exe)
        .arg(repo().join("build.rs"))
        .output()
        .expect("rustc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = |dir: &std::path::Path| {
        let out = Command::new(&exe)
            .current_dir(dir)
            .env("CARGO_MANIFEST_DIR", dir)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env_remove("PREFLIGHT_COMMIT")
            .env("GIT_CEILING_DIRECTORIES", d.path())
            .output()
            .expect("build script");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let printed = run(&src);
    assert!(
        printed.contains(&format!("cargo:rustc-env=PREFLIGHT_COMMIT={head}")),
        "{printed}"
    );
    assert!(
        printed.contains("cargo:rustc-env=PREFLIGHT_BUILD_DATE=2023-11-14"),
        "{printed}"
    );
    std::fs::remove_file(src.join(".commit")).expect("rm .commit");
    assert!(run(&src).contains("cargo:rustc-env=PREFLIGHT_COMMIT=unknown"));
}

#[test]
fn gate_without_the_separator_says_that_it_is_needed() {
    let d = tempdir();
    write(d.path(), "preflight.toml", CHECKLIST);
    let r = run_in(d.path(), &["gate", "preflight.toml", "./deploy.sh"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("`gate` runs the deploy command given after `--` (`./deploy.sh`)")
            && r.stderr.contains("preflight gate [FILE] -- CMD ARGS..."),
        "{}",
        r.stderr
    );
    let r = run_in(d.path(), &["gate", "preflight.toml"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("after `--`"), "{}", r.stderr);
}

#[test]
fn run_without_a_checklist_says_how_to_make_one() {
    let d = tempdir();
    for (cmd, hint) in [
        ("run", "preflight run FILE"),
        ("validate", "preflight validate FILE"),
    ] {
        let r = run_in(d.path(), &[cmd]);
        assert_eq!(r.code, 2, "{}", r.all());
        assert!(
            r.stderr
                .contains("no checklist `preflight.toml` here: `preflight init` writes")
                && r.stderr.contains(hint),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn verbose_shows_passing_details_and_quiet_only_failures() {
    let d = tempdir();
    write(
        d.path(),
        "preflight.toml",
        r#"[command.unit]
run = "echo 'test result: ok. 12 passed; 0 failed'"

[command.lint]
run = "echo 'lint: 3 problems'; exit 1"
"#,
    );
    let normal = run_in(d.path(), &["run"]);
    assert_eq!(normal.code, 1, "{}", normal.all());
    assert!(
        normal.stderr.contains("PASS command.unit"),
        "{}",
        normal.stderr
    );
    assert!(
        !normal.stderr.contains("        test result: ok. 12 passed"),
        "{}",
        normal.stderr
    );
    assert!(
        normal.stderr.contains("        lint: 3 problems"),
        "{}",
        normal.stderr
    );

    let verbose = run_in(d.path(), &["run", "-v"]);
    assert!(
        verbose
            .stderr
            .contains("        test result: ok. 12 passed"),
        "{}",
        verbose.stderr
    );

    let quiet = run_in(d.path(), &["run", "-q"]);
    assert_eq!(quiet.code, 1, "{}", quiet.all());
    assert!(!quiet.stderr.contains("command.unit"), "{}", quiet.stderr);
    assert!(
        !quiet.stderr.contains("preflight preflight"),
        "{}",
        quiet.stderr
    );
    assert!(
        quiet.stderr.contains("FAIL command.lint"),
        "{}",
        quiet.stderr
    );
    assert!(
        quiet.stderr.contains("        lint: 3 problems"),
        "{}",
        quiet.stderr
    );
    assert!(
        quiet
            .stderr
            .trim_end()
            .ends_with("gate: CLOSED, a blocking item did not pass (exit 1)"),
        "{}",
        quiet.stderr
    );
    assert!(
        !quiet.stderr.contains("passed,"),
        "the summary is left out: {}",
        quiet.stderr
    );
}
