//! What every running step shares: its context (session, deadline), how it fails, how it polls,
//! how it finds elements, and how it reads driver errors that end a step at once (a dialog
//! nobody handles, a window that closed).
//!
//! Every step that looks at the page polls until its condition holds or its timeout passes
//! (never a fixed sleep), so a journey waits for a slow page instead of failing at random.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use thirtyfour::error::WebDriverErrorInner;
use thirtyfour::prelude::*;

use super::driver::error_line;
use super::step::Selector;

/// One step's view of its run.
pub struct StepCx<'a> {
    pub driver: &'a WebDriver,
    /// When the step must have held (its own timeout or the item's, whichever is first).
    pub deadline: Instant,
    /// The time the step was given, for messages.
    pub budget: Duration,
    /// Where relative upload paths are found: the checklist's directory.
    pub files_dir: &'a Path,
    /// `[browser] base_url`, for relative `goto`s.
    pub base_url: Option<&'a str>,
    /// Window handles in the order the run first saw them (window 1 is where it started).
    pub windows: &'a Mutex<Vec<WindowHandle>>,
}

/// Why a step did not hold.
#[derive(Debug, Clone)]
pub struct StepFailure {
    /// What was expected and what the page had, in one line.
    pub message: String,
    /// The step ran out of time (rather than seeing something definitely wrong).
    pub timed_out: bool,
}

impl StepFailure {
    pub fn new(message: impl Into<String>, timed_out: bool) -> Self {
        StepFailure {
            message: message.into(),
            timed_out,
        }
    }
}

/// A step's outcome that is worth saving (a screenshot taken by a `screenshot` step).
pub enum StepOutput {
    None,
    Screenshot(Vec<u8>),
}

pub type StepResult = Result<StepOutput, StepFailure>;

/// Poll pauses: quick at first (most pages are ready in a few ms), then every 100 ms.
pub struct Backoff(Duration);

impl Backoff {
    pub fn new() -> Self {
        Backoff(Duration::from_millis(10))
    }
    pub async fn wait(&mut self, deadline: Instant) {
        let now = Instant::now();
        let pause = self.0.min(deadline.saturating_duration_since(now));
        tokio::time::sleep(pause).await;
        self.0 = (self.0 * 2).min(Duration::from_millis(100));
    }
}

/// `7.7s`, `2s`, `250ms`: a duration as people write it.
pub fn fmt_dur(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    match ms {
        0..1000 => format!("{ms}ms"),
        _ if ms.is_multiple_of(1000) || ms >= 60_000 => {
            humantime::format_duration(Duration::from_secs(ms.div_ceil(1000))).to_string()
        }
        _ => format!("{:.1}s", ms as f64 / 1000.0),
    }
}

/// `s` on one line, at most 200 characters.
pub fn excerpt(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= 200 {
        return one;
    }
    format!("{}…", one.chars().take(200).collect::<String>())
}

/// A driver error that ends the step at once, whatever the step was waiting for: an open
/// dialog no step handled, a window that closed under the journey, a session that is gone.
pub async fn fatal(driver: &WebDriver, e: &WebDriverError) -> Option<StepFailure> {
    let message = match e.as_inner() {
        WebDriverErrorInner::UnexpectedAlertOpen(info) => {
            let text = match driver.get_alert_text().await {
                Ok(t) => t,
                Err(_) => info
                    .value
                    .data
                    .as_ref()
                    .and_then(|d| d.get("text"))
                    .and_then(|t| t.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| info.value.message.clone()),
            };
            unexpected_dialog(&text)
        }
        WebDriverErrorInner::NoSuchWindow(_) => {
            "the window the journey was in has closed: switch to another with `{ switch_to_window = 1 }`".to_string()
        }
        WebDriverErrorInner::InvalidSessionId(_) => {
            "the browser session has ended (the browser closed or crashed)".to_string()
        }
        _ => return None,
    };
    Some(StepFailure::new(message, false))
}

pub fn unexpected_dialog(text: &str) -> String {
    format!(
        "an unexpected dialog is open: `{}` (add an `accept_dialog` or `dismiss_dialog` step after the step that opens it)",
        excerpt(text)
    )
}

/// A failed driver call as a step failure.
pub async fn driver_failure(driver: &WebDriver, e: WebDriverError) -> StepFailure {
    match fatal(driver, &e).await {
        Some(f) => f,
        None => StepFailure::new(error_line(&e), false),
    }
}

/// The first displayed element `sel` matches, polling until the step's deadline.
pub async fn find_displayed(cx: &StepCx<'_>, sel: &Selector) -> Result<WebElement, StepFailure> {
    find(cx, sel, true).await.map(|(el, _)| el)
}

/// The first displayed element `sel` matches, else the first in the page (visible or not:
/// file inputs, hidden checkboxes behind their labels, frames), polling until the deadline.
pub async fn find_present(cx: &StepCx<'_>, sel: &Selector) -> Result<WebElement, StepFailure> {
    find(cx, sel, false).await.map(|(el, _)| el)
}

/// [`find_present`], and whether the element is displayed.
pub async fn find_any(cx: &StepCx<'_>, sel: &Selector) -> Result<(WebElement, bool), StepFailure> {
    find(cx, sel, false).await
}

async fn find(
    cx: &StepCx<'_>,
    sel: &Selector,
    displayed: bool,
) -> Result<(WebElement, bool), StepFailure> {
    let by = sel.by();
    let mut backoff = Backoff::new();
    let mut seen_hidden = 0usize;
    let mut last_err: Option<String> = None;
    loop {
        match cx.driver.find_all(by.clone()).await {
            Ok(found) => {
                seen_hidden = 0;
                let first = found.first().cloned();
                for el in found {
                    match el.is_displayed().await {
                        Ok(true) => return Ok((el, true)),
                        Ok(false) => seen_hidden += 1,
                        Err(e) => {
                            if let Some(f) = fatal(cx.driver, &e).await {
                                return Err(f);
                            }
                        }
                    }
                }
                if let Some(el) = first.filter(|_| !displayed) {
                    return Ok((el, false));
                }
            }
            Err(e) => {
                if let Some(f) = fatal(cx.driver, &e).await {
                    return Err(f);
                }
                last_err = Some(error_line(&e));
            }
        }
        if Instant::now() >= cx.deadline {
            let within = fmt_dur(cx.budget);
            let why = if let Some(e) = last_err.filter(|_| seen_hidden == 0) {
                format!("no element matches `{sel}` within {within} ({e})")
            } else if seen_hidden > 0 {
                format!(
                    "`{sel}` matches {seen_hidden} element(s) but none became visible within {within}"
                )
            } else {
                format!("no element matches `{sel}` within {within}")
            };
            return Err(StepFailure::new(why, true));
        }
        backoff.wait(cx.deadline).await;
    }
}

/// Runs `script` with `el` as `arguments[0]`, returning its JSON result.
pub async fn script(
    cx: &StepCx<'_>,
    script: &str,
    el: &WebElement,
) -> Result<serde_json::Value, StepFailure> {
    let arg = el
        .to_json()
        .map_err(|e| StepFailure::new(error_line(&e), false))?;
    match cx.driver.execute(script, vec![arg]).await {
        Ok(r) => Ok(r.json().clone()),
        Err(e) => Err(driver_failure(cx.driver, e).await),
    }
}

/// What an element is (`<div>`, `<input type=email>`, for messages) and its current value
/// (empty for elements without one), in one call.
pub async fn describe_element(cx: &StepCx<'_>, el: &WebElement) -> (String, String) {
    let got = script(
        cx,
        "const e = arguments[0]; return [e.tagName.toLowerCase(), e.getAttribute('type') || '', typeof e.value === 'string' ? e.value : ''];",
        el,
    )
    .await
    .unwrap_or_default();
    let tag = got[0].as_str().unwrap_or("?");
    let what = match got[1].as_str().unwrap_or("") {
        "" => format!("<{tag}>"),
        t => format!("<{tag} type={t}>"),
    };
    (what, got[2].as_str().unwrap_or("").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        let f = |ms| fmt_dur(Duration::from_millis(ms));
        assert_eq!(f(250), "250ms");
        assert_eq!(f(2000), "2s");
        assert_eq!(f(7688), "7.7s");
        assert_eq!(f(90_500), "1m 31s");
    }
}
