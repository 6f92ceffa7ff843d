//! Queues and dispatch: tasks in, tasks to workers, results and replies
//! out.

use std::sync::Arc;
use std::time::Instant;

use dfm_wire::{TaskResult, TaskSpec};

use super::task::{Task, TaskState};
use super::{
    Action, ClassId, ClientId, Outcome, Pool, SlotId, SlotState, SubmitError, TaskId,
    UnexpectedReport,
};

impl Pool {
    pub fn submit(
        &mut self,
        client: ClientId,
        spec: TaskSpec,
        now: Instant,
    ) -> Result<TaskId, SubmitError> {
        if self.shutting_down {
            return Err(SubmitError::ShuttingDown);
        }
        if self.by_request.contains(client, &spec.request_id) {
            return Err(SubmitError::DuplicateRequestId(spec.request_id));
        }
        let id = self.fresh_id();
        let class = self.class_id(&spec.resource_class);
        // Only tasks that may meet a run limit need an estimate.
        let expected = match self.classes[class].walltime {
            Some(_) => self.expected_duration(&spec),
            None => std::time::Duration::ZERO,
        };
        if let Some(why) = self.too_long_for_class(class, &spec.name, expected) {
            self.reply(client, id, spec.request_id, Outcome::Failed(why));
            return Ok(id);
        }
        let needs = match self.needs_of_task(class, &spec) {
            Ok(needs) => needs,
            Err(why) => {
                self.reply(client, id, spec.request_id, Outcome::Failed(why));
                return Ok(id);
            }
        };
        self.by_request.insert(client, spec.request_id.clone(), id);
        let weight = spec.priority.unwrap_or(1);
        let newcomer = !self.clients.contains_key(&client);
        self.classes[class].queue.push_back(client, id, weight);
        let task = Task {
            client,
            spec: Arc::new(spec),
            class,
            attempts: 0,
            state: TaskState::Queued,
            expected,
            license_retries: 0,
            needs,
            submitted: now,
        };
        self.add_task(id, task);
        if newcomer {
            self.make_way(class, client);
        }
        self.schedule(now);
        Ok(id)
    }

    /// Cancels one task of `client`; false if there is no such task.
    pub fn cancel(&mut self, client: ClientId, request_id: &str, now: Instant) -> bool {
        let Some(id) = self.by_request.get(client, request_id) else {
            return false;
        };
        self.cancel_task(id, true);
        self.schedule(now);
        true
    }

    /// The client went away: its tasks go without replies.
    pub fn client_gone(&mut self, client: ClientId, now: Instant) {
        for id in self.by_request.of_client(client) {
            self.cancel_task(id, false);
        }
        self.schedule(now);
    }

    fn cancel_task(&mut self, id: TaskId, reply: bool) {
        let Some(task) = self.tasks.get(&id) else {
            return;
        };
        let (client, request_id, state) = (task.client, task.spec.request_id.clone(), task.state);
        match state {
            TaskState::Killing(_) | TaskState::CancelledAhead(_) => return,
            TaskState::Queued => {
                self.forget_task(id);
            }
            // The worker stays busy until it reports the killed task, or
            // hands back the one it held ahead.
            TaskState::Running(slot) | TaskState::Held(slot) | TaskState::Withdrawing(slot) => {
                let cancelled = match state {
                    TaskState::Running(_) => TaskState::Killing(slot),
                    _ => TaskState::CancelledAhead(slot),
                };
                self.set_task_state(id, cancelled);
                self.by_request.remove(client, &request_id);
                self.actions.push(Action::CancelOnWorker {
                    slot,
                    request_id: request_id.clone(),
                });
            }
        }
        if reply {
            self.reply(client, id, request_id, Outcome::Failed("cancelled".into()));
        }
    }

    /// The worker of `slot` reports a result.
    pub fn task_finished(
        &mut self,
        slot: SlotId,
        result: TaskResult,
        now: Instant,
    ) -> Result<(), UnexpectedReport> {
        let Some(s) = self.slots.get_mut(&slot) else {
            return Err(UnexpectedReport::ResultFromUnknownWorker);
        };
        s.last_seen = now;
        let SlotState::Busy(task_id) = s.state else {
            return Err(UnexpectedReport::ResultWhileIdle(result.request_id));
        };
        let matches = self
            .tasks
            .get(&task_id)
            .is_some_and(|t| t.spec.request_id == result.request_id);
        if !matches {
            return Err(UnexpectedReport::ResultForAnotherTask(result.request_id));
        }
        let took = now.saturating_duration_since(s.since);
        let learn = s.ends_at.is_some();
        let class = s.class_id;
        match s.next.pop_front() {
            // The worker started the task it held as soon as this one ended.
            Some(next) => {
                self.set_slot_state(slot, SlotState::Busy(next), now);
                self.start_ahead(slot, next);
            }
            None => {
                self.set_slot_state(slot, SlotState::Idle, now);
                self.classes[class].idle.push(slot);
            }
        }
        if self.license_was_unavailable(task_id, &result) {
            self.retry_for_license(task_id);
            self.schedule(now);
            return Ok(());
        }
        let task = self.forget_task(task_id);
        if let Some(task) = task.as_ref().filter(|_| learn) {
            self.durations.record(&task.spec.name, took);
        }
        // The freed worker gets its next task before the client hears of
        // this one: the worker's wait is on the critical path, the reply is
        // not.
        self.schedule(now);
        if let Some(task) = task.filter(|t| !t.state.cancelled()) {
            let mut result = result;
            let measured = result.measurements.get_or_insert_with(Default::default);
            measured.attempt = Some(task.attempts.max(1));
            self.reply(
                task.client,
                task_id,
                task.spec.request_id.clone(),
                Outcome::Finished(result),
            );
        }
        Ok(())
    }

    /// Puts task `id` back first in its client's line: it was dispatched
    /// before anything queued now. `serve_next`: and its client goes next
    /// (it ran on a worker that was lost), rather than in its turn (it was
    /// handed back unstarted, for another client's sake).
    pub(super) fn requeue_first(&mut self, id: TaskId, serve_next: bool) {
        let Some(task) = self.tasks.get(&id) else {
            return;
        };
        let client = task.client;
        self.classes[task.class]
            .queue
            .push_front(client, id, serve_next);
        self.set_task_state(id, TaskState::Queued);
    }

    /// The task that ran on a lost worker runs again, first in line, or
    /// fails once it has been started `max_task_attempts` times.
    pub(super) fn requeue_or_fail(&mut self, task_id: TaskId, who: &str, reason: &str) {
        let limit = self.config.max_task_attempts.max(1);
        let Some(task) = self.tasks.get(&task_id) else {
            return;
        };
        if task.state.cancelled() {
            self.forget_task(task_id);
            return;
        }
        if task.attempts < limit {
            self.requeue_first(task_id, true);
            return;
        }
        let message = format!(
            "worker lost: {who} {reason} while running task '{}' (started {} times, giving up)",
            task.spec.name, task.attempts
        );
        if let Some(task) = self.forget_task(task_id) {
            self.reply(
                task.client,
                task_id,
                task.spec.request_id.clone(),
                Outcome::Failed(message),
            );
        }
    }

    /// The task that ran on a worker whose job reached its run limit runs
    /// again, first in line, without using up an attempt; it is expected
    /// to take longer from now on, and fails if no worker of its class
    /// could fit that.
    pub(super) fn rerun_cut_off(&mut self, task_id: TaskId, ran: std::time::Duration) {
        let Some(task) = self.tasks.get(&task_id) else {
            return;
        };
        if task.state.cancelled() {
            self.forget_task(task_id);
            return;
        }
        let (name, class) = (task.spec.name.clone(), task.class);
        self.durations.raise(&name, ran);
        let expected = self
            .durations
            .expected(&name)
            .unwrap_or(ran)
            .max(task.expected);
        if let Some(why) = self.too_long_for_class(class, &name, expected) {
            if let Some(task) = self.forget_task(task_id) {
                let message = format!(
                    "its worker's job reached its run limit after {:.0} s; {why}",
                    ran.as_secs_f64()
                );
                self.reply(
                    task.client,
                    task_id,
                    task.spec.request_id.clone(),
                    Outcome::Failed(message),
                );
            }
            return;
        }
        if let Some(task) = self.tasks.get_mut(&task_id) {
            task.attempts = task.attempts.saturating_sub(1);
            task.expected = expected;
        }
        self.requeue_first(task_id, true);
    }

    pub(super) fn schedule(&mut self, now: Instant) {
        if self.shutting_down {
            return;
        }
        self.dispatch(now);
        self.launch_for_demand(now);
    }

    fn dispatch(&mut self, now: Instant) {
        let prefetch = self.config.prefetch > 0;
        for k in 0..self.class_order.len() {
            let class = self.class_order[k];
            let licensed = self.license_gated(class);
            if licensed && self.classes[class].queued == 0 {
                self.fed(class);
            }
            let c = &self.classes[class];
            let work = (c.queued > 0 && (!c.idle.is_empty() || (prefetch && !c.open.is_empty())))
                || (c.ahead > 0 && c.idle.len() > c.withdrawing);
            if !work {
                if licensed && c.queued > 0 && self.startable(class, now) == 0 {
                    self.starved(class, now);
                }
                continue;
            }
            // Workers nothing queued fits (their jobs end too soon), put
            // aside until this class is served.
            let mut aside: Vec<(SlotId, bool)> = Vec::new();
            while let Some((slot_id, ahead)) = self.destination(class, now) {
                if licensed && self.startable(class, now) == 0 {
                    // Its tasks wait for a license, not for a worker.
                    self.starved(class, now);
                    aside.push((slot_id, ahead));
                    break;
                }
                match self.pop_fitting(class, slot_id, ahead, licensed, now) {
                    Some(task_id) => {
                        self.send(task_id, slot_id, ahead, now);
                        if licensed {
                            self.fed(class);
                        }
                    }
                    None => {
                        aside.push((slot_id, ahead));
                        if licensed && self.classes[class].queued > 0 {
                            self.starved(class, now);
                        }
                        if self.classes[class].queued == 0 {
                            break;
                        }
                    }
                }
            }
            for (slot_id, ahead) in aside {
                if ahead {
                    self.offer(slot_id);
                } else if self
                    .slots
                    .get(&slot_id)
                    .is_some_and(|s| self.draining(s, now))
                {
                    self.retire(slot_id);
                } else {
                    self.classes[class].idle.push(slot_id);
                }
            }
            self.withdraw_for_idle(class);
        }
    }

    /// Sends queued task `task_id` to the worker of `slot_id`: to run now,
    /// or (`ahead`) to hold until its current task ends.
    fn send(&mut self, task_id: TaskId, slot_id: SlotId, ahead: bool, now: Instant) {
        let state = if ahead {
            TaskState::Held(slot_id)
        } else {
            TaskState::Running(slot_id)
        };
        self.set_task_state(task_id, state);
        let Some(task) = self.tasks.get_mut(&task_id) else {
            return;
        };
        let (spec, client) = (Arc::clone(&task.spec), task.client);
        if !ahead {
            task.attempts += 1;
        }
        if ahead {
            if let Some(slot) = self.slots.get_mut(&slot_id) {
                slot.next.push_back(task_id);
            }
        } else {
            self.set_slot_state(slot_id, SlotState::Busy(task_id), now);
        }
        self.offer(slot_id);
        self.actions.push(Action::Dispatch {
            slot: slot_id,
            client,
            id: task_id,
            task: spec,
            ahead,
        });
    }

    /// Where the next queued task of `class` should go, if anywhere: an idle
    /// worker, else (with prefetch) a busy one that can hold one more task
    /// ahead, once the pool is full (a new worker would run it sooner) and
    /// no worker of the class is starting (the first tasks in line are its).
    /// Busy workers take turns, so they fill up evenly.
    fn destination(&mut self, class: ClassId, now: Instant) -> Option<(SlotId, bool)> {
        let depth = self.config.prefetch;
        let prefetch = depth > 0 && self.slots.len() - self.replaced >= self.config.max_workers;
        let _ = now;
        let state = self.classes.get_mut(class)?;
        if state.queued == 0 {
            return None;
        }
        if let Some(slot) = state.idle.pop() {
            return Some((slot, false));
        }
        // A licensed task is never held ahead (see `licenses`).
        if !prefetch || state.starting > 0 || state.gated() {
            return None;
        }
        while let Some(slot_id) = state.open.pop_front() {
            let Some(slot) = self.slots.get_mut(&slot_id) else {
                continue;
            };
            slot.open = false;
            if slot.can_hold_more(depth) {
                return Some((slot_id, true));
            }
        }
        None
    }

    /// The first task still queued in `class`, taken off the queue (its
    /// state is the caller's to change).
    pub(super) fn pop_queued(&mut self, class: ClassId) -> Option<TaskId> {
        let state = self.classes.get_mut(class)?;
        if state.queued == 0 {
            return None;
        }
        // Skip tasks cancelled while queued.
        let tasks = &self.tasks;
        state
            .queue
            .pop(|id| tasks.get(&id).is_some_and(|t| t.state == TaskState::Queued))
    }
}
