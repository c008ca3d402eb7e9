//! `[soak.NAME]` against real third-party apps started cold as `[service]`s, as a release
//! pipeline starts them (fixtures/soak-apps): gunicorn + Flask + SQLAlchemy's QueuePool on a
//! throwaway PostgreSQL cluster calling an nginx upstream, and nginx as a reverse proxy with
//! upstream keep-alive, and express with prom-client's default metrics. Each clean app must
//! pass; each real bug must fail by the signal that shows it. The apps' packages come from
//! `ci/install-deps.sh`. More cases (10 cold runs each, Python leaks of 300 B/request, 3-minute
//! Node soaks) are in `ci/soak-real-stress.sh`.
//!
//! A machine so busy that the app or the generator starves makes a run inconclusive
//! (errored, "rerun on a quieter machine"): such a run is retried (`judged`); a leak test passes
//! only when its leak failed, a clean-app test never with a resource or memory failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;

/// Soaks measure the machine they share: one at a time (with the shop's soaks too).
use super::soak::{ONE_AT_A_TIME, Outcome, assert_clean, assert_fails_on, judged, run_soak};

fn apps() -> PathBuf {
    let dir = support::repo().join("fixtures/soak-apps");
    assert!(
        dir.join(".venv/bin/gunicorn").exists() && dir.join("node/node_modules/express").exists(),
        "the soak apps' packages are missing: run `bash ci/install-deps.sh`"
    );
    dir
}

/// A throwaway PostgreSQL cluster in a temp dir, run as `postgres` (it refuses root).
struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL from apt (ci/install-deps.sh)")
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("initdb");
        let dir = support::tempdir();
        let chown = |p: &Path| {
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(p)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown postgres {}", p.display());
        };
        Command::new("chmod")
            .arg("755")
            .arg(dir.path())
            .status()
            .expect("chmod");
        chown(dir.path());
        let port = support::free_port();
        let as_postgres = |args: &[&str]| {
            let out = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .output()
                .expect("runuser");
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let data = dir.path().join("data");
        let (initdb, pg_ctl) = (bin.join("initdb"), bin.join("pg_ctl"));
        as_postgres(&[
            initdb.to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        as_postgres(&[
            pg_ctl.to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-l",
            dir.path().join("log").to_str().unwrap(),
            "-w",
            "-o",
            &opts,
            "start",
        ]);
        Postgres { dir, bin, port }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// Fills a checklist of fixtures/soak-apps/checklists (and the nginx configs it uses) in `dir`.
fn checklist(
    dir: &Path,
    name: &str,
    rate: u32,
    duration: &str,
    vars: &[(&str, &str)],
    extra: &str,
) {
    let apps = apps();
    let (port, upport) = (support::free_port(), support::free_port());
    let nginx = |tmpl: &str, sub: &str, port: u16| {
        let text = std::fs::read_to_string(apps.join("nginx").join(tmpl))
            .expect("nginx template")
            .replace("@DIR@", &dir.join(sub).display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@UPSTREAM@", &format!("127.0.0.1:{upport}"));
        support::write(&dir.join(sub), "nginx.conf", &text);
    };
    nginx("static.conf.tmpl", "upstream", upport);
    nginx("nginx.conf.tmpl", "proxy", port);
    let mut text = std::fs::read_to_string(apps.join("checklists").join(format!("{name}.toml")))
        .expect("checklist template")
        .replace("@APPS@", &apps.display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@UPPORT@", &upport.to_string())
        .replace("@DIR@", &dir.display().to_string())
        .replace("@RATE@", &rate.to_string())
        .replace("@DURATION@", duration)
        .replace("@EXTRA@", &format!("request_timeout = \"3s\"\n{extra}"));
    for (k, v) in vars {
        text = text.replace(&format!("@{k}@"), v);
    }
    let text = regex::Regex::new("@LEAK_[A-Z_]+@")
        .unwrap()
        .replace_all(&text, "0")
        .into_owned();
    support::write(dir, "x.toml", &text);
}

/// How long each app is soaked: what a short run can decide (the longer cases are in
/// `ci/soak-real-stress.sh`).
const SOAK: &str = "15s";

/// Soaks the app of `checklist` started cold ([`SOAK`], `rate` req/s) with leak switches `vars`.
fn soak(name: &str, rate: u32, vars: &[(&str, &str)]) -> Outcome {
    soak_for(name, rate, SOAK, vars)
}

/// [`soak`] for `duration`.
fn soak_for(name: &str, rate: u32, duration: &str, vars: &[(&str, &str)]) -> Outcome {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = support::tempdir();
    checklist(dir.path(), name, rate, duration, vars, "");
    let toml = std::fs::read_to_string(dir.path().join("x.toml")).expect("checklist");
    run_soak(dir, &toml)
}

/// A clean app, run again while the machine is too busy to judge it.
fn clean(name: &str, rate: u32, vars: &[(&str, &str)]) -> Outcome {
    judged(
        &format!("clean {name}"),
        &|| soak(name, rate, vars),
        &|_| false,
    )
}

#[test]
fn gunicorn_sqlalchemy_on_postgres_clean_passes_and_its_leaks_fail_on_their_signals() {
    // One cluster for both soaks (the database is the backend; each app starts cold).
    let pg = Postgres::start();
    let pgport = pg.port.to_string();
    let out = clean("gunicorn-pg", 30, &[("PGPORT", &pgport)]);
    assert_clean(
        &out,
        &[
            "open fds:",
            "sockets in CLOSE_WAIT",
            "backend connections to",
            "pool in use `sqlalchemy_pool_checked_out_connections`:",
            "memory:",
        ],
    );
    // The pool's idle connections stay open after the load: healthy, and seen.
    let backend = out
        .json
        .pointer("/items/0/data/resources")
        .and_then(|r| r.as_array())
        .and_then(|r| r.iter().find(|r| r["key"] == "backend"))
        .cloned()
        .unwrap_or_default();
    assert!(
        backend["steady_a"].as_f64().is_some_and(|n| n >= 1.0),
        "{backend}"
    );
    // The same app with three bugs, each failing on its own signal: two sessions never closed
    // (their connections stay checked out), upstream connections kept after their response
    // (the upstream closes them after 1 s: CLOSE_WAIT on the app's side), and 30,000 bytes kept
    // per database request. Odd periods: requests alternate between the two endpoints.
    let sessions =
        "pool in use `sqlalchemy_pool_checked_out_connections`: did not return to baseline";
    let close_wait = "sockets in CLOSE_WAIT";
    let memory = "memory: RSS (VmRSS) grows steadily";
    let out = judged(
        "gunicorn-pg with leaks",
        &|| {
            soak(
                "gunicorn-pg",
                30,
                &[
                    ("PGPORT", &pgport),
                    ("LEAK_SESSION_EVERY", "77"),
                    ("LEAK_UPSTREAM_EVERY", "5"),
                    ("LEAK_BYTES", "30000"),
                ],
            )
        },
        &|o| o.fails_on(sessions) && o.fails_on(close_wait) && o.fails_on(memory),
    );
    assert_fails_on(&out, sessions);
    assert!(out.details.contains("after cooldown 2 "), "{}", out.details);
    assert_fails_on(&out, close_wait);
    assert_fails_on(&out, memory);
}

#[test]
fn nginx_reverse_proxy_with_upstream_keepalive_passes() {
    let out = clean("nginx-proxy", 30, &[]);
    assert_clean(&out, &["open fds:", "sockets in CLOSE_WAIT", "memory:"]);
    // nginx's worker is a child of the service's process: watched too.
    assert!(out.details.contains("app (2 processes)"), "{}", out.details);
}

#[test]
fn express_clean_passes_and_a_closure_leak_of_300_bytes_per_request_fails_on_the_node_heap() {
    // 90 s at 300 req/s: the live heap is judged after 5 full collections under load after the
    // warm-up. V8 ran 6–7 of them in a minute on a quiet machine, but 4 on a busy CI machine
    // (a slower collector makes V8 grow the heap further between collections).
    let out = judged(
        "clean express",
        &|| soak_for("express", 300, "90s", &[]),
        &|_| false,
    );
    assert_clean(&out, &["open fds:", "memory:"]);
    if !out.inconclusive() {
        assert!(
            out.details
                .lines()
                .any(|l| l.starts_with("ok   memory: no significant trend")
                    && l.contains("the Node heap after full collections")),
            "{}",
            out.details
        );
    }
    // Every request registers a listener whose closure keeps about 300 bytes.
    let heap = "memory: the Node heap after full collections";
    let out = judged(
        "express with a closure leak",
        &|| soak_for("express", 300, "90s", &[("LEAK_CLOSURE_BYTES", "300")]),
        &|o| o.fails_on(heap),
    );
    assert_fails_on(&out, heap);
}
