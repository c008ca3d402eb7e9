//! Home-grown flag tables: a JSON, TOML, YAML or `.env` file; `pointer` selects the table,
//! `key_pattern` the keys. A value is a boolean (or `on`/`off`, `1`/`0`, ...), another scalar
//! (a multi-valued flag that is on), or a table with `enabled` and optional `type`, `released`,
//! `stale`, `created`.

use std::path::Path;

use serde_json::{Map, Value};

use super::http;
use super::{
    Flag, FlagsItem, Loaded, ParseSettings, Served, SourceCx, SourceError, apply_metadata,
};

pub(super) async fn load(
    item: &FlagsItem,
    cx: &SourceCx<'_>,
    _settings: &ParseSettings,
) -> Result<Loaded, SourceError> {
    let path = item
        .file_path(cx.base_dir)
        .ok_or_else(|| SourceError::Read {
            path: "?".into(),
            message: "no file".into(),
        })?;
    let text = http::read_file(&path)?;
    let flags = parse_text(item, &text, &path)?;
    Ok(Loaded {
        flags,
        origin: format!("flag file {}", path.display()),
        file: Some(path),
        raw: text.into_bytes(),
        notes: Vec::new(),
    })
}

pub fn parse_text(item: &FlagsItem, text: &str, path: &Path) -> Result<Vec<Flag>, SourceError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let format = match ext.as_str() {
        "toml" => "TOML",
        "yaml" | "yml" => "YAML",
        "env" => ".env",
        _ if name.starts_with(".env") => ".env",
        _ => "JSON",
    };
    let err = |message: String| SourceError::Parse {
        what: path.display().to_string(),
        format: format!("{format} flag file"),
        message,
    };
    let doc: Value = match format {
        "TOML" => toml::from_str::<Value>(text).map_err(|e| err(e.message().to_string()))?,
        "YAML" => super::yaml::to_json(text).map_err(err)?,
        ".env" => parse_env(text).map_err(err)?,
        _ => serde_json::from_str(text).map_err(|e| err(e.to_string()))?,
    };
    let pointer = item.pointer.as_ref().map(|p| p.0.as_str()).unwrap_or("");
    let table = doc
        .pointer(pointer)
        .ok_or_else(|| err(format!("nothing at pointer `{pointer}`")))?
        .as_object()
        .ok_or_else(|| {
            err(format!(
                "the value at pointer `{pointer}` is not a table of flags"
            ))
        })?;
    let mut out = Vec::new();
    for (k, v) in table {
        let key = match &item.key_pattern {
            Some(p) => match p.0.captures(k) {
                Some(c) => c.get(1).map_or(k.as_str(), |m| m.as_str()).to_string(),
                None => continue,
            },
            None => k.clone(),
        };
        out.push(parse_flag(key, v).map_err(|m| err(format!("flag `{k}`: {m}")))?);
    }
    Ok(out)
}

fn parse_flag(key: String, v: &Value) -> Result<Flag, String> {
    let mut flag = Flag {
        key,
        ..Default::default()
    };
    match v {
        Value::Object(m) => {
            let state = m
                .get("enabled")
                .or_else(|| m.get("on"))
                .or_else(|| m.get("state"))
                .ok_or("a flag table needs `enabled`")?;
            flag.enabled =
                truthy(state).ok_or_else(|| format!("`enabled` is {state}, expected a boolean"))?;
            let value = m.get("value").cloned().unwrap_or(Value::Bool(flag.enabled));
            flag.default_value = Some(value);
            apply_metadata(&mut flag, m);
        }
        other => match truthy(other) {
            Some(b) => {
                flag.enabled = b;
                flag.default_value = Some(Value::Bool(b));
            }
            None => {
                flag.enabled = true;
                flag.default_value = Some(other.clone());
            }
        },
    }
    flag.served.push(Served {
        path: "value".into(),
        variant: None,
        value: flag.default_value.clone(),
    });
    Ok(flag)
}

fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" | "enabled" => Some(true),
            "false" | "off" | "no" | "0" | "disabled" | "" => Some(false),
            _ => None,
        },
        Value::Null => Some(false),
        _ => None,
    }
}

fn parse_env(text: &str) -> Result<Value, String> {
    let mut m = Map::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected KEY=VALUE", n + 1))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        m.insert(k.trim().to_string(), Value::String(v.to_string()));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values() {
        let v = parse_env("# c\nFEATURE_A=on\nexport FEATURE_B=\"false\"\nOTHER=1\n").unwrap();
        assert_eq!(v["FEATURE_B"], "false");
        assert_eq!(truthy(&v["FEATURE_A"]), Some(true));
        assert!(parse_env("garbage").is_err());
    }
}
