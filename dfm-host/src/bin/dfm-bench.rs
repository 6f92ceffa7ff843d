//! `dfm-bench`: measures what a task costs through dfm against what the
//! machine can do at best (spawning the same command directly), using the
//! daemon's real socket protocol like any client.
//!
//! Run it from a release build: `cargo build --release --workspace &&
//! ./target/release/dfm-bench` (`--quick` for a short run). Every figure is
//! the median of repeated runs, with min–max, and its ratio to the limit.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dfm_host::pool::{Action, Pool, PoolConfig, WorkerInfo};
use dfm_wire::TaskSpec;
use serde_json::{json, Value};

const COMMAND: &str = "true";
const SHELL: &str = "bash";

struct Options {
    repeat: usize,
    quick: bool,
}

const USAGE: &str = "usage: dfm-bench [--quick | --pool-core]

Measures the spawn limit, a no-logic floor and dfm on `bash -c true`
tasks; see README.md. A full run takes about 25 minutes, --quick about
a minute. Run it on an otherwise idle machine. --pool-core measures only
the pool's decision core (seconds, no processes).";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = std::panic::catch_unwind(|| match args.first().map(String::as_str) {
        Some("--floor-relay") => floor::relay(&args[1..]),
        Some("--floor-worker") => floor::worker(&args[1..]),
        Some("--own-spawn-lane") => own_spawn_lane(&args[1..]),
        Some("--pool-core") if args.len() == 1 => pool_curve(&Options {
            repeat: 5,
            quick: false,
        }),
        Some("-h" | "--help") => println!("{USAGE}"),
        Some("--quick") | None if args.len() <= 1 => bench(!args.is_empty()),
        _ => fail(&format!("unexpected arguments {args:?}\n{USAGE}")),
    });
    remove_leftovers();
    if let Err(payload) = outcome {
        match payload.downcast_ref::<Failure>() {
            Some(Failure(message)) => eprintln!("dfm-bench: {message}"),
            None => eprintln!("dfm-bench: internal error (see the panic above)"),
        }
        std::process::exit(1);
    }
}

fn bench(quick: bool) {
    let options = Options {
        repeat: if quick { 3 } else { 5 },
        quick,
    };
    let dfm = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name("dfm"),
        Err(e) => fail(&format!("cannot find this executable: {e}")),
    };
    if !dfm.is_file() {
        fail(&format!(
            "{} is missing: build the workspace first",
            dfm.display()
        ));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "dfm-bench: `{SHELL} -c {COMMAND}` tasks, {cores} cores, median of {} runs [min-max]",
        options.repeat
    );
    println!();

    let limit_1 = spawn_latency(&options);
    let lanes = cores.min(2);
    let limit_n = spawn_throughput(lanes, &options);
    println!(
        "LIMIT  spawn+wait, 1 lane:   p50 {}  p99 {}",
        ms(limit_1.p50),
        ms(limit_1.p99)
    );
    println!("LIMIT  spawn+wait, {lanes} lanes:  {}", rate(&limit_n));
    let own_1 = own_spawn_times(if options.quick { 300 } else { 1000 });
    let own_n: Vec<f64> = (0..options.repeat)
        .map(|_| own_spawn_rate(lanes, if options.quick { 1000 } else { 2000 }))
        .collect();
    println!(
        "LIMIT  dfm's own spawn (the worker's, log file included), 1 lane:   p50 {}  p99 {}",
        ms(own_1.p50),
        ms(own_1.p99)
    );
    println!("LIMIT  the same, {lanes} lanes:  {}", rate(&own_n));
    println!();

    // The speed of this machine drifts with its neighbours' load, by more
    // than the differences measured here: every ratio sets a measurement
    // against the limit measured just before and just after it (see
    // `between_limits`), and is the median of those ratios [min-max].
    let floor = floor::measure(lanes, &options);
    println!(
        "FLOOR  client -> relay -> worker -> spawn, no logic, 1 lane:  p50 {}   ratio to spawn {}",
        ms(floor.round_trip),
        ratio(&floor.round_trip_ratios)
    );
    println!(
        "FLOOR  the same, {lanes} workers, 64 in flight:  {}   ratio to spawn limit {}",
        rate(&floor.throughput),
        ratio(&floor.throughput_ratios)
    );
    println!();

    let base_dirs = [
        ("tmpfs", PathBuf::from("/dev/shm")),
        ("disk", std::env::temp_dir()),
    ];
    for (fs, base) in &base_dirs {
        if !base.is_dir() {
            continue;
        }
        let (rtt, ratios) = warm_round_trip(&dfm, base, &options);
        println!(
            "DFM    warm round trip ({fs}):  p50 {}  p99 {}   ratio to spawn {}, to floor {:.2}, to own spawn {:.2}",
            ms(rtt.p50),
            ms(rtt.p99),
            ratio(&ratios),
            rtt.p50.as_secs_f64() / floor.round_trip.as_secs_f64(),
            rtt.p50.as_secs_f64() / own_1.p50.as_secs_f64()
        );
    }
    println!();

    let sizes: &[usize] = if options.quick {
        &[1000]
    } else {
        &[1000, 10000]
    };
    for (fs, base) in &base_dirs {
        if !base.is_dir() || (options.quick && *fs == "disk") {
            continue;
        }
        for &tasks in sizes {
            for pool in [1usize, 2, 4] {
                for clients in [1usize, 4] {
                    let (runs, ratios) = between_limits(
                        options.repeat,
                        || spawn_rate(pool.min(lanes), 1000),
                        || throughput(&dfm, base, pool, clients, tasks),
                    );
                    let to_floor = if pool == lanes {
                        format!(
                            ", to floor {:.2}, to own spawn {:.2}",
                            median(&runs) / median(&floor.throughput),
                            median(&runs) / median(&own_n)
                        )
                    } else {
                        String::new()
                    };
                    println!(
                        "DFM    {tasks:>5} tasks, pool {pool}, {clients} client(s), 64 in flight ({fs}):  {}   ratio to spawn limit {}{to_floor}",
                        rate(&runs),
                        ratio(&ratios)
                    );
                }
            }
        }
    }
    println!();

    // What a user sees: `dfm run` of a flow, dependency tracking and
    // display included.
    let flow_tasks = if options.quick { 2000 } else { 5000 };
    let mut cpu = Vec::new();
    let (runs, ratios) = between_limits(
        options.repeat,
        || spawn_rate(lanes, 1000),
        || {
            let (run, client_cpu) = flow_run(&dfm, &base_dirs[0].1, lanes, flow_tasks);
            cpu.push(client_cpu);
            run
        },
    );
    println!(
        "DFM    `dfm run` of a flow of {flow_tasks} tasks and one that needs them all, pool {lanes}, --jobs 64 (tmpfs):  {}   ratio to spawn limit {}   `dfm run` CPU {:.0} us per task",
        rate(&runs),
        ratio(&ratios),
        median(&cpu)
    );
    println!();

    let (start, first) = cold_start(&dfm, &base_dirs[0].1, &options);
    println!("DFM    daemon start -> ready:  {}", ms_range(&start));
    println!("DFM    first task on a cold pool:  {}", ms_range(&first));
    let rss = memory(&dfm, &base_dirs[0].1);
    println!(
        "DFM    RSS: daemon idle {} KiB, worker idle {} KiB, daemon with 10000 queued {} KiB",
        rss.daemon_idle, rss.worker_idle, rss.daemon_queued
    );
    println!("DFM    files written per task: {}", rss.files_per_task);
    println!();

    pool_curve(&options);
}

/// The pool's decision core alone, over queue lengths and worker counts:
/// the cost of one dispatch (with its result) should not follow either.
fn pool_curve(options: &Options) {
    println!(
        "POOL   decision core alone (dispatch + result per task), median of {} runs [min-max]:",
        options.repeat
    );
    for workers in [10usize, 100, 1000] {
        for queued in [1_000usize, 10_000, 100_000] {
            let runs: Vec<f64> = (0..options.repeat)
                .map(|_| pool_core(workers, queued))
                .collect();
            let each: Vec<f64> = runs.iter().map(|per_sec| 1e6 / per_sec).collect();
            let (min, max) = min_max(&each);
            println!(
                "POOL   {queued:>6} queued, {workers:>4} workers:  {:>10.0} dispatches/s  ({:.2} us each [{min:.2}-{max:.2}])",
                median(&runs),
                median(&each)
            );
        }
    }
}

/// Gives up: unwinds to `main`, so that every daemon and floor process
/// started so far is stopped on the way (their `Drop`s), then exits 1.
fn fail(message: &str) -> ! {
    std::panic::resume_unwind(Box::new(Failure(message.to_string())))
}

struct Failure(String);

/// Connects to a socket a process just started listens on: its path appears
/// at `bind`, a moment before it accepts connections.
fn connect_when_ready(socket: &Path) -> std::io::Result<UnixStream> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match UnixStream::connect(socket) {
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            other => return other,
        }
    }
}

struct Latency {
    p50: Duration,
    p99: Duration,
}

fn percentiles(mut samples: Vec<Duration>) -> Latency {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Latency {
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Runs `run` `repeat` times, each between two measurements of `limit`
/// (the one after a run is the one before the next). Returns each run's
/// figure, and its ratio to the mean of the limits on either side of it:
/// this machine's speed drifts, and a limit taken on both sides of a run
/// follows the drift better than one taken before it only.
fn between_limits(
    repeat: usize,
    mut limit: impl FnMut() -> f64,
    mut run: impl FnMut() -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut before = limit();
    let mut runs = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..repeat {
        let figure = run();
        let after = limit();
        ratios.push(figure / ((before + after) / 2.0));
        runs.push(figure);
        before = after;
    }
    (runs, ratios)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The smallest and largest of some values.
fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)))
}

fn rate(values: &[f64]) -> String {
    let (min, max) = min_max(values);
    format!("{:.0} tasks/s [{min:.0}-{max:.0}]", median(values))
}

/// The median of some ratios, with their range.
fn ratio(values: &[f64]) -> String {
    let (min, max) = min_max(values);
    format!("{:.2} [{min:.2}-{max:.2}]", median(values))
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn ms_range(values: &[Duration]) -> String {
    let secs: Vec<f64> = values.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    let (min, max) = min_max(&secs);
    format!("{:.2} ms [{min:.2}-{max:.2}]", median(&secs))
}

fn spawn_once() {
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

fn spawn_latency(options: &Options) -> Latency {
    spawn_times(if options.quick { 300 } else { 1000 })
}

fn spawn_throughput(lanes: usize, options: &Options) -> Vec<f64> {
    let n = if options.quick { 1000 } else { 2000 };
    (0..options.repeat).map(|_| spawn_rate(lanes, n)).collect()
}

/// Spawns per second of `n` commands on `lanes` threads.
fn spawn_rate(lanes: usize, n: usize) -> f64 {
    let lanes = lanes.max(1);
    let start = Instant::now();
    let threads: Vec<_> = (0..lanes)
        .map(|_| std::thread::spawn(move || (0..n / lanes).for_each(|_| spawn_once())))
        .collect();
    join_all(threads);
    (n / lanes * lanes) as f64 / start.elapsed().as_secs_f64()
}

/// Waits for `threads`; a failure in one fails the bench.
fn join_all(threads: Vec<std::thread::JoinHandle<()>>) {
    for t in threads {
        if let Err(payload) = t.join() {
            std::panic::resume_unwind(payload);
        }
    }
}

/// The times of `n` spawns, one after the other.
fn spawn_times(n: usize) -> Latency {
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
fn own_task(lane: usize, i: usize, env: &dfm_wire::Environment) -> TaskSpec {
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

/// Starts `task` with the worker's spawner and waits for it.
fn own_spawn_once(launcher: &mut dfm_host::worker::launch::Launcher, task: &TaskSpec) {
    match launcher.start(task) {
        Ok(mut child) => {
            if let Err(e) = child.wait_blocking() {
                fail(&format!("cannot wait for bash: {e}"));
            }
        }
        Err(e) => fail(&e),
    }
}

fn own_launcher() -> dfm_host::worker::launch::Launcher {
    dfm_host::worker::launch::Launcher::new()
        .unwrap_or_else(|e| fail(&format!("cannot prepare dfm's spawner: {e}")))
}

fn own_env() -> dfm_wire::Environment {
    dfm_wire::Environment::new(&std::env::vars().collect())
}

/// The times of `n` tasks started with dfm's own spawner, one after the
/// other.
fn own_spawn_times(n: usize) -> Latency {
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
fn own_spawn_rate(lanes: usize, n: usize) -> f64 {
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
fn own_spawn_lane(args: &[String]) {
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

fn own_dir() -> PathBuf {
    Path::new("/dev/shm").join(format!("dfm-bench-own-{}", std::process::id()))
}

/// The median time of `n` spawns, one after the other.
fn spawn_p50(n: usize) -> Duration {
    spawn_times(n).p50
}

/// A daemon in a throw-away project, stopped on drop.
struct Daemon {
    dfm: PathBuf,
    root: PathBuf,
    pid: u32,
}

impl Daemon {
    fn start(dfm: &Path, base: &Path, pool: usize) -> (Daemon, Duration) {
        let root = base.join(format!("dfm-bench-{}-{}", std::process::id(), unique()));
        if let Err(e) = std::fs::create_dir_all(&root) {
            fail(&format!("cannot create {}: {e}", root.display()));
        }
        let started = Instant::now();
        run_dfm(
            dfm,
            &root,
            &["daemon", "start", "--pool-size", &pool.to_string()],
        );
        let elapsed = started.elapsed();
        let state: Value = std::fs::read_to_string(root.join(".dfm/daemon.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| fail("no daemon.json"));
        let pid = state["pid"].as_u64().unwrap_or(0) as u32;
        (
            Daemon {
                dfm: dfm.to_path_buf(),
                root,
                pid,
            },
            elapsed,
        )
    }

    fn client(&self) -> Client {
        Client::connect(&self.root.join(".dfm/daemon.sock"))
    }

    fn task(&self, id: &str) -> String {
        let spec = TaskSpec {
            request_id: id.to_string(),
            name: format!("bench.t{}", id),
            shell: SHELL.to_string(),
            body: COMMAND.to_string(),
            srcdir: self.root.display().to_string(),
            rundir: self.root.join("rundir").display().to_string(),
            // As `dfm run` and the original's client send it: the whole
            // environment of the client, `PATH` included.
            env: dfm_wire::Environment::new(&std::env::vars().collect()),
            ..TaskSpec::default()
        };
        format!(
            "{}\n",
            json!({"method": "task.submit", "id": id, "params": spec})
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new(&self.dfm)
            .args(["daemon", "stop"])
            .current_dir(&self.root)
            .output();
        remove_later(self.root.clone());
    }
}

/// Project folders to remove when the bench ends. Removing thousands of
/// task logs right after a run would slow the next run's file creation on
/// some filesystems: ext4 without a journal skips every inode deleted in
/// the last 60 s (300 s while its block is dirty) when it allocates one,
/// at a cost per skipped inode.
static LEFTOVERS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn remove_later(path: PathBuf) {
    if let Ok(mut leftovers) = LEFTOVERS.lock() {
        leftovers.push(path);
    }
}

fn remove_leftovers() {
    let paths = match LEFTOVERS.lock() {
        Ok(mut leftovers) => std::mem::take(&mut *leftovers),
        Err(_) => return,
    };
    for path in paths {
        let _ = std::fs::remove_dir_all(path);
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Reads a line from a Unix socket, waiting for input with `poll` first.
///
/// A thread blocked in `read` on a Unix socket is woken each time the peer
/// reads what this side wrote (the kernel announces the freed buffer space
/// on the same wait queue), only to find nothing and sleep again: a wasted
/// wakeup per line sent. `poll` for input alone is woken for input alone,
/// as dfm's own clients are (they register their sockets for input only).
fn read_line_from(reader: &mut BufReader<UnixStream>, line: &mut String) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    if reader.buffer().is_empty() {
        let mut poll = libc::pollfd {
            fd: reader.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, on a socket the reader keeps open.
        while unsafe { libc::poll(&mut poll, 1, -1) } < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
    reader.read_line(line)
}

struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: String,
}

impl Client {
    fn connect(socket: &Path) -> Client {
        let stream = connect_when_ready(socket)
            .unwrap_or_else(|e| fail(&format!("connect to {}: {e}", socket.display())));
        let writer = stream
            .try_clone()
            .unwrap_or_else(|e| fail(&format!("socket: {e}")));
        Client {
            reader: BufReader::new(stream),
            writer,
            line: String::new(),
        }
    }

    fn send(&mut self, text: &str) {
        if let Err(e) = self.writer.write_all(text.as_bytes()) {
            fail(&format!("write to the daemon: {e}"));
        }
    }

    /// Reads one reply and checks the task passed.
    fn expect_pass(&mut self) {
        self.line.clear();
        match read_line_from(&mut self.reader, &mut self.line) {
            Ok(n) if n > 0 => {}
            _ => fail("the daemon closed the connection"),
        }
        if !self.line.contains("\"status\":0") {
            fail(&format!("a task did not pass: {}", self.line.trim()));
        }
    }
}

/// Round trips of one task at a time on a warm pool of one, in rounds
/// between rounds of as many plain spawns: the latency over all rounds,
/// and each round's ratio of medians.
fn warm_round_trip(dfm: &Path, base: &Path, options: &Options) -> (Latency, Vec<f64>) {
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
fn throughput(dfm: &Path, base: &Path, pool: usize, clients: usize, tasks: usize) -> f64 {
    let (daemon, _) = Daemon::start(dfm, base, pool);
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
fn flow_run(dfm: &Path, base: &Path, pool: usize, tasks: usize) -> (f64, f64) {
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

/// Runs `dfm ARGS` in `dir` to its end; fails the bench if it fails.
fn run_dfm(dfm: &Path, dir: &Path, args: &[&str]) {
    match Command::new(dfm).args(args).current_dir(dir).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => fail(&format!(
            "dfm {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => fail(&format!("cannot run dfm: {e}")),
    }
}

/// CPU time of this process's waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_CHILDREN is a valid `who`.
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
    }
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn cold_start(dfm: &Path, base: &Path, options: &Options) -> (Vec<Duration>, Vec<Duration>) {
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

struct Memory {
    daemon_idle: u64,
    worker_idle: u64,
    daemon_queued: u64,
    files_per_task: f64,
}

fn memory(dfm: &Path, base: &Path) -> Memory {
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
    let mut status = daemon.client();
    status.send("{\"method\": \"status.get\", \"id\": \"s\"}\n");
    status.line.clear();
    let _ = status.reader.read_line(&mut status.line);
    let worker_pid = serde_json::from_str::<Value>(&status.line)
        .ok()
        .and_then(|v| v["result"]["workers"][0]["pid"].as_u64())
        .unwrap_or(0) as u32;
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

fn walk_count(dir: &Path) -> usize {
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

/// Dispatches per second of the pool alone: `queued` tasks over `workers`
/// registered workers, each result immediately followed by the next
/// dispatch.
fn pool_core(workers: usize, queued: usize) -> f64 {
    let t0 = Instant::now();
    let mut pool = Pool::new(
        PoolConfig {
            max_workers: workers,
            launch_batch_size: workers,
            ..PoolConfig::default()
        },
        "b",
    );
    for i in 0..queued {
        let spec = TaskSpec {
            request_id: i.to_string(),
            name: "t".into(),
            ..TaskSpec::default()
        };
        let _ = pool.submit(1, spec, t0);
    }
    // Dispatched tasks finish in the order they were dispatched.
    let mut running: VecDeque<(u64, String)> = VecDeque::with_capacity(workers);
    let mut actions = pool.take_actions();
    for action in &actions {
        if let Action::Launch { worker_id, .. } = action {
            let _ = pool.register(worker_id, "", WorkerInfo::default(), t0);
        }
    }
    actions.extend(pool.take_actions());
    let start = Instant::now();
    let mut done = 0usize;
    let mut queue: Vec<Action> = actions;
    while done < queued {
        for action in queue.drain(..) {
            if let Action::Dispatch { slot, task, .. } = action {
                running.push_back((slot, task.request_id.clone()));
            }
        }
        let Some((slot, request_id)) = running.pop_front() else {
            break;
        };
        let result = dfm_wire::TaskResult::new(&request_id, 0);
        let _ = pool.task_finished(slot, result, t0);
        done += 1;
        queue = pool.take_actions();
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// The floor of any design where a client hands tasks to a daemon that
/// hands them to worker processes: the same processes and sockets as dfm
/// (client -> Unix socket -> relay -> Unix socket -> worker -> spawn), with
/// no logic at all. The relay gives each worker one task at a time, as the
/// pool does; the worker spawns the command with no log and no parsing.
/// On a small VM, waking a process on the other CPU costs tens of
/// microseconds, so this floor lies measurably above the spawn limit.
mod floor {
    use std::collections::VecDeque;
    use std::io::{BufReader, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use super::{
        between_limits, fail, percentiles, read_line_from, spawn_once, spawn_p50, spawn_rate,
        unique, Client, Options,
    };

    pub struct Floor {
        pub round_trip: Duration,
        pub round_trip_ratios: Vec<f64>,
        pub throughput: Vec<f64>,
        pub throughput_ratios: Vec<f64>,
    }

    /// Like the bench's own measurements: rounds between measurements of
    /// the limit, a ratio per round.
    pub fn measure(lanes: usize, options: &Options) -> Floor {
        let n = if options.quick { 300 } else { 1000 };
        let per_round = n / options.repeat;
        let mut samples = Vec::new();
        let round_trip_ratios = {
            let setup = Setup::start(1);
            let mut client = setup.client();
            for _ in 0..20 {
                round_trip(&mut client);
            }
            between_limits(
                options.repeat,
                || spawn_p50(per_round).as_secs_f64(),
                || {
                    let these: Vec<Duration> =
                        (0..per_round).map(|_| round_trip(&mut client)).collect();
                    samples.extend(&these);
                    percentiles(these).p50.as_secs_f64()
                },
            )
            .1
        };
        let tasks = if options.quick { 1000 } else { 2000 };
        let (throughput, throughput_ratios) = between_limits(
            options.repeat,
            || spawn_rate(lanes, 1000),
            || {
                let setup = Setup::start(lanes);
                let mut client = setup.client();
                for _ in 0..lanes * 4 {
                    round_trip(&mut client);
                }
                let start = Instant::now();
                let mut sent = 0;
                while sent < 64.min(tasks) {
                    client.send(request());
                    sent += 1;
                }
                for _ in 0..tasks {
                    client.expect_pass();
                    if sent < tasks {
                        client.send(request());
                        sent += 1;
                    }
                }
                tasks as f64 / start.elapsed().as_secs_f64()
            },
        );
        Floor {
            round_trip: percentiles(samples).p50,
            round_trip_ratios,
            throughput,
            throughput_ratios,
        }
    }

    /// A relay and its workers, killed on drop.
    struct Setup {
        dir: PathBuf,
        children: Vec<Child>,
    }

    impl Setup {
        fn start(workers: usize) -> Setup {
            let dir = std::env::temp_dir().join(format!(
                "dfm-bench-floor-{}-{}",
                std::process::id(),
                unique()
            ));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                fail(&format!("cannot create {}: {e}", dir.display()));
            }
            let exe = std::env::current_exe().unwrap_or_else(|e| fail(&format!("{e}")));
            let mut setup = Setup {
                dir,
                children: Vec::new(),
            };
            let spawn = |args: &[&str]| {
                Command::new(&exe)
                    .args(args)
                    .spawn()
                    .unwrap_or_else(|e| fail(&format!("cannot start the floor relay: {e}")))
            };
            let clients = setup.dir.join("clients.sock");
            let workers_socket = setup.dir.join("workers.sock");
            let relay = spawn(&[
                "--floor-relay",
                &clients.to_string_lossy(),
                &workers_socket.to_string_lossy(),
                &workers.to_string(),
            ]);
            setup.children.push(relay);
            wait_for_path(&workers_socket);
            for _ in 0..workers {
                let worker = spawn(&["--floor-worker", &workers_socket.to_string_lossy()]);
                setup.children.push(worker);
            }
            wait_for_path(&clients);
            setup
        }

        fn client(&self) -> Client {
            Client::connect(&self.dir.join("clients.sock"))
        }
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            for child in &mut self.children {
                let _ = child.kill();
                let _ = child.wait();
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A floor process ends with the bench, however the bench ends.
    fn die_with_parent() {
        // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        }
    }

    fn wait_for_path(path: &Path) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !path.exists() {
            if Instant::now() > deadline {
                fail(&format!("{} never appeared", path.display()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// What the client sends: a `task.submit` the size of dfm's, the
    /// client's environment included.
    fn request() -> &'static str {
        static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        LINE.get_or_init(|| {
            let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
            let params = serde_json::json!({"request_id": "1", "name": "bench.t1", "shell": "bash",
                "body": "true", "srcdir": "/tmp/x", "rundir": "/tmp/x/rundir", "env": env});
            format!(
                "{}\n",
                serde_json::json!({"method": "task.submit", "id": "1", "params": params})
            )
        })
    }

    fn round_trip(client: &mut Client) -> Duration {
        let start = Instant::now();
        client.send(request());
        client.expect_pass();
        start.elapsed()
    }

    fn listen(path: &str) -> UnixListener {
        UnixListener::bind(path).unwrap_or_else(|e| fail(&format!("cannot listen on {path}: {e}")))
    }

    /// `--floor-relay CLIENT_SOCKET WORKER_SOCKET WORKERS`: one client,
    /// `WORKERS` workers, each given one line at a time, first come first
    /// served; each worker's answer goes back to the client.
    pub fn relay(args: &[String]) {
        let [clients, workers, count] = args else {
            fail("usage: --floor-relay CLIENT_SOCKET WORKER_SOCKET WORKERS")
        };
        die_with_parent();
        let count: usize = count.parse().unwrap_or(1);
        let worker_listener = listen(workers);
        let streams: Vec<UnixStream> = (0..count)
            .map(|_| match worker_listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) => fail(&format!("floor relay accept: {e}")),
            })
            .collect();
        let client_listener = listen(clients);
        let client = match client_listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) => fail(&format!("floor relay accept: {e}")),
        };
        let to_client = Arc::new(Mutex::new(clone(&client)));
        let to_workers: Arc<Vec<Mutex<UnixStream>>> =
            Arc::new(streams.iter().map(|s| Mutex::new(clone(s))).collect());
        // Lines waiting for a worker, and which workers are idle.
        let state = Arc::new(Mutex::new((VecDeque::<String>::new(), vec![true; count])));
        for (i, stream) in streams.iter().enumerate() {
            let mut reader = BufReader::new(clone(stream));
            let (to_client, to_workers, state) =
                (to_client.clone(), to_workers.clone(), state.clone());
            std::thread::spawn(move || {
                let mut line = String::new();
                while matches!(read_line_from(&mut reader, &mut line), Ok(n) if n > 0) {
                    if let Ok(mut client) = to_client.lock() {
                        let _ = client.write_all(line.as_bytes());
                    }
                    line.clear();
                    if let Ok(mut state) = state.lock() {
                        match state.0.pop_front() {
                            Some(next) => write_to(&to_workers[i], &next),
                            None => state.1[i] = true,
                        }
                    }
                }
            });
        }
        let mut reader = BufReader::new(client);
        let mut line = String::new();
        while matches!(read_line_from(&mut reader, &mut line), Ok(n) if n > 0) {
            if let Ok(mut state) = state.lock() {
                match state.1.iter().position(|idle| *idle) {
                    Some(i) => {
                        state.1[i] = false;
                        write_to(&to_workers[i], &line);
                    }
                    None => state.0.push_back(line.clone()),
                }
            }
            line.clear();
        }
    }

    fn clone(stream: &UnixStream) -> UnixStream {
        stream
            .try_clone()
            .unwrap_or_else(|e| fail(&format!("socket: {e}")))
    }

    fn write_to(stream: &Mutex<UnixStream>, line: &str) {
        if let Ok(mut stream) = stream.lock() {
            let _ = stream.write_all(line.as_bytes());
        }
    }

    /// `--floor-worker SOCKET`: for each line, spawn the command and wait,
    /// then answer with a short line.
    pub fn worker(args: &[String]) {
        let [socket] = args else {
            fail("usage: --floor-worker SOCKET")
        };
        die_with_parent();
        let stream = super::connect_when_ready(Path::new(socket))
            .unwrap_or_else(|e| fail(&format!("cannot connect to {socket}: {e}")));
        let mut reader = BufReader::new(clone(&stream));
        let mut writer = stream;
        let mut line = String::new();
        while matches!(read_line_from(&mut reader, &mut line), Ok(n) if n > 0) {
            spawn_once();
            line.clear();
            if writer
                .write_all(b"{\"id\":\"1\",\"result\":{\"status\":0}}\n")
                .is_err()
            {
                return;
            }
        }
    }
}
