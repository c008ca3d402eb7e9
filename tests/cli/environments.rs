//! Many environments, one checklist: `include` (items shared between checklists) and
//! `[profile.NAME]` (`--profile`, `PREFLIGHT_PROFILE`), through the real binary.

use std::path::Path;

use crate::support::*;

/// `main.toml` includes `shared/common.toml`, which includes `more.toml` next to it; the
/// main file's item needs an included one.
fn three_files(dir: &Path) {
    write(
        dir,
        "main.toml",
        r#"include = ["shared/common.toml"]

[checklist]
name = "shop"

[vars]
greeting = "hello ${who}"

[command.hello]
run = "echo ${greeting}"
stdout_contains = "hello world"
needs = ["command.common"]
"#,
    );
    write(
        dir,
        "shared/common.toml",
        r#"include = "more.toml"

[vars]
who = "world"

[command.common]
run = "echo common"
"#,
    );
    write(
        dir,
        "shared/more.toml",
        "[command.more]\nrun = \"echo more\"\n",
    );
}

#[test]
fn included_items_run_and_reports_point_at_their_own_file() {
    let dir = tempdir();
    three_files(dir.path());
    let list = run_in(dir.path(), &["list", "main.toml"]);
    assert_eq!(list.code, 0, "{}", list.all());
    // Included files come first (depth first), then the including file.
    let order: Vec<&str> = list
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(order, ["command.more", "command.common", "command.hello"]);

    let r = run_in(
        dir.path(),
        &["run", "main.toml", "--json", "r.json", "--junit", "r.xml"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let json: serde_json::Value = serde_json::from_str(&read(&dir.path().join("r.json"))).unwrap();
    let common = json_item(&json, "command.common");
    assert_eq!(common["file"], "shared/common.toml");
    assert_eq!(common["line"], 6);
    assert_eq!(json_item(&json, "command.hello")["file"], "main.toml");
    let xml = read(&dir.path().join("r.xml"));
    assert!(
        xml.contains(r#"name="command.common" classname="preflight.checklist" time=""#)
            && xml.contains(r#"file="shared/common.toml" line="6""#),
        "{xml}"
    );
    assert!(xml.contains(r#"file="main.toml" line="9""#), "{xml}");
    assert_valid_junit(&dir.path().join("r.xml"));

    // GitHub annotations land on the included file's line.
    let mut fail = std::fs::read_to_string(dir.path().join("shared/more.toml")).unwrap();
    fail.push_str("stdout_contains = \"less\"\n");
    write(dir.path(), "shared/more.toml", &fail);
    let out = preflight()
        .args(["run", "main.toml"])
        .env("GITHUB_ACTIONS", "true")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .contains("::error file=shared/more.toml,line=1,title=preflight command.more failed::"),
        "{stdout}"
    );
}

/// An error in an included file is reported at its place in that file.
#[test]
fn errors_point_into_the_included_file() {
    let dir = tempdir();
    three_files(dir.path());
    write(
        dir.path(),
        "shared/more.toml",
        "[command.more]\nrun = \"echo more\"\nstdout_contain = \"more\"\n",
    );
    let r = run_in(dir.path(), &["validate", "main.toml"]);
    assert_eq!(r.code, 2, "{}", r.all());
    insta::assert_snapshot!("include_unknown_key", r.stderr);

    // A kind's own validation (after the whole checklist is read) and `needs` too.
    three_files(dir.path());
    write(
        dir.path(),
        "shared/more.toml",
        "[command.more]\nrun = \"echo more\"\nneeds = [\"command.helo\"]\n",
    );
    let r = run_in(dir.path(), &["validate", "main.toml"]);
    assert_eq!(r.code, 2, "{}", r.all());
    insta::assert_snapshot!("include_unknown_need", r.stderr);

    // Warnings too, once, also when `validate` reads the checklist again with each profile.
    three_files(dir.path());
    write(
        dir.path(),
        "shared/more.toml",
        "[vars]\npin = { value = \"1234\", secret = true }\n\n[command.more]\nrun = \"true\"\n",
    );
    let mut main = read(&dir.path().join("main.toml"));
    main.push_str("\n[profile.ci.vars]\nwho = \"ci\"\n");
    write(dir.path(), "main.toml", &main);
    let r = run_in(dir.path(), &["validate", "main.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        r.stderr
            .matches("warning: secret var `pin` is only 4 characters")
            .count(),
        1,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("  --> shared/more.toml:2:7\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn include_mistakes_are_checklist_errors_at_the_include() {
    let dir = tempdir();
    let d = dir.path();
    let check = |name: &str, expect: &[&str]| {
        let r = run_in(d, &["validate", "main.toml"]);
        assert_eq!(r.code, 2, "{name}: {}", r.all());
        for e in expect {
            assert!(r.stderr.contains(e), "{name}: `{e}` not in:\n{}", r.stderr);
        }
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    };
    let item = "[command.a]\nrun = \"true\"\n";

    write(
        d,
        "main.toml",
        &format!("include = [\"nope.toml\"]\n{item}"),
    );
    check(
        "missing",
        &[
            "cannot read included file `nope.toml`: No such file",
            "--> main.toml:1:12",
        ],
    );

    write(d, "main.toml", &format!("include = [\"b.toml\"]\n{item}"));
    write(d, "b.toml", "include = [\"c.toml\"]\n");
    write(d, "c.toml", "include = [\"b.toml\"]\n");
    check(
        "cycle",
        &[
            "`include` forms a cycle: b.toml -> c.toml -> b.toml",
            "--> c.toml:1:12",
        ],
    );

    write(d, "main.toml", &format!("include = [\"b.toml\"]\n{item}"));
    write(d, "b.toml", "[command.a]\nrun = \"false\"\n");
    check(
        "duplicate item",
        &[
            "`command.a` is defined twice; first at b.toml:1:10",
            "--> main.toml:2:10",
        ],
    );

    write(d, "b.toml", "[vars]\nx = \"1\"\n");
    write(
        d,
        "main.toml",
        &format!("include = \"b.toml\"\n[vars]\nx = \"2\"\n{item}"),
    );
    check(
        "duplicate var",
        &["`vars.x` is defined twice; first at b.toml:2:1"],
    );

    write(d, "b.toml", "[checklist]\nname = \"b\"\n");
    write(d, "main.toml", &format!("include = \"b.toml\"\n{item}"));
    check(
        "checklist in an include",
        &[
            "`[checklist]` belongs in the main checklist, not in an included file",
            "--> b.toml:1:2",
        ],
    );

    write(d, "main.toml", &format!("include = [1]\n{item}"));
    check(
        "not a path",
        &[
            "`include` must be a file path or a list of them",
            "--> main.toml:1:12",
        ],
    );

    write(d, "main.toml", &format!("inclde = [\"b.toml\"]\n{item}"));
    check("typo", &["did you mean `include`?"]);

    write(d, "b.toml", "[command.b\n");
    write(d, "main.toml", &format!("include = \"b.toml\"\n{item}"));
    check("syntax error in the include", &["--> b.toml:1:"]);
}

/// A file included twice (a diamond) is read once: no duplicate.
#[test]
fn a_file_included_twice_is_read_once() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "main.toml", "include = [\"a.toml\", \"b.toml\"]\n");
    write(
        d,
        "a.toml",
        "include = [\"common.toml\"]\n[command.a]\nrun = \"true\"\n",
    );
    write(
        d,
        "b.toml",
        "include = [\"./common.toml\"]\n[command.b]\nrun = \"true\"\n",
    );
    write(d, "common.toml", "[command.common]\nrun = \"true\"\n");
    let r = run_in(d, &["validate", "main.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("3 items (3 command) from 4 files"),
        "{}",
        r.stdout
    );
}

/// One checklist, two environments: the profile replaces vars and item keys.
fn profiled(dir: &Path) {
    write(
        dir,
        "main.toml",
        r#"[checklist]
name = "shop"

[vars]
env = "local"
expected = "local"

[command.env]
run = "echo running in ${env}"
stdout_contains = "in ${expected}"

[command.slow]
run = "true"
timeout = "30s"
tags = ["fast"]

[profile.staging.vars]
env = "staging"
expected = "staging"

[profile.production]
vars = { env = "production" }
command.env = { stdout_contains = "in production" }
command.slow = { timeout = "5s" }
"#,
    );
}

#[test]
fn a_profile_replaces_vars_and_item_keys_and_every_report_records_it() {
    let dir = tempdir();
    let d = dir.path();
    profiled(d);
    // Without a profile, and with each one.
    let r = run_in(d, &["run", "main.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stderr.contains("profile"), "{}", r.stderr);
    let r = run_in(d, &["run", "main.toml", "--profile", "staging"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let list = run_in(d, &["list", "main.toml", "--profile", "production"]);
    assert!(
        list.stdout
            .lines()
            .any(|l| l.contains("command.slow") && l.contains(" 5s ")),
        "{}",
        list.stdout
    );

    // The profile's var without its override of the item fails: the base `expected` holds.
    write(
        d,
        "main.toml",
        &read(&d.join("main.toml")).replace(
            "command.env = { stdout_contains = \"in production\" }\n",
            "",
        ),
    );
    let summary = d.join("summary.md");
    let out = preflight()
        .args([
            "run",
            "main.toml",
            "--json",
            "r.json",
            "--junit",
            "r.xml",
            "--html",
            "r.html",
        ])
        .env("PREFLIGHT_PROFILE", "production")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .current_dir(d)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("preflight shop (profile production): 2 items"),
        "{stderr}"
    );
    assert!(
        stderr.contains("does not contain `in local`") || stderr.contains("in local"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(&read(&d.join("r.json"))).unwrap();
    assert_eq!(json["profile"], "production");
    assert!(
        read(&d.join("r.xml")).contains(r#"<property name="profile" value="production"/>"#),
        "{}",
        read(&d.join("r.xml"))
    );
    assert_valid_junit(&d.join("r.xml"));
    assert!(
        read(&summary).contains("## preflight: shop (profile `production`)"),
        "{}",
        read(&summary)
    );
    assert!(read(&d.join("r.html")).contains("profile <b>production</b>"));

    // `--var` wins over the profile.
    let r = run_in(
        d,
        &[
            "run",
            "main.toml",
            "--profile",
            "production",
            "--var",
            "env=local",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn profile_mistakes_are_errors_with_their_place() {
    let dir = tempdir();
    let d = dir.path();
    profiled(d);
    let r = run_in(d, &["run", "main.toml", "--profile", "prod"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("unknown profile `prod` (profiles: `staging`, `production`)")
            || r.stderr.contains("unknown profile `prod`, did you mean"),
        "{}",
        r.stderr
    );
    let r = run_in(d, &["run", "main.toml", "--profile", "stagin"]);
    assert!(
        r.stderr
            .contains("unknown profile `stagin`, did you mean `staging`?"),
        "{}",
        r.stderr
    );
    write(d, "plain.toml", "[command.a]\nrun = \"true\"\n");
    let r = run_in(d, &["validate", "plain.toml", "--profile", "staging"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("the checklist defines no `[profile.NAME]`"),
        "{}",
        r.stderr
    );

    // Mistakes inside a profile point into it, also when another profile is chosen (or none),
    // and `validate` checks every profile.
    let base = read(&d.join("main.toml"));
    for (name, broken, expect) in [
        (
            "unknown item",
            base.replace("command.slow = { timeout", "command.slwo = { timeout"),
            "profile `production` overrides `command.slwo`, which the checklist does not define, did you mean `command.slow`?",
        ),
        (
            "bad value",
            base.replace("timeout = \"5s\"", "timeout = \"5 parsecs\""),
            "main.toml:24:",
        ),
        (
            "unknown key",
            base.replace("[profile.staging.vars]", "[profile.staging.varz]"),
            "unknown key `varz` in profile `staging`",
        ),
    ] {
        write(d, "main.toml", &broken);
        let r = run_in(d, &["validate", "main.toml"]);
        assert_eq!(r.code, 2, "{name}: {}", r.all());
        assert!(
            r.stderr.contains(expect),
            "{name}: `{expect}` not in:\n{}",
            r.stderr
        );
    }
    write(
        d,
        "main.toml",
        &base.replace("timeout = \"5s\"", "timeout = \"5 parsecs\""),
    );
    let r = run_in(d, &["validate", "main.toml", "--profile", "production"]);
    insta::assert_snapshot!("profile_bad_value", r.stderr);
    // A run reads only its own profile's values (the others' names are checked on every load).
    let r = run_in(d, &["run", "main.toml", "--profile", "staging"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn validate_names_every_profile_it_checked() {
    let dir = tempdir();
    profiled(dir.path());
    let r = run_in(dir.path(), &["validate", "main.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("valid, and with profiles `staging`, `production`: 2 items"),
        "{}",
        r.stdout
    );
}

/// `flags snapshot --profile` locks the flags of that environment; an empty
/// `PREFLIGHT_PROFILE` is no profile.
#[test]
fn flags_snapshot_takes_the_profile_and_an_empty_profile_is_none() {
    let dir = tempdir();
    let d = dir.path();
    let fixtures = repo().join("fixtures/flags");
    std::fs::copy(
        fixtures.join("featured-released.flagd.json"),
        d.join("local.json"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("experiment-fixed.flagd.json"),
        d.join("prod.json"),
    )
    .unwrap();
    write(
        d,
        "x.toml",
        r#"[flags.shop]
source = "flagd"
file = "local.json"
drift = { lock = "shop.lock.json" }

[profile.production]
flags.shop = { file = "prod.json", drift = { lock = "shop.production.lock.json" } }
"#,
    );
    let snap = run_in(
        d,
        &["flags", "snapshot", "x.toml", "--profile", "production"],
    );
    assert_eq!(snap.code, 0, "{}", snap.all());
    assert!(
        snap.stdout.contains("shop.production.lock.json (4 flags"),
        "{}",
        snap.all()
    );
    assert!(!d.join("shop.lock.json").exists());

    let out = preflight()
        .args(["validate", "x.toml"])
        .env("PREFLIGHT_PROFILE", "")
        .current_dir(d)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("x.toml: valid, and with profiles `production`: 1 items"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
