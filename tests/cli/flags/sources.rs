//! PostHog, GrowthBook, Flagsmith and ConfigCat end to end: each from a saved file and from a loopback HTTP
//! server (the request a real SDK makes, the token in its header and never in a report), with the
//! same rules as every source; unreadable answers (401, an HTML page, no answer, a document of
//! another shape) error.

use super::{Answer, copy, errored_with_item, outcome, read_fixture, run, serve};
use crate::support;

/// One source under test.
struct Source {
    kind: &'static str,
    fixture: &'static str,
    /// The `url` for a server at `base`.
    url: fn(&str) -> String,
    /// The request line and token header a real SDK sends.
    request: &'static str,
    header: &'static str,
    /// Flags with a narrow-targeting, experiments and group-targeting finding.
    narrow: &'static [&'static str],
    experiments: &'static [&'static str],
    group: &'static [&'static str],
}

const SOURCES: &[Source] = &[
    Source {
        kind: "posthog",
        fixture: "posthog-local-evaluation.json",
        url: |base| base.to_string(),
        request: "GET /api/feature_flag/local_evaluation ",
        header: "authorization: bearer phx-s3cr3t-token",
        narrow: &["bulk-pricing"],
        experiments: &[],
        group: &["staff-tools"],
    },
    Source {
        kind: "growthbook",
        fixture: "growthbook-features.json",
        url: |base| format!("{base}/api/features/sdk-shop"),
        request: "GET /api/features/sdk-shop ",
        header: "authorization: bearer phx-s3cr3t-token",
        narrow: &["bulk-pricing"],
        experiments: &["checkout-copy"],
        group: &["staff-tools"],
    },
    Source {
        kind: "flagsmith",
        fixture: "flagsmith-environment.json",
        url: |base| format!("{base}/api/v1/"),
        request: "GET /api/v1/environment-document/ ",
        header: "x-environment-key: phx-s3cr3t-token",
        narrow: &["bulk_pricing", "new_invoice"],
        experiments: &[],
        group: &["staff_tools"],
    },
    Source {
        kind: "configcat",
        fixture: "configcat-config_v6.json",
        url: |base| format!("{base}/configuration-files/sdk-shop"),
        request: "GET /configuration-files/sdk-shop/config_v6.json ",
        header: "authorization: bearer phx-s3cr3t-token",
        narrow: &["bulkPricing"],
        experiments: &[],
        group: &["staffTools"],
    },
];

fn url_item(s: &Source, base: &str) -> String {
    format!(
        "[vars]\ntoken = {{ env = \"FLAGS_TEST_TOKEN\", default = \"phx-s3cr3t-token\", secret = true }}\n\n\
         [flags.x]\nsource = \"{}\"\nurl = \"{}\"\ntoken = \"${{token}}\"\ntimeout = \"2s\"\n",
        s.kind,
        (s.url)(base)
    )
}

fn flagged(item: &serde_json::Value, rule: &str) -> Vec<String> {
    let mut out: Vec<String> = item["data"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings: {item:#}"))
        .iter()
        .filter(|f| f["rule"] == rule)
        .filter_map(|f| f["flag"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn assert_verdicts(s: &Source, item: &serde_json::Value) {
    assert_eq!(outcome(item), "failed", "{}: {item:#}", s.kind);
    assert_eq!(
        flagged(item, "narrow-targeting"),
        s.narrow,
        "{}: {item:#}",
        s.kind
    );
    assert_eq!(
        flagged(item, "experiments"),
        s.experiments,
        "{}: {item:#}",
        s.kind
    );
    assert_eq!(
        flagged(item, "group-targeting"),
        s.group,
        "{}: {item:#}",
        s.kind
    );
}

#[test]
fn new_sources_from_a_file() {
    for s in SOURCES {
        let dir = support::tempdir();
        copy(dir.path(), &[(s.fixture, "flags.json")]);
        let checklist = format!(
            "[flags.x]\nsource = \"{}\"\nfile = \"flags.json\"\n",
            s.kind
        );
        let (r, item) = run(dir.path(), &checklist);
        assert_eq!(r.code, 1, "{}: {}", s.kind, r.all());
        assert_verdicts(s, &item);
    }
}

#[test]
fn new_sources_from_a_loopback_server() {
    for s in SOURCES {
        let server = serve(Answer::Json(200, read_fixture(s.fixture)));
        let dir = support::tempdir();
        let (r, item) = run(dir.path(), &url_item(s, &server.base));
        assert_eq!(r.code, 1, "{}: {}", s.kind, r.all());
        assert_verdicts(s, &item);
        let heads = server.requests.lock().unwrap().join("\n");
        assert!(heads.starts_with(s.request), "{}: {heads}", s.kind);
        assert!(
            heads.to_ascii_lowercase().contains(s.header),
            "{}: {heads}",
            s.kind
        );
        let report = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
        assert!(
            !r.all().contains("s3cr3t") && !report.contains("s3cr3t"),
            "{}",
            s.kind
        );
    }
}

#[test]
fn new_sources_error_on_answers_they_cannot_read() {
    for s in SOURCES {
        let item = |base: &str| url_item(s, base);
        errored_with_item(
            Answer::Json(401, "{\"detail\":\"invalid key\"}".into()),
            "refused the credentials",
            item,
        );
        errored_with_item(
            Answer::Html(200, "<!doctype html><title>Log in</title>".into()),
            "expected JSON, got `text/html",
            item,
        );
        errored_with_item(
            Answer::Json(200, "{\"flags_v2\": {}}".into()),
            "is not a valid",
            item,
        );
        errored_with_item(
            Answer::Json(200, "{\"features\": [".into()),
            "not valid JSON",
            item,
        );
        errored_with_item(Answer::Hang, "no answer within 2s", item);
    }
}

/// A flag file served over HTTPS by a real TLS server (`openssl s_server -WWW`) with a
/// certificate from a private CA: read with `ca`, refused without it (with the reason in
/// words), read with `insecure = true` and a warning that says so.
#[test]
fn an_https_source_is_read_with_its_ca_and_refused_without() {
    let dir = support::tempdir();
    let d = dir.path();
    support::make_certs(d);
    copy(d, &[("experiment-fixed.flagd.json", "flags.json")]);
    let (mut server, port) = support::tls_file_server(d);
    let item = |tls: &str| {
        format!(
            "[flags.released]\nsource = \"flagd\"\nurl = \"https://localhost:{port}/flags.json\"\n{tls}\n"
        )
    };
    let (r, trusted) = run(d, &item("ca = \"ca.pem\""));
    let (_, untrusted) = run(d, &item(""));
    let (_, insecure) = run(d, &item("insecure = true"));
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(outcome(&trusted), "passed", "{}", r.all());
    assert_eq!(outcome(&untrusted), "errored", "{untrusted}");
    let message = untrusted["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("not signed by a trusted certificate authority"),
        "{message}"
    );
    assert_eq!(outcome(&insecure), "passed", "{insecure}");
    assert!(
        insecure["warnings"].to_string().contains("insecure = true"),
        "{insecure}"
    );
}
