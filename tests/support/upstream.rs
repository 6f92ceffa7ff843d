//! The original dv-flow-mgr (1.20.0, from PyPI) as a test instrument: its
//! own `dfm run` and daemon, run on flows of `tests/upstream/flows/`, and
//! what a run leaves behind (its task summary, the files in its rundir) in a
//! form that compares across project folders.
//!
//! `DFM_UPSTREAM_PYTHON` names a Python with the package
//! (`scripts/test-all.sh` makes one). The tests using it are ignored unless
//! asked for (`--include-ignored`); asked for without it, they fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::{describe, TestProject};

/// The original, installed in a Python of its own.
pub struct Original {
    python: PathBuf,
}

impl Original {
    /// The original, from `$DFM_UPSTREAM_PYTHON` (default `python3`).
    /// Panics, saying what to install, where it cannot be imported: a test
    /// calling this is `#[ignore = "needs the original: ..."]`.
    pub fn find() -> Original {
        let python = std::env::var("DFM_UPSTREAM_PYTHON").unwrap_or_else(|_| "python3".into());
        let python = which(&python).unwrap_or_else(|| PathBuf::from(&python));
        crate::needs::python_modules(&python, &["dv_flow.mgr.daemon_client"]);
        Original { python }
    }

    /// Panics unless its Python also imports `modules` (libraries, pytest).
    pub fn needs(&self, modules: &[&str]) {
        crate::needs::python_modules(&self.python, modules);
    }

    pub fn python(&self) -> &Path {
        &self.python
    }

    /// Its `sys.path`, as its client sends it in `pythonpath`.
    pub fn sys_path(&self) -> Vec<String> {
        let text = self.ask("import sys, json; print(json.dumps([p for p in sys.path if p]))");
        serde_json::from_str(&text).expect("sys.path as JSON")
    }

    /// Where its package `dv_flow.mgr` is installed.
    pub fn package_dir(&self) -> PathBuf {
        PathBuf::from(
            self.ask("import os, dv_flow.mgr; print(os.path.dirname(dv_flow.mgr.__file__))"),
        )
    }

    /// A venv at `dir` of the interpreter its own was made from (so the same
    /// Python version) without dv-flow-mgr; returns its `python3`.
    pub fn bare_venv(&self, dir: &Path) -> PathBuf {
        let base = self.ask("import sys; print(sys._base_executable)");
        let made = Command::new(base)
            .args(["-m", "venv", "--without-pip"])
            .arg(dir)
            .output()
            .expect("make a bare venv");
        assert!(made.status.success(), "{}", describe(&made));
        dir.join("bin/python3")
    }

    fn ask(&self, code: &str) -> String {
        let output = Command::new(&self.python)
            .args(["-c", code])
            .output()
            .expect("run the original's Python");
        assert!(output.status.success(), "{}", describe(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// `python -m dv_flow.mgr ARGS` in `project`, as an engineer with the
    /// original's venv activated runs it.
    pub fn command(&self, project: &TestProject, args: &[&str]) -> Command {
        let mut command = Command::new(&self.python);
        command
            .args(["-m", "dv_flow.mgr"])
            .args(args)
            .current_dir(&project.root)
            .env("HOME", project.home())
            .env("PATH", self.activated_path())
            .env_remove("PYTHONPATH")
            .stdin(Stdio::null());
        command
    }

    /// `PATH` with its venv activated: its `bin` first.
    pub fn activated_path(&self) -> std::ffi::OsString {
        let venv_bin = self.python.parent().unwrap_or(Path::new("/"));
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![venv_bin.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        std::env::join_paths(dirs).expect("PATH entries")
    }

    /// The original's `dfm run TASK` in `project`: in-process, or through
    /// whichever daemon runs there.
    pub fn run(&self, project: &TestProject, task: &str) -> FlowRun {
        let output = self
            .command(project, &["run", "-u", "log", task])
            .output()
            .expect("run the original's dfm run");
        FlowRun::new(output, &project.root)
    }

    /// Starts the original's own daemon in `project`; stopped on drop.
    pub fn start_its_daemon<'a>(&'a self, project: &'a TestProject) -> ItsDaemon<'a> {
        let output = self
            .command(project, &["daemon", "start", "--pool-size", "2"])
            .output()
            .expect("start the original's daemon");
        assert!(output.status.success(), "{}", describe(&output));
        let daemon = ItsDaemon {
            original: self,
            project,
        };
        crate::wait_for(crate::cluster::LONG, "the original's daemon", || {
            project.socket().exists().then_some(())
        });
        daemon
    }
}

/// The original's daemon, running in a project.
pub struct ItsDaemon<'a> {
    original: &'a Original,
    project: &'a TestProject,
}

impl Drop for ItsDaemon<'_> {
    fn drop(&mut self) {
        let _ = self
            .original
            .command(self.project, &["daemon", "stop"])
            .output();
    }
}

/// One `dfm run` of the original's.
pub struct FlowRun {
    pub output: Output,
    /// Its task summary, the project folder written `ROOT`, timings `T`,
    /// the box and line wrapping gone: one line per task or marker.
    pub summary: String,
}

impl FlowRun {
    fn new(output: Output, root: &Path) -> FlowRun {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let summary = summary_of(&stdout, root);
        FlowRun { output, summary }
    }

    /// The summary without markers' `(file:line)`, which the original's
    /// client drops from every result a daemon sends (its
    /// `deserialize_result` keeps only `msg` and `severity`).
    pub fn summary_without_locations(&self) -> String {
        self.summary
            .lines()
            .map(|line| {
                line.split(' ')
                    .filter(|word| !is_location(word))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn summary_of(stdout: &str, root: &Path) -> String {
    let Some(start) = stdout.find("Task Summary") else {
        return String::new();
    };
    let boxed: String = stdout[start..]
        .lines()
        .take_while(|line| !line.starts_with('╰'))
        .map(|line| line.trim_matches(|c: char| "│─╭╮".contains(c) || c.is_whitespace()))
        .collect::<Vec<_>>()
        .join(" ");
    let boxed = boxed.replace(&root.display().to_string(), "ROOT");
    // A task line starts with its status letter, a marker line with `X:`.
    let mut lines: Vec<String> = Vec::new();
    for word in boxed.split_whitespace() {
        let starts_line = (word.len() == 1 && word.chars().all(|c| c.is_ascii_uppercase()))
            || (word.len() == 2 && word.ends_with(':') && word.as_bytes()[0].is_ascii_uppercase());
        let word = if is_timing(word) { "T" } else { word };
        match lines.last_mut() {
            Some(line) if !starts_line => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines.join("\n")
}

/// `4.28ms`, `1.26s`, `208.80mS`.
fn is_timing(word: &str) -> bool {
    let number = word
        .strip_suffix("ms")
        .or_else(|| word.strip_suffix("mS"))
        .or_else(|| word.strip_suffix('s'));
    number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// `(rtl/top.v:3)`.
fn is_location(word: &str) -> bool {
    word.strip_prefix('(')
        .and_then(|w| w.strip_suffix(')'))
        .and_then(|w| w.rsplit_once(':'))
        .is_some_and(|(_, line)| !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()))
}

fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Copies `tests/upstream/flows/NAME` into `project`.
pub fn copy_flow(project: &TestProject, name: &str) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("upstream/flows")
        .join(name);
    crate::copy_dir(&from, &project.root);
}

/// The text of every file under `project/rundir`, by relative path, with
/// the project folder written `ROOT` and file modification times (in
/// mementos) written `MTIME`.
pub fn rundir_files(project: &TestProject) -> Files {
    let mut files = BTreeMap::new();
    let rundir = project.root.join("rundir");
    collect(&rundir, &rundir, &mut files);
    let root = project.root.display().to_string();
    for text in files.values_mut() {
        *text = without_mtimes(&text.replace(&root, "ROOT"));
    }
    files
}

fn collect(base: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(base, &path, files);
        } else if let Ok(relative) = path.strip_prefix(base) {
            let shim = is_dfm_out_shim(&relative.display().to_string());
            let bytes = if shim {
                Vec::new()
            } else {
                std::fs::read(&path).unwrap_or_default()
            };
            files.insert(
                relative.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
        }
    }
}

/// `1796170077.048515` (a file's mtime as Python's float) → `MTIME`.
fn without_mtimes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let boundary = i == 0 || !bytes[i - 1].is_ascii_digit();
        if boundary && digits == 10 && bytes.get(i + digits) == Some(&b'.') {
            let fraction = bytes[i + digits + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if fraction > 0 {
                out.push_str("\"MTIME\"");
                i += digits + 1 + fraction;
                continue;
            }
        }
        let step = if digits > 0 { digits } else { 1 };
        let end = (i + step..=bytes.len())
            .find(|&e| text.is_char_boundary(e))
            .unwrap_or(bytes.len());
        out.push_str(&text[i..end]);
        i = end;
    }
    out
}

/// Whether `path` (relative to the rundir) holds timings, not results: the
/// run's trace.
pub fn is_timing_file(path: &str) -> bool {
    path.starts_with("log/") && path.ends_with(".trace.json")
}

/// Whether `path` is in the folder of the `dfm-out` a shell step finds on
/// its PATH (`.dfm-bin`): the original's is a script that runs Python;
/// where dfm's worker ran the step it is a script whose `#!` runs dfm's native `dfm-out`
/// and a file naming the Python for what that hands on.
pub fn is_dfm_out_shim(path: &str) -> bool {
    path.contains(".dfm-bin/")
}

/// What the worker's reply decides in a task's `exec_data.json`, as JSON:
/// the result's status, changed flag and memento, and the output items.
/// The rest of the file the original's client writes itself, and
/// differently for a task it ran remotely than in-process (no `input`,
/// `needs`, `commands` or markers; params in another JSON mode; an inputs
/// signature without hashes).
pub fn worker_decided(exec_data: &str) -> Value {
    let data: Value = serde_json::from_str(exec_data).expect("exec_data.json is JSON");
    let items: Vec<Value> = data["output"]["output"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(as_rebuilt_by_the_client)
        .collect();
    serde_json::json!({
        "status": data["result"]["status"],
        "changed": data["result"]["changed"],
        "memento": data["result"]["memento"],
        "output": items,
    })
}

/// A data item as the original's client rebuilds it from a daemon's reply
/// (`runner.mkDataItem`, which drops `name` and `params`), so an item made
/// in-process compares with one that came back from a worker.
pub fn as_rebuilt_by_the_client(mut item: Value) -> Value {
    if let Some(fields) = item.as_object_mut() {
        fields.remove("name");
        fields.remove("params");
    }
    item
}

/// What one rundir holds: relative path → normalized text.
pub type Files = BTreeMap<String, String>;

/// The same files with the same contents, as two daemons running the same
/// flow for the same client must leave (only the `dfm-out` shim and the
/// timings may differ).
pub fn assert_same_files(expected: &Files, actual: &Files, what: &str) {
    assert_same_names(expected, actual, what);
    for (path, text) in expected {
        if is_timing_file(path) || is_dfm_out_shim(path) {
            continue;
        }
        assert_eq!(&actual[path], text, "{what}: {path} differs");
    }
}

/// The same files, and in each what the worker decides, as a run through a
/// daemon must leave compared with the same run in-process: the text of
/// every file a task writes; from `exec_data.json`, what the worker's
/// reply decides ([`worker_decided`]); the items of `dfm.inputs.json` as
/// the client rebuilds them ([`as_rebuilt_by_the_client`]).
///
/// The client writes no `exec_data.json` for a task that failed remotely,
/// so those of failed tasks in-process are left out.
pub fn assert_worker_decided_same(in_process: &Files, through_daemon: &Files, what: &str) {
    let in_process: Files = in_process
        .iter()
        .filter(|(path, text)| !(path.ends_with(".exec_data.json") && failed(text)))
        .map(|(path, text)| (path.clone(), text.clone()))
        .collect();
    assert_same_names(&in_process, through_daemon, what);
    for (path, text) in &in_process {
        let theirs = &through_daemon[path];
        if is_timing_file(path) || is_dfm_out_shim(path) {
            continue;
        } else if path.ends_with(".exec_data.json") {
            assert_eq!(
                worker_decided(theirs),
                worker_decided(text),
                "{what}: what the worker decided in {path} differs"
            );
        } else if path.ends_with("dfm.inputs.json") {
            let items = |text: &str| -> Vec<Value> {
                let items: Vec<Value> = serde_json::from_str(text).expect("dfm.inputs.json");
                items.into_iter().map(as_rebuilt_by_the_client).collect()
            };
            assert_eq!(items(theirs), items(text), "{what}: {path} differs");
        } else {
            assert_eq!(theirs, text, "{what}: {path} differs");
        }
    }
}

fn failed(exec_data: &str) -> bool {
    serde_json::from_str::<Value>(exec_data)
        .is_ok_and(|data| data["result"]["status"].as_i64().is_some_and(|s| s != 0))
}

fn assert_same_names(expected: &Files, actual: &Files, what: &str) {
    let names = |files: &Files| {
        files
            .keys()
            .filter(|path| !is_dfm_out_shim(path))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(names(actual), names(expected), "{what}: not the same files");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtimes_go_and_everything_else_stays() {
        assert_eq!(
            without_mtimes(r#"[["ROOT/a.v", 1796170077.048515], 12.5, 1234567890]é"#),
            r#"[["ROOT/a.v", "MTIME"], 12.5, 1234567890]é"#
        );
    }

    #[test]
    fn a_summary_reads_one_line_per_task_or_marker() {
        let stdout = "noise\n╭── Task Summary (Total: 2 | Done: 1 | Errors: 1) ──╮\n\
            │ D demo.a 4.28ms         │\n│ E demo.b 1.2s           │\n\
            │   E: it broke at /p/x   │\n│ y.sh (rtl/top.v:3)      │\n╰────╯\nafter\n";
        let summary = summary_of(stdout, Path::new("/p"));
        assert_eq!(
            summary,
            "Task Summary (Total: 2 | Done: 1 | Errors: 1)\nD demo.a T\nE demo.b T\nE: it broke at ROOT/x y.sh (rtl/top.v:3)"
        );
    }
}
