//! The floor of any design where a client hands tasks to a daemon that
//! hands them to worker processes: the same processes and sockets as dfm
//! (client -> Unix socket -> relay -> Unix socket -> worker -> spawn), with
//! no logic at all. The relay gives each worker one task at a time, as the
//! pool does; the worker spawns the command with no log and no parsing.
//! On a small VM, waking a process on the other CPU costs tens of
//! microseconds, so this floor lies measurably above the spawn limit.

use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::daemon::{connect_when_ready, read_line_from, unique, Client};
use crate::limits::{spawn_once, spawn_p50, spawn_rate};
use crate::setup::{fail, Options};
use crate::stats::{between_limits, percentiles};

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
pub(crate) struct Setup {
    pub(crate) dir: PathBuf,
    pub(crate) children: Vec<Child>,
}

impl Setup {
    pub(crate) fn start(workers: usize) -> Setup {
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

    pub(crate) fn client(&self) -> Client {
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
pub(crate) fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
}

pub(crate) fn wait_for_path(path: &Path) {
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
pub(crate) fn request() -> &'static str {
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

pub(crate) fn round_trip(client: &mut Client) -> Duration {
    let start = Instant::now();
    client.send(request());
    client.expect_pass();
    start.elapsed()
}

pub(crate) fn listen(path: &str) -> UnixListener {
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
        let (to_client, to_workers, state) = (to_client.clone(), to_workers.clone(), state.clone());
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

pub(crate) fn clone(stream: &UnixStream) -> UnixStream {
    stream
        .try_clone()
        .unwrap_or_else(|e| fail(&format!("socket: {e}")))
}

pub(crate) fn write_to(stream: &Mutex<UnixStream>, line: &str) {
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
    let stream = connect_when_ready(Path::new(socket))
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
