//! Pre-built requests and the connections they go out on: HTTP/1.1 over hyper's connection
//! API for `http://` targets (one connection per worker, kept alive), reqwest for `https://`.

use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{Target, USER_AGENT};

/// A request ready to send again and again: parsed once, cloned cheaply per send.
pub(super) struct Prepared {
    method: Method,
    /// Origin-form (`/path?query`), as HTTP/1.1 sends it.
    path: Uri,
    headers: HeaderMap,
    body: Bytes,
    accept: Option<Vec<u16>>,
    /// `host:port` to connect to; `None` for targets sent through reqwest (https).
    addr: Option<String>,
    /// Index of this target's origin among all targets (one connection per origin per worker).
    pub origin: usize,
    url: reqwest::Url,
}

impl Prepared {
    /// Prepares every target; origins are numbered in order of first appearance.
    pub fn all(targets: &[Target]) -> Result<Vec<Prepared>, String> {
        let mut origins: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for t in targets {
            let host = t.url.host_str().unwrap_or_default().to_string();
            let port = t.url.port_or_known_default().unwrap_or(80);
            let origin = format!("{}://{host}:{port}", t.url.scheme());
            let idx = match origins.iter().position(|o| *o == origin) {
                Some(i) => i,
                None => {
                    origins.push(origin);
                    origins.len() - 1
                }
            };
            let path_and_query = match t.url.query() {
                Some(q) => format!("{}?{q}", t.url.path()),
                None => t.url.path().to_string(),
            };
            let mut headers = HeaderMap::new();
            let host_header = match t.url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.clone(),
            };
            let value = |v: &str| {
                HeaderValue::from_str(v).map_err(|_| format!("invalid header value `{v}`"))
            };
            headers.insert(header::HOST, value(&host_header)?);
            headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
            headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
            for (k, v) in &t.headers {
                let name = HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| format!("invalid header name `{k}`"))?;
                headers.insert(name, value(v)?);
            }
            let body = Bytes::from(t.body.clone().unwrap_or_default());
            if !body.is_empty() || !matches!(t.method, Method::GET | Method::HEAD) {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            }
            out.push(Prepared {
                method: t.method.clone(),
                path: path_and_query
                    .parse()
                    .map_err(|e| format!("invalid path in `{}`: {e}", t.url))?,
                headers,
                body,
                accept: t.accept.clone(),
                addr: (t.url.scheme() == "http").then(|| {
                    let h = t.url.host_str().unwrap_or_default();
                    format!("{h}:{port}")
                }),
                origin: idx,
                url: t.url.clone(),
            });
        }
        Ok(out)
    }

    /// Whether this target goes through reqwest (https) rather than a connection of our own.
    pub fn needs_reqwest(&self) -> bool {
        self.addr.is_none()
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.path.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }

    fn accepted(&self, status: u16) -> bool {
        match &self.accept {
            Some(list) => list.contains(&status),
            None => status < 400,
        }
    }
}

/// A worker's connection to one origin.
pub(super) enum Conn {
    None,
    Http1 {
        sender: SendRequest<Full<Bytes>>,
        /// Has carried a request already (a failure on it may be a stale keep-alive).
        used: bool,
    },
}

/// Sends `p` on `conn` (connecting or reconnecting as needed) and reads the whole answer.
/// `Err(kind)` names what went wrong: `connect`, `connection`, `body`, `http 503`, ...
pub(super) async fn send(
    conn: &mut Conn,
    p: &Prepared,
    https: Option<&reqwest::Client>,
    connect_timeout: Duration,
) -> Result<(), String> {
    let Some(addr) = &p.addr else {
        return send_reqwest(https, p).await;
    };
    // A kept-alive connection the server closed while idle fails before the request is
    // written: that is the connection's age, not an error of the app, so retry once fresh.
    for attempt in 0..2 {
        if let Conn::Http1 { sender, .. } = conn
            && sender.is_closed()
        {
            *conn = Conn::None;
        }
        if matches!(conn, Conn::None) {
            *conn = connect(addr, connect_timeout).await?;
        }
        let Conn::Http1 { sender, used } = conn else {
            unreachable!("connected above")
        };
        let reused = *used;
        *used = true;
        if sender.ready().await.is_err() {
            *conn = Conn::None;
            if reused && attempt == 0 {
                continue;
            }
            return Err("connection".into());
        }
        match sender.send_request(p.request()).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let keep = !resp
                    .headers()
                    .get(header::CONNECTION)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                let mut body = resp.into_body();
                while let Some(frame) = body.frame().await {
                    if frame.is_err() {
                        *conn = Conn::None;
                        return Err("body".into());
                    }
                }
                if !keep {
                    *conn = Conn::None;
                }
                return if p.accepted(status) {
                    Ok(())
                } else {
                    Err(format!("http {status}"))
                };
            }
            Err(e) => {
                *conn = Conn::None;
                if reused && attempt == 0 && (e.is_canceled() || e.is_incomplete_message()) {
                    continue;
                }
                return Err(if e.is_timeout() {
                    "timeout".into()
                } else {
                    "connection".into()
                });
            }
        }
    }
    Err("connection".into())
}

async fn connect(addr: &str, timeout: Duration) -> Result<Conn, String> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) | Err(_) => return Err("connect".into()),
    };
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| "connect".to_string())?;
    // The connection's I/O runs beside the worker on the same thread; it ends with the sender.
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    Ok(Conn::Http1 {
        sender,
        used: false,
    })
}

async fn send_reqwest(client: Option<&reqwest::Client>, p: &Prepared) -> Result<(), String> {
    let Some(client) = client else {
        return Err("connect".into());
    };
    let mut req = client
        .request(p.method.clone(), p.url.clone())
        .body(p.body.clone());
    for (k, v) in &p.headers {
        if k != header::HOST {
            req = req.header(k, v);
        }
    }
    let classify = |e: reqwest::Error| {
        if e.is_timeout() {
            "timeout".to_string()
        } else if e.is_connect() {
            // A certificate refused is not a connection the server failed to accept.
            if crate::checks::tls::describe(&e).contains("certificate") {
                "tls".into()
            } else {
                "connect".into()
            }
        } else if e.is_body() || e.is_decode() {
            "body".into()
        } else {
            "connection".into()
        }
    };
    let mut resp = req.send().await.map_err(classify)?;
    let status = resp.status().as_u16();
    while resp.chunk().await.map_err(classify)?.is_some() {}
    if p.accepted(status) {
        Ok(())
    } else {
        Err(format!("http {status}"))
    }
}
