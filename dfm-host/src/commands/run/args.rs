//! `dfm run`'s command line.

use std::path::PathBuf;

use super::display::Ui;

/// `dfm run`'s command line.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Tasks to run (`pkg.task`, `task`, or a unique suffix); none lists the root tasks.
    pub tasks: Vec<String>,
    /// Tasks in flight at once (default: the pool size).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Runner plugin for an ephemeral pool: a name or a path to a plugin .so.
    #[arg(long, value_name = "NAME|PATH")]
    pub runner: Option<String>,
    /// Runner configuration for an ephemeral pool, e.g. pool.max_workers=4.
    #[arg(long = "runner-opt", value_name = "KEY=VALUE", value_parser = key_value)]
    pub runner_opts: Vec<(String, String)>,
    /// Override a parameter: NAME=VALUE (package) or TASK.NAME=VALUE.
    #[arg(short = 'D', value_name = "NAME=VALUE", value_parser = key_value)]
    pub defines: Vec<(String, String)>,
    /// Project root (default: the current folder); the flow file is searched from here up.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Remove ./rundir first.
    #[arg(long)]
    pub clean: bool,
    /// Display: log (a line per task) or progress (live view); default by terminal.
    #[arg(short = 'u', long = "ui", value_enum)]
    pub ui: Option<Ui>,
    /// Print one machine-readable summary (JSON) at the end, nothing else.
    #[arg(long)]
    pub json: bool,
    /// After the run, write a report bundle to DIR: report.json (the
    /// original's dvflow-report/1) and report.md, junit.xml, trace.json,
    /// report.html, the logs.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// This run's share of a shared pool: N of its tasks per turn against
    /// one of each other run's (1 to 100; default 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub priority: Option<u32>,
}

/// `KEY=VALUE`, for `-D` and `--runner-opt`.
fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("'{text}' is not KEY=VALUE")),
    }
}
