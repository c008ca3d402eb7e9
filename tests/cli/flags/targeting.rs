//! Verdicts on real-world flag shapes: rollouts versus individual targeting over OFREP, a broken
//! flag among good ones, the ways of singling out individuals each source has, flags no user can
//! reach, no-op and group targeting, LaunchDarkly's own formats and the Unleash delta API.

use super::{Answer, copy, fixture, outcome, read_fixture, run, serve};
use crate::support::{self, Shop};

/// `(severity, rule, flag, evidence)` of every finding.
fn findings(item: &serde_json::Value) -> Vec<(String, String, String, String)> {
    item["data"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {item:#}"))
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("severity"), s("rule"), s("flag"), s("evidence"))
        })
        .collect()
}

/// The flags with a finding of `rule`.
fn flagged(item: &serde_json::Value, rule: &str) -> Vec<String> {
    let mut out: Vec<String> = findings(item)
        .into_iter()
        .filter(|f| f.1 == rule)
        .map(|f| f.2)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn evidence(item: &serde_json::Value, rule: &str, flag: &str) -> String {
    findings(item)
        .into_iter()
        .find(|f| f.1 == rule && f.2 == flag)
        .map(|f| f.3)
        .unwrap_or_else(|| panic!("no {rule} finding for {flag}: {item:#}"))
}

fn file_item(source: &str, file: &str, extra: &str) -> String {
    format!("[flags.x]\nsource = \"{source}\"\nfile = \"{file}\"\n{extra}")
}

// ---------------------------------------------------------------- 1. OFREP: rollout vs targeting

fn ofrep_rollout_item(base: &str, extra: &str) -> String {
    format!(
        r#"
[flags.shop]
source = "ofrep"
url = "{base}"
baseline = {{ targetingKey = "anonymous-visitor" }}
contexts = [{{ targetingKey = "cust-4711", plan = "pro" }}, {{ targetingKey = "cust-1000", plan = "pro" }}]
{extra}
"#
    )
}

#[test]
fn ofrep_rollout_and_plan_targeting_pass_while_a_single_customer_override_fails() {
    // The shop answers like flagd: `TARGETING_MATCH` for a fractional rollout too. cust-1000 falls
    // in the 20 % of `new-search`; both customers are on plan `pro`.
    let flags = fixture("rollout-and-override.flagd.json");
    let shop = Shop::start(&[], &[("SHOP_FLAGS", flags.to_str().unwrap())]);
    let dir = support::tempdir();
    let (r, item) = run(dir.path(), &ofrep_rollout_item(&shop.base, ""));
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(
        flagged(&item, "narrow-targeting"),
        ["pilot-pricing"],
        "a rollout and a plan rule are not individual targeting: {item:#}"
    );
    let ev = evidence(&item, "narrow-targeting", "pilot-pricing");
    assert!(
        ev.contains("context {targetingKey=cust-4711, plan=pro}") && ev.contains("variant `on`"),
        "{ev}"
    );
    assert!(
        ev.contains("anonymous contexts") && ev.contains("variant `off`"),
        "the evidence says what the anonymous twins got: {ev}"
    );

    let (r, item) = run(
        dir.path(),
        &ofrep_rollout_item(&shop.base, "released = [\"pilot-pricing\"]"),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(outcome(&item), "passed");
}

// ---------------------------------------------------------------- 2. one broken flagd flag

#[test]
fn a_broken_flagd_flag_is_a_finding_and_the_rest_is_audited() {
    let dir = support::tempdir();
    copy(dir.path(), &[("one-broken-flag.flagd.json", "flags.json")]);
    let (r, item) = run(dir.path(), &file_item("flagd", "flags.json", ""));
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(outcome(&item), "failed", "{item:#}");
    assert_eq!(item["data"]["flags"], 4, "{item:#}");
    let ev = evidence(&item, "broken", "exp-ranking");
    assert!(
        ev.contains("cannot be evaluated") && ev.contains("unknown evaluator `beta_testers`"),
        "{ev}"
    );
    assert_eq!(
        flagged(&item, "experiments"),
        ["exp-banner"],
        "the other flags are still audited: {item:#}"
    );

    // Off by configuration, the broken flag no longer fails the item; the experiment still does.
    let (_, item) = run(
        dir.path(),
        &file_item("flagd", "flags.json", "broken = { severity = \"warn\" }"),
    );
    let warnings = item["warnings"].to_string();
    assert!(warnings.contains("exp-ranking"), "{item:#}");
}

// ---------------------------------------------------------------- 3. ways of singling out individuals

#[test]
fn unleash_regex_inverted_not_in_and_variant_overrides_single_out_individuals() {
    let dir = support::tempdir();
    copy(dir.path(), &[("unleash-individuals.json", "features.json")]);
    let (r, item) = run(dir.path(), &file_item("unleash", "features.json", ""));
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(
        flagged(&item, "narrow-targeting"),
        ["checkout-theme", "only-these", "regex-pair", "regex-pilot"],
        "{item:#}"
    );
    let ev = evidence(&item, "narrow-targeting", "regex-pilot");
    assert!(ev.contains("userId REGEX `^cust-4711$`"), "{ev}");
    let ev = evidence(&item, "narrow-targeting", "only-these");
    assert!(
        ev.contains("userId NOT_IN (inverted: only these) [`cust-2001`]"),
        "{ev}"
    );
    let ev = evidence(&item, "narrow-targeting", "checkout-theme");
    assert!(
        ev.contains("userId in [`cust-4711`] (variant override)") && ev.contains("`midnight`"),
        "{ev}"
    );
    assert_eq!(
        flagged(&item, "group-targeting"),
        ["staff-tools"],
        "a domain regex is a group, NOT_IN alone is everyone else: {item:#}"
    );
}

#[test]
fn flagd_id_attribute_is_an_individual() {
    let dir = support::tempdir();
    copy(dir.path(), &[("targeting-kinds.flagd.json", "flags.json")]);
    let (_, item) = run(dir.path(), &file_item("flagd", "flags.json", ""));
    assert_eq!(
        flagged(&item, "narrow-targeting"),
        ["pilot-by-id"],
        "{item:#}"
    );
    let ev = evidence(&item, "narrow-targeting", "pilot-by-id");
    assert!(ev.contains("id in [`4711`, `4712`]"), "{ev}");
}

#[test]
fn launchdarkly_segment_members_and_prerequisites_single_out_individuals() {
    let dir = support::tempdir();
    copy(dir.path(), &[("launchdarkly-sdk-data.json", "flags.json")]);
    let (r, item) = run(dir.path(), &file_item("launchdarkly", "flags.json", ""));
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(
        flagged(&item, "narrow-targeting"),
        ["beta-checkout", "invoice-redesign"],
        "a segment of plans is not individuals: {item:#}"
    );
    let ev = evidence(&item, "narrow-targeting", "beta-checkout");
    assert!(
        ev.contains("segment `pilot-customers`") && ev.contains("`cust-4711`"),
        "{ev}"
    );
    let ev = evidence(&item, "narrow-targeting", "invoice-redesign");
    assert!(ev.contains("prerequisite `beta-checkout`"), "{ev}");
}

// ---------------------------------------------------------------- 4. flags that are really off

#[test]
fn unleash_flags_no_user_can_reach_are_off() {
    let dir = support::tempdir();
    copy(dir.path(), &[("unleash-really-off.json", "features.json")]);
    let (r, item) = run(dir.path(), &file_item("unleash", "features.json", ""));
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        flagged(&item, "experiments"),
        Vec::<String>::new(),
        "{item:#}"
    );
    let msg = item["message"].as_str().unwrap();
    assert!(msg.contains("8 flags (7 experimental)"), "{msg}");
}

#[test]
fn launchdarkly_flag_whose_prerequisite_is_off_is_off() {
    let dir = support::tempdir();
    copy(dir.path(), &[("launchdarkly-sdk-data.json", "flags.json")]);
    let (_, item) = run(
        dir.path(),
        &file_item(
            "launchdarkly",
            "flags.json",
            "experiments = { patterns = [\"^legacy-\"] }",
        ),
    );
    assert_eq!(
        flagged(&item, "experiments"),
        Vec::<String>::new(),
        "{item:#}"
    );
}

// ---------------------------------------------------------------- 5 and 6. no-op and group targeting

#[test]
fn no_op_targeting_is_skipped_and_group_targeting_warns_with_every_condition() {
    let dir = support::tempdir();
    copy(dir.path(), &[("targeting-kinds.flagd.json", "flags.json")]);
    let checklist = file_item("flagd", "flags.json", "released = [\"pilot-by-id\"]\n");
    let (r, item) = run(dir.path(), &checklist);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        !item.to_string().contains("qa-dark-mode"),
        "targeting one email with what everyone gets is no finding: {item:#}"
    );
    assert_eq!(
        flagged(&item, "group-targeting"),
        ["corp-preview", "gmail-notice"],
        "{item:#}"
    );
    let ev = evidence(&item, "group-targeting", "corp-preview");
    assert!(
        ev.contains("plan == `pro` and email contains `@corp.example`"),
        "{ev}"
    );
    assert!(
        findings(&item).iter().all(|f| f.0 == "warn"),
        "group targeting warns by default: {item:#}"
    );

    let (r, _) = run(
        dir.path(),
        &(checklist + "group_targeting = { severity = \"fail\" }\n"),
    );
    assert_eq!(r.code, 1, "{}", r.all());
}

// ---------------------------------------------------------------- 7. LaunchDarkly formats

#[test]
fn launchdarkly_temporary_is_not_an_experiment_but_tags_and_allocations_are() {
    let dir = support::tempdir();
    copy(dir.path(), &[("launchdarkly-temporary.json", "flags.json")]);
    let (r, item) = run(dir.path(), &file_item("launchdarkly", "flags.json", ""));
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(
        flagged(&item, "experiments"),
        ["checkout-copy", "onboarding-steps"],
        "{item:#}"
    );
    assert!(
        evidence(&item, "experiments", "onboarding-steps").contains("experiment allocation"),
        "{item:#}"
    );
}

#[test]
fn launchdarkly_sdk_flag_data_is_read_from_a_relay_proxy() {
    let server = serve(Answer::Json(
        200,
        read_fixture("launchdarkly-sdk-data.json"),
    ));
    let dir = support::tempdir();
    let checklist = format!(
        "[flags.ld]\nsource = \"launchdarkly\"\nurl = \"{}/sdk/latest-all\"\ntoken = \"sdk-0000\"\ntimeout = \"3s\"\n",
        server.base
    );
    let (r, item) = run(dir.path(), &checklist);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(item["data"]["flags"], 5, "{item:#}");
    let msg = item["message"].as_str().unwrap();
    assert!(!msg.contains("no environment"), "{msg}");
}

// ---------------------------------------------------------------- 8. Unleash delta API

#[test]
fn unleash_delta_events_are_replayed() {
    let server = serve(Answer::Json(200, read_fixture("unleash-delta.json")));
    let dir = support::tempdir();
    let checklist = format!(
        "[flags.u]\nsource = \"unleash\"\nurl = \"{}/api/client/delta\"\ntoken = \"x\"\ntimeout = \"3s\"\n",
        server.base
    );
    let (r, item) = run(dir.path(), &checklist);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(item["data"]["flags"], 2, "old-banner was removed: {item:#}");
    let ev = evidence(&item, "narrow-targeting", "bulk-pricing");
    assert!(ev.contains("userId IN [`cust-4711`]"), "{ev}");
    let heads = server.requests.lock().unwrap().join("\n");
    assert!(heads.starts_with("GET /api/client/delta "), "{heads}");

    // The same document saved to a file.
    copy(dir.path(), &[("unleash-delta.json", "delta.json")]);
    let (_, item) = run(dir.path(), &file_item("unleash", "delta.json", ""));
    assert_eq!(item["data"]["flags"], 2, "{item:#}");
}
