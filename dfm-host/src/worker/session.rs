//! A worker's connection to its daemon: connecting (the worker socket on
//! the daemon's machine, else the TCP port) and the mutual proof of the
//! secret, after which the daemon sends tasks.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use dfm_wire::{read_message, to_line, FromWorker, MessageError, Register, ToWorker, MAX_PREFETCH};
use tokio::io::{AsyncBufRead, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::auth;
use dfm_wire::sealed::{Direction, Handshake, SealedRead, SealedWrite};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a worker waits between tries while the worker socket's queue
/// of connections is full, before it takes the TCP port (about 1.3 s in
/// all).
const SOCKET_BUSY_WAITS: [Duration; 5] = [
    Duration::from_millis(20),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(800),
];

/// `wait`, stretched by up to half at random: workers that found the queue
/// full together do not all come back together.
fn jittered(wait: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    wait + wait.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

pub type ReadHalf = Box<dyn tokio::io::AsyncRead + Unpin + Send>;
pub type WriteHalf = Box<dyn tokio::io::AsyncWrite + Unpin + Send>;

/// Who the worker is, as it tells the daemon.
pub struct Identity {
    pub worker_id: String,
    pub resource_class: String,
    /// The scheduler's job id, or empty.
    pub job_id: String,
    pub secret: String,
}

/// A registered worker's connection.
pub struct Session {
    pub reader: BufReader<ReadHalf>,
    pub writer: WriteHalf,
    /// Where it goes, for messages.
    pub daemon: String,
    /// The connection's descriptor, to peek at without the runtime.
    pub fd: RawFd,
    pub heartbeat_every: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot use the worker socket {path}: {source}")]
    Socket {
        path: String,
        source: std::io::Error,
    },
    #[error("no answer from the daemon at {0} within {CONNECT_TIMEOUT:?}")]
    NoAnswer(String),
    #[error("cannot connect to the daemon at {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot read /dev/urandom: {0}")]
    Randomness(std::io::Error),
    #[error("the daemon at {0} did not send a challenge")]
    NoChallenge(String),
    #[error("no challenge from the daemon at {0}")]
    ChallengeTimeout(String),
    #[error("the listener at {0} could not prove it is our daemon; refusing its work")]
    Impostor(String),
    #[error("the daemon refused this worker: {0}")]
    Refused(String),
    #[error("the daemon at {0} does not seal its traffic on the network: refusing it (a dfm older than this worker? run the same dfm on both)")]
    NotSealed(String),
    #[error("unexpected answer to registration")]
    Unexpected,
    #[error("no answer to registration from {0}")]
    RegistrationTimeout(String),
    #[error("lost the connection to the daemon: {0}")]
    Lost(std::io::Error),
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// Connects to the daemon and registers: on its worker socket when this
/// worker runs on the daemon's machine (fewer kernel cycles per message
/// than TCP), else, or if that fails, on its TCP port.
pub async fn open(
    address: &str,
    local_socket: Option<String>,
    me: &Identity,
) -> Result<Session, SessionError> {
    open_saying(address, local_socket, me, true).await
}

/// [`open`], saying when the worker socket is unusable, or not (when
/// trying again and again to reach a daemon).
pub async fn open_saying(
    address: &str,
    local_socket: Option<String>,
    me: &Identity,
    say: bool,
) -> Result<Session, SessionError> {
    let (read, writer, daemon, fd, local) = connect(address, local_socket, say).await?;
    let mut session = Session {
        reader: BufReader::new(read),
        writer,
        daemon,
        fd,
        heartbeat_every: Duration::ZERO,
    };
    let welcome = register(&mut session, me).await?;
    session.heartbeat_every = welcome.heartbeat_every;
    match (welcome.sealed, local) {
        (Some(keys), _) => Ok(seal(session, me, &keys)),
        // On the daemon's machine, over its 0600 socket, clear is the
        // daemon's choice; across the network it is refused.
        (None, true) => Ok(session),
        (None, false) => Err(SessionError::NotSealed(session.daemon)),
    }
}

/// From now on what the session carries is sealed.
fn seal(session: Session, me: &Identity, nonces: &(String, String)) -> Session {
    let keys = Handshake {
        secret: &me.secret,
        daemon_nonce: &nonces.0,
        worker_nonce: &nonces.1,
        worker_id: &me.worker_id,
    };
    let already_read = session.reader.buffer().to_vec();
    let read: ReadHalf = Box::new(SealedRead::new(
        session.reader.into_inner(),
        keys.opener(Direction::DaemonToWorker),
        &already_read,
    ));
    let writer: WriteHalf = Box::new(SealedWrite::new(
        session.writer,
        keys.sealer(Direction::WorkerToDaemon),
        0,
    ));
    Session {
        reader: BufReader::new(read),
        writer,
        ..session
    }
}

/// The two halves, where they lead, the descriptor, and whether it is the
/// daemon's worker socket on this machine.
type Connected = (ReadHalf, WriteHalf, String, RawFd, bool);

async fn connect(
    address: &str,
    local_socket: Option<String>,
    say: bool,
) -> Result<Connected, SessionError> {
    if let Some(path) = local_socket {
        let mut waits = SOCKET_BUSY_WAITS.iter();
        loop {
            match tokio::net::UnixStream::connect(&path).await {
                Ok(stream) => {
                    let fd = stream.as_raw_fd();
                    let (read, write) = crate::wake_on_input::split(stream).map_err(|source| {
                        SessionError::Socket {
                            path: path.clone(),
                            source,
                        }
                    })?;
                    return Ok((Box::new(read), Box::new(write), path, fd, true));
                }
                // The daemon's queue of connections is full: thousands of
                // workers are joining at once. It empties in moments.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(wait) = waits.next() {
                        tokio::time::sleep(jittered(*wait)).await;
                        continue;
                    }
                    if say {
                        eprintln!("worker socket {path} still busy ({e}); using {address}");
                    }
                }
                Err(e) if say => eprintln!("worker socket {path} unusable ({e}); using {address}"),
                Err(_) => {}
            }
            break;
        }
    }
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| SessionError::NoAnswer(address.to_string()))?
        .map_err(|source| SessionError::Connect {
            address: address.to_string(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    let fd = stream.as_raw_fd();
    let (read, write) = stream.into_split();
    Ok((
        Box::new(read),
        Box::new(write),
        address.to_string(),
        fd,
        false,
    ))
}

/// What registration brought: how often to send heartbeats, and, if the
/// daemon seals, the two nonces the keys come from.
struct Welcome {
    heartbeat_every: Duration,
    sealed: Option<(String, String)>,
}

/// The handshake: the daemon's challenge, our proof and nonce, its proof.
async fn register(session: &mut Session, me: &Identity) -> Result<Welcome, SessionError> {
    let daemon = session.daemon.clone();
    let mut buf = Vec::new();
    let challenge =
        tokio::time::timeout(CONNECT_TIMEOUT, next_message(&mut session.reader, &mut buf)).await;
    let nonce = match challenge {
        Ok(Ok(Some(ToWorker::Challenge { nonce }))) => nonce,
        Ok(Ok(_)) => return Err(SessionError::NoChallenge(daemon)),
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(SessionError::ChallengeTimeout(daemon)),
    };
    let my_nonce = auth::random_hex(16).map_err(SessionError::Randomness)?;
    let mut register = Register {
        worker_id: me.worker_id.clone(),
        hostname: crate::procfs::hostname(),
        pid: std::process::id(),
        resource_class: me.resource_class.clone(),
        job_id: me.job_id.clone(),
        lsf_job_id: me.job_id.clone(),
        auth: String::new(),
        nonce: my_nonce.clone(),
        prefetch: true,
        prefetch_depth: MAX_PREFETCH as u32,
        seal: true,
    };
    register.auth = auth::worker_proof(&me.secret, &nonce, &register);
    session
        .writer
        .write_all(to_line(&FromWorker::Register(register.clone())).as_bytes())
        .await
        .map_err(SessionError::Lost)?;
    let answer =
        tokio::time::timeout(CONNECT_TIMEOUT, next_message(&mut session.reader, &mut buf)).await;
    match answer {
        Ok(Ok(Some(ToWorker::Registered {
            auth: proof,
            heartbeat_interval_ms,
            sealed,
        }))) => {
            let expected =
                auth::daemon_proof(&me.secret, &nonce, &register, heartbeat_interval_ms, sealed);
            if !auth::proofs_match(&expected, &proof) {
                return Err(SessionError::Impostor(daemon));
            }
            Ok(Welcome {
                heartbeat_every: Duration::from_millis(heartbeat_interval_ms.max(10)),
                sealed: sealed.then_some((nonce, my_nonce)),
            })
        }
        Ok(Ok(Some(ToWorker::Rejected { reason }))) => Err(SessionError::Refused(reason)),
        Ok(Ok(_)) => Err(SessionError::Unexpected),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(SessionError::RegistrationTimeout(daemon)),
    }
}

/// The next message from the daemon; `None` at the end of the
/// connection. Cancel-safe (see [`read_line`]).
pub async fn next_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Option<ToWorker>, MessageError> {
    read_message(reader, buf, ToWorker::parse).await
}

/// Sends `messages` in one write (one sealed frame, on a sealed session).
pub async fn send<W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    messages: &[FromWorker],
) -> std::io::Result<()> {
    let lines: String = messages.iter().map(to_line).collect();
    writer.write_all(lines.as_bytes()).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixListener;

    /// A worker that finds the worker socket's queue full (thousands of
    /// workers joining at once) waits for room, instead of going to the
    /// TCP port (which here does not answer).
    #[tokio::test]
    async fn a_full_worker_socket_is_waited_for() {
        let dir = std::env::temp_dir().join(format!("dfm-busy-socket-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("workers.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        // SAFETY: a listening socket; the shortest queue.
        unsafe { libc::listen(listener.as_raw_fd(), 0) };
        // Connections nobody accepts yet, until the queue refuses one.
        let mut queued = Vec::new();
        while let Ok(stream) = tokio::net::UnixStream::connect(&path).await {
            queued.push(stream);
            assert!(queued.len() < 100, "the queue never filled");
        }
        let backlog = queued.len();
        let accepting = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            // The queued ones and the worker, if it comes (the deadline
            // only bounds a failing test).
            let _ = listener.set_nonblocking(true);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let mut accepted = Vec::new();
            while accepted.len() <= backlog && std::time::Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => accepted.push(stream),
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
            accepted
        });
        let local = Some(path.display().to_string());
        let connected = super::connect("127.0.0.1:1", local, false).await;
        let accepted = accepting.join().expect("acceptor");
        let _ = std::fs::remove_dir_all(&dir);
        let (.., is_local) = connected.expect("connected once the queue had room");
        assert!(is_local, "it took the worker socket, not the TCP port");
        assert_eq!(accepted.len(), backlog + 1);
        drop(queued);
    }
}
