//! Alembic revisions (`versions/<rev>_<name>.py` with `upgrade()` / `downgrade()`).

use super::text::{args, calls, first_string, line_at, without_hash_comments};
use super::{Danger, Review};
use crate::checks::rollback::sql::{self, Rule};

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

/// Reviews one Alembic migration file.
pub(super) fn review(path: &str, text: &str, r: &mut Review) {
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
    use super::super::Tool;
    use super::super::tests::one;
    use crate::checks::rollback::sql::Rule;

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
