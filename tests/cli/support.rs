//! Helpers shared by the integration tests: the real binary, the real fixture shop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Tests that start browsers take turns: each starts Chromium, and a 2-core CI machine running
/// them all at once measures its own overload rather than preflight.
static BROWSER_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn take_browser_turn() -> std::sync::MutexGuard<'static, ()> {
    BROWSER_TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The output of one `preflight` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout and stderr, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A `preflight` command as CI would run it: no terminal, no colour.
pub fn preflight() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight"));
    cmd.env("CI", "true")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        // Tests run side by side: a run must not stop the leftovers another test has just made
        // of a run it killed on purpose. The tests of the sweep ask for it (`--leftovers stop`).
        .env("PREFLIGHT_LEFTOVERS", "report")
        .stdin(Stdio::null());
    cmd
}

/// Runs `preflight ARGS` in `dir` and waits.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    run_in_env(dir, args, &[])
}

/// Runs `preflight ARGS` in `dir` with extra environment variables, and waits.
pub fn run_in_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run(preflight()
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied()))
}

/// Runs a prepared `preflight` command and waits.
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("run preflight");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Writes `text` as `name` in `dir`; returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).expect("write");
    p
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture shop binary, built once per test run.
pub fn shop_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // tests run from target/<profile>/deps/; the shop lands in target/<profile>/.
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target dir")
            .to_path_buf();
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "shop"])
            .current_dir(repo())
            .status()
            .expect("cargo build -p shop");
        assert!(status.success(), "building the fixture shop failed");
        profile_dir.join("shop")
    })
}

/// A running fixture shop on an ephemeral loopback port; killed on drop.
pub struct Shop {
    child: Child,
    pub port: u16,
    pub base: String,
}

impl Shop {
    /// Starts the shop with these faults (`"hang"`, `"conn-leak=5"`, ...) and extra env.
    pub fn start(faults: &[&str], env: &[(&str, &str)]) -> Shop {
        let mut cmd = Command::new(shop_binary());
        cmd.env("SHOP_PORT", "0")
            .env("SHOP_ADDR", "127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for f in faults {
            cmd.arg("--fault").arg(f);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start shop");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read shop banner");
        let base = line.trim().rsplit(' ').next().expect("banner").to_string();
        let port = base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in banner");
        Shop { child, port, base }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Checks a JUnit file: well-formed XML, and valid against the strict Jenkins xunit schema
/// except for the two deviations preflight ships on purpose (`<properties>` inside `<testcase>`,
/// and its `file` and `line` attributes). Needs `xmllint` (Debian `libxml2-utils`).
pub fn assert_valid_junit(path: &Path) {
    let xml = std::fs::read_to_string(path).expect("read junit");
    let re =
        regex::Regex::new(r"(?s)(<testcase[^>]*>\s*)<properties>.*?</properties>").expect("regex");
    let stripped = re.replace_all(&xml, "$1");
    let re = regex::Regex::new(r#"(<testcase [^>]*?) file="[^"]*" line="[0-9]+""#).expect("regex");
    let stripped = re.replace_all(&stripped, "$1");
    let copy = path.with_extension("strict.xml");
    std::fs::write(&copy, stripped.as_bytes()).expect("write copy");
    let xsd = repo().join("tests/cli/junit-10.xsd");
    for (file, schema) in [(path, None), (copy.as_path(), Some(&xsd))] {
        let mut cmd = Command::new("xmllint");
        cmd.arg("--noout");
        if let Some(s) = schema {
            cmd.arg("--schema").arg(s);
        }
        let out = cmd
            .arg(file)
            .output()
            .expect("xmllint (apt-get install libxml2-utils)");
        assert!(
            out.status.success(),
            "{} is not valid{}:\n{}\n{}",
            file.display(),
            if schema.is_some() {
                " against junit-10.xsd"
            } else {
                " XML"
            },
            String::from_utf8_lossy(&out.stderr),
            xml
        );
    }
}

/// Whether any process's command line contains `needle`.
pub fn process_running(needle: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(needle)
            })
            .unwrap_or(false)
    })
}

/// Reads a file to a string.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The item `id` of a JSON report.
pub fn json_item<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| panic!("no item `{id}` in the report:\n{report:#}"))
}

/// Makes a CA, a server certificate for localhost/127.0.0.1 and a client certificate.
pub fn make_certs(d: &Path) {
    let script = r#"set -e
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=preflight-test-ca 2>/dev/null
openssl req $ec -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
openssl req $ec -keyout client.key -out client.csr -subj /CN=preflight-client 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null
"#;
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(d)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A real TLS server (`openssl s_server -WWW`) serving the files of `dir` on a free loopback
/// port with `dir`'s `server.pem`/`server.key` (see [`make_certs`]); returns it once it listens,
/// and its port. Kill it when done.
pub fn tls_file_server(dir: &Path) -> (Child, u16) {
    let port = free_port();
    let server = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-WWW",
            "-cert",
            "server.pem",
            "-key",
            "server.key",
        ])
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl (apt-get install openssl)");
    assert!(
        eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }),
        "openssl s_server did not listen"
    );
    (server, port)
}
