//! Task environments, shared between the tasks of a connection.
//!
//! Clients send their whole environment with every task (the original's
//! client does, and so does `dfm run`), and the tasks of one client nearly
//! always carry the same one. Queued tasks share one copy of each distinct
//! environment instead of holding thousands of identical ones, and each
//! distinct environment is checked once.

use std::collections::HashSet;

use dfm_wire::{Environment, EnvironmentError};

#[derive(Default)]
pub struct Environments {
    known: HashSet<Environment>,
    /// The one the previous task carried: usually the next one's too.
    last: Option<Environment>,
    /// Size of `known` after its last sweep.
    swept_at: usize,
}

impl Environments {
    /// The shared copy of `env`, or why it is not an environment.
    pub fn share(&mut self, env: Environment) -> Result<Environment, EnvironmentError> {
        if let Some(last) = self.last.as_ref().filter(|last| **last == env) {
            return Ok(last.clone());
        }
        let shared = match self.known.get(&env) {
            Some(known) => known.clone(),
            None => {
                env.variables()?;
                // Forget environments no task holds any more, once the set
                // has doubled since the last sweep: amortised O(1) per call.
                if self.known.len() >= 2 * self.swept_at.max(8) {
                    let last = self.last.take();
                    self.known.retain(|env| env.holders() > 1);
                    self.last = last;
                    self.swept_at = self.known.len();
                }
                self.known.insert(env.clone());
                env
            }
        };
        self.last = Some(shared.clone());
        Ok(shared)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.known.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfm_wire::Env;

    fn env(value: &str) -> Environment {
        Environment::new(&Env::from([("PATH".to_string(), value.to_string())]))
    }

    fn share(envs: &mut Environments, env: Environment) -> Environment {
        envs.share(env).expect("an environment")
    }

    #[test]
    fn equal_environments_share_one_copy() {
        let mut envs = Environments::default();
        let first = share(&mut envs, env("/bin"));
        let second = share(&mut envs, env("/bin"));
        assert!(first.ptr_eq(&second));
        let other = share(&mut envs, env("/usr/bin"));
        assert!(!first.ptr_eq(&other));
        // Not only the previous one is shared.
        assert!(first.ptr_eq(&share(&mut envs, env("/bin"))));
        assert_eq!(envs.len(), 2);
    }

    #[test]
    fn environments_no_task_holds_are_forgotten() {
        let mut envs = Environments::default();
        let kept = share(&mut envs, env("kept"));
        for i in 0..1000 {
            // Each dropped at once, as by a task that has finished.
            share(&mut envs, env(&i.to_string()));
        }
        assert!(envs.len() <= 17, "{} environments kept", envs.len());
        assert!(kept.ptr_eq(&share(&mut envs, env("kept"))));
    }

    #[test]
    fn an_environment_that_is_not_an_object_of_strings_is_refused() {
        let mut envs = Environments::default();
        let bad: Environment = serde_json::from_str(r#"{"A": 1}"#).expect("an object");
        let error = envs
            .share(bad)
            .expect_err("a number is not a variable")
            .to_string();
        assert!(error.contains("object of strings"), "{error}");
        // Also when it comes right after a good one.
        share(&mut envs, env("/bin"));
        let bad: Environment = serde_json::from_str(r#"{"PATH": ["/bin"]}"#).expect("an object");
        assert!(envs.share(bad).is_err());
    }
}
