//! The checklist file: read, expand variables, type-check every item, validate `needs`.

mod compose;
mod error;
pub mod schema;
mod sources;
mod waivers;

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use toml::Spanned;
use toml::de::DeTable;

pub use error::{ChecklistError, ChecklistErrorKind, key_path_at, printable, shorten};
pub use waivers::{DEFAULT_MAX_WAIVER, read_file as read_waivers};

use crate::checks::tls::TlsOptions;
use crate::checks::{self, Check, KINDS, KindSection, ReadItem};
use crate::redact::Redactor;
use crate::syntax::template::{self, Scope};
use crate::syntax::{Common, Dur, Program, Template, Timeout};

/// A parsed, validated checklist.
#[derive(Debug)]
pub struct Checklist {
    pub path: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub jobs: Option<usize>,
    /// Default per-item timeout.
    pub timeout: Option<Duration>,
    /// `[checklist] acks`: sign-offs of manual items kept with the checklist.
    pub acks_file: Option<PathBuf>,
    /// The `[profile.NAME]` applied (`--profile`).
    pub profile: Option<String>,
    /// Every profile the checklist defines.
    pub profiles: Vec<String>,
    /// The files `include` brought in, transitively.
    pub included: Vec<PathBuf>,
    /// `[waivers]`: accepted failures, by item id.
    pub waivers: crate::settings::Waivers,
    /// `[checklist] max_waiver`: how far ahead a waiver may end.
    pub max_waiver: Duration,
    /// Values of vars marked `secret`, by var name.
    pub secrets: Vec<(String, String)>,
    /// `(user, password)` of every URL with userinfo in the checklist (redacted like secrets).
    pub credentials: Vec<(String, String)>,
    /// Things that are allowed but risky, rendered with their place (`warning: ...`).
    pub warnings: Vec<String>,
    pub services: Vec<ServiceDef>,
    /// Items in checklist order.
    pub items: Vec<ItemDef>,
}

impl Checklist {
    /// The redactor for everything printed or written about this checklist.
    pub fn redactor(&self) -> Redactor {
        self.credentials.iter().fold(
            Redactor::new(self.secrets.iter().map(|(_, v)| v.clone())),
            |r, (user, password)| r.with_userinfo(user, password),
        )
    }
}

/// One item: `kind.name`, its common keys and its check.
#[derive(Debug, Clone)]
pub struct ItemDef {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    /// The checklist file the item's table is in (the main file or an included one).
    pub file: PathBuf,
    /// 1-based line of the item's table in `file` (where reports point annotations).
    pub line: usize,
    pub common: Common,
    pub check: Arc<dyn Check>,
}

/// A process started before the items and stopped after them.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    #[serde(skip)]
    pub name: String,
    pub run: Program,
    #[serde(default)]
    pub cwd: Option<Template>,
    #[serde(default)]
    pub env: IndexMap<String, Template>,
    #[serde(default)]
    #[schemars(with = "Option<Readiness>")]
    pub ready: Option<Spanned<Readiness>>,
    /// Time between SIGTERM and SIGKILL when stopping.
    #[serde(default)]
    pub stop_timeout: Option<Dur>,
}

/// How to tell a service is ready: exactly one of `http` or `tcp`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[schemars(extend("oneOf" = [{ "required": ["http"] }, { "required": ["tcp"] }]))]
#[serde(deny_unknown_fields)]
pub struct Readiness {
    /// A URL that must answer 2xx.
    #[serde(default)]
    pub http: Option<Template>,
    /// `host:port` that must accept a TCP connection.
    #[serde(default)]
    pub tcp: Option<Template>,
    #[serde(default)]
    pub timeout: Option<Timeout>,
    /// TLS of the `http` probe: see [`TlsOptions`].
    #[serde(default)]
    pub ca: Option<Template>,
    #[serde(default)]
    pub insecure: Option<bool>,
    #[serde(default)]
    pub client_cert: Option<Template>,
    #[serde(default)]
    pub client_key: Option<Template>,
}

impl Readiness {
    pub fn tls(&self) -> TlsOptions {
        TlsOptions::from_keys(&self.ca, self.insecure, &self.client_cert, &self.client_key)
    }
}

/// `[checklist]`: the run's name and defaults.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Meta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<usize>", range(min = 1))]
    jobs: Option<Spanned<usize>>,
    #[serde(default)]
    timeout: Option<Timeout>,
    /// An acks file committed with the release (see `--acks`), relative to the checklist.
    #[serde(default)]
    acks: Option<Template>,
    /// How far ahead a waiver's `until` may be (default 30 days).
    #[serde(default)]
    max_waiver: Option<Dur>,
}

/// The whole file: `[checklist]`, `[vars]`, `[service.*]`, and one table per item kind
/// (the kinds are [`checks::KINDS`]; [`KindSection`] reads each).
struct RawChecklist {
    checklist: Option<Meta>,
    service: IndexMap<Spanned<String>, ServiceDef>,
    waivers: waivers::Tables,
    items: Vec<ReadItem>,
}

/// A top-level key. Unknown keys are rejected while the key is read, so that the error
/// points at the key (and lists the valid ones, for the did-you-mean).
enum TopKey {
    Checklist,
    Vars,
    Service,
    Waivers,
    Kind(&'static str),
}

/// `checklist`, `vars`, `service`, then the kinds. (`include` and `profile` are taken out
/// before the document is read; they are here for the did-you-mean.)
static TOP_KEYS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    [
        "include",
        "checklist",
        "vars",
        "service",
        "profile",
        "waivers",
    ]
    .into_iter()
    .chain(KINDS.iter().copied())
    .collect()
});

impl<'de> Deserialize<'de> for TopKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TopKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<TopKey, E> {
                Ok(match key {
                    "checklist" => TopKey::Checklist,
                    "vars" => TopKey::Vars,
                    "service" => TopKey::Service,
                    "waivers" => TopKey::Waivers,
                    _ => match KINDS.iter().find(|k| **k == key) {
                        Some(kind) => TopKey::Kind(kind),
                        None => return Err(E::unknown_field(key, &TOP_KEYS)),
                    },
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> Deserialize<'de> for RawChecklist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawChecklist;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a checklist")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawChecklist, A::Error> {
                let mut raw = RawChecklist {
                    checklist: None,
                    service: IndexMap::new(),
                    waivers: IndexMap::new(),
                    items: Vec::new(),
                };
                while let Some(key) = map.next_key::<TopKey>()? {
                    match key {
                        TopKey::Checklist => raw.checklist = Some(map.next_value()?),
                        // Read in the first pass ([`VarsPass`]).
                        TopKey::Vars => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        TopKey::Service => raw.service = map.next_value()?,
                        TopKey::Waivers => raw.waivers = map.next_value()?,
                        TopKey::Kind(kind) => {
                            raw.items.extend(map.next_value_seed(KindSection(kind))?)
                        }
                    }
                }
                Ok(raw)
            }
        }
        d.deserialize_map(V)
    }
}

/// A `[vars]` entry: a plain value, or a table naming an environment variable.
enum VarDef {
    Value(String),
    Table(VarTable),
}

/// A var from a table: its value, or the environment variable it comes from.
#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(extend("anyOf" = [{ "required": ["value"] }, { "required": ["env"] }]))]
#[serde(deny_unknown_fields)]
struct VarTable {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    secret: bool,
}

impl<'de> Deserialize<'de> for VarDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VarDef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, a number, or a table like { env = \"NAME\", secret = true }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<VarDef, E> {
                Ok(VarDef::Value(s.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<VarDef, E> {
                Ok(VarDef::Value(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<VarDef, E> {
                Ok(VarDef::Value(n.to_string()))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<VarDef, E> {
                Ok(VarDef::Value(b.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<VarDef, A::Error> {
                VarTable::deserialize(de::value::MapAccessDeserializer::new(map)).map(VarDef::Table)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct VarsPass {
    #[serde(default)]
    vars: IndexMap<Spanned<String>, Spanned<VarDef>>,
}

/// Values that exist without a `[vars]` entry, and `--var` overrides.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub builtins: Vec<(String, String)>,
    pub overrides: Vec<(String, String)>,
    pub profile: Option<String>,
}

/// Reads and validates the checklist at `path`.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Checklist, ChecklistError> {
    let bytes = std::fs::read(path).map_err(|e| ChecklistError {
        path: path.into(),
        source_text: None,
        span: None,
        kind: ChecklistErrorKind::Read {
            message: e.to_string(),
        },
        redactor: Arc::default(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        ChecklistError {
            path: path.into(),
            source_text: Some(Arc::from(String::from_utf8_lossy(e.as_bytes()).as_ref())),
            span: Some(at..at + 1),
            kind: ChecklistErrorKind::Invalid {
                message: "the checklist is not valid UTF-8".into(),
            },
            redactor: Arc::default(),
        }
    })?;
    parse(path, &text, options)
}

/// Parses checklist `text` (named `path` in errors), with the files it includes.
pub fn parse(path: &Path, text: &str, options: &LoadOptions) -> Result<Checklist, ChecklistError> {
    // Secrets are known once the vars are read; every error from then on is redacted by them.
    let mut redactor = Redactor::default();
    let _ = template::take_trace();
    let parsed = parse_traced(path, text, options, &mut redactor);
    let _ = template::take_trace();
    parsed.map_err(|mut e| {
        e.redactor = Arc::new(redactor);
        e
    })
}

fn parse_traced(
    path: &Path,
    text: &str,
    options: &LoadOptions,
    redactor: &mut Redactor,
) -> Result<Checklist, ChecklistError> {
    let files = compose::read(path, text)?;
    let sources = &files.sources;
    let (root, profiles) = files.compose(options.profile.as_deref())?;
    let err = |span: Option<Range<usize>>, kind| sources.error(span, kind);
    let toml_err = |e: toml::de::Error| sources.toml_error(&e);
    let mut warnings = Vec::new();
    // `at`: an offset in the files' shared span space.
    let warn = |warnings: &mut Vec<String>, message: String, at: Option<usize>| {
        let place = at
            .map(|at| sources.position(at))
            .unwrap_or_else(|| path.display().to_string());
        warnings.push(format!("warning: {message}\n  --> {place}\n"));
    };

    // Pass 1: the variables, so that pass 2 can expand them inside every string it reads.
    let pass = VarsPass::deserialize(document(root.clone())).map_err(toml_err)?;
    let mut scope = Scope::default();
    scope.vars.extend(options.builtins.iter().cloned());
    let mut declared: Vec<String> = scope.vars.keys().cloned().collect();
    let mut secrets = Vec::new();
    for (name, def) in pass.vars {
        let span = def.span();
        declared.push(name.get_ref().clone());
        let (raw, secret, from_env) = match def.into_inner() {
            VarDef::Value(v) => (v, false, false),
            VarDef::Table(t) => match (t.value, t.env) {
                (Some(v), _) => (v, t.secret, false),
                (None, Some(env)) => match std::env::var(&env).ok().or(t.default) {
                    Some(v) => (v, t.secret, true),
                    None if options.overrides.iter().any(|(k, _)| k == name.get_ref()) => {
                        (String::new(), t.secret, true)
                    }
                    None => {
                        return Err(err(
                            Some(span),
                            ChecklistErrorKind::UnsetVarEnv {
                                var: name.into_inner(),
                                env,
                            },
                        ));
                    }
                },
                (None, None) => {
                    return Err(err(
                        Some(span),
                        ChecklistErrorKind::EmptyVar {
                            var: name.into_inner(),
                        },
                    ));
                }
            },
        };
        // A value from the environment (or one built from such a value) is not the checklist
        // author's: it must not be pasted into a shell command unquoted. Nor must a secret.
        let tainted = secret
            || from_env
            || template::references(&raw)
                .iter()
                .any(|(_, n, _)| n.starts_with("env:") || scope.tainted.contains(n));
        // A `--var` override wins before later vars are expanded from this one.
        let raw = match options
            .overrides
            .iter()
            .rev()
            .find(|(k, _)| k == name.get_ref())
        {
            Some((_, v)) => v.replace('$', "$$"),
            None => raw,
        };
        let value = template::with_scope(scope.clone(), || template::expand_in_scope(&raw))
            .map_err(|e| {
                err(
                    Some(span.clone()),
                    ChecklistErrorKind::Invalid {
                        message: e.to_string(),
                    },
                )
            })?;
        let name = name.into_inner();
        if secret {
            if let Some(weak) = crate::redact::weak_secret(&name, &value) {
                warn(&mut warnings, weak, Some(span.start));
            }
            secrets.push((name.clone(), value.clone()));
            *redactor = Redactor::new(secrets.iter().map(|(_, v)| v.clone()));
        }
        if tainted {
            scope.tainted.insert(name.clone());
        }
        scope.vars.insert(name, value);
    }
    for (name, value) in &options.overrides {
        scope
            .vars
            .entry(name.clone())
            .or_insert_with(|| value.clone());
    }

    // Pass 2: everything, typed, with `${...}` expanded.
    let raw: RawChecklist =
        template::with_scope(scope, || RawChecklist::deserialize(document(root)))
            .map_err(toml_err)?;
    let trace = template::take_trace();

    // A `--var` must name a var: a misspelt one would otherwise be ignored in silence.
    for (name, _) in &options.overrides {
        if !declared.contains(name) && !trace.used.contains(name) {
            let suggestion = crate::suggest::closest(
                name,
                declared.iter().chain(&trace.used).map(String::as_str),
            );
            return Err(ChecklistError {
                source_text: None,
                ..err(
                    None,
                    ChecklistErrorKind::UnknownOverride {
                        name: name.clone(),
                        suggestion,
                    },
                )
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for splice in &trace.unquoted {
        if !seen.insert((splice.reference.clone(), splice.text.clone())) {
            continue;
        }
        let at = sources
            .find(&splice.text)
            .map(|at| at + splice.text.find(&splice.reference).unwrap_or(0))
            .or_else(|| sources.find(&splice.reference));
        let (name, quoted) = (&splice.name, format!("${{{}:sh}}", splice.name));
        let origin = if name.starts_with("env:") || !secrets.iter().any(|(n, _)| n == name) {
            "comes from the environment"
        } else {
            "is secret"
        };
        warn(
            &mut warnings,
            format!(
                "`{}` {origin} and is pasted unquoted into a shell command: a value like `x; touch pwned` runs as code, and `&` or `;` in it splits it so that parts print in clear. Write `{quoted}` (one quoted word), or pass it through `env` and give `run` as an argv array",
                splice.reference
            ),
            at,
        );
    }

    let meta = raw.checklist.as_ref();
    if let Some(jobs) = meta.and_then(|m| m.jobs.as_ref())
        && *jobs.get_ref() == 0
    {
        return Err(err(Some(jobs.span()), ChecklistErrorKind::ZeroJobs));
    }
    let name = meta.and_then(|m| m.name.clone()).unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let jobs = meta.and_then(|m| m.jobs.as_ref().map(|j| *j.get_ref()));
    let timeout = meta.and_then(|m| m.timeout.map(Timeout::get));
    let description = meta.and_then(|m| m.description.clone());
    let base_dir = path.parent().unwrap_or(Path::new(""));
    let acks_file = meta
        .and_then(|m| m.acks.as_ref())
        .map(|a| base_dir.join(a.as_str()));

    let mut services = Vec::new();
    for (svc_name, mut def) in raw.service {
        check_name(&svc_name).map_err(|k| err(Some(svc_name.span()), k))?;
        if let Some(ready) = &def.ready {
            let r = ready.get_ref();
            if r.http.is_some() == r.tcp.is_some() {
                return Err(err(Some(ready.span()), ChecklistErrorKind::Readiness));
            }
            r.tls().check().map_err(|message| {
                err(Some(ready.span()), ChecklistErrorKind::Invalid { message })
            })?;
        }
        def.name = svc_name.into_inner();
        services.push(def);
    }

    let mut raw_items = raw.items;
    // File order across kinds (each kind's table keeps its own order, not the file's), with
    // included files first.
    raw_items.sort_by_key(|item| {
        let at = item.name.span().start;
        (files.rank(at), at)
    });
    let mut items = Vec::with_capacity(raw_items.len());
    // Lines are counted on from the previous item (they come in file order, one file after
    // the other): counting from the start for each would make a long checklist quadratic.
    let (mut file_index, mut counted_to, mut line) = (usize::MAX, 0, 1);
    for ReadItem {
        kind,
        name,
        common,
        check,
    } in raw_items
    {
        check_name(&name).map_err(|k| err(Some(name.span()), k))?;
        let index = sources.index_at(name.span().start);
        if index != file_index {
            (file_index, counted_to, line) = (index, 0, 1);
        }
        let file = sources.file(index);
        let local = name.span().start - file.start;
        let at = local.min(file.text.len()).max(counted_to);
        line += newlines_in(&file.text.as_bytes()[counted_to..at]);
        counted_to = at;
        let name = name.into_inner();
        items.push(ItemDef {
            id: format!("{kind}.{name}"),
            kind,
            name,
            file: file.path.clone(),
            line,
            common,
            check,
        });
    }
    if items.is_empty() {
        return Err(err(None, ChecklistErrorKind::Empty));
    }
    validate_needs(&items).map_err(|(span, kind)| err(Some(span), kind))?;
    let max_waiver = meta
        .and_then(|m| m.max_waiver)
        .map_or(DEFAULT_MAX_WAIVER, Dur::get);
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    let waivers = waivers::check(
        raw.waivers,
        &ids,
        max_waiver,
        chrono::Utc::now().date_naive(),
        "checklist",
    )
    .map_err(|(span, kind)| err(Some(span), kind))?;
    let service_names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    let vcx = checks::ValidateContext {
        services: &service_names,
    };
    for item in &items {
        item.check
            .validate(&vcx)
            .map_err(|(kind, span)| err(span, kind.into()))?;
    }

    Ok(Checklist {
        path: path.to_path_buf(),
        name,
        description,
        acks_file,
        profile: options.profile.clone(),
        profiles,
        included: (1..sources.len())
            .map(|i| sources.file(i).path.clone())
            .collect(),
        waivers,
        max_waiver,
        jobs,
        timeout,
        secrets,
        credentials: trace.credentials,
        warnings,
        services,
        items,
    })
}

/// A combined document, ready to be read.
fn document(root: DeTable<'_>) -> toml::de::Deserializer<'_> {
    toml::de::Deserializer::from(Spanned::new(0..0, root))
}

fn newlines_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

fn check_name(name: &Spanned<String>) -> Result<(), ChecklistErrorKind> {
    let n = name.get_ref();
    if n.is_empty()
        || !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ChecklistErrorKind::InvalidName { name: n.clone() });
    }
    Ok(())
}

/// Every `needs` entry names another item, and `needs` has no cycle.
fn validate_needs(items: &[ItemDef]) -> Result<(), (Range<usize>, ChecklistErrorKind)> {
    let ids: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    for item in items {
        for need in &item.common.needs {
            let n = need.get_ref().as_str();
            if n == item.id {
                return Err((
                    need.span(),
                    ChecklistErrorKind::SelfNeed {
                        id: item.id.clone(),
                    },
                ));
            }
            if !ids.contains_key(n) {
                let suggestion = crate::suggest::closest_id(n, items.iter().map(|i| i.id.as_str()));
                return Err((
                    need.span(),
                    ChecklistErrorKind::UnknownNeed {
                        need: n.to_string(),
                        suggestion,
                    },
                ));
            }
        }
    }
    // Depth-first search with colours; a grey node reached again closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        White,
        Grey,
        Black,
    }
    fn visit(
        i: usize,
        items: &[ItemDef],
        ids: &HashMap<&str, usize>,
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
    ) -> Option<(usize, usize)> {
        marks[i] = Mark::Grey;
        stack.push(i);
        for (k, need) in items[i].common.needs.iter().enumerate() {
            let j = ids[need.get_ref().as_str()];
            match marks[j] {
                Mark::Grey => return Some((i, k)),
                Mark::White => {
                    if let Some(found) = visit(j, items, ids, marks, stack) {
                        return Some(found);
                    }
                }
                Mark::Black => {}
            }
        }
        stack.pop();
        marks[i] = Mark::Black;
        None
    }
    let mut marks = vec![Mark::White; items.len()];
    for start in 0..items.len() {
        if marks[start] != Mark::White {
            continue;
        }
        let mut stack = Vec::new();
        if let Some((from, k)) = visit(start, items, &ids, &mut marks, &mut stack) {
            let need = &items[from].common.needs[k];
            let target = ids[need.get_ref().as_str()];
            let pos = stack.iter().position(|&s| s == target).unwrap_or(0);
            let mut cycle: Vec<String> =
                stack[pos..].iter().map(|&s| items[s].id.clone()).collect();
            cycle.push(items[target].id.clone());
            return Err((need.span(), ChecklistErrorKind::Cycle { cycle }));
        }
    }
    Ok(())
}

/// Mutation fuzzing of the parser and the error renderer: whatever the bytes, no panic.
/// `PREFLIGHT_FUZZ_ITERATIONS=1000000 cargo test --lib fuzz -- --nocapture` runs it longer.
#[cfg(test)]
mod fuzz {
    use std::path::Path;

    const TOKENS: &[&str] = &[
        "[",
        "]",
        "[[",
        "]]",
        "=",
        "\"",
        "'",
        "'''",
        "\"\"\"",
        "{",
        "}",
        ",",
        "\n",
        "${",
        "${env:",
        "$$",
        "}",
        ".",
        "needs = [",
        "\"http.a\"",
        "[http.",
        "[command.",
        "[service.",
        "[vars]",
        "[checklist]",
        "url = ",
        "run = ",
        "timeout = \"",
        "1s",
        "-1",
        "99999999999999999999",
        "nan",
        "inf",
        "true",
        "#",
        "\\u0000",
        "\\",
        "é",
        "\u{1F600}",
        "\t",
        "\r\n",
        "0x",
        "1979-05-27T07:32:00Z",
        "ready = {",
        "tcp = ",
        "blocking = ",
        "json = { \"/a\" = ",
    ];

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn corpus() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in ["tests/cli/bad", "checklists"] {
            for e in std::fs::read_dir(root.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Ok(b) = std::fs::read(e.path()) {
                    out.push(String::from_utf8_lossy(&b).into_owned());
                }
            }
        }
        out
    }

    fn mutate(rng: &mut Rng, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(chars.len() + 1);
            match rng.below(5) {
                0 => {
                    let tok = TOKENS[rng.below(TOKENS.len())];
                    chars.splice(at..at, tok.chars());
                }
                1 if !chars.is_empty() => {
                    let end = (at + rng.below(8)).min(chars.len());
                    chars.drain(at.min(end)..end);
                }
                2 if !chars.is_empty() => {
                    let end = (at + rng.below(40)).min(chars.len());
                    let copy: Vec<char> = chars[at.min(end)..end].to_vec();
                    let to = rng.below(chars.len() + 1);
                    chars.splice(to..to, copy);
                }
                3 => chars.truncate(at),
                _ => {
                    if at < chars.len() {
                        chars[at] = char::from_u32(rng.below(0x80) as u32).unwrap_or('x');
                    }
                }
            }
        }
        chars.into_iter().collect()
    }

    #[test]
    fn random_mutations_never_panic() {
        let iterations: usize = std::env::var("PREFLIGHT_FUZZ_ITERATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000);
        let corpus = corpus();
        assert!(!corpus.is_empty());
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ iterations as u64);
        let options = super::LoadOptions {
            builtins: vec![],
            overrides: vec![("port".into(), "1".into())],
            profile: None,
        };
        let (mut ok, mut err) = (0, 0);
        for i in 0..iterations {
            let text = mutate(&mut rng, &corpus[i % corpus.len()]);
            let result = std::panic::catch_unwind(|| {
                match super::parse(Path::new("fuzz.toml"), &text, &options) {
                    Ok(_) => true,
                    Err(e) => {
                        let _ = e.render(true);
                        let _ = e.render(false);
                        false
                    }
                }
            });
            match result {
                Ok(true) => ok += 1,
                Ok(false) => err += 1,
                Err(_) => panic!("the parser panicked on:\n{text}"),
            }
        }
        eprintln!("fuzz: {iterations} inputs, {ok} parsed, {err} rejected with a message");
    }
}
