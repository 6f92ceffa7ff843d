//! A daemon that dies, is restarted or stops answering, on any runner: the
//! checks for the local runner, the LSF stand-ins and real SLURM alike.

use std::path::Path;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use crate::cluster::{dfm, lines, spawn_dfm, start_with, write_flow, Scheduler, LONG};
use crate::{describe, is_alive, wait_for, TestProject};

/// The local runner, as a [`Scheduler`]: a job is a process, a submission
/// a worker's log file.
pub struct Local;

impl Scheduler for Local {
    fn runner(&self) -> &str {
        "local"
    }

    fn runner_yaml(&self, _project: &TestProject) -> String {
        "runner:\n  pool: {poll_interval: 0.2}\n".into()
    }

    fn submissions(&self, project: &TestProject) -> Vec<String> {
        let mut logs: Vec<String> = std::fs::read_dir(project.dfm_dir().join("workers"))
            .map(|dir| {
                dir.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        logs
    }

    fn live_jobs(&self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .filter(|id| id.parse::<u32>().is_ok_and(is_alive))
            .cloned()
            .collect()
    }

    fn kill_job(&self, id: &str) {
        if let Ok(pid) = id.parse::<i32>() {
            signal(pid as u32, libc::SIGKILL);
        }
    }
}

/// `yaml` (a scheduler's `runner:` section, which has a `pool: {...}` line)
/// with `keys` added to its pool settings.
pub fn with_pool_keys(yaml: &str, keys: &str) -> String {
    if yaml.contains("  pool: {") {
        yaml.replacen("  pool: {", &format!("  pool: {{{keys}, "), 1)
    } else {
        format!("{yaml}  pool: {{{keys}}}\n")
    }
}

pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

/// kill -9 of the daemon, and the wait until it is gone (a start before
/// that finds it still there, and says "already running").
fn kill_daemon(project: &TestProject) {
    let pid = daemon_pid(project);
    signal(pid, libc::SIGKILL);
    wait_for(LONG, "the killed daemon to be gone", || {
        (!is_alive(pid)).then_some(())
    });
}

pub fn daemon_pid(project: &TestProject) -> u32 {
    project.daemon_state()["pid"].as_u64().expect("daemon pid") as u32
}

/// The daemon's workers' ids, sorted.
pub fn worker_ids(project: &TestProject) -> Vec<String> {
    let status = project.status();
    assert!(
        status["running"] == true && status["responding"] == true,
        "no answering daemon: {status}\n{}",
        daemon_log(project)
    );
    let mut ids: Vec<String> = status["workers"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|w| w["worker_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Eight tasks of half a second that each leave a line in `trace`.
fn write_eight(project: &TestProject) -> Vec<String> {
    let names: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
    let mut tasks = String::new();
    for name in &names {
        tasks.push_str(&format!(
            "  - name: {name}\n    run: 'sleep 0.5; echo {name} >> ../../trace'\n"
        ));
    }
    tasks.push_str(&format!(
        "  - root: all\n    needs: [{}]\n",
        names.join(", ")
    ));
    write_flow(project, &tasks);
    names
}

/// Starts the eight-task run on a pool of 2 with these pool settings, and
/// waits until two of its tasks are done and both workers registered.
fn run_under_way(s: &dyn Scheduler, project: &TestProject, keys: &str) -> (Child, Vec<String>) {
    let names = write_eight(project);
    start_with(
        s,
        project,
        2,
        &with_pool_keys(&s.runner_yaml(project), keys),
    );
    let run = spawn_dfm(s, project, &["run", "all", "-u", "log"]);
    let trace = project.root.join("trace");
    wait_for(LONG, "two tasks done", || {
        (lines(&trace).len() >= 2).then_some(())
    });
    wait_for(LONG, "both workers registered", || {
        let status = project.status();
        let workers = status["workers"].as_array().cloned().unwrap_or_default();
        (workers.len() == 2 && workers.iter().all(|w| w["pid"].as_u64() > Some(0))).then_some(())
    });
    (run, names)
}

/// The run ended 0, and reported each task passing exactly once; each ran
/// at least once.
fn each_task_ended_once(project: &TestProject, run: &Output, names: &[String]) {
    assert!(run.status.success(), "the run: {}", describe(run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let trace = lines(&project.root.join("trace"));
    for name in names {
        let passes = stdout.matches(&format!("pass   p.{name} ")).count();
        assert_eq!(
            passes,
            1,
            "{name} reported {passes} times: {}",
            describe(run)
        );
        assert!(
            trace.iter().any(|l| l == name),
            "{name} never ran: {trace:?}"
        );
    }
}

fn daemon_log(project: &TestProject) -> String {
    std::fs::read_to_string(project.dfm_dir().join("daemon.log")).unwrap_or_default()
}

fn start_again(s: &dyn Scheduler, project: &TestProject) {
    let start = dfm(
        s,
        project,
        &[
            "daemon",
            "start",
            "--runner",
            s.runner(),
            "--pool-size",
            "2",
        ],
    );
    assert!(start.status.success(), "{}", describe(&start));
}

/// kill -9 of the daemon mid-run, then a new daemon: it adopts the old
/// one's workers (no new launch), and the run sends it what had no result
/// and ends 0 with each task's result once.
pub fn killed_daemon_is_replaced_without_a_launch(s: &dyn Scheduler, project: &TestProject) {
    let (run, names) = run_under_way(s, project, "reconnect_grace: 120");
    let workers = worker_ids(project);
    let launched = s.submissions(project);
    kill_daemon(project);
    start_again(s, project);
    let run = run.wait_with_output().expect("the run ends");
    each_task_ended_once(project, &run, &names);
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("took over"),
        "{}",
        describe(&run)
    );
    assert_eq!(s.submissions(project), launched, "no new launch");
    assert_eq!(worker_ids(project), workers, "the same workers");
    assert!(daemon_log(project).contains("adopting the 2 workers"));
    stop_and_no_job_left(s, project);
}

/// kill -9 of the daemon mid-run and no new daemon: the run finishes on an
/// ephemeral pool, and the old workers are gone after the grace.
pub fn killed_daemon_run_finishes_on_an_ephemeral_pool(s: &dyn Scheduler, project: &TestProject) {
    let (run, names) = run_under_way(s, project, "reconnect_grace: 3");
    let jobs = crate::cluster::worker_jobs(project);
    kill_daemon(project);
    let run = run.wait_with_output().expect("the run ends");
    each_task_ended_once(project, &run, &names);
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("finishing on an ephemeral pool"),
        "{}",
        describe(&run)
    );
    wait_for(LONG, "the old workers' jobs to end", || {
        s.live_jobs(&jobs).is_empty().then_some(())
    });
}

/// `dfm daemon restart` under load: the new daemon has the old one's
/// workers, and the run loses nothing.
pub fn restart_under_load_loses_nothing(s: &dyn Scheduler, project: &TestProject) {
    let (run, names) = run_under_way(s, project, "reconnect_grace: 120");
    let workers = worker_ids(project);
    let launched = s.submissions(project);
    let old = daemon_pid(project);
    let restart = dfm(s, project, &["daemon", "restart"]);
    assert!(restart.status.success(), "{}", describe(&restart));
    assert_ne!(daemon_pid(project), old);
    let run = run.wait_with_output().expect("the run ends");
    each_task_ended_once(project, &run, &names);
    assert_eq!(s.submissions(project), launched, "no new launch");
    assert_eq!(worker_ids(project), workers, "the same workers");
    stop_and_no_job_left(s, project);
}

/// `dfm daemon stop`, after which no worker job of the journal is left.
fn stop_and_no_job_left(s: &dyn Scheduler, project: &TestProject) {
    let jobs = crate::cluster::worker_jobs(project);
    let stop = dfm(s, project, &["daemon", "stop"]);
    assert!(stop.status.success(), "{}", describe(&stop));
    wait_for(LONG, "the workers' jobs to end", || {
        s.live_jobs(&jobs).is_empty().then_some(())
    });
    assert!(!project.dfm_dir().join("journal.json").exists());
}

/// Runs `dfm ARGS` but gives up (and fails) if it has not ended within
/// `LONG`: a command that hangs is a failure, not a stuck test.
pub fn dfm_bounded(s: &dyn Scheduler, project: &TestProject, args: &[&str]) -> Output {
    let child = spawn_dfm(s, project, args);
    let pid = child.id();
    let started = Instant::now();
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < LONG {
            if !is_alive(pid) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(pid, libc::SIGKILL);
        true
    });
    let output = child.wait_with_output().expect("dfm ends");
    let hung = watchdog.join().unwrap_or(false);
    assert!(!hung, "dfm {args:?} hung: {}", describe(&output));
    output
}

/// A daemon frozen with SIGSTOP: `status` says so (exit 3, responding
/// false), `run` finishes on an ephemeral pool, `stop` ends the daemon and
/// its workers by force, and SIGCONT afterwards changes nothing.
pub fn a_frozen_daemon_hangs_no_command(s: &dyn Scheduler, project: &TestProject) {
    write_flow(
        project,
        "  - root: one\n    run: 'echo ran >> ../../trace'\n",
    );
    let yaml = with_pool_keys(
        &s.runner_yaml(project),
        "client_timeout: 1, reconnect_grace: 2",
    );
    start_with(s, project, 2, &yaml);
    let warm = dfm(s, project, &["run", "one", "-u", "log"]);
    assert!(warm.status.success(), "{}", describe(&warm));
    let jobs = crate::cluster::worker_jobs(project);
    assert!(!jobs.is_empty());
    let daemon = daemon_pid(project);
    signal(daemon, libc::SIGSTOP);

    let status = dfm_bounded(s, project, &["daemon", "status", "--json"]);
    assert_eq!(status.status.code(), Some(3), "{}", describe(&status));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(json["responding"], false, "{json}");
    assert_eq!(json["pid"], daemon, "{json}");
    let text = dfm_bounded(s, project, &["daemon", "status"]);
    assert_eq!(text.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("does not answer"),
        "{}",
        describe(&text)
    );

    let run = dfm_bounded(s, project, &["run", "one", "-u", "log"]);
    assert!(run.status.success(), "{}", describe(&run));
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains("has not answered") && said.contains("ephemeral pool"),
        "{}",
        describe(&run)
    );

    let stop = dfm_bounded(s, project, &["daemon", "stop"]);
    assert!(stop.status.success(), "{}", describe(&stop));
    assert!(
        String::from_utf8_lossy(&stop.stdout).contains("stopped by force"),
        "{}",
        describe(&stop)
    );
    assert!(!is_alive(daemon));
    wait_for(LONG, "the workers' jobs to end", || {
        s.live_jobs(&jobs).is_empty().then_some(())
    });
    signal(daemon, libc::SIGCONT);
    assert_eq!(project.status()["running"], false);
    for file in ["daemon.json", "daemon.sock", "journal.json"] {
        assert!(
            !Path::new(&project.dfm_dir().join(file)).exists(),
            "{file} left"
        );
    }
}
