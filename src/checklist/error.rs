//! Checklist errors, rendered once with `file:line:col` and a caret under the spot.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use crate::redact::Redactor;
use crate::syntax::{ItemErrorKind, did_you_mean};

/// What is wrong with a checklist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecklistErrorKind {
    #[error("cannot read the checklist: {message}")]
    Read { message: String },
    /// Syntax, type and unknown-key errors found while reading the TOML.
    #[error("{message}")]
    Toml {
        message: String,
        suggestion: Option<String>,
    },
    #[error("unknown item `{need}` in `needs`{}", did_you_mean(suggestion))]
    UnknownNeed {
        need: String,
        suggestion: Option<String>,
    },
    #[error("item `{id}` needs itself")]
    SelfNeed { id: String },
    #[error("`needs` form a cycle: {}", cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },
    #[error(
        "the checklist has no items: add a table such as `[http.health]` with a `url`, or `[command.tests]` with a `run`"
    )]
    Empty,
    #[error("invalid name `{name}`: names may use ASCII letters, digits, `-` and `_`")]
    InvalidName { name: String },
    #[error(
        "var `{var}`: environment variable `{env}` is not set (set it, or give the var a `default`)"
    )]
    UnsetVarEnv { var: String, env: String },
    #[error("var `{var}` needs either `value` or `env`")]
    EmptyVar { var: String },
    #[error("`ready` needs exactly one of `http` or `tcp`")]
    Readiness,
    #[error("`jobs` must be at least 1")]
    ZeroJobs,
    #[error("waiver for unknown item `{id}`{}", did_you_mean(suggestion))]
    UnknownWaiver {
        id: String,
        suggestion: Option<String>,
    },
    #[error(
        "`until` {until} is more than {max_days} days from today: a waiver may last at most {max_days} days (`[checklist] max_waiver`)"
    )]
    WaiverTooLong { until: String, max_days: i64 },
    #[error(
        "`--var {name}=...` names no var of the checklist{}",
        did_you_mean(suggestion)
    )]
    UnknownOverride {
        name: String,
        suggestion: Option<String>,
    },
    /// A kind's own check of its table ([`crate::checks::Check::validate`]).
    #[error(transparent)]
    Item(#[from] ItemErrorKind),
    #[error("{message}")]
    Invalid { message: String },
    #[error("`include` must be a file path or a list of them, like [\"common.toml\"]")]
    BadInclude,
    #[error("cannot read included file `{include}`: {message}")]
    IncludeRead { include: String, message: String },
    #[error("`include` forms a cycle: {}", cycle.join(" -> "))]
    IncludeCycle { cycle: Vec<String> },
    #[error("`[{key}]` belongs in the main checklist, not in an included file")]
    MainOnly { key: String },
    #[error("`{what}` is defined twice; first at {first}")]
    Duplicate { what: String, first: String },
    #[error("{}", unknown_profile(name, known))]
    UnknownProfile { name: String, known: Vec<String> },
    #[error("expected a table here, like `[profile.staging.vars]`")]
    ProfileNotTable,
    #[error(
        "unknown key `{key}` in profile `{profile}`: a profile holds `vars`, `checklist`, `service.NAME` and item tables{}",
        did_you_mean(&crate::suggest::closest(key, PROFILE_KEYS.iter().copied()))
    )]
    ProfileKey { profile: String, key: String },
    #[error(
        "profile `{}` overrides `{}`, which the checklist does not define{}",
        .0.profile,
        .0.what,
        did_you_mean(&.0.suggestion)
    )]
    UnknownProfileTarget(Box<ProfileTarget>),
}

/// What a profile may override at its top: `vars`, `checklist`, `service` and the kinds.
pub static PROFILE_KEYS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    ["vars", "checklist", "service"]
        .into_iter()
        .chain(crate::checks::KINDS.iter().copied())
        .collect()
});

/// A profile's table for an item or service the checklist does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileTarget {
    pub profile: String,
    /// `kind.name` or `service.name`.
    pub what: String,
    pub suggestion: Option<String>,
}

fn unknown_profile(name: &str, known: &[String]) -> String {
    let suggestion = crate::suggest::closest(name, known.iter().map(String::as_str));
    if known.is_empty() {
        return format!("unknown profile `{name}`: the checklist defines no `[profile.NAME]`");
    }
    let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "unknown profile `{name}`{} (profiles: {})",
        did_you_mean(&suggestion),
        known.join(", ")
    )
}

/// A [`ChecklistErrorKind`] located in a file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render(false))]
pub struct ChecklistError {
    pub path: Arc<std::path::Path>,
    pub source_text: Option<Arc<str>>,
    pub span: Option<Range<usize>>,
    pub kind: ChecklistErrorKind,
    /// The secrets known when the error happened: nothing rendered shows them.
    pub redactor: Arc<Redactor>,
}

impl ChecklistError {
    /// 1-based line and column (in characters) of the error, when it has a place.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let (text, span) = (self.source_text.as_deref()?, self.span.as_ref()?);
        Some(line_col(text, span.start))
    }

    /// The dotted key the error is in, e.g. `http.health.timeout`.
    pub fn key_path(&self) -> Option<String> {
        key_path_at(self.source_text.as_deref()?, self.span.as_ref()?.start)
    }

    /// The full diagnostic: message, `file:line:col`, the line with a caret, key and hint.
    /// Secrets and URL userinfo are redacted, control characters escaped, huge lines cut.
    pub fn render(&self, color: bool) -> String {
        let (red, blue, bold, reset) = if color {
            ("\x1b[1;31m", "\x1b[1;34m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let message = shorten(
            &printable(&self.redactor.redact(&self.kind.to_string())),
            1000,
        );
        let mut out = format!("{red}error{reset}{bold}: {message}{reset}\n");
        let path = printable(&self.path.display().to_string());
        let (Some(text), Some(span), Some((line, col))) = (
            self.source_text.as_deref(),
            self.span.as_ref(),
            self.line_col(),
        ) else {
            let _ = writeln!(out, "  {blue}-->{reset} {path}");
            return out;
        };
        let src_line = text.lines().nth(line - 1).unwrap_or("");
        let width = line.to_string().len();
        let pad = " ".repeat(width);
        let _ = writeln!(out, "{pad}{blue}-->{reset} {path}:{line}:{col}");
        let _ = writeln!(out, "{pad} {blue}|{reset}");
        let span_chars = text
            .get(
                floor_char_boundary(text, span.start)
                    ..floor_char_boundary(text, span.end.max(span.start)),
            )
            .map(|s| s.chars().take_while(|c| *c != '\n').count())
            .unwrap_or(1);
        let (shown, caret_col, carets) = snippet(src_line, col, span_chars);
        let redacted = self.redactor.redact(&shown);
        let _ = writeln!(out, "{blue}{line} |{reset} {redacted}");
        // Redaction moves the characters: a caret would point at the wrong place.
        if redacted == shown {
            let _ = writeln!(
                out,
                "{pad} {blue}|{reset} {}{red}{}{reset}",
                " ".repeat(caret_col - 1),
                "^".repeat(carets)
            );
        }
        if let Some(key) = self.key_path() {
            let _ = writeln!(
                out,
                "{pad} {blue}={reset} in `{}`",
                shorten(&printable(&key), 120)
            );
        }
        if let ChecklistErrorKind::Toml {
            suggestion: Some(s),
            ..
        } = &self.kind
        {
            let _ = writeln!(
                out,
                "{pad} {blue}={reset} help: did you mean `{}`?",
                printable(s)
            );
        }
        out
    }
}

/// How much of a source line an error shows around its column.
const SNIPPET_CONTEXT: usize = 60;

/// The part of `line` shown under an error (all of it, or a window around `col` when it is
/// long), with control characters escaped; the caret's column in it and the number of carets.
fn snippet(line: &str, col: usize, span_chars: usize) -> (String, usize, usize) {
    let chars: Vec<char> = line.chars().collect();
    let from = if chars.len() > 2 * SNIPPET_CONTEXT + 40 {
        (col - 1).saturating_sub(SNIPPET_CONTEXT)
    } else {
        0
    };
    let to = if chars.len() > 2 * SNIPPET_CONTEXT + 40 {
        (col - 1 + span_chars.min(SNIPPET_CONTEXT) + SNIPPET_CONTEXT).min(chars.len())
    } else {
        chars.len()
    };
    let mut shown = String::new();
    if from > 0 {
        shown.push('…');
    }
    let before: String = chars[from..(col - 1).min(chars.len()).max(from)]
        .iter()
        .collect();
    let before = printable(&before);
    let caret_col = shown.chars().count() + before.chars().count() + 1;
    shown.push_str(&before);
    let rest: String = chars[(col - 1).min(chars.len()).max(from)..to]
        .iter()
        .collect();
    let rest = printable(&rest);
    let carets = span_chars
        .clamp(1, rest.chars().count().max(1))
        .min(SNIPPET_CONTEXT);
    shown.push_str(&rest);
    if to < chars.len() {
        shown.push('…');
    }
    (shown, caret_col, carets)
}

/// `s` with control characters (but newline and tab) written as `\u{1b}`: an error message
/// must not move the cursor, set the terminal's title or ring its bell.
pub fn printable(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Each line of `s` cut to about `max` characters, keeping its start and end.
pub fn shorten(s: &str, max: usize) -> String {
    s.split('\n')
        .map(|line| {
            let n = line.chars().count();
            if n <= max {
                return line.to_string();
            }
            let head: String = line.chars().take(max * 2 / 3).collect();
            let tail: String = line.chars().skip(n - max / 4).collect();
            format!("{head}…[{} characters]…{tail}", n - max * 2 / 3 - max / 4)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `path:line:col` of byte `offset` in `text`.
pub fn place(path: &std::path::Path, text: &str, offset: usize) -> String {
    let (line, col) = line_col(text, offset);
    format!("{}:{line}:{col}", path.display())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_char_boundary(text, offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Builds the error for a TOML deserialization failure (its message, and its span in `text`),
/// with a did-you-mean for unknown keys.
pub(crate) fn from_toml(
    path: Arc<std::path::Path>,
    text: Arc<str>,
    message: &str,
    span: Option<Range<usize>>,
) -> ChecklistError {
    let raw = message.trim().to_string();
    let span = span.map(|span| narrow_to_reference(&text, span, &raw));
    let key = span
        .as_ref()
        .and_then(|s| key_path_at(&text, s.start))
        .and_then(|k| k.rsplit('.').next().map(str::to_string));
    let message = type_error_in_words(&raw, key.as_deref()).unwrap_or_else(|| {
        raw.replace("unknown field", "unknown key")
            .replace("missing field", "missing key")
    });
    let suggestion = unknown_key_suggestion(&raw);
    ChecklistError {
        path,
        source_text: Some(text),
        span,
        kind: ChecklistErrorKind::Toml {
            message,
            suggestion,
        },
        redactor: Arc::default(),
    }
}

/// serde's "invalid type: string "200", expected u16" in words a checklist author knows:
/// "expected an HTTP status number like 200, found the string "200"", with a hint when the
/// value is right but written as the wrong type (a quoted number, `"yes"`, a lone string).
fn type_error_in_words(message: &str, key: Option<&str>) -> Option<String> {
    // toml's own words for an enum given a number, a boolean or an array.
    if message == "wanted string or table" {
        return Some("expected one of the names in quotes (a string), found another type".into());
    }
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))?;
    // serde writes "{found}, expected {expected}"; a found string may itself hold ", expected ".
    let (found, expected) = rest.rsplit_once(", expected ")?;
    let number = |n: &str| n.parse::<f64>().is_ok();
    let expected_words = match (key, expected) {
        (Some("status"), _) => "an HTTP status number like 200".to_string(),
        (Some("exit_code"), _) => "an exit code number like 0".to_string(),
        (_, "u8" | "u16" | "u32" | "u64" | "usize") => "a whole number (0 or more)".to_string(),
        (_, "i8" | "i16" | "i32" | "i64" | "isize") => "a whole number".to_string(),
        (_, "f32" | "f64") => "a number".to_string(),
        (_, "a sequence") => "an array like [\"a\", \"b\"]".to_string(),
        (_, "a boolean") => "`true` or `false`".to_string(),
        (_, "a string") => "a string in quotes".to_string(),
        (_, "a map") => "a table like { key = \"value\" }".to_string(),
        (_, e) if e.starts_with("struct ") => "a table like { key = \"value\" }".to_string(),
        (_, e) => e.to_string(),
    };
    let (found_words, hint) = if let Some(s) = found.strip_prefix("string ") {
        let inner = s.trim_matches('"');
        let hint = match expected {
            _ if expected_words.contains("number") && number(inner) => {
                format!(": write `{inner}` without quotes")
            }
            "a boolean" if matches!(inner, "true" | "false") => {
                format!(": write `{inner}` without quotes")
            }
            "a boolean" => ": write `true` or `false` without quotes".to_string(),
            "a sequence" => format!(": write [{s}] for one"),
            _ => String::new(),
        };
        (format!("the string {s}"), hint)
    } else if let Some(n) = found
        .strip_prefix("integer `")
        .or_else(|| found.strip_prefix("floating point `"))
    {
        (
            format!("the number {}", n.trim_end_matches('`')),
            String::new(),
        )
    } else if let Some(b) = found.strip_prefix("boolean ") {
        (b.to_string(), String::new())
    } else {
        let found = match found {
            "sequence" => "an array",
            "map" => "a table",
            other => other,
        };
        (found.to_string(), String::new())
    };
    Some(format!(
        "expected {expected_words}, found {found_words}{hint}"
    ))
}

/// Points a template error at the `${` inside the string rather than at the whole string.
fn narrow_to_reference(text: &str, span: Range<usize>, message: &str) -> Range<usize> {
    let name = ["unknown variable `", "environment variable `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    let (Some(name), Some(slice)) = (name, text.get(span.clone())) else {
        return span;
    };
    let needle = if message.starts_with("environment") {
        format!("env:{name}")
    } else {
        name.to_string()
    };
    let mut from = 0;
    while let Some(at) = slice[from..].find("${") {
        let start = from + at;
        if slice[start + 2..].trim_start().starts_with(&needle) {
            let end = slice[start..]
                .find('}')
                .map(|e| start + e + 1)
                .unwrap_or(slice.len());
            return span.start + start..span.start + end;
        }
        from = start + 2;
    }
    span
}

/// From "unknown field `statuss`, expected one of `a`, `b`" (serde's wording) the closest candidate.
fn unknown_key_suggestion(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (word, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    crate::suggest::closest(word, candidates)
}

/// The dotted key at byte `offset`: the nearest `[table]` header above it plus the key on its
/// line (or the nearest `key =` above, for multi-line values). A display aid, so a heuristic.
pub fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let offset = floor_char_boundary(text, offset);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut key: Option<String> = None;
    let mut header: Option<String> = None;
    let lines_up = text[..line_start].lines().rev();
    let current = text[line_start..].lines().next().unwrap_or("");
    for (i, line) in std::iter::once(current).chain(lines_up).enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix('[') {
            let h = h.trim_start_matches('[');
            if let Some(end) = h.find(']') {
                header = Some(unquote_path(&h[..end]));
                break;
            }
        }
        if key.is_none()
            && !t.starts_with('#')
            && let Some((k, _)) = t.split_once('=')
        {
            let k = k.trim();
            if !k.is_empty() && !k.contains(['{', '[', '"']) || k.starts_with('"') {
                key = Some(unquote_path(k));
            }
        }
        if i > 200 {
            break;
        }
    }
    match (header, key) {
        (Some(h), Some(k)) => Some(format!("{h}.{k}")),
        (Some(h), None) => Some(h),
        (None, Some(k)) => Some(k),
        (None, None) => None,
    }
}

fn unquote_path(p: &str) -> String {
    p.split('.')
        .map(|part| part.trim().trim_matches(['"', '\'']))
        .collect::<Vec<_>>()
        .join(".")
}
