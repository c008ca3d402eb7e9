//! Whether an edit of a released migration changes what it does or only how it looks.

use super::sql;

/// `text` reduced to what it does, by file type: SQL without comments, whitespace and keyword
/// case; Ruby and Python without comments, docstrings, whitespace between tokens, trailing
/// commas and the choice of quote. Equal canonical forms mean a formatting-only edit.
pub fn canonical(path: &str, text: &str) -> String {
    if path.ends_with(".sql") {
        sql::canonical(text)
    } else if path.ends_with(".py") {
        without_redundant_parentheses(&script(&python_imports_sorted(text), true))
    } else if path.ends_with(".rb") {
        script(text, false)
    } else {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Python code with its imports in a canonical order, one imported name per entry: the
/// top-level imports in one sorted block at the top, and each run of imports inside a block
/// sorted where it stands; without `from __future__ import ...` (a no-op on Python 3). isort,
/// ruff and pyupgrade edits of imports are formatting.
fn python_imports_sorted(text: &str) -> String {
    let mut top: Vec<String> = Vec::new();
    let mut rest: Vec<String> = Vec::new();
    // The run of indented imports being read: its indentation and its entries.
    let mut run: Option<(String, Vec<String>)> = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        if body.is_empty() {
            continue;
        }
        let import =
            body.starts_with("import ") || (body.starts_with("from ") && body.contains(" import"));
        if !import {
            flush_imports(&mut run, &mut rest);
            rest.push(line.to_string());
            continue;
        }
        let mut statement = without_comment(body).to_string();
        // `from x import (\n a,\n b,\n)` and backslash continuations are one statement.
        while (statement.contains('(') && !statement.contains(')'))
            || statement.trim_end().ends_with('\\')
        {
            let Some(more) = lines.next() else { break };
            statement = statement.trim_end().trim_end_matches('\\').to_string();
            statement.push(' ');
            statement.push_str(without_comment(more));
        }
        let entries = import_entries(&statement);
        if indent.is_empty() {
            flush_imports(&mut run, &mut rest);
            top.extend(entries);
        } else {
            match &mut run {
                Some((at, names)) if at == indent => names.extend(entries),
                _ => {
                    flush_imports(&mut run, &mut rest);
                    run = Some((indent.to_string(), entries));
                }
            }
        }
    }
    flush_imports(&mut run, &mut rest);
    top.sort();
    top.dedup();
    let mut out = top.join("\n");
    out.push('\n');
    out.push_str(&rest.join("\n"));
    out
}

/// Writes a run of indented imports, sorted, where it stood.
fn flush_imports(run: &mut Option<(String, Vec<String>)>, out: &mut Vec<String>) {
    if let Some((indent, mut names)) = run.take() {
        names.sort();
        names.dedup();
        out.extend(names.into_iter().map(|n| format!("{indent}{n}")));
    }
}

fn without_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("")
}

/// One entry per imported name: `from m import a, b as c` is `from m import a` and
/// `from m import b as c`; `from __future__` imports are none.
fn import_entries(statement: &str) -> Vec<String> {
    let flat = statement.replace(['(', ')'], " ");
    let flat = flat.trim();
    let (head, names) = if let Some(names) = flat.strip_prefix("import ") {
        ("import".to_string(), names)
    } else if let Some((module, names)) = flat
        .strip_prefix("from ")
        .and_then(|rest| rest.split_once(" import "))
    {
        if module.trim() == "__future__" {
            return Vec::new();
        }
        (format!("from {} import", module.trim()), names)
    } else {
        return vec![flat.split_whitespace().collect::<Vec<_>>().join(" ")];
    };
    names
        .split(',')
        .map(|name| name.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|name| !name.is_empty())
        .map(|name| format!("{head} {name}"))
        .collect()
}

/// `f((x))` is `f(x)`: parentheses around the only thing inside other parentheses, unless they
/// make a tuple (a comma at their top level), are formatting (ruff's UP034). `code` is a
/// canonical form: its strings are quoted, with backslash escapes.
fn without_redundant_parentheses(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    // For each `(`: where it closes and whether a comma stands at its top level.
    let mut closes: Vec<Option<(usize, bool)>> = vec![None; chars.len()];
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            q @ ('"' | '\'') => {
                i += 1;
                while i < chars.len() && chars[i] != q {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            '(' | '[' | '{' => open.push((i, false)),
            ')' | ']' | '}' => {
                if let Some((at, comma)) = open.pop() {
                    closes[at] = Some((i, comma));
                }
            }
            ',' => {
                if let Some(top) = open.last_mut() {
                    top.1 = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut drop = vec![false; chars.len()];
    for at in 0..chars.len().saturating_sub(1) {
        let (Some((outer_end, _)), Some((inner_end, comma))) = (closes[at], closes[at + 1]) else {
            continue;
        };
        let redundant = chars[at] == '('
            && chars[at + 1] == '('
            && inner_end + 1 == outer_end
            && inner_end > at + 2
            && !comma;
        if redundant {
            drop[at + 1] = true;
            drop[inner_end] = true;
        }
    }
    chars
        .iter()
        .zip(drop)
        .filter(|(_, dropped)| !dropped)
        .map(|(c, _)| *c)
        .collect()
}

/// The canonical form of Ruby or Python code.
fn script(text: &str, python: bool) -> String {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut line_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line_start = true;
            pending_space = true;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            i += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '"' || c == '\'' {
            // Python 2's `u"..."` is `"..."`.
            if python
                && out.ends_with('u')
                && !out[..out.len() - 1].chars().next_back().is_some_and(word)
            {
                out.pop();
            }
            let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
            let open = if triple { 3 } else { 1 };
            let mut j = i + open;
            let mut body = String::new();
            while j < chars.len() {
                if chars[j] == '\\' {
                    body.extend(chars.get(j..j + 2).unwrap_or(&chars[j..]));
                    j += 2;
                    continue;
                }
                let closes = chars[j] == c
                    && (!triple || (chars.get(j + 1) == Some(&c) && chars.get(j + 2) == Some(&c)));
                if closes {
                    break;
                }
                body.push(chars[j]);
                j += 1;
            }
            let end = (j + open).min(chars.len());
            // A docstring: a triple-quoted string standing alone on its line(s).
            let alone_after = chars[end..]
                .iter()
                .take_while(|c| **c != '\n')
                .all(|c| c.is_whitespace());
            if python && triple && line_start && alone_after {
                i = end;
                continue;
            }
            // `'a'` and `"a"` are the same string (Ruby interpolates only in double quotes,
            // so only quote-free, `#{`-free bodies are unified).
            let quote = if !body.contains(['"', '\'']) && !body.contains("#{") {
                '"'
            } else {
                c
            };
            out.push(quote);
            out.push_str(&body);
            out.push(quote);
            i = end;
            pending_space = false;
            line_start = false;
            continue;
        }
        if pending_space && word(c) && out.chars().next_back().is_some_and(word) {
            out.push(' ');
        }
        pending_space = false;
        line_start = false;
        // A trailing comma before a closing bracket is formatting.
        if matches!(c, ')' | ']' | '}') && out.ends_with(',') {
            out.pop();
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_style_reformatting_is_not_a_change() {
        let a = "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n\n    dependencies = [('shop', '0001_initial')]\n\n    operations = [\n        migrations.AddField(model_name='order', name='note', field=models.TextField(null=True)),\n    ]\n";
        let b = "# Generated by Django 5.0\nfrom django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"shop\", \"0001_initial\")]\n\n    operations = [\n        migrations.AddField(\n            model_name=\"order\",\n            name=\"note\",\n            field=models.TextField(null=True),\n        ),\n    ]\n";
        assert_eq!(canonical("0002.py", a), canonical("0002.py", b));
        let c = b.replace("null=True", "null=False");
        assert_ne!(canonical("0002.py", a), canonical("0002.py", &c));
    }

    #[test]
    fn pyupgrade_and_isort_edits_are_formatting() {
        let a = "from __future__ import unicode_literals\n\nimport django.utils.timezone\nfrom django.db import migrations, models\nimport django.db.models.deletion\n\nX = [u'a']\n";
        let b = "import django.db.models.deletion\nimport django.utils.timezone\nfrom django.db import (\n    migrations,\n    models,\n)\n\nX = ['a']\n";
        assert_eq!(canonical("0001.py", a), canonical("0001.py", b));
        let c = "import django.db.models.deletion\nimport django.utils.timezone\nfrom django.db import migrations, models\n\nX = ['a']\n";
        assert_eq!(canonical("0001.py", a), canonical("0001.py", c));
        assert_ne!(
            canonical("0001.py", a),
            canonical("0001.py", &c.replace("'a'", "'b'"))
        );
    }

    #[test]
    fn ruff_import_merges_nested_imports_and_redundant_parentheses_are_formatting() {
        // Imports of one module merged, an import block inside a function re-sorted, and
        // parentheses around the only argument dropped (ruff's isort rules and UP034).
        let a = "import django.db.models.deletion\nfrom django.db import migrations\nfrom django.db import models\nfrom itertools import islice\n\n\ndef find(obj):\n    from shop.tasks import Task\n    from shop.jobs import Job\n    return Task, Job\n\n\nOPS = [\n    migrations.RunSQL((\n        'ALTER TABLE a '\n        'RENAME TO b'\n    )),\n]\n";
        let b = "from itertools import islice\n\nimport django.db.models.deletion\nfrom django.db import migrations, models\n\n\ndef find(obj):\n    from shop.jobs import Job\n    from shop.tasks import Task\n    return Task, Job\n\n\nOPS = [\n    migrations.RunSQL(\n        'ALTER TABLE a '\n        'RENAME TO b'\n    ),\n]\n";
        assert_eq!(canonical("0003.py", a), canonical("0003.py", b));
        // A tuple is no redundant parenthesis; neither is a changed import.
        let tuple = "OPS = [f(('a', 'b'))]\n";
        assert_ne!(
            canonical("0003.py", tuple),
            canonical("0003.py", "OPS = [f('a', 'b')]\n")
        );
        assert_eq!(
            canonical("0003.py", "OPS = [f((g(1)))]\n"),
            canonical("0003.py", "OPS = [f(g(1))]\n")
        );
        assert_ne!(
            canonical("0003.py", a),
            canonical(
                "0003.py",
                &b.replace("from shop.jobs import Job", "from shop.jobs import Work")
            )
        );
        assert_ne!(
            canonical("0003.py", a),
            canonical("0003.py", &b.replace("    from shop.jobs import Job\n", ""))
        );
    }

    #[test]
    fn docstrings_and_comments_go_strings_stay() {
        let a = "def upgrade():\n    op.execute('x')\n";
        let b =
            "\"\"\"Notes.\"\"\"\n# revision notes\ndef upgrade():\n    op.execute(\"x\")  # why\n";
        assert_eq!(canonical("a.py", a), canonical("a.py", b));
        assert_ne!(
            canonical("a.py", a),
            canonical("a.py", "def upgrade():\n    op.execute('y')\n")
        );
        // Ruby: interpolation keeps its quotes.
        assert_ne!(
            canonical("a.rb", "x = '#{a}'"),
            canonical("a.rb", "x = \"#{a}\"")
        );
        assert_eq!(
            canonical("a.rb", "  add_column :a, :b\n"),
            canonical("a.rb", "add_column :a,  :b # note\n")
        );
    }
}
