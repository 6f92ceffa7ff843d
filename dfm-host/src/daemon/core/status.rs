//! What the core tells about the pool: `status.get`'s answer and a new
//! monitor's snapshot.

use std::cell::Cell;
use std::collections::BTreeMap;

use dfm_wire::splice::Splice;
use dfm_wire::{ClientStatus, DaemonStatusRef, LicenseStatus, WorkerLicenseStatus};

#[cfg(test)]
use dfm_wire::DaemonStatus;

use crate::pool::SlotState;

use super::Core;

impl Core {
    /// A monitor's snapshot line, written from the pool's, the links' and
    /// the clients' own strings: at 10,000 workers it copies none per worker
    /// or task.
    pub(super) fn snapshot_line(&self) -> String {
        let workers = Splice::default();
        let line = dfm_wire::SnapshotRef {
            status: self.status_view(workers.here()),
            running: self.clients.running(super::clock_now()),
            recent: self.feed.recent(),
        }
        .to_line_spliced(&workers, self.big_lines.snapshot_capacity(), |out| {
            self.write_workers(out)
        });
        self.big_lines.snapshot.set(line.len());
        line
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

    /// Each license the scheduler holds per worker: the workers of its
    /// classes that run (each holds it) and those whose job the scheduler
    /// keeps pending for a license. A reason is for a license if it says
    /// so (SLURM's `Licenses`) or names one of the class's (LSF's
    /// `reserving resource (sim_seat)`, Grid Engine's `gc:sim_seat`).
    pub(super) fn worker_license_statuses(&self) -> Vec<WorkerLicenseStatus> {
        let config = self.runner.config();
        if !config.any_license_held_by_scheduler() {
            return Vec::new();
        }
        let mut by_name: BTreeMap<&str, WorkerLicenseStatus> = BTreeMap::new();
        for (slot, s) in self.pool.slots() {
            let held = config.licenses_held_by_scheduler(self.pool.class_of(s));
            let reason = self.workers.pending_reason_of(slot).unwrap_or_default();
            for name in held {
                let entry = by_name.entry(name).or_insert_with(|| WorkerLicenseStatus {
                    name: name.to_string(),
                    workers_holding: 0,
                    workers_waiting: 0,
                });
                match s.state {
                    SlotState::Idle | SlotState::Busy(_) => entry.workers_holding += 1,
                    SlotState::Launching | SlotState::Starting => {
                        if waits_for_license(reason, name) {
                            entry.workers_waiting += 1;
                        }
                    }
                }
            }
        }
        by_name.into_values().collect()
    }

    /// `status.get`'s answer, borrowing the pool's and the links' own
    /// strings: a status of 10,000 workers copies none per worker.
    fn status_view<W: serde::Serialize>(&self, workers: W) -> DaemonStatusRef<'_, W> {
        let base = &self.status_base;
        DaemonStatusRef {
            pid: base.pid,
            runner: &base.runner,
            workers,
            tasks: self.pool.counts(),
            started: &base.started,
            uptime_secs: self.started.elapsed().as_secs_f64(),
            socket: &base.socket,
            worker_port: base.worker_port,
            pool_size: base.pool_size,
            clients: self.client_statuses(),
            licenses: self.license_statuses(),
            worker_licenses: self.worker_license_statuses(),
        }
    }

    /// `status.get`'s reply line to `id`, written from [`Core::status_view`].
    pub(super) fn status_reply(&self, id: &serde_json::Value) -> String {
        let workers = Splice::default();
        let line = dfm_wire::reply_result_spliced(
            id,
            self.status_view(workers.here()),
            &workers,
            self.big_lines.status.get(),
            |out| self.write_workers(out),
        );
        self.big_lines.status.set(line.len());
        line
    }

    /// The pool's workers as status shows them, in slot order, as a JSON
    /// array.
    fn write_workers(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (n, (slot, s)) in self.pool.slots().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            self.workers.write_status_of(&self.pool, slot, s, out);
        }
        out.push(b']');
    }

    /// `status.get`'s answer, owned (for tests, which look into it).
    #[cfg(test)]
    pub(super) fn status(&self) -> DaemonStatus {
        let workers = self
            .pool
            .slots()
            .map(|(slot, s)| self.workers.status_of(&self.pool, slot, s).to_owned())
            .collect();
        self.status_view(()).to_owned_with(workers)
    }
}

/// How long the last status and snapshot lines were. At 10,000 workers a
/// status is 2 MB: written into a buffer that size from the start, it is
/// not copied at each of a dozen doublings.
pub(super) struct LineSizes {
    pub status: Cell<usize>,
    pub snapshot: Cell<usize>,
}

impl LineSizes {
    /// Where the next snapshot starts: its last size, or the last status's
    /// if larger (a snapshot holds a status; the first of a daemon then
    /// does not start from 4 KiB).
    fn snapshot_capacity(&self) -> usize {
        self.snapshot.get().max(self.status.get())
    }
}

impl Default for LineSizes {
    fn default() -> LineSizes {
        LineSizes {
            status: Cell::new(4096),
            snapshot: Cell::new(4096),
        }
    }
}

/// Whether a scheduler's pending reason is a wait for the license `name`.
fn waits_for_license(reason: &str, name: &str) -> bool {
    reason.to_ascii_lowercase().contains("license") || reason.contains(name)
}

#[cfg(test)]
mod tests {
    use super::waits_for_license;

    #[test]
    fn a_pending_reason_is_for_a_license_if_it_says_so_or_names_it() {
        assert!(waits_for_license("Licenses", "sim_seat"));
        let lsf = "Job requirements for reserving resource (sim_seat) not satisfied: 1 host";
        assert!(waits_for_license(lsf, "sim_seat"));
        assert!(!waits_for_license(lsf, "vcs"));
        assert!(!waits_for_license("Resources", "sim_seat"));
        assert!(!waits_for_license("", "sim_seat"));
    }
}
