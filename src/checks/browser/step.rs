//! What a journey step is: its action, what it acts on, and what it expects. Read from the
//! checklist by [`super::parse`]; run by [`super::actions`] and [`super::expect`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use thirtyfour::By;

/// The variables a step's values may use that get a value per run: `${run}` (1, 2, ...) and
/// `${unique}` (a short random id, new for every run and attempt).
pub const RUN_VARS: &[&str] = &["run", "unique"];

/// The values of [`RUN_VARS`] for one run.
#[derive(Debug, Clone)]
pub struct RunVars {
    pub run: u32,
    pub unique: String,
}

impl RunVars {
    pub fn new(run: u32) -> RunVars {
        RunVars {
            run,
            unique: unique_id(),
        }
    }

    pub fn expand(&self, text: &str) -> String {
        text.replace("${run}", &self.run.to_string())
            .replace("${unique}", &self.unique)
    }

    /// Expands inside a regular expression: the values match literally.
    fn expand_regex(&self, pattern: &str) -> String {
        pattern
            .replace("${run}", &self.run.to_string())
            .replace("${unique}", &regex::escape(&self.unique))
    }
}

/// Whether `text` names a variable of [`RUN_VARS`].
pub fn mentions_run_vars(text: &str) -> bool {
    RUN_VARS.iter().any(|v| text.contains(&format!("${{{v}}}")))
}

/// 8 lowercase letters and digits, from the clock and a counter (no randomness source needed:
/// two runs of one process never get the same one, two processes almost never).
fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finalizer: neighbouring inputs give unrelated outputs.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..8)
        .map(|i| ALPHABET[((x >> (i * 6)) % 36) as usize] as char)
        .collect()
}

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

    fn map(&self, f: &dyn Fn(&str) -> String) -> Selector {
        match self {
            Selector::Css(s) => Selector::Css(f(s)),
            Selector::XPath(s) => Selector::XPath(f(s)),
            Selector::Text(s) => Selector::Text(f(s)),
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
pub struct TextMatch {
    pub how: MatchHow,
    pub ignore_case: bool,
}

#[derive(Debug, Clone)]
pub enum MatchHow {
    Equals(String),
    Contains(String),
    /// `source` as written; `re` compiled from it (with run variables as placeholders until a
    /// run fills them).
    Matches {
        source: String,
        re: regex::Regex,
    },
}

impl TextMatch {
    pub fn equals(text: impl Into<String>) -> TextMatch {
        TextMatch {
            how: MatchHow::Equals(text.into()),
            ignore_case: false,
        }
    }

    /// A `matches` comparison; `${run}`/`${unique}` in `source` are checked with placeholder
    /// values now and filled per run.
    pub fn matches(source: &str, ignore_case: bool) -> Result<TextMatch, String> {
        let placeholder = RunVars {
            run: 1,
            unique: "a0".into(),
        };
        let re = Self::regex(&placeholder.expand_regex(source), ignore_case)
            .map_err(|e| e.replace(&placeholder.expand_regex(source), source))?;
        Ok(TextMatch {
            how: MatchHow::Matches {
                source: source.to_string(),
                re,
            },
            ignore_case,
        })
    }

    /// Compiles `pattern` (case-insensitive with `ignore_case`).
    fn regex(pattern: &str, ignore_case: bool) -> Result<regex::Regex, String> {
        regex::RegexBuilder::new(pattern)
            .case_insensitive(ignore_case)
            .build()
            .map_err(|e| {
                let why = e.to_string();
                let last = why.lines().last().unwrap_or(&why).trim().to_string();
                format!(
                    "invalid regex `{pattern}`: {}",
                    last.trim_start_matches("error: ")
                )
            })
    }

    pub fn holds(&self, got: &str) -> bool {
        let fold = |s: &str| {
            if self.ignore_case {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        match &self.how {
            MatchHow::Equals(w) => fold(got.trim()) == fold(w.trim()),
            MatchHow::Contains(w) => fold(got).contains(&fold(w)),
            MatchHow::Matches { re, .. } => re.is_match(got),
        }
    }

    fn map(&self, vars: &RunVars) -> Result<TextMatch, String> {
        let how = match &self.how {
            MatchHow::Equals(w) => MatchHow::Equals(vars.expand(w)),
            MatchHow::Contains(w) => MatchHow::Contains(vars.expand(w)),
            MatchHow::Matches { source, .. } => MatchHow::Matches {
                source: vars.expand(source),
                re: TextMatch::regex(&vars.expand_regex(source), self.ignore_case)?,
            },
        };
        Ok(TextMatch {
            how,
            ignore_case: self.ignore_case,
        })
    }
}

impl fmt::Display for TextMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.how {
            MatchHow::Equals(w) => write!(f, "to equal `{w}`")?,
            MatchHow::Contains(w) => write!(f, "to contain `{w}`")?,
            MatchHow::Matches { source, .. } => write!(f, "to match `{source}`")?,
        }
        if self.ignore_case {
            f.write_str(" (ignoring case)")?;
        }
        Ok(())
    }
}

/// How many elements `expect_count` wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Equals(usize),
    AtLeast(usize),
    AtMost(usize),
}

impl Count {
    pub fn holds(&self, n: usize) -> bool {
        match *self {
            Count::Equals(w) => n == w,
            Count::AtLeast(w) => n >= w,
            Count::AtMost(w) => n <= w,
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Equals(n) => write!(f, "exactly {n}"),
            Count::AtLeast(n) => write!(f, "at least {n}"),
            Count::AtMost(n) => write!(f, "at most {n}"),
        }
    }
}

/// Which window `switch_to_window` goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowRef {
    /// 1 is the window the journey started in, 2 the next one opened, ...
    Index(usize),
    /// The window whose title contains this.
    Title(String),
    /// The window whose URL contains this.
    Url(String),
}

impl fmt::Display for WindowRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowRef::Index(n) => write!(f, "{n}"),
            WindowRef::Title(t) => write!(f, "titled `{t}`"),
            WindowRef::Url(u) => write!(f, "with URL `{u}`"),
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
    /// Where the step is written in the checklist.
    pub span: Option<Range<usize>>,
    /// Its values name `${run}` or `${unique}`.
    pub per_run: bool,
}

impl Step {
    /// The step as one run executes it: [`RUN_VARS`] filled in.
    pub fn for_run(&self, vars: &RunVars) -> Result<Cow<'_, Step>, String> {
        if !self.per_run {
            return Ok(Cow::Borrowed(self));
        }
        Ok(Cow::Owned(Step {
            action: self.action.for_run(vars)?,
            ..self.clone()
        }))
    }
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// An absolute URL, or a path joined to `[browser] base_url`.
    Goto(String),
    Click(Selector),
    DoubleClick(Selector),
    Hover(Selector),
    Fill {
        target: Selector,
        value: String,
        secret: bool,
    },
    Select {
        target: Selector,
        option: String,
    },
    /// `check` (`on`) / `uncheck` a checkbox, radio button or ARIA checkbox/switch.
    Check {
        target: Selector,
        on: bool,
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
    ExpectValue {
        target: Selector,
        want: TextMatch,
    },
    /// No `want`: the attribute is present.
    ExpectAttribute {
        target: Selector,
        name: String,
        want: Option<TextMatch>,
    },
    ExpectCount {
        target: Selector,
        count: Count,
    },
    ExpectUrl(TextMatch),
    ExpectTitle(TextMatch),
    ExpectVisible(Selector),
    ExpectAbsent(Selector),
    SwitchToWindow(WindowRef),
    WithinFrame(Selector),
    LeaveFrame,
    /// `accept_dialog` / `dismiss_dialog`; `value` is typed into a prompt.
    Dialog {
        accept: bool,
        want: Option<TextMatch>,
        value: Option<String>,
    },
    Screenshot(String),
}

impl Action {
    /// The step's key in the checklist (`click`, `expect_text`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Goto(_) => "goto",
            Action::Click(_) => "click",
            Action::DoubleClick(_) => "double_click",
            Action::Hover(_) => "hover",
            Action::Fill { .. } => "fill",
            Action::Select { .. } => "select",
            Action::Check { on: true, .. } => "check",
            Action::Check { on: false, .. } => "uncheck",
            Action::Press { .. } => "press",
            Action::WaitFor { .. } => "wait_for",
            Action::ExpectText { .. } => "expect_text",
            Action::ExpectValue { .. } => "expect_value",
            Action::ExpectAttribute { .. } => "expect_attribute",
            Action::ExpectCount { .. } => "expect_count",
            Action::ExpectUrl(_) => "expect_url",
            Action::ExpectTitle(_) => "expect_title",
            Action::ExpectVisible(_) => "expect_visible",
            Action::ExpectAbsent(_) => "expect_absent",
            Action::SwitchToWindow(_) => "switch_to_window",
            Action::WithinFrame(_) => "within_frame",
            Action::LeaveFrame => "leave_frame",
            Action::Dialog { accept: true, .. } => "accept_dialog",
            Action::Dialog { accept: false, .. } => "dismiss_dialog",
            Action::Screenshot(_) => "screenshot",
        }
    }

    /// What the step acts on, for reports (`#email`, the URL, the key).
    pub fn target(&self) -> String {
        match self {
            Action::Goto(u) => u.clone(),
            Action::Click(s)
            | Action::DoubleClick(s)
            | Action::Hover(s)
            | Action::Fill { target: s, .. }
            | Action::Select { target: s, .. }
            | Action::Check { target: s, .. }
            | Action::WaitFor { target: s, .. }
            | Action::ExpectText { target: s, .. }
            | Action::ExpectValue { target: s, .. }
            | Action::ExpectCount { target: s, .. }
            | Action::ExpectVisible(s)
            | Action::ExpectAbsent(s)
            | Action::WithinFrame(s) => s.to_string(),
            Action::ExpectAttribute { target, name, .. } => format!("{target} [{name}]"),
            Action::Press { key, target, .. } => match target {
                Some(t) => format!("{key} in {t}"),
                None => key.clone(),
            },
            Action::ExpectUrl(m) | Action::ExpectTitle(m) => m.to_string(),
            Action::SwitchToWindow(w) => w.to_string(),
            Action::LeaveFrame => String::new(),
            Action::Dialog { want, .. } => want.as_ref().map(|w| w.to_string()).unwrap_or_default(),
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
            Action::ExpectAttribute { target, name, .. } => {
                format!("expect_attribute `{name}` of `{target}`")
            }
            Action::WaitFor { target, state } => format!(
                "wait_for `{target}` {}",
                format!("{state:?}").to_lowercase()
            ),
            Action::SwitchToWindow(w) => format!("switch_to_window {w}"),
            Action::LeaveFrame => "leave_frame".into(),
            Action::Dialog { want: None, .. } => self.name().into(),
            Action::Dialog { want: Some(w), .. } => format!("{} {w}", self.name()),
            a => format!("{} `{}`", a.name(), a.target()),
        }
    }

    fn for_run(&self, vars: &RunVars) -> Result<Action, String> {
        let s = |t: &str| vars.expand(t);
        let sel = |t: &Selector| t.map(&s);
        Ok(match self {
            Action::Goto(u) => Action::Goto(s(u)),
            Action::Click(t) => Action::Click(sel(t)),
            Action::DoubleClick(t) => Action::DoubleClick(sel(t)),
            Action::Hover(t) => Action::Hover(sel(t)),
            Action::Fill {
                target,
                value,
                secret,
            } => Action::Fill {
                target: sel(target),
                value: s(value),
                secret: *secret,
            },
            Action::Select { target, option } => Action::Select {
                target: sel(target),
                option: s(option),
            },
            Action::Check { target, on } => Action::Check {
                target: sel(target),
                on: *on,
            },
            Action::Press { key, chars, target } => Action::Press {
                key: key.clone(),
                chars: chars.clone(),
                target: target.as_ref().map(sel),
            },
            Action::WaitFor { target, state } => Action::WaitFor {
                target: sel(target),
                state: *state,
            },
            Action::ExpectText { target, want } => Action::ExpectText {
                target: sel(target),
                want: want.map(vars)?,
            },
            Action::ExpectValue { target, want } => Action::ExpectValue {
                target: sel(target),
                want: want.map(vars)?,
            },
            Action::ExpectAttribute { target, name, want } => Action::ExpectAttribute {
                target: sel(target),
                name: s(name),
                want: want.as_ref().map(|w| w.map(vars)).transpose()?,
            },
            Action::ExpectCount { target, count } => Action::ExpectCount {
                target: sel(target),
                count: *count,
            },
            Action::ExpectUrl(m) => Action::ExpectUrl(m.map(vars)?),
            Action::ExpectTitle(m) => Action::ExpectTitle(m.map(vars)?),
            Action::ExpectVisible(t) => Action::ExpectVisible(sel(t)),
            Action::ExpectAbsent(t) => Action::ExpectAbsent(sel(t)),
            Action::SwitchToWindow(w) => Action::SwitchToWindow(match w {
                WindowRef::Index(n) => WindowRef::Index(*n),
                WindowRef::Title(t) => WindowRef::Title(s(t)),
                WindowRef::Url(u) => WindowRef::Url(s(u)),
            }),
            Action::WithinFrame(t) => Action::WithinFrame(sel(t)),
            Action::LeaveFrame => Action::LeaveFrame,
            Action::Dialog {
                accept,
                want,
                value,
            } => Action::Dialog {
                accept: *accept,
                want: want.as_ref().map(|w| w.map(vars)).transpose()?,
                value: value.as_deref().map(s),
            },
            Action::Screenshot(n) => Action::Screenshot(s(n)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xpath_literals_survive_quotes() {
        assert_eq!(xpath_literal("Sign up"), "'Sign up'");
        assert_eq!(xpath_literal("it's"), "\"it's\"");
        assert_eq!(xpath_literal("a'b\"c"), "concat('a', \"'\", 'b\"c')");
    }

    #[test]
    fn run_vars_fill_values_and_match_literally_in_regexes() {
        let vars = RunVars {
            run: 2,
            unique: "a.b".into(),
        };
        assert_eq!(vars.expand("u-${run}-${unique}"), "u-2-a.b");
        let m = TextMatch::matches("^U-${run}-${unique}$", true).expect("valid");
        let m = m.map(&vars).expect("per run");
        assert!(m.holds("u-2-a.b"));
        assert!(!m.holds("u-2-axb"), "the value matches literally");
        assert_eq!(m.to_string(), "to match `^U-2-a.b$` (ignoring case)");
        assert!(
            TextMatch::matches("(${run}", false)
                .unwrap_err()
                .contains("`(${run}`")
        );
    }

    #[test]
    fn unique_ids_differ_and_are_short() {
        let a = RunVars::new(1).unique;
        let b = RunVars::new(1).unique;
        assert_ne!(a, b);
        assert_eq!(a.len(), 8);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn text_matches_can_ignore_case() {
        let mut m = TextMatch {
            how: MatchHow::Contains("spring SALE".into()),
            ignore_case: true,
        };
        assert!(m.holds("Featured: Spring Sale"));
        assert_eq!(m.to_string(), "to contain `spring SALE` (ignoring case)");
        m.ignore_case = false;
        assert!(!m.holds("Featured: Spring Sale"));
    }
}
