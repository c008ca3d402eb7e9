//! Migration conventions per tool: which files make one migration, and whether it has a way back.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::sql::{self, Rule};

/// A migration tool whose file conventions preflight knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Sqlx,
    Diesel,
    Flyway,
    Rails,
    Django,
    Alembic,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Sqlx => "sqlx",
            Tool::Diesel => "diesel",
            Tool::Flyway => "flyway",
            Tool::Rails => "rails",
            Tool::Django => "django",
            Tool::Alembic => "alembic",
        }
    }
}

/// What a file is to its migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Up,
    Down,
    /// An up migration that has no down by design (sqlx `<ver>_x.sql`).
    UpOnly,
    /// One file holding both directions (Rails, Django, Alembic).
    Both,
}

static FLYWAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([VU])([0-9][0-9._]*)__.*\.sql$").unwrap_or_else(|_| unreachable!())
});
static DJANGO_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{4}_\w*\.py$").unwrap_or_else(|_| unreachable!()));
static RAILS_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d+_\w+\.rb$").unwrap_or_else(|_| unreachable!()));

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The migration `path` (relative to the migrations dir) belongs to, and its role there.
pub fn classify(tool: Tool, path: &str) -> Option<(String, Role)> {
    let name = file_name(path);
    match tool {
        Tool::Sqlx => {
            if path.contains('/') || !name.ends_with(".sql") {
                return None;
            }
            if let Some(id) = name.strip_suffix(".up.sql") {
                Some((id.to_string(), Role::Up))
            } else if let Some(id) = name.strip_suffix(".down.sql") {
                Some((id.to_string(), Role::Down))
            } else {
                name.strip_suffix(".sql")
                    .map(|id| (id.to_string(), Role::UpOnly))
            }
        }
        Tool::Diesel => {
            let (dir, file) = path.split_once('/')?;
            match file {
                "up.sql" => Some((dir.to_string(), Role::Up)),
                "down.sql" => Some((dir.to_string(), Role::Down)),
                _ => None,
            }
        }
        Tool::Flyway => {
            let caps = FLYWAY.captures(name)?;
            // `V1_1` and `V1.1` are the same version.
            let version = caps[2].replace('_', ".");
            let role = if &caps[1] == "V" {
                Role::Up
            } else {
                Role::Down
            };
            Some((format!("V{version}"), role))
        }
        Tool::Rails => RAILS_FILE
            .is_match(name)
            .then(|| (name.trim_end_matches(".rb").to_string(), Role::Both)),
        Tool::Django => DJANGO_FILE
            .is_match(name)
            .then(|| (path.trim_end_matches(".py").to_string(), Role::Both)),
        Tool::Alembic => (name.ends_with(".py") && name != "env.py" && name != "__init__.py")
            .then(|| (path.trim_end_matches(".py").to_string(), Role::Both)),
    }
}

/// The tool whose conventions the files (paths relative to the migrations dir, with a way to
/// read each) follow.
pub fn detect(paths: &[String], read: &dyn Fn(&str) -> String) -> Option<Tool> {
    let names: Vec<&str> = paths.iter().map(|p| file_name(p)).collect();
    if paths
        .iter()
        .any(|p| p.split('/').count() == 2 && p.ends_with("/up.sql"))
    {
        return Some(Tool::Diesel);
    }
    if names.iter().any(|n| FLYWAY.is_match(n)) {
        return Some(Tool::Flyway);
    }
    if paths
        .iter()
        .any(|p| !p.contains('/') && p.ends_with(".sql"))
    {
        return Some(Tool::Sqlx);
    }
    if names.iter().any(|n| RAILS_FILE.is_match(n)) {
        return Some(Tool::Rails);
    }
    for p in paths.iter().filter(|p| p.ends_with(".py")) {
        let text = read(p);
        if text.contains("migrations.Migration") {
            return Some(Tool::Django);
        }
        if text.contains("def upgrade(") {
            return Some(Tool::Alembic);
        }
    }
    None
}

/// A finding inside one file of a migration.
#[derive(Debug, Clone, Serialize)]
pub struct Danger {
    pub line: usize,
    pub rule: Rule,
    pub what: String,
}

/// What one new migration is, as far as going back goes.
#[derive(Debug, Default)]
pub struct Review {
    /// Why it cannot be reverted (file relative to the migrations dir, line, reason).
    pub irreversible: Vec<(String, usize, String)>,
    /// Dangerous statements in its up direction (file relative to the migrations dir).
    pub dangers: Vec<(String, Danger)>,
    /// `false` for a file that only looks like a migration (an Alembic helper module).
    pub is_migration: bool,
}

/// Reviews one new migration: `files` are (path relative to the dir, role, content).
pub fn review(tool: Tool, id: &str, files: &[(String, Role, String)]) -> Review {
    let mut r = Review {
        is_migration: true,
        ..Review::default()
    };
    let find = |role: Role| files.iter().find(|f| f.1 == role);
    match tool {
        Tool::Sqlx | Tool::Diesel | Tool::Flyway => {
            let up = find(Role::Up).or_else(|| find(Role::UpOnly));
            let down = find(Role::Down);
            if let Some((path, _, _)) = find(Role::UpOnly) {
                r.irreversible.push((
                    path.clone(),
                    1,
                    "a simple sqlx migration has no down migration (create reversible ones with `sqlx migrate add -r`)".into(),
                ));
            } else if let (Some((path, _, _)), None) = (up, down) {
                let want = match tool {
                    Tool::Sqlx => format!("`{id}.down.sql`"),
                    Tool::Diesel => format!("`{id}/down.sql`"),
                    _ => format!("an undo migration `U{}__*.sql`", id.trim_start_matches('V')),
                };
                r.irreversible.push((
                    path.clone(),
                    1,
                    format!("no down migration: {want} is missing"),
                ));
            }
            if let Some((path, _, text)) = down
                && up.is_some()
                && sql::is_empty(text)
            {
                r.irreversible.push((
                    path.clone(),
                    1,
                    "the down migration is empty: it reverts nothing".into(),
                ));
            }
            if let Some((path, _, text)) = up {
                for f in sql::dangerous_statements(text) {
                    r.dangers.push((
                        path.clone(),
                        Danger {
                            line: f.line,
                            rule: f.rule,
                            what: f.what,
                        },
                    ));
                }
            }
        }
        Tool::Rails => {
            for (path, _, text) in files {
                rails(path, text, &mut r);
            }
        }
        Tool::Django => {
            for (path, _, text) in files {
                django(path, text, &mut r);
            }
        }
        Tool::Alembic => {
            for (path, _, text) in files {
                alembic(path, text, &mut r);
            }
        }
    }
    r
}

/// `text` with `#` comment lines blanked (lines kept).
fn without_hash_comments(text: &str) -> String {
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

fn line_at(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        + 1
}

/// Each call of `name(` in `text`: its byte offset and its argument text (to the matching
/// parenthesis; quotes respected).
fn calls<'t>(text: &'t str, name: &str) -> Vec<(usize, &'t str)> {
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
fn args(call: &str) -> Vec<&str> {
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
fn first_string(text: &str) -> Option<(usize, &str)> {
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
fn sql_in_string(path: &str, text: &str, call: &str, r: &mut Review) {
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

/// Ruby method bodies by name: (name, first line index, last line index), found by indentation
/// (`def x` ... the next `end` at the same indentation).
fn ruby_defs(lines: &[&str]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix("def ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            let indent = l.len() - t.len();
            let end = lines[i + 1..]
                .iter()
                .position(|m| {
                    m.len() - m.trim_start().len() == indent && m.trim_start().starts_with("end")
                })
                .map_or(lines.len() - 1, |p| i + 1 + p);
            out.push((name.trim_start_matches("self.").to_string(), i, end));
        }
    }
    out
}

fn rails(path: &str, text: &str, r: &mut Review) {
    let code = without_hash_comments(text);
    let lines: Vec<&str> = code.lines().collect();
    let defs = ruby_defs(&lines);
    let def = |n: &str| defs.iter().find(|d| d.0 == n);
    if let Some(i) = lines
        .iter()
        .position(|l| l.contains("ActiveRecord::IrreversibleMigration"))
    {
        r.irreversible.push((
            path.into(),
            i + 1,
            "raises `ActiveRecord::IrreversibleMigration`".into(),
        ));
    } else if def("up").is_some() && def("down").is_none() {
        let line = def("up").map_or(1, |d| d.1 + 1);
        r.irreversible
            .push((path.into(), line, "defines `up` but no `down`".into()));
    }
    // Inside `change`, calls Rails cannot invert unless told how (outside `reversible` blocks).
    if let Some((_, from, to)) = def("change") {
        let mut in_reversible: Option<usize> = None;
        for (i, l) in lines.iter().enumerate().take(*to).skip(from + 1) {
            let t = l.trim_start();
            let indent = l.len() - t.len();
            if let Some(ind) = in_reversible {
                if indent == ind && t.starts_with("end") {
                    in_reversible = None;
                }
                continue;
            }
            if t.starts_with("reversible") || t.starts_with("up_only") {
                if !t.contains('}') {
                    in_reversible = Some(indent);
                }
                continue;
            }
            let args_n = t.split(',').count();
            let reason = if t.starts_with("execute") {
                Some("`execute` in `change` cannot be reversed (use `reversible` or `up`/`down`)")
            } else if t.starts_with("change_column ") || t.starts_with("change_column(") {
                Some("`change_column` in `change` cannot be reversed")
            } else if t.starts_with("change_column_default") && !t.contains("from:") {
                Some("`change_column_default` without `from:`/`to:` cannot be reversed")
            } else if (t.starts_with("remove_column ") || t.starts_with("remove_column("))
                && args_n < 3
            {
                Some("`remove_column` without a column type cannot be reversed")
            } else if t.starts_with("remove_columns") && !t.contains("type:") {
                Some("`remove_columns` without `type:` cannot be reversed")
            } else if t.starts_with("drop_table") && !t.contains(" do") && !t.contains('{') {
                Some("`drop_table` without a block of the columns cannot be reversed")
            } else {
                None
            };
            if let Some(reason) = reason {
                r.irreversible.push((path.into(), i + 1, reason.into()));
            }
        }
    }
    // Dangerous: everything outside `down`.
    let down = def("down").map(|d| d.1..=d.2);
    for (i, l) in lines.iter().enumerate() {
        if down.as_ref().is_some_and(|d| d.contains(&i)) {
            continue;
        }
        let t = l.trim_start();
        let first_arg = |call: &str| {
            t[call.len()..]
                .trim_start_matches(['(', ' '])
                .split([',', ')', ' '])
                .next()
                .unwrap_or("")
                .trim_start_matches(':')
                .to_string()
        };
        let found = if t.starts_with("drop_table") {
            Some((
                Rule::DropTable,
                format!("drops table `{}`", first_arg("drop_table")),
            ))
        } else if t.starts_with("remove_column") {
            Some((
                Rule::DropColumn,
                format!(
                    "removes columns of `{}`",
                    first_arg(if t.starts_with("remove_columns") {
                        "remove_columns"
                    } else {
                        "remove_column"
                    })
                ),
            ))
        } else if t.starts_with("rename_column") || t.starts_with("rename_table") {
            Some((
                Rule::Rename,
                format!(
                    "renames in `{}`",
                    first_arg(if t.starts_with("rename_column") {
                        "rename_column"
                    } else {
                        "rename_table"
                    })
                ),
            ))
        } else if t.starts_with("change_column ") || t.starts_with("change_column(") {
            Some((
                Rule::AlterType,
                format!("changes a column of `{}`", first_arg("change_column")),
            ))
        } else if t.starts_with("change_column_null") && t.contains("false") {
            Some((
                Rule::SetNotNull,
                format!(
                    "makes a column of `{}` NOT NULL",
                    first_arg("change_column_null")
                ),
            ))
        } else if t.starts_with("add_column")
            && t.contains("null: false")
            && !t.contains("default:")
        {
            Some((
                Rule::AddNotNull,
                format!(
                    "adds a NOT NULL column without a default to `{}`",
                    first_arg("add_column")
                ),
            ))
        } else {
            None
        };
        if let Some((rule, what)) = found {
            r.dangers.push((
                path.into(),
                Danger {
                    line: i + 1,
                    rule,
                    what,
                },
            ));
        }
        if t.starts_with("execute")
            && let Some((_, s)) = first_string(t)
        {
            for f in sql::dangerous_statements(s) {
                r.dangers.push((
                    path.into(),
                    Danger {
                        line: i + 1,
                        rule: f.rule,
                        what: f.what,
                    },
                ));
            }
        }
    }
}

fn python_reverse_missing(call_args: &str, positional_reverse: usize, keyword: &str) -> bool {
    let a = args(call_args);
    let positional: Vec<&&str> = a
        .iter()
        .filter(|x| !x.contains('=') || x.starts_with(['"', '\'']))
        .collect();
    let kw = a.iter().find_map(|x| {
        x.strip_prefix(keyword)
            .and_then(|v| v.trim_start().strip_prefix('='))
            .map(str::trim)
    });
    match kw.or(positional.get(positional_reverse).map(|s| **s)) {
        None => true,
        Some(v) => v == "None",
    }
}

fn django(path: &str, text: &str, r: &mut Review) {
    let code = without_hash_comments(text);
    for (at, call) in calls(&code, "RunPython") {
        if python_reverse_missing(call, 1, "reverse_code") {
            r.irreversible.push((
                path.into(),
                line_at(&code, at),
                "`RunPython` without `reverse_code`".into(),
            ));
        }
    }
    for (at, call) in calls(&code, "RunSQL") {
        if python_reverse_missing(call, 1, "reverse_sql") {
            r.irreversible.push((
                path.into(),
                line_at(&code, at),
                "`RunSQL` without `reverse_sql`".into(),
            ));
        }
        sql_in_string(path, &code, call, r);
    }
    for (op, rule, verb) in [
        ("DeleteModel", Rule::DropTable, "deletes model"),
        ("RemoveField", Rule::DropColumn, "removes a field of"),
        ("RenameModel", Rule::Rename, "renames model"),
        ("RenameField", Rule::Rename, "renames a field of"),
    ] {
        for (at, call) in calls(&code, op) {
            let target = args(call)
                .first()
                .map(|a| {
                    a.rsplit('=')
                        .next()
                        .unwrap_or(a)
                        .trim()
                        .trim_matches(['"', '\''])
                })
                .unwrap_or("")
                .to_string();
            r.dangers.push((
                path.into(),
                Danger {
                    line: line_at(&code, at),
                    rule,
                    what: format!("{verb} `{target}`"),
                },
            ));
        }
    }
}

/// A Python function's body lines (the lines after `def name(` up to the next top-level line).
fn python_body<'t>(lines: &[&'t str], name: &str) -> Option<(usize, Vec<(usize, &'t str)>)> {
    let start = lines
        .iter()
        .position(|l| l.starts_with(&format!("def {name}(")))?;
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

fn alembic(path: &str, text: &str, r: &mut Review) {
    let code = without_hash_comments(text);
    let lines: Vec<&str> = code.lines().collect();
    let Some((_, upgrade)) = python_body(&lines, "upgrade") else {
        r.is_migration = false;
        return;
    };
    match python_body(&lines, "downgrade") {
        None => r
            .irreversible
            .push((path.into(), 1, "no `downgrade()`".into())),
        Some((start, body)) => {
            // Docstrings, `pass` and `...` do nothing.
            let joined: String = body.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
            let mut rest = joined.trim().to_string();
            for q in ["\"\"\"", "'''"] {
                if rest.starts_with(q)
                    && let Some(end) = rest[3..].find(q)
                {
                    rest = rest[3 + end + 3..].to_string();
                }
            }
            if rest.split_whitespace().all(|w| w == "pass" || w == "...") {
                r.irreversible
                    .push((path.into(), start + 1, "`downgrade()` only passes".into()));
            }
        }
    }
    let first = upgrade.first().map_or(0, |(i, _)| *i);
    let up_text: String = upgrade
        .iter()
        .map(|(_, l)| *l)
        .collect::<Vec<_>>()
        .join("\n");
    let line = |at: usize| first + line_at(&up_text, at);
    let table = |call: &str| {
        args(call)
            .first()
            .map(|a| a.trim_matches(['"', '\'']))
            .unwrap_or("")
            .to_string()
    };
    for (at, call) in calls(&up_text, "op.drop_table") {
        r.dangers.push((
            path.into(),
            Danger {
                line: line(at),
                rule: Rule::DropTable,
                what: format!("drops table `{}`", table(call)),
            },
        ));
    }
    for (at, call) in calls(&up_text, "op.drop_column") {
        let a = args(call);
        let col = a.get(1).map(|c| c.trim_matches(['"', '\''])).unwrap_or("");
        r.dangers.push((
            path.into(),
            Danger {
                line: line(at),
                rule: Rule::DropColumn,
                what: format!("drops column `{col}` of `{}`", table(call)),
            },
        ));
    }
    for (at, call) in calls(&up_text, "op.rename_table") {
        r.dangers.push((
            path.into(),
            Danger {
                line: line(at),
                rule: Rule::Rename,
                what: format!("renames table `{}`", table(call)),
            },
        ));
    }
    for (at, call) in calls(&up_text, "op.alter_column") {
        let t = table(call);
        let mut push = |rule, what: String| {
            r.dangers.push((
                path.into(),
                Danger {
                    line: line(at),
                    rule,
                    what,
                },
            ))
        };
        if call.contains("new_column_name") {
            push(Rule::Rename, format!("renames a column of `{t}`"));
        }
        if call.contains("type_") {
            push(
                Rule::AlterType,
                format!("changes the type of a column of `{t}`"),
            );
        }
        if call.replace(' ', "").contains("nullable=False") {
            push(
                Rule::SetNotNull,
                format!("makes a column of `{t}` NOT NULL"),
            );
        }
    }
    for (at, call) in calls(&up_text, "op.add_column") {
        if call.replace(' ', "").contains("nullable=False") && !call.contains("server_default") {
            r.dangers.push((
                path.into(),
                Danger {
                    line: line(at),
                    rule: Rule::AddNotNull,
                    what: format!(
                        "adds a NOT NULL column without a server default to `{}`",
                        table(call)
                    ),
                },
            ));
        }
    }
    for (at, call) in calls(&up_text, "op.execute") {
        if let Some((_, s)) = first_string(call) {
            for f in sql::dangerous_statements(s) {
                r.dangers.push((
                    path.into(),
                    Danger {
                        line: line(at) + f.line - 1,
                        rule: f.rule,
                        what: f.what,
                    },
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(tool: Tool, path: &str, text: &str) -> Review {
        let (id, role) = classify(tool, path).expect("a migration");
        review(tool, &id, &[(path.to_string(), role, text.to_string())])
    }

    /// Whatever the text, reviewing it never panics (a migration file is user input).
    #[test]
    fn review_never_panics_on_odd_text() {
        let alphabet: Vec<&str> = vec![
            "DROP",
            " TABLE ",
            "ALTER",
            "(",
            ")",
            "'",
            "\"",
            "`",
            "$$",
            "$a$",
            "--",
            "/*",
            "*/",
            ";",
            "\n",
            "é",
            "日本",
            "def up",
            "def down",
            "def upgrade():",
            "def downgrade(",
            "    pass",
            "end",
            "RunSQL(",
            "RunPython(",
            "op.execute(",
            "op.alter_column(",
            "execute \"",
            "\"\"\"",
            ",",
            "=",
            "None",
            "#",
            "\\",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            for tool in [Tool::Sqlx, Tool::Rails, Tool::Django, Tool::Alembic] {
                let role = if tool == Tool::Sqlx {
                    Role::Up
                } else {
                    Role::Both
                };
                review(tool, "x", &[("x".into(), role, text.clone())]);
            }
            sql::is_empty(&text);
        }
    }

    #[test]
    fn classify_per_tool() {
        assert_eq!(
            classify(Tool::Sqlx, "20250101_a.up.sql"),
            Some(("20250101_a".into(), Role::Up))
        );
        assert_eq!(
            classify(Tool::Sqlx, "20250101_a.sql"),
            Some(("20250101_a".into(), Role::UpOnly))
        );
        assert_eq!(
            classify(Tool::Diesel, "2025-01-01-000000_a/down.sql"),
            Some(("2025-01-01-000000_a".into(), Role::Down))
        );
        assert_eq!(
            classify(Tool::Flyway, "sub/V1_1__init.sql"),
            Some(("V1.1".into(), Role::Up))
        );
        assert_eq!(
            classify(Tool::Flyway, "U1.1__init.sql"),
            Some(("V1.1".into(), Role::Down))
        );
        assert_eq!(classify(Tool::Flyway, "R__views.sql"), None);
        assert_eq!(
            classify(Tool::Django, "shop/migrations/0002_x.py"),
            Some(("shop/migrations/0002_x".into(), Role::Both))
        );
        assert_eq!(classify(Tool::Django, "__init__.py"), None);
    }

    #[test]
    fn rails_conventions() {
        let irreversible = "class DropLegacy < ActiveRecord::Migration[7.1]\n  def up\n    drop_table :legacy\n  end\n\n  def down\n    raise ActiveRecord::IrreversibleMigration\n  end\nend\n";
        let r = one(Tool::Rails, "20250101_drop_legacy.rb", irreversible);
        assert_eq!(r.irreversible[0].1, 7);
        assert_eq!(r.dangers.len(), 1);
        assert_eq!(
            (r.dangers[0].1.line, r.dangers[0].1.rule),
            (3, Rule::DropTable)
        );
        let change = "class AddX < ActiveRecord::Migration[7.1]\n  def change\n    add_column :products, :x, :string\n    remove_column :products, :y\n  end\nend\n";
        let r = one(Tool::Rails, "20250101_add_x.rb", change);
        assert_eq!(r.irreversible.len(), 1);
        assert_eq!(r.irreversible[0].1, 4);
        let ok = "class AddX < ActiveRecord::Migration[7.1]\n  def change\n    add_column :products, :x, :string\n    reversible do |dir|\n      dir.up { execute \"UPDATE products SET x = 'a'\" }\n    end\n  end\nend\n";
        assert!(
            one(Tool::Rails, "20250101_add_x.rb", ok)
                .irreversible
                .is_empty()
        );
    }

    #[test]
    fn django_conventions() {
        let bad = "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    operations = [\n        migrations.RunPython(forwards),\n        migrations.RemoveField(model_name='order', name='note'),\n    ]\n";
        let r = one(Tool::Django, "0002_x.py", bad);
        assert_eq!(r.irreversible.len(), 1);
        assert_eq!(r.irreversible[0].1, 5);
        assert_eq!(r.dangers[0].1.line, 6);
        let good = "class Migration(migrations.Migration):\n    operations = [\n        migrations.RunPython(forwards, migrations.RunPython.noop),\n        migrations.RunSQL(\"CREATE INDEX i ON t (a)\", reverse_sql=\"DROP INDEX i\"),\n    ]\n";
        let r = one(Tool::Django, "0002_x.py", good);
        assert!(r.irreversible.is_empty() && r.dangers.is_empty(), "{r:?}");
    }

    #[test]
    fn alembic_conventions() {
        let bad = "revision = 'a1'\n\ndef upgrade():\n    op.drop_column('orders', 'note')\n\n\ndef downgrade():\n    \"\"\"Nothing.\"\"\"\n    pass\n";
        let r = one(Tool::Alembic, "versions/a1_x.py", bad);
        assert_eq!(r.irreversible[0].1, 7);
        assert_eq!(
            (r.dangers[0].1.line, r.dangers[0].1.rule),
            (4, Rule::DropColumn)
        );
        let good = "def upgrade():\n    op.add_column('orders', sa.Column('note', sa.Text()))\n\n\ndef downgrade():\n    op.drop_column('orders', 'note')\n";
        let r = one(Tool::Alembic, "versions/a1_x.py", good);
        assert!(r.irreversible.is_empty() && r.dangers.is_empty(), "{r:?}");
        assert!(!one(Tool::Alembic, "versions/helpers.py", "X = 1\n").is_migration);
    }
}
