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

/// A soak's outcome as the tests read it.
pub struct Outcome {
    pub run: support::Run,
    pub json: serde_json::Value,
    /// The soak item's verdict lines.
    pub details: String,
    pub dir: tempfile::TempDir,
}

impl Outcome {
    /// The machine starved the app or the generator: the run could not judge the app.
    pub fn inconclusive(&self) -> bool {
        self.run.stderr.contains("rerun on a quieter machine")
    }
    /// A verdict line starting with `FAIL {line}`.
    pub fn fails_on(&self, line: &str) -> bool {
        self.details
            .lines()
            .any(|l| l.starts_with(&format!("FAIL {line}")))
    }
}

/// Runs `soak` until a run decides the test: a run the machine starved ("rerun on a quieter
/// machine") that does not is retried, twice at most, with a loud message. The last run is
/// returned whatever it says, for the test's assertions to judge: a starved machine never
/// makes a leak test pass.
pub fn judged(
    what: &str,
    soak: &dyn Fn() -> Outcome,
    decides: &dyn Fn(&Outcome) -> bool,
) -> Outcome {
    const ATTEMPTS: usize = 3;
    let mut attempt = 1;
    loop {
        let out = soak();
        if decides(&out) || !out.inconclusive() || attempt == ATTEMPTS {
            return out;
        }
        eprintln!(
            "!!! {what}: the machine was too busy to judge the app (attempt {attempt} of {ATTEMPTS}), running it again: {}",
            out.run
                .stderr
                .lines()
                .find(|l| l.contains("inconclusive"))
                .unwrap_or("")
                .trim()
        );
        attempt += 1;
    }
}

/// The item failed with `FAIL {line}` among its verdicts.
pub fn assert_fails_on(out: &Outcome, line: &str) {
    assert!(
        out.run.code == 1 && out.fails_on(line),
        "expected `FAIL {line}`{}\n{}",
        if out.inconclusive() {
            " (the machine was too busy to judge in 3 attempts: rerun on a quieter machine)"
        } else {
            ""
        },
        out.run.all()
    );
}

/// A clean app passes with `ok   {signal}` for each signal. A machine that starved it in every
/// attempt may make the run inconclusive (said loudly), but never a countable resource's
/// failure: only the traffic verdicts may fail then, and memory (a starved app holds the
/// requests queued for it); a signal may be left unjudged only with "not enough samples".
pub fn assert_clean(out: &Outcome, signals: &[&str]) {
    let inconclusive = out.inconclusive();
    assert!(
        out.run.code == 0 || inconclusive,
        "a clean app must pass\n{}",
        out.run.all()
    );
    if inconclusive {
        eprintln!(
            "!!! the machine was too busy to judge the clean app in 3 attempts; only its resource and memory verdicts were checked"
        );
    }
    const STARVED: [&str; 6] = [
        "FAIL latency",
        "FAIL recovery",
        "FAIL timeouts",
        "FAIL errors",
        "FAIL load",
        "FAIL memory",
    ];
    for signal in signals {
        // A sampler the machine starved leaves a signal unjudged, said plainly (never a gap).
        let unjudged = out.details.lines().any(|l| {
            l.starts_with(&format!("ERR  {signal}")) && l.contains("not enough samples to judge")
        });
        let excused =
            inconclusive && (unjudged || STARVED.iter().any(|p| signal.starts_with(&p[5..])));
        assert!(
            excused || out.details.contains(&format!("ok   {signal}")),
            "`{signal}` must pass on a clean app\n{}",
            out.run.all()
        );
    }
    for line in out.details.lines().filter(|l| l.starts_with("FAIL")) {
        assert!(
            inconclusive && STARVED.iter().any(|p| line.starts_with(p)),
            "false alarm on a clean app: {line}\n{}",
            out.run.all()
        );
    }
}

pub fn run_soak(dir: tempfile::TempDir, toml: &str) -> Outcome {
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
    let json: serde_json::Value = std::fs::read_to_string(dir.path().join("out.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    let details = json
        .pointer("/items/0/details")
        .and_then(|d| d.as_str())
        .unwrap_or_default()
        .to_string();
    Outcome {
        run,
        json,
        details,
        dir,
    }
}

fn soak_shop(faults: &[&str], extra: &str) -> Outcome {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let shop = Shop::start(faults, &[]);
    let mut toml = soak_item(&shop.base, &format!("pid = {}", shop.pid()), extra);
    if extra.contains("connections") {
        toml = toml.replace("rate = 20\n", "");
    }
    run_soak(support::tempdir(), &toml)
}

#[test]
fn clean_shop_run_as_a_service_passes() {
    let soak = || {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        // A free port for the service (the checklist needs it before the shop starts).
        let port = support::free_port();
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
        run_soak(support::tempdir(), &toml)
    };
    let out = judged("the clean shop", &soak, &|_| false);
    assert_clean(
        &out,
        &[
            "open fds:",
            "memory:",
            "pool in use `shop_db_pool_connections_in_use`:",
            "accept queue:",
        ],
    );
    if !out.inconclusive() {
        assert!(out.run.stderr.contains("no leak seen"), "{}", out.run.all());
        for signal in ["load:", "errors:", "latency:", "recovery:"] {
            assert!(
                out.details.contains(&format!("ok   {signal}")),
                "missing passed `{signal}` verdict\n{}",
                out.details
            );
        }
    }
    // Figures in the reports, the chart attached.
    let junit = std::fs::read_to_string(out.dir.path().join("junit.xml")).expect("junit");
    assert!(
        junit.contains("rate_achieved") && junit.contains("memory.bytes_per_request"),
        "{junit}"
    );
    assert!(
        junit.contains("[[ATTACHMENT|") && junit.contains("soak.svg"),
        "{junit}"
    );
    let svg = std::fs::read_to_string(out.dir.path().join("preflight-artifacts/soak.api/soak.svg"))
        .expect("chart");
    assert!(svg.contains("<svg") && svg.contains("steady B") && svg.contains("<polyline"));
    assert!(
        out.json
            .to_string()
            .contains("smallest_detectable_bytes_per_request"),
        "{}",
        out.json
    );
}

#[test]
fn connection_leak_fails_on_the_pool_and_names_it() {
    let line = "pool in use `shop_db_pool_connections_in_use`: did not return to baseline";
    let out = judged(
        "the connection leak",
        &|| soak_shop(&["conn-leak=5"], ""),
        &|o| o.fails_on(line),
    );
    assert_fails_on(&out, line);
}

#[test]
fn a_memory_leak_fails_on_the_memory_trend_in_plain_words_at_production_traffic() {
    let out = judged(
        "the memory leak",
        &|| {
            soak_shop(
                &["mem-leak=131072"],
                "production_rate = 5000\nmemory_headroom = \"2GiB\"\nmin_uptime = \"7d\"",
            )
        },
        &|o| o.fails_on("memory: leaks "),
    );
    assert_fails_on(&out, "memory: leaks ");
    let line = out
        .details
        .lines()
        .find(|l| l.starts_with("FAIL memory: leaks "))
        .unwrap_or_default();
    assert!(
        line.contains("B/request [")
            && line.contains("in RSS (VmRSS): at 5,000 req/s (production_rate) that is ")
            && line.contains("the 2.0 GiB headroom is gone in ")
            && line.contains("less than 7.0 d"),
        "{line}"
    );
    // The leak is 131072 B/request; the estimate should be in that region.
    let per_req = out
        .json
        .pointer("/items/0/data/memory/bytes_per_request")
        .and_then(|v| v.as_f64());
    assert!(per_req.is_some_and(|b| b > 40_000.0), "{}", out.json);
}

#[test]
fn closed_loop_soak_reports_its_capacity() {
    let out = judged(
        "the closed loop",
        &|| soak_shop(&[], "connections = 4"),
        &|_| false,
    );
    assert!(
        out.details
            .contains("ok   load: closed loop with 4 connections: "),
        "{}",
        out.run.all()
    );
    assert_clean(&out, &["open fds:", "memory:"]);
}

#[test]
fn slow_under_load_fails_on_latency_or_recovery() {
    // Slow answers are what a starved machine makes too: only a run that was not starved shows
    // the fault.
    let slow = |o: &Outcome| o.fails_on("latency:") || o.fails_on("recovery:");
    let out = judged(
        "the app slow under load",
        &|| soak_shop(&["slow-under-load=50"], ""),
        &|o| slow(o) && !o.inconclusive(),
    );
    assert!(
        out.run.code == 1 && slow(&out) && !out.inconclusive(),
        "expected `FAIL latency` or `FAIL recovery` in a run the machine did not starve\n{}",
        out.run.all()
    );
}

#[test]
fn a_server_that_accepts_but_never_answers_fails_as_timeouts_with_its_connections_capped() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let shop = Shop::start(&["hang"], &[]);
    // 20 req/s (80 in the spike) unanswered for 2 s each would hold up to 160 connections.
    let toml = soak_item(
        &shop.base,
        &format!("pid = {}", shop.pid()),
        "max_in_flight = 16",
    )
    .replace("/api/products", "/health");
    let out = run_soak(support::tempdir(), &toml);
    assert_fails_on(&out, "timeouts:");
    assert!(out.run.stderr.contains("timed out"), "{}", out.run.all());
    assert!(out.json.to_string().contains("\"timeout\""), "{}", out.json);
    // The requests beyond 16 in flight are dropped and said so, not sent on new connections.
    assert_fails_on(&out, "load: ");
    assert!(
        out.details.contains("dropped at the cap of 16 in flight"),
        "{}",
        out.details
    );
    let peak = out
        .json
        .pointer("/items/0/data/resources")
        .and_then(|r| r.as_array())
        .and_then(|r| r.iter().find(|r| r["key"] == "tcp_established"))
        .and_then(|r| r["peak"].as_f64())
        .unwrap_or(f64::NAN);
    // The generator's 16 and the metrics scraper's.
    assert!(peak <= 18.0, "peak {peak} connections\n{}", out.details);
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

/// An https target (here `openssl s_server`) is loaded with the item's `ca`; without it the
/// certificate is refused, said in words before any load; `insecure = true` loads it and says so.
#[test]
fn https_targets_are_loaded_with_their_ca_and_a_refused_certificate_is_named() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let certs = support::tempdir();
    let c = certs.path();
    support::make_certs(c);
    support::write(c, "ok.txt", "ok\n");
    let (mut server, port) = support::tls_file_server(c);
    let soak = |tls: &str| {
        run_soak(
            support::tempdir(),
            &format!(
                "[soak.tls]\nrate = 5\nduration = \"5s\"\nrequest_timeout = \"2s\"\nmax_p99 = \"1500ms\"\n\
                 requests = [{{ url = \"https://localhost:{port}/ok.txt\" }}]\n{tls}\n"
            ),
        )
    };
    let untrusted = soak("");
    let trusted = soak(&format!("ca = \"{}\"", c.join("ca.pem").display()));
    let insecure = soak("insecure = true");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(untrusted.run.code, 1, "{}", untrusted.run.all());
    assert!(
        untrusted
            .run
            .stderr
            .contains("not signed by a trusted certificate authority"),
        "{}",
        untrusted.run.all()
    );
    for (what, out) in [("trusted", &trusted), ("insecure", &insecure)] {
        assert!(
            out.details.contains("ok   errors"),
            "{what}: every request must be answered\n{}",
            out.run.all()
        );
    }
    assert!(
        insecure.json["items"][0]["warnings"]
            .to_string()
            .contains("insecure = true"),
        "{}",
        insecure.json
    );
    assert!(
        !trusted.json["items"][0]["warnings"]
            .to_string()
            .contains("insecure"),
        "{}",
        trusted.json
    );
}
