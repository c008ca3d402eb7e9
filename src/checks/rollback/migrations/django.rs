//! Django migrations (`<app>/migrations/NNNN_<name>.py`).

use super::text::{args, calls, line_at, sql_in_string, without_hash_comments};
use super::{Danger, Review};
use crate::checks::rollback::sql::Rule;

fn python_reverse_missing(call_args: &str, positional_reverse: usize, keyword: &str) -> bool {
    let a = args(call_args);
    let positional: Vec<&&str> = a
        .iter()
        .filter(|x| !x.contains('=') || x.starts_with(['"', '\'']))
        .collect();
    let kw = a.iter().find_map(|x| {
        x.strip_prefix(keyword)
            .and_then(|v| v.trim_start().strip_prefix('='))
            .map(str::trim)
    });
    match kw.or(positional.get(positional_reverse).map(|s| **s)) {
        None => true,
        Some(v) => v == "None",
    }
}

/// Reviews one Django migration file.
pub(super) fn review(path: &str, text: &str, r: &mut Review) {
    let code = without_hash_comments(text);
    for (at, call) in calls(&code, "RunPython") {
        if python_reverse_missing(call, 1, "reverse_code") {
            r.irreversible.push((
                path.into(),
                line_at(&code, at),
                "`RunPython` without `reverse_code`".into(),
            ));
        }
    }
    for (at, call) in calls(&code, "RunSQL") {
        if python_reverse_missing(call, 1, "reverse_sql") {
            r.irreversible.push((
                path.into(),
                line_at(&code, at),
                "`RunSQL` without `reverse_sql`".into(),
            ));
        }
        sql_in_string(path, &code, call, r);
    }
    for (op, rule, verb) in [
        ("DeleteModel", Rule::DropTable, "deletes model"),
        ("RemoveField", Rule::DropColumn, "removes a field of"),
        ("RenameModel", Rule::Rename, "renames model"),
        ("RenameField", Rule::Rename, "renames a field of"),
    ] {
        for (at, call) in calls(&code, op) {
            let target = args(call)
                .first()
                .map(|a| {
                    a.rsplit('=')
                        .next()
                        .unwrap_or(a)
                        .trim()
                        .trim_matches(['"', '\''])
                })
                .unwrap_or("")
                .to_string();
            r.dangers.push((
                path.into(),
                Danger {
                    line: line_at(&code, at),
                    rule,
                    what: format!("{verb} `{target}`"),
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Tool;
    use super::super::tests::one;

    #[test]
    fn django_conventions() {
        let bad = "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    operations = [\n        migrations.RunPython(forwards),\n        migrations.RemoveField(model_name='order', name='note'),\n    ]\n";
        let r = one(Tool::Django, "0002_x.py", bad);
        assert_eq!(r.irreversible.len(), 1);
        assert_eq!(r.irreversible[0].1, 5);
        assert_eq!(r.dangers[0].1.line, 6);
        let good = "class Migration(migrations.Migration):\n    operations = [\n        migrations.RunPython(forwards, migrations.RunPython.noop),\n        migrations.RunSQL(\"CREATE INDEX i ON t (a)\", reverse_sql=\"DROP INDEX i\"),\n    ]\n";
        let r = one(Tool::Django, "0002_x.py", good);
        assert!(r.irreversible.is_empty() && r.dangers.is_empty(), "{r:?}");
    }
}
