//! The `slurm` runner against a real SLURM (`scripts/slurm-up.sh` starts a
//! one-node cluster; `scripts/test-all.sh` does so). The tests are ignored
//! unless asked for (`--include-ignored`); asked for without a working
//! `sinfo`, they fail.

use std::process::Command;

use dfm_e2e::cluster::{self, Scheduler};
use dfm_e2e::slurm::{license_workers_wait, Slurm};
use dfm_e2e::{describe, needs, TestProject};

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
    // Each line is `TASK JOB`.
    let jobs: Vec<String> = cluster::lines(&project.root.join("long_jobs"))
        .iter()
        .filter_map(|line| line.split_whitespace().nth(1).map(str::to_string))
        .collect();
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
    license_workers_wait(&Slurm, &TestProject::new("slurm-seat"));
}
