//! The `dfm` host: CLI, plugin loader, daemon, pool, protocol, worker, run
//! client and monitor. A library so that benchmarks and fuzz targets can
//! reach the same code the binary runs.

pub mod auth;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod flow;
pub mod monitor;
pub mod plugin;
pub mod pool;
pub mod procfs;
pub mod project;
pub mod quiet;
pub mod worker;
