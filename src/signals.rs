//! Ctrl-C and SIGTERM. The first stops the run gracefully (running items and services get
//! their stop timeouts); the second kills every process of the run now, and preflight still
//! writes its partial reports; a third leaves at once.

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The signals received so far.
#[derive(Clone)]
pub struct Interrupts {
    /// The first signal.
    pub stop: CancellationToken,
    /// The second signal.
    pub kill_now: CancellationToken,
    /// (how many signals so far, the last one's number).
    received: watch::Receiver<(u32, i32)>,
}

impl Interrupts {
    /// Starts listening for SIGINT and SIGTERM.
    pub fn listen() -> Interrupts {
        let stop = CancellationToken::new();
        let kill_now = CancellationToken::new();
        let (tx, received) = watch::channel((0u32, 0i32));
        let (stop2, kill2) = (stop.clone(), kill_now.clone());
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            let mut count = 0;
            loop {
                let signo = tokio::select! {
                    _ = int.recv() => libc::SIGINT,
                    _ = term.recv() => libc::SIGTERM,
                };
                count += 1;
                let _ = tx.send((count, signo));
                match count {
                    1 => stop2.cancel(),
                    2 => {
                        kill2.cancel();
                        crate::leftovers::kill_this_run_now();
                    }
                    _ => std::process::exit(crate::exit::INTERRUPTED),
                }
            }
        });
        Interrupts {
            stop,
            kill_now,
            received,
        }
    }

    /// Waits for the next signal (one received after this call's previous return) and returns
    /// its number and how many came so far.
    pub async fn next(&mut self) -> (i32, u32) {
        if self.received.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        let (count, signo) = *self.received.borrow_and_update();
        (signo, count)
    }

    /// Forgets the signals received so far: [`Self::next`] waits for a new one.
    pub fn mark_seen(&mut self) {
        self.received.borrow_and_update();
    }
}
