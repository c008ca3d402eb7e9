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

/// Reads a JSON report written by [`render`] (any preflight of the same `format_version`).
pub fn read(path: &std::path::Path) -> Result<RunReport, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    match value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "format_version {v}, this preflight reads {FORMAT_VERSION}"
            ));
        }
        None => return Err("not a preflight JSON report (no `format_version`)".into()),
    }
    serde_json::from_value(value).map_err(|e| format!("not a preflight JSON report: {e}"))
}
