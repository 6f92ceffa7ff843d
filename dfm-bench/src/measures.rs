//! What dfm costs, measured through the daemon's real socket protocol.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::daemon::run_dfm;
use crate::daemon::Daemon;
use crate::limits::{join_all, spawn_p50};
use crate::setup::{fail, Options, COMMAND};
use crate::stats::{between_limits, percentiles, Latency};

/// Round trips of one task at a time on a warm pool of one, in rounds
/// between rounds of as many plain spawns: the latency over all rounds,
/// and each round's ratio of medians.
pub(crate) fn warm_round_trip(dfm: &Path, base: &Path, options: &Options) -> (Latency, Vec<f64>) {
    let (daemon, _) = Daemon::start(dfm, base, 1);
    let mut client = daemon.client();
    let n = if options.quick { 300 } else { 1000 };
    for i in 0..20 {
        client.send(&daemon.task(&format!("w{i}")));
        client.expect_pass();
    }
    let per_round = n / options.repeat;
    let mut samples = Vec::new();
    let mut round = 0;
    let (_, ratios) = between_limits(
        options.repeat,
        || spawn_p50(per_round).as_secs_f64(),
        || {
            round += 1;
            let these: Vec<Duration> = (0..per_round)
                .map(|i| {
                    let task = daemon.task(&format!("r{round}-{i}"));
                    let start = Instant::now();
                    client.send(&task);
                    client.expect_pass();
                    start.elapsed()
                })
                .collect();
            samples.extend(&these);
            percentiles(these).p50.as_secs_f64()
        },
    );
    (percentiles(samples), ratios)
}

/// Tasks per second for `tasks` tasks from `clients` clients with 64 in
/// flight in all, on a warm pool.
pub(crate) fn throughput(
    dfm: &Path,
    base: &Path,
    pool: usize,
    clients: usize,
    tasks: usize,
) -> f64 {
    throughput_with(dfm, base, pool, clients, tasks, None)
}

/// [`throughput`] with `config` as the project's configuration.
pub(crate) fn throughput_with(
    dfm: &Path,
    base: &Path,
    pool: usize,
    clients: usize,
    tasks: usize,
    config: Option<&str>,
) -> f64 {
    let (daemon, _) = Daemon::start_with(dfm, base, pool, config);
    throughput_on(&daemon, pool, clients, tasks)
}

/// Tasks per second on `daemon`, warmed first (see [`throughput`]).
pub(crate) fn throughput_on(daemon: &Daemon, pool: usize, clients: usize, tasks: usize) -> f64 {
    // Warm every worker.
    let mut warm = daemon.client();
    for i in 0..pool * 4 {
        warm.send(&daemon.task(&format!("warm{i}")));
    }
    for _ in 0..pool * 4 {
        warm.expect_pass();
    }
    let in_flight = 64 / clients;
    let per_client = tasks / clients;
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let mut client = daemon.client();
            let lines: Vec<String> = (0..per_client)
                .map(|i| daemon.task(&format!("c{c}-{i}")))
                .collect();
            std::thread::spawn(move || {
                let mut sent = 0;
                while sent < in_flight.min(lines.len()) {
                    client.send(&lines[sent]);
                    sent += 1;
                }
                for _ in 0..lines.len() {
                    client.expect_pass();
                    if sent < lines.len() {
                        client.send(&lines[sent]);
                        sent += 1;
                    }
                }
            })
        })
        .collect();
    join_all(threads);
    (per_client * clients) as f64 / start.elapsed().as_secs_f64()
}

/// `dfm run all` of a flow of `tasks` independent tasks and `all`, which
/// needs them, on a warm daemon: tasks per second, and the CPU time of the
/// `dfm run` process per task, in microseconds.
pub(crate) fn flow_run(dfm: &Path, base: &Path, pool: usize, tasks: usize) -> (f64, f64) {
    let (daemon, _) = Daemon::start(dfm, base, pool);
    let mut flow = String::from("package:\n  name: bench\n  tasks:\n");
    for i in 0..tasks {
        flow.push_str(&format!("  - name: t{i}\n    run: \"{COMMAND}\"\n"));
    }
    let needs: Vec<String> = (0..tasks).map(|i| format!("t{i}")).collect();
    flow.push_str(&format!(
        "  - root: all\n    needs: [{}]\n    run: \"{COMMAND}\"\n",
        needs.join(", ")
    ));
    if let Err(e) = std::fs::write(daemon.root.join("flow.dv"), flow) {
        fail(&format!("cannot write the flow: {e}"));
    }
    let run = || {
        run_dfm(
            dfm,
            &daemon.root,
            &["run", "all", "--jobs", "64", "--ui", "log"],
        )
    };
    // The first run warms the workers and creates the rundirs.
    run();
    let cpu_before = children_cpu();
    let start = Instant::now();
    run();
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (children_cpu() - cpu_before).as_secs_f64();
    let count = (tasks + 1) as f64;
    (count / elapsed, cpu * 1e6 / count)
}

/// CPU time of this process's waited-for children so far.
pub(crate) fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_CHILDREN is a valid `who`.
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
    }
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

pub(crate) fn cold_start(
    dfm: &Path,
    base: &Path,
    options: &Options,
) -> (Vec<Duration>, Vec<Duration>) {
    let mut starts = Vec::new();
    let mut firsts = Vec::new();
    for _ in 0..options.repeat {
        let (daemon, start) = Daemon::start(dfm, base, 1);
        let mut client = daemon.client();
        let task = daemon.task("first");
        let t = Instant::now();
        client.send(&task);
        client.expect_pass();
        firsts.push(t.elapsed());
        starts.push(start);
    }
    (starts, firsts)
}

pub(crate) struct Memory {
    pub(crate) daemon_idle: u64,
    pub(crate) worker_idle: u64,
    pub(crate) daemon_queued: u64,
    pub(crate) files_per_task: f64,
}

pub(crate) fn memory(dfm: &Path, base: &Path) -> Memory {
    let (daemon, _) = Daemon::start(dfm, base, 1);
    std::thread::sleep(Duration::from_millis(200));
    let daemon_idle = dfm_host::procfs::rss_kib(daemon.pid);
    let mut client = daemon.client();
    let count = 100;
    for i in 0..count {
        client.send(&daemon.task(&format!("f{i}")));
    }
    for _ in 0..count {
        client.expect_pass();
    }
    let files = walk_count(&daemon.root.join("rundir"));
    let worker_pid = daemon.worker_pid();
    std::thread::sleep(Duration::from_millis(200));
    let worker_idle = dfm_host::procfs::rss_kib(worker_pid);
    // One long task holds the only worker; 10000 more wait behind it.
    let mut blocker = daemon.task("block");
    blocker = blocker.replace("\"body\":\"true\"", "\"body\":\"sleep 30\"");
    client.send(&blocker);
    let mut queue = String::new();
    for i in 0..10_000 {
        queue.push_str(&daemon.task(&format!("q{i}")));
    }
    client.send(&queue);
    std::thread::sleep(Duration::from_millis(500));
    let daemon_queued = dfm_host::procfs::rss_kib(daemon.pid);
    Memory {
        daemon_idle,
        worker_idle,
        daemon_queued,
        files_per_task: files as f64 / count as f64,
    }
}

pub(crate) fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk_count(&path)
            } else {
                1
            }
        })
        .sum()
}
