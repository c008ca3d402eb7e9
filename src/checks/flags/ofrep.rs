//! OFREP (OpenFeature Remote Evaluation Protocol): `POST {base}/ofrep/v1/evaluate/flags` with
//! `{"context": {...}}` → `{"flags": [{key, reason, variant, value, metadata} | {key, errorCode,
//! errorDetails}]}`.
//!
//! A probe, not a definition: the flags are evaluated for the baseline context, each listed
//! customer context, and anonymous twins of each customer context (its id attributes replaced by
//! random ones, everything else kept). A value the customer gets and none of its twins do is
//! individual targeting; one a twin gets too is a rollout or a rule on other attributes. (Servers
//! answer `TARGETING_MATCH` for rollouts too, so the reason cannot tell.)

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::http::{self, Request};
use super::targeting::{Cond, Reach};
use super::{
    AuthScheme, Flag, FlagsItem, Loaded, NarrowTarget, ParseSettings, Served, SourceCx,
    SourceError, apply_metadata, describe_served,
};

/// One flag's evaluation.
#[derive(Debug, Clone)]
struct Evaluation {
    reason: String,
    variant: Option<String>,
    value: Option<Value>,
    metadata: Map<String, Value>,
}

/// Anonymous twins probed per listed context at first, and at most (while a value the context
/// got has not been seen among them). A customer inside a p % rollout that no twin joins looks
/// targeted with probability p(1-p)^n ≤ 1/(e(n+1)): about 1 % per flag and context at n = 32.
const FIRST_TWINS: usize = 8;
const MAX_TWINS: usize = 32;

type Evaluations = IndexMap<String, Result<Evaluation, String>>;

pub(super) async fn load(
    item: &FlagsItem,
    cx: &SourceCx<'_>,
    settings: &ParseSettings,
) -> Result<Loaded, SourceError> {
    let base = item.base_url()?;
    let url = http::join(&base, "ofrep/v1/evaluate/flags");
    let deadline = tokio::time::Instant::now() + cx.timeout;
    let baseline: IndexMap<String, Value> = item.baseline.clone().unwrap_or_default();
    let mut raw = Vec::new();
    let mut notes = Vec::new();
    let mut requests = 0usize;
    let mut evaluate =
        async |context: &IndexMap<String, Value>| -> Result<Evaluations, SourceError> {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let req = Request {
                method: reqwest::Method::POST,
                url: url.clone(),
                token: item.token.as_deref(),
                auth: item.auth.unwrap_or(AuthScheme::Bearer),
                body: Some(serde_json::json!({ "context": context })),
            };
            let (doc, bytes) = http::fetch_json(&cx.client, req, left).await?;
            requests += 1;
            // Keep the documents of the baseline and the listed contexts, not of every twin.
            if raw.len() < 4 << 20 {
                raw.extend_from_slice(&bytes);
                raw.push(b'\n');
            }
            parse_bulk(&doc).map_err(|message| SourceError::Parse {
                what: url.to_string(),
                format: "OFREP bulk evaluation response".into(),
                message,
            })
        };

    let base_evals = evaluate(&baseline).await?;
    let mut flags: Vec<Flag> = Vec::new();
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
        flags.push(flag);
    }

    let mut rng = Twins::new();
    for ctx in &item.contexts {
        let who = describe_context(ctx);
        let evals = evaluate(ctx).await?;
        // Per flag: what the context got, and what its anonymous twins got so far.
        let mut seen: IndexMap<String, (Served, String, Vec<Served>)> = IndexMap::new();
        for flag in &mut flags {
            let Some(Ok(e)) = evals.get(&flag.key) else {
                continue;
            };
            if e.reason == "DISABLED" {
                continue;
            }
            if let (Some(n), Some(v)) = (&e.variant, &e.value) {
                flag.variants.entry(n.clone()).or_insert_with(|| v.clone());
            }
            let got = Served {
                path: format!("context {who}"),
                variant: e.variant.clone(),
                value: e.value.clone(),
            };
            flag.served.push(got.clone());
            seen.insert(flag.key.clone(), (got, e.reason.clone(), Vec::new()));
        }
        // Twins: the same context with its id attributes replaced by random ones. One that gets
        // what the context got shows the value is not reserved to this id (a rollout, a plan rule).
        let mut probed = 0;
        while probed < MAX_TWINS {
            let undecided = seen
                .values()
                .any(|(got, _, twins)| !twins.iter().any(|t| same(t, got)));
            if !undecided || (probed >= FIRST_TWINS && !twin_useful(ctx, settings)) {
                break;
            }
            let twin = rng.twin(ctx, settings);
            let twin_evals = evaluate(&twin).await?;
            for (key, (_, _, twins)) in seen.iter_mut() {
                if let Some(Ok(e)) = twin_evals.get(key) {
                    twins.push(Served {
                        path: "anonymous context".into(),
                        variant: e.variant.clone(),
                        value: e.value.clone(),
                    });
                }
            }
            probed += 1;
        }
        for (key, (got, reason, twins)) in seen {
            if twins.is_empty() || twins.iter().any(|t| same(t, &got)) {
                continue;
            }
            let mut others: Vec<String> = twins
                .iter()
                .map(|t| describe_served(t.variant.as_deref(), t.value.as_ref()))
                .collect();
            others.sort();
            others.dedup();
            let cond = Cond::new(
                format!(
                    "context {who} (reason {reason}; {} anonymous contexts got {})",
                    twins.len(),
                    others.join(" or ")
                ),
                Reach::Individuals,
            );
            if let Some(flag) = flags.iter_mut().find(|f| f.key == key) {
                flag.targets.push(NarrowTarget {
                    condition: cond.text,
                    variant: got.variant,
                    value: got.value,
                    reach: cond.reach,
                });
            }
        }
    }
    Ok(Loaded {
        flags,
        origin: format!(
            "OFREP {url} ({} contexts probed, {requests} requests)",
            item.contexts.len() + 1
        ),
        file: None,
        raw,
        notes,
    })
}

/// Whether two evaluations served the same thing.
fn same(a: &Served, b: &Served) -> bool {
    a.value == b.value && (a.variant.is_none() || b.variant.is_none() || a.variant == b.variant)
}

/// Whether the context has an id attribute a twin can vary.
fn twin_useful(ctx: &IndexMap<String, Value>, settings: &ParseSettings) -> bool {
    ctx.keys().any(|k| settings.is_id_attribute(k))
}

/// Random anonymous twins of a context.
struct Twins {
    state: std::collections::hash_map::RandomState,
    counter: u64,
}

impl Twins {
    fn new() -> Self {
        Twins {
            state: std::collections::hash_map::RandomState::new(),
            counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        use std::hash::BuildHasher;
        self.counter += 1;
        self.state.hash_one(self.counter)
    }

    /// `ctx` with every id attribute replaced by a random value of the same shape (an email
    /// keeps its domain, so domain rules treat the twin like the customer).
    fn twin(
        &mut self,
        ctx: &IndexMap<String, Value>,
        settings: &ParseSettings,
    ) -> IndexMap<String, Value> {
        let mut out = ctx.clone();
        for (k, v) in out.iter_mut() {
            if !settings.is_id_attribute(k) {
                continue;
            }
            let r = self.next();
            *v = match &*v {
                Value::String(s) => match s.split_once('@') {
                    Some((_, domain)) => Value::String(format!("anon-{r:016x}@{domain}")),
                    None => Value::String(format!("anon-{r:016x}")),
                },
                Value::Number(_) => Value::from(r >> 12),
                other => other.clone(),
            };
        }
        out
    }
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
