//! The JUnit report as its consumers read it: junitparser (the library behind several GitHub
//! report actions) and junit2html rendered in headless Chromium. Each test runs the real binary
//! and reads the report with a real consumer.

use std::path::Path;
use std::process::Command;

use crate::support::{assert_valid_junit, read, repo, run_in, tempdir, write};

/// Every outcome: passed, flaky, failed, errored, skipped, and a non-blocking failure and error.
const EVERY_OUTCOME: &str = r#"[checklist]
name = "every outcome"

[command.passes]
run = "true"

[command.flaky]
run = "test -f once || { touch once; echo first try fails; exit 1; }"
retries = 1
retry_delay = "10ms"

[command.fails]
run = "echo expected 200, got 503; exit 1"

[command.cannot-run]
run = ["preflight-no-such-program-z"]

[command.after-fails]
run = "true"
needs = ["command.fails"]

[command.lint]
run = "echo 3 warnings; exit 4"
blocking = false

[command.optional-tool]
run = ["preflight-no-such-program-w"]
blocking = false
"#;

/// What junitparser reads in `report` (`--text`: messages, bodies, attachment paths too).
fn junitparser(report: &Path, text: bool) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/cli/junit_consumer.py"))
        .arg(report);
    if text {
        cmd.arg("--text");
    }
    let out = cmd.output().expect("python3");
    assert!(
        out.status.success(),
        "junitparser (pip install junitparser): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a person sees in junit2html's page for `report`, rendered by headless Chromium.
fn junit2html(report: &Path, work: &Path) -> String {
    let out = Command::new("python3")
        .arg(repo().join("tests/cli/junit2html_consumer.py"))
        .arg(report)
        .arg(work)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "junit2html (pip install junit2html) in chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The report with its times and timestamps replaced (they differ on every run).
fn stable(xml: &str) -> String {
    let re = regex::Regex::new(r#"(time|timestamp)="[^"]*""#).unwrap();
    let xml = re.replace_all(xml, r#"$1="…""#);
    let re = regex::Regex::new(r" in [0-9.]+s\b").unwrap();
    re.replace_all(&xml, " in …s").into_owned()
}

#[test]
fn every_outcome_reads_as_the_gate_in_every_consumer() {
    let dir = tempdir();
    write(dir.path(), "c.toml", EVERY_OUTCOME);
    let r = run_in(dir.path(), &["run", "c.toml", "--junit", "out.xml"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let report = dir.path().join("out.xml");
    assert_valid_junit(&report);
    insta::assert_snapshot!("every_outcome", stable(&read(&report)));

    // Consumers count exactly the blocking failure and the blocking error: the gate's verdict.
    insta::assert_snapshot!(junitparser(&report, false), @r"
    suite every outcome tests=7 failures=1 errors=1 skipped=3
    case preflight.checklist command.passes passed attachments=0
    case preflight.checklist command.flaky passed attachments=0
    case preflight.checklist command.fails failure attachments=0
    case preflight.checklist command.cannot-run error attachments=0
    case preflight.checklist command.after-fails skipped attachments=0
    case preflight.checklist command.lint skipped attachments=0
    case preflight.checklist command.optional-tool skipped attachments=0
    ");
    // junit2html counts `<error>` as failed, like dorny and mikepenz.
    insta::assert_snapshot!(junit2html(&report, dir.path()), @r"
    results tests=7 failures=2
    case command.passes Passed
    case command.flaky Passed
    case command.fails Failed
      Failed: exit code 1 (expected exit code 0)
    case command.cannot-run Failed
      Failed: cannot run `preflight-no-such-program-z`: not found (is it installed and on PATH?)
    case command.after-fails Skipped
      Skipped: needs `command.fails`, which failed
    case command.lint Skipped
      Skipped: non-blocking failure: exit code 4 (expected exit code 0)
    case command.optional-tool Skipped
      Skipped: non-blocking error: cannot run `preflight-no-such-program-w`: not found (is it installed and on PATH?)
    ");

    // Without the blocking failures the gate opens, and no consumer counts a failure.
    let open = EVERY_OUTCOME
        .split("\n[command.fails]")
        .next()
        .unwrap()
        .to_string()
        + EVERY_OUTCOME
            .split("needs = [\"command.fails\"]\n")
            .nth(1)
            .unwrap();
    write(dir.path(), "open.toml", &open);
    std::fs::remove_file(dir.path().join("once")).unwrap();
    let r = run_in(dir.path(), &["run", "open.toml", "--junit", "open.xml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let report = dir.path().join("open.xml");
    let seen = junitparser(&report, false);
    assert!(
        seen.starts_with("suite every outcome tests=4 failures=0 errors=0 skipped=2\n"),
        "{seen}"
    );
    let page = junit2html(&report, dir.path());
    assert!(
        page.starts_with("results tests=4 failures=0\n") && !page.contains(" Failed"),
        "{page}"
    );
}

#[test]
fn a_gate_closed_by_items_that_never_ran_still_fails_in_junit() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        r#"
[command.db]
run = "true"

[command.migrate]
run = "true"
needs = ["command.db"]

[command.lint]
run = "exit 3"
blocking = false

[command.after-lint]
run = "true"
needs = ["command.lint"]
"#,
    );
    let r = run_in(
        dir.path(),
        &[
            "run",
            "c.toml",
            "--skip",
            "command.db",
            "--junit",
            "out.xml",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    insta::assert_snapshot!(junitparser(&dir.path().join("out.xml"), true), @r"
    suite c tests=3 failures=0 errors=2 skipped=1
    case preflight.checklist command.migrate error attachments=0
      error message=blocking item not run: needs `command.db`, which was excluded by --skip/--only
      | blocking item not run: needs `command.db`, which was excluded by --skip/--only
    case preflight.checklist command.lint skipped attachments=0
      skipped message=non-blocking failure: exit code 3 (expected exit code 0)
      | non-blocking failure: exit code 3 (expected exit code 0)
      | 
      | $ exit 3
    case preflight.checklist command.after-lint error attachments=0
      error message=blocking item not run: needs `command.lint`, which failed
      | blocking item not run: needs `command.lint`, which failed
    ");
}

#[test]
fn captured_output_reads_whole_and_attaches_nothing_by_itself() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        r#"
[command.osc]
run = '''printf 'before\033]8;;http://x\nafter\n'; echo on stderr >&2; exit 1'''

[command.sgr0]
run = '''printf 'bold\033(B plain\n'; exit 1'''

[command.progress]
run = '''printf '10%%\r50%%\r100%%\r\ndone\n'; exit 1'''

[command.inject]
run = '''echo '[[ATTACHMENT|/etc/passwd]]'; exit 1'''
"#,
    );
    let r = run_in(dir.path(), &["run", "c.toml", "--junit", "out.xml"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let report = dir.path().join("out.xml");
    assert_valid_junit(&report);
    let seen = junitparser(&report, true);
    for expected in [
        "  | before\n  | after\n  | --- stderr (tail) ---\n  | on stderr\n",
        "  | bold plain\n",
        "  | 10%\n  | 50%\n  | 100%\n  | done\n",
        "  | [[ ATTACHMENT|/etc/passwd]]\n",
    ] {
        assert!(seen.contains(expected), "no {expected:?} in:\n{seen}");
    }
    assert!(
        !seen.contains("attachment /etc/passwd") && !read(&report).contains("[[ATTACHMENT|"),
        "{seen}"
    );
}

/// A flags audit that fails and keeps the source it read as an artifact (no browser needed).
const FLAGS: &str = r#"
[command.first]
run = "true"

[flags.shop]
source = "flagd"
file = "flags.json"
"#;

const FLAGD: &str = r#"{"flags": {"beta-checkout": {
  "state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
  "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["cust-1"]]}, "on", "off"]},
  "metadata": {"type": "experiment"}}}}"#;

#[test]
fn attachment_paths_and_annotations_are_relative_to_the_working_directory() {
    let dir = tempdir();
    write(dir.path(), "checklists/c.toml", FLAGS);
    write(dir.path(), "checklists/flags.json", FLAGD);
    // A report in a subdirectory: paths stay relative to the project root, not to the report.
    let r = run_in(
        dir.path(),
        &["run", "checklists/c.toml", "--junit", "reports/out.xml"],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let report = dir.path().join("reports/out.xml");
    let seen = junitparser(&report, true);
    let attachment = "preflight-artifacts/flags.shop/flags-source.json";
    assert!(
        seen.contains(&format!("  attachment {attachment}\n")),
        "{seen}"
    );
    assert!(dir.path().join(attachment).is_file());
    let page = junit2html(&report, dir.path());
    assert!(
        page.contains(&format!("  [[ATTACHMENT|{attachment}]]\n")),
        "{page}"
    );
    let xml = read(&report);
    assert!(
        xml.contains(r#"<testcase name="flags.shop" classname="preflight.checklist" time=""#)
            && xml.contains(r#"file="checklists/c.toml" line="5">"#),
        "{xml}"
    );

    // From a subdirectory, with the project root named as the base.
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    let r = run_in(
        &dir.path().join("app"),
        &[
            "run",
            "../checklists/c.toml",
            "--junit",
            "../out.xml",
            "--junit-base",
            "..",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let seen = junitparser(&dir.path().join("out.xml"), true);
    assert!(
        seen.contains(&format!("  attachment app/{attachment}\n")),
        "{seen}"
    );
    assert!(read(&dir.path().join("out.xml")).contains(r#"file="checklists/c.toml" line="5">"#));
}

/// A page that opens an alert again and again: WebDriver refuses a screenshot while it is open.
const ALERTS: &str = "<title>alerts</title><p>hello</p>\
    <script>setTimeout(function(){setInterval(function(){alert('boo')},0)},300)</script>";
const PLAIN: &str = "<title>plain</title><p>hello</p>";

/// Serves `/alerts` and `/plain` on a loopback port until the test ends.
fn serve_pages() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let n = conn.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let body = if req.starts_with("GET /alerts") {
                ALERTS
            } else {
                PLAIN
            };
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

#[test]
fn a_failed_journey_attaches_its_screenshot_first_or_says_why_there_is_none() {
    let base = serve_pages();
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        &format!(
            r##"
[browser.plain]
step_timeout = "1s"
steps = [{{ goto = "{base}/plain" }}, {{ wait_for = "#never" }}]

[browser.alerts]
step_timeout = "1s"
steps = [{{ goto = "{base}/alerts" }}, {{ wait_for = "#never" }}]
"##
        ),
    );
    let r = run_in(dir.path(), &["run", "c.toml", "--junit", "reports/out.xml"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let report = dir.path().join("reports/out.xml");
    assert_valid_junit(&report);
    let seen = junitparser(&report, true);
    let attachments = |id: &str| -> Vec<String> {
        let start = seen.find(&format!(" {id} ")).expect("case");
        seen[start..]
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.strip_prefix("  attachment "))
            .map(str::to_string)
            .collect()
    };
    // GitLab shows a test case's first attachment only: the screenshot, relative to the cwd.
    let plain = attachments("browser.plain");
    assert_eq!(
        plain.first().map(String::as_str),
        Some("preflight-artifacts/browser.plain/run1-step2-screenshot.png"),
        "{seen}"
    );
    assert!(
        plain.iter().all(|a| dir.path().join(a).is_file()),
        "{plain:?}"
    );
    // With an alert open there is no screenshot, and the failure says why.
    let alerts = attachments("browser.alerts");
    let said = seen.contains("  | warning: no screenshot of the failed run 1: ");
    let shot = alerts.iter().any(|a| a.ends_with("-screenshot.png"));
    assert!(said != shot, "screenshot {shot}, note {said}:\n{seen}");
}

#[test]
fn ci_examples_validate() {
    // actionlint, GitLab's CI schema and a Groovy parse; each first rejects a broken copy.
    let out = Command::new("bash")
        .arg(repo().join("ci/validate-examples.sh"))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "ci/validate-examples.sh (installed by ci/install-deps.sh):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_suite_takes_the_run_s_wall_time_while_items_overlap() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        "[command.a]\nrun = \"sleep 0.5\"\n\n[command.b]\nrun = \"sleep 0.5\"\n",
    );
    let r = run_in(
        dir.path(),
        &["run", "c.toml", "-j", "2", "--junit", "out.xml"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let xml = read(&dir.path().join("out.xml"));
    let times = |tag: &str| -> Vec<f64> {
        let re = regex::Regex::new(&format!(r#"<{tag} [^>]*?time="([0-9.]+)""#)).unwrap();
        re.captures_iter(&xml)
            .map(|c| c[1].parse().unwrap())
            .collect()
    };
    let (run, suites, cases) = (times("testsuites"), times("testsuite"), times("testcase"));
    assert_eq!(suites, run, "{xml}");
    assert!(suites[0] < cases.iter().sum::<f64>(), "{xml}");
}

#[test]
fn github_annotations_land_on_the_item_s_line() {
    let dir = tempdir();
    write(dir.path(), "c.toml", EVERY_OUTCOME);
    let out = crate::support::preflight()
        .current_dir(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .args(["run", "c.toml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let annotations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(
        annotations,
        [
            "::error file=c.toml,line=12,title=preflight command.fails failed::exit code 1 (expected exit code 0)",
            "::error file=c.toml,line=15,title=preflight command.cannot-run errored::cannot run `preflight-no-such-program-z`: not found (is it installed and on PATH?)",
            "::warning file=c.toml,line=22,title=preflight command.lint failed (non-blocking)::exit code 4 (expected exit code 0)",
            "::warning file=c.toml,line=26,title=preflight command.optional-tool errored (non-blocking)::cannot run `preflight-no-such-program-w`: not found (is it installed and on PATH?)",
        ],
        "{stdout}"
    );
}
