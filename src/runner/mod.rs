//! Runs a [`Plan`]: services first, then items concurrently (bounded by `jobs`, ordered by
//! `needs`), with timeouts, retries, `--fail-fast` and Ctrl-C. Emits [`Event`]s; never prints.

pub mod event;
pub mod service;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

pub use event::{Event, EventSender};

use crate::checklist::Checklist;
use crate::checks::ServiceInfo;
use crate::checks::{CheckContext, CheckOutput, Prompter, Resources, Status};
use crate::plan::{Plan, PlannedItem};
use crate::redact::Redactor;
use crate::report::{Attempt, ItemResult, Outcome, RunReport, ServiceRecord};
use crate::settings::RunSettings;

/// Extra time the runner gives a check past its timeout before dropping it, so that a check
/// that enforces its own timeout can say precisely what did not answer.
const TIMEOUT_GRACE: Duration = Duration::from_secs(1);

/// Runs checklists.
pub struct Runner {
    pub settings: Arc<RunSettings>,
    pub redactor: Arc<Redactor>,
    pub prompter: Arc<dyn Prompter>,
    pub events: EventSender,
    /// Ctrl-C.
    pub cancel: CancellationToken,
    /// A second Ctrl-C: stop waiting for anything to end gracefully.
    pub kill_now: CancellationToken,
}

/// How long an interrupted check may take to hand back what it has (a command's output so
/// far) before it is dropped.
const PARTIAL_GRACE: Duration = Duration::from_secs(3);

/// How long processes left behind by items and services get after SIGTERM at the end of a run.
const LEFTOVER_GRACE: Duration = Duration::from_secs(2);

impl Runner {
    fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    /// Runs `plan` and returns the report (also when interrupted).
    pub async fn run(&self, checklist: &Checklist, plan: Plan) -> RunReport {
        let started_at = Utc::now();
        let started = Instant::now();
        let shard = self.settings.shard.as_ref().map(|s| s.shard);
        self.emit(Event::RunStarted {
            checklist: match shard {
                Some(shard) => format!("{} (shard {shard})", checklist.name),
                None => checklist.name.clone(),
            },
            profile: checklist.profile.clone(),
            items: plan.items.len(),
            jobs: plan.jobs,
        });

        let mut services = Vec::new();
        let mut records = Vec::new();
        let mut infos = HashMap::new();
        let mut service_error: Option<String> = None;
        let needed = !plan.items.is_empty();
        for def in checklist.services.iter().filter(|_| needed) {
            self.emit(Event::ServiceStarting {
                name: def.name.clone(),
            });
            match service::start(
                def,
                &self.settings.checklist_dir,
                &self.settings.artifacts_dir,
                self.redactor.clone(),
                &self.cancel,
            )
            .await
            {
                Ok((svc, after)) => {
                    let pid = svc.group.pid();
                    self.emit(Event::ServiceReady {
                        name: def.name.clone(),
                        pid,
                        after,
                    });
                    infos.insert(
                        def.name.clone(),
                        ServiceInfo {
                            name: def.name.clone(),
                            pid,
                        },
                    );
                    records.push(ServiceRecord {
                        name: def.name.clone(),
                        pid: Some(pid),
                        ready_after: Some(after),
                        error: None,
                        log: Some(svc.log_path.clone()),
                        stopped: None,
                    });
                    services.push(svc);
                }
                Err(e) => {
                    let message = self.redactor.redact(&e.message).into_owned();
                    self.emit(Event::ServiceFailed {
                        name: def.name.clone(),
                        message: message.clone(),
                    });
                    records.push(ServiceRecord {
                        name: def.name.clone(),
                        pid: None,
                        ready_after: None,
                        error: Some(message.clone()),
                        log: e.log_path,
                        stopped: None,
                    });
                    service_error = Some(format!(
                        "service `{}` did not start: {}",
                        def.name,
                        message.lines().next().unwrap_or("")
                    ));
                    break;
                }
            }
        }

        let resources = Arc::new(Resources::default());
        // Set when a service exits during the run: every item not finished yet errors.
        let (down_tx, down_rx) = watch::channel(None::<String>);
        let results = match &service_error {
            Some(msg) if !self.cancel.is_cancelled() => {
                let total = plan.items.len();
                let results: Vec<ItemResult> = plan
                    .items
                    .iter()
                    .map(|p| not_run(p, Outcome::Errored, msg.clone()))
                    .collect();
                for (n, r) in results.iter().enumerate() {
                    self.emit(Event::ItemFinished {
                        result: Box::new(r.clone()),
                        done: n + 1,
                        total,
                    });
                }
                results
            }
            _ => {
                let items = self.run_items(&plan, Arc::new(infos), resources.clone(), down_rx);
                tokio::pin!(items);
                let mut exited = vec![false; services.len()];
                loop {
                    let watching = exited.iter().any(|e| !e);
                    tokio::select! {
                        results = &mut items => break results,
                        (i, how) = service::first_exit(&mut services, &exited), if watching => {
                            exited[i] = true;
                            let reason = format!("service `{}` {}", services[i].name, how_short(&how));
                            records[i].stopped = Some(how);
                            // The first service to go is the reason items give.
                            if down_tx.borrow().is_none() {
                                let _ = down_tx.send(Some(reason));
                            }
                        }
                    }
                }
            }
        };
        tokio::select! {
            _ = resources.shutdown_all() => {}
            _ = self.kill_now.cancelled() => {}
        }
        for (svc, rec) in services.into_iter().zip(records.iter_mut()) {
            if self.cancel.is_cancelled() {
                self.emit(Event::Stopping {
                    what: format!("service `{}`", svc.name),
                    up_to: svc.stop_timeout(),
                });
            }
            let how = svc.stop(&self.kill_now).await;
            if rec.stopped.is_none() {
                rec.stopped = Some(format!("{how:?}").to_lowercase());
            }
        }
        // What left its process group (`setsid`, daemons) still carries this run's marker.
        let left = crate::leftovers::stop_this_run(LEFTOVER_GRACE).await;
        if !left.is_empty() {
            self.emit(Event::LeftBehind {
                processes: left
                    .iter()
                    .map(|p| self.redactor.redact(&p.describe()).into_owned())
                    .collect(),
            });
        }
        let checkout = &self.settings.checkout;
        let report = RunReport {
            checklist: checklist.name.clone(),
            path: checklist.path.clone(),
            profile: checklist.profile.clone(),
            checklist_sha256: checkout.checklist_sha256.clone(),
            commit: checkout.commit.clone(),
            started_at,
            duration: started.elapsed(),
            interrupted: self.cancel.is_cancelled(),
            services: records,
            items: results,
            not_selected: plan.not_selected.clone(),
            shard,
            other_shards: plan.other_shards.clone(),
        };
        self.emit(Event::RunFinished {
            report: Arc::new(report.clone()),
        });
        report
    }

    async fn run_items(
        &self,
        plan: &Plan,
        services: Arc<HashMap<String, ServiceInfo>>,
        resources: Arc<Resources>,
        service_down: watch::Receiver<Option<String>>,
    ) -> Vec<ItemResult> {
        let total = plan.items.len();
        let semaphore = Arc::new(Semaphore::new(plan.jobs));
        let fail_fast = CancellationToken::new();
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..total).map(|_| watch::channel(None::<Outcome>)).unzip();
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (item, tx)) in plan.items.iter().cloned().zip(senders).enumerate() {
            let needs: Vec<(String, watch::Receiver<Option<Outcome>>)> = item
                .needs
                .iter()
                .map(|&j| (plan.items[j].def.id.clone(), receivers[j].clone()))
                .collect();
            let cx = ItemTask {
                item,
                needs,
                semaphore: semaphore.clone(),
                fail_fast: fail_fast.clone(),
                cancel: self.cancel.clone(),
                kill_now: self.kill_now.clone(),
                service_down: service_down.clone(),
                settings: self.settings.clone(),
                services: services.clone(),
                redactor: self.redactor.clone(),
                prompter: self.prompter.clone(),
                resources: resources.clone(),
                events: self.events.clone(),
            };
            let done = done.clone();
            tasks.spawn(async move {
                let mut result = cx.run().await;
                if let Some(waiver) = cx.settings.waivers.by_id.get(&result.id) {
                    crate::release::waiver::apply(&mut result, waiver);
                }
                cx.redact(&mut result);
                let _ = tx.send(Some(result.outcome));
                if cx.settings.fail_fast && result.blocks_gate() {
                    cx.fail_fast.cancel();
                }
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                let _ = cx.events.send(Event::ItemFinished {
                    result: Box::new(result.clone()),
                    done: n,
                    total,
                });
                (i, result)
            });
        }
        let mut results: Vec<Option<ItemResult>> = vec![None; total];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((i, r)) = joined {
                results[i] = Some(r);
            }
        }
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    not_run(&plan.items[i], Outcome::Interrupted, "interrupted".into())
                })
            })
            .collect()
    }
}

/// The result of an item that never ran.
fn not_run(p: &PlannedItem, outcome: Outcome, message: String) -> ItemResult {
    ItemResult {
        kind: p.def.kind.to_string(),
        name: p.def.name.clone(),
        file: p.def.file.clone(),
        line: p.def.line,
        description: p.def.common.description.clone(),
        tags: p.def.common.tags.clone(),
        blocking: p.def.common.blocking,
        ..ItemResult::unrun(&p.def.id, outcome, message)
    }
}

/// One item's life: wait for needs, wait for a slot, attempt until it passes or runs out of retries.
struct ItemTask {
    item: PlannedItem,
    needs: Vec<(String, watch::Receiver<Option<Outcome>>)>,
    semaphore: Arc<Semaphore>,
    fail_fast: CancellationToken,
    cancel: CancellationToken,
    kill_now: CancellationToken,
    /// Why a service is gone, once one is.
    service_down: watch::Receiver<Option<String>>,
    settings: Arc<RunSettings>,
    services: Arc<HashMap<String, ServiceInfo>>,
    redactor: Arc<Redactor>,
    prompter: Arc<dyn Prompter>,
    resources: Arc<Resources>,
    events: EventSender,
}

impl ItemTask {
    async fn run(&self) -> ItemResult {
        let p = &self.item;
        if let Some(n) = p.excluded_needs.first() {
            return not_run(
                p,
                Outcome::Skipped,
                format!("needs `{n}`, which was excluded by --skip/--only"),
            );
        }
        let down = &self.service_down;
        let down_reason = |down: &watch::Receiver<Option<String>>| down.borrow().clone();
        let service_gone =
            |reason: String| not_run(p, Outcome::Errored, format!("not run: {reason}"));
        for (id, rx) in &self.needs {
            let mut rx = rx.clone();
            let outcome = tokio::select! {
                r = rx.wait_for(Option::is_some) => r.ok().and_then(|o| *o),
                _ = self.cancel.cancelled() => return not_run(p, Outcome::Interrupted, "interrupted before it started".into()),
                reason = service_down(down.clone()) => return service_gone(reason),
            };
            if let Some(reason) = down_reason(down) {
                return service_gone(reason);
            }
            match outcome {
                Some(o) if o.satisfies_needs() => {}
                // A need that ended because of Ctrl-C: this item was interrupted too.
                _ if self.cancel.is_cancelled() => {
                    return not_run(
                        p,
                        Outcome::Interrupted,
                        "interrupted before it started".into(),
                    );
                }
                Some(o) => {
                    return not_run(
                        p,
                        Outcome::Skipped,
                        format!("needs `{id}`, which {}", past_tense(o)),
                    );
                }
                None => {
                    return not_run(
                        p,
                        Outcome::Skipped,
                        format!("needs `{id}`, which did not finish"),
                    );
                }
            }
        }
        let _permit = tokio::select! {
            permit = self.semaphore.acquire() => permit,
            _ = self.cancel.cancelled() => return not_run(p, Outcome::Interrupted, "interrupted before it started".into()),
            _ = self.fail_fast.cancelled() => return not_run(p, Outcome::Skipped, "not run: --fail-fast after a blocking item failed".into()),
            reason = service_down(down.clone()) => return service_gone(reason),
        };
        if let Some(reason) = down_reason(down) {
            return service_gone(reason);
        }
        if self.fail_fast.is_cancelled() {
            return not_run(
                p,
                Outcome::Skipped,
                "not run: --fail-fast after a blocking item failed".into(),
            );
        }
        let _ = self.events.send(Event::ItemStarted {
            id: p.def.id.clone(),
        });
        let started_at = Utc::now();
        let started = Instant::now();
        let mut attempts = Vec::new();
        let mut last: CheckOutput;
        let mut attempt = 1;
        loop {
            let cx = CheckContext {
                id: p.def.id.clone(),
                attempt,
                timeout: p.timeout,
                settings: self.settings.clone(),
                services: self.services.clone(),
                redactor: self.redactor.clone(),
                cancel: self.cancel.clone(),
                resources: self.resources.clone(),
                prompter: self.prompter.clone(),
            };
            let t0 = Instant::now();
            // A panicking check is a bug in preflight: it errors its item instead of the run.
            let run = std::panic::AssertUnwindSafe(p.def.check.run(&cx)).catch_unwind();
            let run = tokio::time::timeout(p.timeout + TIMEOUT_GRACE, run);
            tokio::pin!(run);
            let stopped =
                |message: String, outcome: Outcome, partial: Option<CheckOutput>, attempts| {
                    let mut r = not_run(p, outcome, message);
                    if let Some(out) = partial {
                        r.details = out.details;
                        r.data = out.data;
                        r.artifacts = out.artifacts;
                        r.properties = out.properties;
                    }
                    r.attempts = attempts;
                    r.started_at = Some(started_at);
                    r.duration = started.elapsed();
                    r
                };
            last = tokio::select! {
                // Ctrl-C first: a check that stops on it may finish in the same poll, and its
                // output is then the partial output of an interrupted item.
                biased;
                _ = self.cancel.cancelled() => {
                    // A check that watches `cx.cancel` hands back what it has (a command's
                    // output so far); others are dropped at once.
                    let mut partial = None;
                    if p.def.check.stops_on_cancel() {
                        tokio::select! {
                            r = tokio::time::timeout(PARTIAL_GRACE, &mut run) => {
                                partial = r.ok().and_then(|r| r.ok()).and_then(|r| r.ok());
                            }
                            _ = self.kill_now.cancelled() => {}
                        }
                    }
                    return stopped("interrupted while running".into(), Outcome::Interrupted, partial, attempts);
                }
                reason = service_down(down.clone()) => {
                    return stopped(format!("{reason} while this item ran"), Outcome::Errored, None, attempts);
                }
                r = &mut run => match r {
                    Ok(Ok(out)) => out,
                    Ok(Err(panic)) => CheckOutput::errored(format!("internal error in preflight: {}", panic_message(&*panic))),
                    Err(_) => CheckOutput::failed(format!(
                        "did not finish within its timeout of {}", humantime::format_duration(p.timeout))),
                },
            };
            attempts.push(Attempt {
                status: last.status,
                message: last.message.clone(),
                duration: t0.elapsed(),
            });
            if last.status == Status::Passed || attempt > p.def.common.retries {
                break;
            }
            let _ = self.events.send(Event::ItemRetrying {
                id: p.def.id.clone(),
                attempt: attempt + 1,
                message: self.redactor.redact(&last.message).into_owned(),
            });
            attempt += 1;
            tokio::select! {
                _ = tokio::time::sleep(p.retry_delay) => {}
                _ = self.cancel.cancelled() => {}
            }
        }
        let outcome = match last.status {
            Status::Passed if attempts.len() > 1 => Outcome::Flaky,
            s => Outcome::from_status(s),
        };
        let mut message = last.message;
        if outcome == Outcome::Flaky {
            message = format!(
                "{message} (passed on attempt {} of {})",
                attempts.len(),
                p.def.common.retries + 1
            );
        } else if attempts.len() > 1 {
            message = format!("{message} (all {} attempts)", attempts.len());
        }
        ItemResult {
            outcome,
            message,
            details: last.details,
            warnings: last.warnings,
            artifacts: last.artifacts,
            properties: last.properties,
            data: last.data,
            attempts,
            started_at: Some(started_at),
            duration: started.elapsed(),
            ..not_run(p, outcome, String::new())
        }
    }

    /// Secrets out of everything that leaves the runner.
    fn redact(&self, r: &mut ItemResult) {
        let red = &self.redactor;
        red.redact_in_place(&mut r.message);
        red.redact_in_place(&mut r.details);
        r.warnings.iter_mut().for_each(|w| red.redact_in_place(w));
        r.attempts
            .iter_mut()
            .for_each(|a| red.redact_in_place(&mut a.message));
        r.properties
            .iter_mut()
            .for_each(|(_, v)| red.redact_in_place(v));
        red.redact_json(&mut r.data);
    }
}

/// Waits until a service is gone; says which and how. Never returns if none goes.
async fn service_down(mut rx: watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(reason) = rx.borrow_and_update().clone() {
            return reason;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// `exited (status 7) at 2026-...` → `exited (status 7) at 10:02:03 UTC`, for item messages.
fn how_short(how: &str) -> String {
    match how.rsplit_once(" at ") {
        Some((what, at)) => match chrono::DateTime::parse_from_rfc3339(at) {
            Ok(t) => format!("{what} at {} UTC", t.format("%H:%M:%S")),
            Err(_) => how.to_string(),
        },
        None => how.to_string(),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

fn past_tense(o: Outcome) -> &'static str {
    match o {
        Outcome::Failed => "failed",
        Outcome::Errored => "errored",
        Outcome::Skipped => "was skipped",
        Outcome::Interrupted => "was interrupted",
        Outcome::Passed | Outcome::Flaky => "passed",
        Outcome::Waived => "was waived",
    }
}
