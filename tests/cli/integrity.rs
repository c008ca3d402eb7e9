//! Run integrity: the gate holds against a hostile environment. Special report files, signals
//! during the run and the deploy, leftover processes, ports taken by a stale server, huge
//! output, encoded secrets, shell metacharacters in vars, TLS, acks and the terminal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

const OK: &str = "[command.ok]\nrun = \"true\"\n";

/// A `preflight` run in the background whose stderr (and stdout) are collected as they arrive.
struct Live {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Live {
    fn start(dir: &Path, args: &[&str]) -> Live {
        Self::start_with(preflight().current_dir(dir).args(args))
    }

    fn start_with(cmd: &mut Command) -> Live {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn preflight");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Live { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        eventually(timeout, || self.stderr().contains(needle))
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits up to `timeout` for the exit code; kills it (and fails) if it does not exit.
    fn finish(mut self, timeout: Duration) -> (i32, String) {
        let end = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code().unwrap_or(-1), self.stderr());
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "preflight did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs `preflight ARGS` in `dir` with extra environment variables.
fn run_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = preflight();
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run preflight");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json_report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// 1. Report files that are not plain files.

#[test]
fn reports_go_through_symlinks_fifos_sockets_and_stdout() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "c.toml", OK);

    // A symlink: the file it points to is updated; the link stays a link.
    std::fs::create_dir(d.join("real")).unwrap();
    std::os::unix::fs::symlink("real/target.json", d.join("link.json")).unwrap();
    let r = run_in(d, &["run", "c.toml", "--json", "link.json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let link = std::fs::symlink_metadata(d.join("link.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the symlink was replaced");
    assert!(read(&d.join("real/target.json")).contains("\"format_version\""));

    // `-` is stdout.
    let r = run_in(d, &["run", "c.toml", "--json", "-"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert_eq!(json["gate"], "open");
    assert!(!d.join("-").exists());

    // /dev/fd/1 and /dev/stdout are stdout too (here a pipe).
    for path in ["/dev/fd/1", "/dev/stdout"] {
        let r = run_in(d, &["run", "c.toml", "--junit", path]);
        assert_eq!(r.code, 0, "{path}: {}", r.all());
        assert!(r.stdout.contains("<testsuites"), "{path}: {}", r.all());
    }

    // A FIFO: its reader gets the report, and it stays a FIFO.
    let fifo = d.join("pipe.xml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = Command::new("timeout")
        .args(["20", "cat"])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .spawn()
        .expect("cat");
    let r = run_in(d, &["run", "c.toml", "--junit", "pipe.xml"]);
    let got = reader.wait_with_output().unwrap();
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        String::from_utf8_lossy(&got.stdout).contains("<testsuites"),
        "the FIFO's reader got nothing"
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // A unix socket: written to whoever listens.
    let sock = d.join("sock.json");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let server = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok((mut s, _)) = listener.accept() {
                s.set_nonblocking(false).unwrap();
                let mut text = String::new();
                let _ = s.read_to_string(&mut text);
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        String::new()
    });
    let r = run_in(d, &["run", "c.toml", "--json", "sock.json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(server.join().unwrap().contains("\"format_version\""));
    assert!(
        std::fs::symlink_metadata(&sock)
            .unwrap()
            .file_type()
            .is_socket()
    );
}

#[test]
fn a_report_that_cannot_be_written_closes_the_gate_with_the_reason_last() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "c.toml", OK);
    std::os::unix::fs::symlink("/dev/full", d.join("full.json")).unwrap();
    let r = run_in(d, &["run", "c.toml", "--json", "full.json"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("No space left on device"), "{}", r.all());
    assert!(!r.stderr.contains("gate: OPEN"), "{}", r.all());
    let last = last_line(&r.stderr);
    assert!(
        last.starts_with("gate: CLOSED") && last.contains("JSON report"),
        "the verdict is not the last line, with its reason: {}",
        r.all()
    );
    assert!(
        std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn the_same_report_path_twice_is_a_usage_error() {
    let dir = tempdir();
    write(dir.path(), "c.toml", OK);
    let r = run_in(
        dir.path(),
        &["run", "c.toml", "--junit", "out", "--json", "./out"],
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("same file"), "{}", r.all());
    let r = run_in(
        dir.path(),
        &["run", "c.toml", "--junit", "-", "--json", "-"],
    );
    assert_eq!(r.code, 2, "{}", r.all());
}

// ---------------------------------------------------------------------------------------------
// 2. Secrets: in parse errors, in URL userinfo, in encoded forms.

#[test]
fn parse_errors_redact_secrets_and_url_userinfo() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "secret.toml",
        "[vars]\ntok = { env = \"INTEGRITY_TOKEN\", secret = true }\n\n[http.deploy]\nurl = \"http://deploy:${tok}@bad host/\"\n",
    );
    let r = run_env(
        d,
        &[("INTEGRITY_TOKEN", "tok-9f8e7d6c5b")],
        &["validate", "secret.toml"],
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("invalid URL"), "{}", r.all());
    assert!(!r.all().contains("tok-9f8e7d6c5b"), "{}", r.all());

    write(
        d,
        "literal.toml",
        "[http.deploy]\nurl = \"http://deploy:hunter2-literal@bad host/\"\n",
    );
    let r = run_in(d, &["validate", "literal.toml"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(!r.all().contains("hunter2-literal"), "{}", r.all());

    // A secret so short that redacting it reveals it is warned about.
    write(
        d,
        "short.toml",
        "[vars]\npin = { value = \"abc\", secret = true }\n\n[command.ok]\nrun = \"true\"\n",
    );
    let r = run_in(d, &["validate", "short.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains("warning") && r.stderr.contains("`pin`"),
        "{}",
        r.all()
    );
}

/// A loopback HTTP server that answers every request with 200 and the request head as body.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let mut out = &stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
                    head.len()
                );
            });
        }
    });
    port
}

#[test]
fn encoded_forms_of_secrets_are_redacted() {
    use base64::Engine as _;
    let dir = tempdir();
    let d = dir.path();
    let port = echo_server();
    let secret = "s3cr3t/t0ken+v&lue?";
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let pct: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let forms = [
        b64.encode(secret),
        b64url.encode(secret),
        hex.clone(),
        hex.to_uppercase(),
        pct.clone(),
        b64.encode(format!("deploy:{secret}")),
        b64.encode(format!("admin:{}", "plainpw-123456")),
    ];
    write(
        d,
        "c.toml",
        &format!(
            r#"[vars]
tok = {{ env = "INTEGRITY_TOKEN", secret = true }}

[command.encodings]
run = ["printf", "%s\n", "{}", "{}", "{}", "{}", "{}"]
stdout_contains = "never printed"

[http.echo]
url = "http://deploy:${{tok:url}}@127.0.0.1:{port}/"
body_contains = "never echoed"

[http.literal]
url = "http://admin:plainpw-123456@127.0.0.1:{port}/"
body_contains = "never echoed"
"#,
            forms[0], forms[1], forms[2], forms[3], forms[4]
        ),
    );
    let r = run_env(
        d,
        &[("INTEGRITY_TOKEN", secret)],
        &["run", "c.toml", "--json", "out.json", "--junit", "out.xml"],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let json = read(&d.join("out.json"));
    let xml = read(&d.join("out.xml"));
    assert!(
        json.contains("Authorization") || json.contains("authorization"),
        "the echo server's answer is not in the report: {json}"
    );
    for (what, text) in [("terminal", r.all()), ("json", json), ("junit", xml)] {
        assert!(!text.contains(secret), "{what}: the secret leaked:\n{text}");
        assert!(
            !text.contains("plainpw-123456"),
            "{what}: userinfo leaked:\n{text}"
        );
        for f in &forms {
            assert!(!text.contains(f.as_str()), "{what}: `{f}` leaked:\n{text}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. `gate`: the deploy gets the signal and time to stop.

#[test]
fn gate_forwards_a_signal_to_the_deploy_and_waits_for_it() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "c.toml", OK);
    write(
        d,
        "deploy.sh",
        "trap 'echo stopped > stopped; exit 3' TERM\n(trap '' TERM; exec sleep 4731) &\necho started > started\nwait\n",
    );
    let live = Live::start(d, &["gate", "c.toml", "--", "sh", "deploy.sh"]);
    assert!(
        eventually(Duration::from_secs(20), || d.join("started").exists()
            && process_running("sleep 4731")),
        "the deploy did not start: {}",
        live.stderr()
    );
    live.signal(libc::SIGTERM);
    let (code, stderr) = live.finish(Duration::from_secs(20));
    assert_eq!(code, 3, "not the deploy's own status: {stderr}");
    assert!(
        d.join("stopped").exists(),
        "the deploy's handler never ran: {stderr}"
    );
    assert!(
        eventually(Duration::from_secs(5), || !process_running("sleep 4731")),
        "the deploy's child outlived it"
    );
}

#[test]
fn gate_kills_a_deploy_that_ignores_the_signal_after_its_stop_timeout() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "c.toml", OK);
    let live = Live::start(
        d,
        &[
            "gate",
            "c.toml",
            "--deploy-stop-timeout",
            "1s",
            "--",
            "sh",
            "-c",
            "trap '' INT TERM; echo started > started; sleep 4732",
        ],
    );
    // (Not `process_running`: preflight's own command line names the sleep.)
    assert!(
        eventually(Duration::from_secs(20), || d.join("started").exists()),
        "the deploy did not start: {}",
        live.stderr()
    );
    live.signal(libc::SIGINT);
    assert!(
        live.wait_for("waiting up to 1s", Duration::from_secs(5)),
        "{}",
        live.stderr()
    );
    let (code, stderr) = live.finish(Duration::from_secs(20));
    assert_eq!(code, 130, "{stderr}");
    assert!(
        eventually(Duration::from_secs(5), || !process_running("sleep 4732")),
        "the deploy outlived preflight"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Services: a taken port, a service that dies mid-run.

#[test]
fn a_taken_port_is_named_and_the_stale_server_is_not_tested() {
    let dir = tempdir();
    let d = dir.path();
    // A stale server from "an earlier run": answers 200 to everything.
    let stale = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = stale.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in stale.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale");
        }
    });
    write(
        d,
        "c.toml",
        &format!(
            r#"[service.web]
run = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
ready = {{ http = "http://127.0.0.1:{port}/" }}

[http.home]
url = "http://127.0.0.1:{port}/"
"#
        ),
    );
    let r = run_in(d, &["run", "c.toml"]);
    assert_eq!(r.code, 1, "the gate opened on a stale server: {}", r.all());
    let expected = format!(
        "port {port} is already in use by pid {}",
        std::process::id()
    );
    assert!(r.stderr.contains(&expected), "{}", r.all());
}

#[test]
fn a_service_that_exits_mid_run_errors_the_items_still_to_finish() {
    let dir = tempdir();
    let d = dir.path();
    let port = free_port();
    write(
        d,
        "c.toml",
        &format!(
            r#"[service.web]
# Listens (so that it gets ready, however slow python starts), then exits on its own.
run = ["python3", "-c", "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(2.5); sys.exit(7)"]
ready = {{ tcp = "127.0.0.1:{port}" }}

[command.long]
run = "sleep 10"

[command.after]
run = "true"
needs = ["command.long"]
"#
        ),
    );
    let r = run_in(d, &["run", "c.toml", "--json", "out.json"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let json = json_report(&d.join("out.json"));
    for id in ["command.long", "command.after"] {
        let item = json_item(&json, id);
        assert_eq!(item["outcome"], "errored", "{id}: {item:#}");
        assert!(
            item["message"]
                .as_str()
                .unwrap()
                .contains("service `web` exited (status 7)"),
            "{id}: {item:#}"
        );
    }
    let stopped = json["services"][0]["stopped"].as_str().unwrap_or("");
    assert!(stopped.starts_with("exited (status 7) at "), "{json:#}");
}

// ---------------------------------------------------------------------------------------------
// 5. Ctrl-C: the first says what it waits for, the second kills now and still reports.

#[test]
fn a_second_ctrl_c_kills_everything_now_and_still_writes_the_reports() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "c.toml",
        r#"[service.stubborn]
run = "trap '' TERM; sleep 4733"
stop_timeout = "20s"

[command.long]
run = "sleep 4734"
timeout = "10m"
"#,
    );
    let live = Live::start(d, &["run", "c.toml", "--json", "out.json"]);
    assert!(
        eventually(Duration::from_secs(20), || process_running("sleep 4734")),
        "{}",
        live.stderr()
    );
    live.signal(libc::SIGINT);
    assert!(
        live.wait_for("Ctrl-C again to kill now", Duration::from_secs(10)),
        "the first Ctrl-C did not say what it waits for: {}",
        live.stderr()
    );
    assert!(
        live.stderr()
            .contains("stopping service `stubborn`: waiting up to 20s"),
        "{}",
        live.stderr()
    );
    live.signal(libc::SIGINT);
    let (code, stderr) = live.finish(Duration::from_secs(10));
    assert_eq!(code, 130, "{stderr}");
    let json = json_report(&d.join("out.json"));
    assert_eq!(json["interrupted"], true);
    assert!(
        eventually(Duration::from_secs(5), || !process_running("sleep 4733")),
        "the service outlived the second Ctrl-C"
    );
}

#[test]
fn an_interrupted_command_keeps_its_output_so_far() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "c.toml",
        "[command.talk]\nrun = \"echo first-words-kept; sleep 4735\"\ntimeout = \"10m\"\n",
    );
    let live = Live::start(d, &["run", "c.toml", "--json", "out.json"]);
    assert!(eventually(Duration::from_secs(20), || process_running(
        "sleep 4735"
    )));
    std::thread::sleep(Duration::from_millis(300));
    live.signal(libc::SIGINT);
    let (code, stderr) = live.finish(Duration::from_secs(20));
    assert_eq!(code, 130, "{stderr}");
    let json = json_report(&d.join("out.json"));
    let item = json_item(&json, "command.talk");
    assert_eq!(item["outcome"], "interrupted");
    assert!(
        item["details"]
            .as_str()
            .unwrap()
            .contains("first-words-kept"),
        "{item:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Huge output: memory stays bounded, lines are cut, `\r` ends a line.

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn lines_without_an_end_are_cut_and_memory_stays_bounded() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "c.toml",
        r#"[service.noisy]
run = 'head -c 200000000 /dev/zero | tr "\000" y; exec sleep 4736'

[command.noisy]
run = 'head -c 200000000 /dev/zero | tr "\000" x; sleep 1; exit 1'

[command.progress]
run = 'i=0; while [ $i -lt 2000 ]; do printf "progress %d\r" $i; i=$((i+1)); done; exit 1'
"#,
    );
    let mut child = preflight()
        .current_dir(d)
        .args(["run", "c.toml", "--json", "out.json", "--artifacts", "arts"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kb) = peak_rss_kb(child.id()) {
            peak = peak.max(kb);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        peak < 100_000,
        "preflight's peak memory was {peak} kB for 400 MB of output"
    );
    let json = json_report(&d.join("out.json"));
    let noisy = json_item(&json, "command.noisy");
    let details = noisy["details"].as_str().unwrap();
    assert!(details.contains("bytes cut]"), "{}", &details[..500]);
    assert!(
        details.len() < 200_000,
        "{} bytes of details",
        details.len()
    );
    let progress = json_item(&json, "command.progress")["details"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        progress.contains("progress 1999") && progress.contains("earlier lines"),
        "{progress}"
    );
    assert!(
        progress.len() < 4000,
        "{} bytes: {progress}",
        progress.len()
    );
    let log = std::fs::read(d.join("arts/service-noisy.log")).unwrap();
    assert!(
        String::from_utf8_lossy(&log).contains("bytes cut]"),
        "service log: {} bytes",
        log.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Leftovers: nothing outlives a run, not even a killed one.

#[test]
fn daemonized_children_are_stopped_at_the_end_of_the_run() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "c.toml",
        r#"[service.web]
run = "setsid sh -c 'sleep 4737' </dev/null >/dev/null 2>&1 & exec sleep 4738"

[command.daemon]
run = "setsid sh -c 'sleep 4739' </dev/null >/dev/null 2>&1 & sleep 0.5"
"#,
    );
    let r = run_in(d, &["run", "c.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    for needle in ["sleep 4737", "sleep 4738", "sleep 4739"] {
        assert!(
            eventually(Duration::from_secs(3), || !process_running(needle)),
            "`{needle}` outlived the run: {}",
            r.all()
        );
    }
    assert!(r.stderr.contains("left behind"), "{}", r.all());
}

/// Kills a run with SIGKILL while its service and command trees are up; returns once the
/// processes it left are seen.
fn kill_a_run(d: &Path) {
    write(
        d,
        "killed.toml",
        r#"[service.web]
run = ["sleep", "4740"]

[command.tree]
run = "sleep 4741 & setsid sleep 4742 & sleep 4743"
timeout = "10m"
"#,
    );
    let mut child = preflight()
        .current_dir(d)
        .args(["run", "killed.toml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = eventually(Duration::from_secs(20), || {
        ["sleep 4740", "sleep 4741", "sleep 4742", "sleep 4743"]
            .iter()
            .all(|n| process_running(n))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "the run never got going");
    // The service is preflight's direct child: the kernel stops it with preflight.
    assert!(
        eventually(Duration::from_secs(5), || !process_running("sleep 4740")),
        "preflight's direct child outlived it"
    );
}

const LEFT: [&str; 3] = ["sleep 4741", "sleep 4742", "sleep 4743"];

#[test]
fn a_killed_runs_processes_are_reported_and_stopped_by_the_next_run() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "c.toml", OK);
    // Tests' runs only report leftovers (`PREFLIGHT_LEFTOVERS=report` in `support`), but a
    // preflight started by hand meanwhile may stop them first (that is the feature): try again.
    let mut reported = None;
    for _ in 0..3 {
        kill_a_run(d);
        if !LEFT.iter().all(|n| process_running(n)) {
            continue;
        }
        let r = run_in(d, &["run", "c.toml", "--leftovers", "report"]);
        if LEFT.iter().all(|n| process_running(n)) && r.stderr.contains("sleep 4742") {
            reported = Some(r);
            break;
        }
    }
    let r = reported.expect("`--leftovers report` never listed the killed run's processes");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("left running"), "{}", r.all());

    let r = run_in(d, &["run", "c.toml", "--leftovers", "stop"]);
    assert_eq!(r.code, 0, "{}", r.all());
    for n in LEFT {
        assert!(
            eventually(Duration::from_secs(5), || !process_running(n)),
            "`{n}` was not stopped: {}",
            r.all()
        );
    }
}

#[test]
fn a_killed_browser_run_leaves_no_chromium_and_no_profile_after_the_next_run() {
    let shop = Shop::start(&[], &[]);
    let dir = tempdir();
    let d = dir.path();
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    write(
        d,
        "b.toml",
        &format!(
            "[browser.waiting]\nsteps = [\n  {{ goto = \"{}/\" }},\n  {{ wait_for = \"#never\", timeout = \"60s\" }},\n]\n",
            shop.base
        ),
    );
    write(d, "c.toml", OK);
    let in_sandbox = |pid: &str| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .map(|e| {
                // The browser kind points Chromium's TMPDIR at a directory inside the
                // caller's TMPDIR, so a prefix match finds every process of this run.
                let needle = format!("TMPDIR={}", tmp.display());
                e.split(|b| *b == 0)
                    .any(|kv| kv.starts_with(needle.as_bytes()))
            })
            .unwrap_or(false)
    };
    let live_browsers = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
            .filter(|p| {
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z') && in_sandbox(p)
            })
            .count()
    };
    let mut child = preflight()
        .current_dir(d)
        .env("TMPDIR", &tmp)
        .args(["run", "b.toml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile_made = || {
        std::fs::read_dir(&tmp)
            .map(|r| r.flatten().any(|e| e.path().join("session-1").exists()))
            .unwrap_or(false)
    };
    assert!(
        eventually(Duration::from_secs(60), || profile_made()
            && live_browsers() >= 3),
        "the browser never started"
    );
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    let r = run_env(
        d,
        &[("TMPDIR", tmp.to_str().unwrap())],
        &["run", "c.toml", "--leftovers", "stop"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        eventually(Duration::from_secs(5), || live_browsers() == 0),
        "chromedriver/Chromium outlived the killed run and the next run: {}",
        r.all()
    );
    // Chromium's own `org.chromium.Chromium.*` temp dirs are its business; the profile is ours.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("preflight-"))
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    assert!(r.stderr.contains("leftover: removing"), "{}", r.all());
}

// ---------------------------------------------------------------------------------------------
// Vars: shell quoting, URL encoding, misspelt `--var`.

#[test]
fn vars_can_be_shell_quoted_and_url_encoded_and_unquoted_env_vars_are_warned_about() {
    let dir = tempdir();
    let d = dir.path();
    let port = echo_server();
    write(
        d,
        "c.toml",
        &format!(
            r#"[vars]
branch = {{ env = "INTEGRITY_BRANCH" }}

[command.quoted]
run = "printf '%s' ${{branch:sh}} > out.txt"

[http.encoded]
url = "http://127.0.0.1:{port}/q?b=${{branch:url}}"
body_contains = "/q?b=main%3B%20touch%20pwned"
"#
        ),
    );
    let env = [("INTEGRITY_BRANCH", "main; touch pwned")];
    let r = run_env(d, &env, &["run", "c.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(read(&d.join("out.txt")), "main; touch pwned");
    assert!(!d.join("pwned").exists());
    assert!(!r.stderr.contains("warning"), "{}", r.all());

    write(
        d,
        "unquoted.toml",
        "[vars]\nbranch = { env = \"INTEGRITY_BRANCH\" }\n\n[command.echo]\nrun = \"echo ${branch}\"\n",
    );
    let r = run_env(d, &env, &["validate", "unquoted.toml"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains("warning") && r.stderr.contains("${branch:sh}"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("unquoted.toml:5:"), "{}", r.all());
}

#[test]
fn a_misspelt_var_on_the_command_line_is_an_error() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        "[vars]\nbase = \"x\"\n\n[command.ok]\nrun = \"echo ${base}\"\n",
    );
    for cmd in ["run", "validate", "list"] {
        let r = run_in(dir.path(), &[cmd, "c.toml", "--var", "bsae=secret-value"]);
        assert_eq!(r.code, 2, "{cmd}: {}", r.all());
        assert!(r.stderr.contains("did you mean `base`?"), "{}", r.all());
        assert!(!r.stderr.contains("secret-value"), "{}", r.all());
    }
    let r = run_in(dir.path(), &["run", "c.toml", "--var", "base=y"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

// ---------------------------------------------------------------------------------------------
// HTTP: the body cap is said; TLS options.

#[test]
fn a_body_cut_at_max_body_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf);
                let body = format!("{}NEEDLE", "a".repeat(2 << 20));
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        &format!(
            r#"[http.small]
url = "http://127.0.0.1:{port}/"
max_body = "1MiB"
body_contains = "NEEDLE"

[http.big]
url = "http://127.0.0.1:{port}/"
max_body = "4MiB"
body_contains = "NEEDLE"
"#
        ),
    );
    let r = run_in(dir.path(), &["run", "c.toml", "--json", "out.json"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let json = json_report(&dir.path().join("out.json"));
    let small = json_item(&json, "http.small");
    assert_eq!(small["outcome"], "failed");
    let msg = small["message"].as_str().unwrap();
    assert!(msg.contains("1 MiB") && msg.contains("max_body"), "{msg}");
    assert_eq!(json_item(&json, "http.big")["outcome"], "passed");
}

#[test]
fn tls_ca_insecure_and_client_certificates() {
    let dir = tempdir();
    let d = dir.path();
    make_certs(d);
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    write(
        d,
        "c.toml",
        &format!(
            r#"[service.tls]
run = ["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:{p1}", "-cert", "server.pem", "-key", "server.key", "-www"]
ready = {{ http = "https://localhost:{p1}/", ca = "ca.pem" }}

[service.mtls]
run = ["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:{p2}", "-cert", "server.pem", "-key", "server.key", "-Verify", "1", "-CAfile", "ca.pem", "-www"]
ready = {{ tcp = "127.0.0.1:{p2}" }}

[service.ca-as-leaf]
run = ["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:{p3}", "-cert", "ca.pem", "-key", "ca.key", "-www"]
ready = {{ tcp = "127.0.0.1:{p3}" }}

[http.trusted]
url = "https://localhost:{p1}/"
ca = "ca.pem"

[http.untrusted]
url = "https://localhost:{p1}/"

[http.insecure]
url = "https://localhost:{p1}/"
insecure = true

[http.client-cert]
url = "https://localhost:{p2}/"
ca = "ca.pem"
client_cert = "client.pem"
client_key = "client.key"

[http.no-client-cert]
url = "https://localhost:{p2}/"
ca = "ca.pem"

[http.ca-as-leaf]
url = "https://localhost:{p3}/"
ca = "ca.pem"
"#
        ),
    );
    let r = run_in(d, &["run", "c.toml", "--json", "out.json", "-j", "1"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let json = json_report(&d.join("out.json"));
    let outcome = |id: &str| {
        json_item(&json, id)["outcome"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let message = |id: &str| {
        json_item(&json, id)["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        outcome("http.trusted"),
        "passed",
        "{}",
        message("http.trusted")
    );
    assert_eq!(outcome("http.insecure"), "passed");
    let insecure = json_item(&json, "http.insecure").to_string();
    assert!(insecure.contains("insecure = true"), "{insecure}");
    assert_eq!(
        outcome("http.client-cert"),
        "passed",
        "{}",
        message("http.client-cert")
    );
    assert_eq!(outcome("http.untrusted"), "failed");
    assert!(
        message("http.untrusted").contains("not signed by a trusted certificate authority"),
        "{}",
        message("http.untrusted")
    );
    assert_ne!(outcome("http.no-client-cert"), "passed");
    assert_eq!(outcome("http.ca-as-leaf"), "failed");
    let leaf = message("http.ca-as-leaf");
    assert!(
        !leaf.contains("CaUsedAsEndEntity") && leaf.contains("CA certificate"),
        "{leaf}"
    );

    // SSL_CERT_FILE adds the CA to the system's roots.
    let ca = d.join("ca.pem");
    let r = run_env(
        d,
        &[("SSL_CERT_FILE", ca.to_str().unwrap())],
        &[
            "run",
            "c.toml",
            "--only",
            "http.untrusted",
            "--json",
            "out2.json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
}

// ---------------------------------------------------------------------------------------------
// Acks: not from the future, bound to a commit, optionally expiring.

#[test]
fn acks_are_bound_to_a_commit_and_cannot_come_from_the_future() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "c.toml",
        "[manual.notes]\nprompt = \"Release notes reviewed?\"\n",
    );
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "c.toml"]);
    git(&["commit", "-qm", "release"]);
    let head = git(&["rev-parse", "HEAD"]);
    let ack = |name: &str, extra: &str| {
        write(
            d,
            name,
            &format!("[acks.\"manual.notes\"]\nby = \"alice\"\n{extra}"),
        );
    };
    ack(
        "future.toml",
        "at = \"2999-01-01T00:00:00Z\"\nany_commit = true\n",
    );
    ack(
        "wrong.toml",
        "commit = \"0123456789abcdef0123456789abcdef01234567\"\n",
    );
    ack("right.toml", &format!("commit = \"{}\"\n", &head[..12]));
    ack("none.toml", "");
    ack("any.toml", "any_commit = true\n");
    ack(
        "expired.toml",
        "any_commit = true\nexpires = \"2020-01-01T00:00:00Z\"\n",
    );
    let run = |file: &str| run_in(d, &["run", "c.toml", "--acks", file]);

    let r = run("future.toml");
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("in the future"), "{}", r.all());
    let r = run("wrong.toml");
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("0123456"), "{}", r.all());
    let r = run("right.toml");
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run("none.toml");
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("any_commit"), "{}", r.all());
    assert!(r.stderr.contains(&head[..12]), "{}", r.all());
    let r = run("any.toml");
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run("expired.toml");
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("expired"), "{}", r.all());
}

// ---------------------------------------------------------------------------------------------
// The terminal: a prompt is not erased; `--color never` writes no escape codes.

/// Starts `preflight ARGS` on a pseudo-terminal (`script`), collecting what it shows.
fn on_terminal(dir: &Path, args: &str) -> (Child, Arc<Mutex<String>>) {
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_preflight"));
    let mut child = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let shown = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let sink = shown.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (child, shown)
}

#[test]
fn the_progress_line_does_not_erase_an_open_prompt() {
    let dir = tempdir();
    write(
        dir.path(),
        "m.toml",
        "[manual.ship]\nprompt = \"Ship it?\"\n\n[command.slow]\nrun = \"sleep 4\"\n",
    );
    let (mut child, shown) = on_terminal(dir.path(), "run m.toml");
    let text = || shown.lock().unwrap().clone();
    assert!(
        eventually(Duration::from_secs(20), || text().contains("Ship it?")),
        "{}",
        text()
    );
    std::thread::sleep(Duration::from_millis(1200));
    let all = text();
    let after = &all[all.find("Ship it?").unwrap()..];
    assert!(
        !after.contains("running:") && !after.contains('\r'),
        "the prompt was overwritten: {after:?}"
    );
    child.stdin.as_mut().unwrap().write_all(b"y\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", text());
}

#[test]
fn color_never_writes_no_escape_codes_on_a_terminal() {
    let dir = tempdir();
    write(
        dir.path(),
        "c.toml",
        "[command.slow]\nrun = \"sleep 1.5\"\n",
    );
    let (mut child, shown) = on_terminal(dir.path(), "run c.toml --color never");
    let status = child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let text = shown.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(!text.contains('\x1b'), "escape codes: {text:?}");
}

// ---------------------------------------------------------------------------------------------
// Low: long `needs` chains, control characters and huge lines in errors, zero timeouts.

#[test]
fn list_handles_a_long_needs_chain() {
    let dir = tempdir();
    let mut text = String::from("[command.i0]\nrun = \"true\"\n");
    for i in 1..10_000 {
        text.push_str(&format!(
            "[command.i{i}]\nrun = \"true\"\nneeds = [\"command.i{}\"]\n",
            i - 1
        ));
    }
    write(dir.path(), "chain.toml", &text);
    let mut child = preflight()
        .current_dir(dir.path())
        .args(["list", "chain.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    // Far above what a linear plan needs even in a debug build; a quadratic one needs minutes.
    let done = eventually(Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
    if !done {
        let _ = child.kill();
    }
    let _ = child.wait();
    assert!(done, "`list` of a 10,000-item chain did not finish in 30 s");
    let out = reader.join().unwrap();
    assert!(
        out.contains("command.i9999"),
        "{}",
        &out[..200.min(out.len())]
    );
}

#[test]
fn errors_escape_control_characters_and_cut_huge_lines() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "ctrl.toml",
        "[command.\"evil\\u001b]0;pwned\\u0007\"]\nrun = \"true\"\n",
    );
    let r = run_in(d, &["validate", "ctrl.toml"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        !r.stderr.contains('\x1b') && !r.stderr.contains('\x07'),
        "{:?}",
        r.stderr
    );
    assert!(r.stderr.contains("evil"), "{}", r.all());

    let huge = "a".repeat(1 << 20);
    write(
        d,
        "huge.toml",
        &format!("[command]\nx = {{ run = \"true\", description = \"{huge}\", bogus = 1 }}\n"),
    );
    let r = run_in(d, &["validate", "huge.toml"]);
    assert_eq!(r.code, 2, "{}", &r.stderr[..2000.min(r.stderr.len())]);
    assert!(
        r.stderr.contains("bogus"),
        "{}",
        &r.stderr[..2000.min(r.stderr.len())]
    );
    let longest = r.stderr.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1500, "a {longest}-byte line in the error");
}

#[test]
fn a_zero_timeout_is_rejected() {
    let dir = tempdir();
    write(
        dir.path(),
        "item.toml",
        "[command.x]\nrun = \"true\"\ntimeout = \"0s\"\n",
    );
    write(
        dir.path(),
        "list.toml",
        "[checklist]\ntimeout = \"0s\"\n\n[command.x]\nrun = \"true\"\n",
    );
    for file in ["item.toml", "list.toml"] {
        let r = run_in(dir.path(), &["validate", file]);
        assert_eq!(r.code, 2, "{file}: {}", r.all());
        assert!(r.stderr.contains("more than 0"), "{}", r.all());
        assert!(r.stderr.contains(&format!("{file}:")), "{}", r.all());
    }
}
