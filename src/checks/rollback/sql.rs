//! SQL that the previous release cannot survive: comment stripping and dangerous statements.
//!
//! This is a scanner, not a parser: it knows comments, string literals, dollar quotes and quoted
//! identifiers well enough to never take text inside them for a statement, then matches the
//! few statement shapes that destroy or reshape data (the squawk / strong_migrations list).

use serde::Serialize;

/// A statement the previous release cannot run against, or whose effect a down migration cannot undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    DropTable,
    DropColumn,
    Rename,
    AlterType,
    SetNotNull,
    AddNotNull,
    Truncate,
    DeleteWithoutWhere,
    UpdateWithoutWhere,
}

impl Rule {
    /// Why the previous release cannot live with it.
    pub fn why(self) -> &'static str {
        match self {
            Rule::DropTable => {
                "the previous release still reads it, and a down migration cannot bring its rows back"
            }
            Rule::DropColumn => {
                "the previous release still reads it, and a down migration cannot bring its values back"
            }
            Rule::Rename => "the previous release still uses the old name",
            Rule::AlterType => "the previous release may not read or write the new type",
            Rule::SetNotNull => "the previous release may insert rows without it",
            Rule::AddNotNull => "the previous release inserts rows without it",
            Rule::Truncate => "a down migration cannot bring the rows back",
            Rule::DeleteWithoutWhere => {
                "every row goes, and a down migration cannot bring them back"
            }
            Rule::UpdateWithoutWhere => {
                "every row changes, and a down migration cannot restore the old values"
            }
        }
    }
}

/// One dangerous statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlFinding {
    /// 1-based line in the scanned text.
    pub line: usize,
    pub rule: Rule,
    /// What it does, e.g. "drops table `orders`".
    pub what: String,
    /// The statement, whitespace collapsed, shortened.
    pub statement: String,
}

/// `text` with comments blanked, and with string contents blanked too when `blank_strings`.
/// Blanked bytes become spaces and newlines stay, so offsets and line numbers are unchanged.
pub fn mask(text: &str, blank_strings: bool) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // PostgreSQL block comments nest.
                let (mut depth, mut j) = (1, i + 2);
                while j < b.len() && depth > 0 {
                    if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                        depth += 1;
                        j += 2;
                    } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                        depth -= 1;
                        j += 2;
                    } else {
                        j += 1;
                    }
                }
                blank(&mut out, i, j);
                i = j;
            }
            q @ (b'\'' | b'"' | b'`') => {
                // '' (or "") inside a literal is an escaped quote.
                let mut j = i + 1;
                while j < b.len() {
                    if b[j] == q {
                        if b.get(j + 1) == Some(&q) {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                if blank_strings && q == b'\'' {
                    blank(&mut out, i + 1, j);
                }
                i = j + 1;
            }
            b'$' if i == 0 || !is_ident_byte(b[i - 1]) => match dollar_tag(&b[i..]) {
                Some(tag_len) => {
                    let tag = &b[i..i + tag_len];
                    let body = i + tag_len;
                    let end = b[body..]
                        .windows(tag_len)
                        .position(|w| w == tag)
                        .map_or(b.len(), |p| body + p);
                    if blank_strings {
                        blank(&mut out, body, end);
                    }
                    i = (end + tag_len).min(b.len());
                }
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The length of a dollar-quote opener (`$$`, `$body$`) at the start of `b`.
fn dollar_tag(b: &[u8]) -> Option<usize> {
    let mut j = 1;
    if b.get(j)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        while b
            .get(j)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            j += 1;
        }
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1)
}

/// Whether `text` holds no statement at all (only comments, whitespace and semicolons): an
/// empty down migration reverts nothing.
pub fn is_empty(text: &str) -> bool {
    mask(text, false)
        .chars()
        .all(|c| c.is_whitespace() || c == ';')
}

#[derive(Debug, Clone)]
struct Token {
    /// Upper-cased word, quoted identifier (quotes stripped, case kept) or one punctuation char.
    text: String,
    quoted: bool,
    at: usize,
}

impl Token {
    fn is(&self, word: &str) -> bool {
        !self.quoted && self.text == word
    }
}

fn tokenize(masked: &str, from: usize, to: usize) -> Vec<Token> {
    let b = masked.as_bytes();
    let mut out = Vec::new();
    let mut i = from;
    while i < to {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if is_ident_byte(c) {
            let start = i;
            while i < to && (is_ident_byte(b[i]) || b[i] == b'$') {
                i += 1;
            }
            out.push(Token {
                text: masked[start..i].to_ascii_uppercase(),
                quoted: false,
                at: start,
            });
        } else if c == b'"' || c == b'`' {
            let start = i;
            i += 1;
            while i < to && b[i] != c {
                i += 1;
            }
            let text = masked.get(start + 1..i.min(to)).unwrap_or("").to_string();
            out.push(Token {
                text,
                quoted: true,
                at: start,
            });
            i += 1;
        } else if c == b'\'' {
            // A (blanked) string literal: one token.
            let start = i;
            i += 1;
            while i < to && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.push(Token {
                text: "'".into(),
                quoted: false,
                at: start,
            });
        } else {
            let ch = masked[i..].chars().next().unwrap_or(' ');
            out.push(Token {
                text: ch.to_string(),
                quoted: false,
                at: i,
            });
            i += ch.len_utf8().max(1);
        }
    }
    out
}

/// The statements of `text` that destroy or reshape data the previous release relies on.
pub fn dangerous_statements(text: &str) -> Vec<SqlFinding> {
    let masked = mask(text, true);
    let line_of = |at: usize| {
        text.as_bytes()[..at.min(text.len())]
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            + 1
    };
    let mut findings = Vec::new();
    let mut start = 0;
    for (end, _) in masked
        .match_indices(';')
        .chain(std::iter::once((masked.len(), "")))
    {
        let tokens = tokenize(&masked, start, end);
        let statement = excerpt(&text[start..end]);
        for (at, rule, what) in statement_findings(&tokens) {
            findings.push(SqlFinding {
                line: line_of(at),
                rule,
                what,
                statement: statement.clone(),
            });
        }
        start = end + 1;
    }
    findings
}

fn excerpt(statement: &str) -> String {
    let masked = mask(statement, false);
    let collapsed = masked.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > 120 {
        format!("{}...", collapsed.chars().take(117).collect::<String>())
    } else {
        collapsed
    }
}

/// A name as written (`public.orders`): the tokens from `i` up to the first non-name token.
fn name_at(t: &[Token], mut i: usize) -> (String, usize) {
    let mut name = String::new();
    while let Some(tok) = t.get(i) {
        let part = if tok.quoted {
            tok.text.clone()
        } else if tok.text.chars().all(|c| is_ident_byte(c as u8) || c == '$') {
            tok.text.to_ascii_lowercase()
        } else {
            break;
        };
        name.push_str(&part);
        i += 1;
        if t.get(i).is_some_and(|d| d.is(".")) {
            name.push('.');
            i += 1;
        } else {
            break;
        }
    }
    (name, i)
}

fn skip(t: &[Token], mut i: usize, words: &[&str]) -> usize {
    while t.get(i).is_some_and(|tok| words.iter().any(|w| tok.is(w))) {
        i += 1;
    }
    i
}

/// Whether `word` appears at parenthesis depth 0 in `t`.
fn at_top_level(t: &[Token], word: &str) -> bool {
    let mut depth = 0i32;
    for tok in t {
        match tok.text.as_str() {
            "(" if !tok.quoted => depth += 1,
            ")" if !tok.quoted => depth -= 1,
            _ if depth == 0 && tok.is(word) => return true,
            _ => {}
        }
    }
    false
}

/// Splits `t` at commas of parenthesis depth 0.
fn split_top_level(t: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, tok) in t.iter().enumerate() {
        match tok.text.as_str() {
            "(" if !tok.quoted => depth += 1,
            ")" if !tok.quoted => depth -= 1,
            "," if !tok.quoted && depth == 0 => {
                parts.push(&t[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&t[start..]);
    parts
}

fn contains_seq(t: &[Token], seq: &[&str]) -> bool {
    t.windows(seq.len())
        .any(|w| w.iter().zip(seq).all(|(tok, s)| tok.is(s)))
}

/// Keywords after `DROP` in `ALTER TABLE` that do not name a column.
const DROP_NOT_COLUMN: &[&str] = &[
    "CONSTRAINT",
    "DEFAULT",
    "NOT",
    "INDEX",
    "KEY",
    "PRIMARY",
    "FOREIGN",
    "CHECK",
    "PARTITION",
    "IDENTITY",
    "EXPRESSION",
    "TRIGGER",
    "UNIQUE",
    "PERIOD",
    "SYSTEM",
];
/// Keywords after `ADD` in `ALTER TABLE` that do not add a column.
const ADD_NOT_COLUMN: &[&str] = &[
    "CONSTRAINT",
    "PRIMARY",
    "FOREIGN",
    "UNIQUE",
    "CHECK",
    "INDEX",
    "KEY",
    "FULLTEXT",
    "SPATIAL",
    "PARTITION",
    "EXCLUDE",
];

fn statement_findings(t: &[Token]) -> Vec<(usize, Rule, String)> {
    let mut out = Vec::new();
    let Some(first) = t.first() else { return out };
    let word = |i: usize| {
        t.get(i)
            .map(|x| if x.quoted { "" } else { x.text.as_str() })
            .unwrap_or("")
    };
    match word(0) {
        "DROP" if word(1) == "TABLE" => {
            let i = skip(t, 2, &["IF", "EXISTS"]);
            let (name, _) = name_at(t, i);
            out.push((first.at, Rule::DropTable, format!("drops table `{name}`")));
        }
        "TRUNCATE" => {
            let i = skip(t, 1, &["TABLE", "ONLY"]);
            let (name, _) = name_at(t, i);
            out.push((first.at, Rule::Truncate, format!("truncates `{name}`")));
        }
        "DELETE" if word(1) == "FROM" && !at_top_level(t, "WHERE") => {
            let (name, _) = name_at(t, skip(t, 2, &["ONLY"]));
            out.push((
                first.at,
                Rule::DeleteWithoutWhere,
                format!("deletes every row of `{name}` (no WHERE)"),
            ));
        }
        "UPDATE" if !at_top_level(t, "WHERE") => {
            let (name, _) = name_at(t, skip(t, 1, &["ONLY"]));
            out.push((
                first.at,
                Rule::UpdateWithoutWhere,
                format!("updates every row of `{name}` (no WHERE)"),
            ));
        }
        "RENAME" if word(1) == "TABLE" => {
            let (name, _) = name_at(t, 2);
            out.push((first.at, Rule::Rename, format!("renames table `{name}`")));
        }
        "ALTER" if word(1) == "TABLE" => {
            let i = skip(t, 2, &["IF", "EXISTS", "ONLY"]);
            let (table, i) = name_at(t, i);
            let i = skip(t, i, &["*"]);
            for action in split_top_level(&t[i.min(t.len())..]) {
                alter_action(&table, action, &mut out);
            }
        }
        _ => {}
    }
    out
}

fn alter_action(table: &str, a: &[Token], out: &mut Vec<(usize, Rule, String)>) {
    let Some(first) = a.first() else { return };
    let word = |i: usize| {
        a.get(i)
            .map(|x| if x.quoted { "" } else { x.text.as_str() })
            .unwrap_or("")
    };
    match word(0) {
        "DROP" => {
            if DROP_NOT_COLUMN.contains(&word(1)) {
                return;
            }
            let i = skip(a, 1, &["COLUMN", "IF", "EXISTS"]);
            let (column, _) = name_at(a, i);
            out.push((
                first.at,
                Rule::DropColumn,
                format!("drops column `{column}` of `{table}`"),
            ));
        }
        "RENAME" => {
            if matches!(word(1), "TO" | "AS") {
                let (name, _) = name_at(a, 2);
                out.push((
                    first.at,
                    Rule::Rename,
                    format!("renames table `{table}` to `{name}`"),
                ));
            } else if !matches!(word(1), "CONSTRAINT" | "INDEX" | "KEY") {
                let (column, _) = name_at(a, skip(a, 1, &["COLUMN"]));
                out.push((
                    first.at,
                    Rule::Rename,
                    format!("renames column `{column}` of `{table}`"),
                ));
            }
        }
        "ALTER" => {
            let (column, _) = name_at(a, skip(a, 1, &["COLUMN"]));
            if contains_seq(a, &["TYPE"]) {
                out.push((
                    first.at,
                    Rule::AlterType,
                    format!("changes the type of column `{column}` of `{table}`"),
                ));
            }
            if contains_seq(a, &["SET", "NOT", "NULL"]) {
                out.push((
                    first.at,
                    Rule::SetNotNull,
                    format!("makes column `{column}` of `{table}` NOT NULL"),
                ));
            }
        }
        "MODIFY" | "CHANGE" => {
            let (column, _) = name_at(a, skip(a, 1, &["COLUMN"]));
            out.push((
                first.at,
                Rule::AlterType,
                format!("redefines column `{column}` of `{table}`"),
            ));
        }
        "ADD" if !ADD_NOT_COLUMN.contains(&word(1)) => {
            let (column, _) = name_at(a, skip(a, 1, &["COLUMN", "IF", "NOT", "EXISTS"]));
            let generated = contains_seq(a, &["GENERATED"]);
            if contains_seq(a, &["NOT", "NULL"]) && !contains_seq(a, &["DEFAULT"]) && !generated {
                out.push((
                    first.at,
                    Rule::AddNotNull,
                    format!("adds NOT NULL column `{column}` to `{table}` without a default"),
                ));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str) -> Vec<(usize, Rule)> {
        dangerous_statements(sql)
            .into_iter()
            .map(|f| (f.line, f.rule))
            .collect()
    }

    #[test]
    fn comments_are_blanked_and_lines_kept() {
        let sql = "-- DROP TABLE a;\nSELECT 1; /* DROP TABLE b; /* nested */ still comment */\nDROP TABLE c;";
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
        let f = &dangerous_statements(sql)[1];
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
        let sql = "ALTER TABLE ONLY public.\"Orders\" ADD COLUMN x int, DROP y,\n DROP COLUMN IF EXISTS z;";
        let found = dangerous_statements(sql);
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
}
