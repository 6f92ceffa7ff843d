//! Run limits: when each worker's job ends, what a task is expected to
//! take, and so which tasks a worker may still take.
//!
//! A worker's job ends its class's walltime after it started running (the
//! first the pool hears of it running: the runner's poll, or its worker
//! registering), or when the scheduler says it ends, where it says. A task
//! goes to a worker, or ahead to a busy one, only if the job leaves it its
//! expected duration plus `walltime_margin` from when it would start. A
//! worker within `drain_before` of its end takes nothing new and exits once
//! done; within `replace_ahead`, a replacement is launched while it still
//! works, outside `max_workers` (both at most a quarter and a half of the
//! class's walltime, so that short jobs still work). A task that no worker of its class could
//! ever fit fails at once; one whose worker's job reached its run limit
//! runs again without using up an attempt, and is expected to take longer.

use std::time::{Duration, Instant};

use dfm_plugin_api::units::walltime_seconds;
use dfm_wire::TaskSpec;

use super::{ClassId, Durations, Pool, Slot, SlotId, SlotState, TaskId};

/// How close to its end a job that is lost counts as stopped at its run
/// limit: its clock starts a little after the scheduler's.
const AT_LIMIT: Duration = Duration::from_secs(30);

/// How many queued tasks a worker that cannot fit the first looks through
/// for one it can.
pub(super) const LOOKAHEAD: usize = 64;

impl Pool {
    /// The run limit of `class`'s worker jobs: from the configuration, or
    /// what its first task asked for; `None` for none.
    pub fn set_class_walltime(&mut self, class: &str, walltime: Option<Duration>) {
        let id = self.class_id(class);
        self.classes[id].walltime = walltime;
    }

    /// What tasks took, to keep across restarts.
    pub fn durations(&mut self) -> &mut Durations {
        &mut self.durations
    }

    /// What tasks took in earlier runs of the daemon.
    pub fn load_durations(&mut self, durations: Durations) {
        self.durations = durations;
    }

    /// What a task is expected to take.
    pub(super) fn expected_duration(&self, spec: &TaskSpec) -> Duration {
        let tagged = spec
            .resources
            .as_ref()
            .and_then(|r| r.walltime.as_deref())
            .and_then(|w| walltime_seconds(w).ok())
            .map(Duration::from_secs);
        tagged
            .or_else(|| self.durations.expected(&spec.name))
            .unwrap_or(self.config.default_task_duration)
    }

    /// Why a task expected to take `expected` can run on no worker of
    /// `class`, if it cannot.
    pub(super) fn too_long_for_class(
        &self,
        class: ClassId,
        name: &str,
        expected: Duration,
    ) -> Option<String> {
        let state = &self.classes[class];
        let walltime = state.walltime?;
        let margin = self.config.walltime_margin;
        if expected + margin <= walltime {
            return None;
        }
        let which = if state.name.is_empty() {
            "the default class".to_string()
        } else {
            format!("resource class '{}'", state.name)
        };
        Some(format!(
            "task '{name}' is expected to take {} (its walltime tag, or its earlier runs), which with \
             pool.walltime_margin ({}) is more than the {} walltime of the workers of {which}: raise \
             that walltime (runner.resource_classes, or the task's walltime tag), or split the task",
            minutes(expected),
            minutes(margin),
            minutes(walltime)
        ))
    }

    /// The runner reports the job of `slot` running.
    pub fn job_running(&mut self, slot: SlotId, now: Instant) {
        self.start_clock(slot, now);
    }

    /// The scheduler says the job of `slot` has `left` before its run
    /// limit: it ends then, or when the pool's own clock says, whichever
    /// is sooner (a scheduler may round what it shows).
    pub fn job_time_left(&mut self, slot: SlotId, left: Duration, now: Instant) {
        if let Some(s) = self.slots.get_mut(&slot) {
            let said = now + left;
            s.ends_at = Some(s.ends_at.map_or(said, |own| own.min(said)));
        }
        self.walltime_tick(now);
    }

    /// The job of `slot` runs from `now`, if nothing sooner is known.
    pub(super) fn start_clock(&mut self, slot: SlotId, now: Instant) {
        let Some(s) = self.slots.get_mut(&slot) else {
            return;
        };
        if s.ends_at.is_none() {
            s.ends_at = self.classes[s.class_id].walltime.map(|w| now + w);
        }
    }

    /// What the job of `slot` has left; `None`: no known limit.
    fn time_left(slot: &Slot, now: Instant) -> Option<Duration> {
        slot.ends_at.map(|end| end.saturating_duration_since(now))
    }

    /// `drain_before` for the workers of `class`: at most a quarter of
    /// their walltime, so that short jobs still take tasks.
    fn drain_before(&self, class: ClassId) -> Duration {
        let configured = self.config.drain_before;
        self.classes[class]
            .walltime
            .map_or(configured, |w| configured.min(w / 4))
    }

    /// `replace_ahead` for the workers of `class`: at most half their
    /// walltime.
    fn replace_ahead(&self, class: ClassId) -> Duration {
        let configured = self.config.replace_ahead;
        self.classes[class]
            .walltime
            .map_or(configured, |w| configured.min(w / 2))
    }

    /// Within `drain_before` of its end: it takes nothing new.
    pub(super) fn draining(&self, slot: &Slot, now: Instant) -> bool {
        Self::time_left(slot, now).is_some_and(|left| left < self.drain_before(slot.class_id))
    }

    /// Whether a task expected to take `expected`, sent to `slot` now,
    /// would end with `walltime_margin` to spare: at once if the worker is
    /// idle, else (`ahead`) once its current task and those it holds are
    /// expected to be done.
    pub(super) fn fits(&self, slot: &Slot, expected: Duration, ahead: bool, now: Instant) -> bool {
        let Some(end) = slot.ends_at else {
            return true;
        };
        if self.draining(slot, now) {
            return false;
        }
        let mut starts = now;
        if ahead {
            if let SlotState::Busy(current) = slot.state {
                let current = self
                    .tasks
                    .get(&current)
                    .map_or(Duration::ZERO, |t| t.expected);
                starts = starts.max(slot.since + current);
            }
            for held in &slot.next {
                starts += self.tasks.get(held).map_or(Duration::ZERO, |t| t.expected);
            }
        }
        end.saturating_duration_since(starts) >= expected + self.config.walltime_margin
    }

    /// The first queued task of `class` (within [`LOOKAHEAD`]) that fits
    /// the worker of `slot`, taken off the queue.
    pub(super) fn pop_fitting(
        &mut self,
        class: ClassId,
        slot: SlotId,
        ahead: bool,
        licensed: bool,
        now: Instant,
    ) -> Option<TaskId> {
        let limited = self.classes[class].walltime.is_some()
            || self.slots.get(&slot).is_some_and(|s| s.ends_at.is_some());
        if !limited && !licensed {
            return self.pop_queued(class);
        }
        if licensed && self.oldest_waits_for_tokens(class, now) {
            return None;
        }
        let s = self.slots.get(&slot)?;
        // Taken out while it is searched, which reads the rest of the pool.
        let mut queue = std::mem::take(&mut self.classes[class].queue);
        let queued = |id: TaskId| {
            self.tasks
                .get(&id)
                .is_some_and(|t| t.state == super::TaskState::Queued)
        };
        // Its job leaves it time enough, and its tokens can all be taken.
        let fits = |id: TaskId| {
            self.tasks.get(&id).is_some_and(|t| {
                (!limited || self.fits(s, t.expected, ahead, now))
                    && (!licensed || self.tokens_for(class, &t.needs, now))
            })
        };
        let found = queue.pop_first(queued, fits, LOOKAHEAD);
        self.classes[class].queue = queue;
        found
    }

    /// Replacements for workers near their end, and idle workers within
    /// `drain_before` of theirs retired. Runs with every tick.
    pub(super) fn walltime_tick(&mut self, now: Instant) {
        let mut ending: Vec<(SlotId, ClassId, bool)> = Vec::new();
        let mut drained: Vec<SlotId> = Vec::new();
        for (&id, slot) in &self.slots {
            let Some(left) = Self::time_left(slot, now) else {
                continue;
            };
            if slot.state == SlotState::Idle && left < self.drain_before(slot.class_id) {
                drained.push(id);
            } else if left < self.replace_ahead(slot.class_id) && !slot.replaced {
                let class = &self.classes[slot.class_id];
                let in_use = matches!(slot.state, SlotState::Busy(_)) || class.queued > 0;
                ending.push((id, slot.class_id, in_use));
            }
        }
        for id in drained {
            self.retire(id);
        }
        for (id, class, in_use) in ending {
            if !in_use {
                continue;
            }
            if let Some(slot) = self.slots.get_mut(&id) {
                slot.replaced = true;
                self.replaced += 1;
            }
            self.launch_batch(class, 1, now);
        }
    }

    /// Whether a worker lost at `now` was stopped by its job's run limit.
    pub(super) fn lost_at_walltime(slot: &Slot, now: Instant) -> bool {
        slot.ends_at.is_some_and(|end| now + AT_LIMIT >= end)
    }
}

/// `90 min`, `2 min`, `45 s`.
fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 120 {
        format!("{} min", secs.div_ceil(60))
    } else {
        format!("{secs} s")
    }
}
