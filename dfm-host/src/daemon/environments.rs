//! Task environments, shared between the tasks of a connection.
//!
//! Clients send their whole environment with every task (the original's
//! client does, and so does `dfm run`), and the tasks of one client nearly
//! always carry the same one. Queued tasks share one copy of each distinct
//! environment instead of holding thousands of identical maps.

use std::collections::HashSet;
use std::sync::Arc;

use crate::protocol::Env;

#[derive(Default)]
pub struct Environments {
    known: HashSet<Arc<Env>>,
    /// Size of `known` after its last sweep.
    swept_at: usize,
}

impl Environments {
    /// The shared copy of `env`.
    pub fn share(&mut self, env: Arc<Env>) -> Arc<Env> {
        if let Some(known) = self.known.get(&env) {
            return known.clone();
        }
        // Forget environments no task holds any more, once the set has
        // doubled since the last sweep: amortised O(1) per call.
        if self.known.len() >= 2 * self.swept_at.max(8) {
            self.known.retain(|env| Arc::strong_count(env) > 1);
            self.swept_at = self.known.len();
        }
        self.known.insert(env.clone());
        env
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.known.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(value: &str) -> Arc<Env> {
        Arc::new(Env::from([("PATH".to_string(), value.to_string())]))
    }

    #[test]
    fn equal_environments_share_one_copy() {
        let mut envs = Environments::default();
        let first = envs.share(env("/bin"));
        let second = envs.share(env("/bin"));
        assert!(Arc::ptr_eq(&first, &second));
        let other = envs.share(env("/usr/bin"));
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(envs.len(), 2);
    }

    #[test]
    fn environments_no_task_holds_are_forgotten() {
        let mut envs = Environments::default();
        let kept = envs.share(env("kept"));
        for i in 0..1000 {
            // Each dropped at once, as by a task that has finished.
            envs.share(env(&i.to_string()));
        }
        assert!(envs.len() <= 17, "{} environments kept", envs.len());
        assert!(Arc::ptr_eq(&kept, &envs.share(env("kept"))));
    }
}
