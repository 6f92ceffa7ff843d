//! The monitor in a real terminal (tmux), against a daemon running tasks.
//!
//! Needs tmux: the tests are ignored unless asked for (`--include-ignored`);
//! asked for without tmux, they fail.

use std::process::Command;
use std::time::Duration;

use dfm_e2e::{dfm_path, is_alive, needs, wait_for, TestProject};
use serde_json::json;

const LONG: Duration = Duration::from_secs(60);

/// A tmux server of our own, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str) -> Tmux {
        needs::tmux();
        Tmux {
            socket: format!("dfm-e2e-{}-{name}", std::process::id()),
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs `command` in an 80×24 terminal; the pane stays after it exits.
    fn run(&self, project: &TestProject, command: &str) {
        let shell = format!(
            "cd '{}' && HOME='{}' {command}; echo '[exited]'; sleep 600",
            project.root.display(),
            project.root.display()
        );
        self.tmux(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "80",
            "-y",
            "24",
            &shell,
        ]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"])
    }

    fn wait_for_screen(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        wait_for(LONG, what, || {
            let screen = self.screen();
            check(&screen).then_some(screen)
        })
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "main", keys]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

#[ignore = "needs tmux: apt-get install tmux"]
#[test]
fn the_monitor_shows_running_and_finished_tasks_and_detaches_with_q() {
    let tmux = Tmux::start("attach");
    let project = TestProject::new("monitor");
    let pid = project.start_daemon(&["--pool-size", "2"]);
    let mut client = project.client();
    client.submit(project.task("quick", "true"));
    assert_eq!(client.recv()["result"]["status"], 0);
    for id in ["slow-a", "slow-b"] {
        client.submit(project.task(id, "sleep 120"));
    }
    client.submit(project.task("queued", "true"));

    tmux.run(
        &project,
        &format!("{} daemon --monitor", dfm_path().display()),
    );
    let screen = tmux.wait_for_screen("the running tasks on screen", |s| {
        s.contains("test.slow-a") && s.contains("test.slow-b") && s.contains("Tasks: 2 running")
    });
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines.len(), 24, "{screen}");
    assert!(lines[0].starts_with("Running tasks (2)"), "{screen}");
    assert!(
        !screen.contains("test.queued"),
        "a queued task shown as running:\n{screen}"
    );
    assert!(screen.contains("Recent Completions"), "{screen}");
    assert!(screen.contains("PASS  test.quick"), "{screen}");
    // The status bar: the last four lines.
    assert!(
        lines[20].contains(&format!("dfm daemon pid {pid}")),
        "{screen}"
    );
    assert!(
        lines[21].contains("Workers: 2 total, 2 busy, 0 idle, 0 pending"),
        "{screen}"
    );
    assert!(
        lines[22].contains("Tasks: 2 running, 1 completed, 0 failed, 1 queued"),
        "{screen}"
    );
    assert!(
        lines[23].contains("Runner: local   Pool size: 2"),
        "{screen}"
    );

    // Elapsed times tick without anything else happening.
    let first = screen
        .lines()
        .find(|l| l.contains("test.slow-a"))
        .unwrap_or_default()
        .to_string();
    tmux.wait_for_screen("the elapsed time to tick", |s| {
        s.lines().any(|l| l.contains("test.slow-a") && l != first)
    });

    tmux.keys("q");
    let screen = tmux.wait_for_screen("the monitor to detach", |s| s.contains("[exited]"));
    assert!(screen.contains("detached; the daemon"), "{screen}");
    assert!(
        is_alive(pid),
        "the daemon stopped when the monitor detached"
    );
    assert_eq!(project.status()["running_tasks"], 2);
}

#[ignore = "needs tmux: apt-get install tmux"]
#[test]
fn start_with_monitor_starts_the_daemon_and_a_vanishing_daemon_ends_the_monitor() {
    let tmux = Tmux::start("start");
    let project = TestProject::new("monitorstart");
    tmux.run(
        &project,
        &format!(
            "{} daemon start --monitor --pool-size 1",
            dfm_path().display()
        ),
    );
    tmux.wait_for_screen("the monitor", |s| {
        s.contains("Runner: local   Pool size: 1")
    });
    let pid = project.daemon_state()["pid"].as_u64().expect("pid") as u32;
    assert!(is_alive(pid));

    let mut client = project.client();
    client.send("shutdown", "bye", json!({}));
    let screen = tmux.wait_for_screen("the monitor to notice", |s| s.contains("[exited]"));
    assert!(screen.contains("went away"), "{screen}");
    // The terminal was restored: the shell's lines are on the normal screen.
    assert!(!screen.contains("Recent Completions"), "{screen}");
}

/// A daemon frozen with SIGSTOP: the monitor says it does not answer,
/// keeps trying, and says nothing more of it once the daemon runs again;
/// q still detaches.
#[ignore = "needs tmux: apt-get install tmux"]
#[test]
fn a_monitor_shows_a_daemon_that_does_not_answer_and_q_still_detaches() {
    let tmux = Tmux::start("frozen");
    let project = TestProject::new("monitorfrozen");
    project.configure("runner:\n  pool: {client_timeout: 1}\n");
    let pid = project.start_daemon(&["--pool-size", "1"]);
    tmux.run(
        &project,
        &format!("{} daemon --monitor", dfm_path().display()),
    );
    tmux.wait_for_screen("the monitor", |s| s.contains("Pool size: 1"));
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    tmux.wait_for_screen("the monitor to notice", |s| s.contains("NOT ANSWERING"));
    // SAFETY: as above.
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    tmux.wait_for_screen("the daemon to answer again", |s| {
        s.contains("Pool size: 1") && !s.contains("NOT ANSWERING")
    });
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    tmux.wait_for_screen("the monitor to notice again", |s| {
        s.contains("NOT ANSWERING")
    });
    tmux.keys("q");
    let screen = tmux.wait_for_screen("the monitor to detach", |s| s.contains("detached"));
    assert!(screen.contains("keeps running"), "{screen}");
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
}

#[test]
fn without_a_daemon_the_monitor_says_so() {
    let project = TestProject::new("monitornone");
    let output = project.dfm(&["daemon", "--monitor"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no dfm daemon is running"), "{stderr}");
}

#[test]
fn a_subscriber_that_does_not_read_misses_events_instead_of_piling_them_up() {
    let project = TestProject::new("slowsub");
    project.start_daemon(&["--pool-size", "2"]);
    // One subscriber reads everything, as it comes.
    let mut eager = project.client();
    eager.send("monitor.subscribe", "sub", json!({}));
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let eager_count = std::thread::spawn(move || {
        let mut lines = 0usize;
        while stop_rx.try_recv().is_err() {
            eager.recv();
            lines += 1;
        }
        lines
    });
    // Another subscribes, then reads nothing while many tasks run.
    let mut lazy = project.client();
    lazy.send("monitor.subscribe", "sub", json!({}));
    let mut client = project.client();
    const TASKS: usize = 3000;
    for i in 0..TASKS {
        client.submit(project.task(&format!("t{i}"), "true"));
    }
    let results = client.results(TASKS);
    assert!(results.values().all(|r| r["result"]["status"] == 0));

    // Now the lazy one reads. The daemon dropped what it could not take and
    // resynchronises it with a fresh snapshot at the next event once it has
    // caught up.
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = 0usize;
        let mut snapshots = 0;
        while snapshots < 2 {
            let line = lazy.recv();
            lines += 1;
            if line["method"] == "monitor.snapshot" {
                snapshots += 1;
            }
        }
        let _ = seen_tx.send(lines);
    });
    let mut n = 0;
    let lazy_lines = wait_for(LONG, "the lazy subscriber's resync snapshot", || {
        n += 1;
        client.submit(project.task(&format!("poke{n}"), "true"));
        client.recv();
        seen_rx.recv_timeout(Duration::from_millis(100)).ok()
    });
    let _ = stop_tx.send(());
    client.submit(project.task("last", "true"));
    client.recv();
    let eager_lines = eager_count.join().expect("eager reader");
    eprintln!("lines received: lazy subscriber {lazy_lines}, eager subscriber {eager_lines}");
    assert!(
        lazy_lines * 2 < eager_lines,
        "the lazy subscriber got {lazy_lines} lines, the eager one {eager_lines}: events were buffered, not dropped"
    );
}

#[test]
fn a_subscriber_of_its_own_tasks_hears_only_of_their_start() {
    let project = TestProject::new("ownsub");
    project.start_daemon(&["--pool-size", "2"]);
    let mut own = project.client();
    assert_eq!(
        own.call("monitor.subscribe", json!({"scope": "own"}))["result"],
        "subscribed"
    );
    let mut other = project.client();
    other.submit(project.task("theirs", "true"));
    assert_eq!(other.recv()["result"]["status"], 0);
    own.submit(project.task("mine", "true"));
    // No snapshot, no other client's task, no worker or pool events: the
    // start of its own task, then its result.
    let first = own.recv();
    assert_eq!(first["method"], "task.dispatched", "{first}");
    assert_eq!(first["params"]["request_id"], "mine", "{first}");
    assert!(first["params"]["worker_id"].is_string(), "{first}");
    let second = own.recv();
    assert_eq!(second["id"], "mine", "{second}");
    assert_eq!(second["result"]["status"], 0, "{second}");

    let refused = own.call("monitor.subscribe", json!({"scope": "mine"}));
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(error.contains("'scope' is \"all\" or \"own\""), "{refused}");
}
