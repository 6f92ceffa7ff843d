//! The sealed framing as byte streams: what the reader above a
//! [`SealedRead`] gets, and what the writer above a [`SealedWrite`] gives,
//! are the protocol's clear lines.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Opener, Sealer, MAX_FRAME_PLAINTEXT};

/// How much a [`SealedRead`] reads from its connection at a time (a
/// longer frame takes more reads). The daemon holds one per worker: at
/// 10,000 workers 16 KiB each was 160 MiB (`docs/performance.md`).
const READ_SIZE: usize = 4096;

/// Reads sealed frames from `inner` and yields their plaintext. A frame that
/// fails to open is an error of kind `InvalidData`: the connection must end.
pub struct SealedRead<R> {
    inner: R,
    opener: Opener,
    plain: Vec<u8>,
    at: usize,
    eof: bool,
    scratch: Box<[u8]>,
}

impl<R> SealedRead<R> {
    /// `already_read`: bytes past the handshake that a buffered reader
    /// took from `inner` before sealing began.
    pub fn new(inner: R, mut opener: Opener, already_read: &[u8]) -> SealedRead<R> {
        opener.feed(already_read);
        SealedRead {
            inner,
            opener,
            plain: Vec::new(),
            at: 0,
            eof: false,
            scratch: vec![0u8; READ_SIZE].into_boxed_slice(),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for SealedRead<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.at < this.plain.len() {
                let n = (this.plain.len() - this.at).min(buf.remaining());
                buf.put_slice(&this.plain[this.at..this.at + n]);
                this.at += n;
                if this.at == this.plain.len() {
                    this.plain.clear();
                    this.at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            match this.opener.open_next(&mut this.plain) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e))),
            }
            if this.eof {
                if this.opener.has_partial_frame() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection ended inside a sealed frame",
                    )));
                }
                return Poll::Ready(Ok(()));
            }
            let mut scratch = ReadBuf::new(&mut this.scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut scratch))?;
            if scratch.filled().is_empty() {
                this.eof = true;
            } else {
                this.opener.feed(scratch.filled());
            }
        }
    }
}

/// Seals what is written and writes the frames to `inner`. The first
/// `clear` bytes go out as they are: the daemon's welcome, which ends the
/// handshake, precedes sealing on the same writer.
pub struct SealedWrite<W> {
    inner: W,
    sealer: Sealer,
    clear: usize,
    out: Vec<u8>,
    sent: usize,
}

impl<W> SealedWrite<W> {
    pub fn new(inner: W, sealer: Sealer, clear: usize) -> SealedWrite<W> {
        SealedWrite {
            inner,
            sealer,
            clear,
            out: Vec::new(),
            sent: 0,
        }
    }
}

impl<W: AsyncWrite + Unpin> SealedWrite<W> {
    /// Writes out what is sealed and not yet sent.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.out.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for SealedWrite<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // What was sealed before goes first: back-pressure reaches the
        // writer above, and at most a few frames wait here.
        ready!(this.poll_send(cx))?;
        let clear = this.clear.min(buf.len());
        this.out.extend_from_slice(&buf[..clear]);
        this.clear -= clear;
        let sealed = (buf.len() - clear).min(4 * MAX_FRAME_PLAINTEXT);
        this.sealer
            .seal(&buf[clear..clear + sealed], &mut this.out)
            .map_err(|e| io::Error::other(e.to_string()))?;
        // Sent now if the socket takes it; else at the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(clear + sealed))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
