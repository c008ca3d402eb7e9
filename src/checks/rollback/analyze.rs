//! The git side of the check: HEAD, the previous release, the migrations changed since.

use std::path::{Component, Path, PathBuf};

use super::config::{Strategy, ToolSetting};
use super::git;
use super::report::{Analysis, Candidate, HeadInfo, PreviousInfo};
use super::review::review_migrations;

/// Inputs of [`analyze`], owned so that it can run on a blocking thread.
pub struct GitParams {
    pub repo: PathBuf,
    pub pattern: glob::Pattern,
    pub include_prereleases: bool,
    pub migrations_dir: Option<PathBuf>,
    pub tool: ToolSetting,
    pub artifacts_dir: PathBuf,
    pub strategy: Strategy,
    pub lock_risks: bool,
}

/// `path` with `.` and `..` resolved without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
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

pub fn short(id: git2::Oid) -> String {
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
        &repo,
        &tags,
        head,
        head_tag.map(|t| &t.version),
        p.include_prereleases,
    )
    .map_err(git_err)?;
    let previous_info = previous.as_ref().map(|prev| PreviousInfo {
        tag: prev.tag.name.clone(),
        version: prev.tag.version.to_string(),
        commit: short(prev.tag.commit),
        head_descends: prev.rule == git::Rule::Ancestor,
        rule: prev.rule,
        base: prev.base.map(|b| b.name.clone()),
        candidates: prev
            .candidates
            .iter()
            .map(|(t, relation)| Candidate {
                tag: t.name.clone(),
                relation: *relation,
            })
            .collect(),
        base_commit: prev.base.map(|b| b.commit),
        commit_id: Some(prev.tag.commit),
    });
    let skip = p
        .artifacts_dir
        .canonicalize()
        .ok()
        .and_then(|a| a.strip_prefix(&workdir).ok().map(Path::to_path_buf));
    let uncommitted = git::uncommitted(&repo, skip.as_deref()).unwrap_or_default();

    let migrations = match (&p.migrations_dir, &previous_info) {
        (Some(dir), Some(prev)) => Some(review_migrations(&repo, &workdir, dir, &p, prev, head)?),
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
