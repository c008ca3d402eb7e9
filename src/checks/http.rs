//! `[http.NAME]`: one HTTP request and what its response must look like.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};

use super::tls::{self, TlsOptions};
use super::{Check, CheckContext, CheckOutput, RunResource};
use crate::syntax::{ByteSize, Dur, ItemErrorKind, OneOrMany, Pattern, Template};

crate::item_config! {
    tls;
    /// A request that must get the expected answer in time.
    pub struct HttpItem {
        #[serde(default)]
        pub method: Option<Method>,
        pub url: HttpUrl,
        #[serde(default)]
        pub headers: IndexMap<HeaderKey, Template>,
        #[serde(default)]
        pub body: Option<Template>,
        /// Accepted status code(s); default any 2xx.
        #[serde(default)]
        pub status: Option<OneOrMany<u16>>,
        #[serde(default)]
        pub body_contains: Option<OneOrMany<Template>>,
        #[serde(default)]
        pub body_matches: Option<Pattern>,
        /// JSON pointer (`/status/db`) -> expected value.
        #[serde(default)]
        pub json: IndexMap<JsonPointer, serde_json::Value>,
        #[serde(default)]
        pub max_latency: Option<Dur>,
        /// Time allowed to establish the connection (default: the item's timeout, at most 10s).
        #[serde(default)]
        pub connect_timeout: Option<Dur>,
        /// Follow redirects (default true).
        #[serde(default)]
        pub follow_redirects: Option<bool>,
        /// Most of the body read (default 10 MiB); checks of the body see only this much.
        #[serde(default)]
        pub max_body: Option<ByteSize>,
    }
}

crate::string_schema!(
    HeaderKey,
    "HeaderName",
    "an HTTP header name",
    "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
);
crate::string_schema!(
    Method,
    "Method",
    "an HTTP method like GET or POST",
    "pattern": "^[A-Za-z]+$"
);
crate::string_schema!(
    HttpUrl,
    "HttpUrl",
    "an absolute http(s) URL (vars allowed: `${base}/health`)",
    "pattern": r"^\s*(?:[hH][tT][tT][pP][sS]?://|\$\{)",
    "allOf": serde_json::json!([{ "pattern": crate::syntax::schema::TEMPLATE_PATTERN }])
);
crate::string_schema!(
    JsonPointer,
    "JsonPointer",
    "a JSON pointer like `/status` (RFC 6901)",
    "pattern": "^(/.*)?$"
);

/// An HTTP header name, checked when the checklist is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderKey(pub reqwest::header::HeaderName);

impl<'de> Deserialize<'de> for HeaderKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        reqwest::header::HeaderName::from_bytes(s.as_bytes())
            .map(HeaderKey)
            .map_err(|_| serde::de::Error::custom(format!("invalid HTTP header name `{s}`")))
    }
}

/// An HTTP method name, checked when the checklist is read.
#[derive(Debug, Clone)]
pub struct Method(pub reqwest::Method);

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let upper = s.to_ascii_uppercase();
        if !upper.chars().all(|c| c.is_ascii_alphabetic()) || upper.is_empty() {
            return Err(serde::de::Error::custom(format!(
                "invalid HTTP method `{s}`"
            )));
        }
        reqwest::Method::from_bytes(upper.as_bytes())
            .map(Method)
            .map_err(|_| serde::de::Error::custom(format!("invalid HTTP method `{s}`")))
    }
}

/// An absolute `http`/`https` URL, checked when the checklist is read.
#[derive(Debug, Clone)]
pub struct HttpUrl(pub reqwest::Url);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Template::deserialize(d)?;
        parse_http_url(&t)
            .map(HttpUrl)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses an absolute `http(s)` URL, with a message fit for a checklist error.
pub fn parse_http_url(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("invalid URL `{s}`: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "invalid URL `{s}`: scheme `{other}` is not http or https"
        )),
    }
}

/// A JSON pointer (RFC 6901), checked when the checklist is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonPointer(pub String);

impl<'de> Deserialize<'de> for JsonPointer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !(s.is_empty() || s.starts_with('/')) {
            return Err(serde::de::Error::custom(format!(
                "invalid JSON pointer `{s}`: it must start with `/`, like `/status`"
            )));
        }
        Ok(JsonPointer(s))
    }
}

/// HTTP clients shared by the run's items, one per connect timeout, redirect policy and TLS
/// settings (a client holds a connection pool and TLS roots: building one per request costs
/// milliseconds).
#[derive(Default)]
struct HttpClients {
    by_settings: Mutex<HashMap<(Duration, bool, TlsOptions), reqwest::Client>>,
}

impl RunResource for HttpClients {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

impl HttpClients {
    fn get(
        &self,
        connect_timeout: Duration,
        follow: bool,
        tls: &TlsOptions,
        base_dir: &std::path::Path,
    ) -> Result<reqwest::Client, String> {
        let mut map = self.by_settings.lock().unwrap_or_else(|e| e.into_inner());
        let key = (connect_timeout, follow, tls.clone());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let policy = if follow {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        let builder = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(policy)
            .user_agent(concat!("preflight/", env!("CARGO_PKG_VERSION")));
        let client = tls
            .apply(builder, base_dir)?
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        map.insert(key, client.clone());
        Ok(client)
    }
}

const DEFAULT_MAX_BODY: ByteSize = ByteSize(10 << 20);
const BODY_EXCERPT: usize = 2048;

impl Check for HttpItem {
    fn validate(&self, _cx: &super::ValidateContext<'_>) -> Result<(), crate::syntax::ItemError> {
        self.tls()
            .check()
            .map_err(|message| (ItemErrorKind::Invalid { message }, None))
    }

    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move {
            let clients = cx
                .resources
                .get_or_try_init::<HttpClients, std::convert::Infallible, _>(async {
                    Ok(HttpClients::default())
                })
                .await
                .unwrap_or_else(|e| match e {});
            let timeout = cx.timeout;
            let connect_timeout = self
                .connect_timeout
                .map(Dur::get)
                .unwrap_or(Duration::from_secs(10))
                .min(timeout);
            let tls = self.tls();
            let follow = self.follow_redirects.unwrap_or(true);
            let client = match clients.get(connect_timeout, follow, &tls, cx.base_dir()) {
                Ok(c) => c,
                Err(e) => return CheckOutput::errored(e),
            };
            let max_body = self.max_body.unwrap_or(DEFAULT_MAX_BODY);
            let method = self
                .method
                .as_ref()
                .map(|m| m.0.clone())
                .unwrap_or(reqwest::Method::GET);
            let url = &self.url.0;
            let mut req = client.request(method.clone(), url.clone()).timeout(timeout);
            for (k, v) in &self.headers {
                req = req.header(k.0.clone(), v.as_str());
            }
            if let Some(b) = &self.body {
                req = req.body(b.to_string());
            }
            let host = format!(
                "{}:{}",
                url.host_str().unwrap_or("?"),
                url.port_or_known_default().unwrap_or(0)
            );
            let what = format!("{method} {url}");
            let started = Instant::now();
            let deadline = tokio::time::Instant::now() + timeout;
            let sent = async {
                let resp = req.send().await?;
                let status = resp.status();
                let headers = resp.headers().clone();
                let body = read_body(resp, max_body.get()).await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            };
            let (status, headers, (body, cut)) = match tokio::time::timeout_at(deadline, sent).await
            {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return request_error(&what, &host, &e, timeout, connect_timeout),
                Err(_) => return no_answer(&what, &host, timeout),
            };
            let latency = started.elapsed();
            let ms = latency.as_secs_f64() * 1000.0;
            let text = String::from_utf8_lossy(&body);
            let size = if cut {
                format!(
                    "more than {max_body}; the first {} bytes read (`max_body`)",
                    body.len()
                )
            } else {
                format!("{} bytes", body.len())
            };
            let mut details = format!("{what}\n< {status} ({size}, {ms:.0} ms)\n");
            for (k, v) in headers.iter().take(30) {
                let _ = writeln!(details, "< {}: {}", k, v.to_str().unwrap_or("<binary>"));
            }
            let _ = writeln!(details, "\n{}", excerpt(&text, BODY_EXCERPT));
            let data = serde_json::json!({"url": url.as_str(), "method": method.as_str(), "status": status.as_u16(), "latency_ms": ms, "bytes": body.len(), "body_cut": cut});
            let done = |mut o: CheckOutput| {
                if let Some(w) = tls.warning() {
                    o.warnings.push(w);
                    o = o.with_property("tls", "insecure");
                }
                o.with_details(details.clone())
                    .with_property("latency_ms", format!("{ms:.1}"))
                    .with_data(data.clone())
            };
            // A check of the body that fails on a body cut short may be a false miss: say so.
            let cut_note = if cut {
                format!(" (only the first {max_body} of the body was read: raise `max_body`)")
            } else {
                String::new()
            };

            let ok_status = match &self.status {
                Some(s) => s.to_vec().contains(&status.as_u16()),
                None => status.is_success(),
            };
            if !ok_status {
                let want = match &self.status {
                    Some(s) => s
                        .to_vec()
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(" or "),
                    None => "2xx".into(),
                };
                return done(CheckOutput::failed(format!(
                    "{what}: expected status {want}, got {status}"
                )));
            }
            for needle in self.body_contains.iter().flat_map(|n| n.to_vec()) {
                if !text.contains(needle.as_str()) {
                    return done(CheckOutput::failed(format!(
                        "{what}: body does not contain `{needle}`{cut_note}"
                    )));
                }
            }
            if let Some(p) = &self.body_matches
                && !p.0.is_match(&text)
            {
                return done(CheckOutput::failed(format!(
                    "{what}: body does not match `{}`{cut_note}",
                    p.0.as_str()
                )));
            }
            if !self.json.is_empty() {
                let doc: serde_json::Value = match serde_json::from_slice(&body) {
                    Ok(v) => v,
                    Err(e) => {
                        return done(CheckOutput::failed(format!(
                            "{what}: body is not JSON ({e}){cut_note}"
                        )));
                    }
                };
                for (pointer, want) in &self.json {
                    match doc.pointer(&pointer.0) {
                        None => {
                            return done(CheckOutput::failed(format!(
                                "{what}: JSON has nothing at `{}`",
                                pointer.0
                            )));
                        }
                        Some(got) if !json_eq(got, want) => {
                            return done(CheckOutput::failed(format!(
                                "{what}: JSON `{}` is {got}, expected {want}",
                                pointer.0
                            )));
                        }
                        Some(_) => {}
                    }
                }
            }
            if let Some(max) = self.max_latency
                && latency > max.get()
            {
                return done(CheckOutput::failed(format!(
                    "{what}: took {ms:.0} ms, over max_latency {}",
                    humantime::format_duration(max.get())
                )));
            }
            done(CheckOutput::passed(format!(
                "{what}: {status} in {ms:.0} ms"
            )))
        })
    }
}

/// The body, up to `limit` bytes, and whether there was more.
async fn read_body(
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            return Ok((body, true));
        }
    }
    Ok((body, false))
}

/// Numbers compare by value (`1` equals `1.0`); everything else structurally.
fn json_eq(got: &serde_json::Value, want: &serde_json::Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => got == want,
    }
}

fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[... {} more bytes]", &text[..end], text.len() - end)
}

fn no_answer(what: &str, host: &str, timeout: Duration) -> CheckOutput {
    CheckOutput::failed(format!(
        "{what}: connected to {host} but got no response within {} (the server accepts connections but does not answer)",
        humantime::format_duration(timeout)
    ))
    .with_property("timed_out", "true")
}

fn request_error(
    what: &str,
    host: &str,
    e: &reqwest::Error,
    timeout: Duration,
    connect_timeout: Duration,
) -> CheckOutput {
    let cause = tls::describe(e);
    if cause.starts_with("TLS: ") {
        return CheckOutput::failed(format!("{what}: {cause}"));
    }
    if e.is_connect() {
        if e.is_timeout() || cause.contains("timed out") {
            return CheckOutput::failed(format!(
                "{what}: could not connect to {host} within {}",
                humantime::format_duration(connect_timeout)
            ));
        }
        return CheckOutput::failed(format!("{what}: could not connect to {host}: {cause}"));
    }
    if e.is_timeout() {
        return no_answer(what, host, timeout);
    }
    if e.is_redirect() {
        return CheckOutput::failed(format!("{what}: too many redirects"));
    }
    CheckOutput::failed(format!("{what}: request failed: {cause}"))
}
