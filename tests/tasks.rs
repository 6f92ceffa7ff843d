//! Tasks through a real daemon, real local workers and real shells.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use dfm_e2e::{bin_dir, is_alive, processes_matching, wait_for, TestProject};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

fn read_pid(path: &std::path::Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn kill(pid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

#[test]
fn a_task_runs_in_its_rundir_with_its_environment_and_log() {
    let project = TestProject::new("env");
    project.start_daemon(&["--pool-size", "1"]);
    let mut client = project.client();
    let mut task = project.task(
        "envtask",
        "echo out; echo err >&2; echo \"$TASK_RUNDIR|$TASK_SRCDIR|$DFM_TASK_NAME|$MY_VAR|$PWD\"; exit 3",
    );
    task["env"] = json!({"MY_VAR": "hello"});
    client.submit(task);
    let reply = client.recv();
    assert_eq!(reply["id"], "envtask");
    assert_eq!(reply["result"]["request_id"], "envtask");
    assert_eq!(reply["result"]["status"], 3, "{reply}");
    let rundir = project.root.join("rundir/envtask");
    let log = std::fs::read_to_string(rundir.join("test.envtask.log")).expect("task log");
    let expected = format!(
        "{0}|{1}|test.envtask|hello|{0}",
        rundir.display(),
        project.root.display()
    );
    assert!(log.contains("out\n") && log.contains("err\n"), "{log}");
    assert!(log.contains(&expected), "{log}\nexpected {expected}");
    let files: Vec<_> = std::fs::read_dir(&rundir)
        .expect("rundir")
        .flatten()
        .collect();
    assert_eq!(files.len(), 1, "only the log is written per task");

    // `sh` works too.
    let mut task = project.task("shtask", "echo $0 > which");
    task["shell"] = json!("sh");
    client.submit(task);
    assert_eq!(client.recv()["result"]["status"], 0);
}

#[test]
fn the_shell_is_looked_up_in_the_task_s_path() {
    let project = TestProject::new("shellpath");
    project.start_daemon(&["--pool-size", "1"]);
    let mut client = project.client();
    let bin1 = project.root.join("bin1");
    let bin2 = project.root.join("bin2");
    for dir in [&bin1, &bin2] {
        std::fs::create_dir_all(dir).expect("bin dir");
        let shell = dir.join("ksh");
        // A stand-in `ksh` (one of the shells dfm accepts); run as a
        // script, it sees its own path as $0.
        std::fs::write(&shell, "#!/bin/sh\necho \"ran $0\"\n").expect("shell");
        let mut permissions = std::fs::metadata(&shell).expect("shell").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&shell, permissions).expect("chmod");
    }
    let path = |dirs: &[&std::path::Path]| {
        let mut dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        dirs.extend(["/usr/bin".to_string(), "/bin".to_string()]);
        dirs.join(":")
    };
    let mut run = |id: &str, path: &str| {
        let mut task = project.task(id, "ignored");
        task["shell"] = json!("ksh");
        task["env"] = json!({ "PATH": path });
        client.submit(task);
        let reply = client.recv();
        let log = std::fs::read_to_string(project.root.join(format!("rundir/{id}/test.{id}.log")))
            .unwrap_or_default();
        (reply, log)
    };
    let both = path(&[&bin1, &bin2]);
    let (reply, log) = run("first", &both);
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    assert_eq!(log, format!("ran {}/ksh\n", bin1.display()));
    let (_, log) = run("second", &path(&[&bin2, &bin1]));
    assert_eq!(
        log,
        format!("ran {}/ksh\n", bin2.display()),
        "each PATH its own shell"
    );

    // The shell found first goes away: the same PATH now finds the other.
    std::fs::remove_file(bin1.join("ksh")).expect("remove");
    let (reply, log) = run("third", &both);
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    assert_eq!(log, format!("ran {}/ksh\n", bin2.display()));
    // No shell on the PATH at all: an error that names it.
    let (reply, _) = run("fourth", &bin1.display().to_string());
    assert_ne!(reply["result"]["status"], 0, "{reply}");
    assert!(reply.to_string().contains("cannot start 'ksh'"), "{reply}");
    // A relative entry first: it is relative to the task's rundir.
    let rundir = project.root.join("rundir/fifth");
    std::fs::create_dir_all(&rundir).expect("rundir");
    std::fs::copy(bin2.join("ksh"), rundir.join("ksh")).expect("local shell");
    let (reply, log) = run("fifth", &format!(".:{}", bin2.display()));
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    assert_eq!(log, "ran ./ksh\n");
}

#[test]
fn two_clients_share_a_pool_of_two_and_each_gets_only_its_results() {
    let project = TestProject::new("share");
    project.start_daemon(&["--pool-size", "2"]);
    let mut clients = [project.client(), project.client()];
    for (c, client) in clients.iter_mut().enumerate() {
        for i in 0..10 {
            let id = format!("c{c}-{i}");
            // Exit codes carry the client and task, to check routing.
            let body = format!(
                "echo $$ >> {}/pids; sleep 0.05; exit {}",
                project.root.display(),
                c * 10 + i
            );
            client.submit(project.task(&id, &body));
        }
    }
    let mut seen_workers = BTreeSet::new();
    for (c, client) in clients.iter_mut().enumerate() {
        let results = client.results(10);
        for i in 0..10 {
            let id = format!("c{c}-{i}");
            let reply = &results[&id];
            assert_eq!(reply["result"]["status"], json!(c * 10 + i), "{reply}");
        }
        let status = project.status();
        assert!(
            status["counts"]["total"].as_u64().expect("total") <= 2,
            "{status}"
        );
        for worker in status["workers"].as_array().expect("workers") {
            seen_workers.insert(worker["worker_id"].as_str().expect("id").to_string());
        }
    }
    assert!(seen_workers.len() <= 2, "{seen_workers:?}");
    let status = project.status();
    // Only c0-0 exits 0.
    assert_eq!(
        (
            status["completed_tasks"].clone(),
            status["failed_tasks"].clone()
        ),
        (json!(1), json!(19))
    );
}

/// The pid of the worker running a task, from the daemon's status.
fn busy_worker_pid(project: &TestProject) -> Option<u32> {
    let status = project.status();
    status["workers"]
        .as_array()?
        .iter()
        .find(|w| w["state"] == "busy")
        .and_then(|w| w["pid"].as_u64())
        .map(|pid| pid as u32)
}

#[test]
fn a_task_whose_worker_is_killed_runs_again_and_completes() {
    let project = TestProject::new("killworker");
    project.start_daemon(&["--pool-size", "2"]);
    let mut client = project.client();
    let marks = project.root.join("attempts");
    // The first attempt waits to be killed; the second finishes.
    let body = format!(
        "echo $$ >> {0}; if [ $(wc -l < {0}) -eq 1 ]; then sleep 300; fi; exit 7",
        marks.display()
    );
    client.submit(project.task("survivor", &body));
    let first_task_pid = wait_for(LONG, "the first attempt to start", || read_pid(&marks));
    let worker = wait_for(LONG, "a busy worker", || busy_worker_pid(&project));
    kill(worker, libc::SIGKILL);

    let reply = client.recv();
    assert_eq!(reply["result"]["status"], 7, "{reply}");
    let attempts = std::fs::read_to_string(&marks).expect("attempts");
    assert_eq!(attempts.lines().count(), 2, "{attempts}");
    // The killed worker's orphaned task does not live on.
    wait_for(LONG, "the first attempt's process to be killed", || {
        (!is_alive(first_task_pid)).then_some(())
    });
}

#[test]
fn a_killed_client_has_its_task_processes_killed() {
    let project = TestProject::new("killclient");
    project.start_daemon(&["--pool-size", "1"]);
    let pidfile = project.root.join("task.pid");
    let task = project.task(
        "orphan",
        &format!("sleep 300 & echo $! > {}; wait", pidfile.display()),
    );
    let mut client = Command::new(bin_dir().join("dfm-test-client"))
        .arg(project.socket())
        .arg(task.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the test client");
    let mut line = String::new();
    BufReader::new(client.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("client output");
    assert_eq!(line.trim(), "submitted");
    let sleeper = wait_for(LONG, "the task to start", || read_pid(&pidfile));
    assert!(is_alive(sleeper));
    client.kill().expect("kill the client");
    client.wait().expect("reap the client");
    wait_for(LONG, "the task's processes to be killed", || {
        (!is_alive(sleeper)).then_some(())
    });
    // The worker survives and takes new work.
    let mut other = project.client();
    other.submit(project.task("after", "true"));
    assert_eq!(other.recv()["result"]["status"], 0);
}

#[test]
fn cancel_kills_a_running_task_and_gives_it_a_final_reply() {
    let project = TestProject::new("cancel");
    project.start_daemon(&["--pool-size", "1"]);
    let mut client = project.client();
    let pidfile = project.root.join("task.pid");
    client.submit(project.task(
        "long",
        &format!("echo $$ > {}; sleep 300", pidfile.display()),
    ));
    client.submit(project.task("queued", "true"));
    let pid = wait_for(LONG, "the task to start", || read_pid(&pidfile));

    client.send(
        "task.cancel",
        "cancel-queued",
        json!({"request_id": "queued"}),
    );
    client.send("task.cancel", "cancel-long", json!({"request_id": "long"}));
    let replies = client.results(4);
    assert!(replies["queued"]["error"]
        .as_str()
        .expect("error")
        .contains("cancelled"));
    assert!(replies["long"]["error"]
        .as_str()
        .expect("error")
        .contains("cancelled"));
    assert_eq!(replies["cancel-queued"]["result"], "cancelled");
    assert_eq!(replies["cancel-long"]["result"], "cancelled");
    wait_for(LONG, "the cancelled task to die", || {
        (!is_alive(pid)).then_some(())
    });

    let unknown = client.call("task.cancel", json!({"request_id": "nope"}));
    assert!(unknown["error"].as_str().expect("error").contains("nope"));
    // The worker is free again.
    client.submit(project.task("next", "true"));
    assert_eq!(client.recv()["result"]["status"], 0);
}

#[test]
fn every_request_gets_a_reply_and_bad_ones_an_error() {
    let project = TestProject::new("protocol");
    project.start_daemon(&["--pool-size", "1"]);
    let mut client = project.client();
    assert_eq!(client.call("ping", json!({}))["result"], "pong");

    client.send_raw(b"this is not json\n");
    assert!(client.recv()["error"]
        .as_str()
        .expect("error")
        .starts_with("Invalid JSON"));
    client.send_raw(b"[1, 2]\n");
    assert!(client.recv()["error"]
        .as_str()
        .expect("error")
        .contains("not a JSON object"));
    client.send_raw(b"\xff\xfe\n");
    assert!(client.recv()["error"]
        .as_str()
        .expect("error")
        .starts_with("Invalid JSON"));
    let unknown = client.call("no.such", json!({}));
    assert_eq!(unknown["error"], "Unknown method: no.such");
    let missing = client.call("task.submit", json!({"name": "x"}));
    assert!(
        missing["error"]
            .as_str()
            .expect("error")
            .contains("request_id"),
        "{missing}"
    );

    // A duplicate in-flight request_id is refused; the first still runs.
    let pidfile = project.root.join("dup.pid");
    client.submit(project.task("dup", &format!("echo $$ > {}; sleep 1", pidfile.display())));
    client.submit(project.task("dup", "true"));
    let refused = client.recv();
    assert_eq!(refused["id"], "dup");
    assert!(
        refused["error"]
            .as_str()
            .expect("error")
            .contains("duplicate"),
        "{refused}"
    );
    let done = client.recv();
    assert_eq!(done["result"]["status"], 0, "{done}");

    let status = client.call("status.get", json!({}));
    assert_eq!(status["result"]["runner"], "local");
    assert!(status["result"]["workers"].is_array());
    assert_eq!(
        client.call("monitor.subscribe", json!({}))["result"],
        "subscribed"
    );
    client.submit(project.task("watched", "true"));
    let mut methods = Vec::new();
    loop {
        let line: Value = client.recv();
        if line["id"] == "watched" {
            assert_eq!(line["result"]["status"], 0);
            break;
        }
        methods.push(line["method"].as_str().unwrap_or_default().to_string());
    }
    assert!(
        methods.contains(&"task.dispatched".to_string()),
        "{methods:?}"
    );
    assert!(
        methods.contains(&"task.completed".to_string()),
        "{methods:?}"
    );
}

#[test]
fn stop_with_tasks_running_and_queued_replies_to_all_and_leaves_no_process() {
    let project = TestProject::new("stopbusy");
    let daemon = project.start_daemon(&["--pool-size", "2"]);
    let port = project.daemon_state()["worker_port"]
        .as_u64()
        .expect("port");
    let mut client = project.client();
    for i in 0..4 {
        let pidfile = project.root.join(format!("t{i}.pid"));
        client.submit(project.task(
            &format!("t{i}"),
            &format!("echo $$ > {}; sleep 300", pidfile.display()),
        ));
    }
    let running: Vec<u32> = (0..2)
        .map(|_| {
            wait_for(LONG, "two tasks to start", || {
                let pids: Vec<u32> = (0..4)
                    .filter_map(|i| read_pid(&project.root.join(format!("t{i}.pid"))))
                    .collect();
                (pids.len() == 2).then_some(pids)
            })
        })
        .next()
        .expect("pids");
    let workers = processes_matching(&format!("--connect 127.0.0.1:{port}"));
    assert_eq!(workers.len(), 2, "{workers:?}");

    let stop = project.dfm(&["daemon", "stop"]);
    assert!(stop.status.success(), "{}", dfm_e2e::describe(&stop));
    let replies = client.results(4);
    for (id, reply) in &replies {
        let error = reply["error"].as_str().unwrap_or_default();
        assert!(error.contains("shutting down"), "{id}: {reply}");
    }
    assert!(!is_alive(daemon));
    for (pid, cmd) in workers {
        assert!(!is_alive(pid), "worker {pid} ({cmd}) survived the stop");
    }
    for pid in running {
        assert!(!is_alive(pid), "task process {pid} survived the stop");
    }
}

fn worker_logs(project: &TestProject) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(project.dfm_dir().join("workers"))
        .expect("workers log folder")
        .flatten()
    {
        text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    text
}

#[test]
fn local_workers_use_the_worker_socket_and_fall_back_to_tcp_without_it() {
    use std::os::unix::fs::PermissionsExt;
    let project = TestProject::new("wsock");
    project.start_daemon(&["--pool-size", "2"]);
    let socket = project.dfm_dir().join("daemon.workers.sock");
    let mode = std::fs::metadata(&socket)
        .expect("the daemon opens a worker socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "worker socket mode {mode:o}");

    let mut client = project.client();
    client.submit(project.task(
        "first",
        "echo \"[$DFM_WORKER_SOCKET|$DFM_DAEMON_BOOT_ID|$DFM_WORKER_TOKEN]\"",
    ));
    assert_eq!(client.recv()["result"]["status"], 0);
    let log = std::fs::read_to_string(project.root.join("rundir/first/test.first.log"))
        .expect("task log");
    assert_eq!(
        log.trim(),
        "[||]",
        "the worker's private variables reach no task"
    );
    let registered = format!("registered with {}", socket.display());
    assert!(
        worker_logs(&project).contains(&registered),
        "a local worker connects on the socket:\n{}",
        worker_logs(&project)
    );

    // Without the socket, the next worker connects to the TCP port.
    std::fs::remove_file(&socket).expect("remove the worker socket");
    client.submit(project.task("busy", "sleep 2"));
    client.submit(project.task("second", "true"));
    let results = client.results(2);
    assert_eq!(results["busy"]["result"]["status"], 0);
    assert_eq!(results["second"]["result"]["status"], 0);
    let port = project.daemon_state()["worker_port"]
        .as_u64()
        .expect("worker_port");
    let tcp = format!(":{port}\n");
    let logs = worker_logs(&project);
    assert!(
        logs.contains("unusable")
            && logs
                .lines()
                .any(|l| l.contains("registered with") && format!("{l}\n").ends_with(&tcp)),
        "the second worker falls back to the TCP port {port}:\n{logs}"
    );
    assert_eq!(
        project.status()["workers"].as_array().map(Vec::len),
        Some(2)
    );
}
