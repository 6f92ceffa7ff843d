//! The pool's decision core alone, with no processes: the cost of one
//! dispatch and its result, over queue lengths and worker counts.

use std::collections::VecDeque;
use std::time::Instant;

use dfm_host::pool::{Action, Pool, PoolConfig, WorkerInfo};
use dfm_wire::TaskSpec;

use crate::setup::Options;
use crate::stats::{median, min_max};

/// The pool's decision core alone, over queue lengths and worker counts:
/// the cost of one dispatch (with its result) should not follow either.
pub(crate) fn pool_curve(options: &Options) {
    println!(
        "POOL   decision core alone (dispatch + result per task), median of {} runs [min-max]:",
        options.repeat
    );
    for workers in [10usize, 100, 1000] {
        for queued in [1_000usize, 10_000, 100_000] {
            let runs: Vec<f64> = (0..options.repeat)
                .map(|_| pool_core(workers, queued))
                .collect();
            let each: Vec<f64> = runs.iter().map(|per_sec| 1e6 / per_sec).collect();
            let (min, max) = min_max(&each);
            println!(
                "POOL   {queued:>6} queued, {workers:>4} workers:  {:>10.0} dispatches/s  ({:.2} us each [{min:.2}-{max:.2}])",
                median(&runs),
                median(&each)
            );
        }
    }
}

/// Dispatches per second of the pool alone: `queued` tasks over `workers`
/// registered workers, each result immediately followed by the next
/// dispatch.
pub(crate) fn pool_core(workers: usize, queued: usize) -> f64 {
    let t0 = Instant::now();
    let mut pool = Pool::new(
        PoolConfig {
            max_workers: workers,
            launch_batch_size: workers,
            ..PoolConfig::default()
        },
        "b",
    );
    for i in 0..queued {
        let spec = TaskSpec {
            request_id: i.to_string(),
            name: "t".into(),
            ..TaskSpec::default()
        };
        let _ = pool.submit(1, spec, t0);
    }
    // Dispatched tasks finish in the order they were dispatched.
    let mut running: VecDeque<(u64, String)> = VecDeque::with_capacity(workers);
    let mut actions = pool.take_actions();
    for action in &actions {
        if let Action::Launch { workers, .. } = action {
            for (_, worker_id) in workers {
                let _ = pool.register(worker_id, "", WorkerInfo::default(), t0);
            }
        }
    }
    actions.extend(pool.take_actions());
    let start = Instant::now();
    let mut done = 0usize;
    let mut queue: Vec<Action> = actions;
    while done < queued {
        for action in queue.drain(..) {
            if let Action::Dispatch { slot, task, .. } = action {
                running.push_back((slot, task.request_id.clone()));
            }
        }
        let Some((slot, request_id)) = running.pop_front() else {
            break;
        };
        let result = dfm_wire::TaskResult::new(&request_id, 0);
        let _ = pool.task_finished(slot, result, t0);
        done += 1;
        queue = pool.take_actions();
    }
    done as f64 / start.elapsed().as_secs_f64()
}
