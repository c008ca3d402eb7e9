//! Whether the previous release's build still exists (a file or an http(s) URL).

use std::path::Path;
use std::time::Duration;

use super::report::ArtifactStatus;

/// Whether the artifact at `location` (a path relative to `base`, or an http(s) URL) exists.
pub async fn artifact_status(base: &Path, location: &str, timeout: Duration) -> ArtifactStatus {
    let status = |present: bool, detail: String| ArtifactStatus {
        location: location.to_string(),
        present,
        detail,
    };
    if location.starts_with("http://") || location.starts_with("https://") {
        let url = match crate::checks::http::parse_http_url(location) {
            Ok(u) => u,
            Err(e) => return status(false, e),
        };
        let client = match reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout.min(Duration::from_secs(30)))
            .redirect(reqwest::redirect::Policy::limited(10))
            .user_agent(concat!("preflight/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => c,
            Err(e) => return status(false, format!("cannot build an HTTP client: {e}")),
        };
        let mut answer = client.head(url.clone()).send().await;
        // Some servers (and object stores behind signed URLs) refuse HEAD: ask with GET then,
        // without reading the body.
        if answer
            .as_ref()
            .is_ok_and(|r| matches!(r.status().as_u16(), 403 | 405 | 501))
        {
            answer = client.get(url).send().await;
        }
        return match answer {
            Ok(r) if r.status().is_success() => {
                let size = r
                    .content_length()
                    .map(|n| format!(", {n} bytes"))
                    .unwrap_or_default();
                status(true, format!("{} answered {}{size}", location, r.status()))
            }
            Ok(r) => status(false, format!("`{location}` answered {}", r.status())),
            Err(e) => status(
                false,
                format!("`{location}` could not be fetched: {}", root_cause(&e)),
            ),
        };
    }
    let path = base.join(location);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() && m.len() == 0 => {
            status(false, format!("`{}` is empty", path.display()))
        }
        Ok(m) if m.is_file() => status(true, format!("present ({} bytes)", m.len())),
        Ok(_) => status(true, "present (a directory)".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            status(false, format!("`{}` does not exist", path.display()))
        }
        Err(e) => status(false, format!("`{}` cannot be read: {e}", path.display())),
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
