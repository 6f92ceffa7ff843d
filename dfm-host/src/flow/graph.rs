//! The flow as a graph: which tasks a run needs, in what order, and
//! whether the needs form a cycle.

use super::model::{Flow, Task};

pub(super) fn find_cycle(flow: &Flow) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks = vec![Mark::New; flow.tasks.len()];
    for root in 0..flow.tasks.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // The current path, each task with the index of its next need.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::Active;
        while let Some(&mut (task, ref mut next)) = path.last_mut() {
            let Some(&need) = flow.tasks[task].needs.get(*next) else {
                marks[task] = Mark::Done;
                path.pop();
                continue;
            };
            *next += 1;
            match marks[need] {
                Mark::Active => {
                    let start = path.iter().position(|&(t, _)| t == need).unwrap_or(0);
                    let mut cycle: Vec<usize> = path[start..].iter().map(|&(t, _)| t).collect();
                    cycle.push(need);
                    return Some(cycle);
                }
                Mark::New => {
                    marks[need] = Mark::Active;
                    path.push((need, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}

/// A task name on the command line that names no one task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownTask {
    #[error("no task '{given}' in {file} (root tasks: {roots})")]
    NoSuchTask {
        given: String,
        file: String,
        roots: String,
    },
    #[error("'{given}' is ambiguous: it could be {candidates}")]
    Ambiguous { given: String, candidates: String },
}

impl Flow {
    /// Resolves a task name given on the command line: exactly
    /// (`pkg.task` or `task`), else by unique suffix.
    pub fn resolve(&self, given: &str) -> Result<usize, UnknownTask> {
        if let Some(i) = self.tasks.iter().position(|t| t.name == given) {
            return Ok(i);
        }
        let short = |t: &Task| t.name[self.package.len() + 1..].to_string();
        if let Some(i) = self.tasks.iter().position(|t| short(t) == given) {
            return Ok(i);
        }
        let matches: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].name.ends_with(given))
            .collect();
        match matches.as_slice() {
            [i] => Ok(*i),
            [] => Err(UnknownTask::NoSuchTask {
                given: given.to_string(),
                file: self.file.display().to_string(),
                roots: list_or_none(self.root_tasks().map(|t| &t.name)),
            }),
            many => Err(UnknownTask::Ambiguous {
                given: given.to_string(),
                candidates: many
                    .iter()
                    .map(|&i| self.tasks[i].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    pub fn root_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| t.root)
    }

    /// The tasks to run for `selected`, with everything they need, in
    /// dependency order.
    pub fn closure(&self, selected: &[usize]) -> Vec<usize> {
        // Iterative post-order: needs before the tasks that need them.
        let mut seen = vec![false; self.tasks.len()];
        let mut order = Vec::new();
        for &root in selected {
            if seen[root] {
                continue;
            }
            seen[root] = true;
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            while let Some(&mut (task, ref mut next)) = stack.last_mut() {
                match self.tasks[task].needs.get(*next) {
                    Some(&need) => {
                        *next += 1;
                        if !seen[need] {
                            seen[need] = true;
                            stack.push((need, 0));
                        }
                    }
                    None => {
                        order.push(task);
                        stack.pop();
                    }
                }
            }
        }
        order
    }
}

pub(super) fn list_or_none<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    let names: Vec<String> = items.map(|s| s.as_ref().to_string()).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
