//! Which tasks of a run may start now.
//!
//! Each task counts its needs not yet met; a task that ends well releases
//! the tasks that need it. Ready tasks come out in the run's order. Every
//! operation costs O(log n) (plus the released tasks), so a run of many
//! thousands of tasks spends no time rescanning the flow per reply.

use std::collections::BTreeSet;

pub struct Readiness {
    /// Task index → position in the run's order.
    position: Vec<Option<usize>>,
    /// By position: the task index.
    order: Vec<usize>,
    /// By position: needs not yet met.
    unmet: Vec<usize>,
    /// By position: the positions of the tasks that need it.
    dependents: Vec<Vec<usize>>,
    /// By position: ends at once, without a job slot (a message, or a
    /// task turned off).
    instant: Vec<bool>,
    /// Ready positions that take a job slot.
    ready: BTreeSet<usize>,
    /// Ready positions that end at once.
    ready_instant: BTreeSet<usize>,
}

impl Readiness {
    /// `order`: the run's task indices, each after its needs; `needs(i)`:
    /// the task indices task `i` needs; `instant(i)`: task `i` ends at once.
    /// A need outside `order` is never met.
    pub fn new<'a>(
        order: &[usize],
        needs: impl Fn(usize) -> &'a [usize],
        instant: impl Fn(usize) -> bool,
    ) -> Readiness {
        let size = order.iter().max().map_or(0, |&i| i + 1);
        let mut position = vec![None; size];
        for (pos, &i) in order.iter().enumerate() {
            position[i] = Some(pos);
        }
        let mut readiness = Readiness {
            unmet: vec![0; order.len()],
            dependents: vec![Vec::new(); order.len()],
            instant: order.iter().map(|&i| instant(i)).collect(),
            order: order.to_vec(),
            position,
            ready: BTreeSet::new(),
            ready_instant: BTreeSet::new(),
        };
        for (pos, &i) in order.iter().enumerate() {
            for &need in needs(i) {
                readiness.unmet[pos] += 1;
                if let Some(Some(need_pos)) = readiness.position.get(need) {
                    readiness.dependents[*need_pos].push(pos);
                }
            }
            if readiness.unmet[pos] == 0 {
                readiness.make_ready(pos);
            }
        }
        readiness
    }

    fn make_ready(&mut self, pos: usize) {
        if self.instant[pos] {
            self.ready_instant.insert(pos);
        } else {
            self.ready.insert(pos);
        }
    }

    /// The first ready task that ends at once, taken.
    pub fn take_instant(&mut self) -> Option<usize> {
        let pos = self.ready_instant.pop_first()?;
        Some(self.order[pos])
    }

    /// The first ready task that needs a job slot, taken.
    pub fn take(&mut self) -> Option<usize> {
        let pos = self.ready.pop_first()?;
        Some(self.order[pos])
    }

    /// Task `i`, taken, did not run after all (its daemon went away): it is
    /// ready again, in its place in the run's order.
    pub fn again(&mut self, i: usize) {
        if let Some(Some(pos)) = self.position.get(i).copied() {
            self.ready.insert(pos);
        }
    }

    /// Task `i` passed or was skipped: what needed it may be ready now.
    pub fn met(&mut self, i: usize) {
        let Some(Some(pos)) = self.position.get(i).copied() else {
            return;
        };
        for k in 0..self.dependents[pos].len() {
            let dependent = self.dependents[pos][k];
            self.unmet[dependent] -= 1;
            if self.unmet[dependent] == 0 {
                self.make_ready(dependent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tasks 0..n; `needs[i]` lists what task i needs.
    fn readiness(order: &[usize], needs: &[Vec<usize>], instant: &[usize]) -> Readiness {
        Readiness::new(order, |i| &needs[i], |i| instant.contains(&i))
    }

    fn drain(r: &mut Readiness) -> Vec<usize> {
        std::iter::from_fn(|| r.take()).collect()
    }

    #[test]
    fn tasks_become_ready_when_all_their_needs_are_met_in_run_order() {
        // 0 and 1 are free; 2 needs both; 3 needs 2.
        let needs = vec![vec![], vec![], vec![0, 1], vec![2]];
        let mut r = readiness(&[0, 1, 2, 3], &needs, &[]);
        assert_eq!(drain(&mut r), vec![0, 1]);
        r.met(1);
        assert_eq!(r.take(), None, "2 still needs 0");
        r.met(0);
        assert_eq!(drain(&mut r), vec![2]);
        r.met(2);
        assert_eq!(drain(&mut r), vec![3]);
        r.met(3);
        assert_eq!(r.take(), None);
    }

    #[test]
    fn ready_tasks_come_out_in_the_order_of_the_run_not_of_release() {
        // 3 and 1 both need 0; the run's order puts 3 first.
        let needs = vec![vec![], vec![0], vec![], vec![0]];
        let mut r = readiness(&[0, 2, 3, 1], &needs, &[]);
        assert_eq!(drain(&mut r), vec![0, 2]);
        r.met(0);
        assert_eq!(drain(&mut r), vec![3, 1]);
    }

    #[test]
    fn tasks_that_end_at_once_are_kept_apart_from_those_that_need_a_slot() {
        let needs = vec![vec![], vec![], vec![1]];
        let mut r = readiness(&[0, 1, 2], &needs, &[1, 2]);
        assert_eq!(r.take_instant(), Some(1));
        assert_eq!(r.take_instant(), None);
        r.met(1);
        assert_eq!(r.take_instant(), Some(2));
        assert_eq!(drain(&mut r), vec![0]);
    }

    #[test]
    fn a_failed_need_or_one_outside_the_run_keeps_a_task_waiting() {
        // 1 needs 0, which fails (never met); 2 needs 5, not in the run.
        let needs = vec![vec![], vec![0], vec![5], vec![], vec![], vec![]];
        let mut r = readiness(&[0, 1, 2], &needs, &[]);
        assert_eq!(drain(&mut r), vec![0]);
        r.met(4); // not in the run: ignored
        assert_eq!(r.take(), None);
    }

    #[test]
    fn a_task_with_thousands_of_needs_is_released_by_the_last_one() {
        let n = 5000;
        let mut needs: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
        needs[n] = (0..n).collect();
        let order: Vec<usize> = (0..=n).collect();
        let mut r = readiness(&order, &needs, &[]);
        assert_eq!(drain(&mut r).len(), n);
        for i in (0..n).rev() {
            assert_eq!(r.take(), None);
            r.met(i);
        }
        assert_eq!(drain(&mut r), vec![n]);
    }
}
