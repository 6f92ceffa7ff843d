//! The `slurm` runner against a real SLURM (`scripts/slurm-up.sh` starts a
//! one-node cluster; `scripts/test-all.sh` does so). The tests are ignored
//! unless asked for (`--include-ignored`); asked for without a working
//! `sinfo`, they fail.

use std::process::Command;

use dfm_e2e::cluster::{self, write_script, Scheduler};
use dfm_e2e::{describe, needs, TestProject};

struct Slurm;

impl Scheduler for Slurm {
    fn runner(&self) -> &str {
        "slurm"
    }

    fn runner_yaml(&self, project: &TestProject) -> String {
        let log = project.root.join("sbatch.calls");
        let wrapper = write_script(
            &project.root,
            "sbatch-counting",
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec sbatch \"$@\"\n",
                log.display()
            ),
        );
        format!(
            "runner:\n  slurm: {{sbatch_cmd: '{}', partition: debug}}\n  defaults: {{cores: 1, memory: 100M, walltime: '0:10'}}\n  pool: {{poll_interval: 0.2}}\n",
            wrapper.display()
        )
    }

    fn submissions(&self, project: &TestProject) -> Vec<String> {
        std::fs::read_to_string(project.root.join("sbatch.calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn live_jobs(&self, ids: &[String]) -> Vec<String> {
        if ids.is_empty() {
            return Vec::new();
        }
        // Without `-t all`: only jobs not yet finished.
        let output = Command::new("squeue")
            .args(["-h", "-j", &ids.join(","), "-o", "%i"])
            .output()
            .expect("run squeue");
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    fn kill_job(&self, id: &str) {
        let status = Command::new("scancel")
            .arg(id)
            .status()
            .expect("run scancel");
        assert!(status.success(), "scancel {id}: {status}");
    }
}

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn a_flow_runs_on_warm_slurm_jobs_which_are_reused_and_cancelled_on_stop() {
    needs::slurm();
    cluster::flow_reuse_and_stop(&Slurm, &TestProject::new("slurm-flow"), 8);
}

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn a_task_whose_slurm_job_is_cancelled_runs_again_elsewhere() {
    needs::slurm();
    cluster::killed_worker_task_reruns(&Slurm, &TestProject::new("slurm-scancel"));
}

#[ignore = "needs SLURM and the original: scripts/test-all.sh"]
#[test]
fn the_originals_flow_runs_on_slurm_jobs_as_in_process() {
    let original = dfm_e2e::upstream::Original::find();
    needs::slurm();
    let project = TestProject::new("slurm-orig-b");
    let alone = TestProject::new("slurm-orig-a");
    cluster::originals_flow(&Slurm, &project, &alone, &original);
}

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn a_daemon_killed_mid_run_is_replaced_and_adopts_its_slurm_jobs() {
    needs::slurm();
    dfm_e2e::crash::killed_daemon_is_replaced_without_a_launch(
        &Slurm,
        &TestProject::new("slurm-adopt"),
    );
}

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn killing_the_daemon_ends_its_slurm_jobs() {
    needs::slurm();
    cluster::killed_daemon_jobs_end(&Slurm, &TestProject::new("slurm-daemonkill"));
}

/// The slurm runner's configuration for `project`, its workers' walltime
/// set to `walltime`, with `pool` settings added.
fn with_walltime(project: &TestProject, walltime: &str, pool: &str) -> String {
    Slurm
        .runner_yaml(project)
        .replace("walltime: '0:10'", &format!("walltime: '{walltime}'"))
        .replace(
            "pool: {poll_interval: 0.2}",
            &format!("pool: {{poll_interval: 0.2, {pool}}}"),
        )
}

/// SLURM's state of each of `jobs` (`12`, `12_3`), finished ones included.
fn final_states(jobs: &[String]) -> Vec<String> {
    let output = Command::new("squeue")
        .args([
            "-h",
            "-r",
            "-t",
            "all",
            "-j",
            &jobs.join(","),
            "-o",
            "%i %T",
        ])
        .output()
        .expect("run squeue");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// One-minute workers under a stream of tasks longer than that: each is
/// drained and replaced before SLURM's limit, so every task runs once and
/// no job ends in TIMEOUT.
#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn workers_near_their_walltime_are_drained_and_replaced_and_no_task_is_killed() {
    needs::slurm();
    let project = TestProject::new("slurm-drain");
    let mut tasks = String::new();
    let names: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
    for name in &names {
        tasks.push_str(&format!(
            "  - name: {name}\n    run: 'sleep 0.5; {}'\n",
            cluster::RECORD_JOB
        ));
    }
    tasks.push_str(&format!(
        "  - root: all\n    needs: [{}]\n",
        names.join(", ")
    ));
    cluster::write_flow(&project, &tasks);
    let yaml = with_walltime(
        &project,
        "0:01",
        "walltime_margin: 2, default_task_duration: 1",
    );
    cluster::start_with(&Slurm, &project, 2, &yaml);
    let run = cluster::dfm(&Slurm, &project, &["run", "all", "-u", "log", "-j", "4"]);
    assert!(run.status.success(), "{}", describe(&run));
    let trace = cluster::lines(&project.root.join("trace"));
    assert_eq!(trace.len(), 300, "every task ran exactly once");
    let mut jobs: Vec<String> = trace
        .iter()
        .filter_map(|line| line.split_whitespace().nth(1).map(str::to_string))
        .collect();
    jobs.sort();
    jobs.dedup();
    assert!(jobs.len() > 2, "workers were replaced: {jobs:?}");
    let states = final_states(&jobs);
    assert!(
        !states.iter().any(|line| line.contains("TIMEOUT")),
        "a job reached its limit: {states:?}"
    );
    let mut all = cluster::worker_jobs(&project);
    all.extend(jobs);
    cluster::stop_leaves_no_job(&Slurm, &project, &all);
}

/// A task that took 25 s before is kept off a worker with less than that
/// (and the margin) left, though that worker is idle and not draining:
/// it runs on a fresh one instead of into SLURM's limit.
#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn a_long_task_is_kept_off_a_worker_near_its_end_by_what_it_took_before() {
    needs::slurm();
    let project = TestProject::new("slurm-learned");
    cluster::write_flow(
        &project,
        &format!(
            "  - root: long\n    run: '{}; sleep 25'\n",
            cluster::RECORD_JOB.replace("../../trace", "../../long_jobs")
        ),
    );
    let yaml = with_walltime(
        &project,
        "0:01",
        "walltime_margin: 5, default_task_duration: 1, idle_timeout: 600",
    );
    cluster::start_with(&Slurm, &project, 2, &yaml);
    let first_started = std::time::Instant::now();
    let first = cluster::dfm(&Slurm, &project, &["run", "long", "-u", "log"]);
    assert!(first.status.success(), "{}", describe(&first));
    // 36 s after the first run began its worker has about 25 s left: more
    // than drain_before (a quarter of the walltime), less than 25 s + 5.
    let wake = first_started + std::time::Duration::from_secs(36);
    std::thread::sleep(wake.saturating_duration_since(std::time::Instant::now()));
    let again = cluster::dfm(&Slurm, &project, &["run", "long", "-u", "log", "--clean"]);
    assert!(again.status.success(), "{}", describe(&again));
    let jobs = cluster::lines(&project.root.join("long_jobs"));
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_ne!(
        jobs[0], jobs[1],
        "the second run went to the worker near its end"
    );
    let mut all = cluster::worker_jobs(&project);
    all.extend(jobs);
    cluster::stop_leaves_no_job(&Slurm, &project, &all);
}

/// A license SLURM holds for each worker job (`license_scope: worker`;
/// `Licenses=sim_seat:2` in the test cluster's slurm.conf): of the class's
/// 4 workers, 2 run and 2 wait for the license, dfm's status says so (per
/// worker, SLURM's reason; per license, 2 held and 2 workers waiting), and
/// every task passes on the 2 that run.
#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn workers_of_a_license_slurm_counts_run_only_as_many_as_it_has() {
    needs::slurm();
    let licenses = Command::new("scontrol")
        .args(["show", "licenses"])
        .output()
        .expect("run scontrol");
    assert!(
        String::from_utf8_lossy(&licenses.stdout).contains("sim_seat"),
        "the test cluster has no sim_seat license: restart it with this checkout's scripts/slurm-up.sh"
    );
    let project = TestProject::new("slurm-seat");
    let yaml = format!(
        "{}  resource_classes: {{seat: {{licenses: {{sim_seat: 1}}, license_scope: worker}}}}\n",
        Slurm.runner_yaml(&project)
    );
    cluster::start_with(&Slurm, &project, 4, &yaml);
    let go = project.root.join("go");
    let mut client = project.client();
    for i in 0..8 {
        let mut task = project.task(
            &format!("t{i}"),
            &format!("while [ ! -e '{}' ]; do sleep 0.1; done", go.display()),
        );
        task["resource_class"] = serde_json::json!("seat");
        client.submit(task);
    }
    let seen = dfm_e2e::wait_for(
        cluster::LONG,
        "2 workers running, 2 waiting for the license",
        || {
            // This daemon's worker jobs, by the names it submitted them under.
            let names: Vec<String> = Slurm
                .submissions(&project)
                .iter()
                .filter_map(|call| {
                    let words: Vec<&str> = call.split_whitespace().collect();
                    let at = words.iter().position(|w| *w == "-J")?;
                    words.get(at + 1).map(|name| name.to_string())
                })
                .collect();
            if names.is_empty() {
                return None;
            }
            let output = Command::new("squeue")
                .args(["-h", "-r", "-n", &names.join(","), "-o", "%j %T %r"])
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&output.stdout).to_string();
            let ours: Vec<&str> = text.lines().collect();
            let running = ours.iter().filter(|l| l.contains(" RUNNING ")).count();
            let waiting = ours
                .iter()
                .filter(|l| l.contains(" PENDING ") && l.contains("Licenses"))
                .count();
            (running == 2 && waiting == 2).then_some(text)
        },
    );
    eprintln!("{seen}");
    let status = dfm_e2e::wait_for(
        cluster::LONG,
        "dfm's status: 2 workers hold sim_seat, 2 wait for it",
        || {
            let status = project.status();
            let seat = status["worker_licenses"]
                .as_array()?
                .iter()
                .find(|l| l["name"] == "sim_seat")?
                .clone();
            (seat["workers_holding"] == 2 && seat["workers_waiting"] == 2).then_some(status)
        },
    );
    let workers = status["workers"].as_array().expect("workers");
    let waiting: Vec<&serde_json::Value> = workers
        .iter()
        .filter(|w| w["pending_reason"] == "Licenses")
        .collect();
    assert_eq!(waiting.len(), 2, "{status:#}");
    assert!(
        waiting.iter().all(|w| w["state"] == "launching"),
        "{status:#}"
    );
    let text = project.dfm(&["daemon", "status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["sim_seat", "2", "2"]),
        "{text}"
    );
    assert_eq!(text.matches("(pending: Licenses)").count(), 2, "{text}");
    std::fs::write(&go, "").expect("let the tasks end");
    let results = client.results(8);
    assert!(
        results.values().all(|r| r["result"]["status"] == 0),
        "{results:?}"
    );
    let jobs = cluster::worker_jobs(&project);
    cluster::stop_leaves_no_job(&Slurm, &project, &jobs);
}
