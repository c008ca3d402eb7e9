//! Rule 5: flags kept past their type's lifetime. Dates come from the source (`createdAt`,
//! `creationDate`, metadata) or, for files in a git repository, from the first commit whose
//! version of the file has the key.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{AgeRule, Audit, FlagsItem, Loaded, Rule, Severity};

/// Commits read at most when dating keys (keeps huge histories bounded).
const MAX_COMMITS: usize = 5000;
const DAY: u64 = 86_400;

pub(super) fn check_age(
    item: &FlagsItem,
    rule: &AgeRule,
    sev: Severity,
    loaded: &Loaded,
    now: DateTime<Utc>,
    audit: &mut Audit,
) {
    let mut dates: HashMap<String, (DateTime<Utc>, String)> = loaded
        .flags
        .iter()
        .filter_map(|f| {
            Some((
                f.key.clone(),
                (f.created?, f.created_from.clone().unwrap_or_default()),
            ))
        })
        .collect();
    let undated: Vec<&str> = loaded
        .flags
        .iter()
        .filter(|f| f.created.is_none())
        .map(|f| f.key.as_str())
        .collect();
    if rule.git.unwrap_or(true)
        && !undated.is_empty()
        && let Some(file) = &loaded.file
    {
        match first_commits(item, file, &undated) {
            Ok(found) => dates.extend(found),
            Err(e) => audit.notes.push(format!(
                "age: cannot read git history of `{}`: {e}",
                file.display()
            )),
        }
    }
    let lifetime = |t: Option<&str>| -> Option<Duration> {
        let t = t.unwrap_or("release");
        if let Some(d) = rule.lifetimes.get(t) {
            return Some(d.get());
        }
        match super::unleash::default_lifetime_days(t) {
            Some(days) => days.map(|d| Duration::from_secs(d * DAY)),
            None => rule
                .default_lifetime
                .map(|d| d.get())
                .or(Some(Duration::from_secs(40 * DAY))),
        }
    };
    let mut dated = 0;
    for f in &loaded.flags {
        let Some((created, from)) = dates.get(&f.key) else {
            continue;
        };
        dated += 1;
        let Some(limit) = lifetime(f.flag_type.as_deref()) else {
            continue;
        };
        let age = (now - *created).to_std().unwrap_or_default();
        if age > limit {
            audit.add(
                Rule::Age,
                sev,
                &f.key,
                format!(
                    "created {} ({} days ago, from {from}); a `{}` flag is expected to go within {} days",
                    created.format("%Y-%m-%d"),
                    age.as_secs() / DAY,
                    f.flag_type.as_deref().unwrap_or("release"),
                    limit.as_secs() / DAY
                ),
            );
        }
    }
    audit.checked.insert(
        Rule::Age.to_string(),
        format!("{} flags ({dated} dated)", loaded.flags.len()),
    );
}

/// For each key in `keys`: the time of the oldest commit whose version of `file` defines it.
fn first_commits(
    item: &FlagsItem,
    file: &Path,
    keys: &[&str],
) -> Result<HashMap<String, (DateTime<Utc>, String)>, git2::Error> {
    let abs = std::path::absolute(file).map_err(|e| git2::Error::from_str(&e.to_string()))?;
    let dir = abs.parent().unwrap_or(Path::new("."));
    let repo = git2::Repository::discover(dir)?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| git2::Error::from_str("bare repository"))?;
    let workdir = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_path_buf());
    let abs = abs.canonicalize().unwrap_or(abs);
    let rel = abs
        .strip_prefix(&workdir)
        .map_err(|_| git2::Error::from_str("file outside the work tree"))?;
    let mut walk = repo.revwalk()?;
    walk.push_head()?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME | git2::Sort::REVERSE)?;
    let mut wanted: Vec<&str> = keys.to_vec();
    let mut found = HashMap::new();
    for oid in walk.take(MAX_COMMITS) {
        if wanted.is_empty() {
            break;
        }
        let commit = repo.find_commit(oid?)?;
        let Ok(entry) = commit.tree()?.get_path(rel) else {
            continue;
        };
        let Ok(blob) = entry.to_object(&repo).and_then(|o| o.peel_to_blob()) else {
            continue;
        };
        let Some(flags) = item.parse_bytes(rel, blob.content()) else {
            continue;
        };
        let when = DateTime::from_timestamp(commit.time().seconds(), 0).unwrap_or_default();
        let short = oid_short(&commit.id());
        wanted.retain(|k| {
            if flags.iter().any(|f| f.key == *k) {
                found.insert(
                    k.to_string(),
                    (when, format!("first commit {short} with the key")),
                );
                false
            } else {
                true
            }
        });
    }
    Ok(found)
}

fn oid_short(oid: &git2::Oid) -> String {
    oid.to_string().chars().take(8).collect()
}
