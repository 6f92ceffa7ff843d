//! `dfm-soak`: many trivial tasks from several clients through one daemon,
//! counting lost and duplicated results and watching the daemon's memory.
//!
//! `./target/release/dfm-soak [TASKS] [CLIENTS] [WORKERS]` (default 1000000
//! tasks from 8 clients, a worker per core). With WORKERS, all of them are
//! started up front (`min_workers`), and it reports how long they took to
//! register, the daemon's open descriptors, and checks that `daemon stop`
//! leaves none of their processes. Not part of CI: it runs for minutes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};

const IN_FLIGHT_PER_CLIENT: usize = 16;

fn fail(message: &str) -> ! {
    eprintln!("dfm-soak: {message}");
    std::process::exit(1)
}

struct Tally {
    replies: usize,
    passed: usize,
    duplicated: usize,
    unexpected: usize,
    lost: usize,
}

fn run_client(socket: &Path, rundir: &Path, client: usize, tasks: usize) -> Tally {
    let stream = UnixStream::connect(socket).unwrap_or_else(|e| fail(&format!("connect: {e}")));
    let mut writer = stream
        .try_clone()
        .unwrap_or_else(|e| fail(&format!("socket: {e}")));
    let mut reader = BufReader::new(stream);
    let mut seen: HashMap<String, u32> = HashMap::with_capacity(tasks);
    let mut tally = Tally {
        replies: 0,
        passed: 0,
        duplicated: 0,
        unexpected: 0,
        lost: 0,
    };
    let submit = |i: usize| {
        let id = format!("c{client}-{i}");
        let line = json!({"method": "task.submit", "id": id, "params": {
            "request_id": id, "name": "soak", "shell": "sh", "body": "true",
            "rundir": rundir, "srcdir": rundir}});
        format!("{line}\n")
    };
    let mut sent = 0;
    let mut batch = String::new();
    while sent < tasks.min(IN_FLIGHT_PER_CLIENT) {
        batch.push_str(&submit(sent));
        sent += 1;
    }
    if writer.write_all(batch.as_bytes()).is_err() {
        fail("write to the daemon");
    }
    let mut line = String::new();
    while tally.replies < tasks {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
        let reply: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let id = reply["id"].as_str().unwrap_or_default().to_string();
        tally.replies += 1;
        if reply["result"]["status"] == 0 {
            tally.passed += 1;
        }
        let count = seen.entry(id.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            tally.duplicated += 1;
        }
        if !id.starts_with(&format!("c{client}-")) {
            tally.unexpected += 1;
        }
        if sent < tasks {
            if writer.write_all(submit(sent).as_bytes()).is_err() {
                break;
            }
            sent += 1;
        }
    }
    tally.lost = tasks - seen.len().min(tasks);
    tally
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tasks: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let clients: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8).max(1);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let workers: usize = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(cores)
        .max(1);
    let dfm = std::env::current_exe()
        .map(|exe| exe.with_file_name("dfm"))
        .unwrap_or_else(|e| fail(&format!("cannot find this executable: {e}")));
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let root = base.join(format!("dfm-soak-{}", std::process::id()));
    std::fs::create_dir_all(&root)
        .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", root.display())));
    // Every worker up front, and patient with a machine running a
    // thousand of them on two cores.
    std::fs::create_dir_all(root.join(".dfm"))
        .unwrap_or_else(|e| fail(&format!("cannot create .dfm: {e}")));
    std::fs::write(
        root.join(".dfm/config.yaml"),
        format!("runner:\n  pool: {{min_workers: {workers}, launch_batch_size: {workers}, idle_timeout: 3600, heartbeat_timeout: 120, launch_timeout: 600}}\n"),
    )
    .unwrap_or_else(|e| fail(&format!("cannot write the configuration: {e}")));
    let launched = Instant::now();
    let output = Command::new(&dfm)
        .args(["daemon", "start", "--pool-size", &workers.to_string()])
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run dfm: {e}")));
    if !output.status.success() {
        fail(&format!(
            "daemon start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let state: Value = std::fs::read_to_string(root.join(".dfm/daemon.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| fail("no daemon.json"));
    let pid = state["pid"].as_u64().unwrap_or(0) as u32;
    let socket = root.join(".dfm/daemon.sock");
    let rundir = root.join("rundir");
    let worker_port = state["worker_port"].as_u64().unwrap_or(0);
    let registered = wait_registered(&socket, workers);
    println!(
        "dfm-soak: {workers} workers registered {:.1}s after daemon start",
        registered.duration_since(launched).as_secs_f64()
    );
    let rss_start = dfm_host::procfs::rss_kib(pid);
    println!("dfm-soak: {tasks} tasks from {clients} clients, pool {workers}, daemon pid {pid}, RSS at start {rss_start} KiB, {} open files (limit {})", open_files(pid), open_files_limit(pid));

    let start = Instant::now();
    let per_client = tasks / clients;
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (socket, rundir) = (socket.clone(), rundir.clone());
            std::thread::spawn(move || run_client(&socket, &rundir, c, per_client))
        })
        .collect();
    let mut peak = rss_start;
    while !threads.iter().all(|t| t.is_finished()) {
        std::thread::sleep(std::time::Duration::from_secs(1));
        peak = peak.max(dfm_host::procfs::rss_kib(pid));
    }
    let tallies: Vec<Tally> = threads
        .into_iter()
        .map(|t| {
            t.join()
                .unwrap_or_else(|_| fail("a client thread panicked"))
        })
        .collect();
    let elapsed = start.elapsed();
    let rss_end = dfm_host::procfs::rss_kib(pid);
    let sum = |f: fn(&Tally) -> usize| tallies.iter().map(f).sum::<usize>();
    println!(
        "dfm-soak: {} replies in {:.1}s ({:.0} tasks/s): {} passed, {} lost, {} duplicated, {} misrouted",
        sum(|t| t.replies),
        elapsed.as_secs_f64(),
        sum(|t| t.replies) as f64 / elapsed.as_secs_f64(),
        sum(|t| t.passed),
        sum(|t| t.lost),
        sum(|t| t.duplicated),
        sum(|t| t.unexpected)
    );
    println!(
        "dfm-soak: daemon RSS start {rss_start} KiB, peak {peak} KiB, end {rss_end} KiB; {} open files",
        open_files(pid)
    );
    let _ = Command::new(&dfm)
        .args(["daemon", "stop"])
        .current_dir(&root)
        .output();
    let needle = format!("--connect 127.0.0.1:{worker_port}");
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let mut left = workers_alive(&needle);
    while left > 0 && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        left = workers_alive(&needle);
    }
    println!("dfm-soak: after daemon stop, {left} worker processes left");
    let _ = std::fs::remove_dir_all(&root);
    if sum(|t| t.lost) + sum(|t| t.duplicated) + sum(|t| t.unexpected) > 0
        || sum(|t| t.passed) != per_client * clients
        || left > 0
    {
        std::process::exit(1);
    }
}

/// When `workers` workers are registered (idle or busy).
fn wait_registered(socket: &Path, workers: usize) -> Instant {
    let deadline = Instant::now() + std::time::Duration::from_secs(900);
    loop {
        if let Ok(mut stream) = UnixStream::connect(socket) {
            let _ = stream.write_all(b"{\"method\": \"status.get\", \"id\": 1}\n");
            let mut line = String::new();
            let _ = BufReader::new(stream).read_line(&mut line);
            let status: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            let counts = &status["result"]["counts"];
            let up = counts["idle"].as_u64().unwrap_or(0) + counts["busy"].as_u64().unwrap_or(0);
            if up as usize >= workers {
                return Instant::now();
            }
        }
        if Instant::now() > deadline {
            fail(&format!(
                "not all {workers} workers registered in 15 minutes"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn open_files_limit(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        .unwrap_or_default()
}

/// Worker processes whose command line has `needle`.
fn workers_alive(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .count()
}
