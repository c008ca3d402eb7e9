//! `[flags.NAME]`: audits the feature-flag state production will run with.
//!
//! Every source (flagd file, OFREP probe, Unleash, LaunchDarkly, a plain file) is normalised
//! into one model ([`Flag`]); the rules (experiments off, no narrow targeting on unreleased
//! flags, allowlist, drift from the last snapshot, age, code references) run on that model.

mod age;
mod coderefs;
mod config;
pub mod configcat;
mod document;
pub mod flagd;
pub mod flagsmith;
pub mod growthbook;
mod http;
mod jsonlogic;
pub mod launchdarkly;
mod model;
pub mod ofrep;
pub mod plain;
pub mod posthog;
mod report;
mod rules;
pub mod snapshot;
mod targeting;
pub mod unleash;
mod yaml;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;

use super::{Check, CheckContext, CheckOutput, ValidateContext};
use crate::syntax::ItemErrorKind;

pub use config::*;
pub use model::*;
pub use report::report;
pub use rules::*;
pub use snapshot::{LockFile, lock_file};

/// Why flags could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("`{what}` is not a valid {format}: {message}")]
    Parse {
        what: String,
        format: String,
        message: String,
    },
    #[error("{what}: {message}")]
    Http { what: String, message: String },
    #[error("{what}: no answer within {after}")]
    Timeout { what: String, after: String },
}

/// The flags of one source.
#[derive(Debug, Default)]
pub struct Loaded {
    pub flags: Vec<Flag>,
    /// `flagd file flags.json`, `OFREP http://...`.
    pub origin: String,
    /// The file read, for git dating.
    pub file: Option<PathBuf>,
    /// The raw document(s), kept as an artifact.
    pub raw: Vec<u8>,
    /// Non-fatal remarks (flags the source could not evaluate, ...).
    pub notes: Vec<String>,
}

/// What a source loader may use.
pub struct SourceCx<'a> {
    pub base_dir: &'a Path,
    pub timeout: Duration,
    pub client: reqwest::Client,
}

impl FlagsItem {
    fn settings(&self) -> ParseSettings {
        ParseSettings::from_item(self)
    }

    fn file_path(&self, base: &Path) -> Option<PathBuf> {
        self.file.as_ref().map(|f| base.join(f.as_str()))
    }

    /// The source's URL (`validate` guarantees one for URL sources; this keeps it an error).
    fn base_url(&self) -> Result<reqwest::Url, SourceError> {
        self.url
            .as_ref()
            .map(|u| u.0.clone())
            .ok_or_else(|| SourceError::Read {
                path: "?".into(),
                message: "no file or url".into(),
            })
    }

    /// The document format of a source read from a file or one `GET`.
    fn document(&self) -> Option<&'static document::Document> {
        Some(match *self.source.get_ref() {
            SourceKind::Flagd => &flagd::DOCUMENT,
            SourceKind::Unleash => &unleash::DOCUMENT,
            SourceKind::Launchdarkly => &launchdarkly::DOCUMENT,
            SourceKind::Posthog => &posthog::DOCUMENT,
            SourceKind::Growthbook => &growthbook::DOCUMENT,
            SourceKind::Flagsmith => &flagsmith::DOCUMENT,
            SourceKind::Configcat => &configcat::DOCUMENT,
            SourceKind::Ofrep | SourceKind::Plain => return None,
        })
    }

    /// Reads the flags from the configured source.
    pub async fn load(&self, cx: &SourceCx<'_>) -> Result<Loaded, SourceError> {
        let settings = self.settings();
        match (self.document(), *self.source.get_ref()) {
            (Some(doc), _) => doc.load(self, cx, &settings).await,
            (None, SourceKind::Ofrep) => ofrep::load(self, cx, &settings).await,
            (None, _) => plain::load(self, cx, &settings).await,
        }
    }

    /// Parses a document of this item's (file) source: used to date keys by git history.
    fn parse_bytes(&self, path: &Path, bytes: &[u8]) -> Option<Vec<Flag>> {
        let settings = self.settings();
        let text = std::str::from_utf8(bytes).ok()?;
        match (self.document(), *self.source.get_ref()) {
            (Some(doc), _) => doc.parse_text(text, path, &settings).ok(),
            (None, SourceKind::Plain) => plain::parse_text(self, text, path).ok(),
            (None, _) => None,
        }
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Check for FlagsItem {
    fn default_timeout(&self) -> Option<Duration> {
        Some(DEFAULT_TIMEOUT)
    }

    fn validate(&self, _cx: &ValidateContext<'_>) -> Result<(), crate::syntax::ItemError> {
        let kind = *self.source.get_ref();
        let span = Some(self.source.span());
        let invalid = |message: String| (ItemErrorKind::Invalid { message }, span.clone());
        match (kind, self.file.is_some(), self.url.is_some()) {
            (_, true, true) => {
                return Err(invalid(format!(
                    "source `{kind}`: give either `file` or `url`, not both"
                )));
            }
            (SourceKind::Ofrep, _, false) => {
                return Err(invalid(
                    "source `ofrep` needs `url`: the OFREP base URL, like \"${base}\"".into(),
                ));
            }
            (SourceKind::Plain, false, _) => {
                return Err(invalid("source `plain` needs `file`".into()));
            }
            (_, false, false) => {
                return Err(invalid(format!("source `{kind}` needs `file` or `url`")));
            }
            _ => {}
        }
        self.tls().check().map_err(invalid)?;
        if kind != SourceKind::Ofrep && (self.baseline.is_some() || !self.contexts.is_empty()) {
            return Err(invalid(format!(
                "`baseline` and `contexts` are for source `ofrep`, not `{kind}`"
            )));
        }
        if kind != SourceKind::Plain && (self.pointer.is_some() || self.key_pattern.is_some()) {
            return Err(invalid(format!(
                "`pointer` and `key_pattern` are for source `plain`, not `{kind}`"
            )));
        }
        Ok(())
    }

    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move {
            let tls = self.tls();
            let client = match http::client(cx.timeout, &tls, cx.base_dir()) {
                Ok(c) => c,
                Err(e) => return CheckOutput::errored(e),
            };
            let scx = SourceCx {
                base_dir: cx.base_dir(),
                timeout: cx.timeout,
                client,
            };
            let loaded = match self.load(&scx).await {
                Ok(l) => l,
                Err(e) => return CheckOutput::errored(e.to_string()),
            };
            let mut artifacts = Vec::new();
            if !loaded.raw.is_empty()
                && let Ok(p) = cx.write_artifact("flags-source.json", &loaded.raw)
            {
                artifacts.push(p);
            }
            let audit = match self.audit(&loaded, cx.base_dir(), Utc::now()) {
                Ok(a) => a,
                Err(e) => return CheckOutput::errored(e.0),
            };
            let mut out = report(&loaded, &audit);
            out.artifacts = artifacts;
            if self.url.is_some()
                && let Some(w) = tls.warning()
            {
                out.warnings.push(w);
                out = out.with_property("tls", "insecure");
            }
            out
        })
    }
}
