//! dfm's native `dfm-out` against dv-flow-mgr's own (`python -m
//! dv_flow.mgr.out`, 1.20): the same calls, in the same kind of task
//! folder, must leave the same bytes in every `DFM_*` file, print the same
//! and exit the same. The native one hands what it does not do itself to
//! the original, so every case here passes through one of the two paths.
//!
//! Needs the original from PyPI (see `dfm_e2e::upstream`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dfm_e2e::upstream::Original;
use dfm_e2e::{bin_dir, describe, TestProject};

/// The files a shell step's `dfm-out` appends to, by variable.
const FILES: &[(&str, &str)] = &[
    ("DFM_OUTPUT", "dfm.output.jsonl"),
    ("DFM_ENV", "dfm.env"),
    ("DFM_PATH", "dfm.path"),
    ("DFM_MARKERS", "dfm.markers.jsonl"),
];

/// A case: several `dfm-out` calls in one task folder.
type Case = Vec<Vec<&'static str>>;

fn one(args: &[&'static str]) -> Case {
    vec![args.to_vec()]
}

/// Calls the native `dfm-out` does itself, without Python.
fn native_cases() -> Vec<Case> {
    vec![
        one(&["fileset", "a.v"]),
        one(&["fileset", "--filetype", "verilogSource", "gen.sv", "pkg.sv"]),
        one(&[
            "fileset",
            "--basedir",
            "/abs/dir",
            "--incdir",
            "i1",
            "--incdir=i2",
            "x.sv",
        ]),
        one(&[
            "fileset",
            "--filetype=systemVerilogSource",
            "--basedir=.",
            "a.sv",
        ]),
        one(&["fileset", "--filetype", "", "a.sv"]),
        one(&["fileset", "ünïcödé \"quoted\"\\back.sv", "tab\there"]),
        one(&[
            "item",
            "--type",
            "my_pkg.Report",
            "key=val",
            "n:=3",
            "f:=1.5",
        ]),
        one(&[
            "item",
            "--type",
            "t",
            "e:=1e5",
            "g:=0.1",
            "h:=1E+300",
            "i:=-0",
            "j:=12345678901234567890",
        ]),
        one(&[
            "item",
            "--type",
            "t",
            "o:={\"b\": [1, null, true], \"a\": \"é\\u00e9\\ud83d\\ude00\"}",
        ]),
        one(&[
            "item",
            "--type",
            "t",
            "s=with space",
            "eq=a=b",
            "c:=\"x\"",
            "k:=  7 ",
        ]),
        one(&["item", "--type", "t"]),
        one(&["item", "--type", "t", "type=override", "type:=1"]),
        one(&["item", "--type", "t", "dup=1", "dup=2"]),
        one(&["env", "SIM_SEED=42", "A=", "B=x=y"]),
        one(&["env", "LONG=line one", "U=é"]),
        one(&["path", "/opt/tools/bin", "relative/bin", "with space"]),
        one(&[
            "error",
            "synthesis failed",
            "--file",
            "top.sv",
            "--line",
            "10",
        ]),
        one(&[
            "warning", "w", "--file", "a.sv", "--line", "3", "--pos", "7",
        ]),
        one(&["info", "just a note"]),
        one(&["info", "--file", "x.sv", "located"]),
        one(&["error", "e", "--line", "4"]),
        one(&["error", "é \"q\" \\ /", "--line=-2", "--pos", "+3"]),
        vec![
            vec!["fileset", "a.v"],
            vec!["env", "X=1"],
            vec!["path", "/p"],
            vec!["info", "m"],
            vec!["fileset", "b.v"],
        ],
    ]
}

/// Calls it leaves to the original, whose words they get.
fn fallback_cases() -> Vec<Case> {
    vec![
        one(&[]),
        one(&["fileset", "a.sv", "--filetype", "v", "b.sv"]),
        one(&["fileset", "-5.sv"]),
        one(&["--help"]),
        one(&["fileset"]),
        one(&["fileset", "--help"]),
        one(&["fileset", "--filet", "v", "a.v"]),
        one(&["fileset", "--incdir"]),
        one(&["fileset", "--", "a.v"]),
        one(&["item", "k=v"]),
        one(&["item", "--type", "t", "novalue"]),
        one(&["item", "--type", "t", "bad:=tru"]),
        one(&["item", "--type", "t", "nan:=NaN", "inf:=Infinity"]),
        one(&["env", "NOEQUALS"]),
        one(&["env", "A=1", "NOEQUALS"]),
        one(&["error"]),
        one(&["error", "e", "--line", "x"]),
        one(&["warning", "a", "b"]),
        one(&["publish", "f.txt"]),
        one(&["frobnicate", "x"]),
    ]
}

/// A task folder with the `DFM_*` files a shell step gets.
fn task_folder(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).expect("create a task folder");
    for (_, file) in FILES {
        std::fs::write(dir.join(file), "").expect("create a DFM_* file");
    }
    dir
}

/// Runs one call in `dir`; `python` is what DFM_OUT_PYTHON says, if set.
fn run(mut command: Command, dir: &Path, python: Option<&Path>) -> Output {
    command
        .current_dir(dir)
        .env("DFM_TASK_NAME", "demo.step")
        .env_remove("DFM_OUT_DIR")
        .env_remove("DFM_OUT_PYTHON");
    for (var, file) in FILES {
        command.env(var, dir.join(file));
    }
    if let Some(python) = python {
        command.env("DFM_OUT_PYTHON", python);
    }
    command.output().expect("run dfm-out")
}

/// Everything a call leaves: its exit status, what it printed, the files.
fn outcome(dir: &Path, outputs: &[Output]) -> String {
    let mut text = String::new();
    for output in outputs {
        text.push_str(&format!(
            "exit {:?}\nstdout {:?}\nstderr {:?}\n",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    for (_, file) in FILES {
        let bytes = std::fs::read(dir.join(file)).expect("read a DFM_* file");
        text.push_str(&format!("{file}: {:?}\n", String::from_utf8_lossy(&bytes)));
    }
    text
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn native_dfm_out_leaves_what_the_originals_leaves() {
    let original = Original::find();
    let native = bin_dir().join("dfm-out");
    assert!(native.is_file(), "run `cargo build --workspace` first");
    let scratch = TestProject::new("dfm-out");
    // The native cases run without DFM_OUT_PYTHON: had one needed Python,
    // it would say DFM_OUT_PYTHON is not set, and differ.
    let native_cases = native_cases().into_iter().map(|case| (case, None));
    let fallback_cases = fallback_cases()
        .into_iter()
        .map(|case| (case, Some(original.python())));
    let mut differences = Vec::new();
    for (n, (calls, python)) in native_cases.chain(fallback_cases).enumerate() {
        let theirs = task_folder(&scratch.root, &format!("{n}-theirs"));
        let ours = task_folder(&scratch.root, &format!("{n}-ours"));
        let mut their_outputs = Vec::new();
        let mut our_outputs = Vec::new();
        for args in &calls {
            let mut their_out = Command::new(original.python());
            their_out.args(["-m", "dv_flow.mgr.out"]).args(args);
            their_outputs.push(run(their_out, &theirs, None));
            let mut our_out = Command::new(&native);
            our_out.args(args);
            our_outputs.push(run(our_out, &ours, python));
        }
        let (ours, theirs) = (
            outcome(&ours, &our_outputs),
            outcome(&theirs, &their_outputs),
        );
        if ours != theirs {
            differences.push(format!(
                "dfm-out {calls:?} (DFM_OUT_PYTHON {python:?}):\n--- ours\n{ours}--- theirs\n{theirs}"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn outside_a_task_both_say_so_alike() {
    let original = Original::find();
    let scratch = TestProject::new("dfm-out-outside");
    let dir = &scratch.root;
    let args = ["env", "A=1"];
    let theirs = Command::new(original.python())
        .args(["-m", "dv_flow.mgr.out"])
        .args(args)
        .current_dir(dir)
        .env_remove("DFM_ENV")
        .output()
        .expect("run the original's dfm-out");
    let ours = Command::new(bin_dir().join("dfm-out"))
        .args(args)
        .current_dir(dir)
        .env_remove("DFM_ENV")
        .env("DFM_OUT_PYTHON", original.python())
        .output()
        .expect("run dfm-out");
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        describe(&ours)
    );
    assert_eq!(ours.stderr, theirs.stderr, "{}", describe(&ours));
    assert!(String::from_utf8_lossy(&ours.stderr).contains("DFM_ENV"));
}
