//! Faults: killed and stopped workers, a killed daemon, unwritable rundirs.
//! Nothing lost, nothing hung.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dfm_e2e::{describe, is_alive, needs, wait_for, Client, TestProject};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

fn kill(pid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

fn worker_pids(status: &Value, state: &str) -> Vec<u32> {
    status["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["state"] == state)
        .filter_map(|w| w["pid"].as_u64())
        .filter(|&pid| pid > 0)
        .map(|pid| pid as u32)
        .collect()
}

#[test]
fn killing_busy_workers_at_random_loses_no_task() {
    let project = TestProject::new("chaos");
    project.configure("runner:\n  pool: {max_task_attempts: 20}\n");
    project.start_daemon(&["--pool-size", "4"]);
    const CLIENTS: usize = 4;
    const TASKS: usize = 250;

    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (done, kills) = (done.clone(), kills.clone());
        let mut status_client = project.client();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let status = status_client.call("status.get", json!({}));
                let busy = worker_pids(&status["result"], "busy");
                if !busy.is_empty() {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    kill(busy[(n >> 33) as usize % busy.len()], libc::SIGKILL);
                    kills.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let runs: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let mut client = project.client();
            let tasks: Vec<Value> = (0..TASKS)
                .map(|i| {
                    project.task(
                        &format!("c{c}-{i}"),
                        &format!("sleep 0.01; exit {}", (c + i) % 5),
                    )
                })
                .collect();
            std::thread::spawn(move || {
                for task in tasks {
                    client.submit(task);
                }
                client.results(TASKS)
            })
        })
        .collect();
    let results: Vec<BTreeMap<String, Value>> = runs
        .into_iter()
        .map(|r| r.join().expect("client thread"))
        .collect();
    done.store(true, Ordering::Relaxed);
    killer.join().expect("killer thread");

    assert!(
        kills.load(Ordering::Relaxed) > 0,
        "no worker was killed: the test proved nothing"
    );
    for (c, replies) in results.iter().enumerate() {
        assert_eq!(replies.len(), TASKS, "client {c}: each task exactly once");
        for i in 0..TASKS {
            let reply = &replies[&format!("c{c}-{i}")];
            assert_eq!(
                reply["result"]["status"],
                json!((c + i) % 5),
                "c{c}-{i}: {reply}"
            );
        }
    }
    eprintln!(
        "{} busy workers killed during {} tasks",
        kills.load(Ordering::Relaxed),
        CLIENTS * TASKS
    );
    // The pool refills and works on.
    let mut client = project.client();
    client.submit(project.task("after", "true"));
    assert_eq!(client.recv()["result"]["status"], 0);
}

#[test]
fn a_stopped_worker_is_detected_and_its_task_runs_elsewhere() {
    let project = TestProject::new("sigstop");
    // SIGSTOP is the trigger; the timeout leaves a loaded machine's running
    // worker many heartbeats of margin (it is not what the test times).
    project.configure("runner:\n  pool: {heartbeat_interval: 0.2, heartbeat_timeout: 4.0}\n");
    project.start_daemon(&["--pool-size", "2"]);
    let marks = project.root.join("attempts");
    let mut client = project.client();
    client.submit(project.task(
        "frozen",
        &format!("echo $PPID >> {}; sleep 3; exit 5", marks.display()),
    ));
    let worker = wait_for(LONG, "the task to start", || {
        std::fs::read_to_string(&marks)
            .ok()?
            .lines()
            .next()?
            .parse::<u32>()
            .ok()
    });
    kill(worker, libc::SIGSTOP);
    let reply = client.recv();
    assert_eq!(reply["result"]["status"], 5, "{reply}");
    let attempts: Vec<String> = std::fs::read_to_string(&marks)
        .expect("attempts")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(attempts.len(), 2, "ran again elsewhere: {attempts:?}");
    assert_ne!(attempts[1], worker.to_string());
    // Resumed, the old worker does not come back.
    kill(worker, libc::SIGCONT);
    wait_for(LONG, "the stopped worker to be gone", || {
        (!is_alive(worker)).then_some(())
    });
    let status = project.status();
    assert!(
        !worker_pids(&status, "idle").contains(&worker)
            && !worker_pids(&status, "busy").contains(&worker)
    );
}

#[test]
fn workers_exit_by_themselves_when_the_daemon_is_killed() {
    let project = TestProject::new("daemonkill");
    project.configure(
        "runner:\n  pool: {heartbeat_interval: 0.2, heartbeat_timeout: 4.0, reconnect_grace: 1}\n",
    );
    let daemon = project.start_daemon(&["--pool-size", "2"]);
    let mut client = project.client();
    let pidfile = project.root.join("sleepers");
    for i in 0..2 {
        client.submit(project.task(
            &format!("long{i}"),
            &format!("sleep 300 & echo $! >> {}; wait", pidfile.display()),
        ));
    }
    let sleepers: Vec<u32> = wait_for(LONG, "two tasks to start", || {
        let pids: Vec<u32> = std::fs::read_to_string(&pidfile)
            .ok()?
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        (pids.len() == 2).then_some(pids)
    });
    let workers = worker_pids(&project.status(), "busy");
    assert_eq!(workers.len(), 2);

    kill(daemon, libc::SIGKILL);
    for pid in workers.iter().chain(&sleepers) {
        wait_for(LONG, "workers and their tasks to exit", || {
            (!is_alive(*pid)).then_some(())
        });
    }
    let output = project.dfm(&["daemon", "start"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("removed stale"));
}

#[test]
fn an_unwritable_rundir_fails_the_task_not_the_worker() {
    let project = TestProject::new("norundir");
    project.start_daemon(&["--pool-size", "1"]);
    let mut client = project.client();
    let mut task = project.task("nodir", "true");
    task["rundir"] = json!("/dev/null/rundir");
    client.submit(task);
    let reply = client.recv();
    assert_eq!(reply["result"]["status"], 1, "{reply}");
    let marker = reply["result"]["markers"][0]["msg"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        marker.contains("cannot create rundir /dev/null/rundir"),
        "{reply}"
    );

    // The same worker goes on.
    client.submit(project.task("fine", "true"));
    assert_eq!(client.recv()["result"]["status"], 0);
    assert_eq!(project.status()["counts"]["total"], 1);
}

#[ignore = "needs root: mounts a tmpfs (scripts/test-all.sh runs as root)"]
#[test]
fn a_full_disk_fails_the_task_not_the_worker() {
    needs::root("mounts a 64 KiB tmpfs to fill");
    let project = TestProject::new("diskfull");
    project.start_daemon(&["--pool-size", "1"]);
    let mut client = project.client();

    // A tiny filesystem that fills up.
    let full = project.root.join("full");
    std::fs::create_dir_all(&full).expect("mount point");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&full)
        .status()
        .is_ok_and(|s| s.success());
    assert!(mounted, "cannot mount a tmpfs on {}", full.display());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(full.clone());
    std::fs::write(full.join("filler"), vec![0u8; 64 * 1024]).ok();
    let mut task = project.task("full", "echo hello");
    task["rundir"] = json!(full.join("rundir"));
    client.submit(task);
    let reply = client.recv();
    assert_eq!(reply["result"]["status"], 1, "{reply}");
    let marker = reply["result"]["markers"][0]["msg"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(marker.contains("No space left on device"), "{reply}");

    // The same worker goes on.
    client.submit(project.task("fine", "true"));
    assert_eq!(client.recv()["result"]["status"], 0);
    assert_eq!(project.status()["counts"]["total"], 1);
}

#[test]
fn the_secret_stays_out_of_logs() {
    let project = TestProject::new("secretlogs");
    project.start_daemon(&["--pool-size", "1"]);
    let secret = project.daemon_state()["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let mut client: Client = project.client();
    client.submit(project.task("t", "env; echo done"));
    assert_eq!(client.recv()["result"]["status"], 0);
    let stop = project.dfm(&["daemon", "stop"]);
    assert!(stop.status.success());
    let mut logs = vec![
        project.dfm_dir().join("daemon.log"),
        project.root.join("rundir/t/test.t.log"),
    ];
    for entry in std::fs::read_dir(project.dfm_dir().join("workers"))
        .expect("workers dir")
        .flatten()
    {
        logs.push(entry.path());
    }
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            !text.contains(&secret),
            "the secret is in {}",
            log.display()
        );
    }
}
