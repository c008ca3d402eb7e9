//! Command-line arguments, turned into [`RunSettings`] once.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use indexmap::IndexMap;
use serde::Deserialize;

use crate::release::attest::AttestArgs;
use crate::release::merge::MergeArgs;
use crate::release::shard::Shard;
use crate::release::verify::VerifyArgs;
use crate::settings::{
    Ack, Acks, Leftovers, OutputSettings, RunSettings, ShardPlan, Verbosity, current_user,
};

/// Runs a declarative pre-release checklist and blocks a deploy until every item passes.
#[derive(Debug, Parser)]
#[command(name = "preflight", version = VERSION, about, after_help = EXIT_CODES_HELP)]
pub struct Arguments {
    #[command(subcommand)]
    pub command: Command,
    /// When to use colours (NO_COLOR is respected).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

/// `0.1.0 (commit 1a2b3c4d5e, built 2026-11-30)`: the commit and date come from build.rs.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PREFLIGHT_COMMIT"),
    ", built ",
    env!("PREFLIGHT_BUILD_DATE"),
    ")"
);

const EXIT_CODES_HELP: &str = "Exit codes: 0 every blocking item passed; 1 a blocking item failed or errored; \
2 the checklist or the command line is invalid; 130 interrupted.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the checklist; exit 0 only if every blocking item passed.
    Run(RunArgs),
    /// Parse and check the checklist; run nothing.
    Validate(FileArgs),
    /// Show the items in run order, with kind, tags and needs.
    List(ListArgs),
    /// Run the checklist, then CMD only if every blocking item passed.
    Gate {
        #[command(flatten)]
        run: RunArgs,
        /// The deploy command, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Combine the JSON reports of shards (`run --shard K/N`) into one, with the gate verdict of
    /// the whole; exit 0 only if every blocking item passed in its shard.
    Merge(MergeArgs),
    /// Check an attestation (`--attest`) before a deploy: exit 0 only if it is a PASSED result
    /// for this commit (and checklist), signed by an allowed key when asked.
    Verify(VerifyArgs),
    /// Write a commented preflight.toml for the project in this directory, from what it finds.
    Init(InitArgs),
    /// List the item kinds and their keys.
    Kinds,
    /// Show the keys of one item kind, with their defaults.
    Explain {
        /// An item kind: http, command, manual, browser, flags, soak, rollback.
        kind: String,
    },
    /// Print the JSON Schema of the checklist format (for `#:schema` in Taplo / Even Better TOML).
    Schema,
    /// Print a shell completion script: `preflight completions bash > /etc/bash_completion.d/preflight`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `preflight man > preflight.1`.
    Man,
    /// Feature-flag tools: `snapshot` writes the lock file the `drift` rule compares against.
    Flags {
        #[command(subcommand)]
        command: FlagsCommand,
    },
}

/// `preflight flags ...`
#[derive(Debug, Subcommand)]
pub enum FlagsCommand {
    /// Write the lock file of every `[flags.*]` item that has a `drift` rule, from its source's
    /// current state (run it on the released state; commit the lock file).
    Snapshot(SnapshotArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Checklists whose `[flags.*]` items are snapshotted.
    #[arg(default_value = "preflight.toml")]
    pub files: Vec<PathBuf>,
    /// Only these items (`NAME` or `flags.NAME`; repeatable).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// Set or override a var: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Apply the checklists' `[profile.NAME]` (the flags source of that environment).
    #[arg(long, value_name = "NAME", env = "PREFLIGHT_PROFILE")]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The checklist.
    #[arg(default_value = "preflight.toml")]
    pub file: PathBuf,
    /// Set or override a var: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Apply the checklist's `[profile.NAME]` (`validate` without it checks every profile).
    #[arg(long, value_name = "NAME", env = "PREFLIGHT_PROFILE")]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Only items with this id, kind or tag, and what they need (repeatable), as `run` would.
    #[arg(long, value_name = "ID|TAG")]
    pub only: Vec<String>,
    /// Leave out items with this id, kind or tag (repeatable), as `run` would.
    #[arg(long, value_name = "ID|TAG")]
    pub skip: Vec<String>,
    /// Print JSON: one object per item with id, kind, tags, needs, blocking, timeout, file, line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the checklist; the project is the directory it is in.
    #[arg(default_value = "preflight.toml")]
    pub file: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The checklist.
    #[arg(default_value = "preflight.toml")]
    pub file: PathBuf,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// The directory the JUnit report's paths (attachments, each item's checklist `file`) are
    /// relative to: the project root, where GitLab and Jenkins resolve them [default: .]
    #[arg(long, value_name = "DIR")]
    pub junit_base: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Items at once (default: the checklist's `jobs`, else the number of items up to 16).
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Run only items with this id, kind or tag, and what they need (repeatable).
    #[arg(long, value_name = "ID|TAG")]
    pub only: Vec<String>,
    /// Leave out items with this id, kind or tag (repeatable).
    #[arg(long, value_name = "ID|TAG")]
    pub skip: Vec<String>,
    /// Set or override a var: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Apply the checklist's `[profile.NAME]`: its vars and item keys replace the base ones.
    #[arg(long, value_name = "NAME", env = "PREFLIGHT_PROFILE")]
    pub profile: Option<String>,
    /// Run only the items that did not pass in this JSON report, and what they need
    /// [default: ARTIFACTS/last-run.json, which every run writes]
    #[arg(long, value_name = "REPORT.json", num_args = 0..=1, require_equals = true)]
    pub rerun_failed: Option<Option<PathBuf>>,
    /// Write a self-contained HTML report here.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Acknowledge a manual item ahead of the run (repeatable).
    #[arg(long = "ack", value_name = "ID")]
    pub acks: Vec<String>,
    /// A TOML file of acknowledgements: `[acks."manual.NAME"] by = "...", note = "..."`.
    #[arg(long = "acks", value_name = "FILE")]
    pub acks_file: Option<PathBuf>,
    /// A TOML file of waivers: `[waivers."KIND.NAME"] reason = "...", until = 2026-12-01`
    /// (they win over the checklist's own).
    #[arg(long = "waivers", value_name = "FILE")]
    pub waivers_file: Option<PathBuf>,
    /// Run only part K of N of the items; items joined by `needs` stay in one part.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Balance `--shard` by the item durations in this earlier JSON report (default: by timeouts).
    #[arg(long, value_name = "REPORT.json", requires = "shard")]
    pub durations: Option<PathBuf>,
    #[command(flatten)]
    pub attest: AttestArgs,
    /// Stop starting items after the first blocking failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Where screenshots, logs and other artifacts go.
    #[arg(long, value_name = "DIR", default_value = "preflight-artifacts")]
    pub artifacts: PathBuf,
    /// A remote WebDriver (e.g. Selenium Grid) for browser items.
    #[arg(long, value_name = "URL", env = "PREFLIGHT_WEBDRIVER_URL")]
    pub webdriver_url: Option<String>,
    /// `gate`: after forwarding Ctrl-C/SIGTERM to the deploy command, how long to wait for it
    /// to stop before its process group is killed.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub deploy_stop_timeout: std::time::Duration,
    /// Processes left by an earlier run whose preflight is gone (killed): `stop` them (and
    /// report them), or only `report` them.
    #[arg(
        long,
        value_enum,
        value_name = "WHAT",
        default_value_t = Leftovers::Stop,
        env = "PREFLIGHT_LEFTOVERS"
    )]
    pub leftovers: Leftovers,
    /// Show the details of passing items too (test counts, timings).
    #[arg(long, short = 'v', conflicts_with = "quiet")]
    pub verbose: bool,
    /// Show only the items that did not pass, and the final line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|_| format!("invalid duration `{s}`: expected a number and a unit, like `30s`"))
}

fn absolute_or_same(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A command-line value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("invalid `--var {0}`: expected NAME=VALUE")]
    BadVar(String),
    #[error("cannot read acks file `{path}`: {message}")]
    AcksFile { path: PathBuf, message: String },
    #[error("cannot read `--durations {path}`: {message}")]
    Durations { path: PathBuf, message: String },
    #[error("`--junit` and `--json` name the same file `{0}`: give each report its own path")]
    SameReport(PathBuf),
    #[error(
        "unknown item kind `{kind}`{}: the kinds are {}",
        crate::syntax::did_you_mean(suggestion),
        crate::checks::KINDS.join(", ")
    )]
    UnknownKind {
        kind: String,
        suggestion: Option<String>,
    },
}

/// Parses `NAME=VALUE` pairs.
pub fn parse_vars(raw: &[String]) -> Result<Vec<(String, String)>, UsageError> {
    raw.iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() => Ok((k.trim().to_string(), val.to_string())),
            _ => Err(UsageError::BadVar(v.clone())),
        })
        .collect()
}

impl ColorChoice {
    fn resolve(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        }
    }
}

/// Output settings from the environment and `--color`.
pub fn output_settings(color: ColorChoice) -> OutputSettings {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    OutputSettings {
        color: color.resolve(),
        live: std::io::stderr().is_terminal() && !ci,
        github_annotations: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        verbosity: Verbosity::Normal,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcksFile {
    #[serde(default)]
    acks: IndexMap<String, AckEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckEntry {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    note: Option<String>,
    /// The commit signed off (a full hash or a prefix of at least 7 characters).
    #[serde(default)]
    commit: Option<String>,
    /// The sign-off holds for every commit.
    #[serde(default)]
    any_commit: bool,
    /// RFC 3339: the sign-off no longer holds after this.
    #[serde(default)]
    expires: Option<String>,
}

/// Clocks of the machines that wrote an ack and that check it may differ this much.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

pub fn read_acks(path: &Path) -> Result<Acks, UsageError> {
    let err = |message: String| UsageError::AcksFile {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let file: AcksFile = toml::from_str(&text).map_err(|e| err(e.message().to_string()))?;
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(chrono::DateTime::<chrono::Utc>::from);
    let mut acks = Acks::default();
    let now = chrono::Utc::now();
    for (id, entry) in file.acks {
        let time = |key: &str, s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.to_utc())
                .map_err(|e| {
                    err(format!(
                        "`{key}` of `{id}`: {e} (expected RFC 3339, like 2026-11-20T10:00:00Z)"
                    ))
                })
        };
        let at = match entry.at {
            Some(s) => time("at", &s)?,
            None => modified.unwrap_or(now),
        };
        if at > now + CLOCK_SKEW {
            return Err(err(format!(
                "`at` of `{id}` is in the future ({}): a sign-off cannot be given ahead of time",
                at.to_rfc3339()
            )));
        }
        let expires = entry.expires.map(|s| time("expires", &s)).transpose()?;
        if let Some(c) = &entry.commit
            && (c.len() < 7 || !c.chars().all(|ch| ch.is_ascii_hexdigit()))
        {
            return Err(err(format!(
                "`commit` of `{id}` is `{c}`: expected a commit hash (at least 7 hex digits)"
            )));
        }
        let by = entry.by.unwrap_or_else(current_user);
        acks.by_id.insert(
            id,
            Ack {
                by,
                at,
                note: entry.note,
                source: format!("acks file {}", path.display()),
                commit: entry.commit.map(|c| c.to_ascii_lowercase()),
                any_commit: entry.any_commit,
                expires,
            },
        );
    }
    Ok(acks)
}

impl RunArgs {
    /// Resolves the flags into settings (reads the acks file).
    pub fn settings(&self, mut output: OutputSettings) -> Result<RunSettings, UsageError> {
        output.verbosity = match (self.verbose, self.quiet) {
            (true, _) => Verbosity::Verbose,
            (_, true) => Verbosity::Quiet,
            _ => Verbosity::Normal,
        };
        let checklist_path = self.file.clone();
        let checklist_dir = std::path::absolute(
            checklist_path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .unwrap_or_else(|_| PathBuf::from("."));
        let artifacts_dir = absolute_or_same(&self.artifacts);
        let rerun_report = self.rerun_failed.as_ref().map(|p| {
            p.clone()
                .unwrap_or_else(|| artifacts_dir.join(crate::rerun::LAST_RUN))
        });
        let mut acks = match &self.acks_file {
            Some(p) => read_acks(p)?,
            None => Acks::default(),
        };
        let now = chrono::Utc::now();
        for id in &self.acks {
            acks.by_id.insert(
                id.clone(),
                Ack {
                    by: current_user(),
                    at: now,
                    note: None,
                    source: "--ack".into(),
                    commit: None,
                    any_commit: true,
                    expires: None,
                },
            );
        }
        let shard = match self.shard {
            Some(shard) => Some(ShardPlan {
                shard,
                durations: match &self.durations {
                    Some(path) => read_durations(path)?,
                    None => Default::default(),
                },
            }),
            None => None,
        };
        if let (Some(junit), Some(json)) = (&self.junit, &self.json)
            && crate::files::same_destination(junit, json)
        {
            return Err(UsageError::SameReport(json.clone()));
        }
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        Ok(RunSettings {
            checklist_path,
            checklist_dir,
            artifacts_dir,
            junit: self.junit.clone(),
            junit_base: absolute_or_same(self.junit_base.as_deref().unwrap_or(Path::new("."))),
            json: self.json.clone(),
            html: self.html.clone(),
            profile: self.profile.clone(),
            rerun_report,
            rerun: None,
            jobs: self.jobs.map(|j| j as usize),
            only: self.only.clone(),
            skip: self.skip.clone(),
            vars: parse_vars(&self.vars)?,
            acks,
            waivers: Default::default(),
            checkout: Default::default(),
            shard,
            fail_fast: self.fail_fast,
            interactive: !ci && std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            output,
            webdriver_url: self.webdriver_url.clone(),
            deploy_stop_timeout: self.deploy_stop_timeout,
            leftovers: self.leftovers,
        })
    }
}

/// The duration of each item that ran, from a JSON report.
fn read_durations(
    path: &Path,
) -> Result<std::collections::HashMap<String, std::time::Duration>, UsageError> {
    let report = crate::report::json::read(path).map_err(|message| UsageError::Durations {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(report
        .items
        .into_iter()
        .filter(|i| i.started_at.is_some())
        .map(|i| (i.id, i.duration))
        .collect())
}
