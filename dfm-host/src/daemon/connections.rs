//! The daemon's connection tasks: one per client (Unix socket) and one per
//! worker (TCP, or the worker socket for workers on the daemon's machine).
//! They frame and parse lines, authenticate workers, and turn what they
//! read into [`Event`]s for the core; the core writes back through each
//! connection's line writer.

use std::sync::Arc;
use std::time::Duration;

use dfm_wire::{
    read_line, reply_error, reply_result, to_line, ClientCall, ClientRequest, Dialect, FrameError,
    ToWorker, CLIENT_PYTHON, MAX_LINE_BYTES,
};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::environments::Environments;
use super::event::{Event, Request};
use super::handshake::{self, HandshakeError};
use super::line_writers::{self, spawn_writer, Hold};
use crate::pool::{ClientId, SlotId};
use crate::wake_on_input;
use dfm_wire::sealed::{Direction, Handshake, SealedRead, SealedWrite};

/// Replies a client may leave unread before the daemon stops reading its
/// requests.
const MAX_CLIENT_BACKLOG: usize = 10_000;

/// The core's two inboxes, as a client connection sends to them.
#[derive(Clone)]
pub struct Inboxes {
    /// Tasks, cancels, a client gone: in order, behind all that came first.
    pub events: mpsc::UnboundedSender<Event>,
    /// A client's arrival, `status.get` and `monitor.subscribe`: heard
    /// before the events, so that they are answered at once however many
    /// tasks wait (a client's arrival goes there too, so that nothing of
    /// it overtakes it).
    pub control: mpsc::UnboundedSender<Event>,
}

/// Accepts clients; `hold` is the core's "the pool is saturated" word
/// (see [`spawn_writer`]).
pub async fn accept_clients(listener: UnixListener, inboxes: Inboxes, hold: Hold) {
    let mut next_client: ClientId = 1;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let client = next_client;
                next_client += 1;
                tokio::spawn(serve_client(stream, client, inboxes.clone(), hold.clone()));
            }
            Err(e) => {
                // Out of descriptors, typically: back off instead of spinning.
                tracing::warn!("client accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_client(stream: UnixStream, client: ClientId, inboxes: Inboxes, hold: Hold) {
    let Inboxes { events, control } = inboxes;
    // Who it is, to show in status and monitors.
    let pid = stream
        .peer_cred()
        .ok()
        .and_then(|cred| cred.pid())
        .and_then(|pid| u32::try_from(pid).ok());
    let (read, mut write) = match wake_on_input::split(stream) {
        Ok(halves) => halves,
        Err(e) => {
            tracing::warn!("client connection dropped: {e}");
            return;
        }
    };
    write.widen_for_big_writes(CLIENT_BIG_WRITE);
    let (tx, writer) = spawn_writer(write, Some(hold));
    let mut environments = Environments::default();
    // The Python the client runs on, for the original's tasks (looked up
    // at its first one).
    let mut client_python: Option<Option<String>> = None;
    if control
        .send(Event::ClientConnected {
            client,
            pid,
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
        // Lines read from the buffer cost the event loop's budget nothing:
        // a client that sent thousands of submissions in one burst would
        // hold the thread until all were parsed, and a `status.get` or a
        // new monitor on it would wait that long.
        tokio::task::coop::consume_budget().await;
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
        let ClientRequest { id, call } = match ClientRequest::parse(&buf) {
            Ok(request) => request,
            Err(bad) => {
                let _ = tx.send(reply_error(&bad.id, &bad.error));
                continue;
            }
        };
        let request = match call {
            // Answered here, whatever the core is doing: the cheapest
            // possible round trip, and a sign of life that a busy core does
            // not delay.
            ClientCall::Ping => {
                let _ = tx.send(reply_result(&id, "pong"));
                continue;
            }
            ClientCall::Submit(mut spec) => {
                // Shared as soon as parsed: a fast client may be thousands
                // of tasks ahead of the core.
                match environments.share(std::mem::take(&mut spec.env)) {
                    Ok(env) => spec.env = env,
                    Err(e) => {
                        let error = format!("Invalid task.submit params: {e}");
                        let _ = tx.send(reply_error(&id, &error));
                        continue;
                    }
                }
                if spec.dialect() == Dialect::Original && spec.client_python().is_none() {
                    let python =
                        client_python.get_or_insert_with(|| pid.and_then(crate::procfs::python_of));
                    if let Some(python) = python {
                        spec.extra
                            .insert(CLIENT_PYTHON.to_string(), Value::String(python.clone()));
                    }
                }
                Request::Submit(spec)
            }
            ClientCall::Cancel { request_id } => Request::Cancel { request_id },
            ClientCall::Status => Request::Status,
            ClientCall::Subscribe { own_tasks } => Request::Subscribe { own_tasks },
            ClientCall::Shutdown { keep_workers } => Request::Shutdown { keep_workers },
        };
        let inbox = match request {
            Request::Status | Request::Subscribe { .. } => &control,
            _ => &events,
        };
        if inbox
            .send(Event::ClientRequest {
                client,
                id,
                request,
            })
            .is_err()
        {
            break;
        }
    }
    let _ = events.send(Event::ClientGone { client });
}

/// The largest write a client's socket is widened for: a `status.get` or
/// a monitor's snapshot of a 10,000-worker pool (about 2 and 3 MB) goes
/// to the socket at once ([`crate::send_buffer`]).
const CLIENT_BIG_WRITE: usize = 4 << 20;

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
                let (read, write) = wake_on_input::split(stream)?;
                Ok((
                    (Box::new(read), Box::new(write)),
                    "the worker socket".into(),
                ))
            }
        }
    }
}

/// Accepts workers; with `seal`, their traffic is sealed after the
/// handshake (always on the TCP port; on the worker socket if
/// `runner.seal_local_socket`).
pub async fn accept_workers(
    listener: WorkerListener,
    events: mpsc::UnboundedSender<Event>,
    secret: Arc<String>,
    heartbeat_interval: Duration,
    seal: bool,
) {
    loop {
        match listener.accept().await {
            Ok(((read, write), peer)) => {
                let events = events.clone();
                let secret = secret.clone();
                tokio::spawn(async move {
                    let link = Link {
                        secret: &secret,
                        heartbeat_interval,
                        seal,
                        peer: &peer,
                    };
                    if let Err(reason) = serve_worker(read, write, events, link).await {
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

/// The read buffer of a worker connection. A worker's messages are a few
/// hundred bytes (a longer one takes more reads); tokio's default of 8 KiB
/// per connection was 80 MiB at 10,000 workers, the daemon's heap being on
/// huge pages (`docs/performance.md`).
const WORKER_READ_BUFFER: usize = 2048;

/// What a worker connection is, beyond its two halves.
struct Link<'a> {
    secret: &'a str,
    heartbeat_interval: Duration,
    seal: bool,
    peer: &'a str,
}

async fn serve_worker(
    read: Box<dyn AsyncRead + Unpin + Send>,
    write: Box<dyn AsyncWrite + Unpin + Send>,
    events: mpsc::UnboundedSender<Event>,
    link: Link<'_>,
) -> Result<(), HandshakeError> {
    let mut reader = BufReader::with_capacity(WORKER_READ_BUFFER, read);
    let mut buf = Vec::new();
    let proven = handshake::prove(
        &mut reader,
        &mut buf,
        write,
        link.secret,
        link.heartbeat_interval,
        link.seal,
    )
    .await?;
    let (register, welcome) = (proven.register, proven.welcome);
    let (tx, queue) = line_writers::channel();
    let (answer_tx, answer) = oneshot::channel();
    let worker_id = register.worker_id.clone();
    let welcome_len = welcome.len();
    // The keys come from both nonces; only a sealed connection needs them.
    let seal = link.seal.then(|| {
        let keys = Handshake {
            secret: link.secret,
            daemon_nonce: &proven.nonce,
            worker_nonce: &register.nonce,
            worker_id: &worker_id,
        };
        (
            keys.opener(Direction::WorkerToDaemon),
            keys.sealer(Direction::DaemonToWorker),
        )
    });
    events
        .send(Event::WorkerHello {
            register,
            welcome,
            lines: tx.clone(),
            answer: answer_tx,
        })
        .map_err(|_| HandshakeError::Stopping)?;
    let mut write = proven.write;
    let slot: SlotId = match answer.await {
        Ok(Ok(slot)) => slot,
        Ok(Err(refused)) => {
            // In clear: the handshake did not end.
            let line = to_line(&ToWorker::Rejected {
                reason: refused.to_string(),
            });
            let _ = write.write_all(line.as_bytes()).await;
            return Err(HandshakeError::Refused { worker_id, refused });
        }
        Err(_) => return Err(HandshakeError::Stopping),
    };
    // The core sent the welcome first; what follows it is sealed.
    let (mut reader, write) = if let Some((opener, sealer)) = seal {
        let already_read = reader.buffer().to_vec();
        let read: Box<dyn AsyncRead + Unpin + Send> =
            Box::new(SealedRead::new(reader.into_inner(), opener, &already_read));
        let write: Box<dyn AsyncWrite + Unpin + Send> =
            Box::new(SealedWrite::new(write, sealer, welcome_len));
        (BufReader::with_capacity(WORKER_READ_BUFFER, read), write)
    } else {
        (reader, write)
    };
    let _writer = queue.spawn_writer(write, None);
    drop(tx);

    let reason = loop {
        match handshake::read_message(&mut reader, &mut buf).await {
            Ok(Some(dfm_wire::FromWorker::Attacked { what })) => {
                tracing::error!(
                    "ATTACK on the worker connection from {}, seen by worker {worker_id}: {what}. \
                     Someone on the network changed or injected traffic between the daemon and \
                     the worker; the worker dropped the connection and is replaced",
                    link.peer
                );
            }
            Ok(Some(message)) => {
                if events.send(Event::FromWorker { slot, message }).is_err() {
                    return Ok(());
                }
            }
            Ok(None) => break "disconnected".to_string(),
            Err(e) if link.seal && e.is_forgery() => {
                tracing::error!(
                    "ATTACK on the worker connection from {}: {e}. Someone on the network changed or injected \
                     traffic between the daemon and worker {}; the connection is dropped and the worker replaced",
                    link.peer,
                    worker_id
                );
                break format!("dropped: {e}");
            }
            Err(e) => break format!("sent a bad message ({e})"),
        }
    };
    let _ = events.send(Event::WorkerGone { slot, reason });
    Ok(())
}
