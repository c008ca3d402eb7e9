//! LaunchDarkly flags, in either of its two shapes:
//! - the REST API (`GET /api/v2/flags/{project}` → `{items: [...]}`, one flag, or an export
//!   array): `key, variations[{value, name}], temporary, tags, creationDate (ms), archived,
//!   experiments, environments{ENV: {on, targets, contextTargets, rules, fallthrough,
//!   offVariation, prerequisites}}`;
//! - the SDK / Relay Proxy flag data (`GET /sdk/latest-all`, the streaming `put` event's `data`,
//!   the SDKs' file data source): `{flags: {key: {on, targets, contextTargets, rules,
//!   fallthrough, offVariation, prerequisites, variations: [values]}}, segments: {key:
//!   {included, includedContexts, rules}}}`.
//!
//! `temporary` is LaunchDarkly's default for every new flag, so it marks nothing; experiments
//! are flags tagged `experiment`/`experiments` (or `experiments.tags`) or with an experiment
//! allocation (`rollout.kind = "experiment"`, REST `experiments.items`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::document::{Document, as_given};
use super::targeting::{Cond, Matching, Reach, compare, strings};
use super::{AuthScheme, Flag, ParseSettings, Served};

const FORMAT: &str = "LaunchDarkly flags document";

pub(super) const DOCUMENT: Document = Document {
    format: FORMAT,
    name: "LaunchDarkly",
    file_word: "export",
    auth: AuthScheme::Raw,
    parse: parse_value,
    endpoint: as_given,
    note: environment_note,
};

fn environment_note(settings: &ParseSettings) -> String {
    format!(" (environment `{}`)", settings.environment)
}

/// One flag's rules for the audited environment, whichever shape it came in.
struct Config<'a> {
    key: &'a str,
    /// The REST flag (tags, temporary, dates), absent for SDK data.
    meta: Option<&'a Value>,
    /// The environment (REST) or the flag itself (SDK data).
    env: &'a Value,
    variations: Vec<(String, Value)>,
}

/// A path through a flag and the variation it serves.
struct Route {
    label: String,
    cond: Cond,
    variation: i64,
}

pub fn parse_value(doc: &Value, settings: &ParseSettings) -> Result<Vec<Flag>, String> {
    let doc = match doc.get("data") {
        Some(d) if d.get("flags").is_some() => d,
        _ => doc,
    };
    let mut configs = Vec::new();
    let segments = match doc {
        Value::Object(m) if m.get("flags").is_some_and(Value::is_object) => {
            for (key, f) in m["flags"].as_object().into_iter().flatten() {
                if f.get("deleted").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                configs.push(config(key, None, f)?);
            }
            Some(
                m.get("segments")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            )
        }
        _ => {
            let items: Vec<&Value> = match doc {
                Value::Array(a) => a.iter().collect(),
                Value::Object(m) if m.get("items").is_some_and(Value::is_array) => m["items"]
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default(),
                Value::Object(m) if m.contains_key("key") && m.contains_key("environments") => {
                    vec![doc]
                }
                _ => {
                    return Err(
                        "expected SDK flag data `{\"flags\": {...}, \"segments\": {...}}`, \
                         `{\"items\": [flags]}`, a flag object or an array of flags"
                            .into(),
                    );
                }
            };
            let env_name = settings.environment.as_str();
            for (i, f) in items.into_iter().enumerate() {
                let key = f
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("flag {i} has no `key`"))?;
                let env = f
                    .get("environments")
                    .and_then(|e| e.get(env_name))
                    .ok_or_else(|| {
                        format!("flag `{key}` has no environment `{env_name}` (set `environment`)")
                    })?;
                configs.push(config(key, Some(f), env)?);
            }
            None
        }
    };
    let by_key: HashMap<&str, &Config> = configs.iter().map(|c| (c.key, c)).collect();
    let segs = Segments {
        known: segments.as_ref(),
        settings,
    };
    Ok(configs
        .iter()
        .map(|c| flag(c, &by_key, &segs, settings))
        .collect())
}

fn config<'a>(key: &'a str, meta: Option<&'a Value>, env: &'a Value) -> Result<Config<'a>, String> {
    let variations = meta
        .unwrap_or(env)
        .get("variations")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("flag `{key}` has no `variations`"))?
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            // REST: `{value, name}`; SDK data: the bare value.
            Value::Object(m) if m.contains_key("value") => (
                m.get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("#{i}")),
                m["value"].clone(),
            ),
            other => (format!("#{i}"), other.clone()),
        })
        .collect();
    // SDK data omits `on` for flags that are off (Go's zero value); the REST API always has it.
    if meta.is_some() && !env.get("on").is_some_and(Value::is_boolean) {
        return Err(format!("flag `{key}` has no boolean `on`"));
    }
    Ok(Config {
        key,
        meta,
        env,
        variations,
    })
}

fn array<'a>(v: Option<&'a Value>, k: &str) -> impl Iterator<Item = &'a Value> {
    v.and_then(|v| v.get(k))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

impl Config<'_> {
    fn on(&self) -> bool {
        self.env.get("on").and_then(Value::as_bool) == Some(true)
    }

    fn off_variation(&self) -> Option<i64> {
        self.env.get("offVariation").and_then(Value::as_i64)
    }

    /// Every path while the flag is on, before prerequisites.
    fn paths(&self, segs: &Segments) -> Vec<Route> {
        let mut out = Vec::new();
        for list in ["targets", "contextTargets"] {
            for t in array(Some(self.env), list) {
                let values = strings(t.get("values"));
                if values.is_empty() {
                    continue;
                }
                let kind = t
                    .get("contextKind")
                    .and_then(Value::as_str)
                    .unwrap_or("user");
                let cond = Cond::new(
                    format!("{kind} key in [{}]", quoted(&values)),
                    Reach::Individuals,
                );
                if let Some(v) = t.get("variation").and_then(Value::as_i64) {
                    out.push(Route {
                        label: list.to_string(),
                        cond,
                        variation: v,
                    });
                }
            }
        }
        for (n, rule) in array(Some(self.env), "rules").enumerate() {
            let cond = Cond::all(array(Some(rule), "clauses").map(|c| segs.clause(c, 0)));
            for v in served_by(rule) {
                out.push(Route {
                    label: format!("rule {}", n + 1),
                    cond: cond.clone(),
                    variation: v,
                });
            }
        }
        for v in self
            .env
            .get("fallthrough")
            .map(served_by)
            .unwrap_or_default()
        {
            out.push(Route {
                label: "fallthrough".into(),
                cond: Cond::always(),
                variation: v,
            });
        }
        out
    }

    /// Why the flag is an experiment, if it is one.
    fn experiment(&self, settings: &ParseSettings) -> Option<String> {
        if let Some(t) = self
            .tags()
            .into_iter()
            .find(|t| settings.experiment_tags.contains(t))
        {
            return Some(format!("tag `{t}`"));
        }
        let rollouts = self
            .env
            .get("fallthrough")
            .into_iter()
            .chain(array(Some(self.env), "rules"));
        if rollouts
            .filter_map(|r| r.get("rollout"))
            .any(|r| r.get("kind").and_then(Value::as_str) == Some("experiment"))
        {
            return Some("an experiment allocation (`rollout.kind` = `experiment`)".into());
        }
        array(self.meta, "experiments")
            .next()
            .or_else(|| array(self.meta.and_then(|m| m.get("experiments")), "items").next())
            .map(|_| "linked to an experiment".into())
    }

    fn tags(&self) -> Vec<String> {
        array(self.meta, "tags")
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect()
    }
}

/// Variations a rule or the fallthrough serves: its `variation`, or its rollout's weighted ones.
fn served_by(r: &Value) -> Vec<i64> {
    let mut out: Vec<i64> = r
        .get("variation")
        .and_then(Value::as_i64)
        .into_iter()
        .collect();
    out.extend(
        array(r.get("rollout"), "variations")
            .filter(|v| v.get("weight").and_then(Value::as_f64).unwrap_or(0.0) > 0.0)
            .filter_map(|v| v.get("variation").and_then(Value::as_i64)),
    );
    out
}

/// Segments of SDK flag data, and how clauses read with them.
struct Segments<'a> {
    /// `None`: the document has no segments (the REST API keeps them elsewhere).
    known: Option<&'a Map<String, Value>>,
    settings: &'a ParseSettings,
}

impl Segments<'_> {
    fn clause(&self, c: &Value, depth: usize) -> Cond {
        let attr = c.get("attribute").and_then(Value::as_str).unwrap_or("");
        let op = c.get("op").and_then(Value::as_str).unwrap_or("");
        let values: Vec<String> = array(Some(c), "values")
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let cond = match op {
            "segmentMatch" => Cond::any(values.iter().map(|k| self.segment(k, depth))),
            "in" => compare(self.settings, attr, "in", Matching::Equals, &values),
            "startsWith" | "endsWith" | "contains" => {
                compare(self.settings, attr, op, Matching::Substring, &values)
            }
            "matches" => compare(self.settings, attr, op, Matching::Regex, &values),
            _ => compare(self.settings, attr, op, Matching::Other, &values),
        };
        if c.get("negate").and_then(Value::as_bool) == Some(true) {
            cond.not()
        } else {
            cond
        }
    }

    /// Who a segment holds: its included keys, and what its rules let in.
    fn segment(&self, key: &str, depth: usize) -> Cond {
        let Some(known) = self.known else {
            return Cond::new(
                format!("segment `{key}` (its members are not in the document)"),
                Reach::Group,
            );
        };
        let Some(seg) = known.get(key).filter(|_| depth < 8) else {
            return Cond::never(format!("segment `{key}` (missing: matches nobody)"));
        };
        let mut parts = Vec::new();
        let mut included = strings(seg.get("included"));
        for c in array(Some(seg), "includedContexts") {
            included.extend(strings(c.get("values")));
        }
        if !included.is_empty() {
            parts.push(Cond::new(
                format!("segment `{key}` includes [{}]", quoted(&included)),
                Reach::Individuals,
            ));
        }
        for rule in array(Some(seg), "rules") {
            let cond = Cond::all(array(Some(rule), "clauses").map(|c| self.clause(c, depth + 1)));
            parts.push(Cond::new(
                format!("segment `{key}`: {}", cond.text),
                cond.reach,
            ));
        }
        if parts.is_empty() {
            return Cond::never(format!("segment `{key}` (empty: matches nobody)"));
        }
        Cond::any(parts)
    }
}

/// What `key` serves as `variation`, and when: the flag's own paths that serve it, each
/// narrowed by the flag's prerequisites. Off flags serve their off variation to everyone.
fn paths_serving(
    key: &str,
    variation: i64,
    by_key: &HashMap<&str, &Config>,
    segs: &Segments,
    depth: usize,
) -> Cond {
    let Some(c) = by_key.get(key).filter(|_| depth < 8) else {
        return Cond::never(format!("prerequisite `{key}` (missing)"));
    };
    if !c.on() {
        return if c.off_variation() == Some(variation) {
            Cond::always()
        } else {
            Cond::never(format!("prerequisite `{key}` is off"))
        };
    }
    let gate = prerequisites(c, by_key, segs, depth);
    let serving: Vec<Cond> = c
        .paths(segs)
        .into_iter()
        .filter(|p| p.variation == variation)
        .map(|p| p.cond)
        .collect();
    if serving.is_empty() {
        return Cond::never(format!(
            "prerequisite `{key}` never serves variation {variation}"
        ));
    }
    Cond::all([gate, Cond::any(serving)])
}

/// The condition a flag's prerequisites put on every path of it.
fn prerequisites(
    c: &Config,
    by_key: &HashMap<&str, &Config>,
    segs: &Segments,
    depth: usize,
) -> Cond {
    Cond::all(array(Some(c.env), "prerequisites").map(|p| {
        let key = p.get("key").and_then(Value::as_str).unwrap_or("");
        let v = p.get("variation").and_then(Value::as_i64).unwrap_or(-1);
        let cond = paths_serving(key, v, by_key, segs, depth + 1);
        if cond.text.is_empty() {
            cond
        } else {
            Cond::new(format!("prerequisite `{key}` ({})", cond.text), cond.reach)
        }
    }))
}

fn flag(
    c: &Config,
    by_key: &HashMap<&str, &Config>,
    segs: &Segments,
    settings: &ParseSettings,
) -> Flag {
    let name = |idx: Option<i64>| -> Option<String> {
        c.variations
            .get(usize::try_from(idx?).ok()?)
            .map(|v| v.0.clone())
    };
    let value = |idx: Option<i64>| -> Option<Value> {
        c.variations
            .get(usize::try_from(idx?).ok()?)
            .map(|v| v.1.clone())
    };
    let count = c.variations.len() as i64;
    let mut used: Vec<i64> = c.off_variation().into_iter().collect();
    if c.on() {
        used.extend(c.paths(segs).iter().map(|p| p.variation));
    }
    if let Some(v) = used.into_iter().find(|v| !(0..count).contains(v)) {
        let why = format!(
            "variation {v} does not exist ({count} variations; SDKs answer MALFORMED_FLAG)"
        );
        return Flag::broken(c.key, c.on(), why);
    }
    let tags = c.tags();
    let temporary = c
        .meta
        .and_then(|m| m.get("temporary"))
        .and_then(Value::as_bool);
    let release_tagged = tags.iter().any(|t| settings.released_tags.contains(t));
    let experimental = c.experiment(settings);
    let on = c.on();
    let off_idx = c.off_variation();
    let ft = c.env.get("fallthrough").map(served_by).unwrap_or_default();
    let ft_one = (ft.len() == 1).then(|| ft[0]);
    let mut flag = Flag {
        key: c.key.to_string(),
        enabled: on,
        default_variant: if on { name(ft_one) } else { name(off_idx) },
        default_value: if on { value(ft_one) } else { value(off_idx) },
        variants: c.variations.iter().cloned().collect(),
        off_variant: name(off_idx),
        flag_type: Some(
            if experimental.is_some() {
                "experiment"
            } else if temporary == Some(false) {
                "permanent"
            } else {
                "release"
            }
            .to_string(),
        ),
        experimental,
        // Permanent flags target by design.
        released: release_tagged || temporary == Some(false),
        stale: c
            .meta
            .and_then(|m| m.get("archived"))
            .and_then(Value::as_bool)
            == Some(true)
            || tags.iter().any(|t| t == "stale" || t == "deprecated"),
        created: c
            .meta
            .and_then(|m| m.get("creationDate"))
            .and_then(super::parse_date),
        created_from: c
            .meta
            .and_then(|m| m.get("creationDate"))
            .map(|_| "creationDate".to_string()),
        ..Default::default()
    };
    if on {
        let gate = prerequisites(c, by_key, segs, 0);
        for p in c.paths(segs) {
            let cond = Cond::all([p.cond, gate.clone()]);
            flag.serve(
                &cond,
                &p.label,
                name(Some(p.variation)),
                value(Some(p.variation)),
            );
        }
        // Requests that fail a prerequisite get the off variation.
        if !gate.text.is_empty() && off_idx.is_some() {
            flag.served.push(Served {
                path: "prerequisite not met".into(),
                variant: name(off_idx),
                value: value(off_idx),
            });
        }
        flag.everyone_else = ft_one.filter(|_| gate.text.is_empty()).map(|v| Served {
            path: "fallthrough".into(),
            variant: name(Some(v)),
            value: value(Some(v)),
        });
    }
    flag
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_and_offvariation() {
        let doc = json!({"items": [{
            "key": "new-search", "kind": "boolean", "temporary": true, "tags": [], "creationDate": 1700000000000i64, "archived": false,
            "variations": [{"value": true}, {"value": false}],
            "environments": {"production": {"on": true, "targets": [{"values": ["cust-4711"], "variation": 0}],
                "rules": [], "fallthrough": {"variation": 1}, "offVariation": 1}}}]});
        let flags = parse_value(&doc, &ParseSettings::for_tests()).unwrap();
        let f = &flags[0];
        assert_eq!(
            f.targets[0].condition,
            "user key in [`cust-4711`] (targets)"
        );
        assert_eq!(f.off_variant.as_deref(), Some("#1"));
        assert_eq!(f.on_paths().len(), 1);
        assert!(!f.released);
        assert!(
            f.experimental.is_none(),
            "temporary is LaunchDarkly's default"
        );
    }

    #[test]
    fn sdk_data_segments_and_prerequisites() {
        let doc = json!({"flags": {
            "a": {"key": "a", "on": true, "variations": [true, false], "offVariation": 1, "fallthrough": {"variation": 1},
                  "rules": [{"variation": 0, "clauses": [{"attribute": "key", "op": "segmentMatch", "values": ["s"]}]}]},
            "b": {"key": "b", "on": true, "variations": [true, false], "offVariation": 1, "fallthrough": {"variation": 0},
                  "prerequisites": [{"key": "a", "variation": 0}]},
            "c": {"key": "c", "on": true, "variations": [true, false], "offVariation": 1, "fallthrough": {"variation": 0},
                  "rules": [{"variation": 0, "clauses": [{"attribute": "key", "op": "segmentMatch", "values": ["gone"]}]}],
                  "prerequisites": [{"key": "nope", "variation": 0}]}
        }, "segments": {"s": {"key": "s", "included": ["u1"], "rules": []}}});
        let flags = parse_value(&doc, &ParseSettings::for_tests()).unwrap();
        assert_eq!(flags[0].targets[0].reach, Reach::Individuals);
        assert!(
            flags[0].targets[0]
                .condition
                .contains("segment `s` includes [`u1`]")
        );
        assert_eq!(flags[1].targets[0].reach, Reach::Individuals);
        assert!(
            flags[1].targets[0].condition.contains("prerequisite `a`"),
            "{:?}",
            flags[1].targets
        );
        assert!(
            flags[2].on_paths().is_empty(),
            "a missing prerequisite serves the off variation"
        );
    }
}
