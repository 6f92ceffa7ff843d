//! `dfm-out`: dfm's own version of dv-flow-mgr's `dfm-out` helper (see
//! `dfm_host::data_out`). What it does not do itself it hands to
//! dv-flow-mgr's own (`python -m dv_flow.mgr.out`), with the Python that
//! `data_out::FallbackPython` finds.

// Started once per call, often thousands of times a run: `main` is the C
// one, which skips the Rust runtime's start (its main-thread stack guard
// reads /proc/self/maps) and leaves SIGPIPE as a C program has it, as
// dv-flow-mgr's dfm-out (a Python program) does not either ignore it.
// std still reads the arguments and environment (glibc hands them over).
#![no_main]

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use dfm_host::data_out::{self, FallbackPython, Plan};

#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    run()
}

/// The exit status.
fn run() -> libc::c_int {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Run from a rundir's shim by its `#!` line: the flag and the shim's
    // own path come first.
    if args.first().is_some_and(|a| a == data_out::SHIM_FLAG) {
        args.drain(..args.len().min(2));
    }
    if let Plan::Append(lines) = data_out::plan(&args) {
        match data_out::append(&lines) {
            Ok(Ok(())) => return 0,
            // Not inside a task: dv-flow-mgr's says so in its own words.
            Ok(Err(_unset)) => {}
            Err(e) => {
                eprintln!("dfm-out: {e}");
                return 1;
            }
        }
    }
    let Some(fallback) = FallbackPython::find() else {
        eprintln!(
            "dfm-out: this needs dv-flow-mgr's own dfm-out, but neither DFM_OUT_PYTHON nor \
             $DFM_RUNDIR/.dfm-bin/dfm-out.python names the Python that has dv-flow-mgr: dfm-out \
             runs inside a shell step of the original dv-flow-mgr"
        );
        return 2;
    };
    let mut command = Command::new(&fallback.python);
    command
        .args(["-m", "dv_flow.mgr.out"])
        .args(&args)
        .env_remove("DFM_OUT_PYTHON");
    if let Some(front) = fallback.pythonpath {
        // As the original's shim: its path first, the step's after.
        let mut path = front;
        if let Some(rest) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(rest);
        }
        command.env("PYTHONPATH", path);
    }
    let error = command.exec();
    eprintln!(
        "dfm-out: cannot run {} -m dv_flow.mgr.out: {error}",
        fallback.python.to_string_lossy()
    );
    2
}
