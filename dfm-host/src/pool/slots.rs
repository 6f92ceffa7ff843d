//! The life of a worker slot: launched for a class, registered, lost or
//! retired; timeouts; shutdown.

use std::collections::VecDeque;
use std::time::Instant;

use super::task::TaskState;
use super::{
    Action, ClassId, Outcome, Pool, RegisterError, Slot, SlotId, SlotState, TaskId, WorkerInfo,
};

/// How a slot leaves the pool.
#[derive(Clone, Copy)]
enum Leaving {
    /// Its worker is told to exit, then its job is stopped.
    Retire,
    /// Its job is stopped (never registered, or lost).
    Terminate,
}

impl SlotState {
    /// Counted in its class's `starting`.
    fn starting(self) -> bool {
        matches!(self, SlotState::Launching | SlotState::Starting)
    }
}

impl Pool {
    /// Moves `slot` to `state`: the one place a slot's state changes. It
    /// keeps the counters of starting and launching slots (which
    /// `check_invariants` recounts); idle lists are the caller's, as
    /// dispatch takes slots off them before it decides.
    pub(super) fn set_slot_state(&mut self, slot_id: SlotId, state: SlotState, now: Instant) {
        let Some(slot) = self.slots.get_mut(&slot_id) else {
            return;
        };
        let before = std::mem::replace(&mut slot.state, state);
        slot.since = now;
        let class = slot.class_id;
        self.count_slot(class, before, false);
        self.count_slot(class, state, true);
    }

    /// The counters a slot of `class` in `state` is part of, as it
    /// `joins` them or leaves them.
    fn count_slot(&mut self, class: ClassId, state: SlotState, joins: bool) {
        let step = |n: &mut usize, applies: bool| {
            if applies {
                *n = if joins { *n + 1 } else { *n - 1 };
            }
        };
        step(&mut self.classes[class].starting, state.starting());
        step(&mut self.launching, state == SlotState::Launching);
    }

    /// The runner started the job of `slot`.
    pub fn launched(&mut self, slot: SlotId, now: Instant) {
        if let Some(s) = self.slots.get(&slot) {
            if s.state == SlotState::Launching {
                self.set_slot_state(slot, SlotState::Starting, now);
            }
            if self.shutting_down {
                self.remove_slot(slot, Leaving::Terminate);
            }
        }
        self.schedule(now);
    }

    /// The runner could not start the jobs of `slots` (one launch: one
    /// worker, or one job array).
    pub fn launch_failed(&mut self, slots: &[SlotId], message: &str, now: Instant) {
        let mut class = None;
        for slot in slots {
            if let Some(s) = self.slots.get(slot) {
                class = Some(s.class_id);
                self.remove_slot(*slot, Leaving::Terminate);
            }
        }
        if let Some(class) = class {
            self.note_launch_failure(class, message);
        }
        self.schedule(now);
    }

    fn note_launch_failure(&mut self, class: ClassId, message: &str) {
        let limit = self.config.max_launch_failures.max(1);
        let state = &mut self.classes[class];
        state.launch_failures += 1;
        if state.launch_failures < limit {
            return;
        }
        state.launch_failures = 0;
        let queued: Vec<TaskId> = state.queue.drain();
        let what = if state.name.is_empty() {
            String::from("worker")
        } else {
            format!("worker of resource class '{}'", state.name)
        };
        let reason =
            format!("could not start a {what} ({limit} launches failed in a row): {message}");
        for id in queued {
            let queued = self
                .tasks
                .get(&id)
                .is_some_and(|t| t.state == TaskState::Queued);
            if !queued {
                continue;
            }
            if let Some(task) = self.forget_task(id) {
                let request_id = task.spec.request_id.clone();
                self.reply(task.client, id, request_id, Outcome::Failed(reason.clone()));
            }
        }
    }

    /// A worker presents itself (after authenticating).
    pub fn register(
        &mut self,
        worker_id: &str,
        class: &str,
        info: WorkerInfo,
        now: Instant,
    ) -> Result<SlotId, RegisterError> {
        let unknown = || RegisterError::UnknownWorker(worker_id.to_string());
        let slot_id = self.slot_of_worker(worker_id).ok_or_else(unknown)?;
        let slot = self.slots.get_mut(&slot_id).ok_or_else(unknown)?;
        if !slot.state.starting() {
            return Err(RegisterError::AlreadyRegistered(worker_id.to_string()));
        }
        let expected = &self.classes[slot.class_id].name;
        if expected != class {
            return Err(RegisterError::WrongClass {
                expected: expected.clone(),
                got: class.to_string(),
            });
        }
        slot.info = info;
        slot.last_seen = now;
        let class = slot.class_id;
        self.start_clock(slot_id, now);
        self.set_slot_state(slot_id, SlotState::Idle, now);
        let state = &mut self.classes[class];
        state.launch_failures = 0;
        state.idle.push(slot_id);
        if self.shutting_down {
            self.remove_slot(slot_id, Leaving::Retire);
        }
        self.schedule(now);
        Ok(slot_id)
    }

    /// Any message from the worker of `slot` shows it is alive.
    pub fn heard_from(&mut self, slot: SlotId, now: Instant) {
        if let Some(s) = self.slots.get_mut(&slot) {
            s.last_seen = now;
        }
    }

    /// The worker of `slot` disconnected, or its job ended.
    pub fn worker_lost(&mut self, slot: SlotId, reason: &str, now: Instant) {
        let at_limit = self
            .slots
            .get(&slot)
            .is_some_and(|s| Self::lost_at_walltime(s, now));
        self.lose(slot, reason, at_limit, now);
    }

    fn lose(&mut self, slot: SlotId, reason: &str, at_limit: bool, now: Instant) {
        let Some(s) = self.slots.get(&slot) else {
            return;
        };
        let (state, class) = (s.state, s.class_id);
        let ran = now.saturating_duration_since(s.since);
        let next = s.next.clone();
        let who = format!(
            "worker {} on {}",
            s.worker_id,
            if s.info.hostname.is_empty() {
                "an unknown host"
            } else {
                &s.info.hostname
            }
        );
        self.remove_slot(slot, Leaving::Terminate);
        // Held ahead, never started: back in line in their order, behind
        // the running task.
        for &id in next.iter().rev() {
            self.put_back_ahead(id);
        }
        match state {
            SlotState::Launching | SlotState::Starting => {
                self.note_launch_failure(class, &format!("{who} {reason} before registering"));
            }
            SlotState::Busy(task_id) if at_limit => self.rerun_cut_off(task_id, ran),
            SlotState::Busy(task_id) => self.requeue_or_fail(task_id, &who, reason),
            SlotState::Idle => {}
        }
        self.schedule(now);
    }

    /// The runner reports that the job of `slot` ended; `at_limit`: it
    /// says the job reached its run limit.
    pub fn job_exited(&mut self, slot: SlotId, code: i32, at_limit: bool, now: Instant) {
        if at_limit {
            self.lose(slot, "reached its run limit", true, now);
        } else {
            self.worker_lost(slot, &format!("exited (job exit code {code})"), now);
        }
    }

    /// Applies timeouts; call it periodically (the daemon does, at a tenth of
    /// the shortest timeout).
    pub fn tick(&mut self, now: Instant) {
        let mut lost = Vec::new();
        let mut unregistered = Vec::new();
        for (&id, slot) in &self.slots {
            match slot.state {
                SlotState::Starting if now >= slot.since + self.register_within(slot) => {
                    unregistered.push(id)
                }
                SlotState::Idle | SlotState::Busy(_)
                    if now >= slot.last_seen + self.config.heartbeat_timeout =>
                {
                    lost.push(id)
                }
                _ => {}
            }
        }
        for id in unregistered {
            let timeout = self
                .slots
                .get(&id)
                .map_or(self.config.launch_timeout, |slot| {
                    self.register_within(slot)
                });
            let timeout = timeout.as_secs_f64();
            self.worker_lost(id, &format!("did not register within {timeout:.0} s"), now);
        }
        let silence = self.config.heartbeat_timeout.as_secs_f64();
        for id in lost {
            self.worker_lost(id, &format!("sent no heartbeat for {silence:.1} s"), now);
        }
        self.retire_idle(now);
        self.walltime_tick(now);
        self.schedule(now);
    }

    /// Stop everything: every task gets a final reply, every worker goes.
    pub fn shutdown(&mut self) {
        self.shutting_down = true;
        let mut tasks: Vec<(TaskId, bool)> = self
            .tasks
            .iter()
            .map(|(id, t)| (id, t.state.cancelled()))
            .collect();
        tasks.sort_unstable();
        for (id, cancelled) in tasks {
            let Some(task) = self.forget_task(id) else {
                continue;
            };
            if !cancelled {
                let request_id = task.spec.request_id.clone();
                let outcome = Outcome::Failed("the daemon is shutting down".into());
                self.reply(task.client, id, request_id, outcome);
            }
        }
        for class in &mut self.classes {
            class.queue.clear();
        }
        let slots: Vec<(SlotId, SlotState)> =
            self.slots.iter().map(|(id, s)| (*id, s.state)).collect();
        for (slot, state) in slots {
            match state {
                // Its launch is still in flight: terminated when it reports.
                SlotState::Launching => {}
                SlotState::Starting => self.remove_slot(slot, Leaving::Terminate),
                SlotState::Idle | SlotState::Busy(_) => self.remove_slot(slot, Leaving::Retire),
            }
        }
    }

    fn remove_slot(&mut self, id: SlotId, leaving: Leaving) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        self.by_worker_id.remove(&slot.worker_id);
        if slot.replaced {
            self.replaced -= 1;
        }
        // A launching slot: the runner still owes an answer for this
        // launch; the daemon terminates the job when it comes, as the slot
        // is gone.
        self.count_slot(slot.class_id, slot.state, false);
        let class = &mut self.classes[slot.class_id];
        class.holders.remove(&(slot.held, id));
        class.slots -= 1;
        if slot.state == SlotState::Idle {
            class.idle.retain(|s| *s != id);
        }
        let worker_id = slot.worker_id;
        self.actions.push(match leaving {
            Leaving::Retire => Action::Retire {
                slot: id,
                worker_id,
            },
            Leaving::Terminate => Action::Terminate {
                slot: id,
                worker_id,
            },
        });
    }

    /// Tells the worker of `slot` to exit.
    pub(super) fn retire(&mut self, slot: SlotId) {
        self.remove_slot(slot, Leaving::Retire);
    }

    fn retire_idle(&mut self, now: Instant) {
        let timeout = self.config.idle_timeout;
        let mut default_class_count = self.default_class().map_or(0, |c| c.slots);
        let expired: Vec<SlotId> = self
            .slots
            .iter()
            .filter(|(_, s)| s.state == SlotState::Idle && now >= s.since + timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let is_default = self
                .slots
                .get(&id)
                .is_some_and(|s| self.classes[s.class_id].name.is_empty());
            if is_default {
                if default_class_count <= self.config.min_workers {
                    continue;
                }
                default_class_count -= 1;
            }
            self.remove_slot(id, Leaving::Retire);
        }
    }

    /// Launches workers for the tasks no worker is starting for, class by
    /// class, then for `min_workers` default ones.
    pub(super) fn launch_for_demand(&mut self, now: Instant) {
        let default_count = self.default_class().map_or(0, |c| c.slots);
        let default_ok = self.default_class().is_none_or(|c| c.launch_failures == 0);
        let mut default_extra = (default_count < self.config.min_workers && default_ok)
            .then(|| self.config.min_workers - default_count);
        for k in 0..self.class_order.len() {
            let class = self.class_order[k];
            let c = &self.classes[class];
            // Tasks that wait for a license need no worker yet.
            let startable = c.queued.min(self.startable(class, now));
            let c = &self.classes[class];
            let waiting_for_workers = if !c.gated() {
                c.queued
            } else {
                startable.saturating_sub(c.idle.len())
            };
            if waiting_for_workers <= c.starting {
                continue;
            }
            let mut need = waiting_for_workers - c.starting;
            if c.name.is_empty() {
                need = need.max(default_extra.take().unwrap_or(0));
            }
            if !self.launch_some(class, need, now) {
                return;
            }
        }
        if let Some(extra) = default_extra {
            let class = self.class_id("");
            self.launch_some(class, extra, now);
        }
    }

    /// Launches up to `need` workers of `class`, within the launch batch;
    /// false once the pool is full with nothing to retire.
    fn launch_some(&mut self, class: ClassId, need: usize, now: Instant) -> bool {
        let in_flight = if self.config.arrays {
            self.config.max_workers
        } else {
            self.config.launch_batch_size
        };
        let mut count = 0;
        let mut full = false;
        while count < need && self.launching + count < in_flight.max(1) {
            let counted = self.slots.len() + count - self.replaced;
            if counted >= self.config.max_workers && !self.retire_one_unneeded(class) {
                full = true;
                break;
            }
            count += 1;
        }
        self.launch_batch(class, count, now);
        !full
    }

    /// Frees a slot held by an idle worker of a class nothing waits for, or
    /// of `for_class` whose job has too little time left for any of the
    /// tasks that wait (dispatch, just before, found none it could take).
    fn retire_one_unneeded(&mut self, for_class: ClassId) -> bool {
        let victim = self
            .class_order
            .iter()
            .map(|&id| &self.classes[id])
            .filter(|c| c.queued == 0)
            .find_map(|c| c.idle.first().copied())
            .or_else(|| {
                let state = &self.classes[for_class];
                state
                    .idle
                    .iter()
                    .copied()
                    .filter(|id| self.slots.get(id).is_some_and(|s| s.ends_at.is_some()))
                    .min_by_key(|id| self.slots.get(id).and_then(|s| s.ends_at))
            });
        match victim {
            Some(slot) => {
                self.remove_slot(slot, Leaving::Retire);
                true
            }
            None => false,
        }
    }

    /// Launches `count` workers of `class`, in one launch action.
    pub(super) fn launch_batch(&mut self, class: ClassId, count: usize, now: Instant) {
        if count == 0 {
            return;
        }
        let workers: Vec<(SlotId, String)> =
            (0..count).map(|_| self.add_slot(class, now)).collect();
        let class = self.classes[class].name.clone();
        self.actions.push(Action::Launch { workers, class });
    }

    fn register_within(&self, slot: &Slot) -> std::time::Duration {
        if slot.adopted {
            self.config.reconnect_grace
        } else {
            self.config.launch_timeout
        }
    }

    /// A worker a daemon that died launched (from its journal): its job
    /// runs, and its worker, which lost that daemon, has the reconnect
    /// grace to register here as `worker_id`; else its job is terminated.
    /// No launch for it.
    pub fn adopt(&mut self, worker_id: &str, class: &str, now: Instant) -> SlotId {
        let class = self.class_id(class);
        let (slot, _) = self.add_slot_named(class, Some(worker_id.to_string()), now);
        self.set_slot_state(slot, SlotState::Starting, now);
        if let Some(s) = self.slots.get_mut(&slot) {
            s.adopted = true;
        }
        slot
    }

    /// A new slot of `class`, launching.
    fn add_slot(&mut self, class: ClassId, now: Instant) -> (SlotId, String) {
        self.add_slot_named(class, None, now)
    }

    fn add_slot_named(
        &mut self,
        class: ClassId,
        worker_id: Option<String>,
        now: Instant,
    ) -> (SlotId, String) {
        let id = self.fresh_id();
        let worker_id = worker_id.unwrap_or_else(|| format!("{}{:04x}", self.worker_id_prefix, id));
        self.slots.insert(
            id,
            Slot {
                worker_id: worker_id.clone(),
                class_id: class,
                state: SlotState::Launching,
                info: WorkerInfo::default(),
                since: now,
                last_seen: now,
                next: VecDeque::new(),
                open: false,
                ends_at: None,
                replaced: false,
                held: 0,
                adopted: false,
            },
        );
        self.by_worker_id.insert(worker_id.clone(), id);
        self.classes[class].slots += 1;
        self.count_slot(class, SlotState::Launching, true);
        (id, worker_id)
    }
}
