//! Item kinds. Each kind is one module with a configuration struct (declared with
//! [`item_config!`](crate::item_config)) that implements [`Check`].

pub mod browser;
pub mod command;
pub mod flags;
pub mod http;
mod kinds;
pub mod manual;
pub mod rollback;
pub mod soak;
pub mod tls;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use kinds::{KINDS, KindSection, ReadItem, item_schema, section_schema};

use crate::redact::Redactor;
use crate::settings::RunSettings;
use crate::syntax::ItemError;

/// One item kind's behaviour: run one attempt, report what held.
pub trait Check: Any + Send + Sync + fmt::Debug {
    /// Runs one attempt. A check that can tell *why* it ran out of time should enforce
    /// `cx.timeout` itself; the runner stops it shortly after that anyway.
    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, CheckOutput>;

    /// The timeout for this item when the item itself sets none (overrides the checklist's default).
    fn default_timeout(&self) -> Option<Duration> {
        None
    }

    /// Whether `run` returns promptly with what it has so far (a command's output) once
    /// `cx.cancel` fires. The runner then keeps that output for the report of the interrupted
    /// item; other checks are dropped at once.
    fn stops_on_cancel(&self) -> bool {
        false
    }

    /// Checks that need the whole checklist (e.g. that a named service exists).
    fn validate(&self, _cx: &ValidateContext<'_>) -> Result<(), ItemError> {
        Ok(())
    }
}

/// What [`Check::validate`] can see of the checklist.
pub struct ValidateContext<'a> {
    pub services: &'a [String],
}

/// A running service, as the items see it.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub name: String,
    pub pid: u32,
}

/// Whether a check held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The check held.
    Passed,
    /// The check ran and did not hold.
    Failed,
    /// The check could not run (bad target, missing tool, unreadable data).
    Errored,
}

/// The result of one attempt of one item.
#[derive(Debug, Clone)]
pub struct CheckOutput {
    pub status: Status,
    /// One line: what held or what did not.
    pub message: String,
    /// Everything else a person needs to see (multi-line; goes to `<system-out>`).
    pub details: String,
    /// Findings that do not fail the item.
    pub warnings: Vec<String>,
    /// Files written for this attempt (absolute paths).
    pub artifacts: Vec<PathBuf>,
    /// Figures for the JSON report and JUnit `<properties>` (name, value).
    pub properties: Vec<(String, String)>,
    /// Kind-specific structured results for the JSON report.
    pub data: serde_json::Value,
}

impl CheckOutput {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        CheckOutput {
            status,
            message: message.into(),
            details: String::new(),
            warnings: Vec::new(),
            artifacts: Vec::new(),
            properties: Vec::new(),
            data: serde_json::Value::Null,
        }
    }
    pub fn passed(message: impl Into<String>) -> Self {
        Self::new(Status::Passed, message)
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Status::Failed, message)
    }
    pub fn errored(message: impl Into<String>) -> Self {
        Self::new(Status::Errored, message)
    }
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }
    pub fn with_property(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.properties.push((name.into(), value.to_string()));
        self
    }
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
}

/// Everything an attempt may use. Checks never print: they return a [`CheckOutput`].
pub struct CheckContext {
    /// `kind.name`.
    pub id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub timeout: Duration,
    pub settings: Arc<RunSettings>,
    /// Services started for this run, by name.
    pub services: Arc<HashMap<String, ServiceInfo>>,
    pub redactor: Arc<Redactor>,
    /// Cancelled on Ctrl-C; long checks should stop promptly (dropping their futures is enough
    /// when every child process is held by a [`crate::process::ProcessGroup`]).
    pub cancel: CancellationToken,
    pub resources: Arc<Resources>,
    pub prompter: Arc<dyn Prompter>,
}

impl CheckContext {
    /// This item's artifact directory (created on first use).
    pub fn artifact_dir(&self) -> std::io::Result<PathBuf> {
        let dir = self.settings.artifacts_dir.join(sanitize(&self.id));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Writes an artifact for this item, with secrets redacted from text content.
    pub fn write_artifact(&self, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.artifact_dir()?.join(sanitize(name));
        match std::str::from_utf8(bytes) {
            Ok(text) => std::fs::write(&path, self.redactor.redact(text).as_bytes())?,
            Err(_) => std::fs::write(&path, bytes)?,
        }
        Ok(path)
    }

    /// The directory relative paths in the checklist are resolved against.
    pub fn base_dir(&self) -> &Path {
        &self.settings.checklist_dir
    }
}

/// A file-name-safe form of `s`.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Asks a person to confirm a manual item.
pub trait Prompter: Send + Sync {
    /// `Some(answer)` when a person could be asked; `None` when there is no terminal.
    fn confirm<'a>(&'a self, question: &'a str) -> BoxFuture<'a, Option<bool>>;
}

/// Something several items of a run share (a WebDriver server, a connection pool), created by
/// the first item that needs it and shut down by the runner when the run ends.
pub trait RunResource: Any + Send + Sync {
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

type ResourceCell = tokio::sync::OnceCell<Arc<dyn Any + Send + Sync>>;

/// The run's shared [`RunResource`]s, one per type.
#[derive(Default)]
pub struct Resources {
    cells: Mutex<HashMap<TypeId, Arc<ResourceCell>>>,
    shutdown: Mutex<Vec<Arc<dyn RunResource>>>,
}

impl Resources {
    /// The shared `T`, created by `init` on first use. A failed `init` is not cached, so each
    /// item gets its own error.
    pub async fn get_or_try_init<T, E, F>(&self, init: F) -> Result<Arc<T>, E>
    where
        T: RunResource,
        F: std::future::Future<Output = Result<T, E>>,
    {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(TypeId::of::<T>())
            .or_default()
            .clone();
        let any = cell
            .get_or_try_init(|| async {
                let value = Arc::new(init.await?);
                self.shutdown
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(value.clone());
                Ok::<_, E>(value as Arc<dyn Any + Send + Sync>)
            })
            .await?
            .clone();
        Ok(any
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("one type per TypeId")))
    }

    /// Shuts every resource down, last created first.
    pub async fn shutdown_all(&self) {
        let all: Vec<_> =
            std::mem::take(&mut *self.shutdown.lock().unwrap_or_else(|e| e.into_inner()));
        for r in all.into_iter().rev() {
            r.shutdown().await;
        }
    }
}
