//! A task in the pool: where it is, and the one way it moves.
//!
//! Every change of a task's [`TaskState`] goes through
//! `Pool::set_task_state` (or, for a task that leaves the pool,
//! `Pool::forget_task`): they alone keep the class counters that
//! dispatch reads (the state's [`Counter`]), so those cannot drift from the
//! tasks they count. `invariants.rs` checks that they agree after every
//! step of every pool test.

use std::sync::Arc;

use dfm_wire::TaskSpec;

use super::ids::{ClassId, ClientId, SlotId};

/// The licenses a task holds while it runs: (license, tokens).
pub type Needs = Vec<(String, u32)>;

#[derive(Debug)]
pub(super) struct Task {
    pub client: ClientId,
    pub spec: Arc<TaskSpec>,
    pub class: ClassId,
    /// How often it was started on a worker.
    pub attempts: u32,
    pub state: TaskState,
    /// What it is expected to take: its `walltime` tag, else what its
    /// earlier runs took, else the pool's default.
    pub expected: std::time::Duration,
    /// How often its command said its license could not be checked out.
    pub license_retries: u32,
    /// The licenses it holds while it runs: its class's and its own.
    pub needs: std::sync::Arc<Needs>,
    /// When it was submitted: the oldest waiting for a license goes first.
    pub submitted: std::time::Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskState {
    /// Waiting in its class's queue.
    Queued,
    /// Running on the worker of the slot.
    Running(SlotId),
    /// Cancelled while running: the worker is killing it, and its end
    /// brings no reply.
    Killing(SlotId),
    /// Sent ahead to the busy worker of the slot, which starts it when its
    /// current task ends.
    Held(SlotId),
    /// Held, and asked back because another worker went idle: handed
    /// back, it runs elsewhere; started after all, it runs where it is.
    Withdrawing(SlotId),
    /// Held, and cancelled: asked back too, and forgotten either way.
    CancelledAhead(SlotId),
}

/// The class counter a state counts in.
#[derive(Clone, Copy)]
pub(super) enum Counter {
    Queued,
    Ahead,
    Withdrawing,
}

impl TaskState {
    /// The worker it was sent to (running it, or holding it ahead).
    #[cfg(test)]
    pub fn slot(self) -> Option<SlotId> {
        match self {
            TaskState::Queued => None,
            TaskState::Running(slot)
            | TaskState::Killing(slot)
            | TaskState::Held(slot)
            | TaskState::Withdrawing(slot)
            | TaskState::CancelledAhead(slot) => Some(slot),
        }
    }

    /// Cancelled by its client: it gets no more replies.
    pub fn cancelled(self) -> bool {
        matches!(self, TaskState::Killing(_) | TaskState::CancelledAhead(_))
    }

    /// Held ahead by a worker, asked back or not.
    #[cfg(test)]
    pub fn ahead(self) -> bool {
        matches!(
            self,
            TaskState::Held(_) | TaskState::Withdrawing(_) | TaskState::CancelledAhead(_)
        )
    }

    pub fn counter(self) -> Option<Counter> {
        match self {
            TaskState::Queued => Some(Counter::Queued),
            TaskState::Held(_) => Some(Counter::Ahead),
            TaskState::Withdrawing(_) | TaskState::CancelledAhead(_) => Some(Counter::Withdrawing),
            TaskState::Running(_) | TaskState::Killing(_) => None,
        }
    }
}
