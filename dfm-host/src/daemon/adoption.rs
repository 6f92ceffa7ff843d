//! What a new daemon takes over from the journal of one that died (or was
//! restarted): the secret and worker port its workers know, and the worker
//! jobs themselves, which then have `pool.reconnect_grace` to register
//! again. A journal that cannot be used is set aside, and said so.

use std::path::Path;
use std::time::Duration;

use tokio::net::TcpListener;

use super::journal::{JournalFile, JournalWorker};

#[derive(Default)]
pub struct Inheritance {
    pub secret: Option<String>,
    pub worker_port: Option<u16>,
    pub workers: Vec<JournalWorker>,
}

pub fn inherit(file: &JournalFile, project: &Path, runner: &str, grace: Duration) -> Inheritance {
    let journal = match file.load(project) {
        Ok(None) => return Inheritance::default(),
        Ok(Some(journal)) => journal,
        Err(e) => {
            let aside = file.set_aside();
            tracing::warn!(
                "{e}; moved to {} and starting fresh: the workers it named, if any, exit by themselves",
                aside.display()
            );
            return Inheritance::default();
        }
    };
    // Its daemon touched it every few seconds while alive: older than the
    // grace, and no worker of that daemon can still be waiting.
    let age = file.age().unwrap_or_default();
    if age > grace + 2 * super::journal::TOUCH_EVERY {
        if !journal.workers.is_empty() {
            tracing::info!(
                "the daemon before this one died {:.0} s ago or more, longer than pool.reconnect_grace: its workers have exited",
                age.as_secs_f64()
            );
        }
        let _ = std::fs::remove_file(file.path());
        return Inheritance::default();
    }
    if journal.runner != runner {
        let aside = file.set_aside();
        tracing::warn!(
            "the daemon that died ran its {} workers with the '{}' runner, this one runs '{runner}': \
             they are not adopted and exit by themselves within pool.reconnect_grace; its journal is now {}",
            journal.workers.len(),
            journal.runner,
            aside.display()
        );
        return Inheritance::default();
    }
    if !journal.workers.is_empty() {
        tracing::info!(
            "adopting the {} workers of the daemon before this one (from {}): they have {:.0} s to register again",
            journal.workers.len(),
            file.path().display(),
            grace.as_secs_f64()
        );
    }
    Inheritance {
        secret: Some(journal.secret),
        worker_port: Some(journal.worker_port),
        workers: journal.workers,
    }
}

/// The worker port: the one the adopted workers know, else a new one (they
/// then cannot come back, and their jobs end after the grace).
pub async fn open_worker_port(bind: &str, inherited: Option<u16>) -> std::io::Result<TcpListener> {
    if let Some(port) = inherited {
        match TcpListener::bind((bind, port)).await {
            Ok(listener) => return Ok(listener),
            Err(e) => tracing::warn!(
                "cannot open the worker port {port} again ({e}): the workers of the daemon before this one cannot come back"
            ),
        }
    }
    TcpListener::bind((bind, 0)).await
}

/// A prefix for new worker ids that no adopted worker's id has.
pub fn fresh_prefix(
    adopted: &[JournalWorker],
    random: impl Fn() -> std::io::Result<String>,
) -> std::io::Result<String> {
    loop {
        let prefix = random()?;
        if !adopted.iter().any(|w| w.worker_id.starts_with(&prefix)) {
            return Ok(prefix);
        }
    }
}
