//! `[browser.NAME]`: a user journey in a real browser over WebDriver; fails when any run of it
//! cannot be completed. `[browser]` itself also holds the run's browser settings.

pub mod driver;
pub mod steps;

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use thirtyfour::WebDriver;
use toml::Spanned;

use super::{Check, CheckContext, CheckOutput};
use crate::syntax::{Dur, Template};
use driver::{LocalDriver, ProfileDir};
use steps::{Step, StepFailure, StepOutput};

/// The settings keys of `[browser]`; every other key is an item.
pub const SETTINGS_KEYS: &[&str] = &[
    "webdriver_url",
    "headed",
    "window_size",
    "browser",
    "binary",
    "driver",
];

/// Default time one step may take to hold (element lookups and expectations poll up to it).
const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a `goto` may take to load its page (a cold browser under load is slow).
const DEFAULT_GOTO_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed to open one browser session.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed to close one session before its browser is killed.
const QUIT_TIMEOUT: Duration = Duration::from_secs(3);

/// Run-wide browser settings (`[browser]`; `--webdriver-url` overrides `webdriver_url`).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowserSettings {
    /// A remote WebDriver (Selenium Grid, a cloud grid); else a local driver is started.
    #[serde(default)]
    pub webdriver_url: Option<Template>,
    /// Show the browser window (local debugging); default headless.
    #[serde(default)]
    pub headed: bool,
    /// `WIDTHxHEIGHT`, default `1280x800`.
    #[serde(default)]
    pub window_size: Option<WindowSize>,
    /// `chromium` / `chrome` (the default).
    #[serde(default)]
    #[schemars(extend("enum" = ["chromium", "chrome"]))]
    pub browser: Option<String>,
    /// The browser executable (default: `chromium`/`google-chrome` on PATH).
    #[serde(default)]
    pub binary: Option<Template>,
    /// The driver executable (default: `chromedriver` on PATH).
    #[serde(default)]
    pub driver: Option<Template>,
}

impl BrowserSettings {
    pub fn window_size(&self) -> (u32, u32) {
        self.window_size
            .as_ref()
            .map(|w| (w.0, w.1))
            .unwrap_or((1280, 800))
    }
}

/// `1280x800`.
#[derive(Debug, Clone, Copy)]
pub struct WindowSize(pub u32, pub u32);

crate::string_schema!(
    WindowSize,
    "WindowSize",
    "WIDTHxHEIGHT, like `1280x800`",
    "pattern": r"^\s*[0-9]+\s*[xX,]\s*[0-9]+\s*$"
);

impl<'de> Deserialize<'de> for WindowSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let parsed = s
            .split_once(['x', 'X', ','])
            .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
            .filter(|(w, h)| (100..=10_000).contains(w) && (100..=10_000).contains(h));
        parsed.map(|(w, h)| WindowSize(w, h)).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid window_size `{s}`: expected WIDTHxHEIGHT like `1280x800`"
            ))
        })
    }
}

/// The `[browser]` table: settings keys go to [`BrowserSettings`], every other key is a
/// `[browser.NAME]` item. Deserialized inside the TOML map visitor so that errors keep spans.
#[derive(Debug, Default)]
pub struct BrowserSection {
    pub settings: Arc<BrowserSettings>,
    pub items: IndexMap<Spanned<String>, BrowserItem>,
}

impl<'de> Deserialize<'de> for BrowserSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BrowserSection;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of browser settings and `[browser.NAME]` journeys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BrowserSection, A::Error> {
                let mut settings = BrowserSettings::default();
                let mut items = IndexMap::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let name = key.get_ref().as_str();
                    match name {
                        "webdriver_url" => settings.webdriver_url = Some(map.next_value()?),
                        "headed" => settings.headed = map.next_value()?,
                        "window_size" => settings.window_size = Some(map.next_value()?),
                        "browser" => {
                            let b: String = map.next_value()?;
                            if !matches!(b.as_str(), "chrome" | "chromium") {
                                return Err(de::Error::custom(format!(
                                    "unsupported browser `{b}`: use `chromium` or `chrome` (or a `webdriver_url` that provides another)"
                                )));
                            }
                            settings.browser = Some(b);
                        }
                        "binary" => settings.binary = Some(map.next_value()?),
                        "driver" => settings.driver = Some(map.next_value()?),
                        _ => {
                            let item = map.next_value_seed(ItemSeed {
                                key: name.to_string(),
                            })?;
                            items.insert(key, item);
                        }
                    }
                }
                let settings = Arc::new(settings);
                for item in items.values_mut() {
                    item.settings = settings.clone();
                }
                Ok(BrowserSection { settings, items })
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads one `[browser.NAME]` table; a non-table value under `[browser]` is a misspelt setting.
struct ItemSeed {
    key: String,
}

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = BrowserItem;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<BrowserItem, D::Error> {
        struct V(String);
        impl V {
            fn not_a_setting<E: de::Error>(&self) -> E {
                let hint = crate::suggest::closest(&self.0, SETTINGS_KEYS.iter().copied())
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                E::custom(format!(
                    "unknown browser setting `{}`: {hint}settings are {}; a journey is a table `[browser.{}]`",
                    self.0,
                    SETTINGS_KEYS
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.0
                ))
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = BrowserItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a `[browser.NAME]` table")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BrowserItem, A::Error> {
                BrowserItem::deserialize(de::value::MapAccessDeserializer::new(map))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<BrowserItem, E> {
                Err(self.not_a_setting())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<BrowserItem, E> {
                Err(self.not_a_setting())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<BrowserItem, E> {
                Err(self.not_a_setting())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<BrowserItem, E> {
                Err(self.not_a_setting())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<BrowserItem, A::Error> {
                Err(self.not_a_setting())
            }
        }
        d.deserialize_any(V(self.key))
    }
}

crate::item_config! {
    /// A journey through the app in a real browser.
    pub struct BrowserItem {
        pub steps: Vec<Step>,
        /// Run the journey this many times (each in a fresh session); default 1.
        #[serde(default)]
        #[schemars(with = "Option<u32>")]
        pub repeat: Option<Spanned<u32>>,
        /// At most this many sessions of this journey at once; default 1.
        #[serde(default)]
        #[schemars(with = "Option<u32>")]
        pub parallel: Option<Spanned<u32>>,
        /// Time one step may take; default 10s.
        #[serde(default)]
        pub step_timeout: Option<Dur>,
        #[serde(skip)]
        pub settings: Arc<BrowserSettings>,
    }
}

impl BrowserItem {
    fn repeat(&self) -> u32 {
        self.repeat.as_ref().map(|r| *r.get_ref()).unwrap_or(1)
    }
    fn parallel(&self) -> u32 {
        self.parallel
            .as_ref()
            .map(|p| *p.get_ref())
            .unwrap_or(1)
            .min(self.repeat())
    }
}

/// Where sessions come from for this run.
enum Endpoint {
    Local(Arc<LocalDriver>),
    Remote(String),
}

impl Endpoint {
    fn url(&self) -> &str {
        match self {
            Endpoint::Local(d) => &d.url,
            Endpoint::Remote(u) => u,
        }
    }
}

/// One timed step of one run.
#[derive(Debug, Clone, serde::Serialize)]
struct StepRecord {
    step: usize,
    action: &'static str,
    target: String,
    ms: f64,
    ok: bool,
}

/// One run of the journey.
#[derive(Debug, Clone, serde::Serialize)]
struct RunRecord {
    run: u32,
    /// "passed", "failed" or "errored" (no session).
    status: &'static str,
    session_ms: f64,
    total_ms: f64,
    steps: Vec<StepRecord>,
    error: Option<String>,
    #[serde(skip)]
    timed_out: bool,
}

/// What every run of an attempt shares.
struct Shared<'a> {
    item: &'a BrowserItem,
    cx: &'a CheckContext,
    endpoint: Endpoint,
    /// When steps must have ended: the item's timeout less time to save artifacts and close.
    deadline: Instant,
    /// The item's timeout itself.
    hard_deadline: Instant,
    step_timeout: Duration,
    /// Set by the first run that fails and saves its artifacts.
    captured: AtomicBool,
    artifacts: std::sync::Mutex<Vec<std::path::PathBuf>>,
    warnings: std::sync::Mutex<Vec<String>>,
}

impl Check for BrowserItem {
    fn default_timeout(&self) -> Option<Duration> {
        // A journey run costs a session (~1 s) and its steps; leave room for slow CI machines.
        let rounds = self.repeat().div_ceil(self.parallel().max(1));
        Some(Duration::from_secs(60).max(Duration::from_secs(30) * rounds))
    }

    fn validate(&self, _cx: &super::ValidateContext<'_>) -> Result<(), crate::syntax::ItemError> {
        use crate::syntax::ItemErrorKind::Invalid;
        if self.steps.is_empty() {
            return Err((
                Invalid {
                    message: "a browser journey needs at least one step in `steps`".into(),
                },
                None,
            ));
        }
        for (key, v) in [("repeat", &self.repeat), ("parallel", &self.parallel)] {
            if let Some(v) = v
                && (*v.get_ref() == 0 || *v.get_ref() > 1000)
            {
                return Err((
                    Invalid {
                        message: format!("`{key}` must be between 1 and 1000"),
                    },
                    Some(v.span()),
                ));
            }
        }
        Ok(())
    }

    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move {
            let started = Instant::now();
            let hard_deadline = started + cx.timeout;
            let deadline = hard_deadline - (cx.timeout / 4).min(Duration::from_secs(3));
            let remote = cx
                .settings
                .webdriver_url
                .clone()
                .or_else(|| self.settings.webdriver_url.as_ref().map(|u| u.to_string()));
            let endpoint = match remote {
                Some(url) => Endpoint::Remote(url.trim_end_matches('/').to_string()),
                None => {
                    let settings = self.settings.clone();
                    let init = async move { LocalDriver::start(&settings).await };
                    match cx
                        .resources
                        .get_or_try_init::<LocalDriver, String, _>(init)
                        .await
                    {
                        Ok(d) => Endpoint::Local(d),
                        Err(e) => return CheckOutput::errored(e),
                    }
                }
            };
            let shared = Shared {
                item: self,
                cx,
                endpoint,
                deadline,
                hard_deadline,
                step_timeout: self
                    .step_timeout
                    .map(Dur::get)
                    .unwrap_or(DEFAULT_STEP_TIMEOUT),
                captured: AtomicBool::new(false),
                artifacts: Default::default(),
                warnings: Default::default(),
            };
            let repeat = self.repeat();
            let parallel = self.parallel().max(1) as usize;
            let mut runs: Vec<RunRecord> = futures::stream::iter(1..=repeat)
                .map(|n| run_once(&shared, n))
                .buffer_unordered(parallel)
                .collect()
                .await;
            runs.sort_by_key(|r| r.run);
            summarize(&shared, runs, started.elapsed())
        })
    }
}

/// One run: a fresh session (and profile), the steps in order, artifacts if it is the first
/// failure, then the session is closed and the profile deleted.
async fn run_once(sh: &Shared<'_>, run: u32) -> RunRecord {
    let t0 = Instant::now();
    let mut rec = RunRecord {
        run,
        status: "passed",
        session_ms: 0.0,
        total_ms: 0.0,
        steps: Vec::new(),
        error: None,
        timed_out: false,
    };
    if Instant::now() >= sh.deadline {
        rec.status = "failed";
        rec.timed_out = true;
        rec.error = Some("not started: the item's timeout had passed".into());
        return rec;
    }
    // Field order matters on an abnormal drop: the session is deleted before its profile.
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
            .map(|b| std::path::PathBuf::from(b.as_str())),
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
    let wd = match driver::open_session(sh.endpoint.url(), caps, session_budget).await {
        Ok(d) => d,
        Err(e) => {
            rec.status = "errored";
            rec.error = Some(e);
            return rec;
        }
    };
    rec.session_ms = ms(t0.elapsed());
    // Page loads and scripts give up with the step, not after WebDriver's 5 minutes.
    let _ = wd
        .update_timeouts(thirtyfour::TimeoutConfiguration::new(
            Some(sh.step_timeout),
            Some(sh.step_timeout),
            Some(Duration::ZERO),
        ))
        .await;

    let failure = run_steps(sh, &wd, &mut rec).await;
    if let Some((index, f)) = failure {
        rec.status = "failed";
        rec.timed_out = f.timed_out;
        let step = &sh.item.steps[index];
        rec.error = Some(format!(
            "step {} {}: {}",
            index + 1,
            step.action.describe(),
            f.message
        ));
        if !sh.captured.swap(true, Ordering::SeqCst) {
            capture_failure(sh, &wd, run, index).await;
        }
    }
    let quit_budget = QUIT_TIMEOUT.min(
        sh.hard_deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(800),
    );
    let problem = match tokio::time::timeout(quit_budget, wd.clone().quit()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(driver::one_line(&e.to_string())),
        Err(_) => Some(format!(
            "no answer within {}",
            humantime::format_duration(quit_budget)
        )),
    };
    if let Some(why) = problem {
        // Do not let the session's drop block on a driver that does not answer: a local
        // browser is killed with its profile below; a remote grid expires the session itself.
        let _ = wd.leak();
        sh.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!(
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
    rec: &mut RunRecord,
) -> Option<(usize, StepFailure)> {
    for (i, step) in sh.item.steps.iter().enumerate() {
        let budget_step = match (&step.action, step.timeout) {
            (_, Some(t)) => t,
            (steps::Action::Goto(_), None) => sh.step_timeout.max(DEFAULT_GOTO_TIMEOUT),
            (_, None) => sh.step_timeout,
        };
        let now = Instant::now();
        let item_left = sh.deadline.saturating_duration_since(now);
        let budget = budget_step.min(item_left);
        let step_deadline = now + budget;
        let t = Instant::now();
        // A hard stop slightly after the step's own deadline, for a driver call that hangs.
        let hard = step_deadline + Duration::from_millis(500);
        let result = match tokio::time::timeout_at(
            hard.into(),
            steps::run_step(wd, step, step_deadline, budget),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(StepFailure {
                message: format!(
                    "the browser did not answer within {}",
                    humantime::format_duration(budget)
                ),
                timed_out: true,
            }),
        };
        let result = result.map_err(|mut f| {
            if budget < budget_step && f.timed_out {
                f.message = format!(
                    "{} (the item's timeout of {} ran out)",
                    f.message,
                    humantime::format_duration(sh.cx.timeout)
                );
            }
            f
        });
        rec.steps.push(StepRecord {
            step: i + 1,
            action: step.action.name(),
            target: sh.cx.redactor.redact(&step.action.target()).into_owned(),
            ms: ms(t.elapsed()),
            ok: result.is_ok(),
        });
        match result {
            Ok(StepOutput::Screenshot(png)) => {
                // Screenshot steps keep the first run's picture (a repeat would write N copies).
                if rec.run == 1
                    && let steps::Action::Screenshot(name) = &step.action
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

/// Screenshot, page HTML and the browser console log of a failed run.
async fn capture_failure(sh: &Shared<'_>, wd: &WebDriver, run: u32, index: usize) {
    let prefix = format!("run{run}-step{}", index + 1);
    // Each capture is bounded: a stuck page must not eat the time needed to close the session.
    let within = || {
        Duration::from_secs(2).min(
            sh.hard_deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(200)),
        )
    };
    // A failure without its screenshot says so: a reader must not take the missing file for
    // a missing link.
    let limit = within();
    match tokio::time::timeout(limit, wd.screenshot_as_png()).await {
        Ok(Ok(png)) => save(sh, &format!("{prefix}-screenshot.png"), &png),
        Ok(Err(e)) => not_captured(sh, run, "screenshot", &e.to_string()),
        Err(_) => not_captured(sh, run, "screenshot", &no_answer(limit)),
    }
    let limit = within();
    match tokio::time::timeout(limit, wd.source()).await {
        Ok(Ok(html)) => save(sh, &format!("{prefix}-page.html"), html.as_bytes()),
        Ok(Err(e)) => not_captured(sh, run, "page HTML", &e.to_string()),
        Err(_) => not_captured(sh, run, "page HTML", &no_answer(limit)),
    }
    // Not every driver keeps a console log (geckodriver, some grids): then there is none.
    if let Ok(Ok(entries)) = tokio::time::timeout(within(), wd.browser_log()).await {
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

fn no_answer(limit: Duration) -> String {
    format!(
        "the browser did not answer within {:.1}s",
        limit.as_secs_f64()
    )
}

/// A warning (shown with the item's details in every report) for an artifact not captured.
fn not_captured(sh: &Shared<'_>, run: u32, what: &str, why: &str) {
    let why = why.lines().next().unwrap_or("").trim();
    sh.warnings
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("no {what} of the failed run {run}: {why}"));
}

fn save(sh: &Shared<'_>, name: &str, bytes: &[u8]) {
    match sh.cx.write_artifact(name, bytes) {
        Ok(p) => sh
            .artifacts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(p),
        Err(e) => sh
            .warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("cannot write artifact `{name}`: {e}")),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// The item's verdict from all its runs.
fn summarize(sh: &Shared<'_>, runs: Vec<RunRecord>, elapsed: Duration) -> CheckOutput {
    let total = runs.len();
    let failed: Vec<&RunRecord> = runs.iter().filter(|r| r.status == "failed").collect();
    let errored: Vec<&RunRecord> = runs.iter().filter(|r| r.status == "errored").collect();
    let passed = total - failed.len() - errored.len();
    let steps = sh.item.steps.len();
    let where_ = match &sh.endpoint {
        Endpoint::Local(d) => format!("local {}", d.binaries.browser.display()),
        Endpoint::Remote(u) => format!("WebDriver at {u}"),
    };

    let mut details = String::new();
    let _ = writeln!(
        details,
        "{steps} steps, {total} run(s), at most {} at once, on {where_}",
        sh.item.parallel()
    );
    // The timings of the first failed run, else of the first run.
    let shown = failed.first().copied().or_else(|| runs.first());
    if let Some(r) = shown {
        let _ = writeln!(
            details,
            "\nrun {} ({}): session {:.0} ms",
            r.run, r.status, r.session_ms
        );
        for s in &r.steps {
            let mark = if s.ok { "ok  " } else { "FAIL" };
            let _ = writeln!(
                details,
                "  {mark} {:>2}. {:<14} {:<40} {:>8.1} ms",
                s.step, s.action, s.target, s.ms
            );
        }
        for s in (r.steps.len()..steps).map(|i| i + 1) {
            let _ = writeln!(details, "  --   {s:>2}. (not run)");
        }
    }
    let bad: Vec<&RunRecord> = runs.iter().filter(|r| r.status != "passed").collect();
    if total > 1 && !bad.is_empty() {
        let _ = writeln!(details, "\nruns that did not pass:");
        for r in bad.iter().take(20) {
            let _ = writeln!(
                details,
                "  run {}: {}",
                r.run,
                r.error.as_deref().unwrap_or("")
            );
        }
        if bad.len() > 20 {
            let _ = writeln!(details, "  ... and {} more", bad.len() - 20);
        }
    }
    let run_ms: Vec<f64> = runs
        .iter()
        .filter(|r| r.status == "passed")
        .map(|r| r.total_ms)
        .collect();
    let median = median(&run_ms);
    let session_ms = median_of(
        runs.iter()
            .filter(|r| r.status != "errored")
            .map(|r| r.session_ms),
    );

    let data = serde_json::json!({
        "runs_total": total,
        "runs_failed": failed.len(),
        "runs_errored": errored.len(),
        "parallel": sh.item.parallel(),
        "endpoint": sh.endpoint.url(),
        "wall_ms": ms(elapsed),
        "median_run_ms": median,
        "median_session_ms": session_ms,
        "runs": runs,
    });
    let mut artifacts =
        std::mem::take(&mut *sh.artifacts.lock().unwrap_or_else(|e| e.into_inner()));
    artifacts.sort();
    let warnings = std::mem::take(&mut *sh.warnings.lock().unwrap_or_else(|e| e.into_inner()));

    let out = if let Some(first) = failed
        .first()
        .or(errored.first())
        .filter(|_| passed < total)
    {
        let first_err = first.error.clone().unwrap_or_default();
        let status_failed = !failed.is_empty();
        let msg = if total == 1 {
            first_err
        } else {
            let n_bad = failed.len() + errored.len();
            format!(
                "{n_bad} of {total} runs failed; first (run {}): {first_err}",
                first.run
            )
        };
        if status_failed {
            CheckOutput::failed(msg)
        } else {
            CheckOutput::errored(msg)
        }
    } else {
        let m = median
            .map(|m| format!(", median {:.1}s per run", m / 1000.0))
            .unwrap_or_default();
        if total == 1 {
            CheckOutput::passed(format!(
                "journey passed: {steps} steps in {:.1}s",
                elapsed.as_secs_f64()
            ))
        } else {
            CheckOutput::passed(format!(
                "journey passed {total}/{total} runs ({steps} steps{m})"
            ))
        }
    };
    let mut out = out
        .with_details(details)
        .with_property("runs", total)
        .with_property("runs_failed", failed.len() + errored.len())
        .with_data(data);
    if let Some(s) = session_ms {
        out = out.with_property("median_session_ms", format!("{s:.0}"));
    }
    out.artifacts = artifacts;
    out.warnings = warnings;
    out
}

fn median(v: &[f64]) -> Option<f64> {
    median_of(v.iter().copied())
}

fn median_of(v: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = v.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> Result<BrowserSection, String> {
        #[derive(Deserialize)]
        struct W {
            browser: BrowserSection,
        }
        toml::from_str::<W>(text)
            .map(|w| w.browser)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn routes_settings_and_items() {
        let s = section(
            r#"
[browser]
headed = true
window_size = "800x600"
[browser.a]
steps = [{ goto = "http://127.0.0.1:1/" }]
repeat = 3
[browser.b]
steps = [{ click = "text=Go" }]
"#,
        )
        .unwrap();
        assert!(s.settings.headed);
        assert_eq!(s.settings.window_size(), (800, 600));
        assert_eq!(s.items.len(), 2);
        assert!(s.items.values().all(|i| i.settings.headed));
    }

    #[test]
    fn a_misspelt_setting_says_so_with_its_place() {
        let err = section("[browser]\nheadles = true\n").unwrap_err();
        assert!(err.contains("unknown browser setting `headles`"), "{err}");
        assert!(err.contains("did you mean `headed`"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = section("[browser.a]\nsteps = [{ clik = \"x\" }]\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        let err = section("[browser]\nwindow_size = \"big\"\n").unwrap_err();
        assert!(err.contains("WIDTHxHEIGHT"), "{err}");
    }
}
