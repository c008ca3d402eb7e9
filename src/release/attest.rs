//! `--attest FILE`: an [in-toto Statement v1] about the run, with the [test-result predicate].
//!
//! The subject is the git commit (`gitCommit`) and any `--subject` artifact (`sha256`); the
//! configuration is the checklist (its SHA-256; the profile as an annotation). `result` is
//! `FAILED` when the gate closed, `WARNED` when it opened only because failures were waived,
//! `PASSED` otherwise. preflight's own fields (times, waivers) sit in `predicate.preflight`, an
//! extension field as the in-toto parsing rules allow.
//!
//! With `--sign-key`, the statement is wrapped in a [DSSE envelope] whose signature is an SSH
//! signature (`ssh-keygen -Y sign -n preflight`) of the envelope's PAE encoding.
//!
//! [in-toto Statement v1]: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
//! [test-result predicate]: https://github.com/in-toto/attestation/blob/main/spec/predicates/test-result.md
//! [DSSE envelope]: https://github.com/secure-systems-lab/dsse/blob/master/envelope.md

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ssh;
use crate::redact::Redactor;
use crate::report::{ItemResult, Outcome, RunReport};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://in-toto.io/attestation/test-result/v0.1";
/// DSSE's payload type for in-toto statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// An in-toto Statement v1 with the test-result predicate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: TestResult,
}

/// in-toto's ResourceDescriptor, the fields preflight uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, serde_json::Value>,
}

/// The test-result predicate (v0.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// `PASSED`, `WARNED` or `FAILED`.
    pub result: String,
    #[serde(default)]
    pub configuration: Vec<ResourceDescriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub passed_tests: Vec<String>,
    #[serde(default)]
    pub warned_tests: Vec<String>,
    #[serde(default)]
    pub failed_tests: Vec<String>,
    /// preflight's extension field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<Extension>,
}

/// What preflight adds to the predicate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    pub version: String,
    /// The checklist's name.
    pub checklist: String,
    pub started_on: DateTime<Utc>,
    /// When the run ended: what `verify --max-age` measures from.
    pub finished_on: DateTime<Utc>,
    /// Failures that did not close the gate because a waiver held.
    #[serde(default)]
    pub waived: Vec<WaivedTest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaivedTest {
    pub id: String,
    pub reason: String,
    #[serde(default)]
    pub by: Option<String>,
    pub until: NaiveDate,
}

/// A DSSE envelope: read strictly, since only `payloadType` and `payload` are signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub payload: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signing key's fingerprint, `SHA256:...`.
    pub keyid: String,
    /// The SSHSIG blob, base64.
    pub sig: String,
}

/// DSSE's pre-authentication encoding: what the signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The statement about `report`, for its commit and the `subjects` artifacts.
pub fn statement(report: &RunReport, subjects: &[Subject]) -> Statement {
    let mut subject = Vec::new();
    if let Some(commit) = &report.commit {
        subject.push(ResourceDescriptor {
            name: None,
            digest: BTreeMap::from([("gitCommit".to_string(), commit.clone())]),
            annotations: BTreeMap::new(),
        });
    }
    subject.extend(subjects.iter().map(|s| ResourceDescriptor {
        name: Some(s.name.clone()),
        digest: BTreeMap::from([("sha256".to_string(), s.sha256.clone())]),
        annotations: BTreeMap::new(),
    }));
    let mut checklist = ResourceDescriptor {
        name: Some(report.path.display().to_string()),
        digest: report
            .checklist_sha256
            .iter()
            .map(|d| ("sha256".to_string(), d.clone()))
            .collect(),
        annotations: BTreeMap::new(),
    };
    checklist
        .annotations
        .insert("preflight".into(), "checklist".into());
    if let Some(profile) = &report.profile {
        checklist
            .annotations
            .insert("profile".into(), profile.clone().into());
    }
    let (mut passed, mut warned, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for item in &report.items {
        match class(item) {
            Class::Passed => passed.push(item.id.clone()),
            Class::Warned => warned.push(item.id.clone()),
            Class::Failed => failed.push(item.id.clone()),
        }
    }
    let waived: Vec<WaivedTest> = report
        .items
        .iter()
        .filter(|i| i.outcome == Outcome::Waived)
        .filter_map(|i| {
            let w = i.waiver.as_ref()?;
            Some(WaivedTest {
                id: i.id.clone(),
                reason: w.reason.clone(),
                by: w.by.clone(),
                until: w.until,
            })
        })
        .collect();
    let result = if !report.gate_open() {
        "FAILED"
    } else if !waived.is_empty() {
        "WARNED"
    } else {
        "PASSED"
    };
    let finished = report.started_at
        + chrono::Duration::from_std(report.duration).unwrap_or(chrono::Duration::zero());
    Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject,
        predicate_type: PREDICATE_TYPE.into(),
        predicate: TestResult {
            result: result.into(),
            configuration: vec![checklist],
            url: ci_run_url(),
            passed_tests: passed,
            warned_tests: warned,
            failed_tests: failed,
            preflight: Some(Extension {
                version: env!("CARGO_PKG_VERSION").into(),
                checklist: report.checklist.clone(),
                started_on: report.started_at,
                finished_on: finished,
                waived,
            }),
        },
    }
}

enum Class {
    Passed,
    Warned,
    Failed,
}

/// passed: held; warned: held only on a retry, waived, or a non-blocking item that did not
/// hold; failed: a blocking item that did not hold (or did not run).
fn class(item: &ItemResult) -> Class {
    match item.outcome {
        Outcome::Passed => Class::Passed,
        Outcome::Flaky | Outcome::Waived => Class::Warned,
        _ if item.blocks_gate() => Class::Failed,
        _ => Class::Warned,
    }
}

/// The CI job that ran preflight, when it is GitHub Actions or GitLab CI.
fn ci_run_url() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(server), Some(repo), Some(run)) = (
        var("GITHUB_SERVER_URL"),
        var("GITHUB_REPOSITORY"),
        var("GITHUB_RUN_ID"),
    ) {
        return Some(format!("{server}/{repo}/actions/runs/{run}"));
    }
    var("CI_JOB_URL")
}

/// `--attest` and its options (of `run`, `gate` and `merge`).
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// Write an in-toto attestation of the run (test-result predicate) for its git commit.
    #[arg(long, value_name = "FILE")]
    pub attest: Option<PathBuf>,
    /// Also name this artifact, by SHA-256, as a subject of the attestation (repeatable).
    #[arg(long = "subject", value_name = "PATH", requires = "attest")]
    pub subjects: Vec<PathBuf>,
    /// Sign the attestation with this SSH key (`ssh-keygen -Y sign -n preflight`); a public key
    /// whose private key is in ssh-agent works too.
    #[arg(long, value_name = "KEY", requires = "attest")]
    pub sign_key: Option<PathBuf>,
}

/// An artifact named as a subject (`--subject PATH`).
#[derive(Debug, Clone)]
pub struct Subject {
    pub name: String,
    pub sha256: String,
}

impl Subject {
    pub fn read(path: &Path) -> Result<Subject, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read subject `{}`: {e}", path.display()))?;
        Ok(Subject {
            name: path.display().to_string(),
            sha256: super::sha256_hex(&bytes),
        })
    }
}

/// Writes the attestation `args` ask for (nothing without `--attest`), signed with
/// `--sign-key` when given; secrets are redacted before signing.
pub async fn write(
    report: &RunReport,
    args: &AttestArgs,
    redactor: &Redactor,
) -> Result<(), String> {
    let Some(path) = &args.attest else {
        return Ok(());
    };
    let subjects = args
        .subjects
        .iter()
        .map(|p| Subject::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    if report.commit.is_none() && subjects.is_empty() {
        return Err(format!(
            "cannot write the attestation `{}`: the checklist is not in a git repository and no `--subject` names an artifact, so it would attest nothing",
            path.display()
        ));
    }
    let statement = statement(report, &subjects);
    let json = serde_json::to_string_pretty(&statement).map_err(|e| e.to_string())?;
    let json = redactor.redact(&json).into_owned();
    let (text, signed_by) = match &args.sign_key {
        None => (json + "\n", None),
        Some(key) => {
            let sig = ssh::sign(key, &pae(PAYLOAD_TYPE, json.as_bytes())).await?;
            let keyid = ssh::parse(&sig)?.fingerprint;
            let envelope = Envelope {
                payload_type: PAYLOAD_TYPE.into(),
                payload: STANDARD.encode(json.as_bytes()),
                signatures: vec![Signature {
                    keyid: keyid.clone(),
                    sig: STANDARD.encode(&sig),
                }],
            };
            let text = serde_json::to_string_pretty(&envelope).map_err(|e| e.to_string())?;
            (text + "\n", Some(keyid))
        }
    };
    crate::files::write_report(path, text.as_bytes())
        .map_err(|e| format!("cannot write the attestation `{}`: {e}", path.display()))?;
    let of = match &report.commit {
        Some(c) => format!("commit {}", super::short(c)),
        None => format!("{} artifact(s)", subjects.len()),
    };
    let signed = signed_by.map_or(", unsigned".to_string(), |k| format!(", signed by {k}"));
    eprintln!(
        "attestation: {} for {of}{signed} -> {}",
        statement.predicate.result,
        path.display()
    );
    Ok(())
}
