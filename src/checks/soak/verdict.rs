//! Judging a soak: one verdict per signal, figures for the reports, the chart.

use std::fmt::Write as _;

use serde_json::json;

use super::chart::{self, Panel, Series};
use super::load::{LoadConfig, LoadResult, Plan};
use super::stats;
use super::watch::{Sample, WatchConfig};
use super::{DEFAULT_MAX_ERROR_RATE, KNOWN_POOL_GAUGES, KNOWN_WAITER_GAUGES, SoakItem};
use crate::checks::{CheckContext, CheckOutput, Status};

const MIB: f64 = 1024.0 * 1024.0;
/// Significance for trend and shift tests (one-sided).
const ALPHA: f64 = 0.01;

/// One signal's verdict.
#[derive(Debug, Clone)]
struct Verdict {
    status: Status,
    signal: String,
    text: String,
}

impl Verdict {
    fn new(status: Status, signal: impl Into<String>, text: impl Into<String>) -> Self {
        Verdict {
            status,
            signal: signal.into(),
            text: text.into(),
        }
    }
}

/// Where each sample falls: a phase index, or `None` while the last requests drain.
fn phase_of(plan: &Plan, t: f64, cooldown_start: f64) -> Option<usize> {
    let last = plan.phases.len().saturating_sub(1);
    let load_end = plan
        .phases
        .last()
        .map(|p| p.start.as_secs_f64())
        .unwrap_or(0.0);
    if t >= cooldown_start {
        Some(last)
    } else if t >= load_end {
        None
    } else {
        Some(plan.phase_at(std::time::Duration::from_secs_f64(t)))
    }
}

type Getter = Box<dyn Fn(&Sample) -> Option<f64>>;

/// A countable resource that must return to its baseline.
struct Countable {
    name: String,
    key: String,
    get: Getter,
    /// Judged (fails) or only reported (warns).
    strict: bool,
    /// Configured by the checklist: missing data is an error.
    required: bool,
}

pub(super) struct Inputs<'a> {
    pub item: &'a SoakItem,
    pub plan: &'a Plan,
    pub load: &'a LoadConfig,
    pub watch: &'a WatchConfig,
    pub result: &'a LoadResult,
    pub samples: &'a [Sample],
    pub cooldown_start: f64,
}

pub(super) fn evaluate(cx: &CheckContext, inp: &Inputs<'_>) -> CheckOutput {
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut props: Vec<(String, String)> = Vec::new();
    let mut data = serde_json::Map::new();
    let plan = inp.plan;
    let phase = |s: &Sample| phase_of(plan, s.t, inp.cooldown_start);
    let last_phase = plan.phases.len() - 1;
    let idx = |name: &str| plan.index_of(name).unwrap_or(0);
    let (baseline_i, steady_a, steady_b) = (idx("baseline"), idx("steady A"), idx("steady B"));
    let rate = inp.item.rate();

    // ---- load: achieved rate and drops
    let total = inp.result.total();
    let load_phases = 1..last_phase;
    let window = plan.phases[load_phases.clone()]
        .iter()
        .map(|p| p.len.as_secs_f64())
        .sum::<f64>();
    // A generator that falls behind still sends every request, late: the rate it achieved is
    // what it sent over the time it actually took.
    let load_start = plan.phases[load_phases.start].start.as_secs_f64();
    let took = (inp.result.dispatched.as_secs_f64() - load_start)
        .max(window)
        .max(1e-9);
    let drop_share = if total.planned > 0 {
        total.dropped as f64 / total.planned as f64
    } else {
        0.0
    };
    let achieved_rate = total.sent as f64 / took;
    let planned_rate = total.planned as f64 / window.max(1e-9);
    let achieved_share = if planned_rate > 0.0 {
        achieved_rate / planned_rate
    } else {
        0.0
    };
    props.push(("rate_target".into(), format!("{rate}")));
    props.push(("rate_achieved".into(), format!("{achieved_rate:.1}")));
    props.push(("requests_sent".into(), total.sent.to_string()));
    props.push(("requests_dropped".into(), total.dropped.to_string()));
    let load_text = format!(
        "{} of {} planned requests sent, {achieved_rate:.1} of {planned_rate:.1} req/s over the load phases ({:.1}%), {} dropped at the in-flight cap of {}",
        total.sent,
        total.planned,
        achieved_share * 100.0,
        total.dropped,
        inp.load.max_in_flight
    );
    let load_ok = achieved_share >= 0.95 && drop_share <= 0.01;
    verdicts.push(Verdict::new(if load_ok { Status::Passed } else { Status::Failed }, "load", if load_ok {
        load_text
    } else if drop_share > 0.01 {
        format!("{:.1}% of requests dropped (over 1%): the app kept more than {} requests in flight; {load_text}", drop_share * 100.0, inp.load.max_in_flight)
    } else {
        format!("achieved rate under 95% of target: {load_text}")
    }));

    // ---- errors and timeouts
    let failed = total.failed();
    let error_rate = if total.sent > 0 {
        failed as f64 / total.sent as f64
    } else {
        0.0
    };
    let max_error_rate = inp
        .item
        .max_error_rate
        .as_ref()
        .map(|e| *e.get_ref())
        .unwrap_or(DEFAULT_MAX_ERROR_RATE);
    let timeouts = total.errors.get("timeout").copied().unwrap_or(0);
    let kinds = total
        .errors
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    props.push(("error_rate".into(), format!("{error_rate:.4}")));
    props.push(("timeouts".into(), timeouts.to_string()));
    for (k, v) in &total.errors {
        props.push((format!("errors.{}", k.replace(' ', "_")), v.to_string()));
    }
    let rt = humantime::format_duration(inp.load.request_timeout).to_string();
    if error_rate > max_error_rate {
        let text = if timeouts * 2 >= failed && timeouts > 0 {
            format!(
                "{timeouts} of {} requests timed out (no answer within {rt}); {:.1}% failed in all ({kinds}), over max_error_rate {max_error_rate}",
                total.sent,
                error_rate * 100.0
            )
        } else {
            format!(
                "{:.1}% of requests failed ({kinds}), over max_error_rate {max_error_rate}",
                error_rate * 100.0
            )
        };
        verdicts.push(Verdict::new(
            Status::Failed,
            if timeouts * 2 >= failed {
                "timeouts"
            } else {
                "errors"
            },
            text,
        ));
    } else {
        let text = if failed == 0 {
            "no failed requests".to_string()
        } else {
            format!("{failed} failed ({kinds}), within max_error_rate {max_error_rate}")
        };
        verdicts.push(Verdict::new(Status::Passed, "errors", text));
    }

    // ---- latency thresholds
    let h = &total.latency;
    let q = |p: f64| {
        if h.is_empty() {
            f64::NAN
        } else {
            h.value_at_quantile(p) as f64 / 1000.0
        }
    };
    let (p50, p95, p99, max) = (
        q(0.5),
        q(0.95),
        q(0.99),
        if h.is_empty() {
            f64::NAN
        } else {
            h.max() as f64 / 1000.0
        },
    );
    for (k, v) in [
        ("latency_p50_ms", p50),
        ("latency_p95_ms", p95),
        ("latency_p99_ms", p99),
        ("latency_max_ms", max),
    ] {
        props.push((k.into(), format!("{v:.2}")));
    }
    let figures = format!(
        "p50 {}, p95 {}, p99 {}, max {} (from scheduled send times)",
        ms(p50),
        ms(p95),
        ms(p99),
        ms(max)
    );
    let mut breaches = Vec::new();
    for (name, limit, value) in [
        ("max_p50", inp.item.max_p50, p50),
        ("max_p95", inp.item.max_p95, p95),
        ("max_p99", inp.item.max_p99, p99),
    ] {
        if let Some(limit) = limit {
            let limit_ms = limit.get().as_secs_f64() * 1000.0;
            if value.is_finite() && value > limit_ms {
                breaches.push(format!(
                    "{} {} over {name} {}",
                    &name[4..],
                    ms(value),
                    ms(limit_ms)
                ));
            }
        }
    }
    if h.is_empty() {
        verdicts.push(Verdict::new(
            Status::Failed,
            "latency",
            "no request was answered",
        ));
    } else if breaches.is_empty() {
        verdicts.push(Verdict::new(Status::Passed, "latency", figures));
    } else {
        verdicts.push(Verdict::new(
            Status::Failed,
            "latency",
            format!("{}; {figures}", breaches.join(", ")),
        ));
    }

    // ---- recovery: steady B vs steady A
    let (a, b) = (
        &inp.result.phases[steady_a].sample,
        &inp.result.phases[steady_b].sample,
    );
    match (
        stats::median(a),
        stats::median(b),
        stats::mann_whitney(a, b),
    ) {
        (Some(ma), Some(mb), Some(mw)) => {
            let floor = (0.2 * ma).max(5.0);
            let shift = mb - ma;
            props.push(("recovery_shift_ms".into(), format!("{shift:.2}")));
            let text = format!(
                "steady B median {} vs steady A {} (shift {:+.2} ms, floor {}, Mann–Whitney p={:.3})",
                ms(mb),
                ms(ma),
                shift,
                ms(floor),
                mw.p_b_greater
            );
            if mw.p_b_greater < ALPHA && shift > floor {
                verdicts.push(Verdict::new(
                    Status::Failed,
                    "recovery",
                    format!("did not recover after the spike: {text}"),
                ));
            } else {
                verdicts.push(Verdict::new(Status::Passed, "recovery", text));
            }
        }
        _ => verdicts.push(Verdict::new(
            Status::Failed,
            "recovery",
            "no answered requests in a steady phase to compare (see errors)",
        )),
    }
    data.insert(
        "latency_ms".into(),
        json!({"p50": finite(p50), "p95": finite(p95), "p99": finite(p99), "max": finite(max)}),
    );
    data.insert(
        "load".into(),
        json!({"rate_target": rate, "rate_achieved": achieved_rate, "planned": total.planned, "sent": total.sent,
               "ok": total.ok, "dropped": total.dropped, "errors": total.errors, "error_rate": error_rate}),
    );

    // ---- the process: alive, not restarted; data readable
    let mut errored: Vec<String> = Vec::new();
    if let Some(pid) = inp.watch.pid {
        if inp.samples.iter().any(|s| s.alive == Some(false)) {
            verdicts.push(Verdict::new(
                Status::Failed,
                "process",
                format!("process {pid} exited during the soak"),
            ));
        } else if !inp.samples.iter().any(|s| s.rss_bytes.is_some()) {
            let why = inp
                .samples
                .iter()
                .find_map(|s| s.proc_error.clone())
                .unwrap_or_else(|| "no samples".into());
            errored.push(format!("cannot read process {pid}: {why}"));
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
            errored.push(format!("cannot read metrics from {url}: {why}"));
        } else if read < inp.samples.len() {
            warnings.push(format!(
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
            verdicts.push(Verdict::new(
                Status::Failed,
                "process",
                format!(
                    "the app restarted: process_start_time_seconds went from {first} to {changed}"
                ),
            ));
        }
    }

    // ---- countable resources: back to baseline after the cooldown
    let mut countables: Vec<Countable> = Vec::new();
    if inp.watch.pid.is_some() {
        countables.push(Countable {
            name: "open fds".into(),
            key: "fds".into(),
            get: Box::new(|s| s.fds),
            strict: true,
            required: false,
        });
        countables.push(Countable {
            name: "threads".into(),
            key: "threads".into(),
            get: Box::new(|s| s.threads),
            strict: false,
            required: false,
        });
    } else if inp.watch.metrics.is_some() {
        countables.push(Countable {
            name: "open fds (process_open_fds)".into(),
            key: "fds".into(),
            get: Box::new(|s| s.metrics.get("process_open_fds").copied()),
            strict: true,
            required: false,
        });
    }
    if let Some(port) = inp.watch.tcp_port {
        countables.push(Countable {
            name: format!("connections ESTABLISHED on :{port}"),
            key: "tcp_established".into(),
            get: Box::new(|s| s.tcp.map(|t| t.established as f64)),
            strict: true,
            required: false,
        });
        countables.push(Countable {
            name: format!("connections CLOSE_WAIT on :{port}"),
            key: "tcp_close_wait".into(),
            get: Box::new(|s| s.tcp.map(|t| t.close_wait as f64)),
            strict: true,
            required: false,
        });
    }
    if let Some(port) = inp.watch.backend_port {
        countables.push(Countable {
            name: format!("backend connections to :{port}"),
            key: "tcp_backend".into(),
            get: Box::new(|s| s.tcp.map(|t| t.backend as f64)),
            strict: true,
            required: true,
        });
    }
    let user_gauges: Vec<String> = inp
        .item
        .watch
        .as_ref()
        .map(|w| w.gauges.iter().map(|g| g.get_ref().clone()).collect())
        .unwrap_or_default();
    let user_waiters: Vec<String> = inp
        .item
        .watch
        .as_ref()
        .map(|w| w.waiters.iter().map(|g| g.get_ref().clone()).collect())
        .unwrap_or_default();
    for g in KNOWN_POOL_GAUGES
        .iter()
        .map(|s| s.to_string())
        .chain(user_gauges.iter().cloned())
    {
        let required = user_gauges.contains(&g);
        let key = g.clone();
        let present = inp.samples.iter().any(|s| s.metrics.contains_key(&g));
        if present || required {
            countables.push(Countable {
                name: format!("pool in use `{g}`"),
                key: format!("gauge.{g}"),
                get: Box::new(move |s| s.metrics.get(&key).copied()),
                strict: true,
                required,
            });
        }
    }
    let mut resources = Vec::new();
    for c in &countables {
        let base: Vec<f64> = inp
            .samples
            .iter()
            .filter(|s| phase(s) == Some(baseline_i))
            .filter_map(|s| (c.get)(s))
            .collect();
        let cool: Vec<f64> = inp
            .samples
            .iter()
            .filter(|s| phase(s) == Some(last_phase))
            .filter_map(|s| (c.get)(s))
            .collect();
        let all: Vec<f64> = inp.samples.iter().filter_map(|s| (c.get)(s)).collect();
        if base.is_empty() || cool.is_empty() {
            let msg = format!(
                "{}: no samples in the {} (cannot judge)",
                c.name,
                if base.is_empty() {
                    "baseline"
                } else {
                    "cooldown"
                }
            );
            if c.required || inp.watch.pid.is_some() && c.key == "fds" {
                errored.push(msg);
            } else {
                warnings.push(msg);
            }
            continue;
        }
        let baseline = stats::median(&base).unwrap_or(0.0);
        let noise = stats::robust_sigma(&base).unwrap_or(0.0);
        let peak = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // The end level: the last third of the cooldown, so late stragglers have closed.
        let tail = &cool[cool.len() - (cool.len() / 3).max(1)..];
        let end = stats::median(tail).unwrap_or(0.0);
        let residual = end - baseline;
        let limit = 3f64.max(3.0 * noise).max(0.1 * (peak - baseline));
        props.push((format!("{}.baseline", c.key), fmt_n(baseline)));
        props.push((format!("{}.peak", c.key), fmt_n(peak)));
        props.push((format!("{}.residual", c.key), fmt_n(residual)));
        resources.push(json!({"name": c.name, "key": c.key, "baseline": baseline, "noise": noise, "peak": peak, "end": end, "residual": residual, "limit": limit}));
        let text = format!(
            "baseline {}, peak {}, after cooldown {} (residual {:+}, limit {})",
            fmt_n(baseline),
            fmt_n(peak),
            fmt_n(end),
            fmt_n(residual),
            fmt_n(limit)
        );
        if residual >= limit {
            if c.strict {
                verdicts.push(Verdict::new(
                    Status::Failed,
                    c.name.clone(),
                    format!("did not return to baseline: {text}"),
                ));
            } else {
                warnings.push(format!(
                    "{} did not return to baseline (pools keep idle threads for a while): {text}",
                    c.name
                ));
                verdicts.push(Verdict::new(
                    Status::Passed,
                    c.name.clone(),
                    format!("{text} (reported, not judged)"),
                ));
            }
        } else {
            verdicts.push(Verdict::new(Status::Passed, c.name.clone(), text));
        }
    }
    data.insert("resources".into(), json!(resources));

    // ---- waiters and the accept queue at the end
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
                errored.push(format!(
                    "waiters gauge `{g}` was not found at {}",
                    inp.watch
                        .metrics
                        .as_ref()
                        .map(|u| u.as_str())
                        .unwrap_or("?")
                ));
            }
            continue;
        }
        let peak = vals.iter().map(|v| v.1).fold(0.0, f64::max);
        let end = vals.last().map(|v| v.1).unwrap_or(0.0);
        props.push((format!("waiters.{g}.end"), fmt_n(end)));
        if end > 0.0 {
            verdicts.push(Verdict::new(
                Status::Failed,
                format!("waiters `{g}`"),
                format!(
                    "{} still waiting for a pooled connection after the cooldown (peak {})",
                    fmt_n(end),
                    fmt_n(peak)
                ),
            ));
        } else {
            verdicts.push(Verdict::new(
                Status::Passed,
                format!("waiters `{g}`"),
                format!("none waiting at the end (peak {})", fmt_n(peak)),
            ));
        }
    }
    if let Some(port) = inp.watch.tcp_port {
        let queue: Vec<f64> = inp
            .samples
            .iter()
            .filter_map(|s| s.tcp.filter(|t| t.listening).map(|t| t.accept_queue as f64))
            .collect();
        if let Some(&end) = queue.last() {
            let peak = queue.iter().copied().fold(0.0, f64::max);
            props.push(("accept_queue.peak".into(), fmt_n(peak)));
            if end > 0.0 {
                verdicts.push(Verdict::new(Status::Failed, "accept queue", format!("{} connections waiting in the accept queue of :{port} at the end (peak {}): the app accepts connections but does not serve them", fmt_n(end), fmt_n(peak))));
            } else {
                verdicts.push(Verdict::new(
                    Status::Passed,
                    "accept queue",
                    format!("empty at the end (peak {})", fmt_n(peak)),
                ));
            }
        } else {
            warnings.push(format!(
                "no listening socket on :{port} was seen in /proc/net/tcp{{,6}}"
            ));
        }
    }

    // ---- memory: trend over the steady phases
    let mem_get: Option<(&str, Getter)> = if inp.watch.pid.is_some() {
        Some(("RSS (VmRSS)", Box::new(|s: &Sample| s.rss_bytes)))
    } else if inp.watch.metrics.is_some() {
        Some((
            "RSS (process_resident_memory_bytes)",
            Box::new(|s: &Sample| s.metrics.get("process_resident_memory_bytes").copied()),
        ))
    } else {
        None
    };
    if let Some((mem_name, get)) = mem_get {
        let base: Vec<f64> = inp
            .samples
            .iter()
            .filter(|s| phase(s) == Some(baseline_i))
            .filter_map(&get)
            .collect();
        let baseline = stats::median(&base);
        let blocks: Vec<(Vec<f64>, Vec<f64>)> = [steady_a, steady_b]
            .iter()
            .map(|&p| {
                let pts: Vec<(f64, f64)> = inp
                    .samples
                    .iter()
                    .filter(|s| phase(s) == Some(p))
                    .filter_map(|s| get(s).map(|v| (s.t, v)))
                    .collect();
                let (mut xs, mut ys) = window_minima(&pts);
                // The first window after a rate change is settling (new threads, buffers
                // sized for the new concurrency); a leak shows in the windows after it too.
                if xs.len() >= 4 {
                    xs.remove(0);
                    ys.remove(0);
                }
                (xs, ys)
            })
            .collect();
        let refs: Vec<(&[f64], &[f64])> = blocks
            .iter()
            .map(|(x, y)| (x.as_slice(), y.as_slice()))
            .collect();
        let ys: Vec<&[f64]> = blocks.iter().map(|(_, y)| y.as_slice()).collect();
        let points: usize = blocks.iter().map(|b| b.0.len()).sum();
        match (baseline, stats::theil_sen_blocked(&refs, 1.96), stats::mann_kendall_blocked(&ys)) {
            (Some(baseline), Some(ts), Some(mk)) if points >= 6 => {
                let threshold = inp.item.max_memory_growth.map(|b| b.0).unwrap_or((0.1 * baseline).max(64.0 * MIB));
                let per_hour = ts.slope * 3600.0;
                let per_req = |v: f64| v / rate;
                let half_width = (ts.upper - ts.lower) / 2.0;
                let detectable = per_req((threshold / 3600.0).max(half_width.max(0.0)));
                let significant = mk.p_increasing < ALPHA && ts.lower > 0.0;
                props.push(("memory.baseline_bytes".into(), format!("{baseline:.0}")));
                props.push(("memory.slope_bytes_per_s".into(), format!("{:.1}", ts.slope)));
                props.push(("memory.slope_ci95".into(), format!("[{:.1}, {:.1}]", ts.lower, ts.upper)));
                props.push(("memory.bytes_per_request".into(), format!("{:.1}", per_req(ts.slope))));
                props.push(("memory.smallest_detectable_bytes_per_request".into(), format!("{detectable:.1}")));
                data.insert(
                    "memory".into(),
                    json!({"signal": mem_name, "baseline_bytes": baseline, "slope_bytes_per_s": ts.slope, "slope_ci95": [ts.lower, ts.upper],
                           "bytes_per_request": per_req(ts.slope), "bytes_per_request_ci95": [per_req(ts.lower), per_req(ts.upper)],
                           "projected_per_hour": per_hour, "threshold_per_hour": threshold, "mann_kendall_p": mk.p_increasing,
                           "smallest_detectable_bytes_per_request": detectable, "windows": points}),
                );
                let figures = format!(
                    "{} B/request [{}, {}] at {rate} req/s, projected {}/h (limit {}/h), Mann–Kendall p={:.3}; smallest leak this run could detect ≈ {} B/request",
                    fmt_n(per_req(ts.slope)),
                    fmt_n(per_req(ts.lower)),
                    fmt_n(per_req(ts.upper)),
                    bytes(per_hour),
                    bytes(threshold),
                    mk.p_increasing,
                    fmt_n(detectable)
                );
                if significant && per_hour > threshold {
                    verdicts.push(Verdict::new(Status::Failed, "memory", format!("{mem_name} grows steadily: {figures}")));
                } else if significant {
                    warnings.push(format!("memory: a small but significant upward trend of {mem_name}: {figures}"));
                    verdicts.push(Verdict::new(Status::Passed, "memory", format!("small trend below the limit: {figures}")));
                } else {
                    verdicts.push(Verdict::new(Status::Passed, "memory", format!("no significant trend: {figures}")));
                }
            }
            _ => errored.push(format!("{mem_name}: too few samples in the steady phases to judge a trend ({points} windows)")),
        }
    }

    // ---- chart
    let mut artifacts = Vec::new();
    let svg = draw(
        inp,
        &inp.item
            .watch
            .as_ref()
            .map(|w| w.gauges.clone())
            .unwrap_or_default()
            .iter()
            .map(|g| g.get_ref().clone())
            .collect::<Vec<_>>(),
    );
    match cx.write_artifact("soak.svg", svg.as_bytes()) {
        Ok(p) => artifacts.push(p),
        Err(e) => warnings.push(format!("cannot write the chart: {e}")),
    }

    let mut csv =
        String::from("t,phase,rss_bytes,threads,fds,tcp_established,tcp_close_wait,accept_queue");
    let names: Vec<String> = inp.watch.series.iter().map(|(n, _)| n.clone()).collect();
    for n in &names {
        csv.push(',');
        csv.push_str(n);
    }
    csv.push('\n');
    let opt = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    for s in inp.samples {
        let ph = phase(s).map(|i| plan.phases[i].name).unwrap_or("drain");
        let _ = write!(
            csv,
            "{:.3},{ph},{},{},{},{},{},{}",
            s.t,
            opt(s.rss_bytes),
            opt(s.threads),
            opt(s.fds),
            opt(s.tcp.map(|t| t.established as f64)),
            opt(s.tcp.map(|t| t.close_wait as f64)),
            opt(s.tcp.map(|t| t.accept_queue as f64))
        );
        for n in &names {
            let _ = write!(csv, ",{}", opt(s.metrics.get(n).copied()));
        }
        csv.push('\n');
    }
    match cx.write_artifact("soak-samples.csv", csv.as_bytes()) {
        Ok(p) => artifacts.push(p),
        Err(e) => warnings.push(format!("cannot write the samples: {e}")),
    }

    // ---- the outcome
    let mut details = String::new();
    let _ = writeln!(
        details,
        "phases: {}",
        plan.phases
            .iter()
            .map(|p| format!("{} {:.1}s", p.name, p.len.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for v in &verdicts {
        let tag = match v.status {
            Status::Passed => "ok  ",
            Status::Failed => "FAIL",
            Status::Errored => "ERR ",
        };
        let _ = writeln!(details, "{tag} {}: {}", v.signal, v.text);
    }
    for e in &errored {
        let _ = writeln!(details, "ERR  {e}");
    }
    let failed: Vec<&Verdict> = verdicts
        .iter()
        .filter(|v| v.status == Status::Failed)
        .collect();
    let mut out = if !errored.is_empty() {
        CheckOutput::errored(errored.join("; "))
    } else if !failed.is_empty() {
        CheckOutput::failed(
            failed
                .iter()
                .map(|v| format!("{}: {}", v.signal, first_clause(&v.text)))
                .collect::<Vec<_>>()
                .join("; "),
        )
    } else {
        CheckOutput::passed(format!(
            "{rate} req/s (spike {}×) for {}: p99 {}, {} errors, no leak seen",
            inp.item.spike_factor(),
            humantime::format_duration(plan.total()),
            ms(p99),
            total.failed()
        ))
    };
    data.insert(
        "verdicts".into(),
        json!(
            verdicts
                .iter()
                .map(|v| json!({"signal": v.signal, "status": v.status, "text": v.text}))
                .collect::<Vec<_>>()
        ),
    );
    out = out
        .with_details(details)
        .with_data(serde_json::Value::Object(data));
    for (k, v) in props {
        out = out.with_property(k, v);
    }
    out.warnings = warnings;
    out.artifacts = artifacts;
    out
}

/// The text up to the first `;` (the headline of a verdict).
fn first_clause(s: &str) -> &str {
    s.split(';').next().unwrap_or(s)
}

/// Minimum of each window of consecutive points (so a sawtooth of allocations and frees does
/// not read as a trend), at the window's mean time. Windows hold a few samples each.
fn window_minima(pts: &[(f64, f64)]) -> (Vec<f64>, Vec<f64>) {
    let per = (pts.len() / 6).clamp(1, 5);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for w in pts.chunks(per) {
        if w.len() < per && !xs.is_empty() {
            break; // a short last window would bias the minimum upwards
        }
        xs.push(w.iter().map(|p| p.0).sum::<f64>() / w.len() as f64);
        ys.push(w.iter().map(|p| p.1).fold(f64::INFINITY, f64::min));
    }
    (xs, ys)
}

fn draw(inp: &Inputs<'_>, gauges: &[String]) -> String {
    let series = |name: &str, get: &dyn Fn(&Sample) -> Option<f64>| Series {
        name: name.into(),
        points: inp
            .samples
            .iter()
            .filter_map(|s| get(s).map(|v| (s.t, v)))
            .collect(),
    };
    let mut panels = Vec::new();
    let rss = series("RSS", &|s| {
        s.rss_bytes
            .or_else(|| s.metrics.get("process_resident_memory_bytes").copied())
            .map(|b| b / MIB)
    });
    if !rss.points.is_empty() {
        panels.push(Panel {
            title: "memory (MiB)".into(),
            series: vec![rss],
        });
    }
    let fds = series("fds", &|s| {
        s.fds.or_else(|| s.metrics.get("process_open_fds").copied())
    });
    if !fds.points.is_empty() {
        panels.push(Panel {
            title: "open fds".into(),
            series: vec![fds],
        });
    }
    let mut conns = vec![
        series("ESTABLISHED", &|s| s.tcp.map(|t| t.established as f64)),
        series("CLOSE_WAIT", &|s| s.tcp.map(|t| t.close_wait as f64)),
    ];
    for g in KNOWN_POOL_GAUGES
        .iter()
        .map(|s| s.to_string())
        .chain(gauges.iter().cloned())
    {
        let sr = series(&g, &|s| s.metrics.get(&g).copied());
        if !sr.points.is_empty() {
            conns.push(sr);
        }
    }
    conns.retain(|s| !s.points.is_empty());
    if !conns.is_empty() {
        panels.push(Panel {
            title: "connections".into(),
            series: conns,
        });
    }
    let lat = |f: fn(&super::load::Second) -> f64, name: &str| Series {
        name: name.into(),
        points: inp
            .result
            .seconds
            .iter()
            .filter(|s| s.done > s.errors)
            .map(|s| (s.t as f64 + 0.5, f(s)))
            .collect(),
    };
    panels.push(Panel {
        title: "latency (ms, per second)".into(),
        series: vec![lat(|s| s.p50_ms, "p50"), lat(|s| s.p99_ms, "p99")],
    });
    panels.push(Panel {
        title: "requests per second".into(),
        series: vec![
            Series {
                name: "done".into(),
                points: inp
                    .result
                    .seconds
                    .iter()
                    .map(|s| (s.t as f64 + 0.5, s.done as f64))
                    .collect(),
            },
            Series {
                name: "errors".into(),
                points: inp
                    .result
                    .seconds
                    .iter()
                    .map(|s| (s.t as f64 + 0.5, s.errors as f64))
                    .collect(),
            },
        ],
    });
    let load_end = inp
        .plan
        .phases
        .last()
        .map(|p| p.start.as_secs_f64())
        .unwrap_or(0.0);
    let mut phases: Vec<(String, f64, f64)> = Vec::new();
    let last = inp.plan.phases.len() - 1;
    for p in &inp.plan.phases[..last] {
        phases.push((
            p.name.to_string(),
            p.start.as_secs_f64(),
            p.end().as_secs_f64(),
        ));
    }
    if inp.cooldown_start > load_end + 0.05 {
        phases.push(("drain".into(), load_end, inp.cooldown_start));
    }
    let end = inp
        .samples
        .last()
        .map(|s| s.t)
        .unwrap_or(inp.cooldown_start)
        .max(inp.cooldown_start);
    phases.push(("cooldown".into(), inp.cooldown_start, end));
    chart::render("soak", &panels, &phases, end)
}

fn finite(v: f64) -> serde_json::Value {
    if v.is_finite() {
        json!(v)
    } else {
        serde_json::Value::Null
    }
}

fn ms(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn fmt_n(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn bytes(v: f64) -> String {
    let a = v.abs();
    if a >= 1024.0 * MIB {
        format!("{:.1} GiB", v / (1024.0 * MIB))
    } else if a >= MIB {
        format!("{:.1} MiB", v / MIB)
    } else if a >= 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_minima_take_the_floor_of_each_window() {
        let pts: Vec<(f64, f64)> = (0..12)
            .map(|i| (i as f64, if i % 2 == 0 { 10.0 + i as f64 } else { 100.0 }))
            .collect();
        let (x, y) = window_minima(&pts);
        assert_eq!(x, vec![0.5, 2.5, 4.5, 6.5, 8.5, 10.5]);
        assert_eq!(y, vec![10.0, 12.0, 14.0, 16.0, 18.0, 20.0]);
    }
}
