//! The JSON Schema of the checklist format (`preflight schema`, `preflight.schema.json`),
//! generated from the types the checklist is read into, for editors: Taplo / Even Better TOML
//! read `#:schema ./preflight.schema.json` at the top of a checklist. Draft 7, which every
//! common consumer reads.
//!
//! The schema says what a single table may hold; what needs the whole checklist (`needs` that
//! name items, cycles, vars, services) is for `preflight validate`.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::{Meta, ServiceDef, VarTable};
use crate::checks::{KINDS, item_schema, section_schema};

/// A `[vars]` entry: a plain value or a table.
struct VarDefSchema;

impl JsonSchema for VarDefSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Var".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let table = generator.subschema_for::<VarTable>();
        json_schema!({
            "description": "a value (string, number or boolean), or a table like { env = \"NAME\", secret = true }",
            "anyOf": [
                { "type": ["string", "number", "boolean"] },
                table
            ]
        })
    }
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft07().into_generator()
}

/// TOML has no null (a key left out is how an option is not given): drops the `null` that
/// schemars adds to every `Option`.
fn drop_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if map.get("default").is_some_and(Value::is_null) {
                map.remove("default");
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types[0].clone();
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(options)) = map.get_mut("anyOf") {
                options.retain(|o| o.get("type").is_none_or(|t| t != "null"));
                if options.len() == 1 {
                    let Some(Value::Object(only)) = options.pop() else {
                        return;
                    };
                    map.remove("anyOf");
                    for (k, v) in only {
                        map.entry(k).or_insert(v);
                    }
                }
            }
            map.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

/// The schema of the whole checklist file.
pub fn checklist_schema() -> serde_json::Value {
    let mut g = generator();
    let meta = g.subschema_for::<Meta>();
    let var = g.subschema_for::<VarDefSchema>();
    let service = g.subschema_for::<ServiceDef>();
    let mut properties = serde_json::Map::new();
    properties.insert("checklist".into(), meta.into());
    properties.insert(
        "vars".into(),
        json_schema!({
            "description": "Variables: `${name}` in any string expands to the value.",
            "type": "object",
            "additionalProperties": var,
        })
        .into(),
    );
    properties.insert(
        "service".into(),
        json_schema!({
            "description": "Processes started before the items and stopped after them.",
            "type": "object",
            "propertyNames": { "pattern": crate::syntax::schema::NAME_PATTERN },
            "additionalProperties": service,
        })
        .into(),
    );
    let waiver = g.subschema_for::<super::waivers::Entry>();
    properties.insert(
        "waivers".into(),
        json_schema!({
            "description": "Waivers by item id: the item may fail without closing the gate until a date.",
            "type": "object",
            "additionalProperties": waiver,
        })
        .into(),
    );
    for kind in KINDS {
        if let Some(section) = section_schema(kind, &mut g) {
            properties.insert((*kind).into(), section.into());
        }
    }
    properties.insert(
        "include".into(),
        serde_json::json!({
            "description": "Checklists whose items (and vars, services) this one shares, relative to this file.",
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } }
            ]
        }),
    );
    // A profile replaces keys of the tables it names: every key optional, so its tables are
    // only said to be tables.
    let mut profile_tables = serde_json::Map::new();
    profile_tables.insert("vars".into(), properties["vars"].clone());
    for table in ["checklist", "service"].iter().chain(KINDS) {
        profile_tables.insert((*table).into(), serde_json::json!({ "type": "object" }));
    }
    properties.insert(
        "profile".into(),
        serde_json::json!({
            "description": "Profiles (`--profile NAME`): keys that replace the checklist's in one environment.",
            "type": "object",
            "propertyNames": { "pattern": crate::syntax::schema::NAME_PATTERN },
            "additionalProperties": {
                "type": "object",
                "additionalProperties": false,
                "properties": profile_tables,
            }
        }),
    );
    // At least one item: one kind's table with one item in it, or an `include` to bring them.
    let mut some_item: Vec<serde_json::Value> = KINDS
        .iter()
        .map(|k| serde_json::json!({ "required": [k], "properties": { *k: { "minProperties": 1 } } }))
        .collect();
    some_item.push(serde_json::json!({ "required": ["include"] }));
    let definitions = g.take_definitions(true);
    let schema = json_schema!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://github.com/preflight/preflight/preflight.schema.json",
        "title": "preflight checklist",
        "description": "A pre-release checklist run by `preflight run`; items are tables `[KIND.NAME]`.",
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
        "anyOf": some_item,
        "definitions": definitions,
    });
    let mut value = schema.to_value();
    drop_null(&mut value);
    value
}

/// The schema as `preflight schema` prints it and `preflight.schema.json` holds it.
pub fn json() -> String {
    serde_json::to_string_pretty(&checklist_schema()).unwrap_or_default()
}

/// The schema of one kind's item table, whole (its `description` and `properties` at the top).
pub fn item_schema_json(kind: &str) -> serde_json::Value {
    let mut value = item_schema(kind, &mut generator(), false)
        .map(Into::into)
        .unwrap_or_default();
    drop_null(&mut value);
    value
}
