//! The original dv-flow-mgr's tasks, through dfm's daemon and through the
//! original's own, both driven by the original's own client
//! (`original_client.py`), side by side in one run: a trivial Python task
//! and a shell step using the data_io contract (one `dfm-out` call). Also
//! what a worker pays for its interpreter: the start, on a fresh worker's
//! first Python task, and the memory it keeps.
//!
//! Needs a Python with `dv-flow-mgr==1.20.0`: `DFM_UPSTREAM_PYTHON` names
//! it, else `python3`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::daemon::{remove_later, unique, Client, Daemon};
use crate::setup::{fail, Options};
use crate::stats::{median, min_max, ms_range};

const DRIVER: &str = include_str!("original_client.py");

/// The project's Python task: what a library task does at least.
const TASKS: &str = "from dv_flow.mgr import TaskDataResult\n\n\
async def Trivial(ctxt, input):\n    return TaskDataResult(status=0)\n";

/// Tasks kept in flight for throughput, as in the original's measurements.
const IN_FLIGHT: usize = 32;

struct Python {
    program: PathBuf,
    /// `PATH` with its venv's `bin` first, as an activated venv has it.
    path: std::ffi::OsString,
}

impl Python {
    fn find() -> Option<Python> {
        let program = std::env::var_os("DFM_UPSTREAM_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("python3"));
        let importable = Command::new(&program)
            .args(["-c", "import dv_flow.mgr.daemon_client"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !importable {
            return None;
        }
        let mut dirs: Vec<PathBuf> = program
            .parent()
            .map(Path::to_path_buf)
            .into_iter()
            .collect();
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let path = std::env::join_paths(dirs).unwrap_or_default();
        Some(Python { program, path })
    }

    fn command(&self, dir: &Path) -> Command {
        let mut command = Command::new(&self.program);
        command.current_dir(dir).env("PATH", &self.path);
        command
    }

    fn sys_path(&self) -> Vec<String> {
        let output = self
            .command(Path::new("/"))
            .args([
                "-c",
                "import sys, json; print(json.dumps([p for p in sys.path if p]))",
            ])
            .output()
            .unwrap_or_else(|e| fail(&format!("cannot run Python: {e}")));
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| fail("no sys.path from Python"))
    }
}

/// The original's own daemon in a throw-away project, stopped on drop.
struct TheirDaemon<'a> {
    python: &'a Python,
    root: PathBuf,
    pid: u32,
}

impl<'a> TheirDaemon<'a> {
    fn start(python: &'a Python, base: &Path, pool: usize) -> TheirDaemon<'a> {
        let root = project(base, "original");
        let output = python
            .command(&root)
            .args(["-m", "dv_flow.mgr", "daemon", "start", "--pool-size"])
            .arg(pool.to_string())
            .output()
            .unwrap_or_else(|e| fail(&format!("cannot start the original's daemon: {e}")));
        if !output.status.success() {
            fail(&format!(
                "the original's daemon did not start: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let pid = std::fs::read_to_string(root.join(".dfm/daemon.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|state| state["pid"].as_u64())
            .unwrap_or_else(|| fail("the original's daemon wrote no pid")) as u32;
        TheirDaemon { python, root, pid }
    }
}

impl Drop for TheirDaemon<'_> {
    fn drop(&mut self) {
        let _ = self
            .python
            .command(&self.root)
            .args(["-m", "dv_flow.mgr", "daemon", "stop"])
            .output();
        remove_later(self.root.clone());
    }
}

/// A project folder with the bench's Python task in it.
fn project(base: &Path, who: &str) -> PathBuf {
    let root = base.join(format!(
        "dfm-bench-{who}-{}-{}",
        std::process::id(),
        unique()
    ));
    if let Err(e) = std::fs::create_dir_all(&root)
        .and_then(|()| std::fs::write(root.join("bench_tasks.py"), TASKS))
        .and_then(|()| std::fs::write(root.join("original_client.py"), DRIVER))
    {
        fail(&format!("cannot set up {}: {e}", root.display()));
    }
    root
}

/// One drive of a daemon by the original's client.
struct Drive {
    round_trip_p50: f64,
    rate: f64,
    /// The client's CPU per task (seconds), at that rate.
    client_cpu: f64,
    /// The daemon's, its workers' and their interpreters' CPU per task.
    server_cpu: f64,
}

/// Drives the daemon `daemon_pid` of `root`.
fn drive(
    python: &Python,
    root: &Path,
    daemon_pid: u32,
    kind: &str,
    round_trips: usize,
    tasks: usize,
) -> Drive {
    let cpu_before = tree_cpu(daemon_pid);
    let output = python
        .command(root)
        .arg(root.join("original_client.py"))
        .arg(root)
        .args([kind, &round_trips.to_string(), &tasks.to_string()])
        .arg(IN_FLIGHT.to_string())
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run the original's client: {e}")));
    if !output.status.success() {
        fail(&format!(
            "the original's client failed ({kind}): {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| fail("the original's client printed no report"));
    let times: Vec<f64> = report["round_trips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    if times.is_empty() {
        fail("the original's client measured no round trip");
    }
    let ran = report["tasks"].as_f64().unwrap_or(1.0).max(1.0);
    Drive {
        round_trip_p50: median(&times),
        rate: report["rate"].as_f64().unwrap_or(0.0),
        client_cpu: report["client_cpu_per_task"].as_f64().unwrap_or(0.0),
        server_cpu: (tree_cpu(daemon_pid) - cpu_before) / ran,
    }
}

/// CPU seconds of `pid` and every process under it, as they are now (the
/// interpreters and workers live as long as the daemon).
fn tree_cpu(pid: u32) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut total = 0.0;
    let mut todo = vec![pid];
    while let Some(pid) = todo.pop() {
        if let Some(stat) = stat_fields(pid) {
            // utime, stime, and those of its children it has waited for
            // (a shell step's shell and dfm-out): fields 14 to 17, 11 to
            // 14 after the ')'.
            let field = |n: usize| stat.get(n).and_then(|f| f.parse::<f64>().ok());
            total += (11..=14).filter_map(field).sum::<f64>();
        }
        todo.extend(children_of(pid));
    }
    total / ticks
}

/// The fields of `/proc/PID/stat` after its `(comm)`, which may hold spaces.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn ms_list(values: &[f64]) -> String {
    let (min, max) = min_max(values);
    format!(
        "{:.2} ms [{:.2}-{:.2}]",
        median(values) * 1e3,
        min * 1e3,
        max * 1e3
    )
}

fn share_list(values: &[f64]) -> String {
    let (min, max) = min_max(values);
    format!("{:.2} [{min:.2}-{max:.2}]", median(values))
}

fn rate_list(values: &[f64]) -> String {
    let (min, max) = min_max(values);
    format!("{:.1} tasks/s [{min:.1}-{max:.1}]", median(values))
}

/// Both daemons at pool 2, driven alternately, `repeat` times each.
pub(crate) fn side_by_side(dfm: &Path, base: &Path, options: &Options) {
    let Some(python) = Python::find() else {
        println!(
            "ORIG   skipped: no Python with dv-flow-mgr (set DFM_UPSTREAM_PYTHON to one that has dv-flow-mgr==1.20.0)"
        );
        return;
    };
    let pool = 2;
    let ours_root = project(base, "ours");
    let ours = Daemon::start_in(dfm, &ours_root, pool, &python.path);
    let theirs = TheirDaemon::start(&python, base, pool);
    println!(
        "ORIG   the original's own client, pool {pool}, {IN_FLIGHT} in flight for throughput; dfm's daemon and the original's, driven alternately:"
    );
    // (kind, what, round trips, tasks) for dfm's daemon and for the
    // original's, which takes about 0.4 s for each shell step's `dfm-out`.
    let full = !options.quick;
    let kinds = [
        (
            "pytask",
            "trivial Python task",
            (20, if full { 2000 } else { 500 }),
            (20, if full { 2000 } else { 500 }),
        ),
        (
            "shell",
            "shell step, one `dfm-out env` call",
            (20, if full { 2000 } else { 500 }),
            (5, if full { 64 } else { 32 }),
        ),
        (
            "plain",
            "plain shell step (`true`)",
            (20, if full { 2000 } else { 500 }),
            (20, if full { 500 } else { 200 }),
        ),
    ];
    for (kind, what, (our_trips, our_tasks), (their_trips, their_tasks)) in kinds {
        let mut mine = Vec::new();
        let mut yours = Vec::new();
        for _ in 0..options.repeat {
            mine.push(drive(
                &python, &ours.root, ours.pid, kind, our_trips, our_tasks,
            ));
            yours.push(drive(
                &python,
                &theirs.root,
                theirs.pid,
                kind,
                their_trips,
                their_tasks,
            ));
        }
        let each = |drives: &[Drive], figure: fn(&Drive) -> f64| -> Vec<f64> {
            drives.iter().map(figure).collect()
        };
        let (our_rtt, their_rtt) = (
            each(&mine, |d| d.round_trip_p50),
            each(&yours, |d| d.round_trip_p50),
        );
        let (our_rate, their_rate) = (each(&mine, |d| d.rate), each(&yours, |d| d.rate));
        let (our_cpu, their_cpu) = (
            each(&mine, |d| d.server_cpu),
            each(&yours, |d| d.server_cpu),
        );
        let client_cpu = each(&mine, |d| d.client_cpu);
        let per_run = |ours: &[f64], theirs: &[f64]| -> Vec<f64> {
            ours.iter().zip(theirs).map(|(o, t)| o / t).collect()
        };
        println!(
            "ORIG   {what}: round trip dfm {}, original {}, dfm/original {}",
            ms_list(&our_rtt),
            ms_list(&their_rtt),
            crate::stats::ratio(&per_run(&our_rtt, &their_rtt))
        );
        println!(
            "ORIG   {what}: throughput dfm {}, original {}, dfm/original {}",
            rate_list(&our_rate),
            rate_list(&their_rate),
            crate::stats::ratio(&per_run(&our_rate, &their_rate))
        );
        println!(
            "ORIG   {what}: CPU per task, daemon+workers+interpreters: dfm {}, original {}, original/dfm {}; the client's own {} (at most {:.0} tasks/s from one client)",
            ms_list(&our_cpu),
            ms_list(&their_cpu),
            crate::stats::ratio(&per_run(&their_cpu, &our_cpu)),
            ms_list(&client_cpu),
            1.0 / median(&client_cpu)
        );
        // The "machine's limit": what the cores could give if every
        // one of them ran this client and this daemon all the time.
        let cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
        let of_limit = |drives: &[Drive]| -> Vec<f64> {
            let share = |d: &Drive| d.rate * (d.server_cpu + d.client_cpu) / cores;
            drives.iter().map(share).collect()
        };
        println!(
            "ORIG   {what}: throughput / what {cores} cores allow at that CPU per task (the client's included): dfm {}, original {}",
            share_list(&of_limit(&mine)),
            share_list(&of_limit(&yours)),
        );
    }
    drop(theirs);
    own_client_beside(&python, &ours, options);
    direct_beside(dfm, &python, &ours, options);
    drop(ours);
    interpreter_costs(dfm, base, &python, options);
}

/// A plain shell step (`true`) from the original's client against the same
/// from dfm's own (the bench's client, dfm's dialect), through the same
/// daemon, alternately: what the original's dialect costs on dfm's side.
fn own_client_beside(python: &Python, ours: &Daemon, options: &Options) {
    let (round_trips, tasks) = (20, if options.quick { 500 } else { 2000 });
    let (mut theirs_rtt, mut theirs_rate, mut own_rtt, mut own_rate) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..options.repeat {
        let drive = drive(python, &ours.root, ours.pid, "plain", round_trips, tasks);
        theirs_rtt.push(drive.round_trip_p50);
        theirs_rate.push(drive.rate);
        let (rtt, rate) = own_client(ours, round_trips, tasks);
        own_rtt.push(rtt);
        own_rate.push(rate);
    }
    let per_run =
        |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(a, b)| a / b).collect() };
    println!(
        "ORIG   plain shell step (`true`) through dfm's daemon: round trip from the original's client {}, from dfm's own {}, original's/own {}",
        ms_list(&theirs_rtt),
        ms_list(&own_rtt),
        crate::stats::ratio(&per_run(&theirs_rtt, &own_rtt))
    );
    println!(
        "ORIG   plain shell step (`true`) through dfm's daemon: throughput from the original's client {}, from dfm's own {}, original's/own {}",
        rate_list(&theirs_rate),
        rate_list(&own_rate),
        crate::stats::ratio(&per_run(&theirs_rate, &own_rate))
    );
}

/// The shell step with one `dfm-out` call through dfm's daemon against its
/// floor: `bash -c "dfm-out env N=1"` spawned directly (std's `Command`),
/// one after another for the round trip and on two threads for the rate,
/// alternately.
fn direct_beside(dfm: &Path, python: &Python, ours: &Daemon, options: &Options) {
    let dfm_out = dfm.with_file_name("dfm-out");
    let dir = Path::new("/dev/shm").join(format!("dfm-bench-direct-{}", unique()));
    if std::fs::create_dir_all(&dir).is_err() {
        fail("cannot make a folder in /dev/shm");
    }
    let spawn = |lane: usize| {
        let status = Command::new("/bin/bash")
            .arg("-c")
            .arg(format!("{} env N=1", dfm_out.display()))
            .env("DFM_ENV", dir.join(format!("dfm.env.{lane}")))
            .stdin(std::process::Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            fail("cannot run bash and dfm-out");
        }
    };
    let (round_trips, tasks) = (20, if options.quick { 500 } else { 2000 });
    let (mut step_rtt, mut step_rate, mut floor_rtt, mut floor_rate) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..options.repeat {
        let drive = drive(python, &ours.root, ours.pid, "shell", round_trips, tasks);
        step_rtt.push(drive.round_trip_p50);
        step_rate.push(drive.rate);
        let times: Vec<f64> = (0..round_trips)
            .map(|_| {
                let started = Instant::now();
                spawn(0);
                started.elapsed().as_secs_f64()
            })
            .collect();
        floor_rtt.push(median(&times));
        let started = Instant::now();
        std::thread::scope(|scope| {
            for lane in 0..2 {
                let spawn = &spawn;
                scope.spawn(move || (0..tasks / 2).for_each(|_| spawn(lane)));
            }
        });
        floor_rate.push((tasks / 2 * 2) as f64 / started.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&dir);
    let per_run =
        |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(a, b)| a / b).collect() };
    println!(
        "ORIG   shell step, one `dfm-out env` call: round trip through dfm's daemon {}, `bash -c dfm-out` spawned directly {}, daemon/direct {}",
        ms_list(&step_rtt),
        ms_list(&floor_rtt),
        crate::stats::ratio(&per_run(&step_rtt, &floor_rtt))
    );
    println!(
        "ORIG   shell step, one `dfm-out env` call: throughput through dfm's daemon {}, spawned directly on 2 threads {}, daemon/direct {}",
        rate_list(&step_rate),
        rate_list(&floor_rate),
        crate::stats::ratio(&per_run(&step_rate, &floor_rate))
    );
}

/// dfm's own client: the round trip's median (one in flight) and the rate
/// with [`IN_FLIGHT`] in flight, in seconds and tasks/s.
fn own_client(daemon: &Daemon, round_trips: usize, tasks: usize) -> (f64, f64) {
    let mut client = daemon.client();
    let run = unique();
    let mut next = 0usize;
    let mut line = || {
        next += 1;
        daemon.task(&format!("own{run}-{next}"))
    };
    for _ in 0..IN_FLIGHT {
        client.send(&line());
    }
    for _ in 0..IN_FLIGHT {
        client.expect_pass();
    }
    let times: Vec<f64> = (0..round_trips)
        .map(|_| {
            let started = Instant::now();
            client.send(&line());
            client.expect_pass();
            started.elapsed().as_secs_f64()
        })
        .collect();
    let lines: Vec<String> = (0..tasks).map(|_| line()).collect();
    let started = Instant::now();
    let mut sent = 0;
    while sent < IN_FLIGHT.min(tasks) {
        client.send(&lines[sent]);
        sent += 1;
    }
    for _ in 0..tasks {
        client.expect_pass();
        if sent < tasks {
            client.send(&lines[sent]);
            sent += 1;
        }
    }
    (
        median(&times),
        tasks as f64 / started.elapsed().as_secs_f64(),
    )
}

/// A task of the original's, as its `dfm run` sends it, for a raw client.
fn python_task(root: &Path, id: &str, sys_path: &[String]) -> String {
    let mut pythonpath = vec![root.display().to_string()];
    pythonpath.extend(sys_path.iter().cloned());
    let params = json!({
        "request_id": id, "name": format!("bench.{id}"), "callable_spec": "bench_tasks.Trivial",
        "shell": "pytask", "body": null, "srcdir": root, "rundir": root.join("rundir").join(id),
        "pythonpath": pythonpath, "params": {}, "inputs": [], "env": {}, "memento": null,
        "resource_class": "",
    });
    format!(
        "{}\n",
        json!({"method": "task.submit", "id": id, "params": params})
    )
}

fn timed(client: &mut Client, request: &str) -> Duration {
    let started = Instant::now();
    client.send(request);
    client.expect_pass();
    started.elapsed()
}

/// A fresh worker's first Python task against its second, and the worker's
/// memory before and after, `repeat` fresh daemons.
fn interpreter_costs(dfm: &Path, base: &Path, python: &Python, options: &Options) {
    let sys_path = python.sys_path();
    let (mut first, mut next, mut idle, mut warm) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..options.repeat {
        let root = project(base, "interp");
        let daemon = Daemon::start_in(dfm, &root, 1, &python.path);
        let mut client = daemon.client();
        // The worker is up before its interpreter is timed.
        timed(&mut client, &daemon.task(&format!("warm{run}")));
        let worker = daemon.worker_pid();
        idle.push(dfm_host::procfs::rss_kib(worker) as f64);
        first.push(timed(&mut client, &python_task(&root, "py1", &sys_path)));
        next.push(timed(&mut client, &python_task(&root, "py2", &sys_path)));
        let interpreters: u64 = children_of(worker)
            .into_iter()
            .map(dfm_host::procfs::rss_kib)
            .sum();
        warm.push((dfm_host::procfs::rss_kib(worker) + interpreters) as f64);
    }
    let start_cost: Vec<f64> = first
        .iter()
        .zip(&next)
        .map(|(f, n)| f.as_secs_f64() - n.as_secs_f64())
        .collect();
    println!(
        "ORIG   a fresh worker's first Python task {}, its next {}: the interpreter's start {}",
        ms_range(&first),
        ms_range(&next),
        ms_list(&start_cost)
    );
    println!(
        "ORIG   worker RSS: idle {:.0} KiB, with its warm interpreter {:.0} KiB (both together)",
        median(&idle),
        median(&warm)
    );
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // pid (comm) state ppid ...
        let parent =
            stat_fields(child).and_then(|fields| fields.get(1).and_then(|p| p.parse::<u32>().ok()));
        if parent == Some(pid) {
            children.push(child);
        }
    }
    children
}
