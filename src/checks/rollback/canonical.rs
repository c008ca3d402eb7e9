//! Whether an edit of a released migration changes what it does or only how it looks.

use super::sql;

/// `text` reduced to what it does, by file type: SQL without comments, whitespace and keyword
/// case; Ruby and Python without comments, docstrings, whitespace between tokens, trailing
/// commas and the choice of quote. Equal canonical forms mean a formatting-only edit.
pub fn canonical(path: &str, text: &str) -> String {
    if path.ends_with(".sql") {
        sql::canonical(text)
    } else if path.ends_with(".py") {
        script(&python_imports_sorted(text), true)
    } else if path.ends_with(".rb") {
        script(text, false)
    } else {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Python code with its top-level imports in one sorted block at the top, and without
/// `from __future__ import ...` (a no-op on Python 3): isort and pyupgrade edits are formatting.
fn python_imports_sorted(text: &str) -> String {
    let mut imports: Vec<String> = Vec::new();
    let mut rest: Vec<&str> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if !(line.starts_with("import ") || line.starts_with("from ")) {
            rest.push(line);
            continue;
        }
        let mut statement = line.to_string();
        // `from x import (\n a,\n b,\n)` is one statement.
        if statement.contains('(') {
            while !statement.contains(')') {
                let Some(more) = lines.next() else { break };
                statement.push(' ');
                statement.push_str(more);
            }
        }
        if !statement.starts_with("from __future__ ") {
            let names = statement.replace(['(', ')'], " ").replace(',', " ");
            imports.push(names.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    imports.sort();
    imports.dedup();
    let mut out = imports.join("\n");
    out.push('\n');
    out.push_str(&rest.join("\n"));
    out
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
