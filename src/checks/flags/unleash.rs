//! Unleash client API: `GET {api}/client/features` (token in `Authorization`) →
//! `{version, features: [{name, type, enabled, stale, strategies: [{name, parameters, constraints:
//! [{contextName, operator, values, value, inverted}], segments, variants}], variants, createdAt}],
//! segments: [{id, constraints}]}`.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::document::Document;
use super::http;
use super::{
    AuthScheme, Flag, FlagsItem, Loaded, NarrowTarget, ParseSettings, Served, SourceCx,
    SourceError, parse_date,
};

const FORMAT: &str = "Unleash client features response";

const DOCUMENT: Document = Document {
    format: FORMAT,
    name: "Unleash",
    file_word: "export",
    auth: AuthScheme::Raw,
    parse: parse_value,
};

pub(super) async fn load(
    item: &FlagsItem,
    cx: &SourceCx<'_>,
    settings: &ParseSettings,
) -> Result<Loaded, SourceError> {
    // Accept both the API base (`http://unleash:4242/api`, as SDKs are configured) and the endpoint.
    let endpoint = |base: reqwest::Url| {
        if base
            .path()
            .trim_end_matches('/')
            .ends_with("/client/features")
        {
            base
        } else {
            http::join(&base, "client/features")
        }
    };
    DOCUMENT.load(item, cx, settings, endpoint, "").await
}

pub fn parse_text(
    text: &str,
    path: &Path,
    settings: &ParseSettings,
) -> Result<Vec<Flag>, SourceError> {
    DOCUMENT.parse_text(text, path, settings)
}

pub fn parse_value(doc: &Value, settings: &ParseSettings) -> Result<Vec<Flag>, String> {
    let features = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or("expected an object with a `features` array")?;
    let segments: HashMap<i64, &Vec<Value>> = doc
        .get("segments")
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(|seg| {
                    Some((
                        seg.get("id")?.as_i64()?,
                        seg.get("constraints")?.as_array()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, f) in features.iter().enumerate() {
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("features[{i}] has no `name`"))?;
        let enabled = f
            .get("enabled")
            .and_then(Value::as_bool)
            .ok_or_else(|| format!("feature `{name}` has no boolean `enabled`"))?;
        let flag_type = f
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        let mut flag = Flag {
            key: name.to_string(),
            enabled,
            default_variant: None,
            default_value: Some(Value::Bool(enabled)),
            stale: f.get("stale").and_then(Value::as_bool).unwrap_or(false),
            created: f.get("createdAt").and_then(parse_date),
            created_from: f.get("createdAt").map(|_| "createdAt".to_string()),
            experimental: (flag_type.as_deref() == Some("experiment"))
                .then(|| "Unleash type `experiment`".to_string()),
            // Permission and kill-switch flags are meant to stay, and to target people.
            released: matches!(flag_type.as_deref(), Some("permission" | "kill-switch")),
            flag_type,
            ..Default::default()
        };
        for v in f
            .get("variants")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = v.get("name").and_then(Value::as_str) {
                let payload = v
                    .get("payload")
                    .and_then(|p| p.get("value"))
                    .cloned()
                    .unwrap_or(Value::Bool(true));
                flag.variants.insert(n.to_string(), payload);
            }
        }
        let strategies = f
            .get("strategies")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let active: Vec<&Value> = strategies
            .iter()
            .filter(|s| s.get("disabled").and_then(Value::as_bool) != Some(true))
            .collect();
        if active.is_empty() {
            flag.served.push(Served {
                path: "no strategy (everyone)".into(),
                variant: None,
                value: Some(Value::Bool(true)),
            });
        }
        for (n, s) in active.iter().enumerate() {
            let sname = s.get("name").and_then(Value::as_str).unwrap_or("?");
            let path = format!("strategy {} `{sname}`", n + 1);
            let rollout = s
                .get("parameters")
                .and_then(|p| p.get("rollout"))
                .and_then(|r| {
                    r.as_str()
                        .map(str::to_string)
                        .or_else(|| r.as_f64().map(|f| f.to_string()))
                });
            if rollout.as_deref() == Some("0") {
                continue;
            }
            flag.served.push(Served {
                path: path.clone(),
                variant: None,
                value: Some(Value::Bool(true)),
            });
            let mut conds = Vec::new();
            if sname == "userWithId" {
                let ids = s
                    .get("parameters")
                    .and_then(|p| p.get("userIds"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let ids: Vec<String> = ids
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("`{s}`"))
                    .collect();
                if !ids.is_empty() {
                    conds.push(format!("userId in [{}] ({path})", ids.join(", ")));
                }
            }
            let mut constraints: Vec<&Value> = s
                .get("constraints")
                .and_then(Value::as_array)
                .map(|c| c.iter().collect())
                .unwrap_or_default();
            for id in s
                .get("segments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
            {
                if let Some(c) = segments.get(&id) {
                    constraints.extend(c.iter());
                }
            }
            for c in constraints {
                if let Some(text) = narrow_constraint(c, settings) {
                    conds.push(format!("{text} ({path})"));
                }
            }
            for cond in conds {
                flag.targets.push(NarrowTarget {
                    condition: cond,
                    variant: None,
                    value: Some(Value::Bool(true)),
                });
            }
        }
        out.push(flag);
    }
    Ok(out)
}

/// `customerId IN [a, b]` when the constraint picks out individual ids.
fn narrow_constraint(c: &Value, settings: &ParseSettings) -> Option<String> {
    let ctx = c.get("contextName")?.as_str()?;
    let op = c.get("operator")?.as_str()?;
    if c.get("inverted").and_then(Value::as_bool) == Some(true) || !settings.is_id_attribute(ctx) {
        return None;
    }
    if !matches!(
        op,
        "IN" | "STR_STARTS_WITH" | "STR_ENDS_WITH" | "STR_CONTAINS" | "NUM_EQ" | "SEMVER_EQ"
    ) {
        return None;
    }
    let mut values: Vec<String> = c
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| format!("`{s}`"))
        .collect();
    if let Some(v) = c.get("value").and_then(Value::as_str) {
        values.push(format!("`{v}`"));
    }
    (!values.is_empty()).then(|| format!("{ctx} {op} [{}]", values.join(", ")))
}

/// Unleash's documented expected lifetimes, in days (`None`: permanent).
pub fn default_lifetime_days(flag_type: &str) -> Option<Option<u64>> {
    match flag_type {
        "release" | "experiment" => Some(Some(40)),
        "operational" | "ops" => Some(Some(7)),
        "kill-switch" | "permission" | "permanent" => Some(None),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_with_id_and_id_constraints_are_narrow() {
        let doc = serde_json::json!({"version": 2, "features": [
            {"name": "exp-a", "type": "experiment", "enabled": true, "stale": false,
             "strategies": [{"name": "userWithId", "parameters": {"userIds": "u1, u2"}}]},
            {"name": "b", "type": "release", "enabled": true,
             "strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "100"}, "segments": [7]}]},
            {"name": "c", "type": "release", "enabled": true,
             "strategies": [{"name": "default", "constraints": [{"contextName": "appName", "operator": "IN", "values": ["web"]}]}]}
        ], "segments": [{"id": 7, "constraints": [{"contextName": "customerId", "operator": "IN", "values": ["acme"]}]}]});
        let flags = parse_value(&doc, &ParseSettings::for_tests()).unwrap();
        assert_eq!(
            flags[0].targets[0].condition,
            "userId in [`u1`, `u2`] (strategy 1 `userWithId`)"
        );
        assert!(flags[0].experimental.is_some());
        assert_eq!(
            flags[1].targets[0].condition,
            "customerId IN [`acme`] (strategy 1 `flexibleRollout`)"
        );
        assert!(flags[2].targets.is_empty());
    }
}
