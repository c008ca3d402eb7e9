//! How narrow a targeting condition is, whatever the source's syntax: a condition becomes a
//! [`Cond`], its text for reports and its [`Reach`]; sources combine them with `and`/`or`.

use serde::Serialize;

use super::ParseSettings;

/// Who a condition can let through, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    /// No request can satisfy it (an empty list, an invalid regex, a missing segment, ...).
    Nobody,
    /// Named ids only: `userId IN [a, b]`, `^cust-4711$`, a segment's included keys.
    Individuals,
    /// A group picked by part of an id: an email domain, a key prefix, a pattern.
    Group,
    /// Anything else (plans, countries, versions, rollouts, negations).
    Broad,
}

/// A condition as reports show it, and how narrow it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    /// Empty for "always".
    pub text: String,
    pub reach: Reach,
}

impl Cond {
    pub fn new(text: impl Into<String>, reach: Reach) -> Cond {
        Cond {
            text: text.into(),
            reach,
        }
    }

    /// The condition that always holds.
    pub fn always() -> Cond {
        Cond::new("", Reach::Broad)
    }

    /// One that never holds, with why.
    pub fn never(why: impl Into<String>) -> Cond {
        Cond::new(why, Reach::Nobody)
    }

    /// Every part must hold: as narrow as the narrowest part.
    pub fn all(parts: impl IntoIterator<Item = Cond>) -> Cond {
        let parts: Vec<Cond> = parts.into_iter().collect();
        let reach = parts.iter().map(|c| c.reach).min().unwrap_or(Reach::Broad);
        let texts: Vec<&str> = parts
            .iter()
            .map(|c| c.text.as_str())
            .filter(|t| !t.is_empty())
            .collect();
        Cond::new(texts.join(" and "), reach)
    }

    /// Any part may hold. Parts nobody can satisfy drop out; a named id among the others still
    /// singles that id out, so the result is as narrow as its narrowest remaining part.
    pub fn any(parts: impl IntoIterator<Item = Cond>) -> Cond {
        let parts: Vec<Cond> = parts.into_iter().collect();
        if parts.is_empty() {
            return Cond::always();
        }
        let live: Vec<&Cond> = parts.iter().filter(|c| c.reach != Reach::Nobody).collect();
        if live.is_empty() {
            let texts: Vec<&str> = parts.iter().map(|c| c.text.as_str()).collect();
            return Cond::never(texts.join(" or "));
        }
        if live.iter().any(|c| c.text.is_empty()) {
            return Cond::always();
        }
        let reach = live.iter().map(|c| c.reach).min().unwrap_or(Reach::Broad);
        let texts: Vec<&str> = live.iter().map(|c| c.text.as_str()).collect();
        let text = if texts.len() == 1 {
            texts[0].to_string()
        } else {
            format!("({})", texts.join(" or "))
        };
        Cond::new(text, reach)
    }

    /// The negation: everyone outside a list or a group is not narrow.
    pub fn not(self) -> Cond {
        let reach = if self.text.is_empty() {
            Reach::Nobody
        } else {
            Reach::Broad
        };
        Cond::new(format!("not ({})", self.text), reach)
    }

    /// Whether some request can satisfy it.
    pub fn reachable(&self) -> bool {
        self.reach != Reach::Nobody
    }
}

/// How a comparison matches its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// Equality or list membership.
    Equals,
    /// A substring test: contains, starts with, ends with.
    Substring,
    /// A regular expression.
    Regex,
    /// Ranges, dates, versions, ...
    Other,
}

/// `attribute op values` read as a [`Cond`]: membership of an id attribute in a literal list
/// singles out individuals; substrings and patterns of an id pick a group (a regex that only
/// spells out literal ids, like `^(cust-1|cust-2)$`, is a list); an empty list matches nobody.
pub fn compare(
    settings: &ParseSettings,
    attribute: &str,
    op: &str,
    matching: Matching,
    values: &[String],
) -> Cond {
    let shown: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    let text = if matching == Matching::Regex {
        format!("{attribute} {op} {}", shown.join(", "))
    } else {
        format!("{attribute} {op} [{}]", shown.join(", "))
    };
    judge(settings, attribute, op, matching, values, text)
}

/// [`compare`] with one value, shown without brackets: `email ends_with `@corp.com``.
pub fn compare_one(
    settings: &ParseSettings,
    attribute: &str,
    op: &str,
    matching: Matching,
    value: String,
) -> Cond {
    let text = format!("{attribute} {op} `{value}`");
    judge(settings, attribute, op, matching, &[value], text)
}

fn judge(
    settings: &ParseSettings,
    attribute: &str,
    op: &str,
    matching: Matching,
    values: &[String],
    text: String,
) -> Cond {
    if values.is_empty() && matches!(matching, Matching::Equals | Matching::Substring) {
        return Cond::never(format!(
            "{attribute} {op} [] (an empty list matches nobody)"
        ));
    }
    if matching == Matching::Regex
        && let Some(bad) = values.iter().find(|v| regex::Regex::new(v).is_err())
    {
        return Cond::never(format!(
            "{attribute} {op} `{bad}` (not a valid regex: matches nobody)"
        ));
    }
    let reach = if !settings.is_id_attribute(attribute) {
        Reach::Broad
    } else {
        match matching {
            Matching::Equals => Reach::Individuals,
            Matching::Substring => Reach::Group,
            Matching::Regex if values.iter().all(|v| regex_literals(v).is_some()) => {
                Reach::Individuals
            }
            Matching::Regex => Reach::Group,
            Matching::Other => Reach::Broad,
        }
    };
    Cond::new(text, reach)
}

/// The strings of a JSON array (others skipped); none when it is not one.
pub fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The literal alternatives of an anchored regex that matches only them (`^cust-4711$`,
/// `^(a|b)$`, `^(?:a|b)$`), or `None` when it matches anything else.
pub fn regex_literals(pattern: &str) -> Option<Vec<String>> {
    let inner = pattern.strip_prefix('^')?.strip_suffix('$')?;
    if inner.ends_with('\\') {
        return None;
    }
    let inner = inner
        .strip_prefix("(?:")
        .or_else(|| inner.strip_prefix('('))
        .and_then(|i| i.strip_suffix(')'))
        .unwrap_or(inner);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next()?;
                if next.is_ascii_alphanumeric() {
                    return None; // `\d`, `\w`, `\b`, ...: a class, not a literal
                }
                cur.push(next);
            }
            '|' => out.push(std::mem::take(&mut cur)),
            '.' | '*' | '+' | '?' | '[' | ']' | '{' | '}' | '(' | ')' | '^' | '$' => return None,
            c => cur.push(c),
        }
    }
    out.push(cur);
    (!out.iter().any(String::is_empty)).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn literal_regexes_are_lists() {
        assert_eq!(regex_literals("^cust-4711$"), Some(s(&["cust-4711"])));
        assert_eq!(regex_literals("^(a|b\\.c)$"), Some(s(&["a", "b.c"])));
        assert_eq!(regex_literals("^(?:x|y)$"), Some(s(&["x", "y"])));
        for p in [
            "@corp\\.com$",
            "^cust-.*$",
            "^cust-\\d+$",
            "cust-4711",
            "^(a|)$",
            "^a|b$x",
        ] {
            assert_eq!(regex_literals(p), None, "{p}");
        }
    }

    #[test]
    fn reach_of_comparisons_and_combinations() {
        let st = ParseSettings::for_tests();
        let ids = compare(&st, "userId", "IN", Matching::Equals, &s(&["a"]));
        assert_eq!(ids.reach, Reach::Individuals);
        assert_eq!(ids.text, "userId IN [`a`]");
        let domain = compare_one(
            &st,
            "email",
            "ends_with",
            Matching::Substring,
            "@x.com".into(),
        );
        assert_eq!(domain.reach, Reach::Group);
        let plan = compare_one(&st, "plan", "==", Matching::Equals, "pro".into());
        assert_eq!(plan.reach, Reach::Broad);
        assert_eq!(plan.text, "plan == `pro`");
        let empty = compare(&st, "appName", "IN", Matching::Equals, &[]);
        assert_eq!(empty.reach, Reach::Nobody);
        let bad = compare(&st, "userId", "REGEX", Matching::Regex, &s(&["^(?=a)b$"]));
        assert_eq!(bad.reach, Reach::Nobody);
        assert_eq!(
            compare(&st, "userId", "REGEX", Matching::Regex, &s(&["^u1$"])).reach,
            Reach::Individuals
        );

        let both = Cond::all([plan.clone(), domain.clone()]);
        assert_eq!(both.reach, Reach::Group);
        assert_eq!(both.text, "plan == `pro` and email ends_with `@x.com`");
        assert_eq!(Cond::all([ids.clone(), empty.clone()]).reach, Reach::Nobody);
        assert_eq!(Cond::any([empty.clone(), plan.clone()]).reach, Reach::Broad);
        assert_eq!(Cond::any([plan, ids.clone()]).reach, Reach::Individuals);
        assert_eq!(ids.not().reach, Reach::Broad);
        assert!(!Cond::any([empty]).reachable());
    }
}
