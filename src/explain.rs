//! `preflight kinds` and `preflight explain KIND`: the item kinds and their keys.
//!
//! The README's key tables are the one source: they are compiled into the binary and printed
//! from there, and a test checks that each kind's tables name exactly the keys its
//! configuration type reads (the JSON Schema generated from it), so neither can drift.

use crate::checks::KINDS;
use crate::cli::UsageError;

const README: &str = include_str!("../README.md");

/// The heading of the common keys' section.
const COMMON_SECTION: &str = "### Keys every item has";

/// One row of a README key table: `| key | default | meaning |`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub key: String,
    pub default: String,
    pub meaning: String,
}

impl KeyRow {
    /// The top-level keys a row documents: every backticked name in its first cell, up to a
    /// dot (`watch.pid` documents `watch`).
    pub fn keys(&self) -> Vec<String> {
        self.key
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|k| k.split('.').next().unwrap_or(k).to_string())
            .collect()
    }
}

/// The lines of README's section whose heading line starts with `heading`, up to the next
/// heading of the same or a higher level.
fn section(heading: &str) -> Option<Vec<&'static str>> {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let mut lines = README.lines().skip_while(|l| !l.starts_with(heading));
    let first = lines.next()?;
    let mut out = vec![first];
    for line in lines {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
            break;
        }
        out.push(line);
    }
    Some(out)
}

fn heading_of(kind: &str) -> String {
    format!("### `[{kind}.NAME]`")
}

/// The rows of every `| key | default | meaning |` table in a section.
fn key_rows(lines: &[&str]) -> Vec<KeyRow> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in lines {
        let t = line.trim();
        if !t.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = split_row(t);
        if cells.len() == 3 && cells[0] == "key" && cells[1] == "default" {
            in_table = true;
            continue;
        }
        if !in_table || cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
            continue;
        }
        if let [key, default, meaning] = cells.as_slice() {
            rows.push(KeyRow {
                key: key.to_string(),
                default: default.to_string(),
                meaning: meaning.to_string(),
            });
        }
    }
    rows
}

/// The cells of a markdown table row (a `|` inside backticks does not split).
fn split_row(row: &str) -> Vec<&str> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let (mut start, mut in_code) = (0, false);
    for (i, c) in inner.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '|' if !in_code && !inner[..i].ends_with('\\') => {
                cells.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    cells.push(inner[start..].trim());
    cells
}

/// The README's key table rows of `kind` (its own keys, not the common ones).
pub fn kind_rows(kind: &str) -> Vec<KeyRow> {
    section(&heading_of(kind))
        .map(|s| key_rows(&s))
        .unwrap_or_default()
}

/// The README's rows of the keys every item has.
pub fn common_rows() -> Vec<KeyRow> {
    section(COMMON_SECTION)
        .map(|s| key_rows(&s))
        .unwrap_or_default()
}

/// The first sentence of the description of `kind`'s configuration type.
fn summary(kind: &str) -> String {
    let schema = crate::checklist::schema::item_schema_json(kind);
    let text = schema
        .get("description")
        .and_then(|d| d.as_str())
        .unwrap_or("");
    text.split("\n\n").next().unwrap_or("").replace('\n', " ")
}

/// `preflight kinds`: one block per kind, its summary and its keys.
pub fn kinds() -> String {
    let mut out = String::new();
    for kind in KINDS {
        let keys: Vec<String> =
            kind_rows(kind)
                .iter()
                .flat_map(KeyRow::keys)
                .fold(Vec::new(), |mut v, k| {
                    if !v.contains(&k) {
                        v.push(k);
                    }
                    v
                });
        out.push_str(&format!("[{kind}.NAME]  {}\n", summary(kind)));
        out.push_str(&format!("    keys: {}\n", keys.join(", ")));
    }
    let common: Vec<String> = common_rows().iter().flat_map(KeyRow::keys).collect();
    out.push_str(&format!("\nEvery item also has: {}\n", common.join(", ")));
    out.push_str("`preflight explain KIND` shows each key with its default and meaning.\n");
    out
}

/// `preflight explain KIND`: the README's key tables of `kind` and the common keys.
pub fn explain(kind: &str) -> Result<String, UsageError> {
    let kind = kind
        .trim_start_matches('[')
        .split(['.', ']'])
        .next()
        .unwrap_or(kind);
    if !KINDS.contains(&kind) {
        return Err(UsageError::UnknownKind {
            kind: kind.to_string(),
            suggestion: crate::suggest::closest(kind, KINDS.iter().copied()),
        });
    }
    let mut out = format!("[{kind}.NAME]  {}\n\n", summary(kind));
    out.push_str(&render_rows(&kind_rows(kind)));
    out.push_str("\nKeys every item has:\n\n");
    out.push_str(&render_rows(&common_rows()));
    out.push_str(&format!(
        "\nMore (examples, verdicts, reports): the `[{kind}.NAME]` section of README.md.\n"
    ));
    Ok(out)
}

/// Rows as aligned text: key and default in columns, the meaning after them.
fn render_rows(rows: &[KeyRow]) -> String {
    let header = KeyRow {
        key: "key".into(),
        default: "default".into(),
        meaning: "meaning".into(),
    };
    let all: Vec<&KeyRow> = std::iter::once(&header).chain(rows).collect();
    let kw = all.iter().map(|r| r.key.chars().count()).max().unwrap_or(0);
    let dw = all
        .iter()
        .map(|r| r.default.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    let mut out = String::new();
    for r in all {
        let line = format!(
            "  {:kw$}  {:dw$}  {}",
            r.key,
            r.default,
            r.meaning.replace("\\|", "|")
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn schema_keys(kind: &str) -> BTreeSet<String> {
        let schema = crate::checklist::schema::item_schema_json(kind);
        schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The README's tables and the configuration types name the same keys, kind by kind.
    #[test]
    fn readme_tables_name_exactly_the_keys_each_kind_reads() {
        let common: BTreeSet<String> = common_rows().iter().flat_map(KeyRow::keys).collect();
        assert!(
            common.contains("timeout") && common.contains("needs"),
            "{common:?}"
        );
        let mut problems = Vec::new();
        for kind in KINDS {
            let documented: BTreeSet<String> = kind_rows(kind)
                .iter()
                .flat_map(KeyRow::keys)
                .filter(|k| !common.contains(k))
                .collect();
            // `[browser]` also holds run-wide settings, documented in its section.
            let section = crate::checks::section_schema(
                kind,
                &mut schemars::generate::SchemaSettings::draft07().into_generator(),
            )
            .map(serde_json::Value::from)
            .unwrap_or_default();
            let settings = section["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            let read: BTreeSet<String> = schema_keys(kind)
                .into_iter()
                .chain(settings)
                .filter(|k| !common.contains(k))
                .collect();
            assert!(!read.is_empty(), "no schema for `{kind}`");
            for k in read.difference(&documented) {
                problems.push(format!(
                    "`{kind}.{k}` is read but has no row in README's table"
                ));
            }
            for k in documented.difference(&read) {
                problems.push(format!("README documents `{kind}.{k}`, which is not read"));
            }
        }
        let read_common = schema_keys("command");
        for k in &common {
            if !read_common.contains(k) {
                problems.push(format!("README's common key `{k}` is not read"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn explain_prints_the_readme_rows() {
        let text = explain("http").expect("http is a kind");
        for row in kind_rows("http") {
            assert!(text.contains(&row.key), "{} missing in:\n{text}", row.key);
            assert!(text.contains(&row.meaning), "{} missing", row.meaning);
        }
        assert!(matches!(
            explain("htp"),
            Err(UsageError::UnknownKind { suggestion: Some(s), .. }) if s == "http"
        ));
    }

    #[test]
    fn a_pipe_inside_backticks_does_not_split_a_cell() {
        assert_eq!(split_row("| `a|b` | 1 | x |"), vec!["`a|b`", "1", "x"]);
    }
}
