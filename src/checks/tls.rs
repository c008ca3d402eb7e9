//! TLS settings of the HTTP clients preflight builds (`ca`, `insecure`, `client_cert` and
//! `client_key`), one helper for every kind that speaks HTTP, and certificate errors in words.
//!
//! A kind that builds a `reqwest` client declares the four keys (see [`TlsOptions`]) and
//! passes its builder through [`TlsOptions::apply`]; it renders request errors with
//! [`describe`].

use std::path::Path;

use crate::syntax::Template;

/// How a client verifies servers and identifies itself. Paths are relative to the checklist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// A PEM bundle of CA certificates trusted in addition to the system's roots.
    pub ca: Option<String>,
    /// No certificate verification at all (named in the report).
    pub insecure: bool,
    /// A PEM client certificate (chain) and its private key, for servers that ask for one.
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

impl TlsOptions {
    /// From the four keys as a checklist table holds them.
    pub fn from_keys(
        ca: &Option<Template>,
        insecure: Option<bool>,
        client_cert: &Option<Template>,
        client_key: &Option<Template>,
    ) -> Self {
        TlsOptions {
            ca: ca.as_ref().map(|t| t.to_string()),
            insecure: insecure.unwrap_or(false),
            client_cert: client_cert.as_ref().map(|t| t.to_string()),
            client_key: client_key.as_ref().map(|t| t.to_string()),
        }
    }

    /// A checklist error for keys that do not go together.
    pub fn check(&self) -> Result<(), String> {
        match (&self.client_cert, &self.client_key) {
            (Some(_), None) => Err("`client_cert` needs `client_key` (its private key)".into()),
            (None, Some(_)) => Err("`client_key` needs `client_cert`".into()),
            _ => Ok(()),
        }
    }

    /// Configures `builder`: extra roots, no verification, or a client certificate. Errors
    /// say which file could not be used.
    pub fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
        base_dir: &Path,
    ) -> Result<reqwest::ClientBuilder, String> {
        self.check()?;
        let read = |key: &str, path: &str| {
            std::fs::read(base_dir.join(path))
                .map_err(|e| format!("cannot read `{key}` file `{path}`: {e}"))
        };
        if let Some(path) = &self.ca {
            let pem = read("ca", path)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| format!("`ca` file `{path}` holds no PEM certificate"))?;
            builder = builder.tls_certs_merge(certs);
        }
        if self.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            let mut pem = read("client_key", key)?;
            pem.push(b'\n');
            pem.extend(read("client_cert", cert)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                format!("`client_cert` `{cert}` and `client_key` `{key}` are not a PEM certificate and its private key: {e}")
            })?;
            builder = builder.identity(identity);
        }
        Ok(builder)
    }

    /// The warning a report carries when certificates are not verified.
    pub fn warning(&self) -> Option<String> {
        self.insecure.then(|| {
            "TLS certificates are not verified (`insecure = true`): this item would pass against an impostor".to_string()
        })
    }
}

/// The innermost cause of a request error, with certificate problems said in words.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let cause = cur.to_string();
    certificate_problem(&cause).unwrap_or(cause)
}

/// rustls names certificate problems by their Rust variant (`UnknownIssuer`); say them.
pub fn certificate_problem(cause: &str) -> Option<String> {
    const WORDS: &[(&str, &str)] = &[
        (
            "UnknownIssuer",
            "the server's certificate is not signed by a trusted certificate authority (give its CA with `ca`, or set SSL_CERT_FILE)",
        ),
        (
            "CaUsedAsEndEntity",
            "the server presented a CA certificate as its own certificate (it must present a certificate issued by that CA)",
        ),
        (
            "EndEntityUsedAsCa",
            "the server's certificate chain uses a server certificate as a CA",
        ),
        (
            "NotValidForName",
            "the server's certificate is not valid for this host name",
        ),
        ("NotValidYet", "the server's certificate is not valid yet"),
        ("Expired", "the server's certificate has expired"),
        ("Revoked", "the server's certificate has been revoked"),
        (
            "BadSignature",
            "the server's certificate has an invalid signature",
        ),
        ("BadEncoding", "the server's certificate cannot be decoded"),
        (
            "UnsupportedSignatureAlgorithm",
            "the server's certificate is signed with an algorithm preflight does not support",
        ),
        (
            "UnhandledCriticalExtension",
            "the server's certificate has a critical extension preflight does not understand",
        ),
        (
            "InvalidPurpose",
            "the server's certificate is not meant for TLS servers",
        ),
        (
            "CertificateRequired",
            "the server requires a client certificate (set `client_cert` and `client_key`)",
        ),
        (
            "UnknownCA",
            "the server does not trust the client certificate",
        ),
        (
            "BadCertificate",
            "the server rejected the client certificate",
        ),
        (
            "HandshakeFailure",
            "the TLS handshake failed (the server may require a client certificate)",
        ),
    ];
    if !(cause.contains("certificate") || cause.contains("alert")) {
        return None;
    }
    WORDS
        .iter()
        .find(|(name, _)| cause.contains(name))
        .map(|(_, words)| format!("TLS: {words}"))
        .or_else(|| {
            cause
                .strip_prefix("invalid peer certificate: ")
                .map(|rest| format!("TLS: the server's certificate is not valid: {rest}"))
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn certificate_errors_read_as_words() {
        let w = super::certificate_problem("invalid peer certificate: UnknownIssuer").unwrap();
        assert!(
            w.contains("not signed by a trusted certificate authority"),
            "{w}"
        );
        let w = super::certificate_problem("invalid peer certificate: CaUsedAsEndEntity").unwrap();
        assert!(!w.contains("CaUsedAsEndEntity"), "{w}");
        assert_eq!(
            super::certificate_problem("Connection refused (os error 111)"),
            None
        );
    }
}
