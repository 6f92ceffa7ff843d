//! The `lsf` runner against stand-in `bsub`/`bjobs`/`bkill` (no LSF can be
//! installed here): `tests/lsf-standin/lsf.py` runs jobs as local
//! processes and behaves as LSF does, variants included (site banners, the
//! default-queue message, UNKWN, a refused submit).

use std::path::PathBuf;
use std::process::Command;

use dfm_e2e::cluster::{self, Scheduler};
use dfm_e2e::{describe, TestProject};

/// The stand-ins with their state in a folder of this test's own.
struct FakeLsf {
    state: PathBuf,
    /// Extra variables for the stand-ins (see lsf.py).
    variant: Vec<(String, String)>,
}

impl FakeLsf {
    fn new(project: &TestProject, variant: &[(&str, &str)]) -> FakeLsf {
        let state = project.root.join("lsf-state");
        std::fs::create_dir_all(&state).expect("create the LSF state folder");
        FakeLsf {
            state,
            variant: variant
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn tool(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("lsf-standin")
            .join(name)
    }

    fn command(&self, name: &str) -> Command {
        let mut command = Command::new(Self::tool(name));
        command.env("DFM_FAKE_LSF_DIR", &self.state);
        command
    }
}

impl Scheduler for FakeLsf {
    fn runner(&self) -> &str {
        "lsf"
    }

    fn runner_yaml(&self, _project: &TestProject) -> String {
        format!(
            "runner:\n  lsf: {{bsub_cmd: '{}', bjobs_cmd: '{}', bkill_cmd: '{}', project: chip}}\n  defaults: {{cores: 1, memory: 100M, walltime: '0:10'}}\n  pool: {{poll_interval: 0.2}}\n",
            Self::tool("bsub").display(),
            Self::tool("bjobs").display(),
            Self::tool("bkill").display(),
        )
    }

    fn submissions(&self, _project: &TestProject) -> Vec<String> {
        std::fs::read_to_string(self.state.join("submitted"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![(
            "DFM_FAKE_LSF_DIR".to_string(),
            self.state.display().to_string(),
        )];
        env.extend(self.variant.iter().cloned());
        env
    }

    fn live_jobs(&self, ids: &[String]) -> Vec<String> {
        let output = self
            .command("bjobs")
            .args(["-o", "jobid stat", "-noheader"])
            .args(ids)
            .output()
            .expect("run the bjobs stand-in");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let (id, stat) = line.split_once(' ')?;
                (!matches!(stat, "DONE" | "EXIT")).then(|| id.to_string())
            })
            .collect()
    }

    fn kill_job(&self, id: &str) {
        let output = self
            .command("bkill")
            .arg(id)
            .output()
            .expect("run the bkill stand-in");
        assert!(output.status.success(), "bkill {id}: {}", describe(&output));
    }
}

#[test]
fn a_flow_runs_on_warm_lsf_jobs_which_are_reused_and_killed_on_stop() {
    let project = TestProject::new("lsf-flow");
    // No -q, so bsub answers with its default-queue line, between a site
    // wrapper's banner lines; and every job is UNKWN for its first seconds.
    let lsf = FakeLsf::new(
        &project,
        &[
            ("DFM_FAKE_LSF_BANNER", "1"),
            ("DFM_FAKE_LSF_UNKWN_SECS", "3"),
        ],
    );
    cluster::flow_reuse_and_stop(&lsf, &project);
    let submitted = lsf.submissions(&project).join("\n");
    for expected in [
        "\"-P\", \"chip\"",
        "\"-n\", \"1\"",
        "\"-M\", \"100\"",
        "\"-W\", \"0:10\"",
        "\"--\"",
    ] {
        assert!(submitted.contains(expected), "{expected} in {submitted}");
    }
    // Nothing of a job outlives the stop.
    for line in lsf.submissions(&project) {
        let id = line.split_whitespace().next().unwrap_or_default();
        let record =
            std::fs::read_to_string(lsf.state.join(format!("jobs/{id}.json"))).expect("job record");
        let pid = serde_json::from_str::<serde_json::Value>(&record).expect("JSON")["pid"]
            .as_u64()
            .expect("pid") as u32;
        assert!(
            !dfm_e2e::is_alive(pid),
            "job {id} (pid {pid}) outlived the stop"
        );
    }
}

#[test]
fn a_task_whose_lsf_job_is_killed_runs_again_elsewhere() {
    let project = TestProject::new("lsf-bkill");
    let lsf = FakeLsf::new(&project, &[]);
    cluster::killed_worker_task_reruns(&lsf, &project);
}

#[test]
fn the_originals_flow_runs_on_lsf_jobs_as_in_process() {
    let Some(original) = dfm_e2e::upstream::Original::find() else {
        return;
    };
    let project = TestProject::new("lsf-orig-b");
    let lsf = FakeLsf::new(&project, &[]);
    let alone = TestProject::new("lsf-orig-a");
    cluster::originals_flow(&lsf, &project, &alone, &original);
}

#[test]
fn killing_the_daemon_ends_its_lsf_jobs() {
    let project = TestProject::new("lsf-daemonkill");
    let lsf = FakeLsf::new(&project, &[]);
    cluster::killed_daemon_jobs_end(&lsf, &project);
}

/// `dfm run --runner lsf` on an ephemeral pool whose submits all fail:
/// it must end with bsub's message, not hang.
fn run_with_failing_submits(lsf: &FakeLsf, project: &TestProject, yaml: &str) -> String {
    std::fs::write(
        project.root.join("flow.dv"),
        "package:\n  name: p\n  tasks:\n  - root: a\n    run: 'true'\n",
    )
    .expect("write flow.dv");
    project.configure(yaml);
    let output = cluster::dfm(lsf, project, &["run", "a", "--runner", "lsf", "-u", "log"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    describe(&output)
}

#[test]
fn a_refused_or_impossible_bsub_fails_the_run_with_its_message() {
    let project = TestProject::new("lsf-refused");
    let lsf = FakeLsf::new(
        &project,
        &[(
            "DFM_FAKE_LSF_BSUB_FAIL",
            "Queue does not exist. Job not submitted.",
        )],
    );
    let yaml = lsf.runner_yaml(&project);
    let said = run_with_failing_submits(&lsf, &project, &yaml);
    assert!(
        said.contains("failed (exit 255): Queue does not exist. Job not submitted."),
        "{said}"
    );

    let missing = yaml.replace(
        &FakeLsf::tool("bsub").display().to_string(),
        "/nonexistent/bsub",
    );
    let said = run_with_failing_submits(&lsf, &project, &missing);
    assert!(
        said.contains("cannot run '/nonexistent/bsub': No such file or directory"),
        "{said}"
    );
}
