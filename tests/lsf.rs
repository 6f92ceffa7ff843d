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

    /// Every job and array element the stand-ins started: (key, pid).
    fn job_records(&self) -> Vec<(String, u32)> {
        let mut records = Vec::new();
        for entry in std::fs::read_dir(self.state.join("jobs"))
            .expect("jobs folder")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(key) = name.strip_suffix(".json") else {
                continue;
            };
            let text = std::fs::read_to_string(entry.path()).expect("job record");
            let record: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            let pid = record["pid"].as_u64().expect("pid") as u32;
            records.push((key.to_string(), pid));
        }
        records.sort();
        records
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
            .args(["-o", "jobid jobindex stat", "-noheader"])
            .args(ids)
            .output()
            .expect("run the bjobs stand-in");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let (id, index, stat) = (fields.next()?, fields.next()?, fields.next()?);
                let id = match index {
                    "0" => id.to_string(),
                    index => format!("{id}[{index}]"),
                };
                (!matches!(stat, "DONE" | "EXIT")).then_some(id)
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
    cluster::flow_reuse_and_stop(&lsf, &project, 8);
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
    assert!(submitted.contains("-J\", \"dfm-workers-"), "{submitted}");
    // Nothing of a job, or of any element of an array, outlives the stop.
    let records = lsf.job_records();
    assert_eq!(records.len(), 8, "eight workers' jobs: {records:?}");
    for (key, pid) in records {
        assert!(
            !dfm_e2e::is_alive(pid),
            "job {key} (pid {pid}) outlived the stop"
        );
    }
}

#[test]
fn a_task_whose_lsf_job_is_killed_runs_again_elsewhere() {
    let project = TestProject::new("lsf-bkill");
    let lsf = FakeLsf::new(&project, &[]);
    cluster::killed_worker_task_reruns(&lsf, &project);
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn the_originals_flow_runs_on_lsf_jobs_as_in_process() {
    let original = dfm_e2e::upstream::Original::find();
    let project = TestProject::new("lsf-orig-b");
    let lsf = FakeLsf::new(&project, &[]);
    let alone = TestProject::new("lsf-orig-a");
    cluster::originals_flow(&lsf, &project, &alone, &original);
}

#[test]
fn a_daemon_killed_mid_run_is_replaced_and_adopts_its_lsf_jobs() {
    let project = TestProject::new("lsf-adopt");
    let lsf = FakeLsf::new(&project, &[]);
    dfm_e2e::crash::killed_daemon_is_replaced_without_a_launch(&lsf, &project);
}

#[test]
fn a_run_whose_daemon_is_killed_finishes_without_its_lsf_jobs() {
    let project = TestProject::new("lsf-ephemeral");
    let lsf = FakeLsf::new(&project, &[]);
    dfm_e2e::crash::killed_daemon_run_finishes_on_an_ephemeral_pool(&lsf, &project);
}

#[test]
fn a_frozen_daemon_is_stopped_with_its_lsf_jobs() {
    let project = TestProject::new("lsf-frozen");
    let lsf = FakeLsf::new(&project, &[]);
    dfm_e2e::crash::a_frozen_daemon_hangs_no_command(&lsf, &project);
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

/// A site's plugin built against dfm-plugin-api 0.1.0 (before job arrays
/// and run limits): the frozen `lsf` runner of then, built on its own. This
/// dfm still loads it, and launches one job per worker with it.
#[test]
fn a_plugin_built_against_api_0_1_0_still_loads_and_launches_a_job_per_worker() {
    let project = TestProject::new("lsf-api010");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let build = project.root.join("build");
    for name in ["plugin-api-0.1.0", "runner-lsf-api010"] {
        dfm_e2e::copy_dir(&fixtures.join(name), &build.join(name));
    }
    let plugin = dfm_e2e::build_plugin_out_of_tree(
        &build.join("runner-lsf-api010"),
        "dfm_runner_lsf_api010",
    );
    let lsf = FakeLsf::new(&project, &[]);
    let yaml = lsf
        .runner_yaml(&project)
        .replace("  lsf: {", "  lsf_api010: {");
    let plugin = plugin.to_str().expect("utf-8 path");
    let mut tasks = String::new();
    for n in 0..3 {
        tasks.push_str(&format!("  - name: t{n}\n    run: 'sleep 1'\n"));
    }
    tasks.push_str("  - root: all\n    needs: [t0, t1, t2]\n");
    cluster::write_flow(&project, &tasks);
    project.configure(&yaml);
    let output = cluster::dfm(
        &lsf,
        &project,
        &["daemon", "start", "--runner", plugin, "--pool-size", "3"],
    );
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(project.status()["runner"], "lsf_api010");
    let run = cluster::dfm(&lsf, &project, &["run", "all", "-u", "log"]);
    assert!(run.status.success(), "{}", describe(&run));
    let submitted = lsf.submissions(&project);
    assert!(submitted.len() >= 2, "one bsub per worker: {submitted:?}");
    assert!(
        submitted.iter().all(|line| !line.contains("[1-")),
        "no job array from an API 0.1.0 plugin: {submitted:?}"
    );
    let jobs = cluster::worker_jobs(&project);
    cluster::stop_leaves_no_job(&lsf, &project, &jobs);
}

/// A worker's job reaches its run limit (`-W`) while its task runs: LSF
/// kills it (`TERM_RUNLIMIT`), and the task runs again on a fresh worker
/// without using up an attempt (one allowed here), expected to take longer.
#[test]
fn a_task_cut_off_by_its_jobs_run_limit_runs_again_without_using_an_attempt() {
    let project = TestProject::new("lsf-runlimit");
    let lsf = FakeLsf::new(&project, &[]);
    // The first task fills most of a one-minute job; the second starts
    // with 20 s left and, the first time, would need 100.
    cluster::write_flow(
        &project,
        r#"  - name: warm
    run: 'sleep 40'
  - root: victim
    needs: [warm]
    run: |
      echo "$LSB_JOBID[$LSB_JOBINDEX]" >> ../../attempts
      if [ "$(wc -l < ../../attempts)" -eq 1 ]; then sleep 100; fi
"#,
    );
    let yaml = lsf.runner_yaml(&project).replace("walltime: '0:10'", "walltime: '0:01'").replace(
        "pool: {poll_interval: 0.2}",
        "pool: {poll_interval: 0.2, max_task_attempts: 1, walltime_margin: 1, default_task_duration: 1}",
    );
    cluster::start_with(&lsf, &project, 1, &yaml);
    let run = cluster::dfm(&lsf, &project, &["run", "victim", "-u", "log"]);
    assert!(run.status.success(), "{}", describe(&run));
    let attempts = cluster::lines(&project.root.join("attempts"));
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_ne!(attempts[0], attempts[1], "the re-run went to another job");
    let killed = attempts[0]
        .replace(['[', ']'], ".")
        .trim_end_matches('.')
        .to_string();
    let key = killed.strip_suffix(".0").unwrap_or(&killed);
    let reason =
        std::fs::read_to_string(lsf.state.join(format!("jobs/{key}.reason"))).unwrap_or_default();
    assert!(reason.contains("TERM_RUNLIMIT"), "{key}: {reason:?}");
    let jobs = cluster::worker_jobs(&project);
    cluster::stop_leaves_no_job(&lsf, &project, &jobs);
    // What it ran before the limit raised its estimate, kept in .dfm/.
    let durations =
        std::fs::read_to_string(project.dfm_dir().join("durations.json")).expect("durations.json");
    let durations: serde_json::Value = serde_json::from_str(&durations).expect("JSON");
    let runs = durations["p.victim"].as_array().expect("p.victim learned");
    assert!(
        runs.iter()
            .any(|secs| secs.as_f64().is_some_and(|s| s >= 20.0)),
        "{durations}"
    );
}
