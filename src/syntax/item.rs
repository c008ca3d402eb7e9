//! An item's table: the keys every item has, and the macro that declares a kind's configuration.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::Dur;

/// An item's table. Rejects `[[kind.name]]` (an array of tables) with a message that says so;
/// a derived struct would otherwise accept it as a sequence and fail confusingly.
#[derive(Debug)]
pub struct Table<C>(pub C);

impl<'de, C: Deserialize<'de>> Deserialize<'de> for Table<C> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<C>(std::marker::PhantomData<C>);
        impl<'de, C: Deserialize<'de>> Visitor<'de> for V<C> {
            type Value = Table<C>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table `[kind.name]`")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                C::deserialize(de::value::MapAccessDeserializer::new(map)).map(Table)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::custom(
                    "expected a table `[kind.name]`, found an array of tables `[[kind.name]]`: item names must be unique",
                ))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The keys every item has, whatever its kind.
#[derive(Debug, Clone, Default)]
pub struct Common {
    pub description: Option<String>,
    pub timeout: Option<Dur>,
    pub retries: u32,
    pub retry_delay: Option<Dur>,
    pub needs: Vec<Spanned<String>>,
    pub tags: Vec<String>,
    pub blocking: bool,
}

/// An item kind's configuration table: its own keys plus the [`Common`] ones.
pub trait ItemConfig {
    fn common(&self) -> Common;
}

/// Declares an item kind's configuration struct: its own fields plus the common item keys
/// (`description`, `timeout`, `retries`, `retry_delay`, `needs`, `tags`, `blocking`), with
/// `deny_unknown_fields`, and its JSON Schema (`preflight schema`; a field whose type has none,
/// like `toml::Spanned<T>`, says `#[schemars(with = "T")]`). (serde's `flatten` would lose both
/// `deny_unknown_fields` and spans.) `item_config! { tls; pub struct ... }` adds the TLS keys
/// (`ca`, `insecure`, `client_cert`, `client_key`) and `tls()`.
#[macro_export]
macro_rules! item_config {
    // `tls;` first: the item also has the TLS keys of its HTTP client and a `tls()` reading them.
    (
        tls;
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $crate::item_config! {
            $(#[$meta])*
            pub struct $name {
                $( $(#[$fmeta])* pub $field : $ty, )*
                /// A PEM bundle of CA certificates trusted in addition to the system's.
                #[serde(default)]
                pub ca: Option<$crate::syntax::Template>,
                /// Do not verify certificates (named in the report).
                #[serde(default)]
                pub insecure: Option<bool>,
                /// A PEM client certificate, for servers that ask for one (with `client_key`).
                #[serde(default)]
                pub client_cert: Option<$crate::syntax::Template>,
                /// The client certificate's PEM private key.
                #[serde(default)]
                pub client_key: Option<$crate::syntax::Template>,
            }
        }

        impl $name {
            /// The TLS settings of the item's HTTP clients.
            pub fn tls(&self) -> $crate::checks::tls::TlsOptions {
                $crate::checks::tls::TlsOptions::from_keys(
                    &self.ca,
                    self.insecure,
                    &self.client_cert,
                    &self.client_key,
                )
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// What the item checks, for people reading the report.
            #[serde(default)]
            pub description: Option<String>,
            /// Time allowed for one attempt.
            #[serde(default)]
            pub timeout: Option<$crate::syntax::Timeout>,
            /// Attempts after the first one failed.
            #[serde(default)]
            pub retries: u32,
            /// Pause between attempts.
            #[serde(default)]
            pub retry_delay: Option<$crate::syntax::Dur>,
            /// Items that must pass before this one runs (ids like `http.health`).
            #[serde(default)]
            #[schemars(with = "Vec<String>")]
            pub needs: Vec<toml::Spanned<String>>,
            /// Labels for `--only`/`--skip`.
            #[serde(default)]
            pub tags: Vec<String>,
            /// `false`: a failure warns but does not fail the gate.
            #[serde(default)]
            pub blocking: Option<bool>,
        }

        impl $crate::syntax::ItemConfig for $name {
            fn common(&self) -> $crate::syntax::Common {
                $crate::syntax::Common {
                    description: self.description.clone(),
                    timeout: self.timeout.map(|t| t.0),
                    retries: self.retries,
                    retry_delay: self.retry_delay,
                    needs: self.needs.clone(),
                    tags: self.tags.clone(),
                    blocking: self.blocking.unwrap_or(true),
                }
            }
        }
    };
}
