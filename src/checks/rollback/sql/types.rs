//! Column types in SQL migrations: what a column was declared as, and whether a new type
//! takes every value of the old one (a widening the previous release cannot notice).

use std::sync::LazyLock;

use regex::Regex;

use super::lex::mask;
use super::object_name;

static ALTER_TABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)^\s*alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?([\w."`]+)\s+(.*)$"#)
        .expect("regex")
});
static CREATE_TABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?s)^\s*create\s+(?:(?:temp|temporary|unlogged)\s+)?table\s+(?:if\s+not\s+exists\s+)?([\w."`]+)\s*\((.*)\)"#,
    )
    .expect("regex")
});
static ALTER_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)^alter\s+(?:column\s+)?([\w"`]+)\s+(?:set\s+data\s+)?type\s+(.+)$"#)
        .expect("regex")
});
static ADD_COLUMN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)^add\s+(?:column\s+)?(?:if\s+not\s+exists\s+)?([\w"`]+)\s+(.+)$"#)
        .expect("regex")
});
static RENAME_TABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)^\s*alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?([\w."`]+)\s+rename\s+to\s+([\w."`]+)\s*$"#)
        .expect("regex")
});
static TYPE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(character\s+varying|double\s+precision|[a-z_][a-z0-9_]*)\s*(\(\s*[\d\s,]+\))?")
        .expect("regex")
});

/// The type `column` of `table` last gets in `text`, from a `CREATE TABLE`, an `ADD COLUMN` or
/// an `ALTER COLUMN ... TYPE` (normalised: `character varying (50)` → `varchar(50)`).
pub fn declared_type(text: &str, table: &str, column: &str) -> Option<String> {
    let mut found = None;
    for statement in mask(text, false).to_lowercase().split(';') {
        if let Some(c) = ALTER_TABLE.captures(statement) {
            if object_name(&c[1]) != table {
                continue;
            }
            for action in top_level_parts(&c[2]) {
                let action = action.trim();
                let hit = ALTER_TYPE
                    .captures(action)
                    .or_else(|| ADD_COLUMN.captures(action));
                if let Some(a) = hit
                    && object_name(&a[1]) == column
                {
                    found = type_name(&a[2]).or(found);
                }
            }
        } else if let Some(c) = CREATE_TABLE.captures(statement) {
            if object_name(&c[1]) != table {
                continue;
            }
            for element in top_level_parts(&c[2]) {
                let mut words = element.split_whitespace();
                if words.next().map(object_name).as_deref() == Some(column) {
                    found = type_name(&words.collect::<Vec<_>>().join(" ")).or(found);
                }
            }
        }
    }
    found
}

/// The name `table` had before `text` renamed it (`ALTER TABLE old RENAME TO table`), if it did.
pub fn renamed_from(text: &str, table: &str) -> Option<String> {
    mask(text, false)
        .to_lowercase()
        .split(';')
        .rev()
        .filter_map(|statement| RENAME_TABLE.captures(statement))
        .find(|c| object_name(&c[2]) == table)
        .map(|c| object_name(&c[1]))
}

/// Whether every value of type `old` fits `new` unchanged: a longer (or unbounded) `varchar`,
/// `varchar` to `text`, a wider integer, or the same type restated.
pub fn widens(old: &str, new: &str) -> bool {
    match (family(old), family(new)) {
        (Family::Varchar(_), Family::Varchar(None) | Family::Text) => true,
        (Family::Varchar(Some(m)), Family::Varchar(Some(n))) => n >= m,
        (Family::Text, Family::Text | Family::Varchar(None)) => true,
        (Family::Integer(a), Family::Integer(b)) => b >= a,
        (Family::Other, Family::Other) => old == new,
        _ => false,
    }
}

enum Family {
    /// The length limit, if any.
    Varchar(Option<u64>),
    Text,
    /// The size in bytes.
    Integer(u8),
    Other,
}

fn family(t: &str) -> Family {
    let (name, args) = t.split_once('(').unwrap_or((t, ""));
    let length = args.trim_end_matches(')').parse().ok();
    match name {
        "varchar" => Family::Varchar(length),
        "text" => Family::Text,
        "smallint" | "int2" | "smallserial" => Family::Integer(2),
        "integer" | "int" | "int4" | "serial" => Family::Integer(4),
        "bigint" | "int8" | "bigserial" => Family::Integer(8),
        _ => Family::Other,
    }
}

/// The type at the start of a column definition, normalised.
fn type_name(definition: &str) -> Option<String> {
    let c = TYPE_NAME.captures(definition.trim())?;
    let name = c[1].split_whitespace().collect::<Vec<_>>().join(" ");
    let name = if name == "character varying" {
        "varchar".to_string()
    } else {
        name
    };
    let args: String = c
        .get(2)
        .map_or("", |m| m.as_str())
        .split_whitespace()
        .collect();
    Some(format!("{name}{args}"))
}

/// `text` split at the commas outside parentheses.
fn top_level_parts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_are_found_and_normalised() {
        let sql = "-- reports\nCREATE TABLE IF NOT EXISTS public.report (\n  id serial PRIMARY KEY,\n  price numeric(10, 2),\n  title VARCHAR (100) NOT NULL,\n  UNIQUE (title)\n);\nALTER TABLE report ADD COLUMN note character varying(50), ADD summary text;\n";
        assert_eq!(
            declared_type(sql, "report", "title").as_deref(),
            Some("varchar(100)")
        );
        assert_eq!(
            declared_type(sql, "report", "price").as_deref(),
            Some("numeric(10,2)")
        );
        assert_eq!(
            declared_type(sql, "report", "note").as_deref(),
            Some("varchar(50)")
        );
        assert_eq!(
            declared_type(sql, "report", "summary").as_deref(),
            Some("text")
        );
        assert_eq!(declared_type(sql, "other", "title"), None);
        let renamed =
            "CREATE TABLE user_ (name text);\nALTER TABLE IF EXISTS user_ RENAME TO person;";
        assert_eq!(renamed_from(renamed, "person").as_deref(), Some("user_"));
        assert_eq!(renamed_from(renamed, "user_"), None);
        let later = "ALTER TABLE report ALTER COLUMN title TYPE text USING title::text;";
        assert_eq!(
            declared_type(later, "report", "title").as_deref(),
            Some("text")
        );
    }

    #[test]
    fn widening_is_told_from_narrowing() {
        assert!(widens("varchar(100)", "varchar(200)"));
        assert!(widens("varchar(100)", "text"));
        assert!(widens("integer", "bigint"));
        assert!(widens("numeric(10,2)", "numeric(10,2)"));
        assert!(!widens("text", "varchar(512)"));
        assert!(!widens("varchar(100)", "varchar(50)"));
        assert!(!widens("bigint", "integer"));
        assert!(!widens("varchar(10)", "integer"));
        assert!(!widens("numeric(10,2)", "numeric(12,4)"));
    }
}
