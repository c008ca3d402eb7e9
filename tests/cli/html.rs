//! `--html`: the report of a passing demo-like run and of a failing run, opened in real headless
//! Chromium (through chromedriver, as a person would open the CI artifact), screenshotted and
//! checked for what a reader sees. Screenshots are kept in `target/tmp/html-report/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use thirtyfour::prelude::*;

use crate::support::{self, *};

/// The purchase journey of the browser tests, ending with a screenshot of the confirmation.
fn checkout(base: &str) -> String {
    format!(
        "\n[browser.checkout]\ndescription = \"A visitor can sign up, buy with express shipping and see the confirmation\"\n{}\n",
        crate::browser::journeys::purchase_steps(base)
    )
}

/// Items both runs share: HTTP checks, a command that uses a secret, the journey, a flags audit.
fn shared(base: &str) -> String {
    format!(
        r#"[checklist]
name = "fixture shop release"

[vars]
base = "{base}"
token = {{ value = "tok-5e3a9c71d2", secret = true }}

[http.health]
url = "${{base}}/health"
body_contains = "ok"

[http.home]
description = "The home page shows the current featured product"
url = "${{base}}/"
needs = ["http.health"]
body_contains = ["Preflight Shop", "Spring Sale"]

[http.products-api]
url = "${{base}}/api/products"
json = {{ "/0/sku" = "A1" }}
tags = ["api"]

[command.deploy-token]
description = "The deploy token is accepted"
run = "echo using token ${{token}}; test -f token-ok"

[flags.experiments]
source = "flagd"
file = "flags.json"
{}"#,
        checkout(base)
    )
}

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        assert!(
            eventually(Duration::from_secs(20), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "chromedriver did not start"
        );
        Driver { child, url }
    }

    async fn session(&self, profile: &Path) -> WebDriver {
        let mut caps = DesiredCapabilities::chrome();
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.display()),
        ] {
            caps.add_arg(arg).expect("arg");
        }
        WebDriver::new(&self.url, caps).await.expect("session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots of the reports are kept for a person to look at.
fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

async fn js(wd: &WebDriver, script: &str) -> serde_json::Value {
    wd.execute(script, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
        .json()
        .clone()
}

/// A screenshot of the whole page (the window grown to the page's height) in `name`.
async fn page_screenshot(wd: &WebDriver, name: &str) {
    let height = js(wd, "return document.documentElement.scrollHeight").await;
    let height = height.as_u64().unwrap_or(1000).clamp(600, 12000) as u32;
    wd.set_window_rect(0, 0, 1280, height).await.unwrap();
    js(wd, "window.scrollTo(0, 0); return 0").await;
    wd.screenshot(&screenshots().join(name)).await.unwrap();
    wd.set_window_rect(0, 0, 1280, 1000).await.unwrap();
}

/// The `<details>` of item `id`.
async fn item(wd: &WebDriver, id: &str) -> WebElement {
    wd.find(By::Css(format!("details[id=\"item-{id}\"]")))
        .await
        .unwrap_or_else(|e| panic!("no item {id}: {e}"))
}

/// Opens item `id` (if closed) and returns the natural widths of its images.
async fn image_widths(wd: &WebDriver, id: &str) -> Vec<u64> {
    let el = item(wd, id).await;
    if el.attr("open").await.unwrap().is_none() {
        el.find(By::Tag("summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    let script = format!(
        "return Array.from(document.getElementById('item-{id}').querySelectorAll('img')).map(i => i.complete ? i.naturalWidth : -1)"
    );
    let mut widths = js(wd, &script).await;
    // Images of a just-opened item decode asynchronously.
    for _ in 0..50 {
        if widths
            .as_array()
            .is_some_and(|a| a.iter().all(|w| w.as_i64() != Some(-1)))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        widths = js(wd, &script).await;
    }
    widths
        .as_array()
        .expect("array")
        .iter()
        .map(|w| w.as_i64().unwrap_or(0).max(0) as u64)
        .collect()
}

/// A git repository with release v1.0.0 and, since, a migration that cannot be undone.
fn repo_with_irreversible_migration(dir: &Path) {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "Release Bot")
            .env("GIT_AUTHOR_EMAIL", "bot@example.test")
            .env("GIT_COMMITTER_NAME", "Release Bot")
            .env("GIT_COMMITTER_EMAIL", "bot@example.test")
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    write(
        dir,
        ".gitignore",
        "*.toml\n*.json\n*.html\n*.xml\npreflight-artifacts/\ntmp/\ntoken-ok\n",
    );
    write(
        dir,
        "migrations/20250101000000_products.up.sql",
        "CREATE TABLE products (sku TEXT PRIMARY KEY);\n",
    );
    write(
        dir,
        "migrations/20250101000000_products.down.sql",
        "DROP TABLE products;\n",
    );
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "v1"]);
    git(&["tag", "v1.0.0"]);
    write(
        dir,
        "migrations/20250301000000_drop_legacy.up.sql",
        "-- the old price column goes\nALTER TABLE products DROP COLUMN legacy_price;\n",
    );
    git(&["add", "-A"]);
    git(&["commit", "-qm", "drop legacy price"]);
}

fn copy_flags(dir: &Path, fixture: &str) {
    std::fs::copy(
        repo().join("fixtures/flags").join(fixture),
        dir.join("flags.json"),
    )
    .expect("copy flags fixture");
}

fn run_with_html(dir: &Path, checklist: &str) -> Run {
    write(dir, "preflight.toml", checklist);
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let out = preflight()
        .args([
            "run",
            "preflight.toml",
            "--html",
            "out/report.html",
            "--json",
            "report.json",
        ])
        .current_dir(dir)
        .env("TMPDIR", dir.join("tmp"))
        .output()
        .expect("run preflight");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_html_report_of_a_passing_and_a_failing_run_reads_right_in_chromium() {
    let _turn = support::take_browser_turn();
    let shots = screenshots();

    // A passing run like the demo's: HTTP, a command, the journey, a flags audit, a short soak.
    let passing = tempdir();
    let p = passing.path();
    let shop = Shop::start(&[], &[]);
    copy_flags(p, "experiment-fixed.flagd.json");
    write(p, "token-ok", "");
    let soak = format!(
        r#"
[soak.api]
description = "No leak and no slow-down under a short load run"
needs = ["browser.checkout"]
rate = 20
duration = "5s"
# Lenient: this run shares the machine with the other tests; the soak tests judge latency.
request_timeout = "5s"
max_p99 = "5s"
max_memory_growth = "2GiB"
requests = [{{ url = "${{base}}/api/products" }}]
watch = {{ metrics = "${{base}}/metrics", pid = {} }}
"#,
        shop.pid()
    );
    let run = run_with_html(p, &format!("{}{soak}", shared(&shop.base)));
    drop(shop);
    assert_eq!(run.code, 0, "{}", run.all());
    let passing_html = read(&p.join("out/report.html"));
    std::fs::write(shots.join("passing.html"), &passing_html).unwrap();

    // A failing run: last season's product on the home page, a targeted experiment left on,
    // a migration that cannot be undone, a rejected token.
    let failing = tempdir();
    let f = failing.path();
    repo_with_irreversible_migration(f);
    copy_flags(f, "experiment-targeted.flagd.json");
    let shop = Shop::start(&["wrong-featured"], &[]);
    let rollback = "\n[rollback.release]\nmigrations = { dir = \"migrations\", tool = \"sqlx\" }\n\n\
                    [http.checkout-api]\nurl = \"${base}/api/checkout\"\nneeds = [\"http.home\"]\n";
    let run = run_with_html(f, &format!("{}{rollback}", shared(&shop.base)));
    drop(shop);
    assert_eq!(run.code, 1, "{}", run.all());
    let failing_html = read(&f.join("out/report.html"));
    std::fs::write(shots.join("failing.html"), &failing_html).unwrap();

    // Self-contained and redacted, in the file itself.
    for html in [&passing_html, &failing_html] {
        assert!(
            !html.contains("tok-5e3a9c71d2"),
            "the secret is in the HTML report"
        );
        assert!(
            !html.contains("http://") || html.contains("127.0.0.1"),
            "no external URL"
        );
        assert!(!html.contains(" src=\"http") && !html.contains(" href=\"http"));
    }
    assert!(failing_html.contains("using token [REDACTED]"));
    // Valid HTML for the W3C's checker.
    let vnu = repo().join("ci/.npm/node_modules/vnu-jar/build/dist/vnu.jar");
    let out = Command::new("java")
        .arg("-jar")
        .arg(&vnu)
        .arg("--errors-only")
        .args([p.join("out/report.html"), f.join("out/report.html")])
        .output()
        .expect("java (ci/install-deps.sh installs Java and the Nu Html Checker)");
    assert!(
        out.status.success(),
        "{} finds errors:\n{}",
        vnu.display(),
        String::from_utf8_lossy(&out.stderr)
    );

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let driver = Driver::start();
        let wd = driver.session(&p.join("tmp/viewer")).await;

        // -------- passing
        wd.goto(format!("file://{}", p.join("out/report.html").display()))
            .await
            .unwrap();
        let verdict = wd.find(By::Id("verdict")).await.unwrap();
        assert_eq!(verdict.attr("class").await.unwrap().as_deref(), Some("verdict open"));
        let text = verdict.text().await.unwrap();
        assert!(text.starts_with("Gate open\nevery blocking item passed (exit 0)"), "{text}");
        assert!(text.contains("fixture shop release · 7 items"), "{text}");
        wd.screenshot(&shots.join("passing.png")).await.unwrap();
        // Nothing was fetched: every asset is inline.
        let fetched = js(&wd, "return performance.getEntriesByType('resource').length").await;
        assert_eq!(fetched, 0);
        // Passed items are collapsed; opened, the journey shows its screenshot and the soak
        // its chart, both decoded from the page itself.
        assert!(item(&wd, "http.health").await.attr("open").await.unwrap().is_none());
        let shot = image_widths(&wd, "browser.checkout").await;
        assert_eq!(shot.len(), 1);
        assert!(shot[0] >= 800, "the journey's screenshot did not load: {shot:?}");
        let chart = image_widths(&wd, "soak.api").await;
        assert!(chart.len() == 1 && chart[0] > 300, "the soak chart did not load: {chart:?}");
        let soak = item(&wd, "soak.api").await;
        let signals = soak.find(By::Css("table")).await.unwrap().text().await.unwrap();
        assert!(signals.starts_with("Signals\nsignal status verdict"), "{signals}");
        page_screenshot(&wd, "passing-opened.png").await;

        // -------- failing
        wd.goto(format!("file://{}", f.join("out/report.html").display()))
            .await
            .unwrap();
        let verdict = wd.find(By::Id("verdict")).await.unwrap();
        assert_eq!(verdict.attr("class").await.unwrap().as_deref(), Some("verdict closed"));
        let text = verdict.text().await.unwrap();
        assert!(text.starts_with("Gate closed\na blocking item did not pass (exit 1)"), "{text}");
        page_screenshot(&wd, "failing.png").await;
        // The groups, in order, with the failures first.
        let groups = js(
            &wd,
            "return Array.from(document.querySelectorAll('section.group')).map(s => s.id + ':' + s.querySelectorAll('details.item').length)",
        )
        .await;
        assert_eq!(
            groups,
            serde_json::json!([
                "group-failed:5",
                "group-skipped:1",
                "group-passed:2"
            ])
        );
        // The failed journey is open, with the screenshot of the page it failed on.
        let journey = item(&wd, "browser.checkout").await;
        assert!(journey.attr("open").await.unwrap().is_some());
        assert!(journey.is_displayed().await.unwrap());
        let summary = journey.find(By::Tag("summary")).await.unwrap().text().await.unwrap();
        assert!(summary.contains("failed") && summary.contains("Spring Sale"), "{summary}");
        let shot = image_widths(&wd, "browser.checkout").await;
        assert!(!shot.is_empty() && shot[0] >= 800, "failure screenshot: {shot:?}");
        // Findings and migrations as tables.
        let flags = item(&wd, "flags.experiments").await;
        let findings = flags.find(By::Css("table")).await.unwrap();
        let t = findings.text().await.unwrap();
        assert!(t.starts_with("Flag findings\nseverity rule flag evidence"), "{t}");
        assert!(t.contains("fail experiments bulk-pricing"), "{t}");
        let rollback = item(&wd, "rollback.release").await;
        let t = rollback.find(By::Css("table")).await.unwrap().text().await.unwrap();
        assert!(
            t.starts_with("Migrations since the previous release\nid change verdict files problems dangerous"),
            "{t}"
        );
        assert!(t.contains("20250301000000_drop_legacy added"), "{t}");

        // Filters: hiding `failed` hides the failures and their group; a search narrows.
        let health = item(&wd, "http.health").await;
        wd.find(By::Css("input[data-filter=failed]")).await.unwrap().click().await.unwrap();
        assert!(!journey.is_displayed().await.unwrap());
        assert!(!wd.find(By::Id("group-failed")).await.unwrap().is_displayed().await.unwrap());
        assert!(health.is_displayed().await.unwrap());
        wd.find(By::Css("input[data-filter=failed]")).await.unwrap().click().await.unwrap();
        assert!(journey.is_displayed().await.unwrap());
        wd.find(By::Id("search")).await.unwrap().send_keys("products").await.unwrap();
        let shown = js(
            &wd,
            "return Array.from(document.querySelectorAll('details.item')).filter(d => d.offsetParent !== null).map(d => d.id)",
        )
        .await;
        assert_eq!(shown, serde_json::json!(["item-http.products-api"]));
        let count = wd.find(By::Css("#group-passed h2 .n")).await.unwrap().text().await.unwrap();
        assert_eq!(count, "1 of 2");
        page_screenshot(&wd, "failing-filtered.png").await;

        wd.quit().await.unwrap();
    });
}

/// The step summary links the HTML report: to `PREFLIGHT_HTML_URL` when set, else to the
/// workflow run whose artifacts hold it; an unwritable path fails the run like the other reports.
#[test]
fn the_github_summary_links_the_html_report_and_a_bad_path_is_an_error() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "x.toml", "[command.ok]\nrun = \"true\"\n");
    let summary = d.join("summary.md");
    let run = |env: &[(&str, &str)], html: &str| {
        let _ = std::fs::remove_file(&summary);
        let mut cmd = preflight();
        cmd.args(["run", "x.toml", "--html", html])
            .env("GITHUB_STEP_SUMMARY", &summary)
            .current_dir(d);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            std::fs::read_to_string(&summary).unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let github = [
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_RUN_ID", "4242"),
    ];
    let (code, md, _) = run(&github, "out/report.html");
    assert_eq!(code, Some(0));
    assert!(
        md.ends_with("\nHTML report: `out/report.html` in the artifacts of [this workflow run](https://github.com/acme/shop/actions/runs/4242)\n"),
        "{md}"
    );
    let mut published = github.to_vec();
    published.push((
        "PREFLIGHT_HTML_URL",
        "https://reports.example.test/shop/4242.html",
    ));
    let (_, md, _) = run(&published, "out/report.html");
    assert!(
        md.ends_with(
            "\nHTML report: [`out/report.html`](https://reports.example.test/shop/4242.html)\n"
        ),
        "{md}"
    );
    let (_, md, _) = run(&[], "out/report.html");
    assert!(md.ends_with("\nHTML report: `out/report.html`\n"), "{md}");

    write(d, "blocker", "a file where a directory should be");
    let (code, _, stderr) = run(&[], "blocker/report.html");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("gate: CLOSED, cannot write HTML report `blocker/report.html`"),
        "{stderr}"
    );
}
