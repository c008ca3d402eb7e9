//! A flag document read from the item's `file`, or fetched with `GET url`: the part the flagd,
//! Unleash and LaunchDarkly sources share.

use std::path::Path;

use serde_json::Value;

use super::http::{self, Request};
use super::{AuthScheme, Flag, FlagsItem, Loaded, ParseSettings, SourceCx, SourceError};

/// How one source's documents are named, fetched and parsed.
pub(super) struct Document {
    /// What the document is, for error messages ("Unleash client features response").
    pub format: &'static str,
    /// The source's name in a report ("Unleash").
    pub name: &'static str,
    /// Where the file form comes from ("export" or "file").
    pub file_word: &'static str,
    /// How the token is sent unless the item says otherwise.
    pub auth: AuthScheme,
    pub parse: fn(&Value, &ParseSettings) -> Result<Vec<Flag>, String>,
    /// The endpoint fetched for the item's `url`.
    pub endpoint: fn(reqwest::Url) -> reqwest::Url,
    /// Added to the report's description of the source.
    pub note: fn(&ParseSettings) -> String,
}

/// The URL as given.
pub(super) fn as_given(url: reqwest::Url) -> reqwest::Url {
    url
}

/// No note.
pub(super) fn no_note(_: &ParseSettings) -> String {
    String::new()
}

/// `base` unless its path already ends with one of `endpoints`, else `base` + `default`.
pub(super) fn endpoint_or(base: reqwest::Url, endpoints: &[&str], default: &str) -> reqwest::Url {
    let path = base.path().trim_end_matches('/');
    if endpoints
        .iter()
        .any(|e| path.ends_with(e.trim_end_matches('/')))
    {
        base
    } else {
        http::join(&base, default)
    }
}

impl Document {
    /// Parses `text`: YAML when the file name says so, else JSON.
    pub fn parse_text(
        &self,
        text: &str,
        path: &Path,
        settings: &ParseSettings,
    ) -> Result<Vec<Flag>, SourceError> {
        let err = |message: String| SourceError::Parse {
            what: path.display().to_string(),
            format: self.format.into(),
            message,
        };
        let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        let doc: Value = if yaml {
            super::yaml::to_json(text).map_err(err)?
        } else {
            serde_json::from_str(text).map_err(|e| err(e.to_string()))?
        };
        (self.parse)(&doc, settings).map_err(err)
    }

    /// Reads the item's `file`, or fetches its `url` (turned into the endpoint by `endpoint`).
    pub async fn load(
        &self,
        item: &FlagsItem,
        cx: &SourceCx<'_>,
        settings: &ParseSettings,
    ) -> Result<Loaded, SourceError> {
        let note = (self.note)(settings);
        if let Some(path) = item.file_path(cx.base_dir) {
            let text = http::read_file(&path)?;
            let flags = self.parse_text(&text, &path, settings)?;
            return Ok(Loaded {
                flags,
                origin: format!("{} {} {}{note}", self.name, self.file_word, path.display()),
                file: Some(path),
                raw: text.into_bytes(),
                notes: Vec::new(),
            });
        }
        let base = item.base_url()?;
        let url = (self.endpoint)(base);
        let req = Request {
            method: reqwest::Method::GET,
            url: url.clone(),
            token: item.token.as_deref(),
            auth: item.auth.unwrap_or(self.auth),
            body: None,
        };
        let (doc, raw) = http::fetch_json(&cx.client, req, cx.timeout).await?;
        let flags = (self.parse)(&doc, settings).map_err(|message| SourceError::Parse {
            what: url.to_string(),
            format: self.format.into(),
            message,
        })?;
        Ok(Loaded {
            flags,
            origin: format!("{} {url}{note}", self.name),
            file: None,
            raw,
            notes: Vec::new(),
        })
    }
}
