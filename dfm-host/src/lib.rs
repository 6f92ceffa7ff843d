//! The `dfm` host: CLI, plugin loader, daemon, pool, worker, run client and
//! monitor (the messages they exchange are in `dfm-wire`). A library so that
//! the benchmarks and fuzz targets reach the same code the binary runs; see
//! ARCHITECTURE.md for where each concept lives.

pub mod auth;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod data_out;
pub mod flow;
pub mod monitor;
pub mod plugin;
pub mod pool;
pub mod procfs;
pub mod project;
pub mod send_buffer;
pub mod wake_on_input;
pub mod worker;
