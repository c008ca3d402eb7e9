//! Value types every item kind reads from a checklist: durations, programs, patterns, lists.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::template::{self, Template};

/// A duration written as a string with a unit: `500ms`, `2s`, `1m30s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn get(self) -> Duration {
        self.0
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like `500ms`, `30s` or `5m`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                humantime::parse_duration(s.trim()).map(Dur).map_err(|_| {
                    E::custom(format!(
                        "invalid duration `{s}`: expected a number and a unit, like `500ms`, `30s` or `5m`"
                    ))
                })
            }
            // A bare number has no unit: `timeout = 120` could mean seconds or milliseconds.
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Dur, E> {
                Err(E::custom(bare_number(&n.to_string())))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Dur, E> {
                Err(E::custom(bare_number(&n.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

fn bare_number(n: &str) -> String {
    format!(
        "expected a duration with a unit, found the bare number {n}: write `\"{n}s\"` for seconds (or `\"{n}ms\"`, `\"{n}m\"`)"
    )
}

/// A time limit: a [`Dur`] that must be more than zero (`timeout = "0s"` would fail every
/// attempt before it starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Dur);

impl Timeout {
    pub fn get(self) -> Duration {
        self.0.get()
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let dur = Dur::deserialize(d)?;
        if dur.get().is_zero() {
            return Err(de::Error::custom(
                "a timeout must be more than 0s (leave it out for the default)",
            ));
        }
        Ok(Timeout(dur))
    }
}

/// A size in bytes, written as `10MiB`, `512KiB`, `1MB` or a number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{} {unit}", self.0 / size);
            }
        }
        write!(f, "{} bytes", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size like `10MiB`, `512KiB` or a number of bytes")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(ByteSize)
                    .ok_or_else(|| E::custom(format!("invalid size `{n}`: must be more than 0")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                let bad = || {
                    E::custom(format!(
                        "invalid size `{s}`: expected a number and a unit (B, KB, KiB, MB, MiB, GB, GiB), like `10MiB`"
                    ))
                };
                let t = s.trim();
                let split = t
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(t.len());
                let n: f64 = t[..split].parse().map_err(|_| bad())?;
                let unit = match t[split..].trim().to_ascii_lowercase().as_str() {
                    "" | "b" => 1u64,
                    "kb" => 1_000,
                    "kib" => 1 << 10,
                    "mb" => 1_000_000,
                    "mib" => 1 << 20,
                    "gb" => 1_000_000_000,
                    "gib" => 1 << 30,
                    _ => return Err(bad()),
                };
                let bytes = (n * unit as f64).round();
                if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
                    return Err(bad());
                }
                Ok(ByteSize(bytes as u64))
            }
        }
        d.deserialize_any(V)
    }
}

/// What to execute: an argv array run directly, or a string run by `sh -c`.
#[derive(Debug, Clone)]
pub enum Program {
    Shell(Template),
    Argv(Vec<Template>),
}

impl Program {
    /// The argv to spawn.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Program::Shell(s) => vec!["sh".into(), "-c".into(), s.to_string()],
            Program::Argv(v) => v.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// How the program reads in a report.
    pub fn display(&self) -> String {
        match self {
            Program::Shell(s) => s.to_string(),
            Program::Argv(v) => v.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" "),
        }
    }
}

impl<'de> Deserialize<'de> for Program {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Program;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a command string (run by `sh -c`) or an argv array like [\"cargo\", \"test\"]",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Program, E> {
                if s.trim().is_empty() {
                    return Err(E::custom("empty command"));
                }
                template::expand_shell_in_scope(s)
                    .map(|s| Program::Shell(Template::new(s)))
                    .map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Program, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<Template>()? {
                    argv.push(arg);
                }
                if argv.is_empty() || argv[0].is_empty() {
                    return Err(de::Error::custom(
                        "empty argv: the first element names the program",
                    ));
                }
                Ok(Program::Argv(argv))
            }
        }
        d.deserialize_any(V)
    }
}

/// A regular expression, compiled when the checklist is read.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Template::deserialize(d)?;
        regex::Regex::new(&text).map(Pattern).map_err(|e| {
            de::Error::custom(format!(
                "invalid regex `{}`: {}",
                text.as_str(),
                first_line(&e.to_string())
            ))
        })
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .last()
        .unwrap_or(s)
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

/// One value or a list of them (`status = 200` or `status = [200, 204]`).
#[derive(Debug, Clone)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::IntoDeserializer;
        // Not `#[serde(untagged)]`: its only error is "did not match any variant".
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or an array of values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OneOrMany::One)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OneOrMany::One)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OneOrMany::One)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OneOrMany::One)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OneOrMany::One)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}
