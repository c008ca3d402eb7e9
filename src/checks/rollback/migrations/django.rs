//! Django migrations (`<app>/migrations/NNNN_<name>.py`).

use std::ops::Range;

use super::python::{FieldExpr, argument, does_nothing, function_body, reverse_missing};
use super::text::{args, bare, calls, line_at, offset_in, string_literals, without_hash_comments};
use super::{History, Review};
use crate::checks::rollback::sql::{Rule, Target};

/// The migrations a squashed migration stands for (`replaces = [('shop', '0001_initial'), ...]`),
/// as keys (`shop/0001_initial`).
pub fn replaces(text: &str) -> Vec<String> {
    let code = without_hash_comments(text);
    let Some(start) = code.find("replaces") else {
        return Vec::new();
    };
    let rest = &code[start + "replaces".len()..];
    let Some(eq) = rest.trim_start().strip_prefix('=') else {
        return Vec::new();
    };
    let Some(open) = eq.find('[') else {
        return Vec::new();
    };
    let list = &eq[open..bracket_end(eq, open)];
    let names: Vec<&str> = string_literals(list).into_iter().map(|s| s.1).collect();
    names
        .chunks(2)
        .filter(|p| p.len() == 2)
        .map(|p| format!("{}/{}", p[0], p[1]))
        .collect()
}

/// The index just past the bracket that closes the one at `open` (quotes respected).
fn bracket_end(text: &str, open: usize) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut quote, mut i) = (0i32, None::<u8>, open);
    while i < b.len() {
        match (quote, b[i]) {
            (Some(_), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, q @ (b'"' | b'\'')) => quote = Some(q),
            (None, b'[' | b'(' | b'{') => depth += 1,
            (None, b']' | b')' | b'}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// The parts of `SeparateDatabaseAndState(state_operations=[...])`: they change Django's model
/// state only, never the database.
fn state_only(code: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("state_operations") {
        let rest = &code[at..];
        if let Some(open) = rest.find('[') {
            out.push(at..at + bracket_end(rest, open));
        }
    }
    out
}

/// The model and field names of an operation's first arguments, lower-cased like Django's state.
fn name(a: &[&str], pos: usize, kw: &str) -> String {
    argument(a, pos, kw).map(bare).unwrap_or("").to_lowercase()
}

/// A field definition or rename found in a migration, in file order.
enum Event<'t> {
    Define {
        model: String,
        field: String,
        expr: &'t str,
    },
    Rename {
        model: String,
        old: String,
        new: String,
    },
}

/// Field definitions and renames of a migration's text, with their offsets.
fn events(code: &str) -> Vec<(usize, Event<'_>)> {
    let mut out = Vec::new();
    for (at, call) in calls(code, "CreateModel") {
        let a = args(call);
        let model = name(&a, 0, "name");
        let Some(fields) = argument(&a, 1, "fields") else {
            continue;
        };
        let inner = fields.trim().trim_start_matches('[').trim_end_matches(']');
        for tuple in args(inner) {
            let t = args(tuple.trim().trim_start_matches('(').trim_end_matches(')'));
            if let [field, expr, ..] = t.as_slice() {
                out.push((
                    at,
                    Event::Define {
                        model: model.clone(),
                        field: bare(field).to_lowercase(),
                        expr,
                    },
                ));
            }
        }
    }
    for op in ["AddField", "AlterField"] {
        for (at, call) in calls(code, op) {
            let a = args(call);
            if let Some(expr) = argument(&a, 2, "field") {
                out.push((
                    at,
                    Event::Define {
                        model: name(&a, 0, "model_name"),
                        field: name(&a, 1, "name"),
                        expr,
                    },
                ));
            }
        }
    }
    for (at, call) in calls(code, "RenameField") {
        let a = args(call);
        out.push((
            at,
            Event::Rename {
                model: name(&a, 0, "model_name"),
                old: name(&a, 1, "old_name"),
                new: name(&a, 2, "new_name"),
            },
        ));
    }
    out.sort_by_key(|e| e.0);
    out
}

/// The definition field `model.field` had before offset `before` of `code` (the migration at
/// `path`), looking back through the app's earlier migrations.
fn previous_definition(
    code: &str,
    before: usize,
    path: &str,
    history: &dyn History,
    model: &str,
    field: &str,
) -> Option<String> {
    let mut want = field.to_string();
    let mut search = |events: Vec<(usize, Event<'_>)>| -> Option<String> {
        for (_, e) in events.into_iter().rev() {
            match e {
                Event::Rename { model: m, old, new } if m == model && new == want => want = old,
                Event::Define {
                    model: m,
                    field: f,
                    expr,
                } if m == model && f == want => return Some(expr.to_string()),
                _ => {}
            }
        }
        None
    };
    let here: Vec<_> = events(code).into_iter().filter(|e| e.0 < before).collect();
    if let Some(found) = search(here) {
        return Some(found);
    }
    for (_, text) in history.earlier(path) {
        let code = without_hash_comments(&text);
        if let Some(found) = search(events(&code)) {
            return Some(found);
        }
    }
    None
}

/// Field classes that add no column to the model's table.
const NO_COLUMN: &[&str] = &[
    "ManyToManyField",
    "GenericRelation",
    "GenericForeignKey",
    "GeneratedField",
];

/// Django's own field classes. A project's field class is judged by the built-in one its name
/// ends with (`NullableCharField` → `CharField`); others are not judged.
const BUILTIN: &[&str] = &[
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "BigIntegerField",
    "IntegerField",
    "SmallIntegerField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "BinaryField",
    "BooleanField",
    "NullBooleanField",
    "CharField",
    "EmailField",
    "SlugField",
    "URLField",
    "TextField",
    "DateField",
    "DateTimeField",
    "TimeField",
    "DurationField",
    "DecimalField",
    "FloatField",
    "FileField",
    "FilePathField",
    "ImageField",
    "GenericIPAddressField",
    "JSONField",
    "UUIDField",
    "ForeignKey",
    "OneToOneField",
    "ArrayField",
];

/// The column type family of a field class, so that `EmailField` → `CharField` is no change;
/// `None` for a class that names no built-in one.
fn family(class: &str) -> Option<&'static str> {
    let builtin = BUILTIN
        .iter()
        .filter(|b| class.ends_with(*b))
        .max_by_key(|b| b.len())?;
    Some(match *builtin {
        "CharField" | "EmailField" | "SlugField" | "URLField" => "varchar",
        "ForeignKey" | "OneToOneField" => "fk",
        "BooleanField" | "NullBooleanField" => "bool",
        other => other,
    })
}

/// Integer field classes: (bytes, only non-negative).
fn integer(class: &str) -> Option<(u8, bool)> {
    Some(match class {
        "SmallIntegerField" | "SmallAutoField" => (2, false),
        "PositiveSmallIntegerField" => (2, true),
        "IntegerField" | "AutoField" => (4, false),
        "PositiveIntegerField" => (4, true),
        "BigIntegerField" | "BigAutoField" => (8, false),
        "PositiveBigIntegerField" => (8, true),
        _ => return None,
    })
}

/// Type changes (of families) a column of the old type can take without breaking the old
/// code's writes: `CharField` → `TextField`, a wider integer, dropping the non-negative check.
fn widens(old: &str, new: &str) -> bool {
    if let (Some((ob, op)), Some((nb, np))) = (integer(old), integer(new)) {
        return nb >= ob && (op || !np);
    }
    old == "varchar" && new == "TextField"
}

/// Reviews one Django migration file.
pub(super) fn review(path: &str, text: &str, history: &dyn History, r: &mut Review) {
    let code = without_hash_comments(text);
    let skip = state_only(&code);
    let live = |name: &str| {
        calls(&code, name)
            .into_iter()
            .filter(|(at, _)| !skip.iter().any(|s| s.contains(at)))
            .collect::<Vec<_>>()
    };
    let line = |at: usize| line_at(&code, at);
    for (at, call) in live("RunPython") {
        if reverse_missing(call, "reverse_code") {
            r.irreversible.push((
                path.into(),
                line(at),
                "`RunPython` without `reverse_code`".into(),
            ));
        } else if let Some(forward) = noop_reverse_of_rewrite(&code, call) {
            r.danger(
                path,
                line(at),
                Rule::RewriteWithoutRestore,
                format!("`RunPython` of `{forward}` rewrites data"),
                None,
            );
        }
    }
    for (at, call) in live("RunSQL") {
        if reverse_missing(call, "reverse_sql") {
            r.irreversible.push((
                path.into(),
                line(at),
                "`RunSQL` without `reverse_sql`".into(),
            ));
        }
        if let Some(sql) = argument(&args(call), 0, "sql") {
            let base = offset_in(&code, sql);
            for (offset, s) in string_literals(sql) {
                r.sql(path, line(base + offset), s, false);
            }
        }
    }
    for (at, call) in live("CreateModel") {
        let model = name(&args(call), 0, "name");
        r.creates(path, line(at), Target::model::<&str>(&model, &[]));
    }
    for (at, call) in live("DeleteModel") {
        let model = name(&args(call), 0, "name");
        r.danger(
            path,
            line(at),
            Rule::DropTable,
            format!("deletes model `{model}`"),
            Some(Target::model::<&str>(&model, &[])),
        );
    }
    for (at, call) in live("RenameModel") {
        let model = name(&args(call), 0, "old_name");
        r.danger(
            path,
            line(at),
            Rule::Rename,
            format!("renames model `{model}`"),
            Some(Target::model::<&str>(&model, &[])),
        );
    }
    for (op, pos, kw, rule, verb) in [
        ("RemoveField", 1, "name", Rule::DropColumn, "removes field"),
        ("RenameField", 1, "old_name", Rule::Rename, "renames field"),
    ] {
        for (at, call) in live(op) {
            let a = args(call);
            let (model, field) = (name(&a, 0, "model_name"), name(&a, pos, kw));
            r.danger(
                path,
                line(at),
                rule,
                format!("{verb} `{field}` of `{model}`"),
                Some(Target::model(&model, &[&field])),
            );
        }
    }
    for (at, call) in live("AddField") {
        let a = args(call);
        let (model, field) = (name(&a, 0, "model_name"), name(&a, 1, "name"));
        let target = Target::model(&model, &[&field]);
        r.creates(path, line(at), target.clone());
        let Some(expr) = argument(&a, 2, "field").and_then(FieldExpr::parse) else {
            continue;
        };
        if NO_COLUMN.contains(&expr.class)
            || expr.is_true("null")
            || expr.kw("db_default").is_some()
        {
            continue;
        }
        let how = if expr.kw("default").is_some() {
            " (Django drops the default after adding the column; `db_default` keeps it)"
        } else {
            ""
        };
        r.danger(
            path,
            line(at),
            Rule::AddNotNull,
            format!("adds NOT NULL field `{field}` to `{model}`{how}"),
            Some(target),
        );
    }
    for (at, call) in live("AlterField") {
        let a = args(call);
        let (model, field) = (name(&a, 0, "model_name"), name(&a, 1, "name"));
        let Some(new) = argument(&a, 2, "field").and_then(FieldExpr::parse) else {
            continue;
        };
        let Some(old_text) = previous_definition(&code, at, path, history, &model, &field) else {
            continue;
        };
        let Some(old) = FieldExpr::parse(&old_text) else {
            continue;
        };
        let target = Some(Target::model(&model, &[&field]));
        let max_len = |f: &FieldExpr| f.kw("max_length").and_then(|v| v.parse::<u64>().ok());
        match (family(old.class), family(new.class)) {
            (Some(fo), Some(fnew)) if fo != fnew && !widens(fo, fnew) => r.danger(
                path,
                line(at),
                Rule::AlterType,
                format!(
                    "changes the type of field `{field}` of `{model}` (`{}` → `{}`)",
                    old.class, new.class
                ),
                target.clone(),
            ),
            (Some(fo), Some(fnew)) if fo == fnew => {
                if let (Some(o), Some(n)) = (max_len(&old), max_len(&new))
                    && n < o
                {
                    r.danger(
                        path,
                        line(at),
                        Rule::AlterType,
                        format!("shortens field `{field}` of `{model}` (max_length {o} → {n})"),
                        target.clone(),
                    );
                }
            }
            _ => {}
        }
        if old.is_true("null") && !new.is_true("null") {
            r.danger(
                path,
                line(at),
                Rule::SetNotNull,
                format!("makes field `{field}` of `{model}` NOT NULL"),
                target,
            );
        }
    }
    for (op, rule) in [
        ("AddIndex", Rule::BlockingIndex),
        ("AddConstraint", Rule::ValidatingConstraint),
    ] {
        for (at, call) in live(op) {
            let model = name(&args(call), 0, "model_name");
            let what = match rule {
                Rule::BlockingIndex => format!("adds an index to `{model}` without CONCURRENTLY"),
                _ => format!("adds a validated constraint to `{model}`"),
            };
            r.danger(
                path,
                line(at),
                rule,
                what,
                Some(Target::model::<&str>(&model, &[])),
            );
        }
    }
}

/// When a `RunPython` call's reverse is a no-op and its forward function (defined in `code`)
/// rewrites rows: the forward function's name.
fn noop_reverse_of_rewrite<'c>(code: &'c str, call: &'c str) -> Option<&'c str> {
    let a = args(call);
    let forward = argument(&a, 0, "code")?;
    let reverse = argument(&a, 1, "reverse_code")?;
    let lines: Vec<&str> = code.lines().collect();
    let noop = reverse.ends_with("noop")
        || reverse.starts_with("lambda") && reverse.ends_with("None")
        || function_body(&lines, reverse).is_some_and(|(_, body)| does_nothing(&body));
    if !noop {
        return None;
    }
    let (_, body) = function_body(&lines, forward)?;
    let body: String = body.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
    const REWRITES: &[&str] = &[
        ".update(",
        ".save(",
        ".delete(",
        "bulk_update(",
        "update_or_create(",
    ];
    let sql_rewrite = string_literals(&body).iter().any(|(_, s)| {
        let s = s.trim_start().to_ascii_uppercase();
        s.starts_with("UPDATE") || s.starts_with("DELETE")
    });
    (REWRITES.iter().any(|w| body.contains(w)) || sql_rewrite).then_some(forward)
}

#[cfg(test)]
mod tests {
    use super::super::Tool;
    use super::super::tests::one;
    use super::*;

    #[test]
    fn django_conventions() {
        let bad = "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    operations = [\n        migrations.RunPython(forwards),\n        migrations.RemoveField(model_name='order', name='note'),\n    ]\n";
        let r = one(Tool::Django, "0002_x.py", bad);
        assert_eq!(r.irreversible.len(), 1);
        assert_eq!(r.irreversible[0].1, 5);
        assert_eq!(r.dangers[0].1.line, 6);
        let good = "class Migration(migrations.Migration):\n    operations = [\n        migrations.RunPython(forwards, migrations.RunPython.noop),\n        migrations.RunSQL(\"CREATE INDEX i ON t (a)\", reverse_sql=\"DROP INDEX i\"),\n    ]\n";
        let r = one(Tool::Django, "0002_x.py", good);
        let rollback: Vec<_> = r
            .dangers
            .iter()
            .filter(|d| d.1.rule.kind() != crate::checks::rollback::sql::RuleKind::Lock)
            .collect();
        assert!(r.irreversible.is_empty() && rollback.is_empty(), "{r:?}");
    }

    #[test]
    fn state_operations_touch_no_table() {
        let text = "class Migration(migrations.Migration):\n    operations = [\n        migrations.SeparateDatabaseAndState(\n            state_operations=[migrations.RemoveField(model_name='order', name='note')],\n            database_operations=[],\n        ),\n    ]\n";
        assert!(one(Tool::Django, "0002_x.py", text).dangers.is_empty());
    }

    struct Earlier(&'static str);

    impl History for Earlier {
        fn earlier(&self, _: &str) -> Vec<(String, String)> {
            vec![("shop/migrations/0001_initial.py".into(), self.0.into())]
        }
    }

    #[test]
    fn alter_field_compares_with_the_earlier_definition() {
        let initial = "operations = [migrations.CreateModel(name='Order', fields=[('n', models.PositiveIntegerField(null=True)), ('code', models.CharField(max_length=20))])]";
        let rules = |op: &str| {
            let text = format!("operations = [\n    {op},\n]\n");
            let mut r = Review::default();
            review(
                "shop/migrations/0002_x.py",
                &text,
                &Earlier(initial),
                &mut r,
            );
            r.dangers.iter().map(|d| d.1.rule).collect::<Vec<_>>()
        };
        let alter = |field: &str, expr: &str| {
            format!("migrations.AlterField(model_name='order', name='{field}', field={expr})")
        };
        // Widening: fine.
        assert!(rules(&alter("n", "models.BigIntegerField(null=True)")).is_empty());
        assert!(rules(&alter("code", "models.TextField()")).is_empty());
        assert!(rules(&alter("code", "models.CharField(max_length=40)")).is_empty());
        // A project's subclass of a built-in field is that field; an unknown class is not judged.
        assert!(rules(&alter("code", "fields.NullableCharField(max_length=20)")).is_empty());
        assert!(rules(&alter("code", "fields.ColorField(max_length=20)")).is_empty());
        // Narrowing, retyping, NOT NULL.
        assert_eq!(
            rules(&alter("n", "models.SmallIntegerField(null=True)")),
            vec![Rule::AlterType]
        );
        assert_eq!(
            rules(&alter("code", "models.CharField(max_length=10)")),
            vec![Rule::AlterType]
        );
        assert_eq!(
            rules(&alter("n", "models.PositiveIntegerField()")),
            vec![Rule::SetNotNull]
        );
        // A rename in between: the field is looked up under its old name.
        let renamed = "migrations.RenameField(model_name='order', old_name='code', new_name='ref'),\n    migrations.AlterField(model_name='order', name='ref', field=models.IntegerField())";
        assert_eq!(rules(renamed), vec![Rule::Rename, Rule::AlterType]);
    }

    #[test]
    fn replaces_lists_keys() {
        let text = "class Migration(migrations.Migration):\n    replaces = [\n        (\"shop\", \"0001_initial\"),\n        ('shop', '0002_x'),\n    ]\n";
        assert_eq!(replaces(text), vec!["shop/0001_initial", "shop/0002_x"]);
        assert!(replaces("operations = []").is_empty());
    }
}
