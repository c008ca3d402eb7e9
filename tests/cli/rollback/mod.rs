//! `[rollback.NAME]` against real git repositories built with git2 in temp dirs.

use std::path::Path;

use git2::{Oid, Repository, Signature};
use serde_json::Value;

use crate::support::{self, run_in, write};

mod changes;
mod context;
mod dry_runs;
mod misses;
mod previous;
mod strategy;

/// A git repository in a temp dir, with the checklist (ignored by git) at its root.
struct GitRepo {
    dir: tempfile::TempDir,
    repo: Repository,
}

impl GitRepo {
    fn new() -> GitRepo {
        let dir = support::tempdir();
        let repo = Repository::init(dir.path()).expect("git init");
        // The first commit goes to `main`, whatever git's configured default.
        repo.set_head("refs/heads/main").expect("head");
        write(
            dir.path(),
            ".gitignore",
            "preflight.toml\npreflight-artifacts/\nreport.json\n",
        );
        let r = GitRepo { dir, repo };
        r.commit("initial");
        r
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> &Self {
        write(self.path(), name, text);
        self
    }

    fn remove(&self, name: &str) -> &Self {
        std::fs::remove_file(self.path().join(name)).expect("remove");
        self
    }

    /// Commits every change of the work tree on the current branch.
    fn commit(&self, message: &str) -> Oid {
        let mut index = self.repo.index().expect("index");
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        index.update_all(["*"], None).expect("update");
        index.write().expect("write index");
        let tree = self
            .repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("find tree");
        let sig = Signature::now("Release Bot", "bot@example.test").expect("sig");
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .expect("commit")
    }

    /// Creates branch `name` at the current commit (HEAD stays where it is).
    fn branch(&self, name: &str) {
        let head = self.repo.head().unwrap().peel_to_commit().unwrap();
        self.repo.branch(name, &head, false).expect("branch");
    }

    /// Makes branch `name` HEAD and its tree the work tree.
    fn switch(&self, name: &str) {
        self.repo
            .set_head(&format!("refs/heads/{name}"))
            .expect("set head");
        self.repo
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .expect("checkout");
    }

    /// Detaches HEAD at `commit` and checks its tree out.
    fn detach(&self, commit: Oid) {
        self.repo.set_head_detached(commit).expect("detach");
        self.repo
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .expect("checkout");
    }

    fn lightweight_tag(&self, name: &str) {
        let head = self
            .repo
            .head()
            .unwrap()
            .peel(git2::ObjectType::Commit)
            .unwrap();
        self.repo.tag_lightweight(name, &head, false).expect("tag");
    }

    fn annotated_tag(&self, name: &str) {
        let head = self
            .repo
            .head()
            .unwrap()
            .peel(git2::ObjectType::Commit)
            .unwrap();
        let sig = Signature::now("Release Bot", "bot@example.test").unwrap();
        self.repo
            .tag(name, &head, &sig, &format!("release {name}"), false)
            .expect("tag");
    }

    /// Runs `[rollback.release]` with `body` and returns (exit code, the item's JSON result, all output).
    fn check(&self, body: &str) -> (i32, Value, String) {
        write(
            self.path(),
            "preflight.toml",
            &format!("[rollback.release]\n{body}"),
        );
        let run = run_in(
            self.path(),
            &["run", "preflight.toml", "--json", "report.json"],
        );
        let text = std::fs::read_to_string(self.path().join("report.json"))
            .unwrap_or_else(|_| panic!("no report\n{}", run.all()));
        let report: Value = serde_json::from_str(&text).expect("json");
        let item = report["items"][0].clone();
        let all = format!(
            "{}\n--- item\n{}",
            run.all(),
            serde_json::to_string_pretty(&item).unwrap_or_default()
        );
        (run.code, item, all)
    }
}

fn outcome(item: &Value) -> &str {
    item["outcome"].as_str().unwrap_or("")
}

fn message(item: &Value) -> &str {
    item["message"].as_str().unwrap_or("")
}

fn details(item: &Value) -> &str {
    item["details"].as_str().unwrap_or("")
}

/// The item's warnings, joined one a line.
fn warnings(item: &Value) -> String {
    item["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The report's entry for migration `id`.
fn migration<'a>(item: &'a Value, id: &str) -> &'a Value {
    item["data"]["migrations"]["migrations"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["id"] == id))
        .unwrap_or(&Value::Null)
}

/// A repo with `v1.0.0` released, then the files of `added` committed on top.
fn released_then(files_at_release: &[(&str, &str)], added: &[(&str, &str)]) -> GitRepo {
    let r = GitRepo::new();
    for (name, text) in files_at_release {
        r.write(name, text);
    }
    r.commit("release 1.0.0");
    r.annotated_tag("v1.0.0");
    for (name, text) in added {
        r.write(name, text);
    }
    r.commit("next");
    r
}

// ---- previous release ---------------------------------------------------------------------

#[test]
fn no_tags_is_a_first_release_that_passes_with_a_note() {
    let r = GitRepo::new();
    r.write("src/main.rs", "fn main() {}\n").commit("code");
    let (code, item, all) = r.check("");
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert!(message(&item).contains("first release"), "{all}");
}

#[test]
fn no_tags_fails_with_require_previous() {
    let r = GitRepo::new();
    let (code, item, all) = r.check("require_previous = true\n");
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(message(&item).contains("no previous release"), "{all}");
}

#[test]
fn previous_release_is_the_highest_semver_below_head() {
    let r = GitRepo::new();
    r.write("a", "1").commit("1.9");
    r.annotated_tag("v1.9.0");
    r.write("a", "2").commit("1.10");
    r.lightweight_tag("v1.10.0");
    r.write("a", "3").commit("rc");
    r.lightweight_tag("v1.11.0-rc.1");
    r.lightweight_tag("not-a-release");
    r.write("a", "4").commit("1.11");
    r.annotated_tag("v1.11.0");

    let (code, item, all) = r.check("require_tag = true\n");
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    // Numeric order (1.10 > 1.9), pre-releases left out, lightweight tags count.
    assert_eq!(item["data"]["previous"]["tag"], "v1.10.0", "{all}");
    assert_eq!(item["data"]["head"]["tag"], "v1.11.0", "{all}");
    let props: Vec<(String, String)> =
        serde_json::from_value(item["properties"].clone()).unwrap_or_default();
    assert!(
        props.contains(&("previous_tag".into(), "v1.10.0".into())),
        "{all}"
    );

    let (_, item, all) = r.check("include_prereleases = true\n");
    assert_eq!(item["data"]["previous"]["tag"], "v1.11.0-rc.1", "{all}");

    // Untagged HEAD: the release being checked is the next one; the previous is v1.11.0.
    r.write("a", "5").commit("after");
    let (code, item, all) = r.check("");
    assert_eq!(
        (code, item["data"]["previous"]["tag"].as_str()),
        (0, Some("v1.11.0")),
        "{all}"
    );
    let (code, item, all) = r.check("require_tag = true\n");
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("no release tag matching `v*`"),
        "{all}"
    );
}

#[test]
fn head_that_does_not_descend_from_the_previous_release_fails() {
    let r = GitRepo::new();
    let base = r.repo.head().unwrap().peel_to_commit().unwrap();
    r.write("a", "release").commit("release on a side line");
    r.annotated_tag("v1.0.0");
    // Back to the initial commit, and on from there without the release.
    r.repo
        .reset(base.as_object(), git2::ResetType::Hard, None)
        .unwrap();
    r.write("b", "other").commit("other history");
    let (code, item, all) = r.check("");
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("does not descend from the previous release v1.0.0"),
        "{all}"
    );
}

#[test]
fn a_directory_that_is_not_a_repository_errors() {
    let dir = support::tempdir();
    write(dir.path(), "preflight.toml", "[rollback.release]\n");
    let run = run_in(
        dir.path(),
        &["run", "preflight.toml", "--json", "report.json"],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    let item = &report["items"][0];
    assert_eq!(outcome(item), "errored", "{}", run.all());
    assert!(
        message(item).contains("is not inside a git repository"),
        "{}",
        run.all()
    );
}

#[test]
fn an_allow_entry_without_a_reason_is_a_checklist_error() {
    let r = GitRepo::new();
    write(
        r.path(),
        "preflight.toml",
        "[rollback.release]\nallow = [\"20250101_drop\"]\n",
    );
    let run = run_in(r.path(), &["run", "preflight.toml"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("needs a reason") && run.stderr.contains("preflight.toml:2:"),
        "{}",
        run.all()
    );
}

// ---- sqlx --------------------------------------------------------------------------------

const CREATE_UP: &str = "CREATE TABLE products (sku TEXT PRIMARY KEY);\n";
const CREATE_DOWN: &str = "DROP TABLE products;\n";
const SQLX: &str = "migrations = { dir = \"migrations\", tool = \"sqlx\" }\n";

fn sqlx_released() -> Vec<(&'static str, &'static str)> {
    vec![
        ("migrations/20250101000000_products.up.sql", CREATE_UP),
        ("migrations/20250101000000_products.down.sql", CREATE_DOWN),
    ]
}

#[test]
fn sqlx_reversible_migration_passes() {
    let r = released_then(
        &sqlx_released(),
        &[
            (
                "migrations/20250301000000_notes.up.sql",
                "-- keep it reversible\nALTER TABLE products ADD COLUMN note TEXT;\n",
            ),
            (
                "migrations/20250301000000_notes.down.sql",
                "ALTER TABLE products DROP COLUMN note;\n",
            ),
        ],
    );
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    let m = &item["data"]["migrations"]["migrations"];
    assert_eq!(m[0]["id"], "20250301000000_notes", "{all}");
    assert_eq!(m[0]["verdict"], "reversible", "{all}");
    assert!(message(&item).contains("previous release v1.0.0"), "{all}");
}

#[test]
fn sqlx_simple_migration_is_irreversible() {
    let r = released_then(
        &sqlx_released(),
        &[(
            "migrations/20250301000000_notes.sql",
            "ALTER TABLE products ADD COLUMN note TEXT;\n",
        )],
    );
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("migrations/20250301000000_notes.sql"),
        "{all}"
    );
    assert!(message(&item).contains("irreversible"), "{all}");
}

#[test]
fn sqlx_empty_down_is_irreversible() {
    let r = released_then(
        &sqlx_released(),
        &[
            (
                "migrations/20250301000000_notes.up.sql",
                "ALTER TABLE products ADD COLUMN note TEXT;\n",
            ),
            (
                "migrations/20250301000000_notes.down.sql",
                "-- Add down migration script here\n",
            ),
        ],
    );
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains(
            "migrations/20250301000000_notes.down.sql:1: irreversible: the down migration is empty"
        ),
        "{all}"
    );
}

const DROP_UP: &str = "-- DROP TABLE in a comment is fine\nALTER TABLE products ADD COLUMN x TEXT;\nDROP TABLE legacy;\n";

fn sqlx_dangerous() -> GitRepo {
    released_then(
        &sqlx_released(),
        &[
            ("migrations/20250301000000_drop_legacy.up.sql", DROP_UP),
            (
                "migrations/20250301000000_drop_legacy.down.sql",
                "CREATE TABLE legacy (id INT);\n",
            ),
        ],
    )
}

#[test]
fn sqlx_dangerous_statement_fails_naming_file_and_line() {
    let r = sqlx_dangerous();
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item)
            .contains("migrations/20250301000000_drop_legacy.up.sql:3: drops table `legacy`"),
        "{all}"
    );
    let d = &item["data"]["migrations"]["migrations"][0]["dangerous"][0];
    assert_eq!(
        (d["line"].as_u64(), d["rule"].as_str()),
        (Some(3), Some("drop-table")),
        "{all}"
    );
}

#[test]
fn sqlx_dangerous_statement_only_warns_with_dangerous_warn() {
    let r = sqlx_dangerous();
    let (code, item, all) = r.check(&format!("{SQLX}dangerous = \"warn\"\n"));
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert!(
        item["warnings"][0]
            .as_str()
            .unwrap_or("")
            .contains("drop_legacy.up.sql:3"),
        "{all}"
    );
}

#[test]
fn sqlx_dangerous_statement_allowed_with_a_reason_passes() {
    let r = sqlx_dangerous();
    let allow = "allow = [{ migration = \"20250301000000_drop_legacy\", reason = \"legacy unused since 0.9\" }]\n";
    let (code, item, all) = r.check(&format!("{SQLX}{allow}"));
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    let m = &item["data"]["migrations"]["migrations"][0];
    assert_eq!(
        (m["verdict"].as_str(), m["allowed"].as_str()),
        (Some("allowed"), Some("legacy unused since 0.9")),
        "{all}"
    );
}

#[test]
fn sqlx_edited_or_deleted_released_migration_fails() {
    let r = released_then(
        &sqlx_released(),
        &[(
            "migrations/20250101000000_products.up.sql",
            "CREATE TABLE products (sku TEXT);\n",
        )],
    );
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item)
            .contains("migrations/20250101000000_products.up.sql: released migration was edited"),
        "{all}"
    );

    // sqlx refuses a database with applied versions it cannot find.
    r.remove("migrations/20250101000000_products.down.sql")
        .remove("migrations/20250101000000_products.up.sql")
        .write(
            "migrations/20250301000000_items.up.sql",
            "CREATE TABLE items (id INT);\n",
        )
        .write(
            "migrations/20250301000000_items.down.sql",
            "DROP TABLE items;\n",
        )
        .commit("delete the migration");
    let (code, item, all) = r.check(SQLX);
    assert_eq!(code, 1, "{all}");
    assert!(
        details(&item).contains("20250101000000_products.down.sql: released migration was deleted"),
        "{all}"
    );
}

#[test]
fn the_fixture_shops_migrations_pass() {
    let shop = support::repo().join("fixtures/shop/migrations");
    let read = |f: &str| std::fs::read_to_string(shop.join(f)).expect("fixture migration");
    let names = [
        "20250101000000_create_products.up.sql",
        "20250101000000_create_products.down.sql",
        "20250201000000_create_orders.up.sql",
        "20250201000000_create_orders.down.sql",
    ];
    let texts: Vec<(String, String)> = names
        .iter()
        .map(|n| (format!("fixtures/shop/migrations/{n}"), read(n)))
        .collect();
    let as_refs = |r: &[(String, String)]| {
        r.iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect::<Vec<_>>()
    };
    let all_files = as_refs(&texts);
    let (first, second) = all_files.split_at(2);
    let first: Vec<(&str, &str)> = first
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let second: Vec<(&str, &str)> = second
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let r = released_then(&first, &second);
    r.write(
        "scripts/rollback.sh",
        "#!/bin/sh\necho \"would roll back to $PREFLIGHT_PREVIOUS_TAG\"\n",
    );
    r.commit("rollback script");
    // tool = auto: detected from the files.
    let (code, item, all) = r.check("migrations = { dir = \"fixtures/shop/migrations\" }\ndry_run = [\"sh scripts/rollback.sh\"]\n");
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    let m = &item["data"]["migrations"];
    assert_eq!(
        (m["tool"].as_str(), m["detected"].as_bool()),
        (Some("sqlx"), Some(true)),
        "{all}"
    );
    assert_eq!(
        m["migrations"][0]["id"], "20250201000000_create_orders",
        "{all}"
    );
    assert_eq!(m["migrations"][0]["verdict"], "reversible", "{all}");
    assert!(
        details(&item).contains("would roll back to v1.0.0"),
        "{all}"
    );
}

// ---- diesel, flyway ----------------------------------------------------------------------

#[test]
fn diesel_reversible_passes_and_missing_down_fails() {
    let released = [
        ("migrations/2025-01-01-000000_products/up.sql", CREATE_UP),
        (
            "migrations/2025-01-01-000000_products/down.sql",
            CREATE_DOWN,
        ),
    ];
    let cfg = "migrations = { dir = \"migrations\", tool = \"diesel\" }\n";
    let good = released_then(
        &released,
        &[
            (
                "migrations/2025-03-01-000000_notes/up.sql",
                "ALTER TABLE products ADD COLUMN note TEXT;\n",
            ),
            (
                "migrations/2025-03-01-000000_notes/down.sql",
                "ALTER TABLE products DROP COLUMN note;\n",
            ),
        ],
    );
    let (code, item, all) = good.check(cfg);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");

    let bad = released_then(
        &released,
        &[(
            "migrations/2025-03-01-000000_notes/up.sql",
            "ALTER TABLE products ADD COLUMN note TEXT;\n",
        )],
    );
    let (code, item, all) = bad.check(cfg);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains(
            "migrations/2025-03-01-000000_notes/up.sql:1: irreversible: no down migration"
        ),
        "{all}"
    );
}

#[test]
fn flyway_undo_passes_and_missing_undo_fails() {
    let released = [
        ("sql/V1__products.sql", CREATE_UP),
        ("sql/U1__products.sql", CREATE_DOWN),
    ];
    let cfg = "migrations = { dir = \"sql\", tool = \"flyway\" }\n";
    let good = released_then(
        &released,
        &[
            (
                "sql/V2__notes.sql",
                "ALTER TABLE products ADD COLUMN note TEXT;\n",
            ),
            (
                "sql/U2__notes.sql",
                "ALTER TABLE products DROP COLUMN note;\n",
            ),
            (
                "sql/R__views.sql",
                "CREATE OR REPLACE VIEW v AS SELECT 1;\n",
            ),
        ],
    );
    let (code, item, all) = good.check(cfg);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");

    let bad = released_then(
        &released,
        &[
            (
                "sql/V2__rename.sql",
                "ALTER TABLE products RENAME COLUMN sku TO code;\n",
            ),
            (
                "sql/U2__rename.sql",
                "ALTER TABLE products RENAME COLUMN code TO sku;\n",
            ),
            (
                "sql/V3__notes.sql",
                "ALTER TABLE products ADD COLUMN note TEXT;\n",
            ),
        ],
    );
    let (code, item, all) = bad.check(cfg);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    let d = details(&item);
    assert!(
        d.contains("sql/V2__rename.sql:1: renames column `sku` of `products`"),
        "{all}"
    );
    assert!(d.contains("sql/V3__notes.sql:1: irreversible: no down migration: an undo migration `U3__*.sql` is missing"), "{all}");
}

// ---- rails, django, alembic --------------------------------------------------------------

#[test]
fn rails_reversible_change_passes_and_irreversible_migration_fails() {
    let released = [(
        "db/migrate/20250101000000_create_products.rb",
        "class CreateProducts < ActiveRecord::Migration[7.1]\n  def change\n    create_table :products do |t|\n      t.string :sku\n    end\n  end\nend\n",
    )];
    let cfg = "migrations = { dir = \"db/migrate\" }\n";
    let good = released_then(
        &released,
        &[(
            "db/migrate/20250301000000_add_note.rb",
            "class AddNote < ActiveRecord::Migration[7.1]\n  def change\n    add_column :products, :note, :string\n  end\nend\n",
        )],
    );
    let (code, item, all) = good.check(cfg);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert_eq!(item["data"]["migrations"]["tool"], "rails", "{all}");

    let bad = released_then(
        &released,
        &[(
            "db/migrate/20250301000000_drop_legacy.rb",
            "class DropLegacy < ActiveRecord::Migration[7.1]\n  def up\n    drop_table :legacy\n  end\n\n  def down\n    raise ActiveRecord::IrreversibleMigration\n  end\nend\n",
        )],
    );
    let (code, item, all) = bad.check(cfg);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    let d = details(&item);
    assert!(d.contains("db/migrate/20250301000000_drop_legacy.rb:7: irreversible: raises `ActiveRecord::IrreversibleMigration`"), "{all}");
    assert!(
        d.contains("db/migrate/20250301000000_drop_legacy.rb:3: drops table `legacy`"),
        "{all}"
    );
}

#[test]
fn django_reverse_code_passes_and_missing_reverse_fails() {
    let initial = "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n    initial = True\n    operations = [migrations.CreateModel(name='Order', fields=[('id', models.AutoField(primary_key=True))])]\n";
    let released = [
        ("shop/migrations/__init__.py", ""),
        ("shop/migrations/0001_initial.py", initial),
    ];
    let cfg = "migrations = { dir = \"shop/migrations\" }\n";
    let good = released_then(
        &released,
        &[(
            "shop/migrations/0002_backfill.py",
            "from django.db import migrations\n\ndef forwards(apps, schema_editor):\n    pass\n\nclass Migration(migrations.Migration):\n    dependencies = [('shop', '0001_initial')]\n    operations = [\n        migrations.RunPython(forwards, migrations.RunPython.noop),\n    ]\n",
        )],
    );
    let (code, item, all) = good.check(cfg);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert_eq!(item["data"]["migrations"]["tool"], "django", "{all}");

    let bad = released_then(
        &released,
        &[(
            "shop/migrations/0002_backfill.py",
            "from django.db import migrations\n\ndef forwards(apps, schema_editor):\n    pass\n\nclass Migration(migrations.Migration):\n    dependencies = [('shop', '0001_initial')]\n    operations = [\n        migrations.RunPython(forwards),\n    ]\n",
        )],
    );
    let (code, item, all) = bad.check(cfg);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains(
            "shop/migrations/0002_backfill.py:9: irreversible: `RunPython` without `reverse_code`"
        ),
        "{all}"
    );
}

#[test]
fn alembic_downgrade_passes_and_pass_only_downgrade_fails() {
    let env = "from alembic import context\n";
    let first = "revision = 'a1'\ndown_revision = None\n\ndef upgrade():\n    op.create_table('products', sa.Column('sku', sa.Text()))\n\n\ndef downgrade():\n    op.drop_table('products')\n";
    let released = [
        ("alembic/env.py", env),
        ("alembic/versions/a1_products.py", first),
    ];
    let cfg = "migrations = { dir = \"alembic\" }\n";
    let good = released_then(
        &released,
        &[(
            "alembic/versions/b2_note.py",
            "revision = 'b2'\ndown_revision = 'a1'\n\ndef upgrade():\n    op.add_column('products', sa.Column('note', sa.Text()))\n\n\ndef downgrade():\n    op.drop_column('products', 'note')\n",
        )],
    );
    let (code, item, all) = good.check(cfg);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert_eq!(item["data"]["migrations"]["tool"], "alembic", "{all}");

    let bad = released_then(
        &released,
        &[(
            "alembic/versions/b2_note.py",
            "revision = 'b2'\ndown_revision = 'a1'\n\ndef upgrade():\n    op.add_column('products', sa.Column('note', sa.Text()))\n\n\ndef downgrade():\n    pass\n",
        )],
    );
    let (code, item, all) = bad.check(cfg);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item)
            .contains("alembic/versions/b2_note.py:8: irreversible: `downgrade()` only passes"),
        "{all}"
    );
}

#[test]
fn failure_details_read_well() {
    let r = released_then(
        &sqlx_released(),
        &[
            (
                "migrations/20250301000000_notes.up.sql",
                "ALTER TABLE products ADD COLUMN note TEXT NOT NULL;\n/* old */ UPDATE products SET sku = lower(sku);\n",
            ),
            (
                "migrations/20250302000000_index.sql",
                "CREATE INDEX products_sku ON products (sku);\n",
            ),
        ],
    );
    let (_, item, _) = r.check(SQLX);
    insta::with_settings!({ filters => vec![(r"repository: \S+", "repository: [REPO]"), (r"\b[0-9a-f]{12}\b", "[COMMIT]")] }, {
        insta::assert_snapshot!(format!("{}\n---\n{}", message(&item), details(&item)));
    });
}
