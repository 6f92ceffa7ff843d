//! The machine's limits: spawning and waiting for the task's command
//! directly (std's `Command`), and with the worker's own spawner.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dfm_host::worker::ShellExecutor;
use dfm_wire::{Environment, TaskSpec};

use crate::setup::{fail, Options, COMMAND, SHELL};
use crate::stats::{percentiles, Latency};

pub(crate) fn spawn_once() {
    let status = Command::new(SHELL)
        .args(["-c", COMMAND])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if status.is_err() {
        fail("cannot spawn bash");
    }
}

pub(crate) fn spawn_latency(options: &Options) -> Latency {
    spawn_times(if options.quick { 300 } else { 1000 })
}

pub(crate) fn spawn_throughput(lanes: usize, options: &Options) -> Vec<f64> {
    let n = if options.quick { 1000 } else { 2000 };
    (0..options.repeat).map(|_| spawn_rate(lanes, n)).collect()
}

/// Spawns per second of `n` commands on `lanes` threads.
pub(crate) fn spawn_rate(lanes: usize, n: usize) -> f64 {
    let lanes = lanes.max(1);
    let start = Instant::now();
    let threads: Vec<_> = (0..lanes)
        .map(|_| std::thread::spawn(move || (0..n / lanes).for_each(|_| spawn_once())))
        .collect();
    join_all(threads);
    (n / lanes * lanes) as f64 / start.elapsed().as_secs_f64()
}

/// Waits for `threads`; a failure in one fails the bench.
pub(crate) fn join_all(threads: Vec<std::thread::JoinHandle<()>>) {
    for t in threads {
        if let Err(payload) = t.join() {
            std::panic::resume_unwind(payload);
        }
    }
}

/// The times of `n` spawns, one after the other.
pub(crate) fn spawn_times(n: usize) -> Latency {
    let samples = (0..n)
        .map(|_| {
            let start = Instant::now();
            spawn_once();
            start.elapsed()
        })
        .collect();
    percentiles(samples)
}

/// A task for dfm's own spawner, as the worker gets it: the bench's
/// environment, a log file of its own in a rundir on tmpfs.
pub(crate) fn own_task(lane: usize, i: usize, env: &Environment) -> TaskSpec {
    let dir =
        std::path::Path::new("/dev/shm").join(format!("dfm-bench-own-{}", std::process::id()));
    TaskSpec {
        request_id: format!("{lane}-{i}"),
        name: format!("own.l{lane}-{i}"),
        shell: SHELL.to_string(),
        body: COMMAND.to_string(),
        srcdir: dir.display().to_string(),
        rundir: dir.join(format!("rundir-{lane}")).display().to_string(),
        env: env.clone(),
        ..TaskSpec::default()
    }
}

/// Starts `task` with the worker's spawner and waits for it, as a worker
/// does for a short task (without a runtime: `give_time` polls its pidfd).
pub(crate) fn own_spawn_once(launcher: &mut ShellExecutor, task: &TaskSpec) {
    let mut child = launcher
        .start(task)
        .unwrap_or_else(|e| fail(&e.to_string()));
    loop {
        child.wait_for_end(Duration::from_secs(60));
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) => {}
            Err(e) => fail(&format!("cannot wait for bash: {e}")),
        }
    }
}

pub(crate) fn own_launcher() -> ShellExecutor {
    ShellExecutor::new().unwrap_or_else(|e| fail(&format!("cannot prepare dfm's spawner: {e}")))
}

pub(crate) fn own_env() -> Environment {
    Environment::new(&std::env::vars().collect())
}

/// The times of `n` tasks started with dfm's own spawner, one after the
/// other.
pub(crate) fn own_spawn_times(n: usize) -> Latency {
    let mut launcher = own_launcher();
    let env = own_env();
    let samples = (0..n)
        .map(|i| {
            let task = own_task(0, i, &env);
            let start = Instant::now();
            own_spawn_once(&mut launcher, &task);
            start.elapsed()
        })
        .collect();
    let _ = std::fs::remove_dir_all(own_dir());
    percentiles(samples)
}

/// Tasks per second of `n` tasks started with dfm's own spawner in
/// `lanes` processes, as dfm's workers are (threads of one process spawn
/// more slowly: their children share one address space until they exec).
pub(crate) fn own_spawn_rate(lanes: usize, n: usize) -> f64 {
    let lanes = lanes.max(1);
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(&format!("{e}")));
    let start = Instant::now();
    let mut children: Vec<_> = (0..lanes)
        .map(|lane| {
            Command::new(&exe)
                .args([
                    "--own-spawn-lane",
                    &lane.to_string(),
                    &(n / lanes).to_string(),
                ])
                .spawn()
                .unwrap_or_else(|e| fail(&format!("cannot start a spawn lane: {e}")))
        })
        .collect();
    let mut failed = false;
    for child in &mut children {
        failed |= !child.wait().is_ok_and(|status| status.success());
    }
    if failed {
        fail("a lane of dfm's own spawn failed (see above)");
    }
    (n / lanes * lanes) as f64 / start.elapsed().as_secs_f64()
}

/// `--own-spawn-lane LANE N`: starts N tasks with dfm's own spawner, one
/// after the other.
pub(crate) fn own_spawn_lane(args: &[String]) {
    let [lane, n] = args else {
        fail("usage: --own-spawn-lane LANE N")
    };
    let (Ok(lane), Ok(n)) = (lane.parse::<usize>(), n.parse::<usize>()) else {
        fail("usage: --own-spawn-lane LANE N")
    };
    let mut launcher = own_launcher();
    let env = own_env();
    for i in 0..n {
        own_spawn_once(&mut launcher, &own_task(lane, i, &env));
    }
    let _ = std::fs::remove_dir_all(own_dir());
}

pub(crate) fn own_dir() -> PathBuf {
    Path::new("/dev/shm").join(format!("dfm-bench-own-{}", std::process::id()))
}

/// The median time of `n` spawns, one after the other.
pub(crate) fn spawn_p50(n: usize) -> Duration {
    spawn_times(n).p50
}
