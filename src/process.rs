//! Child processes in their own process group, so that a timeout or Ctrl-C stops the whole tree.

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// What to start.
#[derive(Debug, Clone)]
pub struct Spawn<'a> {
    pub argv: &'a [String],
    pub cwd: &'a Path,
    pub env: &'a [(String, String)],
}

/// A child process leading its own process group. Dropping it kills the group.
#[derive(Debug)]
pub struct ProcessGroup {
    child: Child,
    pgid: i32,
    reaped: bool,
}

/// Why a process could not be started, phrased for the report.
pub fn spawn_error(argv0: &str, err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => {
            format!("cannot run `{argv0}`: not found (is it installed and on PATH?)")
        }
        io::ErrorKind::PermissionDenied => format!("cannot run `{argv0}`: permission denied"),
        _ => format!("cannot run `{argv0}`: {err}"),
    }
}

impl ProcessGroup {
    /// Starts `spec` with stdin closed and stdout/stderr piped.
    pub fn spawn(spec: &Spawn<'_>) -> io::Result<Self> {
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| io::Error::other("empty argv"))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(spec.cwd)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn()?;
        let pgid = child
            .id()
            .map(|p| p as i32)
            .ok_or_else(|| io::Error::other("child exited at once"))?;
        Ok(ProcessGroup {
            child,
            pgid,
            reaped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pgid as u32
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends `signal` to every process of the group.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a negative pid signals the process group; no memory is involved.
        unsafe {
            libc::kill(-self.pgid, signal);
        }
    }

    /// Waits for the leader to exit.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await?;
        self.reaped = true;
        // The leader is gone; anything it left in the group goes too.
        self.signal(libc::SIGKILL);
        Ok(status)
    }

    /// Whether the leader has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let status = self.child.try_wait()?;
        if status.is_some() {
            self.reaped = true;
        }
        Ok(status)
    }

    /// SIGTERM to the group, then SIGKILL after `grace`. Returns how it ended.
    pub async fn terminate(&mut self, grace: Duration) -> Stopped {
        if self.reaped {
            self.signal(libc::SIGKILL);
            return Stopped::AlreadyExited;
        }
        self.signal(libc::SIGTERM);
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(_) => {
                self.reaped = true;
                self.signal(libc::SIGKILL);
                Stopped::Terminated
            }
            Err(_) => {
                self.signal(libc::SIGKILL);
                let _ = self.child.wait().await;
                self.reaped = true;
                Stopped::Killed
            }
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // Also when the owning future is dropped by a timeout or Ctrl-C.
        self.signal(libc::SIGKILL);
    }
}

/// How a process group was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    AlreadyExited,
    Terminated,
    Killed,
}

/// The last lines of a stream, and how many there were.
#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<String>,
    cap: usize,
    pub total: usize,
}

impl Tail {
    pub fn new(cap: usize) -> Self {
        Tail {
            lines: VecDeque::new(),
            cap,
            total: 0,
        }
    }
    pub fn push(&mut self, line: String) {
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        self.total += 1;
    }
    /// The kept lines, with a note of how many were dropped.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.total > self.lines.len() {
            out.push_str(&format!(
                "[... {} earlier lines]\n",
                self.total - self.lines.len()
            ));
        }
        for l in &self.lines {
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

/// Reads `stream` line by line (lossy UTF-8, line ends trimmed) into `on_line` until it closes.
pub fn for_each_line(
    stream: impl AsyncRead + Unpin + Send + 'static,
    mut on_line: impl FnMut(String) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => on_line(
                    String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string(),
                ),
            }
        }
    })
}

/// Keeps the last lines of `stream` in `tail` until it closes.
pub fn tail_lines(
    stream: impl AsyncRead + Unpin + Send + 'static,
    tail: Arc<Mutex<Tail>>,
) -> tokio::task::JoinHandle<()> {
    for_each_line(stream, move |line| {
        tail.lock().unwrap_or_else(|e| e.into_inner()).push(line)
    })
}

/// The result of [`run_captured`].
#[derive(Debug)]
pub struct Captured {
    /// `None` when it was killed at the timeout.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub elapsed: Duration,
}

impl Captured {
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// "exit code 3", "signal 9".
    pub fn describe_status(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match self.status {
            None => "killed at its timeout".into(),
            Some(s) => match (s.code(), s.signal()) {
                (Some(c), _) => format!("exit code {c}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                _ => "unknown status".into(),
            },
        }
    }

    /// Stdout and stderr tails for a report.
    pub fn output_tail(&self) -> String {
        let mut out = String::new();
        if !self.stdout_tail.is_empty() {
            out.push_str("--- stdout (tail) ---\n");
            out.push_str(&self.stdout_tail);
        }
        if !self.stderr_tail.is_empty() {
            out.push_str("--- stderr (tail) ---\n");
            out.push_str(&self.stderr_tail);
        }
        out
    }
}

const TAIL_LINES: usize = 40;
const STDOUT_LIMIT: usize = 8 << 20;

/// Runs a program to completion or `timeout` (then kills its whole group), keeping its output.
pub async fn run_captured(spec: &Spawn<'_>, timeout: Duration) -> io::Result<Captured> {
    let started = Instant::now();
    let mut group = ProcessGroup::spawn(spec)?;
    let out_tail = Arc::new(Mutex::new(Tail::new(TAIL_LINES)));
    let err_tail = Arc::new(Mutex::new(Tail::new(TAIL_LINES)));
    let full = Arc::new(Mutex::new(String::new()));
    let stdout = group.child_mut().stdout.take().map(|s| {
        let (tail, full) = (out_tail.clone(), full.clone());
        for_each_line(s, move |line| {
            let mut f = full.lock().unwrap_or_else(|e| e.into_inner());
            if f.len() < STDOUT_LIMIT {
                f.push_str(&line);
                f.push('\n');
            }
            tail.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        })
    });
    let stderr = group
        .child_mut()
        .stderr
        .take()
        .map(|s| tail_lines(s, err_tail.clone()));
    let status = match tokio::time::timeout(timeout, group.wait()).await {
        Ok(status) => Some(status?),
        Err(_) => {
            group.terminate(Duration::from_millis(500)).await;
            None
        }
    };
    // Output readers end when every writer of the pipes is gone (the group was killed).
    for h in [stdout, stderr].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
    }
    let render = |t: &Arc<Mutex<Tail>>| t.lock().unwrap_or_else(|e| e.into_inner()).render();
    let stdout = std::mem::take(&mut *full.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Captured {
        status,
        stdout,
        stdout_tail: render(&out_tail),
        stderr_tail: render(&err_tail),
        elapsed: started.elapsed(),
    })
}
