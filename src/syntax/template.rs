//! `${name}` interpolation of checklist strings.
//!
//! Strings are expanded while the checklist is deserialized, so an unknown variable is reported
//! by the TOML deserializer itself, with the span of the string that names it.

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
}

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
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
            let name = body[..end].trim();
            if name.is_empty() {
                return Err(TemplateError::Empty);
            }
            if let Some(env) = name.strip_prefix("env:") {
                match std::env::var(env) {
                    Ok(v) => out.push_str(&v),
                    Err(_) => {
                        return Err(TemplateError::UnsetEnv {
                            name: env.to_string(),
                        });
                    }
                }
            } else if let Some(v) = lookup(name) {
                out.push_str(&v);
            } else if RUNTIME_VARS.contains(&name)
                || KIND_RUNTIME_VARS.with(|v| v.get().contains(&name))
            {
                out.push_str(&format!("${{{name}}}"));
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

/// Expands `text` against the scope of the checklist being parsed.
pub(crate) fn expand_in_scope(text: &str) -> Result<String, TemplateError> {
    SCOPE.with(|s| {
        let scope = s.borrow();
        let vars = scope.as_ref().map(|s| &s.vars);
        expand(
            text,
            &|name| vars.and_then(|v| v.get(name).cloned()),
            &|| {
                vars.map(|v| v.keys().cloned().collect())
                    .unwrap_or_default()
            },
        )
    })
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

    /// Fills the [`RUNTIME_VARS`] this string still refers to.
    pub fn expand_runtime(&self, vars: &[(&str, &str)]) -> String {
        let mut out = self.0.clone();
        for (name, value) in vars {
            out = out.replace(&format!("${{{name}}}"), value);
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
}
