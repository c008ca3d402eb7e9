//! Text helpers shared by the Ruby and Python reviewers: calls, arguments, strings, lines.

use super::{Danger, Review};
use crate::checks::rollback::sql;

/// `text` with `#` comment lines blanked (lines kept).
pub(super) fn without_hash_comments(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn line_at(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        + 1
}

/// Each call of `name(` in `text`: its byte offset and its argument text (to the matching
/// parenthesis; quotes respected).
pub(super) fn calls<'t>(text: &'t str, name: &str) -> Vec<(usize, &'t str)> {
    let mut out = Vec::new();
    let needle = format!("{name}(");
    let mut from = 0;
    while let Some(pos) = text[from..].find(&needle) {
        let at = from + pos;
        from = at + needle.len();
        // `remove_column(` must not match inside `xremove_column(`.
        if text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let b = text.as_bytes();
        let (mut depth, mut i, mut quote) = (1, from, None::<u8>);
        while i < b.len() && depth > 0 {
            match (quote, b[i]) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), b'\\') => i += 1,
                (Some(_), _) => {}
                (None, q @ (b'"' | b'\'')) => quote = Some(q),
                (None, b'(') => depth += 1,
                (None, b')') => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        // Unclosed call: the rest of the text (never split inside a character).
        let end = if depth == 0 { i - 1 } else { text.len() };
        out.push((at, &text[from..end.max(from)]));
    }
    out
}

/// Top-level (parenthesis depth 0) comma-separated arguments of a call.
pub(super) fn args(call: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut quote) = (0i32, 0, None::<char>);
    for (i, c) in call.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(call[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = call[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// The first string literal in `text` (Python/Ruby quoting, triple quotes included).
pub(super) fn first_string(text: &str) -> Option<(usize, &str)> {
    let start = text.find(['"', '\''])?;
    let q = &text[start..start + 1];
    let triple = q.repeat(3);
    if text[start..].starts_with(&triple) {
        let body = start + 3;
        let end = text[body..].find(&triple)? + body;
        return Some((body, &text[body..end]));
    }
    let body = start + 1;
    let end = text[body..].find(q)? + body;
    Some((body, &text[body..end]))
}

/// Dangerous SQL inside the first string literal of `call` (a slice of `text`).
pub(super) fn sql_in_string(path: &str, text: &str, call: &str, r: &mut Review) {
    let call_offset = (call.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    if let Some((offset, sql_text)) = first_string(call) {
        let first_line = line_at(text, call_offset + offset);
        for f in sql::dangerous_statements(sql_text) {
            r.dangers.push((
                path.to_string(),
                Danger {
                    line: first_line + f.line - 1,
                    rule: f.rule,
                    what: f.what,
                },
            ));
        }
    }
}
