//! PostHog: the local-evaluation document server SDKs poll (`GET {host}/api/feature_flag/
//! local_evaluation`, a personal or feature-flags secure API key as `Authorization: Bearer`) →
//! `{flags: [{key, active, deleted, filters: {groups: [{properties: [{key, type, operator,
//! value}], rollout_percentage, variant}], multivariate: {variants: [{key, rollout_percentage}]},
//! payloads}}], cohorts: {id: {type, values}}}`; a saved copy of it; or the management API's
//! flag list (`{results: [...]}`, whose flags also name their `experiment_set`).
//!
//! A flag serves `false` to whoever no condition group matches; a group at 0 % serves nobody.

use serde_json::{Map, Value};

use super::document::{Document, endpoint_or, no_note};
use super::targeting::{Cond, Matching, Reach, compare};
use super::{AuthScheme, Flag, ParseSettings, Served};

pub(super) const DOCUMENT: Document = Document {
    format: "PostHog local evaluation document",
    name: "PostHog",
    file_word: "file",
    auth: AuthScheme::Bearer,
    parse: parse_value,
    endpoint,
    note: no_note,
};

/// The host as SDKs take it (`https://us.i.posthog.com`) gets the local evaluation path.
fn endpoint(base: reqwest::Url) -> reqwest::Url {
    endpoint_or(
        base,
        &["/local_evaluation"],
        "api/feature_flag/local_evaluation",
    )
}

pub fn parse_value(doc: &Value, settings: &ParseSettings) -> Result<Vec<Flag>, String> {
    let flags = doc
        .get("flags")
        .or_else(|| doc.get("results"))
        .or(Some(doc).filter(|d| d.is_array()))
        .and_then(Value::as_array)
        .ok_or("expected an object with a `flags` array")?;
    let cohorts = doc.get("cohorts").and_then(Value::as_object);
    let mut out = Vec::new();
    for (i, f) in flags.iter().enumerate() {
        let key = f
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("flags[{i}] has no `key`"))?;
        if f.get("deleted").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let filters = f
            .get("filters")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("flag `{key}` has no `filters` object"))?;
        out.push(flag(key, f, filters, cohorts, settings));
    }
    Ok(out)
}

fn flag(
    key: &str,
    f: &Value,
    filters: &Map<String, Value>,
    cohorts: Option<&Map<String, Value>>,
    settings: &ParseSettings,
) -> Flag {
    let payloads = filters.get("payloads").and_then(Value::as_object);
    // Multivariate flags serve a variant key (its payload, when it has one).
    let variants: Vec<(String, f64, Value)> = filters
        .get("multivariate")
        .and_then(|m| m.get("variants"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let k = v.get("key")?.as_str()?.to_string();
            let pct = v
                .get("rollout_percentage")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            let value = payloads
                .and_then(|p| p.get(&k))
                .cloned()
                .unwrap_or_else(|| Value::String(k.clone()));
            Some((k, pct, value))
        })
        .collect();
    let experiments = f
        .get("experiment_set")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty());
    let mut flag = Flag {
        key: key.to_string(),
        enabled: f.get("active").and_then(Value::as_bool).unwrap_or(true),
        default_value: Some(Value::Bool(false)),
        variants: variants
            .iter()
            .map(|(k, _, v)| (k.clone(), v.clone()))
            .collect(),
        experimental: experiments
            .map(|e| format!("linked to experiment {}", e[0]))
            .or_else(|| {
                (f.get("creation_context").and_then(Value::as_str) == Some("experiments"))
                    .then(|| "created by an experiment".to_string())
            }),
        ..Default::default()
    };
    let mut everyone = false;
    for (n, group) in filters
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let label = format!("condition set {}", n + 1);
        let pct = group
            .get("rollout_percentage")
            .and_then(Value::as_f64)
            .unwrap_or(100.0);
        let properties: Vec<&Value> = group
            .get("properties")
            .and_then(Value::as_array)
            .map(|p| p.iter().collect())
            .unwrap_or_default();
        let mut parts: Vec<Cond> = properties
            .iter()
            .map(|p| property(p, cohorts, settings, 0))
            .collect();
        if pct <= 0.0 {
            parts.push(Cond::never(format!("{label} at 0 %")));
        }
        let cond = Cond::all(parts);
        everyone |= properties.is_empty() && pct >= 100.0;
        let forced = group.get("variant").and_then(Value::as_str);
        if variants.is_empty() {
            flag.serve(&cond, &label, None, Some(Value::Bool(true)));
        }
        for (k, vpct, value) in &variants {
            if forced.is_none_or(|v| v == k) && (forced.is_some() || *vpct > 0.0) {
                flag.serve(&cond, &label, Some(k.clone()), Some(value.clone()));
            }
        }
    }
    flag.everyone_else = (variants.is_empty() || !everyone).then(|| Served {
        path: "everyone else".into(),
        variant: None,
        value: Some(Value::Bool(everyone && variants.is_empty())),
    });
    flag
}

/// One property filter (or a cohort of them).
fn property(
    p: &Value,
    cohorts: Option<&Map<String, Value>>,
    settings: &ParseSettings,
    depth: usize,
) -> Cond {
    // Cohort definitions nest `{type: AND | OR, values: [...]}` groups of properties.
    if let Some(values) = p.get("values").and_then(Value::as_array)
        && p.get("key").is_none()
    {
        let parts = values
            .iter()
            .map(|v| property(v, cohorts, settings, depth + 1));
        return match p.get("type").and_then(Value::as_str) {
            Some("OR") => Cond::any(parts),
            _ => Cond::all(parts),
        };
    }
    let key = p.get("key").and_then(Value::as_str).unwrap_or("?");
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("person");
    if kind == "cohort" {
        let id = match p.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "?".into(),
        };
        return match cohorts.and_then(|c| c.get(&id)).filter(|_| depth < 8) {
            Some(def) => {
                let c = property(def, cohorts, settings, depth + 1);
                Cond::new(format!("cohort {id} ({})", c.text), c.reach)
            }
            None => Cond::new(
                format!("cohort {id} (its members are not in the document)"),
                Reach::Group,
            ),
        };
    }
    if kind == "flag" {
        return Cond::new(format!("flag {key} is {}", p["value"]), Reach::Broad);
    }
    let values: Vec<String> = match p.get("value") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.to_string()],
    };
    let op = p.get("operator").and_then(Value::as_str).unwrap_or("exact");
    let matching = match op {
        "exact" => Matching::Equals,
        "icontains" => Matching::Substring,
        "regex" => Matching::Regex,
        _ => Matching::Other,
    };
    let cond = compare(settings, key, op, matching, &values);
    if matches!(op, "is_not" | "not_icontains" | "not_regex" | "is_not_set") {
        Cond::new(cond.text, Reach::Broad)
    } else {
        cond
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_on_ids_are_individuals_and_zero_percent_serves_nobody() {
        let doc = json!({"flags": [
            {"key": "pilot", "active": true, "filters": {"groups": [
                {"properties": [{"key": "distinct_id", "type": "person", "operator": "exact", "value": ["u1", "u2"]}],
                 "rollout_percentage": 100}]}},
            {"key": "dormant", "active": true, "filters": {"groups": [{"properties": [], "rollout_percentage": 0}]}},
            {"key": "beta", "active": true, "filters": {"groups": [
                {"properties": [{"key": "id", "type": "cohort", "value": 7}], "rollout_percentage": null}]}},
            {"key": "gone", "deleted": true, "filters": {}}
        ], "cohorts": {"7": {"type": "OR", "values": [{"type": "AND", "values": [
            {"key": "email", "type": "person", "operator": "icontains", "value": "@corp.com"}]}]}}});
        let flags = parse_value(&doc, &ParseSettings::for_tests()).unwrap();
        assert_eq!(flags.len(), 3);
        assert_eq!(flags[0].targets[0].reach, Reach::Individuals);
        assert_eq!(
            flags[0].targets[0].condition,
            "distinct_id exact [`u1`, `u2`] (condition set 1)"
        );
        assert!(flags[1].on_paths().is_empty());
        assert_eq!(
            flags[2].targets[0].reach,
            Reach::Group,
            "{:?}",
            flags[2].targets
        );
    }

    #[test]
    fn management_api_flags_linked_to_experiments_are_experiments() {
        let doc = json!({"results": [
            {"key": "checkout-test", "active": true, "experiment_set": [42],
             "filters": {"groups": [{"properties": [], "rollout_percentage": 100}],
                         "multivariate": {"variants": [{"key": "control", "rollout_percentage": 50},
                                                       {"key": "test", "rollout_percentage": 50}]}}},
            {"key": "plain", "active": true, "experiment_set": [], "filters": {"groups": []}}
        ]});
        let flags = parse_value(&doc, &ParseSettings::for_tests()).unwrap();
        assert_eq!(
            flags[0].experimental.as_deref(),
            Some("linked to experiment 42")
        );
        assert_eq!(
            flags[0].on_paths().len(),
            1,
            "`test` is on, `control` is off"
        );
        assert!(flags[1].experimental.is_none() && flags[1].on_paths().is_empty());
    }
}
