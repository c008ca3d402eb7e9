//! What the rollback check found, and how it reads in the report.

use std::fmt::{self, Write as _};

use serde::Serialize;

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
}

#[derive(Debug, Serialize)]
pub struct MigrationsReport {
    /// Relative to the repository root.
    pub dir: String,
    pub tool: Option<&'static str>,
    pub detected: bool,
    pub migrations: Vec<MigrationVerdict>,
}

#[derive(Debug, Serialize)]
pub struct MigrationVerdict {
    pub id: String,
    /// `added`, `edited` or `deleted` since the previous release.
    pub change: &'static str,
    /// Repository-relative paths.
    pub files: Vec<String>,
    /// `reversible`, `irreversible`, `edited`, `deleted` or `dangerous`; `allowed` when an
    /// `allow` entry accepted it.
    pub verdict: &'static str,
    pub problems: Vec<Located>,
    pub dangerous: Vec<Located>,
    pub allowed: Option<String>,
}

/// Something found at `file:line`.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    pub file: String,
    pub line: Option<usize>,
    pub rule: Option<sql::Rule>,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
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
            let _ = writeln!(
                s,
                "previous release: {} (version {}, commit {}){}",
                p.tag,
                p.version,
                p.commit,
                if p.head_descends {
                    ""
                } else {
                    " — HEAD does not descend from it"
                }
            );
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
                let _ = writeln!(s, "      dangerous: {d}");
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
        let _ = writeln!(s, "uncommitted changes: {}", a.uncommitted.join(", "));
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
