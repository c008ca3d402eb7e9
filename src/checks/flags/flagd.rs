//! flagd flag definitions (OpenFeature): `flags{key: {state, variants, defaultVariant, targeting,
//! metadata}}`, `$evaluators` referenced by `{"$ref": name}`, set-level `metadata`; JSON or YAML.
//!
//! Targeting is JsonLogic. It is not evaluated here but read: which variant each `if` branch and
//! `fractional` bucket can serve, and which conditions single out individual ids.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::document::{Document, as_given, no_note};
use super::jsonlogic::condition;
use super::targeting::Cond;
use super::{AuthScheme, Flag, ParseSettings, Served, apply_metadata};

pub(super) const DOCUMENT: Document = Document {
    format: "flagd flag definition",
    name: "flagd",
    file_word: "file",
    auth: AuthScheme::Bearer,
    parse: parse_value,
    endpoint: as_given,
    note: no_note,
};

/// Parses a flagd document already read as JSON.
pub fn parse_value(doc: &Value, settings: &ParseSettings) -> Result<Vec<Flag>, String> {
    let root = doc
        .as_object()
        .ok_or("expected an object with a `flags` table")?;
    let flags = root
        .get("flags")
        .and_then(Value::as_object)
        .ok_or("expected a `flags` object")?;
    let empty = Map::new();
    let evaluators = root
        .get("$evaluators")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let set_meta = root.get("metadata").and_then(Value::as_object);
    let mut out = Vec::with_capacity(flags.len());
    for (key, def) in flags {
        // Like flagd: one flag that cannot be evaluated does not take the others down with it.
        out.push(
            parse_flag(key, def, evaluators, set_meta, settings).unwrap_or_else(|e| {
                let enabled = def.get("state").and_then(Value::as_str) == Some("ENABLED");
                Flag::broken(key, enabled, e)
            }),
        );
    }
    Ok(out)
}

fn parse_flag(
    key: &str,
    def: &Value,
    evaluators: &Map<String, Value>,
    set_meta: Option<&Map<String, Value>>,
    settings: &ParseSettings,
) -> Result<Flag, String> {
    let def = def.as_object().ok_or("expected an object")?;
    let enabled = match def.get("state").and_then(Value::as_str) {
        Some("ENABLED") => true,
        Some("DISABLED") => false,
        Some(other) => {
            return Err(format!(
                "`state` is `{other}`, expected `ENABLED` or `DISABLED`"
            ));
        }
        None => return Err("missing `state`".into()),
    };
    let variants: BTreeMap<String, Value> = match def.get("variants") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(_) => return Err("`variants` must be an object".into()),
        None => return Err("missing `variants`".into()),
    };
    let default_variant = match def.get("defaultVariant") {
        Some(Value::String(s)) => {
            if !variants.contains_key(s) {
                return Err(format!("`defaultVariant` `{s}` is not one of its variants"));
            }
            Some(s.clone())
        }
        Some(Value::Null) | None => None,
        Some(_) => return Err("`defaultVariant` must be a string".into()),
    };
    let mut flag = Flag {
        key: key.to_string(),
        enabled,
        default_value: default_variant
            .as_ref()
            .and_then(|d| variants.get(d).cloned()),
        default_variant: default_variant.clone(),
        variants,
        ..Default::default()
    };
    if let Some(m) = set_meta {
        apply_metadata(&mut flag, m);
    }
    if let Some(m) = def.get("metadata").and_then(Value::as_object) {
        apply_metadata(&mut flag, m);
    }
    let targeting = match def.get("targeting").filter(|t| !is_empty_object(t)) {
        Some(t) => Some(resolve_refs(t, evaluators, 0)?),
        None => None,
    };
    let everyone_else = match &targeting {
        Some(t) => fallback(t, default_variant.as_deref(), &flag.variants),
        None => default_variant.clone(),
    };
    // The default is served when there is no targeting, or targeting falls through to it.
    if targeting.is_none() || (everyone_else.is_some() && everyone_else == default_variant) {
        flag.served.push(Served {
            path: "default".into(),
            variant: default_variant.clone(),
            value: flag.default_value.clone(),
        });
    }
    if let Some(resolved) = &targeting {
        let mut walk = Walk {
            flag: &mut flag,
            settings,
            branch: 0,
        };
        walk.results(resolved, &Cond::always(), "targeting");
    }
    flag.everyone_else = everyone_else.map(|v| Served {
        path: "everyone else".into(),
        value: flag.variants.get(&v).cloned(),
        variant: Some(v),
    });
    Ok(flag)
}

fn is_empty_object(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.is_empty())
}

/// The one variant a request that no condition matches gets, if there is one: the last `else`
/// of the top `if` chain, or the default when targeting gives nothing.
fn fallback(
    node: &Value,
    default: Option<&str>,
    variants: &BTreeMap<String, Value>,
) -> Option<String> {
    match node {
        Value::String(s) if variants.contains_key(s) => Some(s.clone()),
        Value::Null => default.map(str::to_string),
        Value::Object(m) if m.len() == 1 => {
            let (op, args) = m.iter().next()?;
            let args = args.as_array()?;
            match op.as_str() {
                "if" | "?:" if args.len() % 2 == 1 => fallback(args.last()?, default, variants),
                "if" | "?:" => default.map(str::to_string),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Replaces `{"$ref": name}` with the named evaluator.
fn resolve_refs(v: &Value, evaluators: &Map<String, Value>, depth: usize) -> Result<Value, String> {
    if depth > 32 {
        return Err("`$ref` nesting deeper than 32 (a cycle?)".into());
    }
    Ok(match v {
        Value::Object(m) => {
            if let (1, Some(name)) = (m.len(), m.get("$ref")) {
                let name = name.as_str().ok_or("`$ref` must name an evaluator")?;
                let target = evaluators
                    .get(name)
                    .ok_or_else(|| format!("`$ref` to unknown evaluator `{name}`"))?;
                return resolve_refs(target, evaluators, depth + 1);
            }
            Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), resolve_refs(v, evaluators, depth + 1)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| resolve_refs(v, evaluators, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

struct Walk<'a> {
    flag: &'a mut Flag,
    settings: &'a ParseSettings,
    branch: usize,
}

impl Walk<'_> {
    /// Records what `node` (in a result position) can serve when `cond` holds.
    fn results(&mut self, node: &Value, cond: &Cond, path: &str) {
        match node {
            Value::String(s) if self.flag.variants.contains_key(s) => {
                self.serve(Some(s.clone()), cond, path)
            }
            Value::Object(m) if m.len() == 1 => {
                let Some((op, args)) = m.iter().next() else {
                    return;
                };
                let args: Vec<&Value> = match args {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                match op.as_str() {
                    "if" | "?:" => {
                        let mut i = 0;
                        while i + 1 < args.len() {
                            self.branch += 1;
                            let here = Cond::all([cond.clone(), condition(args[i], self.settings)]);
                            let label = format!("targeting rule {}", self.branch);
                            self.results(args[i + 1], &here, &label);
                            i += 2;
                        }
                        if i < args.len() {
                            self.results(args[i], cond, &format!("{path} (else)"));
                        }
                    }
                    "fractional" => {
                        for bucket in args.iter().filter_map(|a| a.as_array()) {
                            let weight = bucket.get(1).and_then(Value::as_f64).unwrap_or(1.0);
                            if let (Some(Value::String(v)), true) = (bucket.first(), weight > 0.0)
                                && self.flag.variants.contains_key(v)
                            {
                                self.serve(
                                    Some(v.clone()),
                                    cond,
                                    &format!("{path} (fractional {weight})"),
                                );
                            }
                        }
                    }
                    // Anything else computes a variant name at evaluation time: assume any variant.
                    _ => {
                        let all: Vec<String> = self.flag.variants.keys().cloned().collect();
                        for v in all {
                            self.serve(Some(v), cond, &format!("{path} (computed)"));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn serve(&mut self, variant: Option<String>, cond: &Cond, path: &str) {
        let value = variant
            .as_ref()
            .and_then(|v| self.flag.variants.get(v).cloned());
        let before = self.flag.served.len();
        // A target's condition says it all (`targetingKey in [a]`): no path label on it.
        self.flag.serve(cond, "", variant, value);
        if let Some(last) = self.flag.served.get_mut(before) {
            last.path = path.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::targeting::Reach;
    use super::*;

    fn parse(doc: &str) -> Vec<Flag> {
        parse_value(
            &serde_json::from_str(doc).unwrap(),
            &ParseSettings::for_tests(),
        )
        .unwrap()
    }

    #[test]
    fn if_branch_on_one_customer_is_narrow_and_on() {
        let flags = parse(
            r#"{"flags": {"exp-x": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["cust-4711"]]}, "on", "off"]}}}}"#,
        );
        let f = &flags[0];
        assert_eq!(f.targets.len(), 1);
        assert_eq!(f.targets[0].condition, "targetingKey in [`cust-4711`]");
        assert_eq!(f.targets[0].variant.as_deref(), Some("on"));
        assert_eq!(f.on_paths().len(), 1);
    }

    #[test]
    fn refs_resolve_and_fractional_is_not_narrow() {
        let flags = parse(
            r#"{"$evaluators": {"acme": {"ends_with": [{"var": "email"}, "@acme.com"]}},
                "flags": {"a": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                  "targeting": {"if": [{"$ref": "acme"}, "on", {"fractional": [["on", 0], ["off", 100]]}]}},
                  "b": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                  "targeting": {"fractional": [{"var": "targetingKey"}, ["on", 50], ["off", 50]]}}}}"#,
        );
        assert_eq!(flags[0].targets[0].condition, "email ends_with `@acme.com`");
        assert_eq!(flags[0].targets[0].reach, Reach::Group);
        assert_eq!(
            flags[0].on_paths().len(),
            1,
            "the 0-weight bucket serves nothing"
        );
        assert!(flags[1].targets.is_empty());
        assert_eq!(flags[1].on_paths().len(), 1);
    }

    #[test]
    fn non_id_conditions_and_unknown_refs() {
        let flags = parse(
            r#"{"flags": {"a": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                "targeting": {"if": [{"==": [{"var": "plan"}, "enterprise"]}, "on"]}}}}"#,
        );
        assert!(flags[0].targets.is_empty());
        let bad = serde_json::json!({"flags": {
            "a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on", "targeting": {"$ref": "nope"}},
            "b": {"state": "ON", "variants": {}},
            "c": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}
        }});
        let flags = parse_value(&bad, &ParseSettings::for_tests()).unwrap();
        let why = |i: usize| flags[i].broken.clone().unwrap_or_default();
        assert!(why(0).contains("unknown evaluator `nope`"), "{}", why(0));
        assert!(flags[0].enabled);
        assert!(why(1).contains("`state` is `ON`"), "{}", why(1));
        assert!(flags[2].broken.is_none());
        let not_flags = serde_json::json!({"flag": {}});
        assert!(parse_value(&not_flags, &ParseSettings::for_tests()).is_err());
    }

    #[test]
    fn targeting_everyone_already_gets_is_a_no_op() {
        let flags = parse(
            r#"{"flags": {"a": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on",
                "targeting": {"if": [{"==": [{"var": "email"}, "qa@x.com"]}, "on"]}},
                "b": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on",
                "targeting": {"if": [{"==": [{"var": "email"}, "qa@x.com"]}, "on", "off"]}}}}"#,
        );
        assert!(flags[0].is_no_op(&flags[0].targets[0]));
        assert!(
            !flags[1].is_no_op(&flags[1].targets[0]),
            "everyone else gets `off`"
        );
        assert!(
            flags[1].served.iter().all(|s| s.path != "default"),
            "the default is never reached: {:?}",
            flags[1].served
        );
    }
}
