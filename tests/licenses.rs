//! Licenses through the real daemon: a licensed class never runs more
//! tasks at once than its count, measured from the tasks' own stamps; and
//! a license query (a stand-in printing FlexLM's `lmstat` lines from a file
//! the test rewrites) shrinks and grows what dfm may use as others take and
//! give back tokens.

use std::time::Duration;

use dfm_e2e::{describe, wait_for, TestProject};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(120);

/// A task of class `sim` that stamps `S` as it starts and `E` as it ends,
/// in `stamps` at the project's root, and runs `middle` between.
fn sim_task(project: &TestProject, id: &str, middle: &str) -> Value {
    let stamps = project.root.join("stamps");
    let mut task = project.task(
        id,
        &format!(
            "echo S >> '{s}'; {middle}; echo E >> '{s}'",
            s = stamps.display()
        ),
    );
    task["resource_class"] = json!("sim");
    task
}

/// The most tasks that ran at once, by their stamps, and how many started.
fn most_at_once(project: &TestProject) -> (usize, usize) {
    let stamps = std::fs::read_to_string(project.root.join("stamps")).unwrap_or_default();
    let (mut running, mut most, mut started) = (0usize, 0usize, 0usize);
    for stamp in stamps.split_whitespace() {
        if stamp == "S" {
            running += 1;
            started += 1;
            most = most.max(running);
        } else {
            running = running.saturating_sub(1);
        }
    }
    (most, started)
}

fn license(status: &Value) -> Value {
    status["licenses"][0].clone()
}

#[test]
fn a_licensed_class_never_runs_more_tasks_at_once_than_its_count() {
    let project = TestProject::new("lic-count");
    project.configure(
        "runner:\n  licenses: {vcs: {count: 3}}\n  resource_classes: {sim: {licenses: {vcs: 1}}}\n",
    );
    project.start_daemon(&["--pool-size", "6"]);
    let runs: Vec<_> = (0..2)
        .map(|c| {
            let mut client = project.client();
            let tasks: Vec<Value> = (0..15)
                .map(|i| sim_task(&project, &format!("c{c}-{i}"), "sleep 0.3"))
                .collect();
            std::thread::spawn(move || {
                for task in tasks {
                    client.submit(task);
                }
                client.results(15)
            })
        })
        .collect();
    let seen = wait_for(LONG, "tasks to wait for the license", || {
        let status = project.status();
        (license(&status)["waiting"].as_u64() > Some(0)).then_some(status)
    });
    let vcs = license(&seen);
    assert_eq!(vcs["count"], 3, "{vcs}");
    assert!(vcs["in_use"].as_u64() <= Some(3), "{vcs}");
    let text = project.dfm(&["daemon", "status"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("LICENSE"),
        "{}",
        describe(&text)
    );
    for run in runs {
        let results = run.join().expect("client");
        assert!(results.values().all(|r| r["result"]["status"] == 0));
    }
    let (most, started) = most_at_once(&project);
    assert_eq!(started, 30);
    assert_eq!(most, 3, "at most 3 at once, and the pool used all 3");
    // No worker was started for tasks that waited only for the license.
    let status = project.status();
    assert!(status["counts"]["total"].as_u64() <= Some(3), "{status}");
    assert_eq!(license(&status)["in_use"], 0);
}

/// The stand-in's report: `in_use` of 5 VCSRuntime_Net licenses in use.
fn report(project: &TestProject, in_use: u32) {
    let text = format!(
        "lmutil - Copyright (c) 1989-2019 Flexera.\n\
         Users of VCSRuntime_Net:  (Total of 5 licenses issued;  Total of {in_use} licenses in use)\n"
    );
    let path = project.root.join("lmstat.txt");
    let partial = project.root.join("lmstat.txt.new");
    std::fs::write(&partial, text).expect("write the report");
    std::fs::rename(partial, path).expect("replace the report");
}

#[test]
fn licenses_others_hold_are_left_to_them() {
    let project = TestProject::new("lic-query");
    report(&project, 3);
    project.configure(&format!(
        "runner:\n  licenses:\n    vcs: {{count: 5, query: \"cat '{}'\", feature: VCSRuntime_Net, poll: 0.1}}\n  resource_classes: {{sim: {{licenses: {{vcs: 1}}}}}}\n",
        project.root.join("lmstat.txt").display()
    ));
    project.start_daemon(&["--pool-size", "6"]);
    let go = project.root.join("go");
    let hold = format!("while [ ! -e '{}' ]; do sleep 0.05; done", go.display());
    let mut client = project.client();
    for i in 0..8 {
        client.submit(sim_task(&project, &format!("t{i}"), &hold));
    }
    // Others hold 3 of 5: two for dfm.
    wait_for(LONG, "two tasks running on the two free tokens", || {
        let vcs = license(&project.status());
        (vcs["in_use"] == 2 && vcs["others"] == 3).then_some(())
    });
    // Others take the rest (7 in use, 2 of them dfm's): none left.
    report(&project, 7);
    wait_for(LONG, "the query to leave dfm nothing", || {
        (license(&project.status())["allowed"] == 0).then_some(())
    });
    std::fs::write(&go, "").expect("let the tasks end");
    let first: Vec<Value> = (0..2).map(|_| client.recv()).collect();
    assert!(
        first.iter().all(|r| r["result"]["status"] == 0),
        "{first:?}"
    );
    report(&project, 5);
    wait_for(LONG, "the query to see dfm's tokens given back", || {
        let vcs = license(&project.status());
        (vcs["in_use"] == 0 && vcs["others"] == 5).then_some(())
    });
    assert_eq!(most_at_once(&project).1, 2, "nothing new started");
    // Others give all back: the rest run, at most 5 at once.
    report(&project, 0);
    let rest: Vec<Value> = (0..6).map(|_| client.recv()).collect();
    assert!(rest.iter().all(|r| r["result"]["status"] == 0), "{rest:?}");
    let (most, started) = most_at_once(&project);
    assert_eq!(started, 8);
    assert!(most <= 5, "{most} at once");
}

#[test]
fn a_task_told_its_license_is_unavailable_runs_again_after_the_next_query() {
    let project = TestProject::new("lic-retry");
    report(&project, 0);
    project.configure(&format!(
        "runner:\n  licenses:\n    retry_exit_codes: [9]\n    vcs: {{count: 2, query: \"cat '{}'\", feature: VCSRuntime_Net, poll: 0.1}}\n  resource_classes: {{sim: {{licenses: {{vcs: 1}}}}}}\n",
        project.root.join("lmstat.txt").display()
    ));
    project.start_daemon(&["--pool-size", "2"]);
    // The first checkout fails (exit 9, as the site's wrapper says); the
    // second works.
    let tried = project.root.join("tried");
    let mut client = project.client();
    client.submit(sim_task(
        &project,
        "t",
        &format!(
            "if [ ! -e '{t}' ]; then touch '{t}'; echo E >> '{s}'; exit 9; fi",
            t = tried.display(),
            s = project.root.join("stamps").display()
        ),
    ));
    let reply = client.recv();
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    assert_eq!(most_at_once(&project).1, 2, "it ran twice");
}

/// dfm's own flow: `licenses` in a task's `std.ResourceTag`.
#[test]
fn a_flows_tasks_hold_the_licenses_their_resource_tag_names() {
    let project = TestProject::new("lic-flow");
    project.configure("runner:\n  licenses: {vcs: {count: 1}}\n");
    let stamps = project.root.join("stamps");
    let mut tasks = String::new();
    for i in 0..4 {
        tasks.push_str(&format!(
            "  - name: s{i}\n    run: echo S >> '{s}'; sleep 0.6; echo E >> '{s}'\n    tags: [{{std.ResourceTag: {{licenses: {{vcs: 1}}}}}}]\n",
            s = stamps.display()
        ));
    }
    tasks.push_str("  - root: all\n    needs: [s0, s1, s2, s3]\n    run: 'true'\n");
    std::fs::write(
        project.root.join("flow.dv"),
        format!("package:\n  name: p\n  tasks:\n{tasks}"),
    )
    .expect("write flow.dv");
    project.start_daemon(&["--pool-size", "4"]);
    let run = project.dfm(&["run", "all", "-j", "4", "-u", "log"]);
    assert!(run.status.success(), "{}", describe(&run));
    let (most, started) = most_at_once(&project);
    assert_eq!(started, 4);
    assert_eq!(most, 1, "one vcs token: one at a time");
    // 2.4 s of tasks one at a time: at dfm run's first look (after 1 s),
    // some wait for the token, and it says so.
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        said.contains("dfm: tasks wait for licenses: vcs 1/1 in use"),
        "{said}"
    );
}
