//! Runs sharing one daemon share its pool: a small run is not held up by
//! a big one submitted first, equal runs take turns, and `--priority`
//! weighs the turns. Each task appends its run's letter to one trace, so
//! the order tasks ended in is what the assertions read.

use std::process::{Child, Stdio};
use std::time::Duration;

use dfm_e2e::{describe, wait_for, TestProject};

const PATIENCE: Duration = Duration::from_secs(120);

/// A flow with, for each (root, letter, count), `count` tasks that each
/// append `letter` to `trace` after `sleep`, and a root needing them all.
fn write_flow(project: &TestProject, runs: &[(&str, char, usize)], sleep: &str) {
    let trace = project.root.join("trace");
    let mut text = String::from("package:\n  name: p\n  tasks:\n");
    for (root, letter, count) in runs {
        let names: Vec<String> = (0..*count).map(|i| format!("{root}{i}")).collect();
        for name in &names {
            text.push_str(&format!(
                "  - name: {name}\n    run: 'sleep {sleep}; echo {letter} >> {}'\n",
                trace.display()
            ));
        }
        text.push_str(&format!(
            "  - root: {root}\n    needs: [{}]\n",
            names.join(", ")
        ));
    }
    std::fs::write(project.root.join("flow.dv"), text).expect("write flow.dv");
}

fn trace(project: &TestProject) -> String {
    std::fs::read_to_string(project.root.join("trace"))
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}

fn spawn_run(project: &TestProject, args: &[&str]) -> Child {
    let mut full = vec!["run", "-u", "log"];
    full.extend_from_slice(args);
    project
        .command(&full)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dfm run")
}

fn finish(run: Child) {
    let output = run.wait_with_output().expect("wait for dfm run");
    assert!(output.status.success(), "{}", describe(&output));
}

#[test]
fn a_small_run_started_after_a_big_one_is_not_held_up_by_it() {
    let project = TestProject::new("fair-small");
    write_flow(&project, &[("big", 'b', 2000), ("small", 's', 5)], "0.02");
    project.start_daemon(&["--pool-size", "2"]);
    let big = spawn_run(&project, &["big", "-j", "2000"]);
    // The big run is well under way, with most of it queued.
    wait_for(PATIENCE, "the big run to get going", || {
        (trace(&project).len() >= 50).then_some(())
    });
    // All five of the small run's tasks are submitted at once (-j 5): from
    // the first one's end, the other four wait in its client's line, and
    // taking turns, each waits for about one of the big run's. First come,
    // first served would let the 1950 queued ones end first. (Counted from
    // the first small task, not from the submit: how long `dfm run` takes
    // to start is the machine's, not the pool's.)
    finish(spawn_run(&project, &["small", "-j", "5"]));
    let seen = trace(&project);
    let first_small = seen.find('s').expect("the small run's tasks ran");
    let last_small = seen.rfind('s').expect("the small run's tasks ran");
    let big_meanwhile = seen[first_small..last_small].matches('b').count();
    assert_eq!(seen.matches('s').count(), 5, "{seen}");
    assert!(
        big_meanwhile <= 10,
        "{big_meanwhile} of the big run's tasks ended while the small run's last 4 waited: {seen}"
    );
    assert!(
        seen.matches('b').count() < 1990,
        "the small run ended only as the big one did"
    );
    finish(big);
    assert_eq!(trace(&project).matches('b').count(), 2000);
}

/// Of the tasks that ended while both runs had tasks left, how many were
/// the first run's per task of the second's.
fn share(seen: &str, first: char, second: char) -> f64 {
    let until = seen
        .rfind(first)
        .min(seen.rfind(second))
        .unwrap_or_default();
    let window = &seen[..until];
    // The start, before both runs had tasks waiting, does not count.
    let window = &window[window.len().min(20)..];
    window.matches(first).count() as f64 / window.matches(second).count().max(1) as f64
}

#[test]
fn two_equal_runs_take_turns_and_priority_weighs_them() {
    let project = TestProject::new("fair-turns");
    write_flow(
        &project,
        &[
            ("a", 'a', 200),
            ("b", 'b', 200),
            ("c", 'c', 300),
            ("d", 'd', 100),
        ],
        "0.01",
    );
    project.start_daemon(&["--pool-size", "2"]);
    let a = spawn_run(&project, &["a", "-j", "200"]);
    let b = spawn_run(&project, &["b", "-j", "200"]);
    finish(a);
    finish(b);
    let equal = share(&trace(&project), 'a', 'b');
    assert!((0.7..=1.4).contains(&equal), "a:b = {equal:.2}, not 1:1");

    std::fs::remove_file(project.root.join("trace")).expect("clear the trace");
    let c = spawn_run(&project, &["c", "-j", "300", "--priority", "3"]);
    let d = spawn_run(&project, &["d", "-j", "100"]);
    finish(c);
    finish(d);
    let weighted = share(&trace(&project), 'c', 'd');
    assert!(
        (2.2..=4.0).contains(&weighted),
        "c:d = {weighted:.2}, not 3:1"
    );
}

#[test]
fn status_shows_what_each_client_has_in_the_pool() {
    let project = TestProject::new("fair-status");
    write_flow(&project, &[("slow", 'x', 6)], "30");
    project.start_daemon(&["--pool-size", "2"]);
    let run = spawn_run(&project, &["slow", "-j", "6"]);
    let status = wait_for(PATIENCE, "the run's tasks in the pool", || {
        let status = project.status();
        let clients = status["clients"].as_array()?.clone();
        let busy = clients.iter().any(|c| c["running"] == 2);
        busy.then_some(status)
    });
    let clients = status["clients"].as_array().expect("clients");
    assert_eq!(clients.len(), 1, "{status}");
    let client = &clients[0];
    let waiting = client["queued"].as_u64().unwrap_or(0) + client["held"].as_u64().unwrap_or(0);
    assert_eq!(waiting, 4, "{client}");
    assert_eq!(
        client["pid"].as_u64(),
        Some(u64::from(run.id())),
        "{client}"
    );
    let text = project.dfm(&["daemon", "status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("CLIENT") && text.contains("QUEUED"), "{text}");
    let stop = project.dfm(&["daemon", "stop"]);
    assert!(stop.status.success(), "{}", describe(&stop));
    let _ = run.wait_with_output();
}
