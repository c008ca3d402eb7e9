//! Unleash client API: `GET {api}/client/features` (token in `Authorization`) →
//! `{version, features: [{name, type, enabled, stale, dependencies: [{feature, enabled,
//! variants}], strategies: [{name, parameters, constraints: [{contextName, operator, values,
//! value, inverted}], segments, variants}], variants: [{name, payload, overrides}], createdAt}],
//! segments: [{id, constraints}]}`; or the delta API (`GET {api}/client/delta` →
//! `{events: [{type: hydration | feature-updated | feature-removed | segment-updated |
//! segment-removed, ...}]}`), replayed into the same state.
//!
//! What is read follows the SDKs' evaluation: a strategy whose constraints no context can
//! satisfy (an empty `IN`, an invalid regex, version or address range, a missing segment,
//! contradicting `IN` lists) and a legacy strategy at 0 % serve nobody; a feature whose parent is
//! off, missing, or itself dependent (cycles included) is off.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::document::{Document, endpoint_or, no_note};
use super::targeting::{Cond, Matching, Reach, compare, strings};
use super::{AuthScheme, Flag, ParseSettings, Served, parse_date};

const FORMAT: &str = "Unleash client features response";

pub(super) const DOCUMENT: Document = Document {
    format: FORMAT,
    name: "Unleash",
    file_word: "export",
    auth: AuthScheme::Raw,
    parse: parse_value,
    endpoint,
    note: no_note,
};

/// The API base as SDKs take it (`http://unleash:4242/api`) gets `/client/features`; either
/// endpoint is kept.
fn endpoint(base: reqwest::Url) -> reqwest::Url {
    endpoint_or(
        base,
        &["/client/features", "/client/delta"],
        "client/features",
    )
}

pub fn parse_value(doc: &Value, settings: &ParseSettings) -> Result<Vec<Flag>, String> {
    let replayed;
    let doc = if doc.get("events").is_some_and(Value::is_array) && doc.get("features").is_none() {
        replayed = replay_delta(doc)?;
        &replayed
    } else {
        doc
    };
    let features = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or("expected an object with a `features` array (or a delta API `events` array)")?;
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
    let mut parsed = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        parsed.push(parse_feature(i, f, &segments, settings)?);
    }
    let by_name: HashMap<&str, &Feature> =
        parsed.iter().map(|f| (f.flag.key.as_str(), f)).collect();
    let resolved: Vec<Vec<StrategyPath>> = parsed
        .iter()
        .map(|f| with_dependencies(f, &by_name))
        .collect();
    let mut out = Vec::with_capacity(parsed.len());
    for (feature, paths) in parsed.iter().zip(resolved) {
        out.push(finish(feature, paths, settings));
    }
    Ok(out)
}

/// Replays delta API events into a client features document.
fn replay_delta(doc: &Value) -> Result<Value, String> {
    let mut features: Vec<Value> = Vec::new();
    let mut segments: Vec<Value> = Vec::new();
    let name_of = |f: &Value| f.get("name").and_then(Value::as_str).map(str::to_string);
    let id_of = |s: &Value| s.get("id").and_then(Value::as_i64);
    for (i, e) in doc["events"].as_array().into_iter().flatten().enumerate() {
        let kind = e.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "hydration" => {
                features = e
                    .get("features")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                segments = e
                    .get("segments")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
            }
            "feature-updated" => {
                let f = e
                    .get("feature")
                    .ok_or(format!("events[{i}] has no `feature`"))?;
                features.retain(|x| name_of(x) != name_of(f));
                features.push(f.clone());
            }
            "feature-removed" => {
                let name = e.get("featureName").and_then(Value::as_str);
                features.retain(|x| name_of(x).as_deref() != name);
            }
            "segment-updated" => {
                let s = e
                    .get("segment")
                    .ok_or(format!("events[{i}] has no `segment`"))?;
                segments.retain(|x| id_of(x) != id_of(s));
                segments.push(s.clone());
            }
            "segment-removed" => {
                let id = e.get("segmentId").and_then(Value::as_i64);
                segments.retain(|x| id_of(x) != id);
            }
            other => return Err(format!("events[{i}] has an unknown `type` `{other}`")),
        }
    }
    Ok(serde_json::json!({ "features": features, "segments": segments }))
}

/// One way a feature can be on: a strategy, with its conditions.
#[derive(Debug, Clone)]
struct StrategyPath {
    /// `strategy 1 `flexibleRollout``
    label: String,
    cond: Cond,
    /// Values each context field must be `IN` (to find strategies no context can satisfy).
    must_be_in: Vec<(String, BTreeSet<String>)>,
    /// Strategy variants: name and payload.
    variants: Vec<(String, Value)>,
    /// No constraint and 100 %: everyone gets it.
    everyone: bool,
}

/// A variant override: `(contextName, values)`.
type Override = (String, Vec<String>);

struct Feature {
    flag: Flag,
    paths: Vec<StrategyPath>,
    dependencies: Vec<Value>,
    /// Feature variants: name, payload, overrides.
    variants: Vec<(String, Value, Vec<Override>)>,
}

fn parse_feature(
    i: usize,
    f: &Value,
    segments: &HashMap<i64, &Vec<Value>>,
    settings: &ParseSettings,
) -> Result<Feature, String> {
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
    let flag = Flag {
        key: name.to_string(),
        enabled,
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
    let variants = f
        .get("variants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let n = v.get("name")?.as_str()?.to_string();
            let overrides = v
                .get("overrides")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|o| {
                    Some((
                        o.get("contextName")?.as_str()?.to_string(),
                        strings(o.get("values")),
                    ))
                })
                .collect();
            Some((n, payload(v), overrides))
        })
        .collect();
    let strategies = f.get("strategies").and_then(Value::as_array);
    let active: Vec<&Value> = strategies
        .into_iter()
        .flatten()
        .filter(|s| s.get("disabled").and_then(Value::as_bool) != Some(true))
        .collect();
    let paths = if active.is_empty() {
        vec![StrategyPath {
            label: "no strategy (everyone)".into(),
            cond: Cond::always(),
            must_be_in: Vec::new(),
            variants: Vec::new(),
            everyone: true,
        }]
    } else {
        active
            .iter()
            .enumerate()
            .map(|(n, s)| strategy(n, s, segments, settings))
            .collect()
    };
    Ok(Feature {
        flag,
        paths,
        dependencies: f
            .get("dependencies")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        variants,
    })
}

fn strategy(
    n: usize,
    s: &Value,
    segments: &HashMap<i64, &Vec<Value>>,
    settings: &ParseSettings,
) -> StrategyPath {
    let sname = s.get("name").and_then(Value::as_str).unwrap_or("?");
    let label = format!("strategy {} `{sname}`", n + 1);
    let params = s.get("parameters");
    let param = |k: &str| {
        params.and_then(|p| p.get(k)).and_then(|r| {
            r.as_str()
                .map(str::to_string)
                .or_else(|| r.as_f64().map(|f| f.to_string()))
        })
    };
    let mut conds = Vec::new();
    let mut must_be_in = Vec::new();
    // Percentages: `rollout` (flexibleRollout), `percentage` (the legacy gradual rollouts).
    let percent = param("rollout").or_else(|| param("percentage"));
    let percent_value = percent
        .as_deref()
        .and_then(|p| p.trim().parse::<f64>().ok());
    if percent_value.is_some_and(|p| p <= 0.0) {
        conds.push(Cond::never(format!("{label} at 0 %")));
    }
    if sname == "userWithId" {
        let ids: Vec<String> = param("userIds")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        conds.push(compare(settings, "userId", "in", Matching::Equals, &ids));
        must_be_in.push(("userId".to_string(), ids.into_iter().collect()));
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
        match segments.get(&id) {
            Some(c) => constraints.extend(c.iter()),
            // The SDKs evaluate a reference to a segment they were not sent as no match.
            None => conds.push(Cond::never(format!("segment {id} (missing)"))),
        }
    }
    for c in constraints {
        let (cond, list) = constraint(c, settings);
        conds.push(cond);
        must_be_in.extend(list);
    }
    let everyone = conds.is_empty() && percent_value.is_none_or(|p| p >= 100.0);
    StrategyPath {
        label,
        cond: Cond::all(conds),
        must_be_in,
        variants: s
            .get("variants")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v.get("name")?.as_str()?.to_string(), payload(v))))
            .collect(),
        everyone,
    }
}

/// One constraint read as the SDKs evaluate it; and, for a plain `IN` (or an inverted `NOT_IN`),
/// the values its field must take.
fn constraint(c: &Value, settings: &ParseSettings) -> (Cond, Option<(String, BTreeSet<String>)>) {
    let ctx = c.get("contextName").and_then(Value::as_str).unwrap_or("?");
    let op = c.get("operator").and_then(Value::as_str).unwrap_or("?");
    let inverted = c.get("inverted").and_then(Value::as_bool) == Some(true);
    let mut values = strings(c.get("values"));
    if let Some(v) = c.get("value").and_then(Value::as_str) {
        values.push(v.to_string());
    }
    let cmp = |op_text: &str, m: Matching| compare(settings, ctx, op_text, m, &values);
    let list = || {
        Some((
            ctx.to_string(),
            values.iter().cloned().collect::<BTreeSet<_>>(),
        ))
    };
    let plain = match op {
        // Only these ids: `IN`, or `NOT_IN` inverted.
        "IN" if !inverted => return (cmp("IN", Matching::Equals), list()),
        "NOT_IN" if inverted => {
            return (
                cmp("NOT_IN (inverted: only these)", Matching::Equals),
                list(),
            );
        }
        "IN" | "NOT_IN" => cmp(op, Matching::Equals),
        "STR_STARTS_WITH" | "STR_ENDS_WITH" | "STR_CONTAINS" => cmp(op, Matching::Substring),
        "REGEX" => cmp(op, Matching::Regex),
        "NUM_EQ" => cmp(op, Matching::Equals),
        "NUM_GT" | "NUM_GTE" | "NUM_LT" | "NUM_LTE" | "DATE_AFTER" | "DATE_BEFORE" => {
            cmp(op, Matching::Other)
        }
        "SEMVER_EQ" | "SEMVER_GT" | "SEMVER_GTE" | "SEMVER_LT" | "SEMVER_LTE" => {
            if values.iter().any(|v| semver::Version::parse(v).is_err()) {
                return (
                    Cond::never(format!(
                        "{ctx} {op} {values:?} (not a version: matches nobody)"
                    )),
                    None,
                );
            }
            cmp(op, Matching::Other)
        }
        "IN_CIDR" => {
            if !values.iter().any(|v| is_cidr(v)) {
                return (
                    Cond::never(format!(
                        "{ctx} {op} {values:?} (no valid range: matches nobody)"
                    )),
                    None,
                );
            }
            cmp(op, Matching::Other)
        }
        // The SDKs evaluate an operator they do not know as no match, but the SDK in
        // production may be newer than this reader: assume it can match rather than call the
        // flag off.
        other => Cond::new(
            format!("{ctx} {other} {values:?} (operator unknown here: assumed to match)"),
            Reach::Broad,
        ),
    };
    // `NOT_IN`, and any inverted operator, lets everyone else through; an empty `NOT_IN` too.
    let everyone_else = (op == "NOT_IN") != inverted;
    if everyone_else {
        let text = if inverted {
            format!("not ({})", plain.text)
        } else {
            plain.text
        };
        return (Cond::new(text, Reach::Broad), None);
    }
    (plain, None)
}

fn is_cidr(v: &str) -> bool {
    let (ip, bits) = v.split_once('/').unwrap_or((v, "32"));
    ip.parse::<std::net::IpAddr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 128)
}

fn payload(v: &Value) -> Value {
    v.get("payload")
        .and_then(|p| p.get("value"))
        .cloned()
        .unwrap_or(Value::Bool(true))
}

/// Whether some context can satisfy both sets of `IN` lists.
fn compatible(a: &[(String, BTreeSet<String>)], b: &[(String, BTreeSet<String>)]) -> bool {
    let mut sets: HashMap<&str, BTreeSet<&String>> = HashMap::new();
    for (field, values) in a.iter().chain(b) {
        let entry = sets
            .entry(field.as_str())
            .or_insert_with(|| values.iter().collect());
        entry.retain(|v| values.contains(*v));
        if entry.is_empty() {
            return false;
        }
    }
    true
}

/// The feature's paths once its parents are taken into account.
fn with_dependencies(f: &Feature, by_name: &HashMap<&str, &Feature>) -> Vec<StrategyPath> {
    let mut paths: Vec<StrategyPath> = f
        .paths
        .iter()
        .filter(|p| p.cond.reachable() && compatible(&p.must_be_in, &[]))
        .cloned()
        .collect();
    for dep in &f.dependencies {
        let Some(parent_name) = dep.get("feature").and_then(Value::as_str) else {
            return Vec::new();
        };
        let Some(parent) = by_name.get(parent_name) else {
            return Vec::new(); // a missing parent is off
        };
        if !parent.dependencies.is_empty() {
            return Vec::new(); // the SDKs follow one level only: transitive and cyclic are off
        }
        let parent_paths: Vec<&StrategyPath> = parent
            .paths
            .iter()
            .filter(|p| parent.flag.enabled && p.cond.reachable())
            .collect();
        if dep.get("enabled").and_then(Value::as_bool) == Some(false) {
            // The child needs the parent off: never true while the parent is on for everyone.
            if parent_paths.iter().any(|p| p.everyone) {
                return Vec::new();
            }
            continue;
        }
        if parent_paths.is_empty() {
            return Vec::new();
        }
        let wanted = strings(dep.get("variants"));
        if !wanted.is_empty() {
            let mut names: Vec<&str> = parent.variants.iter().map(|v| v.0.as_str()).collect();
            names.extend(
                parent_paths
                    .iter()
                    .flat_map(|p| p.variants.iter().map(|v| v.0.as_str())),
            );
            if names.is_empty() {
                names.push("disabled");
            }
            if !wanted.iter().any(|w| names.contains(&w.as_str())) {
                return Vec::new();
            }
        }
        let mut joined = Vec::new();
        for p in &paths {
            for q in &parent_paths {
                if !compatible(&p.must_be_in, &q.must_be_in) {
                    continue;
                }
                let cond = if q.cond.text.is_empty() {
                    p.cond.clone()
                } else {
                    let parent_on = format!("parent `{parent_name}` on ({})", q.cond.text);
                    Cond::all([p.cond.clone(), Cond::new(parent_on, q.cond.reach)])
                };
                let mut must = p.must_be_in.clone();
                must.extend(q.must_be_in.iter().cloned());
                joined.push(StrategyPath {
                    label: p.label.clone(),
                    cond,
                    must_be_in: must,
                    variants: p.variants.clone(),
                    everyone: p.everyone && q.everyone,
                });
            }
        }
        paths = joined;
    }
    paths
}

/// The flag with what its reachable paths serve.
fn finish(f: &Feature, paths: Vec<StrategyPath>, settings: &ParseSettings) -> Flag {
    let mut flag = f.flag.clone();
    for (name, value, _) in &f.variants {
        flag.variants.insert(name.clone(), value.clone());
    }
    for p in &paths {
        if p.variants.is_empty() {
            flag.serve(&p.cond, &p.label, None, Some(Value::Bool(true)));
        }
        for (name, value) in &p.variants {
            flag.serve(&p.cond, &p.label, Some(name.clone()), Some(value.clone()));
        }
    }
    // Variant overrides hand named ids a variant of a feature that is on for them.
    if !paths.is_empty() {
        for (name, value, overrides) in &f.variants {
            for (ctx, ids) in overrides {
                let cond = compare(settings, ctx, "in", Matching::Equals, ids);
                flag.serve(
                    &cond,
                    "variant override",
                    Some(name.clone()),
                    Some(value.clone()),
                );
            }
        }
    }
    flag.everyone_else = Some(Served {
        path: "everyone else".into(),
        variant: None,
        value: Some(Value::Bool(paths.iter().any(|p| p.everyone))),
    });
    flag
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
    use serde_json::json;

    fn parse(doc: Value) -> Vec<Flag> {
        parse_value(&doc, &ParseSettings::for_tests()).unwrap()
    }

    #[test]
    fn user_with_id_and_id_constraints_are_narrow() {
        let flags = parse(json!({"version": 2, "features": [
            {"name": "exp-a", "type": "experiment", "enabled": true, "stale": false,
             "strategies": [{"name": "userWithId", "parameters": {"userIds": "u1, u2"}}]},
            {"name": "b", "type": "release", "enabled": true,
             "strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "100"}, "segments": [7]}]},
            {"name": "c", "type": "release", "enabled": true,
             "strategies": [{"name": "default", "constraints": [{"contextName": "appName", "operator": "IN", "values": ["web"]}]}]}
        ], "segments": [{"id": 7, "constraints": [{"contextName": "customerId", "operator": "IN", "values": ["acme"]}]}]}));
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
        assert_eq!(flags[2].on_paths().len(), 1);
    }

    #[test]
    fn a_live_parent_keeps_its_child_on_and_narrows_it() {
        let flags = parse(json!({"features": [
            {"name": "parent", "enabled": true, "strategies": [{"name": "default",
                "constraints": [{"contextName": "userId", "operator": "IN", "values": ["u1"]}]}]},
            {"name": "child", "enabled": true, "dependencies": [{"feature": "parent"}],
             "strategies": [{"name": "default"}]},
            {"name": "contradiction", "enabled": true, "dependencies": [{"feature": "parent"}],
             "strategies": [{"name": "default",
                "constraints": [{"contextName": "userId", "operator": "IN", "values": ["u2"]}]}]}
        ]}));
        assert_eq!(flags[1].on_paths().len(), 1);
        assert_eq!(flags[1].targets[0].reach, Reach::Individuals);
        assert!(
            flags[1].targets[0]
                .condition
                .contains("parent `parent` on (userId IN [`u1`])"),
            "{:?}",
            flags[1].targets
        );
        assert!(
            flags[2].on_paths().is_empty(),
            "userId cannot be both u1 and u2"
        );
    }

    #[test]
    fn constraints_nobody_satisfies() {
        let st = ParseSettings::for_tests();
        for c in [
            json!({"contextName": "appName", "operator": "IN", "values": []}),
            json!({"contextName": "userId", "operator": "REGEX", "value": "(broken"}),
            json!({"contextName": "version", "operator": "SEMVER_EQ", "value": "v2.0.0"}),
            json!({"contextName": "remoteAddress", "operator": "IN_CIDR", "values": ["127.invalid"]}),
            json!({"contextName": "userId", "operator": "NOT_IN", "values": [], "inverted": true}),
        ] {
            assert!(!constraint(&c, &st).0.reachable(), "{c}");
        }
        for c in [
            json!({"contextName": "userId", "operator": "NOT_IN", "values": ["u"]}),
            json!({"contextName": "userId", "operator": "IN", "values": ["u"], "inverted": true}),
            json!({"contextName": "version", "operator": "SEMVER_GTE", "value": "1.2.3"}),
            json!({"contextName": "x", "operator": "NOT_AN_OPERATOR", "value": "1"}),
        ] {
            assert_eq!(constraint(&c, &st).0.reach, Reach::Broad, "{c}");
        }
    }
}
