//! Outputs of a shell step that only dv-flow-mgr's own code reads (an
//! item of a library's type, a line pydantic would coerce), read by its
//! `data_io.harvest_outputs` with its worker's `mkDataItem`, in a Python
//! started for that. Rare: dfm's own reading covers `std.FileSet`,
//! `std.Env`, markers and mementos.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

use super::PythonSetting;
use crate::data_out::pyjson::Json;

/// How long dv-flow-mgr may take to read them.
const LIMIT: Duration = Duration::from_secs(120);

const SCRIPT: &str = r#"
import json, sys
from dv_flow.mgr import data_io
from dv_flow.mgr.worker import _WorkerRunnerShim
from dv_flow.mgr.task_run_ctxt import TaskRunCtxt
rundir, name = sys.argv[1], sys.argv[2]
ctxt = TaskRunCtxt(runner=_WorkerRunnerShim(), ctxt=None, rundir=rundir)
h = data_io.harvest_outputs(rundir, mk_item=ctxt.mkDataItem, src_name=name)
output = list(h.output) + ([h.env_item] if h.env_item is not None else [])
plain = lambda v: v.model_dump(mode="json") if hasattr(v, "model_dump") else v
sys.stdout.write(json.dumps({
    "output": [plain(i) for i in output],
    "markers": [plain(m) for m in h.markers],
    "context_markers": [plain(m) for m in ctxt._markers],
    "memento": h.memento,
}))
"#;

/// What dv-flow-mgr read: its harvest, and the markers its task context
/// collected on the way (items it could not make).
pub struct PythonHarvest {
    pub output: Vec<Json>,
    pub markers: Vec<Json>,
    pub context_markers: Vec<Json>,
    pub memento: Option<Json>,
}

#[derive(Deserialize)]
struct Raw {
    output: Vec<serde_json::Value>,
    markers: Vec<serde_json::Value>,
    context_markers: Vec<serde_json::Value>,
    memento: serde_json::Value,
}

/// Reads the outputs with dv-flow-mgr; the error says what the user can do.
pub fn harvest(
    setting: &PythonSetting,
    rundir: &str,
    name: &str,
    why: &str,
) -> Result<PythonHarvest, String> {
    let python = setting.python.clone().unwrap_or_else(|| "python3".into());
    let cannot = |detail: String| {
        format!(
            "dfm cannot read what task '{name}' handed back ({why}) without dv-flow-mgr: {detail}. \
             Install dv-flow-mgr for {}, or set runner.python in the dfm configuration to a \
             Python that has it",
            python.display()
        )
    };
    let mut command = Command::new(&python);
    command
        .args(["-c", SCRIPT, rundir, name])
        .env_clear()
        .envs(setting.env.iter())
        .current_dir(rundir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !setting.pythonpath.is_empty() {
        command.env("PYTHONPATH", setting.pythonpath.join(":"));
    }
    let child = command
        .spawn()
        .map_err(|e| cannot(format!("cannot start it ({e})")))?;
    let pid = child.id();
    // Its answer may be larger than a pipe holds: read it while it runs.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(LIMIT) {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(cannot(format!("cannot read its answer ({e})"))),
        Err(_) => {
            // SAFETY: kill takes a pid and a signal; the child is not yet reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            return Err(cannot(format!("it took more than {} s", LIMIT.as_secs())));
        }
    };
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        let last = err.lines().last().unwrap_or("no message").to_string();
        return Err(cannot(last));
    }
    let out = String::from_utf8_lossy(&output.stdout);
    let raw: Raw = serde_json::from_str(&out).map_err(|e| cannot(format!("its answer: {e}")))?;
    let convert = |values: &[serde_json::Value]| values.iter().map(Json::from_value).collect();
    Ok(PythonHarvest {
        output: convert(&raw.output),
        markers: convert(&raw.markers),
        context_markers: convert(&raw.context_markers),
        memento: (!raw.memento.is_null()).then(|| Json::from_value(&raw.memento)),
    })
}
