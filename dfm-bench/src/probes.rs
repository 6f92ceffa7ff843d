//! What a client sees of `status.get` and of a new monitor's snapshot,
//! timed on a thread of their own: from connecting to the last byte of
//! the answer. Timed from the bench's runtime instead, the figure also
//! held the time that runtime, busy with 10,000 workers, took to come back
//! to the task that asked (up to 16 ms on a 2-vCPU VM): the bench's wait,
//! not the daemon's (docs/performance.md, "Timed where the client is").

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// One answer (a `status.get`'s, a snapshot) as its client saw it, from
/// connecting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AnswerTimes {
    /// To the last byte of the answer.
    pub(crate) total: Duration,
    /// To its first byte: the rest is the answer crossing the socket.
    pub(crate) first_byte: Duration,
}

/// How long one `status.get` took, connection included; `None` if the
/// daemon did not answer.
pub(crate) fn status_get(socket: &Path) -> Option<AnswerTimes> {
    let (started, mut answer) = ask(socket, "status.get")?;
    answer.fill_buf().ok()?;
    let first_byte = started.elapsed();
    let mut line = String::new();
    answer.read_line(&mut line).ok()?;
    let total = started.elapsed();
    line.contains("\"result\"")
        .then_some(AnswerTimes { total, first_byte })
}

/// How long a new monitor waits for its snapshot, connection included;
/// `None` if none came.
pub(crate) fn monitor_snapshot(socket: &Path) -> Option<AnswerTimes> {
    let (started, mut events) = ask(socket, "monitor.subscribe")?;
    let mut line = String::new();
    loop {
        // Waits for the next line's first byte (the subscription's reply
        // comes before the snapshot).
        events.fill_buf().ok()?;
        let first_byte = started.elapsed();
        line.clear();
        if events.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.contains("monitor.snapshot") {
            let total = started.elapsed();
            return Some(AnswerTimes { total, first_byte });
        }
    }
}

/// Connects and sends `method`: when it started, and where its answer comes.
fn ask(socket: &Path, method: &str) -> Option<(Instant, BufReader<UnixStream>)> {
    let started = Instant::now();
    let mut stream = UnixStream::connect(socket).ok()?;
    let request = format!("{{\"method\": \"{method}\", \"id\": 1}}\n");
    stream.write_all(request.as_bytes()).ok()?;
    // Read as `dfm status` and `dfm monitor` read.
    let read_buffer = dfm_host::client::READ_BUFFER;
    Some((started, BufReader::with_capacity(read_buffer, stream)))
}
