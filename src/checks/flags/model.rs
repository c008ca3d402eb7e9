//! The one model every source is read into: flags, what each path serves, and the targeting
//! that singles out individuals or groups; plus the settings the source parsers share.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::FlagsItem;
use super::targeting::{Cond, Reach};

/// One flag, whatever the source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Flag {
    pub key: String,
    /// The flag is switched on in the audited environment.
    pub enabled: bool,
    pub default_variant: Option<String>,
    pub default_value: Option<Value>,
    pub variants: BTreeMap<String, Value>,
    /// The variant served when the flag is switched off, when the source names one.
    pub off_variant: Option<String>,
    /// `release`, `experiment`, `operational`, `kill-switch`, `permission`, ...
    pub flag_type: Option<String>,
    /// Why the source marks this flag experimental.
    pub experimental: Option<String>,
    pub released: bool,
    pub stale: bool,
    pub created: Option<DateTime<Utc>>,
    /// Where `created` comes from.
    pub created_from: Option<String>,
    /// What each path serves while the flag is on.
    pub served: Vec<Served>,
    /// Targeting on attributes that identify one user/customer/event, or a group of them.
    pub targets: Vec<NarrowTarget>,
    /// What every request that no targeting singles out gets, when that is one thing.
    pub everyone_else: Option<Served>,
    /// Why the flag cannot be evaluated (the source serves it an error), when it cannot.
    pub broken: Option<String>,
}

/// One evaluation path and what it serves.
#[derive(Debug, Clone, Serialize)]
pub struct Served {
    /// `default`, `targeting rule 1`, `context targetingKey=x`, ...
    pub path: String,
    pub variant: Option<String>,
    pub value: Option<Value>,
}

/// Targeting that picks out individual users/customers/events, or a group of them.
#[derive(Debug, Clone, Serialize)]
pub struct NarrowTarget {
    /// `targetingKey in [cust-4711]`, with every condition AND-ed to it.
    pub condition: String,
    pub variant: Option<String>,
    pub value: Option<Value>,
    /// [`Reach::Individuals`] or [`Reach::Group`].
    pub reach: Reach,
}

impl Flag {
    /// Whether serving `variant`/`value` means "off".
    pub fn is_off(&self, variant: Option<&str>, value: Option<&Value>) -> bool {
        if variant.is_some() && variant == self.off_variant.as_deref() {
            return true;
        }
        if let Some(v) = value {
            match v {
                Value::Bool(b) => return !b,
                Value::Null => return true,
                Value::String(s)
                    if matches!(
                        s.to_ascii_lowercase().as_str(),
                        "off" | "false" | "disabled"
                    ) =>
                {
                    return true;
                }
                _ => {}
            }
        }
        variant.is_some_and(|n| {
            matches!(
                n.to_ascii_lowercase().as_str(),
                "off" | "false" | "disabled" | "control"
            )
        })
    }

    /// Records that `cond` serves `variant`/`value`: a target when the condition is narrow.
    /// `path` names where in the source it is (`rule 2`); an unreachable condition serves nothing.
    pub fn serve(
        &mut self,
        cond: &Cond,
        path: &str,
        variant: Option<String>,
        value: Option<Value>,
    ) {
        if !cond.reachable() {
            return;
        }
        if matches!(cond.reach, Reach::Individuals | Reach::Group) {
            self.targets.push(NarrowTarget {
                condition: if path.is_empty() {
                    cond.text.clone()
                } else {
                    format!("{} ({path})", cond.text)
                },
                variant: variant.clone(),
                value: value.clone(),
                reach: cond.reach,
            });
        }
        self.served.push(Served {
            path: path.to_string(),
            variant,
            value,
        });
    }

    /// Whether `t` changes nothing: it serves what everyone else gets anyway.
    pub fn is_no_op(&self, t: &NarrowTarget) -> bool {
        let Some(e) = &self.everyone_else else {
            return false;
        };
        match (&t.value, &e.value) {
            (Some(a), Some(b)) => a == b,
            _ => t.variant.is_some() && t.variant == e.variant,
        }
    }

    /// A flag the source serves an error for.
    pub fn broken(key: &str, enabled: bool, why: String) -> Flag {
        Flag {
            key: key.to_string(),
            enabled,
            broken: Some(why),
            ..Default::default()
        }
    }

    /// Paths that serve something other than "off" while the flag is enabled.
    pub fn on_paths(&self) -> Vec<&Served> {
        if !self.enabled {
            return Vec::new();
        }
        self.served
            .iter()
            .filter(|s| !self.is_off(s.variant.as_deref(), s.value.as_ref()))
            .collect()
    }
}

/// `variant` (`value`) for reports.
pub fn describe_served(variant: Option<&str>, value: Option<&Value>) -> String {
    match (variant, value) {
        (Some(n), Some(v)) => format!("variant `{n}` ({})", short_json(v)),
        (Some(n), None) => format!("variant `{n}`"),
        (None, Some(v)) => format!("value {}", short_json(v)),
        (None, None) => "no value".into(),
    }
}

fn short_json(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..floor_boundary(&s, 57)])
    } else {
        s
    }
}

/// The largest char boundary at or below `at` (`str::floor_char_boundary` needs Rust 1.91).
pub(crate) fn floor_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Attribute names that identify one user, customer, account or event (compared without case,
/// `_`, `-` and `.`, so `customer.id`, `customer_id` and `customerId` are the same).
const DEFAULT_ID_ATTRIBUTES: &[&str] = &[
    "targetingKey",
    "key",
    "id",
    "identifier",
    "distinctId",
    "userId",
    "userIds",
    "customerId",
    "accountId",
    "tenantId",
    "orgId",
    "organizationId",
    "companyId",
    "eventId",
    "sessionId",
    "email",
];

fn normalise_attr(a: &str) -> String {
    a.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | '$'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Settings the source parsers need.
#[derive(Debug, Clone)]
pub struct ParseSettings {
    pub(super) id_attributes: Vec<String>,
    pub(super) released_tags: Vec<String>,
    /// Tags that mark a flag experimental (LaunchDarkly).
    pub(super) experiment_tags: Vec<String>,
    pub(super) environment: String,
}

impl ParseSettings {
    pub(super) fn from_item(item: &FlagsItem) -> Self {
        let ids: Vec<String> = match &item.id_attributes {
            Some(list) => list.iter().map(|a| normalise_attr(a)).collect(),
            None => DEFAULT_ID_ATTRIBUTES
                .iter()
                .map(|a| normalise_attr(a))
                .collect(),
        };
        let tags = item.released_tags.clone().unwrap_or_else(|| {
            ["released", "release", "ga", "live"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        ParseSettings {
            id_attributes: ids,
            released_tags: tags.iter().map(|t| t.to_ascii_lowercase()).collect(),
            experiment_tags: item
                .experiments
                .as_ref()
                .and_then(|e| e.tags.clone())
                .unwrap_or_else(|| vec!["experiment".into(), "experiments".into()])
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect(),
            environment: item
                .environment
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "production".into()),
        }
    }

    /// Whether `attribute` identifies one user/customer/event.
    pub fn is_id_attribute(&self, attribute: &str) -> bool {
        let n = normalise_attr(attribute);
        // `customer.id` → `customerid`; also the last dotted segment (`user.email` → `email`).
        let last = attribute
            .rsplit('.')
            .next()
            .map(normalise_attr)
            .unwrap_or_default();
        self.id_attributes.iter().any(|a| *a == n || *a == last)
    }

    #[cfg(test)]
    pub fn for_tests() -> Self {
        ParseSettings {
            id_attributes: DEFAULT_ID_ATTRIBUTES
                .iter()
                .map(|a| normalise_attr(a))
                .collect(),
            released_tags: vec!["released".into(), "release".into()],
            experiment_tags: vec!["experiment".into(), "experiments".into()],
            environment: "production".into(),
        }
    }
}

/// Reads classification facts from a flagd/OFREP-style `metadata` object.
pub fn apply_metadata(flag: &mut Flag, meta: &serde_json::Map<String, Value>) {
    let text = |k: &str| {
        meta.get(k)
            .and_then(Value::as_str)
            .map(|s| s.to_ascii_lowercase())
    };
    let truthy = |k: &str| {
        meta.get(k)
            .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"))
    };
    for k in ["type", "flagType", "flag_type", "kind", "category"] {
        if let Some(t) = text(k) {
            if t == "experiment" || t == "experimental" {
                flag.experimental = Some(format!("metadata `{k}` = `{t}`"));
            }
            flag.flag_type = Some(t);
            break;
        }
    }
    if truthy("experiment") {
        flag.experimental = Some("metadata `experiment` = true".into());
        flag.flag_type.get_or_insert_with(|| "experiment".into());
    }
    if truthy("released") {
        flag.released = true;
    }
    for k in ["lifecycle", "stage", "status"] {
        if let Some(s) = text(k) {
            if matches!(
                s.as_str(),
                "released" | "live" | "ga" | "completed" | "complete"
            ) {
                flag.released = true;
            }
            if matches!(s.as_str(), "stale" | "deprecated" | "archived") {
                flag.stale = true;
            }
        }
    }
    if truthy("stale") || truthy("deprecated") {
        flag.stale = true;
    }
    for k in ["createdAt", "created", "creationDate", "created_at"] {
        if let Some(d) = meta.get(k).and_then(parse_date) {
            flag.created = Some(d);
            flag.created_from = Some(format!("metadata `{k}`"));
            break;
        }
    }
}

/// An RFC 3339 timestamp, a `YYYY-MM-DD` date, or milliseconds since the epoch.
pub fn parse_date(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.to_utc())
            .ok()
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc())
            }),
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_detection() {
        let f = Flag {
            off_variant: Some("v0".into()),
            ..Default::default()
        };
        assert!(f.is_off(Some("v0"), Some(&Value::from("x"))));
        assert!(f.is_off(Some("on"), Some(&Value::Bool(false))));
        assert!(f.is_off(Some("control"), Some(&Value::from("blue"))));
        assert!(!f.is_off(Some("on"), Some(&Value::Bool(true))));
        assert!(!f.is_off(Some("spring-sale"), Some(&Value::from("Spring Sale"))));
    }

    #[test]
    fn id_attributes_match_spellings() {
        let s = ParseSettings::for_tests();
        for a in [
            "targetingKey",
            "customer_id",
            "customer.id",
            "customerId",
            "user.email",
            "$flagd.targetingKey",
        ] {
            assert!(s.is_id_attribute(a), "{a}");
        }
        for a in ["plan", "country", "appName", "version"] {
            assert!(!s.is_id_attribute(a), "{a}");
        }
    }
}
