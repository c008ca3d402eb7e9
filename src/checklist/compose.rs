//! A checklist made of several files and environments: `include = [...]` and
//! `[profile.NAME]`, combined into one TOML document before it is read.
//!
//! Included files are read depth first; each file's tables come before those of the file that
//! includes it (so its vars may be used there), and a file included twice is read once. Two
//! files may not define the same var, service or item. A profile replaces keys of `vars`,
//! `checklist`, services and items whole; it cannot add an item.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{self, ChecklistError, ChecklistErrorKind, PROFILE_KEYS, ProfileTarget};
use super::sources::Sources;
use crate::checks::KINDS;

/// Top-level keys only the main file may have.
const MAIN_ONLY: &[&str] = &["checklist", "profile"];

/// The files of a checklist, in the order their tables are combined (includes first).
pub struct Files {
    pub sources: Sources,
    order: Vec<usize>,
}

/// Reads the files the main file (`path`, `text`) includes, transitively.
pub fn read(path: &Path, text: &str) -> Result<Files, ChecklistError> {
    let mut files = Files {
        sources: Sources::default(),
        order: Vec::new(),
    };
    files.sources.add(path.to_path_buf(), Arc::from(text));
    let main = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut stack = vec![main.clone()];
    let mut seen = HashSet::from([main]);
    files.collect(0, &mut stack, &mut seen)?;
    Ok(files)
}

/// Shared-space span of a span local to file `index`.
fn global(sources: &Sources, index: usize, span: Range<usize>) -> Range<usize> {
    let start = sources.file(index).start;
    start + span.start..start + span.end
}

impl Files {
    fn collect(
        &mut self,
        index: usize,
        stack: &mut Vec<PathBuf>,
        seen: &mut HashSet<PathBuf>,
    ) -> Result<(), ChecklistError> {
        let (path, text) = {
            let f = self.sources.file(index);
            (f.path.clone(), f.text.clone())
        };
        let table = DeTable::parse(&text).map_err(|e| {
            error::from_toml(path.as_path().into(), text.clone(), e.message(), e.span())
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        for (name, span) in includes(table.get_ref()).map_err(|span| {
            self.sources.error(
                Some(global(&self.sources, index, span)),
                ChecklistErrorKind::BadInclude,
            )
        })? {
            let at = Some(global(&self.sources, index, span));
            let included = dir.join(&name);
            let failed = |message: String| ChecklistErrorKind::IncludeRead {
                include: name.clone(),
                message,
            };
            let canonical = std::fs::canonicalize(&included)
                .map_err(|e| self.sources.error(at.clone(), failed(e.to_string())))?;
            if let Some(pos) = stack.iter().position(|p| *p == canonical) {
                let mut cycle: Vec<String> = stack[pos..]
                    .iter()
                    .map(|p| {
                        p.file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect();
                cycle.push(name.clone());
                return Err(self
                    .sources
                    .error(at, ChecklistErrorKind::IncludeCycle { cycle }));
            }
            if !seen.insert(canonical.clone()) {
                continue;
            }
            let bytes = std::fs::read(&included)
                .map_err(|e| self.sources.error(at.clone(), failed(e.to_string())))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| self.sources.error(at, failed("not valid UTF-8".into())))?;
            let child = self.sources.add(included, Arc::from(text));
            stack.push(canonical);
            self.collect(child, stack, seen)?;
            stack.pop();
        }
        self.order.push(index);
        Ok(())
    }

    /// Where the file holding shared-space `offset` comes in the combined order (included
    /// files before the file that includes them).
    pub fn rank(&self, offset: usize) -> usize {
        let index = self.sources.index_at(offset);
        self.order.iter().position(|&i| i == index).unwrap_or(0)
    }

    /// The whole checklist as one document, with `profile`'s overrides applied (every other
    /// profile is checked, not applied), and the names of the profiles.
    pub fn compose(
        &self,
        profile: Option<&str>,
    ) -> Result<(DeTable<'_>, Vec<String>), ChecklistError> {
        let sources = &self.sources;
        let mut root = DeTable::new();
        let mut profiles = None;
        for &index in &self.order {
            let file = sources.file(index);
            // Each file parsed already when it was collected.
            let table = DeTable::parse(&file.text)
                .map_err(|e| sources.toml_error(&e))?
                .into_inner();
            let mut table = shift_table(table, file.start);
            table.remove("include");
            if index == 0 {
                profiles = table.remove_entry("profile");
            } else if let Some(key) = MAIN_ONLY.iter().find_map(|k| table.get_key_value(*k)) {
                return Err(sources.error(
                    Some(key.0.span()),
                    ChecklistErrorKind::MainOnly {
                        key: key.0.get_ref().to_string(),
                    },
                ));
            }
            merge(&mut root, table, sources)?;
        }
        let Some((key, profiles)) = profiles else {
            return match profile {
                Some(name) => Err(sources.error(None, unknown_profile(name, &[]))),
                None => Ok((root, Vec::new())),
            };
        };
        let DeValue::Table(profiles) = profiles.into_inner() else {
            return Err(sources.error(Some(key.span()), ChecklistErrorKind::ProfileNotTable));
        };
        let names: Vec<String> = profiles.keys().map(|k| k.get_ref().to_string()).collect();
        if let Some(name) = profile
            && !names.iter().any(|n| n == name)
        {
            return Err(sources.error(None, unknown_profile(name, &names)));
        }
        for (name, overrides) in &profiles {
            check(&root, name.get_ref(), overrides, sources)?;
        }
        if let Some(overrides) = profile.and_then(|name| profiles.get(name)) {
            apply(&mut root, overrides.clone());
        }
        Ok((root, names))
    }
}

fn unknown_profile(name: &str, known: &[String]) -> ChecklistErrorKind {
    ChecklistErrorKind::UnknownProfile {
        name: name.to_string(),
        known: known.to_vec(),
    }
}

/// The entries of `include` (a path or a list of paths) with their spans; the span of the
/// value when it is neither.
fn includes(table: &DeTable<'_>) -> Result<Vec<(String, Range<usize>)>, Range<usize>> {
    let Some(value) = table.get("include") else {
        return Ok(Vec::new());
    };
    let one = |v: &Spanned<DeValue<'_>>| match v.get_ref() {
        DeValue::String(s) => Ok((s.to_string(), v.span())),
        _ => Err(v.span()),
    };
    match value.get_ref() {
        DeValue::Array(a) => a.iter().map(one).collect(),
        _ => one(value).map(|i| vec![i]),
    }
}

/// Adds `table` (one file) to `root`; a var, service or item both define is an error.
fn merge<'s>(
    root: &mut DeTable<'s>,
    table: DeTable<'s>,
    sources: &Sources,
) -> Result<(), ChecklistError> {
    for (key, value) in table {
        let Some((first_key, existing)) = root.get_key_value(key.get_ref().as_ref()) else {
            root.insert(key, value);
            continue;
        };
        let (DeValue::Table(existing), DeValue::Table(new)) = (existing.get_ref(), value.get_ref())
        else {
            return Err(duplicate(sources, &key, first_key, key.get_ref()));
        };
        for (k, _) in new {
            if let Some((first, _)) = existing.get_key_value(k.get_ref().as_ref()) {
                let what = format!("{}.{}", key.get_ref(), k.get_ref());
                return Err(duplicate(sources, k, first, &what));
            }
        }
        let DeValue::Table(new) = value.into_inner() else {
            unreachable!("matched a table above")
        };
        if let Some(DeValue::Table(existing)) =
            root.get_mut(key.get_ref().as_ref()).map(Spanned::get_mut)
        {
            for (k, v) in new {
                existing.insert(k, v);
            }
        }
    }
    Ok(())
}

fn duplicate(
    sources: &Sources,
    at: &Spanned<Cow<'_, str>>,
    first: &Spanned<Cow<'_, str>>,
    what: &str,
) -> ChecklistError {
    sources.error(
        Some(at.span()),
        ChecklistErrorKind::Duplicate {
            what: what.to_string(),
            first: sources.position(first.span().start),
        },
    )
}

/// Checks profile `name`'s `overrides` against `root` without applying them: each section is
/// one a profile may hold, and each item or service it gives keys to exists.
fn check(
    root: &DeTable<'_>,
    name: &str,
    overrides: &Spanned<DeValue<'_>>,
    sources: &Sources,
) -> Result<(), ChecklistError> {
    let not_table = |span| sources.error(Some(span), ChecklistErrorKind::ProfileNotTable);
    let DeValue::Table(overrides) = overrides.get_ref() else {
        return Err(not_table(overrides.span()));
    };
    for (section, value) in overrides {
        let s = section.get_ref().as_ref();
        if !PROFILE_KEYS.contains(&s) {
            return Err(sources.error(
                Some(section.span()),
                ChecklistErrorKind::ProfileKey {
                    profile: name.to_string(),
                    key: s.to_string(),
                },
            ));
        }
        let DeValue::Table(entries) = value.get_ref() else {
            return Err(not_table(value.span()));
        };
        if s != "service" && !KINDS.contains(&s) {
            continue;
        }
        let tables: Vec<&str> = match root.get(s).map(Spanned::get_ref) {
            Some(DeValue::Table(base)) => base
                .iter()
                .filter(|(_, v)| matches!(v.get_ref(), DeValue::Table(_)))
                .map(|(n, _)| n.get_ref().as_ref())
                .collect(),
            _ => Vec::new(),
        };
        for (key, value) in entries {
            let k = key.get_ref().as_ref();
            // A table names an item or service (a kind's setting that is absent may be set).
            if !matches!(value.get_ref(), DeValue::Table(_)) || tables.contains(&k) {
                continue;
            }
            let names: Vec<String> = tables.iter().map(|n| format!("{s}.{n}")).collect();
            let what = format!("{s}.{k}");
            return Err(sources.error(
                Some(key.span()),
                ChecklistErrorKind::UnknownProfileTarget(Box::new(ProfileTarget {
                    suggestion: crate::suggest::closest(&what, names.iter().map(String::as_str)),
                    profile: name.to_string(),
                    what,
                })),
            ));
        }
    }
    Ok(())
}

/// Applies a profile's `overrides` ([`check`]ed) to `root`: the keys of an item or service
/// are replaced one by one; vars, `[checklist]` keys and a kind's settings whole.
fn apply<'s>(root: &mut DeTable<'s>, overrides: Spanned<DeValue<'s>>) {
    let DeValue::Table(overrides) = overrides.into_inner() else {
        return;
    };
    for (section, value) in overrides {
        let s = section.get_ref().to_string();
        let is_items = s == "service" || KINDS.contains(&s.as_str());
        let span = value.span();
        let DeValue::Table(entries) = value.into_inner() else {
            continue;
        };
        if root.get(s.as_str()).is_none() {
            root.insert(section, Spanned::new(span, DeValue::Table(DeTable::new())));
        }
        // A base section that is not a table is an error the checklist reader reports.
        let Some(DeValue::Table(base)) = root.get_mut(s.as_str()).map(Spanned::get_mut) else {
            continue;
        };
        for (key, value) in entries {
            let target = base.get_mut(key.get_ref().as_ref()).map(Spanned::get_mut);
            let at = value.span();
            match (target, value.into_inner()) {
                (Some(DeValue::Table(target)), DeValue::Table(keys)) if is_items => {
                    for (k, v) in keys {
                        target.insert(k, v);
                    }
                }
                (_, value) => {
                    base.insert(key, Spanned::new(at, value));
                }
            }
        }
    }
}

/// Moves every span of `table` (parsed alone) by `by` into the shared span space.
fn shift_table(table: DeTable<'_>, by: usize) -> DeTable<'_> {
    let mut out = DeTable::new();
    for (k, v) in table {
        let span = k.span();
        out.insert(
            Spanned::new(span.start + by..span.end + by, k.into_inner()),
            shift(v, by),
        );
    }
    out
}

fn shift(value: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = value.span();
    let mut inner = value.into_inner();
    match &mut inner {
        DeValue::Table(t) => *t = shift_table(std::mem::take(t), by),
        DeValue::Array(a) => {
            for e in a.iter_mut() {
                let taken = std::mem::replace(e, Spanned::new(0..0, DeValue::Boolean(false)));
                *e = shift(taken, by);
            }
        }
        _ => {}
    }
    Spanned::new(span.start + by..span.end + by, inner)
}
