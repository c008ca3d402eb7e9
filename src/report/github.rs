//! GitHub Actions: a markdown job summary and `::error` annotations.

use std::fmt::Write as _;
use std::path::Path;

use super::{Outcome, RunReport};

/// The markdown appended to `$GITHUB_STEP_SUMMARY`.
pub fn step_summary(report: &RunReport) -> String {
    let c = report.counts();
    let mut md = format!(
        "## preflight: {} — gate {}\n\n{} passed, {} flaky, {} failed, {} errored, {} skipped{}{}\n\n",
        escape(&report.checklist),
        if report.gate_open() {
            "open ✅"
        } else {
            "closed ❌"
        },
        c.passed,
        c.flaky,
        c.failed,
        c.errored,
        c.skipped,
        if c.interrupted > 0 {
            format!(", {} interrupted", c.interrupted)
        } else {
            String::new()
        },
        if c.waived > 0 {
            format!(", {} waived", c.waived)
        } else {
            String::new()
        },
    );
    md.push_str("| item | outcome | time | detail |\n|---|---|---|---|\n");
    for i in &report.items {
        let outcome = match (i.outcome, i.blocking, &i.waiver) {
            (Outcome::Failed | Outcome::Errored, false, _) => {
                format!("{} (non-blocking)", i.outcome.label())
            }
            (Outcome::Waived, _, Some(w)) => format!("waived until {}", w.until),
            (o, _, _) => o.label().to_string(),
        };
        let _ = writeln!(
            md,
            "| `{}` | {} | {:.1}s | {} |",
            i.id,
            outcome,
            i.duration.as_secs_f64(),
            escape(&super::clean_text(&i.message))
        );
    }
    md
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Workflow commands: `::error` for blocking items that failed or errored, `::warning` for
/// non-blocking ones, each on the item's line of the checklist (relative to `base`, the
/// repository root in a workflow) so the pull request shows it there.
pub fn annotations(report: &RunReport, base: &Path) -> Vec<String> {
    let file = property(&super::relative_to(&report.path, base).display().to_string());
    report
        .items
        .iter()
        .filter(|i| {
            matches!(
                i.outcome,
                Outcome::Failed | Outcome::Errored | Outcome::Waived
            )
        })
        .map(|i| {
            let level = if i.blocks_gate() { "error" } else { "warning" };
            let what = match &i.waiver {
                Some(w) if i.outcome == Outcome::Waived => format!("waived until {}", w.until),
                _ if i.blocking => i.outcome.label().to_string(),
                _ => format!("{} (non-blocking)", i.outcome.label()),
            };
            let msg = data(&super::clean_text(&i.message));
            let title = property(&format!("preflight {} {what}", i.id));
            format!("::{level} file={file},line={},title={title}::{msg}", i.line)
        })
        .collect()
}

/// Escapes a workflow command's message.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}
