//! The migrations changed between the previous release's tree and HEAD's: released ones that
//! were edited, deleted or squashed, and the verdicts on the added ones.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use git2::{Oid, Repository};

use super::analyze::{GitParams, normalize};
use super::changes::{self, Edit, Migration, MigrationSet};
use super::config::Strategy;
use super::git::{self, Rule as PreviousRule};
use super::migrations::{self, History, MigrationFile, Tool};
use super::report::{Located, MigrationVerdict, MigrationsReport, PreviousInfo};
use super::tree_code::TreeCode;
use super::verdicts::{self, Policy};

/// Reads blobs once.
struct Blobs<'r> {
    repo: &'r Repository,
    cache: RefCell<HashMap<Oid, String>>,
}

impl Blobs<'_> {
    fn read(&self, id: Oid) -> String {
        if let Some(t) = self.cache.borrow().get(&id) {
            return t.clone();
        }
        let text = git::blob_text(self.repo, id).unwrap_or_default();
        self.cache.borrow_mut().insert(id, text.clone());
        text
    }
}

/// HEAD's migrations, for Django's look back at a field's earlier definition.
struct HeadHistory<'a> {
    set: &'a MigrationSet,
    blobs: &'a Blobs<'a>,
}

impl History for HeadHistory<'_> {
    fn earlier(&self, path: &str) -> Vec<(String, String)> {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let mut files: Vec<(&str, Oid)> = self
            .set
            .values()
            .flat_map(|m| &m.files)
            .filter_map(|f| {
                let (d, n) = f.path.rsplit_once('/').unwrap_or(("", &f.path));
                (d == dir && n < name).then_some((f.path.as_str(), f.blob))
            })
            .collect();
        files.sort_by(|a, b| b.0.cmp(a.0));
        files
            .into_iter()
            .map(|(p, id)| (p.to_string(), self.blobs.read(id)))
            .collect()
    }

    fn before(&self, id: &str) -> Vec<(String, String)> {
        let Some(this) = self.set.values().find(|m| m.id == id) else {
            return Vec::new();
        };
        let mut earlier: Vec<&Migration> = self
            .set
            .values()
            .filter(|m| migrations::key_order(&m.key, &this.key) == Ordering::Less)
            .collect();
        earlier.sort_by(|a, b| migrations::key_order(&b.key, &a.key));
        earlier
            .into_iter()
            .flat_map(|m| &m.files)
            .filter(|f| f.role.is_up() && f.path.ends_with(".sql"))
            .map(|f| (f.path.clone(), self.blobs.read(f.blob)))
            .collect()
    }
}

/// `migrations` or `db/migrations` as written in messages; `.` for the repository root.
fn shown(rel: &str) -> &str {
    if rel.is_empty() { "." } else { rel }
}

fn with_slash(rel: &str) -> String {
    if rel.is_empty() {
        String::new()
    } else {
        format!("{rel}/")
    }
}

/// Where the files of HEAD's `dir` were in the previous release's tree when `dir` was not
/// there: the directory holding the most of them by relative path.
fn moved_from(
    repo: &Repository,
    previous: Oid,
    new_files: &BTreeMap<String, Oid>,
) -> Option<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let files = git::all_files(repo, previous).ok()?;
    for (p, _) in &files {
        for (i, _) in p.match_indices('/') {
            if new_files.contains_key(&p[i + 1..]) {
                *counts.entry(&p[..i]).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(dir, _)| dir.to_string())
}

fn list(ids: &[&str]) -> String {
    let shown: Vec<String> = ids.iter().take(5).map(|i| format!("`{i}`")).collect();
    match ids.len() {
        n if n > 5 => format!("{} (+{} more)", shown.join(", "), n - 5),
        _ => shown.join(", "),
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn paths(m: &Migration) -> Vec<String> {
    m.files.iter().map(|f| f.path.clone()).collect()
}

/// Compares the migrations under `dir` in the previous release's tree and HEAD's.
pub fn review_migrations(
    repo: &Repository,
    workdir: &Path,
    dir: &Path,
    p: &GitParams,
    previous: &PreviousInfo,
    head: Oid,
) -> Result<MigrationsReport, String> {
    let git_err = |e: git2::Error| format!("git: {}", e.message());
    let abs = dir.canonicalize().unwrap_or_else(|_| normalize(dir));
    let rel = abs.strip_prefix(workdir).map_err(|_| {
        format!(
            "migrations dir `{}` is outside the repository `{}`",
            dir.display(),
            workdir.display()
        )
    })?;
    let rel_str = rel.to_string_lossy().replace('\\', "/");
    if !git::has_dir(repo, head, rel).map_err(git_err)? {
        return Err(format!(
            "migrations dir `{rel_str}` is not in HEAD's tree (is it committed?)"
        ));
    }
    let prev_commit = previous.commit_id.ok_or("no previous commit")?;
    let prev_tag = previous.tag.as_str();
    let blobs = Blobs {
        repo,
        cache: RefCell::new(HashMap::new()),
    };
    let read = |id: Oid| blobs.read(id);
    let new_files = git::files_under(repo, head, rel).map_err(git_err)?;
    let mut report = MigrationsReport {
        dir: rel_str.clone(),
        previous_dir: None,
        tool: None,
        detected: false,
        migrations: Vec::new(),
        notes: Vec::new(),
        warnings: Vec::new(),
        problems: Vec::new(),
    };
    let tool = match p.tool.tool() {
        Some(t) => t,
        None => {
            report.detected = true;
            let names: Vec<String> = new_files.keys().cloned().collect();
            let detected = migrations::detect(&names, &|path| {
                new_files.get(path).map(|id| read(*id)).unwrap_or_default()
            });
            match detected {
                Some(t) => t,
                None if new_files.is_empty() => return Ok(report),
                None => {
                    return Err(format!(
                        "cannot tell which migration tool `{rel_str}` is for: set `tool` (sqlx, diesel, flyway, rails, django or alembic)"
                    ));
                }
            }
        }
    };
    report.tool = Some(tool.name());

    // Where the migrations were at the previous release.
    let old_rel = if git::has_dir(repo, prev_commit, rel).map_err(git_err)? {
        rel_str.clone()
    } else {
        match moved_from(repo, prev_commit, &new_files) {
            Some(old) => {
                report.notes.push(format!(
                    "`{}` did not exist at {prev_tag}; its migrations were in `{}` then (matched by version)",
                    shown(&rel_str),
                    shown(&old)
                ));
                report.previous_dir = Some(old.clone());
                old
            }
            None => {
                report.notes.push(format!(
                    "`{}` did not exist at {prev_tag}: every migration in it is new",
                    shown(&rel_str)
                ));
                rel_str.clone()
            }
        }
    };
    let old_files = git::files_under(repo, prev_commit, Path::new(&old_rel)).map_err(git_err)?;
    let old = changes::collect(tool, &with_slash(&old_rel), &old_files, &read);
    let new = changes::collect(tool, &with_slash(&rel_str), &new_files, &read);
    // On a hotfix line, the release it branches from tells deleted migrations from those only
    // the hotfix line has.
    let base = match previous.base_commit {
        Some(b) if previous.rule == PreviousRule::HotfixLine => {
            let files = git::files_under(repo, b, Path::new(&old_rel)).map_err(git_err)?;
            Some(changes::collect(tool, &with_slash(&old_rel), &files, &read))
        }
        _ => None,
    };

    let head_code = TreeCode::new(repo, head);
    let sets = Sets {
        old: &old,
        new: &new,
        base: base.as_ref(),
    };
    released_changes(tool, prev_tag, &sets, &head_code, &read, &mut report);

    // Added migrations, in the order they run; Django squashes (`replaces`) run on no database
    // that applied what they replace.
    let mut added: Vec<&Migration> = new.values().filter(|m| !old.contains_key(&m.key)).collect();
    changes::run_order(tool, &mut added);
    let history = HeadHistory {
        set: &new,
        blobs: &blobs,
    };
    let mut reviews = Vec::new();
    for m in added {
        let files: Vec<MigrationFile> = m
            .files
            .iter()
            .map(|f| MigrationFile {
                path: f.path.clone(),
                role: f.role,
                text: read(f.blob),
            })
            .collect();
        if tool == Tool::Django {
            let replaced = files
                .first()
                .map(|f| migrations::django_replaces(&f.text))
                .unwrap_or_default();
            if !replaced.is_empty() {
                let mut v = MigrationVerdict::new(&m.id, "added", "squashed", paths(m));
                v.notes.push(format!(
                    "squashes {}: it runs on no database that applied them",
                    plural(replaced.len(), "migration")
                ));
                report.migrations.push(v);
                continue;
            }
        }
        let r = migrations::review(tool, &m.id, &files, &history);
        if r.is_migration {
            reviews.push((m.id.clone(), paths(m), r));
        }
    }
    let code = TreeCode::new(repo, prev_commit);
    let policy = Policy {
        tool,
        strategy: p.strategy,
        lock_risks: p.lock_risks,
        previous: prev_tag,
    };
    let any_added = !reviews.is_empty();
    report
        .migrations
        .extend(verdicts::judge_added(reviews, &policy, &code));
    if p.strategy == Strategy::Compatible && any_added {
        compatible_notes(tool, prev_tag, &code, &mut report);
    }
    Ok(report)
}

/// What `compatible` needs of the tool: the previous build must start on a database with
/// migrations it does not know.
fn compatible_notes(tool: Tool, prev: &str, code: &TreeCode, report: &mut MigrationsReport) {
    match tool {
        Tool::Sqlx => match code.tolerates_missing(Tool::Sqlx) {
            Some(file) => report.notes.push(format!(
                "{prev} lets sqlx run on a database with migrations it does not know (`ignore_missing` in {file})"
            )),
            None => report.problems.push(format!(
                "sqlx in {prev} refuses to start on a database where migrations it does not know ran: nothing in {prev} sets `ignore_missing` (`Migrator::set_ignore_missing(true)`, `sqlx migrate run --ignore-missing`)"
            )),
        },
        Tool::Alembic => report.notes.push(format!(
            "the database will be stamped with a revision {prev} does not have: when redeploying {prev}, skip its `alembic upgrade` step"
        )),
        _ => {}
    }
}

/// The migrations of the previous release, of HEAD, and of the release a hotfix line
/// branches from.
struct Sets<'a> {
    old: &'a MigrationSet,
    new: &'a MigrationSet,
    base: Option<&'a MigrationSet>,
}

/// Released migrations (in the previous release's tree) that HEAD edited, deleted or
/// squashed, and those only the previous release's hotfix line has.
fn released_changes(
    tool: Tool,
    prev: &str,
    sets: &Sets,
    head_code: &TreeCode,
    read: &dyn Fn(Oid) -> String,
    report: &mut MigrationsReport,
) {
    let (old, new, base) = (sets.old, sets.new, sets.base);
    let name = tool.name();
    let mut edited: Vec<&str> = Vec::new();
    for (key, o) in old {
        let Some(n) = new.get(key) else { continue };
        match changes::compare(tool, o, n, read) {
            Edit::Unchanged | Edit::Reformatted => {}
            Edit::Edited { breaks, files } => {
                let mut v = MigrationVerdict::new(&n.id, "edited", "edited", files.clone());
                if breaks {
                    for f in &files {
                        v.problems.push(Located::new(f, None, format!(
                            "released migration was edited since {prev} ({name} checksums applied migrations: databases that ran it refuse to start)"
                        )));
                    }
                } else {
                    edited.push(&n.id);
                }
                report.migrations.push(v);
            }
        }
    }
    let deleted: Vec<String> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    let (hotfix_only, deleted): (Vec<String>, Vec<String>) = deleted
        .into_iter()
        .partition(|k| base.is_some_and(|b| !b.contains_key(k)));
    let replaced: BTreeSet<String> = if tool == Tool::Django && !deleted.is_empty() {
        new.values()
            .flat_map(|m| &m.files)
            .flat_map(|f| migrations::django_replaces(&read(f.blob)))
            .collect()
    } else {
        BTreeSet::new()
    };
    let squashed = changes::squashed(tool, old, new, &deleted, &replaced);
    // A checksum tool told to tolerate applied migrations it has no file for minds deletions
    // no more than the others.
    let tolerated = if tool.checksums() && !deleted.is_empty() {
        head_code.tolerates_missing(tool)
    } else {
        None
    };
    if let Some(file) = &tolerated {
        report.notes.push(format!(
            "HEAD tells {name} to tolerate applied migrations it has no file for (in {file})"
        ));
    }
    let (mut gone, mut squash): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    for key in &deleted {
        let o = &old[key];
        if tool.checksums() && tolerated.is_none() {
            let mut v = MigrationVerdict::new(&o.id, "deleted", "deleted", paths(o));
            for f in &o.files {
                v.problems.push(Located::new(&f.path, None, format!(
                    "released migration was deleted since {prev} ({name} refuses a database with applied migrations it cannot find)"
                )));
            }
            report.migrations.push(v);
        } else if squashed.contains(key) {
            squash.push(&o.id);
            report.migrations.push(MigrationVerdict::new(
                &o.id,
                "squashed",
                "squashed",
                paths(o),
            ));
        } else {
            gone.push(&o.id);
            report
                .migrations
                .push(MigrationVerdict::new(&o.id, "deleted", "deleted", paths(o)));
        }
    }
    for key in &hotfix_only {
        let o = &old[key];
        report.warnings.push(format!(
            "`{}` exists only on the hotfix line {prev} (not in HEAD): databases running {prev} have it applied and HEAD does not know it; bring it to the main line",
            o.id
        ));
        report.migrations.push(MigrationVerdict::new(
            &o.id,
            "hotfix-only",
            "hotfix-only",
            paths(o),
        ));
    }
    if !edited.is_empty() {
        report.warnings.push(format!(
            "{} edited since {prev}: {} ({name} records only versions: databases that ran them keep the old version)",
            plural(edited.len(), "released migration"),
            list(&edited)
        ));
    }
    if !gone.is_empty() {
        report.warnings.push(format!(
            "{} deleted since {prev}: {} (databases that ran them keep their changes; {name} does not mind)",
            plural(gone.len(), "released migration"),
            list(&gone)
        ));
    }
    if !squash.is_empty() {
        let by = if replaced.is_empty() {
            String::new()
        } else {
            " into a migration that `replaces` them".into()
        };
        report.notes.push(format!(
            "squash: {} were removed{by} ({}); {name} records only versions, so databases that ran them are unaffected",
            plural(squash.len(), "released migration"),
            list(&squash)
        ));
    }
}
