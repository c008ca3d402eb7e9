//! The `[rollback.NAME]` checklist keys.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::migrations::Tool;
use crate::syntax::{Program, Template};

crate::item_config! {
    /// The release can be rolled back: previous release, reversible migrations, dry runs, artifact.
    pub struct RollbackItem {
        /// The repository (default: the checklist's directory, discovered upward).
        #[serde(default)]
        pub repo: Option<Template>,
        /// Release tags (glob; default `v*`).
        #[serde(default)]
        pub tag_pattern: Option<TagPattern>,
        /// Count pre-release tags (`v2.0.0-rc.1`) as previous releases.
        #[serde(default)]
        pub include_prereleases: bool,
        /// Fail when there is no previous release (default: a first release passes with a note).
        #[serde(default)]
        pub require_previous: bool,
        /// Fail when HEAD has no release tag.
        #[serde(default)]
        pub require_tag: bool,
        #[serde(default)]
        pub migrations: Option<MigrationsConfig>,
        /// How a rollback happens: `down` (revert the migrations; default) or `compatible`
        /// (redeploy the previous build on the new schema).
        #[serde(default)]
        pub strategy: Strategy,
        /// What dangerous statements do: `fail` (default) or `warn`.
        #[serde(default)]
        pub dangerous: DangerousMode,
        /// What findings inside strong_migrations' `safety_assured` do: `warn` (default) or
        /// `fail`.
        #[serde(default)]
        pub safety_assured: AcknowledgedMode,
        /// Also report deploy-time lock risks (as warnings, never failures).
        #[serde(default)]
        pub lock_risks: bool,
        /// Accepted exceptions, each with a reason.
        #[serde(default)]
        pub allow: Vec<AllowEntry>,
        /// Commands that must exit 0 (strings run by `sh -c`, or argv arrays).
        #[serde(default)]
        pub dry_run: Vec<Program>,
        /// A path or http(s) URL of the previous release's build, which must exist.
        #[serde(default)]
        pub artifact: Option<Template>,
    }
}

/// A glob for release tag names, checked when the checklist is read.
#[derive(Debug, Clone)]
pub struct TagPattern(pub glob::Pattern);

crate::string_schema!(
    TagPattern,
    "TagPattern",
    "a glob for release tag names, like `v*`"
);

impl<'de> Deserialize<'de> for TagPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Template::deserialize(d)?;
        glob::Pattern::new(&t).map(TagPattern).map_err(|e| {
            de::Error::custom(format!("invalid tag_pattern `{}`: {}", t.as_str(), e.msg))
        })
    }
}

/// `migrations = { dir = "migrations", tool = "sqlx" }`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationsConfig {
    /// Relative to the checklist's directory; must be inside the repository.
    pub dir: Template,
    #[serde(default)]
    pub tool: ToolSetting,
}

/// The migration tool, or `auto` to tell from the files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolSetting {
    #[default]
    Auto,
    Sqlx,
    Diesel,
    Flyway,
    Rails,
    Django,
    Alembic,
}

impl ToolSetting {
    pub fn tool(self) -> Option<Tool> {
        match self {
            ToolSetting::Auto => None,
            ToolSetting::Sqlx => Some(Tool::Sqlx),
            ToolSetting::Diesel => Some(Tool::Diesel),
            ToolSetting::Flyway => Some(Tool::Flyway),
            ToolSetting::Rails => Some(Tool::Rails),
            ToolSetting::Django => Some(Tool::Django),
            ToolSetting::Alembic => Some(Tool::Alembic),
        }
    }
}

/// Whether dangerous statements fail the item or only warn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DangerousMode {
    #[default]
    Fail,
    Warn,
}

/// How the previous release comes back.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Run the down migrations, then deploy the previous build: every migration needs a way
    /// back, and data it destroys is gone.
    #[default]
    Down,
    /// Deploy the previous build on the new schema: no down migrations, but the schema must
    /// stay one the previous build can run against.
    Compatible,
}

/// What reviewed (acknowledged) findings do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AcknowledgedMode {
    #[default]
    Warn,
    Fail,
}

/// An accepted exception: `{ migration = "20250101120000_drop_legacy", reason = "..." }`.
#[derive(Debug, Clone)]
pub struct AllowEntry {
    /// A migration id (`20250101120000_drop_legacy`, `V3`), file name or path.
    pub migration: String,
    pub reason: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AllowTable {
    migration: String,
    reason: String,
}

/// Written as an [`AllowTable`].
impl schemars::JsonSchema for AllowEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AllowEntry".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        AllowTable::json_schema(generator)
    }
}

impl<'de> Deserialize<'de> for AllowEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AllowEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a table like { migration = \"20250101120000_drop_legacy\", reason = \"...\" }",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AllowEntry, E> {
                Err(E::custom(format!(
                    "allow entry `{s}` needs a reason: write {{ migration = \"{s}\", reason = \"why this is safe\" }}"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AllowEntry, A::Error> {
                let t = AllowTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if t.reason.trim().is_empty() {
                    return Err(de::Error::custom(format!(
                        "allow entry `{}` has an empty reason",
                        t.migration
                    )));
                }
                if t.migration.trim().is_empty() {
                    return Err(de::Error::custom("allow entry has an empty `migration`"));
                }
                Ok(AllowEntry {
                    migration: t.migration,
                    reason: t.reason,
                })
            }
        }
        d.deserialize_any(V)
    }
}
