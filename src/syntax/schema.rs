//! JSON Schema of the value types a checklist is written in (for `preflight schema`). Each is
//! written by hand: their `Deserialize` impls are hand-written too, and the schema says what
//! they accept (strings with units, argv arrays, one value or a list).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::{ByteSize, Dur, OneOrMany, Pattern, Program, Template, Timeout};

/// The units `humantime` (which reads every duration) accepts.
const DURATION_UNITS: &str = "nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y";

/// What an item or service name may be: ASCII letters, digits, `-` and `_`.
pub const NAME_PATTERN: &str = "^[A-Za-z0-9_-]+$";

/// A pattern for what [`Dur`] accepts: numbers with units, like `500ms` or `1m 30s`.
pub fn duration_pattern() -> String {
    format!(r"^\s*([0-9]+(\.[0-9]+)?\s*({DURATION_UNITS})\s*)+$")
}

/// Implements [`JsonSchema`] for a type written as one string, with its schema's extra keys.
#[macro_export]
macro_rules! string_schema {
    ($ty:ty, $name:literal, $description:expr $(, $key:literal : $value:expr)* $(,)?) => {
        impl schemars::JsonSchema for $ty {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": $description,
                    $($key: $value,)*
                })
            }
        }
    };
}

/// What [`Template`] accepts: every `${` closed by `}` around a name (`$$` is a literal `$`).
pub const TEMPLATE_PATTERN: &str = r"^(?:[^$]|\$\$|\$\{[^}]+\}|\$[^{$])*\$?$";

string_schema!(
    Template,
    "Template",
    "a string; `${name}` expands a var, `${env:NAME}` an environment variable, `$$` is `$`",
    "pattern": TEMPLATE_PATTERN
);
string_schema!(
    Pattern,
    "Pattern",
    "a regular expression (Rust `regex` syntax)"
);
string_schema!(
    Dur,
    "Duration",
    "a duration with a unit, like \"500ms\", \"30s\", \"5m\" or \"1h 30m\"",
    "pattern": duration_pattern()
);
string_schema!(
    Timeout,
    "Timeout",
    "a time limit with a unit (more than 0), like \"30s\" or \"10m\"",
    "pattern": duration_pattern()
);

impl JsonSchema for ByteSize {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "a size like \"10MiB\", \"512KiB\", \"1MB\", or a number of bytes",
            "anyOf": [
                { "type": "integer", "minimum": 1 },
                { "type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*([kKmMgG]i?[bB]|[bB])?\s*$" }
            ]
        })
    }
}

impl JsonSchema for Program {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Program".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "a command string (run by `sh -c`) or an argv array like [\"cargo\", \"test\"]",
            "anyOf": [
                { "type": "string", "pattern": r"\S" },
                { "type": "array", "items": { "type": "string" }, "minItems": 1 }
            ]
        })
    }
}

impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<T>();
        json_schema!({
            "description": "one value or an array of them",
            "anyOf": [one.clone(), { "type": "array", "items": one }]
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_duration_pattern_accepts_what_humantime_reads() {
        let re = regex::Regex::new(&super::duration_pattern()).expect("pattern");
        for ok in ["500ms", "30s", "5m", "1h 30m", "2 days", "1.5s", " 10s "] {
            assert!(re.is_match(ok), "{ok}");
            assert!(humantime::parse_duration(ok.trim()).is_ok(), "{ok}");
        }
        for bad in ["5 parsecs", "120", "", "s", "ten seconds"] {
            assert!(!re.is_match(bad), "{bad}");
            assert!(humantime::parse_duration(bad.trim()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_template_pattern_accepts_what_expands() {
        let re = regex::Regex::new(super::TEMPLATE_PATTERN).expect("pattern");
        for ok in [
            "",
            "plain",
            "${base}/x",
            "$$",
            "$${x%.sql}",
            "cost $5",
            "a$",
            "$HOME/${env:X}",
        ] {
            assert!(re.is_match(ok), "{ok}");
        }
        for bad in ["${base/health", "${}", "x ${"] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }
}
