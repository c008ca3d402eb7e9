//! Resolved settings: what the command line and environment asked for, decided once.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::release::shard::Shard;

/// Settings of one run (also used by `gate`).
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    pub checklist_path: PathBuf,
    /// Relative paths in the checklist resolve against this.
    pub checklist_dir: PathBuf,
    /// Absolute.
    pub artifacts_dir: PathBuf,
    pub junit: Option<PathBuf>,
    /// Absolute; paths in the JUnit report are relative to it.
    pub junit_base: PathBuf,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub profile: Option<String>,
    /// `--rerun-failed`: the report to read (the default resolved).
    pub rerun_report: Option<PathBuf>,
    /// `--rerun-failed`: only these item ids (and what they need), read from `rerun_report`.
    pub rerun: Option<Vec<String>>,
    pub jobs: Option<usize>,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub vars: Vec<(String, String)>,
    pub acks: Acks,
    /// `[waivers]` of the checklist and `--waivers FILE`.
    pub waivers: Waivers,
    /// What is checked out: the commit and the checklist's digest, for reports and attestations.
    pub checkout: Checkout,
    /// `--shard K/N`, with the item durations of `--durations REPORT.json`.
    pub shard: Option<ShardPlan>,
    pub fail_fast: bool,
    /// A person can answer prompts (stdin and stderr are terminals, not CI).
    pub interactive: bool,
    pub output: OutputSettings,
    pub webdriver_url: Option<String>,
    /// `gate`: how long the deploy command gets to stop after a forwarded signal.
    pub deploy_stop_timeout: std::time::Duration,
    /// What to do with processes of earlier runs whose preflight is gone.
    pub leftovers: Leftovers,
}

/// `--leftovers`: what a run does with the processes of runs whose preflight is gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Leftovers {
    /// Report them and stop them.
    #[default]
    Stop,
    /// Only report them.
    Report,
}

/// How the terminal reporter writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputSettings {
    pub color: bool,
    /// Live progress line (stderr is a terminal).
    pub live: bool,
    /// `GITHUB_ACTIONS=true`: print `::error` annotations.
    pub github_annotations: bool,
    pub verbosity: Verbosity,
}

/// How much the terminal reporter shows (`-v`, `-q`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Only the items that did not pass, and the final line.
    Quiet,
    /// Every item's line; details of those that did not pass.
    #[default]
    Normal,
    /// Details of passing items too.
    Verbose,
}

/// Sign-offs of manual items given ahead of the run.
#[derive(Debug, Clone, Default)]
pub struct Acks {
    pub by_id: HashMap<String, Ack>,
}

/// Who acknowledged an item, and when.
#[derive(Debug, Clone)]
pub struct Ack {
    pub by: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
    /// `--ack` or the acks file's path.
    pub source: String,
    /// The commit (or a prefix of it) the sign-off was given for.
    pub commit: Option<String>,
    /// The sign-off holds whatever the commit (`any_commit = true`, and every `--ack`).
    pub any_commit: bool,
    /// No longer valid after this time.
    pub expires: Option<DateTime<Utc>>,
}

/// Accepted failures of items, by item id.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    pub by_id: IndexMap<String, Waiver>,
}

/// An accepted failure of one item: who accepted it, why, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    pub reason: String,
    pub by: Option<String>,
    /// The last day (UTC) the waiver holds.
    pub until: NaiveDate,
    /// Holds only when this commit (or a commit id starting with it) is checked out.
    pub commit: Option<String>,
    /// Holds only when HEAD carries the tag `VERSION` or `vVERSION`.
    pub version: Option<String>,
    /// `checklist` or `waivers file PATH`.
    pub source: String,
    /// Why the waiver does not hold for this run (expired, another commit or version); set
    /// before the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lapsed: Option<String>,
}

/// What is checked out where the checklist lives.
#[derive(Debug, Clone, Default)]
pub struct Checkout {
    /// HEAD's commit id, when the checklist is in a git work tree.
    pub commit: Option<String>,
    /// The tags pointing at HEAD.
    pub tags: Vec<String>,
    /// SHA-256 (hex) of the checklist file's bytes.
    pub checklist_sha256: Option<String>,
}

/// `--shard K/N`: which part of the items this run takes.
#[derive(Debug, Clone)]
pub struct ShardPlan {
    pub shard: Shard,
    /// Durations of items in an earlier run (`--durations`), by id: the weights that balance
    /// the shards (otherwise each item weighs its timeout).
    pub durations: HashMap<String, std::time::Duration>,
}

/// The name to record for a sign-off given on this machine.
pub fn current_user() -> String {
    for var in [
        "PREFLIGHT_USER",
        "GITHUB_ACTOR",
        "GITLAB_USER_LOGIN",
        "USER",
        "USERNAME",
    ] {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return v;
        }
    }
    login_name().unwrap_or_else(|| "unknown".into())
}

/// The login name of this process's user, from the password database.
fn login_name() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy the name out
    // at once and call it from one thread at a time (sign-offs are rare).
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_str()
            .ok()
            .map(str::to_string)
    }
}
