use super::*;

fn config() -> PoolConfig {
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
    }
}

struct Harness {
    pool: Pool,
    t0: Instant,
}

fn spec(request_id: &str, class: &str) -> TaskSpec {
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

fn info(host: &str) -> WorkerInfo {
    WorkerInfo {
        hostname: host.into(),
        pid: 1,
        job_id: "1".into(),
        prefetch: 64,
    }
}

impl Harness {
    fn new(config: PoolConfig) -> Harness {
        Harness {
            pool: Pool::new(config, "t"),
            t0: Instant::now(),
        }
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    fn submit(&mut self, client: ClientId, id: &str, class: &str) {
        let now = self.t0;
        self.pool
            .submit(client, spec(id, class), now)
            .expect("submit");
    }

    fn actions(&mut self) -> Vec<Action> {
        self.pool.take_actions()
    }

    /// Launch actions: (slot, worker_id, class).
    fn launches(actions: &[Action]) -> Vec<(SlotId, String, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Launch {
                    slot,
                    worker_id,
                    class,
                } => Some((*slot, worker_id.clone(), class.clone())),
                _ => None,
            })
            .collect()
    }

    /// Dispatch actions: (slot, request_id).
    fn dispatches(actions: &[Action]) -> Vec<(SlotId, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Dispatch { slot, task, .. } => Some((*slot, task.request_id.clone())),
                _ => None,
            })
            .collect()
    }

    fn replies(actions: &[Action]) -> Vec<(ClientId, String, Outcome)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply {
                    client,
                    request_id,
                    outcome,
                } => Some((*client, request_id.clone(), outcome.clone())),
                _ => None,
            })
            .collect()
    }

    /// Launches and registers a worker for each launch action.
    fn bring_up(&mut self, actions: &[Action], host: &str) -> Vec<SlotId> {
        let now = self.t0;
        Self::launches(actions)
            .into_iter()
            .map(|(slot, worker_id, class)| {
                self.pool.launched(slot, now);
                self.pool
                    .register(&worker_id, &class, info(host), now)
                    .expect("register")
            })
            .collect()
    }

    /// Launches and registers the first pending worker, one that holds
    /// up to `ahead` tasks ahead.
    fn bring_up_one_holding(&mut self, ahead: usize) -> SlotId {
        let (slot, worker_id, class) = Self::launches(&self.actions())[0].clone();
        let now = self.t0;
        self.pool.launched(slot, now);
        let worker = WorkerInfo {
            prefetch: ahead,
            ..info("h")
        };
        self.pool
            .register(&worker_id, &class, worker, now)
            .expect("register")
    }

    fn bring_up_pending(&mut self, host: &str) -> Vec<SlotId> {
        let actions = self.actions();
        self.bring_up(&actions, host)
    }

    fn finish(&mut self, slot: SlotId, request_id: &str, status: i32) {
        let now = self.t0;
        self.pool
            .task_finished(slot, TaskResult::new(request_id, status), now)
            .expect("result accepted");
    }
}

#[test]
fn a_task_launches_a_worker_runs_and_replies() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let actions = h.actions();
    assert_eq!(Harness::launches(&actions).len(), 1);
    let slots = h.bring_up(&actions, "host1");
    let actions = h.actions();
    assert_eq!(
        Harness::dispatches(&actions),
        vec![(slots[0], "a".to_string())]
    );
    h.finish(slots[0], "a", 0);
    let actions = h.actions();
    assert_eq!(
        Harness::replies(&actions),
        vec![(
            1,
            "a".to_string(),
            Outcome::Finished(TaskResult::new("a", 0))
        )]
    );
    let counts = h.pool.counts();
    assert_eq!((counts.total, counts.idle, counts.completed), (1, 1, 1));
    assert!(h.pool.is_idle());
}

#[test]
fn launches_only_what_queued_work_needs_within_limits() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 3,
        launch_batch_size: 2,
        ..config()
    });
    h.submit(1, "a", "");
    let first = Harness::launches(&h.actions());
    assert_eq!(first.len(), 1);
    h.submit(1, "b", "");
    assert_eq!(
        Harness::launches(&h.actions()).len(),
        1,
        "second task, second worker"
    );
    for id in ["c", "d", "e"] {
        h.submit(1, id, "");
    }
    // Two launches in flight already: the batch size holds the rest back.
    assert!(Harness::launches(&h.actions()).is_empty());
    let slot = first[0].0;
    let now = h.t0;
    h.pool.launched(slot, now);
    let actions = h.actions();
    assert_eq!(
        Harness::launches(&actions).len(),
        1,
        "one more, up to max_workers"
    );
    assert_eq!(h.pool.counts().pending, 3);
}

#[test]
fn tasks_run_in_submission_order_across_clients() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        ..config()
    });
    h.submit(1, "a", "");
    h.submit(2, "b", "");
    h.submit(1, "c", "");
    let actions = h.actions();
    let slot = h.bring_up(&actions, "h")[0];
    let mut order = Vec::new();
    for _ in 0..3 {
        let dispatched = Harness::dispatches(&h.actions());
        assert_eq!(dispatched.len(), 1);
        let request_id = dispatched[0].1.clone();
        h.finish(slot, &request_id, 0);
        order.push(request_id);
    }
    assert_eq!(order, ["a", "b", "c"]);
}

#[test]
fn resource_classes_route_to_their_own_workers() {
    let mut h = Harness::new(config());
    h.submit(1, "small", "");
    let small = h.bring_up_pending("h")[0];
    h.actions();
    h.finish(small, "small", 0);
    h.actions();

    h.submit(1, "big", "large");
    let actions = h.actions();
    assert!(
        Harness::dispatches(&actions).is_empty(),
        "idle default worker must not take it"
    );
    let launches = Harness::launches(&actions);
    assert_eq!(launches.len(), 1);
    assert_eq!(launches[0].2, "large");
    let now = h.t0;
    // A worker must register with the class it was launched for.
    assert_eq!(
        h.pool.register(&launches[0].1, "", info("h"), now),
        Err(RegisterError::WrongClass {
            expected: "large".into(),
            got: "".into()
        })
    );
    let large = h.bring_up(&actions, "bighost")[0];
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(large, "big".to_string())]
    );
}

#[test]
fn a_full_pool_retires_an_idle_worker_of_another_class() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        ..config()
    });
    h.submit(1, "a", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    h.finish(slot, "a", 0);
    h.actions();
    h.submit(1, "b", "large");
    let actions = h.actions();
    assert!(actions.contains(&Action::Retire { slot }));
    assert_eq!(Harness::launches(&actions).len(), 1);
}

#[test]
fn duplicate_request_ids_are_refused_per_client() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let now = h.t0;
    assert_eq!(
        h.pool.submit(1, spec("a", ""), now),
        Err(SubmitError::DuplicateRequestId("a".into()))
    );
    assert!(
        h.pool.submit(2, spec("a", ""), now).is_ok(),
        "another client may reuse it"
    );
}

#[test]
fn cancelling_a_queued_task_replies_and_never_runs_it() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        ..config()
    });
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    let now = h.t0;
    assert!(h.pool.cancel(1, "b", now));
    assert_eq!(
        Harness::replies(&h.actions()),
        vec![(1, "b".to_string(), Outcome::Failed("cancelled".into()))]
    );
    h.finish(slot, "a", 0);
    assert!(Harness::dispatches(&h.actions()).is_empty());
    assert!(!h.pool.cancel(1, "b", now), "already gone");
}

#[test]
fn cancelling_a_running_task_kills_it_and_keeps_the_worker_busy_until_it_reports() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        ..config()
    });
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    let now = h.t0;
    assert!(h.pool.cancel(1, "a", now));
    let actions = h.actions();
    assert!(actions.contains(&Action::CancelOnWorker {
        slot,
        request_id: "a".into()
    }));
    assert_eq!(
        Harness::replies(&actions),
        vec![(1, "a".to_string(), Outcome::Failed("cancelled".into()))]
    );
    assert!(
        Harness::dispatches(&actions).is_empty(),
        "worker still busy"
    );
    // The killed task's result is swallowed; the next task runs.
    h.finish(slot, "a", 137);
    let actions = h.actions();
    assert!(Harness::replies(&actions).is_empty());
    assert_eq!(Harness::dispatches(&actions), vec![(slot, "b".to_string())]);
}

#[test]
fn a_client_that_goes_away_has_its_tasks_cancelled_without_replies() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        ..config()
    });
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    h.submit(2, "c", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    let now = h.t0;
    h.pool.client_gone(1, now);
    let actions = h.actions();
    assert_eq!(
        actions,
        vec![Action::CancelOnWorker {
            slot,
            request_id: "a".into()
        }]
    );
    h.finish(slot, "a", 137);
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(slot, "c".to_string())]
    );
}

#[test]
fn a_task_on_a_lost_worker_runs_elsewhere_then_fails_naming_the_worker() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let first = h.bring_up_pending("node7")[0];
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(first, "a".to_string())]
    );
    let now = h.t0;
    h.pool.worker_lost(first, "disconnected", now);
    let actions = h.actions();
    assert!(actions.contains(&Action::Terminate { slot: first }));
    assert!(
        Harness::replies(&actions).is_empty(),
        "re-queued, not failed"
    );
    let second = h.bring_up(&actions, "node8")[0];
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(second, "a".to_string())]
    );

    let worker_id = h.pool.slot(second).expect("slot").worker_id.clone();
    h.pool.worker_lost(second, "disconnected", now);
    let replies = Harness::replies(&h.actions());
    assert_eq!(replies.len(), 1);
    let Outcome::Failed(message) = &replies[0].2 else {
        panic!("expected a failure: {replies:?}");
    };
    assert!(message.starts_with("worker lost:"), "{message}");
    assert!(
        message.contains(&worker_id) && message.contains("node8"),
        "{message}"
    );
}

#[test]
fn repeated_launch_failures_fail_the_waiting_tasks_with_the_runners_message() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    h.submit(2, "b", "");
    let now = h.t0;
    let mut replies = Vec::new();
    for _ in 0..10 {
        let actions = h.actions();
        replies.extend(Harness::replies(&actions));
        let launches = Harness::launches(&actions);
        if launches.is_empty() {
            break;
        }
        for (slot, _, _) in launches {
            h.pool.launch_failed(slot, "bsub: command not found", now);
        }
    }
    assert_eq!(replies.len(), 2, "{replies:?}");
    for (_, _, outcome) in replies {
        let Outcome::Failed(message) = outcome else {
            panic!("expected failure");
        };
        assert!(message.contains("bsub: command not found"), "{message}");
    }
    assert_eq!(h.pool.counts().total, 0);
    assert!(h.pool.is_idle());
}

#[test]
fn a_worker_that_never_registers_frees_its_slot_after_the_launch_timeout() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let (slot, _, _) = Harness::launches(&h.actions())[0].clone();
    let now = h.t0;
    h.pool.launched(slot, now);
    h.pool.tick(h.at(9.0));
    assert!(h.actions().is_empty());
    h.pool.tick(h.at(10.0));
    let actions = h.actions();
    assert!(actions.contains(&Action::Terminate { slot }));
    assert_eq!(
        Harness::launches(&actions).len(),
        1,
        "tries again for the queued task"
    );
}

#[test]
fn a_job_that_exits_before_registering_is_a_launch_failure() {
    let mut h = Harness::new(PoolConfig {
        max_launch_failures: 1,
        ..config()
    });
    h.submit(1, "a", "");
    let (slot, _, _) = Harness::launches(&h.actions())[0].clone();
    let now = h.t0;
    h.pool.launched(slot, now);
    h.pool.job_exited(slot, 127, now);
    let replies = Harness::replies(&h.actions());
    let Outcome::Failed(message) = &replies[0].2 else {
        panic!("expected failure");
    };
    assert!(message.contains("job exit code 127"), "{message}");
}

#[test]
fn a_silent_worker_is_lost_after_the_heartbeat_timeout() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    h.pool.heard_from(slot, h.at(3.0));
    h.pool.tick(h.at(7.9));
    assert!(h.actions().is_empty());
    h.pool.tick(h.at(8.0));
    let actions = h.actions();
    assert!(actions.contains(&Action::Terminate { slot }));
    assert_eq!(
        Harness::launches(&actions).len(),
        1,
        "its task needs a new worker"
    );
}

#[test]
fn idle_workers_retire_after_the_idle_timeout_but_min_workers_stay() {
    let mut h = Harness::new(PoolConfig {
        min_workers: 1,
        heartbeat_timeout: Duration::from_secs(1000),
        ..config()
    });
    // min_workers: one worker is launched with nothing queued.
    let actions = h.actions();
    assert!(actions.is_empty(), "nothing happens before the first event");
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slots = h.bring_up_pending("h");
    assert_eq!(slots.len(), 2);
    h.actions();
    h.finish(slots[0], "a", 0);
    h.finish(slots[1], "b", 0);
    h.actions();
    h.pool.tick(h.at(59.0));
    assert!(h.actions().is_empty());
    h.pool.tick(h.at(60.0));
    let actions = h.actions();
    assert_eq!(
        actions
            .iter()
            .filter(|a| matches!(a, Action::Retire { .. }))
            .count(),
        1,
        "{actions:?}"
    );
    assert_eq!(h.pool.counts().total, 1);
}

#[test]
fn registration_is_refused_for_unknown_and_duplicate_workers() {
    let mut h = Harness::new(config());
    let now = h.t0;
    assert_eq!(
        h.pool.register("nope", "", info("h"), now),
        Err(RegisterError::UnknownWorker("nope".into()))
    );
    h.submit(1, "a", "");
    let (_, worker_id, _) = Harness::launches(&h.actions())[0].clone();
    assert!(h.pool.register(&worker_id, "", info("h"), now).is_ok());
    assert_eq!(
        h.pool.register(&worker_id, "", info("h"), now),
        Err(RegisterError::AlreadyRegistered(worker_id))
    );
}

#[test]
fn a_result_for_a_task_the_worker_was_not_given_is_refused() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    let now = h.t0;
    assert!(h
        .pool
        .task_finished(slot, TaskResult::new("forged", 0), now)
        .is_err());
    assert!(h.actions().is_empty());
    assert_eq!(h.pool.counts().busy, 1);
}

#[test]
fn shutdown_replies_to_every_task_and_stops_every_worker() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        ..config()
    });
    h.submit(1, "a", "");
    h.submit(2, "b", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    h.pool.shutdown();
    let actions = h.actions();
    let mut replied: Vec<String> = Harness::replies(&actions)
        .into_iter()
        .map(|r| r.1)
        .collect();
    replied.sort();
    assert_eq!(replied, ["a", "b"]);
    assert!(actions.contains(&Action::Retire { slot }));
    assert_eq!(h.pool.counts().total, 0);
    let now = h.t0;
    assert_eq!(
        h.pool.submit(1, spec("c", ""), now),
        Err(SubmitError::ShuttingDown)
    );
}

#[test]
fn a_launch_answered_after_shutdown_is_terminated() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let (slot, _, _) = Harness::launches(&h.actions())[0].clone();
    h.pool.shutdown();
    h.actions();
    assert_eq!(h.pool.launches_in_flight(), 1);
    let now = h.t0;
    h.pool.launched(slot, now);
    assert_eq!(h.actions(), vec![Action::Terminate { slot }]);
    assert_eq!(h.pool.launches_in_flight(), 0);
}

#[test]
fn a_freed_worker_gets_its_next_task_before_the_reply_goes_out() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        ..config()
    });
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slots = h.bring_up_pending("host1");
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(slots[0], "a".into())]
    );
    h.finish(slots[0], "a", 0);
    let actions = h.actions();
    let dispatch = actions
        .iter()
        .position(|a| matches!(a, Action::Dispatch { .. }));
    let reply = actions
        .iter()
        .position(|a| matches!(a, Action::Reply { .. }));
    assert!(
        matches!((dispatch, reply), (Some(d), Some(r)) if d < r),
        "the worker's next task comes first: {actions:?}"
    );
}

// ---------------------------------------------------------------- prefetch

fn prefetching(max_workers: usize) -> PoolConfig {
    PoolConfig {
        max_workers,
        prefetch: 1,
        ..config()
    }
}

/// A pool of `config` with `ids` submitted by client 1, and one worker
/// up; the actions since are the test's.
fn one_worker_with(config: PoolConfig, ids: &[&str]) -> (Harness, SlotId) {
    let mut h = Harness::new(config);
    for id in ids {
        h.submit(1, id, "");
    }
    let slot = h.bring_up_pending("h")[0];
    (h, slot)
}

/// Dispatch actions: (slot, request_id, ahead).
fn sends(actions: &[Action]) -> Vec<(SlotId, String, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dispatch {
                slot, task, ahead, ..
            } => Some((*slot, task.request_id.clone(), *ahead)),
            _ => None,
        })
        .collect()
}

fn started(slot: SlotId, client: ClientId, request_id: &str) -> Action {
    Action::Started {
        slot,
        client,
        request_id: request_id.into(),
    }
}

#[test]
fn a_busy_worker_is_sent_its_next_task_ahead_and_runs_it_when_its_task_ends() {
    let (mut h, slot) = one_worker_with(prefetching(1), &["a", "b", "c"]);
    assert_eq!(
        sends(&h.actions()),
        vec![(slot, "a".into(), false), (slot, "b".into(), true)],
        "one task runs, one waits on the worker, the third stays queued"
    );
    // b, held by the worker, waits as much as c does.
    let counts = h.pool.counts();
    assert_eq!((counts.running, counts.queued), (1, 2));
    h.finish(slot, "a", 0);
    let actions = h.actions();
    assert_eq!(actions[0], started(slot, 1, "b"));
    assert_eq!(sends(&actions), vec![(slot, "c".into(), true)]);
    assert_eq!(
        Harness::replies(&actions),
        vec![(1, "a".into(), Outcome::Finished(TaskResult::new("a", 0)))]
    );
    assert_eq!(
        h.pool.current_task(slot).map(|t| t.request_id.as_str()),
        Some("b")
    );
    h.finish(slot, "b", 0);
    assert_eq!(h.actions()[0], started(slot, 1, "c"));
    h.finish(slot, "c", 3);
    let actions = h.actions();
    assert!(sends(&actions).is_empty());
    assert_eq!(Harness::replies(&actions).len(), 1);
    let counts = h.pool.counts();
    assert_eq!((counts.idle, counts.completed, counts.failed), (1, 2, 1));
    assert!(h.pool.is_idle());
}

/// Two workers busy with a and b, one of them holding c ahead: the pool,
/// (the holder, its running task) and (the other worker, its task).
fn c_held_ahead() -> (Harness, (SlotId, String), (SlotId, String)) {
    let mut h = Harness::new(prefetching(2));
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    h.bring_up_pending("h");
    let mut sent = sends(&h.actions());
    h.submit(1, "c", "");
    sent.extend(sends(&h.actions()));
    assert_eq!(sent.len(), 3, "{sent:?}");
    let running = |slot: SlotId| {
        sent.iter()
            .find(|(s, id, ahead)| *s == slot && id != "c" && !ahead)
            .map(|(s, id, _)| (*s, id.clone()))
            .expect("a running task")
    };
    let holder = match sent.iter().find(|(_, id, _)| id == "c") {
        Some((slot, _, true)) => *slot,
        other => panic!("c not sent ahead: {other:?} in {sent:?}"),
    };
    let other = sent
        .iter()
        .map(|(slot, _, _)| *slot)
        .find(|slot| *slot != holder)
        .expect("two workers");
    (h, running(holder), running(other))
}

#[test]
fn a_task_held_ahead_is_asked_back_when_another_worker_goes_idle() {
    let (mut h, (holder, _), (other, other_task)) = c_held_ahead();
    // The other worker ends its task: nothing is queued, so the task held
    // ahead behind a task of unknown length is asked back...
    h.finish(other, &other_task, 0);
    let actions = h.actions();
    assert!(
        actions.contains(&Action::Withdraw {
            slot: holder,
            request_id: "c".into()
        }),
        "{actions:?}"
    );
    // ...and, handed back, runs on the idle worker at once.
    let now = h.t0;
    h.pool.task_withdrawn(holder, "c", now).expect("it held c");
    assert_eq!(sends(&h.actions()), vec![(other, "c".into(), false)]);
    let counts = h.pool.counts();
    assert_eq!((counts.busy, counts.running, counts.queued), (2, 2, 0));
}

#[test]
fn a_task_asked_back_too_late_runs_where_it_was() {
    let (mut h, (holder, holder_task), (other, other_task)) = c_held_ahead();
    h.finish(other, &other_task, 0);
    assert!(h
        .actions()
        .iter()
        .any(|a| matches!(a, Action::Withdraw { .. })));
    // The holder's task ended before the request reached it: it started c,
    // and ignores the request.
    h.finish(holder, &holder_task, 0);
    let actions = h.actions();
    assert_eq!(actions[0], started(holder, 1, "c"));
    assert!(sends(&actions).is_empty());
    let now = h.t0;
    assert!(h.pool.task_withdrawn(holder, "c", now).is_err());
    h.finish(holder, "c", 0);
    assert_eq!(h.pool.counts().completed, 3);
    assert!(h.pool.is_idle());
}

#[test]
fn cancelling_a_task_held_ahead_replies_at_once_and_asks_it_back() {
    let (mut h, slot) = one_worker_with(prefetching(1), &["a", "b", "c"]);
    h.actions();
    let now = h.t0;
    assert!(h.pool.cancel(1, "b", now));
    let actions = h.actions();
    assert_eq!(
        actions,
        vec![
            Action::CancelOnWorker {
                slot,
                request_id: "b".into()
            },
            Action::Reply {
                client: 1,
                request_id: "b".into(),
                outcome: Outcome::Failed("cancelled".into())
            }
        ]
    );
    // Handed back: gone for good, and c takes its place ahead.
    h.pool.task_withdrawn(slot, "b", now).expect("it held b");
    let actions = h.actions();
    assert_eq!(sends(&actions), vec![(slot, "c".into(), true)]);
    assert!(Harness::replies(&actions).is_empty());
    h.finish(slot, "a", 0);
    assert_eq!(h.actions()[0], started(slot, 1, "c"));
    h.finish(slot, "c", 0);
    assert!(h.pool.is_idle());
    assert_eq!(h.pool.counts().failed, 1);
}

#[test]
fn a_cancelled_task_the_worker_had_already_started_is_killed_without_a_second_reply() {
    let mut h = Harness::new(prefetching(1));
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    let now = h.t0;
    assert!(h.pool.cancel(1, "b", now));
    h.actions();
    // a ended before the cancel arrived: the worker runs b, then kills it.
    h.finish(slot, "a", 0);
    let actions = h.actions();
    assert!(!actions.iter().any(|a| matches!(a, Action::Started { .. })));
    h.finish(slot, "b", 137);
    assert!(Harness::replies(&h.actions()).is_empty());
    assert!(h.pool.is_idle());
    assert_eq!(h.pool.counts().idle, 1);
}

#[test]
fn a_task_held_by_a_lost_worker_goes_back_in_line_without_using_an_attempt() {
    let mut h = Harness::new(PoolConfig {
        max_task_attempts: 1,
        ..prefetching(1)
    });
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    let now = h.t0;
    h.pool.worker_lost(slot, "vanished", now);
    let actions = h.actions();
    let replies = Harness::replies(&actions);
    assert_eq!(replies.len(), 1, "only the running task used its attempt");
    assert_eq!(replies[0].1, "a");
    let fresh = h.bring_up(&actions, "h2");
    assert_eq!(sends(&h.actions()), vec![(fresh[0], "b".into(), false)]);
}

#[test]
fn workers_that_cannot_hold_a_task_ahead_get_one_at_a_time() {
    let mut h = Harness::new(prefetching(1));
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slot = h.bring_up_one_holding(0);
    assert_eq!(sends(&h.actions()), vec![(slot, "a".into(), false)]);
    h.finish(slot, "a", 0);
    assert_eq!(sends(&h.actions()), vec![(slot, "b".into(), false)]);
}

#[test]
fn while_the_pool_can_grow_a_task_gets_a_new_worker_not_a_place_behind_a_busy_one() {
    let mut h = Harness::new(prefetching(2));
    h.submit(1, "a", "");
    let slot = h.bring_up_pending("h")[0];
    assert_eq!(sends(&h.actions()), vec![(slot, "a".into(), false)]);
    h.submit(1, "b", "");
    let actions = h.actions();
    assert!(sends(&actions).is_empty(), "{actions:?}");
    assert_eq!(Harness::launches(&actions).len(), 1, "{actions:?}");
    // Once full, the next task goes ahead to a busy worker.
    let fresh = h.bring_up(&actions, "h2")[0];
    assert_eq!(sends(&h.actions()), vec![(fresh, "b".into(), false)]);
    h.submit(1, "c", "");
    let sent = sends(&h.actions());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].2, "sent ahead: {sent:?}");
}

#[test]
fn while_a_worker_starts_the_first_tasks_in_line_wait_for_it() {
    let mut h = Harness::new(prefetching(2));
    h.submit(1, "a", "");
    let first = h.bring_up_pending("h")[0];
    h.actions();
    h.submit(1, "b", "");
    h.submit(1, "c", "");
    let actions = h.actions();
    assert!(
        sends(&actions).is_empty(),
        "nothing goes ahead: {actions:?}"
    );
    // b is first in line: it goes to the new worker, c then goes ahead.
    let second = h.bring_up(&actions, "h2")[0];
    let sent = sends(&h.actions());
    assert_eq!(sent[0], (second, "b".into(), false), "{sent:?}");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1].1, "c");
    assert!(
        sent[1].2 && [first, second].contains(&sent[1].0),
        "{sent:?}"
    );
}

#[test]
fn saturated_while_enough_tasks_wait_for_every_worker() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    // Tasks wait, but no worker is there yet to be kept busy.
    assert!(!h.pool.saturated());
    let slots = h.bring_up_pending("host1");
    assert_eq!(slots.len(), 2);
    assert_eq!(Harness::dispatches(&h.actions()).len(), 2);
    let per_pool = SATURATED_QUEUE_PER_WORKER * slots.len();
    for i in 0..per_pool - 1 {
        h.submit(1, &format!("q{i}"), "");
    }
    assert!(!h.pool.saturated(), "one short of saturated");
    h.submit(1, "last", "");
    assert!(h.pool.saturated());
    // A worker takes the next task in line: one short again.
    h.finish(slots[0], "a", 0);
    assert_eq!(Harness::dispatches(&h.actions()).len(), 1);
    assert!(!h.pool.saturated());
}

// ------------------------------------------------- prefetch, more than one

fn prefetching_two(max_workers: usize) -> PoolConfig {
    PoolConfig {
        max_workers,
        prefetch: 2,
        ..config()
    }
}

#[test]
fn a_worker_holds_two_tasks_ahead_and_runs_them_in_order() {
    let (mut h, slot) = one_worker_with(prefetching_two(1), &["a", "b", "c", "d", "e"]);
    assert_eq!(
        sends(&h.actions()),
        vec![
            (slot, "a".into(), false),
            (slot, "b".into(), true),
            (slot, "c".into(), true)
        ],
    );
    assert_eq!(h.pool.counts().queued, 4, "b, c held; d, e queued");
    // a and b are reported together, as a worker that defers a result
    // reports them: c runs by then, and d and e go ahead.
    h.finish(slot, "a", 0);
    h.finish(slot, "b", 0);
    let actions = h.actions();
    let order: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::Started { .. }))
        .collect();
    assert_eq!(order, vec![&started(slot, 1, "b"), &started(slot, 1, "c")]);
    assert_eq!(
        sends(&actions),
        vec![(slot, "d".into(), true), (slot, "e".into(), true)]
    );
    assert_eq!(
        h.pool.current_task(slot).map(|t| t.request_id.as_str()),
        Some("c")
    );
    for id in ["c", "d", "e"] {
        h.finish(slot, id, 0);
    }
    assert_eq!(h.pool.counts().completed, 5);
    assert!(h.pool.is_idle());
}

#[test]
fn busy_workers_take_turns_at_holding_tasks_ahead() {
    let mut h = Harness::new(prefetching_two(2));
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slots = h.bring_up_pending("h");
    h.actions();
    for id in ["c", "d", "e", "f", "g"] {
        h.submit(1, id, "");
    }
    let sent = sends(&h.actions());
    let held = |slot: SlotId| sent.iter().filter(|(s, _, _)| *s == slot).count();
    assert_eq!(sent.len(), 4, "two ahead each, g stays queued: {sent:?}");
    assert_eq!((held(slots[0]), held(slots[1])), (2, 2), "{sent:?}");
    assert_ne!(
        sent[0].0, sent[1].0,
        "turns, not one filled first: {sent:?}"
    );
}

#[test]
fn a_worker_that_holds_one_task_ahead_is_sent_one() {
    let mut h = Harness::new(prefetching_two(1));
    for id in ["a", "b", "c"] {
        h.submit(1, id, "");
    }
    let slot = h.bring_up_one_holding(1);
    assert_eq!(
        sends(&h.actions()),
        vec![(slot, "a".into(), false), (slot, "b".into(), true)]
    );
}

#[test]
fn tasks_held_by_a_lost_worker_go_back_in_line_in_their_order() {
    let (mut h, slot) = one_worker_with(prefetching_two(1), &["a", "b", "c", "d"]);
    h.actions();
    let now = h.t0;
    h.pool.worker_lost(slot, "vanished", now);
    let actions = h.actions();
    let fresh = h.bring_up(&actions, "h2")[0];
    assert_eq!(
        sends(&h.actions()),
        vec![
            (fresh, "a".into(), false),
            (fresh, "b".into(), true),
            (fresh, "c".into(), true)
        ],
        "a again first, then b and c as before, then d"
    );
}

#[test]
fn an_idle_worker_takes_back_the_last_task_of_the_worker_that_holds_most() {
    let mut h = Harness::new(prefetching_two(2));
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slots = h.bring_up_pending("h");
    let first = sends(&h.actions());
    let on = |id: &str| {
        first
            .iter()
            .find(|(_, task, _)| task == id)
            .map(|(slot, _, _)| *slot)
            .expect("dispatched")
    };
    let (slot_a, slot_b) = (on("a"), on("b"));
    assert_eq!([slot_a, slot_b].len(), slots.len());
    for id in ["c", "d", "e", "f"] {
        h.submit(1, id, "");
    }
    let sent = sends(&h.actions());
    let held_by = |slot: SlotId| -> Vec<String> {
        sent.iter()
            .filter(|(s, _, _)| *s == slot)
            .map(|(_, id, _)| id.clone())
            .collect()
    };
    let (held_a, held_b) = (held_by(slot_a), held_by(slot_b));
    assert_eq!((held_a.len(), held_b.len()), (2, 2), "{sent:?}");
    // b's worker ends b and then the two tasks it held, as one report:
    // nothing is queued, and a's worker holds two tasks behind a.
    h.finish(slot_b, "b", 0);
    h.finish(slot_b, &held_b[0], 0);
    h.finish(slot_b, &held_b[1], 0);
    let actions = h.actions();
    let withdrawals: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::Withdraw { .. }))
        .collect();
    assert_eq!(
        withdrawals,
        vec![&Action::Withdraw {
            slot: slot_a,
            request_id: held_a[1].clone()
        }],
        "one idle worker, one task asked back: the last in line"
    );
    let now = h.t0;
    h.pool
        .task_withdrawn(slot_a, &held_a[1], now)
        .expect("it held that task");
    assert_eq!(
        sends(&h.actions()),
        vec![(slot_b, held_a[1].clone(), false)]
    );
    // The first task a's worker held still runs after a, there.
    h.finish(slot_a, "a", 0);
    assert_eq!(h.actions()[0], started(slot_a, 1, &held_a[0]));
}

#[test]
fn a_task_handed_back_from_the_middle_of_the_line_leaves_the_rest_in_order() {
    let (mut h, slot) = one_worker_with(prefetching_two(1), &["a", "b", "c"]);
    h.actions();
    let now = h.t0;
    assert!(h.pool.cancel(1, "b", now));
    h.actions();
    h.pool.task_withdrawn(slot, "b", now).expect("it held b");
    h.actions();
    h.finish(slot, "a", 0);
    assert_eq!(h.actions()[0], started(slot, 1, "c"));
    h.finish(slot, "c", 0);
    assert!(h.pool.is_idle());
}
