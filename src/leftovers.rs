//! What a run can leave behind, and how the next one finds it.
//!
//! Every process preflight starts inherits [`MARKER_VAR`], naming the run (preflight's pid and
//! start time). Process groups and `PR_SET_PDEATHSIG` stop what stays in its group or is a
//! direct child; the marker also finds what left both: `setsid`/daemonized children, and
//! everything of a run whose preflight was killed with SIGKILL. At the end of a run every
//! process carrying its marker is stopped; at the start of a run, processes and temp
//! directories whose marker names a preflight that is gone are reported and stopped. The
//! marker lives in `/proc/PID/environ`, which preflight can read for its own user's processes
//! (all of them as root).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The environment variable that names the run a process belongs to: `PID.STARTTIME`.
pub const MARKER_VAR: &str = "PREFLIGHT_RUN";

/// This run's marker value.
pub fn this_run() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let pid = std::process::id() as i32;
        format!("{pid}.{}", start_time(pid).unwrap_or(0))
    })
}

/// Puts this run's marker into preflight's own environment, so that every process it starts
/// inherits it. Call before any other thread exists (it changes the environment).
pub fn mark_this_run() {
    let run = this_run();
    // SAFETY: called from `main` before the runtime (or any other thread) starts.
    unsafe { std::env::set_var(MARKER_VAR, run) };
}

/// A process found by its marker.
#[derive(Debug, Clone)]
pub struct Marked {
    pub pid: i32,
    /// Its command line, shortened.
    pub command: String,
    /// The marker it carries.
    pub run: String,
}

impl Marked {
    /// `pid 123 (`sleep 10`)`.
    pub fn describe(&self) -> String {
        format!("pid {} (`{}`)", self.pid, self.command)
    }
}

/// The start time of `pid` in clock ticks since boot (field 22 of `/proc/PID/stat`), which
/// tells a process from a later one that reuses its pid.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The process group of `pid` (field 5 of `/proc/PID/stat`).
fn group_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// Live (not zombie) processes in any of `groups`.
fn live_in_groups(groups: &[i32]) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .any(|pid| group_of(pid).is_some_and(|g| groups.contains(&g)) && !is_zombie(pid))
}

/// The process groups of `processes`, but preflight's own. A marked process's group was made
/// by preflight for an item or service (or by the process itself, with `setsid`): everything
/// in it belongs to the run. Some programs rewrite their environment (Chromium's zygote
/// children do, to set their title), so they are found through their group.
fn groups_of(processes: &[Marked]) -> Vec<i32> {
    // SAFETY: getpgrp has no preconditions.
    let own = unsafe { libc::getpgrp() };
    let mut groups: Vec<i32> = processes
        .iter()
        .filter_map(|p| group_of(p.pid))
        .filter(|g| *g > 1 && *g != own)
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(true)
}

/// Whether the preflight a marker names is still running.
fn run_alive(run: &str) -> bool {
    let Some((pid, start)) = run.split_once('.') else {
        return false;
    };
    // A zombie is dead: PID 1 of a container may never reap a killed preflight.
    match (pid.parse::<i32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => start_time(pid) == Some(start) && !is_zombie(pid),
        _ => false,
    }
}

/// The marker in `/proc/PID/environ`, if any.
fn marker_of(pid: i32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{MARKER_VAR}=");
    environ
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn command_of(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
    cmd = cmd.trim().to_string();
    if cmd.chars().count() > 80 {
        cmd = cmd.chars().take(77).collect::<String>() + "...";
    }
    cmd.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Every live process (other than preflight itself) whose marker satisfies `keep`.
fn scan(keep: impl Fn(&str) -> bool) -> Vec<Marked> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<Marked> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| {
            let run = marker_of(pid)?;
            (keep(&run) && !is_zombie(pid)).then(|| Marked {
                pid,
                command: command_of(pid),
                run,
            })
        })
        .collect();
    found.sort_by_key(|m| m.pid);
    found
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a pid just read from /proc; no memory is involved.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// SIGTERM to `processes` and their process groups, then SIGKILL to what is still alive
/// after `grace`; returns once they are gone (or after another second).
async fn stop(processes: &[Marked], grace: Duration) {
    let groups = groups_of(processes);
    for p in processes {
        signal(p.pid, libc::SIGTERM);
    }
    for g in &groups {
        signal(-g, libc::SIGTERM);
    }
    let alive = |p: &Marked| !is_zombie(p.pid) && marker_of(p.pid).as_deref() == Some(&p.run);
    let any_alive = || processes.iter().any(alive) || live_in_groups(&groups);
    let end = Instant::now() + grace;
    while Instant::now() < end && any_alive() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for p in processes.iter().filter(|p| alive(p)) {
        signal(p.pid, libc::SIGKILL);
    }
    for g in &groups {
        signal(-g, libc::SIGKILL);
    }
    let end = Instant::now() + Duration::from_secs(1);
    while Instant::now() < end && any_alive() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stops every process still carrying this run's marker (SIGTERM, SIGKILL after `grace`);
/// returns them. Scans again while it finds more (a process may fork while it is stopped).
pub async fn stop_this_run(grace: Duration) -> Vec<Marked> {
    let mut stopped = Vec::new();
    for _ in 0..3 {
        let found = scan(|run| run == this_run());
        if found.is_empty() {
            break;
        }
        stop(&found, grace).await;
        stopped.extend(found);
    }
    stopped
}

/// SIGKILLs every process carrying this run's marker, now (the second Ctrl-C).
pub fn kill_this_run_now() {
    for _ in 0..3 {
        let found = scan(|run| run == this_run());
        if found.is_empty() {
            break;
        }
        for p in &found {
            signal(p.pid, libc::SIGKILL);
        }
        for g in groups_of(&found) {
            signal(-g, libc::SIGKILL);
        }
    }
}

/// What runs whose preflight is gone left behind.
#[derive(Debug, Default)]
pub struct DeadRuns {
    pub processes: Vec<Marked>,
    pub temp_dirs: Vec<PathBuf>,
}

/// Finds the processes and temp directories of runs whose preflight is no longer running.
pub fn find_dead_runs() -> DeadRuns {
    DeadRuns {
        processes: scan(|run| run != this_run() && !run_alive(run)),
        temp_dirs: stale_temp_dirs(&std::env::temp_dir()),
    }
}

/// Stops the processes of dead runs, then removes their temp directories.
pub async fn clean_dead_runs(dead: &DeadRuns) {
    stop(&dead.processes, Duration::from_secs(2)).await;
    for dir in &dead.temp_dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A fresh temp directory name for this run (`preflight-PURPOSE-RUN-N`): the next run removes
/// it if this preflight dies without doing so. `purpose` is a word without `-`.
pub fn run_temp_dir(purpose: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("preflight-{purpose}-{}-{n}", this_run()))
}

/// Directories under `tmp` named by [`run_temp_dir`] for a run that is gone.
fn stale_temp_dirs(tmp: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("preflight-") else {
                return false;
            };
            let parts: Vec<&str> = rest.split('-').collect();
            matches!(parts.as_slice(), [_, run, n]
                if n.parse::<u64>().is_ok() && run.contains('.') && *run != this_run() && !run_alive(run))
        })
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// Who listens on a TCP port of this machine.
#[derive(Debug, Clone)]
pub struct PortHolder {
    pub pid: Option<i32>,
    pub command: String,
}

/// The process listening on TCP `port` (any local address), from `/proc/net/tcp{,6}`; `None`
/// when the port is free.
pub fn port_holder(port: u16) -> Option<PortHolder> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let local_port = f[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let pid = std::fs::read_dir("/proc").ok().and_then(|dir| {
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .find(|pid| {
                std::fs::read_dir(format!("/proc/{pid}/fd"))
                    .map(|fds| {
                        fds.flatten().any(|fd| {
                            std::fs::read_link(fd.path())
                                .is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
                        })
                    })
                    .unwrap_or(false)
            })
    });
    Some(PortHolder {
        pid,
        command: pid.map(command_of).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_run_is_alive_and_a_made_up_one_is_not() {
        assert!(run_alive(this_run()));
        assert!(!run_alive("999999999.1"));
        let (pid, _) = this_run().split_once('.').unwrap();
        assert!(
            !run_alive(&format!("{pid}.1")),
            "a reused pid passes for the run"
        );
    }

    #[test]
    fn stale_temp_dirs_are_those_of_dead_runs() {
        let tmp = tempfile::tempdir().unwrap();
        for name in [
            "preflight-browser-999999999.5-0".to_string(),
            format!("preflight-browser-{}-0", this_run()),
            "preflight-browser-123-456".into(),
            "other".into(),
        ] {
            std::fs::create_dir(tmp.path().join(name)).unwrap();
        }
        let stale = stale_temp_dirs(tmp.path());
        assert_eq!(
            stale,
            vec![tmp.path().join("preflight-browser-999999999.5-0")]
        );
    }

    #[test]
    fn a_listening_port_names_its_process() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let holder = port_holder(port).expect("in use");
        assert_eq!(holder.pid, Some(std::process::id() as i32));
        drop(l);
        assert!(port_holder(port).is_none());
    }
}
