//! What the core tells about the pool: `status.get`'s answer and a new
//! monitor's snapshot.

use dfm_wire::{ClientStatus, DaemonStatus, RunningTask};

use super::Core;

impl Core {
    /// What a monitor's snapshot shows, but for the recent completions.
    pub(super) fn snapshot_parts(&self) -> (DaemonStatus, Vec<RunningTask>) {
        (self.status(), self.clients.running(super::clock_now()))
    }

    /// What each client has in the pool, by client.
    pub(super) fn client_statuses(&self) -> Vec<ClientStatus> {
        let mut clients: Vec<ClientStatus> = self
            .pool
            .client_counts()
            .map(|(client, counts)| ClientStatus {
                client,
                pid: self.clients.pid(client),
                queued: counts.queued,
                held: counts.held,
                running: counts.running,
            })
            .collect();
        clients.sort_by_key(|c| c.client);
        clients
    }

    /// `status.get`'s answer.
    pub(super) fn status(&self) -> DaemonStatus {
        let pool = &self.pool;
        DaemonStatus {
            workers: pool
                .slots()
                .filter_map(|(slot, _)| self.workers.status(pool, slot))
                .collect(),
            clients: self.client_statuses(),
            tasks: pool.counts(),
            uptime_secs: self.started.elapsed().as_secs_f64(),
            ..self.status_base.clone()
        }
    }
}
