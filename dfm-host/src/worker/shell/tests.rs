use std::fs;
use std::path::{Path, PathBuf};

use dfm_wire::{Env, Environment, TaskSpec};

use super::ShellExecutor;

pub fn spec(dir: &Path, name: &str, body: &str, env: &[(&str, &str)]) -> TaskSpec {
    let env: Env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TaskSpec {
        request_id: name.into(),
        name: name.into(),
        shell: "sh".into(),
        body: body.into(),
        srcdir: "/src".into(),
        rundir: dir.join(name).display().to_string(),
        env: Environment::new(&env),
        ..TaskSpec::default()
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dfm-launch-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn a_task_sees_its_environment_rundir_and_log() {
    let dir = temp_dir("env");
    let mut launcher = ShellExecutor::new().expect("executor");
    let body = "echo \"$A $TASK_RUNDIR $DFM_TASK_NAME $(pwd)\"; echo err >&2; exit 3";
    for (name, value) in [("t1", "one"), ("t2", "one"), ("t3", "two")] {
        let spec = spec(&dir, name, body, &[("A", value), ("PATH", "/usr/bin:/bin")]);
        let mut child = launcher.start(&spec).expect("started");
        let status = child.wait().await.expect("status");
        assert_eq!(status.code(), Some(3));
        assert!(child.try_wait().expect("status").is_some(), "reaped");
        let log = fs::read_to_string(dir.join(name).join(format!("{name}.log"))).expect("log");
        let rundir = dir.join(name).display().to_string();
        assert_eq!(log, format!("{value} {rundir} {name} {rundir}\nerr\n"));
    }
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_task_gets_sigpipe_back_and_nothing_blocked() {
    let dir = temp_dir("signals");
    let mut launcher = ShellExecutor::new().expect("executor");
    // SigIgn and SigBlk in hex: no signal ignored (SIGPIPE is bit 13)
    // and none blocked.
    let body = "grep -E '^Sig(Ign|Blk)' /proc/self/status";
    let spec = spec(&dir, "t", body, &[]);
    let mut child = launcher.start(&spec).expect("started");
    assert!(child.wait().await.expect("status").success());
    let log = fs::read_to_string(dir.join("t/t.log")).expect("log");
    for line in log.lines() {
        let mask =
            u64::from_str_radix(line.split_whitespace().nth(1).expect("mask"), 16).expect("hex");
        assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "{log}");
        if line.starts_with("SigBlk") {
            assert_eq!(mask, 0, "{log}");
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_shell_that_is_nowhere_is_an_error_that_says_so() {
    let dir = temp_dir("noshell");
    let mut launcher = ShellExecutor::new().expect("executor");
    let mut task = spec(&dir, "t", "true", &[("PATH", "/nonexistent")]);
    task.shell = "ksh".into();
    let error = launcher
        .start(&task)
        .err()
        .expect("no ksh there")
        .to_string();
    assert!(error.contains("cannot start 'ksh' for task 't'"), "{error}");
    assert!(error.contains("/nonexistent"), "{error}");
    // Found, but the kernel cannot run it: its reason.
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).expect("bin");
    fs::write(bin.join("ksh"), "echo no interpreter line\n").expect("ksh");
    let mut permissions = fs::metadata(bin.join("ksh")).expect("ksh").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs::set_permissions(bin.join("ksh"), permissions).expect("chmod");
    let mut task = spec(&dir, "v", "true", &[("PATH", &bin.display().to_string())]);
    task.shell = "ksh".into();
    let mut error = String::new();
    // Another test's child may still hold the file open for an
    // instant (ETXTBSY): try again then.
    for _ in 0..100 {
        error = launcher
            .start(&task)
            .err()
            .expect("not an executable format")
            .to_string();
        if !error.contains("busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(error.contains("cannot start 'ksh'"), "{error}");
    assert!(error.contains("format"), "{error}");
    let task = spec(&dir, "u", "true", &[("A", "a\u{0}b")]);
    let error = launcher
        .start(&task)
        .err()
        .expect("a NUL in a variable")
        .to_string();
    assert!(error.contains("NUL"), "{error}");
    let _ = fs::remove_dir_all(&dir);
}
