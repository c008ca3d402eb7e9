//! Services: started before the items in their own process group, stopped after them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::io::Write as _;
use tokio_util::sync::CancellationToken;

use crate::checklist::ServiceDef;
use crate::process::{self, ProcessGroup, Spawn, Stopped, Tail};
use crate::redact::Redactor;
use crate::syntax::Dur;

const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);
const LOG_TAIL: usize = 30;

/// A started service.
pub struct RunningService {
    pub name: String,
    pub group: ProcessGroup,
    pub log_path: PathBuf,
    tail: Arc<Mutex<Tail>>,
    stop_timeout: Duration,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

/// Why a service did not become ready.
#[derive(Debug)]
pub struct ServiceError {
    pub message: String,
    pub log_path: Option<PathBuf>,
}

impl RunningService {
    pub fn tail(&self) -> String {
        self.tail.lock().unwrap_or_else(|e| e.into_inner()).render()
    }

    /// SIGTERM, then SIGKILL after the stop timeout; waits for the log to be written.
    pub async fn stop(mut self) -> Stopped {
        let how = self.group.terminate(self.stop_timeout).await;
        for r in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
        }
        how
    }
}

/// Starts `def` and waits until it is ready (or fails, or `cancel` fires).
pub async fn start(
    def: &ServiceDef,
    base_dir: &Path,
    artifacts: &Path,
    redactor: Arc<Redactor>,
    cancel: &CancellationToken,
) -> Result<(RunningService, Duration), ServiceError> {
    let started = Instant::now();
    let argv = def.run.argv();
    let cwd = def
        .cwd
        .as_ref()
        .map(|c| base_dir.join(c.as_str()))
        .unwrap_or_else(|| base_dir.to_path_buf());
    let env: Vec<(String, String)> = def
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    let mut group = ProcessGroup::spawn(&Spawn {
        argv: &argv,
        cwd: &cwd,
        env: &env,
    })
    .map_err(|e| ServiceError {
        message: if cwd.is_dir() {
            process::spawn_error(&argv[0], &e)
        } else {
            format!("cannot start in `{}`: no such directory", cwd.display())
        },
        log_path: None,
    })?;

    let _ = std::fs::create_dir_all(artifacts);
    let log_path = artifacts.join(format!(
        "service-{}.log",
        crate::checks::sanitize(&def.name)
    ));
    let log = std::fs::File::create(&log_path)
        .ok()
        .map(|f| Arc::new(Mutex::new(f)));
    let tail = Arc::new(Mutex::new(Tail::new(LOG_TAIL)));
    let mut readers = Vec::new();
    let streams: Vec<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = [
        group
            .child_mut()
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        group
            .child_mut()
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    for stream in streams {
        readers.push(copy_log(
            stream,
            tail.clone(),
            log.clone(),
            redactor.clone(),
        ));
    }
    let stop_timeout = def
        .stop_timeout
        .map(Dur::get)
        .unwrap_or(DEFAULT_STOP_TIMEOUT);
    let mut svc = RunningService {
        name: def.name.clone(),
        group,
        log_path,
        tail,
        stop_timeout,
        readers,
    };

    let fail = |svc: &RunningService, message: String| ServiceError {
        message: format!(
            "{message}\n--- last lines of its output ---\n{}",
            svc.tail()
        ),
        log_path: Some(svc.log_path.clone()),
    };
    let Some(ready) = def.ready.as_ref().map(|r| r.get_ref()) else {
        return Ok((svc, started.elapsed()));
    };
    let timeout = ready.timeout.map(Dur::get).unwrap_or(DEFAULT_READY_TIMEOUT);
    let deadline = Instant::now() + timeout;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| ServiceError {
            message: format!("cannot build an HTTP client: {e}"),
            log_path: None,
        })?;
    let mut last;
    loop {
        if let Ok(Some(status)) = svc.group.try_wait() {
            // Give the log readers a moment to catch the last words.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let e = fail(
                &svc,
                format!(
                    "service `{}` exited with {status} before it was ready",
                    def.name
                ),
            );
            svc.stop().await;
            return Err(e);
        }
        let probe = async {
            if let Some(url) = &ready.http {
                match client.get(url.as_str()).send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("GET {} answered {}", url.as_str(), r.status())),
                    Err(e) => Err(format!("GET {}: {}", url.as_str(), root_cause(&e))),
                }
            } else if let Some(addr) = &ready.tcp {
                match tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::net::TcpStream::connect(addr.as_str()),
                )
                .await
                {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(format!("connect {}: {e}", addr.as_str())),
                    Err(_) => Err(format!("connect {}: timed out", addr.as_str())),
                }
            } else {
                Ok(())
            }
        };
        tokio::select! {
            r = probe => match r {
                Ok(()) => return Ok((svc, started.elapsed())),
                Err(e) => last = e,
            },
            _ = cancel.cancelled() => {
                svc.stop().await;
                return Err(ServiceError { message: "interrupted while starting".into(), log_path: None });
            }
        }
        if Instant::now() >= deadline {
            let e = fail(
                &svc,
                format!(
                    "service `{}` was not ready within {} (last probe: {last})",
                    def.name,
                    humantime::format_duration(timeout)
                ),
            );
            svc.stop().await;
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Keeps a stream's lines, redacted, in the tail and the log file.
fn copy_log(
    stream: Box<dyn tokio::io::AsyncRead + Unpin + Send>,
    tail: Arc<Mutex<Tail>>,
    log: Option<Arc<Mutex<std::fs::File>>>,
    redactor: Arc<Redactor>,
) -> tokio::task::JoinHandle<()> {
    process::for_each_line(stream, move |line| {
        let line = redactor.redact(&line).into_owned();
        if let Some(log) = &log {
            // Small appends to a local file: not worth an async writer.
            let _ = writeln!(log.lock().unwrap_or_else(|e| e.into_inner()), "{line}");
        }
        tail.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    })
}
