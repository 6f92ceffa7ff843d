//! What the original's `ShellCallable` prepares before a shell step runs
//! (dv-flow-mgr 1.20, `shell_callable.py` and `data_io.stage_inputs`): the
//! step's environment (its client's, the `std.Env` items among its inputs,
//! `TASK_*`, the data_io `DFM_*` variables, `DFM_PARAM_<NAME>` for each
//! parameter, the `dfm-out` shim's folder first on `PATH`, `DFM_CORES`) and
//! the data_io files in its rundir.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::Path;

use super::expand::NotPlain;
use crate::data_out::pyjson::Json;
use crate::data_out::{FallbackPython, SHIM_DIR, SHIM_PYTHON};

/// The data_io files, relative to the rundir.
pub const PARAMS_FILE: &str = "dfm.params.json";
pub const INPUTS_FILE: &str = "dfm.inputs.json";
pub const MEMENTO_IN: &str = "dfm.memento.json";
pub const OUTPUT_FILE: &str = "dfm.output.jsonl";
pub const ENV_FILE: &str = "dfm.env";
pub const PATH_FILE: &str = "dfm.path";
pub const MARKERS_FILE: &str = "dfm.markers.jsonl";
pub const MEMENTO_OUT: &str = "dfm.memento.out.json";

/// A shell step's task, as its client sent it.
pub struct Step<'a> {
    pub name: &'a str,
    pub srcdir: &'a str,
    pub rundir: &'a str,
    pub params: &'a [(String, Json)],
    pub inputs: &'a [Json],
    pub memento: Option<&'a Json>,
}

/// How the `dfm-out` on the step's `PATH` runs dfm's native one.
pub struct Shim<'a> {
    pub native: &'a Path,
    /// The Python that has dv-flow-mgr, for what the native one hands on.
    pub python: &'a OsStr,
    /// The client's `sys.path`, for that Python to find dv-flow-mgr.
    pub pythonpath: &'a [String],
}

/// The variables a step runs with. `task_env` is the worker's environment
/// overlaid with the client's (a task's context environment).
pub fn environment(
    step: &Step,
    task_env: &BTreeMap<OsString, OsString>,
    cpu_count: usize,
) -> Result<BTreeMap<OsString, OsString>, NotPlain> {
    let mut env = task_env.clone();
    merge_env_items(&mut env, step.inputs)?;
    let mut set = |name: &str, value: &str| {
        env.insert(name.into(), value.into());
    };
    set("TASK_SRCDIR", step.srcdir);
    set("TASK_RUNDIR", step.rundir);
    for (name, value) in step.params {
        set(
            &format!("DFM_PARAM_{}", name.to_uppercase()),
            &value.env_value(),
        );
    }
    if step.memento.is_some() {
        set("DFM_MEMENTO", &in_rundir(step, MEMENTO_IN));
    }
    set("DFM_RUNDIR", step.rundir);
    set("DFM_SRCDIR", step.srcdir);
    set("DFM_TASK_NAME", step.name);
    for (name, file) in [
        ("DFM_PARAMS", PARAMS_FILE),
        ("DFM_INPUTS", INPUTS_FILE),
        ("DFM_OUTPUT", OUTPUT_FILE),
        ("DFM_ENV", ENV_FILE),
        ("DFM_PATH", PATH_FILE),
        ("DFM_MARKERS", MARKERS_FILE),
        ("DFM_MEMENTO_OUT", MEMENTO_OUT),
    ] {
        set(name, &in_rundir(step, file));
    }
    let bindir = in_rundir(step, SHIM_DIR);
    let path = match env.get(OsStr::new("PATH")).filter(|p| !p.is_empty()) {
        Some(current) => {
            let mut path = OsString::from(format!("{bindir}:"));
            path.push(current);
            path
        }
        None => bindir.into(),
    };
    env.insert("PATH".into(), path);
    if !env.contains_key(OsStr::new("DFM_CORES")) {
        let cores = cores(task_env).unwrap_or(cpu_count.max(1));
        env.insert("DFM_CORES".into(), cores.to_string().into());
    }
    Ok(env)
}

/// `_merge_env_filesets`: the `std.Env` items among the inputs, in order:
/// `vals` set, `append_path` and `prepend_path` joined with `:`.
fn merge_env_items(
    env: &mut BTreeMap<OsString, OsString>,
    inputs: &[Json],
) -> Result<(), NotPlain> {
    for item in inputs {
        let Json::Object(fields) = item else {
            continue;
        };
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        if field("type") != Some(&Json::Str("std.Env".into())) {
            continue;
        }
        if let Some(Json::Object(vals)) = field("vals") {
            for (key, value) in vals {
                let Json::Str(value) = value else {
                    return Err(NotPlain(format!("std.Env value of {key}")));
                };
                env.insert(key.into(), value.into());
            }
        }
        for (which, append) in [("append_path", true), ("prepend_path", false)] {
            let Some(Json::Object(paths)) = field(which) else {
                continue;
            };
            for (key, value) in paths {
                let value = match value {
                    Json::Null => continue,
                    Json::Str(s) if s.is_empty() => continue,
                    other => other.python_str(),
                };
                let joined = match env.get(OsStr::new(key)).filter(|c| !c.is_empty()) {
                    Some(current) => {
                        let mut joined = OsString::new();
                        if append {
                            joined.push(current);
                            joined.push(format!(":{value}"));
                        } else {
                            joined.push(format!("{value}:"));
                            joined.push(current);
                        }
                        joined
                    }
                    None => value.into(),
                };
                env.insert(key.into(), joined);
            }
        }
    }
    Ok(())
}

/// `TaskRunCtxt.cores` without a runner's `-j`: the first positive count of
/// `DFM_CORES`, the batch system's allocation variables, or LSF's
/// `LSB_MCPU_HOSTS`; `None` for the machine's count.
fn cores(env: &BTreeMap<OsString, OsString>) -> Option<usize> {
    let get = |name: &str| env.get(OsStr::new(name)).and_then(|v| v.to_str());
    for name in [
        "DFM_CORES",
        "LSB_DJOB_NUMPROC",
        "SLURM_CPUS_PER_TASK",
        "SLURM_CPUS_ON_NODE",
        "NSLOTS",
    ] {
        if let Some(n) = get(name).and_then(|v| v.trim().parse::<i64>().ok()) {
            if n > 0 {
                return usize::try_from(n).ok();
            }
        }
    }
    let hosts = get("LSB_MCPU_HOSTS")?;
    let parts: Vec<&str> = hosts.split_whitespace().collect();
    let total: usize = (1..parts.len())
        .step_by(2)
        .map(|i| parts[i].parse::<usize>().ok())
        .sum::<Option<usize>>()?;
    (total > 0).then_some(total)
}

/// Writes the data_io files (`stage_inputs`) and the `dfm-out` shim.
pub fn write_files(step: &Step, shim: &Shim) -> io::Result<()> {
    let params = Json::Object(step.params.to_vec());
    fs::write(in_rundir(step, PARAMS_FILE), params.dumps_indented())?;
    let inputs = Json::Array(step.inputs.to_vec());
    fs::write(in_rundir(step, INPUTS_FILE), inputs.dumps_indented())?;
    if let Some(memento) = step.memento {
        fs::write(in_rundir(step, MEMENTO_IN), memento.dumps_indented())?;
    }
    for file in [OUTPUT_FILE, ENV_FILE, PATH_FILE, MARKERS_FILE] {
        fs::write(in_rundir(step, file), "")?;
    }
    write_shim(Path::new(step.rundir), shim)
}

/// `.dfm-bin/dfm-out`: a script whose `#!` line runs dfm's own (see
/// [`shim_script`]), and the Python for what it hands on beside it (see
/// `data_out::FallbackPython`). Left as they are when already so (a rerun
/// in the same rundir).
fn write_shim(rundir: &Path, shim: &Shim) -> io::Result<()> {
    let bindir = rundir.join(SHIM_DIR);
    // A new folder has neither: no need to look.
    let fresh = match fs::create_dir(&bindir) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(e),
    };
    let path = bindir.join("dfm-out");
    match shim_script(shim.native) {
        Some(script) => {
            let current = (!fresh).then(|| fs::read(&path).ok()).flatten();
            if current.as_deref() != Some(script.as_bytes()) {
                replace_file(&path, script.as_bytes(), 0o755)?;
            }
        }
        None => {
            if fresh || fs::read_link(&path).ok().as_deref() != Some(shim.native) {
                remove_if_there(&path)?;
                std::os::unix::fs::symlink(shim.native, &path)?;
            }
        }
    }
    let python = FallbackPython::text(Path::new(shim.python), shim.pythonpath);
    let file = bindir.join(SHIM_PYTHON);
    if fresh || fs::read(&file).ok().as_deref() != Some(python.as_bytes()) {
        replace_file(&file, python.as_bytes(), 0o644)?;
    }
    Ok(())
}

/// `#!NATIVE --shim`: the kernel runs dfm's dfm-out straight from it (no
/// shell between), which drops the two arguments the `#!` adds. A file,
/// not a link: the original's own code (in-process, or its daemon) writes
/// its shim at this path, and writing through a link would overwrite dfm's
/// program. `None` where the kernel could not take the line (too long, or
/// a blank in the path): then a link.
pub fn shim_script(native: &Path) -> Option<String> {
    let native = native.to_str()?;
    let line = format!("#!{native} {}\n", crate::data_out::SHIM_FLAG);
    // Linux reads 256 bytes of a #! line (127 before 5.1): stay within.
    (line.len() <= 127 && !native.contains(char::is_whitespace)).then_some(line)
}

/// Writes `bytes` beside `path` and renames it over: never through a link
/// that stands there.
fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".{}", std::process::id()));
    fs::write(&partial, bytes)?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(mode))?;
    fs::rename(&partial, path)
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn in_rundir(step: &Step, file: &str) -> String {
    format!("{}/{file}", step.rundir.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<OsString, OsString> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn cores_follow_task_run_ctxt() {
        assert_eq!(cores(&env(&[])), None);
        assert_eq!(
            cores(&env(&[("SLURM_CPUS_ON_NODE", "4"), ("NSLOTS", "2")])),
            Some(4)
        );
        assert_eq!(
            cores(&env(&[("DFM_CORES", "x"), ("NSLOTS", " 3 ")])),
            Some(3)
        );
        assert_eq!(cores(&env(&[("LSB_MCPU_HOSTS", "h1 2 h2 3")])), Some(5));
        assert_eq!(cores(&env(&[("DFM_CORES", "0")])), None);
    }

    #[test]
    fn env_items_are_merged_in_order() {
        let item = |text: &str| Json::from_value(&serde_json::from_str(text).expect("test JSON"));
        let inputs = [
            item(r#"{"type": "std.Env", "vals": {"A": "1"}, "prepend_path": {"PATH": "/p"}}"#),
            item(r#"{"type": "std.FileSet", "vals": {"B": "2"}}"#),
            item(
                r#"{"type": "std.Env", "append_path": {"PATH": "/q", "X": ""}, "vals": {"A": "3"}}"#,
            ),
        ];
        let mut merged = env(&[("PATH", "/bin")]);
        merge_env_items(&mut merged, &inputs).expect("plain items");
        assert_eq!(merged, env(&[("PATH", "/p:/bin:/q"), ("A", "3")]));
        let odd = [item(r#"{"type": "std.Env", "vals": {"A": 1}}"#)];
        assert!(merge_env_items(&mut merged, &odd).is_err());
    }
}
