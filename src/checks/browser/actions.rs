//! Steps that act on the page: go to a URL, click, type, pick, tick, press keys, move between
//! windows and frames, answer dialogs. Each verifies what it did where the page can say.

use std::time::Instant;

use thirtyfour::error::WebDriverErrorInner;
use thirtyfour::prelude::*;

use super::driver::error_line;
use super::page::{
    Backoff, StepCx, StepFailure, StepOutput, StepResult, describe_element, driver_failure,
    excerpt, fatal, find_any, find_displayed, find_present, fmt_dur, script,
};
use super::step::{Action, Selector, Step, TextMatch, WindowRef};

/// Runs one step. `cx.deadline` already accounts for the step's and the item's timeouts.
pub async fn run_step(cx: &StepCx<'_>, step: &Step) -> StepResult {
    match &step.action {
        Action::Goto(url) => goto(cx, url).await,
        Action::Click(sel) => click(cx, sel, false).await,
        Action::DoubleClick(sel) => click(cx, sel, true).await,
        Action::Hover(sel) => hover(cx, sel).await,
        Action::Fill { target, value, .. } => fill(cx, target, value).await,
        Action::Select { target, option } => select(cx, target, option).await,
        Action::Check { target, on } => check(cx, target, *on).await,
        Action::Press { chars, target, .. } => {
            let el = match target {
                Some(t) => find_displayed(cx, t).await?,
                None => match cx.driver.active_element().await {
                    Ok(el) => el,
                    Err(e) => return Err(driver_failure(cx.driver, e).await),
                },
            };
            match el.send_keys(chars.as_str()).await {
                Ok(()) => Ok(StepOutput::None),
                Err(e) => Err(driver_failure(cx.driver, e).await),
            }
        }
        Action::SwitchToWindow(which) => switch_to_window(cx, which).await,
        Action::WithinFrame(sel) => {
            let el = find_present(cx, sel).await?;
            let (what, _) = describe_element(cx, &el).await;
            if !(what.starts_with("<iframe") || what.starts_with("<frame")) {
                return Err(StepFailure::new(
                    format!("`{sel}` is a {what}, not an <iframe> or <frame>"),
                    false,
                ));
            }
            match el.enter_frame().await {
                Ok(()) => Ok(StepOutput::None),
                Err(e) => Err(driver_failure(cx.driver, e).await),
            }
        }
        Action::LeaveFrame => match cx.driver.enter_default_frame().await {
            Ok(()) => Ok(StepOutput::None),
            Err(e) => Err(driver_failure(cx.driver, e).await),
        },
        Action::Dialog {
            accept,
            want,
            value,
        } => dialog(cx, *accept, want.as_ref(), value.as_deref()).await,
        Action::Screenshot(_) => match cx.driver.screenshot_as_png().await {
            Ok(png) => Ok(StepOutput::Screenshot(png)),
            Err(e) => Err(driver_failure(cx.driver, e).await),
        },
        _ => super::expect::run(cx, &step.action).await,
    }
}

/// The URL a `goto` opens: as written, or a path joined to `base_url` (URL rules, like a link
/// on the base page: `/x` from the host's root, `x` next to the base path).
pub fn resolve_url(base: Option<&str>, url: &str) -> Result<String, String> {
    if !super::parse::is_relative_url(url) {
        return Ok(url.to_string());
    }
    let base = base.ok_or_else(|| {
        format!("`{url}` is a path: set `base_url` under `[browser]` to the app's address")
    })?;
    reqwest::Url::parse(base)
        .and_then(|b| b.join(url))
        .map(|u| u.to_string())
        .map_err(|e| format!("cannot join `{url}` to base_url `{base}`: {e}"))
}

async fn goto(cx: &StepCx<'_>, url: &str) -> StepResult {
    let url = resolve_url(cx.base_url, url).map_err(|m| StepFailure::new(m, false))?;
    // The driver gives up on the page itself (and stops loading it), so the session stays
    // usable for the failure's screenshot and for closing.
    let _ = cx.driver.set_page_load_timeout(cx.budget).await;
    let hard = cx.deadline + std::time::Duration::from_millis(300);
    let res = tokio::time::timeout_at(hard.into(), cx.driver.goto(url.as_str())).await;
    match res {
        Ok(Ok(())) => {}
        // The page opened a dialog while loading: the next step handles it (or fails naming it).
        Ok(Err(e)) if matches!(e.as_inner(), WebDriverErrorInner::UnexpectedAlertOpen(_)) => {
            return Ok(StepOutput::None);
        }
        Ok(Err(e)) if !e.to_string().to_lowercase().contains("timed out") => {
            return Err(driver_failure(cx.driver, e).await);
        }
        Ok(Err(_)) | Err(_) => {
            return Err(StepFailure::new(
                format!("the page did not load within {}", fmt_dur(cx.budget)),
                true,
            ));
        }
    }
    // Chromium shows its own error page, and WebDriver reports success, when the server cannot
    // be reached at all: that is no page of the app.
    const NET_ERROR: &str = "return document.body && document.body.classList.contains('neterror') ? ((window.loadTimeDataRaw && loadTimeDataRaw.errorCode) || 'a network error') : null;";
    if let Ok(r) = cx.driver.execute(NET_ERROR, Vec::new()).await
        && let Some(code) = r.json().as_str()
    {
        return Err(StepFailure::new(
            format!("`{url}` could not be loaded: {code}"),
            false,
        ));
    }
    Ok(StepOutput::None)
}

/// A click (or double click) on the first visible match, retried while the element is covered,
/// still animating or re-rendered.
async fn click(cx: &StepCx<'_>, sel: &Selector, double: bool) -> StepResult {
    let mut backoff = Backoff::new();
    loop {
        let el = find_displayed(cx, sel).await?;
        let done = if double {
            pointer(cx).double_click_element(&el).perform().await
        } else {
            el.click().await
        };
        match done {
            Ok(()) => return Ok(StepOutput::None),
            // The click itself opened a dialog: that is the next step's business.
            Err(e) if matches!(e.as_inner(), WebDriverErrorInner::UnexpectedAlertOpen(_)) => {
                return Ok(StepOutput::None);
            }
            Err(e) => {
                if let Some(f) = fatal(cx.driver, &e).await {
                    return Err(f);
                }
                if Instant::now() >= cx.deadline {
                    let how = if double { "double-click" } else { "click" };
                    return Err(StepFailure::new(
                        format!("could not {how} `{sel}`: {}", error_line(&e)),
                        true,
                    ));
                }
                backoff.wait(cx.deadline).await;
            }
        }
    }
}

/// Pointer actions without thirtyfour's default 250 ms pause before each: a user's double
/// click is two quick clicks, and a pause per move only slows every step.
fn pointer(cx: &StepCx<'_>) -> thirtyfour::action_chain::ActionChain {
    cx.driver
        .action_chain_with_delay(None, Some(std::time::Duration::ZERO))
}

async fn hover(cx: &StepCx<'_>, sel: &Selector) -> StepResult {
    let mut backoff = Backoff::new();
    loop {
        let el = find_displayed(cx, sel).await?;
        let moved = pointer(cx).move_to_element_center(&el).perform().await;
        match moved {
            Ok(()) => return Ok(StepOutput::None),
            Err(e) => {
                if let Some(f) = fatal(cx.driver, &e).await {
                    return Err(f);
                }
                if Instant::now() >= cx.deadline {
                    return Err(StepFailure::new(
                        format!("could not hover over `{sel}`: {}", error_line(&e)),
                        true,
                    ));
                }
                backoff.wait(cx.deadline).await;
            }
        }
    }
}

/// Types `value` into a field; into a file input it uploads the file `value` names (relative
/// to the checklist's directory).
async fn fill(cx: &StepCx<'_>, target: &Selector, value: &str) -> StepResult {
    // A field re-rendered under the step (an app ending an edit) is found again, once.
    let mut again = true;
    loop {
        let (el, shown) = find_any(cx, target).await?;
        let (what, current) = describe_element(cx, &el).await;
        if what == "<input type=file>" {
            return upload(cx, target, &el, value).await;
        }
        // Anything else is typed into, so it must be visible.
        let el = if shown {
            el
        } else {
            find_displayed(cx, target).await?
        };
        match type_into(&el, &current, value).await {
            Ok(()) => return Ok(StepOutput::None),
            Err(e)
                if again
                    && matches!(e.as_inner(), WebDriverErrorInner::StaleElementReference(_)) =>
            {
                again = false;
            }
            Err(e) => return Err(driver_failure(cx.driver, e).await),
        }
    }
}

/// Clears a field with the keyboard (select all, delete), as a user does, then types `value`.
/// WebDriver's own clear blurs the field, which makes many apps end an edit and re-render it,
/// and frameworks that track input events (React) do not see it.
async fn type_into(el: &WebElement, current: &str, value: &str) -> WebDriverResult<()> {
    if !current.is_empty() {
        let select_all = format!("{}a{}", Key::Control.value(), Key::Null.value());
        el.send_keys(format!("{select_all}{}", Key::Backspace.value()))
            .await?;
        // A browser where select-all is another chord (a macOS grid node): clear it the
        // WebDriver way.
        if !el.prop("value").await?.unwrap_or_default().is_empty() {
            el.clear().await?;
        }
    }
    el.send_keys(value).await
}

async fn upload(cx: &StepCx<'_>, target: &Selector, el: &WebElement, file: &str) -> StepResult {
    let path = cx.files_dir.join(file);
    if !path.is_file() {
        return Err(StepFailure::new(
            format!(
                "no file `{file}` to upload into `{target}` (looked for `{}`)",
                path.display()
            ),
            false,
        ));
    }
    match el.send_keys(path.display().to_string()).await {
        Ok(()) => Ok(StepOutput::None),
        Err(e) => Err(driver_failure(cx.driver, e).await),
    }
}

/// Each option of a `<select>` as `[value, text, disabled, selected]`, in one call.
const OPTIONS: &str = "const s = arguments[0]; if (s.tagName.toLowerCase() !== 'select') return null; return Array.from(s.options).map(o => [o.value, o.text.replace(/\\s+/g, ' ').trim(), o.disabled, o.selected]);";

struct SelectOption {
    value: String,
    text: String,
    disabled: bool,
    selected: bool,
}

/// Picks the option whose value, else whose visible text, is `wanted`, and checks that it is
/// selected afterwards.
async fn select(cx: &StepCx<'_>, target: &Selector, wanted: &str) -> StepResult {
    let mut backoff = Backoff::new();
    let wanted_text = excerpt(wanted);
    loop {
        let el = find_displayed(cx, target).await?;
        let raw = script(cx, OPTIONS, &el).await?;
        let Some(list) = raw.as_array() else {
            let (what, _) = describe_element(cx, &el).await;
            return Err(StepFailure::new(
                format!("`{target}` is a {what}, not a <select>: click its options instead"),
                false,
            ));
        };
        let options: Vec<SelectOption> = list
            .iter()
            .map(|o| SelectOption {
                value: o[0].as_str().unwrap_or("").to_string(),
                text: o[1].as_str().unwrap_or("").to_string(),
                disabled: o[2].as_bool().unwrap_or(false),
                selected: o[3].as_bool().unwrap_or(false),
            })
            .collect();
        let index = options
            .iter()
            .position(|o| o.value == wanted)
            .or_else(|| options.iter().position(|o| o.text == wanted_text));
        match index {
            Some(i) if options[i].disabled => {
                return Err(StepFailure::new(
                    format!("option `{}` of `{target}` is disabled", options[i].text),
                    false,
                ));
            }
            Some(i) if options[i].selected => return Ok(StepOutput::None),
            Some(i) => {
                let option = match el.find_all(By::Tag("option")).await {
                    Ok(all) => all.into_iter().nth(i),
                    Err(e) => return Err(driver_failure(cx.driver, e).await),
                };
                if let Some(option) = option
                    && let Err(e) = option.click().await
                    && let Some(f) = fatal(cx.driver, &e).await
                {
                    return Err(f);
                }
                // Verify: a page can refuse the change (a handler resetting it); one that
                // re-renders the select is read again on the next round.
                let again = find_displayed(cx, target).await?;
                if let Ok(after) = script(cx, OPTIONS, &again).await
                    && after[i][3].as_bool().unwrap_or(false)
                {
                    return Ok(StepOutput::None);
                }
                if Instant::now() >= cx.deadline {
                    return Err(StepFailure::new(
                        format!(
                            "option `{}` of `{target}` did not stay selected",
                            options[i].text
                        ),
                        false,
                    ));
                }
            }
            None if Instant::now() >= cx.deadline => {
                let mut listed: Vec<String> = options
                    .iter()
                    .take(20)
                    .map(|o| format!("`{}` (value `{}`)", o.text, o.value))
                    .collect();
                if options.len() > 20 {
                    listed.push(format!("and {} more", options.len() - 20));
                }
                let has = if listed.is_empty() {
                    "it has no options".to_string()
                } else {
                    format!("its options: {}", listed.join(", "))
                };
                return Err(StepFailure::new(
                    format!("no option with value or text `{wanted}` in `{target}`; {has}"),
                    true,
                ));
            }
            None => {}
        }
        backoff.wait(cx.deadline).await;
    }
}

/// A checkbox, radio button or ARIA checkbox/switch as `[kind, checked, disabled]`; `kind` is
/// `checkbox`, `radio`, `aria` or null when it is none of them. A widget wrapping exactly one
/// checkbox or radio input (Angular Material's `mat-checkbox`, Dojo's) is read through it.
const CHECK_STATE: &str = "const box = (e) => { const t = e.tagName.toLowerCase() === 'input' ? (e.type || '').toLowerCase() : ''; return (t === 'checkbox' || t === 'radio') ? [t, e.checked, e.disabled] : null; }; const e = arguments[0]; const own = box(e); if (own) return own; const a = e.getAttribute('aria-checked'); if (a !== null) return ['aria', a === 'true', e.getAttribute('aria-disabled') === 'true']; const inner = e.querySelectorAll('input[type=checkbox], input[type=radio]'); if (inner.length === 1) return box(inner[0]); return [null, false, false];";

/// A visible `<label>` of the element, for inputs styled away behind their label.
const VISIBLE_LABEL: &str = "const ls = arguments[0].labels || []; for (const l of ls) { const r = l.getBoundingClientRect(); if (r.width > 0 && r.height > 0) return l; } return null;";

/// `check` / `uncheck`: clicks only when the state differs (so it can be repeated), then
/// waits for the state to change.
async fn check(cx: &StepCx<'_>, target: &Selector, on: bool) -> StepResult {
    let verb = if on { "check" } else { "uncheck" };
    let el = find_present(cx, target).await?;
    let state = script(cx, CHECK_STATE, &el).await?;
    let kind = state[0].as_str().map(str::to_string);
    let checked = |s: &serde_json::Value| s[1].as_bool().unwrap_or(false);
    let Some(kind) = kind else {
        let (what, _) = describe_element(cx, &el).await;
        return Err(StepFailure::new(
            format!(
                "`{target}` is a {what}, not a checkbox or radio button (nor has `aria-checked` or one inside)"
            ),
            false,
        ));
    };
    if kind == "radio" && !on {
        return Err(StepFailure::new(
            format!(
                "`{target}` is a radio button: uncheck it by checking another option of its group"
            ),
            false,
        ));
    }
    if checked(&state) == on {
        return Ok(StepOutput::None);
    }
    if state[2].as_bool().unwrap_or(false) {
        return Err(StepFailure::new(
            format!("cannot {verb} `{target}`: it is disabled"),
            false,
        ));
    }
    let mut backoff = Backoff::new();
    let mut clicked = false;
    loop {
        if !clicked {
            let direct = match el.is_displayed().await {
                Ok(true) => el.click().await.map_err(|e| error_line(&e)),
                _ => Err("it is not visible".to_string()),
            };
            clicked = match direct {
                Ok(()) => true,
                Err(why) => {
                    // Custom-styled inputs: the visible label is what a user clicks.
                    let label = cx
                        .driver
                        .execute(VISIBLE_LABEL, vec![el.to_json().unwrap_or_default()])
                        .await
                        .ok()
                        .and_then(|r| r.element().ok());
                    match label {
                        Some(l) => l.click().await.is_ok(),
                        None if Instant::now() >= cx.deadline => {
                            return Err(StepFailure::new(
                                format!(
                                    "could not {verb} `{target}`: {why}, and it has no visible label to click"
                                ),
                                true,
                            ));
                        }
                        None => false,
                    }
                }
            };
        }
        if clicked {
            // Found again: many apps re-render the row a box is in when it changes.
            let now = find_present(cx, target).await?;
            if let Ok(state) = script(cx, CHECK_STATE, &now).await
                && checked(&state) == on
            {
                return Ok(StepOutput::None);
            }
        }
        if Instant::now() >= cx.deadline {
            let state = if on { "unchecked" } else { "checked" };
            return Err(StepFailure::new(
                format!("`{target}` is still {state} after clicking it"),
                false,
            ));
        }
        backoff.wait(cx.deadline).await;
    }
}

/// Switches to a window by number (in the order the run saw them open), title or URL, polling
/// while a popup is still opening.
async fn switch_to_window(cx: &StepCx<'_>, which: &WindowRef) -> StepResult {
    let d = cx.driver;
    let mut backoff = Backoff::new();
    loop {
        let handles = match d.windows().await {
            Ok(h) => h,
            Err(e) => return Err(driver_failure(d, e).await),
        };
        let known = {
            let mut seen = cx.windows.lock().unwrap_or_else(|e| e.into_inner());
            for h in &handles {
                if !seen.contains(h) {
                    seen.push(h.clone());
                }
            }
            seen.clone()
        };
        let found = match which {
            WindowRef::Index(n) => match known.get(n - 1) {
                Some(h) if handles.contains(h) => Some(h.clone()),
                Some(_) => {
                    return Err(StepFailure::new(format!("window {n} has closed"), false));
                }
                None => None,
            },
            WindowRef::Title(_) | WindowRef::Url(_) => {
                let mut hit = None;
                for h in handles.iter() {
                    if d.switch_to_window(h.clone()).await.is_err() {
                        continue;
                    }
                    let got = match which {
                        WindowRef::Title(_) => d.title().await.unwrap_or_default(),
                        _ => d
                            .current_url()
                            .await
                            .map(|u| u.to_string())
                            .unwrap_or_default(),
                    };
                    let want = match which {
                        WindowRef::Title(t) | WindowRef::Url(t) => t,
                        WindowRef::Index(_) => unreachable!(),
                    };
                    if got.contains(want.as_str()) {
                        hit = Some(h.clone());
                        break;
                    }
                }
                hit
            }
        };
        if let Some(h) = found {
            return match d.switch_to_window(h).await {
                Ok(()) => Ok(StepOutput::None),
                Err(e) => Err(driver_failure(d, e).await),
            };
        }
        if Instant::now() >= cx.deadline {
            let mut titles = Vec::new();
            for h in &known {
                if handles.contains(h) && d.switch_to_window(h.clone()).await.is_ok() {
                    titles.push(format!("`{}`", d.title().await.unwrap_or_default()));
                }
            }
            // Leave the journey in its first window rather than the last one looked at.
            if let Some(first) = known.iter().find(|h| handles.contains(h)) {
                let _ = d.switch_to_window(first.clone()).await;
            }
            return Err(StepFailure::new(
                format!(
                    "no window {which} within {}: the session has {} ({})",
                    fmt_dur(cx.budget),
                    handles.len(),
                    titles.join(", ")
                ),
                true,
            ));
        }
        backoff.wait(cx.deadline).await;
    }
}

/// Waits for an alert, confirm or prompt, checks its text, types `value` into a prompt, then
/// accepts or dismisses it.
async fn dialog(
    cx: &StepCx<'_>,
    accept: bool,
    want: Option<&TextMatch>,
    value: Option<&str>,
) -> StepResult {
    let d = cx.driver;
    let mut backoff = Backoff::new();
    let text = loop {
        match d.get_alert_text().await {
            Ok(t) => break t,
            Err(e) if matches!(e.as_inner(), WebDriverErrorInner::NoSuchAlert(_)) => {}
            Err(e) => return Err(driver_failure(d, e).await),
        }
        if Instant::now() >= cx.deadline {
            return Err(StepFailure::new(
                format!("no dialog opened within {}", fmt_dur(cx.budget)),
                true,
            ));
        }
        backoff.wait(cx.deadline).await;
    };
    if let Some(w) = want
        && !w.holds(&text)
    {
        return Err(StepFailure::new(
            format!("expected the dialog {w}, it says `{}`", excerpt(&text)),
            false,
        ));
    }
    if let Some(v) = value
        && d.send_alert_text(v).await.is_err()
    {
        return Err(StepFailure::new(
            format!(
                "the dialog `{}` has no text field to type into (it is an alert or confirm, not a prompt)",
                excerpt(&text)
            ),
            false,
        ));
    }
    let done = if accept {
        d.accept_alert().await
    } else {
        d.dismiss_alert().await
    };
    match done {
        Ok(()) => Ok(StepOutput::None),
        Err(e) => Err(driver_failure(d, e).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls_join_the_base_like_links_do() {
        let base = Some("http://127.0.0.1:8000/app/");
        assert_eq!(
            resolve_url(base, "/products").unwrap(),
            "http://127.0.0.1:8000/products"
        );
        assert_eq!(
            resolve_url(base, "./cart?x=1").unwrap(),
            "http://127.0.0.1:8000/app/cart?x=1"
        );
        assert_eq!(
            resolve_url(None, "http://a.test/").unwrap(),
            "http://a.test/"
        );
        assert!(resolve_url(None, "/x").unwrap_err().contains("base_url"));
    }
}
