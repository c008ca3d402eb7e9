//! `[waivers."ID"]` tables, from the checklist or a `--waivers FILE`: read, and checked against
//! the checklist's items and its `max_waiver`.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::Checklist;
use super::error::{self, ChecklistError, ChecklistErrorKind};
use crate::settings::{Waiver, Waivers};

/// How far ahead a waiver may end when the checklist sets no `max_waiver`.
pub const DEFAULT_MAX_WAIVER: Duration = Duration::from_secs(30 * 24 * 3600);

/// The `[waivers]` table: item id → waiver.
pub(super) type Tables = IndexMap<Spanned<String>, Entry>;

/// A waiver: the item may fail without closing the gate, for a reason, until a date.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Entry {
    /// Why the item may fail (required, not blank).
    #[schemars(with = "String")]
    reason: Spanned<String>,
    /// Who waived it.
    #[serde(default)]
    by: Option<String>,
    /// A TOML date (`2026-12-01`) or a string holding one.
    #[schemars(with = "String")]
    until: Spanned<toml::Value>,
    /// Only for this commit.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    commit: Option<Spanned<String>>,
    /// Only for this version.
    #[serde(default)]
    version: Option<String>,
}

/// Checks each waiver and turns it into a [`Waiver`]; `source` names where they came from.
pub(super) fn check(
    tables: Tables,
    items: &[&str],
    max: Duration,
    today: NaiveDate,
    source: &str,
) -> Result<Waivers, (Range<usize>, ChecklistErrorKind)> {
    let invalid = |span: Range<usize>, message: &str| {
        (
            span,
            ChecklistErrorKind::Invalid {
                message: message.to_string(),
            },
        )
    };
    let mut waivers = Waivers::default();
    for (id, entry) in tables {
        if !items.contains(&id.get_ref().as_str()) {
            let suggestion = crate::suggest::closest_id(id.get_ref(), items.iter().copied());
            return Err((
                id.span(),
                ChecklistErrorKind::UnknownWaiver {
                    id: id.into_inner(),
                    suggestion,
                },
            ));
        }
        if entry.reason.get_ref().trim().is_empty() {
            return Err(invalid(
                entry.reason.span(),
                "a waiver's `reason` must say why the failure is accepted",
            ));
        }
        let until = date(entry.until.get_ref()).ok_or_else(|| {
            invalid(
                entry.until.span(),
                "`until` must be a date like 2026-12-01 (the last day the waiver holds)",
            )
        })?;
        let max_days = (max.as_secs() / 86_400) as i64;
        let days = (until - today).num_days();
        if days > max_days {
            return Err((
                entry.until.span(),
                ChecklistErrorKind::WaiverTooLong {
                    until: until.to_string(),
                    max_days,
                },
            ));
        }
        if let Some(c) = &entry.commit {
            let c = c.get_ref();
            if c.len() < 7 || c.len() > 64 || !c.chars().all(|ch| ch.is_ascii_hexdigit()) {
                return Err(invalid(
                    entry.commit.as_ref().map(Spanned::span).unwrap_or_default(),
                    "`commit` must be a commit id: at least 7 hex digits",
                ));
            }
        }
        waivers.by_id.insert(
            id.into_inner(),
            Waiver {
                reason: entry.reason.into_inner(),
                by: entry.by.filter(|b| !b.trim().is_empty()),
                until,
                commit: entry.commit.map(Spanned::into_inner),
                version: entry.version.filter(|v| !v.trim().is_empty()),
                source: source.to_string(),
                lapsed: None,
            },
        );
    }
    Ok(waivers)
}

fn date(value: &toml::Value) -> Option<NaiveDate> {
    match value {
        toml::Value::String(s) => s.trim().parse().ok(),
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            let d = dt.date?;
            NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())
        }
        _ => None,
    }
}

/// A `--waivers FILE`: `[waivers."ID"]` tables only, checked like the checklist's own.
pub fn read_file(path: &Path, checklist: &Checklist) -> Result<Waivers, ChecklistError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        waivers: Tables,
    }
    let at: Arc<Path> = Arc::from(path);
    let redactor = Arc::new(checklist.redactor());
    let text = std::fs::read_to_string(path).map_err(|e| ChecklistError {
        path: at.clone(),
        redactor: redactor.clone(),
        source_text: None,
        span: None,
        kind: ChecklistErrorKind::Read {
            message: format!("cannot read the waivers file: {e}"),
        },
    })?;
    let source: Arc<str> = Arc::from(text.as_str());
    let file: File = toml::from_str(&text)
        .map_err(|e| error::from_toml(at.clone(), source.clone(), e.message(), e.span()))?;
    let items: Vec<&str> = checklist.items.iter().map(|i| i.id.as_str()).collect();
    check(
        file.waivers,
        &items,
        checklist.max_waiver,
        chrono::Utc::now().date_naive(),
        &format!("waivers file {}", path.display()),
    )
    .map_err(|(span, kind)| ChecklistError {
        path: at,
        redactor,
        source_text: Some(source),
        span: Some(span),
        kind,
    })
}
