//! Waivers: a failure of one item accepted until a date, with a reason and an owner.
//!
//! A waived item still runs. When it fails (or errors) under a waiver that holds, its outcome
//! is *waived*: reported everywhere with the reason and the end date, not a gate failure. When it
//! passes, a warning says the waiver is no longer needed. A waiver that does not hold (expired,
//! given for another commit or version) is ignored, and the item's failure says why.

use chrono::NaiveDate;

use crate::report::{ItemResult, Outcome};
use crate::settings::{Checkout, Waiver, Waivers};

/// Decides, before the run, which waivers hold for `checkout` on `today` (UTC): sets `lapsed`
/// on those that do not.
pub fn resolve(waivers: &mut Waivers, checkout: &Checkout, today: NaiveDate) {
    for w in waivers.by_id.values_mut() {
        w.lapsed = lapsed(w, checkout, today);
    }
}

fn lapsed(w: &Waiver, checkout: &Checkout, today: NaiveDate) -> Option<String> {
    if w.until < today {
        return Some(format!("waiver expired on {} ({})", w.until, who_why(w)));
    }
    // Worded like an acknowledgement given for another commit.
    let who = match &w.by {
        Some(by) => format!("the waiver by {by}"),
        None => "the waiver".to_string(),
    };
    let reason = &w.reason;
    if let Some(c) = &w.commit {
        let c = c.to_ascii_lowercase();
        match &checkout.commit {
            Some(head) if head.starts_with(&c) => {}
            Some(head) => {
                return Some(format!(
                    "{who} was given for commit {}, but this is commit {} ({reason})",
                    super::short(&c),
                    super::short(head)
                ));
            }
            None => {
                return Some(format!(
                    "{who} was given for commit {}, but the checklist is not in a git repository to check it against ({reason})",
                    super::short(&c)
                ));
            }
        }
    }
    if let Some(v) = &w.version {
        let tagged = checkout
            .tags
            .iter()
            .any(|t| t == v || t.strip_prefix('v') == Some(v.as_str()));
        if !tagged {
            let head = match checkout.tags.as_slice() {
                [] => "HEAD carries no tag".to_string(),
                tags => format!("HEAD is tagged {}", tags.join(", ")),
            };
            return Some(format!(
                "{who} was given for version {v}, but {head} ({reason})"
            ));
        }
    }
    None
}

/// `reason, by alice`: the waiver's reason and owner, for messages.
fn who_why(w: &Waiver) -> String {
    match &w.by {
        Some(by) => format!("{}, by {by}", w.reason),
        None => w.reason.clone(),
    }
}

/// Applies the item's waiver to its result (see the module documentation).
pub fn apply(result: &mut ItemResult, waiver: &Waiver) {
    let failed = matches!(result.outcome, Outcome::Failed | Outcome::Errored);
    match (&waiver.lapsed, failed) {
        (None, true) => {
            result.outcome = Outcome::Waived;
            result.message = format!(
                "waived until {} ({}): {}",
                waiver.until,
                who_why(waiver),
                result.message
            );
            result
                .properties
                .push(("waiver_until".into(), waiver.until.to_string()));
            result
                .properties
                .push(("waiver_reason".into(), waiver.reason.clone()));
            if let Some(by) = &waiver.by {
                result.properties.push(("waiver_by".into(), by.clone()));
            }
        }
        (Some(why), true) => result.message = format!("{why}: {}", result.message),
        (None, false) if result.outcome.is_pass() => result.warnings.push(format!(
            "the waiver of `{}` ({}) is no longer needed: the item passed; remove it from the {}",
            result.id,
            who_why(waiver),
            waiver.source
        )),
        (Some(why), false) if result.outcome.is_pass() => result
            .warnings
            .push(format!("{why}: remove it from the {}", waiver.source)),
        // Skipped or interrupted: the item did not run, so the waiver says nothing about it.
        _ => {}
    }
    result.waiver = Some(waiver.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiver(until: &str) -> Waiver {
        Waiver {
            reason: "index rebuild".into(),
            by: Some("alice".into()),
            until: until.parse().unwrap(),
            commit: None,
            version: None,
            source: "checklist".into(),
            lapsed: None,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_waiver_holds_through_its_last_day() {
        let w = waiver("2026-03-10");
        let c = Checkout::default();
        assert_eq!(lapsed(&w, &c, day("2026-03-10")), None);
        assert_eq!(
            lapsed(&w, &c, day("2026-03-11")).as_deref(),
            Some("waiver expired on 2026-03-10 (index rebuild, by alice)")
        );
    }

    #[test]
    fn commit_and_version_bind_a_waiver() {
        let head = "0123456789abcdef0123456789abcdef01234567";
        let c = Checkout {
            commit: Some(head.into()),
            tags: vec!["v1.4.2".into()],
            checklist_sha256: None,
        };
        let today = day("2026-03-01");
        let mut w = waiver("2026-03-10");
        w.commit = Some("0123456".into());
        assert_eq!(lapsed(&w, &c, today), None);
        w.commit = Some("fedcba9".into());
        assert!(
            lapsed(&w, &c, today)
                .unwrap()
                .contains("given for commit fedcba9, but this is commit 0123456789ab")
        );
        w.commit = None;
        w.version = Some("1.4.2".into());
        assert_eq!(lapsed(&w, &c, today), None);
        w.version = Some("1.4.3".into());
        assert!(
            lapsed(&w, &c, today)
                .unwrap()
                .contains("version 1.4.3, but HEAD is tagged v1.4.2")
        );
    }
}
