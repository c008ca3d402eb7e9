//! Release tags, semantic versions and the trees the rollback check compares (git2).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use semver::Version;
use serde::Serialize;

/// A tag naming a release.
#[derive(Debug, Clone)]
pub struct ReleaseTag {
    pub name: String,
    pub version: Version,
    pub commit: Oid,
}

/// The part of a glob before its first wildcard (`v` for `v*`, `shop-v` for `shop-v*`): what
/// precedes the version in a tag name.
pub fn literal_prefix(pattern: &str) -> &str {
    let end = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
    &pattern[..end]
}

/// The version a tag names: `v1.2.3` → 1.2.3 (also `1.2` → 1.2.0, and calendar versions
/// `2024.05.22` / `2024-05-22` → 2024.5.22). `None` when it names none.
pub fn version_of(tag: &str, prefix: &str) -> Option<Version> {
    let rest = tag.strip_prefix(prefix).unwrap_or(tag);
    let rest = rest.strip_prefix(['v', 'V']).unwrap_or(rest);
    if let Ok(v) = Version::parse(rest) {
        return Some(v);
    }
    // Calendar versions: leading zeros (which semver forbids) and dashes between numbers.
    let parts: Vec<&str> = rest.split(['.', '-']).collect();
    if (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        let n: Vec<u64> = parts.iter().filter_map(|p| p.parse().ok()).collect();
        return Some(Version::new(n[0], n[1], n.get(2).copied().unwrap_or(0)));
    }
    // `1.2` and `1.2-rc.1`: fill in the patch number.
    let (core, tail) = match rest.find(['-', '+']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if core.split('.').count() == 2 {
        return Version::parse(&format!("{core}.0{tail}")).ok();
    }
    None
}

/// The tags matching `pattern` that name a version, and the names of those that do not.
pub fn release_tags(
    repo: &Repository,
    pattern: &glob::Pattern,
    prefix: &str,
) -> Result<(Vec<ReleaseTag>, Vec<String>), git2::Error> {
    let mut tags = Vec::new();
    let mut not_versions = Vec::new();
    let names = repo.tag_names(None)?;
    for name in names.iter().flatten().flatten() {
        if !pattern.matches(name) {
            continue;
        }
        let Some(version) = version_of(name, prefix) else {
            not_versions.push(name.to_string());
            continue;
        };
        // Annotated and lightweight tags alike: peel to the commit.
        let commit = match repo
            .find_reference(&format!("refs/tags/{name}"))
            .and_then(|r| r.peel_to_commit())
        {
            Ok(c) => c.id(),
            Err(_) => continue, // a tag of a tree or blob names no release
        };
        tags.push(ReleaseTag {
            name: name.to_string(),
            version,
            commit,
        });
    }
    tags.sort_by(|a, b| a.version.cmp(&b.version).then_with(|| a.name.cmp(&b.name)));
    Ok((tags, not_versions))
}

/// The release HEAD is (its highest tag), if it is tagged.
pub fn head_release(tags: &[ReleaseTag], head: Oid) -> Option<&ReleaseTag> {
    tags.iter()
        .filter(|t| t.commit == head)
        .max_by(|a, b| a.version.cmp(&b.version))
}

/// How a release tag's commit relates to HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// HEAD is that commit or descends from it.
    Ancestor,
    /// It descends from HEAD: a release made after the commit checked.
    Later,
    /// Neither: another line of history (a release branch, or an unrelated one).
    OtherLine,
}

/// Which rule chose the previous release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The highest release in HEAD's history.
    Ancestor,
    /// The highest release below HEAD's, on a line that branches from a release in HEAD's
    /// history (a patch release on a release branch): what production runs.
    HotfixLine,
    /// The highest release below HEAD's shares no release with HEAD's history.
    Unrelated,
}

/// The release to roll back to.
#[derive(Debug)]
pub struct Previous<'t> {
    pub tag: &'t ReleaseTag,
    pub rule: Rule,
    /// For a hotfix line: the release in HEAD's history it branches from.
    pub base: Option<&'t ReleaseTag>,
    /// The releases looked at, highest first, with how each relates to HEAD.
    pub candidates: Vec<(&'t ReleaseTag, Relation)>,
}

/// Every commit HEAD's history holds (HEAD included).
fn history(repo: &Repository, head: Oid) -> Result<HashSet<Oid>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.collect::<Result<HashSet<Oid>, _>>()
}

/// The release before `current` (HEAD's version), or when HEAD is untagged the highest release
/// in HEAD's history. Pre-releases count only when `include_prereleases`.
pub fn previous_release<'t>(
    repo: &Repository,
    tags: &'t [ReleaseTag],
    head: Oid,
    current: Option<&Version>,
    include_prereleases: bool,
) -> Result<Option<Previous<'t>>, git2::Error> {
    let eligible: Vec<&ReleaseTag> = tags
        .iter()
        .rev()
        .filter(|t| include_prereleases || t.version.pre.is_empty())
        .filter(|t| match current {
            Some(c) => t.version < *c,
            None => t.commit != head,
        })
        .collect();
    if eligible.is_empty() {
        return Ok(None);
    }
    // Whether a release is in HEAD's history: one walk of the history when HEAD is untagged
    // (many tags may need asking), a merge-base query per tag otherwise.
    let ancestors = if current.is_none() {
        Some(history(repo, head)?)
    } else {
        None
    };
    let in_history = |t: &ReleaseTag| match &ancestors {
        Some(set) => set.contains(&t.commit),
        None => t.commit == head || repo.graph_descendant_of(head, t.commit).unwrap_or(false),
    };
    let relation = |t: &ReleaseTag| -> Result<Relation, git2::Error> {
        Ok(if in_history(t) {
            Relation::Ancestor
        } else if repo.graph_descendant_of(t.commit, head)? {
            Relation::Later
        } else {
            Relation::OtherLine
        })
    };
    let (chosen, rule, base) = match current {
        Some(_) => {
            let top = eligible[0];
            if in_history(top) {
                (0, Rule::Ancestor, None)
            } else {
                // A hotfix line branches from a release HEAD's history holds.
                let mut base = None;
                for t in eligible.iter().filter(|t| in_history(t)).take(50) {
                    if t.commit == top.commit || repo.graph_descendant_of(top.commit, t.commit)? {
                        base = Some(*t);
                        break;
                    }
                }
                match base {
                    Some(b) => (0, Rule::HotfixLine, Some(b)),
                    None => (0, Rule::Unrelated, None),
                }
            }
        }
        None => match eligible.iter().position(|t| in_history(t)) {
            Some(i) => (i, Rule::Ancestor, None),
            None => {
                // Nothing in HEAD's history: the highest release that is not a later one (HEAD
                // was not built from it, which the check reports).
                let mut other = None;
                for (i, t) in eligible.iter().enumerate().take(50) {
                    if relation(t)? == Relation::OtherLine {
                        other = Some(i);
                        break;
                    }
                }
                match other {
                    Some(i) => (i, Rule::Unrelated, None),
                    None => return Ok(None),
                }
            }
        },
    };
    // The candidates: everything above the chosen one (up to a few) and a couple below.
    let from = chosen.saturating_sub(5);
    let mut candidates = Vec::new();
    for t in eligible.iter().skip(from).take(chosen - from + 3) {
        candidates.push((*t, relation(t)?));
    }
    Ok(Some(Previous {
        tag: eligible[chosen],
        rule,
        base,
        candidates,
    }))
}

/// Every file in the tree of `commit`: (path, blob).
pub fn all_files(repo: &Repository, commit: Oid) -> Result<Vec<(String, Oid)>, git2::Error> {
    let tree = repo.find_commit(commit)?.tree()?;
    let mut out = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        if entry.kind() == Some(ObjectType::Blob)
            && let Ok(name) = entry.name()
        {
            out.push((format!("{parent}{name}"), entry.id()));
        }
        TreeWalkResult::Ok
    })?;
    Ok(out)
}

/// Every blob under `dir` in the tree of `commit`, by path relative to `dir`. Empty when `dir`
/// is not in that tree.
pub fn files_under(
    repo: &Repository,
    commit: Oid,
    dir: &Path,
) -> Result<BTreeMap<String, Oid>, git2::Error> {
    let tree = repo.find_commit(commit)?.tree()?;
    let tree = if dir.as_os_str().is_empty() {
        tree
    } else {
        match tree.get_path(dir) {
            Ok(entry) if entry.kind() == Some(ObjectType::Tree) => repo.find_tree(entry.id())?,
            _ => return Ok(BTreeMap::new()),
        }
    };
    let mut files = BTreeMap::new();
    tree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        if entry.kind() == Some(ObjectType::Blob)
            && let Ok(name) = entry.name()
        {
            files.insert(format!("{parent}{name}"), entry.id());
        }
        TreeWalkResult::Ok
    })?;
    Ok(files)
}

/// Whether `dir` is a directory in the tree of `commit`.
pub fn has_dir(repo: &Repository, commit: Oid, dir: &Path) -> Result<bool, git2::Error> {
    if dir.as_os_str().is_empty() {
        return Ok(true);
    }
    let tree = repo.find_commit(commit)?.tree()?;
    Ok(tree
        .get_path(dir)
        .is_ok_and(|e| e.kind() == Some(ObjectType::Tree)))
}

/// A blob's text (lossy UTF-8).
pub fn blob_text(repo: &Repository, id: Oid) -> Result<String, git2::Error> {
    Ok(String::from_utf8_lossy(repo.find_blob(id)?.content()).into_owned())
}

/// Paths with uncommitted changes (modified, staged, untracked; not ignored), skipping those
/// under `skip` (relative to the work tree, e.g. preflight's own artifacts directory).
pub fn uncommitted(repo: &Repository, skip: Option<&Path>) -> Result<Vec<String>, git2::Error> {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo.statuses(Some(&mut opts))?;
    let mut paths: Vec<String> = statuses
        .iter()
        .filter(|s| !s.status().is_ignored())
        .filter_map(|s| s.path().ok().map(str::to_string))
        .filter(|p| !skip.is_some_and(|skip| Path::new(p.trim_end_matches('/')).starts_with(skip)))
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_tag_names() {
        assert_eq!(version_of("v1.2.3", "v"), Some(Version::new(1, 2, 3)));
        assert_eq!(version_of("1.2.3", ""), Some(Version::new(1, 2, 3)));
        assert_eq!(
            version_of("shop-v2.0.1", "shop-"),
            Some(Version::new(2, 0, 1))
        );
        assert_eq!(version_of("v1.4", "v"), Some(Version::new(1, 4, 0)));
        assert_eq!(
            version_of("v2.0.0-rc.1", "v").map(|v| v.pre.to_string()),
            Some("rc.1".into())
        );
        assert_eq!(version_of("vnext", "v"), None);
        assert_eq!(literal_prefix("release/v*"), "release/v");
    }

    #[test]
    fn semver_order_is_numeric_and_prereleases_sort_below() {
        let v = |s: &str| version_of(s, "v").unwrap();
        assert!(v("v1.10.0") > v("v1.9.0"));
        assert!(v("v1.9.10") > v("v1.9.9"));
        assert!(v("v2.0.0-rc.1") < v("v2.0.0"));
        assert!(v("v2.0.0-rc.2") > v("v2.0.0-rc.1"));
        assert!(v("v2.0.0-rc.1") > v("v1.10.0"));
    }

    #[test]
    fn calendar_versions() {
        assert_eq!(
            version_of("2024.05.22", ""),
            Some(Version::new(2024, 5, 22))
        );
        assert_eq!(
            version_of("2025-03-21", ""),
            Some(Version::new(2025, 3, 21))
        );
        assert!(version_of("2024.09.10", "").unwrap() > version_of("2024.08.21", "").unwrap());
        assert_eq!(version_of("build-7", ""), None);
    }
}
