//! `preflight merge`: the JSON reports of shards combined into one report of the whole run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::attest::AttestArgs;
use super::shard::Shard;
use super::short;
use crate::exit;
use crate::redact::Redactor;
use crate::report::{self, ItemResult, Outcome, RunReport};
use crate::settings::OutputSettings;

/// `preflight merge REPORT.json... [--junit] [--json] [--html] [--attest]`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The JSON reports (`--json`) of the shards.
    #[arg(required = true, value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,
    /// Write the combined JUnit XML report here.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// The directory the JUnit report's paths are relative to [default: .]
    #[arg(long, value_name = "DIR")]
    pub junit_base: Option<PathBuf>,
    /// Write the combined JSON report here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write the combined HTML report here.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub attest: AttestArgs,
}

/// Runs `preflight merge`; returns the exit code: the gate of the whole, 2 when the reports
/// cannot be combined.
pub async fn run(args: &MergeArgs, output: OutputSettings) -> i32 {
    let mut reports = Vec::new();
    for path in &args.reports {
        match report::json::read(path) {
            Ok(r) => reports.push((path.clone(), r)),
            Err(e) => {
                eprintln!("error: cannot merge `{}`: {e}", path.display());
                return exit::INVALID;
            }
        }
    }
    let merged = match combine(reports) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot merge: {e}");
            return exit::INVALID;
        }
    };
    eprint!("{}", report::terminal::summary_text(&merged, output));
    let mut code = merged.exit_code();
    let mut problems = Vec::new();
    let base = std::path::absolute(args.junit_base.as_deref().unwrap_or(Path::new(".")))
        .unwrap_or_default();
    let mut outputs: Vec<(&Path, String, &str)> = Vec::new();
    if let Some(path) = &args.junit {
        outputs.push((path, report::junit::render(&merged, &base), "JUnit report"));
    }
    if let Some(path) = &args.json {
        outputs.push((path, report::json::render(&merged), "JSON report"));
    }
    if let Some(path) = &args.html {
        let dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        outputs.push((path, report::html::render(&merged, &dir), "HTML report"));
    }
    for (path, text, what) in outputs {
        if let Err(e) = crate::files::write_report(path, text.as_bytes()) {
            problems.push(format!("cannot write {what} `{}`: {e}", path.display()));
        }
    }
    // The shards' reports are redacted already.
    if let Err(e) = super::attest::write(&merged, &args.attest, &Redactor::default()).await {
        problems.push(e);
    }
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    if problem.is_some() {
        code = code.max(exit::FAILED);
    }
    eprint!(
        "{}",
        report::terminal::verdict(&merged, problem.as_deref(), output.color)
    );
    code
}

/// A profile for a message: `` `NAME` `` or "no profile".
fn profile(p: &Option<String>) -> String {
    p.as_ref()
        .map_or_else(|| "no profile".to_string(), |p| format!("`{p}`"))
}

/// One report of the whole from the reports of its parts. They must be of the same checklist
/// (digest), profile and commit, and no item may be in two of them; items that the present
/// shards leave to a shard whose report is missing are errored, so the gate of the whole stays
/// closed.
pub fn combine(reports: Vec<(PathBuf, RunReport)>) -> Result<RunReport, String> {
    let Some((first_path, first)) = reports.first() else {
        return Err("no reports".into());
    };
    let name = |p: &PathBuf| format!("`{}`", p.display());
    for (path, r) in &reports[1..] {
        if r.checklist_sha256 != first.checklist_sha256 {
            return Err(format!(
                "{} and {} are reports of different checklists (sha256 {} and {})",
                name(first_path),
                name(path),
                digest(&first.checklist_sha256),
                digest(&r.checklist_sha256)
            ));
        }
        if r.profile != first.profile {
            return Err(format!(
                "{} and {} are reports of different profiles ({} and {})",
                name(first_path),
                name(path),
                profile(&first.profile),
                profile(&r.profile)
            ));
        }
        if r.commit != first.commit {
            return Err(format!(
                "{} and {} are reports of different commits ({} and {})",
                name(first_path),
                name(path),
                digest(&first.commit),
                digest(&r.commit)
            ));
        }
    }
    let missing_shards = missing_shards(&reports)?;
    let mut owner: HashMap<&str, &PathBuf> = HashMap::new();
    for (path, r) in &reports {
        for item in &r.items {
            if let Some(other) = owner.insert(&item.id, path) {
                return Err(format!(
                    "item `{}` is in both {} and {}: the reports overlap",
                    item.id,
                    name(other),
                    name(path)
                ));
            }
        }
    }
    let mut items: Vec<ItemResult> = reports
        .iter()
        .flat_map(|(_, r)| r.items.iter().cloned())
        .collect();
    let mut unrun: Vec<&String> = reports
        .iter()
        .flat_map(|(_, r)| &r.other_shards)
        .filter(|id| !owner.contains_key(id.as_str()))
        .collect();
    unrun.sort();
    unrun.dedup();
    let why = if missing_shards.is_empty() {
        "no shard ran it (were the shards planned with different `--durations` or selections?)"
            .to_string()
    } else {
        format!(
            "its shard did not report (missing: {})",
            missing_shards.join(", ")
        )
    };
    // Blocking, as far as the merge can tell.
    items.extend(
        unrun
            .into_iter()
            .map(|id| ItemResult::unrun(id, Outcome::Errored, format!("not run: {why}"))),
    );
    // Checklist order (items of a missing shard, whose line is unknown, last).
    items.sort_by_key(|i| (i.line == 0, i.line));
    let not_selected = first
        .not_selected
        .iter()
        .filter(|id| reports.iter().all(|(_, r)| r.not_selected.contains(id)))
        .cloned()
        .collect();
    let started_at = reports
        .iter()
        .map(|(_, r)| r.started_at)
        .min()
        .unwrap_or(first.started_at);
    let ended_at = reports
        .iter()
        .map(|(_, r)| r.started_at + chrono::Duration::from_std(r.duration).unwrap_or_default())
        .max()
        .unwrap_or(started_at);
    let services = reports
        .iter()
        .flat_map(|(_, r)| {
            r.services.iter().cloned().map(move |mut s| {
                if let Some(shard) = r.shard {
                    s.name = format!("{} (shard {shard})", s.name);
                }
                s
            })
        })
        .collect();
    Ok(RunReport {
        checklist: first.checklist.clone(),
        path: first.path.clone(),
        profile: first.profile.clone(),
        checklist_sha256: first.checklist_sha256.clone(),
        commit: first.commit.clone(),
        started_at,
        duration: (ended_at - started_at).to_std().unwrap_or_default(),
        interrupted: reports.iter().any(|(_, r)| r.interrupted),
        services,
        items,
        not_selected,
        shard: None,
        other_shards: Vec::new(),
    })
}

/// The shards (`K/N`) none of the reports is, when they are shard reports; an error when they
/// disagree on N or two are the same shard.
fn missing_shards(reports: &[(PathBuf, RunReport)]) -> Result<Vec<String>, String> {
    let shards: Vec<(&PathBuf, Shard)> = reports
        .iter()
        .filter_map(|(p, r)| r.shard.map(|s| (p, s)))
        .collect();
    let Some((first_path, first)) = shards.first() else {
        return Ok(Vec::new());
    };
    if shards.len() != reports.len() {
        return Err("some reports are shards (`--shard`) and some are not".into());
    }
    let mut seen: HashMap<usize, &PathBuf> = HashMap::new();
    for (path, s) in &shards {
        if s.count != first.count {
            return Err(format!(
                "`{}` is shard {s} but `{}` is shard {first}: different shard counts",
                path.display(),
                first_path.display()
            ));
        }
        if let Some(other) = seen.insert(s.index, path) {
            return Err(format!(
                "`{}` and `{}` are both shard {s}",
                other.display(),
                path.display()
            ));
        }
    }
    Ok((1..=first.count)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{}", first.count))
        .collect())
}

fn digest(d: &Option<String>) -> String {
    d.as_deref().map_or("none".into(), |d| short(d).to_string())
}
