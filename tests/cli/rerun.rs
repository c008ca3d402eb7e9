//! `--rerun-failed[=REPORT.json]`: only the items that did not pass last time, plus what they
//! need, through the real binary.

use std::path::Path;

use crate::support::*;

/// `setup` passes; `deploy-check` needs it and fails until the file `fixed` exists; `notify`
/// needs `deploy-check` (skipped while it fails); `lint` passes on its own.
const CHECKLIST: &str = r#"[checklist]
name = "release"

[command.setup]
run = "echo setup >> ran.log"

[command.deploy-check]
run = "echo deploy-check >> ran.log; test -f fixed"
needs = ["command.setup"]

[command.notify]
run = "echo notify >> ran.log"
needs = ["command.deploy-check"]

[command.lint]
run = "echo lint >> ran.log"
"#;

/// The items that ran, in the order they wrote `ran.log`; the log is emptied.
fn ran(dir: &Path) -> Vec<String> {
    let path = dir.join("ran.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    let mut ids: Vec<String> = text.lines().map(str::to_string).collect();
    ids.sort();
    ids
}

#[test]
fn reruns_what_did_not_pass_and_what_it_needs_until_nothing_is_left() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "release.toml", CHECKLIST);
    let first = run_in(d, &["run", "release.toml"]);
    assert_eq!(first.code, 1, "{}", first.all());
    assert_eq!(ran(d), ["deploy-check", "lint", "setup"]);

    // Still failing: deploy-check again (and setup, which it needs); notify is skipped again.
    let again = run_in(
        d,
        &["run", "release.toml", "--rerun-failed", "--json", "r.json"],
    );
    assert_eq!(again.code, 1, "{}", again.all());
    assert!(
        again
            .stderr
            .contains("--rerun-failed: 2 item(s) did not pass in `")
            && again
                .stderr
                .contains("last-run.json`: command.deploy-check, command.notify"),
        "{}",
        again.stderr
    );
    assert_eq!(ran(d), ["deploy-check", "setup"]);
    let json: serde_json::Value = serde_json::from_str(&read(&d.join("r.json"))).unwrap();
    assert_eq!(json["not_selected"], serde_json::json!(["command.lint"]));
    assert_eq!(json_item(&json, "command.notify")["outcome"], "skipped");

    // Fixed: the rerun passes and opens the gate; the next one has nothing to do.
    write(d, "fixed", "");
    let fixed = run_in(d, &["run", "release.toml", "--rerun-failed"]);
    assert_eq!(fixed.code, 0, "{}", fixed.all());
    assert_eq!(ran(d), ["deploy-check", "notify", "setup"]);
    let nothing = run_in(d, &["run", "release.toml", "--rerun-failed"]);
    assert_eq!(nothing.code, 0, "{}", nothing.all());
    assert!(
        nothing.stderr.contains("nothing to rerun"),
        "{}",
        nothing.stderr
    );
    assert!(ran(d).is_empty());

    // A report named explicitly (a `--json` report kept from CI), and `--only` narrows it.
    std::fs::remove_file(d.join("fixed")).unwrap();
    let ci = run_in(
        d,
        &[
            "run",
            "release.toml",
            "--json",
            "ci.json",
            "--artifacts",
            "elsewhere",
        ],
    );
    assert_eq!(ci.code, 1, "{}", ci.all());
    ran(d);
    let r = run_in(
        d,
        &[
            "run",
            "release.toml",
            "--rerun-failed=ci.json",
            "--only",
            "command.deploy-check",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(ran(d), ["deploy-check", "setup"]);

    // `gate` with nothing to rerun deploys.
    write(d, "fixed", "");
    run_in(d, &["run", "release.toml"]);
    let gate = run_in(
        d,
        &[
            "gate",
            "release.toml",
            "--rerun-failed",
            "--",
            "echo",
            "deployed",
        ],
    );
    assert_eq!(gate.code, 0, "{}", gate.all());
    assert!(gate.stdout.contains("deployed"), "{}", gate.all());
}

#[test]
fn a_report_that_cannot_be_used_is_a_clear_error() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "release.toml", CHECKLIST);
    let check = |args: &[&str], expect: &str| {
        let r = run_in(d, args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(
            r.stderr.contains(expect),
            "{args:?}: `{expect}` not in:\n{}",
            r.stderr
        );
        assert!(!d.join("ran.log").exists(), "{args:?} ran items");
    };
    check(
        &["run", "release.toml", "--rerun-failed"],
        "--rerun-failed: cannot read report `",
    );
    check(
        &["run", "release.toml", "--rerun-failed"],
        "preflight-artifacts/last-run.json`: No such file or directory (os error 2) (it is written by every run, or give the path of a `--json` report)",
    );
    write(d, "garbage.json", "<html>");
    check(
        &["run", "release.toml", "--rerun-failed=garbage.json"],
        "--rerun-failed: `garbage.json` is not a preflight JSON report: expected value",
    );
    write(d, "junit.json", r#"{"testsuites": []}"#);
    check(
        &["run", "release.toml", "--rerun-failed=junit.json"],
        "is not a preflight JSON report: missing field `format_version`",
    );

    // A report of another checklist.
    write(d, "other.toml", "[command.x]\nrun = \"false\"\n");
    run_in(d, &["run", "other.toml", "--json", "other.json"]);
    check(
        &["run", "release.toml", "--rerun-failed=other.json"],
        "--rerun-failed: `other.json` is a report of checklist `other` (other.toml), not of `release`",
    );

    // Another profile.
    let profiled = format!("{CHECKLIST}\n[profile.ci.vars]\nx = \"1\"\n");
    write(d, "release.toml", &profiled);
    run_in(
        d,
        &[
            "run",
            "release.toml",
            "--profile",
            "ci",
            "--json",
            "ci.json",
        ],
    );
    std::fs::remove_file(d.join("ran.log")).unwrap();
    check(
        &["run", "release.toml", "--rerun-failed=ci.json"],
        "is the report of a run with profile `ci`, and this run is without a profile: rerun with the same profile",
    );

    // Failed items since removed from the checklist: a warning, or an error when none is left.
    write(
        d,
        "release.toml",
        "[command.ok]\nrun = \"true\"\n[command.gone]\nrun = \"false\"\n[command.bad]\nrun = \"false\"\n",
    );
    run_in(d, &["run", "release.toml", "--json", "old.json"]);
    write(
        d,
        "release.toml",
        "[command.ok]\nrun = \"true\"\n[command.bad]\nrun = \"false\"\n",
    );
    let r = run_in(d, &["run", "release.toml", "--rerun-failed=old.json"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(
            "warning: --rerun-failed: `command.gone` did not pass last time but is no longer in the checklist"
        ) && r.stderr.contains("FAIL command.bad")
            && !r.stderr.contains("command.ok"),
        "{}",
        r.stderr
    );
    write(d, "release.toml", "[command.ok]\nrun = \"true\"\n");
    check(
        &["run", "release.toml", "--rerun-failed=old.json"],
        "--rerun-failed: none of the items that did not pass in `old.json` is in the checklist any more: command.gone, command.bad",
    );
}
