//! Flagsmith: the environment document server SDKs use for local evaluation (`GET {api}/api/v1/
//! environment-document/` with the server-side environment key in `X-Environment-Key`) →
//! `{feature_states: [{feature: {id, name, type}, enabled, feature_state_value,
//! multivariate_feature_state_values: [{multivariate_feature_option: {value},
//! percentage_allocation}]}], project: {segments: [{id, name, rules: [{type: ALL | ANY | NONE,
//! conditions: [{operator, property_, value}], rules}], feature_states}]}, identity_overrides:
//! [{identifier, identity_features}]}`, or a saved copy.
//!
//! A Flagsmith flag is on where its state is `enabled`: the environment's state serves everyone
//! else, segment overrides serve their segment, identity overrides the one identity.

use serde_json::Value;

use super::document::{Document, endpoint_or, no_note};
use super::targeting::{Cond, Matching, Reach, compare, compare_one};
use super::{AuthScheme, Flag, ParseSettings, Served};

pub(super) const DOCUMENT: Document = Document {
    format: "Flagsmith environment document",
    name: "Flagsmith",
    file_word: "file",
    auth: AuthScheme::EnvironmentKey,
    parse: parse_value,
    endpoint,
    note: no_note,
};

/// The API base as SDKs take it (`https://edge.api.flagsmith.com/api/v1/`), a bare host, or the
/// endpoint itself.
fn endpoint(base: reqwest::Url) -> reqwest::Url {
    if base.path().trim_end_matches('/').ends_with("/api/v1") {
        endpoint_or(base, &[], "environment-document/")
    } else {
        endpoint_or(
            base,
            &["/environment-document"],
            "api/v1/environment-document/",
        )
    }
}

pub fn parse_value(doc: &Value, settings: &ParseSettings) -> Result<Vec<Flag>, String> {
    let states = doc
        .get("feature_states")
        .and_then(Value::as_array)
        .ok_or("expected an environment document with a `feature_states` array")?;
    let mut out = Vec::new();
    for (i, fs) in states.iter().enumerate() {
        let name =
            feature_name(fs).ok_or_else(|| format!("feature_states[{i}] has no `feature.name`"))?;
        let mut flag = Flag {
            key: name.to_string(),
            flag_type: fs
                .get("feature")
                .and_then(|f| f.get("type"))
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase),
            ..Default::default()
        };
        let everyone = served(fs);
        flag.default_value = everyone.first().cloned();
        for v in &everyone {
            flag.serve(&Cond::always(), "environment", None, Some(v.clone()));
        }
        flag.everyone_else = (everyone.len() == 1).then(|| Served {
            path: "environment".into(),
            variant: None,
            value: everyone.first().cloned(),
        });
        for seg in doc
            .get("project")
            .and_then(|p| p.get("segments"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let seg_name = seg
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}", seg.get("id").unwrap_or(&Value::Null)));
            let Some(over) = state_of(seg.get("feature_states"), name) else {
                continue;
            };
            let rules = seg.get("rules").and_then(Value::as_array);
            let cond = Cond::all(rules.into_iter().flatten().map(|r| rule(r, settings, 0)));
            let label = format!("segment `{seg_name}`");
            for v in served(over) {
                flag.serve(&cond, &label, None, Some(v));
            }
        }
        for identity in doc
            .get("identity_overrides")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(who) = identity.get("identifier").and_then(Value::as_str) else {
                continue;
            };
            let Some(over) = state_of(identity.get("identity_features"), name) else {
                continue;
            };
            let cond = Cond::new(format!("identifier == `{who}`"), Reach::Individuals);
            for v in served(over) {
                flag.serve(&cond, "identity override", None, Some(v));
            }
        }
        // On where some state serves an on value: a flag off in the environment may be on for a
        // segment (`on_paths` only looks at enabled flags, hence the two steps).
        flag.enabled = true;
        flag.enabled = !flag.on_paths().is_empty();
        out.push(flag);
    }
    Ok(out)
}

/// The state of feature `name` in a list of feature states.
fn state_of<'a>(states: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    states
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|o| feature_name(o) == Some(name))
}

fn feature_name(fs: &Value) -> Option<&str> {
    fs.get("feature")?.get("name")?.as_str()
}

/// What a feature state serves: `false` when disabled, else its value (`true` for a plain flag)
/// and each multivariate option with a share.
fn served(fs: &Value) -> Vec<Value> {
    if fs.get("enabled").and_then(Value::as_bool) != Some(true) {
        return vec![Value::Bool(false)];
    }
    let base = match fs.get("feature_state_value") {
        None | Some(Value::Null) => Value::Bool(true),
        Some(v) => v.clone(),
    };
    let mut out = vec![base];
    for mv in fs
        .get("multivariate_feature_state_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let share = mv
            .get("percentage_allocation")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if let Some(v) = mv
            .get("multivariate_feature_option")
            .and_then(|o| o.get("value"))
            && share > 0.0
            && !out.contains(v)
        {
            out.push(v.clone());
        }
    }
    out
}

/// A segment rule: `ALL`, `ANY` or `NONE` of its conditions and nested rules.
fn rule(r: &Value, settings: &ParseSettings, depth: usize) -> Cond {
    if depth > 16 {
        return Cond::new("(nested too deep)", Reach::Broad);
    }
    let mut parts: Vec<Cond> = r
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| condition(c, settings))
        .collect();
    parts.extend(
        r.get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| rule(r, settings, depth + 1)),
    );
    match r.get("type").and_then(Value::as_str) {
        Some("ANY") => Cond::any(parts),
        Some("NONE") => Cond::any(parts).not(),
        _ => Cond::all(parts),
    }
}

fn condition(c: &Value, settings: &ParseSettings) -> Cond {
    // `$.identity.identifier` names the identity itself; other properties are trait keys.
    let attr = c.get("property_").and_then(Value::as_str).unwrap_or("?");
    let op = c.get("operator").and_then(Value::as_str).unwrap_or("EQUAL");
    let value = match c.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    match op {
        "EQUAL" => compare_one(settings, attr, op, Matching::Equals, value),
        "IN" => {
            let values: Vec<String> = value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect();
            compare(settings, attr, op, Matching::Equals, &values)
        }
        "CONTAINS" => compare_one(settings, attr, op, Matching::Substring, value),
        "REGEX" => compare(settings, attr, op, Matching::Regex, &[value]),
        "PERCENTAGE_SPLIT" => {
            if value.trim().parse::<f64>().is_ok_and(|p| p <= 0.0) {
                Cond::never(format!("{op} {value}"))
            } else {
                Cond::new(format!("{op} {value}"), Reach::Broad)
            }
        }
        _ => Cond::new(format!("{attr} {op} `{value}`"), Reach::Broad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn segment_and_identity_overrides() {
        let doc = json!({
            "feature_states": [
                {"feature": {"id": 1, "name": "pilot", "type": "STANDARD"}, "enabled": false, "feature_state_value": null},
                {"feature": {"id": 2, "name": "plain", "type": "STANDARD"}, "enabled": true, "feature_state_value": null}
            ],
            "project": {"segments": [
                {"id": 9, "name": "pilot-customers", "rules": [{"type": "ALL", "rules": [{"type": "ANY", "conditions": [
                    {"operator": "IN", "property_": "$.identity.identifier", "value": "cust-1,cust-2"}], "rules": []}], "conditions": []}],
                 "feature_states": [{"feature": {"id": 1, "name": "pilot"}, "enabled": true, "feature_state_value": null}]}
            ]},
            "identity_overrides": [{"identifier": "cust-3", "identity_features": [
                {"feature": {"id": 2, "name": "plain"}, "enabled": false, "feature_state_value": null}]}]
        });
        let flags = parse_value(&doc, &ParseSettings::for_tests()).unwrap();
        assert!(flags[0].enabled, "on for a segment");
        assert_eq!(flags[0].targets[0].reach, Reach::Individuals);
        assert!(flags[0].targets[0].condition.contains("`cust-1`, `cust-2`"));
        assert_eq!(flags[1].targets[0].value, Some(Value::Bool(false)));
        assert!(flags[1].is_off(None, flags[1].targets[0].value.as_ref()));
    }
}
