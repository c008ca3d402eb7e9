//! `${name}` interpolation of checklist strings.
//!
//! Strings are expanded while the checklist is deserialized, so an unknown variable is reported
//! by the TOML deserializer itself, with the span of the string that names it.
//!
//! `${name:sh}` pastes the value shell-quoted, `${name:url}` percent-encoded. While a checklist
//! is read, a [`Trace`] records which vars were used, the credentials of every URL (for the
//! redactor) and every var from the environment pasted unquoted into a shell string.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Deref;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};

/// Variables that only get a value while an item runs (e.g. the rollback kind's previous tag):
/// they are left in place at parse time and filled by [`Template::expand_runtime`].
pub const RUNTIME_VARS: &[&str] = &["previous_tag", "previous_commit"];

/// The variables a checklist can refer to, in definition order.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub vars: IndexMap<String, String>,
    /// Vars whose value comes from outside the checklist (the environment) or is secret: not
    /// to be pasted unquoted into a shell command.
    pub tainted: std::collections::BTreeSet<String>,
}

/// What expanding a checklist's strings came across.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Every var name referred to, in order (repeats included).
    pub used: Vec<String>,
    /// `(user, password)` of every URL with userinfo, percent-decoded.
    pub credentials: Vec<(String, String)>,
    /// Tainted references pasted unquoted into a shell string.
    pub unquoted: Vec<UnquotedSplice>,
}

/// `${name}` from the environment, pasted unquoted into a string run by `sh -c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnquotedSplice {
    /// The reference as written, e.g. `${branch}`.
    pub reference: String,
    /// The var's name (or `env:NAME`).
    pub name: String,
    /// The shell string as written.
    pub text: String,
}

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
    static TRACE: RefCell<Trace> = RefCell::new(Trace::default());
    /// Runtime variables of the values being read right now (see [`with_runtime_vars`]).
    static KIND_RUNTIME_VARS: Cell<&'static [&'static str]> = const { Cell::new(&[]) };
}

/// Runs `f` with `names` kept as written, like [`RUNTIME_VARS`], in every [`Template`]
/// deserialized inside it: variables that one kind fills per run (a browser step's `${run}`),
/// unknown everywhere else.
pub fn with_runtime_vars<T>(names: &'static [&'static str], f: impl FnOnce() -> T) -> T {
    let before = KIND_RUNTIME_VARS.with(|v| v.replace(names));
    let out = f();
    KIND_RUNTIME_VARS.with(|v| v.set(before));
    out
}

/// Runs `f` with `scope` as the scope every [`Template`] deserialized inside it expands against.
pub(crate) fn with_scope<T>(scope: Scope, f: impl FnOnce() -> T) -> T {
    SCOPE.with(|s| *s.borrow_mut() = Some(scope));
    let out = f();
    SCOPE.with(|s| *s.borrow_mut() = None);
    out
}

/// Takes what was traced on this thread since the last call.
pub(crate) fn take_trace() -> Trace {
    TRACE.with(|t| std::mem::take(&mut *t.borrow_mut()))
}

/// Why a `${...}` reference could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown variable `{name}`{}", unknown_var_hint(name, suggestion))]
    UnknownVar {
        name: String,
        suggestion: Option<String>,
    },
    #[error("environment variable `{name}` is not set")]
    UnsetEnv { name: String },
    #[error("unclosed `${{` in `{text}`: write `${{name}}`, or `$$` for a literal `$`")]
    Unclosed { text: String },
    #[error("empty variable name `${{}}`")]
    Empty,
}

fn unknown_var_hint(name: &str, suggestion: &Option<String>) -> String {
    if let Some(s) = suggestion {
        return format!(", did you mean `{s}`?");
    }
    if name
        .chars()
        .any(|c| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
    {
        // `${x%.sql}`, `${#list}`: shell syntax meant for the shell, not for preflight.
        return ": for a literal `${` (e.g. shell syntax) write `$${`".into();
    }
    ": define it in `[vars]` or pass `--var NAME=VALUE`".into()
}

/// Expands `${name}`, `${env:NAME}` and `$$` in `text`. Names listed in [`RUNTIME_VARS`] are
/// kept as written unless `vars` defines them.
pub fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    known: &dyn Fn() -> Vec<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(TemplateError::Unclosed {
                    text: text.to_string(),
                });
            };
            let (name, form) = Form::split(body[..end].trim());
            if name.is_empty() {
                return Err(TemplateError::Empty);
            }
            if let Some(env) = name.strip_prefix("env:") {
                match std::env::var(env) {
                    Ok(v) => out.push_str(&form.apply(&v)),
                    Err(_) => {
                        return Err(TemplateError::UnsetEnv {
                            name: env.to_string(),
                        });
                    }
                }
            } else if let Some(v) = lookup(name) {
                out.push_str(&form.apply(&v));
            } else if RUNTIME_VARS.contains(&name)
                || KIND_RUNTIME_VARS.with(|v| v.get().contains(&name))
            {
                out.push_str(&format!("${{{}}}", body[..end].trim()));
            } else {
                let suggestion = crate::suggest::closest(name, known().iter().map(String::as_str));
                return Err(TemplateError::UnknownVar {
                    name: name.to_string(),
                    suggestion,
                });
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// How a value is pasted: as it is, shell-quoted (`${name:sh}`) or percent-encoded
/// (`${name:url}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Raw,
    Shell,
    Url,
}

impl Form {
    /// `name:sh` → (`name`, Shell). `env:NAME` keeps its colon.
    pub fn split(reference: &str) -> (&str, Form) {
        match reference.rsplit_once(':') {
            Some((name, "sh")) => (name.trim(), Form::Shell),
            Some((name, "url")) => (name.trim(), Form::Url),
            _ => (reference, Form::Raw),
        }
    }

    pub fn apply(self, value: &str) -> String {
        match self {
            Form::Raw => value.to_string(),
            Form::Shell => shell_quote(value),
            Form::Url => percent_encode(value),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `value` as one shell word: single-quoted, with each `'` written `'\''`.
pub fn shell_quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._/:@%+=,".contains(&b))
    {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// Expands `text` against the scope of the checklist being parsed, tracing what it uses.
pub(crate) fn expand_in_scope(text: &str) -> Result<String, TemplateError> {
    expand_traced(text, false)
}

/// [`expand_in_scope`] for a string run by `sh -c`: also traces tainted vars pasted unquoted.
pub(crate) fn expand_shell_in_scope(text: &str) -> Result<String, TemplateError> {
    expand_traced(text, true)
}

fn expand_traced(text: &str, shell: bool) -> Result<String, TemplateError> {
    SCOPE.with(|s| {
        let scope = s.borrow();
        let vars = scope.as_ref().map(|s| &s.vars);
        let used = RefCell::new(Vec::new());
        let out = expand(
            text,
            &|name| {
                used.borrow_mut().push(name.to_string());
                vars.and_then(|v| v.get(name).cloned())
            },
            &|| {
                vars.map(|v| v.keys().cloned().collect())
                    .unwrap_or_default()
            },
        )?;
        TRACE.with(|t| {
            let mut t = t.borrow_mut();
            t.used.extend(used.into_inner());
            t.credentials.extend(url_credentials(&out));
            if shell {
                let tainted = |n: &str| {
                    n.starts_with("env:") || scope.as_ref().is_some_and(|s| s.tainted.contains(n))
                };
                t.unquoted.extend(references(text).into_iter().filter_map(
                    |(reference, name, form)| {
                        (form == Form::Raw && tainted(&name)).then(|| UnquotedSplice {
                            reference,
                            name,
                            text: text.to_string(),
                        })
                    },
                ));
            }
        });
        Ok(out)
    })
}

/// The `${...}` references in `text` (not `$${`): as written, the name, the form.
pub fn references(text: &str) -> Vec<(String, String, Form)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else { break };
            let (name, form) = Form::split(body[..end].trim());
            found.push((format!("${{{}}}", &body[..end]), name.to_string(), form));
            rest = &body[end + 1..];
        } else {
            rest = after;
        }
    }
    found
}

/// `(user, password)` of every `scheme://user:password@` in `text`, percent-decoded.
fn url_credentials(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("://") {
        let rest = &text[at + 3..];
        let end = rest
            .find(|c: char| c.is_whitespace() || "/?#".contains(c))
            .unwrap_or(rest.len());
        let Some(userinfo) = rest[..end].rsplit_once('@').map(|(u, _)| u) else {
            continue;
        };
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        found.push((percent_decode(user), percent_decode(password)));
    }
    found
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A checklist string with its variables expanded.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Template(String);

impl Template {
    pub fn new(text: impl Into<String>) -> Self {
        Template(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Fills the [`RUNTIME_VARS`] this string still refers to (`${name}`, `${name:sh}`,
    /// `${name:url}`).
    pub fn expand_runtime(&self, vars: &[(&str, &str)]) -> String {
        let mut out = self.0.clone();
        for (name, value) in vars {
            for (suffix, form) in [("", Form::Raw), (":sh", Form::Shell), (":url", Form::Url)] {
                out = out.replace(&format!("${{{name}{suffix}}}"), &form.apply(value));
            }
        }
        out
    }
}

impl Deref for Template {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        expand_in_scope(&raw)
            .map(Template)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<String, TemplateError> {
        let vars: IndexMap<String, String> =
            [("base".to_string(), "http://127.0.0.1:1".to_string())]
                .into_iter()
                .collect();
        expand(text, &|n| vars.get(n).cloned(), &|| {
            vars.keys().cloned().collect()
        })
    }

    #[test]
    fn expands_vars_env_and_dollars() {
        assert_eq!(run("${base}/health").unwrap(), "http://127.0.0.1:1/health");
        assert_eq!(run("$$HOME costs $5").unwrap(), "$HOME costs $5");
        assert_eq!(
            run("${ env:PATH }").unwrap(),
            std::env::var("PATH").unwrap()
        );
        assert_eq!(run("x-${previous_tag}").unwrap(), "x-${previous_tag}");
        assert!(run("u-${unique}").is_err());
        assert_eq!(
            with_runtime_vars(&["unique"], || run("u-${unique}")).unwrap(),
            "u-${unique}"
        );
        assert!(run("u-${unique}").is_err());
    }

    #[test]
    fn rejects_unknown_unclosed_and_unset() {
        assert_eq!(
            run("${bsae}/x").unwrap_err(),
            TemplateError::UnknownVar {
                name: "bsae".into(),
                suggestion: Some("base".into())
            }
        );
        assert!(matches!(run("${base"), Err(TemplateError::Unclosed { .. })));
        assert!(matches!(run("${}"), Err(TemplateError::Empty)));
        assert!(matches!(
            run("${env:PREFLIGHT_SURELY_UNSET_VAR}"),
            Err(TemplateError::UnsetEnv { .. })
        ));
    }

    #[test]
    fn forms_quote_for_the_shell_and_encode_for_urls() {
        let vars: IndexMap<String, String> = [("b".to_string(), "main; it's $HOME".to_string())]
            .into_iter()
            .collect();
        let run = |t: &str| {
            expand(t, &|n| vars.get(n).cloned(), &|| {
                vars.keys().cloned().collect()
            })
            .unwrap()
        };
        assert_eq!(run("echo ${b:sh}"), r#"echo 'main; it'\''s $HOME'"#);
        assert_eq!(run("/q?b=${b:url}"), "/q?b=main%3B%20it%27s%20%24HOME");
        assert_eq!(shell_quote("plain-word_1.2"), "plain-word_1.2");
        assert_eq!(shell_quote(""), "''");
        let t = Template::new("x ${previous_tag:sh} ${previous_tag}");
        assert_eq!(
            t.expand_runtime(&[("previous_tag", "v1 2")]),
            "x 'v1 2' v1 2"
        );
    }

    #[test]
    fn references_and_url_credentials_are_found() {
        let refs = references("a ${x} $${y} ${ env:HOME :sh} ${z:url}");
        let names: Vec<(&str, Form)> = refs.iter().map(|(_, n, f)| (n.as_str(), *f)).collect();
        assert_eq!(
            names,
            [
                ("x", Form::Raw),
                ("env:HOME", Form::Shell),
                ("z", Form::Url)
            ]
        );
        assert_eq!(
            url_credentials("GET https://deploy:p%40ss@host/x and http://tok@h"),
            [
                ("deploy".to_string(), "p@ss".to_string()),
                ("tok".to_string(), String::new())
            ]
        );
    }
}
