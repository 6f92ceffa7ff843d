//! `dfm run` end to end: real flows, real daemon or ephemeral pool, real
//! shells.

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use dfm_e2e::{describe, is_alive, wait_for, TestProject};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(60);

fn write_flow(project: &TestProject, text: &str) {
    std::fs::write(project.root.join("flow.dv"), text).expect("write flow.dv");
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}): {}", describe(output)))
}

fn read_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn tasks_run_in_dependency_order() {
    let project = TestProject::new("order");
    let trace = project.root.join("trace");
    let t = trace.display();
    write_flow(
        &project,
        &format!(
            r#"
package:
  name: p
  tasks:
  - name: a
    run: echo a >> {t}
  - name: b
    needs: [a]
    run: sleep 0.1; echo b >> {t}
  - name: c
    needs: [a]
    run: echo c >> {t}
  - root: d
    needs: [b, c]
    run: echo d >> {t}
  - name: unrelated
    run: echo unrelated >> {t}
"#
        ),
    );
    let output = project.dfm(&["run", "d", "-u", "log"]);
    assert!(output.status.success(), "{}", describe(&output));
    let lines = read_lines(&trace);
    let pos = |name: &str| {
        lines
            .iter()
            .position(|l| l == name)
            .unwrap_or_else(|| panic!("{name} did not run: {lines:?}"))
    };
    assert!(pos("a") < pos("b") && pos("a") < pos("c"), "{lines:?}");
    assert!(pos("b") < pos("d") && pos("c") < pos("d"), "{lines:?}");
    assert!(
        !lines.contains(&"unrelated".to_string()),
        "only what d needs runs: {lines:?}"
    );
    assert!(
        stdout(&output).contains("p: 4 passed, 0 failed, 0 skipped"),
        "{}",
        describe(&output)
    );
}

#[test]
fn a_failure_stops_new_tasks_and_reports_the_log() {
    let project = TestProject::new("failure");
    write_flow(
        &project,
        r#"
package:
  name: p
  tasks:
  - name: ok
    run: echo fine
  - name: bad
    needs: [ok]
    run: |
      echo "compiling"
      echo "error: something broke at line 42" >&2
      exit 3
  - name: after_bad
    needs: [bad]
    run: touch should_not_exist
  - root: all
    needs: [after_bad]
    run: "true"
"#,
    );
    let output = project.dfm(&["run", "all", "-u", "log", "-j", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let out = stdout(&output);
    assert!(out.contains("p: 1 passed, 1 failed, 2 skipped"), "{out}");
    assert!(out.contains("FAILED p.bad (exit 3), log: "), "{out}");
    assert!(out.contains("rundir/p.bad/p.bad.log"), "{out}");
    assert!(out.contains("| error: something broke at line 42"), "{out}");
    assert!(
        !project.root.join("rundir/p.after_bad").exists(),
        "a task after the failure ran"
    );

    let output = project.dfm(&["run", "all", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let summary = json_of(&output);
    assert_eq!(
        (
            summary["passed"].clone(),
            summary["failed"].clone(),
            summary["skipped"].clone()
        ),
        (1.into(), 1.into(), 2.into())
    );
    let bad = summary["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["name"] == "p.bad")
        .expect("p.bad in summary")
        .clone();
    assert_eq!(bad["status"], "failed");
    assert_eq!(bad["exit_code"], 3);
}

const PROBE_FLOW: &str = r#"
package:
  name: p
  tasks:
  - root: probe
    run: echo $PPID > worker.pid; tr '\0' ' ' < /proc/$PPID/cmdline > worker.cmdline
  - root: big
    tags:
    - std.ResourceTag: {resource_class: large}
    run: tr '\0' ' ' < /proc/$PPID/cmdline > worker.cmdline
"#;

#[test]
fn without_a_daemon_tasks_run_on_an_ephemeral_pool_that_goes_away() {
    let project = TestProject::new("ephemeral");
    write_flow(&project, PROBE_FLOW);
    let output = project.dfm(&["run", "probe", "big", "-u", "log"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        stderr(&output).contains("ephemeral local pool"),
        "{}",
        describe(&output)
    );
    let worker: u32 = std::fs::read_to_string(project.root.join("rundir/p.probe/worker.pid"))
        .expect("worker.pid")
        .trim()
        .parse()
        .expect("pid");
    assert!(
        !is_alive(worker),
        "the ephemeral pool's worker outlived dfm run"
    );
    // Resource tags reach dispatch.
    let cmdline =
        std::fs::read_to_string(project.root.join("rundir/p.big/worker.cmdline")).expect("cmdline");
    assert!(cmdline.contains("--resource-class large"), "{cmdline}");
    let cmdline = std::fs::read_to_string(project.root.join("rundir/p.probe/worker.cmdline"))
        .expect("cmdline");
    assert!(!cmdline.contains("--resource-class"), "{cmdline}");
    assert!(!project.dfm_dir().join("daemon.json").exists());
}

#[test]
fn with_a_daemon_its_workers_run_the_tasks() {
    let project = TestProject::new("viadaemon");
    write_flow(&project, PROBE_FLOW);
    project.start_daemon(&["--pool-size", "2"]);
    let output = project.dfm(&["run", "probe", "big", "-u", "log"]);
    assert!(output.status.success(), "{}", describe(&output));
    let daemon_pid = project.daemon_state()["pid"].as_u64().expect("pid");
    assert!(
        stderr(&output).contains(&format!("daemon pid {daemon_pid}")),
        "{}",
        describe(&output)
    );
    let worker: u64 = std::fs::read_to_string(project.root.join("rundir/p.probe/worker.pid"))
        .expect("worker.pid")
        .trim()
        .parse()
        .expect("pid");
    let status = project.status();
    let pids: Vec<u64> = status["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter_map(|w| w["pid"].as_u64())
        .collect();
    assert!(
        pids.contains(&worker),
        "task ran on {worker}, daemon workers are {pids:?}"
    );
    assert_eq!(status["completed_tasks"], 2);
    let classes: BTreeSet<&str> = status["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter_map(|w| w["resource_class"].as_str())
        .collect();
    assert!(classes.contains("large"), "{status}");

    // --runner never bypasses the daemon; a different one is an error.
    let output = project.dfm(&["run", "probe", "--runner", "slurm"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("runs the 'local' runner, but --runner asks for 'slurm'"),
        "{err}"
    );
    assert!(err.contains("dfm daemon stop"), "{err}");
    let output = project.dfm(&["run", "probe", "--runner", "local", "-u", "log"]);
    assert!(output.status.success(), "{}", describe(&output));
}

#[test]
fn a_stale_daemon_file_is_removed_and_the_run_goes_ephemeral() {
    let project = TestProject::new("stalerun");
    write_flow(&project, PROBE_FLOW);
    std::fs::create_dir_all(project.dfm_dir()).expect(".dfm");
    let mut child = Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("wait");
    std::fs::write(
        project.dfm_dir().join("daemon.json"),
        format!(r#"{{"pid": {dead}, "socket": "/nonexistent.sock", "worker_port": 1, "started": "x", "runner": "local", "secret": "s"}}"#),
    )
    .expect("write state");
    let output = project.dfm(&["run", "probe", "-u", "log"]);
    assert!(output.status.success(), "{}", describe(&output));
    let err = stderr(&output);
    assert!(
        err.contains("removed stale") && err.contains("ephemeral"),
        "{err}"
    );
    assert!(!project.dfm_dir().join("daemon.json").exists());
}

#[test]
fn two_runs_share_a_daemon_pool_of_two() {
    let project = TestProject::new("tworuns");
    let trace = project.root.join("trace");
    let mut text = String::from("package:\n  name: p\n  tasks:\n");
    for i in 0..6 {
        text.push_str(&format!(
            "  - root: t{i}\n    run: echo \"start $(date +%s%N) $PPID $DFM_TASK_NAME\" >> {0}; sleep 0.2; echo \"end $(date +%s%N) $PPID\" >> {0}\n",
            trace.display()
        ));
    }
    write_flow(&project, &text);
    project.start_daemon(&["--pool-size", "2"]);
    let tasks: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    let spawn = || {
        let mut args = vec!["run", "--json"];
        args.extend(tasks.iter().map(String::as_str));
        project
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dfm run")
    };
    let first = spawn();
    let second = spawn();
    let first = first.wait_with_output().expect("first run");
    let second = second.wait_with_output().expect("second run");
    for output in [&first, &second] {
        assert!(output.status.success(), "{}", describe(output));
        let summary = json_of(output);
        assert_eq!(summary["passed"], 6, "{summary}");
        assert_eq!(summary["tasks"].as_array().expect("tasks").len(), 6);
    }
    // Never more than two tasks at once, on never more than two workers.
    let mut events: Vec<(u128, i32, String)> = read_lines(&trace)
        .iter()
        .map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let delta = if parts[0] == "start" { 1 } else { -1 };
            (parts[1].parse().expect("time"), delta, parts[2].to_string())
        })
        .collect();
    assert_eq!(events.len(), 24, "both runs ran all six tasks");
    events.sort_by_key(|(t, delta, _)| (*t, *delta));
    let mut running = 0;
    for (_, delta, _) in &events {
        running += delta;
        assert!(running <= 2, "more than two tasks ran at once");
    }
    let workers: BTreeSet<&String> = events.iter().map(|(_, _, pid)| pid).collect();
    assert!(workers.len() <= 2, "{workers:?}");
    assert_eq!(project.status()["completed_tasks"], 12);
}

/// Interrupts a run whose task sleeps; returns the pid of the worker
/// that ran it.
fn interrupt_kills_tasks(project: &TestProject) -> u32 {
    let pidfile = project.root.join("sleeper.pid");
    let workerfile = project.root.join("worker.pid");
    write_flow(
        project,
        &format!(
            "package:\n  name: p\n  tasks:\n  - root: long\n    run: echo $PPID > {}; sleep 300 & echo $! > {}; wait\n",
            workerfile.display(),
            pidfile.display()
        ),
    );
    let run = project
        .command(&["run", "long", "-u", "log"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dfm run");
    let sleeper = wait_for(LONG, "the task to start", || {
        std::fs::read_to_string(&pidfile)
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()
    });
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(run.id() as i32, libc::SIGINT);
    }
    let output = run.wait_with_output().expect("dfm run");
    assert_eq!(output.status.code(), Some(130), "{}", describe(&output));
    assert!(
        stderr(&output).contains("interrupted"),
        "{}",
        describe(&output)
    );
    wait_for(LONG, "the task's process to die", || {
        (!is_alive(sleeper)).then_some(())
    });
    std::fs::read_to_string(&workerfile)
        .expect("worker.pid")
        .trim()
        .parse()
        .expect("worker pid")
}

#[test]
fn ctrl_c_kills_the_runs_tasks_on_the_daemon() {
    let project = TestProject::new("sigintdaemon");
    project.start_daemon(&["--pool-size", "1"]);
    let worker = interrupt_kills_tasks(&project);
    assert_eq!(
        project.status()["running"],
        true,
        "the daemon keeps running"
    );
    assert!(is_alive(worker), "the daemon's worker stays warm");
}

#[test]
fn ctrl_c_kills_the_runs_tasks_on_an_ephemeral_pool() {
    let project = TestProject::new("sigintephemeral");
    let worker = interrupt_kills_tasks(&project);
    assert!(
        !is_alive(worker),
        "the ephemeral pool's worker outlived the interrupted run"
    );
}

#[test]
fn flow_errors_are_clear_and_nothing_runs() {
    let project = TestProject::new("flowerrors");
    let output = project.dfm(&["run", "x"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no flow file (flow.dv, flow.yaml, flow.yml)"),
        "{}",
        describe(&output)
    );

    let cases = [
        (
            "package:\n  name: p\n  tasks:\n  - name: a\n    needs: [zz]\n    run: touch ran\n",
            "flow.dv:5: task 'a' needs 'zz'",
        ),
        (
            "package:\n  name: p\n  tasks:\n  - name: a\n    run: touch ran\n    colour: red\n",
            "flow.dv:6: unknown key 'colour' in a task",
        ),
        (
            "package:\n  name: p\n  tasks:\n  - name: a\n    needs: [a]\n    run: touch ran\n",
            "dependency cycle: p.a -> p.a",
        ),
        (
            "package:\n  name: p\n  tasks:\n  - name: a\n    run: touch ${{ nope }}\n",
            "flow.dv:5: in 'run' of task 'a': unknown name 'nope'",
        ),
    ];
    for (text, expected) in cases {
        write_flow(&project, text);
        let output = project.dfm(&["run", "a"]);
        assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
        assert!(
            stderr(&output).contains(expected),
            "expected {expected:?}: {}",
            describe(&output)
        );
        assert!(!project.root.join("rundir").exists(), "something ran");
    }

    write_flow(
        &project,
        "package:\n  name: p\n  tasks:\n  - root: alpha\n    desc: first\n  - name: beta\n",
    );
    let output = project.dfm(&["run", "gamma"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no task 'gamma'"),
        "{}",
        describe(&output)
    );
    let output = project.dfm(&["run"]);
    assert!(output.status.success());
    let out = stdout(&output);
    assert!(
        out.contains("p.alpha") && out.contains("first") && !out.contains("p.beta"),
        "{out}"
    );
    let output = project.dfm(&["run", "a", "-D", "nope=1"]);
    assert!(
        stderr(&output).contains("no parameter 'nope'"),
        "{}",
        describe(&output)
    );
}

#[test]
fn the_example_regression_runs_on_a_fresh_project() {
    let project = TestProject::new("example");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/regression");
    for file in ["flow.dv", "sim.sh"] {
        std::fs::copy(example.join(file), project.root.join(file)).expect("copy example");
    }
    let output = project.dfm(&["run", "all", "-u", "log"]);
    assert!(output.status.success(), "{}", describe(&output));
    let out = stdout(&output);
    assert!(
        out.contains("regress: 15 passed, 0 failed, 0 skipped"),
        "{out}"
    );
    assert!(out.contains("regression complete"), "{out}");
}

#[test]
fn a_wide_flow_on_a_saturated_pool_passes_whole() {
    // 400 tasks at 64 in flight on 2 workers: the daemon sends replies in
    // batches, and `dfm run` answers each batch with one write of submits.
    // Every reply must still be handled once, and the run must end.
    let project = TestProject::new("wide");
    let mut text = String::from("package:\n  name: w\n  tasks:\n");
    for i in 0..400 {
        text.push_str(&format!("  - name: t{i}\n    run: \"true\"\n"));
    }
    let needs: Vec<String> = (0..400).map(|i| format!("t{i}")).collect();
    text.push_str(&format!(
        "  - root: all\n    needs: [{}]\n    run: \"true\"\n",
        needs.join(", ")
    ));
    write_flow(&project, &text);
    project.start_daemon(&["--pool-size", "2"]);
    let child = project
        .command(&["run", "all", "--jobs", "64", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dfm run");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(LONG) {
        Ok(output) => output.expect("dfm run"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("dfm run of 401 tasks did not end within {LONG:?}");
        }
    };
    assert!(output.status.success(), "{}", describe(&output));
    let summary = json_of(&output);
    assert_eq!(summary["passed"], 401, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(project.status()["completed_tasks"], 401);
}

#[test]
fn a_clean_run_starts_from_an_empty_rundir_and_leaves_nothing_aside() {
    let project = TestProject::new("clean");
    // Fails where its rundir still holds what a run before left.
    write_flow(
        &project,
        "package:\n  name: p\n  tasks:\n  - root: a\n    run: test ! -e stale && touch stale\n",
    );
    let first = project.dfm(&["run", "a", "-u", "log"]);
    assert!(first.status.success(), "{}", describe(&first));
    // A removal an earlier clean run did not finish (it was killed).
    let leftover = project.root.join("rundir.dfm-removing-1");
    std::fs::create_dir_all(leftover.join("p.a")).expect("leftover");
    std::fs::write(leftover.join("p.a").join("log"), "old").expect("leftover file");

    let clean = project.dfm(&["run", "a", "-u", "log", "--clean"]);
    assert!(clean.status.success(), "{}", describe(&clean));
    let mut left: Vec<String> = std::fs::read_dir(&project.root)
        .expect("project")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("rundir"))
        .collect();
    left.sort();
    assert_eq!(left, ["rundir"], "{}", describe(&clean));
}
