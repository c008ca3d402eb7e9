//! `[manual.NAME]`: a human sign-off.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{Check, CheckContext, CheckOutput};
use crate::syntax::Template;

crate::item_config! {
    /// A question a person must answer yes to (or acknowledge ahead with `--ack`).
    pub struct ManualItem {
        pub prompt: Template,
    }
}

impl Check for ManualItem {
    fn default_timeout(&self) -> Option<Duration> {
        // A person may take a while; the checklist-wide default is meant for machines.
        Some(Duration::from_secs(3600))
    }

    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move {
            if let Some(ack) = cx.settings.acks.by_id.get(&cx.id) {
                let mut out = CheckOutput::passed(format!(
                    "acknowledged by {} at {} ({})",
                    ack.by,
                    ack.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    ack.source
                ))
                .with_property("ack_by", &ack.by)
                .with_property("ack_at", ack.at.to_rfc3339());
                if let Some(note) = &ack.note {
                    out = out.with_property("ack_note", note);
                }
                return out.with_data(serde_json::json!({"by": ack.by, "at": ack.at.to_rfc3339(), "source": ack.source}));
            }
            let question = format!("{} [{}]", self.prompt.as_str(), cx.id);
            match cx.prompter.confirm(&question).await {
                Some(answer) => {
                    let by = crate::settings::current_user();
                    let at = chrono::Utc::now();
                    let data = serde_json::json!({"by": by, "at": at.to_rfc3339(), "source": "terminal", "answer": answer});
                    let out = if answer {
                        CheckOutput::passed(format!("confirmed by {by} at {}", at.format("%Y-%m-%d %H:%M:%S UTC")))
                    } else {
                        CheckOutput::failed(format!("declined by {by} at {}", at.format("%Y-%m-%d %H:%M:%S UTC")))
                    };
                    out.with_property("ack_by", &by).with_property("ack_at", at.to_rfc3339()).with_data(data)
                }
                None => CheckOutput::failed(format!(
                    "not acknowledged: no terminal to ask; pass `--ack {id}` or list `{id}` in an acks file (`--acks FILE`)",
                    id = cx.id
                ))
                .with_details(format!("prompt: {}", self.prompt.as_str())),
            }
        })
    }
}
