//! Unix-socket connections that wake this process only for input.
//!
//! Tokio registers a socket for input and output alike. On a Unix socket
//! the kernel signals "writable" whenever the peer reads, so each line the
//! peer reads wakes this process for nothing: a wasted wakeup (and, on a
//! small VM, often a wasted cross-CPU interrupt) per message. These halves
//! register for input only and write directly; only a write that would
//! block (a peer that is not reading) waits for output, on a second
//! registration that lasts until that write goes through.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::send_buffer::SendBuffer;

/// Splits a connected socket into halves registered for input only.
pub fn split(stream: tokio::net::UnixStream) -> io::Result<(WakeOnInputRead, WakeOnInputWrite)> {
    let stream = stream.into_std()?;
    // SAFETY: the UnixStream owns its descriptor, which stays open and the
    // same until the AsyncFd (its owner from here on) is dropped.
    let fd = Arc::new(unsafe { AsyncFd::register_with_interest(stream, Interest::READABLE) }?);
    Ok((
        WakeOnInputRead { fd: fd.clone() },
        WakeOnInputWrite {
            fd,
            waiting: None,
            send_buffer: None,
        },
    ))
}

pub struct WakeOnInputRead {
    fd: Arc<AsyncFd<UnixStream>>,
}

pub struct WakeOnInputWrite {
    fd: Arc<AsyncFd<UnixStream>>,
    /// A duplicate of the socket registered for output, while a write
    /// waits for the peer to read.
    waiting: Option<AsyncFd<OwnedFd>>,
    /// With [`WakeOnInputWrite::widen_for_big_writes`].
    send_buffer: Option<SendBuffer>,
}

impl WakeOnInputWrite {
    /// A write bigger than the socket's buffer widens it, up to `cap`
    /// bytes, until it is queued ([`SendBuffer`]).
    pub fn widen_for_big_writes(&mut self, cap: usize) {
        self.send_buffer = Some(SendBuffer::up_to(cap));
    }
}

impl AsyncRead for WakeOnInputRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let wanted = unfilled.len();
            match guard.try_io(|inner| inner.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    // A short read drained the socket: wait for the next
                    // edge instead of asking again (as tokio's own streams do).
                    if n > 0 && n < wanted {
                        guard.clear_ready();
                    }
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for WakeOnInputWrite {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(send_buffer) = &mut this.send_buffer {
            send_buffer.before_write(this.fd.get_ref(), data.len());
        }
        let written = ready!(this.poll_write_direct(cx, data));
        if let Some(send_buffer) = &mut this.send_buffer {
            send_buffer.after_write(this.fd.get_ref());
        }
        Poll::Ready(written)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.fd.get_ref().shutdown(Shutdown::Write))
    }
}

impl WakeOnInputWrite {
    /// Writes what the socket takes now, or waits for output until it
    /// takes something.
    fn poll_write_direct(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            if let Some(waiting) = &self.waiting {
                let mut guard = ready!(waiting.poll_write_ready(cx))?;
                let written = guard.try_io(|_| self.fd.get_ref().write(data));
                drop(guard);
                match written {
                    Ok(result) => {
                        self.waiting = None;
                        return Poll::Ready(result);
                    }
                    Err(_would_block) => continue,
                }
            }
            match self.fd.get_ref().write(data) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let duplicate = self.fd.get_ref().as_fd().try_clone_to_owned()?;
                    // SAFETY: as in `split`: the OwnedFd owns its descriptor.
                    let waiting =
                        unsafe { AsyncFd::register_with_interest(duplicate, Interest::WRITABLE) }?;
                    self.waiting = Some(waiting);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::send_buffer;

    /// What the kernel lets a process ask for.
    fn wmem_max() -> usize {
        std::fs::read_to_string("/proc/sys/net/core/wmem_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// A writer widened for big writes whose peer does not read: the
    /// writer, the peer (kept open), its descriptor and its send buffer.
    fn widened_writer() -> (super::WakeOnInputWrite, Peer, std::os::fd::RawFd, usize) {
        let (a, peer) = tokio::net::UnixStream::pair().expect("socket pair");
        let (_read, mut write) = super::split(a).expect("split");
        write.widen_for_big_writes(4 << 20);
        let fd = std::os::fd::AsRawFd::as_raw_fd(write.fd.get_ref());
        let before = send_buffer::get(fd).expect("SO_SNDBUF");
        (write, peer, fd, before)
    }

    type Peer = tokio::net::UnixStream;

    /// A status of 10,000 workers goes to a client that has not read yet
    /// in one write, and the socket's buffer is back to its size after.
    #[tokio::test]
    async fn a_big_write_goes_at_once_and_the_buffer_shrinks_back() {
        let (mut write, _peer, fd, before) = widened_writer();
        // As much as the kernel lets a process ask for, up to a status's size.
        let big = vec![b'x'; (2 << 20).min(wmem_max())];
        let n = write.write(&big).await.expect("write");
        assert_eq!(n, big.len(), "the socket took {n} of {} bytes", big.len());
        assert_eq!(send_buffer::get(fd).expect("SO_SNDBUF"), before);
    }

    /// A small write leaves the buffer alone.
    #[tokio::test]
    async fn a_small_write_leaves_the_buffer_as_it_is() {
        let (mut write, _peer, fd, before) = widened_writer();
        write.write_all(&[b'x'; 4096]).await.expect("write");
        assert_eq!(send_buffer::get(fd).expect("SO_SNDBUF"), before);
    }

    /// A write larger than the socket buffer blocks until the peer reads,
    /// then completes; nothing is lost or reordered.
    #[tokio::test]
    async fn a_blocked_write_completes_once_the_peer_reads() {
        let (a, b) = tokio::net::UnixStream::pair().expect("socket pair");
        let (mut read, _keep) = super::split(a).expect("split");
        let (_unused, mut write) = super::split(b).expect("split");
        let data: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            write.write_all(&sent).await.expect("write");
            write.shutdown().await.expect("shutdown");
        });
        let mut received = Vec::new();
        read.read_to_end(&mut received).await.expect("read");
        writer.await.expect("writer");
        assert_eq!(received.len(), data.len());
        assert!(received == data, "the bytes arrive intact and in order");
    }
}
