//! Patterns the scanners used to miss: each must not pass.

use super::{GitRepo, message, migration, outcome, released_then, warnings};

// ---- Alembic -----------------------------------------------------------------------------

const ALEMBIC: &str = "migrations = { dir = \"alembic\", tool = \"alembic\" }\n";

fn alembic(upgrade: &str, downgrade: &str) -> GitRepo {
    let first = "revision = 'a1'\ndown_revision = None\n\n\ndef upgrade():\n    op.create_table('orders', sa.Column('id', sa.Integer(), primary_key=True), sa.Column('note', sa.Text()), sa.Column('qty', sa.Integer()))\n\n\ndef downgrade():\n    op.drop_table('orders')\n";
    let next = format!(
        "\"\"\"next\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = 'b2'\ndown_revision = 'a1'\n\n\ndef upgrade():\n{upgrade}\n\ndef downgrade():\n{downgrade}"
    );
    released_then(
        &[
            ("alembic/env.py", "from alembic import context\n"),
            ("alembic/versions/a1_orders.py", first),
        ],
        &[("alembic/versions/b2_next.py", &next)],
    )
}

#[test]
fn alembic_batch_mode_operations_are_found() {
    let cases = [
        (
            "    with op.batch_alter_table('orders') as batch_op:\n        batch_op.alter_column('note', existing_type=sa.Text(), nullable=False)\n",
            "set-not-null",
            "makes column `note` of `orders` NOT NULL",
        ),
        (
            "    with op.batch_alter_table(\"orders\", schema=None) as batch:\n        batch.drop_column(\"note\")\n",
            "drop-column",
            "drops column `note` of `orders`",
        ),
        (
            "    with op.batch_alter_table('orders') as b:\n        b.alter_column(\n            'qty',\n            type_=sa.BigInteger(),\n        )\n",
            "alter-type",
            "changes the type of column `qty` of `orders`",
        ),
    ];
    for (upgrade, rule, what) in cases {
        let r = alembic(
            upgrade,
            "    pass_through = True\n    op.execute('SELECT 1')\n",
        );
        let (code, item, all) = r.check(ALEMBIC);
        assert_eq!((code, outcome(&item)), (1, "failed"), "{upgrade}\n{all}");
        let d = &migration(&item, "b2")["dangerous"][0];
        assert_eq!(d["rule"], rule, "{all}");
        assert!(message(&item).contains(what), "{all}");
    }
    // Batch mode adding a nullable column is fine.
    let r = alembic(
        "    with op.batch_alter_table('orders') as batch_op:\n        batch_op.add_column(sa.Column('tag', sa.Text(), nullable=True))\n",
        "    with op.batch_alter_table('orders') as batch_op:\n        batch_op.drop_column('tag')\n",
    );
    let (code, item, all) = r.check(ALEMBIC);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
}

#[test]
fn alembic_sql_in_sa_text_is_scanned() {
    let r = alembic(
        "    conn = op.get_bind()\n    conn.execute(\n        sa.text(\"UPDATE orders SET note = ''\")\n    )\n",
        "    op.execute('SELECT 1')\n",
    );
    let (code, item, all) = r.check(ALEMBIC);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("updates every row of `orders`"),
        "{all}"
    );
    assert!(message(&item).contains("b2_next.py:12:"), "{all}");
}

// ---- Django ------------------------------------------------------------------------------

const DJANGO: &str = "migrations = { dir = \"shop/migrations\", tool = \"django\" }\n";

fn django(operations: &str, extra: &str) -> GitRepo {
    let initial = "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    initial = True\n    operations = [\n        migrations.CreateModel(\n            name='Order',\n            fields=[\n                ('id', models.AutoField(primary_key=True)),\n                ('code', models.CharField(max_length=20)),\n                ('note', models.TextField(null=True)),\n            ],\n        ),\n    ]\n";
    let next = format!(
        "from django.db import migrations, models\n{extra}\n\nclass Migration(migrations.Migration):\n    dependencies = [('shop', '0001_initial')]\n    operations = [\n{operations}    ]\n"
    );
    released_then(
        &[
            ("shop/migrations/__init__.py", ""),
            ("shop/migrations/0001_initial.py", initial),
        ],
        &[("shop/migrations/0002_next.py", &next)],
    )
}

#[test]
fn django_add_field_not_null_fails_unless_nullable_or_db_default() {
    let failing = [
        "        migrations.AddField(model_name='order', name='total', field=models.IntegerField()),\n",
        "        migrations.AddField(\n            model_name='order',\n            name='total',\n            field=models.IntegerField(default=0),\n            preserve_default=False,\n        ),\n",
        "        migrations.AddField(model_name='order', name='paid', field=models.BooleanField(default=False)),\n",
    ];
    for ops in failing {
        let (code, item, all) = django(ops, "").check(DJANGO);
        assert_eq!((code, outcome(&item)), (1, "failed"), "{ops}\n{all}");
        assert_eq!(
            migration(&item, "shop/0002_next")["dangerous"][0]["rule"],
            "add-not-null",
            "{all}"
        );
    }
    let passing = [
        "        migrations.AddField(model_name='order', name='total', field=models.IntegerField(null=True)),\n",
        "        migrations.AddField(model_name='order', name='total', field=models.IntegerField(db_default=0)),\n",
        "        migrations.AddField(model_name='order', name='tags', field=models.ManyToManyField(to='shop.tag')),\n",
        // The database default Django drops, set again in SQL (what saleor does).
        "        migrations.AddField(model_name='order', name='total', field=models.IntegerField(default=0)),\n        migrations.RunSQL(\n            sql='ALTER TABLE shop_order ALTER COLUMN total SET DEFAULT 0;',\n            reverse_sql='ALTER TABLE shop_order ALTER COLUMN total DROP DEFAULT;',\n        ),\n",
    ];
    for ops in passing {
        let (code, item, all) = django(ops, "").check(DJANGO);
        assert_eq!((code, outcome(&item)), (0, "passed"), "{ops}\n{all}");
    }
}

#[test]
fn django_alter_field_that_retypes_or_makes_not_null_fails() {
    let failing = [
        (
            "        migrations.AlterField(model_name='order', name='code', field=models.IntegerField()),\n",
            "alter-type",
        ),
        (
            "        migrations.AlterField(model_name='order', name='note', field=models.TextField(default='')),\n",
            "set-not-null",
        ),
        (
            "        migrations.AlterField(model_name='order', name='code', field=models.CharField(max_length=8)),\n",
            "alter-type",
        ),
    ];
    for (ops, rule) in failing {
        let (code, item, all) = django(ops, "").check(DJANGO);
        assert_eq!((code, outcome(&item)), (1, "failed"), "{ops}\n{all}");
        assert_eq!(
            migration(&item, "shop/0002_next")["dangerous"][0]["rule"],
            rule,
            "{all}"
        );
    }
    let passing = [
        "        migrations.AlterField(model_name='order', name='code', field=models.CharField(max_length=40, help_text='the order code')),\n",
        "        migrations.AlterField(model_name='order', name='note', field=models.TextField(null=True, blank=True)),\n",
    ];
    for ops in passing {
        let (code, item, all) = django(ops, "").check(DJANGO);
        assert_eq!((code, outcome(&item)), (0, "passed"), "{ops}\n{all}");
    }
}

#[test]
fn django_run_python_that_rewrites_data_with_a_noop_reverse_warns() {
    let forward = "\n\ndef fill_codes(apps, schema_editor):\n    Order = apps.get_model('shop', 'Order')\n    Order.objects.filter(code='').update(code='none')\n";
    let (code, item, all) = django(
        "        migrations.RunPython(fill_codes, migrations.RunPython.noop),\n",
        forward,
    )
    .check(DJANGO);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert!(
        warnings(&item).contains("0002_next.py:12")
            && warnings(&item).contains("`fill_codes` rewrites data")
            && warnings(&item).contains("restores no data"),
        "{all}"
    );
    // A forward function that only reads does not warn.
    let reading = "\n\ndef check_codes(apps, schema_editor):\n    Order = apps.get_model('shop', 'Order')\n    assert Order.objects.count() >= 0\n";
    let (code, item, all) = django(
        "        migrations.RunPython(check_codes, migrations.RunPython.noop),\n",
        reading,
    )
    .check(DJANGO);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert_eq!(warnings(&item), "", "{all}");
}

// ---- Rails -------------------------------------------------------------------------------

const RAILS: &str = "migrations = { dir = \"db/migrate\", tool = \"rails\" }\n";

fn rails(body: &str) -> GitRepo {
    released_then(
        &[(
            "db/migrate/20240101000000_create_users.rb",
            "class CreateUsers < ActiveRecord::Migration[7.1]\n  def change\n    create_table :users do |t|\n      t.string :name\n      t.string :legacy\n    end\n  end\nend\n",
        )],
        &[(
            "db/migrate/20250301000000_next.rb",
            &format!("class Next < ActiveRecord::Migration[7.1]\n{body}end\n"),
        )],
    )
}

#[test]
fn rails_sql_in_heredocs_is_scanned() {
    let r = rails(
        "  def up\n    execute <<~SQL\n      UPDATE users\n      SET name = lower(name);\n    SQL\n  end\n\n  def down\n    execute <<-SQL.squish\n      SELECT 1\n    SQL\n  end\n",
    );
    let (code, item, all) = r.check(RAILS);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("20250301000000_next.rb:4: updates every row of `users`"),
        "{all}"
    );
}

#[test]
fn rails_safety_assured_one_liners_are_scanned() {
    // Inside `change` without a column type: irreversible as well as dangerous.
    let r = rails("  def change\n    safety_assured { remove_column :users, :legacy }\n  end\n");
    let (code, item, all) = r.check(RAILS);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("`remove_column` without a column type cannot be reversed"),
        "{all}"
    );
    let m = migration(&item, "20250301000000_next");
    assert_eq!(m["dangerous"][0]["rule"], "drop-column", "{all}");
    assert_eq!(m["dangerous"][0]["acknowledged"], true, "{all}");

    let r = rails(
        "  def change\n    safety_assured do\n      rename_column :users, :name, :full_name\n    end\n  end\n",
    );
    let (code, item, all) = r.check(&format!("{RAILS}safety_assured = \"fail\"\n"));
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("renames column `name` of `users`"),
        "{all}"
    );
}

// ---- Flyway ------------------------------------------------------------------------------

#[test]
fn flyway_java_migrations_need_an_undo() {
    let java = "package db.migration;\n\nimport org.flywaydb.core.api.migration.BaseJavaMigration;\nimport org.flywaydb.core.api.migration.Context;\n\npublic class V2__Backfill_codes extends BaseJavaMigration {\n    public void migrate(Context context) throws Exception {\n        try (var st = context.getConnection().createStatement()) {\n            st.execute(\"UPDATE products SET code = upper(code)\");\n        }\n    }\n}\n";
    let r = released_then(
        &[
            (
                "src/main/resources/db/migration/V1__products.sql",
                "CREATE TABLE products (id INT, code TEXT);\n",
            ),
            (
                "src/main/resources/db/migration/U1__products.sql",
                "DROP TABLE products;\n",
            ),
        ],
        &[("src/main/java/db/migration/V2__Backfill_codes.java", java)],
    );
    let (code, item, all) = r.check("migrations = { dir = \"src/main\", tool = \"flyway\" }\n");
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    let m = migration(&item, "V2");
    assert_eq!(m["verdict"], "irreversible", "{all}");
    assert!(
        item["details"]
            .as_str()
            .unwrap_or("")
            .contains("V2__Backfill_codes.java:9: updates every row of `products`"),
        "{all}"
    );
}
