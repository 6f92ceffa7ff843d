//! What must hold between the pool's tasks, slots, queues and counters
//! after any event. The pool's tests run [`Pool::check_invariants`] after
//! every step (see `tests/harness.rs`), so a counter that drifts from
//! what it counts fails the test that made it drift.

use std::collections::{BTreeMap, BTreeSet};

use super::task::TaskState;
use super::{Pool, SlotId, SlotState, TaskId};

impl Pool {
    /// Panics with what is wrong if the pool's books disagree.
    pub(super) fn check_invariants(&self) {
        let mut problems = Vec::new();
        let mut problem = |text: String| problems.push(text);

        // Tasks: each counted once, where its state says.
        let mut queued = vec![0usize; self.classes.len()];
        let mut ahead = vec![0usize; self.classes.len()];
        let mut withdrawing = vec![0usize; self.classes.len()];
        let mut held_by: BTreeMap<SlotId, BTreeSet<TaskId>> = BTreeMap::new();
        for (id, task) in self.tasks.iter() {
            match task.state {
                TaskState::Queued => queued[task.class] += 1,
                TaskState::Held(_) => ahead[task.class] += 1,
                TaskState::Withdrawing(_) | TaskState::CancelledAhead(_) => {
                    withdrawing[task.class] += 1
                }
                TaskState::Running(slot) | TaskState::Killing(slot) => {
                    let runs = self.slots.get(&slot).map(|s| s.state);
                    if runs != Some(SlotState::Busy(id)) {
                        problem(format!(
                            "task {id} is {:?}, but slot {slot} is {runs:?}",
                            task.state
                        ));
                    }
                }
            }
            if let Some(slot) = task.state.slot().filter(|_| task.state.ahead()) {
                held_by.entry(slot).or_default().insert(id);
                if !self.slots.contains_key(&slot) {
                    problem(format!("task {id} is held by slot {slot}, which is gone"));
                }
            }
            let named = self.by_request.get(task.client, &task.spec.request_id) == Some(id);
            if named == task.state.cancelled() {
                problem(format!(
                    "task {id} ({:?}) is {}in by_request",
                    task.state,
                    if named { "" } else { "not " }
                ));
            }
        }
        for (id, state) in self.classes.iter().enumerate() {
            let name = &state.name;
            if state.queued != queued[id] {
                problem(format!(
                    "class '{name}' counts {} queued, holds {}",
                    state.queued, queued[id]
                ));
            }
            if state.ahead != ahead[id] {
                problem(format!(
                    "class '{name}' counts {} ahead, holds {}",
                    state.ahead, ahead[id]
                ));
            }
            if state.withdrawing != withdrawing[id] {
                problem(format!(
                    "class '{name}' counts {} withdrawing, holds {}",
                    state.withdrawing, withdrawing[id]
                ));
            }
            // Every queued task is in the queue once; the rest are stale.
            let mut in_queue = BTreeSet::new();
            if !state.queue.consistent() {
                problem(format!(
                    "class '{name}': its lines and their turns disagree"
                ));
            }
            for task in state.queue.iter() {
                let live = self
                    .tasks
                    .get(&task)
                    .is_some_and(|t| t.state == TaskState::Queued && t.class == id);
                if live && !in_queue.insert(task) {
                    problem(format!("task {task} is queued twice in class '{name}'"));
                }
            }
            if in_queue.len() != queued[id] {
                problem(format!(
                    "class '{name}' has {} queued tasks, {} of them in its queue",
                    queued[id],
                    in_queue.len()
                ));
            }
        }
        for id in self.by_request.tasks() {
            if self.tasks.get(&id).is_none() {
                problem(format!("by_request names task {id}, which is gone"));
            }
        }

        // Clients: their counts are their tasks'.
        let mut clients: BTreeMap<super::ClientId, super::ClientCounts> = BTreeMap::new();
        for (_, task) in self.tasks.iter() {
            let counts = clients.entry(task.client).or_default();
            match task.state {
                TaskState::Queued => counts.queued += 1,
                TaskState::Held(_) | TaskState::Withdrawing(_) => counts.held += 1,
                TaskState::Running(_) => counts.running += 1,
                TaskState::Killing(_) | TaskState::CancelledAhead(_) => {}
            }
        }
        clients.retain(|_, counts| *counts != super::ClientCounts::default());
        let kept: BTreeMap<_, _> = self.clients.iter().map(|(c, n)| (*c, *n)).collect();
        if kept != clients {
            problem(format!("client counts {kept:?}, tasks say {clients:?}"));
        }

        // Slots: counters, idle lists, what they hold.
        let mut starting = vec![0usize; self.classes.len()];
        let mut slots = vec![0usize; self.classes.len()];
        let mut idle: Vec<BTreeSet<SlotId>> = vec![BTreeSet::new(); self.classes.len()];
        let mut launching = 0;
        for (&slot_id, slot) in &self.slots {
            let class = slot.class_id;
            slots[class] += 1;
            match slot.state {
                SlotState::Launching => {
                    launching += 1;
                    starting[class] += 1;
                }
                SlotState::Starting => starting[class] += 1,
                SlotState::Idle => {
                    idle[class].insert(slot_id);
                }
                SlotState::Busy(task) => {
                    let state = self.tasks.get(&task).map(|t| t.state);
                    if !matches!(state, Some(TaskState::Running(s) | TaskState::Killing(s)) if s == slot_id)
                    {
                        problem(format!(
                            "slot {slot_id} runs task {task}, which is {state:?}"
                        ));
                    }
                }
            }
            let next: BTreeSet<TaskId> = slot.next.iter().copied().collect();
            let held = held_by.remove(&slot_id).unwrap_or_default();
            if next.len() != slot.next.len() || next != held {
                problem(format!(
                    "slot {slot_id} lists {:?} ahead, but holds {held:?}",
                    slot.next
                ));
            }
            if !slot.next.is_empty() && !matches!(slot.state, SlotState::Busy(_)) {
                problem(format!(
                    "slot {slot_id} is {:?} with tasks ahead",
                    slot.state
                ));
            }
            if slot.open && !self.classes[class].open.contains(&slot_id) {
                problem(format!("slot {slot_id} is open but not listed"));
            }
            if self.by_worker_id.get(&slot.worker_id) != Some(&slot_id) {
                problem(format!(
                    "worker {} is not found as slot {slot_id}",
                    slot.worker_id
                ));
            }
        }
        if self.by_worker_id.len() != self.slots.len() {
            problem(format!(
                "{} worker ids for {} slots",
                self.by_worker_id.len(),
                self.slots.len()
            ));
        }
        if self.launching != launching {
            problem(format!(
                "counts {} launching, has {launching}",
                self.launching
            ));
        }
        let mut workers = dfm_wire::WorkerCounts {
            total: self.slots.len(),
            ..Default::default()
        };
        for slot in self.slots.values() {
            match slot.state {
                SlotState::Launching | SlotState::Starting => workers.pending += 1,
                SlotState::Idle => workers.idle += 1,
                SlotState::Busy(_) => workers.busy += 1,
            }
        }
        if self.counts().workers != workers {
            problem(format!(
                "counts {:?} workers, has {workers:?}",
                self.counts().workers
            ));
        }
        // Holders: each slot's count of tasks held, not asked back.
        for (id, state) in self.classes.iter().enumerate() {
            let mut holders = BTreeSet::new();
            for (&slot_id, slot) in self.slots.iter().filter(|(_, s)| s.class_id == id) {
                let held = slot
                    .next
                    .iter()
                    .filter(|t| {
                        self.tasks
                            .get(t)
                            .is_some_and(|t| t.state == TaskState::Held(slot_id))
                    })
                    .count();
                if slot.held != held {
                    problem(format!(
                        "slot {slot_id} counts {} held, holds {held}",
                        slot.held
                    ));
                }
                if held > 0 {
                    holders.insert((held, slot_id));
                }
            }
            if state.holders != holders {
                problem(format!(
                    "class '{}' lists holders {:?}, has {holders:?}",
                    state.name, state.holders
                ));
            }
        }
        let replaced = self.slots.values().filter(|s| s.replaced).count();
        if self.replaced != replaced {
            problem(format!(
                "counts {} replaced slots, has {replaced}",
                self.replaced
            ));
        }
        // Within max_workers, but for replacements launched ahead.
        if self.slots.len() - self.replaced > self.config.max_workers {
            problem(format!(
                "{} slots ({} replaced) for max_workers {}",
                self.slots.len(),
                self.replaced,
                self.config.max_workers
            ));
        }
        for (id, state) in self.classes.iter().enumerate() {
            let name = &state.name;
            if state.starting != starting[id] || state.slots != slots[id] {
                problem(format!(
                    "class '{name}' counts {} starting of {} slots, has {} of {}",
                    state.starting, state.slots, starting[id], slots[id]
                ));
            }
            let listed: BTreeSet<SlotId> = state.idle.iter().copied().collect();
            if listed.len() != state.idle.len() || listed != idle[id] {
                problem(format!(
                    "class '{name}' lists {:?} idle, has {:?}",
                    state.idle, idle[id]
                ));
            }
        }
        // License tokens: what running tasks hold, never above the count.
        let recounted = self.tokens_recounted();
        if self.tokens.in_use() != &recounted {
            problem(format!(
                "licenses in use {:?}, running tasks hold {recounted:?}",
                self.tokens.in_use()
            ));
        }
        for (license, used) in &recounted {
            let count = self
                .config
                .licenses
                .counts
                .get(license)
                .copied()
                .unwrap_or(0);
            if *used > count {
                problem(format!(
                    "{used} tokens of '{license}' in use, count {count}"
                ));
            }
        }
        assert!(
            problems.is_empty(),
            "pool invariants broken:\n  {}",
            problems.join("\n  ")
        );
    }
}
