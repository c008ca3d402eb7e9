//! Release records: what a run is bound to (the commit, the checklist's digest), waivers that
//! expire, shards of a checklist for several runners, merging their reports, and in-toto
//! attestations a deploy job can verify.

pub mod attest;
pub mod merge;
pub mod shard;
mod ssh;
pub mod verify;
pub mod waiver;

use std::path::Path;

use crate::checklist::{self, Checklist, ChecklistError};
use crate::settings::{Checkout, RunSettings};

/// Binds a run to what is checked out, and gathers the waivers of the checklist and of
/// `--waivers FILE` (which win), deciding which of them hold today.
pub fn prepare(
    settings: &mut RunSettings,
    checklist: &Checklist,
    waivers_file: Option<&Path>,
) -> Result<(), ChecklistError> {
    settings.checkout = checkout(&checklist.path);
    let mut waivers = checklist.waivers.clone();
    if let Some(path) = waivers_file {
        waivers
            .by_id
            .extend(checklist::read_waivers(path, checklist)?.by_id);
    }
    waiver::resolve(
        &mut waivers,
        &settings.checkout,
        chrono::Utc::now().date_naive(),
    );
    settings.waivers = waivers;
    Ok(())
}

/// What is checked out where `checklist` lives: HEAD's commit and tags (when it is in a git
/// work tree) and the checklist file's SHA-256.
pub fn checkout(checklist: &Path) -> Checkout {
    let dir = checklist
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (commit, tags) = head(dir).unwrap_or_default();
    Checkout {
        commit,
        tags,
        checklist_sha256: std::fs::read(checklist).ok().map(|b| sha256_hex(&b)),
    }
}

/// HEAD's commit id and the names of the tags pointing at it.
fn head(dir: &Path) -> Option<(Option<String>, Vec<String>)> {
    let repo = git2::Repository::discover(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?.id();
    let mut tags = Vec::new();
    let _ = repo.tag_foreach(|oid, name| {
        let points_here = repo
            .find_object(oid, None)
            .and_then(|o| o.peel_to_commit())
            .is_ok_and(|c| c.id() == commit);
        if points_here && let Ok(name) = std::str::from_utf8(name) {
            tags.push(name.trim_start_matches("refs/tags/").to_string());
        }
        true
    });
    tags.sort();
    Some((Some(commit.to_string()), tags))
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The first 12 characters of a commit id, as messages show it.
pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
