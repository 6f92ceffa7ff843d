//! The core's side of each worker slot: the connection to its worker, once
//! registered, and the runner's handle on its job, once launched. An entry
//! lives from the pool's `Launch` to its `Retire` or `Terminate`.

use std::cell::OnceCell;
use std::collections::HashMap;

use dfm_plugin_api::JobHandle;
use dfm_wire::{write_worker_entry, ToWorker, WorkerActivity, WorkerStatus, WorkerStatusRef};

use super::journal::JournalWorker;
use super::line_writers::Lines;
use crate::pool::{Pool, Slot, SlotId, SlotState};

#[derive(Default)]
pub struct WorkerLinks {
    by_slot: HashMap<SlotId, Link>,
    /// The set of jobs changed since [`WorkerLinks::take_changed`].
    changed: bool,
}

#[derive(Default)]
struct Link {
    lines: Option<Lines>,
    job: Option<JobHandle>,
    /// When its job was launched, in seconds since the epoch.
    launched_at: u64,
    /// When it was asked for, and when its worker joined (seconds since
    /// the epoch, to the microsecond; 0 until then).
    asked_at: f64,
    joined_at: f64,
    /// Why the scheduler keeps its job pending, as the last poll said.
    pending_reason: Option<String>,
    /// The part of its status entry that stays while its worker is
    /// registered, as JSON (see [`WorkerLinks::write_status_of`]); made
    /// anew when its job or its worker's registration changes.
    fixed_json: OnceCell<Box<str>>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl WorkerLinks {
    pub fn launching(&mut self, slot: SlotId) {
        let link = Link {
            asked_at: dfm_wire::unix_now(),
            ..Link::default()
        };
        self.by_slot.insert(slot, link);
    }

    /// Keeps the job of `slot`; hands it back if the slot is gone (its job
    /// must be stopped).
    pub fn launched(&mut self, slot: SlotId, job: JobHandle) -> Result<(), JobHandle> {
        match self.by_slot.get_mut(&slot) {
            Some(link) => {
                link.job = Some(job);
                link.launched_at = unix_now();
                link.fixed_json = OnceCell::new();
                self.changed = true;
                Ok(())
            }
            None => Err(job),
        }
    }

    /// The job of a worker adopted from a daemon that died.
    pub fn adopted(&mut self, slot: SlotId, job: JobHandle, launched_at: u64) {
        self.by_slot.insert(
            slot,
            Link {
                lines: None,
                job: Some(job),
                launched_at,
                asked_at: launched_at as f64,
                joined_at: 0.0,
                pending_reason: None,
                fixed_json: OnceCell::new(),
            },
        );
        self.changed = true;
    }

    /// Whether the set of jobs changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Every job, as the journal keeps it.
    pub fn journal(&self, pool: &Pool) -> Vec<JournalWorker> {
        let mut workers: Vec<JournalWorker> = self
            .by_slot
            .iter()
            .filter_map(|(slot, link)| {
                let job = link.job.as_ref()?;
                let s = pool.slot(*slot)?;
                Some(JournalWorker {
                    worker_id: s.worker_id.clone(),
                    resource_class: pool.class_of(s).to_string(),
                    job_id: job.job_id().to_string(),
                    pid: job.pid(),
                    launched_at: link.launched_at,
                })
            })
            .collect();
        workers.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
        workers
    }

    pub fn connected(&mut self, slot: SlotId, lines: Lines) {
        let link = self.by_slot.entry(slot).or_default();
        link.lines = Some(lines);
        link.fixed_json = OnceCell::new();
        if link.joined_at == 0.0 {
            link.joined_at = dfm_wire::unix_now();
        }
    }

    /// When the worker of `slot` was asked for and when it joined, once it
    /// has.
    pub fn start_times(&self, slot: SlotId) -> Option<(f64, f64)> {
        let link = self.by_slot.get(&slot)?;
        (link.asked_at > 0.0 && link.joined_at > 0.0).then_some((link.asked_at, link.joined_at))
    }

    /// Forgets the connection of `slot`; true if it had one.
    pub fn disconnected(&mut self, slot: SlotId) -> bool {
        self.by_slot
            .get_mut(&slot)
            .and_then(|link| link.lines.take())
            .is_some()
    }

    /// What the last poll said of why the job of `slot` is pending.
    pub fn pending_reason(&mut self, slot: SlotId, reason: Option<&str>) {
        if let Some(link) = self.by_slot.get_mut(&slot) {
            if link.pending_reason.as_deref() != reason {
                link.pending_reason = reason.map(str::to_string);
            }
        }
    }

    /// Why the scheduler keeps the job of `slot` pending, if it does and
    /// says.
    pub fn pending_reason_of(&self, slot: SlotId) -> Option<&str> {
        self.by_slot.get(&slot)?.pending_reason.as_deref()
    }

    pub fn has_job(&self, slot: SlotId) -> bool {
        self.by_slot
            .get(&slot)
            .is_some_and(|link| link.job.is_some())
    }

    /// Sends `message` to the worker of `slot`; false if it has no
    /// connection (any more).
    pub fn send(&self, slot: SlotId, message: &ToWorker) -> bool {
        match self.by_slot.get(&slot).and_then(|link| link.lines.as_ref()) {
            Some(lines) => lines.send(message.to_line()),
            None => false,
        }
    }

    /// Tells the worker of `slot` to exit and forgets the slot; its job, to
    /// be stopped, if it has one.
    pub fn retire(&mut self, slot: SlotId) -> Option<JobHandle> {
        let link = self.by_slot.remove(&slot)?;
        self.changed |= link.job.is_some();
        if let Some(lines) = &link.lines {
            lines.send(ToWorker::Shutdown {}.to_line());
        }
        link.job
    }

    /// Every job the runner should be asked about.
    pub fn jobs(&self) -> Vec<(SlotId, JobHandle)> {
        self.by_slot
            .iter()
            .filter_map(|(slot, link)| Some((*slot, link.job.clone()?)))
            .collect()
    }

    /// The batch job of the worker of `slot`: the runner's handle on it,
    /// else what the worker said at registration.
    pub fn job_id(&self, pool: &Pool, slot: SlotId) -> Option<String> {
        self.job_id_ref(pool, slot).map(str::to_string)
    }

    fn job_id_ref<'a>(&'a self, pool: &'a Pool, slot: SlotId) -> Option<&'a str> {
        let launched = self.by_slot.get(&slot).and_then(|link| link.job.as_ref());
        match launched {
            Some(job) => Some(job.job_id()),
            None => Some(pool.slot(slot)?.info.job_id.as_str()),
        }
    }

    /// What status and monitors show of the worker of `slot`.
    pub fn status(&self, pool: &Pool, slot: SlotId) -> Option<WorkerStatus> {
        Some(self.status_ref(pool, slot)?.to_owned())
    }

    /// The same, borrowed from the pool and the links (for a status of
    /// many workers: no string copied per worker).
    pub fn status_ref<'a>(&'a self, pool: &'a Pool, slot: SlotId) -> Option<WorkerStatusRef<'a>> {
        Some(self.status_of(pool, slot, pool.slot(slot)?))
    }

    /// The same, given the slot `s` of `slot`: one lookup of its link and
    /// none in the pool (a status of 10,000 workers makes one per worker).
    pub fn status_of<'a>(
        &'a self,
        pool: &'a Pool,
        slot: SlotId,
        s: &'a Slot,
    ) -> WorkerStatusRef<'a> {
        let link = self.by_slot.get(&slot);
        let job_id = match link.and_then(|link| link.job.as_ref()) {
            Some(job) => job.job_id(),
            None => s.info.job_id.as_str(),
        };
        WorkerStatusRef {
            worker_id: &s.worker_id,
            resource_class: pool.class_of(s),
            hostname: &s.info.hostname,
            pid: s.info.pid,
            state: activity(s.state),
            current_task: pool.current_task_of(s).map(|t| t.name.as_str()),
            tasks_ahead: pool.tasks_ahead_of(s).map(|t| t.name.as_str()).collect(),
            lsf_job_id: job_id,
            job_id,
            pending_reason: link.and_then(|link| link.pending_reason.as_deref()),
        }
    }

    /// Appends the status entry of the worker of `slot` (given its slot
    /// `s`) to `out`, as JSON: what [`WorkerLinks::status_of`] shows. A
    /// registered worker's id, class, host, pid and job are written once
    /// and kept: a status of 10,000 workers copies them instead of fetching
    /// and escaping five strings per worker.
    pub fn write_status_of(&self, pool: &Pool, slot: SlotId, s: &Slot, out: &mut Vec<u8>) {
        let link = self.by_slot.get(&slot);
        let registered = matches!(s.state, SlotState::Idle | SlotState::Busy(_));
        let made;
        let fixed: &str = match link {
            Some(link) if registered => link
                .fixed_json
                .get_or_init(|| self.status_of(pool, slot, s).fixed_json()),
            _ => {
                made = self.status_of(pool, slot, s).fixed_json();
                &made
            }
        };
        write_worker_entry(
            out,
            fixed,
            activity(s.state),
            pool.current_task_of(s).map(|t| t.name.as_str()),
            pool.tasks_ahead_of(s).map(|t| t.name.as_str()),
            link.and_then(|link| link.pending_reason.as_deref()),
        );
    }
}

/// What a worker in `state` is doing, as status shows it.
fn activity(state: SlotState) -> WorkerActivity {
    match state {
        SlotState::Launching | SlotState::Starting => WorkerActivity::Launching,
        SlotState::Idle => WorkerActivity::Idle,
        SlotState::Busy(_) => WorkerActivity::Busy,
    }
}
