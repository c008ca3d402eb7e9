//! `[browser.NAME]`: a user journey in a real browser over WebDriver; fails when any run of it
//! cannot be completed. `[browser]` itself also holds the run's browser settings.

mod actions;
pub mod driver;
mod expect;
mod keys;
mod page;
mod parse;
mod report;
mod run;
pub mod step;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use toml::Spanned;

use super::{Check, CheckContext, CheckOutput};
use crate::syntax::{Dur, Template};
use driver::LocalDriver;
use run::Endpoint;
use step::{Action, Step};

/// The settings keys of `[browser]`; every other key is an item.
pub const SETTINGS_KEYS: &[&str] = &[
    "base_url",
    "webdriver_url",
    "headed",
    "window_size",
    "browser",
    "binary",
    "driver",
];

/// Default time one step may take to hold (element lookups and expectations poll up to it).
const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a `goto` may take to load its page (a cold browser under load is slow).
const DEFAULT_GOTO_TIMEOUT: Duration = Duration::from_secs(30);

/// Run-wide browser settings (`[browser]`; `--webdriver-url` overrides `webdriver_url`).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowserSettings {
    /// What a `goto` that is a path (`/products`) is joined to.
    #[serde(default)]
    pub base_url: Option<Template>,
    /// A remote WebDriver (Selenium Grid, a cloud grid); else a local driver is started.
    #[serde(default)]
    pub webdriver_url: Option<Template>,
    /// Show the browser window (local debugging); default headless.
    #[serde(default)]
    pub headed: bool,
    /// `WIDTHxHEIGHT`, default `1280x800`.
    #[serde(default)]
    pub window_size: Option<WindowSize>,
    /// `chromium` / `chrome` (the default).
    #[serde(default)]
    #[schemars(extend("enum" = ["chromium", "chrome"]))]
    pub browser: Option<String>,
    /// The browser executable (default: `chromium`/`google-chrome` on PATH).
    #[serde(default)]
    pub binary: Option<Template>,
    /// The driver executable (default: `chromedriver` on PATH).
    #[serde(default)]
    pub driver: Option<Template>,
}

impl BrowserSettings {
    pub fn window_size(&self) -> (u32, u32) {
        self.window_size
            .as_ref()
            .map(|w| (w.0, w.1))
            .unwrap_or((1280, 800))
    }
}

/// `1280x800`.
#[derive(Debug, Clone, Copy)]
pub struct WindowSize(pub u32, pub u32);

crate::string_schema!(
    WindowSize,
    "WindowSize",
    "WIDTHxHEIGHT, like `1280x800`",
    "pattern": r"^\s*[0-9]+\s*[xX,]\s*[0-9]+\s*$"
);

impl<'de> Deserialize<'de> for WindowSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let parsed = s
            .split_once(['x', 'X', ','])
            .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
            .filter(|(w, h)| (100..=10_000).contains(w) && (100..=10_000).contains(h));
        parsed.map(|(w, h)| WindowSize(w, h)).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid window_size `{s}`: expected WIDTHxHEIGHT like `1280x800`"
            ))
        })
    }
}

/// The `[browser]` table: settings keys go to [`BrowserSettings`], every other key is a
/// `[browser.NAME]` item. Deserialized inside the TOML map visitor so that errors keep spans.
#[derive(Debug, Default)]
pub struct BrowserSection {
    pub settings: Arc<BrowserSettings>,
    pub items: IndexMap<Spanned<String>, BrowserItem>,
}

impl<'de> Deserialize<'de> for BrowserSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BrowserSection;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of browser settings and `[browser.NAME]` journeys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BrowserSection, A::Error> {
                let mut settings = BrowserSettings::default();
                let mut items = IndexMap::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let name = key.get_ref().as_str();
                    match name {
                        "base_url" => {
                            let url: Template = map.next_value()?;
                            crate::checks::http::parse_http_url(&url).map_err(de::Error::custom)?;
                            settings.base_url = Some(url);
                        }
                        "webdriver_url" => settings.webdriver_url = Some(map.next_value()?),
                        "headed" => settings.headed = map.next_value()?,
                        "window_size" => settings.window_size = Some(map.next_value()?),
                        "browser" => {
                            let b: String = map.next_value()?;
                            if !matches!(b.as_str(), "chrome" | "chromium") {
                                return Err(de::Error::custom(format!(
                                    "unsupported browser `{b}`: use `chromium` or `chrome` (or a `webdriver_url` that provides another)"
                                )));
                            }
                            settings.browser = Some(b);
                        }
                        "binary" => settings.binary = Some(map.next_value()?),
                        "driver" => settings.driver = Some(map.next_value()?),
                        _ => {
                            let item = map.next_value_seed(ItemSeed {
                                key: name.to_string(),
                            })?;
                            items.insert(key, item);
                        }
                    }
                }
                let settings = Arc::new(settings);
                for item in items.values_mut() {
                    item.settings = settings.clone();
                }
                Ok(BrowserSection { settings, items })
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads one `[browser.NAME]` table; a non-table value under `[browser]` is a misspelt setting.
struct ItemSeed {
    key: String,
}

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = BrowserItem;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<BrowserItem, D::Error> {
        struct V(String);
        impl V {
            fn not_a_setting<E: de::Error>(&self) -> E {
                let hint = crate::suggest::closest(&self.0, SETTINGS_KEYS.iter().copied())
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                E::custom(format!(
                    "unknown browser setting `{}`: {hint}settings are {}; a journey is a table `[browser.{}]`",
                    self.0,
                    SETTINGS_KEYS
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.0
                ))
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = BrowserItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a `[browser.NAME]` table")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BrowserItem, A::Error> {
                BrowserItem::deserialize(de::value::MapAccessDeserializer::new(map))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<BrowserItem, E> {
                Err(self.not_a_setting())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<BrowserItem, E> {
                Err(self.not_a_setting())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<BrowserItem, E> {
                Err(self.not_a_setting())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<BrowserItem, E> {
                Err(self.not_a_setting())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<BrowserItem, A::Error> {
                Err(self.not_a_setting())
            }
        }
        d.deserialize_any(V(self.key))
    }
}

crate::item_config! {
    /// A journey through the app in a real browser.
    pub struct BrowserItem {
        pub steps: Vec<Step>,
        /// Run the journey this many times (each in a fresh session); default 1.
        #[serde(default)]
        #[schemars(with = "Option<u32>")]
        pub repeat: Option<Spanned<u32>>,
        /// At most this many sessions of this journey at once; default 1.
        #[serde(default)]
        #[schemars(with = "Option<u32>")]
        pub parallel: Option<Spanned<u32>>,
        /// Time one step may take; default 10s.
        #[serde(default)]
        pub step_timeout: Option<Dur>,
        #[serde(skip)]
        pub settings: Arc<BrowserSettings>,
    }
}

impl BrowserItem {
    pub(crate) fn repeat(&self) -> u32 {
        self.repeat.as_ref().map(|r| *r.get_ref()).unwrap_or(1)
    }
    pub(crate) fn parallel(&self) -> u32 {
        self.parallel
            .as_ref()
            .map(|p| *p.get_ref())
            .unwrap_or(1)
            .min(self.repeat())
    }
}

impl Check for BrowserItem {
    fn default_timeout(&self) -> Option<Duration> {
        // A journey run costs a session (~1 s) and its steps; leave room for slow CI machines.
        let rounds = self.repeat().div_ceil(self.parallel().max(1));
        Some(Duration::from_secs(60).max(Duration::from_secs(30) * rounds))
    }

    fn validate(&self, _cx: &super::ValidateContext<'_>) -> Result<(), crate::syntax::ItemError> {
        use crate::syntax::ItemErrorKind::Invalid;
        if self.steps.is_empty() {
            return Err((
                Invalid {
                    message: "a browser journey needs at least one step in `steps`".into(),
                },
                None,
            ));
        }
        if self.settings.base_url.is_none()
            && let Some(step) = self
                .steps
                .iter()
                .find(|s| matches!(&s.action, Action::Goto(u) if parse::is_relative_url(u)))
        {
            return Err((
                Invalid {
                    message: format!(
                        "`goto = \"{}\"` is a path: set `base_url` under `[browser]` to the app's address (`base_url = \"http://127.0.0.1:8000\"`)",
                        step.action.target()
                    ),
                },
                step.span.clone(),
            ));
        }
        for (key, v) in [("repeat", &self.repeat), ("parallel", &self.parallel)] {
            if let Some(v) = v
                && (*v.get_ref() == 0 || *v.get_ref() > 1000)
            {
                return Err((
                    Invalid {
                        message: format!("`{key}` must be between 1 and 1000"),
                    },
                    Some(v.span()),
                ));
            }
        }
        Ok(())
    }

    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput> {
        Box::pin(async move {
            // The item's timeout counts from here: starting the driver is part of it.
            let started = Instant::now();
            let remote = cx
                .settings
                .webdriver_url
                .clone()
                .or_else(|| self.settings.webdriver_url.as_ref().map(|u| u.to_string()));
            let endpoint = match remote {
                Some(url) => Endpoint::Remote(url.trim_end_matches('/').to_string()),
                None => {
                    let settings = self.settings.clone();
                    let init = async move { LocalDriver::start(&settings).await };
                    match cx
                        .resources
                        .get_or_try_init::<LocalDriver, String, _>(init)
                        .await
                    {
                        Ok(d) => Endpoint::Local(d),
                        Err(e) => return CheckOutput::errored(e),
                    }
                }
            };
            run::run_all(self, cx, endpoint, started).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> Result<BrowserSection, String> {
        #[derive(Deserialize)]
        struct W {
            browser: BrowserSection,
        }
        toml::from_str::<W>(text)
            .map(|w| w.browser)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn routes_settings_and_items() {
        let s = section(
            r#"
[browser]
headed = true
window_size = "800x600"
[browser.a]
steps = [{ goto = "http://127.0.0.1:1/" }]
repeat = 3
[browser.b]
steps = [{ click = "text=Go" }]
"#,
        )
        .unwrap();
        assert!(s.settings.headed);
        assert_eq!(s.settings.window_size(), (800, 600));
        assert_eq!(s.items.len(), 2);
        assert!(s.items.values().all(|i| i.settings.headed));
    }

    #[test]
    fn a_misspelt_setting_says_so_with_its_place() {
        let err = section("[browser]\nheadles = true\n").unwrap_err();
        assert!(err.contains("unknown browser setting `headles`"), "{err}");
        assert!(err.contains("did you mean `headed`"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = section("[browser.a]\nsteps = [{ clik = \"x\" }]\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        let err = section("[browser]\nwindow_size = \"big\"\n").unwrap_err();
        assert!(err.contains("WIDTHxHEIGHT"), "{err}");
    }
}
