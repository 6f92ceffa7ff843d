//! Handing a command to the original dv-flow-mgr: subcommands dfm does not
//! have (`graph`, `show`, `validate`, `cache`, ...) and flows dfm's own
//! engine does not run (package imports, fragments, `uses:` other than
//! `std.Message`, Python tasks...). A site that puts dfm's `dfm` ahead of
//! the original's loses nothing: the same arguments go to
//! `python3 -m dv_flow.mgr`, whose `dfm run` then finds this project's dfm
//! daemon, if one runs, and runs its tasks there.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Result};

use crate::config::{CliOverrides, Layers};

/// The Python the original runs with: `runner.python` of the project's
/// configuration, else `python3` on `PATH`.
fn python(root: &Path) -> String {
    Layers::for_project(root)
        .load(&CliOverrides::default())
        .ok()
        .and_then(|config| config.python)
        .unwrap_or_else(|| "python3".to_string())
}

/// Replaces this process with `python -m dv_flow.mgr ARGS`; returns only
/// when that cannot be done, with what to do about it. `why`: what the user
/// is told before the handover.
pub fn hand_over(root: &Path, args: &[OsString], why: &str) -> Result<i32> {
    let python = python(root);
    let finds_it = Command::new(&python)
        .args([
            "-c",
            "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('dv_flow.mgr') else 3)",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match finds_it {
        Ok(status) if status.success() => {}
        Ok(_) => bail!(
            "{why}; that takes the original dv-flow-mgr, and {python} cannot import it. \
             Install it (pip install dv-flow-mgr) for that Python, or set runner.python in the \
             dfm configuration to a Python that has it"
        ),
        Err(e) => bail!(
            "{why}; that takes the original dv-flow-mgr, but {python} cannot be run ({e}). \
             Install Python and dv-flow-mgr, or set runner.python in the dfm configuration"
        ),
    }
    eprintln!("dfm: {why}: handing it to dv-flow-mgr ({python} -m dv_flow.mgr)");
    let error = Command::new(&python)
        .args(["-m", "dv_flow.mgr"])
        .args(args)
        .exec();
    bail!("cannot run {python} -m dv_flow.mgr: {error}")
}

/// The original's global options, which dfm does not have: a command line
/// that starts with one is the original's.
pub const GLOBAL_OPTIONS: &[&str] = &["-D", "--log-level", "-P", "--param-file", "--package-map"];
