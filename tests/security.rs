//! A rogue peer on the network cannot register, receive a task or forge a
//! result. The rogue runs in a network namespace of the test's own, reaching
//! the daemon's worker port over a veth link (not loopback).

use std::process::{Command, Output};

use dfm_e2e::{describe, TestProject};

/// A namespace with a veth link to ours, removed on drop.
struct Netns {
    name: String,
}

const HOST_ADDR: &str = "169.254.213.1";
const ROGUE_ADDR: &str = "169.254.213.2";

fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().expect("run ip")
}

impl Netns {
    fn create() -> Netns {
        let id = std::process::id() % 100_000;
        let name = format!("dfmrogue{id}");
        let (host_if, rogue_if) = (format!("dfmh{id}"), format!("dfmr{id}"));
        let steps: Vec<Vec<String>> = vec![
            vec!["netns".into(), "add".into(), name.clone()],
            vec![
                "link".into(),
                "add".into(),
                host_if.clone(),
                "type".into(),
                "veth".into(),
                "peer".into(),
                "name".into(),
                rogue_if.clone(),
            ],
            vec![
                "link".into(),
                "set".into(),
                rogue_if.clone(),
                "netns".into(),
                name.clone(),
            ],
            vec![
                "addr".into(),
                "add".into(),
                format!("{HOST_ADDR}/30"),
                "dev".into(),
                host_if.clone(),
            ],
            vec!["link".into(), "set".into(), host_if.clone(), "up".into()],
            vec![
                "-n".into(),
                name.clone(),
                "addr".into(),
                "add".into(),
                format!("{ROGUE_ADDR}/30"),
                "dev".into(),
                rogue_if.clone(),
            ],
            vec![
                "-n".into(),
                name.clone(),
                "link".into(),
                "set".into(),
                rogue_if,
                "up".into(),
            ],
            vec![
                "-n".into(),
                name.clone(),
                "link".into(),
                "set".into(),
                "lo".into(),
                "up".into(),
            ],
        ];
        let netns = Netns { name };
        for step in steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            let output = ip(&args);
            assert!(
                output.status.success(),
                "cannot set up the rogue's network namespace (needs root and iproute2): ip {}: {}",
                args.join(" "),
                describe(&output)
            );
        }
        netns
    }

    /// Runs a command inside the namespace.
    fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("run in the namespace")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair too.
        let _ = ip(&["netns", "del", &self.name]);
    }
}

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
