//! Watching the app while it is under load: `/proc/<pid>`, `/proc/net/tcp{,6}` and a
//! Prometheus endpoint, sampled at a fixed interval.

use std::collections::BTreeMap;
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
    /// A backend's port (database, cache) whose connections to count.
    pub backend_port: Option<u16>,
    pub metrics: Option<reqwest::Url>,
    /// Series to read from the metrics endpoint, by the name used in reports.
    pub series: Vec<(String, Selector)>,
    pub interval: Duration,
}

/// Connections on the app's port, from `/proc/net/tcp{,6}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounts {
    pub established: u64,
    pub close_wait: u64,
    /// Connections waiting in the listen socket's accept queue (accepted by the kernel, not
    /// yet by the app).
    pub accept_queue: u64,
    pub listening: bool,
    /// Established connections to `backend_port`.
    pub backend: u64,
}

/// One sample of everything watched.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Seconds since the start of the run.
    pub t: f64,
    pub alive: Option<bool>,
    pub rss_bytes: Option<f64>,
    pub threads: Option<f64>,
    pub fds: Option<f64>,
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
        Some(_) => reqwest::Client::builder()
            .no_proxy()
            .timeout(cfg.interval.max(Duration::from_millis(500)))
            .build()
            .ok(),
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
            ..Sample::default()
        };
        if let Some(pid) = cfg.pid {
            match read_proc(pid) {
                Ok(p) => {
                    s.alive = Some(true);
                    s.rss_bytes = Some(p.rss_bytes);
                    s.threads = Some(p.threads);
                    s.fds = p.fds;
                }
                Err(e) if !Path::new(&format!("/proc/{pid}")).exists() => {
                    s.alive = Some(false);
                    s.proc_error = Some(e);
                }
                Err(e) => s.proc_error = Some(e),
            }
        }
        if let Some(port) = cfg.tcp_port {
            s.tcp = read_tcp(port, cfg.backend_port);
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

struct ProcFigures {
    rss_bytes: f64,
    threads: f64,
    fds: Option<f64>,
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
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count() as f64);
    Ok(ProcFigures {
        rss_bytes: rss,
        threads,
        fds,
    })
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

fn read_tcp(port: u16, backend: Option<u16>) -> Option<TcpCounts> {
    let mut counts = TcpCounts::default();
    let mut any = false;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            any = true;
            add_tcp_table(&text, port, backend, &mut counts);
        }
    }
    any.then_some(counts)
}

/// Adds one `/proc/net/tcp` table's rows for `port` to `counts`.
fn add_tcp_table(text: &str, port: u16, backend: Option<u16>, counts: &mut TcpCounts) {
    for line in text.lines().skip(1) {
        let mut cols = line.split_whitespace();
        let (Some(_sl), Some(local), Some(remote), Some(state), Some(queues)) = (
            cols.next(),
            cols.next(),
            cols.next(),
            cols.next(),
            cols.next(),
        ) else {
            continue;
        };
        let port_of = |addr: &str| {
            addr.rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok())
        };
        let rx_queue = queues
            .split(':')
            .nth(1)
            .and_then(|q| u64::from_str_radix(q, 16).ok())
            .unwrap_or(0);
        let local_port = port_of(local);
        match (state, local_port == Some(port)) {
            ("01", true) => counts.established += 1,
            ("08", true) => counts.close_wait += 1,
            ("0A", true) => {
                counts.listening = true;
                counts.accept_queue += rx_queue;
            }
            ("01", false) if backend.is_some() && port_of(remote) == backend => counts.backend += 1,
            _ => {}
        }
    }
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

    #[test]
    fn counts_tcp_rows_by_port_and_state() {
        // Port 8080 = 0x1F90, backend 5432 = 0x1538.
        let table = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 1
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 2
   2: 0100007F:1F90 0100007F:C351 08 00000000:00000000 00:00000000 00000000  1000        0 3
   3: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 4
   4: 0100007F:D000 0100007F:1538 01 00000000:00000000 00:00000000 00000000  1000        0 5
";
        let mut c = TcpCounts::default();
        add_tcp_table(table, 8080, Some(5432), &mut c);
        assert_eq!(
            c,
            TcpCounts {
                established: 1,
                close_wait: 1,
                accept_queue: 3,
                listening: true,
                backend: 1
            }
        );
    }

    #[test]
    fn reads_this_process() {
        let p = read_proc(std::process::id()).unwrap();
        assert!(p.rss_bytes > 0.0 && p.threads >= 1.0 && p.fds.unwrap_or(0.0) >= 1.0);
    }
}
