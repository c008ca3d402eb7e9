//! What the rollback check found, and how it reads in the report.

use std::fmt::{self, Write as _};

use serde::Serialize;

use super::git::{Relation, Rule as PreviousRule};
use super::sql;

/// What the git side found (computed on a blocking thread).
#[derive(Debug, Serialize)]
pub struct Analysis {
    pub repo: String,
    pub head: HeadInfo,
    pub tag_pattern: String,
    /// Tags matching the pattern that name no version.
    pub ignored_tags: Vec<String>,
    pub previous: Option<PreviousInfo>,
    pub uncommitted: Vec<String>,
    pub migrations: Option<MigrationsReport>,
}

#[derive(Debug, Serialize)]
pub struct HeadInfo {
    pub commit: String,
    pub tag: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PreviousInfo {
    pub tag: String,
    pub version: String,
    pub commit: String,
    /// HEAD is the previous release's commit or descends from it.
    pub head_descends: bool,
    /// Which rule chose it: `ancestor`, `hotfix-line` or `unrelated`.
    pub rule: PreviousRule,
    /// For a hotfix line: the release in HEAD's history it branches from.
    pub base: Option<String>,
    /// The releases looked at, highest first.
    pub candidates: Vec<Candidate>,
    /// Not serialized: the commit of `base`, to tell hotfix-only migrations from deleted ones.
    #[serde(skip)]
    pub base_commit: Option<git2::Oid>,
    #[serde(skip)]
    pub commit_id: Option<git2::Oid>,
}

#[derive(Debug, Serialize)]
pub struct Candidate {
    pub tag: String,
    pub relation: Relation,
}

#[derive(Debug, Serialize)]
pub struct MigrationsReport {
    /// Relative to the repository root.
    pub dir: String,
    /// Where the migrations were at the previous release when `dir` did not exist there.
    pub previous_dir: Option<String>,
    pub tool: Option<&'static str>,
    pub detected: bool,
    pub migrations: Vec<MigrationVerdict>,
    /// About the migrations as a whole (squashes, a moved directory, ...).
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MigrationVerdict {
    pub id: String,
    /// `added`, `edited`, `deleted`, `squashed` or `hotfix-only` (in the previous release's
    /// tree only, on its hotfix line).
    pub change: &'static str,
    /// Repository-relative paths.
    pub files: Vec<String>,
    /// `reversible` (`compatible` under that strategy), `irreversible`, `dangerous`,
    /// `acknowledged`, `edited`, `deleted`, `squashed`, `hotfix-only`; `allowed` when an
    /// `allow` entry accepted it.
    pub verdict: &'static str,
    /// What fails the item whatever the settings.
    pub problems: Vec<Located>,
    /// Schema (and, under `down`, data) changes the previous release cannot live with.
    pub dangerous: Vec<Located>,
    pub warnings: Vec<Located>,
    /// Deploy-time lock risks (with `lock_risks = true`).
    pub lock_risks: Vec<Located>,
    /// Why findings did not count: objects created since, contract steps, ...
    pub notes: Vec<String>,
    pub allowed: Option<String>,
}

impl MigrationVerdict {
    pub fn new(id: &str, change: &'static str, verdict: &'static str, files: Vec<String>) -> Self {
        MigrationVerdict {
            id: id.to_string(),
            change,
            files,
            verdict,
            problems: Vec::new(),
            dangerous: Vec::new(),
            warnings: Vec::new(),
            lock_risks: Vec::new(),
            notes: Vec::new(),
            allowed: None,
        }
    }
}

/// Something found at `file:line`: one statement, or `count` of the same kind in one
/// migration (the first of them, the lines of a few more).
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    pub file: String,
    pub line: Option<usize>,
    pub rule: Option<sql::Rule>,
    pub message: String,
    pub count: usize,
    /// Lines of the next few alike (of `count - 1`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub more_lines: Vec<usize>,
    /// Inside strong_migrations' `safety_assured`.
    pub acknowledged: bool,
}

impl Located {
    pub fn new(file: &str, line: Option<usize>, message: String) -> Self {
        Located {
            file: file.to_string(),
            line,
            rule: None,
            message,
            count: 1,
            more_lines: Vec::new(),
            acknowledged: false,
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if self.count > 1 {
            let lines: Vec<String> = self.more_lines.iter().map(usize::to_string).collect();
            let more = if self.count - 1 > lines.len() {
                ", ..."
            } else {
                ""
            };
            write!(
                f,
                " (+{} more like it: lines {}{more})",
                self.count - 1,
                lines.join(", ")
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
pub struct DryRun {
    pub command: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    pub passed: bool,
    #[serde(skip)]
    pub summary: String,
    pub output_tail: String,
}

#[derive(Debug, Serialize)]
pub struct ArtifactStatus {
    pub location: String,
    pub present: bool,
    pub detail: String,
}

pub fn first_and_count(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
    }
}

pub fn render_details(
    a: &Analysis,
    dry_runs: &[DryRun],
    artifact: Option<&ArtifactStatus>,
    problems: &[String],
    errors: &[String],
    notes: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "repository: {} (HEAD {}{})",
        a.repo,
        a.head.commit,
        a.head
            .tag
            .as_ref()
            .map(|t| format!(", tagged {t}"))
            .unwrap_or_else(|| ", untagged".into())
    );
    match &a.previous {
        Some(p) => {
            let how = match (p.rule, &p.base) {
                (PreviousRule::HotfixLine, Some(base)) => format!(", on a hotfix line from {base}"),
                (PreviousRule::Unrelated, _) => " — HEAD does not descend from it".into(),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "previous release: {} (version {}, commit {}){how}",
                p.tag, p.version, p.commit,
            );
            let seen: Vec<String> = p
                .candidates
                .iter()
                .map(|c| {
                    let chosen = if c.tag == p.tag { ", chosen" } else { "" };
                    let relation = match c.relation {
                        Relation::Ancestor => "in HEAD's history",
                        Relation::Later => "later than HEAD",
                        Relation::OtherLine => "another line",
                    };
                    format!("{} ({relation}{chosen})", c.tag)
                })
                .collect();
            let _ = writeln!(s, "release candidates: {}", seen.join(", "));
        }
        None => {
            let _ = writeln!(s, "previous release: none matching `{}`", a.tag_pattern);
        }
    }
    if let Some(m) = &a.migrations {
        let tool = m
            .tool
            .map(|t| format!("{t}{}", if m.detected { ", detected" } else { "" }))
            .unwrap_or_else(|| "unknown tool".into());
        let _ = writeln!(
            s,
            "migrations in `{}` ({tool}): {} changed since the previous release",
            m.dir,
            m.migrations.len()
        );
        for v in &m.migrations {
            let _ = writeln!(
                s,
                "  {:<12} {} ({}: {})",
                v.verdict,
                v.id,
                v.change,
                v.files.join(", ")
            );
            for p in &v.problems {
                let _ = writeln!(s, "      {p}");
            }
            for d in &v.dangerous {
                let label = if d.acknowledged {
                    "acknowledged (safety_assured)"
                } else {
                    "dangerous"
                };
                let _ = writeln!(s, "      {label}: {d}");
            }
            for w in &v.warnings {
                let _ = writeln!(s, "      warning: {w}");
            }
            for l in &v.lock_risks {
                let _ = writeln!(s, "      lock risk: {l}");
            }
            for n in &v.notes {
                let _ = writeln!(s, "      ok: {n}");
            }
            if let Some(reason) = &v.allowed {
                let _ = writeln!(s, "      allowed: {reason}");
            }
        }
    }
    for d in dry_runs {
        let _ = writeln!(s, "dry run: $ {} -> {}", d.command, d.summary);
        for line in d.output_tail.lines() {
            let _ = writeln!(s, "  {line}");
        }
    }
    if let Some(art) = artifact {
        let _ = writeln!(s, "artifact: {} -> {}", art.location, art.detail);
    }
    if !a.uncommitted.is_empty() {
        let shown: Vec<&str> = a.uncommitted.iter().take(20).map(String::as_str).collect();
        let more = match a.uncommitted.len() {
            n if n > 20 => format!(" (+{} more)", n - 20),
            _ => String::new(),
        };
        let _ = writeln!(s, "uncommitted changes: {}{more}", shown.join(", "));
    }
    for n in notes {
        let _ = writeln!(s, "note: {n}");
    }
    if !problems.is_empty() {
        let _ = writeln!(s, "problems:");
        for p in problems {
            let _ = writeln!(s, "  - {p}");
        }
    }
    for e in errors {
        let _ = writeln!(s, "could not check: {e}");
    }
    s
}
