//! Migrations in plain SQL files (sqlx, diesel, Flyway) and Flyway's Java migrations.

use super::text::{java_strings, line_at};
use std::cell::OnceCell;

use super::{History, MigrationFile, Review, Role, Tool};
use crate::checks::rollback::sql::{self, Rule};

/// Reviews one sqlx / diesel / Flyway migration.
pub(super) fn review(
    tool: Tool,
    id: &str,
    files: &[MigrationFile],
    history: &dyn History,
    r: &mut Review,
) {
    let find = |role: Role| files.iter().find(|f| f.role == role);
    let up = find(Role::Up).or_else(|| find(Role::UpOnly));
    let down = find(Role::Down);
    if let Some(f) = find(Role::UpOnly) {
        r.irreversible.push((
            f.path.clone(),
            1,
            "a simple sqlx migration has no down migration (create reversible ones with `sqlx migrate add -r`)".into(),
        ));
    } else if let (Some(f), None) = (up, down) {
        let want = match tool {
            Tool::Sqlx => format!("`{id}.down.sql` is missing"),
            Tool::Diesel => format!("`{id}/down.sql` is missing"),
            _ => format!(
                "an undo migration `U{}__*.sql` is missing (undo migrations are a paid Flyway feature; projects without them roll back by redeploying the previous build on the new schema: set `strategy = \"compatible\"`)",
                id.trim_start_matches('V')
            ),
        };
        r.irreversible
            .push((f.path.clone(), 1, format!("no down migration: {want}")));
    }
    if let Some(f) = down
        && up.is_some()
        && f.path.ends_with(".sql")
        && sql::is_empty(&f.text)
    {
        r.irreversible.push((
            f.path.clone(),
            1,
            "the down migration is empty: it reverts nothing".into(),
        ));
    }
    let Some(f) = up else { return };
    if f.path.ends_with(".sql") {
        r.sql(&f.path, 1, &f.text, false);
        drop_widenings(&f.path, &f.text, id, history, r);
    } else {
        // A Java (or Kotlin) migration: the SQL is in its string literals.
        for (at, s) in java_strings(&f.text) {
            r.sql(&f.path, line_at(&f.text, at), s, false);
        }
    }
}

/// Drops the type changes that only widen a column an earlier migration declared (a longer
/// `varchar`, `text`, a wider integer): every value the previous release writes still fits.
/// The earlier declaration is looked for under the table's earlier names too.
fn drop_widenings(path: &str, text: &str, id: &str, history: &dyn History, r: &mut Review) {
    let earlier = OnceCell::new();
    r.dangers.retain(|(file, d)| {
        let Some(t) = d.target.as_ref() else {
            return true;
        };
        if file != path || d.rule != Rule::AlterType || t.columns.len() != 1 {
            return true;
        }
        let Some(new) = sql::declared_type(text, &t.table, &t.columns[0]) else {
            return true;
        };
        // Newest first, following the table back through renames.
        let mut table = t.table.clone();
        let mut old = None;
        for (_, text) in earlier.get_or_init(|| history.before(id)) {
            old = sql::declared_type(text, &table, &t.columns[0]);
            if old.is_none()
                && let Some(before) = sql::renamed_from(text, &table)
            {
                table = before;
                old = sql::declared_type(text, &table, &t.columns[0]);
            }
            if old.is_some() {
                break;
            }
        }
        !old.is_some_and(|old| sql::widens(&old, &new))
    });
}
