//! The daemon under races, crashes, restarts and freezes, on the local
//! runner (`support/crash.rs` has the checks; `lsf.rs` and `slurm.rs` run
//! them on batch jobs too).

use std::time::Duration;

use dfm_e2e::crash::{self, Local};
use dfm_e2e::{describe, processes_matching, wait_for, TestProject};

#[test]
fn eight_concurrent_starts_make_one_daemon_and_all_succeed() {
    let project = TestProject::new("race");
    let starts: Vec<_> = (0..8)
        .map(|_| {
            project
                .command(&["daemon", "start"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn dfm daemon start")
        })
        .collect();
    let outputs: Vec<_> = starts
        .into_iter()
        .map(|c| c.wait_with_output().expect("start ends"))
        .collect();
    let mut started = 0;
    for output in &outputs {
        assert!(output.status.success(), "{}", describe(output));
        let said = String::from_utf8_lossy(&output.stdout);
        if said.contains("dfm daemon started") {
            started += 1;
        } else {
            assert!(said.contains("already running"), "{}", describe(output));
        }
        assert!(output.stderr.is_empty(), "{}", describe(output));
    }
    assert_eq!(started, 1, "exactly one start started the daemon");
    let root = project.root.display().to_string();
    let daemons: Vec<_> = processes_matching("--foreground")
        .into_iter()
        .filter(|(_, cmd)| cmd.contains(&root))
        .collect();
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    assert_eq!(daemons[0].0, crash::daemon_pid(&project));
}

#[test]
fn a_daemon_killed_mid_run_is_replaced_and_its_workers_adopted() {
    crash::killed_daemon_is_replaced_without_a_launch(&Local, &TestProject::new("crash-adopt"));
}

#[test]
fn a_run_whose_daemon_is_killed_finishes_on_an_ephemeral_pool() {
    crash::killed_daemon_run_finishes_on_an_ephemeral_pool(
        &Local,
        &TestProject::new("crash-ephemeral"),
    );
}

#[test]
fn restart_under_load_loses_nothing() {
    crash::restart_under_load_loses_nothing(&Local, &TestProject::new("restart"));
}

#[test]
fn a_frozen_daemon_hangs_no_command_and_stop_ends_it_and_its_workers() {
    crash::a_frozen_daemon_hangs_no_command(&Local, &TestProject::new("frozen"));
}

#[test]
fn a_truncated_journal_is_set_aside_and_the_daemon_starts_fresh() {
    let project = TestProject::new("badjournal");
    project.configure("runner:\n  pool: {poll_interval: 0.2}\n");
    let journal = project.dfm_dir().join("journal.json");
    std::fs::write(&journal, "{\"version\": 1, \"project\": \"").expect("write");
    project.start_daemon(&["--pool-size", "1"]);
    let log = std::fs::read_to_string(project.dfm_dir().join("daemon.log")).expect("log");
    assert!(log.contains("not a journal this dfm writes"), "{log}");
    assert!(project.dfm_dir().join("journal.json.bad").is_file());
    let mut client = project.client();
    client.submit(project.task("t1", "true"));
    assert_eq!(client.recv()["result"]["status"], 0);
    // The fresh daemon keeps a journal of its own.
    wait_for(
        Duration::from_secs(30),
        "a journal naming the worker",
        || {
            let text = std::fs::read_to_string(&journal).ok()?;
            text.contains("worker_id").then_some(())
        },
    );
}

/// The soak's clients keep the daemon busy; it still answers status.
#[test]
fn a_busy_daemon_is_reported_as_responding() {
    let project = TestProject::new("busy");
    project.start_daemon(&["--pool-size", "2"]);
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let socket = project.socket();
            let task = project.task("x", "true");
            std::thread::spawn(move || {
                let mut client = dfm_e2e::Client::connect(&socket);
                for i in 0..500 {
                    let mut task = task.clone();
                    task["request_id"] = format!("c{c}-{i}").into();
                    client.submit(task);
                }
                client.results(500).len()
            })
        })
        .collect();
    for _ in 0..5 {
        let status = project.dfm(&["daemon", "status", "--json"]);
        assert_eq!(status.status.code(), Some(0), "{}", describe(&status));
        let json: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
        assert_eq!(json["responding"], true);
    }
    for client in clients {
        assert_eq!(client.join().expect("client"), 500);
    }
}
