//! Bad input on both sockets: each gets an error reply or a clean close, the
//! daemon stays up, and other clients do not notice.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use dfm_e2e::TestProject;
use serde_json::{json, Value};

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn still_serving(project: &TestProject) {
    let mut client = project.client();
    assert_eq!(client.call("ping", json!({}))["result"], "pong");
    client.submit(project.task(&format!("check{}", rand_suffix()), "true"));
    assert_eq!(client.recv()["result"]["status"], 0);
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[test]
fn a_100_mib_line_is_refused_with_bounded_memory_and_1_mib_bodies_work() {
    let project = TestProject::new("hugeline");
    let daemon = project.start_daemon(&["--pool-size", "1"]);
    let mut stream = UnixStream::connect(project.socket()).expect("connect");
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let chunk = vec![b'x'; 1024 * 1024];
    let mut sent = 0;
    for _ in 0..100 {
        if stream.write_all(&chunk).is_err() {
            break; // the daemon closed the connection
        }
        sent += 1;
    }
    assert!(sent < 100, "the daemon read a 100 MiB line to the end");
    let mut reply = String::new();
    let _ = BufReader::new(&stream).read_line(&mut reply);
    assert!(reply.contains("message too long"), "{reply:?}");
    assert!(
        dfm_host::procfs::rss_kib(daemon) < 100 * 1024,
        "daemon RSS {} KiB",
        dfm_host::procfs::rss_kib(daemon)
    );
    still_serving(&project);

    // A 1 MiB task body runs.
    let mut body = String::from(": ");
    body.push_str(&"y".repeat(1024 * 1024));
    body.push_str("\necho big-body-ran\n");
    let mut client = project.client();
    client.submit(project.task("big", &body));
    let reply = client.recv();
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    let log = std::fs::read_to_string(project.root.join("rundir/big/test.big.log")).expect("log");
    assert!(log.contains("big-body-ran"), "{log}");
}

#[test]
fn thousands_of_connections_opened_and_dropped_leak_nothing() {
    let project = TestProject::new("connstorm");
    let daemon = project.start_daemon(&["--pool-size", "1"]);
    still_serving(&project);
    let before = open_fds(daemon);
    for i in 0..3000 {
        let mut stream = UnixStream::connect(project.socket()).expect("connect");
        if i % 3 == 0 {
            let _ = stream.write_all(b"{\"method\": \"task.sub");
        }
        if i % 3 == 1 {
            let _ = stream.write_all(b"{\"method\": \"ping\", \"id\": 1}\n");
        }
    }
    still_serving(&project);
    dfm_e2e::wait_for(
        Duration::from_secs(30),
        "the daemon to close dropped connections",
        || (open_fds(daemon) <= before + 2).then_some(()),
    );
}

#[test]
fn a_client_that_never_reads_does_not_hurt_the_daemon_or_others() {
    let project = TestProject::new("slowreader");
    let daemon = project.start_daemon(&["--pool-size", "2"]);
    let mut flood = UnixStream::connect(project.socket()).expect("connect");
    flood
        .set_write_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let writer = std::thread::spawn(move || {
        let line = b"{\"method\": \"ping\", \"id\": 1}\n".repeat(1000);
        let mut sent = 0usize;
        while flood.write_all(&line).is_ok() {
            sent += 1000;
            if sent > 5_000_000 {
                break;
            }
        }
        (sent, flood)
    });
    // Meanwhile others are served.
    for _ in 0..3 {
        still_serving(&project);
    }
    let (sent, _flood) = writer.join().expect("flood thread");
    assert!(
        sent < 5_000_000,
        "the daemon kept reading a client that never reads ({sent} pings)"
    );
    assert!(
        dfm_host::procfs::rss_kib(daemon) < 100 * 1024,
        "daemon RSS {} KiB",
        dfm_host::procfs::rss_kib(daemon)
    );
    still_serving(&project);
}

/// A raw connection to the worker port.
struct RawWorker {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawWorker {
    fn connect(project: &TestProject) -> RawWorker {
        let port = project.daemon_state()["worker_port"]
            .as_u64()
            .expect("port");
        let stream =
            TcpStream::connect(("127.0.0.1", port as u16)).expect("connect to the worker port");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        RawWorker {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    fn line(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => serde_json::from_str(&line).ok(),
        }
    }

    fn send(&mut self, text: &str) {
        let _ = self.writer.write_all(text.as_bytes());
    }

    /// True once the daemon has closed the connection.
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok()
    }
}

/// A `worker.register` line with a valid proof for `nonce`, as a worker
/// that knows `secret` sends it.
fn proven_register(
    secret: &str,
    nonce: &str,
    worker_id: &str,
    hostname: &str,
    seal: bool,
) -> String {
    let mut register = dfm_wire::Register {
        worker_id: worker_id.into(),
        hostname: hostname.into(),
        pid: 1,
        resource_class: String::new(),
        job_id: String::new(),
        lsf_job_id: String::new(),
        auth: String::new(),
        nonce: format!("{hostname}-nonce"),
        prefetch: false,
        prefetch_depth: 0,
        seal,
    };
    register.auth = dfm_host::auth::worker_proof(secret, nonce, &register);
    dfm_wire::to_line(&dfm_wire::FromWorker::Register(register))
}

#[test]
fn the_worker_port_refuses_garbage_impostors_and_duplicates() {
    let project = TestProject::new("workerport");
    project.start_daemon(&["--pool-size", "1"]);
    still_serving(&project); // one registered worker exists now
    let secret = project.daemon_state()["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let registered = project.status()["workers"][0]["worker_id"]
        .as_str()
        .expect("worker id")
        .to_string();

    // Garbage instead of a registration.
    let mut garbage = RawWorker::connect(&project);
    let challenge = garbage.line().expect("challenge");
    assert_eq!(challenge["method"], "auth.challenge");
    garbage.send("\u{1}\u{2} not json at all\n");
    assert!(garbage.closed());

    // A registration without the secret, and one with a wrong proof.
    for auth in ["", "00"] {
        let mut impostor = RawWorker::connect(&project);
        let nonce = impostor.line().expect("challenge")["params"]["nonce"]
            .as_str()
            .expect("nonce")
            .to_string();
        assert!(!nonce.is_empty());
        impostor.send(&format!(
            "{}\n",
            json!({"method": "worker.register", "params": {"worker_id": registered, "hostname": "evil",
                   "pid": 1, "auth": auth, "nonce": "abc"}})
        ));
        let answer = impostor.line().expect("an answer");
        assert_eq!(answer["method"], "worker.rejected", "{answer}");
        assert!(answer["params"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("authentication failed"));
        assert!(impostor.closed());
    }

    // The right secret, but a worker that does not seal (an older dfm).
    let mut old = RawWorker::connect(&project);
    let nonce = old.line().expect("challenge")["params"]["nonce"]
        .as_str()
        .expect("nonce")
        .to_string();
    old.send(&proven_register(&secret, &nonce, &registered, "old", false));
    let answer = old.line().expect("an answer");
    assert_eq!(answer["method"], "worker.rejected", "{answer}");
    assert!(
        answer["params"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("this worker does not: it is an older dfm"),
        "{answer}"
    );
    assert!(old.closed());

    // The right secret, but a worker id that is already registered.
    let mut twin = RawWorker::connect(&project);
    let nonce = twin.line().expect("challenge")["params"]["nonce"]
        .as_str()
        .expect("nonce")
        .to_string();
    twin.send(&proven_register(&secret, &nonce, &registered, "twin", true));
    let answer = twin.line().expect("an answer");
    assert_eq!(answer["method"], "worker.rejected", "{answer}");
    assert!(
        answer["params"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("already registered"),
        "{answer}"
    );
    assert!(twin.closed());

    // And a worker id the daemon never launched.
    let mut stranger = RawWorker::connect(&project);
    let nonce = stranger.line().expect("challenge")["params"]["nonce"]
        .as_str()
        .expect("nonce")
        .to_string();
    stranger.send(&proven_register(&secret, &nonce, "nobody", "x", true));
    let answer = stranger.line().expect("an answer");
    assert!(
        answer["params"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("was not launched by this daemon"),
        "{answer}"
    );

    still_serving(&project);
    assert_eq!(project.status()["counts"]["total"], 1);
}
