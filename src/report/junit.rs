//! JUnit XML (GitLab, Jenkins, GitHub report actions), written with quick-junit.
//!
//! One `<testsuite>` per kind; each item a `<testcase classname="preflight.KIND" name="KIND.NAME">`.
//! failed → `<failure>`, errored → `<error>`, skipped → `<skipped>`, interrupted before it
//! started → `<skipped>`, interrupted while running → `<error type="interrupted">`; earlier
//! failed attempts → `<rerunFailure>`/`<flakyFailure>`. Artifacts are `[[ATTACHMENT|path]]`
//! lines in `<system-out>`, relative to the report file.
//!
//! Known deviation from the strict Jenkins xunit schema (`junit-10.xsd`): `<properties>` inside
//! `<testcase>` (read by GitLab, Jenkins' junit plugin and Playwright; item tags and attempts
//! live there).

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::{ItemResult, Outcome, RunReport, clean_text};
use crate::checks::Status;

/// Renders `report` as JUnit XML for a file at `path` (attachment paths are relative to it).
pub fn render(report: &RunReport, path: &Path) -> String {
    let mut xml = Report::new(clean_text(&report.checklist));
    xml.set_timestamp(report.started_at.fixed_offset());
    xml.set_time(report.duration);
    let mut suites: IndexMap<&str, TestSuite> = IndexMap::new();
    for item in &report.items {
        let suite = suites.entry(item.kind.as_str()).or_insert_with(|| {
            let mut s = TestSuite::new(item.kind.as_str());
            s.set_timestamp(report.started_at.fixed_offset());
            s
        });
        suite.add_test_case(test_case(item, path));
    }
    for (kind, mut suite) in suites {
        let time: Duration = report
            .items
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.duration)
            .sum();
        suite.set_time(time);
        xml.add_test_suite(suite);
    }
    let text = xml.to_string().unwrap_or_default();
    // quick-junit always writes `skipped` and `timestamp` on <testsuites>; the strict schema
    // has neither there (they stay on each <testsuite>).
    strip_root_attrs(&text)
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

fn test_case(item: &ItemResult, path: &Path) -> TestCase {
    let message = clean_text(&item.message);
    let failed_attempts: Vec<_> = item
        .attempts
        .iter()
        .filter(|a| a.status != Status::Passed)
        .collect();
    let rerun = |a: &super::Attempt| {
        let kind = if a.status == Status::Errored {
            NonSuccessKind::Error
        } else {
            NonSuccessKind::Failure
        };
        let mut r = TestRerun::new(kind);
        // No `time`: the strict schema's rerun elements have none.
        r.set_message(clean_text(&a.message))
            .set_type(a.status_label());
        r
    };
    let status = match item.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Flaky => {
            let mut s = TestCaseStatus::success();
            s.add_reruns(failed_attempts.iter().map(|a| rerun(a)));
            s
        }
        Outcome::Failed | Outcome::Errored => {
            let kind = if item.outcome == Outcome::Failed {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(message.clone())
                .set_type(item.outcome.label());
            if !item.details.is_empty() {
                s.set_description(clean_text(&item.details));
            }
            // The last attempt is the failure itself; the ones before it are reruns.
            let earlier = failed_attempts.len().saturating_sub(1);
            s.add_reruns(failed_attempts[..earlier].iter().map(|a| rerun(a)));
            s
        }
        Outcome::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(message.clone());
            s
        }
        Outcome::Interrupted if item.started_at.is_none() => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(message.clone()).set_type("interrupted");
            s
        }
        Outcome::Interrupted => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(message.clone()).set_type("interrupted");
            s
        }
    };
    let mut tc = TestCase::new(item.id.as_str(), status);
    tc.set_classname(format!("preflight.{}", item.kind));
    tc.set_time(item.duration);
    tc.add_property(Property::new("kind", item.kind.as_str()));
    tc.add_property(Property::new("outcome", item.outcome.label()));
    tc.add_property(Property::new("blocking", item.blocking.to_string()));
    tc.add_property(Property::new("attempts", item.attempts.len().to_string()));
    if !item.tags.is_empty() {
        tc.add_property(Property::new("tags", item.tags.join(",")));
    }
    for (k, v) in &item.properties {
        tc.add_property(Property::new(clean_text(k), clean_text(v)));
    }
    let mut out = String::new();
    if let Some(d) = &item.description {
        out.push_str(&format!("{d}\n"));
    }
    out.push_str(&format!("{}: {}\n", item.outcome.label(), item.message));
    for w in &item.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    if !item.details.is_empty() {
        out.push('\n');
        out.push_str(&item.details);
        if !item.details.ends_with('\n') {
            out.push('\n');
        }
    }
    for a in &item.artifacts {
        out.push_str(&format!(
            "[[ATTACHMENT|{}]]\n",
            RunReport::relative_to(a, path).display()
        ));
    }
    tc.set_system_out(clean_text(&out));
    tc
}

impl super::Attempt {
    fn status_label(&self) -> &'static str {
        match self.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "errored",
        }
    }
}
