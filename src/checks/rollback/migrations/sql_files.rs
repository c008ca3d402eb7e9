//! Migrations in plain SQL files (sqlx, diesel, Flyway) and Flyway's Java migrations.

use super::text::{java_strings, line_at};
use super::{MigrationFile, Review, Role, Tool};
use crate::checks::rollback::sql;

/// Reviews one sqlx / diesel / Flyway migration.
pub(super) fn review(tool: Tool, id: &str, files: &[MigrationFile], r: &mut Review) {
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
    } else {
        // A Java (or Kotlin) migration: the SQL is in its string literals.
        for (at, s) in java_strings(&f.text) {
            r.sql(&f.path, line_at(&f.text, at), s, false);
        }
    }
}
