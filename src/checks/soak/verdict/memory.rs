//! Memory: the trend over the steady phases, from the best signal the app offers, and what it
//! means at production traffic.
//!
//! Freed memory need not go back to the OS and garbage-collected heaps keep their size, so the
//! *trend* is judged, on the minima of short windows (the post-GC troughs of a sawtooth heap),
//! blocked by steady phase (a step across the spike is not a trend). A live-heap gauge beats RSS
//! when the app exposes one: Node's RSS moves by megabytes with each GC while its heap after GC
//! is steady.

use serde_json::json;

use super::{ALPHA, Findings, Inputs, MIB, Verdict, bytes, fmt_n, span, window_minima};
use crate::checks::soak::load::Second;
use crate::checks::soak::watch::Sample;
use crate::checks::soak::{
    DEFAULT_MIN_UPTIME, KNOWN_HEAP_GAUGES, NODE_FULL_GC_COUNT, NODE_HEAP_USED, NODE_YOUNG_SPACES,
    stats,
};

type Getter = Box<dyn Fn(&Sample) -> Option<f64>>;

/// The memory series judged: what it is called, how to read it.
fn signal(inp: &Inputs<'_>) -> Option<(String, Getter)> {
    let from_metrics = |name: String| -> (String, Getter) {
        let key = name.clone();
        (
            name,
            Box::new(move |s: &Sample| s.metrics.get(&key).copied()),
        )
    };
    if let Some(m) = inp.item.watch.as_ref().and_then(|w| w.memory.as_ref()) {
        return Some(from_metrics(m.get_ref().clone()));
    }
    for g in KNOWN_HEAP_GAUGES {
        if inp.samples.iter().any(|s| s.metrics.contains_key(*g)) {
            return Some(from_metrics(g.to_string()));
        }
    }
    if inp.watch.pid.is_some() {
        return Some(("RSS (VmRSS)".into(), Box::new(|s: &Sample| s.rss_bytes)));
    }
    inp.watch.metrics.as_ref()?;
    Some((
        "RSS (process_resident_memory_bytes)".into(),
        Box::new(|s: &Sample| s.metrics.get("process_resident_memory_bytes").copied()),
    ))
}

/// Full collections under load after the warm-up needed to judge the live heap: Mann–Kendall
/// cannot reach p < 0.01 on fewer than 5 points (5 in order: p = 1/120).
const MIN_FULL_GCS: usize = 5;

/// A memory trend, in bytes per request served.
struct Trend {
    /// What was measured, for people.
    name: String,
    per_req: f64,
    lo: f64,
    hi: f64,
    p_increasing: f64,
    points: usize,
    /// The fitted line over the judged stretches, for the chart: (t, bytes) at both ends.
    lines: Vec<((f64, f64), (f64, f64))>,
}

pub(super) fn judge(inp: &Inputs<'_>, f: &mut Findings) {
    let Some((name, get)) = signal(inp) else {
        return;
    };
    let explicit = inp.item.watch.as_ref().is_some_and(|w| w.memory.is_some());
    if explicit && !inp.samples.iter().any(|s| get(s).is_some()) {
        f.errored.push(format!(
            "memory gauge `{name}` was not found at {}",
            inp.metrics_url()
        ));
        return;
    }
    let baseline = stats::median(&inp.values_in(inp.idx("baseline"), &get));
    let full_gcs = if explicit {
        None
    } else {
        node_full_gc_points(inp)
    };
    let trend = match full_gcs {
        Some(pts) if pts.len() >= MIN_FULL_GCS => {
            f.memory_marks = pts.iter().map(|p| (p.0, p.2)).collect();
            live_heap_trend(&pts)
        }
        Some(pts) => {
            f.warnings.push(format!(
                "memory: {} full collections of the Node heap under load after the warm-up, {MIN_FULL_GCS} needed to judge the live heap (V8 collects fully as the old generation fills: fewer times at a lower rate or on a busy machine): judged on the heap's troughs instead, which climb with promoted garbage between full collections and show only large leaks; soak longer (at 100 req/s, 3 minutes) or at a higher rate",
                pts.len()
            ));
            troughs_trend(inp, &name, &get)
        }
        None => troughs_trend(inp, &name, &get),
    };
    let (Some(baseline), Some(trend)) = (baseline, trend) else {
        let count = |phase: &str| inp.values_in(inp.idx(phase), &get).len();
        let (got, need) = if baseline.is_none() {
            (vec![("baseline", 0)], 1)
        } else {
            (
                vec![
                    ("steady A", count("steady A")),
                    ("steady B", count("steady B")),
                ],
                3,
            )
        };
        inp.not_enough_samples(f, &format!("memory: {name}"), &got, need, true);
        return;
    };
    judge_trend(inp, f, baseline, trend);
}

/// Node: the old generation (heap used minus the young generation) at the first sample after
/// each full collection from the baseline to the end of steady B, at the number of requests
/// served by then. Not in the cooldown: V8's memory reducer collects an idle heap harder
/// (flushing code), a level lower than under load. `None` when the app does not expose its
/// full collections.
fn node_full_gc_points(inp: &Inputs<'_>) -> Option<Vec<(f64, f64, f64)>> {
    if !inp
        .samples
        .iter()
        .any(|s| s.metrics.contains_key(NODE_FULL_GC_COUNT))
    {
        return None;
    }
    let judged = inp.idx("baseline")..=inp.idx("steady B");
    let mut before: Option<f64> = None;
    let mut out = Vec::new();
    for s in inp.samples {
        // A failed scrape has no count: the next one still sees the collection.
        let Some(&count) = s.metrics.get(NODE_FULL_GC_COUNT) else {
            continue;
        };
        let collected = before.is_some_and(|b| count > b);
        before = Some(count);
        if !collected || !inp.phase(s).is_some_and(|p| judged.contains(&p)) {
            continue;
        }
        let (Some(used), Some(young)) = (
            s.metrics.get(NODE_HEAP_USED),
            s.metrics.get(NODE_YOUNG_SPACES[0]),
        ) else {
            continue;
        };
        let young_large = s.metrics.get(NODE_YOUNG_SPACES[1]).copied().unwrap_or(0.0);
        out.push((
            s.t,
            served_by(&inp.result.seconds, s.t),
            used - young - young_large,
        ));
    }
    Some(out)
}

/// Requests answered from the start of the run until `t` seconds.
fn served_by(seconds: &[Second], t: f64) -> f64 {
    let whole = t.floor() as u64;
    seconds
        .iter()
        .map(|s| match s.t.cmp(&whole) {
            std::cmp::Ordering::Less => s.done as f64,
            std::cmp::Ordering::Equal => s.done as f64 * t.fract(),
            std::cmp::Ordering::Greater => 0.0,
        })
        .sum()
}

/// The trend of the live heap over requests served: a leak grows it with every request, a
/// healthy app's stays level (it holds only what the requests in flight hold).
fn live_heap_trend(pts: &[(f64, f64, f64)]) -> Option<Trend> {
    let xs: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.2).collect();
    let ts = stats::theil_sen(&xs, &ys, 1.96)?;
    let mk = stats::mann_kendall(&ys)?;
    let at = |p: &(f64, f64, f64)| (p.0, ts.intercept + ts.slope * p.1);
    Some(Trend {
        name: format!(
            "the Node heap after full collections ({NODE_HEAP_USED} minus the young generation, {} collections)",
            pts.len()
        ),
        per_req: ts.slope,
        lo: ts.lower,
        hi: ts.upper,
        p_increasing: mk.p_increasing,
        points: pts.len(),
        lines: pts.windows(2).map(|w| (at(&w[0]), at(&w[1]))).collect(),
    })
}

/// The trend of the troughs (window minima) of `get` over time within steady A and steady B,
/// blocked by phase (a step across the spike is not a trend), per request at the steady rate.
fn troughs_trend(inp: &Inputs<'_>, name: &str, get: &Getter) -> Option<Trend> {
    let blocks: Vec<(Vec<f64>, Vec<f64>)> = [inp.idx("steady A"), inp.idx("steady B")]
        .iter()
        .map(|&p| {
            let (mut xs, mut ys) = window_minima(&inp.points_in(p, get));
            // The first window after a rate change is settling (new threads, buffers sized for
            // the new concurrency); a leak shows in the windows after it too.
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
    let ts = stats::theil_sen_blocked(&refs, 1.96)?;
    let mk = stats::mann_kendall_blocked(&ys)?;
    if points < 6 {
        return None;
    }
    let mut lines = Vec::new();
    for (x, y) in &blocks {
        if let (Some(&x0), Some(&x1)) = (x.first(), x.last()) {
            let off: Vec<f64> = x.iter().zip(y).map(|(x, y)| y - ts.slope * x).collect();
            let b = stats::median(&off).unwrap_or(0.0);
            lines.push(((x0, b + ts.slope * x0), (x1, b + ts.slope * x1)));
        }
    }
    let rate = inp.steady_rate().max(1e-9);
    Some(Trend {
        name: name.to_string(),
        per_req: ts.slope / rate,
        lo: ts.lower / rate,
        hi: ts.upper / rate,
        p_increasing: mk.p_increasing,
        points,
        lines,
    })
}

/// The verdict on a trend: significant, and above the budget at production traffic.
fn judge_trend(inp: &Inputs<'_>, f: &mut Findings, baseline: f64, trend: Trend) {
    let Trend {
        name,
        per_req: b,
        lo,
        hi,
        p_increasing,
        points,
        lines,
    } = trend;
    f.memory_trend = lines;
    let rate = inp.steady_rate().max(1e-9);
    let prod_rate = inp
        .item
        .production_rate
        .as_ref()
        .map(|r| *r.get_ref())
        .unwrap_or(rate);
    let per_hour_at = |bytes_per_req: f64| bytes_per_req * prod_rate * 3600.0;
    // The budget per hour: the headroom spread over the uptime it must last, or the limit.
    let headroom = inp.item.memory_headroom.map(|h| h.get() as f64);
    let uptime = inp
        .item
        .min_uptime
        .map(|d| d.get())
        .unwrap_or(DEFAULT_MIN_UPTIME)
        .as_secs_f64();
    let limit_per_hour = match headroom {
        Some(h) => h / uptime * 3600.0,
        None => inp
            .item
            .max_memory_growth
            .map(|g| g.get() as f64)
            .unwrap_or((0.1 * baseline).max(64.0 * MIB)),
    };
    // A leak this size would show with its whole interval above zero, given the noise measured.
    let floor = (hi - lo).max(0.0);
    let significant = p_increasing < ALPHA && lo > 0.0;
    let too_wide = hi - lo > 2.0 * b.abs();
    let growth = per_hour_at(b);
    let at = match &inp.item.production_rate {
        Some(_) => format!("at {} req/s (production_rate)", fmt_n(prod_rate)),
        None => format!("at {} req/s", fmt_n(prod_rate)),
    };
    let limit_text = match headroom {
        Some(h) => format!("the {} headroom must last {}", bytes(h), span(uptime)),
        None => format!("limit {}/h", bytes(limit_per_hour)),
    };
    let figures = format!(
        "{} B/request [{}, {}] in {name}; {at} that is {}/h ({limit_text}); Mann–Kendall p={:.3}; smallest leak this run could detect ≈ {} B/request (from the measured noise)",
        fmt_n(b),
        fmt_n(lo),
        fmt_n(hi),
        bytes(growth),
        p_increasing,
        fmt_n(floor)
    );
    f.prop("memory.signal", &name);
    f.prop("memory.baseline_bytes", format!("{baseline:.0}"));
    f.prop("memory.slope_bytes_per_s", format!("{:.1}", b * rate));
    f.prop(
        "memory.slope_ci95",
        format!("[{:.1}, {:.1}]", lo * rate, hi * rate),
    );
    f.prop("memory.bytes_per_request", format!("{b:.1}"));
    f.prop(
        "memory.smallest_detectable_bytes_per_request",
        format!("{floor:.1}"),
    );
    f.data.insert(
        "memory".into(),
        json!({"signal": name, "baseline_bytes": baseline, "slope_bytes_per_s": b * rate,
               "slope_ci95": [lo * rate, hi * rate], "bytes_per_request": b, "bytes_per_request_ci95": [lo, hi],
               "rate": rate, "production_rate": prod_rate, "projected_per_hour": growth,
               "threshold_per_hour": limit_per_hour, "headroom_bytes": headroom, "min_uptime_s": uptime,
               "mann_kendall_p": p_increasing, "smallest_detectable_bytes_per_request": floor,
               "significant": significant && !too_wide, "inconclusive": significant && too_wide,
               "windows": points}),
    );
    if significant && too_wide {
        f.warnings.push(format!(
            "memory: inconclusive: the interval is more than twice the estimate ({figures})"
        ));
        f.verdicts.push(Verdict::passed(
            "memory",
            format!("inconclusive (the interval is much wider than the estimate): {figures}"),
        ));
    } else if significant && growth > limit_per_hour {
        f.failing.push("memory".into());
        let text = match headroom {
            Some(h) => format!(
                "leaks {} B/request [{}, {}] in {name}: {at} that is {}/h; the {} headroom is gone in {}, less than {}; Mann–Kendall p={:.3}",
                fmt_n(b),
                fmt_n(lo),
                fmt_n(hi),
                bytes(growth),
                bytes(h),
                span(h / growth * 3600.0),
                span(uptime),
                p_increasing
            ),
            None => format!("{name} grows steadily: {figures}"),
        };
        f.verdicts.push(Verdict::failed("memory", text));
    } else if significant {
        f.warnings.push(format!(
            "memory: a small but significant upward trend of {name}: {figures}"
        ));
        f.verdicts.push(Verdict::passed(
            "memory",
            format!("small trend below the limit: {figures}"),
        ));
    } else {
        if per_hour_at(floor) > limit_per_hour {
            f.warnings.push(format!(
                "memory: this run cannot see leaks below ≈ {} B/request, and at {} req/s a smaller one already exceeds the limit: soak longer or at a higher rate",
                fmt_n(floor),
                fmt_n(prod_rate)
            ));
        }
        f.verdicts.push(Verdict::passed(
            "memory",
            format!("no significant trend: {figures}"),
        ));
    }
}
