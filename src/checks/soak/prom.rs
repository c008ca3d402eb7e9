//! A parser for the Prometheus text exposition format (version 0.0.4).
//!
//! Written here because the `prometheus-parse` crate mangles escaped label values. Handles
//! quoted label values with `\\`, `\"` and `\n` escapes (and `,`/`}` inside them), `NaN`,
//! `+Inf`/`-Inf`, optional timestamps, `# HELP`/`# TYPE` lines, other comments, a trailing
//! comma in a label set, and the series of histograms and summaries (`_bucket{le=...}`,
//! `{quantile=...}`, `_sum`, `_count`), which are plain samples in this format.

use std::fmt;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds since the epoch, when the line has one.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The declared type of a metric family (`# TYPE name type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    /// `(family name, type)` from `# TYPE` lines.
    pub types: Vec<(String, MetricType)>,
    /// `(family name, help text, unescaped)` from `# HELP` lines.
    pub help: Vec<(String, String)>,
}

/// A line that is not valid exposition text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl Exposition {
    /// The declared type of the family `name` belongs to (`x_bucket` belongs to histogram `x`).
    pub fn type_of(&self, sample_name: &str) -> Option<MetricType> {
        let base = |suffix: &str| sample_name.strip_suffix(suffix);
        self.types.iter().find_map(|(family, t)| {
            let matches = family == sample_name
                || match t {
                    MetricType::Histogram => {
                        [base("_bucket"), base("_sum"), base("_count")].contains(&Some(family))
                    }
                    MetricType::Summary => [base("_sum"), base("_count")].contains(&Some(family)),
                    _ => false,
                };
            matches.then_some(*t)
        })
    }

    /// The sum of every sample matching `selector` (a name and optional labels that must
    /// match exactly), or `None` when no sample matches.
    pub fn value(&self, selector: &Selector) -> Option<f64> {
        let mut found = None;
        for s in &self.samples {
            if s.name == selector.name && selector.labels.iter().all(|(k, v)| s.label(k) == Some(v))
            {
                found = Some(found.unwrap_or(0.0) + s.value);
            }
        }
        found
    }
}

/// `name` or `name{label="value",...}`: which series to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let mut cur = Cursor { s: text, pos: 0 };
        let name = cur
            .name()
            .ok_or_else(|| format!("invalid metric selector `{text}`: expected a metric name"))?;
        let labels = if cur.peek() == Some('{') {
            cur.labels()
                .map_err(|e| format!("invalid metric selector `{text}`: {e}"))?
        } else {
            Vec::new()
        };
        cur.skip_ws();
        if cur.pos != text.len() {
            return Err(format!(
                "invalid metric selector `{text}`: unexpected `{}`",
                &text[cur.pos..]
            ));
        }
        Ok(Selector {
            name: name.to_string(),
            labels,
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            let parts: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            write!(f, "{{{}}}", parts.join(","))?;
        }
        Ok(())
    }
}

/// Parses a whole exposition.
pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    let mut out = Exposition::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_matches([' ', '\t', '\r']);
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            let mut parts = rest.splitn(3, [' ', '\t']);
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(t)) => {
                    let t = match t.trim() {
                        "counter" => MetricType::Counter,
                        "gauge" => MetricType::Gauge,
                        "histogram" => MetricType::Histogram,
                        "summary" => MetricType::Summary,
                        "untyped" => MetricType::Untyped,
                        other => return Err(err(format!("unknown metric type `{other}`"))),
                    };
                    out.types.push((name.to_string(), t));
                }
                (Some("HELP"), Some(name), doc) => {
                    out.help
                        .push((name.to_string(), unescape_help(doc.unwrap_or(""))));
                }
                _ => {} // any other comment
            }
            continue;
        }
        out.samples.push(parse_sample(line).map_err(err)?);
    }
    Ok(out)
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let mut cur = Cursor { s: line, pos: 0 };
    let name = cur
        .name()
        .ok_or_else(|| format!("expected a metric name at `{line}`"))?
        .to_string();
    cur.skip_ws();
    let labels = if cur.peek() == Some('{') {
        cur.labels()?
    } else {
        Vec::new()
    };
    cur.skip_ws();
    let rest = &line[cur.pos..];
    let mut fields = rest.split_whitespace();
    let value_text = fields
        .next()
        .ok_or_else(|| format!("`{name}` has no value"))?;
    let value =
        parse_value(value_text).ok_or_else(|| format!("`{name}`: invalid value `{value_text}`"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("`{name}`: invalid timestamp `{t}`"))?,
        ),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("`{name}`: unexpected `{extra}` after the value"));
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// Go's `ParseFloat` spellings the format allows, including `NaN`, `+Inf`, `-Inf`.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    fn name(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphabetic()
                || c == '_'
                || c == ':'
                || (self.pos > start && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.s[start..self.pos])
    }
    /// `{name="value",...}` with escapes in values and an optional trailing comma.
    fn labels(&mut self) -> Result<Vec<(String, String)>, String> {
        self.bump(); // '{'
        let mut labels = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.bump();
                return Ok(labels);
            }
            let name = self.name().ok_or("expected a label name")?.to_string();
            self.skip_ws();
            if self.bump() != Some('=') {
                return Err(format!("expected `=` after label `{name}`"));
            }
            self.skip_ws();
            if self.bump() != Some('"') {
                return Err(format!("label `{name}`: expected a quoted value"));
            }
            let mut value = String::new();
            loop {
                match self.bump() {
                    None => return Err(format!("label `{name}`: unterminated value")),
                    Some('"') => break,
                    Some('\\') => match self.bump() {
                        Some('n') => value.push('\n'),
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some(other) => {
                            value.push('\\');
                            value.push(other);
                        }
                        None => return Err(format!("label `{name}`: unterminated value")),
                    },
                    Some(c) => value.push(c),
                }
            }
            labels.push((name, value));
            self.skip_ws();
            match self.bump() {
                Some(',') => continue,
                Some('}') => return Ok(labels),
                _ => return Err("expected `,` or `}` in the label set".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_label_values_keep_their_characters() {
        let text = r#"http_requests_total{path="/a\"b\\c\nd",code="200"} 3"#;
        let e = parse(text).unwrap();
        assert_eq!(e.samples[0].label("path"), Some("/a\"b\\c\nd"));
        assert_eq!(e.samples[0].label("code"), Some("200"));
        assert_eq!(e.samples[0].value, 3.0);
    }

    #[test]
    fn braces_and_commas_inside_quoted_values() {
        let e = parse(r#"m{a="x,y}z",b="{}"} 1"#).unwrap();
        assert_eq!(
            e.samples[0].labels,
            vec![("a".into(), "x,y}z".into()), ("b".into(), "{}".into())]
        );
    }

    #[test]
    fn special_values_and_timestamps() {
        let e = parse("a NaN\nb +Inf\nc -Inf 1700000000000\nd 1.5e3\ne -0.25 -5\n").unwrap();
        assert!(e.samples[0].value.is_nan());
        assert_eq!(e.samples[1].value, f64::INFINITY);
        assert_eq!(e.samples[2].value, f64::NEG_INFINITY);
        assert_eq!(e.samples[2].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(e.samples[3].value, 1500.0);
        assert_eq!(
            (e.samples[4].value, e.samples[4].timestamp_ms),
            (-0.25, Some(-5))
        );
    }

    #[test]
    fn trailing_comma_spaces_and_empty_label_set() {
        let e = parse("m{ a = \"1\" , } 2\nn{} 3\n\n  \n").unwrap();
        assert_eq!(e.samples[0].labels, vec![("a".into(), "1".into())]);
        assert_eq!(e.samples[1].labels, vec![]);
    }

    #[test]
    fn histogram_and_summary_series() {
        let text = "\
# HELP rpc_seconds RPC latency.\\nIn seconds, with a \\\\ backslash.
# TYPE rpc_seconds histogram
rpc_seconds_bucket{le=\"0.1\"} 5
rpc_seconds_bucket{le=\"+Inf\"} 7
rpc_seconds_sum 1.2
rpc_seconds_count 7
# TYPE q summary
q{quantile=\"0.99\"} NaN
q_sum 0
q_count 0
# a free comment
";
        let e = parse(text).unwrap();
        assert_eq!(
            e.help[0].1,
            "RPC latency.\nIn seconds, with a \\ backslash."
        );
        assert_eq!(e.type_of("rpc_seconds_bucket"), Some(MetricType::Histogram));
        assert_eq!(e.type_of("rpc_seconds_count"), Some(MetricType::Histogram));
        assert_eq!(e.type_of("q_sum"), Some(MetricType::Summary));
        let inf = Selector::parse(r#"rpc_seconds_bucket{le="+Inf"}"#).unwrap();
        assert_eq!(e.value(&inf), Some(7.0));
        assert!(e.value(&Selector::parse("q").unwrap()).unwrap().is_nan());
    }

    #[test]
    fn value_sums_matching_series() {
        let e = parse("x{p=\"a\"} 1\nx{p=\"b\"} 2\ny 5\n").unwrap();
        assert_eq!(e.value(&Selector::parse("x").unwrap()), Some(3.0));
        assert_eq!(e.value(&Selector::parse("x{p=\"b\"}").unwrap()), Some(2.0));
        assert_eq!(e.value(&Selector::parse("z").unwrap()), None);
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(parse("m{a=\"1} 2").is_err());
        assert!(parse("m{a=1} 2").is_err());
        assert!(parse("m").is_err());
        assert!(parse("m abc").is_err());
        assert!(parse("m 1 2 3").is_err());
        assert_eq!(parse("ok 1\nbad{ 2").unwrap_err().line, 2);
        assert!(Selector::parse("x{").is_err());
        assert!(Selector::parse("9x").is_err());
    }
}
