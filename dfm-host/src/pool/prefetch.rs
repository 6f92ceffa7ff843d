//! Tasks held ahead by busy workers: sent, started, asked back, handed
//! back.

use std::time::Instant;

use super::task::TaskState;
use super::{Action, ClassId, ClientId, Pool, Slot, SlotId, TaskId, UnexpectedReport};

impl Pool {
    /// A task held ahead by the worker of `slot` is now running there.
    pub(super) fn start_ahead(&mut self, slot: SlotId, id: TaskId) {
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        task.attempts += 1;
        let (client, cancelled) = (task.client, task.state.cancelled());
        // A cancelled task the worker started anyway is being killed there.
        let running = if cancelled {
            TaskState::Killing(slot)
        } else {
            TaskState::Running(slot)
        };
        self.set_task_state(id, running);
        self.offer(slot);
        if !cancelled {
            self.actions.push(Action::Started { slot, client, id });
        }
    }

    /// The worker of `slot` handed back a task it held ahead, unstarted.
    pub fn task_withdrawn(
        &mut self,
        slot: SlotId,
        request_id: &str,
        now: Instant,
    ) -> Result<(), UnexpectedReport> {
        let Some(s) = self.slots.get_mut(&slot) else {
            return Err(UnexpectedReport::WithdrawalFromUnknownWorker);
        };
        s.last_seen = now;
        let tasks = &self.tasks;
        let held = s.next.iter().position(|id| {
            tasks
                .get(id)
                .is_some_and(|t| t.spec.request_id == request_id)
        });
        let Some(id) = held.and_then(|at| s.next.remove(at)) else {
            return Err(UnexpectedReport::NotHeld(request_id.to_string()));
        };
        self.put_back_ahead(id);
        self.offer(slot);
        self.schedule(now);
        Ok(())
    }

    /// A task held ahead goes back to the front of its queue, unless it was
    /// cancelled. It was never started: no attempt is counted.
    pub(super) fn put_back_ahead(&mut self, id: TaskId) {
        let Some(task) = self.tasks.get(&id) else {
            return;
        };
        if task.state.cancelled() {
            self.forget_task(id);
        } else {
            self.requeue_first(id, false);
        }
    }

    /// The tasks `slot` holds ahead that have not been asked back, in line
    /// order.
    fn still_held<'a>(&'a self, slot: &'a Slot) -> impl Iterator<Item = TaskId> + 'a {
        slot.next.iter().copied().filter(|id| {
            self.tasks
                .get(id)
                .is_some_and(|t| matches!(t.state, TaskState::Held(_)))
        })
    }

    /// Lists a busy `slot` as able to take a task ahead, if it is.
    pub(super) fn offer(&mut self, slot: SlotId) {
        let depth = self.config.prefetch;
        let Some(s) = self.slots.get_mut(&slot) else {
            return;
        };
        if s.open || !s.can_hold_more(depth) {
            return;
        }
        s.open = true;
        self.classes[s.class_id].open.push_back(slot);
    }

    /// A newcomer's task waits in `class` and every worker is busy with
    /// tasks held ahead behind its current one: ask one worker (the one
    /// holding fewest) for all it holds, and serve the newcomer's line
    /// next, so that this worker takes its task next. Nothing if a worker
    /// will be free sooner anyway (one is idle or starting, or a busy one
    /// holds nothing).
    pub(super) fn make_way(&mut self, class: ClassId, newcomer: ClientId) {
        let Some(state) = self.classes.get(class) else {
            return;
        };
        if !state.idle.is_empty() || state.starting > 0 || state.ahead == 0 {
            return;
        }
        let busy = state.slots - state.starting - state.idle.len();
        if state.holders.len() < busy {
            return;
        }
        let Some(&(_, slot_id)) = state.holders.first() else {
            return;
        };
        let held: Vec<TaskId> = self
            .slots
            .get(&slot_id)
            .map(|slot| self.still_held(slot).collect())
            .unwrap_or_default();
        for id in held {
            self.withdraw(slot_id, id);
        }
        self.classes[class].queue.serve_next(newcomer);
    }

    /// Asks the worker of `slot` for task `id`, which it holds ahead.
    fn withdraw(&mut self, slot: SlotId, id: TaskId) {
        self.set_task_state(id, TaskState::Withdrawing(slot));
        if let Some(task) = self.tasks.get(&id) {
            self.actions.push(Action::Withdraw {
                slot,
                request_id: task.spec.request_id.clone(),
            });
        }
    }

    /// Idle workers of `class` while others hold tasks ahead: ask those
    /// tasks back, so that they run now rather than after a task that may
    /// be long. One request per idle worker not already covered, each for
    /// the task last in line on a worker that holds the most.
    pub(super) fn withdraw_for_idle(&mut self, class: ClassId) {
        let Some(state) = self.classes.get(class) else {
            return;
        };
        let wanted = state.idle.len().saturating_sub(state.withdrawing);
        for _ in 0..wanted {
            // The class's holders, most first: kept as tasks move.
            let Some(&(_, slot_id)) = self.classes[class].holders.last() else {
                return;
            };
            let last = self
                .slots
                .get(&slot_id)
                .and_then(|slot| self.still_held(slot).last());
            let Some(id) = last else {
                return;
            };
            self.withdraw(slot_id, id);
        }
    }
}
