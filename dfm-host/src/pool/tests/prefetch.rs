use super::harness::{config, Harness};
use crate::pool::{Action, ClientId, Outcome, PoolConfig, SlotId, SATURATED_QUEUE_PER_WORKER};

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

/// `Action::Started` for the task `client` calls `request_id`.
fn started(h: &Harness, slot: SlotId, client: ClientId, request_id: &str) -> Action {
    Action::Started {
        slot,
        client,
        id: h.task_id(client, request_id),
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
    let counts = h.pool().counts();
    assert_eq!((counts.running_tasks, counts.pending_tasks), (1, 2));
    h.finish(slot, "a", 0);
    let actions = h.actions();
    assert_eq!(actions[0], started(&h, slot, 1, "b"));
    assert_eq!(sends(&actions), vec![(slot, "c".into(), true)]);
    assert_eq!(
        Harness::replies(&actions),
        vec![(1, "a".into(), Harness::finished("a", 0, 1))]
    );
    assert_eq!(
        h.pool().current_task(slot).map(|t| t.request_id.as_str()),
        Some("b")
    );
    h.finish(slot, "b", 0);
    assert_eq!(h.actions()[0], started(&h, slot, 1, "c"));
    h.finish(slot, "c", 3);
    let actions = h.actions();
    assert!(sends(&actions).is_empty());
    assert_eq!(Harness::replies(&actions).len(), 1);
    let counts = h.pool().counts();
    assert_eq!(
        (
            counts.workers.idle,
            counts.completed_tasks,
            counts.failed_tasks
        ),
        (1, 2, 1)
    );
    assert!(h.pool().is_idle());
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
    h.step(|pool| pool.task_withdrawn(holder, "c", now))
        .expect("it held c");
    assert_eq!(sends(&h.actions()), vec![(other, "c".into(), false)]);
    let counts = h.pool().counts();
    assert_eq!(
        (
            counts.workers.busy,
            counts.running_tasks,
            counts.pending_tasks
        ),
        (2, 2, 0)
    );
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
    assert_eq!(actions[0], started(&h, holder, 1, "c"));
    assert!(sends(&actions).is_empty());
    let now = h.t0;
    assert!(h
        .step(|pool| pool.task_withdrawn(holder, "c", now))
        .is_err());
    h.finish(holder, "c", 0);
    assert_eq!(h.pool().counts().completed_tasks, 3);
    assert!(h.pool().is_idle());
}

#[test]
fn cancelling_a_task_held_ahead_replies_at_once_and_asks_it_back() {
    let (mut h, slot) = one_worker_with(prefetching(1), &["a", "b", "c"]);
    h.actions();
    let now = h.t0;
    let b = h.task_id(1, "b");
    assert!(h.step(|pool| pool.cancel(1, "b", now)));
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
                id: b,
                request_id: "b".into(),
                outcome: Outcome::Failed("cancelled".into())
            }
        ]
    );
    // Handed back: gone for good, and c takes its place ahead.
    h.step(|pool| pool.task_withdrawn(slot, "b", now))
        .expect("it held b");
    let actions = h.actions();
    assert_eq!(sends(&actions), vec![(slot, "c".into(), true)]);
    assert!(Harness::replies(&actions).is_empty());
    h.finish(slot, "a", 0);
    assert_eq!(h.actions()[0], started(&h, slot, 1, "c"));
    h.finish(slot, "c", 0);
    assert!(h.pool().is_idle());
    assert_eq!(h.pool().counts().failed_tasks, 1);
}

#[test]
fn a_cancelled_task_the_worker_had_already_started_is_killed_without_a_second_reply() {
    let mut h = Harness::new(prefetching(1));
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    let slot = h.bring_up_pending("h")[0];
    h.actions();
    let now = h.t0;
    assert!(h.step(|pool| pool.cancel(1, "b", now)));
    h.actions();
    // a ended before the cancel arrived: the worker runs b, then kills it.
    h.finish(slot, "a", 0);
    let actions = h.actions();
    assert!(!actions.iter().any(|a| matches!(a, Action::Started { .. })));
    h.finish(slot, "b", 137);
    assert!(Harness::replies(&h.actions()).is_empty());
    assert!(h.pool().is_idle());
    assert_eq!(h.pool().counts().workers.idle, 1);
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
    h.step(|pool| pool.worker_lost(slot, "vanished", now));
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
    assert!(!h.pool().saturated());
    let slots = h.bring_up_pending("host1");
    assert_eq!(slots.len(), 2);
    assert_eq!(Harness::dispatches(&h.actions()).len(), 2);
    let per_pool = SATURATED_QUEUE_PER_WORKER * slots.len();
    for i in 0..per_pool - 1 {
        h.submit(1, &format!("q{i}"), "");
    }
    assert!(!h.pool().saturated(), "one short of saturated");
    h.submit(1, "last", "");
    assert!(h.pool().saturated());
    // A worker takes the next task in line: one short again.
    h.finish(slots[0], "a", 0);
    assert_eq!(Harness::dispatches(&h.actions()).len(), 1);
    assert!(!h.pool().saturated());
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
    assert_eq!(h.pool().counts().pending_tasks, 4, "b, c held; d, e queued");
    // a and b are reported together, as a worker that defers a result
    // reports them: c runs by then, and d and e go ahead.
    let (b, c) = (started(&h, slot, 1, "b"), started(&h, slot, 1, "c"));
    h.finish(slot, "a", 0);
    h.finish(slot, "b", 0);
    let actions = h.actions();
    let order: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::Started { .. }))
        .collect();
    assert_eq!(order, vec![&b, &c]);
    assert_eq!(
        sends(&actions),
        vec![(slot, "d".into(), true), (slot, "e".into(), true)]
    );
    assert_eq!(
        h.pool().current_task(slot).map(|t| t.request_id.as_str()),
        Some("c")
    );
    for id in ["c", "d", "e"] {
        h.finish(slot, id, 0);
    }
    assert_eq!(h.pool().counts().completed_tasks, 5);
    assert!(h.pool().is_idle());
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
    h.step(|pool| pool.worker_lost(slot, "vanished", now));
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
    h.step(|pool| pool.task_withdrawn(slot_a, &held_a[1], now))
        .expect("it held that task");
    assert_eq!(
        sends(&h.actions()),
        vec![(slot_b, held_a[1].clone(), false)]
    );
    // The first task a's worker held still runs after a, there.
    h.finish(slot_a, "a", 0);
    assert_eq!(h.actions()[0], started(&h, slot_a, 1, &held_a[0]));
}

#[test]
fn a_task_handed_back_from_the_middle_of_the_line_leaves_the_rest_in_order() {
    let (mut h, slot) = one_worker_with(prefetching_two(1), &["a", "b", "c"]);
    h.actions();
    let now = h.t0;
    assert!(h.step(|pool| pool.cancel(1, "b", now)));
    h.actions();
    h.step(|pool| pool.task_withdrawn(slot, "b", now))
        .expect("it held b");
    h.actions();
    h.finish(slot, "a", 0);
    assert_eq!(h.actions()[0], started(&h, slot, 1, "c"));
    h.finish(slot, "c", 0);
    assert!(h.pool().is_idle());
}
