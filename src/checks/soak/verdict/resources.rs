//! Countable resources, the process itself, waiters and the accept queue.
//!
//! Leaks grow with requests served; caches and pools grow with concurrency. So most countable
//! things (open fds, sockets in CLOSE_WAIT, connections to a backend, idle pool sizes) are
//! judged by their trend within the steady phases and by the level after steady B against the
//! level after steady A, at equal concurrency, after a warm-up that has already seen the spike's
//! concurrency: idle pooled connections and keep-alive sockets plateau and pass. Only what by
//! its meaning must go back to zero when no request is in flight (pool checked-out / in-use
//! gauges, the generator's own connections to the app) is judged by its return to the idle
//! baseline after the cooldown.

use serde_json::json;

use super::{ALPHA, Findings, Inputs, Verdict, fmt_n};
use crate::checks::soak::stats;
use crate::checks::soak::watch::Sample;
use crate::checks::soak::{KNOWN_POOL_GAUGES, KNOWN_WAITER_GAUGES, must_return_to_zero};

type Getter = Box<dyn Fn(&Sample) -> Option<f64>>;

/// How a countable resource is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Must be back at its idle baseline after the cooldown.
    Returns,
    /// Must not grow with requests within the steady phases (plateaus pass).
    Plateau,
    /// Reported only (thread pools keep idle threads for a while).
    Report,
}

struct Countable {
    name: String,
    key: String,
    get: Getter,
    rule: Rule,
    /// Configured by the checklist: missing data is an error.
    required: bool,
    /// Said after the figures (what is left out of the count).
    note: String,
}

pub(super) fn judge(inp: &Inputs<'_>, f: &mut Findings) {
    process(inp, f);
    let mut resources = Vec::new();
    for c in countables(inp) {
        if let Some(r) = match c.rule {
            Rule::Returns => returns(inp, f, &c),
            Rule::Plateau | Rule::Report => plateau(inp, f, &c),
        } {
            resources.push(r);
        }
    }
    f.data.insert("resources".into(), json!(resources));
    waiters(inp, f);
    accept_queue(inp, f);
}

/// The process: alive, not restarted; its data readable.
fn process(inp: &Inputs<'_>, f: &mut Findings) {
    if let Some(pid) = inp.watch.pid {
        if inp.samples.iter().any(|s| s.alive == Some(false)) {
            f.verdicts.push(Verdict::failed(
                "process",
                format!("process {pid} exited during the soak"),
            ));
        } else if !inp.samples.iter().any(|s| s.rss_bytes.is_some()) {
            let why = inp
                .samples
                .iter()
                .find_map(|s| s.proc_error.clone())
                .unwrap_or_else(|| "no samples".into());
            f.errored.push(format!("cannot read process {pid}: {why}"));
        }
        let procs = inp
            .samples
            .iter()
            .filter_map(|s| s.processes)
            .fold(0.0, f64::max);
        if procs > 1.0 {
            f.prop("processes", fmt_n(procs));
        }
    }
    if let Some(url) = &inp.watch.metrics {
        let read = inp
            .samples
            .iter()
            .filter(|s| s.metrics_error.is_none())
            .count();
        if read == 0 {
            let why = inp
                .samples
                .iter()
                .find_map(|s| s.metrics_error.clone())
                .unwrap_or_else(|| "no samples".into());
            f.errored
                .push(format!("cannot read metrics from {url}: {why}"));
        } else if read < inp.samples.len() {
            f.warnings.push(format!(
                "{} of {} metrics scrapes failed",
                inp.samples.len() - read,
                inp.samples.len()
            ));
        }
        let starts: Vec<f64> = inp
            .samples
            .iter()
            .filter_map(|s| s.metrics.get("process_start_time_seconds").copied())
            .collect();
        if let (Some(first), Some(changed)) = (
            starts.first(),
            starts.iter().find(|v| (*v - starts[0]).abs() > 0.5),
        ) {
            f.verdicts.push(Verdict::failed(
                "process",
                format!(
                    "the app restarted: process_start_time_seconds went from {first} to {changed}"
                ),
            ));
        }
    }
}

fn countables(inp: &Inputs<'_>) -> Vec<Countable> {
    let mut out: Vec<Countable> = Vec::new();
    let tree = |what: &str| match inp.watch.pid {
        Some(pid) => format!("{what} (process {pid} and its children)"),
        None => what.to_string(),
    };
    if inp.watch.pid.is_some() {
        out.push(Countable {
            name: "open fds".into(),
            key: "fds".into(),
            get: Box::new(own_fds),
            rule: Rule::Plateau,
            required: false,
            note: load_connections(inp),
        });
        out.push(Countable {
            name: tree("sockets in CLOSE_WAIT"),
            key: "close_wait".into(),
            get: Box::new(|s| s.sockets.map(|t| t.close_wait as f64)),
            rule: Rule::Plateau,
            required: false,
            note: String::new(),
        });
        out.push(Countable {
            name: "threads".into(),
            key: "threads".into(),
            get: Box::new(|s| s.threads),
            rule: Rule::Report,
            required: false,
            note: String::new(),
        });
    } else if inp.watch.metrics.is_some() {
        out.push(Countable {
            name: "open fds (process_open_fds)".into(),
            key: "fds".into(),
            get: Box::new(own_fds),
            rule: Rule::Plateau,
            required: false,
            note: load_connections(inp),
        });
    }
    if let Some(port) = inp.watch.tcp_port {
        // The generator closes its connections before the cooldown: the app must close its ends.
        out.push(Countable {
            name: format!("connections ESTABLISHED on :{port}"),
            key: "tcp_established".into(),
            get: Box::new(|s| s.tcp.map(|t| t.established as f64)),
            rule: Rule::Returns,
            required: false,
            note: String::new(),
        });
        out.push(Countable {
            name: format!("connections CLOSE_WAIT on :{port}"),
            key: "tcp_close_wait".into(),
            get: Box::new(|s| s.tcp.map(|t| t.close_wait as f64)),
            rule: Rule::Returns,
            required: false,
            note: String::new(),
        });
    }
    if let Some(port) = inp.watch.backend_port {
        let required = inp.watch.pid.is_some();
        out.push(Countable {
            name: tree(&format!("backend connections to :{port}")),
            key: "backend".into(),
            get: Box::new(|s| s.sockets.map(|t| t.backend as f64)),
            rule: Rule::Plateau,
            required,
            note: String::new(),
        });
    }
    let user_gauges: Vec<String> = inp
        .item
        .watch
        .as_ref()
        .map(|w| w.gauges.iter().map(|g| g.get_ref().clone()).collect())
        .unwrap_or_default();
    for g in KNOWN_POOL_GAUGES
        .iter()
        .map(|s| s.to_string())
        .chain(user_gauges.iter().cloned())
    {
        let required = user_gauges.contains(&g);
        let present = inp.samples.iter().any(|s| s.metrics.contains_key(&g));
        if !(present || required) || out.iter().any(|c| c.key == format!("gauge.{g}")) {
            continue;
        }
        let in_use = must_return_to_zero(&g);
        let key = g.clone();
        out.push(Countable {
            name: if in_use {
                format!("pool in use `{g}`")
            } else {
                format!("gauge `{g}`")
            },
            key: format!("gauge.{g}"),
            get: Box::new(move |s| s.metrics.get(&key).copied()),
            rule: if in_use { Rule::Returns } else { Rule::Plateau },
            required,
            note: String::new(),
        });
    }
    out
}

/// What the fds count leaves out, with the peak it reached.
fn load_connections(inp: &Inputs<'_>) -> String {
    let Some(port) = inp.watch.tcp_port else {
        return String::new();
    };
    let peak = inp
        .samples
        .iter()
        .filter_map(|s| match (s.fds, s.sockets, s.tcp) {
            (Some(_), Some(own), _) => Some(own.inbound as f64),
            (None, _, Some(t)) => Some((t.established + t.close_wait) as f64),
            _ => None,
        })
        .fold(0.0, f64::max);
    format!(
        "; not counting the load's connections on :{port} (peak {})",
        fmt_n(peak)
    )
}

/// Open fds without the connections accepted on the app's port: those are the load's own,
/// sized by its concurrency (a stall makes the generator open more), and judged by their return
/// after the cooldown. From the process's own sockets when it is watched, else from the
/// server side of the port's connections in the socket table.
pub(super) fn own_fds(s: &Sample) -> Option<f64> {
    match s.fds {
        Some(fds) => Some(fds - s.sockets.map(|t| t.inbound as f64).unwrap_or(0.0)),
        None => {
            let fds = s.metrics.get("process_open_fds").copied()?;
            Some(
                fds - s
                    .tcp
                    .map(|t| (t.established + t.close_wait) as f64)
                    .unwrap_or(0.0),
            )
        }
    }
}

/// A resource is judged (its gap errors the item) when the checklist names it or it is the
/// watched process's fds.
fn judged(inp: &Inputs<'_>, c: &Countable) -> bool {
    c.required || inp.watch.pid.is_some() && c.key == "fds"
}

/// Back to the idle baseline after the cooldown: the level in the last third of the cooldown
/// against the idle level (the median of the idle samples, or the lowest level seen if lower),
/// with a floor of 1 for gauges (a single connection
/// still checked out with nothing in flight is a leak) and 2 for connections.
fn returns(inp: &Inputs<'_>, f: &mut Findings, c: &Countable) -> Option<serde_json::Value> {
    let base = inp.values_in(inp.idx("baseline"), &c.get);
    let cool = inp.values_in(inp.last_phase(), &c.get);
    if base.is_empty() || cool.is_empty() {
        let got = [("baseline", base.len()), ("cooldown", cool.len())];
        inp.not_enough_samples(f, &c.name, &got, 1, judged(inp, c));
        return None;
    }
    let all: Vec<f64> = inp.samples.iter().filter_map(|s| (c.get)(s)).collect();
    // The idle level: a leak that fills up during the warm-up must not become the baseline, so
    // the lowest level seen before the cooldown (a cold app starts with nothing in use).
    let before_cooldown = inp
        .samples
        .iter()
        .filter(|s| inp.phase(s).is_some_and(|p| p < inp.last_phase()))
        .filter_map(|s| (c.get)(s))
        .fold(f64::INFINITY, f64::min);
    let baseline = stats::median(&base).unwrap_or(0.0).min(before_cooldown);
    let noise = stats::robust_sigma(&base).unwrap_or(0.0);
    let peak = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = &cool[cool.len() - (cool.len() / 3).max(1)..];
    let end = stats::median(tail).unwrap_or(0.0);
    let residual = end - baseline;
    let floor: f64 = if c.key.starts_with("gauge.") {
        1.0
    } else {
        2.0
    };
    let limit = floor.max(3.0 * noise);
    f.prop(format!("{}.baseline", c.key), fmt_n(baseline));
    f.prop(format!("{}.peak", c.key), fmt_n(peak));
    f.prop(format!("{}.residual", c.key), fmt_n(residual));
    let text = format!(
        "baseline {}, peak {}, after cooldown {} (residual {:+}, limit {})",
        fmt_n(baseline),
        fmt_n(peak),
        fmt_n(end),
        fmt_n(residual),
        fmt_n(limit)
    );
    if residual >= limit {
        f.failing.push(c.key.clone());
        f.verdicts.push(Verdict::failed(
            c.name.clone(),
            format!("did not return to baseline: {text}"),
        ));
    } else {
        f.verdicts.push(Verdict::passed(c.name.clone(), text));
    }
    Some(
        json!({"name": c.name, "key": c.key, "rule": "returns", "baseline": baseline, "noise": noise,
                "peak": peak, "end": end, "residual": residual, "limit": limit}),
    )
}

/// Grows with requests served? The trend within steady A and steady B (blocked, so the step
/// across the spike is not a trend) and the level after steady B against the level after
/// steady A. Fails only when both say so: a significant upward trend and a step of at least
/// max(2, 3 × the noise around the trend).
fn plateau(inp: &Inputs<'_>, f: &mut Findings, c: &Countable) -> Option<serde_json::Value> {
    let a = inp.points_in(inp.idx("steady A"), &c.get);
    let b = inp.points_in(inp.idx("steady B"), &c.get);
    if a.len() < 3 || b.len() < 3 {
        let got = [("steady A", a.len()), ("steady B", b.len())];
        inp.not_enough_samples(f, &c.name, &got, 3, judged(inp, c));
        return None;
    }
    let level = |pts: &[(f64, f64)]| {
        let vals: Vec<f64> = pts[pts.len() / 2..].iter().map(|p| p.1).collect();
        stats::median(&vals).unwrap_or(0.0)
    };
    let (level_a, level_b) = (level(&a), level(&b));
    let step = level_b - level_a;
    let split = |pts: &[(f64, f64)]| -> (Vec<f64>, Vec<f64>) { pts.iter().copied().unzip() };
    let ((xa, ya), (xb, yb)) = (split(&a), split(&b));
    let ts = stats::theil_sen_blocked(&[(&xa, &ya), (&xb, &yb)], 1.96)?;
    let mk = stats::mann_kendall_blocked(&[&ya, &yb])?;
    // Noise: the spread around the trend line within each phase.
    let mut residuals = Vec::new();
    for (x, y) in [(&xa, &ya), (&xb, &yb)] {
        let off: Vec<f64> = x
            .iter()
            .zip(y.iter())
            .map(|(x, y)| y - ts.slope * x)
            .collect();
        let mid = stats::median(&off).unwrap_or(0.0);
        residuals.extend(off.iter().map(|o| o - mid));
    }
    let noise = stats::robust_sigma(&residuals).unwrap_or(0.0);
    let limit = 2f64.max(3.0 * noise);
    let rate = inp.steady_rate().max(1e-9);
    let per_k = |slope: f64| slope / rate * 1000.0;
    let grows = mk.p_increasing < ALPHA && ts.lower > 0.0;
    let peak = inp
        .samples
        .iter()
        .filter_map(|s| (c.get)(s))
        .fold(f64::NEG_INFINITY, f64::max);
    f.prop(format!("{}.steady_a", c.key), fmt_n(level_a));
    f.prop(format!("{}.steady_b", c.key), fmt_n(level_b));
    f.prop(format!("{}.peak", c.key), fmt_n(peak));
    let text = format!(
        "after steady A {}, after steady B {} (step {:+}, limit {}); trend {:+.2} per 1,000 requests [{:.2}, {:.2}], Mann–Kendall p={:.3}; peak {}",
        fmt_n(level_a),
        fmt_n(level_b),
        fmt_n(step),
        fmt_n(limit),
        per_k(ts.slope),
        per_k(ts.lower),
        per_k(ts.upper),
        mk.p_increasing,
        fmt_n(peak)
    ) + c.note.as_str();
    if grows && step >= limit {
        if c.rule == Rule::Report {
            f.warnings.push(format!(
                "{} grew with requests (reported, not judged: thread pools keep idle threads for a while): {text}",
                c.name
            ));
            f.verdicts.push(Verdict::passed(
                c.name.clone(),
                format!("{text} (reported, not judged)"),
            ));
        } else {
            f.failing.push(c.key.clone());
            f.verdicts.push(Verdict::failed(
                c.name.clone(),
                format!("grows with requests served: {text}"),
            ));
        }
    } else {
        let tag = if c.rule == Rule::Report {
            " (reported, not judged)"
        } else {
            ""
        };
        f.verdicts
            .push(Verdict::passed(c.name.clone(), format!("{text}{tag}")));
    }
    Some(
        json!({"name": c.name, "key": c.key, "rule": "plateau", "steady_a": level_a, "steady_b": level_b,
                "step": step, "limit": limit, "noise": noise, "peak": peak,
                "per_1000_requests": per_k(ts.slope), "per_1000_requests_ci95": [per_k(ts.lower), per_k(ts.upper)],
                "mann_kendall_p": mk.p_increasing}),
    )
}

fn waiters(inp: &Inputs<'_>, f: &mut Findings) {
    let user_waiters: Vec<String> = inp
        .item
        .watch
        .as_ref()
        .map(|w| w.waiters.iter().map(|g| g.get_ref().clone()).collect())
        .unwrap_or_default();
    for g in KNOWN_WAITER_GAUGES
        .iter()
        .map(|s| s.to_string())
        .chain(user_waiters.iter().cloned())
    {
        let vals: Vec<(f64, f64)> = inp
            .samples
            .iter()
            .filter_map(|s| s.metrics.get(&g).map(|v| (s.t, *v)))
            .collect();
        if vals.is_empty() {
            if user_waiters.contains(&g) {
                f.errored.push(format!(
                    "waiters gauge `{g}` was not found at {}",
                    inp.metrics_url()
                ));
            }
            continue;
        }
        let peak = vals.iter().map(|v| v.1).fold(0.0, f64::max);
        let end = vals.last().map(|v| v.1).unwrap_or(0.0);
        f.prop(format!("waiters.{g}.end"), fmt_n(end));
        if end > 0.0 {
            f.failing.push(format!("gauge.{g}"));
            f.verdicts.push(Verdict::failed(
                format!("waiters `{g}`"),
                format!(
                    "{} still waiting for a pooled connection after the cooldown (peak {})",
                    fmt_n(end),
                    fmt_n(peak)
                ),
            ));
        } else {
            f.verdicts.push(Verdict::passed(
                format!("waiters `{g}`"),
                format!("none waiting at the end (peak {})", fmt_n(peak)),
            ));
        }
    }
}

fn accept_queue(inp: &Inputs<'_>, f: &mut Findings) {
    let Some(port) = inp.watch.tcp_port else {
        return;
    };
    let queue: Vec<f64> = inp
        .samples
        .iter()
        .filter_map(|s| s.tcp.filter(|t| t.listening).map(|t| t.accept_queue as f64))
        .collect();
    if let Some(&end) = queue.last() {
        let peak = queue.iter().copied().fold(0.0, f64::max);
        f.prop("accept_queue.peak", fmt_n(peak));
        if end > 0.0 {
            f.verdicts.push(Verdict::failed("accept queue", format!("{} connections waiting in the accept queue of :{port} at the end (peak {}): the app accepts connections but does not serve them", fmt_n(end), fmt_n(peak))));
        } else {
            f.verdicts.push(Verdict::passed(
                "accept queue",
                format!("empty at the end (peak {})", fmt_n(peak)),
            ));
        }
    } else {
        f.warnings.push(format!(
            "no listening socket on :{port} was seen in /proc/net/tcp{{,6}}"
        ));
    }
}
