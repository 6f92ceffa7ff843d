//! The `slurm` runner with `launch: srun` against a real SLURM
//! (`scripts/slurm-up.sh`): each worker a job of its own under an `srun`
//! on the daemon's host, known to dfm by a unique job name. Ignored unless
//! asked for (`--include-ignored`); asked for without a working `sinfo`,
//! they fail.

use dfm_e2e::cluster::{self, dfm, lines, write_flow, Scheduler, LONG};
use dfm_e2e::slurm::{license_workers_wait, SlurmSrun, SLURM_SRUN};
use dfm_e2e::{describe, needs, processes_matching, wait_for, TestProject};

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn each_worker_runs_under_an_srun_of_its_own_even_from_an_allocation_and_stop_leaves_none() {
    needs::slurm();
    let project = TestProject::new("srun-flow");
    let names: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    let mut tasks = String::new();
    for name in &names {
        tasks.push_str(&format!(
            "  - name: {name}\n    run: 'echo \"$DFM_TASK_NAME $SLURM_JOB_NAME $SLURM_JOB_ID\" >> ../../trace'\n"
        ));
    }
    tasks.push_str(&format!(
        "  - root: all\n    needs: [{}]\n",
        names.join(", ")
    ));
    write_flow(&project, &tasks);
    let slurm = &SlurmSrun {
        in_allocation: true,
    };
    let yaml = slurm.runner_yaml(&project).replace(
        "{poll_interval: 0.2}",
        "{poll_interval: 0.2, min_workers: 3}",
    );
    cluster::start_with(slurm, &project, 3, &yaml);

    let run = dfm(slurm, &project, &["run", "all", "-u", "log"]);
    assert!(run.status.success(), "first run: {}", describe(&run));
    let trace = lines(&project.root.join("trace"));
    assert_eq!(trace.len(), 12, "{trace:?}");
    let jobs = wait_for(LONG, "the pool's workers registered", || {
        let jobs = cluster::worker_jobs(&project);
        (jobs.len() == 3).then_some(jobs)
    });
    for line in &trace {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 3, "the task ran in a SLURM job: {line}");
        assert!(jobs.iter().any(|j| j == fields[1]), "{jobs:?}: {line}");
    }
    let mut live = slurm.live_jobs(&jobs);
    live.sort();
    let mut expected = jobs.clone();
    expected.sort();
    assert_eq!(live, expected, "each worker is a job SLURM shows");
    for job in &jobs {
        assert!(
            !processes_matching(job).is_empty(),
            "{job}'s srun runs here"
        );
    }
    let calls = slurm.submissions(&project);
    assert_eq!(calls.len(), 3, "an srun per worker: {calls:?}");
    let secret = project.daemon_state()["secret"]
        .as_str()
        .expect("secret in daemon.json")
        .to_string();
    assert!(
        calls.iter().all(|call| !call.contains(&secret)),
        "the secret is on an srun command line: {calls:?}"
    );

    let rerun = dfm(slurm, &project, &["run", "all", "-u", "log", "--clean"]);
    assert!(rerun.status.success(), "second run: {}", describe(&rerun));
    assert_eq!(lines(&project.root.join("trace")).len(), 24);
    assert_eq!(slurm.submissions(&project).len(), 3, "warm workers reused");

    cluster::stop_leaves_no_job(slurm, &project, &jobs);
    for job in &jobs {
        wait_for(LONG, "the worker's srun to end", || {
            processes_matching(job).is_empty().then_some(())
        });
    }
}

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn a_task_whose_srun_job_is_cancelled_runs_again_elsewhere() {
    needs::slurm();
    cluster::killed_worker_task_reruns(&SLURM_SRUN, &TestProject::new("srun-scancel"));
}

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn a_daemon_killed_mid_run_is_replaced_and_adopts_its_sruns() {
    needs::slurm();
    dfm_e2e::crash::killed_daemon_is_replaced_without_a_launch(
        &SLURM_SRUN,
        &TestProject::new("srun-adopt"),
    );
}

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn killing_the_daemon_ends_its_srun_jobs() {
    needs::slurm();
    cluster::killed_daemon_jobs_end(&SLURM_SRUN, &TestProject::new("srun-daemonkill"));
}

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn srun_workers_of_a_license_slurm_counts_wait_for_it_and_status_says_so() {
    needs::slurm();
    license_workers_wait(&SLURM_SRUN, &TestProject::new("srun-seat"));
}
