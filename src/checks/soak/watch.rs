//! Watching the app while it is under load: `/proc/<pid>` of the process and its descendants
//! (gunicorn's and nginx's workers are children of the process a service starts), the sockets
//! they hold (`/proc/<pid>/fd` → `/proc/net/tcp{,6}` by inode), the app's listening port and a
//! Prometheus endpoint, sampled at a fixed interval.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::prom::{self, Selector};

/// What to watch.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub pid: Option<u32>,
    /// The app's listening port.
    pub tcp_port: Option<u16>,
    /// A backend's port (database, cache) whose connections from the watched processes to count.
    pub backend_port: Option<u16>,
    pub metrics: Option<reqwest::Url>,
    /// Series to read from the metrics endpoint, by the name used in reports.
    pub series: Vec<(String, Selector)>,
    pub interval: Duration,
    /// TLS settings for an https metrics endpoint, with the directory their files are
    /// relative to.
    pub tls: crate::checks::tls::TlsOptions,
    pub base_dir: std::path::PathBuf,
}

/// Connections on the app's listening port (any process), from `/proc/net/tcp{,6}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounts {
    pub established: u64,
    pub close_wait: u64,
    /// Connections waiting in the listen socket's accept queue (accepted by the kernel, not
    /// yet by the app).
    pub accept_queue: u64,
    pub listening: bool,
}

/// TCP sockets held by the watched processes (found through their fds), inbound and outbound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sockets {
    /// Sockets whose peer closed and which the app has not closed (CLOSE_WAIT), any direction.
    pub close_wait: u64,
    /// ESTABLISHED sockets to `backend_port`.
    pub backend: u64,
    /// Connections accepted on the app's listening port, any state but LISTEN: the clients'
    /// (the load's) connections, sized by the load's concurrency, not by a leak of the app.
    pub inbound: u64,
}

/// CPU time of a set of threads and their time waiting for a CPU in a run queue, both
/// cumulative (`/proc/<pid>/task/<tid>/schedstat`), in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sched {
    pub run: f64,
    pub wait: f64,
}

/// One sample of everything watched.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Seconds since the start of the run.
    pub t: f64,
    pub alive: Option<bool>,
    /// Summed over the process and its descendants.
    pub rss_bytes: Option<f64>,
    pub threads: Option<f64>,
    pub fds: Option<f64>,
    /// The process and its descendants.
    pub processes: Option<f64>,
    pub sockets: Option<Sockets>,
    pub sched: Option<Sched>,
    /// preflight's own threads (the generator shares the machine with the app).
    pub self_sched: Option<Sched>,
    pub tcp: Option<TcpCounts>,
    /// Values read from the metrics endpoint, by report name.
    pub metrics: BTreeMap<String, f64>,
    /// Why this sample has no metrics, when it has none.
    pub metrics_error: Option<String>,
    pub proc_error: Option<String>,
}

/// Samples until `stop` is cancelled; returns every sample.
pub async fn run(cfg: WatchConfig, start: Instant, stop: CancellationToken) -> Vec<Sample> {
    let scraper = match &cfg.metrics {
        Some(_) => {
            let builder = reqwest::Client::builder()
                .no_proxy()
                .timeout(cfg.interval.max(Duration::from_millis(500)));
            cfg.tls
                .apply(builder, &cfg.base_dir)
                .ok()
                .and_then(|b| b.build().ok())
        }
        None => None,
    };
    let mut ticker = tokio::time::interval_at(start, cfg.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut samples = Vec::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let mut s = Sample {
            t: Instant::now()
                .saturating_duration_since(start)
                .as_secs_f64(),
            self_sched: Some(read_sched(std::process::id())),
            ..Sample::default()
        };
        // One read of the socket tables serves the listening port and the process's sockets.
        let rows = (cfg.pid.is_some() || cfg.tcp_port.is_some())
            .then(read_tcp_rows)
            .flatten();
        if let Some(pid) = cfg.pid {
            match read_tree(pid) {
                Ok(p) => {
                    s.alive = Some(true);
                    s.rss_bytes = Some(p.rss_bytes);
                    s.threads = Some(p.threads);
                    s.fds = p.fds;
                    s.processes = Some(p.pids.len() as f64);
                    s.sched = Some(p.sched);
                    s.sockets = rows.as_ref().map(|r| {
                        count_sockets(r, &p.socket_inodes, cfg.tcp_port, cfg.backend_port)
                    });
                }
                Err(e) if !Path::new(&format!("/proc/{pid}")).exists() => {
                    s.alive = Some(false);
                    s.proc_error = Some(e);
                }
                Err(e) => s.proc_error = Some(e),
            }
        }
        if let (Some(port), Some(rows)) = (cfg.tcp_port, &rows) {
            s.tcp = Some(count_port(rows, port));
        }
        if let (Some(client), Some(url)) = (&scraper, &cfg.metrics) {
            match scrape(client, url).await {
                Ok(exp) => {
                    for (name, sel) in &cfg.series {
                        if let Some(v) = exp.value(sel) {
                            s.metrics.insert(name.clone(), v);
                        }
                    }
                }
                Err(e) => s.metrics_error = Some(e),
            }
        }
        samples.push(s);
    }
    samples
}

async fn scrape(client: &reqwest::Client, url: &reqwest::Url) -> Result<prom::Exposition, String> {
    let resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: status {}", resp.status()));
    }
    let text = resp.text().await.map_err(|e| format!("GET {url}: {e}"))?;
    prom::parse(&text).map_err(|e| format!("{url}: {e}"))
}

/// Figures of a process and its descendants.
struct TreeFigures {
    pids: Vec<u32>,
    rss_bytes: f64,
    threads: f64,
    fds: Option<f64>,
    socket_inodes: HashSet<u64>,
    sched: Sched,
}

/// The process and its live descendants (children listed per thread in
/// `/proc/<pid>/task/<tid>/children`).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() && out.len() < 10_000 {
        let p = out[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                    for c in text
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok())
                    {
                        if !out.contains(&c) {
                            out.push(c);
                        }
                    }
                }
            }
        }
        i += 1;
    }
    out
}

fn read_tree(pid: u32) -> Result<TreeFigures, String> {
    let root = read_proc(pid)?;
    let mut fig = TreeFigures {
        pids: vec![pid],
        rss_bytes: root.rss_bytes,
        threads: root.threads,
        fds: root.fds,
        socket_inodes: root.socket_inodes,
        sched: read_sched(pid),
    };
    for child in descendants(pid).into_iter().skip(1) {
        // A child that exits between the listing and the read is simply not counted.
        let Ok(p) = read_proc(child) else { continue };
        fig.pids.push(child);
        fig.rss_bytes += p.rss_bytes;
        fig.threads += p.threads;
        fig.fds = match (fig.fds, p.fds) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        fig.socket_inodes.extend(p.socket_inodes);
        let s = read_sched(child);
        fig.sched.run += s.run;
        fig.sched.wait += s.wait;
    }
    Ok(fig)
}

struct ProcFigures {
    rss_bytes: f64,
    threads: f64,
    fds: Option<f64>,
    socket_inodes: HashSet<u64>,
}

fn read_proc(pid: u32) -> Result<ProcFigures, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    let (rss, threads, state) = parse_status(&status);
    if state == Some('Z') || state == Some('X') {
        return Err(format!("process {pid} has exited (zombie)"));
    }
    let rss = rss.ok_or_else(|| format!("/proc/{pid}/status has no VmRSS"))?;
    let threads = threads.ok_or_else(|| format!("/proc/{pid}/status has no Threads"))?;
    let mut socket_inodes = HashSet::new();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok().map(|d| {
        let mut n = 0.0;
        for e in d.flatten() {
            n += 1.0;
            if let Some(inode) = std::fs::read_link(e.path())
                .ok()
                .and_then(|l| socket_inode(&l.to_string_lossy()))
            {
                socket_inodes.insert(inode);
            }
        }
        n
    });
    Ok(ProcFigures {
        rss_bytes: rss,
        threads,
        fds,
        socket_inodes,
    })
}

/// The inode of an fd link like `socket:[12345]`.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The CPU and run-queue wait of every thread of `pid` (zero when unreadable).
fn read_sched(pid: u32) -> Sched {
    let mut sum = Sched::default();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return sum;
    };
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("schedstat")) {
            let mut f = text
                .split_whitespace()
                .map(|v| v.parse::<f64>().unwrap_or(0.0));
            sum.run += f.next().unwrap_or(0.0) / 1e9;
            sum.wait += f.next().unwrap_or(0.0) / 1e9;
        }
    }
    sum
}

/// (VmRSS in bytes, Threads, State letter) from `/proc/<pid>/status`.
fn parse_status(text: &str) -> (Option<f64>, Option<f64>, Option<char>) {
    let (mut rss, mut threads, mut state) = (None, None, None);
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("VmRSS:") {
            // "   12345 kB"
            rss = v
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
                .map(|kb| kb * 1024.0);
        } else if let Some(v) = line.strip_prefix("Threads:") {
            threads = v.trim().parse::<f64>().ok();
        } else if let Some(v) = line.strip_prefix("State:") {
            state = v.trim().chars().next();
        }
    }
    (rss, threads, state)
}

/// One row of `/proc/net/tcp{,6}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TcpRow {
    local_port: u16,
    remote_port: u16,
    /// `01` ESTABLISHED, `08` CLOSE_WAIT, `0A` LISTEN, ...
    state: u8,
    rx_queue: u64,
    inode: u64,
}

const ESTABLISHED: u8 = 0x01;
const CLOSE_WAIT: u8 = 0x08;
const LISTEN: u8 = 0x0A;

fn read_tcp_rows() -> Option<Vec<TcpRow>> {
    let mut rows = Vec::new();
    let mut any = false;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            any = true;
            parse_tcp_table(&text, &mut rows);
        }
    }
    any.then_some(rows)
}

fn parse_tcp_table(text: &str, rows: &mut Vec<TcpRow>) {
    let port_of = |addr: &str| {
        addr.rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 10 {
            continue;
        }
        let (Some(local_port), Some(remote_port), Ok(state)) = (
            port_of(cols[1]),
            port_of(cols[2]),
            u8::from_str_radix(cols[3], 16),
        ) else {
            continue;
        };
        let rx_queue = cols[4]
            .split(':')
            .nth(1)
            .and_then(|q| u64::from_str_radix(q, 16).ok())
            .unwrap_or(0);
        rows.push(TcpRow {
            local_port,
            remote_port,
            state,
            rx_queue,
            inode: cols[9].parse().unwrap_or(0),
        });
    }
}

/// Connections on the listening `port`, whoever holds them.
fn count_port(rows: &[TcpRow], port: u16) -> TcpCounts {
    let mut c = TcpCounts::default();
    for r in rows.iter().filter(|r| r.local_port == port) {
        match r.state {
            ESTABLISHED => c.established += 1,
            CLOSE_WAIT => c.close_wait += 1,
            LISTEN => {
                c.listening = true;
                c.accept_queue += r.rx_queue;
            }
            _ => {}
        }
    }
    c
}

/// The watched processes' own sockets (by inode), by state.
fn count_sockets(
    rows: &[TcpRow],
    inodes: &HashSet<u64>,
    listening: Option<u16>,
    backend: Option<u16>,
) -> Sockets {
    // Sockets shared by several processes (a listening socket inherited by workers) appear once
    // per table row, so a row is counted once however many fds point at it.
    let by_inode: HashMap<u64, &TcpRow> = rows
        .iter()
        .filter(|r| r.inode != 0 && inodes.contains(&r.inode))
        .map(|r| (r.inode, r))
        .collect();
    let mut s = Sockets::default();
    for r in by_inode.values() {
        if r.state != LISTEN && Some(r.local_port) == listening {
            s.inbound += 1;
        }
        match r.state {
            CLOSE_WAIT => s.close_wait += 1,
            ESTABLISHED if Some(r.remote_port) == backend => s.backend += 1,
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_fields() {
        let text = "Name:\tshop\nState:\tS (sleeping)\nVmRSS:\t   2048 kB\nThreads:\t7\n";
        assert_eq!(
            parse_status(text),
            (Some(2048.0 * 1024.0), Some(7.0), Some('S'))
        );
    }

    // Port 8080 = 0x1F90, backend 5432 = 0x1538.
    const TABLE: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 1
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 2
   2: 0100007F:1F90 0100007F:C351 08 00000000:00000000 00:00000000 00000000  1000        0 3
   3: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 4
   4: 0100007F:D000 0100007F:1538 01 00000000:00000000 00:00000000 00000000  1000        0 5
   5: 0100007F:D001 0100007F:0050 08 00000000:00000000 00:00000000 00000000  1000        0 6
   6: 0100007F:D002 0100007F:1538 01 00000000:00000000 00:00000000 00000000  1000        0 7
";

    #[test]
    fn counts_the_listening_port_by_state() {
        let mut rows = Vec::new();
        parse_tcp_table(TABLE, &mut rows);
        assert_eq!(
            count_port(&rows, 8080),
            TcpCounts {
                established: 1,
                close_wait: 1,
                accept_queue: 3,
                listening: true,
            }
        );
    }

    #[test]
    fn counts_only_the_watched_processes_sockets_outbound_included() {
        let mut rows = Vec::new();
        parse_tcp_table(TABLE, &mut rows);
        // The process holds the listener, one inbound ESTABLISHED, one inbound CLOSE_WAIT, one
        // backend connection and an outbound socket its upstream (port 80) closed; inode 4 is the
        // client's end, inode 7 another process's.
        let mine: HashSet<u64> = [1, 2, 3, 5, 6].into();
        assert_eq!(
            count_sockets(&rows, &mine, Some(8080), Some(5432)),
            Sockets {
                close_wait: 2,
                backend: 1,
                inbound: 2,
            }
        );
    }

    #[test]
    fn reads_this_process_and_its_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let tree = read_tree(std::process::id()).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(tree.pids.contains(&child.id()), "{:?}", tree.pids);
        assert!(tree.rss_bytes > 0.0 && tree.threads >= 2.0 && tree.fds.unwrap_or(0.0) >= 1.0);
        assert!(tree.sched.run > 0.0);
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("pipe:[12]"), None);
    }
}
