//! What the checklist reader and the item kinds share: the value types a checklist is written
//! in (durations, `${var}` templates, regexes, programs), the keys every item has, and the
//! errors a kind reports about its own table. A leaf: it imports nothing else of preflight's
//! but [`crate::suggest`], so `checklist` and `checks` both depend on it and not on each other.

mod item;
pub mod schema;
pub mod template;
mod values;

use std::ops::Range;

pub use item::{Common, ItemConfig, Table};
pub use template::{Scope, Template, TemplateError, Trace, UnquotedSplice};
pub use values::{ByteSize, Dur, OneOrMany, Pattern, Program, Timeout};

/// What a kind finds wrong with its own table once the whole checklist is known
/// ([`crate::checks::Check::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemErrorKind {
    #[error("unknown service `{name}`{}", did_you_mean(suggestion))]
    UnknownService {
        name: String,
        suggestion: Option<String>,
    },
    #[error("{message}")]
    Invalid { message: String },
}

/// An [`ItemErrorKind`] and the place in the checklist it points at.
pub type ItemError = (ItemErrorKind, Option<Range<usize>>);

/// `, did you mean `x`?` when there is a suggestion.
pub fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(", did you mean `{s}`?"))
        .unwrap_or_default()
}
