//! GrowthBook: the SDK features payload (`GET {apiHost}/api/features/{clientKey}` → `{features:
//! {key: {defaultValue, rules: [{id, condition, parentConditions, force, coverage, variations,
//! weights, key, hashAttribute, meta}]}}, dateUpdated}`), or a saved copy. Rules run in order and
//! the first that matches wins; a rule with `variations` is an experiment. Conditions are
//! GrowthBook's MongoDB-style queries. Encrypted payloads (`encryptedFeatures`) are refused.

use serde_json::{Map, Value};

use super::document::{Document, as_given, no_note};
use super::targeting::{Cond, Matching, Reach, compare, compare_one};
use super::{AuthScheme, Flag, ParseSettings, Served};

pub(super) const DOCUMENT: Document = Document {
    format: "GrowthBook SDK features payload",
    name: "GrowthBook",
    file_word: "file",
    auth: AuthScheme::Bearer,
    parse: parse_value,
    endpoint: as_given,
    note: no_note,
};

pub fn parse_value(doc: &Value, settings: &ParseSettings) -> Result<Vec<Flag>, String> {
    let Some(features) = doc.get("features").and_then(Value::as_object) else {
        if doc.get("encryptedFeatures").is_some() {
            return Err(
                "the payload is encrypted (`encryptedFeatures`); turn off encryption \
                        for this SDK connection or audit a decrypted copy"
                    .into(),
            );
        }
        return Err("expected an object with a `features` object".into());
    };
    features
        .iter()
        .map(|(key, f)| {
            let f = f
                .as_object()
                .ok_or_else(|| format!("feature `{key}` is not an object"))?;
            Ok(feature(key, f, settings))
        })
        .collect()
}

fn feature(key: &str, f: &Map<String, Value>, settings: &ParseSettings) -> Flag {
    let default = f.get("defaultValue").cloned().unwrap_or(Value::Null);
    let mut flag = Flag {
        key: key.to_string(),
        enabled: true,
        default_value: Some(default.clone()),
        ..Default::default()
    };
    // What a request no rule matches gets; a rule every request matches in full ends the list.
    let mut rest = Some(default);
    for (n, rule) in f
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(fallthrough) = rest.clone() else {
            break;
        };
        let label = format!("rule {}", n + 1);
        let mut parts = vec![
            rule.get("condition")
                .map_or_else(Cond::always, |c| query(c, settings, 0)),
        ];
        for p in rule
            .get("parentConditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = p.get("id").and_then(Value::as_str).unwrap_or("?");
            let c = p
                .get("condition")
                .map(|c| c.to_string())
                .unwrap_or_default();
            parts.push(Cond::new(format!("feature `{id}` {c}"), Reach::Broad));
        }
        let coverage = rule.get("coverage").and_then(Value::as_f64).unwrap_or(1.0);
        if coverage <= 0.0 {
            parts.push(Cond::never(format!("{label} at 0 % coverage")));
        }
        let unconditional = parts.iter().all(|c| c.text.is_empty()) && coverage >= 1.0;
        let cond = Cond::all(parts);
        if let Some(variations) = rule.get("variations").and_then(Value::as_array) {
            let name = rule
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or(key)
                .to_string();
            flag.experimental
                .get_or_insert_with(|| format!("experiment rule `{name}`"));
            flag.flag_type = Some("experiment".into());
            let meta = rule.get("meta").and_then(Value::as_array);
            for (i, v) in variations.iter().enumerate() {
                let vname = meta
                    .and_then(|m| m.get(i))
                    .and_then(|m| m.get("key"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("#{i}"));
                flag.variants.insert(vname.clone(), v.clone());
                flag.serve(&cond, &label, Some(vname), Some(v.clone()));
            }
            // Requests outside the experiment's coverage fall through to later rules.
            continue;
        }
        if let Some(force) = rule.get("force") {
            flag.serve(&cond, &label, None, Some(force.clone()));
            if unconditional && rule.get("range").is_none() {
                rest = Some(force.clone());
                break;
            }
        }
        rest = Some(fallthrough);
    }
    if let Some(v) = &rest {
        flag.served.push(Served {
            path: "defaultValue".into(),
            variant: None,
            value: Some(v.clone()),
        });
    }
    flag.everyone_else = rest.map(|v| Served {
        path: "everyone else".into(),
        variant: None,
        value: Some(v),
    });
    flag
}

/// A GrowthBook condition (MongoDB-style query) read as a [`Cond`].
fn query(q: &Value, settings: &ParseSettings, depth: usize) -> Cond {
    let Some(m) = q.as_object().filter(|_| depth < 32) else {
        return Cond::new(q.to_string(), Reach::Broad);
    };
    let mut parts = Vec::new();
    for (k, v) in m {
        let list = || v.as_array().into_iter().flatten();
        parts.push(match k.as_str() {
            "$and" => Cond::all(list().map(|c| query(c, settings, depth + 1))),
            "$or" => Cond::any(list().map(|c| query(c, settings, depth + 1))),
            "$nor" => Cond::any(list().map(|c| query(c, settings, depth + 1))).not(),
            "$not" => query(v, settings, depth + 1).not(),
            attr => field(attr, v, settings),
        });
    }
    Cond::all(parts)
}

/// `attr: value` or `attr: {$op: ...}`.
fn field(attr: &str, v: &Value, settings: &ParseSettings) -> Cond {
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let Some(ops) = v
        .as_object()
        .filter(|m| m.keys().all(|k| k.starts_with('$')))
    else {
        return compare_one(settings, attr, "==", Matching::Equals, text(v));
    };
    Cond::all(ops.iter().map(|(op, arg)| {
        let values: Vec<String> = match arg {
            Value::Array(a) => a.iter().map(text).collect(),
            other => vec![text(other)],
        };
        match op.as_str() {
            "$eq" => compare_one(settings, attr, "==", Matching::Equals, text(arg)),
            "$in" => compare(settings, attr, "$in", Matching::Equals, &values),
            "$regex" => compare(settings, attr, "$regex", Matching::Regex, &values),
            "$not" => field(attr, arg, settings).not(),
            "$ne" | "$nin" | "$exists" => Cond::new(format!("{attr} {op} {arg}"), Reach::Broad),
            _ => compare(settings, attr, op, Matching::Other, &values),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_conditions_and_experiments() {
        let doc = json!({"features": {
            "pilot": {"defaultValue": false, "rules": [{"condition": {"id": {"$in": ["u1"]}}, "force": true}]},
            "corp": {"defaultValue": false, "rules": [{"condition": {"email": {"$regex": "@corp\\.com$"}, "plan": "pro"}, "force": true}]},
            "rollout": {"defaultValue": false, "rules": [{"force": true, "coverage": 0.2, "hashAttribute": "id"}]},
            "ab": {"defaultValue": "blue", "rules": [{"key": "ab-test", "variations": ["blue", "green"], "weights": [0.5, 0.5],
                   "meta": [{"key": "control"}, {"key": "green"}]}]},
            "noop": {"defaultValue": true, "rules": [{"condition": {"id": "u1"}, "force": true}]},
            "empty": {"defaultValue": false, "rules": [{"condition": {"id": {"$in": []}}, "force": true}]}
        }});
        let flags = parse_value(&doc, &ParseSettings::for_tests()).unwrap();
        let t = |i: usize| &flags[i].targets;
        assert_eq!(t(0)[0].condition, "id $in [`u1`] (rule 1)");
        assert_eq!(t(0)[0].reach, Reach::Individuals);
        assert_eq!(t(1)[0].reach, Reach::Group);
        assert!(t(1)[0].condition.contains("plan == `pro`"));
        assert!(t(2).is_empty() && flags[2].on_paths().len() == 1);
        assert!(
            flags[3]
                .experimental
                .as_deref()
                .unwrap()
                .contains("ab-test")
        );
        assert!(flags[4].is_no_op(&t(4)[0]));
        assert!(flags[5].on_paths().is_empty());
        let enc = json!({"encryptedFeatures": "abc"});
        assert!(
            parse_value(&enc, &ParseSettings::for_tests())
                .unwrap_err()
                .contains("encrypted")
        );
    }
}
