//! The cost of a monitor that reads slower than events come
//! (`DFM_BENCH_CEILING=monitor`, and the end of a full `--ceiling`).
//!
//! At 10,000 workers a pool makes some 200,000 monitor events a second; a
//! monitor that cannot read them all falls behind, misses events and is
//! sent a fresh snapshot (3 MB at that size) once it has caught up. This
//! measures the pool with such a monitor attached against the same pool
//! without one, in alternating rounds.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::side_by_side::SideBySide;
use super::Pool;

/// What the monitor read from one pool.
#[derive(Default)]
struct Seen {
    lines: u64,
    bytes: u64,
    snapshots: u64,
    took: Duration,
}

pub(super) fn monitored_side_by_side(
    dfm: &Path,
    relay: &Path,
    runtime: &tokio::runtime::Runtime,
    seconds: f64,
) {
    let (workers, clients) = (10_000, 4);
    let mut read = Seen::default();
    let sides = SideBySide::alternated(|monitored| {
        let pool = Pool::start(dfm, relay, workers, runtime);
        let monitor = monitored.then(|| SlowMonitor::start(pool.socket()));
        let point = runtime.block_on(pool.measure(clients, seconds));
        if let Some(monitor) = monitor {
            let seen = monitor.stop();
            read.lines += seen.lines;
            read.bytes += seen.bytes;
            read.snapshots += seen.snapshots;
            read.took += seen.took;
        }
        pool.stop(runtime);
        point
    });
    let secs = read.took.as_secs_f64().max(1e-9);
    println!(
        "CEIL   a slow monitor: {workers} workers, {clients} clients, a monitor reading at most 64 KiB a millisecond ({:.0} lines/s, {:.1} MB/s, {:.1} snapshots/s): {}",
        read.lines as f64 / secs,
        read.bytes as f64 / secs / 1e6,
        read.snapshots as f64 / secs,
        sides.summary("none"),
    );
}

/// A `monitor.subscribe` connection read 64 KiB at a time with a
/// millisecond's pause after each (at most about 65 MB/s), on a thread of
/// its own.
struct SlowMonitor {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Seen>,
}

impl SlowMonitor {
    fn start(socket: PathBuf) -> SlowMonitor {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || read_slowly(&socket, &stopping));
        SlowMonitor { stop, thread }
    }

    fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

fn read_slowly(socket: &Path, stop: &AtomicBool) -> Seen {
    let mut read = Seen::default();
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return read;
    };
    let subscribe = b"{\"method\": \"monitor.subscribe\", \"id\": 1}\n";
    if stream.write_all(subscribe).is_err()
        || stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .is_err()
    {
        return read;
    }
    const SNAPSHOT: &[u8] = b"\"monitor.snapshot\"";
    let started = Instant::now();
    let mut chunk = vec![0u8; 64 * 1024];
    // The end of the chunk before, so that a name cut in two is counted.
    let mut carry: Vec<u8> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => continue,
        };
        let bytes = &chunk[..n];
        read.bytes += n as u64;
        read.lines += bytes.iter().filter(|b| **b == b'\n').count() as u64;
        carry.extend_from_slice(bytes);
        read.snapshots += carry
            .windows(SNAPSHOT.len())
            .filter(|w| *w == SNAPSHOT)
            .count() as u64;
        let keep = carry.len().saturating_sub(SNAPSHOT.len() - 1);
        carry.drain(..keep);
        std::thread::sleep(Duration::from_millis(1));
    }
    read.took = started.elapsed();
    read
}
