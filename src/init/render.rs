//! The text of the checklist `preflight init` writes. Prose comments start with `# `; commented
//! examples start with `#` and no space (as in `sshd_config`), so deleting that one `#` makes a
//! line active, and the examples are valid as they stand (a test uncomments them all).

use std::fmt::Write as _;

use super::detect::{FlagSource, Project};

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Prefixes each line of `block` with `#` (an example to uncomment).
fn commented(block: &str) -> String {
    block.lines().map(|l| format!("#{l}\n")).collect()
}

pub fn checklist(name: &str, p: &Project) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# The release checklist of this project, written by `preflight init` from what it found.
# `preflight run` runs it; `preflight gate -- ./deploy.sh` deploys only if every item passes.
# Each item says what it was found from: check it, then delete what does not apply.
# Lines starting with `#` and no space are examples: delete the `#` to use them.
# Keys of every kind: `preflight kinds`, `preflight explain KIND`. Completion in editors:
# `preflight schema > preflight.schema.json`, then `#:schema ./preflight.schema.json` as line 1.

[checklist]
name = {}",
        quote(name)
    );
    let mut active = 0;

    let base = p.container.as_ref().map(|c| {
        let from = match &c.service {
            Some(service) => format!("published by service `{service}` in `{}`", c.file),
            None => format!("`EXPOSE`d in `{}`", c.file),
        };
        (format!("http://127.0.0.1:{}", c.port), from, c.port)
    });
    let health_path = p
        .health
        .as_ref()
        .map_or("/health", |(path, _)| path.as_str());
    if let Some((url, from, port)) = &base {
        let _ = writeln!(
            s,
            "\n[vars]\n# Where the app answers: port {port} {from}.\nbase = {}",
            quote(url)
        );
    }

    if !p.tasks.is_empty() {
        s.push('\n');
        for t in &p.tasks {
            let _ = writeln!(
                s,
                "# Found: {}.\n[command.{}]\nrun = {}\n",
                t.why,
                t.name,
                quote(&t.run)
            );
            active += 1;
        }
        if !p.also_found.is_empty() {
            let _ = writeln!(
                s,
                "# Also found, not used above: {}.\n",
                p.also_found
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        s.pop();
    } else {
        s.push_str(
            "\n# No build or test command found (Cargo, npm/pnpm/yarn/bun, Go, pytest, Django, Bundler, Maven,\n# Gradle, make, just).\n",
        );
        s.push_str(&commented(
            "[command.test]\nrun = \"./run-tests.sh\"          # argv array, or a string run by `sh -c`\ntimeout = \"10m\"\n",
        ));
    }

    let url = match &base {
        Some(_) => format!("${{base}}{health_path}"),
        None => format!("http://127.0.0.1:8080{health_path}"),
    };
    let health_why = match &p.health {
        Some((path, from)) => format!("`{path}` is named in {from}"),
        None => "a guess: no health path was found in the sources".to_string(),
    };
    if base.is_some() {
        let _ = writeln!(
            s,
            "\n# The app's health endpoint ({health_why}).\n# The app must be running: start it before `preflight run`, or let preflight start it\n# as the service below.\n[http.health]\nurl = {}\ntimeout = \"5s\"",
            quote(&url)
        );
        active += 1;
        if let Some(c) = &p.container {
            let run = match &c.service {
                Some(service) => format!("[\"docker\", \"compose\", \"up\", {}]", quote(service)),
                None => "[\"docker\", \"run\", \"--rm\", \"-p\", \"PORT:PORT\", \"IMAGE\"]"
                    .replace("PORT", &c.port.to_string()),
            };
            s.push_str("\n# preflight starts the app before the items and stops it after them:\n");
            s.push_str(&commented(&format!(
                "[service.app]\nrun = {run}\nready = {{ http = {}, timeout = \"60s\" }}\n",
                quote(&url)
            )));
        }
    } else {
        let _ = writeln!(
            s,
            "\n# No Dockerfile `EXPOSE` or compose port found: an HTTP check of a running app looks like\n# this (health path: {health_why})."
        );
        s.push_str(&commented(&format!(
            "[http.health]\nurl = {}\nstatus = 200\ntimeout = \"5s\"\n",
            quote(&url)
        )));
    }

    if p.flags.is_empty() {
        s.push_str("\n# No flag definitions found (flagd JSON, `.env` `FEATURE_*` keys). An audit of flagd flags:\n");
        s.push_str(&commented(
            "[flags.audit]\nsource = \"flagd\"\nfile = \"flags.flagd.json\"\n",
        ));
    }
    let (mut flagd, mut env) = (0, 0);
    for f in &p.flags {
        let count = match f {
            FlagSource::Flagd { .. } => &mut flagd,
            FlagSource::Env { .. } => &mut env,
        };
        *count += 1;
        let suffix = if *count == 1 {
            String::new()
        } else {
            format!("-{count}")
        };
        match f {
            FlagSource::Flagd { file } => {
                let _ = writeln!(
                    s,
                    "\n# Found: flagd flag definitions in `{file}`.\n# Experiments must not reach customers, rollouts must not be narrow (`preflight explain flags`).\n[flags.flagd{suffix}]\nsource = \"flagd\"\nfile = {}",
                    quote(file)
                );
            }
            FlagSource::Env { file, prefix } => {
                let _ = writeln!(
                    s,
                    "\n# Found: `{prefix}*` keys in `{file}`, read as flags (`{prefix}NAME=on`).\n[flags.env{suffix}]\nsource = \"plain\"\nfile = {}\nkey_pattern = {}",
                    quote(file),
                    quote(&format!("^{prefix}(.+)$"))
                );
            }
        }
        active += 1;
    }

    match (&p.migrations, p.git) {
        (Some(m), _) => {
            let _ = writeln!(
                s,
                "\n# Found: {} migrations in `{}`.\n# The release can be rolled back: a previous release tag, every migration since then\n# reversible and not dangerous.\n[rollback.release]\ntag_pattern = \"v*\"\nmigrations = {{ dir = {}, tool = \"{}\" }}",
                m.tool.name(),
                m.dir,
                quote(&m.dir),
                m.tool.name()
            );
            active += 1;
        }
        (None, true) => {
            let _ = writeln!(
                s,
                "\n# Found: a git repository (no migrations directory). The release can be rolled back:\n# a previous release tag exists (a first release passes with a note).\n[rollback.release]\ntag_pattern = \"v*\""
            );
            active += 1;
        }
        (None, false) => {
            s.push_str("\n# No git repository or migrations found. A rollback check:\n");
            s.push_str(&commented(
                "[rollback.release]\ntag_pattern = \"v*\"\nmigrations = { dir = \"migrations\", tool = \"auto\" }\n",
            ));
        }
    }

    let page = match &base {
        Some(_) => "${base}/".to_string(),
        None => "http://127.0.0.1:8080/".to_string(),
    };
    s.push_str("\n# Not detected, for you to fill in: a journey in a real browser (Chromium),\n");
    s.push_str(&commented(&format!(
        "[browser.home]\nsteps = [{{ goto = {} }}, {{ expect_text = \"h1\", contains = \"Welcome\" }}]\n",
        quote(&page)
    )));
    s.push_str("\n# a short load run that fails on slow responses or a leak (loopback only),\n");
    s.push_str(&commented(&format!(
        "[soak.api]\nrate = 20\nduration = \"30s\"\nmax_p99 = \"500ms\"\nrequests = [{{ url = {} }}]\n",
        quote(&url)
    )));
    if active == 0 {
        s.push_str(
            "\n# and a sign-off by a person (`--ack manual.release-notes` in CI). Nothing else was found,\n# so this is the one active item: a checklist needs one.\n[manual.release-notes]\nprompt = \"Are the release notes written and reviewed?\"\n",
        );
    } else {
        s.push_str("\n# and a sign-off by a person (`--ack manual.release-notes` in CI).\n");
        s.push_str(&commented(
            "[manual.release-notes]\nprompt = \"Are the release notes written and reviewed?\"\n",
        ));
    }
    s
}
