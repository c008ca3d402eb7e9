//! Judging a soak: one verdict per signal, figures for the reports, the chart.
//!
//! [`traffic`] judges what the generator saw (load, errors, latency, recovery) and whether the
//! machine could run the soak at all; [`resources`] the countable things (fds, sockets, pool
//! gauges); [`memory`] the memory trend and what it means at production traffic; [`report`]
//! draws the chart and writes the samples.

mod memory;
mod report;
mod resources;
mod traffic;

use std::fmt::Write as _;

use serde_json::json;

use super::load::{LoadConfig, LoadResult, Plan};
use super::watch::{Sample, WatchConfig};
use super::{SoakItem, stats};
use crate::checks::{CheckContext, CheckOutput, Status};

pub(super) const MIB: f64 = 1024.0 * 1024.0;
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
    fn passed(signal: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Status::Passed, signal, text)
    }
    fn failed(signal: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Status::Failed, signal, text)
    }
}

/// Everything the judges find, gathered for the outcome.
#[derive(Default)]
struct Findings {
    verdicts: Vec<Verdict>,
    warnings: Vec<String>,
    props: Vec<(String, String)>,
    data: serde_json::Map<String, serde_json::Value>,
    /// Data that could not be read: the item errors.
    errored: Vec<String>,
    /// Why the machine could not run this soak faithfully (a failure is then not the app's).
    saturated: Vec<String>,
    /// Keys of the series whose verdict failed (marked on the chart).
    failing: Vec<String>,
    /// Lines drawn over the memory panel: (start, end) seconds and values at both ends.
    memory_trend: Vec<((f64, f64), (f64, f64))>,
    /// The judged levels when they are not the memory series itself (the Node heap after each
    /// full collection): (seconds, bytes).
    memory_marks: Vec<(f64, f64)>,
}

impl Findings {
    fn prop(&mut self, key: impl Into<String>, value: impl ToString) {
        self.props.push((key.into(), value.to_string()));
    }
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

impl Inputs<'_> {
    /// Where a sample falls: a phase index, or `None` while the last requests drain.
    fn phase(&self, s: &Sample) -> Option<usize> {
        phase_of(self.plan, s.t, self.cooldown_start)
    }
    fn idx(&self, name: &str) -> usize {
        self.plan.index_of(name).unwrap_or(0)
    }
    fn last_phase(&self) -> usize {
        self.plan.phases.len() - 1
    }
    /// Values of `get` in phase `p`, with their times.
    fn points_in(&self, p: usize, get: &dyn Fn(&Sample) -> Option<f64>) -> Vec<(f64, f64)> {
        self.samples
            .iter()
            .filter(|s| self.phase(s) == Some(p))
            .filter_map(|s| get(s).map(|v| (s.t, v)))
            .collect()
    }
    fn values_in(&self, p: usize, get: &dyn Fn(&Sample) -> Option<f64>) -> Vec<f64> {
        self.points_in(p, get).into_iter().map(|p| p.1).collect()
    }
    /// The metrics endpoint, for messages.
    fn metrics_url(&self) -> &str {
        self.watch.metrics.as_ref().map_or("?", |u| u.as_str())
    }
    /// Requests per second the steady phases ran at (the measured rate in closed-loop mode).
    fn steady_rate(&self) -> f64 {
        self.result.steady_rate.unwrap_or_else(|| self.item.rate())
    }

    /// `signal` had fewer than `need` values in one of the phases it is judged on (`got`:
    /// phase name and values there): never a silent gap nor a guess. When the sampling interval
    /// would have given enough samples, either the value could not be read in them or the
    /// sampler fell behind (a starved machine or a slow metrics endpoint: the run is then
    /// inconclusive); otherwise the phase is too short for the interval. `judged` signals
    /// (watched on purpose) error the item; others only warn.
    fn not_enough_samples(
        &self,
        f: &mut Findings,
        signal: &str,
        got: &[(&str, usize)],
        need: usize,
        judged: bool,
    ) {
        let interval = self.watch.interval.as_secs_f64();
        let counts = got
            .iter()
            .map(|(p, n)| format!("{n} in {p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let why = match got.iter().find(|(_, n)| *n < need) {
            None => "too few points for a trend".into(),
            Some(&(phase, n)) => {
                let p = self.idx(phase);
                let len = self.plan.phases[p].len.as_secs_f64();
                let due = (len / interval).floor() as usize;
                let taken = self
                    .samples
                    .iter()
                    .filter(|s| self.phase(s) == Some(p))
                    .count();
                if due < need {
                    format!(
                        "{phase} ({len:.1} s) holds fewer than {need} samples at one every {interval:.2} s: lengthen `duration` or shorten `watch.interval`"
                    )
                } else if taken >= need {
                    format!(
                        "it could not be read in {} of {taken} samples of {phase}",
                        taken - n
                    )
                } else {
                    f.saturated.push(format!(
                        "the sampler fell behind: {taken} samples in {phase} ({len:.1} s) where {due} were due, one every {interval:.2} s"
                    ));
                    "the sampler fell behind (a busy machine or a slow metrics endpoint)".into()
                }
            }
        };
        let msg = format!(
            "{signal}: not enough samples to judge ({counts}; {need} needed in each): {why}"
        );
        if judged {
            f.errored.push(msg);
        } else {
            f.warnings.push(msg);
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

pub(super) fn evaluate(cx: &CheckContext, inp: &Inputs<'_>) -> CheckOutput {
    let mut f = Findings::default();
    let p99 = traffic::judge(inp, &mut f);
    resources::judge(inp, &mut f);
    memory::judge(inp, &mut f);
    let artifacts = report::write(cx, inp, &mut f);
    outcome(inp, f, p99, artifacts)
}

fn outcome(
    inp: &Inputs<'_>,
    mut f: Findings,
    p99: f64,
    artifacts: Vec<std::path::PathBuf>,
) -> CheckOutput {
    let plan = inp.plan;
    let mut details = String::new();
    let _ = writeln!(
        details,
        "phases: {}",
        plan.phases
            .iter()
            .filter(|p| !p.len.is_zero())
            .map(|p| format!("{} {:.1}s", p.name, p.len.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for v in &f.verdicts {
        let tag = match v.status {
            Status::Passed => "ok  ",
            Status::Failed => "FAIL",
            _ => "ERR ",
        };
        let _ = writeln!(details, "{tag} {}: {}", v.signal, v.text);
    }
    for e in &f.errored {
        let _ = writeln!(details, "ERR  {e}");
    }
    let failed: Vec<&Verdict> = f
        .verdicts
        .iter()
        .filter(|v| v.status == Status::Failed)
        .collect();
    let headline = |vs: &[&Verdict]| {
        vs.iter()
            .map(|v| format!("{}: {}", v.signal, first_clause(&v.text)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut out = if !f.errored.is_empty() {
        let machine = if f.saturated.is_empty() {
            String::new()
        } else {
            format!(
                "; the machine was saturated ({}): rerun on a quieter machine",
                f.saturated.join("; ")
            )
        };
        CheckOutput::errored(format!("{}{machine}", f.errored.join("; ")))
    } else if !f.saturated.is_empty() && (!failed.is_empty() || f.saturated_always()) {
        // A starved machine makes slow answers, late sends and odd trends: not the app's fault.
        let what = if failed.is_empty() {
            String::new()
        } else {
            format!(
                "; what failed may be the machine's doing: {}",
                failed
                    .iter()
                    .map(|v| v.signal.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        CheckOutput::errored(format!(
            "inconclusive: {}{what}; rerun on a quieter machine",
            f.saturated.join("; ")
        ))
    } else if !failed.is_empty() {
        CheckOutput::failed(headline(&failed))
    } else {
        let load = match inp.load.connections {
            Some(n) => format!("{n} connections ({:.0} req/s)", inp.steady_rate()),
            None => format!("{} req/s", inp.item.rate()),
        };
        CheckOutput::passed(format!(
            "{load} (spike {}×) for {}: p99 {}, {} errors, no leak seen",
            inp.item.spike_factor(),
            humantime::format_duration(plan.total()),
            ms(p99),
            inp.result.total().failed()
        ))
    };
    if !f.saturated.is_empty() && out.status == Status::Passed {
        f.warnings.push(format!(
            "the machine was busy ({}); the run passed anyway",
            f.saturated.join("; ")
        ));
    }
    f.data.insert(
        "verdicts".into(),
        json!(
            f.verdicts
                .iter()
                .map(|v| json!({"signal": v.signal, "status": v.status, "text": v.text}))
                .collect::<Vec<_>>()
        ),
    );
    out = out
        .with_details(details)
        .with_data(serde_json::Value::Object(std::mem::take(&mut f.data)));
    for (k, v) in std::mem::take(&mut f.props) {
        out = out.with_property(k, v);
    }
    out.warnings = f.warnings;
    out.artifacts = artifacts;
    out
}

impl Findings {
    /// A generator that could not keep its schedule did not run the soak that was asked for,
    /// whatever the verdicts say.
    fn saturated_always(&self) -> bool {
        self.saturated
            .iter()
            .any(|s| s.starts_with("the generator"))
    }
}

/// The text up to the first `;` (the headline of a verdict).
fn first_clause(s: &str) -> &str {
    s.split(';').next().unwrap_or(s)
}

/// Minimum of each window of consecutive points (so a sawtooth of allocations and frees, or a
/// garbage-collected heap, reads as its post-collection troughs), at the window's mean time.
/// A window spans at least two collections when the series shows them (its falls), else a few
/// samples.
fn window_minima(pts: &[(f64, f64)]) -> (Vec<f64>, Vec<f64>) {
    let falls: Vec<usize> = (1..pts.len())
        .filter(|&i| pts[i].1 < pts[i - 1].1)
        .collect();
    let gaps: Vec<f64> = falls.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let per = match stats::median(&gaps) {
        Some(gap) if falls.len() >= 3 => {
            ((2.0 * gap).round() as usize).clamp(1, (pts.len() / 4).max(1))
        }
        _ => (pts.len() / 6).clamp(1, 5),
    };
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

/// A count or figure: whole numbers plain, others with one decimal, thousands separated.
fn fmt_n(v: f64) -> String {
    let s = if (v.fract() == 0.0 && v.abs() < 1e15) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    };
    group_thousands(&s)
}

fn group_thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map(|r| ("-", r)).unwrap_or(("", s));
    let (int, frac) = rest
        .split_once('.')
        .map(|(i, f)| (i, Some(f)))
        .unwrap_or((rest, None));
    if int.len() <= 3 {
        return s.to_string();
    }
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
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

/// A length of time for people: `9.5 h`, `3.2 d`, `40 min`.
fn span(secs: f64) -> String {
    if !secs.is_finite() {
        "never".into()
    } else if secs >= 2.0 * 86400.0 {
        format!("{:.1} d", secs / 86400.0)
    } else if secs >= 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.0} min", (secs / 60.0).max(1.0))
    }
}

#[cfg(test)]
mod judged;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_minima_take_the_floor_of_each_window() {
        let pts: Vec<(f64, f64)> = (0..12)
            .map(|i| (i as f64, if i % 2 == 0 { 10.0 + i as f64 } else { 100.0 }))
            .collect();
        // A collection every second sample: windows of two collections, at most a quarter of
        // the points.
        let (x, y) = window_minima(&pts);
        assert_eq!(x, vec![1.0, 4.0, 7.0, 10.0]);
        assert_eq!(y, vec![10.0, 14.0, 16.0, 20.0]);
        // A series that never falls (RSS): windows of a few samples.
        let rising: Vec<(f64, f64)> = (0..12).map(|i| (i as f64, i as f64)).collect();
        assert_eq!(
            window_minima(&rising).1,
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
    }

    #[test]
    fn windows_span_two_collections_of_a_sawtooth() {
        // A heap that grows 10 per sample and is collected back to 100 + t every 4th sample.
        let pts: Vec<(f64, f64)> = (0..40)
            .map(|i| (i as f64, 100.0 + i as f64 * 0.5 + (i % 4) as f64 * 10.0))
            .collect();
        let (_, y) = window_minima(&pts);
        assert_eq!(y.len(), 5);
        // Every window's minimum is a post-collection trough (i % 4 == 0).
        assert!(y.iter().all(|v| (v - 100.0) % 4.0 == 0.0), "{y:?}");
    }

    #[test]
    fn figures_for_people() {
        assert_eq!(fmt_n(5000.0), "5,000");
        assert_eq!(fmt_n(1234567.0), "1,234,567");
        assert_eq!(fmt_n(12.34), "12.3");
        assert_eq!(fmt_n(-20000.0), "-20,000");
        assert_eq!(span(9.5 * 3600.0), "9.5 h");
        assert_eq!(span(7.0 * 86400.0), "7.0 d");
        assert_eq!(bytes(216.0 * MIB), "216.0 MiB");
    }
}
