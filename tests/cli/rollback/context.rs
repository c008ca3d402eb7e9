//! Dangerous statements judged against what the previous release can live with.

use super::{
    GitRepo, SQLX, details, message, migration, outcome, released_then, sqlx_released, warnings,
};

fn sqlx_then(added: &[(&str, &str)]) -> GitRepo {
    released_then(&sqlx_released(), added)
}

#[test]
fn dropping_what_was_created_since_the_previous_release_passes() {
    let r = sqlx_then(&[
        (
            "migrations/20250301000000_drafts.up.sql",
            "CREATE TABLE drafts (id BIGINT PRIMARY KEY, body TEXT);\nALTER TABLE products ADD COLUMN tmp_rank INT;\n",
        ),
        (
            "migrations/20250301000000_drafts.down.sql",
            "ALTER TABLE products DROP COLUMN tmp_rank;\nDROP TABLE drafts;\n",
        ),
        (
            "migrations/20250302000000_rework.up.sql",
            "ALTER TABLE drafts ALTER COLUMN body SET NOT NULL;\nALTER TABLE products DROP COLUMN tmp_rank;\nDROP TABLE drafts;\n",
        ),
        (
            "migrations/20250302000000_rework.down.sql",
            "CREATE TABLE drafts (id BIGINT PRIMARY KEY, body TEXT NOT NULL);\nALTER TABLE products ADD COLUMN tmp_rank INT;\n",
        ),
    ]);
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    let notes = migration(&item, "20250302000000_rework")["notes"].to_string();
    assert!(notes.contains("created since v1.0.0"), "{all}");
}

#[test]
fn dropping_a_table_the_previous_release_had_still_fails() {
    let r = sqlx_then(&[
        (
            "migrations/20250301000000_drop.up.sql",
            "DROP TABLE products;\nCREATE TABLE products (id INT);\n",
        ),
        (
            "migrations/20250301000000_drop.down.sql",
            "DROP TABLE products;\n",
        ),
        (
            "migrations/20250302000000_drop_again.up.sql",
            "DROP TABLE products;\n",
        ),
        (
            "migrations/20250302000000_drop_again.down.sql",
            "CREATE TABLE products (id INT);\n",
        ),
    ]);
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    // The first drop removes the released table; the second drops the one created since.
    assert_eq!(
        migration(&item, "20250301000000_drop")["verdict"],
        "dangerous",
        "{all}"
    );
    assert_eq!(
        migration(&item, "20250302000000_drop_again")["verdict"],
        "reversible",
        "{all}"
    );
}

#[test]
fn a_backfill_of_a_column_added_in_the_same_migration_passes() {
    let r = sqlx_then(&[
        (
            "migrations/20250301000000_price.up.sql",
            "ALTER TABLE products ADD COLUMN price_cents BIGINT;\nUPDATE products SET price_cents = 0;\n",
        ),
        (
            "migrations/20250301000000_price.down.sql",
            "ALTER TABLE products DROP COLUMN price_cents;\n",
        ),
    ]);
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");

    // Rewriting a column the previous release reads is still dangerous.
    let r = sqlx_then(&[
        (
            "migrations/20250301000000_price.up.sql",
            "ALTER TABLE products ADD COLUMN price_cents BIGINT;\nUPDATE products SET price_cents = 0, sku = lower(sku);\n",
        ),
        (
            "migrations/20250301000000_price.down.sql",
            "ALTER TABLE products DROP COLUMN price_cents;\n",
        ),
    ]);
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("updates every row of `products`"),
        "{all}"
    );
}

const RAILS: &str = "migrations = { dir = \"db/migrate\", tool = \"rails\" }\n";

fn rails_drop_column(model: Option<&str>) -> GitRepo {
    let r = GitRepo::new();
    r.write(
        "db/migrate/20240101000000_create_products.rb",
        "class CreateProducts < ActiveRecord::Migration[7.1]\n  def change\n    create_table :products do |t|\n      t.string :sku\n      t.string :legacy_code\n    end\n  end\nend\n",
    );
    r.write(
        "app/models/product.rb",
        model.unwrap_or(
            "class Product < ApplicationRecord\n  validates :sku, presence: true\nend\n",
        ),
    );
    r.commit("1.0");
    r.annotated_tag("v1.0.0");
    r.write(
        "db/migrate/20250301000000_remove_legacy_code.rb",
        "class RemoveLegacyCode < ActiveRecord::Migration[7.1]\n  def change\n    remove_column :products, :legacy_code, :string\n  end\nend\n",
    );
    r.write(
        "app/models/product.rb",
        "class Product < ApplicationRecord\n  validates :sku, presence: true\nend\n",
    );
    r.commit("contract");
    r
}

#[test]
fn dropping_a_column_the_previous_release_ignores_is_the_contract_step() {
    let r = rails_drop_column(Some(
        "class Product < ApplicationRecord\n  self.ignored_columns += [\"legacy_code\"]\n\n  validates :sku, presence: true\nend\n",
    ));
    let (code, item, all) = r.check(RAILS);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    let notes = migration(&item, "20250301000000_remove_legacy_code")["notes"].to_string();
    assert!(
        notes.contains("ignored_columns") && notes.contains("app/models/product.rb"),
        "{all}"
    );

    let r = rails_drop_column(None);
    let (code, item, all) = r.check(RAILS);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("removes column `legacy_code` of `products`"),
        "{all}"
    );
}

fn django_remove_field(previous_model: &str) -> GitRepo {
    let r = GitRepo::new();
    r.write("shop/migrations/__init__.py", "");
    r.write(
        "shop/migrations/0001_initial.py",
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    initial = True\n    operations = [\n        migrations.CreateModel(\n            name='Order',\n            fields=[\n                ('id', models.AutoField(primary_key=True)),\n                ('total', models.IntegerField()),\n                ('note', models.TextField(null=True)),\n            ],\n        ),\n    ]\n",
    );
    r.write("shop/models.py", previous_model);
    r.commit("1.0");
    r.annotated_tag("v1.0.0");
    r.write(
        "shop/migrations/0002_remove_order_note.py",
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    dependencies = [('shop', '0001_initial')]\n    operations = [\n        migrations.RemoveField(model_name='order', name='note'),\n    ]\n",
    );
    r.write(
        "shop/models.py",
        "from django.db import models\n\n\nclass Order(models.Model):\n    total = models.IntegerField()\n",
    );
    r.commit("contract");
    r
}

#[test]
fn removing_a_django_field_the_previous_release_no_longer_declares_passes() {
    let r = django_remove_field(
        "from django.db import models\n\n\nclass Order(models.Model):\n    total = models.IntegerField()\n",
    );
    let cfg = "migrations = { dir = \"shop/migrations\", tool = \"django\" }\n";
    let (code, item, all) = r.check(cfg);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert!(
        migration(&item, "shop/0002_remove_order_note")["notes"]
            .to_string()
            .contains("shop/models.py"),
        "{all}"
    );

    let r = django_remove_field(
        "from django.db import models\n\n\nclass Order(models.Model):\n    total = models.IntegerField()\n    note = models.TextField(null=True)\n",
    );
    let (code, item, all) = r.check(cfg);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
}

fn rails_safety_assured() -> GitRepo {
    let r = rails_drop_column(None);
    r.write(
        "db/migrate/20250301000000_remove_legacy_code.rb",
        "class RemoveLegacyCode < ActiveRecord::Migration[7.1]\n  def up\n    safety_assured { remove_column :products, :legacy_code }\n  end\n\n  def down\n    add_column :products, :legacy_code, :string\n  end\nend\n",
    );
    r.commit("reviewed");
    r
}

#[test]
fn findings_inside_safety_assured_are_acknowledged_warnings() {
    let r = rails_safety_assured();
    let (code, item, all) = r.check(RAILS);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert!(
        warnings(&item).contains("acknowledged (safety_assured)")
            && warnings(&item).contains("legacy_code"),
        "{all}"
    );
    let d = &migration(&item, "20250301000000_remove_legacy_code")["dangerous"][0];
    assert_eq!(d["acknowledged"], true, "{all}");

    let (code, item, all) = r.check(&format!("{RAILS}safety_assured = \"fail\"\n"));
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
}

#[test]
fn many_statements_of_one_kind_in_one_migration_are_one_finding() {
    let mut create = String::from("CREATE TABLE metrics (id BIGINT PRIMARY KEY");
    let mut retype = String::new();
    for i in 0..30 {
        create.push_str(&format!(", c{i} INT"));
        retype.push_str(&format!(
            "ALTER TABLE metrics ALTER COLUMN c{i} TYPE TEXT;\n"
        ));
    }
    create.push_str(");\n");
    let r = released_then(
        &[
            ("migrations/20250101000000_metrics.up.sql", &create),
            (
                "migrations/20250101000000_metrics.down.sql",
                "DROP TABLE metrics;\n",
            ),
        ],
        &[
            ("migrations/20250301000000_to_text.up.sql", &retype),
            (
                "migrations/20250301000000_to_text.down.sql",
                &retype.replace("TEXT", "INT USING c0::int"),
            ),
        ],
    );
    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    let dangerous = migration(&item, "20250301000000_to_text")["dangerous"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(dangerous.len(), 1, "{all}");
    assert_eq!(dangerous[0]["count"], 30, "{all}");
    assert!(
        message(&item).contains("changes the type of column `c0` of `metrics`")
            && message(&item).contains("29 more like it"),
        "{all}"
    );
    assert_eq!(
        item["data"]["problems"].as_array().map(Vec::len),
        Some(1),
        "{all}"
    );
}

#[test]
fn lock_risks_are_reported_apart_and_never_fail() {
    let index = [
        (
            "migrations/20250301000000_index.up.sql",
            "CREATE INDEX products_sku ON products (sku);\nCREATE INDEX CONCURRENTLY products_sku2 ON products (sku);\nCREATE TABLE tags (id INT);\nCREATE INDEX tags_id ON tags (id);\n",
        ),
        (
            "migrations/20250301000000_index.down.sql",
            "DROP TABLE tags;\nDROP INDEX products_sku2;\nDROP INDEX products_sku;\n",
        ),
    ];
    let r = sqlx_then(&index);
    let (code, item, all) = r.check(&format!("{SQLX}lock_risks = true\n"));
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    let risks = migration(&item, "20250301000000_index")["lock_risks"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(risks.len(), 1, "{all}");
    assert_eq!(risks[0]["line"], 1, "{all}");
    assert!(warnings(&item).contains("CONCURRENTLY"), "{all}");
    assert!(details(&item).contains("lock risk"), "{all}");

    let (code, item, all) = r.check(SQLX);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert_eq!(warnings(&item), "", "{all}");
}

#[test]
fn the_same_irreversible_reason_in_one_migration_is_one_problem() {
    let ops: String = (0..3)
        .map(|i| format!("        migrations.RunSQL('CREATE INDEX i{i} ON shop_order (id)'),\n"))
        .collect();
    let r = released_then(
        &[("shop/migrations/__init__.py", "")],
        &[(
            "shop/migrations/0001_indexes.py",
            &format!(
                "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    operations = [\n{ops}    ]\n"
            ),
        )],
    );
    let (code, item, all) =
        r.check("migrations = { dir = \"shop/migrations\", tool = \"django\" }\n");
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert_eq!(
        item["data"]["problems"].as_array().map(Vec::len),
        Some(1),
        "{all}"
    );
    assert!(
        message(&item).contains("0001_indexes.py:6: irreversible: `RunSQL` without `reverse_sql` (+2 more like it: lines 7, 8)"),
        "{all}"
    );
}

#[test]
fn widening_a_column_type_passes_and_narrowing_it_fails() {
    // diesel keeps each migration in its own directory; the earlier definition is found there.
    let cfg = "migrations = { dir = \"migrations\", tool = \"diesel\" }\n";
    let released = [
        (
            "migrations/2024-01-01-000000_reports/up.sql",
            "CREATE TABLE report (\n    id serial PRIMARY KEY,\n    title varchar(100) NOT NULL,\n    link text,\n    hits integer NOT NULL DEFAULT 0\n);\n",
        ),
        (
            "migrations/2024-01-01-000000_reports/down.sql",
            "DROP TABLE report;\n",
        ),
        (
            "migrations/2024-02-01-000000_summary/up.sql",
            "ALTER TABLE report ADD COLUMN summary character varying(50);\n",
        ),
        (
            "migrations/2024-02-01-000000_summary/down.sql",
            "ALTER TABLE report DROP COLUMN summary;\n",
        ),
        (
            "migrations/2024-03-01-000000_people/up.sql",
            "CREATE TABLE user_ (id serial PRIMARY KEY, name varchar(20) NOT NULL);\nALTER TABLE user_ RENAME TO person;\n",
        ),
        (
            "migrations/2024-03-01-000000_people/down.sql",
            "DROP TABLE person;\n",
        ),
    ];
    let change = |up: &str| {
        released_then(
            &released,
            &[
                ("migrations/2025-01-01-000000_types/up.sql", up),
                ("migrations/2025-01-01-000000_types/down.sql", "SELECT 1;\n"),
            ],
        )
    };
    // Longer varchar, varchar to text, a wider integer: whatever the previous release writes fits
    // (a column of a renamed table is found under its first name).
    let wider = change(
        "alter table report alter column title type varchar(200);\nALTER TABLE report ALTER COLUMN summary SET DATA TYPE text, ALTER COLUMN hits TYPE bigint;\nALTER TABLE person ALTER COLUMN name TYPE varchar(255);\n",
    );
    let (code, item, all) = wider.check(cfg);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    // text to varchar(512), a shorter varchar, a narrower integer, another family: it may not.
    for (up, column) in [
        (
            "ALTER TABLE report ALTER COLUMN link TYPE varchar (512);\n",
            "link",
        ),
        (
            "ALTER TABLE report ALTER COLUMN title TYPE varchar(50);\n",
            "title",
        ),
        (
            "ALTER TABLE report ALTER COLUMN hits TYPE smallint;\n",
            "hits",
        ),
        (
            "ALTER TABLE person ALTER COLUMN name TYPE varchar(10);\n",
            "name",
        ),
        (
            "ALTER TABLE report ALTER COLUMN title TYPE integer USING 0;\n",
            "title",
        ),
    ] {
        let (code, item, all) = change(up).check(cfg);
        assert_eq!((code, outcome(&item)), (1, "failed"), "{up}\n{all}");
        assert!(
            message(&item).contains(&format!("changes the type of column `{column}` of `")),
            "{all}"
        );
    }
}
