//! Room in a socket for one big write at a time.
//!
//! A Unix socket holds about 208 KiB unread (`net.core.wmem_default`).
//! A `status.get` or a monitor's snapshot of a 10,000-worker pool is about
//! 2 MB: it crossed in turns, the daemon writing until the socket was full
//! and the client reading it empty, and on a loaded machine each turn
//! waited for a core (a status that took 10 ms took over 100;
//! docs/performance.md, "Room for a status"). So a write larger than the
//! socket's buffer widens it to the write's size, up to a cap, and the
//! buffer goes back to its size once the write is queued: a client that
//! does not read still fills the socket as soon as before, and a monitor
//! that lags is still noticed by its writer's backlog.
//!
//! The kernel caps what is asked at `net.core.wmem_max`, and takes memory
//! only for what is queued.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// The send buffer of one socket, widened for big writes.
#[derive(Debug)]
pub struct SendBuffer {
    /// At most this much is asked for.
    cap: usize,
    /// The socket's own size, as the kernel reports it, once read.
    normal: Option<usize>,
    widened: bool,
}

impl SendBuffer {
    /// Widens for writes up to `cap` bytes.
    pub fn up_to(cap: usize) -> SendBuffer {
        SendBuffer {
            cap,
            normal: None,
            widened: false,
        }
    }

    /// Before writing `len` bytes to `socket`: widens it if they do not fit.
    /// A failure leaves the socket as it was, which only costs time.
    pub fn before_write(&mut self, socket: &impl AsRawFd, len: usize) {
        if self.widened {
            return;
        }
        let fd = socket.as_raw_fd();
        let normal = match self.normal {
            Some(size) => size,
            None => match get(fd) {
                Ok(size) => *self.normal.insert(size),
                Err(_) => return,
            },
        };
        // The kernel reports twice what it was asked for (the other half is
        // its bookkeeping), and each write costs some of it in overhead.
        if len < normal / 2 {
            return;
        }
        if set(fd, len.min(self.cap)).is_ok() {
            self.widened = true;
        }
    }

    /// Once the write is queued: the socket's own size again.
    pub fn after_write(&mut self, socket: &impl AsRawFd) {
        if let (true, Some(normal)) = (self.widened, self.normal) {
            // Asked for half of what was reported, the kernel sets it back
            // exactly.
            let _ = set(socket.as_raw_fd(), normal / 2);
            self.widened = false;
        }
    }
}

/// The socket's send buffer, as the kernel reports it.
pub fn get(fd: RawFd) -> io::Result<usize> {
    let mut size: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a c_int to fill, of its size.
    let got = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&mut size as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    match got {
        0 => Ok(usize::try_from(size).unwrap_or(0)),
        _ => Err(io::Error::last_os_error()),
    }
}

fn set(fd: RawFd, size: usize) -> io::Result<()> {
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: a c_int option, of its size.
    let set = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    match set {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}
