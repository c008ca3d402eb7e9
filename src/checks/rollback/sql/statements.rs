//! The statement shapes that matter to a rollback: what one statement's tokens do.

use super::lex::{Token, at_top_level, contains_seq, name_at, skip, split_top_level};
use super::{Rule, Target};

/// Findings (byte offset, rule, what, target) and creations (byte offset, target).
#[derive(Default)]
pub(super) struct Found {
    pub findings: Vec<(usize, Rule, String, Option<Target>)>,
    pub created: Vec<(usize, Target)>,
    /// Columns given a database default (`ALTER COLUMN c SET DEFAULT ...`).
    pub defaulted: Vec<(usize, Target)>,
}

impl Found {
    fn push(&mut self, at: usize, rule: Rule, what: String, target: Target) {
        self.findings.push((at, rule, what, Some(target)));
    }
}

/// Keywords after `DROP` in `ALTER TABLE` that do not name a column.
const DROP_NOT_COLUMN: &[&str] = &[
    "CONSTRAINT",
    "DEFAULT",
    "NOT",
    "INDEX",
    "KEY",
    "PRIMARY",
    "FOREIGN",
    "CHECK",
    "PARTITION",
    "IDENTITY",
    "EXPRESSION",
    "TRIGGER",
    "UNIQUE",
    "PERIOD",
    "SYSTEM",
];
/// Keywords after `ADD` in `ALTER TABLE` that do not add a column.
const ADD_NOT_COLUMN: &[&str] = &[
    "CONSTRAINT",
    "PRIMARY",
    "FOREIGN",
    "UNIQUE",
    "CHECK",
    "INDEX",
    "KEY",
    "FULLTEXT",
    "SPATIAL",
    "PARTITION",
    "EXCLUDE",
];

fn word(t: &[Token], i: usize) -> &str {
    t.get(i)
        .map(|x| if x.quoted { "" } else { x.text.as_str() })
        .unwrap_or("")
}

/// What one statement (its tokens, comments and strings masked) does.
pub(super) fn statement(t: &[Token], out: &mut Found) {
    let Some(first) = t.first() else { return };
    let at = first.at;
    match word(t, 0) {
        "CREATE" => {
            let i = skip(
                t,
                1,
                &[
                    "OR",
                    "REPLACE",
                    "GLOBAL",
                    "LOCAL",
                    "TEMPORARY",
                    "TEMP",
                    "UNLOGGED",
                    "UNIQUE",
                ],
            );
            match word(t, i) {
                "TABLE" => {
                    let (name, _) = name_at(t, skip(t, i + 1, &["IF", "NOT", "EXISTS"]));
                    out.created.push((at, Target::table(&name)));
                }
                "INDEX" if word(t, i + 1) != "CONCURRENTLY" => {
                    if let Some(on) = t.iter().position(|x| x.is("ON")) {
                        let (table, _) = name_at(t, skip(t, on + 1, &["ONLY"]));
                        out.push(
                            at,
                            Rule::BlockingIndex,
                            format!("creates an index on `{table}` without CONCURRENTLY"),
                            Target::table(&table),
                        );
                    }
                }
                _ => {}
            }
        }
        "DROP" if word(t, 1) == "TABLE" => {
            let i = skip(t, 2, &["IF", "EXISTS"]);
            for part in split_top_level(&t[i.min(t.len())..]) {
                let (name, _) = name_at(part, 0);
                if !name.is_empty() {
                    out.push(
                        at,
                        Rule::DropTable,
                        format!("drops table `{name}`"),
                        Target::table(&name),
                    );
                }
            }
        }
        "TRUNCATE" => {
            let i = skip(t, 1, &["TABLE", "ONLY"]);
            for part in split_top_level(&t[i.min(t.len())..]) {
                let (name, _) = name_at(part, skip(part, 0, &["ONLY"]));
                if !name.is_empty() {
                    out.push(
                        at,
                        Rule::Truncate,
                        format!("truncates `{name}`"),
                        Target::table(&name),
                    );
                }
            }
        }
        "DELETE" if word(t, 1) == "FROM" && !at_top_level(t, "WHERE") => {
            let (name, _) = name_at(t, skip(t, 2, &["ONLY"]));
            out.push(
                at,
                Rule::DeleteWithoutWhere,
                format!("deletes every row of `{name}` (no WHERE)"),
                Target::table(&name),
            );
        }
        "UPDATE" if !at_top_level(t, "WHERE") => {
            let (name, i) = name_at(t, skip(t, 1, &["ONLY"]));
            let columns = set_columns(t, i);
            out.push(
                at,
                Rule::UpdateWithoutWhere,
                format!("updates every row of `{name}` (no WHERE)"),
                Target::columns(&name, &columns),
            );
        }
        "RENAME" if word(t, 1) == "TABLE" => {
            let (name, _) = name_at(t, 2);
            out.push(
                at,
                Rule::Rename,
                format!("renames table `{name}`"),
                Target::table(&name),
            );
        }
        "ALTER" if word(t, 1) == "TABLE" => {
            let i = skip(t, 2, &["IF", "EXISTS", "ONLY"]);
            let (table, i) = name_at(t, i);
            let i = skip(t, i, &["*"]);
            for action in split_top_level(&t[i.min(t.len())..]) {
                alter_action(&table, action, out);
            }
        }
        _ => {}
    }
}

/// The columns an `UPDATE` assigns: `SET a = 1, b = 2` and `SET (a, b) = (...)`.
fn set_columns(t: &[Token], from: usize) -> Vec<String> {
    let Some(set) = t[from.min(t.len())..]
        .iter()
        .position(|x| x.is("SET"))
        .map(|p| from + p + 1)
    else {
        return Vec::new();
    };
    let end = t[set..]
        .iter()
        .position(|x| x.is("FROM") || x.is("WHERE") || x.is("RETURNING"))
        .map_or(t.len(), |p| set + p);
    let mut columns = Vec::new();
    for part in split_top_level(&t[set..end]) {
        if part.first().is_some_and(|x| x.is("(")) {
            let close = part.iter().position(|x| x.is(")")).unwrap_or(part.len());
            for inner in split_top_level(&part[1..close]) {
                let (c, _) = name_at(inner, 0);
                columns.push(c);
            }
        } else {
            let (c, _) = name_at(part, 0);
            columns.push(c);
        }
    }
    columns.retain(|c| !c.is_empty());
    columns
}

fn alter_action(table: &str, a: &[Token], out: &mut Found) {
    let Some(first) = a.first() else { return };
    let at = first.at;
    let w = |i: usize| word(a, i);
    match w(0) {
        "DROP" => {
            if DROP_NOT_COLUMN.contains(&w(1)) {
                return;
            }
            let (column, _) = name_at(a, skip(a, 1, &["COLUMN", "IF", "EXISTS"]));
            out.push(
                at,
                Rule::DropColumn,
                format!("drops column `{column}` of `{table}`"),
                Target::columns(table, &[&column]),
            );
        }
        "RENAME" => {
            // PostgreSQL renames sequences with ALTER TABLE too; column defaults follow a
            // sequence by its id, not its name.
            if matches!(w(1), "TO" | "AS") && table.ends_with("_seq") {
                return;
            }
            if matches!(w(1), "TO" | "AS") {
                let (name, _) = name_at(a, 2);
                out.push(
                    at,
                    Rule::Rename,
                    format!("renames table `{table}` to `{name}`"),
                    Target::table(table),
                );
            } else if !matches!(w(1), "CONSTRAINT" | "INDEX" | "KEY") {
                let (column, _) = name_at(a, skip(a, 1, &["COLUMN"]));
                out.push(
                    at,
                    Rule::Rename,
                    format!("renames column `{column}` of `{table}`"),
                    Target::columns(table, &[&column]),
                );
            }
        }
        "ALTER" => {
            let (column, j) = name_at(a, skip(a, 1, &["COLUMN"]));
            let target = Target::columns(table, &[&column]);
            if w(j) == "TYPE" || (w(j) == "SET" && w(j + 1) == "DATA" && w(j + 2) == "TYPE") {
                out.push(
                    at,
                    Rule::AlterType,
                    format!("changes the type of column `{column}` of `{table}`"),
                    target.clone(),
                );
            }
            if w(j) == "SET" && w(j + 1) == "DEFAULT" {
                out.defaulted.push((at, target.clone()));
            }
            if w(j) == "SET" && w(j + 1) == "NOT" && w(j + 2) == "NULL" {
                out.push(
                    at,
                    Rule::SetNotNull,
                    format!("makes column `{column}` of `{table}` NOT NULL"),
                    target,
                );
            }
        }
        "MODIFY" | "CHANGE" => {
            let (column, _) = name_at(a, skip(a, 1, &["COLUMN"]));
            out.push(
                at,
                Rule::AlterType,
                format!("redefines column `{column}` of `{table}`"),
                Target::columns(table, &[&column]),
            );
        }
        "ADD" if !ADD_NOT_COLUMN.contains(&w(1)) => {
            let (column, _) = name_at(a, skip(a, 1, &["COLUMN", "IF", "NOT", "EXISTS"]));
            let target = Target::columns(table, &[&column]);
            out.created.push((at, target.clone()));
            let generated = contains_seq(a, &["GENERATED"]);
            if contains_seq(a, &["NOT", "NULL"]) && !contains_seq(a, &["DEFAULT"]) && !generated {
                out.push(
                    at,
                    Rule::AddNotNull,
                    format!("adds NOT NULL column `{column}` to `{table}` without a default"),
                    target,
                );
            }
        }
        "ADD" => {
            let not_valid = contains_seq(a, &["NOT", "VALID"]);
            let using_index = contains_seq(a, &["USING", "INDEX"]);
            if (contains_seq(a, &["FOREIGN", "KEY"]) || contains_seq(a, &["CHECK"])) && !not_valid {
                out.push(
                    at,
                    Rule::ValidatingConstraint,
                    format!("adds a validated constraint to `{table}`"),
                    Target::table(table),
                );
            } else if (contains_seq(a, &["UNIQUE"]) || contains_seq(a, &["PRIMARY", "KEY"]))
                && !using_index
            {
                out.push(
                    at,
                    Rule::BlockingIndex,
                    format!("adds a unique index to `{table}` while writes wait"),
                    Target::table(table),
                );
            }
        }
        _ => {}
    }
}
