//! `.dfm/durations.json`: what tasks took, kept across daemon restarts so
//! that the pool's estimates (see `pool::Durations`) survive them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::pool::Durations;

/// How often what was learned is written while the daemon runs.
const EVERY: Duration = Duration::from_secs(10);

pub struct DurationsFile {
    path: PathBuf,
    last_saved: Instant,
}

impl DurationsFile {
    pub fn new(path: PathBuf) -> DurationsFile {
        DurationsFile {
            path,
            last_saved: Instant::now(),
        }
    }

    /// What an earlier daemon learned; nothing if there is no file. A file
    /// that cannot be read is set aside (`.bad`), with a warning.
    pub fn load(&self) -> Durations {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Durations::default(),
            Err(e) => {
                tracing::warn!(
                    "cannot read {}: {e}; starting without task durations",
                    self.path.display()
                );
                return Durations::default();
            }
        };
        match Durations::from_json(&text) {
            Ok(durations) => durations,
            Err(e) => {
                let aside = self.path.with_extension("json.bad");
                tracing::warn!(
                    "{} is not what dfm writes ({e}); moved to {}, starting without task durations",
                    self.path.display(),
                    aside.display()
                );
                let _ = std::fs::rename(&self.path, aside);
                Durations::default()
            }
        }
    }

    /// Writes what was learned, if anything, at most every [`EVERY`].
    pub fn save_now_and_then(&mut self, durations: &mut Durations) {
        if self.last_saved.elapsed() >= EVERY {
            self.save(durations);
        }
    }

    /// Writes what was learned, if anything: whole, or not at all.
    pub fn save(&mut self, durations: &mut Durations) {
        self.last_saved = Instant::now();
        if !durations.changed() {
            return;
        }
        let partial = self.path.with_extension("json.partial");
        let written = std::fs::write(&partial, durations.to_json())
            .and_then(|()| std::fs::rename(&partial, &self.path));
        match written {
            Ok(()) => durations.saved(),
            Err(e) => tracing::warn!("cannot write {}: {e}", self.path.display()),
        }
    }
}
