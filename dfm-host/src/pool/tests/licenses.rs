//! License tokens on the fake clock: never more in use than allowed,
//! across clients and classes; nothing held ahead; no worker launched for
//! a task that waits only for a license; the oldest starved class first;
//! tokens back on result, cancel and loss. The harness recounts the tokens
//! after every step.

use std::collections::BTreeMap;
use std::time::Duration;

use super::harness::{config, Harness};
use crate::pool::{Action, LicenseConfig, PoolConfig, SlotId};

/// A pool of `workers` with `vcs: count`; class `sim` holds one token a
/// task, `big` four.
fn licensed(workers: usize, count: u32, prefetch: usize) -> Harness {
    Harness::new(PoolConfig {
        max_workers: workers,
        prefetch,
        licenses: LicenseConfig {
            counts: BTreeMap::from([("vcs".to_string(), count)]),
            classes: BTreeMap::from([
                ("sim".to_string(), vec![("vcs".to_string(), 1)]),
                ("big".to_string(), vec![("vcs".to_string(), 4)]),
            ]),
            patience: Duration::from_secs(60),
            retry_exit_codes: vec![9],
            queried: vec!["vcs".to_string()],
        },
        ..config()
    })
}

fn in_use(h: &Harness) -> u32 {
    h.pool().license_use()[0].in_use
}

/// Registers every worker launched so far; what they were sent.
fn workers_up(h: &mut Harness) -> (Vec<SlotId>, Vec<(SlotId, String)>) {
    let actions = h.actions();
    let slots = h.bring_up(&actions, "h");
    let sent = Harness::dispatches(&h.actions());
    (slots, sent)
}

#[test]
fn no_more_tasks_run_than_there_are_tokens_and_no_worker_is_launched_for_the_rest() {
    let mut h = licensed(6, 3, 0);
    for i in 0..10 {
        h.submit(1 + i % 2, &format!("t{i}"), "sim");
    }
    // Three can run: three workers, not six.
    let launched = Harness::launches(&h.actions());
    assert_eq!(launched.len(), 3, "{launched:?}");
    let actions = vec![Action::Launch {
        workers: launched.iter().map(|(s, w, _)| (*s, w.clone())).collect(),
        class: "sim".into(),
    }];
    h.bring_up(&actions, "h");
    let running = Harness::dispatches(&h.actions());
    assert_eq!(running.len(), 3);
    assert_eq!(in_use(&h), 3);
    assert_eq!(h.pool().license_use()[0].waiting, 7);

    // Each result frees a token for the next; never more than three.
    let mut running = running;
    let mut done = 0;
    while let Some((slot, id)) = running.pop() {
        h.finish(slot, &id, 0);
        done += 1;
        assert!(in_use(&h) <= 3);
        running.extend(Harness::dispatches(&h.actions()));
    }
    assert_eq!(done, 10);
    assert_eq!(in_use(&h), 0);
}

#[test]
fn a_licensed_task_is_never_held_ahead() {
    let mut h = licensed(1, 3, 4);
    h.submit(1, "a", "sim");
    let (slots, sent) = workers_up(&mut h);
    assert_eq!(sent.len(), 1);
    h.submit(1, "b", "sim");
    let actions = h.actions();
    assert!(Harness::dispatches(&actions).is_empty(), "{actions:?}");
    h.finish(slots[0], "a", 0);
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(slots[0], "b".into())]
    );
}

#[test]
fn a_smaller_allowance_holds_new_tasks_back_until_tokens_come_free() {
    let mut h = licensed(4, 3, 0);
    for id in ["a", "b", "c", "d"] {
        h.submit(1, id, "sim");
    }
    let (_, sent) = workers_up(&mut h);
    assert_eq!(sent.len(), 3);
    // Others took two: one left for dfm. Running tasks keep theirs.
    let now = h.t0;
    h.step(|pool| pool.set_license_allowed("vcs", 1, now));
    assert_eq!(in_use(&h), 3);
    let (slot, id) = sent[0].clone();
    h.finish(slot, &id, 0);
    assert!(
        Harness::dispatches(&h.actions()).is_empty(),
        "2 in use, 1 allowed"
    );
    for (slot, id) in &sent[1..] {
        h.finish(*slot, id, 0);
    }
    assert_eq!(
        Harness::dispatches(&h.actions()).len(),
        1,
        "one token free again"
    );
    assert_eq!(in_use(&h), 1);
}

#[test]
fn tokens_come_back_on_cancel_and_on_a_lost_worker() {
    let mut h = licensed(2, 2, 0);
    h.submit(1, "a", "sim");
    h.submit(1, "b", "sim");
    let (_, sent) = workers_up(&mut h);
    assert_eq!(in_use(&h), 2);
    let now = h.t0;
    assert!(h.step(|pool| pool.cancel(1, "a", now)));
    // Killing: the process may still hold the license until it is gone.
    let killed = sent.iter().find(|(_, id)| id == "a").expect("a ran").0;
    let lost = sent.iter().find(|(_, id)| id == "b").expect("b ran").0;
    h.finish(killed, "a", 137);
    assert_eq!(in_use(&h), 1);
    // Lost with its task: the token comes back, and the task runs again
    // on the worker that is free, with a token of its own.
    h.step(|pool| pool.worker_lost(lost, "gone", now));
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(killed, "b".into())]
    );
    assert_eq!(in_use(&h), 1);
    h.finish(killed, "b", 0);
    assert_eq!(in_use(&h), 0);
}

#[test]
fn a_class_starved_longer_than_the_patience_gets_the_tokens_first() {
    let mut h = licensed(5, 4, 0);
    // A stream of 1-token tasks keeps two tokens busy...
    for i in 0..6 {
        h.submit(1, &format!("s{i}"), "sim");
    }
    let (_, mut running) = workers_up(&mut h);
    assert_eq!(running.len(), 4);
    // ...when a 4-token task comes: it waits.
    h.submit(2, "huge", "big");
    let _ = h.actions();
    // From now on, the harness's clock is past the patience.
    h.t0 = h.at(61.0);
    let late = h.t0;
    // Past the patience, the small ones finishing do not start more.
    let mut started_small = 0;
    let mut huge_started = false;
    while let Some((slot, id)) = running.pop() {
        h.step(|pool| pool.task_finished(slot, dfm_wire::TaskResult::new(&id, 0), late))
            .expect("result");
        let actions = h.actions();
        let mut sent = Harness::dispatches(&actions);
        // The big class's worker, launched once its tokens are free.
        h.bring_up(&actions, "h");
        sent.extend(Harness::dispatches(&h.actions()));
        for (slot, next) in sent {
            if next == "huge" {
                huge_started = true;
            } else {
                started_small += 1;
                running.push((slot, next));
            }
        }
    }
    assert!(huge_started, "the 4-token task ran");
    // Of two classes starved as long, the first in order goes first: the
    // 1-token class, once, then it waits its turn.
    assert!(
        started_small <= 1,
        "{started_small} 1-token tasks took tokens meanwhile"
    );
}

#[test]
fn license_unavailable_runs_the_task_again_after_the_next_query_without_an_attempt() {
    let mut h = licensed(2, 2, 0);
    h.submit(1, "a", "sim");
    h.submit(1, "b", "sim");
    let (_, sent) = workers_up(&mut h);
    let (slot, _) = sent
        .iter()
        .find(|(_, id)| id == "a")
        .cloned()
        .expect("a ran");
    // Its checkout failed: someone outside dfm holds the token.
    h.finish(slot, "a", 9);
    let actions = h.actions();
    assert!(
        Harness::replies(&actions).is_empty(),
        "no reply: {actions:?}"
    );
    assert!(
        Harness::dispatches(&actions).is_empty(),
        "nothing new before the query"
    );
    assert_eq!(h.pool().license_use()[0].allowed, 1);
    // The query answers: a token is free again, and a runs (first in line).
    let now = h.t0;
    h.step(|pool| pool.set_license_allowed("vcs", 2, now));
    assert_eq!(Harness::dispatches(&h.actions()), vec![(slot, "a".into())]);
    h.finish(slot, "a", 0);
    let replies = Harness::replies(&h.actions());
    assert_eq!(replies.len(), 1);
    assert_eq!(
        replies[0].2,
        Harness::finished("a", 0, 1),
        "a retry is no attempt"
    );

    // A task whose checkout keeps failing gets that answer in the end.
    h.submit(2, "c", "sim");
    let mut dispatched = Harness::dispatches(&h.actions());
    let mut runs = 0;
    while let Some((slot, id)) = dispatched.pop() {
        runs += 1;
        h.finish(slot, &id, 9);
        h.step(|pool| pool.set_license_allowed("vcs", 2, now));
        let actions = h.actions();
        if let Some((_, _, outcome)) = Harness::replies(&actions).into_iter().next() {
            assert!(matches!(outcome, crate::pool::Outcome::Finished(r) if r.status == 9));
            break;
        }
        dispatched = Harness::dispatches(&actions);
    }
    assert_eq!(runs, 1 + crate::pool::licenses::MAX_LICENSE_RETRIES);
}

/// A task of the default class naming `vcs: tokens` of its own.
fn own(h: &mut Harness, client: crate::pool::ClientId, id: &str, tokens: u32, at: f64) {
    let now = h.at(at);
    let mut spec = super::harness::spec(id, "");
    if tokens > 0 {
        spec.extra
            .insert("licenses".into(), serde_json::json!({ "vcs": tokens }));
    }
    h.step(|pool| pool.submit(client, spec, now))
        .expect("submit");
}

#[test]
fn a_task_holds_the_licenses_it_names_itself_besides_its_classs() {
    let mut h = licensed(4, 3, 4);
    own(&mut h, 1, "two", 2, 0.0);
    own(&mut h, 1, "two-more", 2, 0.0);
    own(&mut h, 1, "one", 1, 0.0);
    own(&mut h, 1, "none", 0, 0.0);
    let (_, sent) = workers_up(&mut h);
    let mut names: Vec<&str> = sent.iter().map(|(_, id)| id.as_str()).collect();
    names.sort();
    // 2 + 1 of 3 tokens; the other 2-token task waits, the unlicensed one runs.
    assert_eq!(names, ["none", "one", "two"]);
    assert_eq!(in_use(&h), 3);
    let (slot, _) = sent
        .iter()
        .find(|(_, id)| id == "two")
        .cloned()
        .expect("two ran");
    h.finish(slot, "two", 0);
    assert_eq!(
        Harness::dispatches(&h.actions()),
        vec![(slot, "two-more".into())]
    );
}

#[test]
fn a_task_naming_a_license_the_daemon_does_not_schedule_fails_saying_so() {
    let mut h = licensed(2, 3, 0);
    let now = h.t0;
    let mut spec = super::harness::spec("x", "");
    spec.extra
        .insert("licenses".into(), serde_json::json!({"xcelium": 1}));
    h.step(|pool| pool.submit(1, spec, now)).expect("submit");
    own(&mut h, 1, "greedy", 4, 0.0);
    let replies = Harness::replies(&h.actions());
    let said: Vec<String> = replies
        .iter()
        .map(|(_, _, outcome)| format!("{outcome:?}"))
        .collect();
    assert!(
        said[0].contains("does not schedule") && said[0].contains("vcs"),
        "{said:?}"
    );
    assert!(said[1].contains("more than its count"), "{said:?}");
}

#[test]
fn inside_a_class_the_task_waiting_longest_past_the_patience_goes_first() {
    let mut h = licensed(3, 3, 0);
    for i in 0..3 {
        own(&mut h, 1, &format!("small{i}"), 1, 0.0);
    }
    let (_, mut running) = workers_up(&mut h);
    assert_eq!(running.len(), 3);
    own(&mut h, 2, "big", 3, 0.0);
    for i in 3..9 {
        own(&mut h, 1, &format!("small{i}"), 1, 1.0);
    }
    let _ = h.actions();
    // Past the patience: the small ones ending let no other small one in.
    h.t0 = h.at(61.0);
    let (mut big_ran, mut small_before_big) = (false, 0);
    while let Some((slot, id)) = running.pop() {
        h.finish(slot, &id, 0);
        for (slot, next) in Harness::dispatches(&h.actions()) {
            if next == "big" {
                big_ran = true;
            } else {
                small_before_big += usize::from(!big_ran);
                running.push((slot, next));
            }
        }
    }
    assert!(big_ran, "the 3-token task ran once the tokens came free");
    assert_eq!(
        small_before_big, 0,
        "1-token tasks took the tokens it waited for"
    );
}

#[test]
fn priorities_keep_their_weight_inside_the_license_limit() {
    // Two workers but one token: one task at a time, in fair-share order.
    let mut h = licensed(2, 1, 0);
    let now = h.t0;
    for (client, priority) in [(1, 3), (2, 1)] {
        for i in 0..8 {
            let spec = dfm_wire::TaskSpec {
                priority: Some(priority),
                ..super::harness::spec(&format!("c{client}-{i}"), "sim")
            };
            h.step(|pool| pool.submit(client, spec, now))
                .expect("submit");
        }
    }
    let (_, mut running) = workers_up(&mut h);
    let mut order = Vec::new();
    while let Some((slot, id)) = running.pop() {
        assert!(running.is_empty(), "one token: one task at a time");
        order.push(id.clone());
        h.finish(slot, &id, 0);
        running.extend(Harness::dispatches(&h.actions()));
    }
    // Of the first eight, three of the priority-3 client's per one of the other's.
    let first: Vec<&str> = order.iter().take(8).map(|id| &id[..2]).collect();
    let heavy = first.iter().filter(|c| **c == "c1").count();
    assert_eq!(heavy, 6, "{order:?}");
    assert_eq!(order.len(), 16);
}
