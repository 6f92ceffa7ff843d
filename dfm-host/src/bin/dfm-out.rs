//! `dfm-out`: dfm's own version of dv-flow-mgr's `dfm-out` helper (see
//! `dfm_host::data_out`). What it does not do itself it hands to
//! `$DFM_OUT_PYTHON -m dv_flow.mgr.out`, which the shim that runs it sets.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use dfm_host::data_out::{self, Plan};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if let Plan::Append(lines) = data_out::plan(&args) {
        match data_out::append(&lines) {
            Ok(Ok(())) => return ExitCode::SUCCESS,
            // Not inside a task: dv-flow-mgr's says so in its own words.
            Ok(Err(_unset)) => {}
            Err(e) => {
                eprintln!("dfm-out: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let Some(python) = std::env::var_os("DFM_OUT_PYTHON").filter(|p| !p.is_empty()) else {
        eprintln!(
            "dfm-out: this needs dv-flow-mgr's own dfm-out, but DFM_OUT_PYTHON (the Python that has \
             dv-flow-mgr) is not set: dfm-out runs inside a shell step of the original dv-flow-mgr"
        );
        return ExitCode::from(2);
    };
    let error = Command::new(&python)
        .args(["-m", "dv_flow.mgr.out"])
        .args(&args)
        .env_remove("DFM_OUT_PYTHON")
        .exec();
    eprintln!(
        "dfm-out: cannot run {} -m dv_flow.mgr.out: {error}",
        python.to_string_lossy()
    );
    ExitCode::from(2)
}
