//! `strategy = "down"` (revert migrations) and `"compatible"` (redeploy the previous build on
//! the new schema).

use super::{GitRepo, SQLX, message, outcome, released_then, sqlx_released, warnings};

const FLYWAY: &str = "migrations = { dir = \"sql\", tool = \"flyway\" }\n";

fn flyway_without_undo(v2: &str) -> GitRepo {
    released_then(
        &[(
            "sql/V1__products.sql",
            "CREATE TABLE products (id INT, sku TEXT);\n",
        )],
        &[("sql/V2__next.sql", v2)],
    )
}

#[test]
fn flyway_without_undo_fails_under_down_with_a_hint_and_passes_when_compatible() {
    let r = flyway_without_undo("ALTER TABLE products ADD COLUMN note TEXT;\n");
    let (code, item, all) = r.check(FLYWAY);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("undo migrations are a paid Flyway feature")
            && message(&item).contains("strategy = \"compatible\""),
        "{all}"
    );

    let (code, item, all) = r.check(&format!("{FLYWAY}strategy = \"compatible\"\n"));
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert_eq!(item["data"]["strategy"], "compatible", "{all}");
}

#[test]
fn compatible_fails_on_what_the_previous_build_cannot_run_against() {
    let cases = [
        (
            "ALTER TABLE products DROP COLUMN sku;\n",
            "drops column `sku`",
        ),
        (
            "ALTER TABLE products RENAME COLUMN sku TO code;\n",
            "renames column `sku`",
        ),
        (
            "ALTER TABLE products ALTER COLUMN id TYPE TEXT;\n",
            "changes the type of column `id`",
        ),
        (
            "ALTER TABLE products ADD COLUMN owner TEXT NOT NULL;\n",
            "adds NOT NULL column `owner`",
        ),
    ];
    for (sql, what) in cases {
        let r = flyway_without_undo(sql);
        let (code, item, all) = r.check(&format!("{FLYWAY}strategy = \"compatible\"\n"));
        assert_eq!((code, outcome(&item)), (1, "failed"), "{sql}\n{all}");
        assert!(message(&item).contains(what), "{all}");
    }
    // Rewriting data is not a schema change: a warning under `compatible`.
    let r = flyway_without_undo("UPDATE products SET sku = upper(sku);\n");
    let (code, item, all) = r.check(&format!("{FLYWAY}strategy = \"compatible\"\n"));
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert!(
        warnings(&item).contains("updates every row of `products`"),
        "{all}"
    );
}

fn sqlx_irreversible(main_rs: &str) -> GitRepo {
    let mut released = sqlx_released();
    released.push(("src/main.rs", main_rs));
    released_then(
        &released,
        &[(
            "migrations/20250301000000_note.sql",
            "ALTER TABLE products ADD COLUMN note TEXT;\n",
        )],
    )
}

#[test]
fn compatible_sqlx_needs_the_previous_build_to_ignore_missing_versions() {
    let plain = "fn main() {\n    let migrator = sqlx::migrate!();\n}\n";
    let (code, item, all) =
        sqlx_irreversible(plain).check(&format!("{SQLX}strategy = \"compatible\"\n"));
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(message(&item).contains("ignore_missing"), "{all}");

    let tolerant = "fn main() {\n    let mut migrator = sqlx::migrate!();\n    migrator.set_ignore_missing(true);\n}\n";
    let (code, item, all) =
        sqlx_irreversible(tolerant).check(&format!("{SQLX}strategy = \"compatible\"\n"));
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");

    // Under `down` the simple migration is irreversible, whatever the code.
    let (code, _, all) = sqlx_irreversible(tolerant).check(SQLX);
    assert_eq!(code, 1, "{all}");
}

#[test]
fn an_unknown_strategy_is_a_checklist_error() {
    let r = GitRepo::new();
    super::write(
        r.path(),
        "preflight.toml",
        "[rollback.release]\nstrategy = \"forward\"\n",
    );
    let run = super::run_in(r.path(), &["run", "preflight.toml"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("preflight.toml:2:") && run.stderr.contains("forward"),
        "{}",
        run.all()
    );
}
