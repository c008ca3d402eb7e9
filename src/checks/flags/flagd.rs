//! flagd flag definitions (OpenFeature): `flags{key: {state, variants, defaultVariant, targeting,
//! metadata}}`, `$evaluators` referenced by `{"$ref": name}`, set-level `metadata`; JSON or YAML.
//!
//! Targeting is JsonLogic. It is not evaluated here but read: which variant each `if` branch and
//! `fractional` bucket can serve, and which conditions single out individual ids.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::document::Document;
use super::{
    AuthScheme, Flag, FlagsItem, Loaded, NarrowTarget, ParseSettings, Served, SourceCx,
    SourceError, apply_metadata,
};

const DOCUMENT: Document = Document {
    format: "flagd flag definition",
    name: "flagd",
    file_word: "file",
    auth: AuthScheme::Bearer,
    parse: parse_value,
};

pub(super) async fn load(
    item: &FlagsItem,
    cx: &SourceCx<'_>,
    settings: &ParseSettings,
) -> Result<Loaded, SourceError> {
    DOCUMENT.load(item, cx, settings, |url| url, "").await
}

/// Parses a flagd document (YAML when the file name says so, else JSON).
pub fn parse_text(
    text: &str,
    path: &Path,
    settings: &ParseSettings,
) -> Result<Vec<Flag>, SourceError> {
    DOCUMENT.parse_text(text, path, settings)
}

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
        out.push(
            parse_flag(key, def, evaluators, set_meta, settings)
                .map_err(|e| format!("flag `{key}`: {e}"))?,
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
    flag.served.push(Served {
        path: "default".into(),
        variant: default_variant,
        value: flag.default_value.clone(),
    });
    if let Some(t) = def.get("targeting") {
        let resolved = resolve_refs(t, evaluators, 0)?;
        let mut walk = Walk {
            flag: &mut flag,
            settings,
            branch: 0,
        };
        walk.results(&resolved, &[], "targeting");
    }
    Ok(flag)
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
    /// Records what `node` (in a result position) can serve, under the narrow conditions `conds`.
    fn results(&mut self, node: &Value, conds: &[String], path: &str) {
        match node {
            Value::String(s) if self.flag.variants.contains_key(s) => {
                self.serve(Some(s.clone()), conds, path)
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
                            let mut here = conds.to_vec();
                            here.extend(narrow_conditions(args[i], self.settings));
                            let label = format!("targeting rule {}", self.branch);
                            self.results(args[i + 1], &here, &label);
                            i += 2;
                        }
                        if i < args.len() {
                            self.results(args[i], conds, &format!("{path} (else)"));
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
                                    conds,
                                    &format!("{path} (fractional {weight})"),
                                );
                            }
                        }
                    }
                    // Anything else computes a variant name at evaluation time: assume any variant.
                    _ => {
                        let all: Vec<String> = self.flag.variants.keys().cloned().collect();
                        for v in all {
                            self.serve(Some(v), conds, &format!("{path} (computed)"));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn serve(&mut self, variant: Option<String>, conds: &[String], path: &str) {
        let value = variant
            .as_ref()
            .and_then(|v| self.flag.variants.get(v).cloned());
        if !conds.is_empty() {
            self.flag.targets.push(NarrowTarget {
                condition: conds.join(" and "),
                variant: variant.clone(),
                value: value.clone(),
            });
        }
        self.flag.served.push(Served {
            path: path.to_string(),
            variant,
            value,
        });
    }
}

/// Conditions in `cond` that compare an id attribute with literal values: `targetingKey in [a, b]`.
pub fn narrow_conditions(cond: &Value, settings: &ParseSettings) -> Vec<String> {
    let mut out = Vec::new();
    collect_conditions(cond, settings, &mut out, 0);
    out
}

fn collect_conditions(node: &Value, settings: &ParseSettings, out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    let Value::Object(m) = node else { return };
    let Some((op, args)) = m.iter().next().filter(|_| m.len() == 1) else {
        return;
    };
    let args: Vec<&Value> = match args {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    match op.as_str() {
        "and" | "or" => {
            for a in args {
                collect_conditions(a, settings, out, depth + 1);
            }
        }
        "==" | "===" | "in" | "starts_with" | "ends_with" => {
            let var = args.iter().find_map(|a| var_name(a));
            let Some(var) = var.filter(|v| settings.is_id_attribute(v)) else {
                return;
            };
            let literals: Vec<String> = args
                .iter()
                .filter(|a| var_name(a).is_none())
                .flat_map(|a| match a {
                    Value::Array(list) => list.iter().map(literal).collect::<Vec<_>>(),
                    other => vec![literal(other)],
                })
                .collect();
            if literals.is_empty() {
                return;
            }
            let op = if op == "===" { "==" } else { op.as_str() };
            out.push(format!("{var} {op} [{}]", literals.join(", ")));
        }
        _ => {}
    }
}

fn var_name(v: &Value) -> Option<String> {
    let m = v.as_object()?;
    match m.get("var")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn literal(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            flags[0].targets[0].condition,
            "email ends_with [`@acme.com`]"
        );
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
        let bad = serde_json::json!({"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on",
            "targeting": {"$ref": "nope"}}}});
        let err = parse_value(&bad, &ParseSettings::for_tests()).unwrap_err();
        assert!(err.contains("unknown evaluator `nope`"), "{err}");
        let bad = serde_json::json!({"flags": {"a": {"state": "ON", "variants": {}}}});
        assert!(
            parse_value(&bad, &ParseSettings::for_tests())
                .unwrap_err()
                .contains("`state` is `ON`")
        );
    }
}
