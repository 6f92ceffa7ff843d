//! A class's queue, fair between the clients that share the pool: each
//! client's tasks wait in their own line, and the lines take turns, each
//! giving as many tasks per turn as its client's priority (weighted round
//! robin). A nightly regression of 10,000 tasks then delays a 5-task run
//! by five of its tasks, not by all of them. Every operation is constant
//! time per task, whatever the number of clients or tasks waiting.
//!
//! The queue holds task ids only; whether a task is still queued is the
//! pool's to say (a cancelled one stays in its line until it is reached,
//! and is skipped then).

use std::collections::{HashMap, VecDeque};

use dfm_wire::MAX_PRIORITY;

use super::ids::{ClientId, TaskId};

#[derive(Debug, Default)]
pub(super) struct FairQueue {
    lines: HashMap<ClientId, Line>,
    /// Clients with a line, in the order they are served; the first is
    /// being served.
    turns: VecDeque<ClientId>,
}

#[derive(Debug)]
struct Line {
    tasks: VecDeque<TaskId>,
    /// Tasks per turn.
    weight: u32,
    /// Tasks left in this turn.
    credit: u32,
}

impl FairQueue {
    /// Task `id` of `client` joins the end of its client's line (a new
    /// line waits for its turn behind the others); `weight`: the client's
    /// priority, from now on.
    pub fn push_back(&mut self, client: ClientId, id: TaskId, weight: u32) {
        let weight = weight.clamp(1, MAX_PRIORITY);
        let line = self.line(client, weight);
        line.weight = weight;
        line.credit = line.credit.min(weight);
        line.tasks.push_back(id);
    }

    /// Task `id` of `client` goes back to the front of its client's line.
    /// `serve_next`: and its client's turn comes next (it was dispatched
    /// before anything queued now); else a client that has no line
    /// waits for its turn like a new one.
    pub fn push_front(&mut self, client: ClientId, id: TaskId, serve_next: bool) {
        let new = !self.lines.contains_key(&client);
        self.line(client, 1).tasks.push_front(id);
        if serve_next && !new {
            if let Some(at) = self.turns.iter().position(|c| *c == client) {
                self.turns.remove(at);
            }
        }
        if serve_next {
            if new {
                self.turns.pop_back();
            }
            self.turns.push_front(client);
        }
    }

    /// `client`'s line is served next, out of turn.
    pub fn serve_next(&mut self, client: ClientId) {
        if let Some(at) = self.turns.iter().position(|c| *c == client) {
            self.turns.remove(at);
            self.turns.push_front(client);
        }
    }

    /// The line of `client`, made (at the end of the turns) if need be.
    fn line(&mut self, client: ClientId, weight: u32) -> &mut Line {
        if !self.lines.contains_key(&client) {
            self.turns.push_back(client);
        }
        self.lines.entry(client).or_insert_with(|| Line {
            tasks: VecDeque::new(),
            weight,
            credit: weight,
        })
    }

    /// The next task, in fair order, for which `live` says it is still
    /// queued; those it is not true of are dropped on the way.
    pub fn pop(&mut self, live: impl Fn(TaskId) -> bool) -> Option<TaskId> {
        while let Some(&client) = self.turns.front() {
            let line = self.lines.get_mut(&client)?;
            let mut found = None;
            while let Some(id) = line.tasks.pop_front() {
                if live(id) {
                    found = Some(id);
                    break;
                }
            }
            match found {
                Some(id) => {
                    self.served(client);
                    return Some(id);
                }
                None => self.close(client),
            }
        }
        None
    }

    /// The first task, in fair order, that is `live` and `fits`, looking
    /// at no more than `limit` live ones.
    pub fn pop_first(
        &mut self,
        live: impl Fn(TaskId) -> bool,
        fits: impl Fn(TaskId) -> bool,
        limit: usize,
    ) -> Option<TaskId> {
        let mut looked = 0;
        let mut found = None;
        'turns: for &client in &self.turns {
            let Some(line) = self.lines.get(&client) else {
                continue;
            };
            for (at, &id) in line.tasks.iter().enumerate() {
                if !live(id) {
                    continue;
                }
                if fits(id) {
                    found = Some((client, at));
                    break 'turns;
                }
                looked += 1;
                if looked == limit {
                    break 'turns;
                }
            }
        }
        let (client, at) = found?;
        let id = self.lines.get_mut(&client)?.tasks.remove(at)?;
        self.served(client);
        Some(id)
    }

    /// One task of `client`'s line was taken: its turn moves on when its
    /// credit is spent or its line is empty.
    fn served(&mut self, client: ClientId) {
        let Some(line) = self.lines.get_mut(&client) else {
            return;
        };
        line.credit = line.credit.saturating_sub(1);
        if line.tasks.is_empty() {
            self.close(client);
        } else if line.credit == 0 {
            line.credit = line.weight;
            if let Some(at) = self.turns.iter().position(|c| *c == client) {
                self.turns.remove(at);
            }
            self.turns.push_back(client);
        }
    }

    /// `client`'s line is empty: it leaves the turns.
    fn close(&mut self, client: ClientId) {
        self.lines.remove(&client);
        if self.turns.front() == Some(&client) {
            self.turns.pop_front();
        } else if let Some(at) = self.turns.iter().position(|c| *c == client) {
            self.turns.remove(at);
        }
    }

    /// Every task id in it, queued or stale; it is empty after.
    pub fn drain(&mut self) -> Vec<TaskId> {
        let ids = self.iter().collect();
        self.clear();
        ids
    }

    pub fn clear(&mut self) {
        self.lines.clear();
        self.turns.clear();
    }

    /// Every task id in it, queued or stale, in fair order of lines.
    pub fn iter(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.turns
            .iter()
            .filter_map(|client| self.lines.get(client))
            .flat_map(|line| line.tasks.iter().copied())
    }

    /// Whether every line is in the turns once, and every client in the
    /// turns has a line.
    #[cfg(test)]
    pub fn consistent(&self) -> bool {
        let mut seen = std::collections::HashSet::new();
        self.turns.len() == self.lines.len()
            && self
                .turns
                .iter()
                .all(|c| self.lines.contains_key(c) && seen.insert(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_order(queue: &mut FairQueue) -> Vec<TaskId> {
        std::iter::from_fn(|| queue.pop(|_| true)).collect()
    }

    #[test]
    fn clients_take_turns_whatever_came_first() {
        let mut q = FairQueue::default();
        for id in 1..=6 {
            q.push_back(1, id, 1);
        }
        q.push_back(2, 101, 1);
        q.push_back(2, 102, 1);
        assert_eq!(drain_order(&mut q), [1, 101, 2, 102, 3, 4, 5, 6]);
        assert!(q.consistent());
    }

    #[test]
    fn a_priority_is_tasks_per_turn() {
        let mut q = FairQueue::default();
        for id in 0..8 {
            q.push_back(1, id, 3);
            q.push_back(2, 100 + id, 1);
        }
        let order = drain_order(&mut q);
        assert_eq!(&order[..8], [0, 1, 2, 100, 3, 4, 5, 101]);
        assert_eq!(q.pop(|_| true), None);
    }

    #[test]
    fn a_new_line_waits_its_turn_unless_served_next() {
        let mut q = FairQueue::default();
        for id in 1..=3 {
            q.push_back(1, id, 1);
        }
        q.push_back(2, 10, 1);
        q.push_back(2, 11, 1);
        assert_eq!(q.pop(|_| true), Some(1));
        q.push_back(3, 20, 1);
        q.serve_next(3);
        assert_eq!(drain_order(&mut q), [20, 10, 2, 11, 3]);
    }

    #[test]
    fn stale_tasks_are_skipped_and_empty_lines_close() {
        let mut q = FairQueue::default();
        q.push_back(1, 1, 1);
        q.push_back(1, 2, 1);
        q.push_back(2, 3, 1);
        assert_eq!(q.pop(|id| id != 1), Some(2));
        assert_eq!(q.pop(|_| true), Some(3));
        assert_eq!(q.pop(|_| true), None);
        assert!(q.consistent());
        assert_eq!(q.iter().count(), 0);
    }

    #[test]
    fn a_task_put_back_first_is_next_for_its_client_and_maybe_next_of_all() {
        let mut q = FairQueue::default();
        q.push_back(1, 1, 1);
        q.push_back(2, 2, 1);
        q.push_front(2, 20, true);
        assert_eq!(drain_order(&mut q), [20, 1, 2]);
        q.push_back(1, 1, 1);
        q.push_back(2, 2, 1);
        // Handed back for another client's sake: no jumping the turns.
        q.push_front(3, 30, false);
        assert_eq!(drain_order(&mut q), [1, 2, 30]);
        assert!(q.consistent());
    }

    #[test]
    fn the_first_that_fits_is_taken_in_fair_order() {
        let mut q = FairQueue::default();
        q.push_back(1, 1, 1);
        q.push_back(1, 2, 1);
        q.push_back(2, 3, 1);
        // 1 does not fit; 2, after it in client 1's line (served first),
        // does. Client 2's turn is next.
        assert_eq!(q.pop_first(|_| true, |id| id != 1, 64), Some(2));
        assert_eq!(
            q.pop_first(|_| true, |id| id == 1, 1),
            None,
            "looked at 3 only"
        );
        assert_eq!(q.pop_first(|_| true, |id| id == 1, 64), Some(1));
        assert_eq!(drain_order(&mut q), [3]);
        assert!(q.consistent());
    }
}
