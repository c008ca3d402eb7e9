//! Attestations: signed with a real `ssh-keygen` and verified by `preflight verify`; any change
//! of the file, another commit, another checklist, an old statement, a failed or waived run, an
//! unknown key are each refused with their reason.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{day, git, json, repo_with};
use crate::support::{Run, read, run_in_env, tempdir, write};

const PASSING: &str = r#"[checklist]
name = "shop release"

[command.health]
run = "true"

[command.migrations]
run = "true"
needs = ["command.health"]
"#;

/// A new ed25519 key pair in `dir` (`NAME`, `NAME.pub`) and an allowed_signers line for it.
fn key(dir: &Path, name: &str, principal: &str) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", principal, "-f"])
        .arg(dir.join(name))
        .output()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = read(&dir.join(format!("{name}.pub")));
    let mut fields = public.split_whitespace();
    format!(
        "{principal} namespaces=\"preflight\" {} {}\n",
        fields.next().unwrap(),
        fields.next().unwrap()
    )
}

/// A repository with `checklist`, a signing key `ci-key` allowed in `allowed_signers`, and a
/// signed attestation `a.json` of one run; returns the run and the commit.
fn signed_run(dir: &Path, checklist: &str) -> (Run, String) {
    let head = repo_with(dir, checklist);
    let line = key(dir, "ci-key", "ci@example.com");
    write(dir, "allowed_signers", &line);
    let r = run_in_env(
        dir,
        &["run", "--attest", "a.json", "--sign-key", "ci-key"],
        &[],
    );
    (r, head)
}

fn verify(dir: &Path, file: &str, commit: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", file, "--commit", commit];
    args.extend_from_slice(extra);
    run_in_env(dir, &args, &[])
}

fn rejected(r: &Run, reason: &str) {
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("rejected: "), "{}", r.all());
    assert!(
        r.stderr.contains(reason),
        "expected `{reason}`:\n{}",
        r.all()
    );
}

/// The statement inside a signed attestation.
fn statement(dir: &Path, file: &str) -> serde_json::Value {
    let envelope = json(&dir.join(file));
    let payload = STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn a_signed_passed_run_verifies_for_its_commit_and_checklist() {
    let dir = tempdir();
    let (r, head) = signed_run(dir.path(), PASSING);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains("attestation: PASSED for commit"),
        "{}",
        r.all()
    );
    let s = statement(dir.path(), "a.json");
    assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        s["predicateType"],
        "https://in-toto.io/attestation/test-result/v0.1"
    );
    assert_eq!(s["subject"][0]["digest"]["gitCommit"], head.as_str());
    assert_eq!(s["predicate"]["result"], "PASSED");
    assert_eq!(
        s["predicate"]["passedTests"],
        serde_json::json!(["command.health", "command.migrations"])
    );
    let envelope = json(&dir.path().join("a.json"));
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    assert!(
        envelope["signatures"][0]["keyid"]
            .as_str()
            .unwrap()
            .starts_with("SHA256:")
    );
    let ok = verify(
        dir.path(),
        "a.json",
        &head,
        &[
            "--checklist",
            "preflight.toml",
            "--allowed-signers",
            "allowed_signers",
            "--max-age",
            "1h",
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.all());
    assert!(
        ok.stderr.contains(&format!(
            "verified: PASSED for commit {}, checklist `preflight.toml`, signed by ci@example.com (SHA256:",
            &head[..12]
        )),
        "{}",
        ok.all()
    );
}

#[test]
fn a_changed_attestation_is_refused_whichever_part_changed() {
    let dir = tempdir();
    let (r, head) = signed_run(dir.path(), PASSING);
    assert_eq!(r.code, 0, "{}", r.all());
    let strict = ["--allowed-signers", "allowed_signers"];
    let envelope = json(&dir.path().join("a.json"));
    let save = |name: &str, v: &serde_json::Value| {
        write(dir.path(), name, &serde_json::to_string_pretty(v).unwrap());
    };
    // The statement edited to claim another result (re-encoded, so the file is well formed).
    let mut s = statement(dir.path(), "a.json");
    s["predicate"]["passedTests"] = serde_json::json!(["command.health"]);
    let mut e = envelope.clone();
    e["payload"] = STANDARD
        .encode(serde_json::to_vec_pretty(&s).unwrap())
        .into();
    save("edited.json", &e);
    rejected(
        &verify(dir.path(), "edited.json", &head, &strict),
        "does not match the content: it was changed after signing",
    );
    // One character of the signature, of the key id, of the payload type.
    let sig = envelope["signatures"][0]["sig"].as_str().unwrap();
    let mut e = envelope.clone();
    let flipped = format!(
        "{}{}",
        &sig[..60],
        if &sig[60..61] == "A" { "B" } else { "A" }
    );
    e["signatures"][0]["sig"] = format!("{flipped}{}", &sig[61..]).into();
    save("sig.json", &e);
    rejected(&verify(dir.path(), "sig.json", &head, &strict), "rejected");
    let mut e = envelope.clone();
    e["signatures"][0]["keyid"] = "SHA256:someone-else".into();
    save("keyid.json", &e);
    rejected(
        &verify(dir.path(), "keyid.json", &head, &strict),
        "keyid `SHA256:someone-else` is not the key that made it",
    );
    let mut e = envelope.clone();
    e["payloadType"] = "application/json".into();
    save("type.json", &e);
    rejected(
        &verify(dir.path(), "type.json", &head, &strict),
        "payloadType is `application/json`",
    );
    // A byte cut off the end.
    let text = read(&dir.path().join("a.json"));
    write(dir.path(), "cut.json", &text[..text.len() - 3]);
    rejected(&verify(dir.path(), "cut.json", &head, &strict), "not JSON");
    // The untouched file still verifies.
    assert_eq!(verify(dir.path(), "a.json", &head, &strict).code, 0);
}

#[test]
fn another_commit_or_checklist_is_refused() {
    let dir = tempdir();
    let (_, head) = signed_run(dir.path(), PASSING);
    let strict = ["--allowed-signers", "allowed_signers"];
    // The next commit (the attestation is of the one before).
    write(dir.path(), "CHANGELOG", "1.4.3\n");
    git(dir.path(), &["add", "CHANGELOG"]);
    git(dir.path(), &["commit", "-q", "-m", "next"]);
    let next = git(dir.path(), &["rev-parse", "HEAD"]);
    rejected(
        &verify(dir.path(), "a.json", &next, &strict),
        &format!(
            "it is for commit {}, not {} (the commit being deployed)",
            &head[..12],
            &next[..12]
        ),
    );
    // A checklist that lost an item since the run.
    write(
        dir.path(),
        "trimmed.toml",
        &PASSING.replace("[command.migrations]", "[command.other]"),
    );
    let mut args = strict.to_vec();
    args.extend(["--checklist", "trimmed.toml"]);
    rejected(
        &verify(dir.path(), "a.json", &head, &args),
        "it is for checklist `preflight.toml` (sha256 ",
    );
    // An abbreviated commit is a usage error: a prefix could be forged.
    let r = verify(dir.path(), "a.json", &head[..10], &strict);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("give the full commit id"), "{}", r.all());
}

#[test]
fn an_old_statement_is_refused_by_max_age() {
    let dir = tempdir();
    let head = repo_with(dir.path(), PASSING);
    let r = run_in_env(dir.path(), &["run", "--attest", "a.json"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        verify(dir.path(), "a.json", &head, &["--max-age", "1h"]).code,
        0
    );
    // The same statement, as it would read 30 hours after the run (unsigned, so it may be edited).
    let mut s = json(&dir.path().join("a.json"));
    let old = (chrono::Utc::now() - chrono::Duration::hours(30)).to_rfc3339();
    s["predicate"]["preflight"]["finishedOn"] = old.into();
    write(dir.path(), "old.json", &s.to_string());
    rejected(
        &verify(dir.path(), "old.json", &head, &["--max-age", "24h"]),
        "old (the run finished ",
    );
    let r = verify(dir.path(), "old.json", &head, &["--max-age", "24h"]);
    assert!(
        r.stderr.contains("more than `--max-age 1day`"),
        "{}",
        r.all()
    );
}

#[test]
fn failed_waived_unsigned_and_unknown_key_attestations_are_refused() {
    let dir = tempdir();
    let failing = format!(
        "{PASSING}\n[command.smoke]\nrun = \"exit 3\"\n\n[command.search]\nrun = \"exit 1\"\n\n[waivers.\"command.search\"]\nreason = \"slow index\"\nuntil = {}\n",
        day(3)
    );
    let (r, head) = signed_run(dir.path(), &failing);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("attestation: FAILED"), "{}", r.all());
    let strict = ["--allowed-signers", "allowed_signers"];
    rejected(
        &verify(dir.path(), "a.json", &head, &strict),
        "the result is FAILED: `command.smoke` did not pass",
    );
    // Only the waiver keeps the gate open: WARNED, accepted with --allow-waived.
    let waived = failing.replace("run = \"exit 3\"", "run = \"true\"");
    std::fs::write(dir.path().join("preflight.toml"), &waived).unwrap();
    git(dir.path(), &["commit", "-q", "-am", "smoke fixed"]);
    let head = git(dir.path(), &["rev-parse", "HEAD"]);
    let r = run_in_env(
        dir.path(),
        &["run", "--attest", "a.json", "--sign-key", "ci-key"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    rejected(
        &verify(dir.path(), "a.json", &head, &strict),
        "the result is WARNED: the gate opened only because failures were waived (`command.search` until",
    );
    let mut args = strict.to_vec();
    args.push("--allow-waived");
    let ok = verify(dir.path(), "a.json", &head, &args);
    assert_eq!(ok.code, 0, "{}", ok.all());
    assert!(
        ok.stderr.contains("waived: `command.search` until"),
        "{}",
        ok.all()
    );
    // Signed by a key the deploy side does not know.
    key(dir.path(), "intruder", "intruder@example.com");
    let r = run_in_env(
        dir.path(),
        &["run", "--attest", "b.json", "--sign-key", "intruder"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    rejected(
        &verify(dir.path(), "b.json", &head, &args),
        "which is not in `allowed_signers`",
    );
    // Not signed at all, while a signature is required.
    let r = run_in_env(dir.path(), &["run", "--attest", "c.json"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    rejected(
        &verify(dir.path(), "c.json", &head, &args),
        "it is not signed, but `--allowed-signers` asks for a signature",
    );
}

#[test]
fn artifacts_named_as_subjects_are_checked_by_digest() {
    let dir = tempdir();
    let head = repo_with(dir.path(), PASSING);
    write(dir.path(), "dist/app.tar.gz", "release 1.4.2 build");
    let r = run_in_env(
        dir.path(),
        &["run", "--attest", "a.json", "--subject", "dist/app.tar.gz"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let ok = verify(
        dir.path(),
        "a.json",
        &head,
        &["--subject", "dist/app.tar.gz"],
    );
    assert_eq!(ok.code, 0, "{}", ok.all());
    assert!(
        ok.stderr.contains("warning: the attestation is not signed"),
        "{}",
        ok.all()
    );
    write(
        dir.path(),
        "dist/app.tar.gz",
        "release 1.4.2 build, rebuilt",
    );
    rejected(
        &verify(
            dir.path(),
            "a.json",
            &head,
            &["--subject", "dist/app.tar.gz"],
        ),
        "`dist/app.tar.gz` (sha256 ",
    );
}

#[test]
fn outside_a_repository_an_attestation_needs_a_subject() {
    let dir = tempdir();
    write(dir.path(), "preflight.toml", PASSING);
    let r = run_in_env(dir.path(), &["run", "--attest", "a.json"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("the checklist is not in a git repository and no `--subject`"),
        "{}",
        r.all()
    );
}

#[test]
fn in_toto_s_own_consumers_read_and_verify_the_attestation() {
    // securesystemslib's DSSE envelope (its PAE, verified through ssh-keygen) and the in-toto
    // framework's Statement and test-result protos (ci/attestation-consumers.py).
    let dir = tempdir();
    let (r, head) = signed_run(dir.path(), PASSING);
    assert_eq!(r.code, 0, "{}", r.all());
    let consume = |file: &str| {
        Command::new("python3")
            .arg(crate::support::repo().join("ci/attestation-consumers.py"))
            .args([file, "allowed_signers", "ci@example.com"])
            .current_dir(dir.path())
            .output()
            .expect("python3")
    };
    let out = consume("a.json");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{} (ci/install-deps.sh installs in-toto-attestation and securesystemslib)",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("PASSED for {head}: 2 passed, 0 warned, 0 failed")),
        "{stdout}"
    );
    // The same consumers refuse an edited statement.
    let mut envelope = json(&dir.path().join("a.json"));
    let mut s = statement(dir.path(), "a.json");
    s["predicate"]["result"] = "FAILED".into();
    envelope["payload"] = STANDARD.encode(serde_json::to_vec(&s).unwrap()).into();
    write(dir.path(), "edited.json", &envelope.to_string());
    let out = consume("edited.json");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("VerificationError"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn allowed_signers_options_are_honoured_as_ssh_keygen_reads_them() {
    let dir = tempdir();
    let (r, head) = signed_run(dir.path(), PASSING);
    assert_eq!(r.code, 0, "{}", r.all());
    let line = read(&dir.path().join("allowed_signers"));
    let key = line
        .split_once(' ')
        .unwrap()
        .1
        .split_once(' ')
        .unwrap()
        .1
        .trim();
    let with = |text: String| {
        write(dir.path(), "signers", &text);
        verify(
            dir.path(),
            "a.json",
            &head,
            &["--allowed-signers", "signers"],
        )
    };
    // Several principals, a pattern, a validity window that holds, namespaces naming preflight.
    for ok in [
        format!("release@example.com,ci@example.com {key}\n"),
        format!("*@example.com namespaces=\"git,preflight\" {key}\n"),
        format!("ci@example.com valid-after=\"20200101\",valid-before=\"29990101\" {key}\n"),
    ] {
        let r = with(ok.clone());
        assert_eq!(r.code, 0, "{ok}\n{}", r.all());
    }
    // A key allowed for git commits only; a key whose validity ended.
    rejected(
        &with(format!("ci@example.com namespaces=\"git\" {key}\n")),
        "key is not permitted for use in signature namespace \"preflight\"",
    );
    rejected(
        &with(format!("ci@example.com valid-before=\"20200101\" {key}\n")),
        "does not allow it now (see its `valid-after`/`valid-before`)",
    );
}
