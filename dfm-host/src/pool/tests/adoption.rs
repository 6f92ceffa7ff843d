//! Workers adopted from a daemon that died: they register with no launch,
//! or their jobs are terminated after the reconnect grace.

use std::time::Duration;

use super::harness::{config, info, Harness};
use crate::pool::PoolConfig;

fn grace_config() -> PoolConfig {
    PoolConfig {
        reconnect_grace: Duration::from_secs(30),
        launch_timeout: Duration::from_secs(10),
        ..config()
    }
}

#[test]
fn an_adopted_worker_that_comes_back_takes_tasks_with_no_launch() {
    let mut h = Harness::new(grace_config());
    let t0 = h.t0;
    let slot = h.step(|pool| pool.adopt("old0001", "", t0));
    // Longer than the launch timeout, within the grace.
    let later = h.at(20.0);
    h.step(|pool| pool.tick(later));
    let actions = h.actions();
    assert!(!Harness::terminates(&actions, slot), "{actions:?}");
    let registered = h.step(|pool| pool.register("old0001", "", info("h"), later));
    assert_eq!(registered.ok(), Some(slot));
    h.submit(1, "a", "");
    let actions = h.actions();
    assert_eq!(Harness::launch_calls(&actions), 0, "{actions:?}");
    assert_eq!(Harness::dispatches(&actions), vec![(slot, "a".to_string())]);
}

#[test]
fn an_adopted_worker_that_does_not_come_back_within_the_grace_is_terminated() {
    let mut h = Harness::new(grace_config());
    let t0 = h.t0;
    let slot = h.step(|pool| pool.adopt("old0001", "big", t0));
    let after = h.at(31.0);
    h.step(|pool| pool.tick(after));
    assert!(Harness::terminates(&h.actions(), slot));
    let late = h.step(|pool| pool.register("old0001", "big", info("h"), after));
    assert!(late.is_err());
}

#[test]
fn adopted_workers_count_against_the_pool_size() {
    let mut h = Harness::new(PoolConfig {
        max_workers: 2,
        ..grace_config()
    });
    let t0 = h.t0;
    h.step(|pool| pool.adopt("old0001", "", t0));
    h.step(|pool| pool.adopt("old0002", "", t0));
    h.submit(1, "a", "");
    h.submit(1, "b", "");
    h.submit(1, "c", "");
    // Both slots are taken by workers on their way back: nothing to launch.
    assert_eq!(Harness::launch_calls(&h.actions()), 0);
}
