//! Services: started before the items in their own process group, stopped after them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::io::Write as _;
use tokio_util::sync::CancellationToken;

use crate::checklist::ServiceDef;
use crate::process::{self, ProcessGroup, Spawn, Stopped, Tail};
use crate::redact::Redactor;
use crate::syntax::{Dur, Timeout};

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

    /// How long [`Self::stop`] waits after SIGTERM.
    pub fn stop_timeout(&self) -> Duration {
        self.stop_timeout
    }

    /// SIGTERM, then SIGKILL after the stop timeout (or at once when `kill_now` fires); waits
    /// for the log to be written.
    pub async fn stop(mut self, kill_now: &CancellationToken) -> Stopped {
        let how = self
            .group
            .terminate_or_kill(self.stop_timeout, kill_now)
            .await;
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
    if let Some(port) = def.ready.as_ref().and_then(|r| local_port(r.get_ref()))
        && let Some(holder) = crate::leftovers::port_holder(port)
    {
        let by = match holder.pid {
            Some(pid) => format!(" by pid {pid} (`{}`)", holder.command),
            None => " (by a process preflight cannot see)".into(),
        };
        return Err(ServiceError {
            message: format!(
                "service `{}` cannot start: port {port} is already in use{by}; is an earlier run's server still up?",
                def.name
            ),
            log_path: None,
        });
    }
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
    let timeout = ready
        .timeout
        .map(Timeout::get)
        .unwrap_or(DEFAULT_READY_TIMEOUT);
    let deadline = Instant::now() + timeout;
    let client = ready
        .tls()
        .apply(reqwest::Client::builder(), base_dir)
        .and_then(|b| {
            b.timeout(Duration::from_secs(2))
                .build()
                .map_err(|e| format!("cannot build an HTTP client: {e}"))
        })
        .map_err(|message| ServiceError {
            message: format!("service `{}`: `ready`: {message}", def.name),
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
            svc.stop(&CancellationToken::new()).await;
            return Err(e);
        }
        let probe = async {
            if let Some(url) = &ready.http {
                match client.get(url.as_str()).send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("GET {} answered {}", url.as_str(), r.status())),
                    Err(e) => Err(format!(
                        "GET {}: {}",
                        url.as_str(),
                        crate::checks::tls::describe(&e)
                    )),
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
                Ok(()) => {
                    // Something answered; make sure it was this service and not a process
                    // that holds its port.
                    if let Ok(Some(status)) = svc.group.try_wait() {
                        let e = fail(&svc, format!(
                            "service `{}` exited with {status} although its readiness probe passed: another process answers on its address",
                            def.name
                        ));
                        svc.stop(&CancellationToken::new()).await;
                        return Err(e);
                    }
                    return Ok((svc, started.elapsed()));
                }
                Err(e) => last = e,
            },
            _ = cancel.cancelled() => {
                svc.stop(&CancellationToken::new()).await;
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
            svc.stop(&CancellationToken::new()).await;
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The port a service's readiness check names, when it is on this machine (then it must be
/// free before the service starts: otherwise the check would pass against whatever holds it).
fn local_port(ready: &crate::checklist::Readiness) -> Option<u16> {
    let (host, port) = if let Some(url) = &ready.http {
        let url = reqwest::Url::parse(url.as_str()).ok()?;
        (url.host_str()?.to_string(), url.port_or_known_default()?)
    } else {
        let addr = ready.tcp.as_ref()?;
        let (host, port) = addr.as_str().rsplit_once(':')?;
        (host.to_string(), port.parse().ok()?)
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
    local.then_some(port)
}

/// How a service that exited on its own ended, and when: `exited (status 7) at 10:02:03 UTC`.
pub fn describe_exit(
    status: std::process::ExitStatus,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited (status {c})"),
        (None, Some(s)) => format!("was killed (signal {s})"),
        _ => "exited".into(),
    };
    format!("{how} at {}", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}

/// Waits until one of `services` (but those marked in `exited`) exits on its own; returns its
/// index and how it ended.
pub async fn first_exit(services: &mut [RunningService], exited: &[bool]) -> (usize, String) {
    loop {
        for (i, svc) in services.iter_mut().enumerate() {
            if exited.get(i).copied().unwrap_or(false) {
                continue;
            }
            if let Ok(Some(status)) = svc.group.try_wait() {
                return (i, describe_exit(status, chrono::Utc::now()));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Keeps a stream's lines, redacted, in the tail and the log file.
fn copy_log(
    stream: Box<dyn tokio::io::AsyncRead + Unpin + Send>,
    tail: Arc<Mutex<Tail>>,
    log: Option<Arc<Mutex<std::fs::File>>>,
    redactor: Arc<Redactor>,
) -> tokio::task::JoinHandle<()> {
    process::for_each_line(stream, move |line, end| {
        let line = redactor.redact(&line).into_owned();
        if let Some(log) = &log {
            // Small appends to a local file: not worth an async writer.
            let mut f = log.lock().unwrap_or_else(|e| e.into_inner());
            let _ = write!(f, "{line}{}", end.as_str());
        }
        tail.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    })
}
