//! Wires the pipeline for each subcommand: checklist → plan → runner → reporters.
//! Errors are rendered here, once.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use clap::Parser;
use futures::future::BoxFuture;

use crate::checklist::{self, Checklist, ChecklistError, LoadOptions, printable};
use crate::checks::Prompter;
use crate::cli::{
    self, Arguments, Command, FileArgs, FlagsCommand, RunArgs, SnapshotArgs, UsageError,
};
use crate::exit;
use crate::plan::{self, PlanError};
use crate::redact::Redactor;
use crate::report::terminal::Screen;
use crate::report::{self, RunReport};
use crate::runner::{Event, Runner};
use crate::settings::{Leftovers, OutputSettings, RunSettings};
use crate::signals::Interrupts;

/// Everything that stops preflight before (or instead of) a run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Checklist(#[from] ChecklistError),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Usage(#[from] UsageError),
    #[error("{0}")]
    Rerun(#[from] crate::rerun::RerunError),
    #[error("`--ack {id}` names no manual item{hint}")]
    UnknownAck { id: String, hint: String },
    #[error(
        "no checklist `{}` here: `preflight init` writes a commented one for this project, or name one: `preflight {command} FILE`",
        path.display()
    )]
    NoChecklist {
        path: std::path::PathBuf,
        command: &'static str,
    },
    #[error(transparent)]
    Init(#[from] crate::init::InitError),
    #[error("{0}")]
    Other(String),
}

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let args = match Arguments::try_parse() {
        Ok(a) => a,
        Err(e) => {
            if let Some(message) = gate_without_separator(&e) {
                eprintln!("error: {message}");
                return exit::INVALID;
            }
            let _ = e.print();
            return if e.use_stderr() {
                exit::INVALID
            } else {
                exit::PASSED
            };
        }
    };
    let output = cli::output_settings(args.color);
    // Before any thread starts: every process preflight starts inherits the run's marker.
    crate::leftovers::mark_this_run();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::FAILED;
        }
    };
    let code = runtime.block_on(dispatch(args.command, output));
    // Blocking prompt readers may still wait on stdin: do not wait for them.
    runtime.shutdown_background();
    code
}

/// `preflight gate FILE ./deploy.sh` (no `--`): clap would only say the argument is unexpected.
fn gate_without_separator(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let args: Vec<String> = std::env::args().skip(1).collect();
    let is_gate = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .is_some_and(|a| a == "gate");
    if !is_gate || args.iter().any(|a| a == "--") {
        return None;
    }
    let found = match (e.kind(), e.get(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(ContextValue::String(arg))) => format!(" (`{arg}`)"),
        (ErrorKind::MissingRequiredArgument, _) => String::new(),
        _ => return None,
    };
    Some(format!(
        "`gate` runs the deploy command given after `--`{found}: write `preflight gate [FILE] -- CMD ARGS...`, e.g. `preflight gate preflight.toml -- ./deploy.sh`"
    ))
}

async fn dispatch(command: Command, output: OutputSettings) -> i32 {
    let result = match command {
        Command::Validate(f) => validate(&f),
        Command::List(l) => list(&l),
        Command::Init(i) => crate::init::run(&i.file, i.force)
            .map(|message| {
                eprintln!("{message}");
                exit::PASSED
            })
            .map_err(AppError::Init),
        Command::Kinds => {
            print!("{}", crate::explain::kinds());
            Ok(exit::PASSED)
        }
        Command::Explain { kind } => crate::explain::explain(&kind)
            .map(|text| {
                print!("{text}");
                exit::PASSED
            })
            .map_err(AppError::Usage),
        Command::Schema => {
            println!("{}", crate::checklist::schema::json());
            Ok(exit::PASSED)
        }
        Command::Completions { shell } => {
            let mut command = <Arguments as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "preflight", &mut std::io::stdout());
            Ok(exit::PASSED)
        }
        Command::Man => {
            let command = <Arguments as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout())
                .map(|()| exit::PASSED)
                .map_err(|e| AppError::Other(format!("cannot write the man page: {e}")))
        }
        Command::Run(r) => run(&r, output, None).await,
        Command::Gate { run: r, command } => run(&r, output, Some(command)).await,
        Command::Merge(args) => Ok(crate::release::merge::run(&args, output).await),
        Command::Verify(args) => Ok(crate::release::verify::run(&args).await),
        Command::Flags {
            command: FlagsCommand::Snapshot(args),
        } => flags_snapshot(&args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let text = match &e {
                AppError::Checklist(c) => c.render(output.color),
                // URL userinfo is redacted even where no secret is known yet.
                other => format!(
                    "error: {}\n",
                    printable(&Redactor::default().redact(&other.to_string()))
                ),
            };
            let _ = std::io::stderr().write_all(text.as_bytes());
            match e {
                AppError::Other(_) => exit::FAILED,
                _ => exit::INVALID,
            }
        }
    }
}

/// Reads the checklist and prints its warnings.
fn load(
    file: &Path,
    vars: &[(String, String)],
    artifacts: Option<&Path>,
    profile: Option<&str>,
) -> Result<Checklist, AppError> {
    let checklist = load_quietly(file, vars, artifacts, profile)?;
    for w in &checklist.warnings {
        eprint!("{w}");
    }
    Ok(checklist)
}

/// Reads the checklist; its warnings are in [`Checklist::warnings`].
fn load_quietly(
    file: &Path,
    vars: &[(String, String)],
    artifacts: Option<&Path>,
    profile: Option<&str>,
) -> Result<Checklist, AppError> {
    if !file.exists() && file.symlink_metadata().is_err() {
        let command = std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .and_then(|a| {
                ["run", "gate", "validate", "list"]
                    .into_iter()
                    .find(|c| *c == a)
            })
            .unwrap_or("run");
        return Err(AppError::NoChecklist {
            path: file.to_path_buf(),
            command,
        });
    }
    let dir = checklist_dir(file);
    let mut builtins = vec![("checklist_dir".to_string(), dir.display().to_string())];
    let artifacts = artifacts
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::path::absolute("preflight-artifacts").unwrap_or_default());
    builtins.push(("artifacts".to_string(), artifacts.display().to_string()));
    let options = LoadOptions {
        builtins,
        overrides: vars.to_vec(),
        // An empty `PREFLIGHT_PROFILE` is no profile.
        profile: profile.filter(|p| !p.is_empty()).map(str::to_string),
    };
    Ok(checklist::load(file, &options)?)
}

/// The absolute directory of the checklist `file` (relative paths in it resolve against it).
fn checklist_dir(file: &Path) -> std::path::PathBuf {
    std::path::absolute(
        file.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
    .unwrap_or_default()
}

/// `validate`: the checklist with `--profile`, or without a profile and then with each one.
fn validate(args: &FileArgs) -> Result<i32, AppError> {
    let (file, vars) = (&args.file, cli::parse_vars(&args.vars)?);
    let c = load(file, &vars, None, args.profile.as_deref())?;
    let mut profiles = Vec::new();
    if c.profile.is_none() {
        let mut shown = c.warnings.clone();
        for p in &c.profiles {
            for w in load_quietly(file, &vars, None, Some(p))?.warnings {
                if !shown.contains(&w) {
                    eprint!("{w}");
                    shown.push(w);
                }
            }
            profiles.push(format!("`{p}`"));
        }
    }
    let mut kinds: indexmap::IndexMap<&str, usize> = indexmap::IndexMap::new();
    for i in &c.items {
        *kinds.entry(i.kind).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let with = match (&c.profile, profiles.is_empty()) {
        (Some(p), _) => format!(" with profile `{p}`"),
        (None, false) => format!(", and with profiles {}", profiles.join(", ")),
        (None, true) => String::new(),
    };
    let included = match c.included.len() {
        0 => String::new(),
        n => format!(" from {} files", n + 1),
    };
    println!(
        "{}: valid{with}: {} items ({}){included}, {} services",
        file.display(),
        c.items.len(),
        kinds.join(", "),
        c.services.len()
    );
    Ok(exit::PASSED)
}

fn list(args: &cli::ListArgs) -> Result<i32, AppError> {
    let file = &args.file.file;
    let c = load(
        file,
        &cli::parse_vars(&args.file.vars)?,
        None,
        args.file.profile.as_deref(),
    )?;
    let settings = RunSettings {
        only: args.only.clone(),
        skip: args.skip.clone(),
        ..RunSettings::default()
    };
    let plan = plan::plan(&c, &settings)?;
    let needs_of = |p: &plan::PlannedItem| -> Vec<String> {
        p.def
            .common
            .needs
            .iter()
            .map(|n| n.get_ref().clone())
            .collect()
    };
    if args.json {
        let items: Vec<serde_json::Value> = plan
            .items
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id": p.def.id,
                    "kind": p.def.kind,
                    "name": p.def.name,
                    "description": p.def.common.description,
                    "tags": p.def.common.tags,
                    "needs": needs_of(p),
                    "blocking": p.def.common.blocking,
                    "timeout": humantime::format_duration(p.timeout).to_string(),
                    "timeout_seconds": p.timeout.as_secs_f64(),
                    "file": p.def.file.display().to_string(),
                    "line": p.def.line,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "checklist": c.name,
            "items": items,
            "not_selected": plan.not_selected,
        });
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        println!("{}", c.redactor().redact(&text));
        return Ok(exit::PASSED);
    }
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_header(vec![
            "#", "id", "kind", "blocking", "timeout", "tags", "needs",
        ]);
    for (n, p) in plan.items.iter().enumerate() {
        table.add_row(vec![
            (n + 1).to_string(),
            p.def.id.clone(),
            p.def.kind.to_string(),
            if p.def.common.blocking {
                "yes".into()
            } else {
                "no".into()
            },
            humantime::format_duration(p.timeout).to_string(),
            p.def.common.tags.join(","),
            needs_of(p).join(","),
        ]);
    }
    println!("{table}");
    if !plan.not_selected.is_empty() {
        println!("not selected: {}", plan.not_selected.join(", "));
    }
    Ok(exit::PASSED)
}

async fn run(
    args: &RunArgs,
    output: OutputSettings,
    deploy: Option<Vec<String>>,
) -> Result<i32, AppError> {
    let mut settings = args.settings(output)?;
    let output = settings.output;
    let checklist = load(
        &settings.checklist_path,
        &settings.vars,
        Some(&settings.artifacts_dir),
        settings.profile.as_deref(),
    )?;
    if let Some(path) = &settings.rerun_report {
        let rerun = crate::rerun::read(path, &checklist)?;
        for id in &rerun.gone {
            eprintln!(
                "warning: --rerun-failed: `{id}` did not pass last time but is no longer in the checklist"
            );
        }
        if rerun.ids.is_empty() {
            eprintln!(
                "--rerun-failed: every item passed in `{}`: nothing to rerun",
                path.display()
            );
            return Ok(match deploy {
                Some(deploy) => {
                    let stop = settings.deploy_stop_timeout;
                    open_gate(
                        &deploy,
                        &checklist.redactor(),
                        stop,
                        &mut Interrupts::listen(),
                    )
                    .await
                }
                None => exit::PASSED,
            });
        }
        eprintln!(
            "--rerun-failed: {} item(s) did not pass in `{}`: {}",
            rerun.ids.len(),
            path.display(),
            rerun.ids.join(", ")
        );
        settings.rerun = Some(rerun.ids);
    }
    if let Some(path) = &checklist.acks_file {
        // Acks given on the command line win over the checklist's file.
        for (id, ack) in cli::read_acks(path)?.by_id {
            settings.acks.by_id.entry(id).or_insert(ack);
        }
    }
    for id in settings.acks.by_id.keys() {
        if !checklist
            .items
            .iter()
            .any(|i| &i.id == id && i.kind == "manual")
        {
            let manual: Vec<&str> = checklist
                .items
                .iter()
                .filter(|i| i.kind == "manual")
                .map(|i| i.id.as_str())
                .collect();
            let hint = crate::suggest::closest_id(id, manual.iter().copied())
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(AppError::UnknownAck {
                id: id.clone(),
                hint,
            });
        }
    }
    crate::release::prepare(&mut settings, &checklist, args.waivers_file.as_deref())?;
    let plan = plan::plan(&checklist, &settings)?;
    if let Err(e) = std::fs::create_dir_all(&settings.artifacts_dir) {
        return Err(AppError::Other(format!(
            "cannot create artifacts dir `{}`: {e}",
            settings.artifacts_dir.display()
        )));
    }
    let redactor = Arc::new(checklist.redactor());
    handle_dead_runs(settings.leftovers, &redactor).await;

    let settings = Arc::new(settings);
    let screen = Arc::new(Screen::new(output.color));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let reporter = tokio::spawn(report::terminal::run(rx, output, screen.clone()));
    let mut interrupts = Interrupts::listen();
    let stop = interrupts.stop.clone();
    let interrupted = tx.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        let _ = interrupted.send(Event::Interrupted);
    });
    let runner = Runner {
        settings: settings.clone(),
        redactor: redactor.clone(),
        prompter: Arc::new(TerminalPrompter::new(settings.interactive, screen.clone())),
        events: tx,
        cancel: interrupts.stop.clone(),
        kill_now: interrupts.kill_now.clone(),
    };
    let report = runner.run(&checklist, plan).await;
    drop(runner);
    let _ = reporter.await;

    // The verdict comes last, once the reports are written (or could not be).
    let mut code = report.exit_code();
    let reports = write_reports(&report, &settings);
    let attestation = crate::release::attest::write(&report, &args.attest, &redactor).await;
    let problem = reports
        .and(attestation)
        .err()
        .map(|e| redactor.redact(&e).into_owned());
    if problem.is_some() {
        code = code.max(exit::FAILED);
    }
    screen.print(&report::terminal::verdict(
        &report,
        problem.as_deref(),
        output.color,
    ));
    let Some(deploy) = deploy else {
        return Ok(code);
    };
    if code != exit::PASSED || interrupts.stop.is_cancelled() {
        eprintln!(
            "gate closed: `{}` was not run",
            redactor.redact(&deploy.join(" "))
        );
        return Ok(code);
    }
    Ok(open_gate(
        &deploy,
        &redactor,
        settings.deploy_stop_timeout,
        &mut interrupts,
    )
    .await)
}

/// Runs the deploy command of an open gate; its exit status becomes preflight's.
async fn open_gate(
    deploy: &[String],
    redactor: &Redactor,
    stop_timeout: std::time::Duration,
    interrupts: &mut Interrupts,
) -> i32 {
    let shown = redactor.redact(&deploy.join(" ")).into_owned();
    eprintln!("gate open: running `{shown}`");
    crate::deploy::run(deploy, &shown, stop_timeout, interrupts).await
}

/// Reports (and unless `--leftovers report`, stops) what runs whose preflight is gone left
/// behind: processes that would hold ports and files, and temp directories.
async fn handle_dead_runs(mode: Leftovers, redactor: &Redactor) {
    let dead = crate::leftovers::find_dead_runs();
    for p in &dead.processes {
        let what = match mode {
            Leftovers::Stop => "stopping it",
            Leftovers::Report => "left running (--leftovers report)",
        };
        eprintln!(
            "leftover: {} of preflight run {}, which is no longer running: {what}",
            printable(&redactor.redact(&p.describe())),
            p.run
        );
    }
    if mode == Leftovers::Stop {
        for d in &dead.temp_dirs {
            eprintln!(
                "leftover: removing `{}` of a preflight run that is no longer running",
                d.display()
            );
        }
        crate::leftovers::clean_dead_runs(&dead).await;
    }
}

/// `preflight flags snapshot`: writes the lock file of every selected `[flags.*]` item that has
/// a `drift` rule.
async fn flags_snapshot(args: &SnapshotArgs) -> Result<i32, AppError> {
    let vars = cli::parse_vars(&args.vars)?;
    let mut written = 0;
    for file in &args.files {
        let list = load(file, &vars, None, args.profile.as_deref())?;
        let redactor = list.redactor();
        let dir = checklist_dir(file);
        for item in &list.items {
            if !args.only.is_empty() && !args.only.iter().any(|o| *o == item.name || *o == item.id)
            {
                continue;
            }
            // The parsed items are `dyn Check`; upcast to `Any` to get the flags configuration.
            let check: &dyn std::any::Any = &*item.check;
            let Some(flags) = check.downcast_ref::<crate::checks::flags::FlagsItem>() else {
                continue;
            };
            let timeout = item
                .common
                .timeout
                .map(|d| d.get())
                .or(list.timeout)
                .unwrap_or(std::time::Duration::from_secs(30));
            let id = &item.id;
            let failed = |e: String| AppError::Other(format!("{id}: {}", redactor.redact(&e)));
            let Some((path, lock)) = crate::checks::flags::lock_file(flags, id, &dir, timeout)
                .await
                .map_err(failed)?
            else {
                eprintln!("{id}: no `drift` rule, nothing to snapshot");
                continue;
            };
            let text =
                serde_json::to_string_pretty(&lock).map_err(|e| failed(e.to_string()))? + "\n";
            crate::files::write_atomic(&path, redactor.redact(&text).as_bytes())
                .map_err(|e| failed(format!("cannot write `{}`: {e}", path.display())))?;
            println!(
                "{id}: wrote {} ({} flags from {})",
                path.display(),
                lock.flags.len(),
                redactor.redact(&lock.source)
            );
            written += 1;
        }
    }
    if written == 0 {
        let only = if args.only.is_empty() {
            ""
        } else {
            " matches `--only`"
        };
        eprintln!("error: no `[flags.*]` item with a `drift` rule{only}");
        return Ok(exit::INVALID);
    }
    Ok(exit::PASSED)
}

fn write_reports(report: &RunReport, settings: &RunSettings) -> Result<(), String> {
    if let Some(path) = &settings.junit {
        let xml = report::junit::render(report, &settings.junit_base);
        crate::files::write_report(path, xml.as_bytes())
            .map_err(|e| format!("cannot write JUnit report `{}`: {e}", path.display()))?;
    }
    let json = report::json::render(report);
    if let Some(path) = &settings.json {
        crate::files::write_report(path, json.as_bytes())
            .map_err(|e| format!("cannot write JSON report `{}`: {e}", path.display()))?;
    }
    // What `--rerun-failed` reads by default; not part of the gate, so a failure only warns.
    let last_run = settings.artifacts_dir.join(crate::rerun::LAST_RUN);
    if let Err(e) = crate::files::write_atomic(&last_run, json.as_bytes()) {
        eprintln!("warning: cannot write `{}`: {e}", last_run.display());
    }
    if let Some(path) = &settings.html {
        let dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let html = report::html::render(report, &dir);
        crate::files::write_report(path, html.as_bytes())
            .map_err(|e| format!("cannot write HTML report `{}`: {e}", path.display()))?;
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let mut md = report::github::step_summary(report);
        if let Some(html) = &settings.html {
            md.push_str(&report::github::html_link(html, |k| std::env::var(k).ok()));
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot append to GITHUB_STEP_SUMMARY: {e}"))?;
        f.write_all(md.as_bytes())
            .map_err(|e| format!("cannot append to GITHUB_STEP_SUMMARY: {e}"))?;
    }
    if settings.output.github_annotations {
        for line in report::github::annotations(report, &settings.junit_base) {
            println!("{line}");
        }
    }
    Ok(())
}

/// Asks y/N on the terminal, one question at a time; the progress line waits meanwhile.
struct TerminalPrompter {
    interactive: bool,
    lock: tokio::sync::Mutex<()>,
    screen: Arc<Screen>,
}

impl TerminalPrompter {
    fn new(interactive: bool, screen: Arc<Screen>) -> Self {
        TerminalPrompter {
            interactive,
            lock: tokio::sync::Mutex::new(()),
            screen,
        }
    }
}

impl Prompter for TerminalPrompter {
    fn confirm<'a>(&'a self, question: &'a str) -> BoxFuture<'a, Option<bool>> {
        Box::pin(async move {
            if !self.interactive {
                return None;
            }
            let _guard = self.lock.lock().await;
            self.screen
                .open_prompt(&format!("? {} [y/N] ", printable(question)));
            let answer = tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).ok()?;
                Some(matches!(
                    line.trim().to_ascii_lowercase().as_str(),
                    "y" | "yes"
                ))
            })
            .await
            .ok()
            .flatten();
            self.screen.close_prompt();
            answer
        })
    }
}
