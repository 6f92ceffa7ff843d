//! One module per `dfm` subcommand family.

pub mod completions;
pub mod daemon;
pub mod handover;
pub mod plugins;
pub mod run;
