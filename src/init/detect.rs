//! What `preflight init` finds in a project directory: its build and test commands, migrations,
//! flag files, the port its container serves and a health endpoint. Each finding says where it
//! came from, so the written checklist can explain it.

use std::path::{Path, PathBuf};

use crate::checks::rollback::migrations::{self, Tool};

/// A command item to write: `[command.NAME]` with `run`, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub name: &'static str,
    pub run: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrations {
    /// Relative to the project, with `/`.
    pub dir: String,
    pub tool: Tool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagSource {
    /// A flagd definitions file.
    Flagd { file: String },
    /// A `.env` file with `FEATURE_*`-style keys, read by the `plain` source.
    Env { file: String, prefix: String },
}

/// The app's container: where it was declared and the port it serves on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub file: String,
    /// The compose service, if the port came from a compose file.
    pub service: Option<String>,
    pub port: u16,
}

#[derive(Debug, Clone, Default)]
pub struct Project {
    pub tasks: Vec<Task>,
    /// Build systems found but not used for the tasks (a Makefile wins over Cargo, say).
    pub also_found: Vec<String>,
    pub migrations: Option<Migrations>,
    pub flags: Vec<FlagSource>,
    pub container: Option<Container>,
    /// A health path found in the sources, with the file it is in.
    pub health: Option<(String, String)>,
    pub git: bool,
}

/// Directories never searched: dependencies, build output, VCS data.
const SKIP_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "vendor",
    "dist",
    "build",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".gradle",
    ".idea",
];

/// Walks `dir` up to `depth` levels (files relative to `root`, with `/`), at most `limit` files.
fn walk(root: &Path, dir: &Path, depth: usize, limit: usize, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if out.len() >= limit {
            return;
        }
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if depth > 0 && !SKIP_DIRS.contains(&name.as_str()) {
                walk(root, &path, depth - 1, limit, out);
            }
        } else if kind.is_file()
            && let Ok(rel) = path.strip_prefix(root)
        {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Test data and examples: flag files and routes there are not the project's own.
fn is_sample(rel: &str) -> bool {
    rel.split('/').any(|part| {
        matches!(
            part,
            "fixtures"
                | "fixture"
                | "test"
                | "tests"
                | "testdata"
                | "examples"
                | "example"
                | "spec"
        )
    })
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_default()
}

/// Looks at the project in `dir`.
pub fn project(dir: &Path) -> Project {
    let mut files = Vec::new();
    walk(dir, dir, 4, 5000, &mut files);
    let (tasks, also_found) = tasks(dir);
    Project {
        tasks,
        also_found,
        migrations: migrations(dir, &files),
        flags: flags(dir, &files),
        container: container(dir),
        health: health(dir, &files),
        git: dir.join(".git").exists(),
    }
}

/// Targets (or recipes) of a Makefile or justfile among `names`, in that order.
fn targets(text: &str, names: &[&'static str]) -> Vec<&'static str> {
    names
        .iter()
        .copied()
        .filter(|t| {
            text.lines().any(|l| {
                l.strip_prefix(t).is_some_and(|rest| {
                    // `test:`, `test: deps`, just's `test *ARGS:`; not `test := value`,
                    // `testing:` or `test = x`.
                    let args = rest.trim_start();
                    if args.starts_with(":=") || args.starts_with('=') || args.contains(":=") {
                        return false;
                    }
                    args.starts_with(':') || (rest.starts_with([' ', '\t']) && args.contains(':'))
                })
            })
        })
        .collect()
}

fn task(name: &'static str, run: impl Into<String>, why: impl Into<String>) -> Task {
    Task {
        name,
        run: run.into(),
        why: why.into(),
    }
}

/// The build and test commands: the project's own task runner (justfile, Makefile) when it has
/// the targets, else its language's build tool.
fn tasks(dir: &Path) -> (Vec<Task>, Vec<String>) {
    let mut found: Vec<(String, Vec<Task>)> = Vec::new();
    for file in ["justfile", "Justfile", ".justfile"] {
        let text = read(dir, file);
        let t: Vec<Task> = targets(&text, &["build", "test"])
            .into_iter()
            .map(|t| {
                task(
                    t,
                    format!("just {t}"),
                    format!("the `{t}` recipe of `{file}`"),
                )
            })
            .collect();
        if !t.is_empty() {
            found.push((file.to_string(), t));
            break;
        }
    }
    for file in ["GNUmakefile", "Makefile", "makefile"] {
        let text = read(dir, file);
        let mut t: Vec<Task> = targets(&text, &["build", "test"])
            .into_iter()
            .map(|t| {
                task(
                    t,
                    format!("make {t}"),
                    format!("the `{t}` target of `{file}`"),
                )
            })
            .collect();
        if !t.iter().any(|t| t.name == "test") && !targets(&text, &["check"]).is_empty() {
            t.push(task(
                "test",
                "make check",
                format!("the `check` target of `{file}`"),
            ));
        }
        if !t.is_empty() {
            found.push((file.to_string(), t));
            break;
        }
    }
    if dir.join("Cargo.toml").exists() {
        let locked = if dir.join("Cargo.lock").exists() {
            " --locked"
        } else {
            ""
        };
        found.push((
            "Cargo.toml".into(),
            vec![
                task("build", format!("cargo build{locked}"), "`Cargo.toml`"),
                task("test", format!("cargo test{locked}"), "`Cargo.toml`"),
            ],
        ));
    }
    if dir.join("package.json").exists() {
        found.push(("package.json".into(), node(dir)));
    }
    if dir.join("go.mod").exists() {
        found.push((
            "go.mod".into(),
            vec![
                task("build", "go build ./...", "`go.mod`"),
                task("test", "go test ./...", "`go.mod`"),
            ],
        ));
    }
    if let Some(t) = python(dir) {
        found.push(t);
    }
    if dir.join("Gemfile").exists() {
        let gemfile = read(dir, "Gemfile");
        let t = if dir.join("spec").is_dir() && gemfile.contains("rspec") {
            Some(task(
                "test",
                "bundle exec rspec",
                "`Gemfile` with rspec and a `spec` directory",
            ))
        } else if dir.join("Rakefile").exists() {
            Some(task(
                "test",
                "bundle exec rake test",
                "`Gemfile` and `Rakefile`",
            ))
        } else {
            None
        };
        found.push(("Gemfile".into(), t.into_iter().collect()));
    }
    if dir.join("pom.xml").exists() {
        let mvn = if dir.join("mvnw").exists() {
            "./mvnw"
        } else {
            "mvn"
        };
        found.push((
            "pom.xml".into(),
            vec![task(
                "test",
                format!("{mvn} -B verify"),
                "`pom.xml` (`verify` compiles, tests and packages)",
            )],
        ));
    }
    if let Some(file) = ["build.gradle.kts", "build.gradle"]
        .into_iter()
        .find(|f| dir.join(f).exists())
    {
        let gradle = if dir.join("gradlew").exists() {
            "./gradlew"
        } else {
            "gradle"
        };
        found.push((
            file.into(),
            vec![task(
                "test",
                format!("{gradle} build"),
                format!("`{file}` (`build` compiles and runs the tests)"),
            )],
        ));
    }
    found.retain(|(_, t)| !t.is_empty());
    let mut found = found.into_iter();
    let tasks = found.next().map(|(_, t)| t).unwrap_or_default();
    (tasks, found.map(|(file, _)| file).collect())
}

/// npm, pnpm or yarn (by lock file), with the `build` and `test` scripts that exist. npm's
/// placeholder test script (`echo "Error: no test specified" && exit 1`) is not a test.
fn node(dir: &Path) -> Vec<Task> {
    let pm = if dir.join("bun.lock").exists() || dir.join("bun.lockb").exists() {
        "bun"
    } else if dir.join("pnpm-lock.yaml").exists() {
        "pnpm"
    } else if dir.join("yarn.lock").exists() {
        "yarn"
    } else {
        "npm"
    };
    let package: serde_json::Value =
        serde_json::from_str(&read(dir, "package.json")).unwrap_or_default();
    let script = |name: &str| {
        package["scripts"][name]
            .as_str()
            .filter(|s| !s.contains("no test specified"))
            .is_some()
    };
    let why =
        |name: &str| format!("the `{name}` script of `package.json` ({pm}, from the lock file)");
    let mut tasks = Vec::new();
    if script("build") {
        tasks.push(task("build", format!("{pm} run build"), why("build")));
    }
    if script("test") {
        // `bun test` is bun's own test runner, not the script.
        let run = if pm == "bun" {
            "bun run test".to_string()
        } else {
            format!("{pm} test")
        };
        tasks.push(task("test", run, why("test")));
    }
    tasks
}

/// pytest, when the project is Python and uses it.
fn python(dir: &Path) -> Option<(String, Vec<Task>)> {
    let file = [
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "requirements.txt",
    ]
    .into_iter()
    .find(|f| dir.join(f).exists())?;
    let pytest = dir.join("pytest.ini").exists()
        || dir.join("conftest.py").exists()
        || dir.join("tests/conftest.py").exists()
        || ["pyproject.toml", "setup.cfg", "tox.ini", "requirements.txt"]
            .iter()
            .any(|f| read(dir, f).contains("pytest"));
    let tests_dir = dir.join("tests").is_dir() || dir.join("test").is_dir();
    if !pytest && dir.join("manage.py").exists() {
        return Some((
            "manage.py".into(),
            vec![task(
                "test",
                "python3 manage.py test",
                "`manage.py` (Django's test runner)",
            )],
        ));
    }
    let why = if pytest {
        format!("`{file}`; pytest is configured")
    } else if tests_dir {
        format!("`{file}` and a tests directory")
    } else {
        return None;
    };
    Some((
        file.to_string(),
        vec![task("test", "python3 -m pytest", why)],
    ))
}

/// The migrations directory and its tool, told apart by the rollback kind's own detection.
fn migrations(dir: &Path, files: &[String]) -> Option<Migrations> {
    let mut candidates: Vec<String> = [
        "migrations",
        "db/migrate",
        "db/migrations",
        "database/migrations",
        "src/main/resources/db/migration",
        "alembic/versions",
        "migrations/versions",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    // Django keeps one `migrations` package per app: `shop/migrations`.
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut apps: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().join("migrations").is_dir())
            .map(|e| format!("{}/migrations", e.file_name().to_string_lossy()))
            .collect();
        apps.sort();
        candidates.extend(apps);
    }
    // Deeper ones, shallowest first: `backend/app/alembic/versions`.
    let mut nested: Vec<String> = files
        .iter()
        .filter(|f| !is_sample(f))
        .filter_map(|f| f.rsplit_once('/').map(|(d, _)| d.to_string()))
        .filter(|d| {
            [
                "/migrations",
                "/db/migrate",
                "/db/migration",
                "/alembic/versions",
            ]
            .iter()
            .any(|end| d.ends_with(end))
        })
        .collect();
    nested.sort_by_key(|d| (d.matches('/').count(), d.clone()));
    nested.dedup();
    candidates.extend(nested);
    candidates.into_iter().find_map(|rel| {
        let path = dir.join(&rel);
        if !path.is_dir() {
            return None;
        }
        let mut files = Vec::new();
        walk(&path, &path, 2, 2000, &mut files);
        let tool = migrations::detect(&files, &|f| read(&path, f))?;
        // Alembic's versions dir is what the rollback kind reads.
        Some(Migrations { dir: rel, tool })
    })
}

/// flagd definition files and `.env` files whose keys look like flags.
fn flags(dir: &Path, files: &[String]) -> Vec<FlagSource> {
    let mut found = Vec::new();
    let mut json: Vec<&String> = files
        .iter()
        .filter(|f| f.ends_with(".json") && !is_sample(f))
        .collect();
    // The shallowest first: `flags.flagd.json` before `deploy/staging/flags.flagd.json`.
    json.sort_by_key(|f| f.matches('/').count());
    for f in json {
        if found.len() == 3 {
            break;
        }
        let name = f.rsplit('/').next().unwrap_or(f);
        let flagd_named = name.ends_with(".flagd.json") || name == "flagd.json";
        if !flagd_named && !f.contains("flag") {
            continue;
        }
        let text = read(dir, f);
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let looks_flagd = doc["flags"].as_object().is_some_and(|flags| {
            flags
                .values()
                .any(|v| v.get("defaultVariant").is_some() && v.get("variants").is_some())
        });
        if looks_flagd {
            found.push(FlagSource::Flagd { file: f.clone() });
        }
    }
    for f in [".env", ".env.example", ".env.production"] {
        let text = read(dir, f);
        let prefix = ["FEATURE_", "FF_", "FLAG_", "FEATURE_FLAG_"]
            .into_iter()
            .rev()
            .find(|p| text.lines().any(|l| l.trim_start().starts_with(p)));
        if let Some(prefix) = prefix {
            found.push(FlagSource::Env {
                file: f.to_string(),
                prefix: prefix.to_string(),
            });
            break;
        }
    }
    found
}

/// The port the app serves on this machine: a compose service's published port, else the
/// Dockerfile's `EXPOSE`.
fn container(dir: &Path) -> Option<Container> {
    for file in [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yml",
        "docker-compose.yaml",
        "compose.override.yaml",
        "compose.override.yml",
        "docker-compose.override.yml",
        "docker-compose.override.yaml",
    ] {
        if let Some((service, port)) = compose_port(&read(dir, file)) {
            return Some(Container {
                file: file.to_string(),
                service: Some(service),
                port,
            });
        }
    }
    let text = read(dir, "Dockerfile");
    let port = text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("EXPOSE ")?;
        let first = rest.split_whitespace().next()?;
        first.split('/').next()?.parse::<u16>().ok()
    })?;
    Some(Container {
        file: "Dockerfile".into(),
        service: None,
        port,
    })
}

/// Services that are infrastructure, not the app under test.
const INFRA: &[&str] = &[
    "db",
    "database",
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "mongo",
    "mongodb",
    "redis",
    "memcached",
    "proxy",
    "traefik",
    "nginx",
    "caddy",
    "adminer",
    "pgadmin",
    "mailcatcher",
    "mailhog",
    "mailpit",
    "rabbitmq",
    "kafka",
    "zookeeper",
    "elasticsearch",
    "minio",
    "jaeger",
    "prometheus",
    "grafana",
    "flagd",
    "localstack",
    "selenium",
    "playwright",
];

/// The app's published port: the first service with one whose name is not infrastructure
/// (a database, a proxy, a mail catcher), else the first with one.
fn compose_port(text: &str) -> Option<(String, u16)> {
    let ports = compose_ports(text);
    ports
        .iter()
        .find(|(name, _)| !INFRA.iter().any(|i| name.to_ascii_lowercase().contains(i)))
        .or(ports.first())
        .cloned()
}

/// Each service under `services:` with its first published port (`"8080:80"`, `- 8080:80`,
/// `127.0.0.1:8080:80`, or the long form's `published: 8080`). Line-based: compose files are
/// regular enough, and a wrong guess is a comment the user edits.
fn compose_ports(text: &str) -> Vec<(String, u16)> {
    let mut found: Vec<(String, u16)> = Vec::new();
    let mut in_services = false;
    let mut service: Option<String> = None;
    let mut service_indent = None;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim_start().starts_with('#') || trimmed.trim().is_empty() {
            continue;
        }
        let indent = trimmed.len() - trimmed.trim_start().len();
        if indent == 0 {
            in_services = trimmed.starts_with("services:");
            service = None;
            continue;
        }
        if !in_services {
            continue;
        }
        let content = trimmed.trim_start();
        if service_indent.is_none_or(|i| indent <= i) && content.ends_with(':') {
            service_indent = Some(indent);
            service = Some(content.trim_end_matches(':').trim_matches('"').to_string());
            continue;
        }
        let Some(name) = &service else { continue };
        if found.iter().any(|(n, _)| n == name) {
            continue;
        }
        let value = content
            .strip_prefix("- ")
            .or_else(|| content.strip_prefix("published:"))
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''));
        if let Some(v) = value {
            // `HOST:CONTAINER` or `IP:HOST:CONTAINER`: the host port is second from the right.
            let parts: Vec<&str> = v.split('/').next().unwrap_or(v).split(':').collect();
            let host = match parts.len() {
                1 if content.starts_with("published:") => parts[0],
                n if n >= 2 => parts[n - 2],
                _ => continue,
            };
            if let Ok(port) = host.parse::<u16>() {
                found.push((name.clone(), port));
            }
        }
    }
    found
}

/// Health paths, most specific first: the first one a source file names is the guess.
const HEALTH_PATHS: &[&str] = &[
    "/healthz", "/health", "/livez", "/readyz", "/ready", "/ping",
];

const SOURCE_EXTENSIONS: &[&str] = &[
    "rs", "go", "py", "js", "ts", "mjs", "java", "kt", "rb", "php", "cs", "ex",
];

/// A health path a source file names as a string, with that file.
fn health(dir: &Path, files: &[String]) -> Option<(String, String)> {
    let sources: Vec<&String> = files
        .iter()
        .filter(|f| {
            !is_sample(f)
                && f.rsplit_once('.')
                    .is_some_and(|(_, ext)| SOURCE_EXTENSIONS.contains(&ext))
        })
        .take(2000)
        .collect();
    let texts: Vec<(&String, String)> = sources.iter().map(|f| (*f, read(dir, f))).collect();
    if read(dir, "pom.xml").contains("spring-boot-starter-actuator")
        || read(dir, "build.gradle").contains("spring-boot-starter-actuator")
        || read(dir, "build.gradle.kts").contains("spring-boot-starter-actuator")
    {
        return Some(("/actuator/health".into(), "Spring Boot Actuator".into()));
    }
    let known = HEALTH_PATHS.iter().find_map(|path| {
        texts.iter().find_map(|(file, text)| {
            [
                format!("\"{path}\""),
                format!("'{path}'"),
                format!("`{path}`"),
            ]
            .iter()
            .any(|quoted| text.contains(quoted.as_str()))
            .then(|| (path.to_string(), format!("`{file}`")))
        })
    });
    // Else a route like "/health-check/" or "/api/health".
    known.or_else(|| {
        let re =
            regex::Regex::new(r#"["'`](/[A-Za-z0-9_/.-]*health[A-Za-z0-9_/.-]*)["'`]"#).ok()?;
        texts.iter().find_map(|(file, text)| {
            re.captures(text)
                .map(|c| (c[1].to_string(), format!("`{file}`")))
        })
    })
}

/// The directory the checklist is written to: the project.
pub fn project_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_ports_in_their_forms() {
        let short = "services:\n  db:\n    image: postgres\n  web:\n    build: .\n    ports:\n      - \"8080:3000\"\n";
        assert_eq!(compose_port(short), Some(("web".into(), 8080)));
        let ip = "services:\n  api:\n    ports:\n      - 127.0.0.1:9000:80/tcp\n";
        assert_eq!(compose_port(ip), Some(("api".into(), 9000)));
        let long = "services:\n  app:\n    ports:\n      - target: 80\n        published: 8081\n";
        assert_eq!(compose_port(long), Some(("app".into(), 8081)));
        let proxied = "services:\n  proxy:\n    ports:\n      - \"80:80\"\n  db:\n    ports:\n      - \"5432:5432\"\n  backend:\n    ports:\n      - \"8000:8000\"\n";
        assert_eq!(compose_port(proxied), Some(("backend".into(), 8000)));
        let none = "services:\n  worker:\n    image: busybox\nvolumes:\n  data:\n";
        assert_eq!(compose_port(none), None);
    }

    #[test]
    fn make_and_just_targets() {
        let make = "VERSION := 1\nbuild: deps\n\tcc x.c\ntest:\n\t./t\ntestdata := x\n";
        assert_eq!(targets(make, &["build", "test"]), ["build", "test"]);
        let just = "test *ARGS:\n  cargo test {{ARGS}}\nbuild := \"x\"\n";
        assert_eq!(targets(just, &["build", "test"]), ["test"]);
    }
}
