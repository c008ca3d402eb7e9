//! The load generator: an open model at a planned arrival rate, or a closed loop.
//!
//! Open model: requests are scheduled at the plan's rate whether or not earlier ones returned,
//! and each latency is measured from the request's *scheduled* send time (wrk2's fix for
//! coordinated omission): a server that stalls makes every request scheduled during the stall
//! slow, it cannot hide by slowing the generator down. A cap on requests in flight bounds
//! memory; a request that would exceed it is counted as dropped, never queued.
//!
//! Closed loop (`connections = N`): N connections each send their next request when the last
//! one returned; the plan's levels are numbers of connections. For capacity checks.
//!
//! [`workers`] runs either on long-lived connection tasks on one thread of its own (like
//! `wrk -t1`); [`http`] holds the pre-built requests and the connections they go out on.

mod http;
mod workers;

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Largest latency the histograms hold (anything slower is recorded as this).
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Latencies kept per phase for rank tests (a uniform reservoir sample).
const RESERVOIR: usize = 5000;

/// One stretch of the run with a rate going linearly from `from` to `to` requests/s.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: &'static str,
    pub start: Duration,
    pub len: Duration,
    pub from: f64,
    pub to: f64,
}

impl Phase {
    pub fn end(&self) -> Duration {
        self.start + self.len
    }
    /// Requests planned in this phase.
    pub fn planned(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.len.as_secs_f64()
    }
}

/// The phases of a run, back to back from offset zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub phases: Vec<Phase>,
}

impl Plan {
    /// Builds back-to-back phases from `(name, length, from, to)`.
    pub fn new(parts: &[(&'static str, Duration, f64, f64)]) -> Plan {
        let mut start = Duration::ZERO;
        let mut phases = Vec::new();
        for &(name, len, from, to) in parts {
            phases.push(Phase {
                name,
                start,
                len,
                from,
                to,
            });
            start += len;
        }
        Plan { phases }
    }

    pub fn total(&self) -> Duration {
        self.phases.last().map(Phase::end).unwrap_or_default()
    }

    /// The index of the phase running at offset `t` (the last one after the end).
    pub fn phase_at(&self, t: Duration) -> usize {
        self.phases
            .iter()
            .position(|p| t < p.end())
            .unwrap_or(self.phases.len().saturating_sub(1))
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.phases.iter().position(|p| p.name == name)
    }

    /// The send offset and phase of every request, in order.
    pub fn schedule(&self) -> Schedule<'_> {
        Schedule {
            plan: self,
            phase: 0,
            before: 0.0,
            next: 0,
        }
    }
}

/// Iterates the planned send offsets: the i-th request goes when the integral of the rate
/// reaches i.
pub struct Schedule<'a> {
    plan: &'a Plan,
    phase: usize,
    /// Requests planned before the current phase.
    before: f64,
    next: u64,
}

impl Iterator for Schedule<'_> {
    type Item = (Duration, usize);
    fn next(&mut self) -> Option<(Duration, usize)> {
        loop {
            let p = self.plan.phases.get(self.phase)?;
            let local = self.next as f64 - self.before;
            if local >= p.planned() - 1e-9 {
                self.before += p.planned();
                self.phase += 1;
                continue;
            }
            let len = p.len.as_secs_f64();
            let tau = if (p.to - p.from).abs() < 1e-12 {
                local / p.from
            } else {
                // from*tau + (to-from)/(2 len) * tau^2 = local
                let a = (p.to - p.from) / (2.0 * len);
                let b = p.from;
                let disc = (b * b + 4.0 * a * local).max(0.0);
                (-b + disc.sqrt()) / (2.0 * a)
            };
            self.next += 1;
            let tau = tau.clamp(0.0, len);
            return Some((p.start + Duration::from_secs_f64(tau), self.phase));
        }
    }
}

/// One kind of request, ready to send.
#[derive(Debug, Clone)]
pub struct Target {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Statuses that count as success; `None`: any status below 400.
    pub accept: Option<Vec<u16>>,
}

/// What the generator needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub plan: Plan,
    pub targets: Vec<Target>,
    /// Target index per slot of a weighted round robin.
    pub order: Vec<usize>,
    pub request_timeout: Duration,
    pub max_in_flight: usize,
    /// Closed loop with this many connections in the steady phases (the plan's levels are
    /// connection counts); `None`: open model at the plan's rates.
    pub connections: Option<usize>,
    /// TLS settings for https targets, with the directory their files are relative to.
    pub tls: crate::checks::tls::TlsOptions,
    pub base_dir: std::path::PathBuf,
}

/// Interleaves targets by weight (smooth weighted round robin): weights 3,1 give 0,0,1,0.
pub fn weighted_order(weights: &[u32]) -> Vec<usize> {
    let total: i64 = weights.iter().map(|&w| i64::from(w)).sum();
    let mut current = vec![0i64; weights.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            current[i] += i64::from(*w);
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        out.push(best);
    }
    out
}

/// Figures of one phase.
#[derive(Debug, Clone)]
pub struct PhaseStats {
    pub planned: u64,
    pub sent: u64,
    pub ok: u64,
    pub dropped: u64,
    /// Failed requests by kind (`timeout`, `connect`, `http 503`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Latencies in microseconds, from the scheduled send time, of answered requests.
    pub latency: Histogram<u64>,
    /// A uniform sample of latencies in milliseconds (for rank tests).
    pub sample: Vec<f64>,
    seen: u64,
}

impl PhaseStats {
    fn new() -> Self {
        PhaseStats {
            planned: 0,
            sent: 0,
            ok: 0,
            dropped: 0,
            errors: BTreeMap::new(),
            latency: new_histogram(3),
            sample: Vec::new(),
            seen: 0,
        }
    }
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }
}

fn new_histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, sigfig)
        .unwrap_or_else(|_| unreachable!("valid bounds"))
}

/// Figures of one second of the run (by completion time), for the chart.
#[derive(Debug, Clone, Default)]
pub struct Second {
    pub t: u64,
    pub done: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// What a run of the generator saw.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub phases: Vec<PhaseStats>,
    pub seconds: Vec<Second>,
    /// When the last request was scheduled, actually sent, and finished (offsets from start).
    pub last_scheduled: Duration,
    pub dispatched: Duration,
    pub drained: Duration,
    /// How late the generator handed each request to a connection, in microseconds (open
    /// model): a generator starved of CPU falls behind its schedule.
    pub lateness: Histogram<u64>,
    /// Closed loop: answered requests per second over the steady phases.
    pub steady_rate: Option<f64>,
}

impl LoadResult {
    /// A result with no request in it, shaped like `plan`.
    pub fn empty(plan: &Plan) -> LoadResult {
        workers::empty_result(plan)
    }

    pub fn total(&self) -> PhaseStats {
        let mut all = PhaseStats::new();
        for p in &self.phases {
            all.planned += p.planned;
            all.sent += p.sent;
            all.ok += p.ok;
            all.dropped += p.dropped;
            for (k, v) in &p.errors {
                *all.errors.entry(k.clone()).or_default() += v;
            }
            let _ = all.latency.add(&p.latency);
        }
        all
    }
}

/// Gathers the figures as requests finish.
struct Collector {
    phases: Vec<PhaseStats>,
    open_seconds: BTreeMap<u64, (u64, u64, Histogram<u64>)>,
    seconds: Vec<Second>,
    keep_open: u64,
    rng: u64,
}

impl Collector {
    fn record(
        &mut self,
        phase: usize,
        second: u64,
        latency: Duration,
        outcome: Result<(), String>,
    ) {
        let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        let rnd = self.next_random();
        let Some(p) = self.phases.get_mut(phase) else {
            return;
        };
        let failed = outcome.is_err();
        match outcome {
            Ok(()) => p.ok += 1,
            Err(kind) => *p.errors.entry(kind).or_default() += 1,
        }
        if !failed {
            p.latency.saturating_record(us);
            // Algorithm R: each answered request has the same chance to be in the sample.
            p.seen += 1;
            let ms = us as f64 / 1000.0;
            if p.sample.len() < RESERVOIR {
                p.sample.push(ms);
            } else {
                let j = rnd % p.seen;
                if (j as usize) < RESERVOIR {
                    p.sample[j as usize] = ms;
                }
            }
        }
        let entry = self
            .open_seconds
            .entry(second)
            .or_insert_with(|| (0, 0, new_histogram(2)));
        entry.0 += 1;
        if failed {
            entry.1 += 1;
        } else {
            entry.2.saturating_record(us);
        }
        // Seconds that can get no more completions are summarised, keeping memory flat.
        while let Some((&first, _)) = self.open_seconds.first_key_value() {
            if first + self.keep_open >= second {
                break;
            }
            self.close_first();
        }
    }

    fn close_first(&mut self) {
        if let Some((t, (done, errors, h))) = self.open_seconds.pop_first() {
            let q = |q: f64| {
                if h.is_empty() {
                    0.0
                } else {
                    h.value_at_quantile(q) as f64 / 1000.0
                }
            };
            self.seconds.push(Second {
                t,
                done,
                errors,
                p50_ms: q(0.5),
                p99_ms: q(0.99),
            });
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: plenty for reservoir sampling.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Collector {
    fn new(plan: &Plan, request_timeout: Duration) -> Collector {
        let mut phases: Vec<PhaseStats> = plan.phases.iter().map(|_| PhaseStats::new()).collect();
        for (p, stats) in plan.phases.iter().zip(phases.iter_mut()) {
            stats.planned = p.planned().round() as u64;
        }
        Collector {
            phases,
            open_seconds: BTreeMap::new(),
            seconds: Vec::new(),
            keep_open: request_timeout.as_secs() + 2,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// The figures, once every request has finished.
    fn finish(mut self, sent: &[u64], dropped: &[u64]) -> (Vec<PhaseStats>, Vec<Second>) {
        while !self.open_seconds.is_empty() {
            self.close_first();
        }
        for (i, p) in self.phases.iter_mut().enumerate() {
            p.sent = sent[i];
            p.dropped = dropped[i];
            let unfinished = p.sent.saturating_sub(p.ok + p.failed());
            if unfinished > 0 {
                *p.errors.entry("timeout".into()).or_default() += unfinished;
            }
        }
        (self.phases, self.seconds)
    }
}

/// Builds the HTTP client for what the generator does not drive itself (https targets):
/// keep-alive, no proxy (load must go where the checklist says), no redirects (a redirect could
/// point anywhere).
pub fn client(
    connect_timeout: Duration,
    tls: &crate::checks::tls::TlsOptions,
    base_dir: &std::path::Path,
) -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .user_agent(USER_AGENT);
    tls.apply(builder, base_dir)?.build().map_err(|e| {
        format!(
            "cannot build an HTTP client: {}",
            crate::checks::tls::describe(&e)
        )
    })
}

/// Whether an https target's certificate is accepted with these TLS settings: one `HEAD`
/// request; only a certificate problem is an error (anything else is the load's to judge).
pub async fn certificate_accepted(
    url: &reqwest::Url,
    tls: &crate::checks::tls::TlsOptions,
    base_dir: &std::path::Path,
    timeout: Duration,
) -> Result<(), String> {
    let client = client(timeout, tls, base_dir)?;
    match client.head(url.clone()).timeout(timeout).send().await {
        Err(e) if e.is_connect() => {
            let cause = crate::checks::tls::describe(&e);
            if cause.contains("certificate") {
                Err(format!("cannot load `{url}`: {cause}"))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

const USER_AGENT: &str = concat!("preflight-soak/", env!("CARGO_PKG_VERSION"));

/// Runs the plan from `start` (an instant shared with the watcher) on a thread of its own and
/// returns the figures once every request has finished or timed out. Every connection is
/// closed when it returns, so the cooldown samples an app with no client. Stops early when
/// `cancel` fires (the item's timeout, Ctrl-C).
pub async fn run(cfg: &LoadConfig, start: Instant, cancel: CancellationToken) -> LoadResult {
    let cfg = cfg.clone();
    let plan = cfg.plan.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // Dropping the item's future (timeout, Ctrl-C) stops the generator thread too.
    let cancel = cancel.child_token();
    let guard = cancel.clone().drop_guard();
    let spawned = std::thread::Builder::new()
        .name("soak-generator".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let result = match rt {
                Ok(rt) => {
                    let local = tokio::task::LocalSet::new();
                    let r = rt.block_on(local.run_until(workers::generate(cfg, start, cancel)));
                    // Dropping the tasks closes every connection before the cooldown starts.
                    drop(local);
                    drop(rt);
                    r
                }
                Err(e) => Err(format!("cannot start the generator's runtime: {e}")),
            };
            let _ = tx.send(result);
        });
    let result = match spawned {
        Ok(_) => rx
            .await
            .unwrap_or_else(|_| Err("the generator thread panicked".into())),
        Err(e) => Err(format!("cannot start the generator thread: {e}")),
    };
    guard.disarm();
    result.unwrap_or_else(|e| {
        // The reason shows as the only error of the run, so the verdict names it.
        let mut r = workers::empty_result(&plan);
        if let Some(p) = r.phases.first_mut() {
            p.sent = 1;
            p.errors.insert(e, 1);
        }
        r
    })
}

/// Closed loop for benchmarks: `connections` back to back on one target for `duration`.
/// Returns (requests answered, errors).
pub async fn closed_loop(target: Target, connections: usize, duration: Duration) -> (u64, u64) {
    let n = connections as f64;
    let cfg = LoadConfig {
        plan: Plan::new(&[("steady", duration, n, n)]),
        targets: vec![target],
        order: vec![0],
        request_timeout: Duration::from_secs(5),
        max_in_flight: connections,
        connections: Some(connections),
        tls: Default::default(),
        base_dir: std::path::PathBuf::new(),
    };
    let r = run(&cfg, Instant::now(), CancellationToken::new()).await;
    let t = r.total();
    (t.ok, t.failed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn constant_rate_schedule_is_evenly_spaced() {
        let plan = Plan::new(&[
            ("idle", secs(1.0), 0.0, 0.0),
            ("steady", secs(1.0), 10.0, 10.0),
        ]);
        let sends: Vec<_> = plan.schedule().collect();
        assert_eq!(sends.len(), 10);
        assert_eq!(sends[0], (secs(1.0), 1));
        assert!((sends[3].0.as_secs_f64() - 1.3).abs() < 1e-9);
    }

    #[test]
    fn ramp_schedule_integrates_the_rate() {
        // 0 -> 100 req/s over 2 s = 100 requests, denser at the end.
        let plan = Plan::new(&[
            ("ramp", secs(2.0), 0.0, 100.0),
            ("spike", secs(1.0), 400.0, 400.0),
        ]);
        let sends: Vec<_> = plan.schedule().collect();
        let in_ramp = sends.iter().filter(|s| s.1 == 0).count();
        assert!((99..=101).contains(&in_ramp), "{in_ramp}");
        assert_eq!(sends.iter().filter(|s| s.1 == 1).count(), 400);
        let first_half = sends.iter().filter(|s| s.0 < secs(1.0)).count();
        assert!((24..=26).contains(&first_half), "{first_half}");
        assert!(sends.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn weights_interleave() {
        assert_eq!(weighted_order(&[3, 1]), vec![0, 0, 1, 0]);
        assert_eq!(weighted_order(&[1]), vec![0]);
        let o = weighted_order(&[2, 2, 1]);
        assert_eq!(o.iter().filter(|&&i| i == 2).count(), 1);
    }
}
