//! `dfm daemon start | status | stop` against the real binary.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use dfm_e2e::{describe, is_alive, processes_matching, wait_for, TestProject};
use serde_json::json;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn start_status_stop() {
    let project = TestProject::new("lifecycle");
    let pid = project.start_daemon(&["--pool-size", "2"]);
    assert!(is_alive(pid));

    // Files and their permissions.
    assert_eq!(mode(&project.dfm_dir()), 0o700);
    assert_eq!(mode(&project.dfm_dir().join("daemon.json")), 0o600);
    assert_eq!(mode(&project.socket()), 0o600);
    let state = project.daemon_state();
    for key in ["pid", "socket", "worker_port", "started", "runner"] {
        assert!(state.get(key).is_some(), "daemon.json lacks {key}: {state}");
    }
    assert_eq!(state["runner"], "local");
    let secret = state["secret"].as_str().expect("secret").to_string();

    // A second start finds the first.
    let again = project.dfm(&["daemon", "start"]);
    assert!(again.status.success(), "{}", describe(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("already running"));
    assert_eq!(project.daemon_state()["pid"], json!(pid));

    // Status, as JSON and as text; the secret never shows.
    let status = project.status();
    assert_eq!(status["running"], true);
    assert_eq!(status["stale"], false);
    assert_eq!(status["pid"], json!(pid));
    assert_eq!(status["runner"], "local");
    assert_eq!(status["pool_size"], 2);
    for key in [
        "started",
        "socket",
        "worker_port",
        "pending_tasks",
        "workers",
    ] {
        assert!(status.get(key).is_some(), "status lacks {key}: {status}");
    }
    let text = project.dfm(&["daemon", "status"]);
    assert!(text.status.success());
    let text_out = String::from_utf8_lossy(&text.stdout);
    assert!(text_out.contains(&format!("pid:      {pid}")), "{text_out}");
    assert!(!status.to_string().contains(&secret) && !text_out.contains(&secret));

    // Stop: the process is gone, and so are the state file and socket.
    let stop = project.dfm(&["daemon", "stop"]);
    assert!(stop.status.success(), "{}", describe(&stop));
    assert!(!is_alive(pid), "daemon {pid} still running after stop");
    assert!(!project.dfm_dir().join("daemon.json").exists());
    assert!(!project.socket().exists());

    let status = project.dfm(&["daemon", "status", "--json"]);
    assert_eq!(status.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(value, json!({"running": false}));

    let stop = project.dfm(&["daemon", "stop"]);
    assert_eq!(stop.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stop.stderr).contains("no dfm daemon is running"));
}

/// A pid that is certainly not a running dfm daemon: a process that exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

fn write_stale_state(project: &TestProject, pid: u32) {
    std::fs::create_dir_all(project.dfm_dir()).expect(".dfm");
    let state = json!({
        "pid": pid, "socket": project.socket(), "worker_port": 1,
        "started": "2026-01-01T00:00:00Z", "runner": "local", "secret": "x"
    });
    std::fs::write(project.dfm_dir().join("daemon.json"), state.to_string()).expect("write state");
    std::fs::write(project.socket(), b"").expect("leftover socket file");
}

#[test]
fn stale_state_in_status_stop_and_start() {
    let project = TestProject::new("stale");
    // A dead pid, and a live pid that is not a daemon (recycled): both stale.
    for pid in [dead_pid(), std::process::id()] {
        write_stale_state(&project, pid);
        let status = project.dfm(&["daemon", "status", "--json"]);
        assert_eq!(status.status.code(), Some(1), "{}", describe(&status));
        let value: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
        assert_eq!(value["running"], false);
        assert_eq!(value["stale"], true);
        assert!(
            project.dfm_dir().join("daemon.json").exists(),
            "status only reports"
        );

        let text = project.dfm(&["daemon", "status"]);
        assert!(String::from_utf8_lossy(&text.stdout).contains("stale"));

        let stop = project.dfm(&["daemon", "stop"]);
        assert_eq!(stop.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&stop.stderr).contains("removed stale"),
            "{}",
            describe(&stop)
        );
        assert!(!project.dfm_dir().join("daemon.json").exists());
        assert!(!project.socket().exists());
    }

    write_stale_state(&project, dead_pid());
    let start = project.dfm(&["daemon", "start"]);
    assert!(start.status.success(), "{}", describe(&start));
    assert!(String::from_utf8_lossy(&start.stderr).contains("removed stale"));
    assert_eq!(project.status()["running"], true);
}

#[test]
fn a_daemon_killed_with_sigkill_leaves_a_stale_file_that_start_cleans() {
    let project = TestProject::new("killed");
    let pid = project.start_daemon(&[]);
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
    wait_for(Duration::from_secs(10), "the daemon to die", || {
        (!is_alive(pid)).then_some(())
    });
    let status = project.status();
    assert_eq!(status["stale"], true, "{status}");
    let new_pid = project.start_daemon(&[]);
    assert_ne!(new_pid, pid);
    assert_eq!(project.status()["running"], true);
}

#[test]
fn bad_configuration_fails_start_with_a_clear_message() {
    let project = TestProject::new("badconfig");
    project.configure("runner:\n  pool: {max_wrokers: 4}\n");
    let start = project.dfm(&["daemon", "start"]);
    assert_eq!(start.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&start.stderr);
    assert!(stderr.contains("max_wrokers"), "{stderr}");
    assert!(!project.socket().exists());
}

#[test]
fn the_secret_never_appears_on_a_command_line() {
    let project = TestProject::new("secret");
    project.start_daemon(&["--pool-size", "1"]);
    let secret = project.daemon_state()["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let mut client = project.client();
    client.submit(project.task("t1", "true"));
    let reply = client.recv();
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    assert!(processes_matching("dfm")
        .iter()
        .any(|(_, cmd)| cmd.contains(" worker ")));
    assert!(
        processes_matching(&secret).is_empty(),
        "secret visible in a command line"
    );
    // Nor is it handed on to tasks.
    client.submit(project.task("t2", "env > env.txt"));
    assert_eq!(client.recv()["result"]["status"], 0);
    let env = std::fs::read_to_string(project.root.join("rundir/t2/env.txt")).expect("env.txt");
    assert!(
        !env.contains(&secret) && !env.contains("DFM_WORKER_TOKEN"),
        "{env}"
    );
}

/// A daemon started with a low soft limit on open files raises it to what
/// its pool needs, and says so in its log.
#[test]
fn the_daemon_raises_its_open_files_limit_for_its_pool() {
    use std::os::unix::process::CommandExt;
    let project = TestProject::new("nofile");
    let mut command = project.command(&["daemon", "start", "--pool-size", "300"]);
    // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_cur = 128;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        });
    }
    let output = command.output().expect("run dfm");
    assert!(output.status.success(), "{}", describe(&output));
    let pid = project.daemon_state()["pid"].as_u64().expect("pid");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .expect("soft limit");
    assert!(soft >= 300 * 4, "{limits}");
    let log = std::fs::read_to_string(project.dfm_dir().join("daemon.log")).expect("daemon.log");
    assert!(
        log.contains("raised the open-files limit from 128"),
        "{log}"
    );
}
