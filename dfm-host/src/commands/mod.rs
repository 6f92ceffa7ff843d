//! One module per `dfm` subcommand family.

pub mod daemon;
