//! Values the soak keys take: a pid or `"service"`, a size in bytes.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// `watch.pid`: a number, or `"service"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidSpec {
    Pid(u32),
    Service,
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

/// A size in bytes: a number, or a string like `64MiB`, `500 KB`, `1GiB`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ByteSize(pub f64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size like `64MiB` or a number of bytes")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                if n < 0 {
                    return Err(E::custom(format!(
                        "invalid size `{n}`: must not be negative"
                    )));
                }
                Ok(ByteSize(n as f64))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                parse_size(s).map(ByteSize).ok_or_else(|| {
                    E::custom(format!(
                        "invalid size `{s}`: expected a number and a unit, like `64MiB` or `500KB`"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

fn parse_size(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Some(64.0 * 1024.0 * 1024.0));
        assert_eq!(parse_size("500 KB"), Some(500_000.0));
        assert_eq!(parse_size("12"), Some(12.0));
        assert_eq!(parse_size("1.5GiB"), Some(1.5 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5 parsecs"), None);
    }
}
