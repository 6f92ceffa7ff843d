//! Tasks sent ahead to busy workers (the pool's prefetch), through a real
//! daemon and real local workers: taken back when another worker goes
//! idle, never holding back a result, never run once cancelled.

use std::time::Duration;

use dfm_e2e::{wait_for, TestProject};
use serde_json::{json, Value};

/// Reads lines until task `id` starts (`task.dispatched`, on a connection
/// subscribed to its own tasks); returns the worker it started on. Other
/// lines go to `seen`.
fn started_on(client: &mut dfm_e2e::Client, id: &str, seen: &mut Vec<Value>) -> String {
    loop {
        let line = client.recv();
        if line["method"] == "task.dispatched" && line["params"]["request_id"] == id {
            return line["params"]["worker_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        seen.push(line);
    }
}

/// Reads lines until the reply to `id`, from `seen` first.
fn reply_to(client: &mut dfm_e2e::Client, id: &str, seen: &mut Vec<Value>) -> Value {
    if let Some(at) = seen.iter().position(|line| line["id"] == id) {
        return seen.remove(at);
    }
    loop {
        let line = client.recv();
        if line["id"] == id {
            return line;
        }
        seen.push(line);
    }
}

/// A daemon with a pool of `pool_size`, and a client that hears when its
/// own tasks start.
fn watching_client(name: &str, pool_size: &str) -> (TestProject, dfm_e2e::Client) {
    let project = TestProject::new(name);
    project.start_daemon(&["--pool-size", pool_size]);
    let mut client = project.client();
    let subscribed = client.call("monitor.subscribe", json!({"scope": "own"}));
    assert_eq!(subscribed["result"], "subscribed");
    (project, client)
}

/// Which worker holds `task` ahead, as status.get says.
fn holder_of(project: &TestProject, task: &str) -> String {
    wait_for(
        Duration::from_secs(60),
        "a worker to hold the task ahead",
        || {
            let status = project.status();
            status["workers"].as_array()?.iter().find_map(|worker| {
                let ahead = worker["tasks_ahead"].as_array()?;
                ahead
                    .iter()
                    .any(|t| t == task)
                    .then(|| worker["worker_id"].as_str().unwrap_or_default().to_string())
            })
        },
    )
}

#[test]
fn a_task_sent_ahead_to_a_busy_worker_is_taken_back_when_another_worker_goes_idle() {
    let (project, mut client) = watching_client("prefetch", "2");
    let mut seen = Vec::new();
    client.submit(project.task("a", "sleep 60"));
    let a_worker = started_on(&mut client, "a", &mut seen);
    client.submit(project.task("b", "sleep 60"));
    let b_worker = started_on(&mut client, "b", &mut seen);
    assert_ne!(a_worker, b_worker);
    // Both busy: c is sent ahead to one of them.
    client.submit(project.task("c", "echo c"));
    let holder = holder_of(&project, "test.c");
    let (other, other_task) = if holder == a_worker {
        (b_worker, "b")
    } else {
        (a_worker, "a")
    };

    // The other worker's task ends: it is idle, nothing is queued, and c
    // waits behind a task of a minute. The daemon takes c back from its
    // holder and runs it on the idle worker at once.
    client.send(
        "task.cancel",
        "cancel-other",
        json!({"request_id": other_task}),
    );
    let c_worker = started_on(&mut client, "c", &mut seen);
    assert_eq!(
        c_worker, other,
        "c ran on the idle worker, not behind {holder}'s task"
    );
    let reply = reply_to(&mut client, "c", &mut seen);
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    let log = std::fs::read_to_string(project.root.join("rundir/c/test.c.log")).unwrap_or_default();
    assert_eq!(log, "c\n");

    let held_task = if other_task == "a" { "b" } else { "a" };
    client.send(
        "task.cancel",
        "cancel-held",
        json!({"request_id": held_task}),
    );
    let reply = reply_to(&mut client, held_task, &mut seen);
    assert_eq!(reply["error"], "cancelled", "{reply}");
}

#[test]
fn a_result_does_not_wait_for_a_long_task_that_started_after_it() {
    let (project, mut client) = watching_client("nohostage", "1");
    let mut seen = Vec::new();
    let file = |name: &str| project.root.join(name);
    let wait_for = |name: &str| {
        format!(
            "while [ ! -e {} ]; do sleep 0.02; done",
            file(name).display()
        )
    };
    client.submit(project.task("a", &wait_for("go-a")));
    started_on(&mut client, "a", &mut seen);
    // The only worker is busy: b and c go to it ahead. Once a ends, b
    // runs and c is still held, so the worker could keep a's result to
    // send with b's; but b runs until this test has a's reply.
    let b_done = file("b-done");
    client.submit(project.task(
        "b",
        &format!("{}; touch {}", wait_for("go-b"), b_done.display()),
    ));
    client.submit(project.task("c", "true"));
    let status = client.call("status.get", json!({}));
    assert!(status.get("result").is_some(), "{status}");
    std::fs::write(file("go-a"), "").expect("release a");
    // b cannot end before go-b exists: a's reply coming at all is the proof.
    let reply = reply_to(&mut client, "a", &mut seen);
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    std::fs::write(file("go-b"), "").expect("release b");
    for id in ["b", "c"] {
        let reply = reply_to(&mut client, id, &mut seen);
        assert_eq!(reply["result"]["status"], 0, "{id}: {reply}");
    }
    assert!(b_done.exists());
}

#[test]
fn a_task_held_ahead_and_cancelled_never_runs() {
    let (project, mut client) = watching_client("heldcancel", "1");
    let mut seen = Vec::new();
    client.submit(project.task("a", "sleep 60"));
    started_on(&mut client, "a", &mut seen);
    // The only worker is busy: b is sent to it ahead.
    let marker = project.root.join("b-ran");
    client.submit(project.task("b", &format!("touch {}", marker.display())));
    client.send("task.cancel", "cancel-b", json!({"request_id": "b"}));
    let reply = reply_to(&mut client, "b", &mut seen);
    assert_eq!(reply["error"], "cancelled", "{reply}");
    client.send("task.cancel", "cancel-a", json!({"request_id": "a"}));
    let reply = reply_to(&mut client, "a", &mut seen);
    assert_eq!(reply["error"], "cancelled", "{reply}");
    // The worker is free and in step with the daemon: the next task runs.
    client.submit(project.task("d", "true"));
    let reply = reply_to(&mut client, "d", &mut seen);
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    assert!(!marker.exists(), "the cancelled task ran");
    let status = project.status();
    assert_eq!(status["pending_tasks"], 0, "{status}");
    assert_eq!(status["running_tasks"], 0, "{status}");
}
