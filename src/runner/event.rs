//! What the runner tells reporters. The runner never prints.

use std::sync::Arc;
use std::time::Duration;

use crate::report::{ItemResult, RunReport};

/// Something that happened during a run.
#[derive(Debug, Clone)]
pub enum Event {
    RunStarted {
        checklist: String,
        /// The `[profile.NAME]` applied.
        profile: Option<String>,
        items: usize,
        jobs: usize,
    },
    ServiceStarting {
        name: String,
    },
    ServiceReady {
        name: String,
        pid: u32,
        after: Duration,
    },
    ServiceFailed {
        name: String,
        message: String,
    },
    ItemStarted {
        id: String,
    },
    ItemRetrying {
        id: String,
        attempt: u32,
        message: String,
    },
    /// Each item's output arrives whole, once, here.
    ItemFinished {
        result: Box<ItemResult>,
        done: usize,
        total: usize,
    },
    Interrupted,
    /// After Ctrl-C: something is being stopped and may take up to `up_to`.
    Stopping {
        what: String,
        up_to: Duration,
    },
    /// Processes that outlived their item or service (they left its process group) and were
    /// stopped at the end of the run.
    LeftBehind {
        processes: Vec<String>,
    },
    RunFinished {
        report: Arc<RunReport>,
    },
}

/// Where the runner sends its events.
pub type EventSender = tokio::sync::mpsc::UnboundedSender<Event>;
