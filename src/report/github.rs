//! GitHub Actions: a markdown job summary and `::error` annotations.

use std::fmt::Write as _;
use std::path::Path;

use super::{Outcome, RunReport};

/// The markdown appended to `$GITHUB_STEP_SUMMARY`.
pub fn step_summary(report: &RunReport) -> String {
    let c = report.counts();
    let mut md = format!(
        "## preflight: {}{} — gate {}\n\n{} passed, {} flaky, {} failed, {} errored, {} skipped{}{}\n\n",
        escape(&report.checklist),
        report
            .profile
            .as_ref()
            .map(|p| format!(" (profile `{}`)", escape(p)))
            .unwrap_or_default(),
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

/// The step summary's line about the HTML report at `path`: a link to `PREFLIGHT_HTML_URL` when
/// set (where the report is published), else to the workflow run's page, which lists the run's
/// artifacts (from `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY` and `GITHUB_RUN_ID`); without
/// either, the path alone.
pub fn html_link(path: &Path, env: impl Fn(&str) -> Option<String>) -> String {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let name = escape(&path.display().to_string());
    if let Some(url) = var("PREFLIGHT_HTML_URL") {
        return format!("\nHTML report: [`{name}`]({})\n", url.trim());
    }
    match (
        var("GITHUB_SERVER_URL"),
        var("GITHUB_REPOSITORY"),
        var("GITHUB_RUN_ID"),
    ) {
        (Some(server), Some(repo), Some(run)) => format!(
            "\nHTML report: `{name}` in the artifacts of [this workflow run]({}/{repo}/actions/runs/{run})\n",
            server.trim_end_matches('/')
        ),
        _ => format!("\nHTML report: `{name}`\n"),
    }
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Workflow commands: `::error` for blocking items that failed or errored, `::warning` for
/// non-blocking ones, each on the item's line of the checklist (relative to `base`, the
/// repository root in a workflow) so the pull request shows it there.
pub fn annotations(report: &RunReport, base: &Path) -> Vec<String> {
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
            let file = property(&super::relative_to(&i.file, base).display().to_string());
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
