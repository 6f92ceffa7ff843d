//! `dfm-worker`: `dfm worker` in a binary of its own, which links nothing but
//! the worker, so that each warm worker costs less memory. The daemon
//! launches it when it is installed beside `dfm`; its arguments are those of
//! `dfm worker` (a leading `worker` is accepted, so either program can be
//! named in a runner's `worker_dfm_path`).

use std::process::ExitCode;

use dfm_host::worker::{self, WorkerArgs};

fn usage() -> ExitCode {
    eprintln!("usage: dfm-worker [worker] --connect HOST:PORT [--resource-class CLASS]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("worker") {
        args.next();
    }
    let mut connect = None;
    let mut resource_class = String::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--connect" => connect = args.next(),
            "--resource-class" => resource_class = args.next().unwrap_or_default(),
            _ => return usage(),
        }
    }
    let Some(connect) = connect else {
        return usage();
    };
    match worker::run(WorkerArgs {
        connect,
        resource_class,
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dfm-worker: {error:#}");
            ExitCode::from(1)
        }
    }
}
