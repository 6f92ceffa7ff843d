//! The original dv-flow-mgr Python client runs shell tasks through our
//! daemon, unchanged.
//!
//! Needs the original from PyPI (see `dfm_e2e::upstream`).

use std::process::Command;

use dfm_e2e::upstream::Original;
use dfm_e2e::{describe, TestProject};

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn the_original_python_client_runs_tasks_through_our_daemon() {
    let original = Original::find();
    let project = TestProject::new("upstream");
    project.start_daemon(&["--pool-size", "2"]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("upstream/run_tasks.py");
    let output = Command::new(original.python())
        .arg(script)
        .arg(&project.root)
        .output()
        .expect("run the upstream client");
    assert!(output.status.success(), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("upstream client OK"));
    assert_eq!(project.status()["completed_tasks"], 2);
    assert_eq!(project.status()["failed_tasks"], 2);
}
