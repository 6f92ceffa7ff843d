//! The same end-to-end checks for every batch-scheduler runner (SLURM, LSF):
//! a flow through a warm pool of batch jobs, reuse without new submits, a
//! worker's job killed mid-task, a stop that leaves no job behind, and the
//! original dv-flow-mgr's flows on batch jobs.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::upstream::{assert_worker_decided_same, copy_flow, rundir_files, Original};
use crate::{describe, wait_for, TestProject};

/// Batch jobs start slowly after a scheduler restart; these bound hangs only.
pub const LONG: Duration = Duration::from_secs(180);

/// What the checks need to know about one scheduler.
pub trait Scheduler {
    /// The runner name (`slurm`, `lsf`).
    fn runner(&self) -> &str;
    /// The `runner:` YAML section for `project`; its submit command must
    /// leave one line per submit in [`Scheduler::submissions`].
    fn runner_yaml(&self, project: &TestProject) -> String;
    /// Lines of the submit log: one per job submitted for `project`.
    fn submissions(&self, project: &TestProject) -> Vec<String>;
    /// Environment for `dfm` commands (and so for the daemon).
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Those of `ids` the scheduler still has queued or running.
    fn live_jobs(&self, ids: &[String]) -> Vec<String>;
    /// Kills a job the way a user or admin would.
    fn kill_job(&self, id: &str);
}

/// Runs `dfm ARGS` in `project` with the scheduler's environment.
pub fn dfm(scheduler: &dyn Scheduler, project: &TestProject, args: &[&str]) -> Output {
    let mut command = project.command(args);
    command.envs(scheduler.env());
    command.output().expect("run dfm")
}

pub fn spawn_dfm(
    scheduler: &dyn Scheduler,
    project: &TestProject,
    args: &[&str],
) -> std::process::Child {
    let mut command = project.command(args);
    command
        .envs(scheduler.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("spawn dfm")
}

fn start(scheduler: &dyn Scheduler, project: &TestProject) {
    start_with(scheduler, project, 2, &scheduler.runner_yaml(project));
}

/// Starts the daemon on `scheduler`'s runner with a pool of `pool` and
/// `yaml` as the project's configuration.
pub fn start_with(scheduler: &dyn Scheduler, project: &TestProject, pool: usize, yaml: &str) {
    project.configure(yaml);
    let pool = pool.to_string();
    let output = dfm(
        scheduler,
        project,
        &[
            "daemon",
            "start",
            "--runner",
            scheduler.runner(),
            "--pool-size",
            &pool,
        ],
    );
    assert!(
        output.status.success(),
        "daemon start: {}",
        describe(&output)
    );
}

/// Job ids of the daemon's registered workers.
pub fn worker_jobs(project: &TestProject) -> Vec<String> {
    project.status()["workers"]
        .as_array()
        .map(|workers| {
            workers
                .iter()
                .filter_map(|w| w["job_id"].as_str())
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub fn stop_leaves_no_job(scheduler: &dyn Scheduler, project: &TestProject, jobs: &[String]) {
    let stop = dfm(scheduler, project, &["daemon", "stop"]);
    assert!(stop.status.success(), "daemon stop: {}", describe(&stop));
    wait_for(LONG, "the workers' jobs to leave the queue", || {
        scheduler.live_jobs(jobs).is_empty().then_some(())
    });
}

/// Shell that sets `$job` to the batch job running it: an element of a job
/// array as the scheduler names it (`12_3` on SLURM, `12[3]` on LSF,
/// `12.3` on Grid Engine).
macro_rules! which_job {
    () => {
        r#"job="${SLURM_JOB_ID:-}${LSB_JOBID:-}"; [ -n "${SLURM_ARRAY_TASK_ID:-}" ] && job="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"; [ "${LSB_JOBINDEX:-0}" != 0 ] && job="${LSB_JOBID}[${LSB_JOBINDEX}]"; [ -n "${SGE_TASK_ID:-}" ] && job="${JOB_ID}" && [ "$SGE_TASK_ID" != undefined ] && job="${JOB_ID}.${SGE_TASK_ID}";"#
    };
}

/// A task that records which batch job ran it (see `which_job!`).
pub const RECORD_JOB: &str = concat!(
    which_job!(),
    r#" echo "$DFM_TASK_NAME $job" >> ../../trace"#
);

pub fn write_flow(project: &TestProject, tasks: &str) {
    std::fs::write(
        project.root.join("flow.dv"),
        format!("package:\n  name: p\n  tasks:\n{tasks}"),
    )
    .expect("write flow.dv");
}

pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// 20 tasks through a pool of `pool` batch jobs launched as one job array,
/// a second run on the same warm jobs without a new submit, then a stop
/// that leaves no job queued.
pub fn flow_reuse_and_stop(scheduler: &dyn Scheduler, project: &TestProject, pool: usize) {
    let mut tasks = String::new();
    let names: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    for name in &names {
        tasks.push_str(&format!("  - name: {name}\n    run: '{RECORD_JOB}'\n"));
    }
    tasks.push_str(&format!(
        "  - root: all\n    needs: [{}]\n",
        names.join(", ")
    ));
    write_flow(project, &tasks);
    start_with(scheduler, project, pool, &scheduler.runner_yaml(project));

    let run = dfm(scheduler, project, &["run", "all", "-u", "log"]);
    assert!(run.status.success(), "first run: {}", describe(&run));
    let trace = project.root.join("trace");
    let first = lines(&trace);
    assert_eq!(first.len(), 20, "{first:?}");

    let jobs = wait_for(LONG, "the pool's workers registered", || {
        let jobs = worker_jobs(project);
        (jobs.len() == pool).then_some(jobs)
    });
    for line in &first {
        let job = line.split_whitespace().nth(1).unwrap_or_default();
        assert!(
            jobs.iter().any(|j| j == job),
            "task ran outside the pool's jobs {jobs:?}: {line}"
        );
    }
    let mut live = scheduler.live_jobs(&jobs);
    live.sort();
    let mut expected = jobs.clone();
    expected.sort();
    assert_eq!(live, expected, "warm workers are visible in the queue");

    let submitted = scheduler.submissions(project);
    assert_eq!(
        submitted.len(),
        1,
        "all workers in one submit, a job array: {submitted:?}"
    );
    let secret = project.daemon_state()["secret"]
        .as_str()
        .expect("secret in daemon.json")
        .to_string();
    for line in &submitted {
        assert!(
            !line.contains(&secret),
            "the secret is on a submit command line: {line}"
        );
    }

    let rerun = dfm(scheduler, project, &["run", "all", "-u", "log", "--clean"]);
    assert!(rerun.status.success(), "second run: {}", describe(&rerun));
    assert_eq!(lines(&trace).len(), 40);
    assert_eq!(
        scheduler.submissions(project).len(),
        1,
        "the second run reused the warm workers"
    );

    stop_leaves_no_job(scheduler, project, &jobs);
}

/// A worker's job killed while it runs a task: the task runs again on
/// another worker and the run passes.
pub fn killed_worker_task_reruns(scheduler: &dyn Scheduler, project: &TestProject) {
    // The first attempt waits to be killed; the next one finishes.
    write_flow(
        project,
        concat!(
            "  - root: victim\n    run: |\n      ",
            which_job!(),
            r#"
      echo "$job" >> ../../attempts
      if [ "$(wc -l < ../../attempts)" -eq 1 ]; then sleep 600; fi
"#
        ),
    );
    start(scheduler, project);
    let run = spawn_dfm(scheduler, project, &["run", "victim", "-u", "log"]);
    let attempts = project.root.join("attempts");
    let busy_job = wait_for(LONG, "the task to start", || {
        lines(&attempts).first().cloned()
    });
    assert!(!busy_job.is_empty(), "the task knows its job id");
    scheduler.kill_job(&busy_job);
    let output = run.wait_with_output().expect("dfm run");
    assert!(output.status.success(), "{}", describe(&output));
    let tried = lines(&attempts);
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert_ne!(tried[0], tried[1], "the re-run went to another job");
    let mut all = worker_jobs(project);
    all.extend(tried);
    stop_leaves_no_job(scheduler, project, &all);
}

/// A small executable script in `dir`.
pub fn write_script(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// The daemon killed with SIGKILL: its workers notice and exit, so their
/// batch jobs end by themselves and hold no slot.
pub fn killed_daemon_jobs_end(scheduler: &dyn Scheduler, project: &TestProject) {
    write_flow(
        project,
        &format!("  - root: warm\n    run: '{RECORD_JOB}'\n"),
    );
    // Workers wait this long for a replacement daemon, then exit.
    let yaml = crate::crash::with_pool_keys(&scheduler.runner_yaml(project), "reconnect_grace: 2");
    start_with(scheduler, project, 2, &yaml);
    let run = dfm(scheduler, project, &["run", "warm", "-u", "log"]);
    assert!(run.status.success(), "{}", describe(&run));
    let jobs = wait_for(LONG, "a registered worker", || {
        let jobs = worker_jobs(project);
        (!jobs.is_empty()).then_some(jobs)
    });
    assert!(
        !scheduler.live_jobs(&jobs).is_empty(),
        "the warm worker's job is queued"
    );
    let pid = project.daemon_state()["pid"].as_u64().expect("daemon pid") as i32;
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    wait_for(LONG, "the orphaned workers' jobs to end", || {
        scheduler.live_jobs(&jobs).is_empty().then_some(())
    });
}

/// The original's own `dfm run` on a real flow (`tests/upstream/flows/
/// regress`: a FileSet, library Python tasks, shell steps passing data)
/// with our daemon on batch jobs: the results are those in-process gives,
/// and the warm interpreters run inside the workers' jobs.
pub fn originals_flow(
    scheduler: &dyn Scheduler,
    project: &TestProject,
    alone: &TestProject,
    original: &Original,
) {
    copy_flow(alone, "regress");
    copy_flow(project, "regress");
    let in_process = original.run(alone, "summary");
    start(scheduler, project);
    let through_jobs = original.run(project, "summary");
    assert!(
        in_process.output.status.success() && through_jobs.output.status.success(),
        "{}\n{}",
        describe(&in_process.output),
        describe(&through_jobs.output)
    );
    assert_eq!(through_jobs.summary, in_process.summary_without_locations());
    assert_worker_decided_same(
        &rundir_files(alone),
        &rundir_files(project),
        "in-process vs batch jobs",
    );
    let jobs = worker_jobs(project);
    assert!(!jobs.is_empty(), "no worker job");
    let interpreters = crate::processes_matching("warm Python interpreter");
    let in_jobs: Vec<String> = interpreters
        .iter()
        .filter_map(|(pid, _)| job_of(*pid))
        .filter(|job| jobs.contains(job))
        .collect();
    assert!(
        !in_jobs.is_empty(),
        "no interpreter runs in the jobs {jobs:?}: {interpreters:?}"
    );
    stop_leaves_no_job(scheduler, project, &jobs);
}

/// The batch job a process runs in, from its environment.
fn job_of(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|b| *b == 0).find_map(|entry| {
        let entry = String::from_utf8_lossy(entry);
        ["SLURM_JOB_ID=", "LSB_JOBID="]
            .iter()
            .find_map(|prefix| entry.strip_prefix(prefix).map(str::to_string))
    })
}
