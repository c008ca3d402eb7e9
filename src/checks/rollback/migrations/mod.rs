//! Migration conventions per tool: which files make one migration, what the tool records of
//! it, and what it does to the schema going up and down.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::sql::{self, Rule, Target};

mod alembic;
mod django;
mod python;
mod rails;
mod sql_files;
mod text;

pub use alembic::revisions as alembic_revisions;
pub use django::replaces as django_replaces;

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

    /// Whether the tool stores a checksum of each applied migration and refuses to run when a
    /// file no longer matches it (so even a whitespace edit breaks startup).
    pub fn checksums(self) -> bool {
        matches!(self, Tool::Sqlx | Tool::Flyway)
    }
}

/// What a file is to its migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Up,
    Down,
    /// An up migration that has no down by design (sqlx `<ver>_x.sql`).
    UpOnly,
    /// One file holding both directions (Rails, Django, Alembic).
    Both,
}

impl Role {
    /// Whether the tool runs this file going up (what a checksum covers).
    pub fn is_up(self) -> bool {
        !matches!(self, Role::Down)
    }
}

static FLYWAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([VU])([0-9][0-9._]*)__.*\.(sql|java|kt)$").unwrap_or_else(|_| unreachable!())
});
static DJANGO_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{4}_\w*\.py$").unwrap_or_else(|_| unreachable!()));
static RAILS_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d+_\w+\.rb$").unwrap_or_else(|_| unreachable!()));

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A migration file as the tool sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// What the tool records of an applied migration (sqlx/diesel/Rails: the version; Flyway:
    /// `V<version>`; Django: `<app>/<name>`; Alembic: the file, until its revision is read).
    pub key: String,
    /// How the report names the migration.
    pub id: String,
    pub role: Role,
}

/// The migration a file belongs to: `in_dir` is its path relative to the migrations dir,
/// `in_repo` relative to the repository.
pub fn classify(tool: Tool, in_dir: &str, in_repo: &str) -> Option<Classified> {
    let name = file_name(in_dir);
    let make = |key: String, id: &str, role| {
        Some(Classified {
            key,
            id: id.to_string(),
            role,
        })
    };
    let version = |id: &str| {
        let v: String = id
            .split('_')
            .next()
            .unwrap_or(id)
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if v.is_empty() { id.to_string() } else { v }
    };
    match tool {
        Tool::Sqlx => {
            if in_dir.contains('/') || !name.ends_with(".sql") {
                return None;
            }
            let (id, role) = if let Some(id) = name.strip_suffix(".up.sql") {
                (id, Role::Up)
            } else if let Some(id) = name.strip_suffix(".down.sql") {
                (id, Role::Down)
            } else {
                (name.strip_suffix(".sql")?, Role::UpOnly)
            };
            make(version(id), id, role)
        }
        Tool::Diesel => {
            let (dir, file) = in_dir.split_once('/')?;
            let role = match file {
                "up.sql" => Role::Up,
                "down.sql" => Role::Down,
                _ => return None,
            };
            make(version(dir), dir, role)
        }
        Tool::Flyway => {
            let caps = FLYWAY.captures(name)?;
            // `V1_1` and `V1.1` are the same version.
            let id = format!("V{}", caps[2].replace('_', ".").trim_end_matches('.'));
            let role = if &caps[1] == "V" {
                Role::Up
            } else {
                Role::Down
            };
            make(id.clone(), &id, role)
        }
        Tool::Rails => {
            let id = name.strip_suffix(".rb")?;
            RAILS_FILE
                .is_match(name)
                .then(|| make(version(id), id, Role::Both))
                .flatten()
        }
        Tool::Django => {
            if !DJANGO_FILE.is_match(name) {
                return None;
            }
            let id = format!("{}/{}", django_app(in_repo), name.trim_end_matches(".py"));
            make(id.clone(), &id, Role::Both)
        }
        Tool::Alembic => {
            if !name.ends_with(".py") || name == "env.py" || name == "__init__.py" {
                return None;
            }
            let id = in_dir.trim_end_matches(".py");
            make(id.to_string(), id, Role::Both)
        }
    }
}

/// The Django app a migration file belongs to: the directory holding its `migrations` package.
pub fn django_app(in_repo: &str) -> &str {
    let mut parts: Vec<&str> = in_repo.split('/').collect();
    parts.pop();
    if parts.last() == Some(&"migrations") {
        parts.pop();
    }
    parts.last().copied().unwrap_or("")
}

/// Orders migration keys the way the tools do: numbers by value (`V1.10` after `V1.9`).
pub fn key_order(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let digit = c.is_ascii_digit();
            match out.last_mut() {
                Some((d, run)) if *d == digit => run.push(c),
                _ => out.push((digit, c.to_string())),
            }
        }
        out
    };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (x.0, y.0) {
            (true, true) => {
                let (tx, ty) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            _ => x.1.cmp(&y.1),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
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
    /// The table and columns it touches, when known.
    pub target: Option<Target>,
    /// Inside strong_migrations' `safety_assured`: someone reviewed it.
    pub acknowledged: bool,
}

/// One file of a migration, with its text.
#[derive(Debug, Clone)]
pub struct MigrationFile {
    /// Relative to the repository.
    pub path: String,
    pub role: Role,
    pub text: String,
}

/// What one new migration does, as far as going back goes.
#[derive(Debug, Default)]
pub struct Review {
    /// Why it cannot be reverted (file, line, reason).
    pub irreversible: Vec<(String, usize, String)>,
    /// What its up direction does that matters (file, finding), locks and advice included.
    pub dangers: Vec<(String, Danger)>,
    /// Tables and columns its up direction creates (file, line, target).
    pub created: Vec<(String, usize, Target)>,
    /// Columns its up direction gives a database default (`SET DEFAULT`).
    pub defaulted: Vec<Target>,
    /// `false` for a file that only looks like a migration (an Alembic helper module).
    pub is_migration: bool,
}

impl Review {
    fn danger(
        &mut self,
        file: &str,
        line: usize,
        rule: Rule,
        what: String,
        target: Option<Target>,
    ) {
        self.dangers.push((
            file.to_string(),
            Danger {
                line,
                rule,
                what,
                target,
                acknowledged: false,
            },
        ));
    }

    fn creates(&mut self, file: &str, line: usize, target: Target) {
        self.created.push((file.to_string(), line, target));
    }

    /// Scans SQL found in `file` starting at line `first_line`.
    fn sql(&mut self, file: &str, first_line: usize, text: &str, acknowledged: bool) {
        let scan = sql::scan(text);
        for f in scan.findings {
            self.dangers.push((
                file.to_string(),
                Danger {
                    line: first_line + f.line - 1,
                    rule: f.rule,
                    what: f.what,
                    target: f.target,
                    acknowledged,
                },
            ));
        }
        for (line, t) in scan.created {
            self.creates(file, first_line + line - 1, t);
        }
        self.defaulted
            .extend(scan.defaulted.into_iter().map(|(_, t)| t));
    }
}

/// Earlier migrations of the same Django app, newest first: (path, text). Django needs them to
/// tell what an `AlterField` changes.
pub trait History {
    fn earlier(&self, path: &str) -> Vec<(String, String)>;

    /// The up files of the migrations that run before migration `id`, newest first: (path,
    /// text). SQL tools need them to tell what type a column had.
    fn before(&self, _id: &str) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Reviews one new migration (its files, up and down).
pub fn review(tool: Tool, id: &str, files: &[MigrationFile], history: &dyn History) -> Review {
    let mut r = Review {
        is_migration: true,
        ..Review::default()
    };
    match tool {
        Tool::Sqlx | Tool::Diesel | Tool::Flyway => {
            sql_files::review(tool, id, files, history, &mut r)
        }
        Tool::Rails => {
            for f in files {
                rails::review(&f.path, &f.text, &mut r);
            }
        }
        Tool::Django => {
            for f in files {
                django::review(&f.path, &f.text, history, &mut r);
            }
        }
        Tool::Alembic => {
            for f in files {
                alembic::review(&f.path, &f.text, &mut r);
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
        let c = classify(tool, path, path).expect("a migration");
        let file = MigrationFile {
            path: path.to_string(),
            role: c.role,
            text: text.to_string(),
        };
        review(tool, &c.id, &[file], &NoHistory)
    }

    pub(super) struct NoHistory;

    impl History for NoHistory {
        fn earlier(&self, _: &str) -> Vec<(String, String)> {
            Vec::new()
        }
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
            "with op.batch_alter_table(\"t\") as b:",
            "b.drop_column(",
            "<<~SQL",
            "SQL",
            "safety_assured {",
            "safety_assured do",
            "}",
            "AddField(",
            "AlterField(",
            "field=models.",
            "replaces = [",
            "state_operations=[",
            "sa.text(",
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
            for tool in [
                Tool::Sqlx,
                Tool::Flyway,
                Tool::Rails,
                Tool::Django,
                Tool::Alembic,
            ] {
                let role = if tool == Tool::Sqlx {
                    Role::Up
                } else {
                    Role::Both
                };
                let file = MigrationFile {
                    path: "x".into(),
                    role,
                    text: text.clone(),
                };
                review(tool, "x", &[file], &NoHistory);
            }
            super::super::sql::is_empty(&text);
        }
    }

    #[test]
    fn classify_per_tool() {
        let c = |tool, path: &str| classify(tool, path, path).map(|c| (c.key, c.id, c.role));
        let s = |a: &str, b: &str, r| Some((a.to_string(), b.to_string(), r));
        assert_eq!(
            c(Tool::Sqlx, "20250101_a.up.sql"),
            s("20250101", "20250101_a", Role::Up)
        );
        assert_eq!(
            c(Tool::Sqlx, "20250101_a.sql"),
            s("20250101", "20250101_a", Role::UpOnly)
        );
        assert_eq!(c(Tool::Sqlx, "sub/20250101_a.sql"), None);
        assert_eq!(
            c(Tool::Diesel, "2025-01-01-000000_a/down.sql"),
            s("20250101000000", "2025-01-01-000000_a", Role::Down)
        );
        assert_eq!(
            c(Tool::Flyway, "sub/V1_1__init.sql"),
            s("V1.1", "V1.1", Role::Up)
        );
        assert_eq!(
            c(Tool::Flyway, "U1.1__init.sql"),
            s("V1.1", "V1.1", Role::Down)
        );
        assert_eq!(
            c(Tool::Flyway, "V3__Backfill.java"),
            s("V3", "V3", Role::Up)
        );
        assert_eq!(c(Tool::Flyway, "R__views.sql"), None);
        assert_eq!(
            c(Tool::Rails, "20250101000000_add_x.rb"),
            s("20250101000000", "20250101000000_add_x", Role::Both)
        );
        assert_eq!(
            classify(Tool::Django, "0002_x.py", "shop/migrations/0002_x.py").map(|c| c.key),
            Some("shop/0002_x".into())
        );
        assert_eq!(c(Tool::Django, "__init__.py"), None);
    }

    #[test]
    fn keys_sort_like_versions() {
        let mut keys = vec!["V1.10", "V1.9", "V2", "V1.9.1", "20250101000000", "3"];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(
            keys,
            vec!["3", "20250101000000", "V1.9", "V1.9.1", "V1.10", "V2"]
        );
    }
}
