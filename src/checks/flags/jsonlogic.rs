//! JsonLogic conditions (flagd targeting) read as [`Cond`]s: every comparison is kept in the
//! text; comparisons of an id attribute with literals decide how narrow the condition is.

use serde_json::Value;

use super::ParseSettings;
use super::targeting::{Cond, Matching, Reach, compare, compare_one};

/// The condition `node` as reports show it, and how narrow it is.
pub fn condition(node: &Value, settings: &ParseSettings) -> Cond {
    condition_at(node, settings, 0)
}

fn condition_at(node: &Value, settings: &ParseSettings, depth: usize) -> Cond {
    let shown = || Cond::new(short(node), Reach::Broad);
    if depth > 64 {
        return shown();
    }
    let Value::Object(m) = node else {
        return match node {
            Value::Bool(false) | Value::Null => Cond::never("false"),
            _ => Cond::always(),
        };
    };
    let Some((op, args)) = m.iter().next().filter(|_| m.len() == 1) else {
        return shown();
    };
    let args: Vec<&Value> = match args {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let parts = || args.iter().map(|a| condition_at(a, settings, depth + 1));
    let first = args.first().copied();
    let second = args.get(1).copied();
    match op.as_str() {
        "and" => Cond::all(parts()),
        "or" => Cond::any(parts()),
        "!" => first.map_or_else(shown, |a| condition_at(a, settings, depth + 1).not()),
        "!!" => first.map_or_else(shown, |a| condition_at(a, settings, depth + 1)),
        "==" | "===" => match (first, second) {
            (Some(a), Some(b)) => match (var_name(a), var_name(b)) {
                (Some(var), None) => {
                    compare_one(settings, &var, "==", Matching::Equals, literal(b))
                }
                (None, Some(var)) => {
                    compare_one(settings, &var, "==", Matching::Equals, literal(a))
                }
                _ => shown(),
            },
            _ => shown(),
        },
        // `in` is list membership with a list, and a substring test with a string.
        "in" => match (first, second) {
            (Some(a), Some(Value::Array(list))) if var_name(a).is_some() => {
                let values: Vec<String> = list.iter().map(literal).collect();
                let var = var_name(a).unwrap_or_default();
                compare(settings, &var, "in", Matching::Equals, &values)
            }
            (Some(needle), Some(hay)) if var_name(hay).is_some() && var_name(needle).is_none() => {
                let var = var_name(hay).unwrap_or_default();
                compare_one(
                    settings,
                    &var,
                    "contains",
                    Matching::Substring,
                    literal(needle),
                )
            }
            (Some(a), Some(hay @ Value::String(_))) if var_name(a).is_some() => {
                let var = var_name(a).unwrap_or_default();
                compare_one(
                    settings,
                    &var,
                    "is part of",
                    Matching::Substring,
                    literal(hay),
                )
            }
            _ => shown(),
        },
        "starts_with" | "ends_with" => match (first.and_then(var_name), second) {
            (Some(var), Some(lit)) if var_name(lit).is_none() => {
                compare_one(settings, &var, op, Matching::Substring, literal(lit))
            }
            _ => shown(),
        },
        _ => shown(),
    }
}

/// Compact JSON of a condition not analysed further (`sem_ver`, `<`, custom operators).
fn short(node: &Value) -> String {
    let s = node.to_string();
    if s.len() > 80 {
        format!("{}…", &s[..super::floor_boundary(&s, 77)])
    } else {
        s
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
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_keep_every_part_and_tell_substrings_from_lists() {
        let st = ParseSettings::for_tests();
        let c = condition(
            &json!({"and": [{"==": [{"var": "plan"}, "pro"]}, {"in": ["@corp.com", {"var": "email"}]}]}),
            &st,
        );
        assert_eq!(c.text, "plan == `pro` and email contains `@corp.com`");
        assert_eq!(c.reach, Reach::Group);
        let c = condition(&json!({"in": [{"var": "id"}, ["1", 2]]}), &st);
        assert_eq!(
            (c.text.as_str(), c.reach),
            ("id in [`1`, `2`]", Reach::Individuals)
        );
        let c = condition(&json!({"!": {"in": [{"var": "userId"}, ["u"]]}}), &st);
        assert_eq!(c.reach, Reach::Broad);
        let c = condition(&json!({"in": [{"var": "userId"}, []]}), &st);
        assert!(!c.reachable());
        let c = condition(
            &json!({"sem_ver": [{"var": "version"}, ">=", "1.0.0"]}),
            &st,
        );
        assert_eq!(c.reach, Reach::Broad);
    }
}
