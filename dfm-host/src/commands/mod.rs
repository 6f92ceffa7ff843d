//! One module per `dfm` subcommand family.

pub mod completions;
pub mod daemon;
pub mod original;
pub mod plugins;
pub mod run;
