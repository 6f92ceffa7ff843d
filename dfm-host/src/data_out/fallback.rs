//! Which Python runs dv-flow-mgr's own `dfm-out` for what dfm's does not
//! do itself.
//!
//! A shell step finds `dfm-out` in `<rundir>/.dfm-bin`. Where dv-flow-mgr's
//! code made that folder (dfm's interpreter), `dfm-out` there is a script
//! that sets `DFM_OUT_PYTHON` and runs dfm's. Where dfm's worker ran the
//! step natively, it is a script whose `#!` line runs dfm's `dfm-out`
//! itself (one program started per call rather than a shell and then the
//! program; a file, not a link, which other code may write over), and the
//! Python is in `.dfm-bin/dfm-out.python` beside it: its path on the first
//! line, the `PYTHONPATH` it needs (the client's `sys.path`) on the second.
//! Nothing of it is in the step's environment, which stays as the
//! original's.

use std::ffi::OsString;
use std::path::Path;

/// The folder of a step's rundir that holds its `dfm-out`.
pub const SHIM_DIR: &str = ".dfm-bin";
/// The file in [`SHIM_DIR`] that names the Python.
pub const SHIM_PYTHON: &str = "dfm-out.python";

/// What the `#!` line of a rundir's `dfm-out` shim passes dfm's dfm-out
/// before the shim's own path: both are dropped (see the worker's
/// `stage::shim_script`).
pub const SHIM_FLAG: &str = "--dfm-shim";

/// The Python for dv-flow-mgr's `dfm-out`, and what to put in front of
/// `PYTHONPATH` for it.
#[derive(Debug, PartialEq)]
pub struct FallbackPython {
    pub python: OsString,
    pub pythonpath: Option<OsString>,
}

impl FallbackPython {
    /// From the environment (`DFM_OUT_PYTHON`, set by a script shim, which
    /// also sets `PYTHONPATH`), else from `$DFM_RUNDIR/.dfm-bin`.
    pub fn find() -> Option<FallbackPython> {
        if let Some(python) = std::env::var_os("DFM_OUT_PYTHON").filter(|p| !p.is_empty()) {
            return Some(FallbackPython {
                python,
                pythonpath: None,
            });
        }
        let rundir = std::env::var_os("DFM_RUNDIR").filter(|p| !p.is_empty())?;
        let text =
            std::fs::read_to_string(Path::new(&rundir).join(SHIM_DIR).join(SHIM_PYTHON)).ok()?;
        FallbackPython::parse(&text)
    }

    fn parse(text: &str) -> Option<FallbackPython> {
        let mut lines = text.lines();
        let python = lines.next().filter(|p| !p.is_empty())?;
        Some(FallbackPython {
            python: python.into(),
            pythonpath: lines.next().filter(|p| !p.is_empty()).map(Into::into),
        })
    }

    /// The text of [`SHIM_PYTHON`] for `python` and the client's `sys.path`.
    pub fn text(python: &Path, pythonpath: &[String]) -> String {
        format!("{}\n{}\n", python.display(), pythonpath.join(":"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_says_python_and_its_path() {
        let text = FallbackPython::text(Path::new("/v/bin/python3"), &["/p".into(), "/q".into()]);
        assert_eq!(
            FallbackPython::parse(&text),
            Some(FallbackPython {
                python: "/v/bin/python3".into(),
                pythonpath: Some("/p:/q".into())
            })
        );
        let bare = FallbackPython::text(Path::new("python3"), &[]);
        assert_eq!(
            FallbackPython::parse(&bare).map(|f| f.pythonpath),
            Some(None)
        );
        assert_eq!(FallbackPython::parse(""), None);
    }
}
