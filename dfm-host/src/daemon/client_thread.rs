//! Client connections (`dfm run`, status, monitors, stop) are served on a
//! thread of their own, with its own event loop. On one loop with a
//! thousand workers' connections, a `status.get` waited its turn behind
//! every worker's reader and writer, two or three rounds of them (40 to
//! 60 ms at 50,000 tasks/s); here it waits only for the core. The second
//! thread also reads and parses clients' submissions beside the core.

use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

pub struct ClientThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ClientThread {
    pub fn start() -> Result<ClientThread> {
        let runtime = Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the clients' event loop")?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("dfm-clients".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Connections still open are dropped, not waited for.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .context("cannot start the clients' thread")?;
        Ok(ClientThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// This thread's loop: sockets opened inside it (with
    /// [`Handle::enter`]) are driven by it, and tasks spawned on it run on it.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for ClientThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
