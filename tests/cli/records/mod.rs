//! Release records: waivers that expire, attestations verified with a real `ssh-keygen`, and
//! shards of a checklist merged back into one verdict. Every checklist here lives in a real git
//! repository in a temp directory, with `command` items that pass or fail on purpose.

use std::path::Path;
use std::process::Command;

mod attest;
mod shards;
mod waivers;

/// `git ARGS` in `dir`, which must succeed; returns its stdout.
pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "preflight tests")
        .env("GIT_AUTHOR_EMAIL", "tests@example.com")
        .env("GIT_COMMITTER_NAME", "preflight tests")
        .env("GIT_COMMITTER_EMAIL", "tests@example.com")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A git repository in `dir` whose one commit holds `preflight.toml` = `checklist`; returns
/// the commit id.
pub(super) fn repo_with(dir: &Path, checklist: &str) -> String {
    std::fs::write(dir.join("preflight.toml"), checklist).expect("write checklist");
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "preflight.toml"]);
    git(dir, &["commit", "-q", "-m", "release"]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A day `days` from today (UTC), as `YYYY-MM-DD`.
pub(super) fn day(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string()
}

/// Reads a JSON file.
pub(super) fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&crate::support::read(path)).expect("JSON")
}
