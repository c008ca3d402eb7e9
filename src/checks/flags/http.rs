//! HTTP and file reading shared by the flag sources, with errors that say what went wrong.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::{AuthScheme, SourceError};
use crate::checks::tls::{self, TlsOptions};

const BODY_LIMIT: usize = 32 << 20;

/// A client for one attempt (connect timeout at most 10 s) with the item's TLS settings
/// (files relative to `base_dir`). The error is one line.
pub fn client(
    timeout: Duration,
    tls: &TlsOptions,
    base_dir: &Path,
) -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("preflight/", env!("CARGO_PKG_VERSION")));
    tls.apply(builder, base_dir)?
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {}", tls::describe(&e)))
}

/// One request to a flag source.
pub struct Request<'a> {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    pub token: Option<&'a str>,
    pub auth: AuthScheme,
    pub body: Option<Value>,
}

/// Sends `req` and returns its JSON body (and the raw bytes). Any answer but a 2xx JSON document is
/// an error: a flag source that cannot be read must never look like "no flags".
pub async fn fetch_json(
    client: &reqwest::Client,
    req: Request<'_>,
    timeout: Duration,
) -> Result<(Value, Vec<u8>), SourceError> {
    let what = format!("{} {}", req.method, redact_query(&req.url));
    let mut builder = client
        .request(req.method.clone(), req.url.clone())
        .timeout(timeout)
        .header("Accept", "application/json");
    if let Some(token) = req.token {
        builder = match req.auth {
            AuthScheme::Bearer => builder.bearer_auth(token),
            AuthScheme::ApiKey => builder.header("X-API-Key", token),
            AuthScheme::Raw => builder.header("Authorization", token),
            AuthScheme::EnvironmentKey => builder.header("X-Environment-Key", token),
        };
    }
    if let Some(body) = &req.body {
        builder = builder.json(body);
    }
    let sent = async {
        let mut resp = builder.send().await?;
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() > BODY_LIMIT {
                break;
            }
        }
        Ok::<_, reqwest::Error>((status, ctype, body))
    };
    let after = humantime::format_duration(timeout).to_string();
    let (status, ctype, body) = match tokio::time::timeout(timeout, sent).await {
        Err(_) => return Err(SourceError::Timeout { what, after }),
        Ok(Err(e)) if e.is_timeout() => return Err(SourceError::Timeout { what, after }),
        Ok(Err(e)) => {
            let cause = tls::describe(&e);
            let message = if e.is_connect() {
                format!("cannot connect: {cause}")
            } else {
                format!("request failed: {cause}")
            };
            return Err(SourceError::Http { what, message });
        }
        Ok(Ok(r)) => r,
    };
    let text = String::from_utf8_lossy(&body);
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(SourceError::Http {
            what,
            message: format!(
                "HTTP {status}: the source refused the credentials (check `token` and `auth`)"
            ),
        });
    }
    if !status.is_success() {
        return Err(SourceError::Http {
            what,
            message: format!("HTTP {status}: {}", excerpt(&text)),
        });
    }
    if ctype.contains("html") || text.trim_start().starts_with('<') {
        return Err(SourceError::Http {
            what,
            message: format!(
                "expected JSON, got {} starting `{}` (a login page or a proxy error page?)",
                if ctype.is_empty() {
                    "no content type".to_string()
                } else {
                    format!("`{ctype}`")
                },
                excerpt(&text)
            ),
        });
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| SourceError::Http {
        what: what.clone(),
        message: format!("the answer is not valid JSON ({e}): `{}`", excerpt(&text)),
    })?;
    Ok((value, body))
}

/// Reads a file relative to nothing (callers join the base dir).
pub fn read_file(path: &Path) -> Result<String, SourceError> {
    std::fs::read_to_string(path).map_err(|e| SourceError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// The URL without its query (tokens sometimes travel there).
fn redact_query(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    if u.query().is_some() {
        u.set_query(Some("…"));
    }
    let _ = u.set_password(None);
    u.to_string()
}

fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.len() > 80 {
        format!("{}…", &one_line[..super::floor_boundary(&one_line, 80)])
    } else {
        one_line
    }
}

/// `base` + `path`, keeping the base's own path (`http://h/api` + `client/features`).
pub fn join(base: &reqwest::Url, path: &str) -> reqwest::Url {
    let mut u = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    u.set_path(&joined);
    u
}
