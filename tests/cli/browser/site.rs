//! A tiny real HTTP server for pages written by the tests (markup unlike the fixture shop's):
//! serves a directory of files on a loopback port, logs every request line, and has one path,
//! `/hang`, that accepts the request and never answers.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Site {
    pub base: String,
    /// Holds the served files for as long as the site runs.
    _dir: tempfile::TempDir,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Site {
    /// Serves `files` (`(path, content)`, e.g. `("select.html", "<!doctype html>...")`).
    pub fn serve(files: &[(&str, &str)]) -> Site {
        let dir = crate::support::tempdir();
        for (name, text) in files {
            crate::support::write(dir.path(), name, text);
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let root = dir.path().to_path_buf();
        let (log, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (root, log, stopped) = (root.clone(), log.clone(), stopped.clone());
                        std::thread::spawn(move || answer(stream, &root, &log, &stopped));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Site {
            base,
            _dir: dir,
            requests,
            stop,
        }
    }

    /// Request targets seen so far (`/select.html?x=1`).
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(stream: TcpStream, root: &Path, log: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    // One request per connection keeps the server trivial; browsers open another connection.
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
    }
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(target.clone());
    let path = target.split(['?', '#']).next().unwrap_or("/");
    if path == "/hang" {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        return;
    }
    let file: PathBuf = root.join(path.trim_start_matches('/'));
    let (status, body, kind) = match std::fs::read(&file) {
        Ok(b) if !path.contains("..") => ("200 OK", b, content_type(path)),
        _ => (
            "404 Not Found",
            b"<!doctype html><title>Not found</title><p>not found".to_vec(),
            "text/html; charset=utf-8",
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\n\r\n",
        body.len()
    );
    let _ = writer.write_all(head.as_bytes());
    let _ = writer.write_all(&body);
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("txt") | Some("csv") => "text/plain; charset=utf-8",
        _ => "text/html; charset=utf-8",
    }
}
