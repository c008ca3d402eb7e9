//! Running a journey: `repeat` runs, at most `parallel` at once, each in a fresh session and
//! profile, all inside the item's timeout. The time is split so that a journey still running
//! at its end stops its steps early enough to save the failure's artifacts and close every
//! session before the timeout, however many sessions run at once.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use thirtyfour::WebDriver;

use super::driver::{self, LocalDriver, ProfileDir, Session};
use super::page::{StepCx, StepFailure, StepOutput, fmt_dur};
use super::report::{RunRecord, ms, summarize};
use super::step::{Action, RunVars};
use super::{BrowserItem, DEFAULT_GOTO_TIMEOUT, DEFAULT_STEP_TIMEOUT};
use crate::checks::{CheckContext, CheckOutput};
use crate::syntax::Dur;

/// Time allowed to open one browser session.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed to close one session before its browser is killed.
const QUIT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where sessions come from for this run.
pub enum Endpoint {
    Local(std::sync::Arc<LocalDriver>),
    Remote(String),
}

impl Endpoint {
    pub fn url(&self) -> &str {
        match self {
            Endpoint::Local(d) => &d.url,
            Endpoint::Remote(u) => u,
        }
    }
}

/// What every run of an attempt shares.
pub struct Shared<'a> {
    pub item: &'a BrowserItem,
    pub cx: &'a CheckContext,
    pub endpoint: Endpoint,
    pub started: Instant,
    /// When steps must have ended: the item's timeout less time to save artifacts and close.
    pub deadline: Instant,
    /// When saving artifacts must have ended: the item's timeout less time to close sessions.
    pub capture_by: Instant,
    /// The item's timeout itself.
    pub hard_deadline: Instant,
    pub step_timeout: Duration,
    /// The run that saved the failure's artifacts (the first to fail).
    pub captured: Mutex<Option<u32>>,
    pub artifacts: Mutex<Vec<PathBuf>>,
    pub warnings: Mutex<Vec<String>>,
}

impl Shared<'_> {
    fn warn(&self, w: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(w);
    }
}

/// Runs every run of the journey and sums them up.
pub async fn run_all(
    item: &BrowserItem,
    cx: &CheckContext,
    endpoint: Endpoint,
    started: Instant,
) -> CheckOutput {
    let hard_deadline = started + cx.timeout;
    // A quarter of the timeout (at most 3 s) for the failure's artifacts and closing, of which
    // a tenth of the timeout (at most 1 s) for closing.
    let deadline = hard_deadline - (cx.timeout / 4).min(Duration::from_secs(3));
    let capture_by = hard_deadline - (cx.timeout / 10).min(Duration::from_secs(1));
    let sh = Shared {
        item,
        cx,
        endpoint,
        started,
        deadline,
        capture_by,
        hard_deadline,
        step_timeout: item
            .step_timeout
            .map(Dur::get)
            .unwrap_or(DEFAULT_STEP_TIMEOUT),
        captured: Mutex::new(None),
        artifacts: Default::default(),
        warnings: Default::default(),
    };
    let parallel = item.parallel().max(1) as usize;
    let mut runs: Vec<RunRecord> = futures::stream::iter(1..=item.repeat())
        .map(|n| run_once(&sh, n))
        .buffer_unordered(parallel)
        .collect()
        .await;
    runs.sort_by_key(|r| r.run);
    summarize(&sh, runs, started.elapsed())
}

/// One run: a fresh session (and profile), the steps in order, artifacts if it is the first
/// failure, then the session is closed and the profile deleted.
async fn run_once(sh: &Shared<'_>, run: u32) -> RunRecord {
    let t0 = Instant::now();
    let vars = RunVars::new(run);
    let mut rec = RunRecord::new(run, &vars.unique);
    if Instant::now() >= sh.deadline {
        rec.status = "failed";
        rec.timed_out = true;
        rec.error = Some("not started: the item's timeout was too close".into());
        return rec;
    }
    // Declared before the session: dropped after it, so that the browser is killed (and its
    // profile deleted) only once the session has been closed or given up.
    let profile: Option<ProfileDir> = match &sh.endpoint {
        Endpoint::Local(d) => match d.new_profile() {
            Ok(p) => Some(p),
            Err(e) => {
                rec.status = "errored";
                rec.error = Some(format!("cannot create a browser profile directory: {e}"));
                return rec;
            }
        },
        Endpoint::Remote(_) => None,
    };
    let binary = match &sh.endpoint {
        Endpoint::Local(d) => Some(d.binaries.browser.clone()),
        Endpoint::Remote(_) => sh
            .item
            .settings
            .binary
            .as_ref()
            .map(|b| PathBuf::from(b.as_str())),
    };
    let caps = match driver::capabilities(
        &sh.item.settings,
        binary.as_deref(),
        profile.as_ref().map(|p| p.0.as_path()),
    ) {
        Ok(c) => c,
        Err(e) => {
            rec.status = "errored";
            rec.error = Some(e);
            return rec;
        }
    };
    let session_budget = SESSION_TIMEOUT.min(sh.deadline.saturating_duration_since(Instant::now()));
    let session = match driver::open_session(sh.endpoint.url(), caps, session_budget).await {
        Ok(d) => Session::new(d, matches!(sh.endpoint, Endpoint::Remote(_))),
        Err(e) => {
            rec.status = "errored";
            rec.error = Some(e);
            return rec;
        }
    };
    rec.session_ms = ms(t0.elapsed());
    // Page loads and scripts give up with the step, not after WebDriver's 5 minutes.
    let _ = session
        .wd
        .update_timeouts(thirtyfour::TimeoutConfiguration::new(
            Some(sh.step_timeout),
            Some(sh.step_timeout),
            Some(Duration::ZERO),
        ))
        .await;

    if let Some((index, f)) = run_steps(sh, &session.wd, &vars, &mut rec).await {
        rec.status = "failed";
        rec.timed_out = f.timed_out;
        rec.error = Some(format!(
            "step {} {}: {}",
            index + 1,
            rec.steps[index].described,
            f.message
        ));
        let first = {
            let mut captured = sh.captured.lock().unwrap_or_else(|e| e.into_inner());
            captured.is_none() && {
                *captured = Some(run);
                true
            }
        };
        if first {
            capture_failure(sh, &session.wd, run, index).await;
        }
    }
    // Close by the item's timeout; a session that does not answer is given up (and a local
    // browser killed with its profile just below).
    let budget = QUIT_TIMEOUT.min(
        sh.hard_deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(Duration::from_millis(100))
            .max(Duration::from_millis(50)),
    );
    if let Err(why) = session.close(budget).await {
        sh.warn(format!(
            "run {run}: closing the browser session failed: {why}"
        ));
    }
    drop(profile);
    rec.total_ms = ms(t0.elapsed());
    rec
}

/// Runs the steps; on the first that does not hold returns its index and why.
async fn run_steps(
    sh: &Shared<'_>,
    wd: &WebDriver,
    vars: &RunVars,
    rec: &mut RunRecord,
) -> Option<(usize, StepFailure)> {
    let windows = Mutex::new(Vec::new());
    if let Ok(first) = wd.window().await {
        windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(first);
    }
    let base_url = sh.item.settings.base_url.as_ref().map(|u| u.as_str());
    let last = sh.item.steps.len().saturating_sub(1);
    for (i, written) in sh.item.steps.iter().enumerate() {
        let step = match written.for_run(vars) {
            Ok(s) => s,
            Err(e) => {
                rec.push_step(sh, i, written, 0.0, false);
                return Some((i, StepFailure::new(e, false)));
            }
        };
        let budget_step = match (&step.action, step.timeout) {
            (_, Some(t)) => t,
            (Action::Goto(_), None) => sh.step_timeout.max(DEFAULT_GOTO_TIMEOUT),
            (_, None) => sh.step_timeout,
        };
        let now = Instant::now();
        let budget = budget_step.min(sh.deadline.saturating_duration_since(now));
        let cx = StepCx {
            driver: wd,
            deadline: now + budget,
            budget,
            files_dir: &sh.cx.settings.checklist_dir,
            base_url,
            windows: &windows,
        };
        // A hard stop after the step's own deadline, for a driver call that hangs: late enough
        // that a slow (loaded) browser still reports what it saw, early enough to leave the
        // item's time for artifacts.
        let hard = (cx.deadline + Duration::from_secs(5))
            .min(sh.deadline + (sh.capture_by - sh.deadline) / 2)
            .max(cx.deadline + Duration::from_millis(200));
        let mut result = match tokio::time::timeout_at(
            hard.into(),
            super::actions::run_step(&cx, &step),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(StepFailure::new(
                format!(
                    "the browser did not answer within {}",
                    fmt_dur(now.elapsed())
                ),
                true,
            )),
        };
        // The journey's last step may not leave a dialog nobody looked at.
        if i == last
            && result.is_ok()
            && let Ok(text) = wd.get_alert_text().await
        {
            result = Err(StepFailure::new(
                format!(
                    "it left a dialog open: {}",
                    super::page::unexpected_dialog(&text)
                ),
                false,
            ));
        }
        if let Err(f) = &mut result
            && budget < budget_step
            && f.timed_out
        {
            f.message = format!(
                "{} (stopped at {} of the item's {} timeout, leaving time to save artifacts and close the browser)",
                f.message,
                fmt_dur(Instant::now().duration_since(sh.started)),
                fmt_dur(sh.cx.timeout)
            );
        }
        rec.push_step(sh, i, &step, ms(now.elapsed()), result.is_ok());
        match result {
            Ok(StepOutput::Screenshot(png)) => {
                // Screenshot steps keep the first run's picture (a repeat would write N copies).
                if rec.run == 1
                    && let Action::Screenshot(name) = &step.action
                {
                    save(sh, &format!("{name}.png"), &png);
                }
            }
            Ok(StepOutput::None) => {}
            Err(f) => return Some((i, f)),
        }
    }
    None
}

/// Screenshot (the whole page, where the browser can), page HTML and the browser console log
/// of a failed run, taken at once and all done by `capture_by`.
async fn capture_failure(sh: &Shared<'_>, wd: &WebDriver, run: u32, index: usize) {
    let prefix = format!("run{run}-step{}", index + 1);
    let started = Instant::now();
    let until = sh.capture_by.max(started + Duration::from_millis(200));
    // A dialog left open blocks every capture: note its text, then dismiss it.
    if let Ok(Ok(text)) = tokio::time::timeout_at(until.into(), wd.get_alert_text()).await {
        save(sh, &format!("{prefix}-dialog.txt"), text.as_bytes());
        let _ = tokio::time::timeout_at(until.into(), wd.dismiss_alert()).await;
    }
    let shot = tokio::time::timeout_at(until.into(), screenshot(wd));
    let html = tokio::time::timeout_at(until.into(), wd.source());
    // Not every driver keeps a console log (geckodriver, some grids): then there is none.
    let log = tokio::time::timeout_at(until.into(), wd.browser_log());
    let (shot, html, log) = futures::join!(shot, html, log);
    // A failure without its screenshot or page says so: a reader must not take the missing
    // file for a missing link.
    let late = || {
        format!(
            "the browser did not answer within {}",
            fmt_dur(until.saturating_duration_since(started))
        )
    };
    match shot {
        Ok(Ok(png)) => save(sh, &format!("{prefix}-screenshot.png"), &png),
        Ok(Err(e)) => sh.warn(format!("no screenshot of the failed run {run}: {e}")),
        Err(_) => sh.warn(format!("no screenshot of the failed run {run}: {}", late())),
    }
    match html {
        Ok(Ok(html)) => save(sh, &format!("{prefix}-page.html"), html.as_bytes()),
        Ok(Err(e)) => sh.warn(format!(
            "no page HTML of the failed run {run}: {}",
            driver::error_line(&e)
        )),
        Err(_) => sh.warn(format!("no page HTML of the failed run {run}: {}", late())),
    }
    if let Ok(Ok(entries)) = log {
        let mut text = String::new();
        for e in &entries {
            let _ = writeln!(text, "{} {} {}", e.timestamp, e.level, e.message);
        }
        if text.is_empty() {
            text.push_str("(the browser console was empty)\n");
        }
        save(sh, &format!("{prefix}-console.log"), text.as_bytes());
    }
}

/// Tallest page a full-page screenshot covers; beyond it the picture is cut (Chromium's own
/// limit for one capture is 16384 px).
const FULL_PAGE_MAX: f64 = 16_384.0;

/// The whole page through the DevTools protocol where the browser is Chromium (Puppeteer's
/// `fullPage`), else the viewport through WebDriver.
async fn screenshot(wd: &WebDriver) -> Result<Vec<u8>, String> {
    let cdp = wd.cdp();
    if let Ok(metrics) = cdp.send_raw("Page.getLayoutMetrics", ()).await {
        let size = metrics
            .get("cssContentSize")
            .or_else(|| metrics.get("contentSize"));
        let dim = |k: &str| size.and_then(|s| s.get(k)).and_then(|v| v.as_f64());
        if let (Some(w), Some(h)) = (dim("width"), dim("height")) {
            let params = serde_json::json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {
                    "x": 0, "y": 0,
                    "width": w.clamp(1.0, FULL_PAGE_MAX).ceil(),
                    "height": h.clamp(1.0, FULL_PAGE_MAX).ceil(),
                    "scale": 1
                },
            });
            if let Ok(shot) = cdp.send_raw("Page.captureScreenshot", params).await
                && let Some(data) = shot.get("data").and_then(|d| d.as_str())
                && let Ok(png) = thirtyfour::support::base64_decode(data)
            {
                return Ok(png);
            }
        }
    }
    wd.screenshot_as_png()
        .await
        .map_err(|e| driver::error_line(&e))
}

fn save(sh: &Shared<'_>, name: &str, bytes: &[u8]) {
    match sh.cx.write_artifact(name, bytes) {
        Ok(p) => sh
            .artifacts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(p),
        Err(e) => sh.warn(format!("cannot write artifact `{name}`: {e}")),
    }
}
