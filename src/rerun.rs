//! `--rerun-failed`: the items that did not pass in an earlier run, read from its JSON report.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::checklist::Checklist;
use crate::report::Outcome;

/// The JSON report every run writes in its artifacts directory (what `--rerun-failed` reads
/// when given no path).
pub const LAST_RUN: &str = "last-run.json";

/// A report `--rerun-failed` cannot use.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error("--rerun-failed: cannot read report `{}`: {message}{}", path.display(), if *missing { " (it is written by every run, or give the path of a `--json` report)" } else { "" })]
    Read {
        path: PathBuf,
        message: String,
        missing: bool,
    },
    #[error("--rerun-failed: `{}` is not a preflight JSON report: {message}", path.display())]
    NotAReport { path: PathBuf, message: String },
    #[error("--rerun-failed: `{}` is a report of checklist `{report}` ({}), not of `{current}`", path.display(), report_path.display())]
    OtherChecklist {
        path: PathBuf,
        report: String,
        report_path: PathBuf,
        current: String,
    },
    #[error("--rerun-failed: `{}` is the report of a run {}, and this run is {}: rerun with the same profile", path.display(), profile_words(report), profile_words(current))]
    OtherProfile {
        path: PathBuf,
        report: Option<String>,
        current: Option<String>,
    },
    #[error("--rerun-failed: none of the items that did not pass in `{}` is in the checklist any more: {}", path.display(), gone.join(", "))]
    NoneLeft { path: PathBuf, gone: Vec<String> },
}

fn profile_words(p: &Option<String>) -> String {
    match p {
        Some(p) => format!("with profile `{p}`"),
        None => "without a profile".into(),
    }
}

/// What to run again.
#[derive(Debug)]
pub struct Rerun {
    /// Ids of the items that did not pass and are still in the checklist, in report order.
    pub ids: Vec<String>,
    /// Ids that did not pass but are no longer in the checklist.
    pub gone: Vec<String>,
}

#[derive(Deserialize)]
struct Report {
    format_version: u32,
    checklist: String,
    path: PathBuf,
    #[serde(default)]
    profile: Option<String>,
    items: Vec<ReportItem>,
}

#[derive(Deserialize)]
struct ReportItem {
    id: String,
    outcome: Outcome,
}

/// Reads the report at `path` and picks the items of `checklist` that did not pass in it.
pub fn read(path: &Path, checklist: &Checklist) -> Result<Rerun, RerunError> {
    let text = std::fs::read_to_string(path).map_err(|e| RerunError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
        missing: e.kind() == std::io::ErrorKind::NotFound,
    })?;
    let not_a_report = |message: String| RerunError::NotAReport {
        path: path.to_path_buf(),
        message,
    };
    let report: Report = serde_json::from_str(&text).map_err(|e| not_a_report(e.to_string()))?;
    if report.format_version != crate::report::json::FORMAT_VERSION {
        return Err(not_a_report(format!(
            "its `format_version` is {}, this preflight reads {}",
            report.format_version,
            crate::report::json::FORMAT_VERSION
        )));
    }
    let known = |id: &str| checklist.items.iter().any(|i| i.id == id);
    let same_items = report.items.is_empty() || report.items.iter().any(|i| known(&i.id));
    if report.checklist != checklist.name || !same_items {
        return Err(RerunError::OtherChecklist {
            path: path.to_path_buf(),
            report: report.checklist,
            report_path: report.path,
            current: checklist.name.clone(),
        });
    }
    if report.profile != checklist.profile {
        return Err(RerunError::OtherProfile {
            path: path.to_path_buf(),
            report: report.profile,
            current: checklist.profile.clone(),
        });
    }
    let (ids, gone): (Vec<String>, Vec<String>) = report
        .items
        .into_iter()
        .filter(|i| !i.outcome.is_pass())
        .map(|i| i.id)
        .partition(|id| known(id));
    if ids.is_empty() && !gone.is_empty() {
        return Err(RerunError::NoneLeft {
            path: path.to_path_buf(),
            gone,
        });
    }
    Ok(Rerun { ids, gone })
}
