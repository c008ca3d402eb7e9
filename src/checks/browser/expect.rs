//! Steps that look at the page: each polls until what it expects holds, and otherwise fails
//! with what the page had at the deadline.

use std::time::Instant;

use thirtyfour::prelude::*;

use super::page::{
    Backoff, StepCx, StepFailure, StepOutput, StepResult, driver_failure, excerpt, fatal,
    find_displayed, find_present, fmt_dur,
};
use super::step::{Action, Count, Selector, TextMatch, WaitState};

/// Runs an expectation (or `wait_for`).
pub async fn run(cx: &StepCx<'_>, action: &Action) -> StepResult {
    match action {
        Action::WaitFor {
            target,
            state: WaitState::Visible,
        }
        | Action::ExpectVisible(target) => {
            find_displayed(cx, target).await.map(|_| StepOutput::None)
        }
        Action::WaitFor { target, state } => wait_until_hidden(cx, target, *state).await,
        Action::ExpectAbsent(target) => absent(cx, target).await,
        Action::ExpectText { target, want } => {
            poll_element(cx, target, true, want, "", |el| async move {
                el.text().await.map(Some)
            })
            .await
        }
        Action::ExpectValue { target, want } => {
            poll_element(cx, target, false, want, "the value of ", |el| async move {
                el.prop("value").await
            })
            .await
        }
        Action::ExpectAttribute { target, name, want } => {
            attribute(cx, target, name, want.as_ref()).await
        }
        Action::ExpectCount { target, count } => count_matches(cx, target, *count).await,
        Action::ExpectUrl(want) => {
            poll_page(cx, want, "the URL", |d| async move {
                d.current_url().await.map(|u| u.to_string())
            })
            .await
        }
        Action::ExpectTitle(want) => {
            poll_page(cx, want, "the title", |d| async move { d.title().await }).await
        }
        other => Err(StepFailure::new(
            format!("`{}` is not an expectation", other.name()),
            false,
        )),
    }
}

/// Polls a text read from the element `target` matches (`displayed`: the first visible one,
/// else the first in the page) until it compares as `want`.
async fn poll_element<F, Fut>(
    cx: &StepCx<'_>,
    target: &Selector,
    displayed: bool,
    want: &TextMatch,
    what: &str,
    read: F,
) -> StepResult
where
    F: Fn(WebElement) -> Fut,
    Fut: std::future::Future<Output = WebDriverResult<Option<String>>>,
{
    let mut backoff = Backoff::new();
    loop {
        let el = if displayed {
            find_displayed(cx, target).await?
        } else {
            find_present(cx, target).await?
        };
        let got = match read(el).await {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => {
                if let Some(f) = fatal(cx.driver, &e).await {
                    return Err(f);
                }
                String::new()
            }
        };
        if want.holds(&got) {
            return Ok(StepOutput::None);
        }
        if Instant::now() >= cx.deadline {
            let has = if what.is_empty() {
                "the page has"
            } else {
                "it is"
            };
            return Err(StepFailure::new(
                format!(
                    "expected {what}`{target}` {want}, {has} `{}`",
                    excerpt(&got)
                ),
                false,
            ));
        }
        backoff.wait(cx.deadline).await;
    }
}

/// Polls a property of the page (URL, title) until it compares as `want`.
async fn poll_page<F, Fut>(cx: &StepCx<'_>, want: &TextMatch, what: &str, read: F) -> StepResult
where
    F: Fn(WebDriver) -> Fut,
    Fut: std::future::Future<Output = WebDriverResult<String>>,
{
    let mut backoff = Backoff::new();
    loop {
        let got = match read(cx.driver.clone()).await {
            Ok(v) => v,
            Err(e) => return Err(driver_failure(cx.driver, e).await),
        };
        if want.holds(&got) {
            return Ok(StepOutput::None);
        }
        if Instant::now() >= cx.deadline {
            return Err(StepFailure::new(
                format!("expected {what} {want}, it is `{}`", excerpt(&got)),
                false,
            ));
        }
        backoff.wait(cx.deadline).await;
    }
}

async fn attribute(
    cx: &StepCx<'_>,
    target: &Selector,
    name: &str,
    want: Option<&TextMatch>,
) -> StepResult {
    let mut backoff = Backoff::new();
    loop {
        let el = find_present(cx, target).await?;
        let got = match el.attr(name).await {
            Ok(v) => v,
            Err(e) => return Err(driver_failure(cx.driver, e).await),
        };
        let holds = match (&got, want) {
            (Some(v), Some(w)) => w.holds(v),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if holds {
            return Ok(StepOutput::None);
        }
        if Instant::now() >= cx.deadline {
            let message = match (got, want) {
                (None, _) => format!("`{target}` has no attribute `{name}`"),
                (Some(v), Some(w)) => format!(
                    "expected attribute `{name}` of `{target}` {w}, it is `{}`",
                    excerpt(&v)
                ),
                (Some(_), None) => unreachable!("a present attribute holds"),
            };
            return Err(StepFailure::new(message, false));
        }
        backoff.wait(cx.deadline).await;
    }
}

/// Counts every element `target` matches, visible or not (like Playwright's `toHaveCount`).
async fn count_matches(cx: &StepCx<'_>, target: &Selector, want: Count) -> StepResult {
    let by = target.by();
    let mut backoff = Backoff::new();
    loop {
        let n = match cx.driver.find_all(by.clone()).await {
            Ok(found) => found.len(),
            Err(e) => return Err(driver_failure(cx.driver, e).await),
        };
        if want.holds(n) {
            return Ok(StepOutput::None);
        }
        if Instant::now() >= cx.deadline {
            return Err(StepFailure::new(
                format!("expected {want} element(s) matching `{target}`, the page has {n}"),
                false,
            ));
        }
        backoff.wait(cx.deadline).await;
    }
}

async fn wait_until_hidden(cx: &StepCx<'_>, target: &Selector, state: WaitState) -> StepResult {
    let by = target.by();
    let mut backoff = Backoff::new();
    loop {
        let (present, shown) = match cx.driver.find_all(by.clone()).await {
            Ok(found) => {
                let mut shown = 0;
                for el in &found {
                    if el.is_displayed().await.unwrap_or(false) {
                        shown += 1;
                    }
                }
                (found.len(), shown)
            }
            Err(e) => {
                if let Some(f) = fatal(cx.driver, &e).await {
                    return Err(f);
                }
                (usize::MAX, usize::MAX)
            }
        };
        let done = match state {
            WaitState::Hidden => shown == 0,
            _ => present == 0,
        };
        if done {
            return Ok(StepOutput::None);
        }
        if Instant::now() >= cx.deadline {
            let what = if state == WaitState::Hidden {
                "hidden"
            } else {
                "gone"
            };
            return Err(StepFailure::new(
                format!(
                    "`{target}` was not {what} within {} ({present} in the page, {shown} visible)",
                    fmt_dur(cx.budget)
                ),
                true,
            ));
        }
        backoff.wait(cx.deadline).await;
    }
}

/// Absent now: a page that is still rendering could add it later, so poll briefly for it to
/// go away, but fail with what is there.
async fn absent(cx: &StepCx<'_>, target: &Selector) -> StepResult {
    let by = target.by();
    let mut backoff = Backoff::new();
    loop {
        let found = match cx.driver.find_all(by.clone()).await {
            Ok(f) => f,
            Err(e) => return Err(driver_failure(cx.driver, e).await),
        };
        if found.is_empty() {
            return Ok(StepOutput::None);
        }
        if Instant::now() >= cx.deadline {
            let text = match found.first() {
                Some(el) => el.text().await.unwrap_or_default(),
                None => String::new(),
            };
            return Err(StepFailure::new(
                format!(
                    "expected no `{target}`, the page has {} (`{}`)",
                    found.len(),
                    excerpt(&text)
                ),
                false,
            ));
        }
        backoff.wait(cx.deadline).await;
    }
}
