//! Dry runs, the previous release's artifact, and a dirty work tree.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use super::{details, message, outcome, released_then, support, write};

#[test]
fn failing_dry_run_fails_with_its_output() {
    let r = released_then(&[("a", "1")], &[("a", "2")]);
    let (code, item, all) = r.check("dry_run = [\"echo rolling back to ${previous_tag}\", \"echo cannot reach db >&2; exit 3\"]\n");
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("dry run `echo cannot reach db >&2; exit 3` failed: exit code 3"),
        "{all}"
    );
    let d = details(&item);
    assert!(
        d.contains("rolling back to v1.0.0") && d.contains("cannot reach db"),
        "{all}"
    );

    let (code, item, all) = r
        .check("dry_run = [[\"sh\", \"-c\", \"test \\\"$PREFLIGHT_PREVIOUS_TAG\\\" = v1.0.0\"]]\n");
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
}

#[test]
fn artifact_file_present_passes_and_missing_fails() {
    let r = released_then(&[("a", "1")], &[("a", "2")]);
    let builds = support::tempdir();
    write(builds.path(), "shop-v1.0.0.tar.gz", "not really a tarball");
    let cfg = format!(
        "artifact = \"{}/shop-${{previous_tag}}.tar.gz\"\n",
        builds.path().display()
    );
    let (code, item, all) = r.check(&cfg);
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert_eq!(item["data"]["artifact"]["present"], true, "{all}");

    std::fs::remove_file(builds.path().join("shop-v1.0.0.tar.gz")).unwrap();
    let (code, item, all) = r.check(&cfg);
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("artifact of v1.0.0")
            && message(&item).contains("shop-v1.0.0.tar.gz` does not exist"),
        "{all}"
    );
}

/// A loopback HTTP server that has exactly one file, `/releases/shop-v1.0.0.tar.gz`; it serves
/// at most `max` requests, then stops.
fn release_server(max: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let _ = reader.read_line(&mut line);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let status = if line.split(' ').nth(1) == Some("/releases/shop-v1.0.0.tar.gz") {
                "200 OK"
            } else {
                "404 Not Found"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 4\r\nconnection: close\r\n\r\n"
            );
            if !line.starts_with("HEAD") {
                let _ = stream.write_all(b"data");
            }
        }
    });
    base
}

#[test]
fn artifact_url_answering_200_passes_and_404_fails() {
    let r = released_then(&[("a", "1")], &[("a", "2")]);
    let base = release_server(4);
    let (code, item, all) = r.check(&format!(
        "artifact = \"{base}/releases/shop-${{previous_tag}}.tar.gz\"\n"
    ));
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    let (code, item, all) = r.check(&format!(
        "artifact = \"{base}/releases/missing-${{previous_tag}}.tar.gz\"\n"
    ));
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(message(&item).contains("answered 404"), "{all}");
}

#[test]
fn uncommitted_changes_are_reported_as_warnings() {
    let r = released_then(&[("a", "1")], &[("a", "2")]);
    r.write("a", "dirty");
    let (code, item, all) = r.check("");
    assert_eq!((code, outcome(&item)), (0, "passed"), "{all}");
    assert!(
        item["warnings"][0]
            .as_str()
            .unwrap_or("")
            .contains("uncommitted changes"),
        "{all}"
    );
    assert_eq!(item["data"]["uncommitted"][0], "a", "{all}");
}

#[test]
fn dry_run_that_hangs_is_killed_at_the_item_timeout() {
    let r = released_then(&[("a", "1")], &[("a", "2")]);
    let (code, item, all) = r.check("timeout = \"1s\"\ndry_run = [\"echo started; sleep 30\"]\n");
    assert_eq!((code, outcome(&item)), (1, "failed"), "{all}");
    assert!(
        message(&item).contains("killed at the item's timeout"),
        "{all}"
    );
    assert!(details(&item).contains("started"), "{all}");
}
