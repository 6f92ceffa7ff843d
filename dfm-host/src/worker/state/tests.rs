use std::sync::Arc;
use std::time::Duration;

use dfm_wire::{FromWorker, TaskResult, TaskSpec, ToWorker};

use super::{Effect, Ending, Input, WorkerState};

fn task(id: &str) -> Arc<TaskSpec> {
    Arc::new(TaskSpec {
        request_id: id.into(),
        name: format!("t.{id}"),
        shell: "sh".into(),
        body: "true".into(),
        rundir: "/tmp".into(),
        ..TaskSpec::default()
    })
}

fn worker(depth: usize) -> WorkerState {
    WorkerState::new("w1", depth, Duration::from_secs(25))
}

fn execute(id: &str) -> Input {
    Input::Daemon(ToWorker::Execute(task(id)))
}

fn ended(id: &str, status: i32) -> Input {
    Input::Ended(Ending {
        result: TaskResult::new(id, status),
        by_stop_signal: false,
    })
}

fn stopped(id: &str, status: i32) -> Input {
    Input::Ended(Ending {
        result: TaskResult::new(id, status),
        by_stop_signal: true,
    })
}

/// Handles `input`, then takes the effects until there are none, each
/// start succeeding.
fn step(state: &mut WorkerState, input: Input) -> Vec<Effect> {
    step_starting(state, input, |_| Ok(()))
}

/// As [`step`], with `start` deciding whether each task starts.
fn step_starting(
    state: &mut WorkerState,
    input: Input,
    start: impl Fn(&str) -> Result<(), String>,
) -> Vec<Effect> {
    state.handle(input);
    let mut effects = Vec::new();
    while let Some(effect) = state.next() {
        if let Effect::Start(spec) = &effect {
            state.handle(match start(&spec.request_id) {
                Ok(()) => Input::Started,
                Err(why) => Input::StartFailed(why),
            });
        }
        effects.push(effect);
    }
    effects
}

fn start(id: &str) -> Effect {
    Effect::Start(task(id))
}

/// The results (request id, status) a `Send` carries.
fn results(effect: &Effect) -> Vec<(String, i32)> {
    let Effect::Send(messages) = effect else {
        panic!("not a send: {effect:?}");
    };
    messages
        .iter()
        .filter_map(|m| match m {
            FromWorker::Result(r) => Some((r.request_id.clone(), r.status)),
            _ => None,
        })
        .collect()
}

fn sent_results(ids: &[(&str, i32)]) -> Effect {
    Effect::Send(
        ids.iter()
            .map(|(id, status)| FromWorker::Result(TaskResult::new(id, *status)))
            .collect(),
    )
}

/// A worker running `a`, holding `held` ahead.
fn busy_with(depth: usize, held: &[&str]) -> WorkerState {
    let mut state = worker(depth);
    step(&mut state, execute("a"));
    for id in held {
        assert_eq!(step(&mut state, execute(id)), vec![], "{id} is held");
    }
    state
}

#[test]
fn an_idle_worker_starts_a_task_at_once_and_reports_it_when_it_ends() {
    let mut state = worker(4);
    assert_eq!(
        step(&mut state, execute("a")),
        vec![start("a"), Effect::Undisturbed]
    );
    assert_eq!(state.running(), Some("a"));
    assert_eq!(
        step(&mut state, ended("a", 3)),
        vec![sent_results(&[("a", 3)]), Effect::Linger]
    );
    assert_eq!(state.running(), None);
}

#[test]
fn a_held_task_starts_before_the_result_of_the_one_before_goes_out() {
    let mut state = busy_with(4, &["b"]);
    assert_eq!(
        step(&mut state, ended("a", 0)),
        vec![start("b"), sent_results(&[("a", 0)]), Effect::Undisturbed]
    );
}

#[test]
fn held_tasks_start_in_the_order_they_came() {
    let mut state = busy_with(4, &["b", "c", "d"]);
    assert_eq!(state.held().collect::<Vec<_>>(), ["b", "c", "d"]);
    let mut order = Vec::new();
    let mut effects = step(&mut state, ended("a", 0));
    while let Some(running) = state.running().map(str::to_string) {
        order.push(running.clone());
        effects.extend(step(&mut state, ended(&running, 0)));
    }
    assert_eq!(order, ["b", "c", "d"]);
    let reported: Vec<String> = effects
        .iter()
        .filter(|e| matches!(e, Effect::Send(_)))
        .flat_map(|e| results(e).into_iter().map(|(id, _)| id))
        .collect();
    assert_eq!(reported, ["a", "b", "c", "d"], "each once, in order");
}

#[test]
fn a_result_waits_for_the_next_while_as_many_tasks_are_held_and_both_go_out_together() {
    let mut state = busy_with(4, &["b", "c"]);
    // One result, one task still held after b starts: a waits for b.
    assert_eq!(
        step(&mut state, ended("a", 0)),
        vec![start("b"), Effect::Defer]
    );
    // b ends in time: c starts, and two results for nothing held go out.
    assert_eq!(
        step(&mut state, ended("b", 1)),
        vec![
            start("c"),
            sent_results(&[("a", 0), ("b", 1)]),
            Effect::Undisturbed
        ]
    );
}

#[test]
fn a_result_that_waited_goes_out_when_the_next_task_does_not_end_in_time() {
    let mut state = busy_with(4, &["b", "c"]);
    assert_eq!(
        step(&mut state, ended("a", 0)),
        vec![start("b"), Effect::Defer]
    );
    assert_eq!(
        step(&mut state, Input::StillRunning),
        vec![sent_results(&[("a", 0)])]
    );
    assert_eq!(state.running(), Some("b"));
}

#[test]
fn results_go_out_at_once_when_fewer_tasks_are_held_than_results() {
    let mut state = busy_with(4, &["b"]);
    // After b starts nothing is held: the daemon must hear of a now, to
    // send more while b runs.
    let effects = step(&mut state, ended("a", 0));
    assert!(!effects.contains(&Effect::Defer), "{effects:?}");
    assert_eq!(results(&effects[1]), [("a".to_string(), 0)]);
}

#[test]
fn a_task_beyond_what_the_worker_holds_is_refused() {
    let mut state = busy_with(2, &["b", "c"]);
    let effects = step(&mut state, execute("d"));
    let [Effect::Send(messages)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    let [FromWorker::Result(refused)] = messages.as_slice() else {
        panic!("{messages:?}");
    };
    assert_eq!((refused.request_id.as_str(), refused.status), ("d", 1));
    assert!(refused.markers[0].msg.contains("busy"), "{refused:?}");
    assert_eq!(state.held().collect::<Vec<_>>(), ["b", "c"]);
}

#[test]
fn a_withdrawn_task_is_handed_back_and_the_others_keep_their_order() {
    let mut state = busy_with(4, &["b", "c", "d"]);
    let withdraw = Input::Daemon(ToWorker::Withdraw {
        request_id: "c".into(),
    });
    assert_eq!(
        step(&mut state, withdraw),
        vec![Effect::Send(vec![FromWorker::Withdrawn {
            request_id: "c".into()
        }])]
    );
    assert_eq!(state.held().collect::<Vec<_>>(), ["b", "d"]);
}

#[test]
fn withdrawing_a_running_or_unknown_task_changes_nothing() {
    let mut state = busy_with(4, &["b"]);
    for id in ["a", "zz"] {
        let withdraw = Input::Daemon(ToWorker::Withdraw {
            request_id: id.into(),
        });
        assert_eq!(step(&mut state, withdraw), vec![], "{id}");
    }
    assert_eq!(state.running(), Some("a"));
    assert_eq!(state.held().collect::<Vec<_>>(), ["b"]);
}

#[test]
fn a_cancelled_running_task_is_killed_and_its_end_reported_once() {
    let mut state = busy_with(4, &[]);
    let cancel = Input::Daemon(ToWorker::Cancel {
        request_id: "a".into(),
    });
    assert_eq!(step(&mut state, cancel), vec![Effect::Kill]);
    // SIGKILL is a stop signal, but the daemon asked for it: no waiting
    // for one of the worker's own.
    assert_eq!(
        step(&mut state, stopped("a", 137)),
        vec![sent_results(&[("a", 137)]), Effect::Linger]
    );
    assert_eq!(step(&mut state, Input::StillRunning), vec![]);
}

#[test]
fn a_cancelled_held_task_is_handed_back_and_never_starts() {
    let mut state = busy_with(4, &["b"]);
    let cancel = Input::Daemon(ToWorker::Cancel {
        request_id: "b".into(),
    });
    assert_eq!(
        step(&mut state, cancel),
        vec![Effect::Send(vec![FromWorker::Withdrawn {
            request_id: "b".into()
        }])]
    );
    assert_eq!(
        step(&mut state, ended("a", 0)),
        vec![sent_results(&[("a", 0)]), Effect::Linger]
    );
}

#[test]
fn a_forged_frame_is_told_to_the_daemon_before_the_worker_drops_the_connection() {
    let mut state = busy_with(4, &["b"]);
    let what = "a sealed frame failed authentication".to_string();
    assert_eq!(
        step(&mut state, Input::Forged(what.clone())),
        vec![
            Effect::Send(vec![FromWorker::Attacked { what: what.clone() }]),
            Effect::Exit(format!("dropped the connection to the daemon: {what}")),
        ]
    );
    assert_eq!(step(&mut state, ended("a", 0)), vec![]);
    assert!(state.daemon_lost());
}

#[test]
fn a_worker_that_loses_its_daemon_while_busy_exits_and_starts_nothing_more() {
    let mut state = busy_with(4, &["b"]);
    let gone = Input::DaemonGone("lost the connection to the daemon".into());
    assert_eq!(
        step(&mut state, gone),
        vec![Effect::Exit("lost the connection to the daemon".into())]
    );
    // Whatever comes after: nothing follows an exit.
    assert_eq!(step(&mut state, ended("a", 0)), vec![]);
    // It may wait for a daemon to replace this one.
    assert!(state.daemon_lost());
}

#[test]
fn a_daemon_silent_for_too_long_counts_as_gone() {
    let mut state = busy_with(4, &[]);
    let beat = Input::HeartbeatDue {
        silent: Duration::from_secs(10),
    };
    assert_eq!(
        step(&mut state, beat),
        vec![Effect::Send(vec![FromWorker::Heartbeat {
            worker_id: "w1".into()
        }])]
    );
    let silence = Input::HeartbeatDue {
        silent: Duration::from_secs(30),
    };
    assert_eq!(
        step(&mut state, silence),
        vec![Effect::Exit("no word from the daemon for 30.0s".into())]
    );
    assert!(state.daemon_lost());
}

#[test]
fn a_stop_signal_ends_the_worker_and_its_task() {
    let mut state = busy_with(4, &["b"]);
    assert_eq!(
        step(&mut state, Input::Signal("SIGTERM")),
        vec![Effect::Exit("SIGTERM".into())]
    );
    assert!(!state.daemon_lost());
}

#[test]
fn the_daemon_can_tell_a_worker_to_shut_down() {
    let mut state = busy_with(4, &[]);
    let shutdown = Input::Daemon(ToWorker::Shutdown {});
    assert_eq!(
        step(&mut state, shutdown),
        vec![Effect::Exit("asked to shut down".into())]
    );
    // Told to go: it does not wait for another daemon.
    assert!(!state.daemon_lost());
    let gone = Input::DaemonGone("lost the connection to the daemon".into());
    state.handle(gone);
    assert!(!state.daemon_lost());
}

#[test]
fn a_task_killed_with_its_worker_is_not_reported() {
    let mut state = busy_with(4, &["b"]);
    // scancel signals every process of the job at once: the task's end
    // may come first.
    assert_eq!(
        step(&mut state, stopped("a", 143)),
        vec![Effect::ConfirmStop]
    );
    assert_eq!(
        step(&mut state, Input::Signal("SIGTERM")),
        vec![Effect::Exit(
            "SIGTERM (its task was signalled too; not reported)".into()
        )]
    );
}

#[test]
fn a_task_killed_by_a_stop_signal_alone_is_its_own_failure() {
    let mut state = busy_with(4, &["b"]);
    assert_eq!(
        step(&mut state, stopped("a", 143)),
        vec![Effect::ConfirmStop]
    );
    assert_eq!(
        step(&mut state, Input::NoStopSignal),
        vec![start("b"), sent_results(&[("a", 143)]), Effect::Undisturbed]
    );
}

#[test]
fn results_that_wait_go_out_before_a_stop_is_confirmed() {
    let mut state = busy_with(4, &["b", "c"]);
    assert_eq!(
        step(&mut state, ended("a", 0)),
        vec![start("b"), Effect::Defer]
    );
    assert_eq!(
        step(&mut state, stopped("b", 143)),
        vec![sent_results(&[("a", 0)]), Effect::ConfirmStop]
    );
}

#[test]
fn a_task_that_cannot_start_fails_and_the_next_one_held_starts() {
    let mut state = busy_with(4, &["b", "c"]);
    let effects = step_starting(&mut state, ended("a", 0), |id| match id {
        "b" => Err("cannot start 'sh' for task 't.b': no such file".into()),
        _ => Ok(()),
    });
    assert_eq!(&effects[..2], &[start("b"), start("c")]);
    let Effect::Send(messages) = &effects[2] else {
        panic!("{effects:?}");
    };
    let failed: Vec<(&str, i32)> = messages
        .iter()
        .filter_map(|m| match m {
            FromWorker::Result(r) => Some((r.request_id.as_str(), r.status)),
            _ => None,
        })
        .collect();
    assert_eq!(failed, [("a", 0), ("b", 1)]);
    assert_eq!(state.running(), Some("c"));
}

#[test]
fn daemon_heartbeats_and_handshake_messages_change_nothing() {
    let mut state = busy_with(4, &["b"]);
    for message in [
        ToWorker::Heartbeat {},
        ToWorker::Challenge { nonce: "n".into() },
    ] {
        assert_eq!(step(&mut state, Input::Daemon(message)), vec![]);
    }
    assert_eq!(state.running(), Some("a"));
}
