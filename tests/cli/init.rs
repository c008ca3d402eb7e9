//! `preflight init` in small project layouts of each ecosystem (written here, in temp dirs):
//! what it finds, that the result passes `preflight validate`, that its commented examples are
//! valid once uncommented, and that it never overwrites a checklist.

use std::path::Path;

use crate::support::*;

/// Writes `files` (path, text) into a new temp dir, runs `preflight init` there and checks
/// that the checklist validates; returns the dir and the checklist's text.
fn init(files: &[(&str, &str)]) -> (tempfile::TempDir, String) {
    let d = tempdir();
    for (path, text) in files {
        if let Some(parent) = Path::new(path).parent() {
            std::fs::create_dir_all(d.path().join(parent)).expect("mkdir");
        }
        write(d.path(), path, text);
    }
    let r = run_in(d.path(), &["init"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("wrote `preflight.toml`"), "{}", r.stderr);
    let text = read(&d.path().join("preflight.toml"));
    let v = run_in(d.path(), &["validate"]);
    assert_eq!(v.code, 0, "{}\n{text}", v.all());
    uncommented_examples_validate(d.path(), &text);
    (d, text)
}

/// Deletes the `#` of every example line (`#` and no space) and validates the result.
fn uncommented_examples_validate(dir: &Path, text: &str) {
    let all: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if !rest.starts_with([' ', ':']) && !rest.is_empty() => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let path = write(dir, "all-examples.toml", &all);
    let r = run_in(dir, &["validate", path.to_str().expect("utf-8")]);
    assert_eq!(r.code, 0, "{}\n{all}", r.all());
}

/// Files of a project layout: (path, text).
type Layout<'a> = &'a [(&'a str, &'a str)];

fn item<'a>(text: &'a str, header: &str) -> &'a str {
    let start = text
        .find(&format!("\n{header}\n"))
        .unwrap_or_else(|| panic!("no active `{header}` in:\n{text}"));
    let rest = &text[start + 1..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

#[test]
fn build_and_test_commands_of_each_ecosystem() {
    let npm_scripts = r#"{ "scripts": { "build": "tsc", "test": "vitest run" } }"#;
    let cases: &[(Layout, Layout)] = &[
        (
            &[
                ("Cargo.toml", "[package]\nname = \"x\"\n"),
                ("Cargo.lock", ""),
            ],
            &[
                ("[command.build]", "cargo build --locked"),
                ("[command.test]", "cargo test --locked"),
            ],
        ),
        (
            &[("package.json", npm_scripts), ("pnpm-lock.yaml", "")],
            &[
                ("[command.build]", "pnpm run build"),
                ("[command.test]", "pnpm test"),
            ],
        ),
        (
            &[("package.json", npm_scripts), ("yarn.lock", "")],
            &[("[command.test]", "yarn test")],
        ),
        (
            &[("package.json", npm_scripts)],
            &[("[command.test]", "npm test")],
        ),
        (
            &[("go.mod", "module example.com/x\n\ngo 1.22\n")],
            &[
                ("[command.build]", "go build ./..."),
                ("[command.test]", "go test ./..."),
            ],
        ),
        (
            &[
                (
                    "pyproject.toml",
                    "[project]\nname = \"x\"\n[tool.pytest.ini_options]\n",
                ),
                ("tests/test_x.py", "def test_x():\n    pass\n"),
            ],
            &[("[command.test]", "python3 -m pytest")],
        ),
        (
            &[
                ("manage.py", "#!/usr/bin/env python\n"),
                ("requirements.txt", "Django==5.1\n"),
            ],
            &[("[command.test]", "python3 manage.py test")],
        ),
        (
            &[
                ("Gemfile", "gem \"rails\"\n"),
                ("Rakefile", "require_relative \"config/application\"\n"),
            ],
            &[("[command.test]", "bundle exec rake test")],
        ),
        (
            &[
                ("Gemfile", "gem \"rspec-rails\"\n"),
                ("spec/user_spec.rb", ""),
            ],
            &[("[command.test]", "bundle exec rspec")],
        ),
        (
            &[("pom.xml", "<project/>\n"), ("mvnw", "#!/bin/sh\n")],
            &[("[command.test]", "./mvnw -B verify")],
        ),
        (
            &[("build.gradle.kts", "plugins { java }\n")],
            &[("[command.test]", "gradle build")],
        ),
        (
            // The project's own entry point wins over its language's tool.
            &[
                (
                    "Makefile",
                    "CFLAGS := -O2\nbuild: deps\n\tcc x.c\ncheck:\n\t./t\n",
                ),
                ("Cargo.toml", "[package]\nname = \"x\"\n"),
            ],
            &[
                ("[command.build]", "make build"),
                ("[command.test]", "make check"),
            ],
        ),
        (
            &[
                ("justfile", "test *ARGS:\n    go test {{ARGS}} ./...\n"),
                ("go.mod", "module x\n"),
            ],
            &[("[command.test]", "just test")],
        ),
    ];
    for (files, expected) in cases {
        let (_d, text) = init(files);
        for (header, run) in *expected {
            let block = item(&text, header);
            assert!(
                block.contains(&format!("run = \"{run}\"")),
                "{files:?}: {block}"
            );
        }
    }
}

#[test]
fn npm_placeholder_test_script_is_not_a_test() {
    let (_d, text) = init(&[(
        "package.json",
        r#"{ "scripts": { "test": "echo \"Error: no test specified\" && exit 1" } }"#,
    )]);
    assert!(!text.contains("\n[command."), "{text}");
    assert!(text.contains("No build or test command found"), "{text}");
}

#[test]
fn migrations_and_their_tool_as_the_rollback_kind_tells_them() {
    let cases: &[(Layout, &str, &str)] = &[
        (
            &[
                (
                    "migrations/20240101000000_init.up.sql",
                    "CREATE TABLE t (id int);\n",
                ),
                ("migrations/20240101000000_init.down.sql", "DROP TABLE t;\n"),
            ],
            "migrations",
            "sqlx",
        ),
        (
            &[(
                "db/migrate/20240101000000_create_users.rb",
                "class CreateUsers < ActiveRecord::Migration[7.1]\nend\n",
            )],
            "db/migrate",
            "rails",
        ),
        (
            &[(
                "shop/migrations/0001_initial.py",
                "from django.db import migrations\nclass Migration(migrations.Migration):\n    pass\n",
            )],
            "shop/migrations",
            "django",
        ),
        (
            &[(
                "alembic/versions/1a2b_init.py",
                "def upgrade():\n    pass\ndef downgrade():\n    pass\n",
            )],
            "alembic/versions",
            "alembic",
        ),
        (
            &[(
                "src/main/resources/db/migration/V1__init.sql",
                "CREATE TABLE t (id int);\n",
            )],
            "src/main/resources/db/migration",
            "flyway",
        ),
    ];
    for (files, dir, tool) in cases {
        let (_d, text) = init(files);
        let block = item(&text, "[rollback.release]");
        assert!(
            block.contains(&format!(
                "migrations = {{ dir = \"{dir}\", tool = \"{tool}\" }}"
            )),
            "{block}"
        );
    }
}

#[test]
fn flag_files_port_and_health_endpoint() {
    let flagd = r#"{ "flags": { "new-checkout": { "state": "ENABLED", "variants": { "on": true, "off": false }, "defaultVariant": "off" } } }"#;
    let (_d, text) = init(&[
        ("flags/flags.flagd.json", flagd),
        // Test data is not the project's flags.
        ("tests/fixtures/other.flagd.json", flagd),
        (
            ".env",
            "DATABASE_URL=postgres://localhost/x\nFEATURE_NEW_CHECKOUT=on\n",
        ),
        (
            "Dockerfile",
            "FROM node:22\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n",
        ),
        (
            "server.js",
            "app.get('/healthz', (req, res) => res.send('ok'));\n",
        ),
    ]);
    assert!(
        item(&text, "[flags.flagd]").contains("file = \"flags/flags.flagd.json\""),
        "{text}"
    );
    assert!(!text.contains("other.flagd.json"), "{text}");
    let env = item(&text, "[flags.env]");
    assert!(env.contains("key_pattern = \"^FEATURE_(.+)$\""), "{env}");
    assert!(text.contains("base = \"http://127.0.0.1:3000\""), "{text}");
    let health = item(&text, "[http.health]");
    assert!(health.contains("url = \"${base}/healthz\""), "{health}");
    assert!(
        text.contains("`/healthz` is named in `server.js`"),
        "{text}"
    );

    let compose = "services:\n  db:\n    image: postgres\n  web:\n    build: .\n    ports:\n      - \"8081:8080\"\n";
    let (_d, text) = init(&[("compose.yaml", compose)]);
    assert!(text.contains("base = \"http://127.0.0.1:8081\""), "{text}");
    assert!(
        text.contains("published by service `web` in `compose.yaml`"),
        "{text}"
    );
    assert!(
        text.contains("#run = [\"docker\", \"compose\", \"up\", \"web\"]"),
        "{text}"
    );
    assert!(
        text.contains("(a guess: no health path was found"),
        "{text}"
    );
}

/// The shape of a full-stack template (a FastAPI + React one): the app is one compose service
/// among infrastructure, migrations sit deep in the backend, the health route has its own name.
#[test]
fn a_full_stack_layout() {
    let compose = "services:\n  proxy:\n    image: traefik:3\n    ports:\n      - \"80:80\"\n  db:\n    image: postgres:17\n    ports:\n      - \"5432:5432\"\n  backend:\n    build: ./backend\n    ports:\n      - \"8000:8000\"\n";
    let (_d, text) = init(&[
        (
            "compose.yml",
            "services:\n  backend:\n    build: ./backend\n",
        ),
        ("compose.override.yml", compose),
        (
            "package.json",
            r#"{ "workspaces": ["frontend"], "scripts": { "test": "bun run --filter frontend test" } }"#,
        ),
        ("bun.lock", "{}\n"),
        (
            "backend/app/alembic/versions/e2412789c190_init.py",
            "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n",
        ),
        (
            "backend/app/api/routes/utils.py",
            "@router.get(\"/health-check/\")\nasync def health_check() -> bool:\n    return True\n",
        ),
    ]);
    assert!(
        item(&text, "[command.test]").contains("run = \"bun run test\""),
        "{text}"
    );
    assert!(text.contains("base = \"http://127.0.0.1:8000\""), "{text}");
    assert!(
        text.contains("service `backend` in `compose.override.yml`"),
        "{text}"
    );
    assert!(
        item(&text, "[http.health]").contains("url = \"${base}/health-check/\""),
        "{text}"
    );
    let rollback = item(&text, "[rollback.release]");
    assert!(
        rollback.contains("dir = \"backend/app/alembic/versions\", tool = \"alembic\""),
        "{rollback}"
    );
}

#[test]
fn an_empty_directory_gets_examples_and_one_sign_off() {
    let (_d, text) = init(&[]);
    assert!(
        item(&text, "[manual.release-notes]").contains("prompt = "),
        "{text}"
    );
    for example in [
        "#[command.test]",
        "#[http.health]",
        "#[flags.audit]",
        "#[rollback.release]",
        "#[browser.home]",
        "#[soak.api]",
    ] {
        assert!(text.contains(example), "{example} missing:\n{text}");
    }
}

#[test]
fn init_never_overwrites_and_force_replaces() {
    let d = tempdir();
    write(d.path(), "preflight.toml", "# mine\n");
    let r = run_in(d.path(), &["init"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("`preflight.toml` exists: preflight init never overwrites a checklist (`--force` replaces it)"),
        "{}",
        r.stderr
    );
    assert_eq!(read(&d.path().join("preflight.toml")), "# mine\n");
    let r = run_in(d.path(), &["init", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(read(&d.path().join("preflight.toml")).contains("[checklist]"));
}

/// End to end: the checklist written for a project with a Makefile runs, and passes.
#[test]
fn the_written_checklist_runs_the_projects_commands() {
    let (d, text) = init(&[(
        "Makefile",
        "build:\n\ttouch built\ntest: build\n\ttest -f built\n",
    )]);
    assert!(text.contains("run = \"make test\""), "{text}");
    let r = run_in(d.path(), &["run"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("PASS command.test"), "{}", r.stderr);
}
