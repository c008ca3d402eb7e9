//! What a release's code shows it can live with: columns its Rails models already ignore,
//! Django fields and models it no longer declares, a migration tool told to tolerate applied
//! migrations it does not know.

use std::cell::OnceCell;

use git2::{Oid, Repository};

use super::git;
use super::migrations::Tool;

/// A release's tree (the previous one's, or HEAD's), read lazily.
pub struct TreeCode<'r> {
    repo: &'r Repository,
    commit: Oid,
    files: OnceCell<Vec<(String, Oid)>>,
    ignored: OnceCell<Vec<Ignored>>,
}

/// `self.ignored_columns` of one Rails model.
struct Ignored {
    table: String,
    columns: Vec<String>,
    file: String,
}

impl<'r> TreeCode<'r> {
    pub fn new(repo: &'r Repository, commit: Oid) -> Self {
        TreeCode {
            repo,
            commit,
            files: OnceCell::new(),
            ignored: OnceCell::new(),
        }
    }

    /// Every file of the tree: (path, blob).
    fn files(&self) -> &[(String, Oid)] {
        self.files
            .get_or_init(|| git::all_files(self.repo, self.commit).unwrap_or_default())
    }

    fn read(&self, blob: Oid) -> Option<String> {
        git::blob_text(self.repo, blob).ok()
    }

    /// The model file whose `ignored_columns` lists `column` of `table`.
    pub fn rails_ignores(&self, table: &str, column: &str) -> Option<&str> {
        let ignored = self.ignored.get_or_init(|| {
            let mut out = Vec::new();
            for (path, blob) in self.files() {
                if !path.ends_with(".rb") || !path.contains("models/") {
                    continue;
                }
                if let Some(text) = self.read(*blob).filter(|t| t.contains("ignored_columns")) {
                    out.extend(ignored_columns(&text, path));
                }
            }
            out
        });
        ignored
            .iter()
            .find(|i| i.table == table && i.columns.iter().any(|c| c == column))
            .map(|i| i.file.as_str())
    }

    /// Where the previous release's models of the Django app in `app_dir` show that `model`
    /// (or, with `field`, that field of it) is gone while a migration still had it.
    pub fn django_gone(&self, app_dir: &str, model: &str, field: Option<&str>) -> Option<String> {
        let prefix = format!("{app_dir}/");
        let files: Vec<(&String, String)> = self
            .files()
            .iter()
            .filter(|(p, _)| {
                p.strip_prefix(&prefix).is_some_and(|rest| {
                    rest == "models.py" || (rest.starts_with("models/") && rest.ends_with(".py"))
                })
            })
            .filter_map(|(p, blob)| self.read(*blob).map(|t| (p, t)))
            .collect();
        if files.is_empty() {
            return None;
        }
        let declares_class = |text: &str| {
            text.lines().any(|l| {
                l.trim_start()
                    .strip_prefix("class ")
                    .and_then(|rest| rest.split(['(', ':']).next())
                    .is_some_and(|name| name.trim().eq_ignore_ascii_case(model))
            })
        };
        let class_file = files.iter().find(|(_, t)| declares_class(t));
        match field {
            None => class_file.is_none().then(|| {
                files
                    .iter()
                    .map(|f| f.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            Some(field) => {
                let (file, _) = class_file?;
                // Declared anywhere in the app's models (an abstract parent too): not gone.
                let declared = files.iter().any(|(_, t)| {
                    t.lines().any(|l| {
                        l.starts_with([' ', '\t'])
                            && l.trim_start()
                                .strip_prefix(field)
                                .is_some_and(|rest| rest.trim_start().starts_with('='))
                    })
                });
                (!declared).then(|| file.to_string())
            }
        }
    }

    /// The file that lets the tool run on a database holding applied migrations it has no
    /// file for (sqlx `set_ignore_missing(true)` / `--ignore-missing`; Flyway
    /// `ignoreMigrationPatterns` with `*:missing`, `ignoreMissingMigrations`), if any.
    pub fn tolerates_missing(&self, tool: Tool) -> Option<String> {
        let (kinds, needles): (&[&str], &[&str]) = match tool {
            Tool::Sqlx => (
                &[
                    ".rs",
                    ".sh",
                    ".toml",
                    ".yml",
                    ".yaml",
                    "Dockerfile",
                    "Makefile",
                    "justfile",
                ],
                &["ignore_missing(true)", "--ignore-missing"],
            ),
            Tool::Flyway => (
                &[
                    ".yml",
                    ".yaml",
                    ".properties",
                    ".conf",
                    ".toml",
                    ".xml",
                    ".gradle",
                    ".kts",
                    ".java",
                    ".kt",
                    ".sh",
                    "Dockerfile",
                ],
                &[
                    "*:missing",
                    "ignoreMissingMigrations(true)",
                    "ignoreMissingMigrations=true",
                    "ignore-missing-migrations: true",
                    "IGNORE_MISSING_MIGRATIONS=true",
                ],
            ),
            _ => return None,
        };
        // Configuration before code: it is where this usually is, and there is less of it.
        let mut files: Vec<&(String, Oid)> = self
            .files()
            .iter()
            .filter(|(p, _)| kinds.iter().any(|k| p.ends_with(k)))
            .collect();
        files.sort_by_key(|(p, _)| [".java", ".kt", ".rs"].iter().any(|k| p.ends_with(k)));
        files
            .into_iter()
            .take(20_000)
            .find(|(_, blob)| {
                self.read(*blob)
                    .is_some_and(|t| needles.iter().any(|n| t.contains(n)))
            })
            .map(|(p, _)| p.clone())
    }
}

/// The tables and ignored columns of the Rails models in `text`.
fn ignored_columns(text: &str, file: &str) -> Vec<Ignored> {
    let mut out = Vec::new();
    let mut class: Option<String> = None;
    let mut table_name: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("class ") {
            let name = rest.split(['<', ' ', ';']).next().unwrap_or("");
            class = Some(name.rsplit("::").next().unwrap_or(name).to_string());
            table_name = None;
        }
        if let Some(rest) = t.strip_prefix("self.table_name") {
            table_name = rest
                .trim_start()
                .strip_prefix('=')
                .map(|v| v.trim().trim_matches(['"', '\'', ':']).to_string());
        }
        let Some(at) = t.find("ignored_columns") else {
            continue;
        };
        let Some(eq) = t[at..].find('=') else {
            continue;
        };
        // The list may continue on the next lines up to its closing bracket.
        let mut list = t[at + eq + 1..].to_string();
        let closer = |l: &str| l.contains([']', ')']);
        for more in text.lines().skip(i + 1).take(20) {
            if closer(&list) {
                break;
            }
            list.push(' ');
            list.push_str(more.trim());
        }
        let columns = column_names(&list);
        let table = table_name
            .clone()
            .or_else(|| class.as_deref().map(tableize))
            .unwrap_or_default();
        out.push(Ignored {
            table,
            columns,
            file: file.to_string(),
        });
    }
    // `self.table_name` may come after `ignored_columns` in the class body.
    if let Some(name) = table_name {
        for i in &mut out {
            if i.table == class.as_deref().map(tableize).unwrap_or_default() {
                i.table = name.clone();
            }
        }
    }
    out
}

/// The names in `%w[a b]`, `%i(a b)`, `["a", :b]` (with `.freeze` and friends after it).
fn column_names(list: &str) -> Vec<String> {
    let l = list.trim();
    if let Some(rest) = l.strip_prefix("%w").or_else(|| l.strip_prefix("%i")) {
        let inner = rest.get(1..).unwrap_or("");
        let inner = inner.split([')', ']', '}']).next().unwrap_or("");
        return inner.split_whitespace().map(str::to_string).collect();
    }
    let inner = l.split(']').next().unwrap_or(l);
    inner
        .split(',')
        .map(|x| x.trim().trim_start_matches('[').trim())
        .map(|x| x.trim_start_matches(':').trim_matches(['"', '\'']))
        .filter(|x| !x.is_empty() && x.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// Rails' table name for a model class: `LineItem` → `line_items`, `Category` → `categories`.
pub fn tableize(class: &str) -> String {
    let mut snake = String::new();
    for (i, c) in class.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.extend(c.to_lowercase());
    }
    let (head, last) = match snake.rsplit_once('_') {
        Some((h, l)) => (format!("{h}_"), l.to_string()),
        None => (String::new(), snake.clone()),
    };
    format!("{head}{}", pluralize(&last))
}

fn pluralize(word: &str) -> String {
    const IRREGULAR: &[(&str, &str)] = &[
        ("person", "people"),
        ("man", "men"),
        ("woman", "women"),
        ("child", "children"),
        ("datum", "data"),
        ("medium", "media"),
    ];
    if let Some((_, p)) = IRREGULAR.iter().find(|(s, _)| *s == word) {
        return (*p).to_string();
    }
    let consonant_y = word.ends_with('y')
        && !word.ends_with("ay")
        && !word.ends_with("ey")
        && !word.ends_with("oy")
        && !word.ends_with("uy");
    if consonant_y {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| word.ends_with(e))
    {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rails_table_names() {
        assert_eq!(tableize("Product"), "products");
        assert_eq!(tableize("LineItem"), "line_items");
        assert_eq!(tableize("Category"), "categories");
        assert_eq!(tableize("Status"), "statuses");
        assert_eq!(tableize("Person"), "people");
        assert_eq!(tableize("Key"), "keys");
    }

    #[test]
    fn ignored_columns_forms() {
        let text = "class Account < ApplicationRecord\n  self.ignored_columns += %w(\n    legacy_a\n    legacy_b\n  )\nend\nclass Thing < ApplicationRecord\n  self.table_name = 'widgets'\n  self.ignored_columns = [:old, \"older\"].freeze\nend\n";
        let found = ignored_columns(text, "m.rb");
        let got: Vec<(String, Vec<String>)> =
            found.into_iter().map(|i| (i.table, i.columns)).collect();
        assert_eq!(
            got,
            vec![
                (
                    "accounts".into(),
                    vec!["legacy_a".into(), "legacy_b".into()]
                ),
                ("widgets".into(), vec!["old".into(), "older".into()]),
            ]
        );
    }
}
