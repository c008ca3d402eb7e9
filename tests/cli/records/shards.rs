//! Shards: N runs of `--shard K/N` run every item exactly once, keep an item with what it needs,
//! start services only where there are items, and `merge` gives the full run's verdict; merging
//! reports that do not belong together is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{git, json, repo_with};
use crate::support::{read, run_in_env, tempdir, write};

/// Nine items in five groups joined by `needs`; `FAULT` is replaced by the command of
/// `command.checkout` (a blocking item deep in the largest group).
const CHECKLIST: &str = r#"[checklist]
name = "shop release"
timeout = "20s"

[command.health]
run = "true"

[command.home]
run = "true"
needs = ["command.health"]

[command.checkout]
run = "FAULT"
timeout = "40s"
needs = ["command.home"]

[command.metrics]
run = "true"
needs = ["command.health"]

[command.lint]
run = "true"
timeout = "30s"

[command.docs]
run = "true"
blocking = false

[command.migrations]
run = "true"
timeout = "50s"

[command.rollback]
run = "true"
needs = ["command.migrations"]

[command.changelog]
run = "true"
"#;

/// Outcome by item id.
fn outcomes(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Runs the full checklist and `n` shards of it in `dir`, then merges the shards: returns the
/// full run's exit code and report, the shards' reports and the merge's exit code and report.
fn full_and_shards(
    dir: &Path,
    n: usize,
) -> (
    i32,
    serde_json::Value,
    Vec<serde_json::Value>,
    i32,
    serde_json::Value,
) {
    let full = run_in_env(dir, &["run", "--json", "full.json"], &[]);
    let mut shards = Vec::new();
    let mut files = Vec::new();
    for k in 1..=n {
        let file = format!("shard-{k}.json");
        let r = run_in_env(
            dir,
            &["run", "--shard", &format!("{k}/{n}"), "--json", &file],
            &[],
        );
        assert!(r.code == 0 || r.code == 1, "{}", r.all());
        shards.push(json(&dir.join(&file)));
        files.push(file);
    }
    let mut args = vec!["merge".to_string()];
    args.extend(files);
    args.extend([
        "--json".into(),
        "all.json".into(),
        "--junit".into(),
        "all.xml".into(),
        "--html".into(),
        "all.html".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let merged = run_in_env(dir, &args, &[]);
    // The merged HTML report holds every item of the whole run.
    let html = std::fs::read_to_string(dir.join("all.html")).expect("merged HTML report");
    for item in json(&dir.join("full.json"))["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        assert!(html.contains(&format!("id=\"item-{id}\"")), "{id} missing");
    }
    (
        full.code,
        json(&dir.join("full.json")),
        shards,
        merged.code,
        json(&dir.join("all.json")),
    )
}

fn check_union(full: &serde_json::Value, shards: &[serde_json::Value], merged: &serde_json::Value) {
    // Every item in exactly one shard.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for s in shards {
        for id in outcomes(s).into_keys() {
            *seen.entry(id).or_default() += 1;
        }
    }
    let all: BTreeSet<String> = outcomes(full).into_keys().collect();
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), all);
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    // The merged report is the full run's, item by item, in checklist order.
    assert_eq!(outcomes(merged), outcomes(full));
    let order = |r: &serde_json::Value| -> Vec<String> {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut by_line = order(full);
    let line = |id: &str| CHECKLIST.find(&format!("[{id}]")).unwrap();
    by_line.sort_by_key(|id| line(id));
    assert_eq!(order(merged), by_line);
    assert_eq!(merged["counts"], full["counts"]);
    assert_eq!(merged["gate"], full["gate"]);
    // An item and what it needs are in one shard.
    for s in shards {
        let ids = outcomes(s);
        for need in [
            ("command.checkout", "command.health"),
            ("command.rollback", "command.migrations"),
        ] {
            assert_eq!(
                ids.contains_key(need.0),
                ids.contains_key(need.1),
                "{need:?} split: {ids:?}"
            );
        }
    }
}

#[test]
fn shards_together_run_every_item_once_and_merge_to_the_full_verdict() {
    for (fault, code) in [("true", 0), ("exit 1", 1)] {
        let dir = tempdir();
        repo_with(dir.path(), &CHECKLIST.replace("FAULT", fault));
        for n in [2, 3] {
            let (full_code, full, shards, merged_code, merged) = full_and_shards(dir.path(), n);
            assert_eq!(full_code, code, "{fault}");
            assert_eq!(merged_code, full_code, "{fault}, {n} shards: {merged:#}");
            check_union(&full, &shards, &merged);
            for (k, s) in shards.iter().enumerate() {
                assert_eq!(s["shard"], serde_json::json!({"index": k + 1, "count": n}));
            }
        }
        let xml = read(&dir.path().join("all.xml"));
        assert_eq!(xml.matches("<testcase ").count(), 9, "{xml}");
        assert_eq!(xml.contains("<failure"), code == 1, "{xml}");
    }
}

#[test]
fn shards_balance_by_timeout_or_by_earlier_durations() {
    let dir = tempdir();
    // `command.slow` takes a while; by timeouts it looks like the others.
    let text = "[command.slow]\nrun = \"sleep 0.6\"\n\n[command.a]\nrun = \"true\"\n\n[command.b]\nrun = \"true\"\n\n[command.c]\nrun = \"true\"\n";
    repo_with(dir.path(), text);
    let full = run_in_env(dir.path(), &["run", "--json", "full.json"], &[]);
    assert_eq!(full.code, 0, "{}", full.all());
    let ids = |k: usize, durations: bool| -> BTreeSet<String> {
        let file = format!("s{k}.json");
        let shard = format!("{k}/2");
        let mut args = vec!["run", "--shard", &shard, "--json", &file];
        if durations {
            args.extend(["--durations", "full.json"]);
        }
        let r = run_in_env(dir.path(), &args, &[]);
        assert_eq!(r.code, 0, "{}", r.all());
        outcomes(&json(&dir.path().join(&file)))
            .into_keys()
            .collect()
    };
    // Equal timeouts: two items each.
    assert_eq!((ids(1, false).len(), ids(2, false).len()), (2, 2));
    // By the earlier run's durations, the slow item is worth the three others.
    let (one, two) = (ids(1, true), ids(2, true));
    let alone = if one.contains("command.slow") {
        &one
    } else {
        &two
    };
    assert_eq!(alone.len(), 1, "{one:?} {two:?}");
    let r = run_in_env(
        dir.path(),
        &["run", "--shard", "1/2", "--durations", "missing.json"],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("cannot read `--durations missing.json`"),
        "{}",
        r.all()
    );
}

#[test]
fn a_shard_without_items_starts_no_service() {
    let dir = tempdir();
    let text = "[service.app]\nrun = [\"sh\", \"-c\", \"touch started-$PPID; sleep 30\"]\n\n[command.a]\nrun = \"true\"\n";
    repo_with(dir.path(), text);
    let started = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("started-"))
            .count()
    };
    let r = run_in_env(
        dir.path(),
        &["run", "--shard", "2/2", "--json", "s2.json"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(started(dir.path()), 0, "{}", r.all());
    assert_eq!(
        json(&dir.path().join("s2.json"))["other_shards"],
        serde_json::json!(["command.a"])
    );
    let r = run_in_env(dir.path(), &["run", "--shard", "1/2"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(started(dir.path()), 1, "{}", r.all());
}

#[test]
fn merge_refuses_reports_that_do_not_belong_together() {
    let dir = tempdir();
    repo_with(dir.path(), &CHECKLIST.replace("FAULT", "true"));
    for k in 1..=3 {
        let r = run_in_env(
            dir.path(),
            &[
                "run",
                "--shard",
                &format!("{k}/3"),
                "--json",
                &format!("s{k}.json"),
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{}", r.all());
    }
    let merge = |args: &[&str]| {
        let mut all = vec!["merge"];
        all.extend_from_slice(args);
        run_in_env(dir.path(), &all, &[])
    };
    let r = merge(&["s1.json", "s1.json", "s2.json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("are both shard 1/3"), "{}", r.all());
    // A missing shard: its items did not run, so the gate of the whole is closed.
    let r = merge(&["s1.json", "s3.json", "--json", "part.json"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let part = json(&dir.path().join("part.json"));
    let errored: Vec<&str> = part["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == "errored")
        .map(|i| i["message"].as_str().unwrap())
        .collect();
    assert!(!errored.is_empty(), "{part:#}");
    assert!(
        errored
            .iter()
            .all(|m| *m == "not run: its shard did not report (missing: 2/3)")
    );
    // Overlapping whole runs; another commit; another checklist.
    assert_eq!(
        run_in_env(dir.path(), &["run", "--json", "w1.json"], &[]).code,
        0
    );
    let r = merge(&["w1.json", "w1.json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("is in both `w1.json` and `w1.json`: the reports overlap"),
        "{}",
        r.all()
    );
    write(dir.path(), "NOTES", "next\n");
    git(dir.path(), &["add", "NOTES"]);
    git(dir.path(), &["commit", "-q", "-m", "next"]);
    assert_eq!(
        run_in_env(
            dir.path(),
            &["run", "--shard", "2/3", "--json", "n2.json"],
            &[]
        )
        .code,
        0
    );
    let r = merge(&["s1.json", "n2.json", "s3.json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("are reports of different commits"),
        "{}",
        r.all()
    );
    let changed = CHECKLIST
        .replace("FAULT", "true")
        .replace("shop release", "shop release 2");
    std::fs::write(dir.path().join("preflight.toml"), changed).unwrap();
    git(dir.path(), &["commit", "-q", "-am", "rename"]);
    assert_eq!(
        run_in_env(
            dir.path(),
            &["run", "--shard", "2/3", "--json", "c2.json"],
            &[]
        )
        .code,
        0
    );
    let r = merge(&["n2.json", "c2.json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("are reports of different checklists"),
        "{}",
        r.all()
    );
    // Shards of one checklist and commit run with different profiles.
    let profiled = format!(
        "{}\n[profile.staging]\nchecklist = {{ timeout = \"30s\" }}\n",
        CHECKLIST.replace("FAULT", "true")
    );
    std::fs::write(dir.path().join("preflight.toml"), profiled).unwrap();
    git(dir.path(), &["commit", "-q", "-am", "profile"]);
    for (k, profile) in [(1, None), (2, Some("staging")), (3, Some("staging"))] {
        let file = format!("p{k}.json");
        let mut args = vec!["run", "--shard", &format!("{k}/3"), "--json", &file]
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
        if let Some(p) = profile {
            args.extend(["--profile".to_string(), p.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(run_in_env(dir.path(), &args, &[]).code, 0);
    }
    let r = merge(&["p2.json", "p3.json", "p1.json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains(
            "`p2.json` and `p1.json` are reports of different profiles (`staging` and no profile)"
        ),
        "{}",
        r.all()
    );
    let r = merge(&["nothing.json"]);
    assert_eq!(r.code, 2, "{}", r.all());
}

#[test]
fn a_merged_run_is_attested_like_a_whole_run() {
    let dir = tempdir();
    let head = repo_with(dir.path(), &CHECKLIST.replace("FAULT", "true"));
    for k in 1..=2 {
        let r = run_in_env(
            dir.path(),
            &[
                "run",
                "--shard",
                &format!("{k}/2"),
                "--json",
                &format!("s{k}.json"),
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{}", r.all());
    }
    let r = run_in_env(
        dir.path(),
        &["merge", "s1.json", "s2.json", "--attest", "a.json"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let s = json(&dir.path().join("a.json"));
    assert_eq!(s["predicate"]["result"], "PASSED");
    assert_eq!(s["predicate"]["passedTests"].as_array().unwrap().len(), 9);
    assert_eq!(s["predicate"]["warnedTests"], serde_json::json!([]));
    let ok = run_in_env(
        dir.path(),
        &[
            "verify",
            "a.json",
            "--commit",
            &head,
            "--checklist",
            "preflight.toml",
        ],
        &[],
    );
    assert_eq!(ok.code, 0, "{}", ok.all());
}
