//! Rails migrations (`db/migrate/<version>_<name>.rb`), strong_migrations' `safety_assured`
//! and SQL in `execute` strings and heredocs included.

use std::sync::LazyLock;

use regex::Regex;

use super::Review;
use super::text::{args, bare, first_string, keyword, positional, without_hash_comments};
use crate::checks::rollback::sql::{Rule, Target};

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
            let indent = indent_of(l);
            let end = lines[i + 1..]
                .iter()
                .position(|m| indent_of(m) == indent && m.trim_start().starts_with("end"))
                .map_or(lines.len().saturating_sub(1), |p| i + 1 + p);
            out.push((name.trim_start_matches("self.").to_string(), i, end));
        }
    }
    out
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

static HEREDOC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"<<[~-]?(['"]?)([A-Za-z_][A-Za-z0-9_]*)(['"]?)"#)
        .unwrap_or_else(|_| unreachable!())
});

/// One statement of a migration, as the rules read it.
struct Stmt {
    /// 0-based line index.
    index: usize,
    /// The code with a one-line block wrapper (`safety_assured { ... }`, `dir.up { ... }`)
    /// removed.
    code: String,
    /// Inside strong_migrations' `safety_assured`.
    acknowledged: bool,
    /// Inside `reversible`/`up_only` (Rails runs it only one way).
    one_way: bool,
    /// In a `dir.down` block: never run going up.
    down_only: bool,
    /// A heredoc the statement opens: the 0-based index of its first line, and its text.
    heredoc: Option<(usize, String)>,
    /// The table of the enclosing `change_table :t do |alias|` block, with the alias.
    change_table: Option<(String, String)>,
}

/// The block a line opens, closed by `end` (or `}`) at the same indentation.
#[derive(Clone, PartialEq)]
enum Block {
    Assured,
    OneWay,
    Down,
    ChangeTable(String, String),
    Other,
}

/// The statements of a migration, in order, with the blocks around them.
fn statements(lines: &[&str]) -> Vec<Stmt> {
    let mut out = Vec::new();
    let mut open: Vec<(usize, Block)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let t = l.trim();
        let indent = indent_of(l);
        if let Some((ind, _)) = open.last()
            && *ind == indent
            && (t == "end" || t.starts_with("end ") || t == "}" || t.starts_with("end."))
        {
            open.pop();
            i += 1;
            continue;
        }
        let word: String = t
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        let kind = match word.as_str() {
            "safety_assured" => Block::Assured,
            "reversible" | "up_only" => Block::OneWay,
            w if w.ends_with(".down") => Block::Down,
            w if w.ends_with(".up") => Block::OneWay,
            "change_table" => {
                let table = args(&t[word.len()..]).first().map(|a| bare(a).to_string());
                let alias = t.split('|').nth(1).map(|a| a.trim().to_string());
                match (table, alias) {
                    (Some(table), Some(alias)) => Block::ChangeTable(table, alias),
                    _ => Block::Other,
                }
            }
            _ => Block::Other,
        };
        let opens_block = t.ends_with(" do") || t.contains(" do |") || t.ends_with('{');
        let one_liner =
            !opens_block && kind != Block::Other && t.contains('{') && t.trim_end().ends_with('}');
        let in_block = |b: &Block| open.iter().any(|(_, x)| x == b);
        let mut acknowledged = in_block(&Block::Assured);
        let mut one_way = in_block(&Block::OneWay);
        let mut down_only = in_block(&Block::Down);
        let change_table = open.iter().rev().find_map(|(_, b)| match b {
            Block::ChangeTable(t, a) => Some((t.clone(), a.clone())),
            _ => None,
        });
        if opens_block && !matches!(kind, Block::Other) {
            open.push((indent, kind));
            i += 1;
            continue;
        }
        let mut code = t.to_string();
        if one_liner {
            acknowledged |= kind == Block::Assured;
            one_way |= kind == Block::OneWay;
            down_only |= kind == Block::Down;
            let (Some(a), Some(b)) = (t.find('{'), t.rfind('}')) else {
                i += 1;
                continue;
            };
            code = t[a + 1..b].trim().to_string();
        } else if opens_block {
            open.push((indent, Block::Other));
        }
        let mut heredoc = None;
        let index = i;
        if let Some(caps) = HEREDOC.captures(&code) {
            let tag = caps[2].to_string();
            let start = i + 1;
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && lines[i].trim() != tag {
                body.push(lines[i]);
                i += 1;
            }
            heredoc = Some((start, body.join("\n")));
        }
        out.push(Stmt {
            index,
            code,
            acknowledged,
            one_way,
            down_only,
            heredoc,
            change_table,
        });
        i += 1;
    }
    out
}

/// `remove_column :t, :c` → (`remove_column`, its arguments).
fn call(code: &str) -> (&str, Vec<&str>) {
    let name_end = code
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '!'))
        .unwrap_or(code.len());
    let rest = code[name_end..].trim();
    let rest = rest
        .strip_prefix('(')
        .map(|r| r.strip_suffix(')').unwrap_or(r))
        .unwrap_or(rest);
    // A trailing block (`do |t|`, `{ ... }`) is not an argument.
    let rest = rest.split(" do").next().unwrap_or(rest);
    (&code[..name_end], args(rest))
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
    let change = def("change").map(|d| d.1..=d.2);
    let down = def("down").map(|d| d.1..=d.2);
    for s in statements(&lines) {
        if down.as_ref().is_some_and(|d| d.contains(&s.index)) || s.down_only {
            continue;
        }
        let in_change = change.as_ref().is_some_and(|c| c.contains(&s.index));
        if in_change
            && !s.one_way
            && let Some(reason) = not_invertible(&s.code)
        {
            r.irreversible
                .push((path.into(), s.index + 1, reason.into()));
        }
        statement(path, &s, r);
    }
}

/// Why Rails cannot invert a call inside `change`.
fn not_invertible(code: &str) -> Option<&'static str> {
    let (name, a) = call(code);
    let typed = positional(&a).len() >= 3 || keyword(&a, "type").is_some();
    match name {
        "execute" => {
            Some("`execute` in `change` cannot be reversed (use `reversible` or `up`/`down`)")
        }
        "change_column" => Some("`change_column` in `change` cannot be reversed"),
        "change_column_default" if keyword(&a, "from").is_none() => {
            Some("`change_column_default` without `from:`/`to:` cannot be reversed")
        }
        "remove_column" if !typed => {
            Some("`remove_column` without a column type cannot be reversed")
        }
        "remove_columns" if keyword(&a, "type").is_none() => {
            Some("`remove_columns` without `type:` cannot be reversed")
        }
        "drop_table" if !code.contains(" do") && !code.contains('{') => {
            Some("`drop_table` without a block of the columns cannot be reversed")
        }
        _ => None,
    }
}

/// The findings and creations of one statement going up.
fn statement(path: &str, s: &Stmt, r: &mut Review) {
    let line = s.index + 1;
    let (mut name, mut a) = call(&s.code);
    // Inside `change_table :t do |t|`: `t.remove :c` is `remove_column :t, :c`.
    let table_arg;
    if let Some((table, alias)) = &s.change_table
        && let Some(method) = name
            .strip_prefix(alias.as_str())
            .and_then(|m| m.strip_prefix('.'))
    {
        table_arg = format!(":{table}");
        name = match method {
            "remove" => "remove_column",
            "rename" => "rename_column",
            "change" => "change_column",
            "index" => "add_index",
            "remove_references" | "remove_belongs_to" => "remove_reference",
            "references" | "belongs_to" => "add_reference",
            "timestamps" => "add_timestamps",
            _ => "add_column_typed",
        };
        a.insert(0, &table_arg);
    }
    let pos: Vec<&str> = positional(&a).into_iter().map(bare).collect();
    let arg = |i: usize| pos.get(i).copied().unwrap_or("");
    let table = arg(0);
    let column = |c: &str| Target::columns(table, &[c]);
    let mut danger = |rule: Rule, what: String, target: Target| {
        r.dangers.push((
            path.to_string(),
            super::Danger {
                line,
                rule,
                what,
                target: Some(target),
                acknowledged: s.acknowledged,
            },
        ));
    };
    match name {
        "drop_table" => danger(
            Rule::DropTable,
            format!("drops table `{table}`"),
            Target::table(table),
        ),
        "remove_column" => danger(
            Rule::DropColumn,
            format!("removes column `{}` of `{table}`", arg(1)),
            column(arg(1)),
        ),
        "remove_columns" => {
            let cols: Vec<&str> = pos.iter().skip(1).copied().collect();
            let shown = cols
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            danger(
                Rule::DropColumn,
                format!("removes columns {shown} of `{table}`"),
                Target::columns(table, &cols),
            );
        }
        "remove_reference" | "remove_belongs_to" => {
            let c = format!("{}_id", arg(1));
            danger(
                Rule::DropColumn,
                format!("removes column `{c}` of `{table}`"),
                column(&c),
            );
        }
        "rename_column" => danger(
            Rule::Rename,
            format!("renames column `{}` of `{table}`", arg(1)),
            column(arg(1)),
        ),
        "rename_table" => danger(
            Rule::Rename,
            format!("renames table `{table}`"),
            Target::table(table),
        ),
        "change_column" => danger(
            Rule::AlterType,
            format!("changes the type of column `{}` of `{table}`", arg(1)),
            column(arg(1)),
        ),
        "change_column_null" if arg(2) == "false" => danger(
            Rule::SetNotNull,
            format!("makes column `{}` of `{table}` NOT NULL", arg(1)),
            column(arg(1)),
        ),
        "add_column" | "add_column_typed" | "add_reference" | "add_belongs_to" => {
            let c = if name.starts_with("add_reference") || name == "add_belongs_to" {
                format!("{}_id", arg(1))
            } else {
                arg(1).to_string()
            };
            r.creates(path, line, column(&c));
            if keyword(&a, "null") == Some("false") && keyword(&a, "default").is_none() {
                r.danger(
                    path,
                    line,
                    Rule::AddNotNull,
                    format!("adds NOT NULL column `{c}` to `{table}` without a default"),
                    Some(column(&c)),
                );
            }
        }
        "add_timestamps" => r.creates(
            path,
            line,
            Target::columns(table, &["created_at", "updated_at"]),
        ),
        "create_table" => r.creates(path, line, Target::table(table)),
        "add_index" if !s.code.contains("algorithm: :concurrently") => danger(
            Rule::BlockingIndex,
            format!("adds an index to `{table}` without `algorithm: :concurrently`"),
            Target::table(table),
        ),
        "add_foreign_key" if keyword(&a, "validate") != Some("false") => danger(
            Rule::ValidatingConstraint,
            format!("adds a validated foreign key to `{table}`"),
            Target::table(table),
        ),
        "execute" => match &s.heredoc {
            Some((first, body)) => r.sql(path, first + 1, body, s.acknowledged),
            None => {
                if let Some((_, sql)) = first_string(&s.code) {
                    r.sql(path, line, sql, s.acknowledged);
                }
            }
        },
        _ => {}
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

    #[test]
    fn blocks_heredocs_and_change_table() {
        let text = "class X < ActiveRecord::Migration[7.1]\n  def change\n    safety_assured do\n      execute <<~SQL.squish\n        DROP TABLE a;\n      SQL\n    end\n    reversible do |dir|\n      dir.down { execute \"DROP TABLE b\" }\n    end\n    change_table :orders do |t|\n      t.remove :note, type: :string\n      t.string :tag\n    end\n  end\nend\n";
        let r = one(Tool::Rails, "20250101_x.rb", text);
        let found: Vec<(usize, Rule, bool)> = r
            .dangers
            .iter()
            .map(|d| (d.1.line, d.1.rule, d.1.acknowledged))
            .collect();
        assert_eq!(
            found,
            vec![(5, Rule::DropTable, true), (12, Rule::DropColumn, false)]
        );
        assert_eq!(r.created.len(), 1);
    }
}
