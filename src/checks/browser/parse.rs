//! Reading a step from the checklist: exactly one action key, the keys that go with it, and
//! every value checked before anything runs.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use toml::Spanned;

use super::keys::key_chars;
use super::step::{
    Action, Count, RUN_VARS, Selector, Step, TextMatch, WaitState, WindowRef, mentions_run_vars,
};
use crate::syntax::{Dur, Template};

/// Every action key, in the order the README lists them.
const ACTIONS: &[&str] = &[
    "goto",
    "click",
    "double_click",
    "hover",
    "fill",
    "select",
    "check",
    "uncheck",
    "press",
    "wait_for",
    "expect_text",
    "expect_value",
    "expect_attribute",
    "expect_count",
    "expect_url",
    "expect_title",
    "expect_visible",
    "expect_absent",
    "switch_to_window",
    "within_frame",
    "leave_frame",
    "accept_dialog",
    "dismiss_dialog",
    "screenshot",
];

/// A step as written: one action key plus the keys that go with it. Values that take several
/// shapes (`expect_url = "..."` or `{ contains = "..." }`) stay TOML values until the action
/// is known, so their errors name the key.
#[derive(Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawStep {
    goto: Option<Template>,
    click: Option<Template>,
    double_click: Option<Template>,
    hover: Option<Template>,
    fill: Option<Template>,
    value: Option<Template>,
    /// Mask the filled value in every report even when it is not a secret var.
    secret: Option<bool>,
    select: Option<Template>,
    option: Option<Template>,
    check: Option<Template>,
    uncheck: Option<Template>,
    press: Option<Template>,
    /// For `press`: the element to send the key to (default: the focused one).
    into: Option<Template>,
    wait_for: Option<Template>,
    state: Option<WaitState>,
    expect_text: Option<Template>,
    expect_value: Option<Template>,
    expect_attribute: Option<Template>,
    name: Option<Template>,
    expect_count: Option<Template>,
    #[schemars(with = "Option<serde_json::Value>")]
    equals: Option<toml::Value>,
    contains: Option<Template>,
    matches: Option<Template>,
    ignore_case: Option<bool>,
    at_least: Option<u32>,
    at_most: Option<u32>,
    #[schemars(with = "Option<serde_json::Value>")]
    expect_url: Option<toml::Value>,
    #[schemars(with = "Option<serde_json::Value>")]
    expect_title: Option<toml::Value>,
    expect_visible: Option<Template>,
    expect_absent: Option<Template>,
    #[schemars(with = "Option<serde_json::Value>")]
    switch_to_window: Option<toml::Value>,
    within_frame: Option<Template>,
    leave_frame: Option<bool>,
    #[schemars(with = "Option<serde_json::Value>")]
    accept_dialog: Option<toml::Value>,
    #[schemars(with = "Option<serde_json::Value>")]
    dismiss_dialog: Option<toml::Value>,
    screenshot: Option<Template>,
    timeout: Option<Dur>,
}

/// `{ equals = "...", contains = "...", matches = "...", ignore_case = true }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchTable {
    equals: Option<toml::Value>,
    contains: Option<Template>,
    matches: Option<Template>,
    ignore_case: Option<bool>,
}

/// `switch_to_window = { title = "..." }` or `{ url = "..." }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowTable {
    title: Option<Template>,
    url: Option<Template>,
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
        // Values kept as TOML values are expanded in `into_step`: inside the same scope.
        crate::syntax::template::with_runtime_vars(RUN_VARS, || {
            let parsed = Spanned::<ParsedStep>::deserialize(d)?;
            let span = parsed.span();
            let mut step = parsed.into_inner().0;
            step.span = Some(span);
            Ok(step)
        })
    }
}

/// A step checked while its table is being read, so that an error points at the step.
struct ParsedStep(Step);

impl<'de> Deserialize<'de> for ParsedStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = ParsedStep;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a step: an inline table with one action, like `{ click = \"#pay\" }`")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ParsedStep, A::Error> {
                let raw = RawStep::deserialize(de::value::MapAccessDeserializer::new(map))?;
                raw.into_step().map(ParsedStep).map_err(de::Error::custom)
            }
        }
        d.deserialize_map(V)
    }
}

/// A TOML value read as a template string (numbers and booleans as written).
fn text(v: toml::Value, key: &str) -> Result<Template, String> {
    match v {
        toml::Value::Integer(i) => Ok(Template::new(i.to_string())),
        toml::Value::Float(f) => Ok(Template::new(f.to_string())),
        toml::Value::Boolean(b) => Ok(Template::new(b.to_string())),
        toml::Value::String(_) => Template::deserialize(v).map_err(|e| e.message().to_string()),
        other => Err(format!(
            "`{key}` takes a string here, not a {}",
            other.type_str()
        )),
    }
}

fn table<T: for<'a> Deserialize<'a>>(v: toml::Value, key: &str) -> Result<T, String> {
    T::deserialize(v).map_err(|e| format!("in `{key}`: {}", e.message()))
}

fn text_match(
    equals: Option<toml::Value>,
    contains: Option<Template>,
    matches: Option<Template>,
    ignore_case: bool,
    what: &str,
) -> Result<Option<TextMatch>, String> {
    let equals = equals.map(|v| text(v, "equals")).transpose()?;
    let how = match (equals, contains, matches) {
        (None, None, None) => return Ok(None),
        (Some(e), None, None) => TextMatch::equals(e.to_string()),
        (None, Some(c), None) => TextMatch {
            how: super::step::MatchHow::Contains(c.to_string()),
            ignore_case,
        },
        (None, None, Some(m)) => return TextMatch::matches(m.as_str(), ignore_case).map(Some),
        _ => {
            return Err(format!(
                "`{what}` takes only one of `equals`, `contains` or `matches`"
            ));
        }
    };
    Ok(Some(TextMatch { ignore_case, ..how }))
}

fn required_match(m: Option<TextMatch>, what: &str) -> Result<TextMatch, String> {
    m.ok_or_else(|| format!("`{what}` needs one of `equals`, `contains` or `matches`"))
}

/// `expect_url = "..."` (equals) or `expect_url = { contains = "...", ignore_case = true }`.
fn spec_match(spec: toml::Value, what: &str) -> Result<TextMatch, String> {
    match spec {
        toml::Value::Table(_) => {
            let t: MatchTable = table(spec, what)?;
            let m = text_match(
                t.equals,
                t.contains,
                t.matches,
                t.ignore_case.unwrap_or(false),
                what,
            )?;
            required_match(m, what)
        }
        other => Ok(TextMatch::equals(text(other, what)?.to_string())),
    }
}

fn selector(t: Template) -> Result<Selector, String> {
    Selector::parse(t.as_str())
}

/// A `goto` target: an http(s) URL, or a path (`/products`, `./next`, `?page=2`) that is
/// joined to `[browser] base_url`.
pub fn is_relative_url(url: &str) -> bool {
    url.starts_with('/') || url.starts_with('.') || url.starts_with('?')
}

impl RawStep {
    /// The action keys this step has.
    fn actions(&self) -> Vec<&'static str> {
        let present = [
            self.goto.is_some(),
            self.click.is_some(),
            self.double_click.is_some(),
            self.hover.is_some(),
            self.fill.is_some(),
            self.select.is_some(),
            self.check.is_some(),
            self.uncheck.is_some(),
            self.press.is_some(),
            self.wait_for.is_some(),
            self.expect_text.is_some(),
            self.expect_value.is_some(),
            self.expect_attribute.is_some(),
            self.expect_count.is_some(),
            self.expect_url.is_some(),
            self.expect_title.is_some(),
            self.expect_visible.is_some(),
            self.expect_absent.is_some(),
            self.switch_to_window.is_some(),
            self.within_frame.is_some(),
            self.leave_frame.is_some(),
            self.accept_dialog.is_some(),
            self.dismiss_dialog.is_some(),
            self.screenshot.is_some(),
        ];
        ACTIONS
            .iter()
            .zip(present)
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect()
    }

    /// Whether any value names a per-run variable (checked before they are consumed).
    fn per_run(&self) -> bool {
        let templates = [
            &self.goto,
            &self.click,
            &self.double_click,
            &self.hover,
            &self.fill,
            &self.value,
            &self.select,
            &self.option,
            &self.check,
            &self.uncheck,
            &self.into,
            &self.wait_for,
            &self.expect_text,
            &self.expect_value,
            &self.expect_attribute,
            &self.name,
            &self.expect_count,
            &self.contains,
            &self.matches,
            &self.expect_visible,
            &self.expect_absent,
            &self.within_frame,
            &self.screenshot,
        ];
        let values = [
            &self.equals,
            &self.expect_url,
            &self.expect_title,
            &self.switch_to_window,
            &self.accept_dialog,
            &self.dismiss_dialog,
        ];
        templates
            .iter()
            .any(|t| t.as_ref().is_some_and(|t| mentions_run_vars(t)))
            || values.iter().any(|v| {
                v.as_ref()
                    .is_some_and(|v| mentions_run_vars(&v.to_string()))
            })
    }

    fn into_step(self) -> Result<Step, String> {
        let action = match self.actions().as_slice() {
            [] => {
                return Err(format!("a step needs one action: {}", ACTIONS.join(", ")));
            }
            [one] => *one,
            many => {
                return Err(format!(
                    "a step has one action, this one has {}: split it into steps",
                    many.join(" and ")
                ));
            }
        };
        // Keys that only go with some actions.
        let extra = |key: &str, present: bool, allowed: &[&str]| -> Result<(), String> {
            if present && !allowed.contains(&action) {
                return Err(format!(
                    "`{key}` does not go with `{action}` (it goes with {})",
                    allowed.join(", ")
                ));
            }
            Ok(())
        };
        const COMPARED: &[&str] = &["expect_text", "expect_value", "expect_attribute"];
        extra("value", self.value.is_some(), &["fill", "accept_dialog"])?;
        extra("secret", self.secret.is_some(), &["fill"])?;
        extra("option", self.option.is_some(), &["select"])?;
        extra("into", self.into.is_some(), &["press"])?;
        extra("state", self.state.is_some(), &["wait_for"])?;
        extra("name", self.name.is_some(), &["expect_attribute"])?;
        extra(
            "equals",
            self.equals.is_some(),
            &[
                "expect_text",
                "expect_value",
                "expect_attribute",
                "expect_count",
            ],
        )?;
        extra("contains", self.contains.is_some(), COMPARED)?;
        extra("matches", self.matches.is_some(), COMPARED)?;
        extra("ignore_case", self.ignore_case.is_some(), COMPARED)?;
        extra("at_least", self.at_least.is_some(), &["expect_count"])?;
        extra("at_most", self.at_most.is_some(), &["expect_count"])?;
        let per_run = self.per_run();
        let timeout = self.timeout.map(Dur::get);
        let ignore_case = self.ignore_case.unwrap_or(false);
        let sel = |t: Option<Template>| selector(t.unwrap_or_default());
        let action = match action {
            "goto" => {
                let url = self.goto.unwrap_or_default().to_string();
                if !is_relative_url(&url) {
                    crate::checks::http::parse_http_url(&url).map_err(|e| {
                        format!("{e} (a path like `/products` is joined to `[browser] base_url`)")
                    })?;
                }
                Action::Goto(url)
            }
            "click" => Action::Click(sel(self.click)?),
            "double_click" => Action::DoubleClick(sel(self.double_click)?),
            "hover" => Action::Hover(sel(self.hover)?),
            "fill" => {
                let value = self
                    .value
                    .ok_or("`fill` needs a `value` (the text to type, or the file to upload)")?;
                Action::Fill {
                    target: sel(self.fill)?,
                    value: value.to_string(),
                    secret: self.secret.unwrap_or(false),
                }
            }
            "select" => {
                let option = self
                    .option
                    .ok_or("`select` needs an `option` (its value or visible text)")?;
                Action::Select {
                    target: sel(self.select)?,
                    option: option.to_string(),
                }
            }
            "check" => Action::Check {
                target: sel(self.check)?,
                on: true,
            },
            "uncheck" => Action::Check {
                target: sel(self.uncheck)?,
                on: false,
            },
            "press" => {
                let key = self.press.unwrap_or_default().to_string();
                let chars = key_chars(&key)?;
                let target = self.into.map(selector).transpose()?;
                Action::Press { key, chars, target }
            }
            "wait_for" => Action::WaitFor {
                target: sel(self.wait_for)?,
                state: self.state.unwrap_or(WaitState::Visible),
            },
            "expect_text" | "expect_value" => {
                let want = text_match(
                    self.equals,
                    self.contains,
                    self.matches,
                    ignore_case,
                    action,
                )?;
                let want = required_match(want, action)?;
                if action == "expect_text" {
                    Action::ExpectText {
                        target: sel(self.expect_text)?,
                        want,
                    }
                } else {
                    Action::ExpectValue {
                        target: sel(self.expect_value)?,
                        want,
                    }
                }
            }
            "expect_attribute" => {
                let name = self.name.ok_or(
                    "`expect_attribute` needs the attribute's `name`, like `name = \"aria-expanded\"`",
                )?;
                Action::ExpectAttribute {
                    target: sel(self.expect_attribute)?,
                    name: name.to_string(),
                    want: text_match(
                        self.equals,
                        self.contains,
                        self.matches,
                        ignore_case,
                        action,
                    )?,
                }
            }
            "expect_count" => {
                let equals = match self.equals {
                    None => None,
                    Some(toml::Value::Integer(n)) if n >= 0 => Some(n as usize),
                    Some(_) => {
                        return Err(
                            "`equals` of `expect_count` is a number of elements, like `equals = 3`"
                                .into(),
                        );
                    }
                };
                let count = match (equals, self.at_least, self.at_most) {
                    (Some(n), None, None) => Count::Equals(n),
                    (None, Some(n), None) => Count::AtLeast(n as usize),
                    (None, None, Some(n)) => Count::AtMost(n as usize),
                    (None, None, None) => {
                        return Err(
                            "`expect_count` needs one of `equals`, `at_least` or `at_most`".into(),
                        );
                    }
                    _ => {
                        return Err(
                            "`expect_count` takes only one of `equals`, `at_least` or `at_most`"
                                .into(),
                        );
                    }
                };
                Action::ExpectCount {
                    target: sel(self.expect_count)?,
                    count,
                }
            }
            "expect_url" => Action::ExpectUrl(spec_match(
                self.expect_url.unwrap_or_default_value(),
                action,
            )?),
            "expect_title" => Action::ExpectTitle(spec_match(
                self.expect_title.unwrap_or_default_value(),
                action,
            )?),
            "expect_visible" => Action::ExpectVisible(sel(self.expect_visible)?),
            "expect_absent" => Action::ExpectAbsent(sel(self.expect_absent)?),
            "switch_to_window" => {
                Action::SwitchToWindow(window_ref(self.switch_to_window.unwrap_or_default_value())?)
            }
            "within_frame" => Action::WithinFrame(sel(self.within_frame)?),
            "leave_frame" => {
                if self.leave_frame != Some(true) {
                    return Err(
                        "`leave_frame = true` goes back to the top page; `false` does nothing"
                            .into(),
                    );
                }
                Action::LeaveFrame
            }
            "accept_dialog" | "dismiss_dialog" => {
                let accept = action == "accept_dialog";
                let spec = if accept {
                    self.accept_dialog
                } else {
                    self.dismiss_dialog
                };
                Action::Dialog {
                    accept,
                    want: dialog_match(spec.unwrap_or_default_value(), action)?,
                    value: self.value.map(|v| v.to_string()),
                }
            }
            _ => {
                let name = self.screenshot.unwrap_or_default().to_string();
                if name.trim().is_empty() {
                    return Err("`screenshot` needs a name, like `confirmation`".into());
                }
                Action::Screenshot(name)
            }
        };
        Ok(Step {
            action,
            timeout,
            span: None,
            per_run,
        })
    }
}

/// `Option<toml::Value>` that is known to be present (the action key was seen).
trait PresentValue {
    fn unwrap_or_default_value(self) -> toml::Value;
}

impl PresentValue for Option<toml::Value> {
    fn unwrap_or_default_value(self) -> toml::Value {
        self.unwrap_or(toml::Value::Boolean(true))
    }
}

/// `switch_to_window = 2`, `{ title = "..." }` or `{ url = "..." }`.
fn window_ref(v: toml::Value) -> Result<WindowRef, String> {
    const HOW: &str =
        "a window number (1 is the first), `{ title = \"...\" }` or `{ url = \"...\" }`";
    match v {
        toml::Value::Integer(n) if n >= 1 => Ok(WindowRef::Index(n as usize)),
        toml::Value::Integer(_) => Err(format!(
            "`switch_to_window` windows are numbered from 1 (the first window): use {HOW}"
        )),
        toml::Value::Table(_) => {
            let t: WindowTable = table(v, "switch_to_window")?;
            match (t.title, t.url) {
                (Some(title), None) => Ok(WindowRef::Title(title.to_string())),
                (None, Some(url)) => Ok(WindowRef::Url(url.to_string())),
                _ => Err(format!(
                    "`switch_to_window` takes one of `title` or `url`: use {HOW}"
                )),
            }
        }
        other => Err(format!(
            "`switch_to_window` takes {HOW}, not a {}",
            other.type_str()
        )),
    }
}

/// `accept_dialog = true` (any text), `"text"` (equals) or `{ contains = "..." }`.
fn dialog_match(v: toml::Value, what: &str) -> Result<Option<TextMatch>, String> {
    match v {
        toml::Value::Boolean(true) => Ok(None),
        toml::Value::Boolean(false) => Err(format!(
            "`{what} = false` does nothing: write `{what} = true`, or the text the dialog must show"
        )),
        other => spec_match(other, what).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::super::step::MatchHow;
    use super::*;
    use std::time::Duration;

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
            matches!(s.action, Action::ExpectText { want: TextMatch { how: MatchHow::Contains(ref w), .. }, .. } if w == "Spring Sale")
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
            Action::ExpectUrl(TextMatch {
                how: MatchHow::Contains(_),
                ..
            })
        ));
        let s = step(r#"{ press = "Enter" }"#).unwrap();
        assert!(matches!(s.action, Action::Press { ref chars, .. } if chars == "\u{e007}"));
        assert!(s.span.is_some());
    }

    #[test]
    fn parses_the_steps_real_journeys_need() {
        let s = step(r#"{ expect_count = "li.todo", equals = 3 }"#).unwrap();
        assert!(matches!(
            s.action,
            Action::ExpectCount {
                count: Count::Equals(3),
                ..
            }
        ));
        let s = step(r#"{ expect_count = "li", at_least = 1 }"#).unwrap();
        assert!(matches!(
            s.action,
            Action::ExpectCount {
                count: Count::AtLeast(1),
                ..
            }
        ));
        let s =
            step(r##"{ expect_attribute = "#menu", name = "aria-expanded", equals = "true" }"##)
                .unwrap();
        assert_eq!(
            s.action.describe(),
            "expect_attribute `aria-expanded` of `#menu`"
        );
        let s =
            step(r##"{ expect_text = "h1", equals = "WELCOME", ignore_case = true }"##).unwrap();
        assert!(
            matches!(s.action, Action::ExpectText { ref want, .. } if want.ignore_case && want.holds("Welcome"))
        );
        let s = step(r#"{ switch_to_window = { title = "Help" } }"#).unwrap();
        assert!(matches!(s.action, Action::SwitchToWindow(WindowRef::Title(ref t)) if t == "Help"));
        let s = step(r#"{ switch_to_window = 1 }"#).unwrap();
        assert!(matches!(
            s.action,
            Action::SwitchToWindow(WindowRef::Index(1))
        ));
        let s = step(r#"{ accept_dialog = { contains = "Delete" }, value = "yes" }"#).unwrap();
        assert_eq!(s.action.describe(), "accept_dialog to contain `Delete`");
        let s = step(r#"{ dismiss_dialog = true }"#).unwrap();
        assert!(matches!(
            s.action,
            Action::Dialog {
                accept: false,
                want: None,
                ..
            }
        ));
        let s = step(r#"{ goto = "/products?page=2" }"#).unwrap();
        assert!(matches!(s.action, Action::Goto(ref u) if u == "/products?page=2"));
        let s =
            step(r##"{ fill = "#email", value = "user-${run}-${unique}@example.com" }"##).unwrap();
        assert!(s.per_run);
        assert!(
            !step(r##"{ fill = "#email", value = "a@b" }"##)
                .unwrap()
                .per_run
        );
        let s = step(r#"{ expect_url = { matches = "/u/${unique}$" } }"#).unwrap();
        assert!(s.per_run);
    }

    #[test]
    fn rejects_steps_that_cannot_run() {
        let err = |t: &str| step(t).unwrap_err();
        assert!(err(r#"{ click = "a", fill = "b" }"#).contains("click and fill"));
        assert!(err(r##"{ fill = "#email" }"##).contains("needs a `value`"));
        assert!(err(r##"{ expect_text = "#x" }"##).contains("equals"));
        assert!(err(r##"{ click = "#x", value = "y" }"##).contains("does not go with `click`"));
        assert!(err(r#"{ press = "Hyper" }"#).contains("unknown key"));
        assert!(err(r#"{ press = "Hyper+A" }"#).contains("unknown modifier `Hyper`"));
        assert!(err(r#"{ goto = "ftp://x" }"#).contains("scheme"));
        assert!(err(r#"{ goto = "localhost:8080/x" }"#).contains("base_url"));
        assert!(err(r#"{ clik = "a" }"#).contains("unknown field"));
        assert!(err(r#"{ click = "text=" }"#).contains("empty selector"));
        assert!(err(r#"{ expect_count = "li", equals = "3" }"#).contains("number of elements"));
        assert!(err(r#"{ expect_count = "li" }"#).contains("at_least"));
        assert!(err(r#"{ expect_attribute = "li" }"#).contains("needs the attribute's `name`"));
        assert!(err(r#"{ switch_to_window = 0 }"#).contains("numbered from 1"));
        assert!(err(r#"{ switch_to_window = "Help" }"#).contains("title ="));
        assert!(err(r#"{ switch_to_window = { name = "x" } }"#).contains("unknown field `name`"));
        assert!(err(r#"{ leave_frame = false }"#).contains("does nothing"));
        assert!(err(r#"{ accept_dialog = false }"#).contains("does nothing"));
        assert!(err(r#"{ dismiss_dialog = true, value = "x" }"#).contains("does not go with"));
        assert!(
            err(r#"{ expect_url = { contains = "${bsae}" } }"#).contains("unknown variable `bsae`")
        );
        assert!(err(r#"{ goto = "${unknown}" }"#).contains("unknown variable"));
        assert!(err(r#"{ expect_text = "x", matches = "(${run}" }"#).contains("invalid regex"));
    }

    #[test]
    fn fill_descriptions_hide_secret_values() {
        let s = step(r##"{ fill = "#pw", value = "hunter2", secret = true }"##).unwrap();
        assert!(!s.action.describe().contains("hunter2"));
    }
}
