//! Sealed worker traffic: after the handshake, every byte between a worker
//! and its daemon on the TCP port is encrypted and authenticated.
//!
//! Construction (no home-made cipher mode): ChaCha20-Poly1305 (RFC 8439,
//! `ring`'s), keys from HKDF-SHA256 (RFC 5869):
//!
//! ```text
//! prk        = HKDF-Extract(salt = "dfm-seal-v1", ikm = secret)
//! key(dir)   = HKDF-Expand(prk, info = dir || 0 || daemon nonce || 0 || worker nonce || 0 || worker id, 32)
//! dir        = "daemon->worker" | "worker->daemon"
//! ```
//!
//! Both nonces are fresh per connection (the daemon's challenge, the
//! worker's registration), so each connection has its own pair of keys,
//! one per direction, and the secret never crosses the wire. A frame is a
//! 4-byte big-endian length, then that many bytes of ciphertext and tag;
//! the length is the AEAD's associated data. The AEAD nonce is the frame's
//! sequence number in its direction (64 bits, from 0), never sent: a frame
//! replayed, reordered, dropped, altered or injected fails to open, and the
//! connection ends. The plaintext is the protocol's lines, as on a clear
//! connection; [`SealedRead`] and [`SealedWrite`] carry them.

mod stream;
#[cfg(test)]
mod tests;

use hkdf::Hkdf;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use sha2::Sha256;

pub use self::stream::{SealedRead, SealedWrite};

/// The most plaintext one frame carries; a longer write is several frames.
pub const MAX_FRAME_PLAINTEXT: usize = 64 * 1024;
const TAG: usize = 16;
const HEADER: usize = 4;
const KEY: usize = 32;

/// Which way a key seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    DaemonToWorker,
    WorkerToDaemon,
}

impl Direction {
    fn label(self) -> &'static [u8] {
        match self {
            Direction::DaemonToWorker => b"daemon->worker",
            Direction::WorkerToDaemon => b"worker->daemon",
        }
    }
}

/// What both ends know after the handshake, from which the keys come.
pub struct Handshake<'a> {
    pub secret: &'a str,
    pub daemon_nonce: &'a str,
    pub worker_nonce: &'a str,
    pub worker_id: &'a str,
}

impl Handshake<'_> {
    /// Boxed: `ring`'s key is 544 bytes, and whatever holds a sealer or
    /// an opener (a worker connection's task in the daemon, sealed or not)
    /// would otherwise carry it inline.
    fn key(&self, direction: Direction) -> Box<LessSafeKey> {
        let hkdf = Hkdf::<Sha256>::new(Some(b"dfm-seal-v1"), self.secret.as_bytes());
        let mut info = Vec::new();
        for part in [
            direction.label(),
            self.daemon_nonce.as_bytes(),
            self.worker_nonce.as_bytes(),
            self.worker_id.as_bytes(),
        ] {
            info.extend_from_slice(part);
            info.push(0);
        }
        let mut key = [0u8; KEY];
        // 32 bytes is far below HKDF-SHA256's limit of 8160: cannot fail.
        let _ = hkdf.expand(&info, &mut key);
        // A key of the algorithm's length: cannot fail.
        let key = UnboundKey::new(&CHACHA20_POLY1305, &key)
            .unwrap_or_else(|_| unreachable!("ChaCha20-Poly1305 takes a 32-byte key"));
        Box::new(LessSafeKey::new(key))
    }

    /// The sealer for what this end sends `direction`.
    pub fn sealer(&self, direction: Direction) -> Sealer {
        Sealer {
            cipher: self.key(direction),
            sequence: 0,
        }
    }

    /// The opener for what this end receives from `direction`.
    pub fn opener(&self, direction: Direction) -> Opener {
        Opener {
            cipher: self.key(direction),
            sequence: 0,
            buffer: Vec::new(),
        }
    }
}

/// Why a sealed frame was refused. Either means someone other than the
/// peer wrote on the connection, or changed what it wrote: an attack, or
/// a peer that does not seal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a sealed frame failed authentication (altered, replayed, reordered or injected)")]
    Forged,
    #[error("a sealed frame of {0} bytes is larger than any peer sends")]
    TooLarge(usize),
    #[error("too many frames on one connection")]
    Exhausted,
}

fn nonce(sequence: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&sequence.to_be_bytes());
    // Each sequence number is used once per key: its frame's.
    Nonce::assume_unique_for_key(nonce)
}

/// Seals what one end sends, frame by frame.
pub struct Sealer {
    cipher: Box<LessSafeKey>,
    sequence: u64,
}

impl Sealer {
    /// Appends to `out` the frames that carry `plaintext`.
    pub fn seal(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        for chunk in plaintext.chunks(MAX_FRAME_PLAINTEXT) {
            let length =
                u32::try_from(chunk.len() + TAG).map_err(|_| SealError::TooLarge(chunk.len()))?;
            let header = length.to_be_bytes();
            let sequence = self.sequence;
            self.sequence = sequence.checked_add(1).ok_or(SealError::Exhausted)?;
            out.extend_from_slice(&header);
            let start = out.len();
            out.extend_from_slice(chunk);
            // Sealed where it lies in `out`, then its tag after it.
            let tag = self
                .cipher
                .seal_in_place_separate_tag(nonce(sequence), Aad::from(header), &mut out[start..])
                .map_err(|_| SealError::TooLarge(chunk.len()))?;
            out.extend_from_slice(tag.as_ref());
        }
        Ok(())
    }
}

/// Opens what one end receives: feed it bytes as they come, take the
/// plaintext of each whole frame.
pub struct Opener {
    cipher: Box<LessSafeKey>,
    sequence: u64,
    /// Bytes of frames not yet whole.
    buffer: Vec<u8>,
}

impl Opener {
    /// Adds bytes read from the connection.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The plaintext of the next whole frame, appended to `out`; `Ok(false)`
    /// when no whole frame is buffered yet.
    pub fn open_next(&mut self, out: &mut Vec<u8>) -> Result<bool, SealError> {
        if self.buffer.len() < HEADER {
            return Ok(false);
        }
        let mut header = [0u8; HEADER];
        header.copy_from_slice(&self.buffer[..HEADER]);
        let length = u32::from_be_bytes(header) as usize;
        if !(TAG..=MAX_FRAME_PLAINTEXT + TAG).contains(&length) {
            return Err(SealError::TooLarge(length));
        }
        if self.buffer.len() < HEADER + length {
            return Ok(false);
        }
        // Opened where it lies in the buffer.
        let body = &mut self.buffer[HEADER..HEADER + length];
        let plaintext = self
            .cipher
            .open_in_place(nonce(self.sequence), Aad::from(header), body)
            .map_err(|_| SealError::Forged)?;
        out.extend_from_slice(plaintext);
        self.buffer.drain(..HEADER + length);
        self.sequence = self.sequence.checked_add(1).ok_or(SealError::Exhausted)?;
        Ok(true)
    }

    /// Whether bytes of an unfinished frame are buffered.
    pub fn has_partial_frame(&self) -> bool {
        !self.buffer.is_empty()
    }
}
