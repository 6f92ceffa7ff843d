//! `dfm`: a warm pool of workers for shell tasks, shared by every `dfm run`
//! of a project.

use std::process::ExitCode;

use clap::Parser;
use dfm_host::cli;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if let Some(outcome) = cli::hand_over_if_original(&args) {
        return exit_code(outcome);
    }
    let cli = cli::Cli::parse();
    init_logging(&cli);
    exit_code(cli::run(cli))
}

fn exit_code(outcome: anyhow::Result<i32>) -> ExitCode {
    match outcome {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            eprintln!("dfm: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr (the daemon's is `.dfm/daemon.log`); `DFM_LOG` sets
/// the filter, e.g. `DFM_LOG=debug`.
fn init_logging(cli: &cli::Cli) {
    let default = if cli.is_daemon_process() {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DFM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// The daemon allocates and frees a few small strings per message, on two
/// threads, and now and then a status of megabytes: glibc's malloc spent a
/// tenth of the core's time on that at 10,000 workers (its bins, and the
/// consolidation each large free sets off). mimalloc's per-thread pages
/// make the same work 15-25 % cheaper per task, for 5-8 MiB more RSS
/// (docs/performance.md, "The allocator"). Only `dfm` (the daemon, `dfm run`,
/// the monitor) has it: `dfm-worker` keeps the system's, for the smallest
/// idle worker. Plugins keep their own allocator; what crosses the plugin
/// boundary is abi_stable's, which frees with the side that allocated.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
