//! The pool's test harness. It owns the pool: tests change it only
//! through [`Harness::step`] (and the helpers built on it), which checks the
//! pool's invariants after every step, so every test checks them all the
//! way through.

use std::time::{Duration, Instant};

use dfm_wire::{TaskResult, TaskSpec};

use crate::pool::{Action, ClientId, Outcome, Pool, PoolConfig, SlotId, WorkerInfo};

pub fn config() -> PoolConfig {
    PoolConfig {
        max_workers: 2,
        min_workers: 0,
        idle_timeout: Duration::from_secs(60),
        launch_batch_size: 4,
        launch_timeout: Duration::from_secs(10),
        heartbeat_timeout: Duration::from_secs(5),
        max_task_attempts: 2,
        max_launch_failures: 3,
        prefetch: 0,
        ..PoolConfig::default()
    }
}

pub struct Harness {
    pool: Pool,
    pub t0: Instant,
}

pub fn spec(request_id: &str, class: &str) -> TaskSpec {
    TaskSpec {
        request_id: request_id.into(),
        name: format!("task-{request_id}"),
        shell: "bash".into(),
        body: "true".into(),
        rundir: "/tmp".into(),
        resource_class: class.into(),
        ..TaskSpec::default()
    }
}

pub fn info(host: &str) -> WorkerInfo {
    WorkerInfo {
        hostname: host.into(),
        pid: 1,
        job_id: "1".into(),
        prefetch: 64,
    }
}

impl Harness {
    pub fn new(config: PoolConfig) -> Harness {
        Harness {
            pool: Pool::new(config, "t"),
            t0: Instant::now(),
        }
    }

    /// The pool, to look at.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// One event for the pool, then the check that its books agree.
    pub fn step<T>(&mut self, event: impl FnOnce(&mut Pool) -> T) -> T {
        let answer = event(&mut self.pool);
        self.pool.check_invariants();
        answer
    }

    pub fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    pub fn submit(&mut self, client: ClientId, id: &str, class: &str) {
        let now = self.t0;
        self.step(|pool| pool.submit(client, spec(id, class), now))
            .expect("submit");
    }

    pub fn actions(&mut self) -> Vec<Action> {
        self.pool.take_actions()
    }

    /// The workers launched: (slot, worker_id, class), whether one per
    /// action or several as a job array.
    pub fn launches(actions: &[Action]) -> Vec<(SlotId, String, String)> {
        actions
            .iter()
            .flat_map(|a| match a {
                Action::Launch { workers, class } => workers
                    .iter()
                    .map(|(slot, worker_id)| (*slot, worker_id.clone(), class.clone()))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// How many launch actions (scheduler calls) `actions` hold.
    pub fn launch_calls(actions: &[Action]) -> usize {
        actions
            .iter()
            .filter(|a| matches!(a, Action::Launch { .. }))
            .count()
    }

    /// Dispatch actions: (slot, request_id).
    pub fn dispatches(actions: &[Action]) -> Vec<(SlotId, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Dispatch { slot, task, .. } => Some((*slot, task.request_id.clone())),
                _ => None,
            })
            .collect()
    }

    /// The pool's id for the task `client` calls `request_id` (one it may
    /// still cancel).
    pub fn task_id(&self, client: ClientId, request_id: &str) -> super::super::TaskId {
        self.pool
            .by_request
            .get(client, request_id)
            .unwrap_or_else(|| panic!("no task '{request_id}' of client {client}"))
    }

    pub fn replies(actions: &[Action]) -> Vec<(ClientId, String, Outcome)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply {
                    client,
                    request_id,
                    outcome,
                    ..
                } => Some((*client, request_id.clone(), outcome.clone())),
                _ => None,
            })
            .collect()
    }

    /// The result a task that ended with `status` on its `attempt`-th run
    /// is replied with: its attempt numbered in its measurements.
    pub fn finished(request_id: &str, status: i32, attempt: u32) -> Outcome {
        let mut result = TaskResult::new(request_id, status);
        let measured = result.measurements.get_or_insert_with(Default::default);
        measured.attempt = Some(attempt);
        Outcome::Finished(result)
    }

    /// Whether `actions` retire the worker of `slot`.
    pub fn retires(actions: &[Action], slot: SlotId) -> bool {
        actions
            .iter()
            .any(|a| matches!(a, Action::Retire { slot: s, .. } if *s == slot))
    }

    /// Whether `actions` stop the job of `slot`.
    pub fn terminates(actions: &[Action], slot: SlotId) -> bool {
        actions
            .iter()
            .any(|a| matches!(a, Action::Terminate { slot: s, .. } if *s == slot))
    }

    /// Launches and registers a worker for each launch action.
    pub fn bring_up(&mut self, actions: &[Action], host: &str) -> Vec<SlotId> {
        let now = self.t0;
        Self::launches(actions)
            .into_iter()
            .map(|(slot, worker_id, class)| {
                self.step(|pool| pool.launched(slot, now));
                self.step(|pool| pool.register(&worker_id, &class, info(host), now))
                    .expect("register")
            })
            .collect()
    }

    /// Launches and registers the first pending worker, one that holds
    /// up to `ahead` tasks ahead.
    pub fn bring_up_one_holding(&mut self, ahead: usize) -> SlotId {
        let (slot, worker_id, class) = Self::launches(&self.actions())[0].clone();
        let now = self.t0;
        self.step(|pool| pool.launched(slot, now));
        let worker = WorkerInfo {
            prefetch: ahead,
            ..info("h")
        };
        self.step(|pool| pool.register(&worker_id, &class, worker, now))
            .expect("register")
    }

    pub fn bring_up_pending(&mut self, host: &str) -> Vec<SlotId> {
        let actions = self.actions();
        self.bring_up(&actions, host)
    }

    pub fn finish(&mut self, slot: SlotId, request_id: &str, status: i32) {
        let now = self.t0;
        self.step(|pool| pool.task_finished(slot, TaskResult::new(request_id, status), now))
            .expect("result accepted");
    }
}
