//! The chart (`soak.svg`) and the samples (`soak-samples.csv`): every watched series.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::resources::own_fds;
use super::{Findings, Inputs, MIB};
use crate::checks::CheckContext;
use crate::checks::soak::chart::{self, Panel, Series};
use crate::checks::soak::load::Second;
use crate::checks::soak::watch::Sample;
use crate::checks::soak::{NODE_FULL_GC_COUNT, NODE_YOUNG_SPACES};

/// Writes both artifacts; returns their paths.
pub(super) fn write(cx: &CheckContext, inp: &Inputs<'_>, f: &mut Findings) -> Vec<PathBuf> {
    let mut artifacts = Vec::new();
    let svg = draw(inp, f);
    match cx.write_artifact("soak.svg", svg.as_bytes()) {
        Ok(p) => artifacts.push(p),
        Err(e) => f.warnings.push(format!("cannot write the chart: {e}")),
    }
    match cx.write_artifact("soak-samples.csv", csv(inp).as_bytes()) {
        Ok(p) => artifacts.push(p),
        Err(e) => f.warnings.push(format!("cannot write the samples: {e}")),
    }
    artifacts
}

fn csv(inp: &Inputs<'_>) -> String {
    let mut csv = String::from(
        "t,phase,rss_bytes,threads,fds,processes,close_wait,backend,inbound,tcp_established,tcp_close_wait,accept_queue,app_cpu_s,app_runqueue_wait_s,preflight_cpu_s,preflight_runqueue_wait_s",
    );
    let names: Vec<String> = inp.watch.series.iter().map(|(n, _)| n.clone()).collect();
    for n in &names {
        csv.push(',');
        csv.push_str(n);
    }
    csv.push('\n');
    let opt = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    for s in inp.samples {
        let ph = inp
            .phase(s)
            .map(|i| inp.plan.phases[i].name)
            .unwrap_or("drain");
        let _ = write!(
            csv,
            "{:.3},{ph},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            s.t,
            opt(s.rss_bytes),
            opt(s.threads),
            opt(s.fds),
            opt(s.processes),
            opt(s.sockets.map(|t| t.close_wait as f64)),
            opt(s.sockets.map(|t| t.backend as f64)),
            opt(s.sockets.map(|t| t.inbound as f64)),
            opt(s.tcp.map(|t| t.established as f64)),
            opt(s.tcp.map(|t| t.close_wait as f64)),
            opt(s.tcp.map(|t| t.accept_queue as f64)),
            opt(s.sched.map(|c| c.run)),
            opt(s.sched.map(|c| c.wait)),
            opt(s.self_sched.map(|c| c.run)),
            opt(s.self_sched.map(|c| c.wait)),
        );
        for n in &names {
            let _ = write!(csv, ",{}", opt(s.metrics.get(n).copied()));
        }
        csv.push('\n');
    }
    csv
}

fn draw(inp: &Inputs<'_>, f: &Findings) -> String {
    let failed = |key: &str| f.failing.iter().any(|k| k == key);
    let series = |name: &str, key: &str, get: &dyn Fn(&Sample) -> Option<f64>| {
        let mut s = Series::new(
            name,
            inp.samples
                .iter()
                .filter_map(|s| get(s).map(|v| (s.t, v)))
                .collect(),
        );
        s.failed = failed(key);
        s
    };
    let mut panels = Vec::new();
    // Memory: the judged signal, zoomed to its data, with the fitted trend over the steady phases.
    let signal = f
        .data
        .get("memory")
        .and_then(|m| m.get("signal"))
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_string();
    let rss = series("RSS", "", &|s| {
        s.rss_bytes
            .or_else(|| s.metrics.get("process_resident_memory_bytes").copied())
            .map(|b| b / MIB)
    });
    let mut memory = Vec::new();
    if inp.watch.series.iter().any(|(n, _)| *n == signal) {
        memory.push(series(&signal, "memory", &|s| {
            s.metrics.get(&signal).map(|b| b / MIB)
        }));
    } else if !rss.points.is_empty() {
        let mut r = rss.clone();
        r.failed = failed("memory");
        memory.push(r);
    }
    if !memory.is_empty() {
        if !f.memory_marks.is_empty() {
            let marks = f.memory_marks.iter().map(|&(t, b)| (t, b / MIB)).collect();
            let mut s = Series::new("after full GC", marks);
            s.failed = failed("memory");
            memory.push(s);
        }
        for (i, &((x0, y0), (x1, y1))) in f.memory_trend.iter().enumerate() {
            let mut t = Series::new(
                if i == 0 { "trend" } else { "" },
                vec![(x0, y0 / MIB), (x1, y1 / MIB)],
            );
            t.dashed = true;
            memory.push(t);
        }
        panels.push(Panel {
            title: format!(
                "memory (MiB): {}",
                if signal.is_empty() { "RSS" } else { &signal }
            ),
            series: memory,
            zoom: true,
        });
        // RSS beside a heap gauge: both matter to a person reading the chart.
        if inp.watch.series.iter().any(|(n, _)| *n == signal) && !rss.points.is_empty() {
            panels.push(Panel {
                title: "RSS (MiB)".into(),
                series: vec![rss],
                zoom: true,
            });
        }
    }
    let mut counts = vec![
        series("fds (without the load's connections)", "fds", &own_fds),
        series("threads", "threads", &|s| s.threads),
    ];
    counts.retain(|s| !s.points.is_empty());
    if !counts.is_empty() {
        panels.push(Panel {
            title: "open fds, threads".into(),
            series: counts,
            zoom: false,
        });
    }
    let mut conns = vec![
        series("ESTABLISHED on the port", "tcp_established", &|s| {
            s.tcp.map(|t| t.established as f64)
        }),
        series("CLOSE_WAIT on the port", "tcp_close_wait", &|s| {
            s.tcp.map(|t| t.close_wait as f64)
        }),
        series("CLOSE_WAIT (own sockets)", "close_wait", &|s| {
            s.sockets.map(|t| t.close_wait as f64)
        }),
    ];
    if let Some(port) = inp.watch.backend_port {
        conns.push(series(&format!("backend :{port}"), "backend", &|s| {
            s.sockets.map(|t| t.backend as f64)
        }));
    }
    conns.retain(|s| !s.points.is_empty());
    if !conns.is_empty() {
        panels.push(Panel {
            title: "connections".into(),
            series: conns,
            zoom: false,
        });
    }
    let mut gauges: Vec<Series> = inp
        .watch
        .series
        .iter()
        .map(|(n, _)| n)
        .filter(|n| {
            *n != &signal
                && !matches!(
                    n.as_str(),
                    "process_resident_memory_bytes"
                        | "process_open_fds"
                        | "process_start_time_seconds"
                )
                // Inputs of the memory signal (in the CSV).
                && *n != NODE_FULL_GC_COUNT
                && !NODE_YOUNG_SPACES.contains(&n.as_str())
        })
        .map(|n| series(n, &format!("gauge.{n}"), &|s| s.metrics.get(n).copied()))
        .filter(|s| !s.points.is_empty())
        .collect();
    for chunk in gauges.chunks_mut(6) {
        panels.push(Panel {
            title: "gauges".into(),
            series: chunk.to_vec(),
            zoom: false,
        });
    }
    let per_second = |f: &dyn Fn(&Second) -> Option<f64>| -> Vec<(f64, f64)> {
        inp.result
            .seconds
            .iter()
            .filter_map(|s| f(s).map(|v| (s.t as f64 + 0.5, v)))
            .collect()
    };
    let answered = |s: &Second| s.done > s.errors;
    panels.push(Panel {
        title: "latency (ms, per second)".into(),
        series: vec![
            Series::new("p50", per_second(&|s| answered(s).then_some(s.p50_ms))),
            Series::new("p99", per_second(&|s| answered(s).then_some(s.p99_ms))),
        ],
        zoom: false,
    });
    panels.push(Panel {
        title: "requests per second".into(),
        series: vec![
            Series::new("done", per_second(&|s| Some(s.done as f64))),
            Series::new("errors", per_second(&|s| Some(s.errors as f64))),
        ],
        zoom: false,
    });
    let load_end = inp
        .plan
        .phases
        .last()
        .map(|p| p.start.as_secs_f64())
        .unwrap_or(0.0);
    let mut phases: Vec<(String, f64, f64)> = Vec::new();
    let last = inp.plan.phases.len() - 1;
    for p in inp.plan.phases[..last].iter().filter(|p| !p.len.is_zero()) {
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
