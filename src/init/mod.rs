//! `preflight init`: writes a commented checklist for the project it stands in, from what it
//! finds there ([`detect`]), never over an existing file unless `--force`.

mod detect;
mod render;

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("`{0}` exists: preflight init never overwrites a checklist (`--force` replaces it)")]
    Exists(PathBuf),
    #[error("no directory `{0}`")]
    NoDirectory(PathBuf),
    #[error("cannot write `{path}`: {message}")]
    Write { path: PathBuf, message: String },
}

/// Writes the checklist to `file`; the project is the directory `file` is in. Returns what to
/// tell the user.
pub fn run(file: &Path, force: bool) -> Result<String, InitError> {
    if file.exists() && !force {
        return Err(InitError::Exists(file.to_path_buf()));
    }
    let dir = detect::project_dir(file);
    if !dir.is_dir() {
        return Err(InitError::NoDirectory(dir));
    }
    let project = detect::project(&dir);
    let name = std::path::absolute(&dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "release".into());
    let text = render::checklist(&name, &project);
    std::fs::write(file, text).map_err(|e| InitError::Write {
        path: file.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut found: Vec<String> = project
        .tasks
        .iter()
        .map(|t| format!("`{}`", t.run))
        .collect();
    if let Some(c) = &project.container {
        found.push(format!("port {}", c.port));
    }
    if let Some(m) = &project.migrations {
        found.push(format!("{} migrations", m.tool.name()));
    }
    if !project.flags.is_empty() {
        found.push("flag files".into());
    }
    let found = if found.is_empty() {
        "nothing to check automatically".to_string()
    } else {
        found.join(", ")
    };
    Ok(format!(
        "wrote `{}` (found: {found}); check it with `preflight validate`, run it with `preflight run`",
        file.display()
    ))
}
