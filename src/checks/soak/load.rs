//! The load generator: an open model at a planned arrival rate.
//!
//! Requests are scheduled at the plan's rate whether or not earlier ones returned, and each
//! latency is measured from the request's *scheduled* send time (wrk2's fix for coordinated
//! omission): a server that stalls makes every request scheduled during the stall slow, it
//! cannot hide by slowing the generator down. A cap on requests in flight bounds memory; a
//! request that would exceed it is counted as dropped, never queued.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio::time::Instant;

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
}

impl LoadResult {
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

/// Builds the HTTP client the generator uses: keep-alive, no proxy (load must go where the
/// checklist says), no redirects (a redirect could point anywhere).
pub fn client(connect_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .user_agent(concat!("preflight-soak/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Runs the plan from `start` (an instant shared with the watcher) and returns the figures.
/// Returns once every request has finished or timed out; the client is dropped at the end,
/// so its keep-alive connections close before the cooldown samples.
pub async fn run(cfg: &LoadConfig, client: reqwest::Client, start: Instant) -> LoadResult {
    let mut phases: Vec<PhaseStats> = cfg.plan.phases.iter().map(|_| PhaseStats::new()).collect();
    let collector = Arc::new(Mutex::new(Collector {
        phases: Vec::new(),
        open_seconds: BTreeMap::new(),
        seconds: Vec::new(),
        keep_open: cfg.request_timeout.as_secs() + 2,
        rng: 0x9E37_79B9_7F4A_7C15,
    }));
    for (i, p) in cfg.plan.phases.iter().enumerate() {
        phases[i].planned = p.planned().round() as u64;
    }
    collector.lock().unwrap_or_else(|e| e.into_inner()).phases = phases;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    let mut last_scheduled = Duration::ZERO;
    let mut dropped_by_phase = vec![0u64; cfg.plan.phases.len()];
    let mut sent_by_phase = vec![0u64; cfg.plan.phases.len()];
    for (n, (offset, phase)) in cfg.plan.schedule().enumerate() {
        let at = start + offset;
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
        // Reap finished tasks so the set does not grow with the run.
        while tasks.try_join_next().is_some() {}
        last_scheduled = offset;
        if in_flight.load(Ordering::Relaxed) >= cfg.max_in_flight {
            dropped_by_phase[phase] += 1;
            continue;
        }
        sent_by_phase[phase] += 1;
        let target = &cfg.targets[cfg.order[n % cfg.order.len()]];
        let mut req = client.request(target.method.clone(), target.url.clone());
        for (k, v) in &target.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(b) = &target.body {
            req = req.body(b.clone());
        }
        let accept = target.accept.clone();
        let timeout = cfg.request_timeout;
        let collector = collector.clone();
        let in_flight = in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(async move {
            let outcome =
                match tokio::time::timeout_at(at + timeout, send(req, accept.as_deref())).await {
                    Ok(r) => r,
                    Err(_) => Err("timeout".to_string()),
                };
            let now = Instant::now();
            let second = now.saturating_duration_since(start).as_secs();
            collector.lock().unwrap_or_else(|e| e.into_inner()).record(
                phase,
                second,
                now - at,
                outcome,
            );
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    let dispatched = Instant::now().saturating_duration_since(start);
    // Every request ends by its own timeout; the margin covers a stalled runtime.
    let drain_deadline = Instant::now() + cfg.request_timeout + Duration::from_secs(2);
    while !tasks.is_empty() {
        match tokio::time::timeout_at(drain_deadline, tasks.join_next()).await {
            Ok(_) => {}
            Err(_) => {
                tasks.abort_all();
                break;
            }
        }
    }
    drop(client);
    let drained = Instant::now().saturating_duration_since(start);
    let mut c = collector.lock().unwrap_or_else(|e| e.into_inner());
    while !c.open_seconds.is_empty() {
        c.close_first();
    }
    let mut phases = std::mem::take(&mut c.phases);
    for (i, p) in phases.iter_mut().enumerate() {
        p.sent = sent_by_phase[i];
        p.dropped = dropped_by_phase[i];
        let unfinished = p.sent.saturating_sub(p.ok + p.failed());
        if unfinished > 0 {
            *p.errors.entry("timeout".into()).or_default() += unfinished;
        }
    }
    LoadResult {
        phases,
        seconds: std::mem::take(&mut c.seconds),
        last_scheduled,
        dispatched,
        drained,
    }
}

/// Sends one request and reads the whole body; `Err(kind)` names what went wrong.
async fn send(req: reqwest::RequestBuilder, accept: Option<&[u16]>) -> Result<(), String> {
    let resp = req.send().await.map_err(|e| classify(&e))?;
    let status = resp.status();
    let mut resp = resp;
    while let Some(_chunk) = resp.chunk().await.map_err(|e| classify(&e))? {}
    let ok = match accept {
        Some(list) => list.contains(&status.as_u16()),
        None => status.as_u16() < 400,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("http {}", status.as_u16()))
    }
}

fn classify(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else if e.is_body() || e.is_decode() {
        "body".into()
    } else {
        "connection".into()
    }
}

/// Closed loop: `connections` workers each send the next request as soon as the previous one
/// returned, for `duration`. Returns (requests answered, errors). For benchmarks only.
pub async fn closed_loop(
    client: reqwest::Client,
    target: Target,
    connections: usize,
    duration: Duration,
) -> (u64, u64) {
    let end = Instant::now() + duration;
    let mut set = JoinSet::new();
    for _ in 0..connections {
        let client = client.clone();
        let target = target.clone();
        set.spawn(async move {
            let (mut ok, mut err) = (0u64, 0u64);
            while Instant::now() < end {
                let req = client.request(target.method.clone(), target.url.clone());
                match tokio::time::timeout(
                    Duration::from_secs(5),
                    send(req, target.accept.as_deref()),
                )
                .await
                {
                    Ok(Ok(())) => ok += 1,
                    _ => err += 1,
                }
            }
            (ok, err)
        });
    }
    let (mut ok, mut err) = (0, 0);
    while let Some(r) = set.join_next().await {
        if let Ok((o, e)) = r {
            ok += o;
            err += e;
        }
    }
    (ok, err)
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
