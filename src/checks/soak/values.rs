//! Values the soak keys take: a pid or `"service"` (sizes are `syntax::ByteSize`).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// `watch.pid`: a number, or `"service"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidSpec {
    Pid(u32),
    Service,
}

impl schemars::JsonSchema for PidSpec {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PidSpec".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "a process id, or \"service\"",
            "anyOf": [
                { "type": "integer", "minimum": 1 },
                { "type": "string", "pattern": "^(service|[0-9]+)$" }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for PidSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PidSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a process id, or \"service\"")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PidSpec, E> {
                u32::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(PidSpec::Pid)
                    .ok_or_else(|| E::custom(format!("invalid pid `{n}`")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PidSpec, E> {
                match s {
                    "service" => Ok(PidSpec::Service),
                    other => other
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .map(PidSpec::Pid)
                        .ok_or_else(|| {
                            E::custom(format!(
                                "invalid pid `{other}`: expected a number or \"service\""
                            ))
                        }),
                }
            }
        }
        d.deserialize_any(V)
    }
}
