//! JUnit XML (GitLab, Jenkins, the GitHub report actions), written with quick-junit.
//!
//! One `<testsuite>` per run, named after the checklist, whose `time` is the run's wall time (items
//! overlap, so per-kind suites would add up to more). Each item is a
//! `<testcase classname="preflight.checklist" name="KIND.NAME" file="CHECKLIST" line="N">`, so every
//! consumer shows the id once (Jenkins and GitLab show `classname` + `name`, mikepenz titles
//! `file.name`) and annotations land on the item's table. [`verdict`] maps outcomes to elements; the body of each
//! `<failure>`, `<error>` and `<skipped>` starts with its one-line message (GitLab shows the body
//! only). Artifacts are `[[ATTACHMENT|path]]` lines in `<system-out>`, images first (GitLab shows the
//! first only), relative to the JUnit base directory (GitLab resolves them against the project
//! directory, Jenkins against the workspace); the same marker in captured output is defused.
//!
//! Known deviations from the strict Jenkins xunit schema (`junit-10.xsd`): `<properties>` inside
//! `<testcase>` (read by GitLab, Jenkins' junit plugin and Playwright; item tags and figures live
//! there) and the `file`/`line` attributes of `<testcase>` (read by the GitHub report actions,
//! ignored by the others).

use std::path::{Path, PathBuf};

use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::{Attempt, ItemResult, Outcome, RunReport, clean_text, relative_to};
use crate::checks::Status;

/// Every item's `classname`: Jenkins shows package `preflight`, class `checklist`, test `KIND.NAME`.
/// Not a bare `preflight`: Jenkins' attachments plugin attaches every file of a directory named
/// like the class next to the report, and a project may well have a `preflight/` directory.
const CLASSNAME: &str = "preflight.checklist";

/// Renders `report` as JUnit XML; paths in it are relative to the directory `base`.
pub fn render(report: &RunReport, base: &Path) -> String {
    let name = text(&report.checklist);
    let mut xml = Report::new(name.clone());
    xml.set_timestamp(report.started_at.fixed_offset());
    xml.set_time(report.duration);
    if !report.items.is_empty() {
        let mut suite = TestSuite::new(name);
        suite.set_timestamp(report.started_at.fixed_offset());
        suite.set_time(report.duration);
        if let Some(profile) = &report.profile {
            suite.add_property(Property::new("profile", text(profile)));
        }
        let unexplained = !report.gate_open()
            && !report
                .items
                .iter()
                .any(|i| matches!(verdict(i, false).element, Element::Failure | Element::Error));
        for item in &report.items {
            let file = relative_to(&item.file, base);
            suite.add_test_case(test_case(item, verdict(item, unexplained), &file, base));
        }
        xml.add_test_suite(suite);
    }
    let text = xml.to_string().unwrap_or_default();
    // quick-junit always writes `skipped` and `timestamp` on <testsuites>; the strict schema
    // has neither there (they stay on the <testsuite>).
    strip_root_attrs(&text)
}

/// The element an item becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    /// No child element (flaky: with `<flakyFailure>`s).
    Passed,
    Failure,
    Error,
    Skipped,
}

/// How an item reads in JUnit.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    element: Element,
    /// The element's `type` attribute.
    ty: &'static str,
    /// Put before the item's message: why an item that did not pass counts as no failure.
    prefix: &'static str,
}

/// The one mapping from an item's outcome to JUnit (README "Outcomes" has the table). A consumer
/// that counts `<failure>` and `<error>` counts exactly the blocking items that failed, errored
/// or were stopped, so its verdict is the gate's:
///
/// - a non-blocking item that did not hold is `<skipped type="non-blocking">` whose message starts
///   with `non-blocking failure:` (or `non-blocking error:`): every consumer shows it as not
///   passed, none counts it as a failure or turns the check red;
/// - when the gate closed without any such failure (`unexplained`: blocking items skipped because
///   a need was left out or failed without blocking, or Ctrl-C before anything ran), those
///   blocking items are `<error>`s, so the report still fails.
///
/// - a failure under a waiver that holds is `<skipped type="waived">` whose message starts with
///   `waived until D (reason, by X):`.
///
/// A new outcome is one more arm here and one more README row.
fn verdict(item: &ItemResult, unexplained: bool) -> Verdict {
    let started = item.started_at.is_some();
    let v = |element, ty, prefix| Verdict {
        element,
        ty,
        prefix,
    };
    match (item.outcome, item.blocking) {
        (Outcome::Passed, _) => v(Element::Passed, "passed", ""),
        (Outcome::Flaky, _) => v(Element::Passed, "flaky", ""),
        (Outcome::Failed, true) => v(Element::Failure, "failed", ""),
        (Outcome::Errored, true) => v(Element::Error, "errored", ""),
        (Outcome::Interrupted, true) if started => v(Element::Error, "interrupted", ""),
        (Outcome::Failed, false) => v(Element::Skipped, "non-blocking", "non-blocking failure: "),
        (Outcome::Errored, false) => v(Element::Skipped, "non-blocking", "non-blocking error: "),
        (Outcome::Interrupted, false) if started => {
            v(Element::Skipped, "non-blocking", "non-blocking error: ")
        }
        (Outcome::Skipped | Outcome::Interrupted, true) if unexplained => v(
            Element::Error,
            item.outcome.label(),
            "blocking item not run: ",
        ),
        (Outcome::Skipped | Outcome::Interrupted, _) => {
            v(Element::Skipped, item.outcome.label(), "")
        }
        // Accepted until a date: like a non-blocking failure, listed as not passed with its
        // message (`waived until D (reason, by X): ...`), counted by no consumer as a failure.
        (Outcome::Waived, _) => v(Element::Skipped, "waived", ""),
    }
}

fn test_case(item: &ItemResult, v: Verdict, file: &Path, base: &Path) -> TestCase {
    let message = match (v.prefix, item.message.trim()) {
        ("", "") => item.outcome.label().to_string(),
        (prefix, m) => format!("{prefix}{m}"),
    };
    let message = text(&message);
    let failed_attempts: Vec<&Attempt> = item
        .attempts
        .iter()
        .filter(|a| a.status != Status::Passed)
        .collect();
    // The body: the message, notes (earlier attempts of a flaky item, an artifact that could
    // not be captured), then the details.
    let mut body = format!("{message}\n");
    if item.outcome == Outcome::Flaky {
        for (n, a) in item.attempts.iter().enumerate() {
            if a.status != Status::Passed {
                let line = format!("attempt {} {}: {}", n + 1, a.status_label(), a.message);
                body.push_str(&format!("{}\n", text(&line)));
            }
        }
    }
    for w in &item.warnings {
        body.push_str(&format!("warning: {}\n", text(w)));
    }
    if !item.details.trim().is_empty() {
        body.push('\n');
        body.push_str(&text(&item.details));
        if !body.ends_with('\n') {
            body.push('\n');
        }
    }
    let status = match v.element {
        Element::Passed => {
            let mut s = TestCaseStatus::success();
            s.add_reruns(failed_attempts.iter().map(|a| rerun(a)));
            s
        }
        Element::Failure | Element::Error => {
            let kind = if v.element == Element::Failure {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(message.clone())
                .set_type(v.ty)
                .set_description(body.clone());
            // The last failed attempt is the failure itself; the ones before it are reruns.
            let earlier = failed_attempts.len().saturating_sub(1);
            s.add_reruns(failed_attempts[..earlier].iter().map(|a| rerun(a)));
            s
        }
        Element::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(message.clone())
                .set_type(v.ty)
                .set_description(body.clone());
            s
        }
    };
    let mut tc = TestCase::new(item.id.as_str(), status);
    tc.set_classname(CLASSNAME);
    tc.set_time(item.duration);
    tc.extra
        .insert("file".into(), file.display().to_string().into());
    tc.extra.insert("line".into(), item.line.to_string().into());
    tc.add_property(Property::new("kind", item.kind.as_str()));
    tc.add_property(Property::new("outcome", item.outcome.label()));
    tc.add_property(Property::new("blocking", item.blocking.to_string()));
    tc.add_property(Property::new("attempts", item.attempts.len().to_string()));
    if item.outcome == Outcome::Flaky {
        tc.add_property(Property::new("flaky", "true"));
    }
    if !item.tags.is_empty() {
        tc.add_property(Property::new("tags", text(&item.tags.join(","))));
    }
    for (k, val) in &item.properties {
        tc.add_property(Property::new(text(k), text(val)));
    }

    // <system-out>: what the item is and how it ended (for consumers that show only this), the
    // body when no element carries it (passed, flaky), then the attachments.
    let mut out = String::new();
    if let Some(d) = &item.description {
        out.push_str(&format!("{}\n", text(d)));
    }
    if v.element == Element::Passed {
        out.push_str(&format!("{}: {body}", item.outcome.label()));
    } else {
        let blocking = if item.blocking { "" } else { " (non-blocking)" };
        let line = format!("{}{blocking}: {}", item.outcome.label(), item.message);
        out.push_str(&format!("{}\n", text(&line)));
    }
    for a in attachments_in_order(&item.artifacts) {
        out.push_str(&format!(
            "[[ATTACHMENT|{}]]\n",
            relative_to(a, base).display()
        ));
    }
    tc.set_system_out(out);
    tc
}

fn rerun(a: &Attempt) -> TestRerun {
    let kind = if a.status == Status::Errored {
        NonSuccessKind::Error
    } else {
        NonSuccessKind::Failure
    };
    let mut r = TestRerun::new(kind);
    // No `time`: the strict schema's rerun elements have none.
    r.set_message(text(&a.message)).set_type(a.status_label());
    r
}

/// Images first, otherwise in the item's order: GitLab shows only a test case's first attachment,
/// and the screenshot is the one a reader wants.
fn attachments_in_order(artifacts: &[PathBuf]) -> Vec<&PathBuf> {
    let mut v: Vec<&PathBuf> = artifacts.iter().collect();
    v.sort_by_key(|p| !is_image(p));
    v
}

fn is_image(p: &Path) -> bool {
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(
        ext.as_str(),
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg"
    )
}

/// Captured or user text made safe for the report: escapes cleaned, and the attachment marker
/// defused (`[[ATTACHMENT|` → `[[ ATTACHMENT|`, which no consumer matches) so output cannot
/// attach a file of its choosing.
fn text(s: &str) -> String {
    let cleaned = clean_text(s);
    if !cleaned.to_ascii_lowercase().contains("[[attachment|") {
        return cleaned;
    }
    let re = regex::Regex::new(r"(?i)\[\[(attachment\|)").expect("valid regex");
    re.replace_all(&cleaned, "[[ $1").into_owned()
}

fn strip_root_attrs(xml: &str) -> String {
    let Some(start) = xml.find("<testsuites") else {
        return xml.to_string();
    };
    let end = start + xml[start..].find('>').unwrap_or(0);
    let tag = &xml[start..end];
    let re = regex::Regex::new(r#"\s(skipped|timestamp)="[^"]*""#).expect("valid regex");
    format!(
        "{}{}{}",
        &xml[..start],
        re.replace_all(tag, ""),
        &xml[end..]
    )
}
