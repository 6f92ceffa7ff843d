//! The core's clients: each connection's line writer and the tasks it has
//! in flight, from submit to reply.
//!
//! A client's tasks are kept under the pool's id for them ([`TaskId`]),
//! which the pool's actions carry: a number, found without hashing and
//! comparing the client's string (at 20,000 tasks in flight these three
//! lookups per task were 6% of the daemon's main thread; with the pool's
//! own lookups by request id, about a tenth).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::time::Instant;

use dfm_wire::RunningTaskRef;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::line_writers::Lines;
use crate::pool::{ClientId, IdHasher, TaskId};

#[derive(Default)]
pub struct Clients {
    by_id: HashMap<ClientId, Client>,
}

struct Client {
    pid: Option<u32>,
    lines: Lines,
    writer: JoinHandle<()>,
    submits: HashMap<TaskId, Submitted, BuildHasherDefault<IdHasher>>,
    /// Hears `task.dispatched` of its own tasks (what `dfm run` asks for).
    own_tasks: bool,
}

/// A task of a client, from submit to reply.
pub struct Submitted {
    /// The `id` its submit came with.
    pub id: Value,
    /// The id the client gave the task.
    pub request_id: String,
    pub name: String,
    /// When it was queued, by the daemon's clock and the wall clock.
    pub queued: Instant,
    pub queued_at: f64,
    pub started: Option<Started>,
}

/// When and where a task started.
#[derive(Clone)]
pub struct Started {
    pub since: Instant,
    pub worker_id: String,
    pub hostname: String,
    /// Its worker's slot (its batch job is asked for there when the task
    /// ends: a worker may register before its launch is answered).
    pub slot: crate::pool::SlotId,
}

impl Clients {
    pub fn connected(
        &mut self,
        client: ClientId,
        pid: Option<u32>,
        lines: Lines,
        writer: JoinHandle<()>,
    ) {
        let client_state = Client {
            pid,
            lines,
            writer,
            submits: HashMap::default(),
            own_tasks: false,
        };
        self.by_id.insert(client, client_state);
    }

    pub fn gone(&mut self, client: ClientId) {
        self.by_id.remove(&client);
    }

    /// The process of `client`, where known.
    pub fn pid(&self, client: ClientId) -> Option<u32> {
        self.by_id.get(&client).and_then(|c| c.pid)
    }

    pub fn lines(&self, client: ClientId) -> Option<&Lines> {
        self.by_id.get(&client).map(|c| &c.lines)
    }

    pub fn send(&self, client: ClientId, line: String) {
        if let Some(c) = self.by_id.get(&client) {
            c.lines.send(line);
        }
    }

    pub fn hear_own_tasks(&mut self, client: ClientId) {
        if let Some(c) = self.by_id.get_mut(&client) {
            c.own_tasks = true;
        }
    }

    pub fn hears_own_tasks(&self, client: ClientId) -> bool {
        self.by_id.get(&client).is_some_and(|c| c.own_tasks)
    }

    /// A task of `client` the pool took as `task`.
    pub fn submitted(
        &mut self,
        client: ClientId,
        task: TaskId,
        request_id: String,
        id: Value,
        name: String,
        now: Instant,
    ) {
        if let Some(c) = self.by_id.get_mut(&client) {
            let submitted = Submitted {
                id,
                request_id,
                name,
                queued: now,
                queued_at: dfm_wire::unix_now(),
                started: None,
            };
            c.submits.insert(task, submitted);
        }
    }

    /// When the task was queued, while its client is here.
    pub fn queued_since(&self, client: ClientId, task: TaskId) -> Option<Instant> {
        Some(self.by_id.get(&client)?.submits.get(&task)?.queued)
    }

    /// Notes that the task started; its record and that start, if the
    /// client is still here.
    pub fn started(
        &mut self,
        client: ClientId,
        task: TaskId,
        started: Started,
    ) -> Option<(&Submitted, &Started)> {
        let submitted = self.by_id.get_mut(&client)?.submits.get_mut(&task)?;
        submitted.started = Some(started);
        let submitted = &*submitted;
        Some((submitted, submitted.started.as_ref()?))
    }

    /// The task's record, now that it has its reply; `None` once its
    /// client has gone.
    pub fn finished(&mut self, client: ClientId, task: TaskId) -> Option<Option<Submitted>> {
        let c = self.by_id.get_mut(&client)?;
        Some(c.submits.remove(&task))
    }

    /// The tasks running, as a monitor's snapshot shows them (borrowed:
    /// written as a sequence of [`RunningTaskRef`]).
    pub fn running(&self, now: Instant) -> Running<'_> {
        Running { clients: self, now }
    }

    /// The writers of every connection, to be drained before exit.
    pub fn into_writers(self) -> Vec<JoinHandle<()>> {
        self.by_id.into_values().map(|c| c.writer).collect()
    }
}

/// The running tasks of every client, written as a JSON sequence.
pub struct Running<'a> {
    clients: &'a Clients,
    now: Instant,
}

impl serde::Serialize for Running<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tasks = self
            .clients
            .by_id
            .values()
            .flat_map(|c| c.submits.values())
            .filter_map(|s| {
                let started = s.started.as_ref()?;
                Some(RunningTaskRef {
                    request_id: &s.request_id,
                    name: &s.name,
                    worker_id: &started.worker_id,
                    hostname: &started.hostname,
                    elapsed_secs: self.now.duration_since(started.since).as_secs_f64(),
                })
            });
        serializer.collect_seq(tasks)
    }
}
