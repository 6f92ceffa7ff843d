//! The original dv-flow-mgr's own `dfm run` on flows as engineers write
//! them (`tests/upstream/flows/`): in-process, through our daemon, and
//! through the original's own daemon, side by side; and what happens to a
//! Python task's processes when things go wrong.
//!
//! Needs the original from PyPI (see `dfm_e2e::upstream`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use dfm_e2e::upstream::{
    assert_same_files, assert_worker_decided_same, copy_flow, rundir_files, Original,
};
use dfm_e2e::{describe, is_alive, needs, wait_for, TestProject};
use serde_json::{json, Value};

/// Bounds a hang; no test asserts on timing.
const PATIENCE: Duration = Duration::from_secs(60);

fn project_with(flow: &str, name: &str) -> TestProject {
    let project = TestProject::new(name);
    copy_flow(&project, flow);
    project
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn the_originals_flow_runs_through_our_daemon_as_in_process_and_as_through_its_own() {
    let original = Original::find();
    // In-process, each root in a fresh project: through a daemon no task is
    // ever up-to-date (the client's doing, see the second run below), so
    // in-process must not skip any either for the files to compare.
    // Equal-length names keep the summaries' line wrapping the same.
    let alone = project_with("regress", "flows-a1");
    let alone_lint = project_with("regress", "flows-a2");
    let a_summary = original.run(&alone, "summary");
    let a_lint = original.run(&alone_lint, "lint");
    let mut a_files = rundir_files(&alone);
    a_files.extend(rundir_files(&alone_lint));

    let ours = project_with("regress", "flows-b1");
    ours.start_daemon(&["--pool-size", "2"]);
    let b_summary = original.run(&ours, "summary");
    let b_lint = original.run(&ours, "lint");
    let b_files = rundir_files(&ours);
    let b_again = original.run(&ours, "summary");
    let b_files_again = rundir_files(&ours);
    let status = ours.status();

    let theirs = project_with("regress", "flows-c1");
    let (c_summary, c_lint, c_files, c_again, c_files_again) = {
        let _daemon = original.start_its_daemon(&theirs);
        let c_summary = original.run(&theirs, "summary");
        let c_lint = original.run(&theirs, "lint");
        let c_files = rundir_files(&theirs);
        let c_again = original.run(&theirs, "summary");
        (c_summary, c_lint, c_files, c_again, rundir_files(&theirs))
    };

    // Exit status: the summary passes, the lint fails, everywhere.
    for (run, passes) in [
        (&a_summary, true),
        (&a_lint, false),
        (&b_summary, true),
        (&b_lint, false),
        (&b_again, true),
        (&c_summary, true),
        (&c_lint, false),
        (&c_again, true),
    ] {
        assert_eq!(
            run.output.status.success(),
            passes,
            "{}",
            describe(&run.output)
        );
    }
    // Every leaf task went to our workers: the FileSet, two Python tasks
    // and three shell steps, twice; the FileSet again, and the lint, which
    // failed.
    assert_eq!(status["completed_tasks"], 13, "{status}");
    assert_eq!(status["failed_tasks"], 1, "{status}");

    // Task summaries: in-process's, but for the markers' (file:line), which
    // the client drops from any reply; and its own daemon's, but for the
    // marker in-process adds for a failed command, which its worker drops.
    assert_eq!(b_summary.summary, a_summary.summary_without_locations());
    assert_eq!(b_lint.summary, a_lint.summary_without_locations());
    assert_eq!(b_summary.summary, c_summary.summary);
    let command_failed =
        "\nE: Command failed: /bin/bash ROOT/rundir/regress.lint/regress.lint_cmd.sh";
    assert_eq!(
        b_lint.summary,
        format!("{}{command_failed}", c_lint.summary)
    );
    for marker in [
        "I: built image of 2 files",
        "I: report written for nightly",
        "W: limit is low",
        "E: unused wire w",
        "E: Command failed",
    ] {
        let all = format!("{}\n{}", b_summary.summary, b_lint.summary);
        assert!(all.contains(marker), "no '{marker}' in\n{all}");
    }

    // Rundirs: the files its own daemon leaves, byte for byte; those
    // in-process leaves, wherever the worker decides them.
    assert_same_files(&c_files, &b_files, "ours vs its own daemon");
    assert_worker_decided_same(&a_files, &b_files, "in-process vs ours");
    // The step ran natively: its dfm-out is dfm's own.
    let shim = ours
        .root
        .join("rundir/regress.report/regress.report.write/.dfm-bin/dfm-out");
    let script = std::fs::read_to_string(&shim).expect("the dfm-out shim");
    let runs = script
        .strip_prefix("#!")
        .and_then(|line| line.split_whitespace().next())
        .map(std::path::Path::new)
        .and_then(std::path::Path::file_name);
    assert_eq!(runs.and_then(|n| n.to_str()), Some("dfm-out"), "{script}");
    assert!(script.contains("--dfm-shim"), "{script}");
    let report = &b_files["regress.report/regress.report.write/report.txt"];
    assert!(
        report.starts_with("title=nightly limit=3 copies=2\nparams: {\"copies\":2}"),
        "{report}"
    );
    let place = &b_files["regress.report/regress.report.write/where.txt"];
    assert!(
        place.starts_with("rundir=ROOT/rundir/regress.report/regress.report.write\n"),
        "{place}"
    );
    let env = &b_files["regress.report/regress.report.check/env.txt"];
    assert_eq!(env, "title=nightly extra=yes\npath has /opt/regress/bin\n");
    let consumed = &b_files["regress.summary/consumed.json"];
    assert!(consumed.contains("extra.txt"), "{consumed}");

    // A second run with nothing changed: the client never finds a task it
    // ran remotely up-to-date (it compares the inputs signature it saved
    // with one it computes only in-process), so it redoes every task,
    // through its own daemon and ours alike.
    assert_eq!(b_again.summary, c_again.summary);
    assert_same_files(&c_files_again, &b_files_again, "second run");
}

/// `dfm-e2e` pids a Python task left in `rundir/<task>/<file>`.
fn pid_in(project: &TestProject, task: &str, file: &str) -> Option<u32> {
    let path = project.root.join("rundir").join(task).join(file);
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn ctrl_c_of_the_originals_run_leaves_no_process() {
    let original = Original::find();
    let project = project_with("faults", "ctrlc");
    project.start_daemon(&["--pool-size", "1"]);
    let mut run = original
        .command(&project, &["run", "-u", "log", "hang"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the original's dfm run");
    let child = wait_for(PATIENCE, "the task's child process", || {
        pid_in(&project, "faults.hang", "child.pid")
    });
    let interpreter = pid_in(&project, "faults.hang", "interpreter.pid").expect("interpreter pid");
    assert!(is_alive(child) && is_alive(interpreter));
    // SAFETY: kill(2) on the run's own pid.
    unsafe { libc::kill(run.id() as i32, libc::SIGINT) };
    let ended = run.wait().expect("wait for the run");
    assert!(!ended.success(), "the interrupted run passed");
    wait_for(PATIENCE, "the task's processes to end", || {
        (!is_alive(child) && !is_alive(interpreter)).then_some(())
    });
    wait_for(PATIENCE, "the daemon to forget the task", || {
        let status = project.status();
        (status["running_tasks"] == 0 && status["pending_tasks"] == 0).then_some(())
    });
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn a_killed_interpreter_fails_its_task_with_its_last_words_and_the_next_gets_a_fresh_one() {
    let original = Original::find();
    let project = project_with("faults", "crash");
    project.start_daemon(&["--pool-size", "1"]);
    let crashed = original.run(&project, "crash");
    assert!(!crashed.output.status.success());
    assert!(
        crashed
            .summary
            .contains("died while running task 'faults.crash'")
            && crashed.summary.contains("fault_tasks: about to be killed"),
        "{}",
        describe(&crashed.output)
    );
    let first = pid_in(&project, "faults.crash", "interpreter.pid").expect("crashed pid");

    let probed = original.run(&project, "probe");
    assert!(
        probed.output.status.success(),
        "{}",
        describe(&probed.output)
    );
    let second = pid_in(&project, "faults.probe", "interpreter.pid").expect("probe pid");
    assert_ne!(first, second, "the dead interpreter ran the next task");
    assert!(probed.summary.contains(&format!("I: probed by {second}")));
    // One worker did both: the crash did not take it down.
    let status = project.status();
    assert_eq!(
        status["workers"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );

    // What the interpreter's tasks see holds nothing of the worker's.
    let environ = std::fs::read_to_string(project.root.join("rundir/faults.probe/environ.json"))
        .expect("the probe's environment");
    let environ: Value = serde_json::from_str(&environ).expect("environ.json");
    let secret = project.daemon_state()["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    for (name, value) in environ.as_object().expect("environment") {
        assert!(!name.starts_with("DFM_WORKER_"), "{name} reached the task");
        assert!(
            !value.to_string().contains(&secret),
            "{name} holds the secret"
        );
    }
}

/// A `task.submit` as the original's client sends it for a Python task.
fn python_task(project: &TestProject, id: &str, callable: &str, pythonpath: &[String]) -> Value {
    let mut path = vec![project.root.display().to_string()];
    path.extend(pythonpath.iter().cloned());
    json!({
        "request_id": id,
        "name": format!("faults.{id}"),
        "callable_spec": callable,
        "shell": "pytask",
        "body": "",
        "srcdir": project.root,
        "rundir": project.root.join("rundir").join(format!("faults.{id}")),
        "pythonpath": path,
        "params": {},
        "inputs": [],
        "env": {},
        "memento": null,
        "resource_class": "",
    })
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn a_cancelled_python_task_and_a_stopped_daemon_take_the_tasks_children_with_them() {
    let original = Original::find();
    let sys_path = original.sys_path();
    let project = project_with("faults", "cancel");
    project.start_daemon(&["--pool-size", "1"]);
    let mut client = project.client();
    client.submit(python_task(&project, "hang", "fault_tasks.Hang", &sys_path));
    let child = wait_for(PATIENCE, "the task's child", || {
        pid_in(&project, "faults.hang", "child.pid")
    });
    let reply = client.call("task.cancel", json!({"request_id": "hang"}));
    assert_eq!(reply["result"], "cancelled", "{reply}");
    wait_for(PATIENCE, "the cancelled task's child to end", || {
        (!is_alive(child)).then_some(())
    });

    std::fs::remove_dir_all(project.root.join("rundir/faults.hang")).expect("clear the rundir");
    client.submit(python_task(&project, "hang", "fault_tasks.Hang", &sys_path));
    let child = wait_for(PATIENCE, "the second task's child", || {
        pid_in(&project, "faults.hang", "child.pid")
    });
    let output = project.dfm(&["daemon", "stop"]);
    assert!(output.status.success(), "{}", describe(&output));
    wait_for(PATIENCE, "the stopped daemon's task's child to end", || {
        (!is_alive(child)).then_some(())
    });
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn each_python_task_sees_its_own_clients_environment_on_a_shared_interpreter() {
    let original = Original::find();
    let sys_path = original.sys_path();
    let project = project_with("faults", "environ");
    project.start_daemon(&["--pool-size", "1"]);
    let environ_of = |id: &str, env: Value| -> Value {
        let mut client = project.client();
        let mut task = python_task(&project, id, "fault_tasks.Probe", &sys_path);
        task["env"] = env;
        client.submit(task);
        let reply = &client.results(1)[id];
        assert_eq!(reply["result"]["status"], 0, "{reply}");
        let path = project
            .root
            .join(format!("rundir/faults.{id}/environ.json"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("environ.json"))
            .expect("environ.json is JSON")
    };
    let first = environ_of("first", json!({"ONLY_FIRST": "1", "SHARED": "first"}));
    let second = environ_of("second", json!({"SHARED": "second"}));
    assert_eq!(first["ONLY_FIRST"], "1");
    assert_eq!(first["SHARED"], "first");
    assert_eq!(second["SHARED"], "second");
    assert!(
        second.get("ONLY_FIRST").is_none(),
        "the first client's variable leaked"
    );
    // One interpreter ran both.
    let pid = |id: &str| pid_in(&project, &format!("faults.{id}"), "interpreter.pid");
    assert_eq!(pid("first"), pid("second"));
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn a_python_without_the_original_fails_the_task_at_once_saying_what_to_change() {
    let original = Original::find();
    let project = project_with("faults", "nopkg");
    let python = original.bare_venv(&project.root.join("bare-venv"));
    project.configure(&format!("runner:\n  python: {}\n", python.display()));
    project.start_daemon(&["--pool-size", "1"]);
    let mut client = project.client();
    client.submit(python_task(&project, "probe", "fault_tasks.Probe", &[]));
    let reply = &client.results(1)["probe"];
    let result = &reply["result"];
    assert_ne!(result["status"], 0, "{reply}");
    let messages: BTreeSet<String> = result["markers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["msg"].as_str().map(String::from))
        .collect();
    let text = messages.into_iter().collect::<Vec<_>>().join("\n");
    for needed in [
        python.display().to_string(),
        "dv_flow".into(),
        "runner.python".into(),
    ] {
        assert!(text.contains(&needed), "'{needed}' not in: {text}");
    }
    // The worker lives on and runs the next task.
    client.submit(project.task("after", "echo fine"));
    let after = &client.results(1)["after"];
    assert_eq!(after["result"]["status"], 0, "{after}");
    assert_eq!(
        project.status()["workers"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(Path::new(&python).exists());
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn what_dfm_hands_over_matches_the_originals_installed_schema() {
    use dfm_host::flow::original::{PACKAGE, PARAM, TASK, TOP};
    let original = Original::find();
    let schema = original.package_dir().join("share/dv.flow.schema.json");
    let text = std::fs::read_to_string(&schema).expect("the original's schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    let keys = |def: &Value| -> Vec<String> {
        let mut keys: Vec<String> = def["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    let ours = |list: &[&str]| -> Vec<String> {
        let mut list: Vec<String> = list.iter().map(|k| k.to_string()).collect();
        list.sort();
        list
    };
    let mut top: Vec<String> = schema["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(keys)
        .collect();
    top.sort();
    assert_eq!(ours(TOP), top);
    assert_eq!(ours(PACKAGE), keys(&schema["defs"]["PackageDef"]));
    assert_eq!(ours(TASK), keys(&schema["defs"]["TaskDef"]));
    assert_eq!(ours(PARAM), keys(&schema["defs"]["ParamDef"]));
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn our_dfm_hands_what_it_does_not_run_to_the_original_which_uses_our_daemon() {
    let original = Original::find();
    let project = project_with("regress", "handover");
    project.start_daemon(&["--pool-size", "2"]);
    let ours = |args: &[&str]| {
        project
            .command(args)
            .env("PATH", original.activated_path())
            .output()
            .expect("run dfm")
    };
    // A flow with package imports and Python tasks: the original's engine
    // runs it, and its tasks run on our workers.
    let run = ours(&["run", "summary"]);
    assert!(run.status.success(), "{}", describe(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("handing it to dv-flow-mgr"),
        "{}",
        describe(&run)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("Task Summary"));
    let status = project.status();
    assert_eq!(status["completed_tasks"], 6, "{status}");

    // A subcommand dfm does not have: the original's answer, word for word.
    let graph = ours(&["graph", "summary"]);
    let theirs = original
        .command(&project, &["graph", "summary"])
        .output()
        .expect("the original's graph");
    assert!(graph.status.success(), "{}", describe(&graph));
    assert_eq!(graph.stdout, theirs.stdout);
    assert!(String::from_utf8_lossy(&graph.stdout).starts_with("digraph"));
}

/// Issue 26, case 1: a dv-flow-libhdlsim flow as its documentation shows it
/// (`uses: hdlsim.ivl.SimImage`, `top: [tb]`), with one `dfm` on PATH —
/// ours, the original installed behind it. Ours hands the flow to the
/// original's engine (its subset would refuse the list value), whose tasks
/// run on our daemon, and the simulation gives what it gives in-process.
#[ignore = "needs the original, dv-flow-libhdlsim and iverilog: scripts/test-all.sh"]
#[test]
fn one_dfm_on_path_runs_a_library_flow_as_its_docs_show_it() {
    let original = Original::find();
    original.needs(&["dv_flow.libhdlsim"]);
    needs::program("iverilog", &["-V"], "apt-get install iverilog");
    let alone = project_with("hdlsim", "hdlsim-alone");
    let in_process = original.run(&alone, "sim");
    assert!(
        in_process.output.status.success(),
        "{}",
        describe(&in_process.output)
    );

    let project = project_with("hdlsim", "hdlsim-ours");
    project.start_daemon(&["--pool-size", "2"]);
    let mut path = vec![dfm_e2e::bin_dir()];
    path.extend(std::env::split_paths(&original.activated_path()));
    let run = std::process::Command::new("dfm")
        .args(["run", "-u", "log", "sim"])
        .current_dir(&project.root)
        .env("HOME", project.home())
        .env("PATH", std::env::join_paths(path).expect("PATH"))
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .output()
        .expect("run dfm from PATH");
    assert!(run.status.success(), "{}", describe(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("handing it to dv-flow-mgr"),
        "{}",
        describe(&run)
    );
    // Its three leaf tasks ran on our workers.
    assert_eq!(
        project.status()["completed_tasks"],
        3,
        "{}",
        project.status()
    );
    let sim_log = |p: &TestProject| {
        std::fs::read_to_string(p.root.join("rundir/hdl.sim/sim.log")).unwrap_or_default()
    };
    assert!(
        sim_log(&project).contains("tb: count=5"),
        "{}",
        sim_log(&project)
    );
    assert_eq!(sim_log(&project), sim_log(&alone));
}

/// Issue 26, case 3, with the library that found it: dv-flow-libcocotb's
/// Icarus set-up records the interpreter its Python task runs on
/// (`PYGPI_PYTHON_BIN`, cocotb's `sys.executable`). Through dfm's daemon it
/// is the one the client runs on, as the client names it, as in-process.
#[ignore = "needs the original and dv-flow-libcocotb: scripts/test-all.sh"]
#[test]
fn cocotbs_setup_records_the_clients_python_as_in_process() {
    let original = Original::find();
    original.needs(&["dv_flow.libcocotb", "cocotb"]);
    let recorded = |project: &TestProject| -> Value {
        let run = original.run(project, "setup");
        assert!(run.output.status.success(), "{}", describe(&run.output));
        let files = rundir_files(project);
        let exec_data = &files["coco.setup/coco.setup.exec_data.json"];
        dfm_e2e::upstream::worker_decided(exec_data)
    };
    let alone = project_with("cocotb", "coco-alone");
    let in_process = recorded(&alone);
    let ours = project_with("cocotb", "coco-ours1");
    ours.start_daemon(&["--pool-size", "1"]);
    let through_ours = recorded(&ours);
    assert_eq!(ours.status()["completed_tasks"], 1, "{}", ours.status());
    let python = |decided: &Value| {
        decided["output"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|item| item["type"] == "std.Env")
            .map(|env| env["vals"]["PYGPI_PYTHON_BIN"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        python(&in_process),
        json!(original.python().display().to_string())
    );
    assert_eq!(python(&through_ours), python(&in_process));
    assert_eq!(through_ours, in_process);
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn without_the_original_a_handover_says_what_to_install() {
    let original = Original::find();
    let project = project_with("regress", "nohandover");
    let python = original.bare_venv(&project.root.join("bare-venv"));
    project.configure(&format!("runner:\n  python: {}\n", python.display()));
    for args in [&["run", "summary"][..], &["graph", "summary"]] {
        let output = project.dfm(args);
        assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        for needed in [
            "pip install dv-flow-mgr",
            "runner.python",
            &python.display().to_string(),
        ] {
            assert!(stderr.contains(needed), "'{needed}' not in {stderr}");
        }
    }
}
