//! The `sge` runner against a real Grid Engine (`scripts/sge-up.sh` starts
//! a one-node cell of Debian's Son of Grid Engine; `scripts/test-all.sh`
//! does so): the SLURM runner's checks, on Grid Engine. The tests are
//! ignored unless asked for (`--include-ignored`); asked for without a
//! working `qstat`, they fail.

use std::process::Command;

use dfm_e2e::cluster::{self, write_script, Scheduler};
use dfm_e2e::{describe, needs, TestProject};

struct GridEngine;

impl Scheduler for GridEngine {
    fn runner(&self) -> &str {
        "sge"
    }

    fn runner_yaml(&self, project: &TestProject) -> String {
        let log = project.root.join("qsub.calls");
        let wrapper = write_script(
            &project.root,
            "qsub-counting",
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec qsub \"$@\"\n",
                log.display()
            ),
        );
        // h_vmem is a limit on virtual memory (`ulimit -v`): a worker's
        // threads reserve more than they use.
        format!(
            "runner:\n  sge: {{qsub_cmd: '{}', parallel_environment: smp}}\n  defaults: {{cores: 1, memory: 4G, walltime: '0:10'}}\n  pool: {{poll_interval: 0.2}}\n",
            wrapper.display()
        )
    }

    fn submissions(&self, project: &TestProject) -> Vec<String> {
        std::fs::read_to_string(project.root.join("qsub.calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn live_jobs(&self, ids: &[String]) -> Vec<String> {
        if ids.is_empty() {
            return Vec::new();
        }
        let output = Command::new("qstat")
            .arg("-xml")
            .output()
            .expect("run qstat");
        let xml = String::from_utf8_lossy(&output.stdout);
        // An element `12.3` is live while its job `12` is listed.
        ids.iter()
            .filter(|id| {
                let job = id.split('.').next().unwrap_or(id);
                xml.contains(&format!("<JB_job_number>{job}</JB_job_number>"))
            })
            .cloned()
            .collect()
    }

    fn kill_job(&self, id: &str) {
        let status = Command::new("qdel").arg(id).status().expect("run qdel");
        assert!(status.success(), "qdel {id}: {status}");
    }
}

#[ignore = "needs Grid Engine: scripts/sge-up.sh, as root"]
#[test]
fn a_flow_runs_on_warm_grid_engine_jobs_launched_as_one_array_and_deleted_on_stop() {
    needs::grid_engine();
    let project = TestProject::new("sge-flow");
    cluster::flow_reuse_and_stop(&GridEngine, &project, 8);
    let submitted = GridEngine.submissions(&project);
    assert!(
        submitted.iter().any(|call| call.contains(" -t 1-")),
        "the pool was launched as a job array: {submitted:?}"
    );
    assert!(
        submitted
            .iter()
            .all(|call| !call.contains("DFM_WORKER_SECRET=")),
        "the secret goes by name (-v NAME), never by value: {submitted:?}"
    );
}

#[ignore = "needs Grid Engine: scripts/sge-up.sh, as root"]
#[test]
fn a_task_whose_grid_engine_job_is_deleted_runs_again_elsewhere() {
    needs::grid_engine();
    cluster::killed_worker_task_reruns(&GridEngine, &TestProject::new("sge-qdel"));
}

#[ignore = "needs Grid Engine: scripts/sge-up.sh, as root"]
#[test]
fn a_daemon_killed_mid_run_is_replaced_and_adopts_its_grid_engine_jobs() {
    needs::grid_engine();
    dfm_e2e::crash::killed_daemon_is_replaced_without_a_launch(
        &GridEngine,
        &TestProject::new("sge-adopt"),
    );
}

#[ignore = "needs Grid Engine: scripts/sge-up.sh, as root"]
#[test]
fn killing_the_daemon_ends_its_grid_engine_jobs() {
    needs::grid_engine();
    cluster::killed_daemon_jobs_end(&GridEngine, &TestProject::new("sge-daemonkill"));
}

/// A `qsub` Grid Engine refuses (a queue it does not have) fails the run
/// with Grid Engine's own words.
#[ignore = "needs Grid Engine: scripts/sge-up.sh, as root"]
#[test]
fn a_refused_qsub_fails_the_run_with_grid_engines_message() {
    needs::grid_engine();
    let project = TestProject::new("sge-refused");
    cluster::write_flow(&project, "  - root: a\n    run: 'true'\n");
    let yaml = GridEngine.runner_yaml(&project).replace(
        "parallel_environment: smp",
        "parallel_environment: smp, queue: nosuch.q",
    );
    project.configure(&yaml);
    let output = cluster::dfm(
        &GridEngine,
        &project,
        &["run", "a", "--runner", "sge", "-u", "log"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let said = describe(&output);
    assert!(said.contains("nosuch.q"), "Grid Engine's message: {said}");
}

/// One-minute workers (`h_rt`) under a stream of tasks longer than that:
/// each is drained and replaced before Grid Engine's limit, so every task
/// runs once and no job ends killed at its limit (qacct's `failed 37`).
#[ignore = "needs Grid Engine: scripts/sge-up.sh, as root"]
#[test]
fn grid_engine_workers_near_their_h_rt_are_drained_and_replaced_and_no_task_is_killed() {
    needs::grid_engine();
    let project = TestProject::new("sge-drain");
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
    let yaml = GridEngine
        .runner_yaml(&project)
        .replace("walltime: '0:10'", "walltime: '0:01'")
        .replace(
            "pool: {poll_interval: 0.2}",
            "pool: {poll_interval: 0.2, walltime_margin: 2, default_task_duration: 1}",
        );
    cluster::start_with(&GridEngine, &project, 2, &yaml);
    let run = cluster::dfm(
        &GridEngine,
        &project,
        &["run", "all", "-u", "log", "-j", "4"],
    );
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
    let mut all = cluster::worker_jobs(&project);
    all.extend(jobs.clone());
    cluster::stop_leaves_no_job(&GridEngine, &project, &all);
    for job in &jobs {
        let acct = qacct(job);
        assert!(
            !acct
                .lines()
                .any(|l| l.starts_with("failed") && l.contains("37")),
            "job {job} reached its h_rt: {acct}"
        );
    }
}

/// A task cut off by its worker's `h_rt`: Grid Engine kills the job
/// (qacct: `failed 37`), and the task runs again on a fresh worker without
/// using up an attempt (one allowed here).
#[ignore = "needs Grid Engine: scripts/sge-up.sh, as root"]
#[test]
fn a_task_cut_off_by_its_jobs_h_rt_runs_again_without_using_an_attempt() {
    needs::grid_engine();
    let project = TestProject::new("sge-runlimit");
    // The first task fills most of a one-minute job; the second starts
    // with 20 s left and, the first time, would need 100.
    cluster::write_flow(
        &project,
        concat!(
            "  - name: warm\n    run: 'sleep 40'\n  - root: victim\n    needs: [warm]\n    run: |\n      ",
            r#"echo "$JOB_ID.$SGE_TASK_ID" >> ../../attempts
      if [ "$(wc -l < ../../attempts)" -eq 1 ]; then sleep 100; fi
"#
        ),
    );
    let yaml = GridEngine
        .runner_yaml(&project)
        .replace("walltime: '0:10'", "walltime: '0:01'")
        .replace(
            "pool: {poll_interval: 0.2}",
            "pool: {poll_interval: 0.2, max_task_attempts: 1, walltime_margin: 1, default_task_duration: 1}",
        );
    cluster::start_with(&GridEngine, &project, 1, &yaml);
    let run = cluster::dfm(&GridEngine, &project, &["run", "victim", "-u", "log"]);
    assert!(run.status.success(), "{}", describe(&run));
    let attempts = cluster::lines(&project.root.join("attempts"));
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_ne!(attempts[0], attempts[1], "the re-run went to another job");
    let job = attempts[0].trim_end_matches(".undefined");
    let acct = qacct(job);
    assert!(
        acct.lines()
            .any(|l| l.starts_with("failed") && l.contains("37")),
        "job {job} was ended at its h_rt: {acct}"
    );
    let jobs = cluster::worker_jobs(&project);
    cluster::stop_leaves_no_job(&GridEngine, &project, &jobs);
}

/// What `qacct` says of `job` (`JOB_ID` or `JOB_ID.TASK_ID`).
fn qacct(job: &str) -> String {
    let (id, task) = job.split_once('.').unwrap_or((job, ""));
    let mut args = vec!["-j", id];
    if !task.is_empty() {
        args.extend(["-t", task]);
    }
    let acct = Command::new("qacct")
        .args(&args)
        .output()
        .expect("run qacct");
    String::from_utf8_lossy(&acct.stdout).into_owned()
}
