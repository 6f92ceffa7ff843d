//! Runner configuration: the original's layered YAML (`runner:` key).
//!
//! Layers, each overriding the one before: install
//! (`<exe dir>/../etc/dfm/config.yaml`), site (`~/.config/dfm/site.yaml`),
//! project (`<project>/.dfm/config.yaml`), the `DFM_RUNNER` environment
//! variable, then the command line. Scalars: last writer wins. Lists named
//! in `layers::ACCUMULATED_LISTS` are concatenated across layers.

mod keys;
mod layers;
mod licenses;
mod pool;
mod runner;
#[cfg(test)]
mod tests;

pub use self::layers::{CliOverrides, Layers};
pub use self::licenses::LicenseSpec;
pub use self::pool::{secs, PoolSettings, Prefetch};
pub use self::runner::{ConfigError, ResourceSpec, RunnerConfig};
