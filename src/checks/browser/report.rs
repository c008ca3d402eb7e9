//! What a journey reports: every run's status, step timings and error, and one verdict that
//! names the run whose artifacts were saved.

use std::fmt::Write as _;
use std::time::Duration;

use super::run::{Endpoint, Shared};
use super::step::Step;
use crate::checks::CheckOutput;

/// One timed step of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepRecord {
    pub step: usize,
    pub action: &'static str,
    pub target: String,
    pub ms: f64,
    pub ok: bool,
    /// `click \`#pay\``, with the run's values and secrets masked: for the run's error.
    #[serde(skip)]
    pub described: String,
}

/// One run of the journey.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub run: u32,
    /// The run's `${unique}`.
    pub unique: String,
    /// "passed", "failed" or "errored" (no session).
    pub status: &'static str,
    pub session_ms: f64,
    pub total_ms: f64,
    pub steps: Vec<StepRecord>,
    pub error: Option<String>,
    #[serde(skip)]
    pub timed_out: bool,
}

impl RunRecord {
    pub fn new(run: u32, unique: &str) -> RunRecord {
        RunRecord {
            run,
            unique: unique.to_string(),
            status: "passed",
            session_ms: 0.0,
            total_ms: 0.0,
            steps: Vec::new(),
            error: None,
            timed_out: false,
        }
    }

    pub fn push_step(&mut self, sh: &Shared<'_>, index: usize, step: &Step, ms: f64, ok: bool) {
        let redact = |s: String| sh.cx.redactor.redact(&s).into_owned();
        self.steps.push(StepRecord {
            step: index + 1,
            action: step.action.name(),
            target: redact(step.action.target()),
            ms,
            ok,
            described: redact(step.action.describe()),
        });
    }
}

pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// The item's verdict from all its runs.
pub fn summarize(sh: &Shared<'_>, runs: Vec<RunRecord>, elapsed: Duration) -> CheckOutput {
    let total = runs.len();
    let failed: Vec<&RunRecord> = runs.iter().filter(|r| r.status == "failed").collect();
    let errored: Vec<&RunRecord> = runs.iter().filter(|r| r.status == "errored").collect();
    let passed = total - failed.len() - errored.len();
    let steps = sh.item.steps.len();
    let where_ = match &sh.endpoint {
        Endpoint::Local(d) => format!("local {}", d.binaries.browser.display()),
        Endpoint::Remote(u) => format!("WebDriver at {u}"),
    };
    let captured = *sh.captured.lock().unwrap_or_else(|e| e.into_inner());
    // The run a failure names: the one whose artifacts were saved, else the first that failed.
    let named = captured
        .and_then(|n| runs.iter().find(|r| r.run == n))
        .or_else(|| failed.first().copied())
        .or_else(|| errored.first().copied());

    let mut details = String::new();
    let _ = writeln!(
        details,
        "{steps} steps, {total} run(s), at most {} at once, on {where_}",
        sh.item.parallel()
    );
    if let Some(r) = named.or_else(|| runs.first()) {
        let _ = writeln!(
            details,
            "\nrun {} ({}): session {:.0} ms",
            r.run, r.status, r.session_ms
        );
        for s in &r.steps {
            let mark = if s.ok { "ok  " } else { "FAIL" };
            let _ = writeln!(
                details,
                "  {mark} {:>2}. {:<16} {:<40} {:>8.1} ms",
                s.step, s.action, s.target, s.ms
            );
        }
        for s in (r.steps.len()..steps).map(|i| i + 1) {
            let _ = writeln!(details, "  --   {s:>2}. (not run)");
        }
    }
    let bad: Vec<&RunRecord> = runs.iter().filter(|r| r.status != "passed").collect();
    if total > 1 && !bad.is_empty() {
        let _ = writeln!(details, "\nruns that did not pass:");
        for r in bad.iter().take(20) {
            let _ = writeln!(
                details,
                "  run {}: {}",
                r.run,
                r.error.as_deref().unwrap_or("")
            );
        }
        if bad.len() > 20 {
            let _ = writeln!(details, "  ... and {} more", bad.len() - 20);
        }
    }
    let run_ms: Vec<f64> = runs
        .iter()
        .filter(|r| r.status == "passed")
        .map(|r| r.total_ms)
        .collect();
    let median = median_of(run_ms.iter().copied());
    let session_ms = median_of(
        runs.iter()
            .filter(|r| r.status != "errored")
            .map(|r| r.session_ms),
    );

    let data = serde_json::json!({
        "runs_total": total,
        "runs_failed": failed.len(),
        "runs_errored": errored.len(),
        "parallel": sh.item.parallel(),
        "endpoint": sh.endpoint.url(),
        "wall_ms": ms(elapsed),
        "median_run_ms": median,
        "median_session_ms": session_ms,
        "artifacts_run": captured,
        "runs": runs,
    });
    let mut artifacts =
        std::mem::take(&mut *sh.artifacts.lock().unwrap_or_else(|e| e.into_inner()));
    artifacts.sort();
    let warnings = std::mem::take(&mut *sh.warnings.lock().unwrap_or_else(|e| e.into_inner()));

    let out = match named.filter(|_| passed < total) {
        Some(r) => {
            let err = r.error.clone().unwrap_or_default();
            let msg = if total == 1 {
                err
            } else {
                let which = if captured == Some(r.run) {
                    "artifacts saved"
                } else {
                    "first"
                };
                format!(
                    "{} of {total} runs failed; run {} ({which}): {err}",
                    failed.len() + errored.len(),
                    r.run
                )
            };
            if failed.is_empty() {
                CheckOutput::errored(msg)
            } else {
                CheckOutput::failed(msg)
            }
        }
        None => {
            let m = median
                .map(|m| format!(", median {:.1}s per run", m / 1000.0))
                .unwrap_or_default();
            if total == 1 {
                CheckOutput::passed(format!(
                    "journey passed: {steps} steps in {:.1}s",
                    elapsed.as_secs_f64()
                ))
            } else {
                CheckOutput::passed(format!(
                    "journey passed {total}/{total} runs ({steps} steps{m})"
                ))
            }
        }
    };
    let mut out = out
        .with_details(details)
        .with_property("runs", total)
        .with_property("runs_failed", failed.len() + errored.len())
        .with_data(data);
    if let Some(s) = session_ms {
        out = out.with_property("median_session_ms", format!("{s:.0}"));
    }
    out.artifacts = artifacts;
    out.warnings = warnings;
    out
}

fn median_of(v: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = v.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}
