//! Waivers: a waived failure opens the gate and shows its reason and end date in every report;
//! without the waiver the same failure closes it; an expired or other-commit waiver is ignored
//! and says why; a passing item's waiver is reported as no longer needed.

use super::{day, git, json, repo_with};
use crate::support::{assert_valid_junit, json_item, read, run_in_env, tempdir, write};

/// A checklist whose `command.search-latency` fails (as a slow search would), plus `extra`.
fn checklist(extra: &str) -> String {
    format!(
        r#"[checklist]
name = "shop release"

[command.health]
run = "true"

[command.search-latency]
run = "echo 'p95 850ms > 500ms'; exit 1"

[command.after-search]
run = "true"
needs = ["command.search-latency"]
{extra}"#
    )
}

fn waiver(until: &str, more: &str) -> String {
    format!(
        r#"
[waivers."command.search-latency"]
reason = "index rebuild, fixed in 812"
by = "alice"
until = {until}
{more}"#
    )
}

#[test]
fn a_waived_failure_opens_the_gate_and_every_report_shows_why_and_until_when() {
    let dir = tempdir();
    let until = day(10);
    repo_with(dir.path(), &checklist(&waiver(&until, "")));
    let summary = dir.path().join("summary.md");
    let r = run_in_env(
        dir.path(),
        &[
            "run", "--junit", "r.xml", "--json", "r.json", "--html", "r.html",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let line = format!("waived until {until} (index rebuild, fixed in 812, by alice): ");
    assert!(
        r.stderr.contains("WAIVD command.search-latency"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains(&line), "{}", r.all());
    assert!(r.stderr.contains("1 waived"), "{}", r.all());
    assert!(
        r.stderr.contains("or its failure is waived (exit 0)"),
        "{}",
        r.all()
    );
    // Items that need a waived item still run.
    let report = json(&dir.path().join("r.json"));
    assert_eq!(
        json_item(&report, "command.after-search")["outcome"],
        "passed"
    );
    let item = json_item(&report, "command.search-latency");
    assert_eq!(item["outcome"], "waived");
    assert!(
        item["message"].as_str().unwrap().starts_with(&line),
        "{item}"
    );
    assert_eq!(item["waiver"]["reason"], "index rebuild, fixed in 812");
    assert_eq!(item["waiver"]["until"], until.as_str());
    assert_eq!(report["counts"]["waived"], 1);
    assert_eq!(report["gate"], "open");
    // JUnit: a `<skipped type="waived">` (no consumer counts it as a failure), with the reason.
    let xml = read(&dir.path().join("r.xml"));
    assert!(
        xml.contains(&format!(
            r#"<skipped message="{line}exit code 1 (expected exit code 0)" type="waived">"#
        )),
        "{xml}"
    );
    assert!(!xml.contains("<failure"), "{xml}");
    assert!(
        xml.contains(r#"name="waiver_reason" value="index rebuild, fixed in 812""#),
        "{xml}"
    );
    assert_valid_junit(&dir.path().join("r.xml"));
    // HTML: its own group and chip, and the waiver next to the failure it accepts.
    let html = read(&dir.path().join("r.html"));
    assert!(
        html.contains(r#"<span class="chip waived">1 waived</span>"#),
        "{html}"
    );
    assert!(html.contains(r#"data-outcome="waived""#), "{html}");
    assert!(
        html.contains(&format!(
            r#"<p class="waiver">Waived until <b>{until}</b>, by alice: index rebuild, fixed in 812</p>"#
        )),
        "{html}"
    );
    assert!(html.contains("or its failure is waived (exit 0)"), "{html}");
    // GitHub: the summary row and a warning annotation on the item's line.
    let md = read(&summary);
    assert!(
        md.contains(&format!(
            "| `command.search-latency` | waived until {until} |"
        )),
        "{md}"
    );
    assert!(
        r.stdout.contains(&format!("::warning file=preflight.toml,line=7,title=preflight command.search-latency waived until {until}")),
        "{}",
        r.all()
    );
}

#[test]
fn without_its_waiver_the_same_failure_closes_the_gate() {
    let dir = tempdir();
    repo_with(dir.path(), &checklist(""));
    let r = run_in_env(
        dir.path(),
        &["run", "--json", "r.json", "--html", "r.html"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let report = json(&dir.path().join("r.json"));
    let item = json_item(&report, "command.search-latency");
    assert_eq!(item["outcome"], "failed");
    let html = read(&dir.path().join("r.html"));
    assert!(html.contains(r#"data-outcome="failed""#), "{html}");
    assert!(!html.contains(r#"data-outcome="waived""#), "{html}");
    assert!(!html.contains(r#"class="waiver"#), "{html}");
    assert_eq!(item["waiver"], serde_json::Value::Null);
}

#[test]
fn an_expired_waiver_is_ignored_and_the_failure_says_when_it_expired() {
    let dir = tempdir();
    let until = day(-1);
    repo_with(dir.path(), &checklist(&waiver(&until, "")));
    let r = run_in_env(
        dir.path(),
        &["run", "--json", "r.json", "--html", "r.html"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let report = json(&dir.path().join("r.json"));
    let item = json_item(&report, "command.search-latency");
    assert_eq!(item["outcome"], "failed");
    let expected =
        format!("waiver expired on {until} (index rebuild, fixed in 812, by alice): exit code 1");
    assert!(
        item["message"].as_str().unwrap().starts_with(&expected),
        "{item}"
    );
    assert!(r.stderr.contains(&expected), "{}", r.all());
    let html = read(&dir.path().join("r.html"));
    assert!(html.contains(r#"data-outcome="failed""#), "{html}");
    assert!(
        html.contains(&format!(
            r#"<p class="waiver lapsed">Waiver not applied: waiver expired on {until} (index rebuild, fixed in 812, by alice)</p>"#
        )),
        "{html}"
    );
    // The last day itself still holds.
    let dir = tempdir();
    repo_with(dir.path(), &checklist(&waiver(&day(0), "")));
    assert_eq!(run_in_env(dir.path(), &["run"], &[]).code, 0);
}

#[test]
fn a_waiver_for_another_commit_is_ignored_and_one_for_this_commit_holds() {
    let dir = tempdir();
    let other = "0123456789abcdef0123456789abcdef01234567";
    repo_with(
        dir.path(),
        &checklist(&waiver(&day(5), &format!("commit = \"{other}\""))),
    );
    let head = git(dir.path(), &["rev-parse", "HEAD"]);
    let r = run_in_env(dir.path(), &["run"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "the waiver by alice was given for commit 0123456789ab, but this is commit {}",
            &head[..12]
        )),
        "{}",
        r.all()
    );
    // The same waiver, bound to HEAD (by a prefix), from a `--waivers` file.
    write(
        dir.path(),
        "release-waivers.toml",
        &waiver(&day(5), &format!("commit = \"{}\"", &head[..9])),
    );
    let r = run_in_env(
        dir.path(),
        &["run", "--waivers", "release-waivers.toml"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains("WAIVD command.search-latency"),
        "{}",
        r.all()
    );
}

#[test]
fn a_waiver_for_a_version_holds_only_on_that_tag() {
    let dir = tempdir();
    repo_with(
        dir.path(),
        &checklist(&waiver(&day(5), "version = \"1.4.2\"")),
    );
    let r = run_in_env(dir.path(), &["run"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("the waiver by alice was given for version 1.4.2, but HEAD carries no tag"),
        "{}",
        r.all()
    );
    git(dir.path(), &["tag", "v1.4.2"]);
    assert_eq!(run_in_env(dir.path(), &["run"], &[]).code, 0);
}

#[test]
fn a_passing_item_s_waiver_is_reported_as_no_longer_needed() {
    let dir = tempdir();
    let text = checklist(&waiver(&day(5), "")).replace("echo 'p95 850ms > 500ms'; exit 1", "true");
    repo_with(dir.path(), &text);
    let r = run_in_env(dir.path(), &["run", "--json", "r.json"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let report = json(&dir.path().join("r.json"));
    let item = json_item(&report, "command.search-latency");
    assert_eq!(item["outcome"], "passed");
    assert!(
        item["warnings"][0]
            .as_str()
            .unwrap()
            .contains("is no longer needed: the item passed; remove it from the checklist"),
        "{item}"
    );
    assert!(r.stderr.contains("no longer needed"), "{}", r.all());
}

#[test]
fn a_waivers_file_is_checked_like_the_checklist() {
    let dir = tempdir();
    repo_with(dir.path(), &checklist(""));
    write(
        dir.path(),
        "w.toml",
        &format!(
            "[waivers.\"command.search-latncy\"]\nreason = \"x\"\nuntil = {}\n",
            day(3)
        ),
    );
    let r = run_in_env(dir.path(), &["run", "--waivers", "w.toml"], &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains(
            "waiver for unknown item `command.search-latncy`, did you mean `command.search-latency`?"
        ),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("--> w.toml:1:10"), "{}", r.all());
    // Longer than the checklist's `max_waiver`.
    let text = checklist("").replace(
        "name = \"shop release\"",
        "name = \"x\"\nmax_waiver = \"7d\"",
    );
    std::fs::write(dir.path().join("preflight.toml"), text).unwrap();
    write(dir.path(), "w.toml", &waiver(&day(8), ""));
    let r = run_in_env(dir.path(), &["run", "--waivers", "w.toml"], &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("is more than 7 days from today: a waiver may last at most 7 days"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("--> w.toml:5:9"), "{}", r.all());
}
