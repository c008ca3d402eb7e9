//! Where browser sessions come from: a local chromedriver + Chromium/Chrome that preflight
//! starts once per run (a [`RunResource`], stopped when the run ends), or a remote WebDriver
//! (`webdriver_url`, `--webdriver-url`: Selenium Grid, a cloud grid).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use thirtyfour::common::capabilities::chromium::ChromiumLikeCapabilities;
use thirtyfour::{Capabilities, DesiredCapabilities, WebDriver};

use super::BrowserSettings;
use crate::checks::RunResource;
use crate::process::{self, ProcessGroup, Spawn, Tail};

/// The one-line hint given when no local driver or browser can be found.
pub const INSTALL_HINT: &str = "install one: `apt-get install chromium chromium-driver` (Debian), or set `webdriver_url` under `[browser]`";

/// Flags headless Chromium needs in containers and CI (no sandbox, no GPU, small /dev/shm) and
/// to stay quiet (no background downloads, no first-run UI).
const CHROMIUM_FLAGS: &[&str] = &[
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--password-store=basic",
];

/// `/org.chromium.Chromium.XXXXXX/SingletonSocket`: what Chromium appends to its temp dir.
const SINGLETON_SOCKET_SUFFIX: usize = 45;
/// `sun_path` holds 108 bytes with the terminating NUL.
const UNIX_SOCKET_PATH_MAX: usize = 107;

/// How long a freshly started driver may take to answer `GET /status`.
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The browser's and driver's executables, found on this machine.
#[derive(Debug, Clone)]
pub struct LocalBinaries {
    pub driver: PathBuf,
    pub browser: PathBuf,
}

/// Finds chromedriver and Chromium/Chrome: the settings' `driver`/`binary` when given, else the
/// usual names on `PATH`. The error is one line ending in what to install.
pub fn find_local(settings: &BrowserSettings) -> Result<LocalBinaries, String> {
    if let Some(kind) = settings.browser.as_deref()
        && !matches!(kind, "chrome" | "chromium")
    {
        return Err(format!(
            "browser `{kind}` cannot be started locally by this version (only chrome/chromium); point `webdriver_url` at a driver for it"
        ));
    }
    let driver = match &settings.driver {
        Some(p) => {
            let p = PathBuf::from(p.as_str());
            if !is_executable(&p) {
                return Err(format!(
                    "no WebDriver at `{}` (the `driver` setting): {INSTALL_HINT}",
                    p.display()
                ));
            }
            p
        }
        None => find_on_path(&["chromedriver"]).ok_or_else(|| {
            format!("no WebDriver found (no `chromedriver` on PATH): {INSTALL_HINT}")
        })?,
    };
    let browser = match &settings.binary {
        Some(p) => {
            let p = PathBuf::from(p.as_str());
            if !is_executable(&p) {
                return Err(format!(
                    "no browser at `{}` (the `binary` setting): {INSTALL_HINT}",
                    p.display()
                ));
            }
            p
        }
        None => find_on_path(&[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
            "chrome",
        ])
        .ok_or_else(|| {
            format!("no browser found (no `chromium` or `google-chrome` on PATH): {INSTALL_HINT}")
        })?,
    };
    Ok(LocalBinaries { driver, browser })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| is_executable(p))
    })
}

/// A chromedriver started by preflight, shared by every browser item of the run. Its process
/// group (chromedriver and every browser it started) is killed at the end of the run, and the
/// directory holding the sessions' profiles is removed.
pub struct LocalDriver {
    pub url: String,
    pub binaries: LocalBinaries,
    group: Mutex<Option<ProcessGroup>>,
    /// Holds one fresh `--user-data-dir` per session.
    profiles_root: PathBuf,
    next_profile: AtomicU64,
    /// Time from spawning chromedriver to its `/status` saying ready.
    pub started_in: Duration,
}

impl std::fmt::Debug for LocalDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDriver")
            .field("url", &self.url)
            .finish()
    }
}

impl LocalDriver {
    /// Starts chromedriver on a free loopback port and waits until it is ready.
    pub async fn start(settings: &BrowserSettings) -> Result<LocalDriver, String> {
        let binaries = find_local(settings)?;
        let started = Instant::now();
        // Named for this run, so that the next run removes it if this one is killed.
        let profiles_root = crate::leftovers::run_temp_dir("browser");
        std::fs::create_dir_all(&profiles_root).map_err(|e| {
            format!(
                "cannot create a profile directory under `{}`: {e}",
                std::env::temp_dir().display()
            )
        })?;
        let port = free_port()
            .map_err(|e| format!("cannot find a free loopback port for the driver: {e}"))?;
        let argv = vec![
            binaries.driver.display().to_string(),
            format!("--port={port}"),
            "--log-level=WARNING".into(),
        ];
        // chromedriver's and Chromium's own temp dirs (`org.chromium.Chromium.*`) go inside the
        // run's directory, so that they go with it even when a browser is killed; unless the
        // path would be too long for the Unix socket Chromium keeps there.
        let env =
            if profiles_root.as_os_str().len() + SINGLETON_SOCKET_SUFFIX <= UNIX_SOCKET_PATH_MAX {
                vec![("TMPDIR".to_string(), profiles_root.display().to_string())]
            } else {
                Vec::new()
            };
        let spec = Spawn {
            argv: &argv,
            cwd: &profiles_root,
            env: &env,
        };
        let mut group = match ProcessGroup::spawn(&spec) {
            Ok(g) => g,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&profiles_root);
                return Err(format!(
                    "{}; {INSTALL_HINT}",
                    process::spawn_error(&argv[0], &e)
                ));
            }
        };
        // The driver's output must be drained or it blocks once a pipe buffer fills.
        let tail = Arc::new(Mutex::new(Tail::new(20)));
        if let Some(out) = group.child_mut().stdout.take() {
            process::tail_lines(out, tail.clone());
        }
        if let Some(err) = group.child_mut().stderr.take() {
            process::tail_lines(err, tail.clone());
        }
        let url = format!("http://127.0.0.1:{port}");
        let ready = wait_ready(&url, &mut group, DRIVER_READY_TIMEOUT).await;
        if let Err(why) = ready {
            group.terminate(Duration::from_millis(500)).await;
            let _ = std::fs::remove_dir_all(&profiles_root);
            let output = tail.lock().unwrap_or_else(|e| e.into_inner()).render();
            let last = output
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string();
            let said = if last.is_empty() {
                String::new()
            } else {
                format!(" (it said: {last})")
            };
            return Err(format!(
                "`{}` did not start: {why}{said}",
                binaries.driver.display()
            ));
        }
        Ok(LocalDriver {
            url,
            binaries,
            group: Mutex::new(Some(group)),
            profiles_root,
            next_profile: AtomicU64::new(1),
            started_in: started.elapsed(),
        })
    }

    /// A fresh, empty profile directory for one session; removed when the guard drops.
    pub fn new_profile(&self) -> std::io::Result<ProfileDir> {
        let n = self.next_profile.fetch_add(1, Ordering::Relaxed);
        let dir = self.profiles_root.join(format!("session-{n}"));
        std::fs::create_dir_all(&dir)?;
        Ok(ProfileDir(dir))
    }

    fn stop_now(&self) {
        // Dropping the group kills chromedriver and the browsers it started (same process group).
        drop(self.group.lock().unwrap_or_else(|e| e.into_inner()).take());
        remove_profiles_root(&self.profiles_root);
    }
}

impl RunResource for LocalDriver {
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let group = self.group.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(mut g) = group {
                g.terminate(Duration::from_secs(2)).await;
            }
            remove_profiles_root(&self.profiles_root);
        })
    }
}

impl Drop for LocalDriver {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// The run's directory of profiles, once its browsers are dead: also the Chromium temp dirs
/// that profiles of sessions started after their run was stopped link to.
fn remove_profiles_root(root: &Path) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        remove_chromium_temp_dir(&entry.path());
    }
    let _ = std::fs::remove_dir_all(root);
}

/// One session's `--user-data-dir`, deleted on drop (pass, failure, timeout, Ctrl-C) with the
/// temp dir Chromium made for it.
#[derive(Debug)]
pub struct ProfileDir(pub PathBuf);

impl Drop for ProfileDir {
    fn drop(&mut self) {
        // A session that could not be closed (driver stuck, future dropped) still has its
        // browser running on this profile: stop it first, or it would recreate files.
        kill_browsers_using(&self.0);
        remove_chromium_temp_dir(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Chromium keeps its single-instance socket in a temp dir of its own
/// (`$TMPDIR/org.chromium.Chromium.XXXXXX`, `com.google.Chrome.XXXXXX` for Chrome), linked from
/// the profile as `SingletonSocket`. A browser that exits removes it; a killed one does not.
fn remove_chromium_temp_dir(profile: &Path) {
    let Ok(target) = std::fs::read_link(profile.join("SingletonSocket")) else {
        return;
    };
    let Some(dir) = target.parent() else {
        return;
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Only a directory that is Chromium's by name: the link is the browser's to write.
    let chromium = ["org.chromium.Chromium.", "com.google.Chrome."]
        .iter()
        .any(|p| name.starts_with(p));
    if chromium && dir.is_absolute() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// SIGKILLs every process whose command line names `profile` as its `--user-data-dir`.
fn kill_browsers_using(profile: &Path) {
    let needle = format!("--user-data-dir={}", profile.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == needle.as_bytes())
        {
            // SAFETY: kill(2) on a pid we just read; no memory is involved.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// Polls `GET {url}/status` until `value.ready` is true, the driver exits, or `timeout` passes.
async fn wait_ready(url: &str, group: &mut ProcessGroup, timeout: Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        if let Ok(Some(status)) = group.try_wait() {
            return Err(format!("it exited at once ({status})"));
        }
        if let Ok(resp) = client.get(format!("{url}/status")).send().await
            && let Ok(v) = resp.json::<serde_json::Value>().await
            && v.pointer("/value/ready")
                .and_then(|r| r.as_bool())
                .unwrap_or(false)
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not ready within {}",
                humantime::format_duration(timeout)
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Capabilities for one session: headless unless `headed`, the window size, the browser
/// console log; locally also the browser binary and a fresh profile.
pub fn capabilities(
    settings: &BrowserSettings,
    binary: Option<&Path>,
    profile: Option<&Path>,
) -> Result<Capabilities, String> {
    let mut caps = DesiredCapabilities::chrome();
    let e =
        |e: thirtyfour::error::WebDriverError| format!("cannot build browser capabilities: {e}");
    if let Some(b) = binary {
        caps.set_binary(&b.display().to_string()).map_err(e)?;
    }
    if !settings.headed {
        caps.add_arg("--headless=new").map_err(e)?;
    }
    let (w, h) = settings.window_size();
    caps.add_arg(&format!("--window-size={w},{h}")).map_err(e)?;
    for flag in CHROMIUM_FLAGS {
        caps.add_arg(flag).map_err(e)?;
    }
    if let Some(p) = profile {
        caps.add_arg(&format!("--user-data-dir={}", p.display()))
            .map_err(e)?;
    }
    caps.set_browser_log_level(thirtyfour::common::log::LoggingPrefsLogLevel::All)
        .map_err(e)?;
    // Dialogs stay open until a step handles them; any other step fails naming the dialog
    // (the default would dismiss it silently and carry on).
    thirtyfour::CapabilitiesHelper::set(&mut caps, "unhandledPromptBehavior", "ignore")
        .map_err(e)?;
    Ok(caps.into())
}

/// An open browser session. Close it with [`Session::close`]; dropped unclosed (Ctrl-C, the
/// runner's timeout) it never blocks: thirtyfour's own fallback would delete the session
/// synchronously on the async executor, stalling every other journey for seconds.
pub struct Session {
    pub wd: WebDriver,
    closed: bool,
    remote: bool,
}

impl Session {
    pub fn new(wd: WebDriver, remote: bool) -> Session {
        Session {
            wd,
            closed: false,
            remote,
        }
    }

    /// Deletes the session within `budget`; else gives up on it (`Err` says why): a local
    /// browser is then killed with its profile, a remote grid expires the session itself.
    pub async fn close(mut self, budget: Duration) -> Result<(), String> {
        self.closed = true;
        let wd = self.wd.clone();
        match tokio::time::timeout(budget, wd.quit()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                let _ = self.wd.clone().leak();
                Err(error_line(&e))
            }
            Err(_) => {
                let _ = self.wd.clone().leak();
                Err(format!("no answer within {}", super::page::fmt_dur(budget)))
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let wd = self.wd.clone();
        let _ = self.wd.clone().leak();
        // A grid keeps a session (and a browser slot) until it is deleted: ask it in the
        // background. A local browser is killed with its profile right after this.
        if self.remote
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let delete = wd.cmd(thirtyfour::common::command::Command::DeleteSession);
                let _ = tokio::time::timeout(Duration::from_secs(2), delete).await;
            });
        }
    }
}

/// Opens a session on `url`, giving up after `timeout`.
pub async fn open_session(
    url: &str,
    caps: Capabilities,
    timeout: Duration,
) -> Result<WebDriver, String> {
    // Steps bound their own calls; this only keeps a request from outliving the session's time.
    let builder = WebDriver::builder(url, caps).request_timeout(timeout + Duration::from_secs(5));
    let started = Instant::now();
    let late = || {
        format!(
            "no browser session from {url} within {}",
            super::page::fmt_dur(started.elapsed())
        )
    };
    match tokio::time::timeout(timeout, builder.connect()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(_)) if started.elapsed() >= timeout => Err(late()),
        Ok(Err(e)) => Err(format!(
            "cannot start a browser session on {url}: {}",
            error_line(&e)
        )),
        Err(_) => Err(late()),
    }
}

/// A driver error in one line: the driver's own message where it sent one (thirtyfour puts
/// it under `Additional info:`, after a line of status), else the error's first line.
pub fn error_line(e: &thirtyfour::error::WebDriverError) -> String {
    let text = e.to_string();
    let mut lines = text.lines().map(str::trim);
    if lines.any(|l| l == "Additional info:")
        && let Some(message) = lines.find(|l| !l.is_empty())
    {
        return one_line(message);
    }
    one_line(&text)
}

/// The first line of a driver error, without the stack traces drivers append.
pub fn one_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(300).collect();
    if line.chars().count() > 300 {
        out.push('…');
    }
    out
}
