//! `dfm-worker`: `dfm worker` in a binary of its own, which links nothing but
//! the worker, so that each warm worker costs less memory. The daemon
//! launches it when it is installed beside `dfm`; its arguments are those of
//! `dfm worker` (a leading `worker` is accepted, so either program can be
//! named in a runner's `worker_dfm_path`).

use std::process::ExitCode;
use std::time::Duration;

use dfm_host::worker::{self, WorkerArgs};

fn usage() -> ExitCode {
    eprintln!("usage: dfm-worker [worker] --connect HOST:PORT [--resource-class CLASS] [--reconnect-grace SECS]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("worker") {
        args.next();
    }
    let mut connect = None;
    let mut resource_class = String::new();
    let mut reconnect_grace = Duration::ZERO;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--connect" => connect = args.next(),
            "--resource-class" => resource_class = args.next().unwrap_or_default(),
            "--reconnect-grace" => {
                match args
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v >= 0.0)
                {
                    Some(secs) => reconnect_grace = Duration::from_secs_f64(secs),
                    None => return usage(),
                }
            }
            _ => return usage(),
        }
    }
    let Some(connect) = connect else {
        return usage();
    };
    match worker::run(WorkerArgs {
        connect,
        resource_class,
        reconnect_grace,
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dfm-worker: {error:#}");
            ExitCode::from(1)
        }
    }
}
