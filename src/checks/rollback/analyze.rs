//! The git side of the check: HEAD, the previous release, the migrations changed since.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use super::config::ToolSetting;
use super::git;
use super::migrations::{self, Role};
use super::report::{
    Analysis, HeadInfo, Located, MigrationVerdict, MigrationsReport, PreviousInfo,
};

/// Inputs of [`analyze`], owned so that it can run on a blocking thread.
pub struct GitParams {
    pub repo: PathBuf,
    pub pattern: glob::Pattern,
    pub include_prereleases: bool,
    pub migrations_dir: Option<PathBuf>,
    pub tool: ToolSetting,
    pub artifacts_dir: PathBuf,
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn short(id: git2::Oid) -> String {
    id.to_string()[..12].to_string()
}

/// Everything git: HEAD, tags, previous release, migrations changed since, uncommitted files.
/// `Err` is a message for an errored item (the check could not run).
pub fn analyze(p: GitParams) -> Result<Analysis, String> {
    if !p.repo.exists() {
        return Err(format!("repo `{}`: no such directory", p.repo.display()));
    }
    let repo = git2::Repository::discover(&p.repo).map_err(|e| {
        if e.code() == git2::ErrorCode::NotFound {
            format!(
                "`{}` is not inside a git repository (set `repo` to the repository's directory)",
                p.repo.display()
            )
        } else {
            format!(
                "cannot open the git repository at `{}`: {}",
                p.repo.display(),
                e.message()
            )
        }
    })?;
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        return Err(format!(
            "`{}` is a bare repository: point `repo` at a checkout",
            repo.path().display()
        ));
    };
    let workdir = workdir.canonicalize().unwrap_or(workdir);
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| {
            format!(
                "repository `{}` has no commit at HEAD: {}",
                workdir.display(),
                e.message()
            )
        })?
        .id();
    let git_err = |e: git2::Error| format!("git: {}", e.message());
    let prefix = git::literal_prefix(p.pattern.as_str()).to_string();
    let (tags, ignored_tags) = git::release_tags(&repo, &p.pattern, &prefix).map_err(git_err)?;
    let head_tag = git::head_release(&tags, head);
    let previous = git::previous_release(
        &tags,
        head,
        head_tag.map(|t| &t.version),
        p.include_prereleases,
    );
    let previous_info = match previous {
        Some(t) => {
            let descends =
                t.commit == head || repo.graph_descendant_of(head, t.commit).map_err(git_err)?;
            Some(PreviousInfo {
                tag: t.name.clone(),
                version: t.version.to_string(),
                commit: short(t.commit),
                head_descends: descends,
            })
        }
        None => None,
    };
    let skip = p
        .artifacts_dir
        .canonicalize()
        .ok()
        .and_then(|a| a.strip_prefix(&workdir).ok().map(Path::to_path_buf));
    let uncommitted = git::uncommitted(&repo, skip.as_deref()).unwrap_or_default();

    let migrations = match (&p.migrations_dir, previous) {
        (Some(dir), Some(prev)) => Some(review_migrations(
            &repo,
            &workdir,
            dir,
            p.tool,
            prev.commit,
            head,
        )?),
        _ => None,
    };
    Ok(Analysis {
        repo: workdir.display().to_string(),
        head: HeadInfo {
            commit: short(head),
            tag: head_tag.map(|t| t.name.clone()),
        },
        tag_pattern: p.pattern.as_str().to_string(),
        ignored_tags,
        previous: previous_info,
        uncommitted,
        migrations,
    })
}

fn review_migrations(
    repo: &git2::Repository,
    workdir: &Path,
    dir: &Path,
    setting: ToolSetting,
    previous: git2::Oid,
    head: git2::Oid,
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
    let repo_path = |p: &str| {
        if rel_str.is_empty() {
            p.to_string()
        } else {
            format!("{rel_str}/{p}")
        }
    };
    let old = git::files_under(repo, previous, rel).map_err(git_err)?;
    let new = git::files_under(repo, head, rel).map_err(git_err)?;
    let read = |id: git2::Oid| git::blob_text(repo, id).unwrap_or_default();
    let (tool, detected) = match setting.tool() {
        Some(t) => (Some(t), false),
        None => {
            let paths: Vec<String> = new.keys().cloned().collect();
            (
                migrations::detect(&paths, &|p| {
                    new.get(p).map(|id| read(*id)).unwrap_or_default()
                }),
                true,
            )
        }
    };
    let Some(tool) = tool else {
        if new.is_empty() {
            return Ok(MigrationsReport {
                dir: rel_str,
                tool: None,
                detected,
                migrations: Vec::new(),
            });
        }
        return Err(format!(
            "cannot tell which migration tool `{rel_str}` is for: set `tool` (sqlx, diesel, flyway, rails, django or alembic)"
        ));
    };

    let mut verdicts = Vec::new();
    // Released migrations that changed since.
    let old_ids: BTreeSet<String> = old
        .keys()
        .filter_map(|p| migrations::classify(tool, p).map(|(id, _)| id))
        .collect();
    let mut changed: BTreeMap<String, (Vec<String>, Vec<Located>, bool)> = BTreeMap::new();
    for (path, id_old) in &old {
        let Some((id, _)) = migrations::classify(tool, path) else {
            continue;
        };
        let (what, deleted) = match new.get(path) {
            None => ("was deleted", true),
            Some(id_new) if id_new != id_old => ("was edited", false),
            Some(_) => continue,
        };
        let entry = changed.entry(id).or_default();
        entry.0.push(repo_path(path));
        entry.1.push(Located {
            file: repo_path(path),
            line: None,
            rule: None,
            message: format!("released migration {what} since the previous release (databases that ran it keep the old version)"),
        });
        entry.2 |= deleted;
    }
    for (id, (files, problems, deleted)) in changed {
        verdicts.push(MigrationVerdict {
            id,
            change: if deleted { "deleted" } else { "edited" },
            files,
            verdict: if deleted { "deleted" } else { "edited" },
            problems,
            dangerous: Vec::new(),
            allowed: None,
        });
    }
    // New migrations.
    let mut added: BTreeMap<String, Vec<(String, Role, String)>> = BTreeMap::new();
    for (path, id) in &new {
        if old.contains_key(path) {
            continue;
        }
        if let Some((mid, role)) = migrations::classify(tool, path)
            && !old_ids.contains(&mid)
        {
            added
                .entry(mid)
                .or_default()
                .push((path.clone(), role, read(*id)));
        }
    }
    for (id, files) in added {
        let r = migrations::review(tool, &id, &files);
        if !r.is_migration {
            continue;
        }
        let problems: Vec<Located> = r
            .irreversible
            .into_iter()
            .map(|(f, line, why)| Located {
                file: repo_path(&f),
                line: Some(line),
                rule: None,
                message: format!("irreversible: {why}"),
            })
            .collect();
        let dangerous: Vec<Located> = r
            .dangers
            .into_iter()
            .map(|(f, d)| Located {
                file: repo_path(&f),
                line: Some(d.line),
                rule: Some(d.rule),
                message: format!("{}: {}", d.what, d.rule.why()),
            })
            .collect();
        let verdict = if !problems.is_empty() {
            "irreversible"
        } else if !dangerous.is_empty() {
            "dangerous"
        } else {
            "reversible"
        };
        verdicts.push(MigrationVerdict {
            id,
            change: "added",
            files: files.iter().map(|f| repo_path(&f.0)).collect(),
            verdict,
            problems,
            dangerous,
            allowed: None,
        });
    }
    Ok(MigrationsReport {
        dir: rel_str,
        tool: Some(tool.name()),
        detected,
        migrations: verdicts,
    })
}
