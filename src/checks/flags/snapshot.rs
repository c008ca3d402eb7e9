//! Rule 4 (drift) and `preflight flags snapshot`: the lock file of the released flag state, and
//! the approvals that let a later change through.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Audit, DriftRule, Flag, FlagsItem, Rule, RuleError, Severity, SourceCx, describe_served,
};

/// The recorded state of one flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedFlag {
    pub enabled: bool,
    #[serde(default)]
    pub default_variant: Option<String>,
    #[serde(default)]
    pub default_value: Option<Value>,
    #[serde(default)]
    pub variants: BTreeMap<String, Value>,
}

/// The lock file.
#[derive(Debug, Serialize, Deserialize)]
pub struct LockFile {
    pub version: u32,
    #[serde(default)]
    pub item: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub written_at: String,
    pub flags: BTreeMap<String, LockedFlag>,
}

impl LockedFlag {
    fn of(f: &Flag) -> Self {
        LockedFlag {
            enabled: f.enabled,
            default_variant: f.default_variant.clone(),
            default_value: f.default_value.clone(),
            variants: f.variants.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalsFile {
    #[serde(default)]
    approval: Vec<Approval>,
}

/// One approved change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Approval {
    flag: String,
    #[serde(default)]
    reason: String,
    /// The variant (or value) the flag may now serve by default; any when absent.
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    by: Option<String>,
}

/// What changed in one flag since the snapshot.
fn changes(old: Option<&LockedFlag>, new: Option<&LockedFlag>) -> Vec<String> {
    match (old, new) {
        (None, None) => Vec::new(),
        (None, Some(n)) => vec![format!(
            "added since the snapshot ({}, default {})",
            on_off(n.enabled),
            describe_served(n.default_variant.as_deref(), n.default_value.as_ref())
        )],
        (Some(_), None) => vec!["removed since the snapshot".into()],
        (Some(o), Some(n)) => {
            let mut out = Vec::new();
            if o.enabled != n.enabled {
                out.push(format!(
                    "switched {} (was {})",
                    on_off(n.enabled),
                    on_off(o.enabled)
                ));
            }
            if o.default_variant != n.default_variant || o.default_value != n.default_value {
                out.push(format!(
                    "default changed from {} to {}",
                    describe_served(o.default_variant.as_deref(), o.default_value.as_ref()),
                    describe_served(n.default_variant.as_deref(), n.default_value.as_ref())
                ));
            }
            for (name, v) in &n.variants {
                match o.variants.get(name) {
                    Some(old) if old != v => {
                        out.push(format!("variant `{name}` changed from {old} to {v}"))
                    }
                    None if !o.variants.is_empty() => {
                        out.push(format!("variant `{name}` added ({v})"))
                    }
                    _ => {}
                }
            }
            for name in o.variants.keys().filter(|k| !n.variants.contains_key(*k)) {
                if !n.variants.is_empty() {
                    out.push(format!("variant `{name}` removed"));
                }
            }
            out
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

pub(super) fn check_drift(
    rule: &DriftRule,
    sev: Severity,
    flags: &[Flag],
    base_dir: &Path,
    audit: &mut Audit,
) -> Result<(), RuleError> {
    let lock_path = base_dir.join(rule.lock.as_str());
    let text = std::fs::read_to_string(&lock_path).map_err(|e| {
        RuleError(format!(
            "drift: cannot read lock file `{}` ({e}); write it from the released state with `preflight flags snapshot CHECKLIST`",
            lock_path.display()
        ))
    })?;
    let lock: LockFile = serde_json::from_str(&text).map_err(|e| {
        RuleError(format!(
            "drift: `{}` is not a valid flags lock file: {e}",
            lock_path.display()
        ))
    })?;
    let approvals = match &rule.approvals {
        Some(p) => {
            let path = base_dir.join(p.as_str());
            let text = std::fs::read_to_string(&path).map_err(|e| {
                RuleError(format!(
                    "drift: cannot read approvals `{}`: {e}",
                    path.display()
                ))
            })?;
            let file: ApprovalsFile = toml::from_str(&text).map_err(|e| {
                RuleError(format!("drift: `{}` is not a valid approvals file: {} (expected `[[approval]]` tables with `flag` and `reason`)", path.display(), e.message()))
            })?;
            file.approval
        }
        None => Vec::new(),
    };
    let current: BTreeMap<&str, LockedFlag> = flags
        .iter()
        .map(|f| (f.key.as_str(), LockedFlag::of(f)))
        .collect();
    let mut keys: Vec<&str> = current.keys().copied().collect();
    keys.extend(
        lock.flags
            .keys()
            .map(String::as_str)
            .filter(|k| !current.contains_key(k)),
    );
    let (mut changed, mut approved) = (0, 0);
    for key in keys {
        let now = current.get(key);
        let what = changes(lock.flags.get(key), now);
        if what.is_empty() {
            continue;
        }
        changed += 1;
        let what = what.join("; ");
        let matching: Vec<&Approval> = approvals.iter().filter(|a| a.flag == key).collect();
        let fits = |a: &&Approval| match (&a.to, now) {
            (None, _) => true,
            (Some(to), Some(n)) => {
                n.default_variant.as_deref() == Some(to.as_str())
                    || n.default_value.as_ref().and_then(Value::as_str) == Some(to.as_str())
            }
            (Some(_), None) => false,
        };
        match matching
            .iter()
            .find(|a| fits(a) && !a.reason.trim().is_empty())
        {
            Some(a) => {
                approved += 1;
                let by =
                    a.by.as_ref()
                        .map(|b| format!(", by {b}"))
                        .unwrap_or_default();
                audit.notes.push(format!(
                    "drift: `{key}` {what}: approved (\"{}\"{by})",
                    a.reason.trim()
                ));
            }
            None => {
                let why = if matching.iter().any(|a| a.reason.trim().is_empty()) {
                    "its approval has no `reason`".to_string()
                } else if let Some(a) = matching.first() {
                    format!("the approval is for `{}`", a.to.as_deref().unwrap_or("?"))
                } else {
                    format!(
                        "no approval in {}",
                        rule.approvals
                            .as_ref()
                            .map(|p| format!("`{}`", p.as_str()))
                            .unwrap_or_else(|| "an approvals file (none configured)".into())
                    )
                };
                audit.add(
                    Rule::Drift,
                    sev,
                    key,
                    format!("{what} vs {} ({why})", rule.lock.as_str()),
                );
            }
        }
    }
    audit.checked.insert(
        Rule::Drift.to_string(),
        format!(
            "{} flags vs {} ({changed} changed, {approved} approved)",
            flags.len(),
            rule.lock.as_str()
        ),
    );
    Ok(())
}

/// The lock file of `item`'s flags as its source serves them now, and where its `drift` rule
/// keeps it (`None` when the item has no `drift` rule). Errors are one line, unredacted.
pub async fn lock_file(
    item: &FlagsItem,
    id: &str,
    base_dir: &Path,
    timeout: Duration,
) -> Result<Option<(PathBuf, LockFile)>, String> {
    let Some(drift) = &item.drift else {
        return Ok(None);
    };
    let client = super::http::client(timeout, &item.tls(), base_dir)?;
    let loaded = item
        .load(&SourceCx {
            base_dir,
            timeout,
            client,
        })
        .await
        .map_err(|e| e.to_string())?;
    let lock = LockFile {
        version: 1,
        item: id.to_string(),
        source: loaded.origin.clone(),
        written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        flags: loaded
            .flags
            .iter()
            .map(|f| (f.key.clone(), LockedFlag::of(f)))
            .collect(),
    };
    Ok(Some((base_dir.join(drift.lock.as_str()), lock)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_describe_flips() {
        let old = LockedFlag {
            enabled: true,
            default_variant: Some("spring-sale".into()),
            default_value: Some("Spring Sale".into()),
            variants: BTreeMap::new(),
        };
        let new = LockedFlag {
            default_variant: Some("winter-clearance".into()),
            default_value: Some("Winter Clearance".into()),
            ..old.clone()
        };
        assert_eq!(
            changes(Some(&old), Some(&new)),
            vec![
                "default changed from variant `spring-sale` (\"Spring Sale\") to variant `winter-clearance` (\"Winter Clearance\")"
            ]
        );
        assert!(changes(Some(&old), Some(&old)).is_empty());
        assert_eq!(
            changes(Some(&old), None),
            vec!["removed since the snapshot"]
        );
    }
}
