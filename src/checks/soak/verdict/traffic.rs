//! What the generator saw (load, errors, latency, recovery) and whether the machine could run
//! the soak at all (the generator's own lateness, CPU starvation of the app and of preflight).

use serde_json::json;

use super::{ALPHA, Findings, Inputs, Verdict, finite, ms};
use crate::checks::soak::DEFAULT_MAX_ERROR_RATE;
use crate::checks::soak::stats;
use crate::checks::soak::watch::Sched;

/// Sends later than this (p99) mean the generator could not keep its schedule.
const MAX_SEND_LATENESS_MS: f64 = 100.0;
/// Time spent waiting for a CPU over time spent running above which a process was starved...
const MAX_WAIT_RATIO: f64 = 1.0;
/// ...if that wait (summed over its threads) is also this share of the load phases: an app
/// that sleeps most of the time (0.02 core) waits a scheduler's wake-up latency at each of its
/// short runs, longer than it runs on any busy machine, without its answers being late for it.
const MIN_WAIT_SHARE: f64 = 0.25;

/// Judges the load, errors, latency, recovery and the machine; returns the p99 in ms.
pub(super) fn judge(inp: &Inputs<'_>, f: &mut Findings) -> f64 {
    load(inp, f);
    errors(inp, f);
    let p99 = latency(inp, f);
    recovery(inp, f);
    machine(inp, f);
    p99
}

fn load(inp: &Inputs<'_>, f: &mut Findings) {
    let total = inp.result.total();
    let rate = inp.item.rate();
    f.prop("requests_sent", total.sent);
    f.prop("requests_dropped", total.dropped);
    if let Some(conns) = inp.load.connections {
        let achieved = inp.steady_rate();
        f.prop("rate_achieved", format!("{achieved:.1}"));
        f.prop("connections", conns);
        f.data.insert(
            "load".into(),
            json!({"connections": conns, "rate_achieved": achieved, "sent": total.sent, "ok": total.ok,
                   "errors": total.errors}),
        );
        f.verdicts.push(Verdict::passed(
            "load",
            format!(
                "closed loop with {conns} connections: {} requests, {achieved:.0} req/s in the steady phases",
                total.sent
            ),
        ));
        return;
    }
    let share = |n: u64| {
        if total.planned > 0 {
            n as f64 / total.planned as f64
        } else {
            0.0
        }
    };
    let (sent_share, drop_share) = (share(total.sent), share(total.dropped));
    let late = &inp.result.lateness;
    let late_p99 = if late.is_empty() {
        0.0
    } else {
        late.value_at_quantile(0.99) as f64 / 1000.0
    };
    // The steady rate scaled by the share of requests sent and by how much longer than planned
    // the sends took (a generator that falls behind still sends every request, late).
    let phases = &inp.plan.phases;
    let load_start = phases
        .iter()
        .find(|p| p.from > 0.0 || p.to > 0.0)
        .map(|p| p.start.as_secs_f64())
        .unwrap_or(0.0);
    let window = phases.last().map(|p| p.start.as_secs_f64()).unwrap_or(0.0) - load_start;
    let took = (inp.result.dispatched.as_secs_f64() - load_start).max(window);
    let achieved = rate * sent_share * window / took.max(1e-9);
    f.prop("rate_target", rate);
    f.prop("rate_achieved", format!("{achieved:.1}"));
    f.prop("send_late_p99_ms", format!("{late_p99:.1}"));
    f.data.insert(
        "load".into(),
        json!({"rate_target": rate, "rate_achieved": achieved, "planned": total.planned, "sent": total.sent, "ok": total.ok,
               "dropped": total.dropped, "errors": total.errors, "send_late_p99_ms": late_p99}),
    );
    let text = format!(
        "{} of {} planned requests sent ({:.1}%), {} dropped at the cap of {} in flight (one connection each), p99 send {} behind schedule",
        total.sent,
        total.planned,
        sent_share * 100.0,
        total.dropped,
        inp.load.max_in_flight,
        ms(late_p99)
    );
    if late_p99 > MAX_SEND_LATENESS_MS || sent_share + drop_share < 0.95 {
        f.saturated
            .push(format!("the generator fell behind its schedule ({text})"));
    }
    if drop_share > 0.01 {
        f.verdicts.push(Verdict::failed(
            "load",
            format!(
                "{:.1}% of requests dropped (over 1%): the app kept more than {} requests in flight (raise `max_in_flight` if it is meant to hold that many connections); {text}",
                drop_share * 100.0,
                inp.load.max_in_flight
            ),
        ));
        return;
    }
    f.verdicts.push(Verdict::passed("load", text));
}

fn errors(inp: &Inputs<'_>, f: &mut Findings) {
    let total = inp.result.total();
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
    f.prop("error_rate", format!("{error_rate:.4}"));
    f.prop("timeouts", timeouts);
    for (k, v) in &total.errors {
        f.prop(format!("errors.{}", k.replace(' ', "_")), v);
    }
    if let Some(load) = f.data.get_mut("load").and_then(|l| l.as_object_mut()) {
        load.insert("error_rate".into(), json!(error_rate));
    }
    let rt = humantime::format_duration(inp.load.request_timeout).to_string();
    if error_rate > max_error_rate {
        let mostly_timeouts = timeouts * 2 >= failed && timeouts > 0;
        let text = if mostly_timeouts {
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
        let signal = if mostly_timeouts {
            "timeouts"
        } else {
            "errors"
        };
        f.verdicts.push(Verdict::failed(signal, text));
    } else {
        let text = if failed == 0 {
            "no failed requests".to_string()
        } else {
            format!("{failed} failed ({kinds}), within max_error_rate {max_error_rate}")
        };
        f.verdicts.push(Verdict::passed("errors", text));
    }
}

fn latency(inp: &Inputs<'_>, f: &mut Findings) -> f64 {
    let total = inp.result.total();
    let h = &total.latency;
    let q = |p: f64| {
        if h.is_empty() {
            f64::NAN
        } else {
            h.value_at_quantile(p) as f64 / 1000.0
        }
    };
    let max = if h.is_empty() {
        f64::NAN
    } else {
        h.max() as f64 / 1000.0
    };
    let (p50, p95, p99) = (q(0.5), q(0.95), q(0.99));
    for (k, v) in [
        ("latency_p50_ms", p50),
        ("latency_p95_ms", p95),
        ("latency_p99_ms", p99),
        ("latency_max_ms", max),
    ] {
        f.prop(k, format!("{v:.2}"));
    }
    let from = if inp.load.connections.is_some() {
        "from send times"
    } else {
        "from scheduled send times"
    };
    let figures = format!(
        "p50 {}, p95 {}, p99 {}, max {} ({from})",
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
    f.data.insert(
        "latency_ms".into(),
        json!({"p50": finite(p50), "p95": finite(p95), "p99": finite(p99), "max": finite(max)}),
    );
    if h.is_empty() {
        f.verdicts
            .push(Verdict::failed("latency", "no request was answered"));
    } else if breaches.is_empty() {
        f.verdicts.push(Verdict::passed("latency", figures));
    } else {
        f.verdicts.push(Verdict::failed(
            "latency",
            format!("{}; {figures}", breaches.join(", ")),
        ));
    }
    p99
}

/// Steady B must not be slower than steady A.
fn recovery(inp: &Inputs<'_>, f: &mut Findings) {
    let (a, b) = (
        &inp.result.phases[inp.idx("steady A")].sample,
        &inp.result.phases[inp.idx("steady B")].sample,
    );
    match (
        stats::median(a),
        stats::median(b),
        stats::mann_whitney(a, b),
    ) {
        (Some(ma), Some(mb), Some(mw)) => {
            let floor = (0.2 * ma).max(5.0);
            let shift = mb - ma;
            f.prop("recovery_shift_ms", format!("{shift:.2}"));
            let text = format!(
                "steady B median {} vs steady A {} (shift {:+.2} ms, floor {}, Mann–Whitney p={:.3})",
                ms(mb),
                ms(ma),
                shift,
                ms(floor),
                mw.p_b_greater
            );
            if mw.p_b_greater < ALPHA && shift > floor {
                f.verdicts.push(Verdict::failed(
                    "recovery",
                    format!("did not recover after the spike: {text}"),
                ));
            } else {
                f.verdicts.push(Verdict::passed("recovery", text));
            }
        }
        _ => f.verdicts.push(Verdict::failed(
            "recovery",
            "no answered requests in a steady phase to compare (see errors)",
        )),
    }
}

/// CPU of the app and of preflight over the load phases, and how long each waited for a CPU:
/// a process that waited longer than it ran, for a quarter of that time or more, was starved.
pub(super) fn machine(inp: &Inputs<'_>, f: &mut Findings) {
    let first = inp.idx("ramp");
    let during = |s: &&crate::checks::soak::watch::Sample| {
        inp.phase(s)
            .is_none_or(|p| p >= first && p < inp.last_phase())
    };
    let delta = |get: &dyn Fn(&crate::checks::soak::watch::Sample) -> Option<Sched>| {
        let pts: Vec<(f64, Sched)> = inp
            .samples
            .iter()
            .filter(during)
            .filter_map(|s| get(s).map(|v| (s.t, v)))
            .collect();
        let (a, b) = (pts.first()?, pts.last()?);
        let secs = b.0 - a.0;
        let run = b.1.run - a.1.run;
        let wait = b.1.wait - a.1.wait;
        (secs > 0.5 && run >= 0.0 && wait >= 0.0).then_some((secs, run, wait))
    };
    let mut parts = Vec::new();
    let mut json = serde_json::Map::new();
    let procs = inp
        .samples
        .iter()
        .filter_map(|s| s.processes)
        .fold(0.0, f64::max);
    let app = if procs > 1.0 {
        format!("app ({procs:.0} processes)")
    } else {
        "app".to_string()
    };
    for (who, key, d) in [
        (app.as_str(), "app", delta(&|s| s.sched)),
        ("preflight", "preflight", delta(&|s| s.self_sched)),
    ] {
        let Some((secs, run, wait)) = d else { continue };
        let ratio = if run > 0.0 { wait / run } else { 0.0 };
        f.prop(format!("cpu.{key}_cores"), format!("{:.3}", run / secs));
        f.prop(format!("cpu.{key}_wait_ratio"), format!("{ratio:.2}"));
        json.insert(
            key.into(),
            json!({"cores": run / secs, "run_s": run, "runqueue_wait_s": wait, "wait_ratio": ratio}),
        );
        parts.push(format!(
            "{who} {:.2} core, waited {:.0}% of that for a CPU",
            run / secs,
            ratio * 100.0
        ));
        if ratio > MAX_WAIT_RATIO && run >= 0.05 && wait / secs >= MIN_WAIT_SHARE {
            f.saturated.push(format!(
                "the machine starved the {key}: it waited {:.1} s for a CPU while running {:.1} s",
                wait, run
            ));
        }
    }
    if !parts.is_empty() {
        f.data.insert("cpu".into(), serde_json::Value::Object(json));
        let status_text = parts.join("; ");
        f.verdicts.push(Verdict::passed("cpu", status_text));
    }
}
