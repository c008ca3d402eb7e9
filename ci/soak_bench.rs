//! Benchmark of the soak load generator (used by `ci/bench-soak.sh`).
//!
//! ```text
//! soak_bench serve PORT              a trivial HTTP/1.1 keep-alive server ("ok") on 127.0.0.1
//! soak_bench open URL RATE SECS      the open-model generator at RATE req/s
//! soak_bench closed URL CONNS SECS   closed loop: CONNS workers back to back (maximum rate)
//! ```
//! Prints one line of `key=value` figures, including the generator's own CPU time.

use std::time::{Duration, Instant};

use preflight::checks::soak::load::{self, LoadConfig, Plan, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we pass; no other memory is involved.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn target(url: &str) -> Target {
    Target {
        method: reqwest::Method::GET,
        url: reqwest::Url::parse(url).unwrap_or_else(|e| fail(&format!("bad URL `{url}`: {e}"))),
        headers: vec![],
        body: None,
        accept: None,
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("soak_bench: {msg}");
    std::process::exit(2)
}

fn num<T: std::str::FromStr>(s: Option<&String>, what: &str) -> T {
    s.and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fail(&format!("expected {what}")))
}

async fn serve(port: u16) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let _ = sock.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut have = 0usize;
            loop {
                let Ok(n) = sock.read(&mut buf[have..]).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                have += n;
                // Answer every complete request head in the buffer (GETs have no body).
                let mut out = Vec::new();
                while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                    out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok");
                    buf.copy_within(end + 4..have, 0);
                    have -= end + 4;
                }
                if have == buf.len() {
                    return;
                }
                if !out.is_empty() && sock.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    match args.first().map(String::as_str) {
        Some("serve") => rt.block_on(serve(num(args.get(1), "PORT"))),
        Some("open") => {
            let url = args.get(1).unwrap_or_else(|| fail("expected URL"));
            let rate: f64 = num(args.get(2), "RATE");
            let secs: f64 = num(args.get(3), "SECS");
            if !(rate > 0.0 && rate <= 50_000.0 && secs > 0.0 && secs <= 120.0) {
                fail("RATE must be in (0, 50000] and SECS in (0, 120]");
            }
            let cfg = LoadConfig {
                plan: Plan::new(&[("steady", Duration::from_secs_f64(secs), rate, rate)]),
                targets: vec![target(url)],
                order: vec![0],
                request_timeout: Duration::from_secs(5),
                max_in_flight: preflight::checks::soak::DEFAULT_MAX_IN_FLIGHT,
                connections: None,
                tls: Default::default(),
                base_dir: Default::default(),
            };
            let cpu0 = cpu_seconds();
            let wall0 = Instant::now();
            let r = rt.block_on(load::run(
                &cfg,
                tokio::time::Instant::now(),
                tokio_util::sync::CancellationToken::new(),
            ));
            let wall = wall0.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu0;
            let t = r.total();
            let q = |p: f64| t.latency.value_at_quantile(p) as f64 / 1000.0;
            println!(
                "mode=open target_rate={rate} planned={} sent={} ok={} errors={} {:?} dropped={} achieved_rate={:.1} achieved_pct={:.2} last_send_late_ms={:.1} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} wall_s={wall:.2} cpu_s={cpu:.2} cpu_cores={:.3}",
                t.planned,
                t.sent,
                t.ok,
                t.failed(),
                t.errors,
                t.dropped,
                t.sent as f64 / r.dispatched.as_secs_f64().max(secs),
                100.0 * t.sent as f64 / r.dispatched.as_secs_f64().max(secs) / rate,
                (r.dispatched.as_secs_f64() - r.last_scheduled.as_secs_f64()) * 1000.0,
                q(0.5),
                q(0.99),
                t.latency.max() as f64 / 1000.0,
                cpu / wall
            );
        }
        Some("closed") => {
            let url = args.get(1).unwrap_or_else(|| fail("expected URL"));
            let conns: usize = num(args.get(2), "CONNS");
            let secs: f64 = num(args.get(3), "SECS");
            if !((1..=1000).contains(&conns) && secs > 0.0 && secs <= 120.0) {
                fail("CONNS must be in 1..=1000 and SECS in (0, 120]");
            }
            let cpu0 = cpu_seconds();
            let (ok, err) = rt.block_on(load::closed_loop(
                target(url),
                conns,
                Duration::from_secs_f64(secs),
            ));
            let cpu = cpu_seconds() - cpu0;
            println!(
                "mode=closed conns={conns} ok={ok} errors={err} rate={:.0} cpu_cores={:.3}",
                ok as f64 / secs,
                cpu / secs
            );
        }
        _ => fail("usage: soak_bench serve PORT | open URL RATE SECS | closed URL CONNS SECS"),
    }
}
