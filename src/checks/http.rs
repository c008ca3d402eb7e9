//! `[http.NAME]`: one HTTP request and what its response must look like.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};

use super::{Check, CheckContext, CheckOutput, RunResource};
use crate::syntax::{Dur, OneOrMany, Pattern, Template};

crate::item_config! {
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
    }
}

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

/// HTTP clients shared by the run's items, one per connect timeout (a client holds a
/// connection pool and TLS roots: building one per request costs milliseconds).
#[derive(Default)]
struct HttpClients {
    by_connect_timeout: Mutex<HashMap<(Duration, bool), reqwest::Client>>,
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
    ) -> Result<reqwest::Client, reqwest::Error> {
        let mut map = self
            .by_connect_timeout
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(&(connect_timeout, follow)) {
            return Ok(c.clone());
        }
        let policy = if follow {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(policy)
            .user_agent(concat!("preflight/", env!("CARGO_PKG_VERSION")))
            .build()?;
        map.insert((connect_timeout, follow), client.clone());
        Ok(client)
    }
}

const BODY_LIMIT: usize = 10 << 20;
const BODY_EXCERPT: usize = 2048;

impl Check for HttpItem {
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
            let client = match clients.get(connect_timeout, self.follow_redirects.unwrap_or(true)) {
                Ok(c) => c,
                Err(e) => return CheckOutput::errored(format!("cannot build an HTTP client: {e}")),
            };
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
                let body = read_body(resp).await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            };
            let (status, headers, body) = match tokio::time::timeout_at(deadline, sent).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return request_error(&what, &host, &e, timeout, connect_timeout),
                Err(_) => return no_answer(&what, &host, timeout),
            };
            let latency = started.elapsed();
            let ms = latency.as_secs_f64() * 1000.0;
            let text = String::from_utf8_lossy(&body);
            let mut details = format!("{what}\n< {} ({} bytes, {ms:.0} ms)\n", status, body.len());
            for (k, v) in headers.iter().take(30) {
                let _ = writeln!(details, "< {}: {}", k, v.to_str().unwrap_or("<binary>"));
            }
            let _ = writeln!(details, "\n{}", excerpt(&text, BODY_EXCERPT));
            let data = serde_json::json!({"url": url.as_str(), "method": method.as_str(), "status": status.as_u16(), "latency_ms": ms, "bytes": body.len()});
            let done = |o: CheckOutput| {
                o.with_details(details.clone())
                    .with_property("latency_ms", format!("{ms:.1}"))
                    .with_data(data.clone())
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
                        "{what}: body does not contain `{needle}`"
                    )));
                }
            }
            if let Some(p) = &self.body_matches
                && !p.0.is_match(&text)
            {
                return done(CheckOutput::failed(format!(
                    "{what}: body does not match `{}`",
                    p.0.as_str()
                )));
            }
            if !self.json.is_empty() {
                let doc: serde_json::Value = match serde_json::from_slice(&body) {
                    Ok(v) => v,
                    Err(e) => {
                        return done(CheckOutput::failed(format!(
                            "{what}: body is not JSON ({e})"
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

async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = BODY_LIMIT.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(body)
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
    let cause = root_cause(e);
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

/// The innermost error message ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
