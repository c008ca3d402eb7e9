//! The terminal reporter: a live progress line on a terminal, one line per finished item
//! otherwise, and a summary table at the end. Writes to stderr only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use comfy_table::{ContentArrangement, Table, presets};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{ItemResult, Outcome, RunReport};
use crate::runner::Event;
use crate::settings::{OutputSettings, Verbosity};

/// Lines of an item's details shown under a failure (the full text is in the reports).
const DETAIL_LINES: usize = 25;

struct Style {
    color: bool,
    verbosity: Verbosity,
    /// Wrap the summary table to the terminal's width (CI logs keep one row per item).
    wrap: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn outcome(&self, r: &ItemResult) -> String {
        let (label, code) = match r.outcome {
            Outcome::Passed => ("PASS", "32"),
            Outcome::Flaky => ("FLAKY", "33"),
            Outcome::Failed if !r.blocking => ("WARN", "33"),
            Outcome::Errored if !r.blocking => ("WARN", "33"),
            Outcome::Failed => ("FAIL", "1;31"),
            Outcome::Errored => ("ERROR", "1;31"),
            Outcome::Skipped => ("SKIP", "2"),
            Outcome::Interrupted => ("INTR", "35"),
            Outcome::Waived => ("WAIVD", "33"),
        };
        self.paint(code, &format!("{label:>5}"))
    }
}

/// stderr as the reporter and the sign-off prompt share it: the live status line is never
/// drawn over an open prompt, and lines printed while a prompt is open wait for its answer.
/// Without colours it writes no escape codes at all (the status line is erased with spaces).
pub struct Screen {
    escapes: bool,
    state: Mutex<ScreenState>,
}

#[derive(Default)]
struct ScreenState {
    /// Width of the status line on screen (0: none).
    status: usize,
    prompt_open: bool,
    held: String,
}

impl Screen {
    pub fn new(color: bool) -> Self {
        Screen {
            escapes: color,
            state: Mutex::new(ScreenState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ScreenState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn erase_status(&self, st: &mut ScreenState, out: &mut impl std::io::Write) {
        if st.status > 0 {
            if self.escapes {
                let _ = write!(out, "\r\x1b[2K");
            } else {
                let _ = write!(out, "\r{}\r", " ".repeat(st.status));
            }
            st.status = 0;
        }
    }

    /// Prints `text` (whole lines), or keeps it until the open prompt is answered.
    pub fn print(&self, text: &str) {
        let mut st = self.lock();
        if st.prompt_open {
            st.held.push_str(text);
            return;
        }
        let mut err = std::io::stderr().lock();
        self.erase_status(&mut st, &mut err);
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    /// Draws (or with `None` erases) the live status line, unless a prompt is open.
    fn status(&self, line: Option<&str>) {
        let mut st = self.lock();
        if st.prompt_open {
            return;
        }
        let mut err = std::io::stderr().lock();
        self.erase_status(&mut st, &mut err);
        if let Some(line) = line {
            let _ = write!(err, "{line}");
            st.status = line.chars().count();
        }
        let _ = err.flush();
    }

    /// Shows a question and holds every other output until [`Self::close_prompt`].
    pub fn open_prompt(&self, question: &str) {
        let mut st = self.lock();
        let mut err = std::io::stderr().lock();
        self.erase_status(&mut st, &mut err);
        st.prompt_open = true;
        let _ = write!(err, "{question}");
        let _ = err.flush();
    }

    /// The prompt was answered: prints what was held meanwhile.
    pub fn close_prompt(&self) {
        let mut st = self.lock();
        st.prompt_open = false;
        let held = std::mem::take(&mut st.held);
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(held.as_bytes());
        let _ = err.flush();
    }
}

/// Consumes events until the run finishes.
pub async fn run(
    mut events: UnboundedReceiver<Event>,
    settings: OutputSettings,
    screen: std::sync::Arc<Screen>,
) {
    let style = Style {
        color: settings.color,
        verbosity: settings.verbosity,
        wrap: settings.live,
    };
    let quiet = settings.verbosity == Verbosity::Quiet;
    let mut running: BTreeMap<String, Instant> = BTreeMap::new();
    let (mut done, mut total) = (0usize, 0usize);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        let event = tokio::select! {
            e = events.recv() => match e { Some(e) => e, None => break },
            _ = tick.tick(), if settings.live => {
                screen.status(status_line(&running, done, total).as_deref());
                continue;
            }
        };
        let mut text = String::new();
        let finished = matches!(event, Event::RunFinished { .. });
        // `-q`: only what did not pass (and, from the caller, the final line).
        let shown_when_quiet = match &event {
            Event::ServiceFailed { .. }
            | Event::Interrupted
            | Event::Stopping { .. }
            | Event::LeftBehind { .. } => true,
            Event::ItemFinished { result, .. } => matches!(
                result.outcome,
                Outcome::Failed | Outcome::Errored | Outcome::Interrupted
            ),
            _ => false,
        };
        match event {
            Event::RunStarted {
                checklist,
                profile,
                items,
                jobs,
            } => {
                total = items;
                let profile = profile
                    .map(|p| format!(" (profile {p})"))
                    .unwrap_or_default();
                let _ = writeln!(
                    text,
                    "{} {checklist}{profile}: {items} items, {jobs} at a time",
                    style.paint("1", "preflight")
                );
            }
            Event::ServiceStarting { name } => {
                let _ = writeln!(
                    text,
                    "{} service `{name}` starting",
                    style.paint("2", "  ...")
                );
            }
            Event::ServiceReady { name, pid, after } => {
                let _ = writeln!(
                    text,
                    "{} service `{name}` ready (pid {pid}) after {:.1}s",
                    style.paint("32", "   UP"),
                    after.as_secs_f64()
                );
            }
            Event::ServiceFailed { name, message } => {
                let _ = writeln!(
                    text,
                    "{} service `{name}`: {}",
                    style.paint("1;31", "ERROR"),
                    indent_rest(&message)
                );
            }
            Event::ItemStarted { id } => {
                running.insert(id, Instant::now());
            }
            Event::ItemRetrying {
                id,
                attempt,
                message,
            } => {
                let _ = writeln!(
                    text,
                    "{} {id}: attempt {attempt} after: {message}",
                    style.paint("33", "RETRY")
                );
            }
            Event::ItemFinished {
                result, done: d, ..
            } => {
                running.remove(&result.id);
                done = d;
                text = item_line(&style, &result);
            }
            Event::Interrupted => {
                let _ = writeln!(
                    text,
                    "{} stopping: interrupted; Ctrl-C again to kill everything now",
                    style.paint("35", " INTR")
                );
            }
            Event::Stopping { what, up_to } => {
                let _ = writeln!(
                    text,
                    "{} stopping {what}: waiting up to {}; Ctrl-C again to kill now",
                    style.paint("35", " INTR"),
                    humantime::format_duration(up_to)
                );
            }
            Event::LeftBehind { processes } => {
                let _ = writeln!(
                    text,
                    "{} stopped {} process{} left behind by this run's items or services (they left their process group): {}",
                    style.paint("33", " WARN"),
                    processes.len(),
                    if processes.len() == 1 { "" } else { "es" },
                    processes.join(", ")
                );
            }
            Event::RunFinished { report } => {
                text = summary(&style, &report);
            }
        }
        if !text.is_empty() && (shown_when_quiet || !quiet) {
            screen.print(&text);
        }
        if finished {
            break;
        }
    }
    screen.status(None);
}

/// `[2/5] running: http.home 1s, ...`, or `None` when nothing runs.
fn status_line(running: &BTreeMap<String, Instant>, done: usize, total: usize) -> Option<String> {
    if running.is_empty() {
        return None;
    }
    let now = Instant::now();
    let list: Vec<String> = running
        .iter()
        .take(4)
        .map(|(id, t)| format!("{id} {:.0}s", (now - *t).as_secs_f64()))
        .collect();
    let more = if running.len() > 4 {
        format!(" +{}", running.len() - 4)
    } else {
        String::new()
    };
    let line = format!("[{done}/{total}] running: {}{more}", list.join(", "));
    Some(
        line.chars()
            .take(terminal_width().saturating_sub(1))
            .collect(),
    )
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

fn indent_rest(s: &str) -> String {
    s.lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("\n        {l}")
            }
        })
        .collect()
}

/// One finished item: its outcome line, then (when it did not pass) its details, whole.
fn item_line(style: &Style, r: &ItemResult) -> String {
    let mut s = format!(
        "{} {} {} {}\n",
        style.outcome(r),
        style.paint("1", &r.id),
        style.paint("2", &format!("[{:.2}s]", r.duration.as_secs_f64())),
        r.message
    );
    for w in &r.warnings {
        let _ = writeln!(s, "        {} {w}", style.paint("33", "warning:"));
    }
    let show_details = matches!(r.outcome, Outcome::Failed | Outcome::Errored)
        || style.verbosity == Verbosity::Verbose;
    if show_details && !r.details.is_empty() {
        // Cleaned whole: a progress line's `\r` becomes a line break of its own.
        let details = super::clean_text(&r.details);
        let lines: Vec<&str> = details.lines().collect();
        for l in lines.iter().take(DETAIL_LINES) {
            let _ = writeln!(s, "        {l}");
        }
        if lines.len() > DETAIL_LINES {
            let _ = writeln!(
                s,
                "        [... {} more lines in the JUnit/JSON report]",
                lines.len() - DETAIL_LINES
            );
        }
    }
    for a in &r.artifacts {
        let _ = writeln!(s, "        artifact: {}", a.display());
    }
    s
}

/// The closing table and verdict of `report`, as a run ends with them.
pub fn summary_text(report: &RunReport, settings: OutputSettings) -> String {
    let style = Style {
        color: settings.color,
        verbosity: settings.verbosity,
        wrap: settings.live,
    };
    summary(&style, report)
}

/// The closing table and verdict.
fn summary(style: &Style, report: &RunReport) -> String {
    let mut table = Table::new();
    table
        .load_preset(if style.color {
            presets::UTF8_FULL_CONDENSED
        } else {
            presets::ASCII_FULL_CONDENSED
        })
        .set_content_arrangement(if style.wrap {
            ContentArrangement::Dynamic
        } else {
            ContentArrangement::Disabled
        })
        .set_width(terminal_width().clamp(80, 200) as u16)
        .set_header(vec!["item", "kind", "outcome", "time", "detail"]);
    for r in &report.items {
        let outcome = match &r.waiver {
            _ if r.is_warning() => format!("{} (non-blocking)", r.outcome.label()),
            Some(w) if r.outcome == Outcome::Waived => format!("waived until {}", w.until),
            _ => r.outcome.label().to_string(),
        };
        let mut detail = super::clean_text(r.message.lines().next().unwrap_or(""));
        if detail.chars().count() > 120 {
            detail = detail.chars().take(117).collect::<String>() + "...";
        }
        table.add_row(vec![
            r.id.clone(),
            r.kind.clone(),
            outcome,
            format!("{:.2}s", r.duration.as_secs_f64()),
            detail,
        ]);
    }
    let c = report.counts();
    let mut s = format!("\n{table}\n");
    let _ = write!(
        s,
        "{} passed, {} flaky, {} failed, {} errored, {} skipped",
        c.passed, c.flaky, c.failed, c.errored, c.skipped
    );
    if c.interrupted > 0 {
        let _ = write!(s, ", {} interrupted", c.interrupted);
    }
    if c.waived > 0 {
        let _ = write!(s, ", {} waived", c.waived);
    }
    if c.warnings > 0 {
        let _ = write!(s, " ({} non-blocking)", c.warnings);
    }
    if !report.not_selected.is_empty() {
        let _ = write!(s, "; {} not selected", report.not_selected.len());
    }
    let _ = writeln!(s, " in {:.2}s", report.duration.as_secs_f64());
    s
}

/// The closing line, printed once the reports are written: `problem` is why one could not be.
pub fn verdict(report: &RunReport, problem: Option<&str>, color: bool) -> String {
    let style = Style {
        color,
        verbosity: Verbosity::Normal,
        wrap: false,
    };
    let line = if report.interrupted {
        let why = problem.map(|p| format!("; {p}")).unwrap_or_default();
        style.paint("35;1", &format!("gate: INTERRUPTED{why} (exit 130)"))
    } else if let Some(p) = problem {
        let also = if report.gate_open() {
            ""
        } else {
            "a blocking item did not pass; "
        };
        style.paint("31;1", &format!("gate: CLOSED, {also}{p} (exit 1)"))
    } else if report.gate_open() && report.counts().waived > 0 {
        style.paint(
            "32;1",
            "gate: OPEN, every blocking item passed or its failure is waived (exit 0)",
        )
    } else if report.gate_open() {
        style.paint("32;1", "gate: OPEN, every blocking item passed (exit 0)")
    } else {
        style.paint(
            "31;1",
            "gate: CLOSED, a blocking item did not pass (exit 1)",
        )
    };
    format!("{line}\n")
}
