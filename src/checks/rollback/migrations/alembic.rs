//! Alembic revisions (`versions/<rev>_<name>.py` with `upgrade()` / `downgrade()`).

use std::collections::BTreeSet;
use std::ops::Range;

use super::Review;
use super::python::{argument, does_nothing, function_body};
use super::text::{
    args, bare, calls, first_string, keyword, line_at, offset_in, string_literals,
    without_hash_comments,
};
use crate::checks::rollback::sql::{Rule, Target};

/// A revision's id and the ids it revises (`down_revision`; several for a merge), read from
/// `revision = '...'` and `down_revision = ...` (type annotations allowed).
pub fn revisions(text: &str) -> (Option<String>, Vec<String>) {
    let value = |name: &str| -> Option<&str> {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?;
            let rest = match rest.trim_start().strip_prefix(':') {
                Some(annotated) => annotated.split_once('=')?.1,
                None => rest.trim_start().strip_prefix('=')?,
            };
            Some(rest.trim())
        })
    };
    let ids = |v: &str| -> Vec<String> {
        string_literals(v)
            .into_iter()
            .map(|s| s.1.to_string())
            .collect()
    };
    let revision = value("revision").and_then(|v| ids(v).into_iter().next());
    let down = value("down_revision").map(ids).unwrap_or_default();
    (revision, down)
}

/// Who receives the operation calls: `op` (the table is the first argument) or a batch alias
/// (`with op.batch_alter_table('t') as batch_op:`; the table is fixed) within its block.
struct Receiver {
    name: String,
    table: Option<String>,
    within: Range<usize>,
}

fn receivers(up: &str) -> Vec<Receiver> {
    let mut out = vec![Receiver {
        name: "op".into(),
        table: None,
        within: 0..up.len(),
    }];
    for (at, call) in calls(up, "batch_alter_table") {
        let table = argument(&args(call), 0, "table_name").map(|t| bare(t).to_string());
        let line_start = up[..at].rfind('\n').map_or(0, |p| p + 1);
        let indent = up[line_start..].len() - up[line_start..].trim_start().len();
        let after_call = offset_in(up, call) + call.len();
        let rest = &up[after_call..];
        let line_end = rest.find('\n').map_or(up.len(), |p| after_call + p);
        let Some(alias) = up[after_call..line_end]
            .split_once(" as ")
            .map(|(_, a)| a.trim().trim_end_matches(':').trim().to_string())
        else {
            continue;
        };
        // The block: the following lines indented deeper than the `with`.
        let mut end = line_end;
        for l in up[line_end..].split_inclusive('\n').skip(1) {
            let deeper = l.len() - l.trim_start().len() > indent;
            if !l.trim().is_empty() && !deeper {
                break;
            }
            end += l.len();
        }
        out.push(Receiver {
            name: alias,
            table,
            within: line_end..end.min(up.len()),
        });
    }
    out
}

/// Reviews one Alembic migration file.
pub(super) fn review(path: &str, text: &str, r: &mut Review) {
    let code = without_hash_comments(text);
    let lines: Vec<&str> = code.lines().collect();
    let Some((_, upgrade)) = function_body(&lines, "upgrade") else {
        r.is_migration = false;
        return;
    };
    match function_body(&lines, "downgrade") {
        None => r
            .irreversible
            .push((path.into(), 1, "no `downgrade()`".into())),
        Some((start, body)) if does_nothing(&body) => {
            r.irreversible
                .push((path.into(), start + 1, "`downgrade()` only passes".into()));
        }
        Some(_) => {}
    }
    let first = upgrade.first().map_or(0, |(i, _)| *i);
    let up: String = upgrade
        .iter()
        .map(|(_, l)| *l)
        .collect::<Vec<_>>()
        .join("\n");
    let line = |at: usize| first + line_at(&up, at);
    for rcv in receivers(&up) {
        operations(path, &up, &rcv, &line, r);
    }
    // SQL: in `op.execute(...)`, `conn.execute(...)` and `sa.text(...)` alike, each string once.
    let mut seen = BTreeSet::new();
    for name in ["execute", "text"] {
        for (_, call) in calls(&up, name) {
            if let Some((offset, s)) = first_string(call) {
                let at = offset_in(&up, call) + offset;
                if seen.insert(at) {
                    r.sql(path, line(at), s, false);
                }
            }
        }
    }
}

/// The schema operations called on one receiver.
fn operations(path: &str, up: &str, rcv: &Receiver, line: &dyn Fn(usize) -> usize, r: &mut Review) {
    let ops = |name: &str| {
        calls(up, &format!("{}.{name}", rcv.name))
            .into_iter()
            .filter(|(at, _)| rcv.within.contains(at))
            .collect::<Vec<_>>()
    };
    // The table, and argument `pos` after it (`name` when given by keyword).
    let table_of = |a: &[&str]| match &rcv.table {
        Some(t) => t.clone(),
        None => argument(a, 0, "table_name")
            .map(bare)
            .unwrap_or("")
            .to_string(),
    };
    let after_table = |a: &[&'_ str], pos: usize, name: &str| -> String {
        let skip = usize::from(rcv.table.is_none());
        argument(a, pos + skip, name).unwrap_or("").to_string()
    };
    for (at, call) in ops("create_table") {
        let table = argument(&args(call), 0, "table_name")
            .map(bare)
            .unwrap_or("");
        r.creates(path, line(at), Target::table(table));
    }
    for (at, call) in ops("drop_table") {
        let table = table_of(&args(call));
        let what = format!("drops table `{table}`");
        r.danger(
            path,
            line(at),
            Rule::DropTable,
            what,
            Some(Target::table(&table)),
        );
    }
    for (at, call) in ops("rename_table") {
        let table = argument(&args(call), 0, "old_table_name")
            .map(bare)
            .unwrap_or("");
        let what = format!("renames table `{table}`");
        r.danger(
            path,
            line(at),
            Rule::Rename,
            what,
            Some(Target::table(table)),
        );
    }
    for (at, call) in ops("drop_column") {
        let a = args(call);
        let (table, col) = (table_of(&a), after_table(&a, 0, "column_name"));
        let col = bare(&col);
        let what = format!("drops column `{col}` of `{table}`");
        let target = Some(Target::columns(&table, &[col]));
        r.danger(path, line(at), Rule::DropColumn, what, target);
    }
    for (at, call) in ops("alter_column") {
        let rest = args(call);
        let (table, col) = (table_of(&rest), after_table(&rest, 0, "column_name"));
        let col = bare(&col);
        let target = Some(Target::columns(&table, &[col]));
        if keyword(&rest, "new_column_name").is_some() {
            let what = format!("renames column `{col}` of `{table}`");
            r.danger(path, line(at), Rule::Rename, what, target.clone());
        }
        if keyword(&rest, "type_").is_some() {
            let what = format!("changes the type of column `{col}` of `{table}`");
            r.danger(path, line(at), Rule::AlterType, what, target.clone());
        }
        if keyword(&rest, "nullable") == Some("False") {
            let what = format!("makes column `{col}` of `{table}` NOT NULL");
            r.danger(path, line(at), Rule::SetNotNull, what, target);
        }
    }
    for (at, call) in ops("add_column") {
        let a = args(call);
        let (table, column) = (table_of(&a), after_table(&a, 0, "column"));
        let col = first_string(&column).map(|s| s.1).unwrap_or("").to_string();
        let target = Target::columns(&table, &[&col]);
        r.creates(path, line(at), target.clone());
        let compact = column.replace(' ', "");
        if compact.contains("nullable=False") && !compact.contains("server_default") {
            let what =
                format!("adds NOT NULL column `{col}` to `{table}` without a server default");
            r.danger(path, line(at), Rule::AddNotNull, what, Some(target));
        }
    }
    for (at, call) in ops("create_index") {
        // `op.create_index(name, table, columns)`; a batch alias has no table argument.
        let a = args(call);
        let table = match &rcv.table {
            Some(t) => t.clone(),
            None => argument(&a, 1, "table_name")
                .map(bare)
                .unwrap_or("")
                .to_string(),
        };
        if keyword(&a, "postgresql_concurrently") != Some("True") {
            let what = format!("creates an index on `{table}` without CONCURRENTLY");
            r.danger(
                path,
                line(at),
                Rule::BlockingIndex,
                what,
                Some(Target::table(&table)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Tool;
    use super::super::tests::one;
    use super::*;

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
        assert_eq!(r.created[0].2, Target::columns("orders", &["note"]));
        assert!(!one(Tool::Alembic, "versions/helpers.py", "X = 1\n").is_migration);
    }

    #[test]
    fn sql_in_execute_and_text_is_scanned_once() {
        let text = "def upgrade():\n    op.execute(sa.text(\"DROP TABLE a\"))\n\n\ndef downgrade():\n    op.execute('SELECT 1')\n";
        let r = one(Tool::Alembic, "versions/a1_x.py", text);
        assert_eq!(r.dangers.len(), 1, "{r:?}");
    }

    #[test]
    fn keyword_arguments_name_table_and_column() {
        let text = "def upgrade():\n    op.alter_column(table_name='orders', column_name='note', nullable=False)\n    op.drop_column(column_name='x', table_name='orders')\n\n\ndef downgrade():\n    op.execute('SELECT 1')\n";
        let r = one(Tool::Alembic, "versions/a1_x.py", text);
        let what: Vec<&str> = r.dangers.iter().map(|d| d.1.what.as_str()).collect();
        assert_eq!(
            what,
            vec![
                "drops column `x` of `orders`",
                "makes column `note` of `orders` NOT NULL"
            ]
        );
    }

    #[test]
    fn revision_ids() {
        let text = "revision: str = \"b2\"\ndown_revision: Union[str, None] = ('a1', 'a2')\n";
        assert_eq!(
            revisions(text),
            (Some("b2".into()), vec!["a1".into(), "a2".into()])
        );
        assert_eq!(
            revisions("revision = 'a1'\ndown_revision = None\n"),
            (Some("a1".into()), vec![])
        );
    }
}
