//! Which release is "previous": HEAD's history first, hotfix lines when HEAD is a release.

use super::{GitRepo, SQLX, migration, outcome, warnings};

fn sqlx_pair(r: &GitRepo, version: &str, up: &str, down: &str) {
    r.write(&format!("migrations/{version}.up.sql"), up);
    r.write(&format!("migrations/{version}.down.sql"), down);
}

fn add_table(r: &GitRepo, version: &str, table: &str) {
    sqlx_pair(
        r,
        version,
        &format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY);\n"),
        &format!("DROP TABLE {table};\n"),
    );
}

/// CI runs on a commit between releases while later releases are already tagged: the later
/// tags are not the previous release, and their migrations are not "deleted".
#[test]
fn untagged_head_takes_the_highest_release_in_its_history() {
    let r = GitRepo::new();
    add_table(&r, "20250101000000_products", "products");
    r.commit("1.0");
    r.annotated_tag("v1.0.0");
    add_table(&r, "20250201000000_orders", "orders");
    let checked = r.commit("orders (the commit CI checks)");
    add_table(&r, "20250301000000_invoices", "invoices");
    r.commit("invoices");
    r.annotated_tag("v1.1.0");
    r.write("README", "2.0\n").commit("2.0");
    r.lightweight_tag("v2.0.0");
    r.detach(checked);

    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    let previous = &item["data"]["previous"];
    assert_eq!(previous["tag"], "v1.0.0", "{all}");
    assert_eq!(previous["rule"], "ancestor", "{all}");
    let candidates = previous["candidates"].to_string();
    assert!(
        candidates.contains("\"tag\":\"v2.0.0\",\"relation\":\"later\"")
            && candidates.contains("\"tag\":\"v1.1.0\",\"relation\":\"later\""),
        "{all}"
    );
    // Only the orders migration changed; the later invoices migration is not "deleted".
    let m = item["data"]["migrations"]["migrations"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{all}");
    assert_eq!(m[0]["id"], "20250201000000_orders", "{all}");
    assert_eq!(m[0]["change"], "added", "{all}");
}

/// A patch release on a release branch (`v1.0.1`, not an ancestor of `v1.1.0` on main) is what
/// production runs: it is the rollback target, and its tree is what HEAD is compared with.
fn hotfix_history(hotfix_only_migration: bool) -> GitRepo {
    let r = GitRepo::new();
    add_table(&r, "20250101000000_products", "products");
    r.commit("1.0");
    r.annotated_tag("v1.0.0");
    r.branch("release-1.0");
    // main moves on.
    add_table(&r, "20250201000000_orders", "orders");
    r.commit("orders");
    // The hotfix: a migration that main gets too (cherry-picked, same version) ...
    r.switch("release-1.0");
    let fix_up = "CREATE INDEX products_id ON products (id);\n";
    let fix_down = "DROP INDEX products_id;\n";
    sqlx_pair(&r, "20250115000000_products_index", fix_up, fix_down);
    if hotfix_only_migration {
        // ... and one that only the release line has.
        add_table(&r, "20250116000000_audit", "audit");
    }
    r.commit("hotfix");
    r.annotated_tag("v1.0.1");
    r.switch("main");
    sqlx_pair(&r, "20250115000000_products_index", fix_up, fix_down);
    r.commit("cherry-pick the hotfix");
    r.annotated_tag("v1.1.0");
    r
}

#[test]
fn a_hotfix_tag_off_the_main_line_is_the_rollback_target() {
    let r = hotfix_history(false);
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    let previous = &item["data"]["previous"];
    assert_eq!(
        (
            previous["tag"].as_str(),
            previous["rule"].as_str(),
            previous["base"].as_str()
        ),
        (Some("v1.0.1"), Some("hotfix-line"), Some("v1.0.0")),
        "{all}"
    );
    let notes = item["data"]["notes"].to_string();
    assert!(
        notes.contains("v1.0.1 is on a hotfix line") && notes.contains("branches from v1.0.0"),
        "{all}"
    );
    // Compared with the hotfix's tree: only the orders migration is new; the cherry-picked
    // index (same version on both lines) is not.
    let m = item["data"]["migrations"]["migrations"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{all}");
    assert_eq!(m[0]["id"], "20250201000000_orders", "{all}");
}

#[test]
fn a_migration_only_on_the_hotfix_line_is_reported() {
    let r = hotfix_history(true);
    let (code, item, all) = r.check(SQLX);
    assert_eq!(code, 0, "{all}");
    let audit = migration(&item, "20250116000000_audit");
    assert_eq!(audit["change"], "hotfix-only", "{all}");
    assert!(
        warnings(&item).contains("20250116000000_audit")
            && warnings(&item).contains("only on the hotfix line v1.0.1"),
        "{all}"
    );
}
