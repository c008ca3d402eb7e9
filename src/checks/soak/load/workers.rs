//! The generator's workers: long-lived connection tasks on one thread (a `LocalSet` on a
//! current-thread runtime), handed requests without a task, a channel message or a request
//! builder per send. Open model: a dispatcher follows the schedule and gives each request to an
//! idle worker (the most recently idle first, so its connection is warm), starting a new worker
//! only when every one is busy. Closed loop: each worker sends back to back while the plan's
//! connection count includes it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::http::{Conn, Deadlines, Prepared, send};
use super::{Collector, LoadConfig, LoadResult, Plan, client, new_histogram};

/// Longest a connection attempt may take (a request's own timeout may be shorter).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

struct Shared {
    cfg: LoadConfig,
    prepared: Vec<Prepared>,
    origins: usize,
    https: Option<reqwest::Client>,
    start: Instant,
    collector: RefCell<Collector>,
    /// Idle workers, the most recently idle last.
    idle: RefCell<Vec<Rc<Worker>>>,
    in_flight: Cell<usize>,
    /// Workers are leaving: an idle worker woken without a job exits.
    closing: Cell<bool>,
    /// Closed loop: requests sent per phase, and the next request's number.
    sent: RefCell<Vec<u64>>,
    next: Cell<u64>,
}

/// One request for a worker: its number (for the weighted mix), when it was due, its phase.
#[derive(Clone, Copy)]
struct Job {
    n: u64,
    at: Instant,
    phase: usize,
}

struct Worker {
    job: Cell<Option<Job>>,
    wake: Notify,
}

/// A result with no request in it, shaped like `plan`.
pub(super) fn empty_result(plan: &Plan) -> LoadResult {
    let (phases, seconds) = Collector::new(plan, Duration::ZERO)
        .finish(&vec![0; plan.phases.len()], &vec![0; plan.phases.len()]);
    LoadResult {
        phases,
        seconds,
        last_scheduled: Duration::ZERO,
        dispatched: Duration::ZERO,
        drained: Duration::ZERO,
        lateness: new_histogram(2),
        steady_rate: None,
    }
}

pub(super) async fn generate(
    cfg: LoadConfig,
    start: Instant,
    cancel: CancellationToken,
) -> Result<LoadResult, String> {
    let prepared = Prepared::all(&cfg.targets)?;
    let https = if prepared.iter().any(Prepared::needs_reqwest) {
        Some(client(
            CONNECT_TIMEOUT.min(cfg.request_timeout),
            &cfg.tls,
            &cfg.base_dir,
        )?)
    } else {
        None
    };
    let origins = prepared.iter().map(|p| p.origin + 1).max().unwrap_or(0);
    let phases = cfg.plan.phases.len();
    let shared = Rc::new(Shared {
        collector: RefCell::new(Collector::new(&cfg.plan, cfg.request_timeout)),
        cfg,
        prepared,
        origins,
        https,
        start,
        idle: RefCell::new(Vec::new()),
        in_flight: Cell::new(0),
        closing: Cell::new(false),
        sent: RefCell::new(vec![0; phases]),
        next: Cell::new(0),
    });
    let mut result = match shared.cfg.connections {
        None => open(&shared, &cancel).await,
        Some(_) => closed(&shared, &cancel).await,
    };
    // Idle workers leave and drop their connections; busy ones (past the drain deadline) are
    // dropped with the runtime.
    shared.closing.set(true);
    for w in shared.idle.borrow_mut().drain(..) {
        w.wake.notify_one();
    }
    tokio::task::yield_now().await;
    result.drained = Instant::now().saturating_duration_since(start);
    Ok(result)
}

/// Open model: follow the schedule, hand each request to a worker.
async fn open(sh: &Rc<Shared>, cancel: &CancellationToken) -> LoadResult {
    let plan = &sh.cfg.plan;
    let mut sent = vec![0u64; plan.phases.len()];
    let mut dropped = vec![0u64; plan.phases.len()];
    let mut lateness = new_histogram(2);
    let mut last_scheduled = Duration::ZERO;
    for (n, (offset, phase)) in plan.schedule().enumerate() {
        let at = sh.start + offset;
        if at > Instant::now() {
            // The timer wakes on millisecond ticks: every request due by then goes at once.
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = cancel.cancelled() => break,
            }
        }
        let late = Instant::now().saturating_duration_since(at);
        lateness.saturating_record((late.as_micros() as u64).max(1));
        last_scheduled = offset;
        if sh.in_flight.get() >= sh.cfg.max_in_flight {
            dropped[phase] += 1;
            continue;
        }
        sent[phase] += 1;
        sh.in_flight.set(sh.in_flight.get() + 1);
        let job = Job {
            n: n as u64,
            at,
            phase,
        };
        let idle = sh.idle.borrow_mut().pop();
        match idle {
            Some(w) => {
                w.job.set(Some(job));
                w.wake.notify_one();
            }
            None => {
                let w = Rc::new(Worker {
                    job: Cell::new(None),
                    wake: Notify::new(),
                });
                tokio::task::spawn_local(open_worker(sh.clone(), w, job));
            }
        }
    }
    let dispatched = Instant::now().saturating_duration_since(sh.start);
    drain(sh, cancel).await;
    let collector = std::mem::replace(
        &mut *sh.collector.borrow_mut(),
        Collector::new(&Plan { phases: Vec::new() }, Duration::ZERO),
    );
    let (phases, seconds) = collector.finish(&sent, &dropped);
    LoadResult {
        phases,
        seconds,
        last_scheduled,
        dispatched,
        drained: dispatched,
        lateness,
        steady_rate: None,
    }
}

/// Waits for the requests in flight: each ends by its own timeout, the margin covers a stall.
async fn drain(sh: &Rc<Shared>, cancel: &CancellationToken) {
    let deadline = Instant::now() + sh.cfg.request_timeout + Duration::from_secs(2);
    while sh.in_flight.get() > 0 && Instant::now() < deadline && !cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn open_worker(sh: Rc<Shared>, me: Rc<Worker>, mut job: Job) {
    let mut conns: Vec<Conn> = (0..sh.origins).map(|_| Conn::None).collect();
    let mut deadlines = Deadlines::new();
    loop {
        let outcome = one(&sh, &mut conns, &mut deadlines, job.n, job.at).await;
        let now = Instant::now();
        sh.collector.borrow_mut().record(
            job.phase,
            now.saturating_duration_since(sh.start).as_secs(),
            now - job.at,
            outcome,
        );
        sh.in_flight.set(sh.in_flight.get() - 1);
        if sh.closing.get() {
            return;
        }
        sh.idle.borrow_mut().push(me.clone());
        me.wake.notified().await;
        match me.job.take() {
            Some(j) => job = j,
            None => return,
        }
    }
}

/// Sends request number `n` of the mix, due at `at`, within the request timeout.
async fn one(
    sh: &Shared,
    conns: &mut [Conn],
    deadlines: &mut Deadlines,
    n: u64,
    at: Instant,
) -> Result<(), String> {
    let order = &sh.cfg.order;
    let p = &sh.prepared[order[(n % order.len() as u64) as usize]];
    let timeout = sh.cfg.request_timeout;
    let conn = &mut conns[p.origin];
    let exchange = send(conn, p, sh.https.as_ref(), CONNECT_TIMEOUT.min(timeout));
    match deadlines.run(at + timeout, exchange).await {
        Some(r) => r,
        None => {
            // The connection's state is unknown after an abandoned exchange.
            *conn = Conn::None;
            Err("timeout".into())
        }
    }
}

/// The number of connections the plan asks for at offset `t`, and the phase.
fn level_at(plan: &Plan, t: Duration) -> (usize, f64) {
    let i = plan.phase_at(t);
    let p = &plan.phases[i];
    let frac = if p.len.is_zero() {
        1.0
    } else {
        (t.saturating_sub(p.start).as_secs_f64() / p.len.as_secs_f64()).clamp(0.0, 1.0)
    };
    (i, (p.from + (p.to - p.from) * frac).round())
}

/// Closed loop: worker `i` sends back to back while the plan's level is above `i`.
async fn closed(sh: &Rc<Shared>, cancel: &CancellationToken) -> LoadResult {
    let plan = &sh.cfg.plan;
    let max = plan
        .phases
        .iter()
        .map(|p| p.from.max(p.to))
        .fold(0.0, f64::max)
        .ceil() as usize;
    // Load ends where the cooldown (the last, idle phase) starts; a one-phase plan loads to its end.
    let end = match plan.phases.last() {
        Some(last) if plan.phases.len() > 1 && last.to == 0.0 => last.start,
        _ => plan.total(),
    };
    let mut set = Vec::new();
    for i in 0..max {
        set.push(tokio::task::spawn_local(closed_worker(
            sh.clone(),
            i,
            end,
            cancel.clone(),
        )));
    }
    for h in set {
        let _ = h.await;
    }
    let dispatched = Instant::now().saturating_duration_since(sh.start);
    let sent = sh.sent.borrow().clone();
    let collector = std::mem::replace(
        &mut *sh.collector.borrow_mut(),
        Collector::new(&Plan { phases: Vec::new() }, Duration::ZERO),
    );
    let (mut phases, seconds) = collector.finish(&sent, &vec![0; sent.len()]);
    for p in &mut phases {
        p.planned = p.sent;
    }
    let steady: Vec<usize> = ["steady A", "steady B"]
        .iter()
        .filter_map(|n| plan.index_of(n))
        .collect();
    let secs: f64 = steady
        .iter()
        .map(|&i| plan.phases[i].len.as_secs_f64())
        .sum();
    let answered: u64 = steady.iter().map(|&i| phases[i].ok).sum();
    LoadResult {
        phases,
        seconds,
        last_scheduled: end,
        dispatched,
        drained: dispatched,
        lateness: new_histogram(2),
        steady_rate: (secs > 0.0).then(|| answered as f64 / secs),
    }
}

async fn closed_worker(sh: Rc<Shared>, i: usize, end: Duration, cancel: CancellationToken) {
    let mut conns: Vec<Conn> = (0..sh.origins).map(|_| Conn::None).collect();
    let mut deadlines = Deadlines::new();
    loop {
        let t = Instant::now().saturating_duration_since(sh.start);
        if t >= end || cancel.is_cancelled() {
            return;
        }
        let (phase, level) = level_at(&sh.cfg.plan, t);
        if i as f64 >= level {
            // Not needed now: check again shortly (levels change with the phases and ramps).
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let n = sh.next.get();
        sh.next.set(n + 1);
        sh.sent.borrow_mut()[phase] += 1;
        let at = Instant::now();
        let outcome = one(&sh, &mut conns, &mut deadlines, n, at).await;
        let now = Instant::now();
        sh.collector.borrow_mut().record(
            phase,
            now.saturating_duration_since(sh.start).as_secs(),
            now - at,
            outcome,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    #[test]
    fn closed_loop_levels_follow_the_plan() {
        let s = Duration::from_secs;
        let plan = Plan::new(&[("ramp", s(10), 0.0, 10.0), ("steady", s(10), 10.0, 10.0)]);
        assert_eq!(level_at(&plan, s(0)), (0, 0.0));
        assert_eq!(level_at(&plan, s(5)), (0, 5.0));
        assert_eq!(level_at(&plan, s(15)), (1, 10.0));
    }

    #[test]
    fn lateness_histograms_take_microseconds() {
        let mut h: Histogram<u64> = new_histogram(2);
        h.saturating_record(1500);
        assert!(h.value_at_quantile(0.99) >= 1490);
    }
}
