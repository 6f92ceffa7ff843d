//! The line writers of connections: the core queues lines, a task per
//! connection writes them. Client writers can hold lines back while the
//! pool is saturated ([`Hold`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

/// The sending side of a connection: lines queued for its writer task.
#[derive(Clone)]
pub struct Lines {
    tx: mpsc::UnboundedSender<String>,
    /// Lines queued and not yet written to the socket.
    backlog: Arc<AtomicUsize>,
}

impl Lines {
    /// Queues a line; false once the writer is gone.
    pub fn send(&self, line: String) -> bool {
        self.backlog.fetch_add(1, Ordering::Relaxed);
        self.tx.send(line).is_ok()
    }

    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }
}

/// How long a client's lines wait for the ones that follow while the pool
/// is saturated, at most (tokio's timer rounds it up to the next
/// millisecond).
pub const HOLD: Duration = Duration::from_millis(4);

/// The core's word to client writers: hold lines back, the pool is
/// saturated (see [`spawn_writer`]). Writers waiting when it is lifted
/// send at once.
#[derive(Clone)]
pub struct Hold(Arc<HoldState>);

struct HoldState {
    on: AtomicBool,
    lifted: Notify,
    longest: Duration,
}

impl Hold {
    /// Lines wait up to `longest` while it is on.
    pub fn new(longest: Duration) -> Hold {
        Hold(Arc::new(HoldState {
            on: AtomicBool::new(false),
            lifted: Notify::new(),
            longest,
        }))
    }

    pub fn set(&self, on: bool) {
        if self.0.on.swap(on, Ordering::Relaxed) && !on {
            self.0.lifted.notify_waiters();
        }
    }

    /// Waits while the hold is on, up to its longest.
    async fn wait(&self) {
        let lifted = self.0.lifted.notified();
        tokio::pin!(lifted);
        // Registered before looking: a lift in between is not missed.
        lifted.as_mut().enable();
        if !self.0.on.load(Ordering::Relaxed) {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(self.0.longest) => {}
            _ = lifted => {}
        }
    }
}

/// Spawns the writer task of a connection: it writes the lines queued
/// together in one write, until every [`Lines`] is dropped.
///
/// With `hold` (clients' connections), while it is on the writer waits up
/// to [`HOLD`] after a line for those that follow and sends them together.
/// The core sets it while the pool is saturated, when no worker would
/// start sooner for an earlier reply, and lifts it the moment the pool is
/// no longer; the client then wakes once per batch instead of once per
/// reply, and answers with a batch of submits.
pub fn spawn_writer<W: AsyncWrite + Unpin + Send + 'static>(
    write: W,
    hold: Option<Hold>,
) -> (Lines, JoinHandle<()>) {
    let (lines, queue) = channel();
    (lines, queue.spawn_writer(write, hold))
}

/// The lines sent to a writer not started yet (see [`Queue::spawn_writer`]).
pub struct Queue {
    rx: mpsc::UnboundedReceiver<String>,
    backlog: Arc<AtomicUsize>,
}

/// A line writer's sending end, and the queue its writer will take lines
/// from once started: lines sent meanwhile wait.
pub fn channel() -> (Lines, Queue) {
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let backlog = Arc::new(AtomicUsize::new(0));
    let lines = Lines {
        tx,
        backlog: backlog.clone(),
    };
    (lines, Queue { rx, backlog })
}

impl Queue {
    /// The lines queued so far, taken (for tests, which read what the core
    /// sent without a writer).
    #[cfg(test)]
    pub fn take(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.rx.try_recv() {
            self.backlog.fetch_sub(1, Ordering::Relaxed);
            lines.push(line);
        }
        lines
    }

    /// Starts writing the queue's lines to `write` (see [`spawn_writer`]).
    pub fn spawn_writer<W: AsyncWrite + Unpin + Send + 'static>(
        self,
        write: W,
        hold: Option<Hold>,
    ) -> JoinHandle<()> {
        let Queue { mut rx, backlog } = self;
        tokio::spawn(async move {
            let mut out = write;
            // The lines queued together, joined for one write; kept between
            // batches unless a big one grew it.
            let mut batch = Vec::new();
            while let Some(line) = rx.recv().await {
                backlog.fetch_sub(1, Ordering::Relaxed);
                if let Some(hold) = &hold {
                    hold.wait().await;
                }
                let written = match rx.try_recv() {
                    // Alone (a worker's usual line): written as it is.
                    Err(_) => write_out(&mut out, line.as_bytes()).await,
                    Ok(next) => {
                        batch.clear();
                        batch.extend_from_slice(line.as_bytes());
                        let mut next = Some(next);
                        while let Some(line) = next.take() {
                            batch.extend_from_slice(line.as_bytes());
                            backlog.fetch_sub(1, Ordering::Relaxed);
                            if batch.len() < MAX_BATCH {
                                next = rx.try_recv().ok();
                            }
                        }
                        let written = write_out(&mut out, &batch).await;
                        if batch.capacity() > MAX_BATCH {
                            batch = Vec::new();
                        }
                        written
                    }
                };
                if written.is_err() {
                    return;
                }
            }
            let _ = out.shutdown().await;
        })
    }
}

/// How many bytes of queued lines a writer joins for one write, at least
/// (the last line joined may take it past). Without a buffer of its own a
/// connection costs no memory while idle: at 10,000 workers a `BufWriter`
/// per connection was 80 MiB (`docs/performance.md`).
const MAX_BATCH: usize = 64 << 10;

/// Writes `bytes` out, and flushes (sealed connections keep a frame back
/// until flushed).
async fn write_out<W: AsyncWrite + Unpin>(out: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes).await?;
    out.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_writer_that_holds_lines_still_sends_each_once_in_order() {
        let (near, mut far) = tokio::io::duplex(1 << 16);
        let hold = Hold::new(HOLD);
        hold.set(true);
        let (lines, writer) = spawn_writer(near, Some(hold.clone()));
        let backlog = lines.backlog.clone();
        for i in 0..100 {
            assert!(lines.send(format!("{i}\n")));
            if i == 60 {
                hold.set(false);
            }
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
        drop(lines);
        writer
            .await
            .expect("the writer ends once its senders are gone");
        let mut text = String::new();
        far.read_to_string(&mut text).await.expect("read");
        let expected: String = (0..100).map(|i| format!("{i}\n")).collect();
        assert_eq!(text, expected);
        assert_eq!(backlog.load(Ordering::Relaxed), 0);
    }

    /// More than one batch queued before the writer runs: each batch is
    /// one write of whole lines, in order, and nothing is left behind.
    #[tokio::test]
    async fn lines_queued_beyond_one_batch_arrive_whole_and_in_order() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let (lines, queue) = channel();
        let line = |i: usize| format!("{i:05} {}\n", "x".repeat(1000));
        let expected: String = (0..300).map(line).collect();
        assert!(expected.len() > 4 * MAX_BATCH);
        for i in 0..300 {
            assert!(lines.send(line(i)));
        }
        let writer = queue.spawn_writer(near, None);
        drop(lines);
        let reader = tokio::spawn(async move {
            let mut text = String::new();
            far.read_to_string(&mut text).await.map(|_| text)
        });
        writer
            .await
            .expect("the writer ends once its senders are gone");
        let text = reader.await.expect("reader").expect("read");
        assert!(
            text == expected,
            "{} of {} bytes",
            text.len(),
            expected.len()
        );
    }

    #[tokio::test]
    async fn lines_held_back_go_out_as_soon_as_the_hold_is_lifted() {
        let (near, far) = tokio::io::duplex(1 << 16);
        // Longer than any test may run: only the lift can release the line.
        let hold = Hold::new(Duration::from_secs(24 * 3600));
        hold.set(true);
        let (lines, _writer) = spawn_writer(near, Some(hold.clone()));
        assert!(lines.send("held\n".into()));
        // The writer is waiting on the hold by the time it yields back.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        hold.set(false);
        let mut far = tokio::io::BufReader::new(far);
        let mut line = String::new();
        let read = tokio::io::AsyncBufReadExt::read_line(&mut far, &mut line);
        // Only bounds a hang.
        tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .expect("the line went out once the hold was lifted")
            .expect("read");
        assert_eq!(line, "held\n");
    }
}
