//! A connection to the daemon's client socket, as `dfm` itself uses it.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::wake_on_input::{self, WakeOnInputRead, WakeOnInputWrite};
use dfm_wire::{read_line, ClientCall, ClientRequest, Reply};

/// How much a client reads at a time: a status or a monitor's snapshot of
/// 10,000 workers (2 and 3 MB) in 32 and 48 reads rather than 8 KiB ones.
pub const READ_BUFFER: usize = 64 << 10;

pub struct Connection {
    reader: BufReader<WakeOnInputRead>,
    writer: WakeOnInputWrite,
    buf: Vec<u8>,
    /// Requests queued with [`Connection::queue_with_id`], not yet sent.
    out: Vec<u8>,
    next_id: u64,
}

impl Connection {
    pub async fn connect(socket: &Path) -> Result<Connection> {
        let stream = UnixStream::connect(socket)
            .await
            .with_context(|| format!("cannot connect to the daemon socket {}", socket.display()))?;
        // Registered for input only: no wakeup each time the daemon reads.
        let (read, writer) = wake_on_input::split(stream)
            .with_context(|| format!("cannot use the daemon socket {}", socket.display()))?;
        Ok(Connection {
            reader: BufReader::with_capacity(READ_BUFFER, read),
            writer,
            buf: Vec::new(),
            out: Vec::new(),
            next_id: 1,
        })
    }

    /// Sends a request with a fresh id; returns the id.
    pub async fn send(&mut self, call: ClientCall) -> Result<Value> {
        let id = Value::String(format!("c{}", self.next_id));
        self.next_id += 1;
        self.send_with_id(id.clone(), call).await?;
        Ok(id)
    }

    /// Sends a request with the given id (and any queued before it).
    pub async fn send_with_id(&mut self, id: Value, call: ClientCall) -> Result<()> {
        self.queue_with_id(id, call);
        self.flush().await
    }

    /// Queues a request with the given id, to go out with the next
    /// [`Connection::flush`]: requests made together leave in one write,
    /// and wake the daemon once.
    pub fn queue_with_id(&mut self, id: Value, call: ClientCall) {
        self.out
            .extend_from_slice(ClientRequest { id, call }.to_line().as_bytes());
    }

    /// Sends the queued requests.
    pub async fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let sent = self.writer.write_all(&self.out).await;
        self.out.clear();
        sent.context("lost the connection to the daemon")
    }

    /// Whether a whole line from the daemon has arrived and not been read:
    /// [`Connection::next_reply`] returns it without waiting.
    pub fn reply_ready(&self) -> bool {
        memchr::memchr(b'\n', self.reader.buffer()).is_some()
    }

    /// The next line from the daemon; `None` when it closed the connection.
    /// Cancel-safe: a partly read line is kept for the next call.
    pub async fn next_reply(&mut self) -> Result<Option<Reply>> {
        if !read_line(&mut self.reader, &mut self.buf).await? {
            return Ok(None);
        }
        let reply = Reply::parse(&self.buf);
        self.buf.clear();
        reply.map(Some).map_err(|e| anyhow!(e))
    }

    /// [`Connection::call`], for at most `timeout`.
    pub async fn call_within(&mut self, call: ClientCall, timeout: Duration) -> Result<Value> {
        match tokio::time::timeout(timeout, self.call(call)).await {
            Ok(answer) => answer,
            Err(_) => bail!(
                "no answer from the daemon within {:.0} s",
                timeout.as_secs_f64()
            ),
        }
    }

    /// Sends a request and waits for its reply, skipping other traffic.
    pub async fn call(&mut self, call: ClientCall) -> Result<Value> {
        let id = self.send(call).await?;
        loop {
            match self.next_reply().await? {
                Some(Reply::Result { id: got, result }) if got == id => return Ok(result),
                Some(Reply::Error { id: got, error }) if got == id || got.is_null() => {
                    bail!("the daemon answered: {error}")
                }
                Some(_) => continue,
                None => bail!("the daemon closed the connection"),
            }
        }
    }
}

/// What a ping on the daemon's socket found.
#[derive(Debug, PartialEq)]
pub enum Ping {
    Answered,
    /// Connected (or connecting) but no answer within the timeout: the
    /// daemon is stopped or hung. Its connections answer pings ahead of any
    /// other work, so a busy daemon is not mistaken for one.
    Silent,
    /// Nobody listens on the socket.
    Refused,
}

/// Pings the daemon on `socket`, waiting at most `timeout`.
pub async fn ping(socket: &Path, timeout: Duration) -> Ping {
    let answer = tokio::time::timeout(timeout, async {
        let mut connection = Connection::connect(socket).await.ok()?;
        Some(matches!(connection.call(ClientCall::Ping).await, Ok(v) if v == "pong"))
    })
    .await;
    match answer {
        Ok(Some(true)) => Ping::Answered,
        Ok(_) => Ping::Refused,
        Err(_) => Ping::Silent,
    }
}

/// How long a client waits on the daemon.
pub struct ClientSettings {
    /// For an answer to a ping (`pool.client_timeout`).
    pub timeout: Duration,
    /// For a replacement of a daemon that was lost (`pool.reconnect_grace`).
    pub reconnect_grace: Duration,
}

/// The [`ClientSettings`] of the project at `root`; the defaults where its
/// configuration cannot be read (the command that needs it says why
/// elsewhere, if it matters).
pub fn settings_for(root: &Path) -> ClientSettings {
    let pool = crate::config::Layers::for_project(root)
        .load(&crate::config::CliOverrides::default())
        .map(|config| config.pool)
        .unwrap_or_default();
    ClientSettings {
        timeout: crate::config::secs(pool.client_timeout),
        reconnect_grace: crate::config::secs(pool.reconnect_grace),
    }
}
