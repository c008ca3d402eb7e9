//! YAML flag files read into JSON values, on yaml-rust2's event parser (pure Rust, YAML 1.2:
//! `on`, `off`, `yes` are strings, as the flag SDKs read them). Anchors, aliases and merge keys
//! (`<<`) are resolved; duplicate keys, several documents and alias bombs are errors.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::Yaml;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Values a document may expand to, aliases included: far above any flag file, far below memory.
const MAX_VALUES: usize = 1_000_000;
const MAX_DEPTH: usize = 256;

/// The one YAML document in `text` as JSON (an empty file is `null`).
pub fn to_json(text: &str) -> Result<Value, String> {
    let mut b = Builder::default();
    Parser::new_from_str(text)
        .load(&mut b, true)
        .map_err(|e| e.to_string())?;
    if let Some(e) = b.error {
        return Err(e);
    }
    match b.docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(b.docs.remove(0)),
        n => Err(format!("{n} YAML documents (`---`); expected one")),
    }
}

/// A collection being read, and how many values it holds so far.
enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        size: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        /// Mappings named by `<<`, merged under the explicit keys at the end.
        merges: Vec<Value>,
        anchor: usize,
        size: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    docs: Vec<Value>,
    values: usize,
    error: Option<String>,
}

impl Builder {
    fn fail(&mut self, mark: Marker, what: String) {
        if self.error.is_none() {
            self.error = Some(format!(
                "{what} at line {} column {}",
                mark.line(),
                mark.col() + 1
            ));
        }
    }

    /// Places a finished value (of `size` values) where the parser is.
    fn add(&mut self, value: Value, anchor: usize, size: usize, mark: Marker) {
        self.values += size;
        if self.values > MAX_VALUES {
            return self.fail(
                mark,
                format!("more than {MAX_VALUES} values (an alias bomb?)"),
            );
        }
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
        let error = match self.stack.last_mut() {
            None => {
                self.docs.push(value);
                None
            }
            Some(Frame::Seq { items, size: s, .. }) => {
                items.push(value);
                *s += size;
                None
            }
            Some(Frame::Map {
                map,
                key,
                merges,
                size: s,
                ..
            }) => {
                *s += size;
                match key.take() {
                    None => match key_text(&value) {
                        Some(k) => {
                            *key = Some(k);
                            None
                        }
                        None => Some("a mapping key must be a scalar".to_string()),
                    },
                    Some(k) if k == "<<" => {
                        match value {
                            Value::Array(a) => merges.extend(a),
                            other => merges.push(other),
                        }
                        None
                    }
                    Some(k) => {
                        let dup = map.contains_key(&k);
                        map.insert(k.clone(), value);
                        dup.then(|| format!("duplicate key `{k}`"))
                    }
                }
            }
        };
        if let Some(e) = error {
            self.fail(mark, e);
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        if self.stack.len() > MAX_DEPTH {
            return self.fail(mark, format!("nested deeper than {MAX_DEPTH}"));
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.add(scalar(text, style, tag.as_ref()), anchor, 1, mark)
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some((v, size)) => self.add(v, 0, size, mark),
                None => self.fail(mark, "an alias to an unknown anchor".into()),
            },
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                items: Vec::new(),
                anchor,
                size: 0,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                map: Map::new(),
                key: None,
                merges: Vec::new(),
                anchor,
                size: 0,
            }),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    items,
                    anchor,
                    size,
                }) => {
                    self.values -= size;
                    self.add(Value::Array(items), anchor, size + 1, mark)
                }
                Some(Frame::Map {
                    mut map,
                    merges,
                    anchor,
                    size,
                    ..
                }) => {
                    for m in merges {
                        let Value::Object(m) = m else {
                            return self.fail(mark, "`<<` must name mappings".into());
                        };
                        for (k, v) in m {
                            map.entry(k).or_insert(v);
                        }
                    }
                    self.values -= size;
                    self.add(Value::Object(map), anchor, size + 1, mark)
                }
                None => {}
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// A scalar by the core schema: quoted scalars and `!!str` are strings.
fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    let is_str = tag.is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
    if style != TScalarStyle::Plain || is_str {
        return Value::String(text);
    }
    match Yaml::from_str(&text) {
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::String(r), Value::Number),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Null => Value::Null,
        _ => Value::String(text),
    }
}

/// A mapping key as JSON's string key.
fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".into()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_2_scalars_anchors_and_merge_keys() {
        let v = to_json(
            "base: &base\n  on: true\n  variations: [true, false]\nflags:\n  a:\n    <<: *base\n    on: false\n  b: *base\nyes: no\nn: 0x10\nf: 1.5\ns: '1'\nx: ~\n",
        )
        .unwrap();
        assert_eq!(
            v["flags"]["a"],
            json!({"on": false, "variations": [true, false]})
        );
        assert_eq!(v["flags"]["b"]["on"], json!(true));
        assert_eq!(v["yes"], json!("no"), "YAML 1.2: `yes`/`no` are strings");
        assert_eq!(
            (v["n"].clone(), v["f"].clone(), v["s"].clone()),
            (json!(16), json!(1.5), json!("1"))
        );
        assert_eq!(v["x"], Value::Null);
        assert_eq!(to_json("").unwrap(), Value::Null);
    }

    #[test]
    fn bad_documents_are_errors_with_a_place() {
        let e = to_json("a: 1\na: 2\n").unwrap_err();
        assert!(
            e.contains("duplicate key `a`") && e.contains("line 2"),
            "{e}"
        );
        assert!(to_json("a: [1, 2\n").unwrap_err().contains("line"));
        assert!(
            to_json("a: 1\n---\nb: 2\n")
                .unwrap_err()
                .contains("2 YAML documents")
        );
        assert!(
            to_json("? [a]\n: 1\n")
                .unwrap_err()
                .contains("must be a scalar")
        );
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            bomb.push_str(&format!(
                "b{i}: &b{i} [{}]\n",
                vec![
                    format!(
                        "*{}",
                        if i == 1 {
                            "a".to_string()
                        } else {
                            format!("b{}", i - 1)
                        }
                    );
                    10
                ]
                .join(", ")
            ));
        }
        assert!(to_json(&bomb).unwrap_err().contains("alias bomb"));
        assert!(to_json(&"[".repeat(1000)).is_err());
    }
}
