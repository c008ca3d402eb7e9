//! The item's configuration: the source, its settings and the rules' tables.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checks::http::{HttpUrl, JsonPointer};
use crate::syntax::{Dur, Pattern, Template};

crate::item_config! {
    tls;
    /// A flag source and the rules its flags must hold.
    #[derive(Clone)]
    pub struct FlagsItem {
        /// Where the flags come from: `flagd`, `ofrep`, `unleash`, `launchdarkly`, `posthog`,
        /// `growthbook`, `flagsmith`, `configcat` or `plain`.
        #[schemars(with = "SourceKind")]
        pub source: toml::Spanned<SourceKind>,
        /// A flag file (relative to the checklist's directory).
        #[serde(default)]
        pub file: Option<Template>,
        /// The source's URL (OFREP and Unleash: the base URL; others: the full URL).
        #[serde(default)]
        pub url: Option<HttpUrl>,
        /// API token (use a secret var). Sent as `auth` says.
        #[serde(default)]
        pub token: Option<Template>,
        /// How the token is sent: `bearer`, `api-key` (`X-API-Key`) or `raw` (`Authorization: TOKEN`).
        #[serde(default)]
        pub auth: Option<AuthScheme>,
        /// LaunchDarkly: the environment audited (default `production`).
        #[serde(default)]
        pub environment: Option<Template>,
        /// Plain files: a JSON pointer to the flag table (default: the whole document).
        #[serde(default)]
        pub pointer: Option<JsonPointer>,
        /// Plain files: only keys matching this regex are flags; capture group 1, if any, is the flag key.
        #[serde(default)]
        pub key_pattern: Option<Pattern>,
        /// OFREP: the evaluation context of an ordinary request.
        #[serde(default)]
        pub baseline: Option<IndexMap<String, Value>>,
        /// OFREP: contexts of listed customers; a value no anonymous twin of the context gets is
        /// individual targeting.
        #[serde(default)]
        pub contexts: Vec<IndexMap<String, Value>>,
        /// Context attributes that identify one user, customer, account or event.
        #[serde(default)]
        pub id_attributes: Option<Vec<String>>,
        /// Flag keys treated as released whatever the source says.
        #[serde(default)]
        pub released: Vec<String>,
        /// Tags (LaunchDarkly) that mark a flag released (default `released`, `release`, `ga`, `live`).
        #[serde(default)]
        pub released_tags: Option<Vec<String>>,
        #[serde(default)]
        pub experiments: Option<ExperimentsRule>,
        #[serde(default)]
        pub narrow_targeting: Option<NarrowRule>,
        #[serde(default)]
        pub group_targeting: Option<NarrowRule>,
        #[serde(default)]
        pub broken: Option<NarrowRule>,
        #[serde(default)]
        pub allowlist: Option<AllowlistRule>,
        #[serde(default)]
        pub drift: Option<DriftRule>,
        #[serde(default)]
        pub age: Option<AgeRule>,
        #[serde(default)]
        pub code_refs: Option<CodeRefsRule>,
    }
}

/// The kinds of flag source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Flagd,
    Ofrep,
    Unleash,
    Launchdarkly,
    Posthog,
    Growthbook,
    Flagsmith,
    Configcat,
    Plain,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Flagd => "flagd",
            SourceKind::Ofrep => "ofrep",
            SourceKind::Unleash => "unleash",
            SourceKind::Launchdarkly => "launchdarkly",
            SourceKind::Posthog => "posthog",
            SourceKind::Growthbook => "growthbook",
            SourceKind::Flagsmith => "flagsmith",
            SourceKind::Configcat => "configcat",
            SourceKind::Plain => "plain",
        })
    }
}

/// How a token is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthScheme {
    /// `Authorization: Bearer TOKEN`
    Bearer,
    /// `X-API-Key: TOKEN`
    ApiKey,
    /// `Authorization: TOKEN` (Unleash, LaunchDarkly)
    Raw,
    /// `X-Environment-Key: TOKEN` (Flagsmith's server-side environment key)
    EnvironmentKey,
}

/// What a broken rule does to the item.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, PartialOrd, Ord, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule is not checked.
    Off,
    /// A finding is a warning.
    Warn,
    /// A finding fails the item.
    Fail,
}

/// Rule 1: experimental flags must be off.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentsRule {
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Key patterns that mark a flag experimental (default `^(exp|experiment)[-_.]`).
    #[serde(default)]
    pub patterns: Option<Vec<Pattern>>,
    /// LaunchDarkly tags that mark a flag experimental (default `experiment`, `experiments`).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Rule 2: no per-customer targeting on unreleased flags (and, as `group_targeting`, no
/// targeting of a group picked by part of an id); also the `broken` rule: flags the source
/// cannot evaluate. Only a severity.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NarrowRule {
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Rule 3: every enabled flag is approved.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistRule {
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub flags: Vec<String>,
    /// A file of approved keys, one per line (`#` starts a comment).
    #[serde(default)]
    pub file: Option<Template>,
}

/// Rule 4: changes since the last snapshot are approved.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftRule {
    #[serde(default)]
    pub severity: Option<Severity>,
    /// The lock file written by `preflight flags snapshot`.
    pub lock: Template,
    /// A TOML file of `[[approval]]` entries (`flag`, `reason`, optional `to`, `by`).
    #[serde(default)]
    pub approvals: Option<Template>,
}

/// Rule 5: flags past their type's lifetime.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgeRule {
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Lifetime by flag type; defaults: release 40d, experiment 40d, operational 7d.
    #[serde(default)]
    pub lifetimes: IndexMap<String, Dur>,
    /// For flags with no type (default: the `release` lifetime).
    #[serde(default)]
    pub default_lifetime: Option<Dur>,
    /// File sources: date flags by the first git commit that added them (default true).
    #[serde(default)]
    pub git: Option<bool>,
}

/// Rule 6: flag keys referenced in the code.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRefsRule {
    /// Severity of a referenced key the source does not know.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Severity of a stale flag still referenced (default warn).
    #[serde(default)]
    pub stale: Option<Severity>,
    /// Files to scan, relative to the checklist's directory.
    pub globs: Vec<Template>,
    /// A regex whose group `key` (or group 1) is a flag key.
    pub pattern: Pattern,
}
