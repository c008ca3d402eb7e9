//! Child processes in their own process group, so that a timeout or Ctrl-C stops the whole tree.

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

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

/// Makes the kernel send `signal` to the child when preflight dies (`PR_SET_PDEATHSIG`), also
/// when it is killed with SIGKILL and cannot stop anything itself.
///
/// The kernel sends it when the *thread* that forked the child ends. preflight spawns from
/// tokio's worker threads (and the main thread), which live as long as the run; never spawn
/// from a `spawn_blocking` thread, which may end while the child should keep running.
pub fn die_with_preflight(cmd: &mut Command, signal: i32) {
    let parent = std::process::id() as i32;
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // system calls (prctl, getppid).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // preflight died between fork and prctl: nothing would signal us later.
            if libc::getppid() != parent {
                return Err(io::Error::other("preflight exited while starting it"));
            }
            Ok(())
        });
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
        die_with_preflight(&mut cmd, libc::SIGKILL);
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
        self.terminate_or_kill(grace, &CancellationToken::new())
            .await
    }

    /// [`Self::terminate`], but SIGKILL at once when `kill_now` fires (a second Ctrl-C).
    pub async fn terminate_or_kill(
        &mut self,
        grace: Duration,
        kill_now: &CancellationToken,
    ) -> Stopped {
        if self.reaped {
            self.signal(libc::SIGKILL);
            return Stopped::AlreadyExited;
        }
        if kill_now.is_cancelled() {
            return self.kill().await;
        }
        self.signal(libc::SIGTERM);
        tokio::select! {
            r = tokio::time::timeout(grace, self.child.wait()) => match r {
                Ok(_) => {
                    self.reaped = true;
                    self.signal(libc::SIGKILL);
                    Stopped::Terminated
                }
                Err(_) => self.kill().await,
            },
            _ = kill_now.cancelled() => self.kill().await,
        }
    }

    async fn kill(&mut self) -> Stopped {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait().await;
        self.reaped = true;
        Stopped::Killed
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

/// Longest line kept whole. The rest of a longer line is counted, not kept, so that output
/// without line ends (a binary dump, a progress bar) cannot grow preflight's memory.
pub const LINE_CAP: usize = 64 << 10;

/// What ended a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// `\n` (or `\r\n`).
    Newline,
    /// A lone `\r`: a progress bar redrawing its line.
    Return,
    /// The stream closed.
    Eof,
}

impl LineEnd {
    /// The bytes that ended the line, as written back to a log.
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnd::Newline | LineEnd::Eof => "\n",
            LineEnd::Return => "\r",
        }
    }
}

/// One line being read: its first [`LINE_CAP`] bytes and how many more it had.
#[derive(Default)]
struct LineBuf {
    kept: Vec<u8>,
    cut: u64,
}

impl LineBuf {
    fn push(&mut self, bytes: &[u8]) {
        let room = LINE_CAP.saturating_sub(self.kept.len()).min(bytes.len());
        self.kept.extend_from_slice(&bytes[..room]);
        self.cut += (bytes.len() - room) as u64;
    }

    fn take(&mut self) -> String {
        let mut line = String::from_utf8_lossy(&self.kept).into_owned();
        if self.cut > 0 {
            line.push_str(&format!("…[{} bytes cut]", self.cut));
        }
        *self = LineBuf::default();
        line
    }

    fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.cut == 0
    }
}

/// Reads `stream` line by line (lossy UTF-8, each line cut at [`LINE_CAP`] bytes, `\n`, `\r\n`
/// and a lone `\r` all ending a line) into `on_line` until it closes.
pub fn for_each_line(
    stream: impl AsyncRead + Unpin + Send + 'static,
    mut on_line: impl FnMut(String, LineEnd) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut line = LineBuf::default();
        // A `\r` was the last byte read: whether it ends the line alone depends on the next.
        let mut after_return = false;
        loop {
            let buf = match reader.fill_buf().await {
                Ok(b) if !b.is_empty() => b,
                _ => break,
            };
            let len = buf.len();
            let mut rest = buf;
            while !rest.is_empty() {
                if std::mem::take(&mut after_return) {
                    if rest[0] == b'\n' {
                        rest = &rest[1..];
                        on_line(line.take(), LineEnd::Newline);
                    } else {
                        on_line(line.take(), LineEnd::Return);
                    }
                    continue;
                }
                match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                    Some(at) => {
                        line.push(&rest[..at]);
                        if rest[at] == b'\n' {
                            on_line(line.take(), LineEnd::Newline);
                        } else {
                            after_return = true;
                        }
                        rest = &rest[at + 1..];
                    }
                    None => {
                        line.push(rest);
                        rest = &[];
                    }
                }
            }
            reader.consume(len);
        }
        if after_return {
            on_line(line.take(), LineEnd::Return);
        } else if !line.is_empty() {
            on_line(line.take(), LineEnd::Eof);
        }
    })
}

/// Keeps the last lines of `stream` in `tail` until it closes.
pub fn tail_lines(
    stream: impl AsyncRead + Unpin + Send + 'static,
    tail: Arc<Mutex<Tail>>,
) -> tokio::task::JoinHandle<()> {
    for_each_line(stream, move |line, _| {
        tail.lock().unwrap_or_else(|e| e.into_inner()).push(line)
    })
}

/// The result of [`run_captured`].
#[derive(Debug)]
pub struct Captured {
    /// `None` when it was killed at the timeout or interrupted.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub elapsed: Duration,
    /// Stopped because the run was interrupted (Ctrl-C), not at its timeout.
    pub interrupted: bool,
}

impl Captured {
    pub fn timed_out(&self) -> bool {
        self.status.is_none() && !self.interrupted
    }

    /// "exit code 3", "signal 9".
    pub fn describe_status(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match self.status {
            None if self.interrupted => "interrupted".into(),
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
    run_captured_until(spec, timeout, &CancellationToken::new()).await
}

/// [`run_captured`] that also stops the program when `cancel` fires, keeping what it printed.
pub async fn run_captured_until(
    spec: &Spawn<'_>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> io::Result<Captured> {
    let started = Instant::now();
    let mut group = ProcessGroup::spawn(spec)?;
    let out_tail = Arc::new(Mutex::new(Tail::new(TAIL_LINES)));
    let err_tail = Arc::new(Mutex::new(Tail::new(TAIL_LINES)));
    let full = Arc::new(Mutex::new(String::new()));
    let stdout = group.child_mut().stdout.take().map(|s| {
        let (tail, full) = (out_tail.clone(), full.clone());
        for_each_line(s, move |line, end| {
            let mut f = full.lock().unwrap_or_else(|e| e.into_inner());
            if f.len() < STDOUT_LIMIT {
                f.push_str(&line);
                f.push_str(end.as_str());
            }
            tail.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        })
    });
    let stderr = group
        .child_mut()
        .stderr
        .take()
        .map(|s| tail_lines(s, err_tail.clone()));
    let mut interrupted = false;
    let status = tokio::select! {
        r = tokio::time::timeout(timeout, group.wait()) => match r {
            Ok(status) => Some(status?),
            Err(_) => {
                group.terminate(Duration::from_millis(500)).await;
                None
            }
        },
        _ = cancel.cancelled() => {
            interrupted = true;
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
        interrupted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &'static [u8]) -> Vec<(String, LineEnd)> {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        for_each_line(input, move |l, e| sink.lock().unwrap().push((l, e)))
            .await
            .unwrap();
        Arc::try_unwrap(got).unwrap().into_inner().unwrap()
    }

    #[tokio::test]
    async fn lines_end_at_newlines_and_lone_returns() {
        use LineEnd::*;
        let got = lines_of(b"a\r\nb\rc\n\rd").await;
        let want = [
            ("a", Newline),
            ("b", Return),
            ("c", Newline),
            ("", Return),
            ("d", Eof),
        ];
        let want: Vec<(String, LineEnd)> = want.iter().map(|(l, e)| (l.to_string(), *e)).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_counted() {
        let long: &'static [u8] = Box::leak(vec![b'x'; LINE_CAP + 10].into_boxed_slice());
        let got = lines_of(long).await;
        assert_eq!(got.len(), 1);
        assert!(
            got[0].0.ends_with("x…[10 bytes cut]"),
            "{}",
            &got[0].0[LINE_CAP - 5..]
        );
    }
}
