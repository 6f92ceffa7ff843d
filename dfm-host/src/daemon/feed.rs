//! The monitor feed: events for every `monitor.subscribe` connection.
//!
//! Events are built only when someone listens (most daemons have no
//! monitor). A subscriber that falls behind misses events, so the daemon
//! never waits for it and its memory stays bounded, and gets a fresh
//! snapshot once it has caught up ([`CatchUp`]), at most one in
//! [`CATCH_UP_EVERY`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use dfm_wire::{ClientStatus, Completion, LicenseStatus, MonitorEvent, PoolCounts};

use super::line_writers::Lines;
use crate::pool::ClientId;

/// How many finished tasks a new monitor is shown.
const RECENT_COMPLETIONS: usize = 50;

/// Lines a subscriber may have unwritten before events to it are dropped.
/// Replies are never dropped.
const MAX_EVENT_BACKLOG: usize = 4096;

/// The least time between two snapshots to a subscriber that keeps falling
/// behind. At 10,000 workers a snapshot is 3 MB and 10 to 20 ms of the
/// core's time: a monitor reading a little slower than events came was
/// sent a dozen a second, most of what it read (docs/performance.md).
const CATCH_UP_EVERY: Duration = Duration::from_secs(1);

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
    /// When it was last sent a snapshot.
    snapshot_at: Instant,
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
    pub fn subscribe(&mut self, client: ClientId, lines: Lines, snapshot: String, now: Instant) {
        lines.send(snapshot);
        let subscriber = Subscriber {
            lines,
            lagging: false,
            snapshot_at: now,
        };
        self.subscribers.insert(client, subscriber);
    }

    pub fn unsubscribe(&mut self, client: ClientId) {
        self.subscribers.remove(&client);
    }

    /// Sends `event` to every subscriber that keeps up.
    pub fn publish(&mut self, event: impl FnOnce() -> MonitorEvent) -> CatchUp {
        self.publish_if(|| Some(event()))
    }

    /// [`Feed::publish`] for an event that may have nothing to say (`None`).
    /// It is built only if a subscriber takes it: one that has fallen
    /// behind would drop it.
    pub fn publish_if(&mut self, event: impl FnOnce() -> Option<MonitorEvent>) -> CatchUp {
        publish_to(&mut self.subscribers, event)
    }

    /// Sends the subscribers that have caught up `snapshot`, in place of
    /// what they missed.
    pub fn catch_up(&mut self, who: CatchUp, snapshot: String, now: Instant) {
        for client in who.0 {
            if let Some(subscriber) = self.subscribers.get_mut(&client) {
                subscriber.lines.send(snapshot.clone());
                subscriber.lagging = false;
                subscriber.snapshot_at = now;
            }
        }
    }

    /// Of the subscribers that have caught up, those due a snapshot: none
    /// gets a second within [`CATCH_UP_EVERY`]. The others stay behind
    /// (their events still dropped) and are due again at a later event.
    pub fn due(&self, who: CatchUp, now: Instant) -> CatchUp {
        let due = |client: &ClientId| {
            self.subscribers
                .get(client)
                .is_some_and(|s| now >= s.snapshot_at + CATCH_UP_EVERY)
        };
        CatchUp(who.0.into_iter().filter(due).collect())
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

/// Sends the event `event` builds to every subscriber that keeps up,
/// building it only if one does; those that have caught up after falling
/// behind.
fn publish_to(
    subscribers: &mut HashMap<ClientId, Subscriber>,
    event: impl FnOnce() -> Option<MonitorEvent>,
) -> CatchUp {
    let mut event = Some(event);
    let mut line: Option<String> = None;
    let mut caught_up = Vec::new();
    for (client, subscriber) in subscribers.iter_mut() {
        let backlog = subscriber.lines.backlog();
        if !subscriber.lagging && backlog < MAX_EVENT_BACKLOG {
            if let Some(build) = event.take() {
                line = build().map(|event| event.to_line());
            }
            if let Some(line) = &line {
                subscriber.lines.send(line.clone());
            }
        } else if subscriber.lagging && backlog < MAX_EVENT_BACKLOG / 2 {
            caught_up.push(*client);
        } else {
            subscriber.lagging = true;
        }
    }
    CatchUp(caught_up)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::line_writers;

    fn event() -> MonitorEvent {
        MonitorEvent::PoolStats(PoolCounts::default())
    }

    #[test]
    fn a_subscriber_that_keeps_falling_behind_gets_a_snapshot_a_second_at_most() {
        let start = Instant::now();
        let mut feed = Feed::default();
        let (lines, mut queue) = line_writers::channel();
        feed.subscribe(7, lines, "snapshot\n".into(), start);
        // It reads nothing: events beyond the backlog are dropped.
        for _ in 0..=MAX_EVENT_BACKLOG {
            assert!(feed.publish(event).is_empty());
        }
        // Its snapshot and events up to the limit.
        assert_eq!(queue.take().len(), MAX_EVENT_BACKLOG);
        // It has read all: caught up, but its last snapshot is recent.
        let caught_up = feed.publish(event);
        assert!(!caught_up.is_empty());
        let soon = start + CATCH_UP_EVERY / 2;
        assert!(feed.due(caught_up, soon).is_empty());
        assert!(queue.take().is_empty(), "still behind: no event sent");
        // A second after its snapshot it is due another.
        let later = start + CATCH_UP_EVERY;
        let caught_up = feed.publish(event);
        let due = feed.due(caught_up, later);
        assert!(!due.is_empty());
        feed.catch_up(due, "fresh\n".into(), later);
        assert_eq!(queue.take(), ["fresh\n"]);
        // And hears events again.
        assert!(feed.publish(event).is_empty());
        assert_eq!(queue.take().len(), 1);
    }
}
