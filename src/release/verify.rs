//! `preflight verify`: checks an attestation before a deploy.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use clap::Args;

use super::attest::{Envelope, PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE, Statement, pae};
use super::{sha256_hex, short, ssh};
use crate::exit;

/// `preflight verify FILE --commit SHA [...]`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The attestation written by `--attest`.
    pub file: PathBuf,
    /// The commit being deployed (its full id, e.g. `$GITHUB_SHA`).
    #[arg(long)]
    pub commit: String,
    /// Require the attestation to be for this checklist (its SHA-256).
    #[arg(long, value_name = "FILE")]
    pub checklist: Option<PathBuf>,
    /// Require a signature by a key in this file (ssh-keygen's allowed_signers format).
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// Reject an attestation older than this (e.g. `24h`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_age: Option<std::time::Duration>,
    /// Require this artifact (by SHA-256) among the attestation's subjects (repeatable).
    #[arg(long = "subject", value_name = "PATH")]
    pub subjects: Vec<PathBuf>,
    /// Also accept a WARNED result: the gate opened because failures were waived.
    #[arg(long)]
    pub allow_waived: bool,
}

/// Why an attestation is refused: the command line was wrong (exit 2), or the attestation
/// does not allow this deploy (exit 1).
enum Refusal {
    Usage(String),
    Rejected(String),
}

/// Runs `preflight verify`; returns the exit code.
pub async fn run(args: &VerifyArgs) -> i32 {
    match check(args).await {
        Ok(lines) => {
            for line in lines {
                eprintln!("{line}");
            }
            exit::PASSED
        }
        Err(Refusal::Usage(message)) => {
            eprintln!("error: {message}");
            exit::INVALID
        }
        Err(Refusal::Rejected(message)) => {
            eprintln!("rejected: `{}`: {message}", args.file.display());
            exit::FAILED
        }
    }
}

/// The checks, in order; on success the lines to print.
async fn check(args: &VerifyArgs) -> Result<Vec<String>, Refusal> {
    let reject = |m: String| Refusal::Rejected(m);
    let commit = args.commit.trim().to_ascii_lowercase();
    if !matches!(commit.len(), 40 | 64) || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Refusal::Usage(format!(
            "`--commit {}`: give the full commit id (40 hex digits), e.g. `$GITHUB_SHA` or `$CI_COMMIT_SHA`",
            args.commit
        )));
    }
    let text = std::fs::read(&args.file).map_err(|e| reject(format!("cannot read it: {e}")))?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| reject(format!("not JSON (changed or truncated?): {e}")))?;
    let mut notes = Vec::new();
    let (payload, signer) = if value.get("payloadType").is_some() {
        let envelope: Envelope = serde_json::from_value(value)
            .map_err(|e| reject(format!("not a DSSE envelope: {e}")))?;
        if envelope.payload_type != PAYLOAD_TYPE {
            return Err(reject(format!(
                "the envelope's payloadType is `{}`, not `{PAYLOAD_TYPE}`",
                envelope.payload_type
            )));
        }
        let payload = STANDARD
            .decode(&envelope.payload)
            .map_err(|e| reject(format!("the envelope's payload is not base64: {e}")))?;
        let signer = match &args.allowed_signers {
            Some(allowed) => Some(signed_by(&envelope, &payload, allowed).await?),
            None => {
                notes.push(
                    "warning: the signature was not checked (no `--allowed-signers`)".to_string(),
                );
                None
            }
        };
        (payload, signer)
    } else {
        if args.allowed_signers.is_some() {
            return Err(reject(
                "it is not signed, but `--allowed-signers` asks for a signature (write it with `--sign-key`)".into(),
            ));
        }
        notes.push(
            "warning: the attestation is not signed: anyone who can replace the file could have written it".into(),
        );
        (text, None)
    };
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| reject(format!("not an in-toto statement: {e}")))?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(reject(format!(
            "its `_type` is `{}`, not `{STATEMENT_TYPE}`",
            statement.statement_type
        )));
    }
    if statement.predicate_type != PREDICATE_TYPE {
        return Err(reject(format!(
            "its predicate is `{}`, not the test-result predicate `{PREDICATE_TYPE}`",
            statement.predicate_type
        )));
    }
    let commits: Vec<String> = statement
        .subject
        .iter()
        .filter_map(|s| s.digest.get("gitCommit"))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if !commits.contains(&commit) {
        return Err(reject(match commits.as_slice() {
            [] => "it names no git commit".into(),
            [c, ..] => format!(
                "it is for commit {}, not {} (the commit being deployed)",
                short(c),
                short(&commit)
            ),
        }));
    }
    let p = &statement.predicate;
    let checklist = p
        .configuration
        .iter()
        .find(|c| c.annotations.get("preflight").and_then(|v| v.as_str()) == Some("checklist"));
    let checklist_name = checklist
        .and_then(|c| c.name.clone())
        .unwrap_or_else(|| "?".into());
    if let Some(path) = &args.checklist {
        let bytes = std::fs::read(path)
            .map_err(|e| Refusal::Usage(format!("cannot read `{}`: {e}", path.display())))?;
        let ours = sha256_hex(&bytes);
        match checklist.and_then(|c| c.digest.get("sha256")) {
            Some(theirs) if *theirs == ours => {}
            Some(theirs) => {
                return Err(reject(format!(
                    "it is for checklist `{checklist_name}` (sha256 {}), but `{}` has sha256 {}: the checklist is not the one that ran",
                    short(theirs),
                    path.display(),
                    short(&ours)
                )));
            }
            None => return Err(reject("it records no checklist digest".into())),
        }
    }
    let waived = || {
        p.preflight
            .iter()
            .flat_map(|x| &x.waived)
            .map(|w| {
                let by =
                    w.by.as_ref()
                        .map(|b| format!(", by {b}"))
                        .unwrap_or_default();
                format!("`{}` until {} ({}{by})", w.id, w.until, w.reason)
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    match p.result.as_str() {
        "PASSED" => {}
        "WARNED" if args.allow_waived => notes.push(format!("waived: {}", waived())),
        "WARNED" => {
            return Err(reject(format!(
                "the result is WARNED: the gate opened only because failures were waived ({}); pass `--allow-waived` to deploy with waived failures",
                waived()
            )));
        }
        "FAILED" => {
            return Err(reject(format!(
                "the result is FAILED: {} did not pass",
                list(&p.failed_tests)
            )));
        }
        other => return Err(reject(format!("unknown result `{other}`"))),
    }
    let finished = p.preflight.as_ref().map(|x| x.finished_on);
    let now = Utc::now();
    let age = finished.map(|f| now - f);
    if let Some(max) = args.max_age {
        let (Some(finished), Some(age)) = (finished, age) else {
            return Err(reject(
                "it records no time (`predicate.preflight.finishedOn`), so `--max-age` cannot be checked".into(),
            ));
        };
        if age > chrono::Duration::from_std(max).unwrap_or(chrono::Duration::MAX) {
            return Err(reject(format!(
                "it is {} old (the run finished {}), more than `--max-age {}`",
                human(age),
                finished.format("%Y-%m-%d %H:%M:%S UTC"),
                humantime::format_duration(max)
            )));
        }
        if age < -chrono::Duration::minutes(5) {
            return Err(reject(format!(
                "it is dated {} in the future ({}): check the clocks",
                human(-age),
                finished.format("%Y-%m-%d %H:%M:%S UTC")
            )));
        }
    }
    for path in &args.subjects {
        let bytes = std::fs::read(path)
            .map_err(|e| Refusal::Usage(format!("cannot read `{}`: {e}", path.display())))?;
        let ours = sha256_hex(&bytes);
        if !statement
            .subject
            .iter()
            .any(|s| s.digest.get("sha256") == Some(&ours))
        {
            return Err(reject(format!(
                "`{}` (sha256 {}) is not one of its subjects",
                path.display(),
                short(&ours)
            )));
        }
    }
    let signed = match signer {
        Some((principal, key)) => format!(", signed by {principal} ({key})"),
        None => String::new(),
    };
    let when = age
        .map(|a| format!(", {} old", human(a)))
        .unwrap_or_default();
    let mut lines = vec![format!(
        "verified: {} for commit {}, checklist `{checklist_name}`{signed}{when}",
        p.result,
        short(&commit)
    )];
    lines.extend(notes);
    Ok(lines)
}

/// The principal (and key) of the first signature that verifies against `allowed_signers`.
async fn signed_by(
    envelope: &Envelope,
    payload: &[u8],
    allowed: &Path,
) -> Result<(String, String), Refusal> {
    let reject = |m: String| Refusal::Rejected(m);
    if !allowed.is_file() {
        return Err(Refusal::Usage(format!(
            "`--allowed-signers {}`: no such file",
            allowed.display()
        )));
    }
    if envelope.signatures.is_empty() {
        return Err(reject("the envelope has no signature".into()));
    }
    let signed = pae(&envelope.payload_type, payload);
    let mut problems = Vec::new();
    for s in &envelope.signatures {
        let sig = STANDARD
            .decode(&s.sig)
            .map_err(|e| reject(format!("a signature is not base64: {e}")))?;
        let info =
            ssh::parse(&sig).map_err(|e| reject(format!("a signature is unreadable: {e}")))?;
        if info.fingerprint != s.keyid {
            problems.push(format!(
                "the signature's keyid `{}` is not the key that made it ({})",
                s.keyid, info.fingerprint
            ));
            continue;
        }
        if info.namespace != ssh::NAMESPACE {
            problems.push(format!(
                "the signature was made for namespace `{}`, not `{}`",
                info.namespace,
                ssh::NAMESPACE
            ));
            continue;
        }
        let principals = ssh::principals(allowed, &sig)
            .await
            .map_err(Refusal::Usage)?;
        if principals.is_empty() {
            // find-principals leaves out a listed key that is not valid now.
            let listed =
                std::fs::read_to_string(allowed).is_ok_and(|text| text.contains(&info.public_key));
            let file = allowed.display();
            let why = if listed {
                format!(
                    "whose line in `{file}` does not allow it now (see its `valid-after`/`valid-before`)"
                )
            } else {
                format!("which is not in `{file}`")
            };
            problems.push(format!(
                "it is signed by {} ({}), {why}",
                info.fingerprint, info.key_type
            ));
            continue;
        }
        for principal in principals {
            match ssh::verify(allowed, &principal, &sig, &signed).await {
                Ok(()) => return Ok((principal, info.fingerprint)),
                Err(e) if e.contains("incorrect signature") => problems.push(format!(
                    "the signature by {principal} ({}) does not match the content: it was changed after signing",
                    info.fingerprint
                )),
                Err(e) => problems.push(format!(
                    "`ssh-keygen` refuses the signature by {principal} ({}): {e}",
                    info.fingerprint
                )),
            }
        }
    }
    Err(reject(problems.join("; ")))
}

/// `a, b and 3 more`.
fn list(ids: &[String]) -> String {
    match ids {
        [] => "an item".into(),
        [a] => format!("`{a}`"),
        _ if ids.len() <= 5 => ids
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => format!("{} and {} more", list(&ids[..5]), ids.len() - 5),
    }
}

fn human(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0) as u64;
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::attest::{AttestArgs, write};
    use crate::report::{ItemResult, Outcome, RunReport};

    fn report(commit: &str) -> RunReport {
        let item = |id: &str| ItemResult {
            started_at: Some(Utc::now()),
            ..ItemResult::unrun(id, Outcome::Passed, "exit code 0".into())
        };
        RunReport {
            checklist: "shop release".into(),
            path: "preflight.toml".into(),
            profile: None,
            checklist_sha256: Some(sha256_hex(b"checklist")),
            commit: Some(commit.into()),
            started_at: Utc::now(),
            duration: std::time::Duration::from_millis(20),
            interrupted: false,
            services: Vec::new(),
            items: vec![item("command.health"), item("command.migrations")],
            not_selected: Vec::new(),
            shard: None,
            other_shards: Vec::new(),
        }
    }

    /// The profile a run applied is part of what the attestation says was run.
    #[test]
    fn the_profile_is_an_annotation_of_the_checklist() {
        let statement = |profile: Option<&str>| {
            let mut r = report("0123456789abcdef0123456789abcdef01234567");
            r.profile = profile.map(str::to_string);
            serde_json::to_value(crate::release::attest::statement(&r, &[])).unwrap()
        };
        let with = statement(Some("staging"));
        let configuration = &with["predicate"]["configuration"][0];
        assert_eq!(
            configuration["annotations"]["profile"], "staging",
            "{with:#}"
        );
        let without = statement(None);
        let configuration = &without["predicate"]["configuration"][0];
        assert_eq!(
            configuration["annotations"].get("profile"),
            None,
            "{without:#}"
        );
    }

    /// Flips one bit of bytes of a signed attestation and verifies each copy with the real
    /// `ssh-keygen`: every copy is rejected. The bytes outside the payload and signature (JSON
    /// structure, key id, payload type) are all tried, and a sample inside them (every byte with
    /// `PREFLIGHT_TAMPER_ALL=1`, about two minutes).
    #[test]
    fn a_signed_attestation_with_any_byte_changed_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f"])
            .arg(&key)
            .output()
            .expect("ssh-keygen (apt-get install openssh-client)");
        assert!(out.status.success());
        let public = std::fs::read_to_string(dir.path().join("key.pub")).unwrap();
        let mut fields = public.split_whitespace();
        let allowed = dir.path().join("allowed_signers");
        std::fs::write(
            &allowed,
            format!(
                "ci namespaces=\"preflight\" {} {}\n",
                fields.next().unwrap(),
                fields.next().unwrap()
            ),
        )
        .unwrap();
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let file = dir.path().join("a.json");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let args = AttestArgs {
            attest: Some(file.clone()),
            subjects: Vec::new(),
            sign_key: Some(key),
        };
        rt.block_on(write(&report(commit), &args, &Default::default()))
            .unwrap();
        let original = std::fs::read(&file).unwrap();
        let verify = VerifyArgs {
            file: dir.path().join("t.json"),
            commit: commit.into(),
            checklist: None,
            allowed_signers: Some(allowed),
            max_age: None,
            subjects: Vec::new(),
            allow_waived: false,
        };
        std::fs::write(&verify.file, &original).unwrap();
        assert!(rt.block_on(check(&verify)).is_ok(), "the original verifies");
        let text = String::from_utf8(original.clone()).unwrap();
        let value_span = |key: &str| {
            let start = text.find(&format!("\"{key}\": \"")).unwrap() + key.len() + 5;
            start..start + text[start..].find('"').unwrap()
        };
        let (payload, sig) = (value_span("payload"), value_span("sig"));
        let all = std::env::var_os("PREFLIGHT_TAMPER_ALL").is_some();
        let mut tried = 0;
        for i in 0..original.len() {
            let inside = payload.contains(&i) || sig.contains(&i);
            if inside && !all && i % 37 != 0 {
                continue;
            }
            let mut bytes = original.clone();
            bytes[i] ^= 0x01;
            std::fs::write(&verify.file, &bytes).unwrap();
            match rt.block_on(check(&verify)) {
                Err(Refusal::Rejected(_)) => tried += 1,
                Err(Refusal::Usage(m)) => panic!("byte {i}: a usage error: {m}"),
                Ok(_) => panic!(
                    "byte {i} changed ({:?} -> {:?}) and the attestation still verifies",
                    original[i] as char, bytes[i] as char
                ),
            }
        }
        assert!(tried > 100, "{tried}");
    }
}
