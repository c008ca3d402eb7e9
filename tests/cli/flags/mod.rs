//! `[flags.NAME]`: the two incidents (an experiment enabled for one customer; a featured flag
//! flipped since the release snapshot) fail with their evidence, and their corrected flag sets
//! pass; sources are read from real files, real loopback HTTP servers and the fixture shop's
//! OFREP endpoint; unreadable sources error, never pass.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{self, Run, Shop};

mod sources;
mod targeting;

pub(super) fn fixture(name: &str) -> PathBuf {
    support::repo().join("fixtures/flags").join(name)
}

/// Copies fixture files into `dir` (under their own names or new ones).
pub(super) fn copy(dir: &Path, files: &[(&str, &str)]) {
    for (from, to) in files {
        std::fs::copy(fixture(from), dir.join(to)).expect("copy fixture");
    }
}

/// Runs `x.toml` with a JSON report; returns the run and the one item's JSON result.
pub(super) fn run(dir: &Path, checklist: &str) -> (Run, serde_json::Value) {
    support::write(dir, "x.toml", checklist);
    let r = support::run_in(
        dir,
        &[
            "run",
            "x.toml",
            "--json",
            "report.json",
            "--junit",
            "junit.xml",
        ],
    );
    let report: serde_json::Value = std::fs::read_to_string(dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("no JSON report\n{}", r.all()));
    let item = report["items"][0].clone();
    (r, item)
}

pub(super) fn outcome(item: &serde_json::Value) -> &str {
    item["outcome"].as_str().unwrap_or("?")
}

// ---------------------------------------------------------------- incident 1: experiment for one customer

const FLAGD_ITEM: &str = r#"
[flags.shop]
source = "flagd"
file = "flags.json"
"#;

#[test]
fn experiment_targeted_at_one_customer_fails_with_the_customer_and_variant() {
    let dir = support::tempdir();
    copy(
        dir.path(),
        &[("experiment-targeted.flagd.json", "flags.json")],
    );
    let (r, item) = run(dir.path(), FLAGD_ITEM);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(outcome(&item), "failed", "{item:#}");
    let msg = item["message"].as_str().unwrap();
    assert!(
        msg.contains("`bulk-pricing` (experiments, narrow-targeting)"),
        "{msg}"
    );
    let details = item["details"].as_str().unwrap();
    assert!(
        details.contains("narrow-targeting")
            && details.contains("targetingKey in [`cust-4711`] gets variant `on` (true)"),
        "{details}"
    );
    assert!(
        details.contains("experimental (metadata `type` = `experiment`) but on"),
        "{details}"
    );
    let findings = item["data"]["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["flag"] == "bulk-pricing"),
        "only the experiment is at fault: {findings:#?}"
    );
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains("<failure") && junit.contains("cust-4711"),
        "{junit}"
    );
}

#[test]
fn experiment_switched_off_passes_and_says_what_was_checked() {
    let dir = support::tempdir();
    copy(dir.path(), &[("experiment-fixed.flagd.json", "flags.json")]);
    let (r, item) = run(dir.path(), FLAGD_ITEM);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(outcome(&item), "passed");
    let msg = item["message"].as_str().unwrap();
    assert!(
        msg.contains("4 flags audited") && msg.contains("experiments: 4 flags (1 experimental)"),
        "{msg}"
    );
    assert!(
        msg.contains("narrow-targeting: 4 flags (2 unreleased)"),
        "{msg}"
    );
}

// ---------------------------------------------------------------- incident 2: featured flag flipped

const DRIFT_ITEM: &str = r#"
[flags.shop]
source = "flagd"
file = "flags.json"
drift = { lock = "featured.lock.json", approvals = "approvals.toml" }
"#;

#[test]
fn featured_flag_flipped_since_the_snapshot_fails_unless_approved() {
    let dir = support::tempdir();
    copy(
        dir.path(),
        &[
            ("featured-flipped.flagd.json", "flags.json"),
            ("featured.lock.json", "featured.lock.json"),
            ("approvals.toml", "approvals.toml"),
        ],
    );
    let (r, item) = run(dir.path(), DRIFT_ITEM);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(outcome(&item), "failed");
    let details = item["details"].as_str().unwrap();
    assert!(
        details.contains(
            "featured-product: default changed from variant `spring-sale` (\"Spring Sale\") to variant `winter-clearance` (\"Winter Clearance\")"
        ),
        "{details}"
    );
    assert!(
        details.contains("no approval in `approvals.toml`"),
        "{details}"
    );

    // An approval for another variant does not cover it; one with a reason for this variant does.
    support::write(
        dir.path(),
        "approvals.toml",
        "[[approval]]\nflag = \"featured-product\"\nreason = \"\"\n",
    );
    let (r, item) = run(dir.path(), DRIFT_ITEM);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        item["details"]
            .as_str()
            .unwrap()
            .contains("its approval has no `reason`"),
        "{item:#}"
    );
    support::write(
        dir.path(),
        "approvals.toml",
        "[[approval]]\nflag = \"featured-product\"\nreason = \"winter campaign starts today\"\nto = \"winter-clearance\"\nby = \"ana\"\n",
    );
    let (r, item) = run(dir.path(), DRIFT_ITEM);
    assert_eq!(r.code, 0, "{}", r.all());
    let details = item["details"].as_str().unwrap();
    assert!(
        details.contains("approved (\"winter campaign starts today\", by ana)"),
        "{details}"
    );
}

#[test]
fn featured_flag_as_released_passes_the_drift_rule() {
    let dir = support::tempdir();
    copy(
        dir.path(),
        &[
            ("featured-released.flagd.json", "flags.json"),
            ("featured.lock.json", "featured.lock.json"),
            ("approvals.toml", "approvals.toml"),
        ],
    );
    let (r, item) = run(dir.path(), DRIFT_ITEM);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        item["message"]
            .as_str()
            .unwrap()
            .contains("drift: 3 flags vs featured.lock.json (0 changed, 0 approved)"),
        "{item:#}"
    );
}

#[test]
fn snapshot_subcommand_writes_the_lock_that_drift_compares_against() {
    let dir = support::tempdir();
    copy(
        dir.path(),
        &[("featured-released.flagd.json", "flags.json")],
    );
    support::write(
        dir.path(),
        "x.toml",
        &DRIFT_ITEM.replace(", approvals = \"approvals.toml\"", ""),
    );
    let snap = support::run_in(dir.path(), &["flags", "snapshot", "x.toml"]);
    assert_eq!(snap.code, 0, "{}", snap.all());
    assert!(
        snap.stdout.contains("flags.shop: wrote")
            && snap.stdout.contains("(3 flags from flagd file"),
        "{}",
        snap.all()
    );
    let lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("featured.lock.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        lock["flags"]["featured-product"]["default_variant"],
        "spring-sale"
    );

    let r = support::run_in(dir.path(), &["run", "x.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    copy(dir.path(), &[("featured-flipped.flagd.json", "flags.json")]);
    let r = support::run_in(dir.path(), &["run", "x.toml"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("featured-product") || r.stdout.contains("featured-product"),
        "{}",
        r.all()
    );
}

#[test]
fn drift_without_a_lock_file_errors_with_the_way_to_write_one() {
    let dir = support::tempdir();
    copy(
        dir.path(),
        &[("featured-released.flagd.json", "flags.json")],
    );
    let (r, item) = run(
        dir.path(),
        &DRIFT_ITEM.replace(", approvals = \"approvals.toml\"", ""),
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(outcome(&item), "errored");
    assert!(
        item["message"]
            .as_str()
            .unwrap()
            .contains("preflight flags snapshot"),
        "{item:#}"
    );
}

// ---------------------------------------------------------------- OFREP probe against the fixture shop

fn ofrep_item(base: &str) -> String {
    format!(
        r#"
[flags.shop]
source = "ofrep"
url = "{base}"
baseline = {{ targetingKey = "anonymous-visitor" }}
contexts = [{{ targetingKey = "cust-4711" }}, {{ targetingKey = "cust-1000" }}]
"#
    )
}

#[test]
fn ofrep_probe_finds_the_customer_the_shop_targets() {
    let flags = fixture("experiment-targeted.flagd.json");
    let shop = Shop::start(&[], &[("SHOP_FLAGS", flags.to_str().unwrap())]);
    let dir = support::tempdir();
    let (r, item) = run(dir.path(), &ofrep_item(&shop.base));
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(outcome(&item), "failed");
    let details = item["details"].as_str().unwrap();
    assert!(
        details.contains(
            "context {targetingKey=cust-4711} (reason TARGETING_MATCH; 32 anonymous contexts got variant `off` (false)) gets variant `on` (true)"
        ),
        "{details}"
    );
    assert!(
        !details.contains("cust-1000} (reason"),
        "an untargeted customer is not evidence: {details}"
    );
    assert!(
        details.contains("(true) via context {targetingKey=cust-4711}"),
        "{details}"
    );
}

#[test]
fn ofrep_probe_passes_when_the_experiment_is_off() {
    let flags = fixture("experiment-fixed.flagd.json");
    let shop = Shop::start(&[], &[("SHOP_FLAGS", flags.to_str().unwrap())]);
    let dir = support::tempdir();
    let (r, item) = run(dir.path(), &ofrep_item(&shop.base));
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        item["message"]
            .as_str()
            .unwrap()
            .contains("4 flags audited"),
        "{item:#}"
    );
}

// ---------------------------------------------------------------- Unleash and LaunchDarkly over loopback HTTP

/// What a loopback server answers.
#[derive(Clone)]
pub(super) enum Answer {
    Json(u16, String),
    Html(u16, String),
    /// Reads the request, then never answers (for 20 s at most).
    Hang,
}

/// A real HTTP/1.1 server on 127.0.0.1 answering every request with `answer`; records request heads.
pub(super) struct Server {
    pub(super) base: String,
    pub(super) requests: Arc<Mutex<Vec<String>>>,
}

pub(super) fn serve(answer: Answer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        // Bounded: a test makes a handful of requests.
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            seen.lock().unwrap().push(head.clone());
            let (status, ctype, body) = match &answer {
                Answer::Json(s, b) => (*s, "application/json", b.clone()),
                Answer::Html(s, b) => (*s, "text/html; charset=utf-8", b.clone()),
                Answer::Hang => {
                    std::thread::sleep(Duration::from_secs(20));
                    continue;
                }
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Server { base, requests }
}

pub(super) fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn unleash_item(url: &str) -> String {
    format!(
        r#"
[vars]
token = {{ env = "FLAGS_TEST_UNLEASH_TOKEN", default = "default:production.s3cr3t-unleash-token", secret = true }}

[flags.unleash]
source = "unleash"
url = "{url}/api"
token = "${{token}}"
timeout = "3s"
"#
    )
}

#[test]
fn unleash_user_with_id_on_an_experiment_fails_and_the_token_is_sent_not_shown() {
    let server = serve(Answer::Json(200, read_fixture("unleash-features.json")));
    let dir = support::tempdir();
    let (r, item) = run(dir.path(), &unleash_item(&server.base));
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(outcome(&item), "failed");
    let details = item["details"].as_str().unwrap();
    assert!(details.contains("bulk-pricing: not marked released, yet targeted at individuals: userId in [`cust-4711`] (strategy 1 `userWithId`)"), "{details}");
    assert!(
        details.contains("experimental (Unleash type `experiment`) but on"),
        "{details}"
    );
    assert!(
        !details.contains("vip-support"),
        "a permission flag may target customers: {details}"
    );
    let heads = server.requests.lock().unwrap().join("\n");
    assert!(heads.starts_with("GET /api/client/features "), "{heads}");
    assert!(
        heads
            .to_ascii_lowercase()
            .contains("authorization: default:production.s3cr3t-unleash-token"),
        "{heads}"
    );
    assert!(
        !r.all().contains("s3cr3t")
            && !std::fs::read_to_string(dir.path().join("report.json"))
                .unwrap()
                .contains("s3cr3t")
    );
}

#[test]
fn unleash_with_the_experiment_disabled_passes_and_stale_references_warn() {
    let server = serve(Answer::Json(
        200,
        read_fixture("unleash-features-fixed.json"),
    ));
    let dir = support::tempdir();
    support::write(
        dir.path(),
        "src/app.js",
        "if (unleash.isEnabled('old-banner')) { banner(); }\nunleash.isEnabled('featured-product');\n",
    );
    let checklist = unleash_item(&server.base)
        + "code_refs = { globs = [\"src/**/*.js\"], pattern = \"isEnabled\\\\('([^']+)'\\\\)\" }\n";
    let (r, item) = run(dir.path(), &checklist);
    assert_eq!(r.code, 0, "{}", r.all());
    let warnings = item["warnings"].to_string();
    assert!(
        warnings.contains("old-banner: marked stale but still referenced at src/app.js:1"),
        "{item:#}"
    );
}

#[test]
fn code_reference_to_a_flag_the_source_does_not_know_fails() {
    let server = serve(Answer::Json(
        200,
        read_fixture("unleash-features-fixed.json"),
    ));
    let dir = support::tempdir();
    support::write(
        dir.path(),
        "src/app.js",
        "unleash.isEnabled('new-serach');\n",
    );
    let checklist = unleash_item(&server.base)
        + "code_refs = { globs = [\"src/**/*.js\"], pattern = \"isEnabled\\\\('(?P<key>[^']+)'\\\\)\" }\n";
    let (r, item) = run(dir.path(), &checklist);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        item["details"]
            .as_str()
            .unwrap()
            .contains("new-serach: referenced at src/app.js:1 but unknown to the flag source"),
        "{item:#}"
    );
}

fn launchdarkly_item(url: &str) -> String {
    format!(
        r#"
[flags.ld]
source = "launchdarkly"
url = "{url}/api/v2/flags/default?env=production&summary=0"
environment = "production"
token = "api-0000-not-a-real-token"
timeout = "3s"
"#
    )
}

#[test]
fn launchdarkly_individual_target_on_an_unreleased_flag_fails() {
    let server = serve(Answer::Json(200, read_fixture("launchdarkly-flags.json")));
    let dir = support::tempdir();
    let (r, item) = run(dir.path(), &launchdarkly_item(&server.base));
    assert_eq!(r.code, 1, "{}", r.all());
    let details = item["details"].as_str().unwrap();
    assert!(details.contains("bulk-pricing: not marked released, yet targeted at individuals: user key in [`cust-4711`] (targets) gets variant `on` (true)"), "{details}");
    assert!(
        !details.contains("FAIL experiments"),
        "`temporary` is LaunchDarkly's default for every flag, not an experiment: {details}"
    );
    let flagged: Vec<&str> = item["data"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["flag"].as_str())
        .collect();
    assert!(
        flagged.iter().all(|f| *f == "bulk-pricing"),
        "released and permanent flags may target: {flagged:?}"
    );
}

#[test]
fn launchdarkly_with_the_flag_off_passes() {
    let server = serve(Answer::Json(
        200,
        read_fixture("launchdarkly-flags-fixed.json"),
    ));
    let dir = support::tempdir();
    let (r, item) = run(dir.path(), &launchdarkly_item(&server.base));
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        item["message"]
            .as_str()
            .unwrap()
            .contains("3 flags audited"),
        "{item:#}"
    );
}

// ---------------------------------------------------------------- sources that cannot be read

fn errored_with(answer: Answer, needle: &str) {
    errored_with_item(answer, needle, unleash_item);
}

/// `item(base URL)` against a server answering `answer` errors, saying `needle`, showing no secret.
pub(super) fn errored_with_item(answer: Answer, needle: &str, item: impl Fn(&str) -> String) {
    let server = serve(answer);
    let dir = support::tempdir();
    let (r, item) = run(dir.path(), &item(&server.base));
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(outcome(&item), "errored", "{item:#}");
    let msg = item["message"].as_str().unwrap();
    assert!(msg.contains(needle), "expected `{needle}` in: {msg}");
    assert!(!r.all().contains("s3cr3t"), "{}", r.all());
}

#[test]
fn http_401_errors_and_points_at_the_token() {
    errored_with(
        Answer::Json(401, "{\"message\":\"invalid token\"}".into()),
        "refused the credentials (check `token` and `auth`)",
    );
}

#[test]
fn http_500_errors_with_the_body_excerpt_and_no_secret() {
    // The server echoes the token in its error page: the report must still not show it.
    errored_with(
        Answer::Json(
            500,
            "{\"error\":\"db down\",\"token\":\"default:production.s3cr3t-unleash-token\"}".into(),
        ),
        "HTTP 500",
    );
}

#[test]
fn an_html_page_instead_of_json_errors() {
    errored_with(
        Answer::Html(200, "<!doctype html><title>Sign in</title>".into()),
        "expected JSON, got `text/html; charset=utf-8`",
    );
}

#[test]
fn a_source_that_never_answers_errors_within_the_timeout() {
    errored_with(Answer::Hang, "no answer within 3s");
}

#[test]
fn a_malformed_flag_fails_by_name_and_a_malformed_document_errors() {
    let dir = support::tempdir();
    support::write(
        dir.path(),
        "flags.json",
        r#"{"flags": {"a": {"state": "ON", "variants": {"on": true}, "defaultVariant": "on"}}}"#,
    );
    let (r, item) = run(dir.path(), FLAGD_ITEM);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(outcome(&item), "failed");
    assert!(
        item["message"]
            .as_str()
            .unwrap()
            .contains("a: cannot be evaluated: `state` is `ON`, expected `ENABLED` or `DISABLED`"),
        "{item:#}"
    );
    for broken in ["{\"flags\": ", "{\"flag\": {}}", "[]"] {
        support::write(dir.path(), "flags.json", broken);
        let (_, item) = run(dir.path(), FLAGD_ITEM);
        assert_eq!(outcome(&item), "errored", "{broken}: {item:#}");
        assert!(
            item["message"]
                .as_str()
                .unwrap()
                .contains("is not a valid flagd flag definition"),
            "{item:#}"
        );
    }
}

#[test]
fn bad_config_is_a_checklist_error_with_a_location() {
    let dir = support::tempdir();
    support::write(
        dir.path(),
        "x.toml",
        "[flags.shop]\nsource = \"ofrep\"\nfile = \"f.json\"\n",
    );
    let r = support::run_in(dir.path(), &["validate", "x.toml"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("source `ofrep` needs `url`") && r.stderr.contains("x.toml:2:"),
        "{}",
        r.all()
    );
    support::write(
        dir.path(),
        "x.toml",
        "[flags.shop]\nsource = \"flagd\"\nfile = \"f.json\"\n[flags.shop.experiments]\nseverity = \"loud\"\n",
    );
    let r = support::run_in(dir.path(), &["validate", "x.toml"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("x.toml:5:"), "{}", r.all());
}

// ---------------------------------------------------------------- plain files, allowlist, age from git

fn git(dir: &Path, args: &[&str], date: &str) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .expect("git")
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn plain_env_file_ages_by_first_commit_and_checks_the_allowlist() {
    let dir = support::tempdir();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"], "2026-01-01T10:00:00Z");
    support::write(
        d,
        "flags.env",
        "FEATURE_DARK_MODE=on\nDATABASE_URL=postgres://x\n",
    );
    git(d, &["add", "flags.env"], "2026-01-01T10:00:00Z");
    git(
        d,
        &["commit", "-q", "-m", "dark mode"],
        "2026-01-01T10:00:00Z",
    );
    support::write(
        d,
        "flags.env",
        "FEATURE_DARK_MODE=on\nFEATURE_NEW_SEARCH=true\nDATABASE_URL=postgres://x\n",
    );
    git(
        d,
        &["commit", "-q", "-am", "new search"],
        &chrono::Utc::now().to_rfc3339(),
    );
    let checklist = r#"
[flags.env]
source = "plain"
file = "flags.env"
key_pattern = "^FEATURE_(.+)$"
age = { severity = "fail", lifetimes = { release = "90d" } }
allowlist = { flags = ["DARK_MODE"] }
"#;
    let (r, item) = run(d, checklist);
    assert_eq!(r.code, 1, "{}", r.all());
    let details = item["details"].as_str().unwrap();
    assert!(
        details.contains("FAIL age") && details.contains("DARK_MODE: created 2026-01-01"),
        "{details}"
    );
    assert!(details.contains("from first commit"), "{details}");
    assert!(
        details.contains("NEW_SEARCH: enabled but not in the allowlist"),
        "{details}"
    );
    assert!(
        !details.contains("NEW_SEARCH: created"),
        "a key committed today is young: {details}"
    );
    assert!(
        item["message"]
            .as_str()
            .is_some_and(|m| !m.contains("DATABASE_URL")),
        "{item:#}"
    );
}

#[test]
fn yaml_flag_files_resolve_anchors_and_merge_keys_and_errors_say_where() {
    let dir = support::tempdir();
    support::write(
        dir.path(),
        "flags.yaml",
        "common: &common\n  state: ENABLED\n  variants: { on: true, off: false }\nflags:\n  exp-search:\n    <<: *common\n    defaultVariant: on\n    metadata: { type: experiment }\n  dark-mode:\n    <<: *common\n    defaultVariant: off\n",
    );
    let checklist = "[flags.y]\nsource = \"flagd\"\nfile = \"flags.yaml\"\n";
    let (r, item) = run(dir.path(), checklist);
    assert_eq!(r.code, 1, "{}", r.all());
    let details = item["details"].as_str().unwrap();
    assert!(
        details.contains("exp-search: experimental (metadata `type` = `experiment`) but on"),
        "{details}"
    );
    assert_eq!(
        item["data"]["flags"], 2,
        "the `common` anchor is no flag: {item:#}"
    );

    support::write(
        dir.path(),
        "flags.yaml",
        "flags:\n  a:\n    state: ENABLED\n    state: DISABLED\n",
    );
    let (_, item) = run(dir.path(), checklist);
    assert_eq!(outcome(&item), "errored");
    let msg = item["message"].as_str().unwrap();
    assert!(msg.contains("duplicate key `state` at line 4"), "{msg}");
}
