//! The monitor feed: events for every `monitor.subscribe` connection.
//!
//! Events are built only when someone listens (most daemons have no
//! monitor). A subscriber that falls behind misses events, so the daemon
//! never waits for it and its memory stays bounded, and gets a fresh
//! snapshot once it has caught up ([`CatchUp`]).

use std::collections::{HashMap, VecDeque};

use dfm_wire::{ClientStatus, Completion, LicenseStatus, MonitorEvent, PoolCounts};

use super::line_writers::Lines;
use crate::pool::ClientId;

/// How many finished tasks a new monitor is shown.
const RECENT_COMPLETIONS: usize = 50;

/// Lines a subscriber may have unwritten before events to it are dropped.
/// Replies are never dropped.
const MAX_EVENT_BACKLOG: usize = 4096;

#[derive(Default)]
pub struct Feed {
    subscribers: HashMap<ClientId, Subscriber>,
    /// The last tasks to finish, most recent first.
    recent: VecDeque<Completion>,
    last_counts: Option<PoolCounts>,
    last_clients: Vec<ClientStatus>,
    last_licenses: Vec<LicenseStatus>,
}

struct Subscriber {
    lines: Lines,
    /// Events were dropped because it reads too slowly.
    lagging: bool,
}

/// Subscribers that have caught up after missing events: each needs a
/// snapshot ([`Feed::catch_up`]).
#[must_use]
#[derive(Default)]
pub struct CatchUp(Vec<ClientId>);

impl CatchUp {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Feed {
    /// Whether anyone listens: events are worth building.
    pub fn active(&self) -> bool {
        !self.subscribers.is_empty()
    }

    /// The last tasks to finish, most recent first (a snapshot shows them).
    pub fn recent(&self) -> &VecDeque<Completion> {
        &self.recent
    }

    /// A new subscriber, which gets `snapshot` (the core's
    /// `monitor.snapshot` line, with [`Feed::recent`]) first.
    pub fn subscribe(&mut self, client: ClientId, lines: Lines, snapshot: String) {
        lines.send(snapshot);
        let subscriber = Subscriber {
            lines,
            lagging: false,
        };
        self.subscribers.insert(client, subscriber);
    }

    pub fn unsubscribe(&mut self, client: ClientId) {
        self.subscribers.remove(&client);
    }

    /// Sends `event` to every subscriber that keeps up.
    pub fn publish(&mut self, event: impl FnOnce() -> MonitorEvent) -> CatchUp {
        if !self.active() {
            return CatchUp::default();
        }
        let line = event().to_line();
        let mut caught_up = Vec::new();
        for (client, subscriber) in &mut self.subscribers {
            let backlog = subscriber.lines.backlog();
            if !subscriber.lagging && backlog < MAX_EVENT_BACKLOG {
                subscriber.lines.send(line.clone());
            } else if subscriber.lagging && backlog < MAX_EVENT_BACKLOG / 2 {
                caught_up.push(*client);
            } else {
                subscriber.lagging = true;
            }
        }
        CatchUp(caught_up)
    }

    /// Sends the subscribers that have caught up `snapshot`, in place of
    /// what they missed.
    pub fn catch_up(&mut self, who: CatchUp, snapshot: String) {
        for client in who.0 {
            if let Some(subscriber) = self.subscribers.get_mut(&client) {
                subscriber.lines.send(snapshot.clone());
                subscriber.lagging = false;
            }
        }
    }

    /// A task has its reply: kept for new monitors, and told to those that
    /// listen no later than its client hears of it (a monitor given a
    /// snapshot now finds it among the recent).
    pub fn completed(&mut self, completion: Completion) -> CatchUp {
        let event = self
            .active()
            .then(|| MonitorEvent::TaskCompleted(completion.clone()));
        if self.recent.len() >= RECENT_COMPLETIONS {
            self.recent.pop_back();
        }
        self.recent.push_front(completion);
        match event {
            Some(event) => self.publish(|| event),
            None => CatchUp::default(),
        }
    }

    /// The counters of the status bar, when they have changed.
    pub fn counts(&mut self, counts: PoolCounts) -> CatchUp {
        if !self.active() || self.last_counts == Some(counts) {
            return CatchUp::default();
        }
        self.last_counts = Some(counts);
        self.publish(|| MonitorEvent::PoolStats(counts))
    }

    /// What each client has in the pool, when it has changed (the core
    /// calls this on its timer, not per event).
    pub fn clients(&mut self, clients: Vec<ClientStatus>) -> CatchUp {
        if !self.active() || self.last_clients == clients {
            return CatchUp::default();
        }
        self.last_clients = clients.clone();
        self.publish(|| MonitorEvent::Clients(clients))
    }

    /// Each license's use, when it has changed (on the core's timer).
    pub fn licenses(&mut self, licenses: Vec<LicenseStatus>) -> CatchUp {
        if !self.active() || self.last_licenses == licenses {
            return CatchUp::default();
        }
        self.last_licenses = licenses.clone();
        self.publish(|| MonitorEvent::Licenses(licenses))
    }
}
