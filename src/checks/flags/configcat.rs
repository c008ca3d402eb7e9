//! ConfigCat: the config JSON its SDKs download (`config_v6.json`, e.g.
//! `https://cdn-global.configcat.com/configuration-files/{SDK_KEY}/config_v6.json`) → `{p: {u, r,
//! s}, s: [{n, r: [user conditions]}], f: {key: {t, a, v, i, r: [{c: [{u: {a, c, s | d | l}} |
//! {s: {s, c}} | {p: {f, c, v}}], s: {v, i} | p: [{p, v, i}]}], p: [{p, v, i}]}}}`, or a saved
//! copy. Rules apply in order; comparators are the numbers of the SDKs' `UserComparator`. Hashed
//! comparators (`IS ONE OF (hashed)`) keep the ids secret, but still name individuals.

use serde_json::{Map, Value};

use super::document::{Document, endpoint_or, no_note};
use super::targeting::{Cond, Matching, Reach, compare, strings};
use super::{AuthScheme, Flag, ParseSettings, Served};

pub(super) const DOCUMENT: Document = Document {
    format: "ConfigCat config JSON (config_v6)",
    name: "ConfigCat",
    file_word: "file",
    auth: AuthScheme::Bearer,
    parse: parse_value,
    endpoint,
    note: no_note,
};

/// A `configuration-files/{SDK_KEY}` URL gets `config_v6.json`.
fn endpoint(base: reqwest::Url) -> reqwest::Url {
    endpoint_or(base, &["config_v6.json"], "config_v6.json")
}

pub fn parse_value(doc: &Value, settings: &ParseSettings) -> Result<Vec<Flag>, String> {
    let root = doc.as_object().ok_or("expected a config object")?;
    if root.contains_key("Configs") || (root.get("f").is_none() && root.get("p").is_none()) {
        return Err(
            "expected a config_v6 object with `p` and `f` (older config_v5 files are not read)"
                .into(),
        );
    }
    let segments: Vec<&Value> = root
        .get("s")
        .and_then(Value::as_array)
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let Some(features) = root.get("f") else {
        return Ok(Vec::new());
    };
    let features = features
        .as_object()
        .ok_or("`f` must be an object of settings")?;
    features
        .iter()
        .map(|(key, s)| {
            let s = s
                .as_object()
                .ok_or_else(|| format!("setting `{key}` is not an object"))?;
            Ok(setting(key, s, &segments, settings))
        })
        .collect()
}

/// A setting value: `{b}`, `{s}`, `{i}` or `{d}`.
fn value(v: Option<&Value>) -> Option<Value> {
    let m = v?.as_object()?;
    ["b", "s", "i", "d"].iter().find_map(|k| m.get(*k).cloned())
}

fn setting(
    key: &str,
    s: &Map<String, Value>,
    segments: &[&Value],
    settings: &ParseSettings,
) -> Flag {
    let default = value(s.get("v"));
    let mut flag = Flag {
        key: key.to_string(),
        enabled: true,
        default_value: default.clone(),
        ..Default::default()
    };
    let serve_options = |flag: &mut Flag, cond: &Cond, label: &str, options: &[Value]| {
        for o in options {
            if o.get("p").and_then(Value::as_f64).unwrap_or(0.0) > 0.0 {
                flag.serve(
                    cond,
                    &format!("{label} (percentage option)"),
                    None,
                    value(o.get("v")),
                );
            }
        }
    };
    for (n, rule) in s
        .get("r")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let label = format!("targeting rule {}", n + 1);
        let cond = Cond::all(
            rule.get("c")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| condition(c, segments, settings)),
        );
        if let Some(options) = rule.get("p").and_then(Value::as_array) {
            serve_options(&mut flag, &cond, &label, options);
        } else {
            let v = value(rule.get("s").and_then(|s| s.get("v")));
            flag.serve(&cond, &label, None, v);
        }
    }
    let options = s.get("p").and_then(Value::as_array);
    match options.filter(|o| !o.is_empty()) {
        Some(options) => serve_options(&mut flag, &Cond::always(), "default", options),
        None => {
            flag.served.push(Served {
                path: "default".into(),
                variant: None,
                value: default.clone(),
            });
            flag.everyone_else = Some(Served {
                path: "everyone else".into(),
                variant: None,
                value: default,
            });
        }
    }
    flag
}

fn condition(c: &Value, segments: &[&Value], settings: &ParseSettings) -> Cond {
    if let Some(u) = c.get("u") {
        return user_condition(u, settings);
    }
    if let Some(s) = c.get("s") {
        let idx = s.get("s").and_then(Value::as_u64).unwrap_or(u64::MAX);
        let Some(seg) = usize::try_from(idx).ok().and_then(|i| segments.get(i)) else {
            return Cond::never(format!("segment {idx} (missing)"));
        };
        let name = seg.get("n").and_then(Value::as_str).unwrap_or("?");
        let rules = seg.get("r").and_then(Value::as_array);
        let inner = Cond::all(
            rules
                .into_iter()
                .flatten()
                .map(|u| user_condition(u, settings)),
        );
        let cond = Cond::new(format!("segment `{name}` ({})", inner.text), inner.reach);
        return if s.get("c").and_then(Value::as_u64) == Some(1) {
            cond.not()
        } else {
            cond
        };
    }
    if let Some(p) = c.get("p") {
        let f = p.get("f").and_then(Value::as_str).unwrap_or("?");
        let op = if p.get("c").and_then(Value::as_u64) == Some(1) {
            "!="
        } else {
            "=="
        };
        let v = value(p.get("v")).map(|v| v.to_string()).unwrap_or_default();
        return Cond::new(format!("flag `{f}` {op} {v}"), Reach::Broad);
    }
    Cond::new(c.to_string(), Reach::Broad)
}

fn user_condition(u: &Value, settings: &ParseSettings) -> Cond {
    let attr = u.get("a").and_then(Value::as_str).unwrap_or("?");
    let comparator = u.get("c").and_then(Value::as_u64).unwrap_or(u64::MAX);
    let mut values = strings(u.get("l"));
    if let Some(s) = u.get("s").and_then(Value::as_str) {
        values.push(s.to_string());
    }
    if let Some(d) = u.get("d") {
        values.push(d.to_string());
    }
    let hashed = matches!(comparator, 16..=27);
    // Hashed values are salted SHA-256 digests: say how many, not what.
    let shown = if hashed {
        vec![format!("{} hashed values", values.len())]
    } else {
        values.clone()
    };
    let (op, matching) = match comparator {
        0 | 16 => ("IS ONE OF", Matching::Equals),
        20 | 28 => ("EQUALS", Matching::Equals),
        2 => ("CONTAINS ANY OF", Matching::Substring),
        22 | 30 => ("STARTS WITH ANY OF", Matching::Substring),
        24 | 32 => ("ENDS WITH ANY OF", Matching::Substring),
        26 | 34 => ("ARRAY CONTAINS ANY OF", Matching::Substring),
        _ => ("", Matching::Other),
    };
    if matching == Matching::Other {
        // Negations, versions, numbers, dates: not narrow.
        return Cond::new(
            format!("{attr} comparator {comparator} [{}]", shown.join(", ")),
            Reach::Broad,
        );
    }
    if values.is_empty() {
        return Cond::never(format!("{attr} {op} [] (an empty list matches nobody)"));
    }
    compare(settings, attr, op, matching, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_segments_and_percentages() {
        let doc = json!({"p": {"u": "https://cdn-global.configcat.com", "r": 0, "s": "salt"},
        "s": [{"n": "Beta", "r": [{"a": "Email", "c": 32, "l": ["@corp.com"]}]}],
        "f": {
            "pilot": {"t": 0, "v": {"b": false}, "r": [{"c": [{"u": {"a": "Identifier", "c": 16, "l": ["ab12", "cd34"]}}], "s": {"v": {"b": true}}}]},
            "beta": {"t": 0, "v": {"b": false}, "r": [{"c": [{"s": {"s": 0, "c": 0}}], "s": {"v": {"b": true}}}]},
            "rollout": {"t": 0, "v": {"b": false}, "p": [{"p": 20, "v": {"b": true}}, {"p": 80, "v": {"b": false}}]},
            "none": {"t": 0, "v": {"b": false}, "r": [{"c": [{"u": {"a": "Identifier", "c": 0, "l": []}}], "s": {"v": {"b": true}}}]}
        }});
        let flags = parse_value(&doc, &ParseSettings::for_tests()).unwrap();
        assert_eq!(flags[0].targets[0].reach, Reach::Individuals);
        assert!(flags[0].targets[0].condition.contains("2 hashed values"));
        assert_eq!(flags[1].targets[0].reach, Reach::Group);
        assert!(flags[2].targets.is_empty() && flags[2].on_paths().len() == 1);
        assert!(flags[3].on_paths().is_empty());
        assert!(parse_value(&json!({"Configs": []}), &ParseSettings::for_tests()).is_err());
    }
}
