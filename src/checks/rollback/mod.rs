//! `[rollback.NAME]`: proves there is a tested way back before shipping. Finds the previous
//! release tag (semver), reviews the migrations added since then for a way back and for
//! statements the previous release cannot survive, runs rollback dry runs and checks that the
//! previous release's artifact still exists.

mod git;
pub mod migrations;
mod sql;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{Check, CheckContext, CheckOutput, Status};
use crate::process::{self, Spawn};
use crate::syntax::{Program, Template};
use migrations::{Role, Tool};

crate::item_config! {
    /// The release can be rolled back: previous release, reversible migrations, dry runs, artifact.
    pub struct RollbackItem {
        /// The repository (default: the checklist's directory, discovered upward).
        #[serde(default)]
        pub repo: Option<Template>,
        /// Release tags (glob; default `v*`).
        #[serde(default)]
        pub tag_pattern: Option<TagPattern>,
        /// Count pre-release tags (`v2.0.0-rc.1`) as previous releases.
        #[serde(default)]
        pub include_prereleases: bool,
        /// Fail when there is no previous release (default: a first release passes with a note).
        #[serde(default)]
        pub require_previous: bool,
        /// Fail when HEAD has no release tag.
        #[serde(default)]
        pub require_tag: bool,
        #[serde(default)]
        pub migrations: Option<MigrationsConfig>,
        /// What dangerous statements do: `fail` (default) or `warn`.
        #[serde(default)]
        pub dangerous: DangerousMode,
        /// Accepted exceptions, each with a reason.
        #[serde(default)]
        pub allow: Vec<AllowEntry>,
        /// Commands that must exit 0 (strings run by `sh -c`, or argv arrays).
        #[serde(default)]
        pub dry_run: Vec<Program>,
        /// A path or http(s) URL of the previous release's build, which must exist.
        #[serde(default)]
        pub artifact: Option<Template>,
    }
}

/// A glob for release tag names, checked when the checklist is read.
#[derive(Debug, Clone)]
pub struct TagPattern(pub glob::Pattern);

impl<'de> Deserialize<'de> for TagPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Template::deserialize(d)?;
        glob::Pattern::new(&t).map(TagPattern).map_err(|e| {
            de::Error::custom(format!("invalid tag_pattern `{}`: {}", t.as_str(), e.msg))
        })
    }
}

crate::string_schema!(
    TagPattern,
    "TagPattern",
    "a glob for release tag names, like `v*`"
);

/// `migrations = { dir = "migrations", tool = "sqlx" }`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationsConfig {
    /// Relative to the checklist's directory; must be inside the repository.
    pub dir: Template,
    #[serde(default)]
    pub tool: ToolSetting,
}

/// The migration tool, or `auto` to tell from the files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolSetting {
    #[default]
    Auto,
    Sqlx,
    Diesel,
    Flyway,
    Rails,
    Django,
    Alembic,
}

impl ToolSetting {
    fn tool(self) -> Option<Tool> {
        match self {
            ToolSetting::Auto => None,
            ToolSetting::Sqlx => Some(Tool::Sqlx),
            ToolSetting::Diesel => Some(Tool::Diesel),
            ToolSetting::Flyway => Some(Tool::Flyway),
            ToolSetting::Rails => Some(Tool::Rails),
            ToolSetting::Django => Some(Tool::Django),
            ToolSetting::Alembic => Some(Tool::Alembic),
        }
    }
}

/// Whether dangerous statements fail the item or only warn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DangerousMode {
    #[default]
    Fail,
    Warn,
}

/// An accepted exception: `{ migration = "20250101120000_drop_legacy", reason = "..." }`.
#[derive(Debug, Clone)]
pub struct AllowEntry {
    /// A migration id (`20250101120000_drop_legacy`, `V3`), file name or path.
    pub migration: String,
    pub reason: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AllowTable {
    migration: String,
    reason: String,
}

/// Written as an [`AllowTable`] (a bare string is refused: an exception needs a reason).
impl schemars::JsonSchema for AllowEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AllowEntry".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        AllowTable::json_schema(generator)
    }
}

impl<'de> Deserialize<'de> for AllowEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AllowEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a table like { migration = \"20250101120000_drop_legacy\", reason = \"...\" }",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AllowEntry, E> {
                Err(E::custom(format!(
                    "allow entry `{s}` needs a reason: write {{ migration = \"{s}\", reason = \"why this is safe\" }}"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AllowEntry, A::Error> {
                let t = AllowTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if t.reason.trim().is_empty() {
                    return Err(de::Error::custom(format!(
                        "allow entry `{}` has an empty reason",
                        t.migration
                    )));
                }
                if t.migration.trim().is_empty() {
                    return Err(de::Error::custom("allow entry has an empty `migration`"));
                }
                Ok(AllowEntry {
                    migration: t.migration,
                    reason: t.reason,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Check for RollbackItem {
    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move { self.check(cx).await })
    }
}

/// What the git side found (computed on a blocking thread).
#[derive(Debug, Serialize)]
struct Analysis {
    repo: String,
    head: HeadInfo,
    tag_pattern: String,
    /// Tags matching the pattern that name no version.
    ignored_tags: Vec<String>,
    previous: Option<PreviousInfo>,
    uncommitted: Vec<String>,
    migrations: Option<MigrationsReport>,
}

#[derive(Debug, Serialize)]
struct HeadInfo {
    commit: String,
    tag: Option<String>,
}

#[derive(Debug, Serialize)]
struct PreviousInfo {
    tag: String,
    version: String,
    commit: String,
    /// HEAD is the previous release's commit or descends from it.
    head_descends: bool,
}

#[derive(Debug, Serialize)]
struct MigrationsReport {
    /// Relative to the repository root.
    dir: String,
    tool: Option<&'static str>,
    detected: bool,
    migrations: Vec<MigrationVerdict>,
}

#[derive(Debug, Serialize)]
struct MigrationVerdict {
    id: String,
    /// `added`, `edited` or `deleted` since the previous release.
    change: &'static str,
    /// Repository-relative paths.
    files: Vec<String>,
    /// `reversible`, `irreversible`, `edited`, `deleted` or `dangerous`; `allowed` when an
    /// `allow` entry accepted it.
    verdict: &'static str,
    problems: Vec<Located>,
    dangerous: Vec<Located>,
    allowed: Option<String>,
}

/// Something found at `file:line`.
#[derive(Debug, Clone, Serialize)]
struct Located {
    file: String,
    line: Option<usize>,
    rule: Option<sql::Rule>,
    message: String,
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
struct DryRun {
    command: String,
    exit_code: Option<i32>,
    timed_out: bool,
    duration_ms: u64,
    passed: bool,
    #[serde(skip)]
    summary: String,
    output_tail: String,
}

#[derive(Debug, Serialize)]
struct ArtifactStatus {
    location: String,
    present: bool,
    detail: String,
}

/// Inputs of [`analyze`], owned so that it can run on a blocking thread.
struct GitParams {
    repo: PathBuf,
    pattern: glob::Pattern,
    include_prereleases: bool,
    migrations_dir: Option<PathBuf>,
    tool: ToolSetting,
    artifacts_dir: PathBuf,
}

impl RollbackItem {
    async fn check(&self, cx: &CheckContext) -> CheckOutput {
        let started = Instant::now();
        let base = cx.base_dir().to_path_buf();
        let pattern = self
            .tag_pattern
            .as_ref()
            .map(|p| p.0.clone())
            .unwrap_or_else(|| {
                glob::Pattern::new("v*").unwrap_or_else(|_| unreachable!("`v*` is a valid glob"))
            });
        let params = GitParams {
            repo: self
                .repo
                .as_ref()
                .map(|r| base.join(r.as_str()))
                .unwrap_or_else(|| base.clone()),
            pattern,
            include_prereleases: self.include_prereleases,
            migrations_dir: self.migrations.as_ref().map(|m| base.join(m.dir.as_str())),
            tool: self.migrations.as_ref().map(|m| m.tool).unwrap_or_default(),
            artifacts_dir: cx.settings.artifacts_dir.clone(),
        };
        let analysis = match tokio::task::spawn_blocking(move || analyze(params)).await {
            Ok(Ok(a)) => a,
            Ok(Err(message)) => return CheckOutput::errored(message),
            Err(e) => return CheckOutput::errored(format!("the git analysis stopped: {e}")),
        };

        let mut problems: Vec<String> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let mut warnings: Vec<String> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        let pattern = analysis.tag_pattern.clone();

        // 6. Clean tree.
        if self.require_tag && analysis.head.tag.is_none() {
            problems.push(format!(
                "HEAD ({}) has no release tag matching `{pattern}` (require_tag = true)",
                analysis.head.commit
            ));
        }
        if !analysis.uncommitted.is_empty() {
            let n = analysis.uncommitted.len();
            let shown: Vec<&str> = analysis
                .uncommitted
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            let more = if n > 5 {
                format!(" (+{} more)", n - 5)
            } else {
                String::new()
            };
            warnings.push(format!(
                "uncommitted changes are not part of the release checked: {}{more}",
                shown
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !analysis.ignored_tags.is_empty() {
            notes.push(format!(
                "tags matching `{pattern}` that name no version (ignored): {}",
                analysis.ignored_tags.join(", ")
            ));
        }

        // 1. Previous release.
        let Some(previous) = analysis
            .previous
            .as_ref()
            .map(|p| (p.tag.clone(), p.commit.clone(), p.head_descends))
        else {
            let what = format!("no previous release: no tag matching `{pattern}` below HEAD");
            let out = if self.require_previous {
                problems.insert(0, format!("{what} (require_previous = true)"));
                None
            } else {
                Some(format!("{what}: first release, nothing to roll back to"))
            };
            return self.finish(
                cx,
                &analysis,
                &[],
                None,
                problems,
                errors,
                warnings,
                notes,
                out,
            );
        };
        let (previous_tag, previous_commit, head_descends) = previous;
        if !head_descends {
            problems.push(format!(
                "HEAD ({}) does not descend from the previous release {previous_tag} ({previous_commit}): it was not built from that history",
                analysis.head.commit
            ));
        }

        // 2-3. Migrations: the verdicts, with `allow` applied.
        let mut used_allow = vec![false; self.allow.len()];
        let mut analysis = analysis;
        if let Some(m) = &mut analysis.migrations {
            for v in &mut m.migrations {
                let allowed = self
                    .allow
                    .iter()
                    .position(|a| allow_matches(a, &v.id, &v.files));
                if let Some(i) = allowed {
                    used_allow[i] = true;
                    if !v.problems.is_empty() || !v.dangerous.is_empty() {
                        v.allowed = Some(self.allow[i].reason.clone());
                        v.verdict = "allowed";
                        continue;
                    }
                }
                for p in &v.problems {
                    problems.push(p.to_string());
                }
                for d in &v.dangerous {
                    match self.dangerous {
                        DangerousMode::Fail => problems.push(format!("dangerous: {d}")),
                        DangerousMode::Warn => warnings.push(format!("dangerous: {d}")),
                    }
                }
            }
        }
        for (entry, used) in self.allow.iter().zip(&used_allow) {
            if !used && analysis.migrations.is_some() {
                warnings.push(format!(
                    "allow entry `{}` matches no migration changed since {}",
                    entry.migration, previous_tag
                ));
            }
        }

        // 4. Dry runs.
        let vars = [
            ("previous_tag", previous_tag.as_str()),
            ("previous_commit", previous_commit.as_str()),
        ];
        let deadline = started + cx.timeout;
        let mut dry_runs = Vec::new();
        for program in &self.dry_run {
            let argv: Vec<String> = program
                .argv()
                .iter()
                .map(|a| Template::new(a.as_str()).expand_runtime(&vars))
                .collect();
            let shown = Template::new(program.display()).expand_runtime(&vars);
            let env = vec![
                ("PREFLIGHT_PREVIOUS_TAG".to_string(), previous_tag.clone()),
                (
                    "PREFLIGHT_PREVIOUS_COMMIT".to_string(),
                    previous_commit.clone(),
                ),
            ];
            let remaining = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100));
            let spec = Spawn {
                argv: &argv,
                cwd: &base,
                env: &env,
            };
            match process::run_captured(&spec, remaining).await {
                Err(e) => errors.push(format!(
                    "dry run `{shown}`: {}",
                    process::spawn_error(&argv[0], &e)
                )),
                Ok(c) => {
                    let passed = c.status.is_some_and(|s| s.success());
                    let summary = if c.timed_out() {
                        format!(
                            "killed at the item's timeout after {:.1}s",
                            c.elapsed.as_secs_f64()
                        )
                    } else {
                        format!("{} in {:.2}s", c.describe_status(), c.elapsed.as_secs_f64())
                    };
                    if !passed {
                        problems.push(format!("dry run `{shown}` failed: {summary}"));
                    }
                    dry_runs.push(DryRun {
                        command: shown,
                        exit_code: c.status.and_then(|s| s.code()),
                        timed_out: c.timed_out(),
                        duration_ms: c.elapsed.as_millis() as u64,
                        passed,
                        summary,
                        output_tail: c.output_tail(),
                    });
                }
            }
        }

        // 5. The previous release's artifact.
        let artifact = match &self.artifact {
            Some(a) => {
                let location = a.expand_runtime(&vars);
                let remaining = deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(100));
                let status = artifact_status(&base, &location, remaining).await;
                if !status.present {
                    problems.push(format!("artifact of {previous_tag}: {}", status.detail));
                }
                Some(status)
            }
            None => None,
        };

        let mut summary = vec![format!(
            "previous release {previous_tag} ({previous_commit})"
        )];
        if let Some(m) = &analysis.migrations {
            let n = m.migrations.len();
            summary.push(match n {
                0 => "no migration changed".to_string(),
                1 => "1 migration checked".to_string(),
                n => format!("{n} migrations checked"),
            });
        }
        if !dry_runs.is_empty() {
            summary.push(format!(
                "{}/{} dry runs passed",
                dry_runs.iter().filter(|d| d.passed).count(),
                dry_runs.len()
            ));
        }
        if artifact.as_ref().is_some_and(|a| a.present) {
            summary.push("artifact present".into());
        }
        let pass_message = summary.join("; ");
        self.finish(
            cx,
            &analysis,
            &dry_runs,
            artifact.as_ref(),
            problems,
            errors,
            warnings,
            notes,
            Some(pass_message),
        )
    }

    /// Builds the output: failed when anything did not hold, errored when something could not
    /// be checked, else passed with `pass_message`.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        _cx: &CheckContext,
        analysis: &Analysis,
        dry_runs: &[DryRun],
        artifact: Option<&ArtifactStatus>,
        problems: Vec<String>,
        errors: Vec<String>,
        warnings: Vec<String>,
        notes: Vec<String>,
        pass_message: Option<String>,
    ) -> CheckOutput {
        let status = if !problems.is_empty() {
            Status::Failed
        } else if !errors.is_empty() {
            Status::Errored
        } else {
            Status::Passed
        };
        let message = match status {
            Status::Failed => first_and_count(&problems),
            Status::Errored => first_and_count(&errors),
            Status::Passed => pass_message.unwrap_or_else(|| "rollback ready".into()),
        };
        let details = render_details(analysis, dry_runs, artifact, &problems, &errors, &notes);
        let mut out = CheckOutput::new(status, message).with_details(details);
        out.warnings = warnings;
        let data = serde_json::json!({
            "repo": analysis.repo,
            "head": analysis.head,
            "tag_pattern": analysis.tag_pattern,
            "previous": analysis.previous,
            "ignored_tags": analysis.ignored_tags,
            "uncommitted": analysis.uncommitted,
            "migrations": analysis.migrations,
            "dry_runs": dry_runs,
            "artifact": artifact,
            "problems": problems,
            "errors": errors,
            "notes": notes,
        });
        out = out.with_data(data);
        if let Some(p) = &analysis.previous {
            out = out
                .with_property("previous_tag", &p.tag)
                .with_property("previous_commit", &p.commit);
        }
        if let Some(t) = &analysis.head.tag {
            out = out.with_property("head_tag", t);
        }
        if let Some(m) = &analysis.migrations {
            let dangerous: usize = m.migrations.iter().map(|v| v.dangerous.len()).sum();
            let warn_only = self.dangerous == DangerousMode::Warn;
            let bad = m
                .migrations
                .iter()
                .filter(|v| {
                    !matches!(v.verdict, "reversible" | "allowed")
                        && (!warn_only || v.verdict != "dangerous")
                })
                .count();
            out = out
                .with_property("migrations_checked", m.migrations.len())
                .with_property("migrations_failing", bad)
                .with_property("dangerous_statements", dangerous);
        }
        if !dry_runs.is_empty() {
            out = out.with_property(
                "dry_runs_failed",
                dry_runs.iter().filter(|d| !d.passed).count(),
            );
        }
        if let Some(a) = artifact {
            out = out.with_property("artifact", if a.present { "present" } else { "missing" });
        }
        out
    }
}

fn first_and_count(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
    }
}

/// Whether an `allow` entry names this migration (its id, a file name or a path).
fn allow_matches(entry: &AllowEntry, id: &str, files: &[String]) -> bool {
    let want = entry.migration.trim().trim_end_matches('/');
    want == id
        || id.rsplit('/').next() == Some(want)
        || files.iter().any(|f| {
            f == want || f.ends_with(&format!("/{want}")) || f.rsplit('/').next() == Some(want)
        })
}

fn render_details(
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

/// Whether the artifact at `location` (a path relative to `base`, or an http(s) URL) exists.
async fn artifact_status(base: &Path, location: &str, timeout: Duration) -> ArtifactStatus {
    let status = |present: bool, detail: String| ArtifactStatus {
        location: location.to_string(),
        present,
        detail,
    };
    if location.starts_with("http://") || location.starts_with("https://") {
        let url = match super::http::parse_http_url(location) {
            Ok(u) => u,
            Err(e) => return status(false, e),
        };
        let client = match reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout.min(Duration::from_secs(30)))
            .redirect(reqwest::redirect::Policy::limited(10))
            .user_agent(concat!("preflight/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => c,
            Err(e) => return status(false, format!("cannot build an HTTP client: {e}")),
        };
        let mut answer = client.head(url.clone()).send().await;
        // Some servers (and object stores behind signed URLs) refuse HEAD: ask with GET then,
        // without reading the body.
        if answer
            .as_ref()
            .is_ok_and(|r| matches!(r.status().as_u16(), 403 | 405 | 501))
        {
            answer = client.get(url).send().await;
        }
        return match answer {
            Ok(r) if r.status().is_success() => {
                let size = r
                    .content_length()
                    .map(|n| format!(", {n} bytes"))
                    .unwrap_or_default();
                status(true, format!("{} answered {}{size}", location, r.status()))
            }
            Ok(r) => status(false, format!("`{location}` answered {}", r.status())),
            Err(e) => status(
                false,
                format!("`{location}` could not be fetched: {}", root_cause(&e)),
            ),
        };
    }
    let path = base.join(location);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() && m.len() == 0 => {
            status(false, format!("`{}` is empty", path.display()))
        }
        Ok(m) if m.is_file() => status(true, format!("present ({} bytes)", m.len())),
        Ok(_) => status(true, "present (a directory)".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            status(false, format!("`{}` does not exist", path.display()))
        }
        Err(e) => status(false, format!("`{}` cannot be read: {e}", path.display())),
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn short(id: git2::Oid) -> String {
    id.to_string()[..12].to_string()
}

/// Everything git: HEAD, tags, previous release, migrations changed since, uncommitted files.
/// `Err` is a message for an errored item (the check could not run).
fn analyze(p: GitParams) -> Result<Analysis, String> {
    if !p.repo.exists() {
        return Err(format!("repo `{}`: no such directory", p.repo.display()));
    }
    let repo = git2::Repository::discover(&p.repo).map_err(|e| {
        if e.code() == git2::ErrorCode::NotFound {
            format!(
                "`{}` is not inside a git repository (set `repo` to the repository's directory)",
                p.repo.display()
            )
        } else {
            format!(
                "cannot open the git repository at `{}`: {}",
                p.repo.display(),
                e.message()
            )
        }
    })?;
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        return Err(format!(
            "`{}` is a bare repository: point `repo` at a checkout",
            repo.path().display()
        ));
    };
    let workdir = workdir.canonicalize().unwrap_or(workdir);
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| {
            format!(
                "repository `{}` has no commit at HEAD: {}",
                workdir.display(),
                e.message()
            )
        })?
        .id();
    let git_err = |e: git2::Error| format!("git: {}", e.message());
    let prefix = git::literal_prefix(p.pattern.as_str()).to_string();
    let (tags, ignored_tags) = git::release_tags(&repo, &p.pattern, &prefix).map_err(git_err)?;
    let head_tag = git::head_release(&tags, head);
    let previous = git::previous_release(
        &tags,
        head,
        head_tag.map(|t| &t.version),
        p.include_prereleases,
    );
    let previous_info = match previous {
        Some(t) => {
            let descends =
                t.commit == head || repo.graph_descendant_of(head, t.commit).map_err(git_err)?;
            Some(PreviousInfo {
                tag: t.name.clone(),
                version: t.version.to_string(),
                commit: short(t.commit),
                head_descends: descends,
            })
        }
        None => None,
    };
    let skip = p
        .artifacts_dir
        .canonicalize()
        .ok()
        .and_then(|a| a.strip_prefix(&workdir).ok().map(Path::to_path_buf));
    let uncommitted = git::uncommitted(&repo, skip.as_deref()).unwrap_or_default();

    let migrations = match (&p.migrations_dir, previous) {
        (Some(dir), Some(prev)) => Some(review_migrations(
            &repo,
            &workdir,
            dir,
            p.tool,
            prev.commit,
            head,
        )?),
        _ => None,
    };
    Ok(Analysis {
        repo: workdir.display().to_string(),
        head: HeadInfo {
            commit: short(head),
            tag: head_tag.map(|t| t.name.clone()),
        },
        tag_pattern: p.pattern.as_str().to_string(),
        ignored_tags,
        previous: previous_info,
        uncommitted,
        migrations,
    })
}

fn review_migrations(
    repo: &git2::Repository,
    workdir: &Path,
    dir: &Path,
    setting: ToolSetting,
    previous: git2::Oid,
    head: git2::Oid,
) -> Result<MigrationsReport, String> {
    let git_err = |e: git2::Error| format!("git: {}", e.message());
    let abs = dir.canonicalize().unwrap_or_else(|_| normalize(dir));
    let rel = abs.strip_prefix(workdir).map_err(|_| {
        format!(
            "migrations dir `{}` is outside the repository `{}`",
            dir.display(),
            workdir.display()
        )
    })?;
    let rel_str = rel.to_string_lossy().replace('\\', "/");
    if !git::has_dir(repo, head, rel).map_err(git_err)? {
        return Err(format!(
            "migrations dir `{rel_str}` is not in HEAD's tree (is it committed?)"
        ));
    }
    let repo_path = |p: &str| {
        if rel_str.is_empty() {
            p.to_string()
        } else {
            format!("{rel_str}/{p}")
        }
    };
    let old = git::files_under(repo, previous, rel).map_err(git_err)?;
    let new = git::files_under(repo, head, rel).map_err(git_err)?;
    let read = |id: git2::Oid| git::blob_text(repo, id).unwrap_or_default();
    let (tool, detected) = match setting.tool() {
        Some(t) => (Some(t), false),
        None => {
            let paths: Vec<String> = new.keys().cloned().collect();
            (
                migrations::detect(&paths, &|p| {
                    new.get(p).map(|id| read(*id)).unwrap_or_default()
                }),
                true,
            )
        }
    };
    let Some(tool) = tool else {
        if new.is_empty() {
            return Ok(MigrationsReport {
                dir: rel_str,
                tool: None,
                detected,
                migrations: Vec::new(),
            });
        }
        return Err(format!(
            "cannot tell which migration tool `{rel_str}` is for: set `tool` (sqlx, diesel, flyway, rails, django or alembic)"
        ));
    };

    let mut verdicts = Vec::new();
    // Released migrations that changed since.
    let old_ids: BTreeSet<String> = old
        .keys()
        .filter_map(|p| migrations::classify(tool, p).map(|(id, _)| id))
        .collect();
    let mut changed: BTreeMap<String, (Vec<String>, Vec<Located>, bool)> = BTreeMap::new();
    for (path, id_old) in &old {
        let Some((id, _)) = migrations::classify(tool, path) else {
            continue;
        };
        let (what, deleted) = match new.get(path) {
            None => ("was deleted", true),
            Some(id_new) if id_new != id_old => ("was edited", false),
            Some(_) => continue,
        };
        let entry = changed.entry(id).or_default();
        entry.0.push(repo_path(path));
        entry.1.push(Located {
            file: repo_path(path),
            line: None,
            rule: None,
            message: format!("released migration {what} since the previous release (databases that ran it keep the old version)"),
        });
        entry.2 |= deleted;
    }
    for (id, (files, problems, deleted)) in changed {
        verdicts.push(MigrationVerdict {
            id,
            change: if deleted { "deleted" } else { "edited" },
            files,
            verdict: if deleted { "deleted" } else { "edited" },
            problems,
            dangerous: Vec::new(),
            allowed: None,
        });
    }
    // New migrations.
    let mut added: BTreeMap<String, Vec<(String, Role, String)>> = BTreeMap::new();
    for (path, id) in &new {
        if old.contains_key(path) {
            continue;
        }
        if let Some((mid, role)) = migrations::classify(tool, path)
            && !old_ids.contains(&mid)
        {
            added
                .entry(mid)
                .or_default()
                .push((path.clone(), role, read(*id)));
        }
    }
    for (id, files) in added {
        let r = migrations::review(tool, &id, &files);
        if !r.is_migration {
            continue;
        }
        let problems: Vec<Located> = r
            .irreversible
            .into_iter()
            .map(|(f, line, why)| Located {
                file: repo_path(&f),
                line: Some(line),
                rule: None,
                message: format!("irreversible: {why}"),
            })
            .collect();
        let dangerous: Vec<Located> = r
            .dangers
            .into_iter()
            .map(|(f, d)| Located {
                file: repo_path(&f),
                line: Some(d.line),
                rule: Some(d.rule),
                message: format!("{}: {}", d.what, d.rule.why()),
            })
            .collect();
        let verdict = if !problems.is_empty() {
            "irreversible"
        } else if !dangerous.is_empty() {
            "dangerous"
        } else {
            "reversible"
        };
        verdicts.push(MigrationVerdict {
            id,
            change: "added",
            files: files.iter().map(|f| repo_path(&f.0)).collect(),
            verdict,
            problems,
            dangerous,
            allowed: None,
        });
    }
    Ok(MigrationsReport {
        dir: rel_str,
        tool: Some(tool.name()),
        detected,
        migrations: verdicts,
    })
}
