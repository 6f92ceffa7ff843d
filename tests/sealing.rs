//! Sealed worker traffic, seen from the network. A worker runs in a network
//! namespace and reaches the daemon over a veth link through a proxy of
//! this test's, which records what crosses it, or tampers with it: flips a
//! byte, replays a frame, or injects a clear-text `task.execute`. The
//! handshake's own lines, rewritten by such a proxy on loopback, are
//! refused (no root needed for those).
//!
//! The worker is one the daemon adopts from a journal this test writes
//! (so the test knows its id and secret); the pool has room for it alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dfm_e2e::netns::{Netns, HOST_ADDR};
use dfm_e2e::{describe, wait_for, TestProject};
use serde_json::json;

const SECRET: &str = "5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1";
const WORKER: &str = "ne7w0001";

/// What the proxy does to the traffic.
#[derive(Clone, Copy, PartialEq)]
enum Tamper {
    None,
    FlipToWorker,
    FlipToDaemon,
    Replay,
    Inject,
    /// Rewrites the hostname in the worker's (clear) registration.
    RewriteHostname,
    /// Rewrites the heartbeat interval in the daemon's (clear) answer.
    RewriteHeartbeat,
}

/// The hostname the proxy writes into a registration.
const FORGED_HOST: &str = "forged-host";

/// Both directions as they crossed the proxy.
#[derive(Default)]
struct Capture {
    bytes: Mutex<Vec<u8>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Copies `from` to `to`: the first `clear_lines` lines as they are, then
/// 4-byte-length frames, tampered with as told.
fn pump(
    from: TcpStream,
    mut to: TcpStream,
    clear_lines: usize,
    tamper: Tamper,
    capture: Arc<Capture>,
) {
    let mut reader = BufReader::new(from.try_clone().expect("clone"));
    let record = |bytes: &[u8]| capture.bytes.lock().expect("lock").extend_from_slice(bytes);
    for _ in 0..clear_lines {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return;
        }
        record(&line);
        let line = rewrite(&line, tamper);
        if to.write_all(&line).is_err() {
            return;
        }
    }
    if tamper == Tamper::Inject {
        let forged = format!(
            "{}\n",
            json!({"method": "task.execute", "params": {"request_id": "evil", "name": "evil",
                   "shell": "bash", "body": "touch /tmp/dfm-sealing-injected", "rundir": "/tmp"}})
        );
        let _ = to.write_all(forged.as_bytes());
    }
    // Toward the worker, the frame to tamper with is the task's (the first
    // large one: heartbeats are small); toward the daemon, the first.
    let mut untouched = true;
    loop {
        let mut header = [0u8; 4];
        if reader.read_exact(&mut header).is_err() {
            break;
        }
        let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
        if reader.read_exact(&mut body).is_err() {
            break;
        }
        record(&header);
        record(&body);
        let mut frame = [header.as_slice(), &body].concat();
        let target = untouched && (tamper == Tamper::FlipToDaemon || body.len() > 150);
        if target && matches!(tamper, Tamper::FlipToWorker | Tamper::FlipToDaemon) {
            let middle = frame.len() / 2;
            frame[middle] ^= 0x40;
            untouched = false;
        }
        if to.write_all(&frame).is_err() {
            break;
        }
        if target && tamper == Tamper::Replay {
            untouched = false;
            if to.write_all(&frame).is_err() {
                break;
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
    let _ = from.shutdown(std::net::Shutdown::Read);
}

/// A clear handshake line as a peer in the path rewrites it.
fn rewrite(line: &[u8], tamper: Tamper) -> Vec<u8> {
    let (field, value) = match tamper {
        Tamper::RewriteHostname => ("hostname", json!(FORGED_HOST)),
        Tamper::RewriteHeartbeat => ("heartbeat_interval_ms", json!(60_000)),
        _ => return line.to_vec(),
    };
    let Ok(mut message) = serde_json::from_slice::<serde_json::Value>(line) else {
        return line.to_vec();
    };
    match message["params"].get_mut(field) {
        Some(old) => *old = value,
        None => return line.to_vec(),
    }
    format!("{message}\n").into_bytes()
}

/// Listens on `address`; each connection goes on to the daemon.
fn proxy(address: &str, daemon_port: u16, tamper: Tamper, capture: Arc<Capture>) -> u16 {
    let listener = TcpListener::bind((address, 0)).expect("bind the proxy");
    let port = listener.local_addr().expect("proxy address").port();
    std::thread::spawn(move || {
        for worker in listener.incoming().flatten() {
            let Ok(daemon) = TcpStream::connect(("127.0.0.1", daemon_port)) else {
                continue;
            };
            let (to_daemon, to_worker) = match tamper {
                Tamper::FlipToDaemon | Tamper::RewriteHostname => (tamper, Tamper::None),
                Tamper::None => (Tamper::None, Tamper::None),
                other => (Tamper::None, other),
            };
            let (w2, d2) = (
                worker.try_clone().expect("clone"),
                daemon.try_clone().expect("clone"),
            );
            let c = capture.clone();
            std::thread::spawn(move || pump(w2, d2, 1, to_daemon, c));
            let c = capture.clone();
            std::thread::spawn(move || pump(daemon, worker, 2, to_worker, c));
        }
    });
    port
}

/// One namespace (with its fixed addresses) at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Setup {
    project: TestProject,
    /// The worker's network, when it is not ours.
    netns: Option<Netns>,
    capture: Arc<Capture>,
    worker: std::process::Child,
    /// The job the journal names: a process that passes for the worker's
    /// (it leads its session and is called `worker`), so that the local
    /// runner's polls see it running.
    _job: Job,
    // Last: the next test's namespace waits until this one's is gone.
    _turn: std::sync::MutexGuard<'static, ()>,
}

struct Job(std::process::Child);

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stand_in_job() -> Job {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new("sleep");
    command.arg0("worker").arg("600");
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    Job(command.spawn().expect("spawn the stand-in job"))
}

/// A daemon that adopts WORKER, and WORKER in the namespace reaching it
/// through the proxy.
fn set_up(name: &str, tamper: Tamper) -> Setup {
    set_up_on(name, tamper, true)
}

/// A daemon that adopts WORKER, and WORKER reaching it through the proxy,
/// in a namespace of its own or on loopback.
fn set_up_on(name: &str, tamper: Tamper, in_netns: bool) -> Setup {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let netns = in_netns.then(Netns::create);
    let project = TestProject::new(name);
    let port = free_port();
    project.configure(
        "runner:\n  pool: {max_workers: 1, max_task_attempts: 1, poll_interval: 600, reconnect_grace: 60, heartbeat_interval: 0.2}\n",
    );
    let job = stand_in_job();
    let pid = job.0.id();
    let journal = json!({
        "version": 1, "project": project.root, "runner": "local", "secret": SECRET,
        "worker_host": "127.0.0.1", "worker_port": port,
        "workers": [{"worker_id": WORKER, "resource_class": "", "job_id": pid.to_string(),
                     "pid": pid, "launched_at": 0}]
    });
    std::fs::write(project.dfm_dir().join("journal.json"), journal.to_string()).expect("journal");
    project.start_daemon(&[]);
    assert_eq!(project.daemon_state()["worker_port"], port);
    let capture = Arc::new(Capture::default());
    let address = if netns.is_some() {
        HOST_ADDR
    } else {
        "127.0.0.1"
    };
    let proxy_port = proxy(address, port, tamper, capture.clone());
    let dfm = dfm_e2e::dfm_path();
    let mut worker = match &netns {
        Some(netns) => netns.command(dfm.to_str().expect("utf-8 path")),
        None => std::process::Command::new(&dfm),
    };
    let worker = worker
        .args(["worker", "--connect", &format!("{address}:{proxy_port}")])
        .env_remove("DFM_WORKER_SOCKET")
        .env("DFM_WORKER_TOKEN", SECRET)
        .env("DFM_WORKER_ID", WORKER)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the worker in the namespace");
    Setup {
        project,
        netns,
        capture,
        worker,
        _job: job,
        _turn: turn,
    }
}

impl Setup {
    fn registered(&self) {
        wait_for(Duration::from_secs(30), "the worker to register", || {
            let status = self.project.status();
            (status["workers"][0]["state"] == "idle").then_some(())
        });
    }

    fn worker_said(self) -> String {
        let _ = &self.netns;
        let output = self.worker.wait_with_output().expect("the worker ends");
        describe(&output)
    }

    fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.project.dfm_dir().join("daemon.log")).unwrap_or_default()
    }
}

#[ignore = "needs root: a network namespace (scripts/test-all.sh runs as root)"]
#[test]
fn a_capture_of_worker_traffic_holds_no_body_environment_or_secret() {
    let setup = set_up("seal-capture", Tamper::None);
    setup.registered();
    let mut client = setup.project.client();
    let mut task = setup.project.task(
        "t1",
        "echo \"$LICENSE_TOKEN\" > token; echo body-marker-3b7e",
    );
    task["env"] = json!({"LICENSE_TOKEN": "lic-token-9f2c", "PATH": "/usr/bin:/bin"});
    client.submit(task);
    let reply = client.recv();
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    let token = std::fs::read_to_string(setup.project.root.join("rundir/t1/token")).expect("token");
    assert_eq!(
        token.trim(),
        "lic-token-9f2c",
        "the task ran on the sealed worker"
    );
    let captured = setup.capture.bytes.lock().expect("lock").clone();
    assert!(captured.len() > 200, "the proxy saw the traffic");
    for needle in [
        "body-marker-3b7e",
        "lic-token-9f2c",
        SECRET,
        "task.execute",
        "task.result",
    ] {
        assert!(
            !captured
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "{needle} crossed the network in clear"
        );
    }
}

/// A tampered connection ends; the tampered task never runs.
fn tampered(name: &str, tamper: Tamper) -> (Setup, String) {
    let setup = set_up(name, tamper);
    setup.registered();
    let mut client = setup.project.client();
    client.submit(setup.project.task("t1", "echo ran >> ../../ran"));
    let reply = client.recv();
    let ran = std::fs::read_to_string(setup.project.root.join("ran")).unwrap_or_default();
    (setup, format!("{reply}\n{ran}"))
}

#[ignore = "needs root: a network namespace (scripts/test-all.sh runs as root)"]
#[test]
fn a_flipped_byte_toward_the_worker_drops_the_connection_and_runs_nothing() {
    let (setup, seen) = tampered("seal-flip", Tamper::FlipToWorker);
    assert!(!seen.contains("ran"), "{seen}");
    // The worker tells the daemon, which logs the attack it could not see.
    wait_for(
        Duration::from_secs(30),
        "the daemon to log the attack",
        || {
            let log = setup.daemon_log();
            (log.contains("ATTACK") && log.contains(&format!("seen by worker {WORKER}")))
                .then_some(())
        },
    );
    let said = setup.worker_said();
    assert!(said.contains("failed authentication"), "{said}");
}

#[ignore = "needs root: a network namespace (scripts/test-all.sh runs as root)"]
#[test]
fn a_flipped_byte_toward_the_daemon_is_logged_as_an_attack() {
    // The worker's first frame, its first heartbeat, is the one flipped.
    let setup = set_up("seal-flip-back", Tamper::FlipToDaemon);
    wait_for(
        Duration::from_secs(30),
        "the daemon to drop the worker",
        || setup.daemon_log().contains("ATTACK").then_some(()),
    );
}

#[ignore = "needs root: a network namespace (scripts/test-all.sh runs as root)"]
#[test]
fn a_replayed_frame_drops_the_connection_and_runs_nothing_twice() {
    let (setup, seen) = tampered("seal-replay", Tamper::Replay);
    assert!(seen.matches("ran").count() <= 1, "{seen}");
    let said = setup.worker_said();
    assert!(said.contains("failed authentication"), "{said}");
}

#[ignore = "needs root: a network namespace (scripts/test-all.sh runs as root)"]
#[test]
fn an_injected_clear_task_is_never_run() {
    let _ = std::fs::remove_file("/tmp/dfm-sealing-injected");
    // Injected right after the handshake: the worker ends before it idles.
    let setup = set_up("seal-inject", Tamper::Inject);
    let said = setup.worker_said();
    assert!(said.contains("sealed frame"), "{said}");
    assert!(!std::path::Path::new("/tmp/dfm-sealing-injected").exists());
}

/// Whether the daemon took WORKER (idle in status) or refused its
/// handshake (its log says so), whichever it did first.
fn daemon_took_or_refused(setup: &Setup) -> String {
    wait_for(
        Duration::from_secs(60),
        "the daemon to take or refuse",
        || {
            let status = setup.project.status();
            if status["workers"][0]["state"] == "idle" {
                return Some(format!("accepted: {status}"));
            }
            let log = setup.daemon_log();
            log.contains("authentication failed")
                .then(|| "refused by the daemon".into())
        },
    )
}

/// Whether WORKER took the daemon's answer (it says it registered) or
/// refused it (it says why and ends), from what it prints.
fn worker_took_or_refused(setup: &mut Setup) -> String {
    let stderr = setup.worker.stderr.take().expect("the worker's stderr");
    let (lines, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    wait_for(
        Duration::from_secs(60),
        "the worker to take or refuse",
        || {
            while let Ok(line) = said.try_recv() {
                seen.push(line);
            }
            let all = seen.join("\n");
            if all.contains(&format!("worker {WORKER} registered")) {
                return Some(format!("accepted: {all}"));
            }
            all.contains("could not prove it is our daemon")
                .then(|| "refused by the worker".into())
        },
    )
}

/// A peer in the path rewrites the hostname of a registration (status and
/// the operator trust it): the worker's proof binds it, so the daemon
/// refuses the registration.
#[test]
fn a_registration_rewritten_in_the_path_is_refused() {
    let setup = set_up_on("handshake-host", Tamper::RewriteHostname, false);
    assert_eq!(daemon_took_or_refused(&setup), "refused by the daemon");
    assert!(
        !setup.project.status().to_string().contains(FORGED_HOST),
        "the rewritten hostname is shown"
    );
    let said = setup.worker_said();
    assert!(said.contains("authentication failed"), "{said}");
}

/// A peer in the path rewrites the daemon's answer (here the heartbeat
/// interval, which would let a daemon that died go unnoticed for a
/// minute): the daemon's proof binds it, so the worker refuses the daemon.
#[test]
fn an_answer_rewritten_in_the_path_is_refused() {
    let mut setup = set_up_on("handshake-beat", Tamper::RewriteHeartbeat, false);
    assert_eq!(worker_took_or_refused(&mut setup), "refused by the worker");
}
