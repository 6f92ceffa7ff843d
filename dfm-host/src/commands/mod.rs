//! One module per `dfm` subcommand family.

pub mod daemon;
pub mod plugins;
mod readiness;
pub mod run;
pub mod run_display;
