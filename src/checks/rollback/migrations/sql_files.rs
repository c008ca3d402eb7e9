//! Migrations in plain SQL files: sqlx, diesel and Flyway.

use super::{Danger, Review, Role, Tool};
use crate::checks::rollback::sql;

/// Reviews one sqlx / diesel / Flyway migration: `files` are (path, role, content).
pub(super) fn review(tool: Tool, id: &str, files: &[(String, Role, String)], r: &mut Review) {
    let find = |role: Role| files.iter().find(|f| f.1 == role);
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
