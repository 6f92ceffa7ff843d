//! Helpers for the end-to-end tests: a throw-away project folder, the real
//! `dfm` binary, and a plain client speaking the socket protocol.
//!
//! The binary and plugins come from `cargo build --workspace` (the README's
//! test command builds them first).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod cluster;
pub mod crash;
pub mod needs;
pub mod netns;
pub mod slurm;
pub mod upstream;

/// `target/debug` (or whichever profile built these tests).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_path_buf()
}

pub fn dfm_path() -> PathBuf {
    let path = bin_dir().join("dfm");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` before the end-to-end tests",
        path.display()
    );
    path
}

/// Polls `check` until it returns `Some`, or panics with `what` after
/// `timeout`. Timeouts only bound a hang; no test asserts on timing.
pub fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` is a running process (zombies count as gone).
pub use dfm_host::procfs::is_live as is_alive;

/// Live processes whose command line contains `needle`.
pub fn processes_matching(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) && is_alive(pid) {
            found.push((pid, cmdline));
        }
    }
    found
}

/// A project folder of its own, with its own HOME so no site
/// configuration leaks in. Its daemon is stopped when it is dropped.
pub struct TestProject {
    pub root: PathBuf,
    home: PathBuf,
}

impl TestProject {
    pub fn new(name: &str) -> TestProject {
        let base = std::env::temp_dir().join(format!("dfm-e2e-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("project");
        let home = base.join("home");
        std::fs::create_dir_all(&root).expect("create project folder");
        std::fs::create_dir_all(&home).expect("create home folder");
        TestProject {
            root: root.canonicalize().expect("canonical project path"),
            home,
        }
    }

    /// The HOME its commands run with.
    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn dfm_dir(&self) -> PathBuf {
        self.root.join(".dfm")
    }

    pub fn socket(&self) -> PathBuf {
        self.dfm_dir().join("daemon.sock")
    }

    /// Writes `.dfm/config.yaml`.
    pub fn configure(&self, yaml: &str) {
        std::fs::create_dir_all(self.dfm_dir()).expect("create .dfm");
        std::fs::write(self.dfm_dir().join("config.yaml"), yaml).expect("write config");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(dfm_path());
        command
            .args(args)
            .current_dir(&self.root)
            .env("HOME", &self.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DFM_RUNNER")
            .env_remove("DFM_PLUGIN_PATH");
        command
    }

    /// Runs `dfm ARGS` in the project and returns its output.
    pub fn dfm(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run dfm")
    }

    /// `dfm daemon start` with these extra arguments; panics unless it
    /// succeeds.
    pub fn start_daemon(&self, extra: &[&str]) -> u32 {
        let mut args = vec!["daemon", "start"];
        args.extend_from_slice(extra);
        let output = self.dfm(&args);
        assert!(
            output.status.success(),
            "daemon start failed: {}",
            describe(&output)
        );
        self.daemon_state()["pid"]
            .as_u64()
            .expect("pid in daemon.json") as u32
    }

    pub fn daemon_state(&self) -> Value {
        let text =
            std::fs::read_to_string(self.dfm_dir().join("daemon.json")).expect("read daemon.json");
        serde_json::from_str(&text).expect("daemon.json is JSON")
    }

    pub fn status(&self) -> Value {
        let output = self.dfm(&["daemon", "status", "--json"]);
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!("status --json printed no JSON ({e}): {}", describe(&output))
        })
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.socket())
    }

    /// A task request for this project: `body` runs in `rundir/<id>`.
    pub fn task(&self, request_id: &str, body: &str) -> Value {
        json!({
            "request_id": request_id,
            "name": format!("test.{request_id}"),
            "shell": "bash",
            "body": body,
            "srcdir": self.root,
            "rundir": self.root.join("rundir").join(request_id),
            "env": {},
        })
    }
}

impl Drop for TestProject {
    fn drop(&mut self) {
        if self.socket().exists() {
            let _ = self.dfm(&["daemon", "stop"]);
        }
        if let Some(base) = self.root.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

/// Builds the cdylib crate at `crate_dir` on its own, as a site builds its
/// plugin out of this repository (offline, from the versions this
/// workspace's lock pins), and returns the path of `lib<name>.so`.
pub fn build_plugin_out_of_tree(crate_dir: &Path, lib_name: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the repository");
    std::fs::copy(repo.join("Cargo.lock"), crate_dir.join("Cargo.lock")).expect("copy Cargo.lock");
    // A target folder of its own: the outer cargo holds the lock on target/.
    let target = repo.join("target/out-of-tree");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo build");
    assert!(build.status.success(), "{}", describe(&build));
    target.join(format!("debug/lib{lib_name}.so"))
}

/// Copies the folder `from` into `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a folder");
    for entry in std::fs::read_dir(from).expect("read a folder") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// Exit status, stdout and stderr, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A blocking client of the daemon's socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    pub fn connect(socket: &Path) -> Client {
        let stream = UnixStream::connect(socket).expect("connect to the daemon socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("set read timeout");
        let writer = stream.try_clone().expect("clone socket");
        Client {
            reader: BufReader::new(stream),
            writer,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the daemon");
    }

    pub fn send(&mut self, method: &str, id: &str, params: Value) {
        let line = json!({"method": method, "id": id, "params": params}).to_string() + "\n";
        self.send_raw(line.as_bytes());
    }

    pub fn submit(&mut self, task: Value) {
        let id = task["request_id"].as_str().expect("request_id").to_string();
        self.send("task.submit", &id, task);
    }

    /// The next line from the daemon, parsed.
    pub fn recv(&mut self) -> Value {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .expect("read from the daemon");
        assert!(n > 0, "the daemon closed the connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad reply {line:?}: {e}"))
    }

    /// Sends a request and returns its reply, skipping events.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = format!("call-{method}");
        self.send(method, &id, params);
        loop {
            let reply = self.recv();
            if reply["id"] == json!(id) {
                return reply;
            }
        }
    }

    /// Replies to `n` submits, by id.
    pub fn results(&mut self, n: usize) -> std::collections::BTreeMap<String, Value> {
        let mut results = std::collections::BTreeMap::new();
        while results.len() < n {
            let reply = self.recv();
            let id = reply["id"].as_str().expect("reply id").to_string();
            assert!(
                results.insert(id.clone(), reply).is_none(),
                "two replies for {id}"
            );
        }
        results
    }
}
