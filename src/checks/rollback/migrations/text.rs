//! Text helpers shared by the Ruby and Python reviewers: calls, arguments, strings, lines.

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

/// Where `part` (a slice of `text`) starts in `text`.
pub(super) fn offset_in(text: &str, part: &str) -> usize {
    (part.as_ptr() as usize)
        .saturating_sub(text.as_ptr() as usize)
        .min(text.len())
}

/// The body of a string literal starting with quote `q` at `body - 1` (or `body - 3` for a
/// triple quote): where it ends.
fn literal_end(b: &[u8], body: usize, q: u8, triple: bool) -> usize {
    let mut j = body;
    while j < b.len() {
        if b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q && (!triple || (b.get(j + 1) == Some(&q) && b.get(j + 2) == Some(&q))) {
            return j;
        }
        if !triple && b[j] == b'\n' {
            return j;
        }
        j += 1;
    }
    b.len()
}

/// Every string literal of Python or Ruby code (`'...'`, `"..."`, triple quotes; a prefix
/// like `f` or `r` stays before the quote): (offset of the body, body).
pub(super) fn string_literals(text: &str) -> Vec<(usize, &str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let q = b[i];
        if q != b'"' && q != b'\'' {
            i += 1;
            continue;
        }
        let triple = b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
        let body = if triple { i + 3 } else { i + 1 };
        let end = literal_end(b, body, q, triple).min(b.len());
        if body <= end && text.is_char_boundary(body) && text.is_char_boundary(end) {
            out.push((body, &text[body..end]));
        }
        i = end + if triple { 3 } else { 1 };
    }
    out
}

/// The string literals of Java or Kotlin code (`"..."` and `"""` text blocks), comments and
/// char literals skipped: (offset of the body, body).
pub(super) fn java_strings(text: &str) -> Vec<(usize, &str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text
                    .get(i + 2..)
                    .and_then(|t| t.find("*/"))
                    .map_or(b.len(), |p| i + 2 + p + 2);
            }
            b'\'' => {
                // A char literal: 'x', '\'' or '"'.
                let close = b[i + 1..]
                    .iter()
                    .enumerate()
                    .position(|(k, &c)| c == b'\'' && (k == 0 || b[i + k] != b'\\'))
                    .map_or(b.len(), |p| i + 1 + p);
                i = close + 1;
            }
            b'"' => {
                let triple = b.get(i + 1) == Some(&b'"') && b.get(i + 2) == Some(&b'"');
                let body = if triple { i + 3 } else { i + 1 };
                let end = literal_end(b, body, b'"', triple).min(b.len());
                if body <= end && text.is_char_boundary(body) && text.is_char_boundary(end) {
                    out.push((body, &text[body..end]));
                }
                i = end + if triple { 3 } else { 1 };
            }
            _ => i += 1,
        }
    }
    out
}

/// A Ruby symbol or a Ruby/Python string argument without its quotes (`:users`, `"users"`,
/// `'users'` → `users`).
pub(super) fn bare(arg: &str) -> &str {
    let a = arg.trim();
    let a = a.strip_prefix(':').unwrap_or(a);
    a.trim_matches(['"', '\''])
}

/// The value of keyword argument `name` (`name=value` in Python, `name: value` in Ruby).
pub(super) fn keyword<'a>(args: &[&'a str], name: &str) -> Option<&'a str> {
    args.iter().find_map(|a| {
        let rest = a.strip_prefix(name)?.trim_start();
        let value = match rest.strip_prefix('=') {
            Some(v) if !v.starts_with('=') => v,
            _ => rest.strip_prefix(':').filter(|v| !v.starts_with(':'))?,
        };
        Some(value.trim())
    })
}

/// The arguments that are not `name=value` / `name: value`.
pub(super) fn positional<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter()
        .copied()
        .filter(|a| {
            let head = a
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(a.len());
            let rest = a[head..].trim_start();
            let named = (rest.starts_with('=') && !rest.starts_with("=="))
                || (rest.starts_with(':') && !rest.starts_with("::"));
            head == 0 || !named
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_of_python_and_java() {
        let py = "op.execute(sa.text(\"UPDATE t SET a = 'x'\"))\nx = '''DROP\nTABLE y'''\n";
        let s: Vec<&str> = string_literals(py).into_iter().map(|x| x.1).collect();
        assert_eq!(s, vec!["UPDATE t SET a = 'x'", "DROP\nTABLE y"]);
        let java = "// \"not this\"\nchar q = '\"';\nst.execute(\"DELETE FROM t\"); /* \"nor this\" */\nString s = \"\"\"\n  DROP TABLE x;\n  \"\"\";\n";
        let s: Vec<&str> = java_strings(java).into_iter().map(|x| x.1).collect();
        assert_eq!(s, vec!["DELETE FROM t", "\n  DROP TABLE x;\n  "]);
    }

    #[test]
    fn keyword_and_positional_arguments() {
        let a = args("'orders', 'note', type_=sa.Text(), nullable=False");
        assert_eq!(keyword(&a, "nullable"), Some("False"));
        assert_eq!(keyword(&a, "type_"), Some("sa.Text()"));
        assert_eq!(positional(&a), vec!["'orders'", "'note'"]);
        let r = args(":users, :name, :string, null: false, default: \"\"");
        assert_eq!(keyword(&r, "null"), Some("false"));
        let names: Vec<&str> = positional(&r).into_iter().map(bare).collect();
        assert_eq!(names, vec!["users", "name", "string"]);
        assert_eq!(keyword(&args("a == b"), "a"), None);
    }
}
