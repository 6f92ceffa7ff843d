//! Fair share between clients, on the fake clock: turns, priorities, a
//! newcomer's way through a pool full of a big run's tasks held ahead,
//! and the counts each client sees.

use dfm_wire::TaskSpec;

use super::harness::{config, spec, Harness};
use crate::pool::{Action, ClientCounts, ClientId, PoolConfig, SlotId};

fn submit(h: &mut Harness, client: ClientId, id: &str, priority: Option<u32>) {
    let now = h.t0;
    let spec = TaskSpec {
        priority,
        ..spec(id, "")
    };
    h.step(|pool| pool.submit(client, spec, now))
        .expect("submit");
}

/// Runs everything on `slot`, one at a time; the order tasks ran in.
fn run_all(h: &mut Harness, slot: SlotId) -> Vec<String> {
    let mut order = Vec::new();
    loop {
        let dispatched = Harness::dispatches(&h.actions());
        let Some((_, id)) = dispatched.first().cloned() else {
            return order;
        };
        h.finish(slot, &id, 0);
        order.push(id);
    }
}

fn one_worker() -> (Harness, SlotId) {
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        ..config()
    });
    submit(&mut h, 9, "warm", None);
    let slot = h.bring_up_pending("h")[0];
    (h, slot)
}

#[test]
fn a_big_run_submitted_first_does_not_hold_up_a_small_one() {
    let (mut h, slot) = one_worker();
    for n in 0..100 {
        submit(&mut h, 1, &format!("big{n}"), None);
    }
    for n in 0..3 {
        submit(&mut h, 2, &format!("small{n}"), None);
    }
    let order = run_all(&mut h, slot);
    let last_small = order.iter().rposition(|id| id.starts_with("small"));
    assert!(
        last_small.is_some_and(|at| at < 10),
        "the small run waited behind the big one: {order:?}"
    );
    assert_eq!(order.len(), 104);
}

#[test]
fn equal_clients_take_turns_one_for_one() {
    let (mut h, slot) = one_worker();
    for n in 0..5 {
        submit(&mut h, 1, &format!("a{n}"), None);
        submit(&mut h, 2, &format!("b{n}"), None);
    }
    let order = run_all(&mut h, slot);
    let clients: String = order[1..].iter().map(|id| &id[..1]).collect();
    assert_eq!(clients, "ababababab");
}

#[test]
fn a_priority_of_three_gets_three_tasks_per_turn() {
    let (mut h, slot) = one_worker();
    for n in 0..9 {
        submit(&mut h, 1, &format!("a{n}"), Some(3));
        submit(&mut h, 2, &format!("b{n}"), None);
    }
    let order = run_all(&mut h, slot);
    let clients: String = order[1..13].iter().map(|id| &id[..1]).collect();
    assert_eq!(clients, "aaabaaabaaab");
}

#[test]
fn a_newcomer_gets_a_worker_next_though_every_worker_holds_tasks_ahead() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 2,
        prefetch: 2,
        ..config()
    });
    for n in 0..20 {
        submit(&mut h, 1, &format!("big{n}"), None);
    }
    let slots = h.bring_up_pending("h");
    let actions = h.actions();
    // Both workers busy, each holding two more of the big run.
    assert_eq!(Harness::dispatches(&actions).len(), 6, "{actions:?}");
    submit(&mut h, 2, "small", None);
    let actions = h.actions();
    let asked: Vec<(SlotId, String)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Withdraw { slot, request_id } => Some((*slot, request_id.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 2, "all one worker holds: {actions:?}");
    let (slot, _) = asked[0];
    assert!(asked.iter().all(|(s, _)| *s == slot));
    let now = h.t0;
    for (_, id) in &asked {
        h.step(|pool| pool.task_withdrawn(slot, id, now))
            .expect("handed back");
    }
    // The freed worker's next task is the newcomer's.
    let actions = h.actions();
    let next: Vec<(SlotId, String)> = Harness::dispatches(&actions);
    assert_eq!(
        next.first(),
        Some(&(slot, "small".to_string())),
        "{actions:?}"
    );
    let _ = slots;
}

#[test]
fn each_client_sees_what_of_its_is_queued_held_and_running() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 1,
        prefetch: 1,
        ..config()
    });
    for n in 0..4 {
        submit(&mut h, 1, &format!("a{n}"), None);
    }
    submit(&mut h, 2, "b", None);
    h.bring_up_pending("h");
    h.actions();
    let mut counts: Vec<(ClientId, ClientCounts)> = h.pool().client_counts().collect();
    counts.sort_by_key(|(client, _)| *client);
    assert_eq!(
        counts,
        [
            (
                1,
                ClientCounts {
                    queued: 3,
                    held: 0,
                    running: 1
                }
            ),
            (
                2,
                ClientCounts {
                    queued: 0,
                    held: 1,
                    running: 0
                }
            ),
        ]
    );
}
