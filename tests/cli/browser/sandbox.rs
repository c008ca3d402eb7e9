//! A browser test's own directory, temp dir and process marker, and the checks that nothing
//! preflight started for the browser outlives a run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{self, Run};

/// The environment variable that marks every process a sandboxed run starts (inherited by
/// chromedriver, Chromium and Chromium's helpers): how leftovers are found.
const MARKER: &str = "PREFLIGHT_TEST_BROWSER_SANDBOX";

/// A test's own directory; `tmp/` in it is the `TMPDIR` of preflight and so of chromedriver
/// and Chromium, and must be empty after every run.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

/// Browser tests take turns: each starts several Chromiums, and a 2-core CI machine running
/// them all at once measures its own overload rather than preflight.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = support::tempdir();
        std::fs::create_dir_all(dir.path().join("tmp")).expect("mkdir tmp");
        Sandbox { dir }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// `preflight` in this sandbox (its TMPDIR and marker set), not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = support::preflight();
        cmd.args(args)
            .current_dir(self.path())
            .env("TMPDIR", self.tmp())
            .env(MARKER, self.path());
        cmd
    }

    /// Writes `checklist` as `x.toml` and runs it with JSON and JUnit reports.
    pub fn run(&self, checklist: &str, extra: &[&str]) -> Run {
        support::write(self.path(), "x.toml", checklist);
        let mut args = vec![
            "run",
            "x.toml",
            "--junit",
            "report.xml",
            "--json",
            "report.json",
        ];
        args.extend_from_slice(extra);
        let out = self.command(&args).output().expect("run preflight");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.path().join("report.json")).expect("json report"),
        )
        .expect("valid json")
    }
    pub fn junit(&self) -> String {
        std::fs::read_to_string(self.path().join("report.xml")).expect("junit report")
    }

    /// Runs `checklist` and sends it Ctrl-C (SIGINT) once `ready` holds; it must then stop,
    /// failing.
    pub fn interrupt_when(&self, checklist: &str, what: &str, mut ready: impl FnMut() -> bool) {
        support::write(self.path(), "x.toml", checklist);
        let mut child = self
            .command(&["run", "x.toml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start preflight");
        let reached = support::eventually(Duration::from_secs(60), &mut ready);
        assert!(reached, "never {what}: {:?}", self.live_processes());
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let exited = support::eventually(Duration::from_secs(20), || {
            child.try_wait().ok().flatten().is_some()
        });
        assert!(exited, "preflight did not stop after Ctrl-C");
        assert_ne!(child.wait().expect("wait").code(), Some(0));
    }

    /// Live (non-zombie) processes started in this sandbox, as `pid [state] command`.
    pub fn live_processes(&self) -> Vec<String> {
        let marker = format!("{MARKER}={}", self.path().display());
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            if !environ.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()) {
                continue;
            }
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("?");
            if state == "Z" || state == "X" {
                continue;
            }
            let cmd = std::fs::read_to_string(entry.path().join("cmdline"))
                .unwrap_or_default()
                .replace('\0', " ");
            found.push(format!("{pid} [{state}] {cmd}"));
        }
        found
    }

    /// Live browsers (processes given a `--user-data-dir`) of this sandbox.
    pub fn live_browsers(&self) -> usize {
        self.live_processes()
            .iter()
            .filter(|p| p.contains("--user-data-dir="))
            .count()
    }

    /// Nothing preflight started for the browser is left: no live process, and nothing at all
    /// in the temp dir (profiles, Chromium's `org.chromium.Chromium.*` dirs, chromedriver's).
    pub fn assert_nothing_left(&self) {
        let clean =
            support::eventually(Duration::from_secs(5), || self.live_processes().is_empty());
        assert!(
            clean,
            "processes outlived the run:\n{}",
            self.live_processes().join("\n")
        );
        let left: Vec<_> = std::fs::read_dir(self.tmp())
            .expect("tmp")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
    }
}

/// The item `id` of a JSON report, cloned.
pub fn item(run: &serde_json::Value, id: &str) -> serde_json::Value {
    support::json_item(run, id).clone()
}

/// Every file under `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The item's artifact paths.
pub fn artifacts(it: &serde_json::Value) -> Vec<String> {
    it["artifacts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Width and height of a PNG, from its IHDR chunk.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[1..4], b"PNG", "not a PNG");
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}
