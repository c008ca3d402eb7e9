//! The terminal reporter: a live progress line on a terminal, one line per finished item
//! otherwise, and a summary table at the end. Writes to stderr only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

use comfy_table::{ContentArrangement, Table, presets};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{ItemResult, Outcome, RunReport};
use crate::runner::Event;
use crate::settings::OutputSettings;

/// Lines of an item's details shown under a failure (the full text is in the reports).
const DETAIL_LINES: usize = 25;

struct Style {
    color: bool,
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
        };
        self.paint(code, &format!("{label:>5}"))
    }
}

/// Consumes events until the run finishes.
pub async fn run(mut events: UnboundedReceiver<Event>, settings: OutputSettings) {
    let style = Style {
        color: settings.color,
        wrap: settings.live,
    };
    let mut running: BTreeMap<String, Instant> = BTreeMap::new();
    let (mut done, mut total) = (0usize, 0usize);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut status_shown = false;
    loop {
        let event = tokio::select! {
            e = events.recv() => match e { Some(e) => e, None => break },
            _ = tick.tick(), if settings.live => {
                status_shown = draw_status(&running, done, total, status_shown);
                continue;
            }
        };
        let mut text = String::new();
        let finished = matches!(event, Event::RunFinished { .. });
        match event {
            Event::RunStarted {
                checklist,
                items,
                jobs,
            } => {
                total = items;
                let _ = writeln!(
                    text,
                    "{} {checklist}: {items} items, {jobs} at a time",
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
                let _ = writeln!(text, "{} stopping: interrupted", style.paint("35", " INTR"));
            }
            Event::RunFinished { report } => {
                text = summary(&style, &report);
            }
        }
        if !text.is_empty() {
            let mut err = std::io::stderr().lock();
            if status_shown {
                let _ = write!(err, "\r\x1b[2K");
                status_shown = false;
            }
            let _ = err.write_all(text.as_bytes());
            let _ = err.flush();
        }
        if finished {
            break;
        }
    }
    if status_shown {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
}

fn draw_status(
    running: &BTreeMap<String, Instant>,
    done: usize,
    total: usize,
    shown: bool,
) -> bool {
    if running.is_empty() {
        if shown {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
        return false;
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
    let mut line = format!("[{done}/{total}] running: {}{more}", list.join(", "));
    line.truncate(terminal_width().saturating_sub(1));
    let _ = write!(std::io::stderr(), "\r\x1b[2K{line}");
    let _ = std::io::stderr().flush();
    true
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
    if matches!(r.outcome, Outcome::Failed | Outcome::Errored) && !r.details.is_empty() {
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
        let outcome = if r.is_warning() {
            format!("{} (non-blocking)", r.outcome.label())
        } else {
            r.outcome.label().to_string()
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
    if c.warnings > 0 {
        let _ = write!(s, " ({} non-blocking)", c.warnings);
    }
    if !report.not_selected.is_empty() {
        let _ = write!(s, "; {} not selected", report.not_selected.len());
    }
    let _ = writeln!(s, " in {:.2}s", report.duration.as_secs_f64());
    let verdict = if report.interrupted {
        style.paint("35;1", "gate: INTERRUPTED (exit 130)")
    } else if report.gate_open() {
        style.paint("32;1", "gate: OPEN, every blocking item passed (exit 0)")
    } else {
        style.paint(
            "31;1",
            "gate: CLOSED, a blocking item did not pass (exit 1)",
        )
    };
    let _ = writeln!(s, "{verdict}");
    s
}
