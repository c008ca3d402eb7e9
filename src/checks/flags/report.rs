//! An audit turned into the item's output: message, details, warnings, properties, data.

use std::fmt::Write as _;

use indexmap::IndexMap;

use super::{Audit, Finding, Loaded, Severity};
use crate::checks::CheckOutput;

/// Turns an audit into the item's output.
pub fn report(loaded: &Loaded, audit: &Audit) -> CheckOutput {
    let failing: Vec<&Finding> = audit
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .collect();
    let warning: Vec<&Finding> = audit
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warn)
        .collect();
    let mut details = format!("source: {} ({} flags)\n", loaded.origin, loaded.flags.len());
    for f in failing.iter().chain(warning.iter()) {
        let tag = if f.severity == Severity::Fail {
            "FAIL"
        } else {
            "WARN"
        };
        let _ = writeln!(
            details,
            "{tag} {:<16} {}: {}",
            f.rule.to_string(),
            f.flag,
            f.evidence
        );
    }
    for n in &audit.notes {
        let _ = writeln!(details, "note: {n}");
    }
    for n in &loaded.notes {
        let _ = writeln!(details, "note: {n}");
    }
    let checked: Vec<String> = audit
        .checked
        .iter()
        .map(|(r, what)| format!("{r}: {what}"))
        .collect();
    let _ = writeln!(details, "checked: {}", checked.join("; "));

    let mut out = if failing.is_empty() {
        let msg = if loaded.flags.is_empty() {
            format!("{}: no flags found; nothing to audit", loaded.origin)
        } else {
            format!(
                "{} flags audited, no blocking findings ({})",
                loaded.flags.len(),
                checked.join("; ")
            )
        };
        CheckOutput::passed(msg)
    } else {
        let mut by_flag: IndexMap<&str, Vec<String>> = IndexMap::new();
        for f in &failing {
            let rules = by_flag.entry(f.flag.as_str()).or_default();
            let r = f.rule.to_string();
            if !rules.contains(&r) {
                rules.push(r);
            }
        }
        let list: Vec<String> = by_flag
            .iter()
            .map(|(k, r)| format!("`{k}` ({})", r.join(", ")))
            .collect();
        let first = failing[0];
        CheckOutput::failed(format!(
            "{} of {} flags break the rules: {}; first: {}: {}",
            by_flag.len(),
            loaded.flags.len(),
            list.join(", "),
            first.flag,
            first.evidence
        ))
    };
    out.warnings = warning
        .iter()
        .map(|f| format!("{} {}: {}", f.rule, f.flag, f.evidence))
        .collect();
    if loaded.flags.is_empty() {
        out.warnings
            .push(format!("{}: no flags found", loaded.origin));
    }
    out.details = details;
    out.properties
        .push(("flags".into(), loaded.flags.len().to_string()));
    out.properties
        .push(("findings_fail".into(), failing.len().to_string()));
    out.properties
        .push(("findings_warn".into(), warning.len().to_string()));
    out.data = serde_json::json!({
        "source": loaded.origin,
        "flags": loaded.flags.len(),
        "findings": audit.findings,
        "checked": audit.checked,
    });
    out
}
