//! The spine: checklist format, runner, http/command/manual items, reports, gate, exit codes.

use std::path::Path;
use std::time::Duration;

use crate::support::*;

/// Runs the demo checklist as a user would (its service builds and starts the shop with
/// `cargo run`), on a free port, with reports and artifacts in `dir`.
fn run_demo(dir: &Path, cmd: &str, vars: &[&str], more: &[&str]) -> Run {
    shop_binary(); // built once up front, so that the service's `cargo run` is quick
    let port = format!("--var=port={}", free_port());
    let artifacts = dir.join("artifacts");
    let mut args: Vec<String> = vec![cmd.into(), "checklists/demo.toml".into(), port];
    args.extend(vars.iter().map(|v| format!("--var={v}")));
    args.extend(["--artifacts".into(), artifacts.display().to_string()]);
    for m in more {
        // Report paths are given relative to `dir`.
        if m.ends_with(".xml") || m.ends_with(".json") {
            args.push(dir.join(m).display().to_string());
        } else {
            args.push(m.to_string());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in(&repo(), &args)
}

#[test]
fn demo_checklist_passes_against_the_clean_shop() {
    let dir = tempdir();
    let r = run_demo(
        dir.path(),
        "run",
        &[],
        &["--junit", "out.xml", "--json", "out.json"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("gate: OPEN"), "{}", r.all());
    assert_valid_junit(&dir.path().join("out.xml"));
    let json: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("out.json"))).expect("json");
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["gate"], "open");
    assert_eq!(json["counts"]["failed"], 0);
    let items = json["items"].as_array().expect("items");
    assert!(items.iter().all(|i| i["outcome"] == "passed"), "{json:#}");
    // Needs come first in the run order.
    let pos = |id: &str| items.iter().position(|i| i["id"] == id).expect(id);
    assert!(pos("http.health") < pos("http.home"));
    assert!(pos("http.products-api") < pos("http.checkout-api"));
    assert_eq!(json["services"][0]["name"], "shop");
    assert!(json["services"][0]["pid"].as_u64().is_some());
}

#[test]
fn a_hanging_health_check_fails_at_its_timeout_and_closes_the_gate() {
    let dir = tempdir();
    let r = run_demo(
        dir.path(),
        "run",
        &["faults=hang"],
        &["--junit", "out.xml", "--json", "out.json"],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("FAIL http.health") && r.stderr.contains("but got no response within 2s"),
        "{}",
        r.all()
    );
    assert!(
        r.stderr.contains("needs `http.health`, which failed"),
        "{}",
        r.all()
    );
    let json: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("out.json"))).expect("json");
    let health = json_item(&json, "http.health");
    assert_eq!(health["outcome"], "failed");
    let ms = health["duration_ms"].as_u64().unwrap();
    assert!(
        (1900..10_000).contains(&ms),
        "failed at its 2s timeout, not {ms} ms"
    );
    let xml = read(&dir.path().join("out.xml"));
    assert!(
        xml.contains("<failure message=\"GET http://127.0.0.1:"),
        "{xml}"
    );
    assert_valid_junit(&dir.path().join("out.xml"));
}

#[test]
fn gate_runs_the_deploy_only_when_every_blocking_item_passed() {
    let dir = tempdir();
    let marker = dir.path().join("deployed");
    let m = marker.to_str().unwrap();
    let r = run_demo(dir.path(), "gate", &["faults=hang"], &["--", "touch", m]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!marker.exists(), "deploy ran although the gate was closed");
    assert!(r.stderr.contains("gate closed: `touch"), "{}", r.all());

    // The gate's mechanics, without the slow items (the demo test runs them all).
    let quick = ["--skip", "soak", "--skip", "browser"];
    let r = run_demo(
        dir.path(),
        "gate",
        &[],
        &[&quick[..], &["--", "touch", m]].concat(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(marker.exists(), "deploy did not run: {}", r.all());

    // The deploy's own status becomes preflight's.
    let r = run_demo(
        dir.path(),
        "gate",
        &[],
        &[&quick[..], &["--", "sh", "-c", "exit 7"]].concat(),
    );
    assert_eq!(r.code, 7, "{}", r.all());
}

#[test]
fn junit_stays_valid_with_hostile_output() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        r#"
[command.colours]
run = '''printf '\033[31mred\033[0m and NUL:\000 BEL:\007 VT:\013 end ]]> <tag attr="x"> &amp; \xff\xfe\n'; exit 1'''

[command.cdata]
run = '''printf ']]>]]>\n<![CDATA[ nested ]]>\n'; printf '\033[1;32mok\033[0m\n' '''

[command.bytes]
run = '''head -c 2000 /dev/urandom; exit 3'''
"#,
    );
    let r = run_in(
        dir.path(),
        &["run", "c.toml", "--junit", "out.xml", "--json", "out.json"],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert_valid_junit(&dir.path().join("out.xml"));
    let xml = read(&dir.path().join("out.xml"));
    assert!(
        !xml.contains('\u{1b}') && !xml.contains('\u{7}') && !xml.contains('\0'),
        "raw control characters in XML"
    );
    assert!(xml.contains("red and NUL:"), "{xml}");
    serde_json::from_str::<serde_json::Value>(&read(&dir.path().join("out.json")))
        .expect("json stays valid");
}

#[test]
fn secrets_never_reach_any_output() {
    let dir = tempdir();
    let secret = "hunter2-s3cr3t-7f3a";
    let shop = Shop::start(&[], &[]);
    write(
        dir.path(),
        "s.toml",
        &format!(
            r#"
[vars]
token = {{ env = "DEPLOY_TOKEN", secret = true }}
base = "{base}"

[command.echo]
run = "echo token=${{token}}; echo token=${{token}} >&2; exit 1"

[http.header]
url = "${{base}}/health?t=${{token}}"
headers = {{ authorization = "Bearer ${{token}}" }}
status = 418

[manual.signoff]
prompt = "Deploy with ${{token}}?"
"#,
            base = shop.base
        ),
    );
    let mut cmd = preflight();
    cmd.current_dir(dir.path())
        .env("DEPLOY_TOKEN", secret)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.path().join("summary.md"))
        .args([
            "run",
            "s.toml",
            "--junit",
            "out.xml",
            "--json",
            "out.json",
            "--artifacts",
            "arts",
        ]);
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let mut seen = String::from_utf8_lossy(&out.stdout).into_owned()
        + String::from_utf8_lossy(&out.stderr).as_ref();
    assert!(seen.contains("[REDACTED]"), "{seen}");
    for f in ["out.xml", "out.json", "summary.md"] {
        seen.push_str(&read(&dir.path().join(f)));
    }
    for entry in walk(&dir.path().join("arts")) {
        seen.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    assert!(!seen.contains(secret), "secret leaked:\n{seen}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn ctrl_c_stops_children_writes_the_partial_report_and_exits_130() {
    let dir = tempdir();
    let shop = shop_binary().display().to_string();
    let port = free_port();
    write(
        dir.path(),
        "c.toml",
        &format!(
            r#"
[service.shop]
run = [{shop:?}]
env = {{ SHOP_PORT = "{port}" }}
ready = {{ tcp = "127.0.0.1:{port}" }}

[command.quick]
run = "true"

[command.long]
run = "sh -c 'sleep 3017; true'"
timeout = "10m"
needs = ["command.quick"]

[command.later]
run = "true"
needs = ["command.long"]
"#
        ),
    );
    let mut child = preflight()
        .current_dir(dir.path())
        .args(["run", "c.toml", "--junit", "out.xml", "--json", "out.json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    assert!(
        eventually(Duration::from_secs(20), || process_running("sleep 3017")),
        "item never started"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        !process_running("sleep 3017"),
        "the item's process outlived the run"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the service outlived the run"
    );
    let json: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("out.json"))).expect("partial json");
    let outcome = |id: &str| json_item(&json, id)["outcome"].clone();
    assert_eq!(outcome("command.quick"), "passed");
    assert_eq!(outcome("command.long"), "interrupted");
    assert_eq!(outcome("command.later"), "interrupted");
    assert_eq!(json["interrupted"], true);
    let xml = read(&dir.path().join("out.xml"));
    assert!(xml.contains(r#"type="interrupted""#), "{xml}");
    assert_valid_junit(&dir.path().join("out.xml"));
}

#[test]
fn retries_flaky_needs_nonblocking_and_errored_are_reported_distinctly() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        r#"
[command.flaky]
run = "test -f once || { touch once; echo first try fails; exit 1; }"
retries = 2
retry_delay = "10ms"

[command.lint]
run = "exit 4"
blocking = false

[command.missing-tool]
run = ["preflight-no-such-program-x"]
blocking = false

[command.after-lint]
run = "true"
needs = ["command.lint"]
blocking = false
"#,
    );
    let r = run_in(
        dir.path(),
        &["run", "c.toml", "--junit", "out.xml", "--json", "out.json"],
    );
    assert_eq!(
        r.code,
        0,
        "non-blocking failures must not close the gate: {}",
        r.all()
    );
    let json: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("out.json"))).unwrap();
    let item = |id: &str| json_item(&json, id).clone();
    assert_eq!(item("command.flaky")["outcome"], "flaky");
    assert_eq!(
        item("command.flaky")["attempts"].as_array().unwrap().len(),
        2
    );
    assert_eq!(item("command.lint")["outcome"], "failed");
    assert_eq!(item("command.missing-tool")["outcome"], "errored");
    assert!(
        item("command.missing-tool")["message"]
            .as_str()
            .unwrap()
            .contains("not found (is it installed and on PATH?)")
    );
    assert_eq!(item("command.after-lint")["outcome"], "skipped");
    assert_eq!(json["counts"]["warnings"], 2);
    let xml = read(&dir.path().join("out.xml"));
    assert!(xml.contains("<flakyFailure"), "{xml}");
    // Non-blocking: shown as not passed, counted as no failure (the gate is open).
    assert!(
        xml.contains(r#"<skipped message="non-blocking failure: exit code 4 (expected exit code 0)" type="non-blocking""#),
        "{xml}"
    );
    assert!(
        xml.contains(
            r#"<skipped message="non-blocking error: cannot run `preflight-no-such-program-x`"#
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<skipped message=\"needs `command.lint`, which failed\""),
        "{xml}"
    );
    assert_valid_junit(&dir.path().join("out.xml"));

    // The same errored item, blocking: the gate closes.
    let text = read(&dir.path().join("c.toml")).replace(
        "[command.missing-tool]\nrun = [\"preflight-no-such-program-x\"]\nblocking = false",
        "[command.missing-tool]\nrun = [\"preflight-no-such-program-x\"]",
    );
    write(dir.path(), "c.toml", &text);
    let r = run_in(dir.path(), &["run", "c.toml"]);
    assert_eq!(r.code, 1, "{}", r.all());
}

#[test]
fn a_command_timeout_kills_the_whole_process_group() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        r#"
[command.stuck]
run = "sleep 3023 & sleep 3023; wait"
timeout = "500ms"
"#,
    );
    let r = run_in(dir.path(), &["run", "c.toml"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("timed out after 500ms; its process group was killed"),
        "{}",
        r.all()
    );
    assert!(
        eventually(Duration::from_secs(3), || !process_running("sleep 3023")),
        "a grandchild survived"
    );
}

#[test]
fn http_checks_status_body_json_and_a_server_that_never_answers() {
    let shop = Shop::start(&[], &[]);
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        &format!(
            r#"
[vars]
base = "{base}"

[http.ok]
url = "${{base}}/api/products"
json = {{ "/0/sku" = "A1", "/1/price_cents" = 2400 }}
body_matches = 'Trail\s+Mug'

[http.wrong-status]
url = "${{base}}/health"
status = [201, 204]

[http.wrong-json]
url = "${{base}}/api/products"
json = {{ "/0/sku" = "Z9" }}

[http.silent]
url = "http://127.0.0.1:{silent_port}/"
timeout = "700ms"

[http.refused]
url = "http://127.0.0.1:{closed}/"
"#,
            base = shop.base,
            closed = free_port()
        ),
    );
    let r = run_in(dir.path(), &["run", "c.toml", "--json", "out.json"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let json: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("out.json"))).unwrap();
    let item = |id: &str| json_item(&json, id).clone();
    assert_eq!(
        item("http.ok")["outcome"],
        "passed",
        "{:#}",
        item("http.ok")
    );
    assert!(
        item("http.wrong-status")["message"]
            .as_str()
            .unwrap()
            .ends_with("expected status 201 or 204, got 200 OK")
    );
    assert!(
        item("http.wrong-json")["message"]
            .as_str()
            .unwrap()
            .contains(r#"JSON `/0/sku` is "A1", expected "Z9""#)
    );
    let silent_msg = item("http.silent")["message"].as_str().unwrap().to_string();
    assert!(
        silent_msg.contains(&format!(
            "connected to 127.0.0.1:{silent_port} but got no response within 700ms"
        )),
        "{silent_msg}"
    );
    assert!(
        item("http.refused")["message"]
            .as_str()
            .unwrap()
            .contains("could not connect")
    );
    drop(silent);
}

#[test]
fn manual_items_need_an_acknowledgement_without_a_terminal() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        "[manual.changelog]\nprompt = \"CHANGELOG updated?\"\n",
    );
    let r = run_in(dir.path(), &["run", "c.toml"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("pass `--ack manual.changelog`"),
        "{}",
        r.all()
    );

    let r = run_in(
        dir.path(),
        &[
            "run",
            "c.toml",
            "--ack",
            "manual.changelog",
            "--json",
            "out.json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());

    write(
        dir.path(),
        "acks.toml",
        "[acks.\"manual.changelog\"]\nby = \"alice\"\nat = \"2026-11-20T10:00:00Z\"\nnote = \"reviewed in #42\"\n",
    );
    let r = run_in(
        dir.path(),
        &["run", "c.toml", "--acks", "acks.toml", "--json", "out.json"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let json: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("out.json"))).unwrap();
    assert_eq!(json["items"][0]["data"]["by"], "alice");
    assert_eq!(json["items"][0]["data"]["at"], "2026-11-20T10:00:00+00:00");

    let r = run_in(dir.path(), &["run", "c.toml", "--ack", "manual.changelgo"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("did you mean `manual.changelog`?"),
        "{}",
        r.all()
    );
}

#[test]
fn only_skip_and_fail_fast_select_what_runs() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        r#"
[command.base]
run = "true"

[command.api]
run = "true"
needs = ["command.base"]
tags = ["api"]

[command.ui]
run = "exit 1"
tags = ["ui"]
"#,
    );
    let r = run_in(
        dir.path(),
        &["run", "c.toml", "--only", "api", "--json", "out.json"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let json: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("out.json"))).unwrap();
    let ids: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["command.base", "command.api"],
        "--only brings what it needs"
    );
    assert_eq!(json["not_selected"][0], "command.ui");

    let r = run_in(
        dir.path(),
        &["run", "c.toml", "--skip", "command.base", "--skip", "ui"],
    );
    assert_eq!(
        r.code,
        1,
        "a blocking item skipped for a missing need closes the gate: {}",
        r.all()
    );
    assert!(
        r.stderr
            .contains("needs `command.base`, which was excluded"),
        "{}",
        r.all()
    );

    let r = run_in(dir.path(), &["run", "c.toml", "--only", "uii"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("`--only uii` matches no item id, kind or tag, did you mean `ui`?"),
        "{}",
        r.all()
    );

    let r = run_in(
        dir.path(),
        &[
            "run",
            "c.toml",
            "--fail-fast",
            "--jobs",
            "1",
            "--json",
            "out.json",
        ],
    );
    assert_eq!(r.code, 1);
    let json: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("out.json"))).unwrap();
    let skipped = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["message"].as_str().unwrap().contains("--fail-fast"))
        .count();
    assert!(
        skipped >= 1 || json["items"][2]["outcome"] == "failed",
        "{json:#}"
    );
}

#[test]
fn a_service_that_never_gets_ready_errors_every_item_with_its_last_output() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        &format!(
            r#"
[service.broken]
run = "echo starting up; echo cannot open database >&2; sleep 30"
ready = {{ tcp = "127.0.0.1:{}", timeout = "1s" }}

[command.a]
run = "true"
"#,
            free_port()
        ),
    );
    let r = run_in(dir.path(), &["run", "c.toml", "--junit", "out.xml"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("was not ready within 1s"), "{}", r.all());
    assert!(r.stderr.contains("cannot open database"), "{}", r.all());
    assert!(r.stderr.contains("ERROR command.a"), "{}", r.all());
    assert!(
        read(&dir.path().join("out.xml"))
            .contains("<error message=\"service `broken` did not start")
    );
}

#[test]
fn github_actions_get_a_step_summary_and_error_annotations() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        "[command.ok]\nrun = \"true\"\n\n[command.broken]\nrun = \"exit 2\"\n",
    );
    let out = preflight()
        .current_dir(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.path().join("summary.md"))
        .args(["run", "c.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "::error file=c.toml,line=4,title=preflight command.broken failed::exit code 2"
        ),
        "{stdout}"
    );
    let md = read(&dir.path().join("summary.md"));
    assert!(
        md.contains("gate closed") && md.contains("| `command.broken` | failed |"),
        "{md}"
    );
}

#[test]
fn validate_and_list_run_nothing() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        "[command.second]\nrun = \"touch ran\"\nneeds = [\"command.first\"]\ntags = [\"x\"]\n\n[command.first]\nrun = \"touch ran\"\n",
    );
    let r = run_in(dir.path(), &["validate", "c.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        r.stdout.trim(),
        "c.toml: valid: 2 items (2 command), 0 services"
    );
    let r = run_in(dir.path(), &["list", "c.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let first = r.stdout.find("command.first").unwrap();
    let second = r.stdout.find("command.second").unwrap();
    assert!(first < second, "{}", r.stdout);
    assert!(!dir.path().join("ran").exists());
}

#[test]
fn command_line_errors_exit_2() {
    let dir = tempdir();
    write(dir.path(), "c.toml", "[command.a]\nrun = \"true\"\n");
    for args in [
        vec!["run", "c.toml", "--jobs", "0"],
        vec!["run", "c.toml", "--var", "novalue"],
        vec!["run", "missing.toml"],
        vec!["frobnicate"],
        vec!["gate", "c.toml"],
    ] {
        let r = run_in(dir.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(!r.stderr.contains("panicked"), "{}", r.all());
    }
}

#[test]
fn manual_items_ask_y_n_on_a_terminal() {
    // `script` (util-linux) gives preflight a real pseudo-terminal.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("`script` (util-linux) is required for this test");
    }
    let dir = tempdir();
    write(
        dir.path(),
        "m.toml",
        "[manual.changelog]\nprompt = \"CHANGELOG updated?\"\n",
    );
    for (answer, code, outcome) in [
        ("y\n", 0, "confirmed by "),
        ("n\n", 1, "declined by "),
        ("\n", 1, "declined by "),
    ] {
        let cmd = format!(
            "{} run m.toml --json m.json",
            env!("CARGO_BIN_EXE_preflight")
        );
        let mut child = std::process::Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(dir.path())
            .env_remove("CI")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("script");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), answer.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            shown.contains("? CHANGELOG updated? [manual.changelog] [y/N]"),
            "{shown}"
        );
        assert_eq!(out.status.code(), Some(code), "{answer:?}: {shown}");
        let json: serde_json::Value =
            serde_json::from_str(&read(&dir.path().join("m.json"))).unwrap();
        assert!(
            json["items"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(outcome),
            "{json:#}"
        );
    }
}

#[test]
fn junit_reads_the_same_in_a_real_consumer() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        r#"
[command.ok]
run = "true"

[command.broken]
run = "exit 1"

[command.missing]
run = ["preflight-no-such-program-y"]

[command.after]
run = "true"
needs = ["command.broken"]

[http.down]
url = "http://127.0.0.1:9/"
"#,
    );
    let r = run_in(dir.path(), &["run", "c.toml", "--junit", "reports/out.xml"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/cli/junit_consumer.py"))
        .arg(dir.path().join("reports/out.xml"))
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "junitparser (pip install junitparser): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(text, @r"
    suite c tests=5 failures=2 errors=1 skipped=1
    case preflight.checklist command.ok passed attachments=0
    case preflight.checklist command.broken failure attachments=0
    case preflight.checklist command.missing error attachments=0
    case preflight.checklist command.after skipped attachments=0
    case preflight.checklist http.down failure attachments=0
    ");
}

#[test]
fn items_run_concurrently_up_to_jobs() {
    let dir = tempdir();
    std::fs::create_dir(dir.path().join("running")).unwrap();
    let mut text = String::new();
    for i in 0..6 {
        // Each item records how many items were running while it was.
        text.push_str(&format!(
            "[command.c{i}]\nrun = \"touch running/{i}; sleep 1.5; ls running | wc -l >> seen; rm running/{i}\"\n\n"
        ));
    }
    write(dir.path(), "c.toml", &text);
    let max_seen = |dir: &Path| {
        let seen = read(&dir.join("seen"));
        std::fs::remove_file(dir.join("seen")).unwrap();
        seen.lines()
            .map(|l| l.trim().parse::<usize>().unwrap())
            .max()
            .unwrap()
    };
    let r = run_in(dir.path(), &["run", "c.toml", "--jobs", "2"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        max_seen(dir.path()) <= 2,
        "more than --jobs items ran at once"
    );
    let r = run_in(dir.path(), &["run", "c.toml", "--jobs", "6"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(max_seen(dir.path()) >= 2, "items did not overlap");
}
