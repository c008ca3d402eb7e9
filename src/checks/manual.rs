//! `[manual.NAME]`: a human sign-off.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{Check, CheckContext, CheckOutput};
use crate::settings::Ack;
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
                // Read once per run, where the checklist lives (`release::checkout`).
                let head = cx.settings.checkout.commit.clone();
                if let Some(problem) = ack_problem(ack, head.as_deref(), chrono::Utc::now()) {
                    return CheckOutput::failed(problem);
                }
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
                if let Some(commit) = &head {
                    out = out.with_property("ack_commit", commit);
                }
                return out.with_data(serde_json::json!({"by": ack.by, "at": ack.at.to_rfc3339(), "source": ack.source, "commit": head, "expires": ack.expires.map(|e| e.to_rfc3339())}));
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

/// Why an acknowledgement from a file does not hold for this run: expired, or given for
/// another commit (an acks file signs off one release, not every later one).
fn ack_problem(
    ack: &Ack,
    head: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let who = format!("the acknowledgement by {} ({})", ack.by, ack.source);
    if let Some(expires) = ack.expires
        && expires < now
    {
        return Some(format!(
            "{who} expired at {}",
            expires.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    if ack.any_commit {
        return None;
    }
    match (&ack.commit, head) {
        (Some(c), Some(head)) if head.starts_with(c.as_str()) => None,
        (Some(c), Some(head)) => Some(format!(
            "{who} was given for commit {}, but this is commit {}: acknowledge this release again",
            &c[..c.len().min(12)],
            &head[..12]
        )),
        (Some(c), None) => Some(format!(
            "{who} was given for commit {}, but the checklist is not in a git repository to check it against",
            &c[..c.len().min(12)]
        )),
        // Not in a repository: there is no commit to bind the sign-off to.
        (None, None) => None,
        (None, Some(head)) => Some(format!(
            "{who} names no commit: add `commit = \"{head}\"` to sign off this release, or `any_commit = true` to accept it for every commit"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(commit: Option<&str>, any_commit: bool, expires: Option<&str>) -> Ack {
        Ack {
            by: "alice".into(),
            at: chrono::Utc::now(),
            note: None,
            source: "acks file a.toml".into(),
            commit: commit.map(str::to_string),
            any_commit,
            expires: expires.map(|e| chrono::DateTime::parse_from_rfc3339(e).unwrap().to_utc()),
        }
    }

    #[test]
    fn acks_hold_for_their_commit_until_they_expire() {
        let head = "0123456789abcdef0123456789abcdef01234567";
        let now = chrono::Utc::now();
        assert_eq!(
            ack_problem(&ack(Some("0123456"), false, None), Some(head), now),
            None
        );
        assert!(
            ack_problem(&ack(Some("fedcba9"), false, None), Some(head), now)
                .unwrap()
                .contains("fedcba9")
        );
        assert!(
            ack_problem(&ack(None, false, None), Some(head), now)
                .unwrap()
                .contains("any_commit")
        );
        assert_eq!(ack_problem(&ack(None, true, None), Some(head), now), None);
        assert_eq!(ack_problem(&ack(None, false, None), None, now), None);
        let expired = ack(None, true, Some("2020-01-01T00:00:00Z"));
        assert!(
            ack_problem(&expired, Some(head), now)
                .unwrap()
                .contains("expired")
        );
    }
}
