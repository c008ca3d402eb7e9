//! Migration conventions per tool: which files make one migration, and whether it has a way back.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::sql::Rule;

mod alembic;
mod django;
mod rails;
mod sql_files;
mod text;

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
    match tool {
        Tool::Sqlx | Tool::Diesel | Tool::Flyway => sql_files::review(tool, id, files, &mut r),
        Tool::Rails => {
            for (path, _, text) in files {
                rails::review(path, text, &mut r);
            }
        }
        Tool::Django => {
            for (path, _, text) in files {
                django::review(path, text, &mut r);
            }
        }
        Tool::Alembic => {
            for (path, _, text) in files {
                alembic::review(path, text, &mut r);
            }
        }
    }
    r
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Reviews one file as a whole migration.
    pub(super) fn one(tool: Tool, path: &str, text: &str) -> Review {
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
            super::super::sql::is_empty(&text);
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
}
