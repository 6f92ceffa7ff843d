//! The daemon's connection tasks: one per client (Unix socket) and one per
//! worker (TCP, or the worker socket for workers on the daemon's machine). They frame and parse lines, authenticate workers, and turn
//! what they read into [`Event`]s for the core; the core writes back
//! through each connection's line channel.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

use super::environments::Environments;
use super::server::Event;
use crate::pool::{ClientId, SlotId};
use crate::protocol::{
    read_line, reply_error, reply_result, to_line, ClientCall, ClientRequest, FrameError,
    FromWorker, ToWorker, MAX_LINE_BYTES,
};
use crate::{auth, quiet};

/// Replies a client may leave unread before the daemon stops reading its
/// requests.
const MAX_CLIENT_BACKLOG: usize = 10_000;

/// How long a worker has to answer the challenge.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Spawns the writer task of a connection: it writes queued lines,
/// flushing once the queue is drained, until every [`Lines`] is dropped.
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
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let backlog = Arc::new(AtomicUsize::new(0));
    let lines = Lines {
        tx,
        backlog: backlog.clone(),
    };
    let writer = tokio::spawn(async move {
        let mut out = BufWriter::new(write);
        while let Some(line) = rx.recv().await {
            if out.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            backlog.fetch_sub(1, Ordering::Relaxed);
            if let Some(hold) = &hold {
                hold.wait().await;
            }
            while let Ok(line) = rx.try_recv() {
                if out.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
                backlog.fetch_sub(1, Ordering::Relaxed);
            }
            if out.flush().await.is_err() {
                return;
            }
        }
        let _ = out.shutdown().await;
    });
    (lines, writer)
}

/// Accepts clients; `hold` is the core's "the pool is saturated" word
/// (see [`spawn_writer`]).
pub async fn accept_clients(
    listener: UnixListener,
    events: mpsc::UnboundedSender<Event>,
    hold: Hold,
) {
    let mut next_client: ClientId = 1;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let client = next_client;
                next_client += 1;
                tokio::spawn(serve_client(stream, client, events.clone(), hold.clone()));
            }
            Err(e) => {
                // Out of descriptors, typically: back off instead of spinning.
                tracing::warn!("client accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_client(
    stream: UnixStream,
    client: ClientId,
    events: mpsc::UnboundedSender<Event>,
    hold: Hold,
) {
    let (read, write) = match quiet::split(stream) {
        Ok(halves) => halves,
        Err(e) => {
            tracing::warn!("client connection dropped: {e}");
            return;
        }
    };
    let (tx, writer) = spawn_writer(write, Some(hold));
    let mut environments = Environments::default();
    if events
        .send(Event::ClientConnected {
            client,
            lines: tx.clone(),
            writer,
        })
        .is_err()
    {
        return;
    }
    let mut reader = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        // A client that does not read its replies stops being read from:
        // its socket fills and it blocks, instead of the daemon buffering
        // without bound.
        while tx.backlog() > MAX_CLIENT_BACKLOG {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                _ = events.closed() => return,
            }
        }
        buf.clear();
        let line = tokio::select! {
            line = read_line(&mut reader, &mut buf) => line,
            // The core has stopped: let go of the writer so it can finish.
            _ = events.closed() => return,
        };
        match line {
            Ok(true) => {}
            Ok(false) => break,
            Err(FrameError::TooLong) => {
                let message =
                    format!("message too long: the limit is {MAX_LINE_BYTES} bytes per line");
                let _ = tx.send(reply_error(&Value::Null, &message));
                break;
            }
            Err(FrameError::Io(_)) => break,
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match ClientRequest::parse(&buf) {
            // Answered here: the cheapest possible round trip.
            Ok(ClientRequest {
                id,
                call: ClientCall::Ping,
            }) => {
                let _ = tx.send(reply_result(&id, "pong"));
            }
            Ok(mut request) => {
                // Shared as soon as parsed: a fast client may be thousands
                // of tasks ahead of the core.
                if let ClientCall::Submit(spec) = &mut request.call {
                    match environments.share(std::mem::take(&mut spec.env)) {
                        Ok(env) => spec.env = env,
                        Err(e) => {
                            let error = format!("Invalid task.submit params: {e}");
                            let _ = tx.send(reply_error(&request.id, &error));
                            continue;
                        }
                    }
                }
                if events
                    .send(Event::ClientRequest { client, request })
                    .is_err()
                {
                    break;
                }
            }
            Err(bad) => {
                let _ = tx.send(reply_error(&bad.id, &bad.error));
            }
        }
    }
    let _ = events.send(Event::ClientGone { client });
}

/// Where workers connect: the TCP port, or the worker socket for workers
/// on the daemon's machine. Both speak the same protocol, with the same
/// authentication.
pub enum WorkerListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

type Halves = (
    Box<dyn AsyncRead + Unpin + Send>,
    Box<dyn AsyncWrite + Unpin + Send>,
);

impl WorkerListener {
    /// The next connection, split, and where it comes from.
    async fn accept(&self) -> std::io::Result<(Halves, String)> {
        match self {
            WorkerListener::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                let (read, write) = stream.into_split();
                Ok(((Box::new(read), Box::new(write)), peer.to_string()))
            }
            WorkerListener::Unix(listener) => {
                let (stream, _) = listener.accept().await?;
                let (read, write) = quiet::split(stream)?;
                Ok((
                    (Box::new(read), Box::new(write)),
                    "the worker socket".into(),
                ))
            }
        }
    }
}

pub async fn accept_workers(
    listener: WorkerListener,
    events: mpsc::UnboundedSender<Event>,
    secret: Arc<String>,
    heartbeat_interval: Duration,
) {
    loop {
        match listener.accept().await {
            Ok(((read, write), peer)) => {
                let events = events.clone();
                let secret = secret.clone();
                tokio::spawn(async move {
                    if let Err(reason) =
                        serve_worker(read, write, events, &secret, heartbeat_interval).await
                    {
                        tracing::warn!("worker connection from {peer} refused: {reason}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("worker accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn send_now<W: AsyncWrite + Unpin>(write: &mut W, message: &ToWorker) -> Result<(), String> {
    write
        .write_all(to_line(message).as_bytes())
        .await
        .map_err(|e| format!("write failed: {e}"))
}

async fn read_message<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Option<FromWorker>, String> {
    match read_line(reader, buf).await {
        Ok(true) => {
            let message = serde_json::from_slice(buf).map_err(|e| format!("invalid message: {e}"));
            buf.clear();
            message.map(Some)
        }
        Ok(false) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

async fn serve_worker<R, W>(
    read: R,
    mut write: W,
    events: mpsc::UnboundedSender<Event>,
    secret: &str,
    heartbeat_interval: Duration,
) -> Result<(), String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut reader = BufReader::new(read);
    let mut buf = Vec::new();

    let nonce = auth::random_hex(16).map_err(|e| format!("no randomness: {e}"))?;
    send_now(
        &mut write,
        &ToWorker::Challenge {
            nonce: nonce.clone(),
        },
    )
    .await?;
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_message(&mut reader, &mut buf))
        .await
        .map_err(|_| "no registration within the handshake timeout".to_string())??;
    let register = match first {
        Some(FromWorker::Register(register)) => register,
        Some(_) => return Err("first message was not worker.register".into()),
        None => return Err("closed before registering".into()),
    };
    let expected = auth::worker_proof(secret, &nonce, &register.worker_id, &register.nonce);
    if !auth::proofs_match(&expected, &register.auth) {
        let reason =
            "authentication failed: the worker does not know this daemon's secret".to_string();
        let _ = send_now(
            &mut write,
            &ToWorker::Rejected {
                reason: reason.clone(),
            },
        )
        .await;
        return Err(reason);
    }
    let welcome = to_line(&ToWorker::Registered {
        auth: auth::daemon_proof(secret, &nonce, &register.worker_id, &register.nonce),
        heartbeat_interval_ms: heartbeat_interval.as_millis() as u64,
    });

    let (tx, _writer) = spawn_writer(write, None);
    let (answer_tx, answer) = oneshot::channel();
    let worker_id = register.worker_id.clone();
    events
        .send(Event::WorkerHello {
            register,
            welcome,
            lines: tx.clone(),
            answer: answer_tx,
        })
        .map_err(|_| "daemon is stopping".to_string())?;
    let slot: SlotId = match answer.await {
        Ok(Ok(slot)) => slot,
        Ok(Err(reason)) => {
            let _ = tx.send(to_line(&ToWorker::Rejected {
                reason: reason.clone(),
            }));
            return Err(format!("worker {worker_id}: {reason}"));
        }
        Err(_) => return Err("daemon is stopping".into()),
    };
    drop(tx);

    let reason = loop {
        match read_message(&mut reader, &mut buf).await {
            Ok(Some(message)) => {
                if events.send(Event::FromWorker { slot, message }).is_err() {
                    return Ok(());
                }
            }
            Ok(None) => break "disconnected".to_string(),
            Err(e) => break format!("sent a bad message ({e})"),
        }
    };
    let _ = events.send(Event::WorkerGone { slot, reason });
    Ok(())
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
