//! `scripts/install.sh` into a temporary prefix; then, with only the
//! prefix's `bin` (and the system's) on `PATH`, from a copy of the prefix
//! elsewhere (nothing points back at the build tree): the demo flow, the
//! plugins, a task on a daemon, completions, man pages and the version.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dfm_e2e::{bin_dir, copy_dir, describe, TestProject};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// Every file under `dir` with its size and modification time.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.push(format!(
                "{} {} {:?}",
                path.display(),
                meta.len(),
                meta.modified().ok()
            ));
        }
    }
    out.sort();
    out
}

fn installed(prefix: &Path, project: &Path, args: &[&str]) -> Output {
    Command::new(prefix.join("bin/dfm"))
        .args(args)
        .current_dir(project)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", prefix.join("bin").display()),
        )
        .env("HOME", project.join("home"))
        .output()
        .expect("run the installed dfm")
}

#[test]
fn an_installed_dfm_runs_from_its_prefix_alone() {
    let scratch = TestProject::new("install");
    let first = scratch.root.join("first-prefix");
    // What `cargo build --workspace` built (the tests' own build).
    let profile = if bin_dir().ends_with("release") {
        "release"
    } else {
        "dev"
    };
    let install = Command::new(repo().join("scripts/install.sh"))
        .args(["--profile", profile, "--no-build"])
        .arg(&first)
        .output()
        .expect("run install.sh");
    assert!(install.status.success(), "{}", describe(&install));

    // Moved: the installation depends on nothing but itself.
    let prefix = scratch.root.join("tools/dfm/0.1.0");
    copy_dir(&first, &prefix);
    std::fs::remove_dir_all(&first).expect("remove the first prefix");
    for file in [
        "bin/dfm",
        "bin/dfm-worker",
        "bin/dfm-out",
        "lib/dfm/plugins/libdfm_runner_local.so",
        "lib/dfm/plugins/libdfm_runner_lsf.so",
        "lib/dfm/plugins/libdfm_runner_slurm.so",
        "lib/dfm/plugins/libdfm_runner_sge.so",
        "etc/dfm/config.yaml",
        "share/man/man1/dfm.1",
        "share/man/man1/dfm-daemon-start.1",
        "share/bash-completion/completions/dfm",
        "share/zsh/site-functions/_dfm",
        "share/fish/vendor_completions.d/dfm.fish",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }
    let before = listing(&prefix);

    let project = scratch.root.join("regression");
    copy_dir(&repo().join("examples/regression"), &project);
    std::fs::create_dir_all(project.join("home")).expect("home");

    let version = installed(&prefix, &project, &["--version"]);
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    assert!(
        version.starts_with("dfm 0.1.0 (plugin API ") && version.contains("source "),
        "{version}"
    );

    let plugins = installed(&prefix, &project, &["plugins"]);
    let listed = String::from_utf8_lossy(&plugins.stdout).to_string();
    for runner in ["local", "lsf", "slurm", "sge"] {
        assert!(
            listed.contains(&format!("lib/dfm/plugins/libdfm_runner_{runner}.so")),
            "{listed}"
        );
    }
    assert!(!listed.contains("target/"), "{listed}");

    let demo = installed(&prefix, &project, &["run", "all", "-u", "log"]);
    assert!(demo.status.success(), "the demo flow: {}", describe(&demo));

    let start = installed(&prefix, &project, &["daemon", "start", "--pool-size", "2"]);
    assert!(start.status.success(), "{}", describe(&start));
    let on_daemon = installed(&prefix, &project, &["run", "all", "-u", "log", "--clean"]);
    let stop = installed(&prefix, &project, &["daemon", "stop"]);
    assert!(on_daemon.status.success(), "{}", describe(&on_daemon));
    assert!(
        String::from_utf8_lossy(&on_daemon.stdout).contains("daemon pid"),
        "{}",
        describe(&on_daemon)
    );
    assert!(stop.status.success(), "{}", describe(&stop));
    let log = std::fs::read_to_string(project.join(".dfm/daemon.log")).unwrap_or_default();
    assert!(
        log.contains(&prefix.display().to_string()),
        "the daemon's plugin: {log}"
    );

    // Task names complete from the flow.
    let names = installed(&prefix, &project, &["complete-tasks"]);
    assert!(String::from_utf8_lossy(&names.stdout)
        .lines()
        .any(|l| l.ends_with("all")));
    let bash = std::fs::read_to_string(prefix.join("share/bash-completion/completions/dfm"))
        .expect("bash completion");
    assert!(bash.contains("dfm complete-tasks") && bash.contains("restart"));

    // Nothing was written into the prefix: it can be read-only, and shared.
    assert_eq!(listing(&prefix), before);
}
