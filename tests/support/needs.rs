//! What a test needs beyond the binary: a service, a program, root.
//!
//! A test that needs one is marked `#[ignore = "needs ...: how to get it"]`,
//! so a plain `cargo test` reports it as ignored, with its reason, instead of
//! passing it unrun. Run with `--include-ignored` (as `scripts/test-all.sh`
//! and CI do), the test calls one of these first, and a missing need is a
//! failure that says what to install, never a silent pass.

use std::process::Command;

/// Panics with `how` unless `program args...` runs and exits 0.
pub fn program(program: &str, args: &[&str], how: &str) {
    let works = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(works, "this test needs `{program}`: {how}");
}

/// Panics unless this process runs as root (network namespaces, mounts).
pub fn root(why: &str) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "this test needs root: {why}");
}

/// Panics unless `python` can import every module in `modules`.
pub fn python_modules(python: &std::path::Path, modules: &[&str]) {
    let code = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let imports = Command::new(python)
        .args(["-c", &code])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        imports,
        "this test needs {} importable from {} (pip install -r tests/upstream/requirements.txt)",
        modules.join(", "),
        python.display()
    );
}

/// A one-node SLURM answering `sinfo`.
pub fn slurm() {
    program(
        "sinfo",
        &["-h"],
        "a running SLURM (as root: apt-get install slurm-wlm slurmctld slurmd slurm-client munge, then scripts/slurm-up.sh)",
    );
}

/// A one-node Grid Engine answering `qstat`.
pub fn grid_engine() {
    program(
        "qstat",
        &["-xml"],
        "a running Grid Engine (as root: install gridengine-master gridengine-exec gridengine-client preseeded as scripts/test-all.sh does, then scripts/sge-up.sh)",
    );
}

/// tmux, for the monitor in a real terminal.
pub fn tmux() {
    program("tmux", &["-V"], "apt-get install tmux");
}
