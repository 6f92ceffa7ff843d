//! A dfm daemon started for a measurement, and a plain client of its
//! socket, as any client speaks the protocol.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use dfm_wire::TaskSpec;

use crate::setup::{fail, COMMAND, SHELL};

/// Connects to a socket a process just started listens on: its path appears
/// at `bind`, a moment before it accepts connections.
pub(crate) fn connect_when_ready(socket: &Path) -> std::io::Result<UnixStream> {
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

/// A daemon in a throw-away project, stopped on drop.
pub(crate) struct Daemon {
    pub(crate) dfm: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) pid: u32,
}

impl Daemon {
    pub(crate) fn start(dfm: &Path, base: &Path, pool: usize) -> (Daemon, Duration) {
        Daemon::start_with(dfm, base, pool, None)
    }

    /// [`Daemon::start`] with `config` as the project's `.dfm/config.yaml`.
    pub(crate) fn start_with(
        dfm: &Path,
        base: &Path,
        pool: usize,
        config: Option<&str>,
    ) -> (Daemon, Duration) {
        let root = base.join(format!("dfm-bench-{}-{}", std::process::id(), unique()));
        if let Err(e) = std::fs::create_dir_all(root.join(".dfm")) {
            fail(&format!("cannot create {}: {e}", root.display()));
        }
        if let Some(config) = config {
            if let Err(e) = std::fs::write(root.join(".dfm/config.yaml"), config) {
                fail(&format!("cannot write the bench's configuration: {e}"));
            }
        }
        let started = Instant::now();
        let daemon = Daemon::launch(dfm, root, pool, None);
        (daemon, started.elapsed())
    }

    /// A daemon in `root` (made already), started with this `PATH`.
    pub(crate) fn start_in(dfm: &Path, root: &Path, pool: usize, path: &OsStr) -> Daemon {
        Daemon::launch(dfm, root.to_path_buf(), pool, Some(path))
    }

    fn launch(dfm: &Path, root: PathBuf, pool: usize, path: Option<&OsStr>) -> Daemon {
        let mut command = Command::new(dfm);
        command
            .args(["daemon", "start", "--pool-size", &pool.to_string()])
            .current_dir(&root);
        if let Some(path) = path {
            command.env("PATH", path);
        }
        run_to_end(command, "dfm daemon start");
        let state: Value = std::fs::read_to_string(root.join(".dfm/daemon.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| fail("no daemon.json"));
        let pid = state["pid"].as_u64().unwrap_or(0) as u32;
        Daemon {
            dfm: dfm.to_path_buf(),
            root,
            pid,
        }
    }

    /// The pid of its first worker, from `status.get`.
    pub(crate) fn worker_pid(&self) -> u32 {
        let mut status = self.client();
        status.send("{\"method\": \"status.get\", \"id\": \"s\"}\n");
        status.line.clear();
        let _ = status.reader.read_line(&mut status.line);
        serde_json::from_str::<Value>(&status.line)
            .ok()
            .and_then(|v| v["result"]["workers"][0]["pid"].as_u64())
            .unwrap_or_else(|| fail("no worker in status.get")) as u32
    }

    pub(crate) fn client(&self) -> Client {
        Client::connect(&self.root.join(".dfm/daemon.sock"))
    }

    pub(crate) fn task(&self, id: &str) -> String {
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
pub(crate) static LEFTOVERS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

pub(crate) fn remove_later(path: PathBuf) {
    if let Ok(mut leftovers) = LEFTOVERS.lock() {
        leftovers.push(path);
    }
}

pub(crate) fn remove_leftovers() {
    let paths = match LEFTOVERS.lock() {
        Ok(mut leftovers) => std::mem::take(&mut *leftovers),
        Err(_) => return,
    };
    for path in paths {
        let _ = std::fs::remove_dir_all(path);
    }
}

pub(crate) fn unique() -> u128 {
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
pub(crate) fn read_line_from(
    reader: &mut BufReader<UnixStream>,
    line: &mut String,
) -> std::io::Result<usize> {
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

pub(crate) struct Client {
    pub(crate) reader: BufReader<UnixStream>,
    pub(crate) writer: UnixStream,
    pub(crate) line: String,
}

impl Client {
    pub(crate) fn connect(socket: &Path) -> Client {
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

    pub(crate) fn send(&mut self, text: &str) {
        if let Err(e) = self.writer.write_all(text.as_bytes()) {
            fail(&format!("write to the daemon: {e}"));
        }
    }

    /// Reads one reply and checks the task passed.
    pub(crate) fn expect_pass(&mut self) {
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

/// Runs `dfm ARGS` in `dir` to its end; fails the bench if it fails.
pub(crate) fn run_dfm(dfm: &Path, dir: &Path, args: &[&str]) {
    let mut command = Command::new(dfm);
    command.args(args).current_dir(dir);
    run_to_end(command, &format!("dfm {}", args.join(" ")));
}

fn run_to_end(mut command: Command, what: &str) {
    match command.output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => fail(&format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => fail(&format!("cannot run {what}: {e}")),
    }
}
