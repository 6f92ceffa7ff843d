//! Run limits and job arrays, on the fake clock: what fits on a worker
//! whose job ends, draining, replacement ahead, tasks too long for their
//! class, runs cut off at the limit, learned estimates, and one launch
//! action per batch.

use std::time::{Duration, Instant};

use dfm_wire::{ResourceRequest, TaskResult, TaskSpec};

use super::harness::{config, info, spec, Harness};
use crate::pool::{Action, Outcome, PoolConfig, SlotId};

const MIN: u64 = 60;

fn limited(max_workers: usize) -> PoolConfig {
    PoolConfig {
        max_workers,
        drain_before: Duration::from_secs(2 * MIN),
        replace_ahead: Duration::from_secs(5 * MIN),
        walltime_margin: Duration::from_secs(MIN),
        default_task_duration: Duration::from_secs(MIN),
        idle_timeout: Duration::from_secs(3600),
        heartbeat_timeout: Duration::from_secs(3600),
        ..config()
    }
}

/// A pool whose default class's workers have a 30-minute walltime.
fn pool(max_workers: usize) -> Harness {
    let mut h = Harness::new(limited(max_workers));
    h.step(|pool| pool.set_class_walltime("", Some(Duration::from_secs(30 * MIN))));
    h
}

/// A task named `name`, tagged to take `minutes` if given.
fn task(id: &str, name: &str, minutes: Option<u64>) -> TaskSpec {
    TaskSpec {
        name: name.into(),
        resources: minutes.map(|m| ResourceRequest {
            walltime: Some(m.to_string()),
            ..ResourceRequest::default()
        }),
        ..spec(id, "")
    }
}

fn submit(h: &mut Harness, spec: TaskSpec, at: Instant) {
    h.step(|pool| pool.submit(1, spec, at)).expect("submit");
}

fn mins(t0: Instant, m: f64) -> Instant {
    t0 + Duration::from_secs_f64(m * 60.0)
}

/// Brings up the launches pending, at `at`.
fn bring_up_at(h: &mut Harness, actions: &[Action], at: Instant) -> Vec<SlotId> {
    Harness::launches(actions)
        .into_iter()
        .map(|(slot, worker_id, class)| {
            h.step(|pool| pool.launched(slot, at));
            h.step(|pool| pool.register(&worker_id, &class, info("h"), at))
                .expect("register")
        })
        .collect()
}

fn finish_at(h: &mut Harness, slot: SlotId, id: &str, at: Instant) {
    h.step(|pool| pool.task_finished(slot, TaskResult::new(id, 0), at))
        .expect("result accepted");
}

#[test]
fn a_task_goes_only_to_a_worker_whose_job_leaves_it_time_to_finish() {
    let mut h = pool(2);
    let t0 = h.t0;
    submit(&mut h, task("a", "first", Some(20)), t0);
    let actions = h.actions();
    let w1 = bring_up_at(&mut h, &actions, t0)[0];
    assert_eq!(Harness::dispatches(&h.actions()), vec![(w1, "a".into())]);
    // At 20 min w1 has 10 left: a 20-minute task does not fit (20 + 1 > 10),
    // a 5-minute one does.
    let now = mins(t0, 20.0);
    finish_at(&mut h, w1, "a", now);
    h.actions();
    submit(&mut h, task("long", "long", Some(20)), now);
    submit(&mut h, task("short", "short", Some(5)), now);
    let actions = h.actions();
    assert_eq!(Harness::dispatches(&actions), vec![(w1, "short".into())]);
    // The long one gets a worker of its own.
    assert_eq!(Harness::launches(&actions).len(), 1);
    let w2 = bring_up_at(&mut h, &actions, now)[0];
    assert_eq!(Harness::dispatches(&h.actions()), vec![(w2, "long".into())]);
}

#[test]
fn a_worker_near_its_end_takes_nothing_new_and_leaves_once_idle() {
    let mut h = pool(1);
    let t0 = h.t0;
    submit(&mut h, task("a", "a", Some(1)), t0);
    let actions = h.actions();
    let w = bring_up_at(&mut h, &actions, t0)[0];
    h.actions();
    // 29 minutes in: within drain_before (2 min) of its end.
    let late = mins(t0, 29.0);
    submit(&mut h, task("tiny", "tiny", None), late);
    let actions = h.actions();
    assert!(Harness::dispatches(&actions).is_empty());
    finish_at(&mut h, w, "a", late);
    let actions = h.actions();
    assert!(Harness::retires(&actions, w), "{actions:?}");
    // Its place goes to a fresh worker, which runs what waited.
    let fresh = bring_up_at(&mut h, &actions, late)[0];
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(fresh, "tiny".into())]
    );
}

#[test]
fn a_busy_worker_near_its_end_gets_its_replacement_launched_ahead() {
    let mut h = pool(1);
    let t0 = h.t0;
    submit(&mut h, task("a", "a", Some(20)), t0);
    let actions = h.actions();
    let w = bring_up_at(&mut h, &actions, t0)[0];
    h.actions();
    for n in 0..3 {
        submit(&mut h, task(&format!("q{n}"), "q", Some(1)), t0);
    }
    // Nothing yet: the pool is full.
    assert!(Harness::launches(&h.actions()).is_empty());
    // 26 minutes in, 4 left (< replace_ahead): a replacement, beyond
    // max_workers, while w still works.
    let now = mins(t0, 26.0);
    h.step(|pool| pool.tick(now));
    let actions = h.actions();
    assert_eq!(Harness::launches(&actions).len(), 1, "{actions:?}");
    assert_eq!(h.pool().counts().workers.total, 2);
    let fresh = bring_up_at(&mut h, &actions, now)[0];
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(fresh, "q0".into())]
    );
    // Once w is done it leaves: the pool is back to one worker.
    finish_at(&mut h, w, "a", mins(t0, 28.5));
    assert!(Harness::retires(&h.actions(), w));
    assert_eq!(h.pool().counts().workers.total, 1);
    // A second tick launches nothing more.
    h.step(|pool| pool.tick(mins(t0, 28.6)));
    assert!(Harness::launches(&h.actions()).is_empty());
}

#[test]
fn an_idle_worker_near_its_end_is_not_replaced_but_retired() {
    let mut h = pool(2);
    let t0 = h.t0;
    submit(&mut h, task("a", "a", Some(1)), t0);
    let actions = h.actions();
    let w = bring_up_at(&mut h, &actions, t0)[0];
    finish_at(&mut h, w, "a", mins(t0, 2.0));
    h.actions();
    h.step(|pool| pool.tick(mins(t0, 26.0)));
    assert!(
        Harness::launches(&h.actions()).is_empty(),
        "nothing to replace it for"
    );
    h.step(|pool| pool.tick(mins(t0, 28.5)));
    assert!(Harness::retires(&h.actions(), w));
}

#[test]
fn a_task_longer_than_any_worker_of_its_class_can_run_fails_at_once_saying_so() {
    let mut h = pool(2);
    let t0 = h.t0;
    submit(&mut h, task("huge", "huge", Some(45)), t0);
    let actions = h.actions();
    assert!(Harness::launches(&actions).is_empty());
    let replies = Harness::replies(&actions);
    let [(1, id, Outcome::Failed(why))] = replies.as_slice() else {
        panic!("{replies:?}");
    };
    assert_eq!(id, "huge");
    for needed in ["45 min", "30 min", "walltime", "pool.walltime_margin"] {
        assert!(why.contains(needed), "'{needed}' not in: {why}");
    }
}

#[test]
fn a_task_that_ran_into_its_jobs_limit_and_could_fit_no_worker_fails_saying_so() {
    let mut h = pool(1);
    let t0 = h.t0;
    // Expected to take the default minute; it takes longer than the job.
    submit(&mut h, task("sim", "sim", None), t0);
    let actions = h.actions();
    let w = bring_up_at(&mut h, &actions, t0)[0];
    h.actions();
    h.step(|pool| pool.worker_lost(w, "disconnected", mins(t0, 30.0)));
    // It ran all 30 minutes: now expected to take 45, more than any worker
    // of its class can give, so it fails with why instead of running into
    // the limit again.
    let replies = Harness::replies(&h.actions());
    let [(1, id, Outcome::Failed(why))] = replies.as_slice() else {
        panic!("{replies:?}");
    };
    assert_eq!(id, "sim");
    assert!(why.contains("reached its run limit after 1800 s"), "{why}");
    assert!(why.contains("45 min"), "{why}");
}

#[test]
fn a_run_cut_off_early_by_the_limit_is_rerun_with_a_raised_estimate() {
    let mut h = Harness::new(PoolConfig {
        max_task_attempts: 1,
        ..limited(1)
    });
    let t0 = h.t0;
    h.step(|pool| pool.set_class_walltime("", Some(Duration::from_secs(30 * MIN))));
    submit(&mut h, task("a", "a", Some(1)), t0);
    let actions = h.actions();
    let w = bring_up_at(&mut h, &actions, t0)[0];
    finish_at(&mut h, w, "a", mins(t0, 20.0));
    submit(&mut h, task("sim", "sim", None), mins(t0, 20.0));
    assert_eq!(
        Harness::dispatches(&h.actions()).last(),
        Some(&(w, "sim".into()))
    );
    // The job ends at 30 min; the scheduler says so at 30.
    h.step(|pool| pool.job_exited(w, 140, true, mins(t0, 30.0)));
    let actions = h.actions();
    assert!(Harness::replies(&actions).is_empty(), "{actions:?}");
    let fresh = bring_up_at(&mut h, &actions, mins(t0, 30.0))[0];
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(fresh, "sim".into())]
    );
    // It ran 10 minutes: expected 15 from now on.
    let expected = h.step(|pool| pool.durations().expected("sim"));
    assert_eq!(expected, Some(Duration::from_secs(15 * MIN)));
}

#[test]
fn a_learned_duration_keeps_a_long_task_off_a_worker_near_its_end() {
    let mut h = pool(2);
    let t0 = h.t0;
    submit(&mut h, task("r1", "regress", None), t0);
    let actions = h.actions();
    let w1 = bring_up_at(&mut h, &actions, t0)[0];
    h.actions();
    // regress takes 12 minutes; the pool learns it.
    finish_at(&mut h, w1, "r1", mins(t0, 12.0));
    h.actions();
    // At 18 minutes w1 has 12 left: 12 + 1 does not fit; a tiny task
    // (the default minute) does.
    let now = mins(t0, 18.0);
    submit(&mut h, task("r2", "regress", None), now);
    submit(&mut h, task("t", "tiny", None), now);
    let actions = h.actions();
    assert_eq!(Harness::dispatches(&actions), vec![(w1, "t".into())]);
    let w2 = bring_up_at(&mut h, &actions, now)[0];
    assert_eq!(Harness::dispatches(&h.actions()), vec![(w2, "r2".into())]);
}

#[test]
fn the_time_the_scheduler_reports_left_wins_over_the_walltime() {
    let mut h = pool(2);
    let t0 = h.t0;
    submit(&mut h, task("a", "a", Some(1)), t0);
    let actions = h.actions();
    let w = bring_up_at(&mut h, &actions, t0)[0];
    finish_at(&mut h, w, "a", mins(t0, 1.0));
    h.actions();
    // The scheduler says 4 minutes left (the job started long before it
    // registered): a 5-minute task no longer fits.
    h.step(|pool| pool.job_time_left(w, Duration::from_secs(4 * MIN), mins(t0, 1.0)));
    submit(&mut h, task("b", "b", Some(5)), mins(t0, 1.0));
    let actions = h.actions();
    assert!(Harness::dispatches(&actions).is_empty(), "{actions:?}");
    assert_eq!(Harness::launches(&actions).len(), 1);
}

#[test]
fn a_worker_held_tasks_ahead_only_while_they_fit_after_what_it_runs() {
    let mut h = Harness::new(PoolConfig {
        prefetch: 2,
        ..limited(1)
    });
    let t0 = h.t0;
    h.step(|pool| pool.set_class_walltime("", Some(Duration::from_secs(30 * MIN))));
    submit(&mut h, task("a", "a", Some(10)), t0);
    let actions = h.actions();
    let w = bring_up_at(&mut h, &actions, t0)[0];
    h.actions();
    // Running a (10 min); b (10) fits after it, c (10) would end at 30.
    submit(&mut h, task("b", "b", Some(10)), t0);
    submit(&mut h, task("c", "c", Some(10)), t0);
    let actions = h.actions();
    let sent: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Dispatch {
                task, ahead: true, ..
            } => Some(task.request_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["b"]);
    let _ = w;
}

#[test]
fn workers_decided_at_once_are_one_launch_action() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 8,
        min_workers: 6,
        launch_batch_size: 8,
        ..config()
    });
    let t0 = h.t0;
    let now = t0;
    h.step(|pool| pool.tick(now));
    let actions = h.actions();
    assert_eq!(Harness::launches(&actions).len(), 6);
    assert_eq!(Harness::launch_calls(&actions), 1, "{actions:?}");
    // If it fails, that is one failed launch, not six.
    let slots: Vec<SlotId> = Harness::launches(&actions).iter().map(|l| l.0).collect();
    h.submit(1, "t", "");
    h.actions();
    h.step(|pool| pool.launch_failed(&slots, "sbatch: error", now));
    assert!(
        Harness::replies(&h.actions()).is_empty(),
        "one failure of three allowed"
    );
}

#[test]
fn short_jobs_still_take_tasks_drain_and_replacement_shrink_with_them() {
    // A one-minute walltime, under the default 2-minute drain_before.
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        walltime_margin: Duration::from_secs(1),
        default_task_duration: Duration::from_secs(1),
        ..PoolConfig::default()
    });
    let t0 = h.t0;
    h.step(|pool| pool.set_class_walltime("", Some(Duration::from_secs(60))));
    submit(&mut h, task("a", "a", None), t0);
    let actions = h.actions();
    let w = bring_up_at(&mut h, &actions, t0)[0];
    assert_eq!(Harness::dispatches(&h.actions()), vec![(w, "a".into())]);
    finish_at(&mut h, w, "a", t0 + Duration::from_secs(30));
    // 40 s in: 20 left, more than a quarter of the walltime: it takes more.
    let now = t0 + Duration::from_secs(40);
    submit(&mut h, task("b", "b", None), now);
    assert_eq!(Harness::dispatches(&h.actions()), vec![(w, "b".into())]);
    // 50 s in: 10 left: it is draining, and its replacement is on its way.
    let later = t0 + Duration::from_secs(50);
    submit(&mut h, task("c", "c", None), later);
    h.step(|pool| pool.tick(later));
    let actions = h.actions();
    assert!(Harness::dispatches(&actions).is_empty(), "{actions:?}");
    assert_eq!(Harness::launches(&actions).len(), 1);
}
