//! `[rollback.NAME]`: proves there is a tested way back before shipping. Finds the previous
//! release (semver, HEAD's history first, hotfix lines when HEAD is a release), compares the
//! migrations of its tree with HEAD's by version, reviews the added ones for a way back and for
//! changes the previous release cannot live with, runs rollback dry runs and checks that the
//! previous release's artifact still exists.

mod analyze;
mod artifact;
mod canonical;
mod changes;
mod config;
mod git;
pub mod migrations;
mod report;
mod review;
mod sql;
mod tree_code;
mod verdicts;

use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::{Check, CheckContext, CheckOutput, Status};
use crate::process::{self, Spawn};
use crate::syntax::Template;
use analyze::{GitParams, analyze};
use artifact::artifact_status;
pub use config::{
    AcknowledgedMode, AllowEntry, DangerousMode, MigrationsConfig, RollbackItem, Strategy,
    TagPattern, ToolSetting,
};
use report::{Analysis, ArtifactStatus, DryRun, first_and_count, render_details};

impl Check for RollbackItem {
    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move { self.check(cx).await })
    }
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
            strategy: self.strategy,
            lock_risks: self.lock_risks,
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
        if let Some(p) = &analysis.previous
            && let (git::Rule::HotfixLine, Some(base)) = (p.rule, &p.base)
        {
            notes.push(format!(
                "{previous_tag} is on a hotfix line (not in HEAD's history; it branches from {base}, which is): production runs it, so it is the rollback target"
            ));
        }
        if !head_descends
            && analysis
                .previous
                .as_ref()
                .is_some_and(|p| p.rule == git::Rule::Unrelated)
        {
            problems.push(format!(
                "HEAD ({}) does not descend from the previous release {previous_tag} ({previous_commit}): it was not built from that history",
                analysis.head.commit
            ));
        }

        // 2-3. Migrations: the verdicts, with `allow` applied.
        let mut used_allow = vec![false; self.allow.len()];
        let mut analysis = analysis;
        if let Some(m) = &mut analysis.migrations {
            problems.append(&mut m.problems.clone());
            warnings.extend(m.warnings.iter().cloned());
            notes.extend(m.notes.iter().cloned());
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
                    let fails = if d.acknowledged {
                        self.safety_assured == AcknowledgedMode::Fail
                    } else {
                        self.dangerous == DangerousMode::Fail
                    };
                    let text = if d.acknowledged {
                        format!("acknowledged (safety_assured): {d}")
                    } else {
                        format!("dangerous: {d}")
                    };
                    if fails {
                        problems.push(text);
                    } else {
                        warnings.push(text);
                    }
                }
                warnings.extend(v.warnings.iter().map(ToString::to_string));
                warnings.extend(v.lock_risks.iter().map(|l| format!("lock risk: {l}")));
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
            "strategy": self.strategy,
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
            let dangerous: usize = m
                .migrations
                .iter()
                .flat_map(|v| &v.dangerous)
                .map(|d| d.count)
                .sum();
            let bad = m
                .migrations
                .iter()
                .filter(|v| v.allowed.is_none())
                .filter(|v| {
                    !v.problems.is_empty()
                        || v.dangerous.iter().any(|d| {
                            if d.acknowledged {
                                self.safety_assured == AcknowledgedMode::Fail
                            } else {
                                self.dangerous == DangerousMode::Fail
                            }
                        })
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

/// Whether an `allow` entry names this migration (its id, a file name or a path).
fn allow_matches(entry: &AllowEntry, id: &str, files: &[String]) -> bool {
    let want = entry.migration.trim().trim_end_matches('/');
    want == id
        || id.rsplit('/').next() == Some(want)
        || files.iter().any(|f| {
            f == want || f.ends_with(&format!("/{want}")) || f.rsplit('/').next() == Some(want)
        })
}
