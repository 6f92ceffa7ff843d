//! Tasks a client may still name (to cancel them), by the id it gave them.
//!
//! Kept by client, then by request id: a lookup or a removal borrows the
//! id, where a `(client, String)` key had to copy it each time (once per
//! task), and a client that leaves finds its own tasks without a walk over
//! everyone's.

use std::collections::HashMap;

use super::{ClientId, TaskId};

#[derive(Debug, Default)]
pub(super) struct RequestIds {
    /// No client's map is empty.
    by_client: HashMap<ClientId, HashMap<String, TaskId>>,
}

impl RequestIds {
    pub(super) fn get(&self, client: ClientId, request_id: &str) -> Option<TaskId> {
        self.by_client.get(&client)?.get(request_id).copied()
    }

    pub(super) fn contains(&self, client: ClientId, request_id: &str) -> bool {
        self.get(client, request_id).is_some()
    }

    pub(super) fn insert(&mut self, client: ClientId, request_id: String, id: TaskId) {
        self.by_client
            .entry(client)
            .or_default()
            .insert(request_id, id);
    }

    /// Forgets `request_id` of `client`, if it names `id`.
    pub(super) fn remove_if(&mut self, client: ClientId, request_id: &str, id: TaskId) {
        let Some(own) = self.by_client.get_mut(&client) else {
            return;
        };
        // One lookup in the common case, where it names `id`. After a
        // cancel it may not: the cancelled task lost its name, and a newer
        // task of the client took it. That name goes back.
        match own.remove(request_id) {
            Some(named) if named != id => {
                own.insert(request_id.to_string(), named);
            }
            _ if own.is_empty() => {
                self.by_client.remove(&client);
            }
            _ => {}
        }
    }

    pub(super) fn remove(&mut self, client: ClientId, request_id: &str) {
        let Some(own) = self.by_client.get_mut(&client) else {
            return;
        };
        own.remove(request_id);
        if own.is_empty() {
            self.by_client.remove(&client);
        }
    }

    /// The tasks `client` may name.
    pub(super) fn of_client(&self, client: ClientId) -> Vec<TaskId> {
        self.by_client
            .get(&client)
            .map(|own| own.values().copied().collect())
            .unwrap_or_default()
    }

    /// Every task some client may name (for the invariants' checks).
    #[cfg(test)]
    pub(super) fn tasks(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.by_client
            .values()
            .flat_map(|own| own.values().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_names_a_task_of_its_own_client_only() {
        let mut ids = RequestIds::default();
        ids.insert(1, "a".into(), 10);
        ids.insert(2, "a".into(), 20);
        ids.insert(1, "b".into(), 11);
        assert_eq!(ids.get(1, "a"), Some(10));
        assert_eq!(ids.get(2, "a"), Some(20));
        assert!(!ids.contains(2, "b"));
        let mut own = ids.of_client(1);
        own.sort();
        assert_eq!(own, vec![10, 11]);
        // Not removed when it names another task by now.
        ids.remove_if(1, "a", 99);
        assert_eq!(ids.get(1, "a"), Some(10));
        ids.remove_if(1, "a", 10);
        ids.remove(1, "b");
        assert_eq!(ids.get(1, "a"), None);
        assert!(ids.of_client(1).is_empty());
        // A client with none left is not kept.
        assert!(!ids.by_client.contains_key(&1));
        assert_eq!(ids.tasks().collect::<Vec<_>>(), vec![20]);
    }
}
