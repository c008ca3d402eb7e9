//! Pre-built requests and the connections they go out on.
//!
//! `http://` targets go out on a connection of the worker's own, as wrk does: each request is
//! serialized once, a send is one write, and the answer is parsed in place in the connection's
//! buffer (httparse for the head; `Content-Length`, chunked and read-to-close bodies are skipped
//! without being kept). A client library's request objects, header maps and channels cost
//! several times the kernel's own work per request on loopback (`ci/bench-soak.sh` measures
//! it). `https://` targets go through reqwest.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::{Target, USER_AGENT};

/// Size of a connection's read buffer; a response head must fit in it.
const BUFFER: usize = 16 * 1024;
/// Most headers a response head may have.
const MAX_HEADERS: usize = 100;

/// A request ready to send again and again: serialized once.
pub(super) struct Prepared {
    /// The whole request as written on the wire (http targets).
    wire: Bytes,
    /// `HEAD`: the answer has no body whatever its headers say.
    head: bool,
    method: Method,
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
            // The request line goes out as is: it must not be able to split the request.
            if path_and_query.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(format!("invalid path in `{}`", t.url));
            }
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
            let mut wire = Vec::with_capacity(256 + body.len());
            wire.extend_from_slice(t.method.as_str().as_bytes());
            wire.push(b' ');
            wire.extend_from_slice(path_and_query.as_bytes());
            wire.extend_from_slice(b" HTTP/1.1\r\n");
            for (k, v) in &headers {
                wire.extend_from_slice(k.as_str().as_bytes());
                wire.extend_from_slice(b": ");
                wire.extend_from_slice(v.as_bytes());
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"\r\n");
            wire.extend_from_slice(&body);
            out.push(Prepared {
                wire: Bytes::from(wire),
                head: t.method == Method::HEAD,
                method: t.method.clone(),
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
    Open {
        stream: TcpStream,
        buf: Box<[u8]>,
        /// Bytes of `buf` read and not yet parsed (from its start).
        len: usize,
        /// Has carried a request already (a failure on it may be a stale keep-alive).
        used: bool,
    },
}

/// A worker's request timer. Requests' deadlines only grow, so one timer per worker, moved
/// only when it fires early, stands for a timer per request (which would cost a trip through
/// the runtime's timer wheel on every send).
pub(super) struct Deadlines {
    sleep: Pin<Box<Sleep>>,
}

impl Deadlines {
    pub fn new() -> Deadlines {
        Deadlines {
            sleep: Box::pin(tokio::time::sleep(Duration::from_secs(86_400 * 365))),
        }
    }

    /// Runs `work` until it ends or `deadline` passes (`None`).
    pub async fn run<F: Future>(&mut self, deadline: Instant, work: F) -> Option<F::Output> {
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                biased;
                out = &mut work => return Some(out),
                () = self.sleep.as_mut() => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                    self.sleep.as_mut().reset(deadline);
                }
            }
        }
    }
}

/// Why an exchange failed, and whether the server had answered anything yet.
struct Failure {
    kind: &'static str,
    /// Nothing of an answer arrived: on a reused connection, the server may have closed it
    /// while idle.
    before_answer: bool,
}

impl Failure {
    fn at_start(kind: &'static str) -> Failure {
        Failure {
            kind,
            before_answer: true,
        }
    }
    fn midway(kind: &'static str) -> Failure {
        Failure {
            kind,
            before_answer: false,
        }
    }
}

/// Sends `p` on `conn` (connecting or reconnecting as needed) and reads the whole answer.
/// `Err(kind)` names what went wrong: `connect`, `connection`, `body`, `invalid response`,
/// `http 503`, ...
pub(super) async fn send(
    conn: &mut Conn,
    p: &Prepared,
    https: Option<&reqwest::Client>,
    connect_timeout: Duration,
) -> Result<(), String> {
    let Some(addr) = &p.addr else {
        return send_reqwest(https, p).await;
    };
    // A kept-alive connection the server closed while idle fails before anything is answered:
    // that is the connection's age, not an error of the app, so retry once on a fresh one.
    for attempt in 0..2 {
        if let Conn::Open { stream, .. } = conn
            && closed_by_peer(stream)
        {
            *conn = Conn::None;
        }
        if matches!(conn, Conn::None) {
            *conn = connect(addr, connect_timeout).await?;
        }
        let Conn::Open {
            stream,
            buf,
            len,
            used,
        } = conn
        else {
            unreachable!("connected above")
        };
        let reused = *used;
        *used = true;
        match exchange(stream, buf, len, p).await {
            Ok((status, keep)) => {
                if !keep {
                    *conn = Conn::None;
                }
                return if p.accepted(status) {
                    Ok(())
                } else {
                    Err(format!("http {status}"))
                };
            }
            Err(f) => {
                *conn = Conn::None;
                if reused && attempt == 0 && f.before_answer {
                    continue;
                }
                return Err(f.kind.into());
            }
        }
    }
    Err("connection".into())
}

/// Whether the server closed an idle connection (or sent something unasked on it). Costs no
/// system call while the socket has shown no sign of life since the last read.
fn closed_by_peer(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    !matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

async fn connect(addr: &str, timeout: Duration) -> Result<Conn, String> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) | Err(_) => return Err("connect".into()),
    };
    let _ = stream.set_nodelay(true);
    Ok(Conn::Open {
        stream,
        buf: vec![0u8; BUFFER].into_boxed_slice(),
        len: 0,
        used: false,
    })
}

/// How the body of an answer ends.
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// Writes the request and reads its answer: the status and whether the connection stays open.
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut [u8],
    len: &mut usize,
    p: &Prepared,
) -> Result<(u16, bool), Failure> {
    *len = 0;
    stream
        .write_all(&p.wire)
        .await
        .map_err(|_| Failure::at_start("connection"))?;
    loop {
        let (status, framing, keep) = read_head(stream, buf, len, p.head).await?;
        // Interim answers (100 Continue, 103 Early Hints) precede the real one.
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        if status == 101 {
            return Err(Failure::midway("invalid response"));
        }
        match framing {
            Framing::Length(n) => skip(stream, buf, len, n).await?,
            Framing::Chunked => skip_chunks(stream, buf, len).await?,
            Framing::UntilClose => {
                *len = 0;
                while read_more(stream, buf, len).await? > 0 {
                    *len = 0;
                }
            }
        }
        let keep = keep && !matches!(framing, Framing::UntilClose);
        return Ok((status, keep));
    }
}

/// Reads into `buf[len..]`; `Ok(0)` at the end of the stream.
async fn read_more(
    stream: &mut TcpStream,
    buf: &mut [u8],
    len: &mut usize,
) -> Result<usize, Failure> {
    let n = stream
        .read(&mut buf[*len..])
        .await
        .map_err(|_| Failure::midway("connection"))?;
    *len += n;
    Ok(n)
}

/// Drops the first `n` bytes of `buf[..len]`.
fn consume(buf: &mut [u8], len: &mut usize, n: usize) {
    buf.copy_within(n..*len, 0);
    *len -= n;
}

/// Reads and parses one response head: status, body framing, keep-alive.
async fn read_head(
    stream: &mut TcpStream,
    buf: &mut [u8],
    len: &mut usize,
    head_request: bool,
) -> Result<(u16, Framing, bool), Failure> {
    loop {
        // Parsed outside the await so the header array is not kept in the future.
        if let Some((n, status, framing, keep)) = parse_head(&buf[..*len], head_request)? {
            consume(buf, len, n);
            return Ok((status, framing, keep));
        }
        if *len == buf.len() {
            return Err(Failure::midway("invalid response"));
        }
        let started = *len > 0;
        if read_more(stream, buf, len).await? == 0 {
            return Err(if started {
                Failure::midway("connection")
            } else {
                Failure::at_start("connection")
            });
        }
    }
}

/// A complete response head at the start of `buf`: its length, the status, how the body ends
/// and whether the connection stays open; `None` while incomplete.
fn parse_head(
    buf: &[u8],
    head_request: bool,
) -> Result<Option<(usize, u16, Framing, bool)>, Failure> {
    let mut headers = [const { std::mem::MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let n = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failure::midway("invalid response")),
    };
    let status = resp.code.unwrap_or(0);
    let http10 = resp.version == Some(0);
    let mut keep = !http10;
    let mut length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).ok().map(str::trim);
            match v.and_then(|v| v.parse::<u64>().ok()) {
                Some(v) if length.is_none_or(|l| l == v) => length = Some(v),
                _ => return Err(Failure::midway("invalid response")),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = last_token(h.value).eq_ignore_ascii_case(b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
                    keep = true;
                }
            }
        }
    }
    let framing = if head_request || status < 200 || status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Some((n, status, framing, keep)))
}

/// The last comma-separated token of a header value (the coding applied last).
fn last_token(value: &[u8]) -> &[u8] {
    value
        .rsplit(|&b| b == b',')
        .next()
        .unwrap_or_default()
        .trim_ascii()
}

/// Reads past `n` bytes of body without keeping them.
async fn skip(
    stream: &mut TcpStream,
    buf: &mut [u8],
    len: &mut usize,
    mut n: u64,
) -> Result<(), Failure> {
    loop {
        let have = (*len as u64).min(n);
        consume(buf, len, have as usize);
        n -= have;
        if n == 0 {
            return Ok(());
        }
        if read_more(stream, buf, len).await? == 0 {
            return Err(Failure::midway("body"));
        }
    }
}

/// Reads past a chunked body and its trailers.
async fn skip_chunks(
    stream: &mut TcpStream,
    buf: &mut [u8],
    len: &mut usize,
) -> Result<(), Failure> {
    loop {
        let size = loop {
            match httparse::parse_chunk_size(&buf[..*len]) {
                Ok(httparse::Status::Complete((used, size))) => {
                    consume(buf, len, used);
                    break size;
                }
                Ok(httparse::Status::Partial) if *len < buf.len() => {
                    if read_more(stream, buf, len).await? == 0 {
                        return Err(Failure::midway("body"));
                    }
                }
                _ => return Err(Failure::midway("invalid response")),
            }
        };
        if size == 0 {
            break;
        }
        // The chunk and the line end after it.
        skip(stream, buf, len, size + 2).await?;
    }
    // Trailer fields, up to an empty line.
    loop {
        match buf[..*len].windows(2).position(|w| w == b"\r\n") {
            Some(0) => {
                consume(buf, len, 2);
                return Ok(());
            }
            Some(i) => consume(buf, len, i + 2),
            None if *len < buf.len() => {
                if read_more(stream, buf, len).await? == 0 {
                    return Err(Failure::midway("body"));
                }
            }
            None => return Err(Failure::midway("invalid response")),
        }
    }
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

#[cfg(test)]
mod tests {
    //! Against a real TCP server on loopback that answers each request head with scripted bytes.
    use super::*;
    use tokio::net::TcpListener;

    /// Serves each connection: for every request head read, writes the next answer of
    /// `answers` (split at `|` into separate writes; a part `CLOSE` closes the connection);
    /// `None` closes the connection instead of answering.
    async fn server(answers: Vec<Option<&'static str>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let mut answers = answers.into_iter();
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let Ok(n) = sock.read(&mut chunk).await else {
                        break;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    buf.drain(..end + 4);
                    match answers.next().flatten() {
                        Some(answer) => {
                            for part in answer.split('|') {
                                if part == "CLOSE" {
                                    break;
                                }
                                let _ = sock.write_all(part.as_bytes()).await;
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            if answer.ends_with("|CLOSE") {
                                break;
                            }
                        }
                        None => break,
                    }
                }
            }
        });
        addr
    }

    fn prepared(addr: &str, method: Method) -> Prepared {
        let target = Target {
            method,
            url: format!("http://{addr}/x?y=1").parse().unwrap(),
            headers: vec![],
            body: None,
            accept: None,
        };
        Prepared::all(&[target]).unwrap().remove(0)
    }

    async fn exchange_all(
        answers: Vec<Option<&'static str>>,
        method: Method,
        n: usize,
    ) -> Vec<Result<(), String>> {
        let addr = server(answers).await;
        let p = prepared(&addr, method);
        let mut conn = Conn::None;
        let mut out = Vec::new();
        for _ in 0..n {
            let sent = send(&mut conn, &p, None, Duration::from_secs(2));
            out.push(
                tokio::time::timeout(Duration::from_secs(5), sent)
                    .await
                    .unwrap_or(Err("hang".into())),
            );
        }
        out
    }

    const OK_LEN: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe|llo";

    #[test]
    fn the_request_is_serialized_once_as_http_1_1() {
        let p = prepared("127.0.0.1:9", Method::GET);
        let wire = String::from_utf8(p.wire.to_vec()).unwrap();
        assert!(
            wire.starts_with("GET /x?y=1 HTTP/1.1\r\nhost: 127.0.0.1:9\r\n"),
            "{wire}"
        );
        assert!(wire.ends_with("\r\n\r\n"), "{wire}");
        let bad = Target {
            method: Method::GET,
            url: "http://h/a%20b".parse().unwrap(),
            headers: vec![],
            body: None,
            accept: None,
        };
        assert!(
            Prepared::all(&[bad]).is_ok(),
            "an escaped space is a valid path"
        );
    }

    #[tokio::test]
    async fn bodies_of_every_framing_are_read_to_their_end_and_the_connection_reused() {
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel|lo\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let early = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n|HTTP/1.1 204 No Content\r\n\r\n";
        let r = exchange_all(
            vec![Some(OK_LEN), Some(chunked), Some(early), Some(OK_LEN)],
            Method::GET,
            4,
        )
        .await;
        assert_eq!(r, vec![Ok(()), Ok(()), Ok(()), Ok(())]);
    }

    #[tokio::test]
    async fn bodies_larger_than_the_buffer_are_read_through() {
        // 100 kB by length and 40 kB in one chunk: several buffers' worth each.
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{}",
            "x".repeat(100_000)
        );
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9c40\r\n{}\r\n0\r\n\r\n",
            "y".repeat(40_000)
        );
        let (big, chunked): (&'static str, &'static str) = (big.leak(), chunked.leak());
        let r = exchange_all(vec![Some(big), Some(chunked), Some(OK_LEN)], Method::GET, 3).await;
        assert_eq!(r, vec![Ok(()), Ok(()), Ok(())]);
    }

    #[tokio::test]
    async fn a_head_answer_has_no_body_whatever_its_length_says() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        let r = exchange_all(vec![Some(head), Some(head)], Method::HEAD, 2).await;
        assert_eq!(r, vec![Ok(()), Ok(())]);
    }

    #[tokio::test]
    async fn an_answer_without_length_ends_with_the_connection() {
        let until_close = "HTTP/1.1 200 OK\r\n\r\nsome|body";
        let addr = server(vec![Some(until_close), None]).await;
        let p = prepared(&addr, Method::GET);
        let mut conn = Conn::None;
        // The server keeps the connection open after the body: the read waits for the end.
        let r = tokio::time::timeout(
            Duration::from_millis(500),
            send(&mut conn, &p, None, Duration::from_secs(2)),
        )
        .await;
        assert!(
            r.is_err(),
            "a body without length is read until the server closes"
        );
    }

    #[tokio::test]
    async fn a_closing_answer_drops_the_connection() {
        let close = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        let addr = server(vec![Some(close)]).await;
        let p = prepared(&addr, Method::GET);
        let mut conn = Conn::None;
        assert_eq!(
            send(&mut conn, &p, None, Duration::from_secs(2)).await,
            Ok(())
        );
        assert!(matches!(conn, Conn::None));
    }

    #[tokio::test]
    async fn failures_are_named() {
        let r = exchange_all(
            vec![Some("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")],
            Method::GET,
            1,
        )
        .await;
        assert_eq!(r, vec![Err("http 503".into())]);
        let r = exchange_all(vec![Some("SMTP ready\r\n\r\n")], Method::GET, 1).await;
        assert_eq!(r, vec![Err("invalid response".into())]);
        let short = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ntoo short|CLOSE";
        let r = exchange_all(vec![Some(short)], Method::GET, 1).await;
        assert_eq!(r, vec![Err("body".into())]);
        let r = exchange_all(vec![None], Method::GET, 1).await;
        assert_eq!(r, vec![Err("connection".into())]);
    }

    #[tokio::test]
    async fn a_keep_alive_connection_closed_while_idle_is_retried_once_fresh() {
        // The server closes after each answer without saying so (as an idle timeout does).
        let addr = server(vec![Some(OK_LEN), None, Some(OK_LEN)]).await;
        let p = prepared(&addr, Method::GET);
        let mut conn = Conn::None;
        assert_eq!(
            send(&mut conn, &p, None, Duration::from_secs(2)).await,
            Ok(())
        );
        assert_eq!(
            send(&mut conn, &p, None, Duration::from_secs(2)).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn one_timer_per_worker_stands_for_each_requests_deadline() {
        let ms = Duration::from_millis;
        let mut deadlines = Deadlines::new();
        let start = Instant::now();
        let quick = deadlines.run(start + ms(200), async { 1 }).await;
        assert_eq!(quick, Some(1));
        // A later request's deadline is its own, not the first one's.
        let later = deadlines
            .run(start + ms(600), tokio::time::sleep(ms(300)))
            .await;
        assert_eq!(later, Some(()));
        let stuck = std::future::pending::<()>();
        let timed_out = deadlines.run(start + ms(900), stuck).await;
        assert_eq!(timed_out, None);
        assert!(Instant::now() - start >= ms(900));
    }
}
