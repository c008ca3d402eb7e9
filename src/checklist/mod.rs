//! The checklist file: read, expand variables, type-check every item, validate `needs`.

mod error;

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

pub use error::{ChecklistError, ChecklistErrorKind, key_path_at};

use crate::checks::{self, Check, KINDS, KindSection, ReadItem};
use crate::syntax::template::{self, Scope};
use crate::syntax::{Common, Dur, Program, Template};

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
    /// Values of vars marked `secret`, by var name.
    pub secrets: Vec<(String, String)>,
    pub services: Vec<ServiceDef>,
    /// Items in checklist order.
    pub items: Vec<ItemDef>,
}

/// One item: `kind.name`, its common keys and its check.
#[derive(Debug, Clone)]
pub struct ItemDef {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    /// 1-based line of the item's table in the checklist (where reports point annotations).
    pub line: usize,
    pub common: Common,
    pub check: Arc<dyn Check>,
}

/// A process started before the items and stopped after them.
#[derive(Debug, Clone, Deserialize)]
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
    pub ready: Option<Spanned<Readiness>>,
    /// Time between SIGTERM and SIGKILL when stopping.
    #[serde(default)]
    pub stop_timeout: Option<Dur>,
}

/// How to tell a service is ready.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readiness {
    /// A URL that must answer 2xx.
    #[serde(default)]
    pub http: Option<Template>,
    /// `host:port` that must accept a TCP connection.
    #[serde(default)]
    pub tcp: Option<Template>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    jobs: Option<Spanned<usize>>,
    #[serde(default)]
    timeout: Option<Dur>,
    /// An acks file committed with the release (see `--acks`), relative to the checklist.
    #[serde(default)]
    acks: Option<Template>,
}

/// The whole file: `[checklist]`, `[vars]`, `[service.*]`, and one table per item kind
/// (the kinds are [`checks::KINDS`]; [`KindSection`] reads each).
struct RawChecklist {
    checklist: Option<Meta>,
    service: IndexMap<Spanned<String>, ServiceDef>,
    items: Vec<ReadItem>,
}

/// A top-level key. Unknown keys are rejected while the key is read, so that the error
/// points at the key (and lists the valid ones, for the did-you-mean).
enum TopKey {
    Checklist,
    Vars,
    Service,
    Kind(&'static str),
}

/// `checklist`, `vars`, `service`, then the kinds.
static TOP_KEYS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    ["checklist", "vars", "service"]
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

#[derive(Deserialize)]
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
}

/// Reads and validates the checklist at `path`.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Checklist, ChecklistError> {
    let bytes = std::fs::read(path).map_err(|e| ChecklistError {
        path: path.to_path_buf(),
        source_text: None,
        span: None,
        kind: ChecklistErrorKind::Read {
            message: e.to_string(),
        },
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        ChecklistError {
            path: path.to_path_buf(),
            source_text: Some(Arc::from(String::from_utf8_lossy(e.as_bytes()).as_ref())),
            span: Some(at..at + 1),
            kind: ChecklistErrorKind::Invalid {
                message: "the checklist is not valid UTF-8".into(),
            },
        }
    })?;
    parse(path, &text, options)
}

/// Parses checklist `text` (named `path` in errors).
pub fn parse(path: &Path, text: &str, options: &LoadOptions) -> Result<Checklist, ChecklistError> {
    let source: Arc<str> = Arc::from(text);
    let err = |span: Option<Range<usize>>, kind| ChecklistError {
        path: path.to_path_buf(),
        source_text: Some(source.clone()),
        span,
        kind,
    };
    let toml_err = |e: toml::de::Error| error::from_toml(path.to_path_buf(), source.clone(), &e);

    // Pass 1: the variables, so that pass 2 can expand them inside every string it reads.
    let pass: VarsPass = toml::from_str(text).map_err(toml_err)?;
    let mut scope = Scope::default();
    scope.vars.extend(options.builtins.iter().cloned());
    let mut secrets = Vec::new();
    for (name, def) in pass.vars {
        let span = def.span();
        let (raw, secret) = match def.into_inner() {
            VarDef::Value(v) => (v, false),
            VarDef::Table(t) => match (t.value, t.env) {
                (Some(v), _) => (v, t.secret),
                (None, Some(env)) => match std::env::var(&env).ok().or(t.default) {
                    Some(v) => (v, t.secret),
                    None if options.overrides.iter().any(|(k, _)| k == name.get_ref()) => {
                        (String::new(), t.secret)
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
            secrets.push((name.clone(), value.clone()));
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
        template::with_scope(scope, || toml::from_str(text)).map_err(toml_err)?;

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
    let timeout = meta.and_then(|m| m.timeout.map(Dur::get));
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
        }
        def.name = svc_name.into_inner();
        services.push(def);
    }

    let mut raw_items = raw.items;
    // File order across kinds (each kind's table keeps its own order, not the file's).
    raw_items.sort_by_key(|item| item.name.span().start);
    let mut items = Vec::with_capacity(raw_items.len());
    for ReadItem {
        kind,
        name,
        common,
        check,
    } in raw_items
    {
        check_name(&name).map_err(|k| err(Some(name.span()), k))?;
        let (line, _) = error::line_col(text, name.span().start);
        let name = name.into_inner();
        items.push(ItemDef {
            id: format!("{kind}.{name}"),
            kind,
            name,
            line,
            common,
            check,
        });
    }
    if items.is_empty() {
        return Err(err(None, ChecklistErrorKind::Empty));
    }
    validate_needs(&items).map_err(|(span, kind)| err(Some(span), kind))?;
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
        jobs,
        timeout,
        secrets,
        services,
        items,
    })
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
                let suggestion = crate::suggest::closest(n, ids.keys().copied());
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
