//! Checklist errors, rendered once with `file:line:col` and a caret under the spot.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

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
    #[error("invalid name `{name}`: names may use letters, digits, `-` and `_`")]
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
    /// A kind's own check of its table ([`crate::checks::Check::validate`]).
    #[error(transparent)]
    Item(#[from] ItemErrorKind),
    #[error("{message}")]
    Invalid { message: String },
}

/// A [`ChecklistErrorKind`] located in a file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render(false))]
pub struct ChecklistError {
    pub path: PathBuf,
    pub source_text: Option<Arc<str>>,
    pub span: Option<Range<usize>>,
    pub kind: ChecklistErrorKind,
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
    pub fn render(&self, color: bool) -> String {
        let (red, blue, bold, reset) = if color {
            ("\x1b[1;31m", "\x1b[1;34m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let mut out = format!("{red}error{reset}{bold}: {}{reset}\n", self.kind);
        let path = self.path.display();
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
        let _ = writeln!(out, "{blue}{line} |{reset} {src_line}");
        let line_chars = src_line.chars().count();
        let span_chars = text
            .get(
                floor_char_boundary(text, span.start)
                    ..floor_char_boundary(text, span.end.max(span.start)),
            )
            .map(|s| s.chars().take_while(|c| *c != '\n').count())
            .unwrap_or(1);
        let carets = span_chars.clamp(1, line_chars.saturating_sub(col - 1).max(1));
        let _ = writeln!(
            out,
            "{pad} {blue}|{reset} {}{red}{}{reset}",
            " ".repeat(col - 1),
            "^".repeat(carets)
        );
        if let Some(key) = self.key_path() {
            let _ = writeln!(out, "{pad} {blue}={reset} in `{key}`");
        }
        if let ChecklistErrorKind::Toml {
            suggestion: Some(s),
            ..
        } = &self.kind
        {
            let _ = writeln!(out, "{pad} {blue}={reset} help: did you mean `{s}`?");
        }
        out
    }
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

/// Builds the error for a TOML deserialization failure, with a did-you-mean for unknown keys.
pub(crate) fn from_toml(path: PathBuf, text: Arc<str>, err: &toml::de::Error) -> ChecklistError {
    let raw = err.message().trim().to_string();
    let message = raw
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key");
    let suggestion = unknown_key_suggestion(&raw);
    let span = err
        .span()
        .map(|span| narrow_to_reference(&text, span, &raw));
    ChecklistError {
        path,
        source_text: Some(text),
        span,
        kind: ChecklistErrorKind::Toml {
            message,
            suggestion,
        },
    }
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
