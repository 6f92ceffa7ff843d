//! What the core tells about the pool: `status.get`'s answer and a new
//! monitor's snapshot.

use dfm_wire::{ClientStatus, DaemonStatus, LicenseStatus, RunningTask};

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

    /// Each license: the pool's use of it, and what its query found.
    pub(super) fn license_statuses(&self) -> Vec<LicenseStatus> {
        let config = &self.runner.config().licenses;
        self.pool
            .license_use()
            .into_iter()
            .map(|used| {
                let queried = self.license_queries.last(&used.name);
                LicenseStatus {
                    count: config.get(&used.name).map_or(0, |spec| spec.count),
                    others: queried.and_then(|q| q.others),
                    note: queried.and_then(|q| q.note.clone()),
                    name: used.name,
                    in_use: used.in_use,
                    allowed: used.allowed,
                    waiting: used.waiting,
                }
            })
            .collect()
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
            licenses: self.license_statuses(),
            tasks: pool.counts(),
            uptime_secs: self.started.elapsed().as_secs_f64(),
            ..self.status_base.clone()
        }
    }
}
