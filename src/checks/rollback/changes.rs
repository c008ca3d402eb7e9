//! The migrations of two trees, matched by what the tool records (version or id, never the
//! path): added, edited (for real or only reformatted), deleted, squashed.

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;

use super::canonical::canonical;
use super::migrations::{self, Role, Tool, key_order};

/// One file of a migration in a tree.
#[derive(Debug, Clone)]
pub struct FileRef {
    /// Relative to the repository.
    pub path: String,
    pub role: Role,
    pub blob: Oid,
}

/// One migration in a tree.
#[derive(Debug, Clone)]
pub struct Migration {
    pub key: String,
    pub id: String,
    pub files: Vec<FileRef>,
    /// Alembic: the revisions it revises.
    pub revises: Vec<String>,
}

/// The migrations of one tree by key.
pub type MigrationSet = BTreeMap<String, Migration>;

/// Groups the files under a migrations directory (paths relative to it, `prefix` + path is
/// relative to the repository) into migrations.
pub fn collect(
    tool: Tool,
    prefix: &str,
    files: &BTreeMap<String, Oid>,
    read: &dyn Fn(Oid) -> String,
) -> MigrationSet {
    let mut set = MigrationSet::new();
    for (in_dir, blob) in files {
        let in_repo = format!("{prefix}{in_dir}");
        let Some(c) = migrations::classify(tool, in_dir, &in_repo) else {
            continue;
        };
        let (mut key, mut id, mut revises) = (c.key, c.id, Vec::new());
        if tool == Tool::Alembic {
            let text = read(*blob);
            if !text.contains("def upgrade") {
                continue; // a helper module, not a revision
            }
            let (revision, down) = migrations::alembic_revisions(&text);
            if let Some(rev) = revision {
                key = rev.clone();
                id = rev;
            }
            revises = down;
        }
        let m = set.entry(key.clone()).or_insert_with(|| Migration {
            key,
            id,
            files: Vec::new(),
            revises: Vec::new(),
        });
        m.revises.extend(revises);
        m.files.push(FileRef {
            path: in_repo,
            role: c.role,
            blob: *blob,
        });
    }
    for m in set.values_mut() {
        m.files.sort_by_key(|f| f.role);
    }
    set
}

/// How a released migration changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Edit {
    Unchanged,
    /// Only formatting (whitespace, comments, case, quotes) changed, and the tool records
    /// only versions.
    Reformatted,
    /// What it does changed; `breaks` when the tool checksums applied migrations and the up
    /// file changed, so databases that ran it refuse to start.
    Edited {
        breaks: bool,
        files: Vec<String>,
    },
}

/// Compares a released migration with HEAD's version of it.
pub fn compare(tool: Tool, old: &Migration, new: &Migration, read: &dyn Fn(Oid) -> String) -> Edit {
    let mut roles: BTreeSet<Role> = old.files.iter().map(|f| f.role).collect();
    roles.extend(new.files.iter().map(|f| f.role));
    let mut changed: Vec<(&str, Option<&FileRef>, Option<&FileRef>, Role)> = Vec::new();
    for role in roles {
        let o = old.files.iter().find(|f| f.role == role);
        let n = new.files.iter().find(|f| f.role == role);
        if o.map(|f| f.blob) != n.map(|f| f.blob) {
            let path = n.or(o).map_or("", |f| f.path.as_str());
            changed.push((path, o, n, role));
        }
    }
    if changed.is_empty() {
        return Edit::Unchanged;
    }
    let files: Vec<String> = changed.iter().map(|c| c.0.to_string()).collect();
    if tool.checksums() {
        let breaks = changed.iter().any(|c| c.3.is_up());
        return Edit::Edited { breaks, files };
    }
    let cosmetic = changed.iter().all(|(path, o, n, _)| match (o, n) {
        (Some(o), Some(n)) => canonical(path, &read(o.blob)) == canonical(path, &read(n.blob)),
        _ => false,
    });
    if cosmetic {
        Edit::Reformatted
    } else {
        Edit::Edited {
            breaks: false,
            files,
        }
    }
}

/// The group a migration's order is kept in (Django numbers each app's migrations apart).
fn group(tool: Tool, key: &str) -> &str {
    match tool {
        Tool::Django => key.rsplit_once('/').map_or("", |(app, _)| app),
        _ => "",
    }
}

/// Which deleted released migrations were squashed (removed wholesale): those a Django
/// `replaces` names, the oldest ones of their group when only the oldest went, and for
/// Alembic those no remaining revision revises.
pub fn squashed(
    tool: Tool,
    old: &MigrationSet,
    new: &MigrationSet,
    deleted: &[String],
    replaced: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = deleted
        .iter()
        .filter(|k| replaced.contains(*k))
        .cloned()
        .collect();
    if tool == Tool::Alembic {
        let revised: BTreeSet<&String> = new.values().flat_map(|m| &m.revises).collect();
        out.extend(deleted.iter().filter(|k| !revised.contains(k)).cloned());
        return out;
    }
    let gone: BTreeSet<&String> = deleted.iter().collect();
    let mut groups: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for k in old.keys() {
        groups.entry(group(tool, k)).or_default().push(k);
    }
    for keys in groups.values_mut() {
        keys.sort_by(|a, b| key_order(a, b));
        // The oldest `n` went and every later one stayed.
        let n = keys.iter().take_while(|k| gone.contains(*k)).count();
        if n > 0 && keys[n..].iter().all(|k| !gone.contains(*k)) {
            out.extend(keys[..n].iter().map(|k| (*k).clone()));
        }
    }
    out
}

/// The order migrations run in: Alembic by its revision graph, the others by version.
pub fn run_order(tool: Tool, added: &mut Vec<&Migration>) {
    if tool != Tool::Alembic {
        added.sort_by(|a, b| key_order(&a.key, &b.key));
        return;
    }
    let mut rest: Vec<&Migration> = std::mem::take(added);
    rest.sort_by(|a, b| a.key.cmp(&b.key));
    while !rest.is_empty() {
        let pending: BTreeSet<&str> = rest.iter().map(|m| m.key.as_str()).collect();
        // Those whose parents ran already (or are not in this set); a cycle: take them all.
        let (ready, later): (Vec<&Migration>, Vec<&Migration>) = rest
            .iter()
            .partition(|m| m.revises.iter().all(|r| !pending.contains(r.as_str())));
        if ready.is_empty() {
            added.append(&mut rest);
            break;
        }
        added.extend(ready);
        rest = later;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: &[&str]) -> MigrationSet {
        keys.iter()
            .map(|k| {
                (
                    k.to_string(),
                    Migration {
                        key: k.to_string(),
                        id: k.to_string(),
                        files: Vec::new(),
                        revises: Vec::new(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn only_the_oldest_going_is_a_squash() {
        let old = set(&["1", "2", "3", "10"]);
        let keys = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let none = BTreeSet::new();
        let s = squashed(
            Tool::Rails,
            &old,
            &set(&["3", "10"]),
            &keys(&["1", "2"]),
            &none,
        );
        assert_eq!(s.len(), 2);
        let s = squashed(
            Tool::Rails,
            &old,
            &set(&["1", "3", "10"]),
            &keys(&["2"]),
            &none,
        );
        assert!(s.is_empty());
        // Per Django app.
        let old = set(&["a/0001_x", "a/0002_y", "b/0001_x"]);
        let s = squashed(
            Tool::Django,
            &old,
            &set(&["a/0002_y"]),
            &keys(&["a/0001_x", "b/0001_x"]),
            &none,
        );
        assert_eq!(s.len(), 2);
    }
}
