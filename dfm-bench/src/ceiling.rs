//! `dfm-bench --ceiling`: the daemon's own ceiling. Its workers are the
//! bench's, in this process: each authenticates, registers, heartbeats and
//! answers every `task.execute` at once, running nothing (they are
//! launched through the `relay` runner plugin, which hands each launch to
//! the bench). With 10, 100, 1000 and 10,000 of them (the daemon's RSS
//! per worker for each) and 1 to 16 clients, the
//! tasks per second the daemon sustains, its CPU per task, and how long
//! `status.get` and a monitor's snapshot take under that load; then the
//! same with every task holding a license token, side by side.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dfm_host::worker::{next_message, open_session, send, Identity};
use dfm_wire::worker::job_env;
use dfm_wire::{FromWorker, TaskResult, TaskSpec, ToWorker};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{UnixListener, UnixStream};

mod monitored;
mod side_by_side;

use side_by_side::{licensed_side_by_side, scraped_side_by_side};

use crate::daemon::{remove_later, unique};
use crate::probes::{monitor_snapshot, status_get, AnswerTimes};
use crate::setup::{fail, Options};
use crate::stats::{ms, percentiles};

/// Distinct task names among the bench's tasks.
const TASK_NAMES: u64 = 2000;

/// One point of the curve.
struct Point {
    rate: f64,
    cpu_per_task: Duration,
    status: Vec<AnswerTimes>,
    snapshot: AnswerTimes,
}

pub(crate) fn curve(dfm: &Path, options: &Options) {
    let relay = dfm.with_file_name("libdfm_runner_relay.so");
    if !relay.is_file() {
        fail(&format!(
            "{} is missing: build the workspace first",
            relay.display()
        ));
    }
    raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("cannot start the bench's runtime: {e}")));
    let seconds = if options.quick { 2.0 } else { 5.0 };
    println!("CEIL   the daemon alone: workers that answer at once, {seconds:.0} s per point");
    // DFM_BENCH_CEILING=WxC measures that one point only (to profile it).
    let only: Option<(usize, usize)> = std::env::var("DFM_BENCH_CEILING").ok().and_then(|p| {
        let (w, c) = p.split_once('x')?;
        Some((w.parse().ok()?, c.parse().ok()?))
    });
    // DFM_BENCH_CEILING=licenses (or metrics, or monitor) measures only that
    // cost.
    match std::env::var("DFM_BENCH_CEILING").as_deref() {
        Ok("licenses") => return licensed_side_by_side(dfm, &relay, &runtime, seconds),
        Ok("metrics") => return scraped_side_by_side(dfm, &relay, &runtime, seconds),
        Ok("monitor") => return monitored::monitored_side_by_side(dfm, &relay, &runtime, seconds),
        _ => {}
    }
    let sizes = only.map_or(vec![10usize, 100, 1000, 10_000], |(w, _)| vec![w]);
    for workers in sizes {
        let pool = Pool::start(dfm, &relay, workers, &runtime);
        let rss = dfm_host::procfs::rss_kib(pool.pid);
        println!(
            "CEIL   {workers:>5} workers registered in {}; daemon RSS {:.1} MiB, {:.1} KiB per worker",
            ms(pool.registered_in),
            rss as f64 / 1024.0,
            rss as f64 / workers as f64,
        );
        let client_counts = only.map_or(vec![1usize, 4, 16], |(_, c)| vec![c]);
        for clients in client_counts {
            let point = runtime.block_on(pool.measure(clients, seconds));
            let status = percentiles(point.status.iter().map(|s| s.total).collect());
            // The slowest, and how long it waited for its first byte.
            let slowest = point.status.iter().max().copied().unwrap_or_default();
            println!(
                "CEIL   {workers:>5} workers, {clients:>2} clients: {:>7.0} tasks/s, daemon CPU {:>5.1} us/task, status.get p50 {} max {} (first byte {}), monitor snapshot {} (first byte {})",
                point.rate,
                point.cpu_per_task.as_secs_f64() * 1e6,
                ms(status.p50),
                ms(slowest.total),
                ms(slowest.first_byte),
                ms(point.snapshot.total),
                ms(point.snapshot.first_byte),
            );
        }
        pool.stop(&runtime);
    }
    if only.is_none() {
        licensed_side_by_side(dfm, &relay, &runtime, seconds);
        scraped_side_by_side(dfm, &relay, &runtime, seconds);
        monitored::monitored_side_by_side(dfm, &relay, &runtime, seconds);
    }
}

/// A daemon on the relay runner, and the bench's workers for it.
struct Pool {
    dfm: PathBuf,
    workers: usize,
    root: PathBuf,
    pid: u32,
    registered_in: Duration,
    stop: Arc<AtomicBool>,
}

impl Pool {
    /// With DFM_BENCH_SEALED=1, the workers' traffic is sealed, as it is
    /// on the TCP port of a real farm.
    fn start(dfm: &Path, relay: &Path, workers: usize, runtime: &tokio::runtime::Runtime) -> Pool {
        let sealed = std::env::var_os("DFM_BENCH_SEALED").is_some_and(|v| v == "1");
        let extra = if sealed {
            "  seal_local_socket: true\n"
        } else {
            ""
        };
        Pool::start_with(dfm, relay, workers, runtime, extra)
    }

    /// With `extra` lines of `runner:` configuration (licenses every task
    /// holds, a metrics address).
    fn start_with(
        dfm: &Path,
        relay: &Path,
        workers: usize,
        runtime: &tokio::runtime::Runtime,
        extra: &str,
    ) -> Pool {
        let root =
            std::env::temp_dir().join(format!("dfm-ceiling-{}-{}", std::process::id(), unique()));
        let dot = root.join(".dfm");
        std::fs::create_dir_all(&dot)
            .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", dot.display())));
        let socket = root.join("relay.sock");
        let mut config = format!(
            "runner:\n  relay: {{socket: '{}'}}\n  pool: {{min_workers: {workers}, idle_timeout: 3600, heartbeat_timeout: 120, launch_timeout: 300, launch_batch_size: {workers}}}\n",
            socket.display()
        );
        config.push_str(extra);
        std::fs::write(dot.join("config.yaml"), config)
            .unwrap_or_else(|e| fail(&format!("cannot write the configuration: {e}")));
        let stop = Arc::new(AtomicBool::new(false));
        let listener = runtime
            .block_on(async { UnixListener::bind(&socket) })
            .unwrap_or_else(|e| fail(&format!("cannot listen on {}: {e}", socket.display())));
        runtime.spawn(relay_launches(listener, stop.clone()));
        let started = Instant::now();
        let output = Command::new(dfm)
            .args(["daemon", "start", "--runner"])
            .arg(relay)
            .args(["--pool-size", &workers.to_string()])
            .current_dir(&root)
            .output()
            .unwrap_or_else(|e| fail(&format!("cannot run dfm: {e}")));
        if !output.status.success() {
            fail(&format!(
                "dfm daemon start failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let state: Value = std::fs::read_to_string(dot.join("daemon.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| fail("no daemon.json"));
        let pid = state["pid"].as_u64().unwrap_or(0) as u32;
        let pool = Pool {
            dfm: dfm.to_path_buf(),
            workers,
            root,
            pid,
            registered_in: Duration::ZERO,
            stop,
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let status = pool.status();
            if status["counts"]["idle"].as_u64() == Some(workers as u64) {
                break;
            }
            if Instant::now() > deadline {
                fail(&format!("not all {workers} workers registered: {status}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Pool {
            registered_in: started.elapsed(),
            ..pool
        }
    }

    fn socket(&self) -> PathBuf {
        self.root.join(".dfm/daemon.sock")
    }

    fn status(&self) -> Value {
        let Ok(mut stream) = StdUnixStream::connect(self.socket()) else {
            return Value::Null;
        };
        let _ = stream.write_all(b"{\"method\": \"status.get\", \"id\": 1}\n");
        let mut line = String::new();
        let _ = BufReader::new(stream).read_line(&mut line);
        serde_json::from_str::<Value>(&line).map_or(Value::Null, |v| v["result"].clone())
    }

    /// `clients` clients, keeping the workers busy, for `seconds`.
    async fn measure(&self, clients: usize, seconds: f64) -> Point {
        let done = Arc::new(AtomicU64::new(0));
        let running = Arc::new(AtomicBool::new(true));
        // Enough in flight that no worker waits for a client: two tasks
        // per worker.
        let per_worker: usize = std::env::var("DFM_BENCH_PER_WORKER")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        let in_flight = (per_worker * self.workers).max(512).div_ceil(clients);
        let mut handles = Vec::new();
        for client in 0..clients {
            handles.push(tokio::spawn(submit_until(
                self.socket(),
                client,
                in_flight,
                done.clone(),
                running.clone(),
            )));
        }
        // Warm up, then measure.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cpu_before = cpu_seconds(self.pid);
        let count_before = done.load(Ordering::Relaxed);
        let started = Instant::now();
        let mut status = Vec::new();
        let mut snapshot = AnswerTimes::default();
        while started.elapsed().as_secs_f64() < seconds {
            let socket = self.socket();
            if let Ok(Some(took)) = tokio::task::spawn_blocking(move || status_get(&socket)).await {
                status.push(took);
            }
            if snapshot.total.is_zero() {
                let socket = self.socket();
                snapshot = tokio::task::spawn_blocking(move || monitor_snapshot(&socket))
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
            }
            let left = Duration::from_secs_f64(seconds).saturating_sub(started.elapsed());
            tokio::time::sleep(status_every().min(left)).await;
        }
        let elapsed = started.elapsed();
        let tasks = done.load(Ordering::Relaxed) - count_before;
        let cpu = cpu_seconds(self.pid) - cpu_before;
        running.store(false, Ordering::Relaxed);
        for handle in handles {
            let _ = handle.await;
        }
        Point {
            rate: tasks as f64 / elapsed.as_secs_f64(),
            cpu_per_task: Duration::from_secs_f64(cpu / tasks.max(1) as f64),
            status,
            snapshot,
        }
    }

    fn stop(self, runtime: &tokio::runtime::Runtime) {
        let _ = Command::new(&self.dfm)
            .args(["daemon", "stop"])
            .current_dir(&self.root)
            .output();
        self.stop.store(true, Ordering::Relaxed);
        // The workers see the daemon go and end.
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
        remove_later(self.root.clone());
    }
}

/// How often the bench asks `status.get` while it measures: every 100 ms,
/// or `DFM_BENCH_STATUS_EVERY` milliseconds. A status names every worker,
/// so its cost grows with the pool; asked seldom, what remains is the
/// tasks' own cost (docs/performance.md, "What grows with the pool").
fn status_every() -> Duration {
    let millis = std::env::var("DFM_BENCH_STATUS_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    Duration::from_millis(millis)
}

/// One client: keeps `in_flight` trivial tasks submitted until told to
/// stop, counting replies in `done`.
async fn submit_until(
    socket: PathBuf,
    client: usize,
    in_flight: usize,
    done: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
) {
    let Ok(stream) = UnixStream::connect(&socket).await else {
        return;
    };
    let (read, mut write) = stream.into_split();
    let mut lines = AsyncBufReader::new(read).lines();
    let submit = move |n: u64| {
        let spec = TaskSpec {
            request_id: format!("c{client}-{n}"),
            // A regression's tasks have a few thousand names, run again
            // and again; the daemon learns durations per name.
            name: format!("ceiling.t{}", n % TASK_NAMES),
            shell: "bash".into(),
            body: "true".into(),
            rundir: "/tmp".into(),
            ..TaskSpec::default()
        };
        format!(
            "{}\n",
            json!({"method": "task.submit", "id": n, "params": spec})
        )
    };
    // Submissions go out from a task of their own while this one reads the
    // replies: the daemon stops reading a client that leaves too many
    // replies unread, so a client that reads only between its writes can
    // block on a write forever (with 20,000 tasks in flight, it did).
    let (more, mut wanted) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let writer = tokio::spawn(async move {
        let first: String = (0..in_flight as u64).map(submit).collect();
        let mut next = in_flight as u64;
        if write.write_all(first.as_bytes()).await.is_err() {
            return;
        }
        while let Some(mut count) = wanted.recv().await {
            // One write for the replies read meanwhile, as `dfm run` does.
            while let Ok(more) = wanted.try_recv() {
                count += more;
            }
            let mut batch = String::new();
            for _ in 0..count {
                batch.push_str(&submit(next));
                next += 1;
            }
            if write.write_all(batch.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut outstanding = in_flight;
    while outstanding > 0 {
        let Ok(Some(_reply)) = lines.next_line().await else {
            break;
        };
        outstanding -= 1;
        done.fetch_add(1, Ordering::Relaxed);
        if running.load(Ordering::Relaxed) && more.send(1).is_ok() {
            outstanding += 1;
        }
    }
    drop(more);
    let _ = writer.await;
}

/// Receives the relay plugin's launches and starts a worker for each id.
async fn relay_launches(listener: UnixListener, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let mut lines = AsyncBufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let Some(ids) = message["launch"].as_array() else {
                continue; // a stop: the worker ends with its daemon
            };
            let env: HashMap<String, String> = message["env"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            let argv: Vec<String> = message["argv"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            for id in ids.iter().filter_map(Value::as_str) {
                tokio::spawn(answering_worker(id.to_string(), env.clone(), argv.clone()));
            }
        }
    }
}

/// A worker that speaks the real protocol and runs nothing: every task
/// passes at once.
async fn answering_worker(worker_id: String, env: HashMap<String, String>, argv: Vec<String>) {
    let address = argv
        .iter()
        .position(|a| a == "--connect")
        .and_then(|at| argv.get(at + 1))
        .cloned()
        .unwrap_or_default();
    let me = Identity {
        worker_id: worker_id.clone(),
        resource_class: String::new(),
        job_id: worker_id.clone(),
        secret: env.get(job_env::SECRET).cloned().unwrap_or_default(),
    };
    let local = env.get(job_env::SOCKET).cloned();
    let Ok(mut session) = open_session(&address, local, &me).await else {
        return;
    };
    let mut heartbeat = tokio::time::interval(session.heartbeat_every);
    let mut buf = Vec::new();
    let mut answers: Vec<FromWorker> = Vec::new();
    loop {
        tokio::select! {
            message = next_message(&mut session.reader, &mut buf) => match message {
                Ok(Some(ToWorker::Execute(spec))) => {
                    answers.push(FromWorker::Result(TaskResult::new(&spec.request_id, 0)));
                }
                Ok(Some(ToWorker::Shutdown {})) | Ok(None) | Err(_) => return,
                Ok(Some(_)) => {}
            },
            _ = heartbeat.tick() => answers.push(FromWorker::Heartbeat { worker_id: worker_id.clone() }),
        }
        // Answer everything read so far in one write.
        if session.reader.buffer().is_empty() && !answers.is_empty() {
            if send(&mut session.writer, &answers).await.is_err() {
                return;
            }
            answers.clear();
        }
    }
}

/// CPU seconds (user and system) of `pid` so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let field = |n: usize| {
        fields
            .get(n)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field(11) + field(12)) / ticks
}

/// This process holds two descriptors per worker and per client.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write one rlimit we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
