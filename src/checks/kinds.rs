//! The list of item kinds: which top-level tables of a checklist hold items, and how each
//! kind's table is read. Adding a kind = a module and a line in [`KINDS`] and [`KindSection`].

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer};
use toml::Spanned;

use super::{Check, browser, command, flags, http, manual, rollback, soak};
use crate::syntax::{Common, ItemConfig, Table};

/// Every item kind, as it is spelled in the checklist (`[http.NAME]`, ...).
pub const KINDS: &[&str] = &[
    "http", "command", "manual", "rollback", "browser", "flags", "soak",
];

/// One item as read from its kind's table, before the checklist checks names and `needs`.
pub struct ReadItem {
    pub kind: &'static str,
    pub name: Spanned<String>,
    pub common: Common,
    pub check: Arc<dyn Check>,
}

impl fmt::Debug for ReadItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name.get_ref())
    }
}

/// Reads the table of one kind (one of [`KINDS`]) into its items.
pub struct KindSection(pub &'static str);

impl<'de> DeserializeSeed<'de> for KindSection {
    type Value = Vec<ReadItem>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<ReadItem>, D::Error> {
        let kind = self.0;
        match kind {
            "http" => items::<http::HttpItem, D>(kind, d),
            "command" => items::<command::CommandItem, D>(kind, d),
            "manual" => items::<manual::ManualItem, D>(kind, d),
            "rollback" => items::<rollback::RollbackItem, D>(kind, d),
            // `[browser]` mixes run-wide settings keys with `[browser.NAME]` items.
            "browser" => Ok(browser::BrowserSection::deserialize(d)?
                .items
                .into_iter()
                .map(|(name, cfg)| read_item(kind, name, cfg))
                .collect()),
            "flags" => items::<flags::FlagsItem, D>(kind, d),
            "soak" => items::<soak::SoakItem, D>(kind, d),
            other => unreachable!("`{other}` is not in KINDS"),
        }
    }
}

fn items<'de, C, D>(kind: &'static str, d: D) -> Result<Vec<ReadItem>, D::Error>
where
    C: Deserialize<'de> + ItemConfig + Check,
    D: Deserializer<'de>,
{
    let section = IndexMap::<Spanned<String>, Table<C>>::deserialize(d)?;
    Ok(section
        .into_iter()
        .map(|(name, Table(cfg))| read_item(kind, name, cfg))
        .collect())
}

fn read_item<C: ItemConfig + Check>(kind: &'static str, name: Spanned<String>, cfg: C) -> ReadItem {
    ReadItem {
        kind,
        name,
        common: cfg.common(),
        check: Arc::new(cfg),
    }
}

/// The JSON Schema of one `[KIND.NAME]` table, from its configuration type: a `$ref` into the
/// generator's definitions when `subschema`, else the whole schema (for `kinds`/`explain`).
pub fn item_schema(
    kind: &str,
    generator: &mut schemars::SchemaGenerator,
    subschema: bool,
) -> Option<schemars::Schema> {
    fn of<T: schemars::JsonSchema>(
        g: &mut schemars::SchemaGenerator,
        sub: bool,
    ) -> schemars::Schema {
        if sub {
            g.subschema_for::<T>()
        } else {
            g.root_schema_for::<T>()
        }
    }
    Some(match kind {
        "http" => of::<http::HttpItem>(generator, subschema),
        "command" => of::<command::CommandItem>(generator, subschema),
        "manual" => of::<manual::ManualItem>(generator, subschema),
        "rollback" => of::<rollback::RollbackItem>(generator, subschema),
        "browser" => of::<browser::BrowserItem>(generator, subschema),
        "flags" => of::<flags::FlagsItem>(generator, subschema),
        "soak" => of::<soak::SoakItem>(generator, subschema),
        _ => return None,
    })
}

/// The JSON Schema of a kind's whole table: items by name, and for `[browser]` its run-wide
/// settings keys beside them.
pub fn section_schema(
    kind: &str,
    generator: &mut schemars::SchemaGenerator,
) -> Option<schemars::Schema> {
    let item = item_schema(kind, generator, true)?;
    let mut section = schemars::json_schema!({
        "type": "object",
        "propertyNames": { "pattern": crate::syntax::schema::NAME_PATTERN },
        "additionalProperties": item,
    });
    if kind == "browser" {
        let settings = generator.root_schema_for::<browser::BrowserSettings>();
        if let Some(props) = settings.get("properties") {
            section.insert("properties".into(), props.clone());
        }
    }
    Some(section)
}
