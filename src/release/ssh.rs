//! SSH signatures through the real `ssh-keygen -Y` (OpenSSH 8.1+), namespace `preflight`: every
//! CI runner has it, and teams already keep `allowed_signers` files for git.
//!
//! A signature is OpenSSH's SSHSIG blob (PROTOCOL.sshsig): the armored text `ssh-keygen` writes,
//! without the armor. Its public key gives the key id (`SHA256:...`, as `ssh-keygen -l` shows).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use tokio::io::AsyncWriteExt as _;

/// The signature namespace: a signature made for git commits or other tools does not verify
/// as preflight's, and the other way round.
pub const NAMESPACE: &str = "preflight";

/// `ssh-keygen` answers at once; a prompt for a passphrase would hang without a terminal.
const TIMEOUT: Duration = Duration::from_secs(30);

const ARMOR_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const ARMOR_END: &str = "-----END SSH SIGNATURE-----";

/// Signs `data` with `key` (a private key file, or a public key whose private key is in
/// ssh-agent); returns the SSHSIG blob.
pub async fn sign(key: &Path, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut args = vec!["-Y".into(), "sign".into(), "-n".into(), NAMESPACE.into()];
    args.extend(["-f".into(), key.display().to_string()]);
    let out = ssh_keygen(&args, data).await?;
    if !out.status.success() {
        let why = stderr_line(&out.stderr);
        let hint = if why.contains("passphrase") {
            " (for a key with a passphrase, load it into ssh-agent and pass its public key)"
        } else {
            ""
        };
        return Err(format!(
            "`ssh-keygen -Y sign` with `{}` failed: {why}{hint}",
            key.display()
        ));
    }
    dearmor(&String::from_utf8_lossy(&out.stdout))
}

/// The principals of `allowed_signers` whose key made `sig`.
pub async fn principals(allowed_signers: &Path, sig: &[u8]) -> Result<Vec<String>, String> {
    let file = TempFile::new(armor(sig).as_bytes())?;
    let args = [
        "-Y".to_string(),
        "find-principals".into(),
        "-f".into(),
        allowed_signers.display().to_string(),
        "-s".into(),
        file.path.display().to_string(),
    ];
    let out = ssh_keygen(&args, b"").await?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Checks that `sig` is a signature of `data` by `principal`'s key in `allowed_signers`.
pub async fn verify(
    allowed_signers: &Path,
    principal: &str,
    sig: &[u8],
    data: &[u8],
) -> Result<(), String> {
    let file = TempFile::new(armor(sig).as_bytes())?;
    let args = [
        "-Y".to_string(),
        "verify".into(),
        "-f".into(),
        allowed_signers.display().to_string(),
        "-I".into(),
        principal.into(),
        "-n".into(),
        NAMESPACE.into(),
        "-s".into(),
        file.path.display().to_string(),
    ];
    let out = ssh_keygen(&args, data).await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr_line(&out.stderr))
    }
}

async fn ssh_keygen(args: &[String], stdin: &[u8]) -> Result<std::process::Output, String> {
    let mut child = tokio::process::Command::new("ssh-keygen")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "`ssh-keygen` not found: install the OpenSSH client (Debian/Ubuntu: `apt-get install openssh-client`)".to_string(),
            _ => crate::process::spawn_error("ssh-keygen", &e),
        })?;
    let mut input = child.stdin.take().ok_or("ssh-keygen: no stdin")?;
    let data = stdin.to_vec();
    // Written from a task: ssh-keygen may answer (and exit) before reading everything.
    let writer = tokio::spawn(async move {
        let _ = input.write_all(&data).await;
    });
    let out = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "`ssh-keygen` did not answer within {}s (a key with a passphrase needs ssh-agent)",
                TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("waiting for `ssh-keygen`: {e}"))?;
    let _ = writer.await;
    Ok(out)
}

fn stderr_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        // Without the banner around ssh's warnings, and its chatter.
        .filter(|l| !l.is_empty() && !l.starts_with('@') && *l != "Signing data on standard input")
        .collect();
    if lines.is_empty() {
        "no message".into()
    } else {
        lines.join("; ")
    }
}

/// The armored text `ssh-keygen` reads.
pub fn armor(sig: &[u8]) -> String {
    let b64 = STANDARD.encode(sig);
    let mut out = format!("{ARMOR_BEGIN}\n");
    for chunk in b64.as_bytes().chunks(70) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(ARMOR_END);
    out.push('\n');
    out
}

fn dearmor(text: &str) -> Result<Vec<u8>, String> {
    let body = text
        .split_once(ARMOR_BEGIN)
        .and_then(|(_, rest)| rest.split_once(ARMOR_END))
        .map(|(body, _)| body.split_whitespace().collect::<String>())
        .ok_or("`ssh-keygen -Y sign` wrote no signature")?;
    STANDARD
        .decode(body)
        .map_err(|e| format!("`ssh-keygen -Y sign` wrote an unreadable signature: {e}"))
}

/// What an SSHSIG blob says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigInfo {
    /// `SHA256:...` of the public key, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `ssh-ed25519`, `rsa-sha2-512`, ...
    pub key_type: String,
    pub namespace: String,
    /// The public key as an authorized_keys / allowed_signers line writes it (base64).
    pub public_key: String,
}

/// Reads the public key and namespace of an SSHSIG blob (PROTOCOL.sshsig: `SSHSIG`, version,
/// then length-prefixed public key, namespace, reserved, hash algorithm, signature).
pub fn parse(sig: &[u8]) -> Result<SigInfo, String> {
    let rest = sig
        .strip_prefix(b"SSHSIG")
        .ok_or("not an SSH signature (no SSHSIG magic)")?;
    let (version, mut rest) = rest
        .split_at_checked(4)
        .ok_or("a truncated SSH signature")?;
    if version != [0, 0, 0, 1] {
        return Err("an SSH signature of an unknown version".into());
    }
    let mut field = || -> Result<&[u8], String> {
        let (len, tail) = rest
            .split_at_checked(4)
            .ok_or("a truncated SSH signature")?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (value, tail) = tail
            .split_at_checked(len)
            .ok_or("a truncated SSH signature")?;
        rest = tail;
        Ok(value)
    };
    let public_key = field()?;
    let namespace = String::from_utf8_lossy(field()?).into_owned();
    let _reserved = field()?;
    let _hash = field()?;
    let signature = field()?;
    let key_type = signature
        .split_at_checked(4)
        .and_then(|(len, tail)| {
            tail.get(..u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)
        })
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .ok_or("a truncated SSH signature")?;
    if !rest.is_empty() {
        return Err("trailing bytes after the SSH signature".into());
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, public_key);
    Ok(SigInfo {
        fingerprint: format!("SHA256:{}", STANDARD_NO_PAD.encode(digest.as_ref())),
        key_type,
        namespace,
        public_key: STANDARD.encode(public_key),
    })
}

/// A file in the temp directory, removed on drop (`ssh-keygen -s` reads the signature from one).
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn new(bytes: &[u8]) -> Result<Self, String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "preflight-sig-{}-{}.sig",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, bytes)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        Ok(TempFile { path })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
