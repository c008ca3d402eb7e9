//! Release tags, semantic versions and the trees the rollback check compares (git2).

use std::collections::BTreeMap;
use std::path::Path;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use semver::Version;

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

/// The version a tag names: `v1.2.3` → 1.2.3 (also `1.2` → 1.2.0). `None` when it names none.
pub fn version_of(tag: &str, prefix: &str) -> Option<Version> {
    let rest = tag.strip_prefix(prefix).unwrap_or(tag);
    let rest = rest.strip_prefix(['v', 'V']).unwrap_or(rest);
    if let Ok(v) = Version::parse(rest) {
        return Some(v);
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

/// The release before `current` (HEAD's tag), or the highest release when HEAD is untagged.
/// Pre-releases count only when `include_prereleases`.
pub fn previous_release<'t>(
    tags: &'t [ReleaseTag],
    head: Oid,
    current: Option<&Version>,
    include_prereleases: bool,
) -> Option<&'t ReleaseTag> {
    tags.iter()
        .filter(|t| include_prereleases || t.version.pre.is_empty())
        .filter(|t| match current {
            Some(c) => t.version < *c,
            None => t.commit != head,
        })
        .max_by(|a, b| a.version.cmp(&b.version))
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
    fn previous_release_skips_prereleases_unless_asked() {
        let c = |n: u8| Oid::from_bytes(&[n; 20]).unwrap();
        let tag = |name: &str, n: u8| ReleaseTag {
            name: name.into(),
            version: version_of(name, "v").unwrap(),
            commit: c(n),
        };
        let tags = vec![
            tag("v1.9.0", 1),
            tag("v1.10.0", 2),
            tag("v1.11.0-rc.1", 3),
            tag("v1.11.0", 4),
        ];
        let head = head_release(&tags, c(4)).map(|t| t.version.clone());
        assert_eq!(
            previous_release(&tags, c(4), head.as_ref(), false)
                .unwrap()
                .name,
            "v1.10.0"
        );
        assert_eq!(
            previous_release(&tags, c(4), head.as_ref(), true)
                .unwrap()
                .name,
            "v1.11.0-rc.1"
        );
        // Untagged HEAD: the highest release is the previous one.
        assert_eq!(
            previous_release(&tags, c(9), None, false).unwrap().name,
            "v1.11.0"
        );
        // First release.
        assert!(previous_release(&tags[..1], c(1), Some(&tags[0].version), false).is_none());
    }
}
