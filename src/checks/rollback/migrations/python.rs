//! Python helpers shared by the Django and Alembic reviewers.

use super::text::{args, keyword, positional};

/// A top-level function's body: the index of its `def` line and its body lines (index, text),
/// up to the next top-level line.
pub(super) fn function_body<'t>(
    lines: &[&'t str],
    name: &str,
) -> Option<(usize, Vec<(usize, &'t str)>)> {
    let start = lines.iter().position(|l| {
        l.strip_prefix("def ")
            .or_else(|| l.strip_prefix("async def "))
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|rest| rest.trim_start().starts_with('('))
    })?;
    let mut body = Vec::new();
    // Skip the rest of a multi-line signature.
    let mut i = start;
    while i < lines.len() && !lines[i].trim_end().ends_with(':') {
        i += 1;
    }
    for (j, l) in lines.iter().enumerate().skip(i + 1) {
        if !l.trim().is_empty() && !l.starts_with([' ', '\t']) {
            break;
        }
        body.push((j, *l));
    }
    Some((start, body))
}

/// Whether a function body does nothing: only a docstring, `pass` or `...`.
pub(super) fn does_nothing(body: &[(usize, &str)]) -> bool {
    let joined: String = body.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
    let mut rest = joined.trim();
    for q in ["\"\"\"", "'''"] {
        if let Some(after) = rest.strip_prefix(q)
            && let Some(end) = after.find(q)
        {
            rest = after[end + 3..].trim();
        }
    }
    rest.split_whitespace().all(|w| w == "pass" || w == "...")
}

/// Argument `name` of a call, given by keyword or at position `pos`.
pub(super) fn argument<'a>(call_args: &[&'a str], pos: usize, name: &str) -> Option<&'a str> {
    keyword(call_args, name).or_else(|| positional(call_args).get(pos).copied())
}

/// Whether a Django `RunPython` / `RunSQL` call lacks its reverse (argument 1 or `keyword`).
pub(super) fn reverse_missing(call: &str, keyword_name: &str) -> bool {
    let a = args(call);
    argument(&a, 1, keyword_name).is_none_or(|v| v == "None")
}

/// A field expression such as `models.CharField(max_length=20, null=True)`.
#[derive(Debug, Clone)]
pub(super) struct FieldExpr<'t> {
    /// The class name without its module (`CharField`).
    pub class: &'t str,
    pub args: Vec<&'t str>,
}

impl<'t> FieldExpr<'t> {
    pub fn parse(expr: &'t str) -> Option<FieldExpr<'t>> {
        let open = expr.find('(')?;
        let class = expr[..open].trim().rsplit('.').next()?.trim();
        let close = expr.rfind(')').filter(|c| *c > open).unwrap_or(expr.len());
        Some(FieldExpr {
            class,
            args: args(&expr[open + 1..close]),
        })
    }

    pub fn kw(&self, name: &str) -> Option<&'t str> {
        keyword(&self.args, name)
    }

    pub fn is_true(&self, name: &str) -> bool {
        self.kw(name) == Some("True")
    }
}
