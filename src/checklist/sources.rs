//! The files a checklist is made of (the main file and what it includes), and where a span
//! points.
//!
//! Each file's spans are moved into one space (the file's `start` is added to them), so that
//! values from several files (an included item, a profile's override of it) are read as one
//! document and every error still points into the file the value came from.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use super::error::{self, ChecklistError, ChecklistErrorKind};

/// One file of a checklist.
#[derive(Debug)]
pub struct SourceFile {
    /// As the user named it (the main file), or the including file's directory joined with the
    /// `include` entry.
    pub path: PathBuf,
    pub text: Arc<str>,
    /// Where the file's text begins in the shared span space.
    pub start: usize,
}

/// Every file of a checklist; the main file is the first.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file; returns its index.
    pub fn add(&mut self, path: PathBuf, text: Arc<str>) -> usize {
        // One byte of gap: a span at the very end of a file still belongs to it.
        let start = self.files.last().map_or(0, |f| f.start + f.text.len() + 1);
        self.files.push(SourceFile { path, text, start });
        self.files.len() - 1
    }

    pub fn file(&self, index: usize) -> &SourceFile {
        &self.files[index]
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// The file a shared-space offset falls in.
    pub fn index_at(&self, offset: usize) -> usize {
        self.files
            .iter()
            .rposition(|f| f.start <= offset)
            .unwrap_or(0)
    }

    /// The file of a shared-space span, and the span within that file.
    pub fn locate(&self, span: &Range<usize>) -> (&SourceFile, Range<usize>) {
        let file = &self.files[self.index_at(span.start)];
        let end = span.end.max(span.start) - file.start;
        (file, span.start - file.start..end.min(file.text.len()))
    }

    /// `file:line:col` of a shared-space offset.
    pub fn position(&self, offset: usize) -> String {
        let (file, span) = self.locate(&(offset..offset));
        error::place(&file.path, &file.text, span.start)
    }

    /// The shared-space offset of the first place `needle` is written, in any file.
    pub fn find(&self, needle: &str) -> Option<usize> {
        self.files
            .iter()
            .find_map(|f| f.text.find(needle).map(|at| f.start + at))
    }

    /// An error at a shared-space span (in the main file when it has no place).
    pub fn error(&self, span: Option<Range<usize>>, kind: ChecklistErrorKind) -> ChecklistError {
        let (file, span) = match span {
            Some(s) => {
                let (file, local) = self.locate(&s);
                (file, Some(local))
            }
            None => (&self.files[0], None),
        };
        ChecklistError {
            path: file.path.as_path().into(),
            source_text: Some(file.text.clone()),
            span,
            kind,
            redactor: Default::default(),
        }
    }

    /// A TOML reading error, from a document made of these files.
    pub fn toml_error(&self, e: &toml::de::Error) -> ChecklistError {
        let (file, span) = match e.span() {
            Some(s) => {
                let (file, local) = self.locate(&s);
                (file, Some(local))
            }
            None => (&self.files[0], None),
        };
        error::from_toml(
            file.path.as_path().into(),
            file.text.clone(),
            e.message(),
            span,
        )
    }
}
