//! SQL that the previous release cannot survive: comment stripping and dangerous statements.
//!
//! This is a scanner, not a parser: it knows comments, string literals, dollar quotes and quoted
//! identifiers well enough to never take text inside them for a statement, then matches the
//! few statement shapes that destroy or reshape data (the squawk / strong_migrations list), the
//! objects a statement creates, and the statements that hold long locks.

mod lex;
mod statements;
mod types;

use serde::Serialize;

pub use lex::mask;
pub use types::{declared_type, renamed_from, widens};

/// What a finding is about. Each rule belongs to one [`RuleKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    DropTable,
    DropColumn,
    Rename,
    AlterType,
    SetNotNull,
    AddNotNull,
    Truncate,
    DeleteWithoutWhere,
    UpdateWithoutWhere,
    /// A data migration whose way back is a no-op (Django `RunPython(f, RunPython.noop)`).
    RewriteWithoutRestore,
    /// `CREATE INDEX` without `CONCURRENTLY` on a table that has rows.
    BlockingIndex,
    /// A foreign key or check constraint validated while the table is locked.
    ValidatingConstraint,
}

/// How a rule matters to a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// The previous release cannot run against the new schema.
    Schema,
    /// Rows are lost or rewritten: a down migration cannot bring them back.
    Data,
    /// Worth knowing, never a failure.
    Advice,
    /// A deploy-time lock risk, not a rollback risk.
    Lock,
}

impl Rule {
    pub fn kind(self) -> RuleKind {
        match self {
            Rule::DropTable
            | Rule::DropColumn
            | Rule::Rename
            | Rule::AlterType
            | Rule::SetNotNull
            | Rule::AddNotNull => RuleKind::Schema,
            Rule::Truncate | Rule::DeleteWithoutWhere | Rule::UpdateWithoutWhere => RuleKind::Data,
            Rule::RewriteWithoutRestore => RuleKind::Advice,
            Rule::BlockingIndex | Rule::ValidatingConstraint => RuleKind::Lock,
        }
    }

    /// Why it matters; `down` adds what a down migration cannot undo.
    pub fn why(self, down: bool) -> &'static str {
        match (self, down) {
            (Rule::DropTable, true) => {
                "the previous release still reads it, and a down migration cannot bring its rows back"
            }
            (Rule::DropTable, false) => "the previous release still reads it",
            (Rule::DropColumn, true) => {
                "the previous release still reads it, and a down migration cannot bring its values back"
            }
            (Rule::DropColumn, false) => "the previous release still reads it",
            (Rule::Rename, _) => "the previous release still uses the old name",
            (Rule::AlterType, _) => "the previous release may not read or write the new type",
            (Rule::SetNotNull, _) => "the previous release may insert rows without it",
            (Rule::AddNotNull, _) => "the previous release inserts rows without it",
            (Rule::Truncate, true) => "a down migration cannot bring the rows back",
            (Rule::DeleteWithoutWhere, true) => {
                "every row goes, and a down migration cannot bring them back"
            }
            (Rule::UpdateWithoutWhere, true) => {
                "every row changes, and a down migration cannot restore the old values"
            }
            (Rule::Truncate | Rule::DeleteWithoutWhere, false) => {
                "the rows are gone, and a rollback does not bring them back"
            }
            (Rule::UpdateWithoutWhere, false) => {
                "every row changes, and a rollback does not restore the old values"
            }
            (Rule::RewriteWithoutRestore, _) => {
                "its reverse is a no-op: rolling back keeps the rewritten rows and restores no data"
            }
            (Rule::BlockingIndex, _) => {
                "writes to the table wait until the index is built (use CONCURRENTLY)"
            }
            (Rule::ValidatingConstraint, _) => {
                "every row is checked while writes wait (add it NOT VALID, then VALIDATE)"
            }
        }
    }
}

/// The table (and columns) a statement touches or creates. Names are lower-cased, without
/// quotes or schema, so that `"public"."Orders"` and `orders` meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub table: String,
    /// Empty: the whole table.
    pub columns: Vec<String>,
    /// Named as a Django model (and fields) rather than a table (and columns).
    #[serde(skip)]
    pub model: bool,
}

impl Target {
    pub fn table(name: &str) -> Target {
        Target {
            table: object_name(name),
            columns: Vec::new(),
            model: false,
        }
    }

    pub fn columns<S: AsRef<str>>(table: &str, columns: &[S]) -> Target {
        Target {
            table: object_name(table),
            columns: columns.iter().map(|c| object_name(c.as_ref())).collect(),
            model: false,
        }
    }

    /// A Django model, or fields of it.
    pub fn model<S: AsRef<str>>(model: &str, fields: &[S]) -> Target {
        Target {
            model: true,
            ..Target::columns(model, fields)
        }
    }
}

/// `"public"."Orders"` → `orders`: the last dotted part, quotes and case dropped.
pub fn object_name(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim_matches(['"', '`', '\'', '[', ']', ':', ' '])
        .to_lowercase()
}

/// One statement that matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFinding {
    /// 1-based line in the scanned text.
    pub line: usize,
    pub rule: Rule,
    /// What it does, e.g. "drops table `orders`".
    pub what: String,
    pub target: Option<Target>,
}

/// What a piece of SQL does, statement by statement.
#[derive(Debug, Default)]
pub struct SqlScan {
    pub findings: Vec<SqlFinding>,
    /// Tables and columns it creates, with their 1-based lines.
    pub created: Vec<(usize, Target)>,
    /// Columns it gives a database default.
    pub defaulted: Vec<(usize, Target)>,
}

/// Whether `text` holds no statement at all (only comments, whitespace and semicolons): an
/// empty down migration reverts nothing.
pub fn is_empty(text: &str) -> bool {
    mask(text, false)
        .chars()
        .all(|c| c.is_whitespace() || c == ';')
}

/// The statements of `text` that destroy or reshape data the previous release relies on, hold
/// long locks, or create tables and columns.
pub fn scan(text: &str) -> SqlScan {
    let masked = mask(text, true);
    let line_of = |at: usize| {
        text.as_bytes()[..at.min(text.len())]
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            + 1
    };
    let mut found = statements::Found::default();
    let mut start = 0;
    for (end, _) in masked
        .match_indices(';')
        .chain(std::iter::once((masked.len(), "")))
    {
        let tokens = lex::tokenize(&masked, start, end);
        statements::statement(&tokens, &mut found);
        start = end + 1;
    }
    SqlScan {
        findings: found
            .findings
            .into_iter()
            .map(|(at, rule, what, target)| SqlFinding {
                line: line_of(at),
                rule,
                what,
                target,
            })
            .collect(),
        created: found
            .created
            .into_iter()
            .map(|(at, t)| (line_of(at), t))
            .collect(),
        defaulted: found
            .defaulted
            .into_iter()
            .map(|(at, t)| (line_of(at), t))
            .collect(),
    }
}

/// `text` reduced to what a database runs: comments and whitespace dropped, keywords and
/// unquoted names upper-cased, string literals kept. Two texts with the same canonical form
/// differ only in formatting (pg_format, a comment, indentation).
pub fn canonical(text: &str) -> String {
    let masked = mask(text, false);
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(masked.len());
    let mut chars = masked.chars();
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && word(c) && out.chars().next_back().is_some_and(word) {
            out.push(' ');
        }
        pending_space = false;
        if matches!(c, '\'' | '"' | '`') {
            out.push(c);
            for d in chars.by_ref() {
                out.push(d);
                if d == c {
                    break;
                }
            }
        } else {
            out.extend(c.to_uppercase());
        }
    }
    // A `;` at the end, or doubled, is formatting too.
    out.trim_end_matches(';').replace(";;", ";")
}

#[cfg(test)]
mod tests;
