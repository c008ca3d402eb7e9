//! The JSON report: the same results in a documented, versioned shape (see README, "JSON report").

use serde::Serialize;

use super::{Counts, RunReport};

/// Bumped on any change that could break a reader.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    format_version: u32,
    preflight_version: &'static str,
    gate: &'static str,
    exit_code: i32,
    counts: Counts,
    #[serde(flatten)]
    report: &'a RunReport,
}

/// Renders `report` as pretty JSON.
pub fn render(report: &RunReport) -> String {
    let doc = JsonReport {
        format_version: FORMAT_VERSION,
        preflight_version: env!("CARGO_PKG_VERSION"),
        gate: if report.gate_open() { "open" } else { "closed" },
        exit_code: report.exit_code(),
        counts: report.counts(),
        report,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
