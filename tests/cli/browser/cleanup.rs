//! Timeouts and Ctrl-C: a journey stops itself inside its timeout with what it was doing, and
//! nothing it started (browsers, chromedriver, profiles, Chromium's temp dirs) outlives the run.

use std::process::Command;

use super::sandbox::{Sandbox, artifacts, item, take_turn};
use super::site::Site;
use crate::support::Shop;

const WAITING_PAGE: &str =
    "<!doctype html><title>Waiting room</title><h2 class=queue>Please wait</h2>";

/// Three sessions at once run out of a 15 s item timeout inside a step that would wait 60 s:
/// the journey stops itself in time and reports every run (its step and timings) and the
/// artifacts of the run it names.
#[test]
fn a_parallel_journey_out_of_time_stops_itself_with_every_run_and_its_artifacts() {
    let _turn = take_turn();
    let site = Site::serve(&[("wait.html", WAITING_PAGE)]);
    let sb = Sandbox::new();
    let run = sb.run(
        &format!(
            r##"[browser.stuck]
timeout = "15s"
repeat = 3
parallel = 3
steps = [
  {{ goto = "{}/wait.html" }},
  {{ wait_for = "#served", timeout = "60s" }},
]
"##,
            site.base
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        !run.all().contains("did not finish within its timeout"),
        "preflight should stop the journey itself: {}",
        run.all()
    );
    let it = item(&sb.json(), "browser.stuck");
    assert_eq!(it["outcome"], "failed", "{it}");
    let msg = it["message"].as_str().unwrap_or("");
    // Normally every run is waiting in step 2; on a loaded machine one may still be loading.
    let step = regex::Regex::new(r"step (1 goto|2 wait_for) `").expect("regex");
    assert!(step.is_match(msg), "{msg}");
    assert!(
        msg.contains("of the item's 15s timeout, leaving time to save artifacts"),
        "{msg}"
    );
    // Every run is reported with the step it was in and its timings.
    let runs = it["data"]["runs"].as_array().expect("runs").clone();
    assert_eq!(runs.len(), 3, "{it}");
    for r in &runs {
        assert_eq!(r["status"], "failed", "{r}");
        let steps = r["steps"].as_array().expect("steps");
        let last = steps
            .last()
            .unwrap_or_else(|| panic!("no step recorded: {r}"));
        assert_eq!(last["ok"], false, "{r}");
        assert!(last["ms"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
        assert!(
            r["error"].as_str().unwrap_or("").contains("stopped at"),
            "{r}"
        );
    }
    // The run the message names is the run whose artifacts were saved (the page at least: on
    // an overloaded machine the screenshot may not be ready within the time left for it).
    let named = regex::Regex::new(r"run (\d+) \(artifacts saved\): step (\d+)")
        .expect("regex")
        .captures(msg)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .unwrap_or_else(|| panic!("no named run in {msg}"));
    let files = artifacts(&it);
    let want = format!("run{}-step{}-page.html", named.0, named.1);
    assert!(
        files.iter().any(|a| a.ends_with(&want)),
        "no {want} in {files:?}"
    );
    sb.assert_nothing_left();
}

/// Ctrl-C while four sessions are still starting: the browsers being started are killed, and
/// neither their profiles nor Chromium's own temp dirs are left behind.
#[test]
fn ctrl_c_while_sessions_start_leaves_no_browser_or_temp_dir() {
    let _turn = take_turn();
    let site = Site::serve(&[("wait.html", WAITING_PAGE)]);
    let sb = Sandbox::new();
    let checklist = format!(
        r##"[browser.starting]
repeat = 4
parallel = 4
steps = [
  {{ goto = "{}/wait.html" }},
  {{ wait_for = "#served", timeout = "60s" }},
]
"##,
        site.base
    );
    sb.interrupt_when(&checklist, "a browser started", || sb.live_browsers() >= 1);
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
timeout = "8s"
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
        run.all()
            .contains("of the item's 8s timeout, leaving time to save artifacts"),
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
fn ctrl_c_mid_journey_closes_the_browser_and_deletes_its_profile() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let checklist = format!(
        r##"[browser.waiting]
repeat = 2
parallel = 2
steps = [
  {{ goto = "{}/" }},
  {{ wait_for = "#never-appears", timeout = "60s" }},
]
"##,
        shop.base
    );
    // Both sessions have loaded the home page (the shop counts it): both journeys are then
    // inside their `wait_for` step, with live browsers.
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
    sb.interrupt_when(&checklist, "both journeys in their second step", || {
        home_loads() >= 2 && sb.live_browsers() >= 2
    });
    sb.assert_nothing_left();
}
