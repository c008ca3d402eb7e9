//! The HTML report: one self-contained file (no network, no external assets) to open from a CI
//! job's artifacts. The gate verdict on top, the items grouped by outcome with filters, each
//! item's details, browser screenshots and soak charts inline (`data:` URIs), the tables of
//! flag findings, migrations, dry runs, soak verdicts and browser runs (from each item's JSON
//! `data`), and a timeline of the run. A Content-Security-Policy forbids every fetch.
//!
//! Like every reporter, it renders a [`RunReport`], whose text the runner has already redacted;
//! images are read from the artifact files the report names (text artifacts were redacted when
//! written).

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use serde_json::Value;

use super::{ItemResult, Outcome, RunReport, clean_text, relative_to};

const STYLE: &str = include_str!("html/style.css");
const SCRIPT: &str = include_str!("html/script.js");

/// Largest image embedded; a bigger one is linked instead.
const MAX_EMBEDDED_BYTES: u64 = 10 * 1024 * 1024;

/// The groups items are shown in, in order: (filter key, heading).
const GROUPS: &[(&str, &str)] = &[
    ("failed", "Failed"),
    ("errored", "Errored"),
    ("interrupted", "Interrupted"),
    ("skipped", "Skipped"),
    ("waived", "Did not pass, waived until a date"),
    ("non-blocking", "Did not pass, non-blocking"),
    ("flaky", "Flaky (passed on a retry)"),
    ("passed", "Passed"),
];

/// The group an item is shown in.
fn group(item: &ItemResult) -> &'static str {
    if item.is_warning() {
        return "non-blocking";
    }
    item.outcome.label()
}

/// Renders `report` as one HTML page; links to artifacts that are not embedded are relative to
/// `dir`, the directory the page is written to.
pub fn render(report: &RunReport, dir: &Path) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let (verdict_class, verdict, reason) = verdict(report);
    let title = format!("preflight: {} — {verdict}", report.checklist);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    header(&mut h, report, verdict_class, verdict, reason);
    filters(&mut h, report);
    for (key, heading) in GROUPS {
        let items: Vec<&ItemResult> = report.items.iter().filter(|i| group(i) == *key).collect();
        if items.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<section class=\"group\" id=\"group-{key}\" data-group=\"{key}\">\n<h2>{heading} <span class=\"n\">{}</span></h2>\n",
            items.len()
        );
        for item in items {
            item_html(&mut h, report, item, dir);
        }
        h.push_str("</section>\n");
    }
    timeline(&mut h, report);
    services(&mut h, report, dir);
    if !report.not_selected.is_empty() {
        let ids: Vec<String> = report
            .not_selected
            .iter()
            .map(|i| format!("<code>{}</code>", esc(i)))
            .collect();
        let _ = writeln!(
            h,
            "<section class=\"aside\"><h2>Not selected</h2><p>Left out by <code>--only</code>, <code>--skip</code> or <code>--rerun-failed</code>: {}</p></section>",
            ids.join(", ")
        );
    }
    let _ = write!(
        h,
        "<footer>preflight {} · <code>{}</code> · started {}</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&report.path.display().to_string()),
        report.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    h
}

/// (CSS class, headline, explanation) of the gate.
fn verdict(report: &RunReport) -> (&'static str, &'static str, &'static str) {
    if report.interrupted {
        (
            "interrupted",
            "Gate closed: interrupted",
            "the run was stopped (exit 130)",
        )
    } else if report.gate_open() && report.counts().waived > 0 {
        (
            "open",
            "Gate open",
            "every blocking item passed or its failure is waived (exit 0)",
        )
    } else if report.gate_open() {
        ("open", "Gate open", "every blocking item passed (exit 0)")
    } else {
        (
            "closed",
            "Gate closed",
            "a blocking item did not pass (exit 1)",
        )
    }
}

fn header(h: &mut String, report: &RunReport, class: &str, verdict: &str, reason: &str) {
    let c = report.counts();
    let profile = report
        .profile
        .as_ref()
        .map(|p| format!(" <span class=\"profile\">profile <b>{}</b></span>", esc(p)))
        .unwrap_or_default();
    let _ = write!(
        h,
        "<header class=\"verdict {class}\" id=\"verdict\">\n<h1>{verdict}</h1>\n<p class=\"reason\">{reason}</p>\n\
         <p class=\"run\"><b>{}</b>{profile} · {} items · {} · started {}</p>\n<p class=\"counts\">",
        esc(&report.checklist),
        report.items.len(),
        secs(report.duration.as_secs_f64()),
        report.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    for (n, label) in [
        (c.passed, "passed"),
        (c.flaky, "flaky"),
        (c.failed, "failed"),
        (c.errored, "errored"),
        (c.skipped, "skipped"),
        (c.interrupted, "interrupted"),
        (c.waived, "waived"),
    ] {
        if n > 0 {
            let _ = write!(h, "<span class=\"chip {label}\">{n} {label}</span> ");
        }
    }
    if c.warnings > 0 {
        let _ = write!(
            h,
            "<span class=\"chip non-blocking\">{} non-blocking</span>",
            c.warnings
        );
    }
    h.push_str("</p>\n</header>\n");
}

fn filters(h: &mut String, report: &RunReport) {
    h.push_str("<nav class=\"filters\" id=\"filters\"><span>Show:</span>\n");
    for (key, _) in GROUPS {
        let n = report.items.iter().filter(|i| group(i) == *key).count();
        if n == 0 {
            continue;
        }
        let _ = writeln!(
            h,
            "<label class=\"filter {key}\"><input type=\"checkbox\" data-filter=\"{key}\" checked> {key} ({n})</label>"
        );
    }
    h.push_str(
        "<input type=\"search\" id=\"search\" placeholder=\"filter by id, tag or text\" aria-label=\"filter items\">\n\
         <button type=\"button\" id=\"expand\">expand all</button><button type=\"button\" id=\"collapse\">collapse all</button>\n</nav>\n",
    );
}

fn item_html(h: &mut String, report: &RunReport, item: &ItemResult, dir: &Path) {
    let key = group(item);
    let open = matches!(
        item.outcome,
        Outcome::Failed | Outcome::Errored | Outcome::Interrupted
    );
    let search = format!(
        "{} {} {} {}",
        item.id,
        item.tags.join(" "),
        item.message,
        item.description.as_deref().unwrap_or("")
    )
    .to_lowercase();
    let _ = write!(
        h,
        "<details class=\"item {key}\" id=\"item-{}\" data-outcome=\"{key}\" data-search=\"{}\"{}>\n\
         <summary><span class=\"badge {key}\">{}</span> <code class=\"id\">{}</code> <span class=\"msg\">{}</span> <span class=\"time\">{}</span></summary>\n<div class=\"body\">\n",
        esc(&item.id),
        esc(&search),
        if open { " open" } else { "" },
        if item.is_warning() {
            format!("{} · non-blocking", item.outcome.label())
        } else {
            item.outcome.label().to_string()
        },
        esc(&item.id),
        esc(&clean_text(item.message.lines().next().unwrap_or(""))),
        secs(item.duration.as_secs_f64()),
    );
    if let Some(d) = &item.description {
        let _ = writeln!(h, "<p class=\"description\">{}</p>", esc(d));
    }
    let mut meta = vec![
        format!("kind <b>{}</b>", esc(&item.kind)),
        format!(
            "<code>{}:{}</code>",
            esc(&item.file.display().to_string()),
            item.line
        ),
        format!(
            "blocking <b>{}</b>",
            if item.blocking { "yes" } else { "no" }
        ),
        format!("{} attempt(s)", item.attempts.len()),
    ];
    if !item.tags.is_empty() {
        meta.push(format!("tags <b>{}</b>", esc(&item.tags.join(", "))));
    }
    if let Some(at) = item.started_at {
        let offset = (at - report.started_at).num_milliseconds().max(0) as f64 / 1000.0;
        meta.push(format!("started at +{}", secs(offset)));
    }
    let _ = writeln!(h, "<p class=\"meta\">{}</p>", meta.join(" · "));
    if let Some(w) = &item.waiver {
        let by =
            w.by.as_deref()
                .map(|b| format!(", by {}", esc(b)))
                .unwrap_or_default();
        let _ = match &w.lapsed {
            None => writeln!(
                h,
                "<p class=\"waiver\">Waived until <b>{}</b>{by}: {}</p>",
                w.until,
                esc(&w.reason)
            ),
            // `why` names the waiver's reason and owner already.
            Some(why) => writeln!(
                h,
                "<p class=\"waiver lapsed\">Waiver not applied: {}</p>",
                esc(why)
            ),
        };
    }
    if item.message.contains('\n') {
        let _ = writeln!(
            h,
            "<pre class=\"message\">{}</pre>",
            esc(&clean_text(&item.message))
        );
    }
    if !item.warnings.is_empty() {
        h.push_str("<ul class=\"warnings\">");
        for w in &item.warnings {
            let _ = write!(h, "<li>{}</li>", esc(&clean_text(w)));
        }
        h.push_str("</ul>\n");
    }
    let (images, others): (Vec<&std::path::PathBuf>, Vec<&std::path::PathBuf>) =
        item.artifacts.iter().partition(|p| image_type(p).is_some());
    for path in images {
        figure(h, path, dir);
    }
    data_tables(h, item);
    if !item.details.trim().is_empty() {
        let _ = writeln!(
            h,
            "<details class=\"sub\" open><summary>Details</summary><pre>{}</pre></details>",
            esc(&clean_text(&item.details))
        );
    }
    if item.attempts.len() > 1 {
        let rows: Vec<Vec<String>> = item
            .attempts
            .iter()
            .enumerate()
            .map(|(n, a)| {
                vec![
                    (n + 1).to_string(),
                    a.status_label().to_string(),
                    secs(a.duration.as_secs_f64()),
                    clean_text(&a.message),
                ]
            })
            .collect();
        table(h, "Attempts", &["#", "status", "time", "message"], &rows);
    }
    if !item.properties.is_empty() {
        let rows: Vec<Vec<String>> = item
            .properties
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        h.push_str("<details class=\"sub\"><summary>Figures</summary>\n");
        table(h, "", &["name", "value"], &rows);
        h.push_str("</details>\n");
    }
    if !others.is_empty() {
        h.push_str("<p class=\"artifacts\">Artifacts: ");
        let links: Vec<String> = others.iter().map(|p| link(p, dir)).collect();
        h.push_str(&links.join(" · "));
        h.push_str("</p>\n");
    }
    h.push_str("</div>\n</details>\n");
}

/// The MIME type of an image artifact that is embedded.
fn image_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        "svg" => Some("image/svg+xml"),
        _ => None,
    }
}

/// An image artifact, embedded as a `data:` URI (an `<img>`, so an SVG's scripts never run).
fn figure(h: &mut String, path: &Path, dir: &Path) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bytes = if size <= MAX_EMBEDDED_BYTES {
        std::fs::read(path).ok()
    } else {
        None
    };
    match (bytes, image_type(path)) {
        (Some(bytes), Some(mime)) => {
            let _ = writeln!(
                h,
                "<figure><img src=\"data:{mime};base64,{}\" alt=\"{}\" title=\"click to zoom\"><figcaption>{}</figcaption></figure>",
                base64::engine::general_purpose::STANDARD.encode(&bytes),
                esc(&name),
                link(path, dir)
            );
        }
        _ => {
            let why = if size > MAX_EMBEDDED_BYTES {
                "too large to embed"
            } else {
                "not found next to the report"
            };
            let _ = writeln!(
                h,
                "<p class=\"missing\">image {} {why}</p>",
                link(path, dir)
            );
        }
    }
}

fn link(path: &Path, dir: &Path) -> String {
    let rel = relative_to(path, dir).display().to_string();
    format!("<a href=\"{}\">{}</a>", esc(&rel), esc(&rel))
}

/// Tables of the kind-specific figures in an item's JSON `data`.
fn data_tables(h: &mut String, item: &ItemResult) {
    let d = &item.data;
    let rows = |v: &Value, cols: &[&str]| -> Vec<Vec<String>> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|r| cols.iter().map(|c| cell(&r[*c])).collect())
                    .collect()
            })
            .unwrap_or_default()
    };
    match item.kind.as_str() {
        "flags" => {
            let r = rows(&d["findings"], &["severity", "rule", "flag", "evidence"]);
            table(
                h,
                "Flag findings",
                &["severity", "rule", "flag", "evidence"],
                &r,
            );
        }
        "rollback" => {
            let cols = ["id", "change", "verdict", "files", "problems", "dangerous"];
            let r = rows(&d["migrations"]["migrations"], &cols);
            table(h, "Migrations since the previous release", &cols, &r);
            let cols = ["command", "passed", "exit_code", "timed_out", "duration_ms"];
            let r = rows(&d["dry_runs"], &cols);
            table(h, "Dry runs", &cols, &r);
        }
        "soak" => {
            let r = rows(&d["verdicts"], &["signal", "status", "text"]);
            table(h, "Signals", &["signal", "status", "verdict"], &r);
        }
        "browser" => {
            let r = rows(&d["runs"], &["run", "status", "total_ms", "error"]);
            if r.len() > 1 {
                table(h, "Runs", &["run", "status", "ms", "error"], &r);
            }
        }
        _ => {}
    }
}

/// A JSON value as table cell text: located findings as `file:line: message` lines.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => clean_text(s),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join("\n"),
        Value::Object(o) if o.contains_key("message") => {
            let mut s = cell(&o["file"]);
            if let Some(l) = o.get("line").and_then(Value::as_u64) {
                let _ = write!(s, ":{l}");
            }
            if !s.is_empty() {
                s.push_str(": ");
            }
            s + cell(&o["message"]).as_str()
        }
        other => other.to_string(),
    }
}

fn table(h: &mut String, caption: &str, headers: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        return;
    }
    h.push_str("<div class=\"table\"><table>");
    if !caption.is_empty() {
        let _ = write!(h, "<caption>{}</caption>", esc(caption));
    }
    h.push_str("<thead><tr>");
    for c in headers {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>\n");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            let class = match c.as_str() {
                "fail" | "failed" | "errored" | "false" | "irreversible" | "dangerous"
                | "edited" | "deleted" => " class=\"bad\"",
                "warn" | "warning" => " class=\"warn\"",
                _ => "",
            };
            // Long paths and identifiers may wrap after a `/` or `_`.
            let text = esc(c).replace('/', "/<wbr>").replace('_', "_<wbr>");
            let _ = write!(h, "<td{class}>{text}</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
}

/// When each item ran, as bars over the run's duration.
fn timeline(h: &mut String, report: &RunReport) {
    let total = report.duration.as_secs_f64().max(0.001);
    let ran: Vec<&ItemResult> = report
        .items
        .iter()
        .filter(|i| i.started_at.is_some())
        .collect();
    if ran.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<section class=\"timeline\" id=\"timeline\"><h2>Timeline <span class=\"n\">{}</span></h2>",
        secs(total)
    );
    for i in ran {
        let start = i
            .started_at
            .map(|at| (at - report.started_at).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        let left = (start / total * 100.0).clamp(0.0, 100.0);
        let width = (i.duration.as_secs_f64() / total * 100.0).clamp(0.3, 100.0 - left);
        let _ = writeln!(
            h,
            "<div class=\"row\"><a href=\"#item-{id}\"><code>{id}</code></a><div class=\"track\"><span class=\"bar {}\" style=\"left:{left:.2}%;width:{width:.2}%\" title=\"+{} for {}\"></span></div><span class=\"time\">{}</span></div>",
            group(i),
            secs(start),
            secs(i.duration.as_secs_f64()),
            secs(i.duration.as_secs_f64()),
            id = esc(&i.id),
        );
    }
    h.push_str("</section>\n");
}

fn services(h: &mut String, report: &RunReport, dir: &Path) {
    if report.services.is_empty() {
        return;
    }
    h.push_str("<section class=\"aside\"><h2>Services</h2><table><thead><tr><th>service</th><th>pid</th><th>ready after</th><th>stopped</th><th>log</th><th>error</th></tr></thead><tbody>\n");
    for s in &report.services {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td></tr>",
            esc(&s.name),
            s.pid.map(|p| p.to_string()).unwrap_or_default(),
            s.ready_after
                .map(|d| secs(d.as_secs_f64()))
                .unwrap_or_default(),
            esc(s.stopped.as_deref().unwrap_or("")),
            s.log.as_deref().map(|l| link(l, dir)).unwrap_or_default(),
            if s.error.is_some() {
                " class=\"bad\""
            } else {
                ""
            },
            esc(&clean_text(s.error.as_deref().unwrap_or(""))),
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2}s")
    } else {
        format!("{s:.1}s")
    }
}

/// Escapes text for HTML element content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
