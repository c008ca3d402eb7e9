//! OFREP (OpenFeature Remote Evaluation Protocol): `POST {base}/ofrep/v1/evaluate/flags` with
//! `{"context": {...}}` → `{"flags": [{key, reason, variant, value, metadata} | {key, errorCode,
//! errorDetails}]}`.
//!
//! A probe, not a definition: the flags are evaluated once for the baseline context and once per
//! listed customer context. A customer that gets another value than the baseline, by a reason
//! other than a percentage split, is targeted individually.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::http::{self, Request};
use super::{
    AuthScheme, Flag, FlagsItem, Loaded, NarrowTarget, ParseSettings, Served, SourceCx,
    SourceError, apply_metadata,
};

/// One flag's evaluation.
#[derive(Debug, Clone)]
struct Evaluation {
    reason: String,
    variant: Option<String>,
    value: Option<Value>,
    metadata: Map<String, Value>,
}

pub(super) async fn load(
    item: &FlagsItem,
    cx: &SourceCx<'_>,
    _settings: &ParseSettings,
) -> Result<Loaded, SourceError> {
    let base = item.base_url()?;
    let url = http::join(&base, "ofrep/v1/evaluate/flags");
    let deadline = tokio::time::Instant::now() + cx.timeout;
    let baseline: IndexMap<String, Value> = item.baseline.clone().unwrap_or_default();
    let mut raw = Vec::new();
    let mut notes = Vec::new();
    let mut evaluate = async |context: &IndexMap<String, Value>| -> Result<
        IndexMap<String, Result<Evaluation, String>>,
        SourceError,
    > {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let req = Request {
            method: reqwest::Method::POST,
            url: url.clone(),
            token: item.token.as_deref(),
            auth: item.auth.unwrap_or(AuthScheme::Bearer),
            body: Some(serde_json::json!({ "context": context })),
        };
        let (doc, bytes) = http::fetch_json(&cx.client, req, left).await?;
        raw.extend_from_slice(&bytes);
        raw.push(b'\n');
        parse_bulk(&doc).map_err(|message| SourceError::Parse {
            what: url.to_string(),
            format: "OFREP bulk evaluation response".into(),
            message,
        })
    };

    let base_evals = evaluate(&baseline).await?;
    let mut per_context = Vec::new();
    for ctx in &item.contexts {
        per_context.push((describe_context(ctx), evaluate(ctx).await?));
    }

    let mut flags = Vec::new();
    for (key, eval) in &base_evals {
        let eval = match eval {
            Ok(e) => e,
            Err(e) => {
                notes.push(format!(
                    "flag `{key}` could not be evaluated for the baseline: {e}"
                ));
                continue;
            }
        };
        let mut flag = Flag {
            key: key.clone(),
            enabled: eval.reason != "DISABLED",
            default_variant: eval.variant.clone(),
            default_value: eval.value.clone(),
            ..Default::default()
        };
        if let (Some(n), Some(v)) = (&eval.variant, &eval.value) {
            flag.variants.insert(n.clone(), v.clone());
        }
        apply_metadata(&mut flag, &eval.metadata);
        flag.served.push(Served {
            path: "baseline context".into(),
            variant: eval.variant.clone(),
            value: eval.value.clone(),
        });
        for (who, evals) in &per_context {
            let Some(Ok(e)) = evals.get(key) else {
                continue;
            };
            if e.reason == "DISABLED" {
                continue;
            }
            if let (Some(n), Some(v)) = (&e.variant, &e.value) {
                flag.variants.entry(n.clone()).or_insert_with(|| v.clone());
            }
            flag.served.push(Served {
                path: format!("context {who}"),
                variant: e.variant.clone(),
                value: e.value.clone(),
            });
            let differs =
                e.value != eval.value || (e.variant.is_some() && e.variant != eval.variant);
            // A percentage split gives different values to different keys by design.
            if differs && e.reason != "SPLIT" {
                flag.targets.push(NarrowTarget {
                    condition: format!("context {who} (reason {})", e.reason),
                    variant: e.variant.clone(),
                    value: e.value.clone(),
                });
            }
        }
        flags.push(flag);
    }
    Ok(Loaded {
        flags,
        origin: format!("OFREP {url} ({} contexts probed)", item.contexts.len() + 1),
        file: None,
        raw,
        notes,
    })
}

/// `{targetingKey=cust-4711}`
fn describe_context(ctx: &IndexMap<String, Value>) -> String {
    let parts: Vec<String> = ctx
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Parses a bulk response: per key, an evaluation or the error the provider gave.
fn parse_bulk(doc: &Value) -> Result<IndexMap<String, Result<Evaluation, String>>, String> {
    let flags = doc
        .get("flags")
        .and_then(Value::as_array)
        .ok_or("expected an object with a `flags` array")?;
    let mut out = IndexMap::new();
    for (i, f) in flags.iter().enumerate() {
        let key = f
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("flags[{i}] has no `key`"))?
            .to_string();
        if let Some(code) = f.get("errorCode").and_then(Value::as_str) {
            let details = f.get("errorDetails").and_then(Value::as_str).unwrap_or("");
            out.insert(key, Err(format!("{code} {details}").trim().to_string()));
            continue;
        }
        let reason = f
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("UNKNOWN")
            .to_ascii_uppercase();
        out.insert(
            key,
            Ok(Evaluation {
                reason,
                variant: f.get("variant").and_then(Value::as_str).map(str::to_string),
                value: f.get("value").cloned(),
                metadata: f
                    .get("metadata")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            }),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_parses_successes_and_errors() {
        let doc = serde_json::json!({"flags": [
            {"key": "a", "reason": "STATIC", "variant": "on", "value": true, "metadata": {"type": "experiment"}},
            {"key": "b", "errorCode": "FLAG_NOT_FOUND", "errorDetails": "gone"}
        ]});
        let m = parse_bulk(&doc).unwrap();
        assert_eq!(m["a"].as_ref().unwrap().variant.as_deref(), Some("on"));
        assert_eq!(m["b"].as_ref().unwrap_err(), "FLAG_NOT_FOUND gone");
        assert!(parse_bulk(&serde_json::json!({"data": []})).is_err());
    }
}
