//! LaunchDarkly flags (REST API `GET /api/v2/flags/{project}` → `{items: [...]}`, one flag, or an
//! export array): `key, kind, variations[{value, name}], temporary, tags, creationDate (ms),
//! archived, environments{env: {on, targets[{values, variation}], contextTargets, rules[{clauses,
//! variation | rollout}], fallthrough{variation | rollout}, offVariation}}`.

use std::path::Path;

use serde_json::Value;

use super::document::Document;
use super::{
    AuthScheme, Flag, FlagsItem, Loaded, NarrowTarget, ParseSettings, Served, SourceCx, SourceError,
};

const FORMAT: &str = "LaunchDarkly flags document";

const DOCUMENT: Document = Document {
    format: FORMAT,
    name: "LaunchDarkly",
    file_word: "export",
    auth: AuthScheme::Raw,
    parse: parse_value,
};

pub(super) async fn load(
    item: &FlagsItem,
    cx: &SourceCx<'_>,
    settings: &ParseSettings,
) -> Result<Loaded, SourceError> {
    let note = format!(" (environment `{}`)", settings.environment);
    DOCUMENT.load(item, cx, settings, |url| url, &note).await
}

pub fn parse_text(
    text: &str,
    path: &Path,
    settings: &ParseSettings,
) -> Result<Vec<Flag>, SourceError> {
    DOCUMENT.parse_text(text, path, settings)
}

pub fn parse_value(doc: &Value, settings: &ParseSettings) -> Result<Vec<Flag>, String> {
    let items: Vec<&Value> = match doc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(m) if m.get("items").is_some_and(Value::is_array) => m["items"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        Value::Object(m) if m.contains_key("key") && m.contains_key("environments") => vec![doc],
        _ => {
            return Err(
                "expected `{\"items\": [flags]}`, a flag object or an array of flags".into(),
            );
        }
    };
    let env_name = settings.environment.as_str();
    let mut out = Vec::new();
    for (i, f) in items.into_iter().enumerate() {
        let key = f
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("flag {i} has no `key`"))?;
        let variations = f
            .get("variations")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("flag `{key}` has no `variations`"))?;
        let name_of = |idx: Option<i64>| -> Option<String> {
            let idx = idx?;
            let v = variations.get(usize::try_from(idx).ok()?)?;
            Some(
                v.get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("#{idx}")),
            )
        };
        let value_of = |idx: Option<i64>| -> Option<Value> {
            variations
                .get(usize::try_from(idx?).ok()?)?
                .get("value")
                .cloned()
        };
        let env = f
            .get("environments")
            .and_then(|e| e.get(env_name))
            .ok_or_else(|| {
                format!("flag `{key}` has no environment `{env_name}` (set `environment`)")
            })?;
        let tags: Vec<String> = f
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect();
        let temporary = f.get("temporary").and_then(Value::as_bool).unwrap_or(true);
        let release_tagged = tags.iter().any(|t| settings.released_tags.contains(t));
        let experimental = if tags
            .iter()
            .any(|t| t == "experiment" || t == "experimental")
        {
            Some("tag `experiment`".to_string())
        } else if temporary && !release_tagged {
            Some("temporary flag without a release tag".to_string())
        } else {
            None
        };
        let on = env
            .get("on")
            .and_then(Value::as_bool)
            .ok_or_else(|| format!("flag `{key}`: environment `{env_name}` has no boolean `on`"))?;
        let off_idx = env.get("offVariation").and_then(Value::as_i64);
        let fallthrough = env.get("fallthrough");
        let ft_idx = fallthrough
            .and_then(|f| f.get("variation"))
            .and_then(Value::as_i64);
        let mut flag = Flag {
            key: key.to_string(),
            enabled: on,
            default_variant: if on {
                name_of(ft_idx)
            } else {
                name_of(off_idx)
            },
            default_value: if on {
                value_of(ft_idx)
            } else {
                value_of(off_idx)
            },
            variants: variations
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        name_of(Some(i as i64)).unwrap_or_default(),
                        v.get("value").cloned().unwrap_or(Value::Null),
                    )
                })
                .collect(),
            off_variant: name_of(off_idx),
            flag_type: Some(
                if experimental.is_some() {
                    "experiment"
                } else if temporary {
                    "release"
                } else {
                    "permanent"
                }
                .to_string(),
            ),
            experimental,
            released: release_tagged || !temporary,
            stale: f.get("archived").and_then(Value::as_bool).unwrap_or(false)
                || tags.iter().any(|t| t == "stale" || t == "deprecated"),
            created: f.get("creationDate").and_then(super::parse_date),
            created_from: f.get("creationDate").map(|_| "creationDate".to_string()),
            ..Default::default()
        };
        let mut served = Vec::new();
        let mut serve = |path: String, idx: Option<i64>| {
            served.push(Served {
                path,
                variant: name_of(idx),
                value: value_of(idx),
            })
        };
        let rollout_idxs = |r: Option<&Value>| -> Vec<i64> {
            r.and_then(|r| r.get("rollout"))
                .and_then(|r| r.get("variations"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|v| v.get("weight").and_then(Value::as_f64).unwrap_or(0.0) > 0.0)
                .filter_map(|v| v.get("variation").and_then(Value::as_i64))
                .collect()
        };
        if ft_idx.is_some() {
            serve("fallthrough".into(), ft_idx);
        }
        for idx in rollout_idxs(fallthrough) {
            serve("fallthrough rollout".into(), Some(idx));
        }
        let mut targets = Vec::new();
        for list in ["targets", "contextTargets"] {
            for t in env
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let idx = t.get("variation").and_then(Value::as_i64);
                let values: Vec<String> = t
                    .get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|s| format!("`{s}`"))
                    .collect();
                if values.is_empty() {
                    continue;
                }
                let kind = t
                    .get("contextKind")
                    .and_then(Value::as_str)
                    .unwrap_or("user");
                serve(format!("{list} ({kind})"), idx);
                targets.push(NarrowTarget {
                    condition: format!("{kind} key in [{}] ({list})", values.join(", ")),
                    variant: name_of(idx),
                    value: value_of(idx),
                });
            }
        }
        for (n, rule) in env
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut idxs: Vec<i64> = rule
                .get("variation")
                .and_then(Value::as_i64)
                .into_iter()
                .collect();
            idxs.extend(rollout_idxs(Some(rule)));
            let mut conds = Vec::new();
            for c in rule
                .get("clauses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let attr = c.get("attribute").and_then(Value::as_str).unwrap_or("");
                let op = c.get("op").and_then(Value::as_str).unwrap_or("");
                if c.get("negate").and_then(Value::as_bool) == Some(true)
                    || !settings.is_id_attribute(attr)
                {
                    continue;
                }
                if !matches!(
                    op,
                    "in" | "startsWith" | "endsWith" | "contains" | "matches"
                ) {
                    continue;
                }
                let values: Vec<String> = c
                    .get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|v| match v {
                        Value::String(s) => format!("`{s}`"),
                        other => format!("`{other}`"),
                    })
                    .collect();
                if !values.is_empty() {
                    conds.push(format!("{attr} {op} [{}]", values.join(", ")));
                }
            }
            for idx in idxs {
                serve(format!("rule {}", n + 1), Some(idx));
                if !conds.is_empty() {
                    targets.push(NarrowTarget {
                        condition: format!("{} (rule {})", conds.join(" and "), n + 1),
                        variant: name_of(Some(idx)),
                        value: value_of(Some(idx)),
                    });
                }
            }
        }
        flag.served = served;
        flag.targets = targets;
        out.push(flag);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_offvariation() {
        let doc = serde_json::json!({"items": [{
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
        assert!(f.experimental.is_some());
    }
}
