//! The SLURM runner's two ways to launch workers as the end-to-end checks
//! drive them (`sbatch`: tests/slurm.rs; `srun`: tests/slurm_srun.rs), and
//! the checks only SLURM has.

use std::process::Command;

use crate::cluster::{self, lines, write_script, Scheduler};
use crate::TestProject;

/// What `squeue ARGS` prints. Every job asked for unknown (`-j`) is no
/// job; a controller that does not answer (busy just after its start) is
/// asked again, and a test fails rather than take its silence for an
/// empty queue.
fn squeue(args: &[&str]) -> String {
    let mut tries = 0;
    loop {
        let output = Command::new("squeue")
            .args(args)
            .output()
            .expect("run squeue");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || stderr.contains("Invalid job id specified") {
            return String::from_utf8_lossy(&output.stdout).into_owned();
        }
        tries += 1;
        assert!(tries < 10, "squeue {args:?}: {stderr}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// The `runner:` section for `project`: `launch` (`sbatch`, `srun`) through
/// a wrapper that logs each call in `<launch>.calls`, `settings` (ending in
/// `, `) first in the `slurm:` section.
fn runner_yaml(project: &TestProject, launch: &str, settings: &str) -> String {
    let log = project.root.join(format!("{launch}.calls"));
    let wrapper = write_script(
        &project.root,
        &format!("{launch}-counting"),
        &format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec {launch} \"$@\"\n",
            log.display()
        ),
    );
    format!(
        "runner:\n  slurm: {{{settings}{launch}_cmd: '{}', partition: debug}}\n  defaults: {{cores: 1, memory: 100M, walltime: '0:10'}}\n  pool: {{poll_interval: 0.2}}\n",
        wrapper.display()
    )
}

/// `launch: sbatch`, the default: batch jobs, a batch of workers as one
/// job array.
pub struct Slurm;

impl Scheduler for Slurm {
    fn runner(&self) -> &str {
        "slurm"
    }

    fn runner_yaml(&self, project: &TestProject) -> String {
        runner_yaml(project, "sbatch", "")
    }

    fn submissions(&self, project: &TestProject) -> Vec<String> {
        lines(&project.root.join("sbatch.calls"))
    }

    fn live_jobs(&self, ids: &[String]) -> Vec<String> {
        if ids.is_empty() {
            return Vec::new();
        }
        // Without `-t all`: only jobs not yet finished. `-r`: a pending
        // array element as itself (`42_5`), not within `42_[5-8]`.
        squeue(&["-h", "-r", "-j", &ids.join(","), "-o", "%i"])
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

/// `in_allocation`: dfm runs with the variables of an `salloc` shell.
pub struct SlurmSrun {
    pub in_allocation: bool,
}

pub const SLURM_SRUN: SlurmSrun = SlurmSrun {
    in_allocation: false,
};

impl Scheduler for SlurmSrun {
    fn runner(&self) -> &str {
        "slurm"
    }

    fn runner_yaml(&self, project: &TestProject) -> String {
        runner_yaml(project, "srun", "launch: srun, ")
    }

    /// As in an `salloc` shell, with a job that does not exist: an srun
    /// that took these would run the worker as a step of that job, and
    /// fail. (Tasks get them too, from `dfm run`'s environment.)
    fn env(&self) -> Vec<(String, String)> {
        if !self.in_allocation {
            return Vec::new();
        }
        [
            ("SLURM_JOB_ID", "4000000000"),
            ("SLURM_JOBID", "4000000000"),
            ("SLURM_NTASKS", "5"),
            ("SLURM_CPUS_PER_TASK", "3"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn submissions(&self, project: &TestProject) -> Vec<String> {
        lines(&project.root.join("srun.calls"))
    }

    /// `ids` are job names (what dfm knows) or numbers (what a task sees).
    fn live_jobs(&self, ids: &[String]) -> Vec<String> {
        let queue = squeue(&["-h", "-o", "%i %j"]);
        ids.iter()
            .filter(|id| {
                queue
                    .lines()
                    .any(|l| l.split_whitespace().any(|f| f == *id))
            })
            .cloned()
            .collect()
    }

    fn kill_job(&self, id: &str) {
        let by_name = !id.bytes().all(|b| b.is_ascii_digit());
        let args = if by_name { vec!["-n", id] } else { vec![id] };
        let status = Command::new("scancel")
            .args(args)
            .status()
            .expect("run scancel");
        assert!(status.success(), "scancel {id}: {status}");
    }
}

/// Workers of a class that holds a license SLURM counts (`-L sim_seat:1`,
/// two seats on the test cluster): two run, two wait in SLURM's queue for
/// it, and dfm's status says so (`pending: Licenses`); then every task
/// passes and stop leaves no job.
pub fn license_workers_wait(s: &dyn Scheduler, project: &TestProject) {
    let licenses = Command::new("scontrol")
        .args(["show", "licenses"])
        .output()
        .expect("run scontrol");
    assert!(
        String::from_utf8_lossy(&licenses.stdout).contains("sim_seat"),
        "the test cluster has no sim_seat license: restart it with this checkout's scripts/slurm-up.sh"
    );
    let yaml = format!(
        "{}  resource_classes: {{seat: {{licenses: {{sim_seat: 1}}, license_scope: worker}}}}\n",
        s.runner_yaml(project)
    );
    cluster::start_with(s, project, 4, &yaml);
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
    let seen = crate::wait_for(
        cluster::LONG,
        "2 workers running, 2 waiting for the license",
        || {
            // This daemon's worker jobs, by the names it submitted them under.
            let names: Vec<String> = s
                .submissions(project)
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
    let status = crate::wait_for(
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
    let jobs = cluster::worker_jobs(project);
    cluster::stop_leaves_no_job(s, project, &jobs);
}
