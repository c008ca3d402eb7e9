//! `[flags.NAME]`: audits the feature-flag state production will run with.
//!
//! Every source (flagd file, OFREP probe, Unleash, LaunchDarkly, a plain file) is normalised
//! into one model ([`Flag`]); the rules (experiments off, no narrow targeting on unreleased
//! flags, allowlist, drift from the last snapshot, age, code references) run on that model.

mod age;
mod coderefs;
mod document;
pub mod flagd;
mod http;
pub mod launchdarkly;
pub mod ofrep;
pub mod plain;
pub mod snapshot;
pub mod unleash;

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::http::{HttpUrl, JsonPointer};
use super::{Check, CheckContext, CheckOutput, ValidateContext};
use crate::syntax::{Dur, ItemErrorKind, Pattern, Template};

pub use snapshot::{LockFile, lock_file};

crate::item_config! {
    /// A flag source and the rules its flags must hold.
    #[derive(Clone)]
    pub struct FlagsItem {
        /// Where the flags come from: `flagd`, `ofrep`, `unleash`, `launchdarkly` or `plain`.
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
        /// OFREP: contexts of listed customers; a value differing from the baseline is targeting.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Flagd,
    Ofrep,
    Unleash,
    Launchdarkly,
    Plain,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Flagd => "flagd",
            SourceKind::Ofrep => "ofrep",
            SourceKind::Unleash => "unleash",
            SourceKind::Launchdarkly => "launchdarkly",
            SourceKind::Plain => "plain",
        })
    }
}

/// How a token is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthScheme {
    /// `Authorization: Bearer TOKEN`
    Bearer,
    /// `X-API-Key: TOKEN`
    ApiKey,
    /// `Authorization: TOKEN` (Unleash, LaunchDarkly)
    Raw,
}

/// What a broken rule does to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, PartialOrd, Ord)]
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentsRule {
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Key patterns that mark a flag experimental (default `^(exp|experiment)[-_.]`).
    #[serde(default)]
    pub patterns: Option<Vec<Pattern>>,
}

/// Rule 2: no per-customer targeting on unreleased flags.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NarrowRule {
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Rule 3: every enabled flag is approved.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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

/// One flag, whatever the source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Flag {
    pub key: String,
    /// The flag is switched on in the audited environment.
    pub enabled: bool,
    pub default_variant: Option<String>,
    pub default_value: Option<Value>,
    pub variants: BTreeMap<String, Value>,
    /// The variant served when the flag is switched off, when the source names one.
    pub off_variant: Option<String>,
    /// `release`, `experiment`, `operational`, `kill-switch`, `permission`, ...
    pub flag_type: Option<String>,
    /// Why the source marks this flag experimental.
    pub experimental: Option<String>,
    pub released: bool,
    pub stale: bool,
    pub created: Option<DateTime<Utc>>,
    /// Where `created` comes from.
    pub created_from: Option<String>,
    /// What each path serves while the flag is on.
    pub served: Vec<Served>,
    /// Targeting on attributes that identify one user/customer/event.
    pub targets: Vec<NarrowTarget>,
}

/// One evaluation path and what it serves.
#[derive(Debug, Clone, Serialize)]
pub struct Served {
    /// `default`, `targeting rule 1`, `context targetingKey=x`, ...
    pub path: String,
    pub variant: Option<String>,
    pub value: Option<Value>,
}

/// Targeting that picks out individual users/customers/events.
#[derive(Debug, Clone, Serialize)]
pub struct NarrowTarget {
    /// `targetingKey in [cust-4711]`.
    pub condition: String,
    pub variant: Option<String>,
    pub value: Option<Value>,
}

impl Flag {
    /// Whether serving `variant`/`value` means "off".
    pub fn is_off(&self, variant: Option<&str>, value: Option<&Value>) -> bool {
        if variant.is_some() && variant == self.off_variant.as_deref() {
            return true;
        }
        if let Some(v) = value {
            match v {
                Value::Bool(b) => return !b,
                Value::Null => return true,
                Value::String(s)
                    if matches!(
                        s.to_ascii_lowercase().as_str(),
                        "off" | "false" | "disabled"
                    ) =>
                {
                    return true;
                }
                _ => {}
            }
        }
        variant.is_some_and(|n| {
            matches!(
                n.to_ascii_lowercase().as_str(),
                "off" | "false" | "disabled" | "control"
            )
        })
    }

    /// Paths that serve something other than "off" while the flag is enabled.
    pub fn on_paths(&self) -> Vec<&Served> {
        if !self.enabled {
            return Vec::new();
        }
        self.served
            .iter()
            .filter(|s| !self.is_off(s.variant.as_deref(), s.value.as_ref()))
            .collect()
    }
}

/// `variant` (`value`) for reports.
pub fn describe_served(variant: Option<&str>, value: Option<&Value>) -> String {
    match (variant, value) {
        (Some(n), Some(v)) => format!("variant `{n}` ({})", short_json(v)),
        (Some(n), None) => format!("variant `{n}`"),
        (None, Some(v)) => format!("value {}", short_json(v)),
        (None, None) => "no value".into(),
    }
}

fn short_json(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..floor_boundary(&s, 57)])
    } else {
        s
    }
}

/// The largest char boundary at or below `at` (`str::floor_char_boundary` needs Rust 1.91).
pub(crate) fn floor_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Attribute names that identify one user, customer, account or event (compared without case,
/// `_`, `-` and `.`, so `customer.id`, `customer_id` and `customerId` are the same).
const DEFAULT_ID_ATTRIBUTES: &[&str] = &[
    "targetingKey",
    "key",
    "userId",
    "userIds",
    "customerId",
    "accountId",
    "tenantId",
    "orgId",
    "organizationId",
    "companyId",
    "eventId",
    "sessionId",
    "email",
];

fn normalise_attr(a: &str) -> String {
    a.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | '$'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Settings the source parsers need.
#[derive(Debug, Clone)]
pub struct ParseSettings {
    id_attributes: Vec<String>,
    released_tags: Vec<String>,
    environment: String,
}

impl ParseSettings {
    fn from_item(item: &FlagsItem) -> Self {
        let ids: Vec<String> = match &item.id_attributes {
            Some(list) => list.iter().map(|a| normalise_attr(a)).collect(),
            None => DEFAULT_ID_ATTRIBUTES
                .iter()
                .map(|a| normalise_attr(a))
                .collect(),
        };
        let tags = item.released_tags.clone().unwrap_or_else(|| {
            ["released", "release", "ga", "live"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        ParseSettings {
            id_attributes: ids,
            released_tags: tags.iter().map(|t| t.to_ascii_lowercase()).collect(),
            environment: item
                .environment
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "production".into()),
        }
    }

    /// Whether `attribute` identifies one user/customer/event.
    pub fn is_id_attribute(&self, attribute: &str) -> bool {
        let n = normalise_attr(attribute);
        // `customer.id` → `customerid`; also the last dotted segment (`user.email` → `email`).
        let last = attribute
            .rsplit('.')
            .next()
            .map(normalise_attr)
            .unwrap_or_default();
        self.id_attributes.iter().any(|a| *a == n || *a == last)
    }

    #[cfg(test)]
    pub fn for_tests() -> Self {
        ParseSettings {
            id_attributes: DEFAULT_ID_ATTRIBUTES
                .iter()
                .map(|a| normalise_attr(a))
                .collect(),
            released_tags: vec!["released".into(), "release".into()],
            environment: "production".into(),
        }
    }
}

/// Reads classification facts from a flagd/OFREP-style `metadata` object.
pub fn apply_metadata(flag: &mut Flag, meta: &serde_json::Map<String, Value>) {
    let text = |k: &str| {
        meta.get(k)
            .and_then(Value::as_str)
            .map(|s| s.to_ascii_lowercase())
    };
    let truthy = |k: &str| {
        meta.get(k)
            .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"))
    };
    for k in ["type", "flagType", "flag_type", "kind", "category"] {
        if let Some(t) = text(k) {
            if t == "experiment" || t == "experimental" {
                flag.experimental = Some(format!("metadata `{k}` = `{t}`"));
            }
            flag.flag_type = Some(t);
            break;
        }
    }
    if truthy("experiment") {
        flag.experimental = Some("metadata `experiment` = true".into());
        flag.flag_type.get_or_insert_with(|| "experiment".into());
    }
    if truthy("released") {
        flag.released = true;
    }
    for k in ["lifecycle", "stage", "status"] {
        if let Some(s) = text(k) {
            if matches!(
                s.as_str(),
                "released" | "live" | "ga" | "completed" | "complete"
            ) {
                flag.released = true;
            }
            if matches!(s.as_str(), "stale" | "deprecated" | "archived") {
                flag.stale = true;
            }
        }
    }
    if truthy("stale") || truthy("deprecated") {
        flag.stale = true;
    }
    for k in ["createdAt", "created", "creationDate", "created_at"] {
        if let Some(d) = meta.get(k).and_then(parse_date) {
            flag.created = Some(d);
            flag.created_from = Some(format!("metadata `{k}`"));
            break;
        }
    }
}

/// An RFC 3339 timestamp, a `YYYY-MM-DD` date, or milliseconds since the epoch.
pub fn parse_date(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.to_utc())
            .ok()
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc())
            }),
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        _ => None,
    }
}

/// Why flags could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("`{what}` is not a valid {format}: {message}")]
    Parse {
        what: String,
        format: String,
        message: String,
    },
    #[error("{what}: {message}")]
    Http { what: String, message: String },
    #[error("{what}: no answer within {after}")]
    Timeout { what: String, after: String },
}

/// The flags of one source.
#[derive(Debug, Default)]
pub struct Loaded {
    pub flags: Vec<Flag>,
    /// `flagd file flags.json`, `OFREP http://...`.
    pub origin: String,
    /// The file read, for git dating.
    pub file: Option<PathBuf>,
    /// The raw document(s), kept as an artifact.
    pub raw: Vec<u8>,
    /// Non-fatal remarks (flags the source could not evaluate, ...).
    pub notes: Vec<String>,
}

/// What a source loader may use.
pub struct SourceCx<'a> {
    pub base_dir: &'a Path,
    pub timeout: Duration,
    pub client: reqwest::Client,
}

impl FlagsItem {
    fn settings(&self) -> ParseSettings {
        ParseSettings::from_item(self)
    }

    fn file_path(&self, base: &Path) -> Option<PathBuf> {
        self.file.as_ref().map(|f| base.join(f.as_str()))
    }

    /// The source's URL (`validate` guarantees one for URL sources; this keeps it an error).
    fn base_url(&self) -> Result<reqwest::Url, SourceError> {
        self.url
            .as_ref()
            .map(|u| u.0.clone())
            .ok_or_else(|| SourceError::Read {
                path: "?".into(),
                message: "no file or url".into(),
            })
    }

    /// Reads the flags from the configured source.
    pub async fn load(&self, cx: &SourceCx<'_>) -> Result<Loaded, SourceError> {
        let settings = self.settings();
        match *self.source.get_ref() {
            SourceKind::Flagd => flagd::load(self, cx, &settings).await,
            SourceKind::Ofrep => ofrep::load(self, cx, &settings).await,
            SourceKind::Unleash => unleash::load(self, cx, &settings).await,
            SourceKind::Launchdarkly => launchdarkly::load(self, cx, &settings).await,
            SourceKind::Plain => plain::load(self, cx, &settings).await,
        }
    }

    /// Parses a document of this item's (file) source: used to date keys by git history.
    fn parse_bytes(&self, path: &Path, bytes: &[u8]) -> Option<Vec<Flag>> {
        let settings = self.settings();
        let text = std::str::from_utf8(bytes).ok()?;
        match *self.source.get_ref() {
            SourceKind::Flagd => flagd::parse_text(text, path, &settings).ok(),
            SourceKind::Unleash => unleash::parse_text(text, path, &settings).ok(),
            SourceKind::Launchdarkly => launchdarkly::parse_text(text, path, &settings).ok(),
            SourceKind::Plain => plain::parse_text(self, text, path).ok(),
            SourceKind::Ofrep => None,
        }
    }
}

/// Which rule a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Experiments,
    NarrowTargeting,
    Allowlist,
    Drift,
    Age,
    CodeRefs,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Experiments => "experiments",
            Rule::NarrowTargeting => "narrow-targeting",
            Rule::Allowlist => "allowlist",
            Rule::Drift => "drift",
            Rule::Age => "age",
            Rule::CodeRefs => "code-refs",
        })
    }
}

/// One broken rule.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub flag: String,
    pub evidence: String,
}

/// The outcome of the rules.
#[derive(Debug, Default, Serialize)]
pub struct Audit {
    pub findings: Vec<Finding>,
    /// Per rule: what was checked (`5 flags (1 experimental)`).
    pub checked: IndexMap<String, String>,
    /// Lines for the details that are neither findings nor counts (approved changes, ...).
    pub notes: Vec<String>,
}

impl Audit {
    fn add(&mut self, rule: Rule, severity: Severity, flag: &str, evidence: String) {
        self.findings.push(Finding {
            rule,
            severity,
            flag: flag.to_string(),
            evidence,
        });
    }
}

/// Why a rule could not be checked (a missing lock file, an unreadable approvals file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

const DEFAULT_EXPERIMENT_PATTERN: &str = r"^(exp|experiment)[-_.]";

impl FlagsItem {
    /// Applies every switched-on rule to `loaded`.
    pub fn audit(
        &self,
        loaded: &Loaded,
        base_dir: &Path,
        now: DateTime<Utc>,
    ) -> Result<Audit, RuleError> {
        let mut audit = Audit::default();
        let flags = &loaded.flags;
        let released_keys: std::collections::HashSet<&str> =
            self.released.iter().map(String::as_str).collect();

        // 1. experiments off
        let exp = self.experiments.clone().unwrap_or(ExperimentsRule {
            severity: None,
            patterns: None,
        });
        let sev = exp.severity.unwrap_or(Severity::Fail);
        if sev != Severity::Off {
            let default_pattern;
            let patterns: Vec<&regex::Regex> = match &exp.patterns {
                Some(p) => p.iter().map(|p| &p.0).collect(),
                None => {
                    default_pattern = regex::Regex::new(DEFAULT_EXPERIMENT_PATTERN)
                        .map_err(|e| RuleError(e.to_string()))?;
                    vec![&default_pattern]
                }
            };
            let mut experimental = 0;
            for f in flags {
                let why = f.experimental.clone().or_else(|| {
                    patterns
                        .iter()
                        .find(|p| p.is_match(&f.key))
                        .map(|p| format!("key matches `{}`", p.as_str()))
                });
                let Some(why) = why else { continue };
                experimental += 1;
                let on = f.on_paths();
                if let Some(first) = on.first() {
                    let paths: Vec<String> = on
                        .iter()
                        .take(5)
                        .map(|s| {
                            format!(
                                "{} via {}",
                                describe_served(s.variant.as_deref(), s.value.as_ref()),
                                s.path
                            )
                        })
                        .collect();
                    let _ = first;
                    audit.add(
                        Rule::Experiments,
                        sev,
                        &f.key,
                        format!("experimental ({why}) but on: serves {}", paths.join("; ")),
                    );
                }
            }
            audit.checked.insert(
                Rule::Experiments.to_string(),
                format!("{} flags ({experimental} experimental)", flags.len()),
            );
        }

        // 2. no narrow targeting on unreleased flags
        let sev = self
            .narrow_targeting
            .as_ref()
            .and_then(|r| r.severity)
            .unwrap_or(Severity::Fail);
        if sev != Severity::Off {
            let mut unreleased = 0;
            for f in flags {
                if f.released || released_keys.contains(f.key.as_str()) {
                    continue;
                }
                unreleased += 1;
                if !f.enabled {
                    continue;
                }
                let on: Vec<&NarrowTarget> = f
                    .targets
                    .iter()
                    .filter(|t| !f.is_off(t.variant.as_deref(), t.value.as_ref()))
                    .collect();
                if on.is_empty() {
                    continue;
                }
                let what: Vec<String> = on
                    .iter()
                    .take(5)
                    .map(|t| {
                        format!(
                            "{} gets {}",
                            t.condition,
                            describe_served(t.variant.as_deref(), t.value.as_ref())
                        )
                    })
                    .collect();
                audit.add(
                    Rule::NarrowTargeting,
                    sev,
                    &f.key,
                    format!(
                        "not marked released, yet targeted at individuals: {}",
                        what.join("; ")
                    ),
                );
            }
            audit.checked.insert(
                Rule::NarrowTargeting.to_string(),
                format!("{} flags ({unreleased} unreleased)", flags.len()),
            );
        }

        // 3. allowlist
        if let Some(rule) = &self.allowlist {
            let sev = rule.severity.unwrap_or(Severity::Fail);
            if sev != Severity::Off {
                let mut allowed: std::collections::HashSet<String> =
                    rule.flags.iter().cloned().collect();
                if let Some(file) = &rule.file {
                    let path = base_dir.join(file.as_str());
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        RuleError(format!("cannot read allowlist `{}`: {e}", path.display()))
                    })?;
                    for line in text.lines() {
                        let key = line.split('#').next().unwrap_or("").trim();
                        if !key.is_empty() {
                            allowed.insert(key.to_string());
                        }
                    }
                }
                let enabled: Vec<&Flag> = flags.iter().filter(|f| f.enabled).collect();
                for f in &enabled {
                    if !allowed.contains(&f.key) {
                        audit.add(
                            Rule::Allowlist,
                            sev,
                            &f.key,
                            "enabled but not in the allowlist".into(),
                        );
                    }
                }
                audit.checked.insert(
                    Rule::Allowlist.to_string(),
                    format!(
                        "{} enabled flags against {} approved keys",
                        enabled.len(),
                        allowed.len()
                    ),
                );
            }
        }

        // 4. drift from the snapshot
        if let Some(rule) = &self.drift {
            let sev = rule.severity.unwrap_or(Severity::Fail);
            if sev != Severity::Off {
                snapshot::check_drift(rule, sev, flags, base_dir, &mut audit)?;
            }
        }

        // 5. age
        if let Some(rule) = &self.age {
            let sev = rule.severity.unwrap_or(Severity::Warn);
            if sev != Severity::Off {
                age::check_age(self, rule, sev, loaded, now, &mut audit);
            }
        }

        // 6. code references
        if let Some(rule) = &self.code_refs {
            coderefs::check(rule, flags, base_dir, &mut audit)?;
        }
        Ok(audit)
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Check for FlagsItem {
    fn default_timeout(&self) -> Option<Duration> {
        Some(DEFAULT_TIMEOUT)
    }

    fn validate(&self, _cx: &ValidateContext<'_>) -> Result<(), crate::syntax::ItemError> {
        let kind = *self.source.get_ref();
        let span = Some(self.source.span());
        let invalid = |message: String| (ItemErrorKind::Invalid { message }, span.clone());
        match (kind, self.file.is_some(), self.url.is_some()) {
            (_, true, true) => {
                return Err(invalid(format!(
                    "source `{kind}`: give either `file` or `url`, not both"
                )));
            }
            (SourceKind::Ofrep, _, false) => {
                return Err(invalid(
                    "source `ofrep` needs `url`: the OFREP base URL, like \"${base}\"".into(),
                ));
            }
            (SourceKind::Plain, false, _) => {
                return Err(invalid("source `plain` needs `file`".into()));
            }
            (_, false, false) => {
                return Err(invalid(format!("source `{kind}` needs `file` or `url`")));
            }
            _ => {}
        }
        if kind != SourceKind::Ofrep && (self.baseline.is_some() || !self.contexts.is_empty()) {
            return Err(invalid(format!(
                "`baseline` and `contexts` are for source `ofrep`, not `{kind}`"
            )));
        }
        if kind != SourceKind::Plain && (self.pointer.is_some() || self.key_pattern.is_some()) {
            return Err(invalid(format!(
                "`pointer` and `key_pattern` are for source `plain`, not `{kind}`"
            )));
        }
        Ok(())
    }

    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move {
            let client = match http::client(cx.timeout) {
                Ok(c) => c,
                Err(e) => return CheckOutput::errored(format!("cannot build an HTTP client: {e}")),
            };
            let scx = SourceCx {
                base_dir: cx.base_dir(),
                timeout: cx.timeout,
                client,
            };
            let loaded = match self.load(&scx).await {
                Ok(l) => l,
                Err(e) => return CheckOutput::errored(e.to_string()),
            };
            let mut artifacts = Vec::new();
            if !loaded.raw.is_empty()
                && let Ok(p) = cx.write_artifact("flags-source.json", &loaded.raw)
            {
                artifacts.push(p);
            }
            let audit = match self.audit(&loaded, cx.base_dir(), Utc::now()) {
                Ok(a) => a,
                Err(e) => return CheckOutput::errored(e.0),
            };
            let mut out = report(&loaded, &audit);
            out.artifacts = artifacts;
            out
        })
    }
}

/// Turns an audit into the item's output.
pub fn report(loaded: &Loaded, audit: &Audit) -> CheckOutput {
    let failing: Vec<&Finding> = audit
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .collect();
    let warning: Vec<&Finding> = audit
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warn)
        .collect();
    let mut details = format!("source: {} ({} flags)\n", loaded.origin, loaded.flags.len());
    for f in failing.iter().chain(warning.iter()) {
        let tag = if f.severity == Severity::Fail {
            "FAIL"
        } else {
            "WARN"
        };
        let _ = writeln!(
            details,
            "{tag} {:<16} {}: {}",
            f.rule.to_string(),
            f.flag,
            f.evidence
        );
    }
    for n in &audit.notes {
        let _ = writeln!(details, "note: {n}");
    }
    for n in &loaded.notes {
        let _ = writeln!(details, "note: {n}");
    }
    let checked: Vec<String> = audit
        .checked
        .iter()
        .map(|(r, what)| format!("{r}: {what}"))
        .collect();
    let _ = writeln!(details, "checked: {}", checked.join("; "));

    let mut out = if failing.is_empty() {
        let msg = if loaded.flags.is_empty() {
            format!("{}: no flags found; nothing to audit", loaded.origin)
        } else {
            format!(
                "{} flags audited, no blocking findings ({})",
                loaded.flags.len(),
                checked.join("; ")
            )
        };
        CheckOutput::passed(msg)
    } else {
        let mut by_flag: IndexMap<&str, Vec<String>> = IndexMap::new();
        for f in &failing {
            let rules = by_flag.entry(f.flag.as_str()).or_default();
            let r = f.rule.to_string();
            if !rules.contains(&r) {
                rules.push(r);
            }
        }
        let list: Vec<String> = by_flag
            .iter()
            .map(|(k, r)| format!("`{k}` ({})", r.join(", ")))
            .collect();
        let first = failing[0];
        CheckOutput::failed(format!(
            "{} of {} flags break the rules: {}; first: {}: {}",
            by_flag.len(),
            loaded.flags.len(),
            list.join(", "),
            first.flag,
            first.evidence
        ))
    };
    out.warnings = warning
        .iter()
        .map(|f| format!("{} {}: {}", f.rule, f.flag, f.evidence))
        .collect();
    if loaded.flags.is_empty() {
        out.warnings
            .push(format!("{}: no flags found", loaded.origin));
    }
    out.details = details;
    out.properties
        .push(("flags".into(), loaded.flags.len().to_string()));
    out.properties
        .push(("findings_fail".into(), failing.len().to_string()));
    out.properties
        .push(("findings_warn".into(), warning.len().to_string()));
    out.data = serde_json::json!({
        "source": loaded.origin,
        "flags": loaded.flags.len(),
        "findings": audit.findings,
        "checked": audit.checked,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_detection() {
        let f = Flag {
            off_variant: Some("v0".into()),
            ..Default::default()
        };
        assert!(f.is_off(Some("v0"), Some(&Value::from("x"))));
        assert!(f.is_off(Some("on"), Some(&Value::Bool(false))));
        assert!(f.is_off(Some("control"), Some(&Value::from("blue"))));
        assert!(!f.is_off(Some("on"), Some(&Value::Bool(true))));
        assert!(!f.is_off(Some("spring-sale"), Some(&Value::from("Spring Sale"))));
    }

    #[test]
    fn id_attributes_match_spellings() {
        let s = ParseSettings::for_tests();
        for a in [
            "targetingKey",
            "customer_id",
            "customer.id",
            "customerId",
            "user.email",
            "$flagd.targetingKey",
        ] {
            assert!(s.is_id_attribute(a), "{a}");
        }
        for a in ["plan", "country", "appName", "version"] {
            assert!(!s.is_id_attribute(a), "{a}");
        }
    }
}
