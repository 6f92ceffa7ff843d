//! What the core does with the pool's [`Action`]s: messages to workers
//! and clients, runner calls, and what monitors are told.

use std::time::Instant;

use dfm_wire::{
    reply_error, reply_result, Completion, Measurements, MonitorEvent, TaskStarted, ToWorker,
    WorkerStatus,
};
use serde_json::Value;

use super::{clock_now, Core};
use crate::daemon::clients::{Started, Submitted};
use crate::daemon::feed::CatchUp;
use crate::pool::{Action, ClientId, Outcome, SlotId, TaskId};

impl Core {
    pub(super) fn apply_actions(&mut self) {
        loop {
            let actions = self.pool.take_actions();
            if actions.is_empty() {
                let caught_up = self.feed.counts(self.pool.counts());
                self.catch_up(caught_up);
                let hold = !self.shutting_down && self.pool.saturated();
                self.hold_client_lines.set(hold);
                return;
            }
            for action in actions {
                self.apply(action);
            }
        }
    }

    fn apply(&mut self, action: Action) {
        let now = clock_now();
        match action {
            Action::Launch { workers, class } => {
                for (slot, _) in &workers {
                    self.workers.launching(*slot);
                    self.publish_worker(*slot);
                }
                // Without job arrays each worker is a launch of its own:
                // nothing to gather, and nothing to wait for.
                if !self.runner.launches_arrays() {
                    self.runner.launch(workers, &class);
                    return;
                }
                self.launches.entry(class).or_default().extend(workers);
                self.gathered_at
                    .get_or_insert_with(tokio::time::Instant::now);
            }
            Action::Dispatch {
                slot,
                client,
                id,
                task,
                ahead,
            } => {
                if !self.workers.send(slot, &ToWorker::Execute(task)) {
                    self.pool.worker_lost(slot, "is not connected", now);
                    return;
                }
                if let Some(metrics) = self.metrics.as_mut() {
                    if let Some(queued) = self.clients.queued_since(client, id) {
                        let waited = now.saturating_duration_since(queued);
                        metrics.dispatch_latency.observe_duration(waited);
                    }
                }
                if !ahead {
                    self.task_started(slot, client, id, now);
                }
            }
            Action::Started { slot, client, id } => self.task_started(slot, client, id, now),
            Action::Withdraw { slot, request_id } => {
                self.workers.send(slot, &ToWorker::Withdraw { request_id });
            }
            Action::CancelOnWorker { slot, request_id } => {
                self.workers.send(slot, &ToWorker::Cancel { request_id });
            }
            Action::Retire { slot, worker_id } | Action::Terminate { slot, worker_id } => {
                if let Some(job) = self.workers.retire(slot) {
                    self.runner.terminate(slot, job);
                }
                self.publish(|| MonitorEvent::WorkerState(WorkerStatus::gone(&worker_id)));
            }
            Action::Reply {
                client,
                id,
                request_id,
                outcome,
            } => self.reply(client, id, request_id, outcome, now),
        }
    }

    /// The final reply to a task, and its completion for monitors.
    fn reply(
        &mut self,
        client: ClientId,
        task: TaskId,
        request_id: String,
        outcome: Outcome,
        now: Instant,
    ) {
        let Some(submitted) = self.clients.finished(client, task) else {
            return;
        };
        let id = submitted
            .as_ref()
            .map(|s| s.id.clone())
            .unwrap_or(Value::String(request_id.clone()));
        let (line, status, error) = match outcome {
            Outcome::Finished(mut result) => {
                if let (Some(measured), Some(submitted)) =
                    (result.measurements.as_mut(), submitted.as_ref())
                {
                    measured_by_daemon(measured, submitted);
                    if let Some(metrics) = self.metrics.as_mut() {
                        if let Some(wait) = measured.queue_wait_secs {
                            metrics.queue_wait.observe(wait);
                        }
                        if let Some(took) = measured.duration_secs() {
                            metrics.task_duration.observe(took);
                        }
                    }
                    let slot = submitted.started.as_ref().map(|s| s.slot);
                    measured.job_id = slot
                        .and_then(|slot| self.workers.job_id(&self.pool, slot))
                        .filter(|id| !id.is_empty());
                    let started = slot.and_then(|slot| self.workers.start_times(slot));
                    measured.worker_launched_at = started.map(|(asked, _)| asked);
                    measured.worker_ready_at = started.map(|(_, joined)| joined);
                }
                (reply_result(&id, &result), Some(result.status), None)
            }
            Outcome::Failed(message) => (reply_error(&id, &message), None, Some(message)),
        };
        let (name, started) = submitted.map(|s| (s.name, s.started)).unwrap_or_default();
        let (duration_secs, worker_id, hostname) = match started {
            Some(s) => (
                Some(now.duration_since(s.since).as_secs_f64()),
                Some(s.worker_id),
                Some(s.hostname),
            ),
            None => (None, None, None),
        };
        let completion = Completion {
            request_id,
            name,
            status,
            error,
            duration_secs,
            worker_id,
            hostname,
        };
        let caught_up = self.feed.completed(completion);
        self.catch_up(caught_up);
        self.clients.send(client, line);
    }

    /// Bookkeeping once a task runs on a worker: its start time, and
    /// `task.dispatched` for its client (if it asked) and monitors.
    fn task_started(&mut self, slot: SlotId, client: ClientId, task: TaskId, now: Instant) {
        let (worker_id, hostname) = self
            .pool
            .slot(slot)
            .map(|w| (w.worker_id.clone(), w.info.hostname.clone()))
            .unwrap_or_default();
        let for_client = self.clients.hears_own_tasks(client);
        let for_monitors = self.feed.active();
        let started = Started {
            since: now,
            worker_id,
            hostname,
            slot,
        };
        let Some((submitted, started)) = self.clients.started(client, task, started) else {
            return;
        };
        // Built only for whoever listens: in a regression without a monitor
        // or a client that asked, it was four strings copied and dropped
        // per task.
        if for_client || for_monitors {
            let event = MonitorEvent::TaskDispatched(TaskStarted {
                request_id: submitted.request_id.clone(),
                name: submitted.name.clone(),
                worker_id: started.worker_id.clone(),
                hostname: started.hostname.clone(),
            });
            if for_client {
                self.clients.send(client, event.to_line());
            }
            self.publish(|| event);
        }
        self.publish_worker(slot);
    }

    pub(super) fn publish(&mut self, event: impl FnOnce() -> MonitorEvent) {
        let caught_up = self.feed.publish(event);
        self.catch_up(caught_up);
    }

    pub(super) fn catch_up(&mut self, who: CatchUp) {
        if who.is_empty() {
            return;
        }
        let now = super::clock_now();
        let who = self.feed.due(who, now);
        if !who.is_empty() {
            let snapshot = self.snapshot_line();
            self.feed.catch_up(who, snapshot, now);
        }
    }

    pub(super) fn publish_worker(&mut self, slot: SlotId) {
        let (workers, pool) = (&self.workers, &self.pool);
        let caught_up = self
            .feed
            .publish_if(|| workers.status(pool, slot).map(MonitorEvent::WorkerState));
        self.catch_up(caught_up);
    }
}

/// What only the daemon knows of a task, added to what its worker
/// measured: when it was queued, how long it waited, where it ran (its
/// job aside).
fn measured_by_daemon(measured: &mut Measurements, submitted: &Submitted) {
    measured.queued_at = Some(submitted.queued_at);
    if let Some(started) = &submitted.started {
        let waited = started.since.saturating_duration_since(submitted.queued);
        measured.queue_wait_secs = Some(waited.as_secs_f64());
        measured.worker_id = Some(started.worker_id.clone());
        measured.host = Some(started.hostname.clone());
    }
}
