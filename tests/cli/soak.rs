//! `[soak.NAME]` against the real fixture shop on loopback: each fault the soak is meant to
//! catch fails it with the right signal named, and the clean shop passes with the same
//! settings. Soaks run one at a time (they measure the machine they share).

use std::sync::Mutex;

use crate::support::{self, Shop};

/// Soaks measure latency and memory: running two at once on a 2-core machine would make each
/// other's noise.
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The settings every soak test shares; only the app differs between a must-fail and a
/// must-pass test. Short runs project warm-up growth (new threads, allocator arenas) to
/// hundreds of MiB/h, so the memory limit is set for a 12 s run, the same for every test.
fn soak_item(base: &str, watch: &str, extra: &str) -> String {
    format!(
        r#"
[soak.api]
rate = 20
duration = "12s"
request_timeout = "2s"
max_p99 = "1500ms"
max_memory_growth = "2GiB"
requests = [{{ url = "{base}/api/products" }}]
watch = {{ metrics = "{base}/metrics", {watch} }}
{extra}
"#
    )
}

fn run_soak(toml: &str) -> (support::Run, serde_json::Value, tempfile::TempDir) {
    let dir = support::tempdir();
    support::write(dir.path(), "x.toml", toml);
    let run = support::run_in(
        dir.path(),
        &[
            "run",
            "x.toml",
            "--json",
            "out.json",
            "--junit",
            "junit.xml",
        ],
    );
    let json = std::fs::read_to_string(dir.path().join("out.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (run, json, dir)
}

fn soak_shop(faults: &[&str], extra: &str) -> (support::Run, serde_json::Value, tempfile::TempDir) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let shop = Shop::start(faults, &[]);
    let mut toml = soak_item(&shop.base, &format!("pid = {}", shop.pid()), extra);
    if extra.contains("connections") {
        toml = toml.replace("rate = 20\n", "");
    }
    let out = run_soak(&toml);
    drop(shop);
    out
}

/// The verdict lines of the soak item in the JSON report.
fn verdicts(json: &serde_json::Value) -> String {
    json.to_string()
}

#[test]
fn clean_shop_run_as_a_service_passes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A free port for the service (the checklist needs it before the shop starts).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let toml = format!(
        r#"
[service.shop]
run = ["{shop}"]
env = {{ SHOP_PORT = "{port}", SHOP_ADDR = "127.0.0.1" }}
ready = {{ http = "{base}/health" }}
{item}
"#,
        shop = support::shop_binary().display(),
        item = soak_item(&base, r#"pid = "service""#, r#"service = "shop""#)
    );
    let (run, json, dir) = run_soak(&toml);
    // A machine that starves the app makes the run inconclusive, never a leak (below).
    assert!(
        run.code == 0 && run.stderr.contains("no leak seen")
            || run.stderr.contains("rerun on a quieter machine"),
        "{}",
        run.all()
    );
    // One verdict line per signal, each passed.
    let details = json
        .pointer("/items/0/details")
        .and_then(|d| d.as_str())
        .unwrap_or_default();
    for signal in [
        "load:",
        "errors:",
        "latency:",
        "recovery:",
        "open fds:",
        "memory:",
        "pool in use `shop_db_pool_connections_in_use`:",
        "accept queue:",
    ] {
        // On a starved machine the traffic verdicts may fail (the run is then inconclusive).
        let traffic = ["load:", "errors:", "latency:", "recovery:"].contains(&signal);
        if traffic && run.stderr.contains("rerun on a quieter machine") {
            continue;
        }
        assert!(
            details.contains(&format!("ok   {signal}")),
            "missing passed `{signal}` verdict\n{details}"
        );
    }
    // Figures in the reports, the chart attached.
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    assert!(
        junit.contains("rate_achieved") && junit.contains("memory.bytes_per_request"),
        "{junit}"
    );
    assert!(
        junit.contains("[[ATTACHMENT|") && junit.contains("soak.svg"),
        "{junit}"
    );
    let svg = std::fs::read_to_string(dir.path().join("preflight-artifacts/soak.api/soak.svg"))
        .expect("chart");
    assert!(svg.contains("<svg") && svg.contains("steady B") && svg.contains("<polyline"));
    assert!(
        verdicts(&json).contains("smallest_detectable_bytes_per_request"),
        "{json}"
    );
}

#[test]
fn connection_leak_fails_on_the_pool_and_names_it() {
    let (run, _json, _dir) = soak_shop(&["conn-leak=5"], "");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(
            "FAIL pool in use `shop_db_pool_connections_in_use`: did not return to baseline"
        ),
        "{}",
        run.all()
    );
}

#[test]
fn memory_leak_fails_on_the_memory_trend() {
    let (run, json, _dir) = soak_shop(&["mem-leak=131072"], "");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("FAIL memory: RSS (VmRSS) grows steadily"),
        "{}",
        run.all()
    );
    // The leak is 131072 B/request; the estimate's interval should be in that region.
    let per_req = json
        .pointer("/items/0/data/memory/bytes_per_request")
        .and_then(|v| v.as_f64());
    assert!(per_req.is_some_and(|b| b > 40_000.0), "{json}");
}

#[test]
fn a_leak_is_judged_at_production_traffic_in_plain_words() {
    let (run, json, _dir) = soak_shop(
        &["mem-leak=131072"],
        "production_rate = 5000\nmemory_headroom = \"2GiB\"\nmin_uptime = \"7d\"",
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let details = json
        .pointer("/items/0/details")
        .and_then(|d| d.as_str())
        .unwrap_or_default();
    let line = details
        .lines()
        .find(|l| l.starts_with("FAIL memory: leaks "))
        .unwrap_or_else(|| panic!("no memory failure\n{details}"));
    assert!(
        line.contains("B/request [")
            && line.contains("at 5,000 req/s (production_rate) that is ")
            && line.contains("the 2.0 GiB headroom is gone in ")
            && line.contains("less than 7.0 d"),
        "{line}"
    );
}

#[test]
fn closed_loop_soak_reports_its_capacity() {
    let (run, json, _dir) = soak_shop(&[], "connections = 4");
    let details = json
        .pointer("/items/0/details")
        .and_then(|d| d.as_str())
        .unwrap_or_default();
    assert!(
        details.contains("ok   load: closed loop with 4 connections: "),
        "{}",
        run.all()
    );
    assert!(
        run.code == 0 || run.stderr.contains("rerun on a quieter machine"),
        "{}",
        run.all()
    );
}

#[test]
fn slow_under_load_fails_on_latency_or_recovery() {
    let (run, _json, _dir) = soak_shop(&["slow-under-load=50"], "");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("FAIL latency:") || run.stderr.contains("FAIL recovery:"),
        "{}",
        run.all()
    );
}

#[test]
fn a_server_that_accepts_but_never_answers_fails_as_timeouts() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let shop = Shop::start(&["hang"], &[]);
    let toml = soak_item(&shop.base, &format!("pid = {}", shop.pid()), "")
        .replace("/api/products", "/health");
    let (run, json, _dir) = run_soak(&toml);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("FAIL timeouts:") && run.stderr.contains("timed out"),
        "{}",
        run.all()
    );
    assert!(verdicts(&json).contains("\"timeout\""), "{json}");
}

#[test]
fn non_loopback_targets_are_refused_at_parse_time() {
    let dir = support::tempdir();
    support::write(
        dir.path(),
        "x.toml",
        "[soak.api]\nduration = \"10s\"\nrequests = [{ url = \"http://10.1.2.3:8080/\" }]\n",
    );
    let run = support::run_in(dir.path(), &["run", "x.toml"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("x.toml:3:") && run.stderr.contains("not a loopback address"),
        "{}",
        run.all()
    );
}

#[test]
fn unknown_service_and_unbounded_rate_are_checklist_errors() {
    let dir = support::tempdir();
    support::write(
        dir.path(),
        "x.toml",
        "[soak.api]\nservice = \"shp\"\nrequests = [{ url = \"http://127.0.0.1:1/\" }]\n",
    );
    let run = support::run_in(dir.path(), &["run", "x.toml"]);
    assert!(
        run.stderr.contains("unknown service `shp`"),
        "{}",
        run.all()
    );
    support::write(
        dir.path(),
        "y.toml",
        "[soak.api]\nrate = 1000000\nrequests = [{ url = \"http://127.0.0.1:1/\" }]\n",
    );
    let run = support::run_in(dir.path(), &["run", "y.toml"]);
    assert!(
        run.stderr.contains("y.toml:2:") && run.stderr.contains("at most 50000"),
        "{}",
        run.all()
    );
    support::write(
        dir.path(),
        "z.toml",
        "[soak.api]\nconnections = 10\nrate = 5\nrequests = [{ url = \"http://127.0.0.1:1/\" }]\n",
    );
    let run = support::run_in(dir.path(), &["run", "z.toml"]);
    assert!(
        run.code == 2
            && run.stderr.contains("z.toml:3:")
            && run.stderr.contains("exclude each other"),
        "{}",
        run.all()
    );
    support::write(
        dir.path(),
        "u.toml",
        "[soak.api]\nmin_uptime = \"7d\"\nrequests = [{ url = \"http://127.0.0.1:1/\" }]\n",
    );
    let run = support::run_in(dir.path(), &["run", "u.toml"]);
    assert!(
        run.code == 2 && run.stderr.contains("`min_uptime` needs `memory_headroom`"),
        "{}",
        run.all()
    );
}

#[test]
fn a_watched_process_that_does_not_exist_is_an_error_not_a_pass() {
    let dir = support::tempdir();
    support::write(
        dir.path(),
        "x.toml",
        "[soak.api]\nduration = \"5s\"\nrequests = [{ url = \"http://127.0.0.1:1/\" }]\nwatch = { pid = 4000000 }\n",
    );
    let run = support::run_in(dir.path(), &["run", "x.toml"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("process 4000000 is not running"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("errored"), "{}", run.all());
}
