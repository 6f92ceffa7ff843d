use std::time::Duration;

use dfm_wire::TaskResult;

use super::harness::{config, info, spec, Harness};
use crate::pool::{Action, Outcome, PoolConfig, RegisterError, SubmitError};

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
        vec![(1, "a".to_string(), Harness::finished("a", 0, 1))]
    );
    let counts = h.pool().counts();
    assert_eq!(
        (
            counts.workers.total,
            counts.workers.idle,
            counts.completed_tasks
        ),
        (1, 1, 1)
    );
    assert!(h.pool().is_idle());
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
    h.step(|pool| pool.launched(slot, now));
    let actions = h.actions();
    assert_eq!(
        Harness::launches(&actions).len(),
        1,
        "one more, up to max_workers"
    );
    assert_eq!(h.pool().counts().workers.pending, 3);
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
        h.step(|pool| pool.register(&launches[0].1, "", info("h"), now)),
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
    assert!(Harness::retires(&actions, slot));
    assert_eq!(Harness::launches(&actions).len(), 1);
}

#[test]
fn duplicate_request_ids_are_refused_per_client() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let now = h.t0;
    assert_eq!(
        h.step(|pool| pool.submit(1, spec("a", ""), now)),
        Err(SubmitError::DuplicateRequestId("a".into()))
    );
    assert!(
        h.step(|pool| pool.submit(2, spec("a", ""), now)).is_ok(),
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
    assert!(h.step(|pool| pool.cancel(1, "b", now)));
    assert_eq!(
        Harness::replies(&h.actions()),
        vec![(1, "b".to_string(), Outcome::Failed("cancelled".into()))]
    );
    h.finish(slot, "a", 0);
    assert!(Harness::dispatches(&h.actions()).is_empty());
    assert!(!h.step(|pool| pool.cancel(1, "b", now)), "already gone");
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
    assert!(h.step(|pool| pool.cancel(1, "a", now)));
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
    h.step(|pool| pool.client_gone(1, now));
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
    h.step(|pool| pool.worker_lost(first, "disconnected", now));
    let actions = h.actions();
    assert!(Harness::terminates(&actions, first));
    assert!(
        Harness::replies(&actions).is_empty(),
        "re-queued, not failed"
    );
    let second = h.bring_up(&actions, "node8")[0];
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(second, "a".to_string())]
    );

    let worker_id = h.pool().slot(second).expect("slot").worker_id.clone();
    let mut rerun = Harness::new(config());
    rerun.submit(1, "a", "");
    let lost = rerun.bring_up_pending("node7")[0];
    rerun.actions();
    rerun.step(|pool| pool.worker_lost(lost, "disconnected", now));
    let actions = rerun.actions();
    let again = rerun.bring_up(&actions, "node8")[0];
    rerun.actions();
    rerun.finish(again, "a", 0);
    assert_eq!(
        Harness::replies(&rerun.actions()),
        vec![(1, "a".to_string(), Harness::finished("a", 0, 2))],
        "its second run, numbered so"
    );

    h.step(|pool| pool.worker_lost(second, "disconnected", now));
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
            h.step(|pool| pool.launch_failed(&[slot], "bsub: command not found", now));
        }
    }
    assert_eq!(replies.len(), 2, "{replies:?}");
    for (_, _, outcome) in replies {
        let Outcome::Failed(message) = outcome else {
            panic!("expected failure");
        };
        assert!(message.contains("bsub: command not found"), "{message}");
    }
    assert_eq!(h.pool().counts().workers.total, 0);
    assert!(h.pool().is_idle());
}

#[test]
fn a_worker_that_never_registers_frees_its_slot_after_the_launch_timeout() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let (slot, _, _) = Harness::launches(&h.actions())[0].clone();
    let now = h.t0;
    h.step(|pool| pool.launched(slot, now));
    let at = h.at(9.0);
    h.step(|pool| pool.tick(at));
    assert!(h.actions().is_empty());
    let at = h.at(10.0);
    h.step(|pool| pool.tick(at));
    let actions = h.actions();
    assert!(Harness::terminates(&actions, slot));
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
    h.step(|pool| pool.launched(slot, now));
    h.step(|pool| pool.job_exited(slot, 127, false, now));
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
    let at = h.at(3.0);
    h.step(|pool| pool.heard_from(slot, at));
    let at = h.at(7.9);
    h.step(|pool| pool.tick(at));
    assert!(h.actions().is_empty());
    let at = h.at(8.0);
    h.step(|pool| pool.tick(at));
    let actions = h.actions();
    assert!(Harness::terminates(&actions, slot));
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
    let at = h.at(59.0);
    h.step(|pool| pool.tick(at));
    assert!(h.actions().is_empty());
    let at = h.at(60.0);
    h.step(|pool| pool.tick(at));
    let actions = h.actions();
    assert_eq!(
        actions
            .iter()
            .filter(|a| matches!(a, Action::Retire { .. }))
            .count(),
        1,
        "{actions:?}"
    );
    assert_eq!(h.pool().counts().workers.total, 1);
}

#[test]
fn registration_is_refused_for_unknown_and_duplicate_workers() {
    let mut h = Harness::new(config());
    let now = h.t0;
    assert_eq!(
        h.step(|pool| pool.register("nope", "", info("h"), now)),
        Err(RegisterError::UnknownWorker("nope".into()))
    );
    h.submit(1, "a", "");
    let (_, worker_id, _) = Harness::launches(&h.actions())[0].clone();
    assert!(h
        .step(|pool| pool.register(&worker_id, "", info("h"), now))
        .is_ok());
    assert_eq!(
        h.step(|pool| pool.register(&worker_id, "", info("h"), now)),
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
        .step(|pool| pool.task_finished(slot, TaskResult::new("forged", 0), now))
        .is_err());
    assert!(h.actions().is_empty());
    assert_eq!(h.pool().counts().workers.busy, 1);
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
    h.step(|pool| pool.shutdown());
    let actions = h.actions();
    let mut replied: Vec<String> = Harness::replies(&actions)
        .into_iter()
        .map(|r| r.1)
        .collect();
    replied.sort();
    assert_eq!(replied, ["a", "b"]);
    assert!(Harness::retires(&actions, slot));
    assert_eq!(h.pool().counts().workers.total, 0);
    let now = h.t0;
    assert_eq!(
        h.step(|pool| pool.submit(1, spec("c", ""), now)),
        Err(SubmitError::ShuttingDown)
    );
}

#[test]
fn a_launch_answered_after_shutdown_is_terminated() {
    let mut h = Harness::new(config());
    h.submit(1, "a", "");
    let (slot, worker_id, _) = Harness::launches(&h.actions())[0].clone();
    h.step(|pool| pool.shutdown());
    h.actions();
    assert_eq!(h.pool().launches_in_flight(), 1);
    let now = h.t0;
    h.step(|pool| pool.launched(slot, now));
    assert_eq!(h.actions(), vec![Action::Terminate { slot, worker_id }]);
    assert_eq!(h.pool().launches_in_flight(), 0);
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
