//! A rogue peer on the network cannot register, receive a task or forge a
//! result. The rogue runs in a network namespace of the test's own, reaching
//! the daemon's worker port over a veth link (not loopback).

use dfm_e2e::{describe, TestProject};

use dfm_e2e::netns::{Netns, HOST_ADDR};

#[ignore = "needs root: a network namespace (scripts/test-all.sh runs as root)"]
#[test]
fn a_rogue_on_the_network_cannot_register_take_work_or_forge_results() {
    let project = TestProject::new("rogue");
    project.configure("runner:\n  worker_bind: 0.0.0.0\n");
    project.start_daemon(&["--pool-size", "1"]);
    let mut client = project.client();
    client.submit(project.task("before", "true"));
    assert_eq!(client.recv()["result"]["status"], 0);
    let state = project.daemon_state();
    let port = state["worker_port"].as_u64().expect("port").to_string();
    let worker_id = project.status()["workers"][0]["worker_id"]
        .as_str()
        .expect("worker id")
        .to_string();
    let netns = Netns::create();

    // Reachable from the rogue's network: it gets the challenge, no more.
    let forge = format!(
        "exec 3<>/dev/tcp/{HOST_ADDR}/{port}; read -r challenge <&3; echo \"$challenge\"; \
         echo '{{\"method\":\"task.result\",\"params\":{{\"request_id\":\"before\",\"status\":0}}}}' >&3; \
         echo '{{\"method\":\"worker.heartbeat\",\"params\":{{\"worker_id\":\"{worker_id}\"}}}}' >&3; \
         cat <&3; echo closed"
    );
    let output = netns.run("bash", &["-c", &forge], &[]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        out.contains("auth.challenge"),
        "the port is not reachable from the rogue: {}",
        describe(&output)
    );
    assert!(out.trim_end().ends_with("closed"), "{}", describe(&output));
    assert!(
        !out.contains("task.execute") && !out.contains("worker.registered"),
        "{out}"
    );

    // A real dfm worker with a guessed secret and a real worker id is refused.
    let dfm = dfm_e2e::dfm_path();
    let output = netns.run(
        dfm.to_str().expect("utf-8 path"),
        &["worker", "--connect", &format!("{HOST_ADDR}:{port}")],
        &[
            ("DFM_WORKER_TOKEN", "guessed"),
            ("DFM_WORKER_ID", &worker_id),
        ],
    );
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("the daemon refused this worker: authentication failed"),
        "{}",
        describe(&output)
    );

    // Nothing changed: one worker, and tasks still run on it.
    let status = project.status();
    assert_eq!(status["counts"]["total"], 1, "{status}");
    assert_eq!(status["workers"][0]["worker_id"], worker_id.as_str());
    client.submit(project.task("after", "true"));
    assert_eq!(client.recv()["result"]["status"], 0);
    assert_eq!(project.status()["completed_tasks"], 2);
}
