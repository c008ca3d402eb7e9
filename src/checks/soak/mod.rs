//! `[soak.NAME]`: a short load run that watches the app's resources and fails on a leak, a
//! latency breach or a server that stops answering.
//!
//! The run goes through phases (warm-up → baseline → ramp → steady A → spike → steady B →
//! cooldown) while [`load`] drives an open-model (or closed-loop) load at the app and [`watch`]
//! samples its processes, their sockets and its metrics. [`verdict`] judges each signal with the
//! robust statistics of [`stats`]; [`chart`] draws it all.

pub mod chart;
pub mod load;
pub mod prom;
pub mod stats;
mod values;
mod verdict;
pub mod watch;

use std::net::IpAddr;
use std::ops::Range;
use std::time::Duration;

use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::http::{HttpUrl, Method};
use super::{Check, CheckContext, CheckOutput, ValidateContext};
use crate::syntax::{ByteSize, Dur, ItemErrorKind, OneOrMany, Template};
use load::{LoadConfig, Plan, Target};
use prom::Selector;
pub use values::PidSpec;
use watch::WatchConfig;

/// Highest arrival rate (requests/s, spike included) a checklist may ask for.
pub const MAX_RATE: f64 = 50_000.0;
/// Longest soak a checklist may ask for.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Shortest soak that leaves every phase a few samples.
pub const MIN_DURATION: Duration = Duration::from_secs(5);
const DEFAULT_RATE: f64 = 50.0;
const DEFAULT_DURATION: Duration = Duration::from_secs(60);
const DEFAULT_SPIKE: f64 = 4.0;
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Each request in flight holds a connection of its own (HTTP/1.1): a stalled app is not
/// flooded with more than this many (nginx's default `worker_connections 512` counts both ends
/// of a proxied request).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;
const DEFAULT_MAX_ERROR_RATE: f64 = 0.01;
/// How long `memory_headroom` must last when `min_uptime` is not given.
const DEFAULT_MIN_UPTIME: Duration = Duration::from_secs(7 * 86400);
/// Most connections a closed-loop soak may open.
pub const MAX_CONNECTIONS: usize = 10_000;

crate::item_config! {
    tls;
    /// Load for a while; fail on leaks (fds, connections, pool, memory trend), latency
    /// breaches, errors and timeouts.
    pub struct SoakItem {
        /// A `[service.NAME]` whose process is watched.
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        pub service: Option<Spanned<String>>,
        /// Requests per second in the steady phases (default 50).
        #[serde(default)]
        #[schemars(with = "Option<f64>")]
        pub rate: Option<Spanned<f64>>,
        /// Closed loop instead of an open model: this many connections, each sending its next
        /// request when the last one returned (a capacity check; excludes `rate`).
        #[serde(default)]
        #[schemars(with = "Option<usize>")]
        pub connections: Option<Spanned<usize>>,
        /// Whole run, all phases (default 60s).
        #[serde(default)]
        #[schemars(with = "Option<Dur>")]
        pub duration: Option<Spanned<Dur>>,
        pub requests: Vec<RequestSpec>,
        #[serde(default)]
        pub watch: Option<WatchSpec>,
        /// Phase lengths (default: shares of `duration`).
        #[serde(default)]
        pub phases: Option<PhaseSpec>,
        /// Spike rate as a multiple of `rate` (default 4).
        #[serde(default)]
        #[schemars(with = "Option<f64>")]
        pub spike: Option<Spanned<f64>>,
        /// Per-request timeout (default 5s); a request not answered in time counts as a timeout.
        #[serde(default)]
        pub request_timeout: Option<Dur>,
        /// Requests in flight (connections) beyond this are dropped and counted (default 256).
        #[serde(default)]
        #[schemars(with = "Option<usize>")]
        pub max_in_flight: Option<Spanned<usize>>,
        #[serde(default)]
        pub max_p50: Option<Dur>,
        #[serde(default)]
        pub max_p95: Option<Dur>,
        #[serde(default)]
        pub max_p99: Option<Dur>,
        /// Failed requests over sent requests (default 0.01).
        #[serde(default)]
        #[schemars(with = "Option<f64>")]
        pub max_error_rate: Option<Spanned<f64>>,
        /// Memory growth per hour that fails (default: max(10% of baseline, 64 MiB)).
        #[serde(default)]
        pub max_memory_growth: Option<ByteSize>,
        /// Requests per second in production: growth per request is projected at this rate.
        #[serde(default)]
        #[schemars(with = "Option<f64>")]
        pub production_rate: Option<Spanned<f64>>,
        /// Memory the app may still grow by in production (e.g. the container limit minus the
        /// steady level): fails when the leak would use it up before `min_uptime`.
        #[serde(default)]
        pub memory_headroom: Option<ByteSize>,
        /// How long the app must run between deploys or restarts (default 7d with a headroom).
        #[serde(default)]
        pub min_uptime: Option<Dur>,
        /// Allow load against hosts that are not loopback (off: load only goes to 127.0.0.1/::1).
        #[serde(default)]
        pub allow_remote: bool,
    }
}

/// One kind of request of the mix.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default)]
    pub method: Option<Method>,
    #[schemars(with = "HttpUrl")]
    pub url: Spanned<HttpUrl>,
    #[serde(default)]
    pub headers: IndexMap<String, Template>,
    #[serde(default)]
    pub body: Option<Template>,
    /// Share of the mix (default 1).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub weight: Option<Spanned<u32>>,
    /// Statuses that count as success (default: any below 400).
    #[serde(default)]
    pub status: Option<OneOrMany<u16>>,
}

/// What to watch besides the load's own figures.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchSpec {
    /// A Prometheus text-format endpoint.
    #[serde(default)]
    pub metrics: Option<HttpUrl>,
    /// A pid, or `"service"` for the item's service.
    #[serde(default)]
    #[schemars(with = "Option<PidSpec>")]
    pub pid: Option<Spanned<PidSpec>>,
    /// A file holding the pid (relative to the checklist).
    #[serde(default)]
    pub pid_file: Option<Template>,
    /// The app's listening port (default: the first request's port).
    #[serde(default)]
    pub tcp_port: Option<u16>,
    /// A backend's port (database) whose established connections to count.
    #[serde(default)]
    pub backend_port: Option<u16>,
    /// Extra countable gauges from `metrics`, like `hikaricp_connections_active`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub gauges: Vec<Spanned<String>>,
    /// Gauges of requests waiting for a pooled resource: non-zero at the end fails.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub waiters: Vec<Spanned<String>>,
    /// The memory series to judge, `name` or `name{label="value"}` from `metrics` (default: a
    /// known live-heap gauge when the endpoint has one, else RSS).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub memory: Option<Spanned<String>>,
    /// Sampling interval (default: duration/50 within 100ms..1s).
    #[serde(default)]
    pub interval: Option<Dur>,
}

/// Phase lengths; unset ones come from `duration`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    /// Load at `rate` with a burst at the spike rate before anything is measured, so pools,
    /// caches, JITs and allocator arenas reach their working size (`"0s"`: none).
    #[serde(default)]
    pub warmup: Option<Dur>,
    #[serde(default)]
    pub baseline: Option<Dur>,
    #[serde(default)]
    pub ramp: Option<Dur>,
    /// Each of the two steady phases.
    #[serde(default)]
    pub steady: Option<Dur>,
    #[serde(default)]
    pub spike: Option<Dur>,
    #[serde(default)]
    pub cooldown: Option<Dur>,
}

/// Gauges of pooled connections in use that are watched whenever the endpoint has them.
const KNOWN_POOL_GAUGES: &[&str] = &[
    "shop_db_pool_connections_in_use",
    "hikaricp_connections_active",
    "go_sql_in_use_connections",
];
/// Gauges of requests waiting for a pooled connection.
const KNOWN_WAITER_GAUGES: &[&str] = &["shop_db_pool_waiting", "hikaricp_connections_pending"];
/// Live-heap gauges, best first, judged instead of RSS when the endpoint has one: Node
/// (prom-client), Go (client_golang), JVM (Micrometer: old generation after GC, then the heap),
/// .NET (prometheus-net).
const KNOWN_HEAP_GAUGES: &[&str] = &[
    "nodejs_heap_size_used_bytes",
    "go_memstats_heap_inuse_bytes",
    "jvm_gc_live_data_size_bytes",
    "jvm_memory_used_bytes{area=\"heap\"}",
    "dotnet_total_memory_bytes",
];

/// Node (prom-client): full (mark-sweep-compact) collections, and the young generation's spaces.
/// The heap minus its young generation right after a full collection is the live old
/// generation: what a leak fills. Between full collections it also holds promoted garbage,
/// which climbs with requests in a healthy app too.
const NODE_FULL_GC_COUNT: &str = "nodejs_gc_duration_seconds_count{kind=\"major\"}";
const NODE_HEAP_USED: &str = "nodejs_heap_size_used_bytes";
const NODE_YOUNG_SPACES: &[&str] = &[
    "nodejs_heap_space_size_used_bytes{space=\"new\"}",
    "nodejs_heap_space_size_used_bytes{space=\"new_large_object\"}",
];

/// Whether a gauge, by its name, counts things held only while a request is in flight
/// (checked out, in use, active, waiting): those must be back at their idle level after the
/// cooldown. Other gauges (idle or total pool connections, cache sizes) are sized by the highest
/// concurrency seen and are judged by whether they grow with requests.
fn must_return_to_zero(gauge: &str) -> bool {
    let name = gauge
        .split('{')
        .next()
        .unwrap_or(gauge)
        .to_ascii_lowercase();
    [
        "in_use",
        "inuse",
        "checked_out",
        "checkedout",
        "active",
        "pending",
        "waiting",
        "waiters",
        "busy",
        "borrowed",
        "leased",
        "acquired",
    ]
    .iter()
    .any(|w| name.contains(w))
}

type ValidateError = crate::syntax::ItemError;

fn invalid(message: String, span: Option<Range<usize>>) -> ValidateError {
    (ItemErrorKind::Invalid { message }, span)
}

impl SoakItem {
    fn rate(&self) -> f64 {
        self.rate
            .as_ref()
            .map(|r| *r.get_ref())
            .unwrap_or(DEFAULT_RATE)
    }
    fn duration(&self) -> Duration {
        self.duration
            .as_ref()
            .map(|d| d.get_ref().get())
            .unwrap_or(DEFAULT_DURATION)
    }
    fn spike_factor(&self) -> f64 {
        self.spike
            .as_ref()
            .map(|s| *s.get_ref())
            .unwrap_or(DEFAULT_SPIKE)
    }
    fn request_timeout(&self) -> Duration {
        self.request_timeout
            .map(Dur::get)
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT)
    }

    /// The phases: explicit lengths where given, shares of `duration` otherwise. In closed-loop
    /// mode the phases' levels are numbers of connections, not rates.
    fn plan(&self) -> Plan {
        let d = self.duration().as_secs_f64();
        let p = self.phases.clone().unwrap_or_default();
        let len = |given: Option<Dur>, share: f64| {
            given
                .map(Dur::get)
                .unwrap_or_else(|| Duration::from_secs_f64(d * share))
        };
        let rate = match &self.connections {
            Some(c) => *c.get_ref() as f64,
            None => self.rate(),
        };
        let steady = len(p.steady, 0.25);
        let warmup = len(p.warmup, 0.15);
        let burst = rate * self.spike_factor();
        Plan::new(&[
            ("warm-up", warmup.mul_f64(0.6), rate, rate),
            ("warm-up spike", warmup.mul_f64(0.4), burst, burst),
            ("baseline", len(p.baseline, 0.05), 0.0, 0.0),
            ("ramp", len(p.ramp, 0.05), 0.0, rate),
            ("steady A", steady, rate, rate),
            (
                "spike",
                len(p.spike, 0.10),
                rate * self.spike_factor(),
                rate * self.spike_factor(),
            ),
            ("steady B", steady, rate, rate),
            ("cooldown", len(p.cooldown, 0.15), 0.0, 0.0),
        ])
    }

    fn interval(&self) -> Duration {
        if let Some(i) = self.watch.as_ref().and_then(|w| w.interval) {
            return i.get();
        }
        (self.plan().total() / 100).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }
}

impl Check for SoakItem {
    fn default_timeout(&self) -> Option<Duration> {
        Some(self.plan().total() + self.request_timeout() + Duration::from_secs(30))
    }

    fn validate(&self, cx: &ValidateContext<'_>) -> Result<(), ValidateError> {
        if let Some(name) = &self.service
            && !cx.services.iter().any(|s| s == name.get_ref())
        {
            let suggestion =
                crate::suggest::closest(name.get_ref(), cx.services.iter().map(String::as_str));
            return Err((
                ItemErrorKind::UnknownService {
                    name: name.get_ref().clone(),
                    suggestion,
                },
                Some(name.span()),
            ));
        }
        if self.requests.is_empty() {
            return Err(invalid(
                "`requests` is empty: add at least one `{ url = \"...\" }`".into(),
                None,
            ));
        }
        if let Some(r) = &self.rate {
            let v = *r.get_ref();
            if !(v.is_finite() && v > 0.0 && v <= MAX_RATE) {
                return Err(invalid(
                    format!("`rate` must be above 0 and at most {MAX_RATE} requests/s, got {v}"),
                    Some(r.span()),
                ));
            }
        }
        if let Some(c) = &self.connections {
            if let Some(r) = &self.rate {
                return Err(invalid(
                    "`connections` (a closed loop) and `rate` (an open model) exclude each other: keep one".into(),
                    Some(r.span()),
                ));
            }
            let n = *c.get_ref();
            let peak = (n as f64 * self.spike_factor()).ceil();
            if n == 0 || peak > MAX_CONNECTIONS as f64 {
                return Err(invalid(
                    format!(
                        "`connections` must be at least 1 and, times `spike`, at most {MAX_CONNECTIONS}; got {n} (spike {peak})"
                    ),
                    Some(c.span()),
                ));
            }
        }
        if let Some(r) = &self.production_rate {
            let v = *r.get_ref();
            if !(v.is_finite() && v > 0.0 && v <= 1e9) {
                return Err(invalid(
                    format!("`production_rate` must be a rate above 0 (requests/s), got {v}"),
                    Some(r.span()),
                ));
            }
        }
        if self.min_uptime.is_some() && self.memory_headroom.is_none() {
            return Err(invalid(
                "`min_uptime` needs `memory_headroom` (the memory that must last that long)".into(),
                None,
            ));
        }
        if let Some(u) = self.min_uptime
            && u.get().is_zero()
        {
            return Err(invalid("`min_uptime` must be above 0".into(), None));
        }
        if self.connections.is_some() {
            // The rate limits below are about the open model.
        } else if let Some(s) = &self.spike {
            let v = *s.get_ref();
            if !(v.is_finite() && (1.0..=20.0).contains(&v)) {
                return Err(invalid(
                    format!("`spike` must be between 1 and 20 (times `rate`), got {v}"),
                    Some(s.span()),
                ));
            }
            if v * self.rate() > MAX_RATE {
                return Err(invalid(
                    format!(
                        "`spike` × `rate` = {} requests/s, over the limit of {MAX_RATE}",
                        v * self.rate()
                    ),
                    Some(s.span()),
                ));
            }
        } else if self.rate() * DEFAULT_SPIKE > MAX_RATE {
            let span = self.rate.as_ref().map(|r| r.span());
            return Err(invalid(
                format!(
                    "the spike (4 × `rate`) would exceed {MAX_RATE} requests/s: lower `rate` or set `spike`"
                ),
                span,
            ));
        }
        let total = self.plan().total();
        if !(MIN_DURATION..=MAX_DURATION).contains(&total) {
            let span = self.duration.as_ref().map(|d| d.span());
            return Err(invalid(
                format!(
                    "the soak lasts {}: it must last between {} and {}",
                    humantime::format_duration(total),
                    humantime::format_duration(MIN_DURATION),
                    humantime::format_duration(MAX_DURATION)
                ),
                span,
            ));
        }
        if let Some(m) = &self.max_in_flight
            && !(1..=100_000).contains(m.get_ref())
        {
            return Err(invalid(
                "`max_in_flight` must be between 1 and 100000".into(),
                Some(m.span()),
            ));
        }
        if let Some(e) = &self.max_error_rate
            && !(0.0..=1.0).contains(e.get_ref())
        {
            return Err(invalid(
                format!(
                    "`max_error_rate` is a fraction between 0 and 1, got {}",
                    e.get_ref()
                ),
                Some(e.span()),
            ));
        }
        let total_weight: u64 = self
            .requests
            .iter()
            .map(|r| u64::from(r.weight.as_ref().map(|w| *w.get_ref()).unwrap_or(1)))
            .sum();
        for r in &self.requests {
            if let Some(w) = &r.weight
                && !(1..=1000).contains(w.get_ref())
            {
                return Err(invalid(
                    "`weight` must be between 1 and 1000".into(),
                    Some(w.span()),
                ));
            }
            if !self.allow_remote
                && let Some(host) = r.url.get_ref().0.host_str()
                && let Some(reason) = non_loopback(host)
            {
                return Err(invalid(
                    format!(
                        "{reason}: soak load only goes to loopback (127.0.0.1, ::1, localhost) unless `allow_remote = true`"
                    ),
                    Some(r.url.span()),
                ));
            }
        }
        if total_weight == 0 {
            return Err(invalid("the request weights add up to 0".into(), None));
        }
        if let Some(w) = &self.watch {
            if let Some(pid) = &w.pid
                && *pid.get_ref() == PidSpec::Service
                && self.service.is_none()
            {
                return Err(invalid(
                    "`watch.pid = \"service\"` needs the item's `service`".into(),
                    Some(pid.span()),
                ));
            }
            for g in w.gauges.iter().chain(&w.waiters).chain(&w.memory) {
                if let Err(e) = Selector::parse(g.get_ref()) {
                    return Err(invalid(e, Some(g.span())));
                }
            }
            if (w.gauges.is_empty() && w.waiters.is_empty() && w.memory.is_none())
                || w.metrics.is_some()
            {
            } else {
                let span = w
                    .gauges
                    .first()
                    .or(w.waiters.first())
                    .or(w.memory.as_ref())
                    .map(|g| g.span());
                return Err(invalid("`watch.gauges`/`watch.waiters`/`watch.memory` need `watch.metrics` (the endpoint to read them from)".into(), span));
            }
            if let Some(i) = w.interval
                && (i.get() < Duration::from_millis(50) || i.get() > Duration::from_secs(60))
            {
                return Err(invalid(
                    "`watch.interval` must be between 50ms and 60s".into(),
                    None,
                ));
            }
        }
        self.tls().check().map_err(|e| invalid(e, None))?;
        Ok(())
    }

    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move {
            let mut out = match self.prepare(cx).await {
                Ok((load_cfg, watch_cfg)) => run_soak(self, cx, load_cfg, watch_cfg).await,
                Err(out) => out,
            };
            if let Some(w) = self.tls().warning() {
                out.warnings.push(w);
                out = out.with_property("tls", "insecure");
            }
            out
        })
    }
}

/// Why a host is not loopback, for an IP or `localhost`; `None` when it is (or is a name that
/// can only be judged once resolved).
fn non_loopback(host: &str) -> Option<String> {
    match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) if !ip.is_loopback() => Some(format!("`{ip}` is not a loopback address")),
        _ => None,
    }
}

impl SoakItem {
    /// Resolves everything that needs the run: the pid, the targets' addresses, the ports.
    async fn prepare(&self, cx: &CheckContext) -> Result<(LoadConfig, WatchConfig), CheckOutput> {
        let spec = self.watch.clone().unwrap_or_default();
        // The watched process.
        let mut pid = None;
        match spec.pid.as_ref().map(|p| p.get_ref().clone()) {
            Some(PidSpec::Pid(p)) => pid = Some(p),
            Some(PidSpec::Service) | None => {
                if let Some(name) = &self.service {
                    match cx.services.get(name.get_ref()) {
                        Some(info) => pid = Some(info.pid),
                        None => {
                            return Err(CheckOutput::errored(format!(
                                "service `{}` is not running in this run, so there is no process to watch",
                                name.get_ref()
                            )));
                        }
                    }
                }
            }
        }
        if let Some(file) = &spec.pid_file {
            let path = cx.base_dir().join(file.as_str());
            let text = std::fs::read_to_string(&path).map_err(|e| {
                CheckOutput::errored(format!("cannot read pid file `{}`: {e}", path.display()))
            })?;
            let p = text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    CheckOutput::errored(format!(
                        "pid file `{}` does not hold a pid: `{}`",
                        path.display(),
                        text.trim()
                    ))
                })?;
            pid = Some(p);
        }
        if let Some(p) = pid
            && !std::path::Path::new(&format!("/proc/{p}/status")).exists()
        {
            return Err(CheckOutput::errored(format!(
                "process {p} is not running (no /proc/{p})"
            )));
        }
        // Targets: only loopback unless allowed, checked on the resolved addresses.
        let mut targets = Vec::new();
        let mut weights = Vec::new();
        for r in &self.requests {
            let url = r.url.get_ref().0.clone();
            if !self.allow_remote {
                let host = url
                    .host_str()
                    .unwrap_or_default()
                    .trim_matches(['[', ']'])
                    .to_string();
                let port = url.port_or_known_default().unwrap_or(80);
                let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
                    Ok(ip) => vec![ip],
                    Err(_) => match tokio::net::lookup_host((host.as_str(), port)).await {
                        Ok(a) => a.map(|s| s.ip()).collect(),
                        Err(e) => {
                            return Err(CheckOutput::errored(format!(
                                "cannot resolve `{host}`: {e}"
                            )));
                        }
                    },
                };
                if addrs.is_empty() || addrs.iter().any(|ip| !ip.is_loopback()) {
                    return Err(CheckOutput::errored(format!(
                        "refusing to load `{url}`: `{host}` resolves to {} (not loopback); soak load only goes to loopback unless `allow_remote = true`",
                        addrs
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            targets.push(Target {
                method: r
                    .method
                    .as_ref()
                    .map(|m| m.0.clone())
                    .unwrap_or(reqwest::Method::GET),
                url,
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect(),
                body: r.body.as_ref().map(|b| b.to_string()),
                accept: r.status.as_ref().map(|s| s.to_vec()),
            });
            weights.push(r.weight.as_ref().map(|w| *w.get_ref()).unwrap_or(1));
        }
        // A certificate the client refuses would fail every request alike: say why, once,
        // before any load.
        if let Some(t) = targets.iter().find(|t| t.url.scheme() == "https") {
            load::certificate_accepted(&t.url, &self.tls(), cx.base_dir(), self.request_timeout())
                .await
                .map_err(CheckOutput::errored)?;
        }
        let tcp_port = spec
            .tcp_port
            .or_else(|| targets.first().and_then(|t| t.url.port_or_known_default()));
        let mut series: Vec<(String, Selector)> = Vec::new();
        if spec.metrics.is_some() {
            let std_names = [
                "process_resident_memory_bytes",
                "process_open_fds",
                "process_start_time_seconds",
            ];
            let named = std_names
                .iter()
                .chain(KNOWN_POOL_GAUGES)
                .chain(KNOWN_WAITER_GAUGES)
                .chain(KNOWN_HEAP_GAUGES)
                .chain(&[NODE_FULL_GC_COUNT])
                .chain(NODE_YOUNG_SPACES)
                .map(|n| n.to_string())
                .chain(
                    spec.gauges
                        .iter()
                        .chain(&spec.waiters)
                        .chain(&spec.memory)
                        .map(|g| g.get_ref().clone()),
                );
            for n in named {
                if series.iter().any(|(have, _)| *have == n) {
                    continue;
                }
                if let Ok(sel) = Selector::parse(&n) {
                    series.push((n, sel));
                }
            }
        }
        let load_cfg = LoadConfig {
            plan: self.plan(),
            targets,
            order: load::weighted_order(&weights),
            request_timeout: self.request_timeout(),
            connections: self.connections.as_ref().map(|c| *c.get_ref()),
            tls: self.tls(),
            base_dir: cx.base_dir().to_path_buf(),
            max_in_flight: self
                .max_in_flight
                .as_ref()
                .map(|m| *m.get_ref())
                .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        };
        let watch_cfg = WatchConfig {
            pid,
            tcp_port,
            backend_port: spec.backend_port,
            metrics: spec.metrics.map(|m| m.0),
            series,
            interval: self.interval(),
            tls: self.tls(),
            base_dir: cx.base_dir().to_path_buf(),
        };
        Ok((load_cfg, watch_cfg))
    }
}

/// Aborts a spawned task when dropped (the item's future may be dropped on timeout/Ctrl-C).
struct AbortOnDrop<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            h.abort();
        }
    }
}

async fn run_soak(
    item: &SoakItem,
    cx: &CheckContext,
    load_cfg: LoadConfig,
    watch_cfg: WatchConfig,
) -> CheckOutput {
    let plan = load_cfg.plan.clone();
    let needed = plan.total() + load_cfg.request_timeout + Duration::from_secs(3);
    if cx.timeout < needed {
        return CheckOutput::errored(format!(
            "the item's timeout ({}) is shorter than the soak needs ({}): raise `timeout` or shorten `duration`",
            humantime::format_duration(cx.timeout),
            humantime::format_duration(needed)
        ));
    }
    // A short lead so the watcher's first tick and the first send share one clock.
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let stop = cx.cancel.child_token();
    let mut watcher = AbortOnDrop(Some(tokio::spawn(watch::run(
        watch_cfg.clone(),
        start,
        stop.clone(),
    ))));
    let loaded = load::run(&load_cfg, start, stop.clone()).await;
    // The cooldown starts once every request is done, so the app is idle while it is sampled.
    let cooldown = plan.phases.last().map(|p| p.len).unwrap_or_default();
    let load_end = plan.phases.last().map(|p| p.start).unwrap_or_default();
    let cooldown_start = load_end.max(loaded.drained);
    tokio::select! {
        _ = tokio::time::sleep_until(start + cooldown_start + cooldown) => {}
        _ = cx.cancel.cancelled() => {}
    }
    stop.cancel();
    let samples = match watcher.0.take() {
        Some(handle) => match handle.await {
            Ok(s) => s,
            Err(e) => {
                return CheckOutput::errored(format!(
                    "the resource watcher stopped unexpectedly: {e}"
                ));
            }
        },
        None => Vec::new(),
    };
    if cx.cancel.is_cancelled() {
        return CheckOutput::errored("interrupted");
    }
    let inputs = verdict::Inputs {
        item,
        plan: &plan,
        load: &load_cfg,
        watch: &watch_cfg,
        result: &loaded,
        samples: &samples,
        cooldown_start: cooldown_start.as_secs_f64(),
    };
    verdict::evaluate(cx, &inputs)
}
