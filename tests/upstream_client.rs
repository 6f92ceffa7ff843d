//! The original dv-flow-mgr Python client runs shell tasks through our
//! daemon, unchanged.
//!
//! Needs a Python with `dv-flow-mgr==1.20.0` installed: `DFM_UPSTREAM_PYTHON`
//! names it (`.ci/run` makes one). Without it the test says so and skips,
//! unless `DFM_REQUIRE_UPSTREAM=1` (as in CI), where that is a failure.

use std::process::Command;

use dfm_e2e::{describe, TestProject};

#[test]
fn the_original_python_client_runs_tasks_through_our_daemon() {
    let python = std::env::var("DFM_UPSTREAM_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_upstream = Command::new(&python)
        .args(["-c", "import dv_flow.mgr.daemon_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_upstream {
        let message = format!(
            "SKIPPED: {python} cannot import dv_flow.mgr (pip install dv-flow-mgr==1.20.0, then set DFM_UPSTREAM_PYTHON)"
        );
        assert!(
            std::env::var("DFM_REQUIRE_UPSTREAM").as_deref() != Ok("1"),
            "{message}"
        );
        eprintln!("{message}");
        return;
    }
    let project = TestProject::new("upstream");
    project.start_daemon(&["--pool-size", "2"]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("upstream/run_tasks.py");
    let output = Command::new(&python)
        .arg(script)
        .arg(&project.root)
        .output()
        .expect("run the upstream client");
    assert!(output.status.success(), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("upstream client OK"));
    assert_eq!(project.status()["completed_tasks"], 2);
    assert_eq!(project.status()["failed_tasks"], 2);
}
