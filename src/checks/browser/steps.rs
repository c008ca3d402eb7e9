//! Journey steps: how they are written in the checklist, and how one runs in a session.
//!
//! Every step that looks at the page polls until its condition holds or its timeout passes
//! (never a fixed sleep), so a journey waits for a slow page instead of failing at random.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::{self, Deserializer};
use thirtyfour::prelude::*;

use crate::syntax::{Dur, Pattern, Template};

/// What an element is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Css(String),
    XPath(String),
    /// The innermost element whose normalized text contains this.
    Text(String),
}

impl Selector {
    pub fn parse(s: &str) -> Result<Selector, String> {
        let (sel, rest) = if let Some(t) = s.strip_prefix("text=") {
            (Selector::Text(t.trim().to_string()), t)
        } else if let Some(x) = s.strip_prefix("xpath=") {
            (Selector::XPath(x.trim().to_string()), x)
        } else if let Some(c) = s.strip_prefix("css=") {
            (Selector::Css(c.trim().to_string()), c)
        } else {
            (Selector::Css(s.trim().to_string()), s)
        };
        if rest.trim().is_empty() {
            return Err(format!("empty selector `{s}`"));
        }
        Ok(sel)
    }

    pub fn by(&self) -> By {
        match self {
            Selector::Css(c) => By::Css(c.clone()),
            Selector::XPath(x) => By::XPath(x.clone()),
            Selector::Text(t) => {
                let lit = xpath_literal(t);
                // Innermost match: the element contains the text and none of its children does.
                By::XPath(format!(
                    "//body//*[contains(normalize-space(.), {lit}) and not(.//*[contains(normalize-space(.), {lit})])]"
                ))
            }
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Css(c) => write!(f, "{c}"),
            Selector::XPath(x) => write!(f, "xpath={x}"),
            Selector::Text(t) => write!(f, "text={t}"),
        }
    }
}

/// `text` as an XPath string literal (XPath 1.0 has no escapes: quotes need `concat`).
pub fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    if !text.contains('"') {
        return format!("\"{text}\"");
    }
    let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}

/// How a text must compare.
#[derive(Debug, Clone)]
pub enum TextMatch {
    Equals(String),
    Contains(String),
    Matches(regex::Regex),
}

impl TextMatch {
    pub fn holds(&self, got: &str) -> bool {
        match self {
            TextMatch::Equals(w) => got.trim() == w.trim(),
            TextMatch::Contains(w) => got.contains(w.as_str()),
            TextMatch::Matches(r) => r.is_match(got),
        }
    }
}

impl fmt::Display for TextMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextMatch::Equals(w) => write!(f, "to equal `{w}`"),
            TextMatch::Contains(w) => write!(f, "to contain `{w}`"),
            TextMatch::Matches(r) => write!(f, "to match `{}`", r.as_str()),
        }
    }
}

/// What `wait_for` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WaitState {
    /// In the page and displayed.
    Visible,
    /// Not displayed (or not in the page).
    Hidden,
    /// Not in the page.
    Gone,
}

/// One step of a journey.
#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    /// This step's own timeout (else the item's `step_timeout`).
    pub timeout: Option<Duration>,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    Goto(String),
    Click(Selector),
    Fill {
        target: Selector,
        value: String,
        secret: bool,
    },
    Select {
        target: Selector,
        option: String,
    },
    Press {
        key: String,
        chars: String,
        target: Option<Selector>,
    },
    WaitFor {
        target: Selector,
        state: WaitState,
    },
    ExpectText {
        target: Selector,
        want: TextMatch,
    },
    ExpectUrl(TextMatch),
    ExpectTitle(TextMatch),
    ExpectVisible(Selector),
    ExpectAbsent(Selector),
    Screenshot(String),
}

impl Action {
    /// The step's key in the checklist (`click`, `expect_text`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Goto(_) => "goto",
            Action::Click(_) => "click",
            Action::Fill { .. } => "fill",
            Action::Select { .. } => "select",
            Action::Press { .. } => "press",
            Action::WaitFor { .. } => "wait_for",
            Action::ExpectText { .. } => "expect_text",
            Action::ExpectUrl(_) => "expect_url",
            Action::ExpectTitle(_) => "expect_title",
            Action::ExpectVisible(_) => "expect_visible",
            Action::ExpectAbsent(_) => "expect_absent",
            Action::Screenshot(_) => "screenshot",
        }
    }

    /// What the step acts on, for reports (`#email`, the URL, the key).
    pub fn target(&self) -> String {
        match self {
            Action::Goto(u) => u.clone(),
            Action::Click(s)
            | Action::Fill { target: s, .. }
            | Action::Select { target: s, .. }
            | Action::WaitFor { target: s, .. }
            | Action::ExpectText { target: s, .. }
            | Action::ExpectVisible(s)
            | Action::ExpectAbsent(s) => s.to_string(),
            Action::Press { key, target, .. } => match target {
                Some(t) => format!("{key} in {t}"),
                None => key.clone(),
            },
            Action::ExpectUrl(m) | Action::ExpectTitle(m) => m.to_string(),
            Action::Screenshot(n) => n.clone(),
        }
    }

    /// `click \`#pay\``; fills show their value only when it is not secret.
    pub fn describe(&self) -> String {
        match self {
            Action::Fill {
                target,
                value,
                secret,
            } => {
                let shown = if *secret {
                    crate::redact::MASK.to_string()
                } else {
                    value.clone()
                };
                format!("fill `{target}` with `{shown}`")
            }
            Action::Select { target, option } => format!("select `{option}` in `{target}`"),
            Action::ExpectUrl(m) => format!("expect_url {m}"),
            Action::ExpectTitle(m) => format!("expect_title {m}"),
            Action::WaitFor { target, state } => format!(
                "wait_for `{target}` {}",
                format!("{state:?}").to_lowercase()
            ),
            a => format!("{} `{}`", a.name(), a.target()),
        }
    }
}

/// A step as written: one action key plus the keys that go with it.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawStep {
    goto: Option<Template>,
    click: Option<Template>,
    fill: Option<Template>,
    value: Option<Template>,
    /// Mask the filled value in every report even when it is not a secret var.
    secret: Option<bool>,
    select: Option<Template>,
    option: Option<Template>,
    press: Option<Template>,
    /// For `press`: the element to send the key to (default: the focused one).
    into: Option<Template>,
    wait_for: Option<Template>,
    state: Option<WaitState>,
    expect_text: Option<Template>,
    equals: Option<Template>,
    contains: Option<Template>,
    matches: Option<Pattern>,
    expect_url: Option<MatchSpec>,
    expect_title: Option<MatchSpec>,
    expect_visible: Option<Template>,
    expect_absent: Option<Template>,
    screenshot: Option<Template>,
    timeout: Option<Dur>,
}

/// `expect_url = "..."` (equals) or `expect_url = { contains = "..." }`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum MatchSpec {
    Text(Template),
    Table(MatchTable),
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct MatchTable {
    equals: Option<Template>,
    contains: Option<Template>,
    matches: Option<Pattern>,
}

const ACTIONS: &str = "goto, click, fill, select, press, wait_for, expect_text, expect_url, expect_title, expect_visible, expect_absent, screenshot";

fn text_match(
    equals: Option<Template>,
    contains: Option<Template>,
    matches: Option<Pattern>,
    what: &str,
) -> Result<TextMatch, String> {
    match (equals, contains, matches) {
        (Some(e), None, None) => Ok(TextMatch::Equals(e.to_string())),
        (None, Some(c), None) => Ok(TextMatch::Contains(c.to_string())),
        (None, None, Some(m)) => Ok(TextMatch::Matches(m.0)),
        (None, None, None) => Err(format!(
            "`{what}` needs one of `equals`, `contains` or `matches`"
        )),
        _ => Err(format!(
            "`{what}` takes only one of `equals`, `contains` or `matches`"
        )),
    }
}

fn selector(t: Template) -> Result<Selector, String> {
    Selector::parse(t.as_str())
}

impl RawStep {
    fn into_step(self) -> Result<Step, String> {
        let named: Vec<&str> = [
            ("goto", self.goto.is_some()),
            ("click", self.click.is_some()),
            ("fill", self.fill.is_some()),
            ("select", self.select.is_some()),
            ("press", self.press.is_some()),
            ("wait_for", self.wait_for.is_some()),
            ("expect_text", self.expect_text.is_some()),
            ("expect_url", self.expect_url.is_some()),
            ("expect_title", self.expect_title.is_some()),
            ("expect_visible", self.expect_visible.is_some()),
            ("expect_absent", self.expect_absent.is_some()),
            ("screenshot", self.screenshot.is_some()),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| n)
        .collect();
        let action = match named.as_slice() {
            [] => return Err(format!("a step needs one action: {ACTIONS}")),
            [one] => *one,
            many => {
                return Err(format!(
                    "a step has one action, this one has {}: split it into steps",
                    many.join(" and ")
                ));
            }
        };
        // Keys that only go with one action.
        let extra = |key: &str, present: bool, allowed: &[&str]| -> Result<(), String> {
            if present && !allowed.contains(&action) {
                return Err(format!(
                    "`{key}` does not go with `{action}` (it goes with {})",
                    allowed.join(", ")
                ));
            }
            Ok(())
        };
        extra("value", self.value.is_some(), &["fill"])?;
        extra("secret", self.secret.is_some(), &["fill"])?;
        extra("option", self.option.is_some(), &["select"])?;
        extra("into", self.into.is_some(), &["press"])?;
        extra("state", self.state.is_some(), &["wait_for"])?;
        extra("equals", self.equals.is_some(), &["expect_text"])?;
        extra("contains", self.contains.is_some(), &["expect_text"])?;
        extra("matches", self.matches.is_some(), &["expect_text"])?;
        let timeout = self.timeout.map(Dur::get);
        let action = match action {
            "goto" => {
                let url = self.goto.unwrap_or_default().to_string();
                crate::checks::http::parse_http_url(&url)?;
                Action::Goto(url)
            }
            "click" => Action::Click(selector(self.click.unwrap_or_default())?),
            "fill" => {
                let value = self
                    .value
                    .ok_or("`fill` needs a `value` (the text to type)")?;
                Action::Fill {
                    target: selector(self.fill.unwrap_or_default())?,
                    value: value.to_string(),
                    secret: self.secret.unwrap_or(false),
                }
            }
            "select" => {
                let option = self
                    .option
                    .ok_or("`select` needs an `option` (its value or visible text)")?;
                Action::Select {
                    target: selector(self.select.unwrap_or_default())?,
                    option: option.to_string(),
                }
            }
            "press" => {
                let key = self.press.unwrap_or_default().to_string();
                let chars = key_chars(&key)?;
                let target = self.into.map(selector).transpose()?;
                Action::Press { key, chars, target }
            }
            "wait_for" => Action::WaitFor {
                target: selector(self.wait_for.unwrap_or_default())?,
                state: self.state.unwrap_or(WaitState::Visible),
            },
            "expect_text" => Action::ExpectText {
                target: selector(self.expect_text.unwrap_or_default())?,
                want: text_match(self.equals, self.contains, self.matches, "expect_text")?,
            },
            "expect_url" => Action::ExpectUrl(spec_match(self.expect_url, "expect_url")?),
            "expect_title" => Action::ExpectTitle(spec_match(self.expect_title, "expect_title")?),
            "expect_visible" => {
                Action::ExpectVisible(selector(self.expect_visible.unwrap_or_default())?)
            }
            "expect_absent" => {
                Action::ExpectAbsent(selector(self.expect_absent.unwrap_or_default())?)
            }
            _ => {
                let name = self.screenshot.unwrap_or_default().to_string();
                if name.trim().is_empty() {
                    return Err("`screenshot` needs a name, like `confirmation`".into());
                }
                Action::Screenshot(name)
            }
        };
        Ok(Step { action, timeout })
    }
}

fn spec_match(spec: Option<MatchSpec>, what: &str) -> Result<TextMatch, String> {
    match spec {
        Some(MatchSpec::Text(t)) => Ok(TextMatch::Equals(t.to_string())),
        Some(MatchSpec::Table(t)) => text_match(t.equals, t.contains, t.matches, what),
        None => Err(format!("`{what}` needs a value")),
    }
}

/// A step is written as a [`RawStep`] (the schema cannot say "exactly one action key").
impl schemars::JsonSchema for Step {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawStep::json_schema(generator)
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawStep::deserialize(d)?
            .into_step()
            .map_err(de::Error::custom)
    }
}

/// The WebDriver characters for a key name (`Enter`, `Tab`, `ArrowDown`, ...) or a single character.
pub fn key_chars(name: &str) -> Result<String, String> {
    let key = match name.to_ascii_lowercase().as_str() {
        "enter" | "return" => Key::Enter,
        "tab" => Key::Tab,
        "escape" | "esc" => Key::Escape,
        "backspace" => Key::Backspace,
        "delete" => Key::Delete,
        "space" => Key::Space,
        "arrowup" | "up" => Key::Up,
        "arrowdown" | "down" => Key::Down,
        "arrowleft" | "left" => Key::Left,
        "arrowright" | "right" => Key::Right,
        "home" => Key::Home,
        "end" => Key::End,
        "pageup" => Key::PageUp,
        "pagedown" => Key::PageDown,
        _ => {
            let mut chars = name.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c.to_string()),
                _ => Err(format!(
                    "unknown key `{name}`: use a single character or one of Enter, Tab, Escape, Backspace, Delete, Space, ArrowUp, ArrowDown, ArrowLeft, ArrowRight, Home, End, PageUp, PageDown"
                )),
            };
        }
    };
    Ok(key.value().to_string())
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
    fn new(message: impl Into<String>, timed_out: bool) -> Self {
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

/// Poll pauses: quick at first (most pages are ready in a few ms), then every 100 ms.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(Duration::from_millis(10))
    }
    async fn wait(&mut self, deadline: Instant) {
        let now = Instant::now();
        let pause = self.0.min(deadline.saturating_duration_since(now));
        tokio::time::sleep(pause).await;
        self.0 = (self.0 * 2).min(Duration::from_millis(100));
    }
}

fn within(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

fn excerpt(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= 200 {
        return one;
    }
    format!("{}…", one.chars().take(200).collect::<String>())
}

/// The first displayed element `sel` matches, polling until `deadline`.
async fn find_displayed(
    driver: &WebDriver,
    sel: &Selector,
    deadline: Instant,
    budget: Duration,
) -> Result<WebElement, StepFailure> {
    let by = sel.by();
    let mut backoff = Backoff::new();
    let mut seen_hidden = 0usize;
    let mut last_err: Option<String> = None;
    loop {
        match driver.find_all(by.clone()).await {
            Ok(found) => {
                seen_hidden = 0;
                for el in found {
                    match el.is_displayed().await {
                        Ok(true) => return Ok(el),
                        Ok(false) => seen_hidden += 1,
                        Err(_) => {}
                    }
                }
            }
            Err(e) => last_err = Some(super::driver::one_line(&e.to_string())),
        }
        if Instant::now() >= deadline {
            let why = if let Some(e) = last_err.filter(|_| seen_hidden == 0) {
                format!("no element matches `{sel}` within {} ({e})", within(budget))
            } else if seen_hidden > 0 {
                format!(
                    "`{sel}` matches {seen_hidden} element(s) but none became visible within {}",
                    within(budget)
                )
            } else {
                format!("no element matches `{sel}` within {}", within(budget))
            };
            return Err(StepFailure::new(why, true));
        }
        backoff.wait(deadline).await;
    }
}

/// Runs one step. `deadline` already accounts for the step's and the item's timeouts.
pub async fn run_step(
    driver: &WebDriver,
    step: &Step,
    deadline: Instant,
    budget: Duration,
) -> Result<StepOutput, StepFailure> {
    let wd = |e: WebDriverError| StepFailure::new(super::driver::one_line(&e.to_string()), false);
    match &step.action {
        Action::Goto(url) => {
            // The driver gives up on the page itself (and stops loading it), so the session
            // stays usable for the failure's screenshot and for closing.
            let _ = driver.set_page_load_timeout(budget).await;
            let hard = deadline + Duration::from_millis(300);
            let res = tokio::time::timeout_at(hard.into(), driver.goto(url.as_str())).await;
            match res {
                Ok(Ok(())) => Ok(StepOutput::None),
                Ok(Err(e)) if !e.to_string().to_lowercase().contains("timed out") => Err(wd(e)),
                Ok(Err(_)) | Err(_) => Err(StepFailure::new(
                    format!("the page did not load within {}", within(budget)),
                    true,
                )),
            }
        }
        Action::Click(sel) => {
            let mut backoff = Backoff::new();
            loop {
                let el = find_displayed(driver, sel, deadline, budget).await?;
                match el.click().await {
                    Ok(()) => return Ok(StepOutput::None),
                    // Covered by an overlay, still animating, re-rendered: try again until the deadline.
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        backoff.wait(deadline).await;
                    }
                    Err(e) => {
                        return Err(StepFailure::new(
                            format!(
                                "could not click `{sel}`: {}",
                                super::driver::one_line(&e.to_string())
                            ),
                            true,
                        ));
                    }
                }
            }
        }
        Action::Fill { target, value, .. } => {
            let el = find_displayed(driver, target, deadline, budget).await?;
            el.clear().await.map_err(wd)?;
            el.send_keys(value.as_str()).await.map_err(wd)?;
            Ok(StepOutput::None)
        }
        Action::Select { target, option } => {
            let el = find_displayed(driver, target, deadline, budget).await?;
            let select = thirtyfour::components::SelectElement::new(&el)
                .await
                .map_err(wd)?;
            if select.select_by_value(option).await.is_ok() {
                return Ok(StepOutput::None);
            }
            select.select_by_visible_text(option).await.map_err(|_| {
                StepFailure::new(
                    format!("`{target}` has no option with value or text `{option}`"),
                    false,
                )
            })?;
            Ok(StepOutput::None)
        }
        Action::Press { chars, target, .. } => {
            let el = match target {
                Some(t) => find_displayed(driver, t, deadline, budget).await?,
                None => driver.active_element().await.map_err(wd)?,
            };
            el.send_keys(chars.as_str()).await.map_err(wd)?;
            Ok(StepOutput::None)
        }
        Action::WaitFor {
            target,
            state: WaitState::Visible,
        }
        | Action::ExpectVisible(target) => find_displayed(driver, target, deadline, budget)
            .await
            .map(|_| StepOutput::None),
        Action::WaitFor { target, state } => {
            let by = target.by();
            let mut backoff = Backoff::new();
            loop {
                let (present, shown) = match driver.find_all(by.clone()).await {
                    Ok(found) => {
                        let mut shown = 0;
                        for el in &found {
                            if el.is_displayed().await.unwrap_or(false) {
                                shown += 1;
                            }
                        }
                        (found.len(), shown)
                    }
                    Err(_) => (usize::MAX, usize::MAX),
                };
                let done = match state {
                    WaitState::Hidden => shown == 0,
                    _ => present == 0,
                };
                if done {
                    return Ok(StepOutput::None);
                }
                if Instant::now() >= deadline {
                    let what = if *state == WaitState::Hidden {
                        "hidden"
                    } else {
                        "gone"
                    };
                    return Err(StepFailure::new(
                        format!(
                            "`{target}` was not {what} within {} ({present} in the page, {shown} visible)",
                            within(budget)
                        ),
                        true,
                    ));
                }
                backoff.wait(deadline).await;
            }
        }
        Action::ExpectAbsent(target) => {
            // Absent now: a page that is still rendering could add it later, so poll briefly
            // for it to go away, but fail with what is there.
            let by = target.by();
            let mut backoff = Backoff::new();
            loop {
                let found = driver.find_all(by.clone()).await.map_err(wd)?;
                if found.is_empty() {
                    return Ok(StepOutput::None);
                }
                if Instant::now() >= deadline {
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
                backoff.wait(deadline).await;
            }
        }
        Action::ExpectText { target, want } => {
            let mut backoff = Backoff::new();
            loop {
                let el = find_displayed(driver, target, deadline, budget).await?;
                let got = el.text().await.unwrap_or_default();
                if want.holds(&got) {
                    return Ok(StepOutput::None);
                }
                if Instant::now() >= deadline {
                    return Err(StepFailure::new(
                        format!(
                            "expected `{target}` {want}, the page has `{}`",
                            excerpt(&got)
                        ),
                        false,
                    ));
                }
                backoff.wait(deadline).await;
            }
        }
        Action::ExpectUrl(want) => {
            let mut backoff = Backoff::new();
            loop {
                let got = driver
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .map_err(wd)?;
                if want.holds(&got) {
                    return Ok(StepOutput::None);
                }
                if Instant::now() >= deadline {
                    return Err(StepFailure::new(
                        format!("expected the URL {want}, it is `{got}`"),
                        false,
                    ));
                }
                backoff.wait(deadline).await;
            }
        }
        Action::ExpectTitle(want) => {
            let mut backoff = Backoff::new();
            loop {
                let got = driver.title().await.map_err(wd)?;
                if want.holds(&got) {
                    return Ok(StepOutput::None);
                }
                if Instant::now() >= deadline {
                    return Err(StepFailure::new(
                        format!("expected the title {want}, it is `{}`", excerpt(&got)),
                        false,
                    ));
                }
                backoff.wait(deadline).await;
            }
        }
        Action::Screenshot(_) => driver
            .screenshot_as_png()
            .await
            .map(StepOutput::Screenshot)
            .map_err(wd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(toml_text: &str) -> Result<Step, String> {
        #[derive(Deserialize)]
        struct W {
            s: Step,
        }
        toml::from_str::<W>(&format!("s = {toml_text}"))
            .map(|w| w.s)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn parses_actions_and_their_keys() {
        let s = step(r##"{ expect_text = "#featured", contains = "Spring Sale" }"##).unwrap();
        assert!(
            matches!(s.action, Action::ExpectText { want: TextMatch::Contains(ref w), .. } if w == "Spring Sale")
        );
        let s = step(r##"{ wait_for = "#c", state = "gone", timeout = "5s" }"##).unwrap();
        assert!(matches!(
            s.action,
            Action::WaitFor {
                state: WaitState::Gone,
                ..
            }
        ));
        assert_eq!(s.timeout, Some(Duration::from_secs(5)));
        let s = step(r#"{ click = "text=Sign up" }"#).unwrap();
        assert!(matches!(s.action, Action::Click(Selector::Text(ref t)) if t == "Sign up"));
        let s = step(r#"{ expect_url = { contains = "/confirmation/" } }"#).unwrap();
        assert!(matches!(
            s.action,
            Action::ExpectUrl(TextMatch::Contains(_))
        ));
        let s = step(r#"{ press = "Enter" }"#).unwrap();
        assert!(matches!(s.action, Action::Press { ref chars, .. } if chars == "\u{e007}"));
    }

    #[test]
    fn rejects_steps_that_cannot_run() {
        assert!(
            step(r#"{ click = "a", fill = "b" }"#)
                .unwrap_err()
                .contains("click and fill")
        );
        assert!(
            step(r##"{ fill = "#email" }"##)
                .unwrap_err()
                .contains("needs a `value`")
        );
        assert!(
            step(r##"{ expect_text = "#x" }"##)
                .unwrap_err()
                .contains("equals")
        );
        assert!(
            step(r##"{ click = "#x", value = "y" }"##)
                .unwrap_err()
                .contains("does not go with `click`")
        );
        assert!(
            step(r#"{ press = "Hyper" }"#)
                .unwrap_err()
                .contains("unknown key")
        );
        assert!(
            step(r#"{ goto = "ftp://x" }"#)
                .unwrap_err()
                .contains("scheme")
        );
        assert!(
            step(r#"{ clik = "a" }"#)
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(
            step(r#"{ click = "text=" }"#)
                .unwrap_err()
                .contains("empty selector")
        );
    }

    #[test]
    fn xpath_literals_survive_quotes() {
        assert_eq!(xpath_literal("Sign up"), "'Sign up'");
        assert_eq!(xpath_literal("it's"), "\"it's\"");
        assert_eq!(xpath_literal("a'b\"c"), "concat('a', \"'\", 'b\"c')");
    }

    #[test]
    fn fill_descriptions_hide_secret_values() {
        let s = step(r##"{ fill = "#pw", value = "hunter2", secret = true }"##).unwrap();
        assert!(!s.action.describe().contains("hunter2"));
    }
}
