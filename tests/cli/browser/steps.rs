//! Every step on a page that needs it, in real headless Chromium: each holds where the page
//! behaves, and fails naming what the page had where it does not.

use super::pages;
use super::sandbox::{Sandbox, artifacts, item, png_size, take_turn};
use super::site::Site;

/// `select` by visible text picks the option whose label it is (values are ids here) and
/// verifies it; an option that does not exist fails naming the options there are.
#[test]
fn select_by_visible_text_selects_it_or_fails_listing_the_options() {
    let _turn = take_turn();
    let site = Site::serve(&[("select.html", pages::SELECT)]);
    let sb = Sandbox::new();
    let run = sb.run(
        &format!(
            r##"[browser.garden]
step_timeout = "2s"
steps = [
  {{ goto = "{base}/select.html" }},
  {{ select = "#category", option = "Garden" }},
  {{ expect_text = "#chosen", equals = "category 3" }},
  {{ select = "#category", option = "1" }},
  {{ expect_text = "#chosen", equals = "category 1" }},
]

[browser.pond]
step_timeout = "1s"
steps = [
  {{ goto = "{base}/select.html" }},
  {{ select = "#category", option = "Lawn" }},
]

[browser.sold-out]
step_timeout = "1s"
steps = [
  {{ goto = "{base}/select.html" }},
  {{ select = "#category", option = "Pond (sold out)" }},
]
"##,
            base = site.base
        ),
        &[],
    );
    let json = sb.json();
    let garden = item(&json, "browser.garden");
    assert_eq!(garden["outcome"], "passed", "{}", run.all());
    let pond = item(&json, "browser.pond");
    assert_eq!(pond["outcome"], "failed", "{}", run.all());
    let msg = pond["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("step 2 select `Lawn` in `#category`: no option with value or text `Lawn`"),
        "{msg}"
    );
    assert!(
        msg.contains("`Kitchen` (value `1`), `Garden` (value `3`)"),
        "{msg}"
    );
    let sold_out = item(&json, "browser.sold-out");
    assert_eq!(sold_out["outcome"], "failed", "{}", run.all());
    let msg = sold_out["message"].as_str().unwrap_or("");
    assert!(msg.contains("is disabled"), "{msg}");
    sb.assert_nothing_left();
}

/// Every new step holds on a page that needs it, twice at once (`repeat` with `${run}` and
/// `${unique}`), with relative `goto`s joined to `base_url`.
#[test]
fn every_step_holds_on_pages_that_need_it() {
    let _turn = take_turn();
    let site = Site::serve(&pages::all());
    let sb = Sandbox::new();
    crate::support::write(sb.path(), "files/report.csv", "sku,qty\nA1,2\n");
    let run = sb.run(
        &format!(
            r##"[browser]
base_url = "{base}/"

[browser.everything]
repeat = 2
parallel = 2
step_timeout = "5s"
steps = [
  {{ goto = "/echo.html?run=${{run}}&u=${{unique}}" }},
  {{ expect_text = "#q", equals = "run=${{run}}&u=${{unique}}" }},
  {{ expect_url = {{ matches = "u=${{unique}}$" }} }},

  {{ goto = "./select.html" }},
  {{ select = "#category", option = "Garden" }},
  {{ expect_value = "#category", equals = "3" }},

  {{ goto = "/todo.html" }},
  {{ expect_count = "li.item", equals = 3 }},
  {{ expect_count = "li.item", at_least = 2 }},
  {{ double_click = "text=Buy seeds" }},
  {{ fill = "li.editing input.edit", value = "Buy tulip bulbs" }},
  {{ press = "Enter" }},
  {{ expect_text = "li.item:first-child", equals = "buy TULIP bulbs", ignore_case = true }},
  {{ check = "li.item:first-child input.done" }},
  {{ check = "li.item:first-child input.done" }},
  {{ expect_count = "li.completed", equals = 1 }},
  {{ expect_text = "#left", equals = "2 items left" }},
  {{ uncheck = "li.item:first-child input.done" }},
  {{ expect_count = "li.completed", at_most = 0 }},
  {{ fill = "#new", value = "draft" }},
  {{ press = "Control+A" }},
  {{ press = "Backspace" }},
  {{ expect_value = "#new", equals = "" }},

  {{ goto = "/keys.html" }},
  {{ click = "#c" }},
  {{ press = "Shift+Tab" }},
  {{ expect_text = "#focused", equals = "b" }},
  {{ press = "Meta+Enter" }},
  {{ expect_text = "#combo", equals = "Meta+Enter" }},

  {{ goto = "/menu.html" }},
  {{ expect_attribute = "#account", name = "aria-expanded", equals = "false" }},
  {{ hover = "#account" }},
  {{ expect_visible = "#account-menu" }},
  {{ expect_attribute = "#account", name = "aria-expanded", equals = "true" }},
  {{ expect_attribute = "#account", name = "aria-haspopup" }},

  {{ goto = "/form.html" }},
  {{ check = "#terms" }},
  {{ check = "#plan-pro" }},
  {{ check = "#newsletter" }},
  {{ check = "#dark" }},
  {{ check = "#gift-widget" }},
  {{ expect_text = "#summary", equals = "terms plan=pro newsletter dark gift" }},
  {{ uncheck = "#terms" }},
  {{ uncheck = "#dark" }},
  {{ uncheck = "#gift-widget" }},
  {{ check = "#plan-pro" }},
  {{ expect_text = "#summary", equals = "plan=pro newsletter" }},
  {{ expect_value = "#qty", matches = "^[0-9]+$" }},

  {{ goto = "/upload.html" }},
  {{ fill = "#file", value = "files/report.csv" }},
  {{ expect_text = "#file-info", equals = "report.csv: 2 lines" }},

  {{ goto = "/windows.html" }},
  {{ click = "#open-help" }},
  {{ switch_to_window = {{ title = "Help centre" }} }},
  {{ expect_text = "h1", equals = "Help" }},
  {{ switch_to_window = 1 }},
  {{ expect_title = "Main window" }},
  {{ switch_to_window = {{ url = "help.html" }} }},
  {{ switch_to_window = 2 }},
  {{ click = "#close" }},
  {{ switch_to_window = 1 }},
  {{ expect_text = "h1", equals = "Main" }},

  {{ goto = "/frames.html" }},
  {{ within_frame = "#payment" }},
  {{ fill = "#card", value = "4242" }},
  {{ click = "text=Pay" }},
  {{ expect_text = "#status", equals = "paid 4242" }},
  {{ leave_frame = true }},
  {{ expect_text = "h1", equals = "Checkout" }},

  {{ goto = "/dialogs.html" }},
  {{ click = "#confirm" }},
  {{ accept_dialog = "Delete 2 items?" }},
  {{ expect_text = "#result", equals = "deleted" }},
  {{ click = "#confirm" }},
  {{ dismiss_dialog = true }},
  {{ expect_text = "#result", equals = "kept" }},
  {{ click = "#prompt" }},
  {{ accept_dialog = {{ contains = "NAME", ignore_case = true }}, value = "run ${{run}}" }},
  {{ expect_text = "#result", equals = "hello run ${{run}}" }},
  {{ click = "#later" }},
  {{ accept_dialog = {{ matches = "^Saved at [0-9]+$" }} }},
]
"##,
            base = site.base
        ),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let it = item(&sb.json(), "browser.everything");
    assert_eq!(it["data"]["runs_total"], 2, "{it}");
    // Each run had its own `${run}` and `${unique}`, as the server saw them.
    let echoes: Vec<String> = site
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("/echo.html?"))
        .collect();
    assert_eq!(echoes.len(), 2, "{echoes:?}");
    for r in it["data"]["runs"].as_array().expect("runs") {
        let unique = r["unique"].as_str().expect("unique");
        assert_eq!(unique.len(), 8);
        let want = format!("/echo.html?run={}&u={unique}", r["run"]);
        assert!(echoes.contains(&want), "no {want} in {echoes:?}");
    }
    assert_ne!(
        it["data"]["runs"][0]["unique"],
        it["data"]["runs"][1]["unique"]
    );
    sb.assert_nothing_left();
}

/// One journey per way a step can fail: each fails at that step, naming what the page had.
const FAILURES: &[(&str, &[&str], &str)] = &[
    // (item, its steps (the last one fails, within 2s), what the message must say)
    (
        "double-click-hidden",
        &[
            r##"{ goto = "/todo.html" }"##,
            r##"{ double_click = "#hidden-editor" }"##,
        ],
        "step 2 double_click `#hidden-editor`: `#hidden-editor` matches 1 element(s) but none became visible within 2s",
    ),
    (
        "hover-missing",
        &[
            r##"{ goto = "/menu.html" }"##,
            r##"{ hover = "#profile" }"##,
        ],
        "step 2 hover `#profile`: no element matches `#profile` within 2s",
    ),
    (
        "check-disabled",
        &[r##"{ goto = "/form.html" }"##, r##"{ check = "#locked" }"##],
        "cannot check `#locked`: it is disabled",
    ),
    (
        "check-refused",
        &[r##"{ goto = "/form.html" }"##, r##"{ check = "#refuse" }"##],
        "`#refuse` is still unchecked after clicking it",
    ),
    (
        "check-not-a-box",
        &[r##"{ goto = "/form.html" }"##, r##"{ check = "#qty" }"##],
        "`#qty` is a <input type=number>, not a checkbox or radio button (nor has `aria-checked` or one inside)",
    ),
    (
        "uncheck-radio",
        &[
            r##"{ goto = "/form.html" }"##,
            r##"{ uncheck = "#plan-basic" }"##,
        ],
        "`#plan-basic` is a radio button: uncheck it by checking another option of its group",
    ),
    (
        "value",
        &[
            r##"{ goto = "/form.html" }"##,
            r##"{ expect_value = "#qty", equals = "3" }"##,
        ],
        "expected the value of `#qty` to equal `3`, it is `2`",
    ),
    (
        "attribute",
        &[
            r##"{ goto = "/menu.html" }"##,
            r##"{ expect_attribute = "#account", name = "aria-expanded", equals = "true" }"##,
        ],
        "expected attribute `aria-expanded` of `#account` to equal `true`, it is `false`",
    ),
    (
        "attribute-missing",
        &[
            r##"{ goto = "/menu.html" }"##,
            r##"{ expect_attribute = "#account", name = "aria-controls" }"##,
        ],
        "`#account` has no attribute `aria-controls`",
    ),
    (
        "count",
        &[
            r##"{ goto = "/todo.html" }"##,
            r##"{ expect_count = "li.item", equals = 4 }"##,
        ],
        "expected exactly 4 element(s) matching `li.item`, the page has 3",
    ),
    (
        "count-at-least",
        &[
            r##"{ goto = "/todo.html" }"##,
            r##"{ expect_count = "li.completed", at_least = 1 }"##,
        ],
        "expected at least 1 element(s) matching `li.completed`, the page has 0",
    ),
    (
        "case",
        &[
            r##"{ goto = "/todo.html" }"##,
            r##"{ expect_text = "#left", equals = "3 ITEMS LEFT" }"##,
        ],
        "expected `#left` to equal `3 ITEMS LEFT`, the page has `3 items left`",
    ),
    (
        "case-ignored",
        &[
            r##"{ goto = "/todo.html" }"##,
            r##"{ expect_text = "#left", equals = "4 ITEMS LEFT", ignore_case = true }"##,
        ],
        "expected `#left` to equal `4 ITEMS LEFT` (ignoring case), the page has `3 items left`",
    ),
    (
        "keys",
        &[
            r##"{ goto = "/keys.html" }"##,
            r##"{ click = "#a" }"##,
            r##"{ press = "Meta+Enter" }"##,
            r##"{ expect_text = "#combo", equals = "Control+Enter" }"##,
        ],
        "the page has `Meta+Enter`",
    ),
    (
        "window-missing",
        &[
            r##"{ goto = "/windows.html" }"##,
            r##"{ switch_to_window = 2 }"##,
        ],
        "no window 2 within 2s: the session has 1 (`Main window`)",
    ),
    (
        "window-title",
        &[
            r##"{ goto = "/windows.html" }"##,
            r##"{ click = "#open-help" }"##,
            r##"{ switch_to_window = { title = "Support" } }"##,
        ],
        "no window titled `Support` within 2s: the session has 2 (`Main window`, `Help centre`)",
    ),
    (
        "frame-missing",
        &[
            r##"{ goto = "/frames.html" }"##,
            r##"{ within_frame = "#checkout-frame" }"##,
        ],
        "no element matches `#checkout-frame` within 2s",
    ),
    (
        "frame-not-a-frame",
        &[
            r##"{ goto = "/frames.html" }"##,
            r##"{ within_frame = "h1" }"##,
        ],
        "`h1` is a <h1>, not an <iframe> or <frame>",
    ),
    (
        "frame-left",
        &[
            r##"{ goto = "/frames.html" }"##,
            r##"{ within_frame = "#payment" }"##,
            r##"{ leave_frame = true }"##,
            r##"{ expect_visible = "#card" }"##,
        ],
        "step 4 expect_visible `#card`: no element matches `#card` within 2s",
    ),
    (
        "no-dialog",
        &[
            r##"{ goto = "/dialogs.html" }"##,
            r##"{ accept_dialog = true }"##,
        ],
        "step 2 accept_dialog: no dialog opened within 2s",
    ),
    (
        "dialog-text",
        &[
            r##"{ goto = "/dialogs.html" }"##,
            r##"{ click = "#confirm" }"##,
            r##"{ accept_dialog = "Delete 3 items?" }"##,
        ],
        "expected the dialog to equal `Delete 3 items?`, it says `Delete 2 items?`",
    ),
    (
        "dialog-unexpected",
        &[
            r##"{ goto = "/dialogs.html" }"##,
            r##"{ click = "#confirm" }"##,
            r##"{ expect_text = "#result", equals = "deleted" }"##,
        ],
        "step 3 expect_text `#result`: an unexpected dialog is open: `Delete 2 items?`",
    ),
    (
        "dialog-left-open",
        &[
            r##"{ goto = "/dialogs.html" }"##,
            r##"{ click = "#alert" }"##,
        ],
        "step 2 click `#alert`: it left a dialog open: an unexpected dialog is open: `Saved`",
    ),
    (
        "prompt-value-on-confirm",
        &[
            r##"{ goto = "/dialogs.html" }"##,
            r##"{ click = "#confirm" }"##,
            r##"{ accept_dialog = true, value = "x" }"##,
        ],
        "the dialog `Delete 2 items?` has no text field to type into",
    ),
    (
        "upload-missing",
        &[
            r##"{ goto = "/upload.html" }"##,
            r##"{ fill = "#file", value = "files/missing.csv" }"##,
        ],
        "no file `files/missing.csv` to upload into `#file`",
    ),
    (
        "run-vars",
        &[
            r##"{ goto = "/echo.html?run=${run}" }"##,
            r##"{ expect_text = "#q", equals = "run=${run}0" }"##,
        ],
        "expected `#q` to equal `run=10`, the page has `run=1`",
    ),
    (
        "base-url",
        &[
            r##"{ goto = "/no-such-page.html" }"##,
            r##"{ expect_title = "Checkout" }"##,
        ],
        "expected the title to equal `Checkout`, it is `Not found`",
    ),
    (
        "full-page",
        &[
            r##"{ goto = "/tall.html" }"##,
            r##"{ expect_text = "#footer", equals = "The beginning" }"##,
        ],
        "expected `#footer` to equal `The beginning`, the page has `The end`",
    ),
];

#[test]
fn each_step_fails_naming_what_the_page_had() {
    let _turn = take_turn();
    let site = Site::serve(&pages::all());
    let sb = Sandbox::new();
    let mut checklist = format!("[browser]\nbase_url = \"{}\"\n", site.base);
    for (name, steps, _) in FAILURES {
        // The steps before the failing one get the default 10 s: a loaded machine must not
        // make them fail instead.
        let (last, before) = steps.split_last().expect("steps");
        let last = format!(
            "{}, timeout = \"2s\" }}",
            last.trim_end_matches('}').trim_end()
        );
        let all: Vec<&str> = before.iter().copied().chain([last.as_str()]).collect();
        checklist += &format!("\n[browser.{name}]\nsteps = [{}]\n", all.join(", "));
    }
    // A server that is not there: Chromium shows its own error page, which is no page at all.
    let nobody = crate::support::free_port();
    checklist += &format!(
        "\n[browser.unreachable]\nsteps = [{{ goto = \"http://127.0.0.1:{nobody}/\" }}]\n"
    );
    let run = sb.run(&checklist, &["--jobs", "4"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let json = sb.json();
    let mut wrong = Vec::new();
    for (name, _, want) in FAILURES {
        let it = item(&json, &format!("browser.{name}"));
        let msg = it["message"].as_str().unwrap_or("");
        if it["outcome"] != "failed" || !msg.contains(want) {
            wrong.push(format!(
                "{name}: {} `{msg}`\n  wanted `{want}`",
                it["outcome"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let unreachable = item(&json, "browser.unreachable");
    assert_eq!(unreachable["outcome"], "failed", "{unreachable}");
    assert!(
        unreachable["message"]
            .as_str()
            .unwrap_or("")
            .contains("ERR_CONNECTION_REFUSED"),
        "{unreachable}"
    );
    // The failure's screenshot covers the whole page, not just the 800 px viewport.
    let tall = item(&json, "browser.full-page");
    let shot = artifacts(&tall)
        .into_iter()
        .find(|a| a.ends_with("-screenshot.png"))
        .unwrap_or_else(|| panic!("no screenshot: {tall}"));
    let (_, height) = png_size(&std::fs::read(shot).expect("png"));
    assert!(height > 2400, "the screenshot is {height} px tall");
    // A dialog that was open at the failure is kept as text (the screenshot cannot show it).
    let left_open = item(&json, "browser.dialog-left-open");
    assert!(
        artifacts(&left_open)
            .iter()
            .any(|a| a.ends_with("step2-dialog.txt")),
        "{left_open}"
    );
    sb.assert_nothing_left();
}

/// With runs in parallel the first run to fail is not always the lowest-numbered one: the
/// message names the run whose artifacts were saved.
#[test]
fn the_run_a_failure_names_is_the_run_whose_artifacts_were_saved() {
    let _turn = take_turn();
    let missing = "<!doctype html><title>Run 1</title><p>no box here</p>";
    let disabled = "<!doctype html><title>Run 2</title><input type=checkbox id=box disabled>";
    let site = Site::serve(&[("r1.html", missing), ("r2.html", disabled)]);
    let sb = Sandbox::new();
    // Run 2 fails at once (a disabled box); run 1 only when its 15 s wait for the box ends (a
    // margin for a busy CI machine, where the two Chromium sessions can start seconds apart).
    let run = sb.run(
        &format!(
            r##"[browser.boxes]
repeat = 2
parallel = 2
steps = [
  {{ goto = "{}/r${{run}}.html" }},
  {{ check = "#box", timeout = "15s" }},
]
"##,
            site.base
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let it = item(&sb.json(), "browser.boxes");
    let msg = it["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("2 of 2 runs failed; run 2 (artifacts saved): step 2 check `#box`: cannot check `#box`: it is disabled"),
        "{msg}"
    );
    let files = artifacts(&it);
    assert!(
        files
            .iter()
            .any(|a| a.ends_with("run2-step2-screenshot.png")),
        "{files:?}"
    );
    assert!(!files.iter().any(|a| a.contains("/run1-")), "{files:?}");
    assert!(
        it["details"]
            .as_str()
            .unwrap_or("")
            .contains("run 2 (failed)"),
        "the details show the named run's timings: {it}"
    );
}
