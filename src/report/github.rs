//! GitHub Actions: a markdown job summary and `::error` annotations.

use std::fmt::Write as _;

use super::{Outcome, RunReport};

/// The markdown appended to `$GITHUB_STEP_SUMMARY`.
pub fn step_summary(report: &RunReport) -> String {
    let c = report.counts();
    let mut md = format!(
        "## preflight: {} — gate {}\n\n{} passed, {} flaky, {} failed, {} errored, {} skipped{}\n\n",
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
    );
    md.push_str("| item | outcome | time | detail |\n|---|---|---|---|\n");
    for i in &report.items {
        let outcome = match (i.outcome, i.blocking) {
            (Outcome::Failed | Outcome::Errored, false) => {
                format!("{} (non-blocking)", i.outcome.label())
            }
            (o, _) => o.label().to_string(),
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

/// `::error` workflow commands for blocking items that did not pass.
pub fn annotations(report: &RunReport) -> Vec<String> {
    report
        .items
        .iter()
        .filter(|i| i.blocks_gate() && matches!(i.outcome, Outcome::Failed | Outcome::Errored))
        .map(|i| {
            let msg = super::clean_text(&i.message)
                .replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A");
            format!(
                "::error title=preflight {} {}::{}",
                i.id,
                i.outcome.label(),
                msg
            )
        })
        .collect()
}
