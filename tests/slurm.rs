//! The `slurm` runner against a real SLURM (`scripts/slurm-up.sh` starts a
//! one-node cluster; `.ci/run` does so). Without a working `sinfo` these
//! tests say so and skip, unless `DFM_REQUIRE_SLURM=1` (as in CI), where
//! that is a failure.

use std::process::Command;

use dfm_e2e::cluster::{self, write_script, Scheduler};
use dfm_e2e::TestProject;

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

fn slurm_running() -> bool {
    if cluster::works("sinfo", &["-h"]) {
        return true;
    }
    let message =
        "SKIPPED: no SLURM running (sinfo fails; as root, run scripts/slurm-up.sh, or set DFM_REQUIRE_SLURM=1 to make this a failure)";
    assert!(
        std::env::var("DFM_REQUIRE_SLURM").as_deref() != Ok("1"),
        "{message}"
    );
    eprintln!("{message}");
    false
}

#[test]
fn a_flow_runs_on_warm_slurm_jobs_which_are_reused_and_cancelled_on_stop() {
    if slurm_running() {
        cluster::flow_reuse_and_stop(&Slurm, &TestProject::new("slurm-flow"));
    }
}

#[test]
fn a_task_whose_slurm_job_is_cancelled_runs_again_elsewhere() {
    if slurm_running() {
        cluster::killed_worker_task_reruns(&Slurm, &TestProject::new("slurm-scancel"));
    }
}

#[test]
fn the_originals_flow_runs_on_slurm_jobs_as_in_process() {
    let Some(original) = dfm_e2e::upstream::Original::find() else {
        return;
    };
    if slurm_running() {
        let project = TestProject::new("slurm-orig-b");
        let alone = TestProject::new("slurm-orig-a");
        cluster::originals_flow(&Slurm, &project, &alone, &original);
    }
}

#[test]
fn killing_the_daemon_ends_its_slurm_jobs() {
    if slurm_running() {
        cluster::killed_daemon_jobs_end(&Slurm, &TestProject::new("slurm-daemonkill"));
    }
}
