//! The daemon's side of a worker's handshake: a fresh nonce, the worker's
//! proof that it knows the secret (binding all it registers with), the
//! daemon's proof in return (binding its answer too). Nothing is sent to a
//! worker before it has proved itself.

use std::time::Duration;

use dfm_wire::{to_line, FromWorker, MessageError, Register, ToWorker};
use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt};

use crate::auth;
use crate::pool::RegisterError;

/// How long a worker has to answer the challenge.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a worker connection was refused or ended before it joined.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("no randomness: {0}")]
    Randomness(std::io::Error),
    #[error("write failed: {0}")]
    Write(std::io::Error),
    #[error("no registration within the handshake timeout")]
    Timeout,
    #[error("first message was not worker.register")]
    NotRegister,
    #[error("closed before registering")]
    Closed,
    #[error(
        "authentication failed: the worker does not know this daemon's secret, someone in the \
         path changed its registration, or it is the dfm-worker of another dfm version"
    )]
    BadProof,
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("worker {worker_id}: {refused}")]
    Refused {
        worker_id: String,
        refused: RegisterError,
    },
    #[error("daemon is stopping")]
    Stopping,
    #[error("the worker does not seal its traffic (a dfm older than this daemon?)")]
    NotSealing,
}

/// What the daemon sends a worker that does not seal, on a connection
/// that must be sealed.
const NOT_SEALING: &str =
    "this daemon seals worker traffic on its TCP port, and this worker does not: \
    it is an older dfm; use the dfm-worker of the daemon's own dfm on the workers";

/// A worker that has proved itself.
pub struct Proven<W> {
    pub register: Register,
    /// `worker.registered`, with the daemon's proof, to send once the pool
    /// accepts it.
    pub welcome: String,
    pub write: W,
    /// The challenge's nonce, one of the two the sealing keys come from.
    pub nonce: String,
}

/// Challenges the worker and checks its proof; with `seal`, a worker that
/// does not seal is refused.
pub async fn prove<R, W>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    mut write: W,
    secret: &str,
    heartbeat_interval: Duration,
    seal: bool,
) -> Result<Proven<W>, HandshakeError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let nonce = auth::random_hex(16).map_err(HandshakeError::Randomness)?;
    send_now(
        &mut write,
        &ToWorker::Challenge {
            nonce: nonce.clone(),
        },
    )
    .await?;
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_message(reader, buf))
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    let register = match first {
        Some(FromWorker::Register(register)) => register,
        Some(_) => return Err(HandshakeError::NotRegister),
        None => return Err(HandshakeError::Closed),
    };
    let expected = auth::worker_proof(secret, &nonce, &register);
    if !auth::proofs_match(&expected, &register.auth) {
        let rejected = ToWorker::Rejected {
            reason: HandshakeError::BadProof.to_string(),
        };
        let _ = send_now(&mut write, &rejected).await;
        return Err(HandshakeError::BadProof);
    }
    if seal && !register.seal {
        let rejected = ToWorker::Rejected {
            reason: NOT_SEALING.into(),
        };
        let _ = send_now(&mut write, &rejected).await;
        return Err(HandshakeError::NotSealing);
    }
    let heartbeat_interval_ms = heartbeat_interval.as_millis() as u64;
    let welcome = to_line(&ToWorker::Registered {
        auth: auth::daemon_proof(secret, &nonce, &register, heartbeat_interval_ms, seal),
        heartbeat_interval_ms,
        sealed: seal,
    });
    Ok(Proven {
        register,
        welcome,
        write,
        nonce,
    })
}

async fn send_now<W: AsyncWrite + Unpin>(
    write: &mut W,
    message: &ToWorker,
) -> Result<(), HandshakeError> {
    write
        .write_all(to_line(message).as_bytes())
        .await
        .map_err(HandshakeError::Write)
}

/// The next message from a worker; `None` at the end of the connection.
pub async fn read_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Option<FromWorker>, MessageError> {
    dfm_wire::read_message(reader, buf, |line| serde_json::from_slice(line)).await
}
