//! License tokens: the pool is the license scheduler for the tasks it runs.
//!
//! A task holds its tokens (its class's, and those it names itself) while
//! it runs: from the moment it is sent to run ([`TaskState::Running`])
//! until its result, cancel or loss takes it out of that state (`Killing`
//! still holds them: the process may still have the license). Tokens change hands only in
//! `set_task_state` and `forget_task`, and `check_invariants` recounts them.
//!
//! Rules:
//! - A task starts only when all its tokens can be taken at once; never
//!   more in use than allowed, across every client, class and worker.
//! - A licensed task is never sent ahead to a busy worker: held there, it
//!   would either hold tokens idle while it waits, or start later without
//!   them. It waits in its queue instead, where fair share orders it.
//! - **Oldest starved first**: once a class has waited for a license longer
//!   than `license_patience`, tasks of other classes that need that license
//!   do not take it until the starved class's next task has started (of two
//!   starved classes, the one starved longer). So a task needing 4 tokens
//!   is not kept waiting forever by a stream of 1-token tasks. Inside a
//!   class whose tasks name licenses of their own, the task waiting
//!   longest past the patience is waited for in the same way.
//! - No worker is launched for a task that waits only for a license.
//! - A licensed task whose command exits with one of `retry_exit_codes`
//!   ("license unavailable": someone outside dfm took it) runs again, first
//!   in line, without using an attempt, up to [`MAX_LICENSE_RETRIES`] times;
//!   its licenses that have a query allow nothing new until the query
//!   answers again (`set_license_allowed`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dfm_wire::{TaskResult, TaskSpec};

use super::task::{Needs, TaskState};
use super::walltime::LOOKAHEAD;
use super::{ClassId, Pool, TaskId};

/// How often a task is run again because its command said its license
/// could not be checked out, before that answer is its result.
pub const MAX_LICENSE_RETRIES: u32 = 10;

/// The licenses the pool schedules, from `runner.licenses` and the classes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LicenseConfig {
    /// Tokens of each license this daemon's tasks may hold at most.
    pub counts: BTreeMap<String, u32>,
    /// What a task of each class holds while it runs (`""`: the default
    /// class, and classes the configuration does not name).
    pub classes: BTreeMap<String, Needs>,
    /// How long a class waits for a license before the others make way.
    pub patience: Duration,
    /// Exit codes by which a task's command says its license could not
    /// be checked out (`runner.licenses.retry_exit_codes`).
    pub retry_exit_codes: Vec<i32>,
    /// The licenses with a query: after such an exit, they allow nothing
    /// new until the query answers again.
    pub queried: Vec<String>,
}

/// Tokens allowed and in use, by license.
#[derive(Debug, Default)]
pub(super) struct Tokens {
    /// Allowed now: `count`, or less while others hold some (a query).
    allowed: BTreeMap<String, u32>,
    in_use: BTreeMap<String, u32>,
}

/// One license, as status shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenseUse {
    pub name: String,
    pub in_use: u32,
    pub allowed: u32,
    /// Tasks queued that need it.
    pub waiting: usize,
}

/// Whether a task in `state` holds its tokens.
fn holds_tokens(state: TaskState) -> bool {
    matches!(state, TaskState::Running(_) | TaskState::Killing(_))
}

impl Tokens {
    pub(super) fn new(config: &LicenseConfig) -> Tokens {
        Tokens {
            allowed: config.counts.clone(),
            in_use: config.counts.keys().map(|name| (name.clone(), 0)).collect(),
        }
    }

    fn free(&self, license: &str) -> u32 {
        let allowed = self.allowed.get(license).copied().unwrap_or(0);
        let used = self.in_use.get(license).copied().unwrap_or(0);
        allowed.saturating_sub(used)
    }

    fn change(&mut self, needs: &Needs, take: bool) {
        for (license, tokens) in needs {
            // Every license has its entry from the start: no key to copy.
            let Some(used) = self.in_use.get_mut(license) else {
                continue;
            };
            *used = if take {
                *used + tokens
            } else {
                used.saturating_sub(*tokens)
            };
        }
    }

    #[cfg(test)]
    pub(super) fn in_use(&self) -> &BTreeMap<String, u32> {
        &self.in_use
    }
}

impl Pool {
    /// What a task of `class` holds while it runs (empty: no license).
    pub(super) fn needs_of_class(&self, name: &str) -> Needs {
        let classes = &self.config.licenses.classes;
        // A class the configuration does not name has the defaults'.
        classes
            .get(name)
            .or_else(|| classes.get(""))
            .cloned()
            .unwrap_or_default()
    }

    /// Keeps the tokens in step with a task that holds `needs` moving from
    /// `before` to `after` (`None`: it leaves the pool); called by the task
    /// transition functions only.
    pub(super) fn move_tokens(
        &mut self,
        needs: &Needs,
        before: TaskState,
        after: Option<TaskState>,
    ) {
        let (held, holds) = (holds_tokens(before), after.is_some_and(holds_tokens));
        if held != holds && !needs.is_empty() {
            self.tokens.change(needs, holds);
        }
    }

    /// What a task of `class` submitted as `spec` holds while it runs: its
    /// class's licenses and its own (`licenses`); an error says why it
    /// cannot run (a license this daemon does not schedule, or more
    /// tokens than there are).
    pub(super) fn needs_of_task(
        &mut self,
        class: ClassId,
        spec: &TaskSpec,
    ) -> Result<Arc<Needs>, String> {
        let own = spec.licenses().map_err(|e| e.to_string())?;
        let of_class = &self.classes[class].licenses;
        if own.is_empty() {
            return Ok(Arc::clone(of_class));
        }
        let mut needs: Needs = of_class.as_ref().clone();
        for (license, tokens) in own {
            let Some(&count) = self.config.licenses.counts.get(&license) else {
                let known: Vec<&str> = self
                    .config
                    .licenses
                    .counts
                    .keys()
                    .map(String::as_str)
                    .collect();
                return Err(format!(
                    "task '{}' names license '{license}', which this daemon does not schedule (runner.licenses defines: {})",
                    spec.name,
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ));
            };
            match needs.iter_mut().find(|(name, _)| *name == license) {
                Some((_, held)) => *held += tokens,
                None => needs.push((license.clone(), tokens)),
            }
            let total = needs
                .iter()
                .find(|(name, _)| *name == license)
                .map_or(0, |n| n.1);
            if total > count {
                return Err(format!(
                    "task '{}' needs {total} tokens of '{license}', more than its count ({count}): it could never start",
                    spec.name
                ));
            }
        }
        self.classes[class].own_licenses = true;
        Ok(Arc::new(needs))
    }

    /// Whether tasks of `class` may need licenses: they are never sent
    /// ahead, and start one by one as their tokens allow.
    pub(super) fn license_gated(&self, class: ClassId) -> bool {
        self.classes[class].gated()
    }

    /// Whether, in a class whose tasks name licenses of their own, the one
    /// waiting longest (within [`LOOKAHEAD`]) has waited past the patience
    /// and cannot start yet: then the others of its class wait too, so the
    /// tokens come free for it (oldest starved first, inside a class).
    pub(super) fn oldest_waits_for_tokens(&self, class: ClassId, now: Instant) -> bool {
        if !self.classes[class].own_licenses {
            return false;
        }
        let oldest = self.classes[class]
            .queue
            .iter()
            .filter_map(|id| self.tasks.get(&id))
            .filter(|task| task.state == TaskState::Queued)
            .take(LOOKAHEAD)
            .min_by_key(|task| task.submitted);
        oldest.is_some_and(|task| {
            now >= task.submitted + self.config.licenses.patience
                && !self.tokens_for(class, &task.needs, now)
        })
    }

    /// Whether a task of `class` holding `needs` could take them all now.
    pub(super) fn tokens_for(&self, class: ClassId, needs: &Needs, now: Instant) -> bool {
        needs.iter().all(|(license, tokens)| {
            self.tokens.free(license) >= *tokens && !self.makes_way(class, license, now)
        })
    }

    /// How many more tasks of `class` could start now, as far as licenses
    /// go (`usize::MAX` for a class that needs none).
    pub(super) fn startable(&self, class: ClassId, now: Instant) -> usize {
        let state = &self.classes[class];
        if state.own_licenses {
            return self.startable_one_by_one(class, now);
        }
        let mut room = usize::MAX;
        for (license, tokens) in state.licenses.iter() {
            if self.makes_way(class, license, now) {
                return 0;
            }
            room = room.min((self.tokens.free(license) / (*tokens).max(1)) as usize);
        }
        room
    }

    /// For a class whose tasks need licenses of their own: how many of the
    /// first queued ones (within [`LOOKAHEAD`]) could start together now.
    fn startable_one_by_one(&self, class: ClassId, now: Instant) -> usize {
        let mut free: BTreeMap<&str, u32> = self
            .tokens
            .allowed
            .keys()
            .map(|name| (name.as_str(), self.tokens.free(name)))
            .collect();
        let mut count = 0;
        let queued = self.classes[class]
            .queue
            .iter()
            .filter_map(|id| self.tasks.get(&id))
            .filter(|task| task.state == TaskState::Queued)
            .take(LOOKAHEAD);
        for task in queued {
            let fits = task.needs.iter().all(|(license, tokens)| {
                free.get(license.as_str()).is_some_and(|f| f >= tokens)
                    && !self.makes_way(class, license, now)
            });
            if fits {
                for (license, tokens) in task.needs.iter() {
                    if let Some(f) = free.get_mut(license.as_str()) {
                        *f -= tokens;
                    }
                }
                count += 1;
            }
        }
        count
    }

    /// Whether `class` must leave `license` to another class, starved of
    /// it for longer than the patience allows, and longer than `class` (of
    /// two starved as long, the first in id order goes first).
    fn makes_way(&self, class: ClassId, license: &str, now: Instant) -> bool {
        let patience = self.config.licenses.patience;
        let own = self.classes[class]
            .starved_since
            .map(|since| (since, class));
        self.classes.iter().enumerate().any(|(other, state)| {
            let Some(since) = state.starved_since else {
                return false;
            };
            other != class
                && state.queued > 0
                && now >= since + patience
                && (state.own_licenses || state.licenses.iter().any(|(name, _)| name == license))
                && own.is_none_or(|own| (since, other) < own)
        })
    }

    /// Dispatch found `class`'s next task without the tokens it needs.
    pub(super) fn starved(&mut self, class: ClassId, now: Instant) {
        self.classes[class].starved_since.get_or_insert(now);
    }

    /// A task of `class` started, or none waits: it is not starved.
    pub(super) fn fed(&mut self, class: ClassId) {
        self.classes[class].starved_since = None;
    }

    /// The tokens of `license` this daemon may hold now (a license query
    /// found others holding some); tasks waiting for them may start.
    pub fn set_license_allowed(&mut self, license: &str, allowed: u32, now: Instant) {
        if let Some(current) = self.tokens.allowed.get_mut(license) {
            *current = allowed;
        }
        self.schedule(now);
    }

    /// Whether task `id`'s command said its license could not be checked
    /// out (and it may run again for that).
    pub(super) fn license_was_unavailable(&self, id: TaskId, result: &TaskResult) -> bool {
        let codes = &self.config.licenses.retry_exit_codes;
        self.tasks.get(&id).is_some_and(|task| {
            codes.contains(&result.status)
                && !task.state.cancelled()
                && !task.needs.is_empty()
                && task.license_retries < MAX_LICENSE_RETRIES
        })
    }

    /// Runs task `id` again, first in line, without using an attempt; its
    /// queried licenses allow nothing new until their next answer.
    pub(super) fn retry_for_license(&mut self, id: TaskId) {
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        task.attempts = task.attempts.saturating_sub(1);
        task.license_retries += 1;
        let needs = Arc::clone(&task.needs);
        self.requeue_first(id, true);
        for (license, _) in needs.iter() {
            if self.config.licenses.queried.contains(license) {
                let in_use = self.tokens_in_use(license);
                if let Some(allowed) = self.tokens.allowed.get_mut(license) {
                    *allowed = (*allowed).min(in_use);
                }
            }
        }
    }

    /// The tokens of `license` the pool's running tasks hold.
    pub fn tokens_in_use(&self, license: &str) -> u32 {
        self.tokens.in_use.get(license).copied().unwrap_or(0)
    }

    /// Every license: in use, allowed now, tasks waiting for it.
    pub fn license_use(&self) -> Vec<LicenseUse> {
        self.tokens
            .allowed
            .iter()
            .map(|(name, &allowed)| LicenseUse {
                name: name.clone(),
                in_use: self.tokens.in_use.get(name).copied().unwrap_or(0),
                allowed,
                waiting: self
                    .tasks
                    .iter()
                    .filter(|(_, t)| t.state == TaskState::Queued)
                    .filter(|(_, t)| t.needs.iter().any(|(l, _)| l == name))
                    .count(),
            })
            .collect()
    }

    /// The tokens running tasks hold, counted again from the tasks.
    #[cfg(test)]
    pub(super) fn tokens_recounted(&self) -> BTreeMap<String, u32> {
        let mut counted: BTreeMap<String, u32> = self
            .tokens
            .in_use()
            .keys()
            .map(|k| (k.clone(), 0))
            .collect();
        let running = self.tasks.iter().filter(|(_, t)| holds_tokens(t.state));
        for (_, task) in running {
            for (license, tokens) in task.needs.iter() {
                *counted.entry(license.clone()).or_default() += tokens;
            }
        }
        counted
    }
}

impl super::ClassState {
    /// Whether its tasks may need licenses (see [`Pool::license_gated`]).
    pub(super) fn gated(&self) -> bool {
        !self.licenses.is_empty() || self.own_licenses
    }
}
