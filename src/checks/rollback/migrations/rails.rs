//! Rails migrations (`db/migrate/<version>_<name>.rb`).

use super::text::{first_string, without_hash_comments};
use super::{Danger, Review};
use crate::checks::rollback::sql::{self, Rule};

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

/// Reviews one Rails migration file.
pub(super) fn review(path: &str, text: &str, r: &mut Review) {
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

#[cfg(test)]
mod tests {
    use super::super::Tool;
    use super::super::tests::one;
    use crate::checks::rollback::sql::Rule;

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
}
