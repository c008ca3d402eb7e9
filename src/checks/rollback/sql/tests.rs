//! Tests of the SQL scanner.

use super::*;

/// The rollback findings (not the lock risks) of `sql`: (line, rule).
fn rules(sql: &str) -> Vec<(usize, Rule)> {
    scan(sql)
        .findings
        .into_iter()
        .filter(|f| f.rule.kind() != RuleKind::Lock)
        .map(|f| (f.line, f.rule))
        .collect()
}

#[test]
fn comments_are_blanked_and_lines_kept() {
    let sql =
        "-- DROP TABLE a;\nSELECT 1; /* DROP TABLE b; /* nested */ still comment */\nDROP TABLE c;";
    let masked = mask(sql, false);
    assert_eq!(masked.len(), sql.len());
    assert_eq!(masked.lines().count(), 3);
    assert!(!masked.contains("DROP TABLE a"));
    assert!(!masked.contains("still comment"));
    assert_eq!(rules(sql), vec![(3, Rule::DropTable)]);
}

#[test]
fn strings_and_dollar_quotes_are_not_statements() {
    let sql = "INSERT INTO notes VALUES ('DROP TABLE x; it''s fine');\n\
               CREATE FUNCTION f() RETURNS void AS $body$ DELETE FROM t; $body$ LANGUAGE sql;\n\
               SELECT $$TRUNCATE t$$;";
    assert_eq!(rules(sql), vec![]);
}

#[test]
fn finds_each_dangerous_statement_with_its_line() {
    let sql = "CREATE TABLE a (id int);\n\
               DROP TABLE IF EXISTS legacy;\n\
               ALTER TABLE orders DROP COLUMN note;\n\
               ALTER TABLE orders\n  RENAME COLUMN total TO amount;\n\
               ALTER TABLE orders ALTER COLUMN qty TYPE bigint;\n\
               ALTER TABLE orders ALTER COLUMN sku SET NOT NULL;\n\
               TRUNCATE sessions;\n\
               DELETE FROM carts;\n\
               UPDATE products SET price = 0;\n\
               ALTER TABLE products ADD COLUMN owner text NOT NULL;\n\
               ALTER TABLE products RENAME TO items;";
    assert_eq!(
        rules(sql),
        vec![
            (2, Rule::DropTable),
            (3, Rule::DropColumn),
            (5, Rule::Rename),
            (6, Rule::AlterType),
            (7, Rule::SetNotNull),
            (8, Rule::Truncate),
            (9, Rule::DeleteWithoutWhere),
            (10, Rule::UpdateWithoutWhere),
            (11, Rule::AddNotNull),
            (12, Rule::Rename),
        ]
    );
    let f = &scan(sql).findings[1];
    assert_eq!(f.what, "drops column `note` of `orders`");
}

#[test]
fn safe_statements_pass() {
    let sql = "CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT NOT NULL);\n\
               ALTER TABLE orders ADD COLUMN note2 TEXT;\n\
               ALTER TABLE orders ADD COLUMN n INT NOT NULL DEFAULT 0;\n\
               ALTER TABLE orders ADD CONSTRAINT c CHECK (n > 0) NOT VALID;\n\
               ALTER TABLE orders DROP CONSTRAINT c, ALTER COLUMN n DROP NOT NULL, ALTER COLUMN n DROP DEFAULT;\n\
               CREATE INDEX i ON orders (n);\n\
               DELETE FROM carts WHERE created_at < now() - interval '30 days';\n\
               UPDATE products SET price = 1 WHERE sku = 'A1';\n\
               DROP INDEX i;";
    assert_eq!(rules(sql), vec![]);
}

#[test]
fn alter_with_several_actions_and_implicit_column() {
    let sql =
        "ALTER TABLE ONLY public.\"Orders\" ADD COLUMN x int, DROP y,\n DROP COLUMN IF EXISTS z;";
    let found = scan(sql).findings;
    assert_eq!(
        found.iter().map(|f| (f.line, f.rule)).collect::<Vec<_>>(),
        vec![(1, Rule::DropColumn), (2, Rule::DropColumn)]
    );
    assert_eq!(found[0].what, "drops column `y` of `public.Orders`");
    assert_eq!(found[1].what, "drops column `z` of `public.Orders`");
}

#[test]
fn update_with_where_only_in_subquery_is_flagged() {
    assert_eq!(
        rules("UPDATE t SET a = (SELECT b FROM u WHERE u.id = 1);"),
        vec![(1, Rule::UpdateWithoutWhere)]
    );
}

#[test]
fn empty_down_migrations() {
    assert!(is_empty(
        "-- This file should undo anything in `up.sql`\n\n"
    ));
    assert!(is_empty("/* nothing */ ;\n"));
    assert!(!is_empty("DROP TABLE orders;"));
}

#[test]
fn targets_name_the_table_and_columns_touched() {
    let found = scan(
        "UPDATE ONLY \"Public\".\"Orders\" SET total = 0, note = lower(note) FROM x;\n\
         UPDATE t SET (a, b) = (1, 2);\n\
         ALTER TABLE orders ALTER COLUMN type SET NOT NULL;\n\
         DROP TABLE a, b;",
    )
    .findings;
    let targets: Vec<(Rule, String, Vec<String>)> = found
        .iter()
        .map(|f| {
            let t = f.target.clone().unwrap();
            (f.rule, t.table, t.columns)
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            (
                Rule::UpdateWithoutWhere,
                "orders".into(),
                vec!["total".into(), "note".into()]
            ),
            (
                Rule::UpdateWithoutWhere,
                "t".into(),
                vec!["a".into(), "b".into()]
            ),
            // A column named `type` is not a type change.
            (Rule::SetNotNull, "orders".into(), vec!["type".into()]),
            (Rule::DropTable, "a".into(), vec![]),
            (Rule::DropTable, "b".into(), vec![]),
        ]
    );
}

#[test]
fn renaming_a_sequence_is_no_rename_of_a_table() {
    assert_eq!(
        rules("ALTER TABLE ipam_x_id_seq RENAME TO vpn_x_id_seq;"),
        vec![]
    );
    assert_eq!(
        rules("ALTER TABLE ipam_x RENAME TO vpn_x;"),
        vec![(1, Rule::Rename)]
    );
}

#[test]
fn created_tables_and_columns_are_listed_with_their_lines() {
    let s = scan(
        "CREATE TABLE IF NOT EXISTS drafts (id INT);\nALTER TABLE orders ADD COLUMN note TEXT, ADD CONSTRAINT c CHECK (id > 0) NOT VALID;",
    );
    assert_eq!(
        s.created,
        vec![
            (1, Target::table("drafts")),
            (2, Target::columns("orders", &["note"])),
        ]
    );
}

#[test]
fn set_default_is_listed() {
    let s =
        scan("ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0, ALTER COLUMN n DROP DEFAULT;");
    assert_eq!(
        s.defaulted,
        vec![(1, Target::columns("orders", &["total"]))]
    );
}

#[test]
fn lock_risks() {
    let locks = |sql: &str| {
        scan(sql)
            .findings
            .into_iter()
            .filter(|f| f.rule.kind() == RuleKind::Lock)
            .map(|f| f.rule)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        locks("CREATE INDEX i ON orders (n);"),
        vec![Rule::BlockingIndex]
    );
    assert_eq!(
        locks("CREATE UNIQUE INDEX i ON ONLY orders (n);"),
        vec![Rule::BlockingIndex]
    );
    assert_eq!(locks("CREATE INDEX CONCURRENTLY i ON orders (n);"), vec![]);
    assert_eq!(
        locks("ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id);"),
        vec![Rule::ValidatingConstraint]
    );
    assert_eq!(
        locks(
            "ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id) NOT VALID;"
        ),
        vec![]
    );
    assert_eq!(
        locks("ALTER TABLE orders ADD CONSTRAINT u UNIQUE USING INDEX i;"),
        vec![]
    );
}

#[test]
fn canonical_form_ignores_formatting_only() {
    let a = "create table products (id bigint primary key, sku text not null);\ncreate index products_sku on products(sku);\n";
    let b = "-- products\nCREATE TABLE products (\n    id bigint PRIMARY KEY,\n    sku text NOT NULL\n);\n\nCREATE INDEX products_sku ON products (sku);\n";
    assert_eq!(canonical(a), canonical(b));
    assert_ne!(canonical("SELECT 'a'"), canonical("SELECT 'A'"));
    assert_ne!(canonical("DROP TABLE a"), canonical("DROP TABLE b"));
    assert_ne!(canonical("SELECT a b"), canonical("SELECT ab"));
    assert_eq!(canonical("SELECT 'é' ;; "), "SELECT'é'");
}
