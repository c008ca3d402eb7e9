//! Stamps `preflight --version` with the commit and the build date.
//!
//! The commit comes from git when the source is a git work tree, else from `.commit`, which
//! `git archive` (and so every tarball made from a tag) fills in through `export-subst`, else
//! from `PREFLIGHT_COMMIT` (for packagers); otherwise it is `unknown`. The date honours
//! `SOURCE_DATE_EPOCH` (reproducible builds).

use std::path::Path;
use std::process::Command;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let dir = Path::new(&dir);
    println!("cargo:rerun-if-env-changed=PREFLIGHT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=.commit");
    let commit = git_commit(dir)
        .or_else(|| archived_commit(dir))
        .or_else(|| {
            std::env::var("PREFLIGHT_COMMIT")
                .ok()
                .filter(|c| !c.trim().is_empty())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PREFLIGHT_COMMIT={commit}");
    println!("cargo:rustc-env=PREFLIGHT_BUILD_DATE={}", build_date());
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// HEAD's short hash, when `dir` is the top of a git work tree (not merely inside one: a
/// tarball unpacked inside some other repository must not take that repository's commit).
fn git_commit(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    let commit = git(dir, &["rev-parse", "--short=10", "HEAD"])?;
    // Rebuild when HEAD moves: HEAD itself, the branch it names, and packed refs.
    for path in ["HEAD", "packed-refs"]
        .into_iter()
        .map(str::to_string)
        .chain(git(dir, &["symbolic-ref", "-q", "HEAD"]))
    {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", &path]) {
            let p = dir.join(p);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    Some(commit)
}

/// The commit `git archive` wrote into `.commit` (`$Format:%H$` until then), shortened as
/// `git_commit` does.
fn archived_commit(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".commit")).ok()?;
    let commit = text.trim();
    (commit.len() >= 10 && commit.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| commit[..10].to_string())
}

/// `YYYY-MM-DD` (UTC) of `SOURCE_DATE_EPOCH`, or of now.
fn build_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
