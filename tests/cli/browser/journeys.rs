//! Journeys through the fixture shop: the purchase passes, its faults are caught, and secrets
//! stay out of every report.

use super::sandbox::{Sandbox, item, take_turn, walk};
use crate::support::{self, Shop};

/// The whole purchase: home → sign up → products → cart → express shipping → pay → confirmation.
pub fn purchase_steps(base: &str) -> String {
    format!(
        r##"steps = [
  {{ goto = "{base}/" }},
  {{ expect_text = "#featured", contains = "Spring Sale" }},
  {{ expect_title = "Preflight Shop" }},
  {{ click = "text=Sign up" }},
  {{ fill = "#email", value = "buyer@example.com" }},
  {{ click = "button[type=submit]" }},
  {{ expect_url = {{ contains = "/products" }} }},
  {{ click = "li.product[data-sku] button" }},
  {{ expect_visible = "#cart-items" }},
  {{ select = "#shipping", option = "express" }},
  {{ expect_text = "#shipping-note", contains = "Express" }},
  {{ click = "#pay" }},
  {{ wait_for = "#confirmation", timeout = "5s" }},
  {{ expect_text = "#confirmation", matches = "Thank you for your order #[0-9]+" }},
  {{ expect_absent = "#error" }},
  {{ screenshot = "confirmation" }},
]"##
    )
}

#[test]
fn a_full_purchase_passes_and_leaves_nothing_behind() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(
        &format!("[browser.checkout]\n{}\n", purchase_steps(&shop.base)),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("journey passed"), "{}", run.all());
    let json = sb.json();
    let it = item(&json, "browser.checkout");
    assert_eq!(it["outcome"], "passed");
    let steps = it["data"]["runs"][0]["steps"]
        .as_array()
        .expect("per-step timings")
        .clone();
    assert_eq!(steps.len(), 16);
    assert!(
        steps
            .iter()
            .all(|s| s["ms"].as_f64().is_some() && s["ok"] == true),
        "{steps:?}"
    );
    // The screenshot step saved a real PNG.
    let shot = it["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .find(|a| a.as_str().unwrap_or("").ends_with("confirmation.png"))
        .cloned();
    let shot = shot.unwrap_or_else(|| panic!("no screenshot artifact: {it}"));
    let bytes = std::fs::read(shot.as_str().expect("path")).expect("png");
    assert_eq!(&bytes[1..4], b"PNG");
    sb.assert_nothing_left();
}

#[test]
fn a_missing_element_fails_naming_the_step_and_saves_artifacts() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(
        &format!(
            r##"[browser.signup]
step_timeout = "2s"
steps = [
  {{ goto = "{}/" }},
  {{ click = "#no-such-button" }},
  {{ expect_title = "never reached" }},
]
"##,
            shop.base
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains(
            "step 2 click `#no-such-button`: no element matches `#no-such-button` within 2s"
        ),
        "{}",
        run.all()
    );
    let it = item(&sb.json(), "browser.signup");
    assert_eq!(it["outcome"], "failed");
    let artifacts: Vec<String> = it["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    for suffix in [
        "run1-step2-screenshot.png",
        "run1-step2-page.html",
        "run1-step2-console.log",
    ] {
        assert!(
            artifacts.iter().any(|a| a.ends_with(suffix)),
            "no {suffix} in {artifacts:?}"
        );
    }
    let html = artifacts
        .iter()
        .find(|a| a.ends_with(".html"))
        .expect("html");
    assert!(
        std::fs::read_to_string(html)
            .expect("html")
            .contains("Preflight Shop")
    );
    // Linked from the JUnit report, and the step after the failure is shown as not run.
    assert!(sb.junit().contains("[[ATTACHMENT|"), "{}", sb.junit());
    assert!(
        it["details"].as_str().unwrap_or("").contains("(not run)"),
        "{it}"
    );
    sb.assert_nothing_left();
}

#[test]
fn wrong_text_fails_with_what_the_page_had() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(
        &format!(
            r##"[browser.home]
step_timeout = "2s"
steps = [
  {{ goto = "{}/" }},
  {{ expect_text = "#featured", equals = "Featured: Summer Sale" }},
]
"##,
            shop.base
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("expected `#featured` to equal `Featured: Summer Sale`, the page has `Featured: Spring Sale`"),
        "{}",
        run.all()
    );
}

pub fn featured_checklist(base: &str) -> String {
    format!(
        r##"[browser.featured]
step_timeout = "2s"
steps = [
  {{ goto = "{base}/" }},
  {{ expect_text = "#featured", contains = "Spring Sale" }},
]
"##
    )
}

#[test]
fn wrong_featured_is_caught_and_the_clean_shop_passes() {
    let _turn = take_turn();
    let bad = Shop::start(&["wrong-featured"], &[]);
    let sb = Sandbox::new();
    let run = sb.run(&featured_checklist(&bad.base), &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all()
            .contains("the page has `Featured: Winter Clearance`"),
        "{}",
        run.all()
    );

    let good = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(&featured_checklist(&good.base), &[]);
    assert_eq!(run.code, 0, "{}", run.all());
}

fn checkout_repeat(base: &str) -> String {
    format!(
        "[browser.checkout]\nrepeat = 12\nparallel = 3\n{}\n",
        purchase_steps(base)
    )
}

#[test]
fn flaky_checkout_is_caught_by_repeat_and_the_clean_shop_passes_the_same_repeat() {
    let _turn = take_turn();
    let flaky = Shop::start(&["flaky-checkout=5"], &[]);
    let sb = Sandbox::new();
    let run = sb.run(&checkout_repeat(&flaky.base), &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    // Every 5th checkout fails: 12 runs → 2 failures, whatever the interleaving.
    assert!(run.all().contains("2 of 12 runs failed"), "{}", run.all());
    assert!(
        run.all().contains("Payment failed") || run.all().contains("#confirmation"),
        "{}",
        run.all()
    );
    let it = item(&sb.json(), "browser.checkout");
    assert_eq!(it["data"]["runs_failed"], 2);
    // Only the first failure keeps artifacts (one screenshot, page and console log).
    let failure_shots = it["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter(|a| a.as_str().unwrap_or("").ends_with("-screenshot.png"))
        .count();
    assert_eq!(failure_shots, 1, "{it}");
    sb.assert_nothing_left();

    let clean = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let run = sb.run(&checkout_repeat(&clean.base), &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.all().contains("journey passed 12/12 runs"),
        "{}",
        run.all()
    );
    sb.assert_nothing_left();
}

#[test]
fn parallel_sessions_run_side_by_side() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let checklist = format!(
        "[browser.a]\nrepeat = 4\nparallel = 4\n{}\n[browser.b]\nrepeat = 2\nparallel = 2\n{}\n",
        purchase_steps(&shop.base),
        purchase_steps(&shop.base)
    );
    let run = sb.run(&checklist, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let json = sb.json();
    assert_eq!(item(&json, "browser.a")["data"]["runs_total"], 4);
    assert_eq!(item(&json, "browser.b")["data"]["runs_total"], 2);
    sb.assert_nothing_left();
}

#[test]
fn a_missing_driver_errors_with_an_install_hint() {
    let _turn = take_turn();
    let sb = Sandbox::new();
    let run = sb.run(
        "[browser]\ndriver = \"/nonexistent/chromedriver\"\n\n[browser.home]\nsteps = [{ goto = \"http://127.0.0.1:9/\" }]\n",
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let it = item(&sb.json(), "browser.home");
    assert_eq!(it["outcome"], "errored", "{it}");
    let msg = it["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("no WebDriver at `/nonexistent/chromedriver`"),
        "{msg}"
    );
    assert!(
        msg.contains("apt-get install chromium chromium-driver"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1);
}

#[test]
fn a_misspelt_browser_setting_is_a_checklist_error_with_its_place() {
    let _turn = take_turn();
    let sb = Sandbox::new();
    let run = sb.run(
        "[browser]\nheadles = true\n\n[browser.a]\nsteps = [{ goto = \"http://127.0.0.1:9/\" }]\n",
        &[],
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("unknown browser setting `headles`"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("x.toml:2:"), "{}", run.all());
}

#[test]
fn secrets_typed_into_fields_are_never_logged() {
    let _turn = take_turn();
    let shop = Shop::start(&[], &[]);
    let sb = Sandbox::new();
    let checklist = format!(
        r##"[vars]
base = "{}"
pw = {{ env = "PREFLIGHT_TEST_BROWSER_PW", secret = true }}

[browser.login]
step_timeout = "2s"
steps = [
  {{ goto = "${{base}}/signup" }},
  {{ fill = "#email", value = "${{pw}}" }},
  {{ fill = "#password", value = "${{pw}}" }},
]
"##,
        shop.base
    );
    support::write(sb.path(), "x.toml", &checklist);
    let out = sb
        .command(&[
            "run",
            "x.toml",
            "--json",
            "report.json",
            "--junit",
            "report.xml",
        ])
        .env("PREFLIGHT_TEST_BROWSER_PW", "s3cr3t-hunter2")
        .output()
        .expect("run");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("step 3 fill `#password` with `[REDACTED]`"),
        "{all}"
    );
    for f in ["report.json", "report.xml"] {
        assert!(
            !std::fs::read_to_string(sb.path().join(f))
                .expect("report")
                .contains("s3cr3t-hunter2")
        );
    }
    assert!(!all.contains("s3cr3t-hunter2"), "{all}");
    for entry in walk(&sb.path().join("preflight-artifacts")) {
        let bytes = std::fs::read(&entry).expect("artifact");
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cr3t-hunter2"),
            "secret in {}",
            entry.display()
        );
    }
}
