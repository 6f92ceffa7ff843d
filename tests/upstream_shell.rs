//! The original's shell steps run natively by dfm's worker against the
//! same steps run by dv-flow-mgr's own code (its `ShellCallable` and
//! `data_io`, in dfm's interpreter: `DFM_WORKER_ORIGINAL_SHELL_IN_PYTHON=1`):
//! a corpus of steps, each sent in the original's dialect as its `dfm run`
//! sends it, through two daemons. Every file each leaves in its rundir (the
//! `dfm-out` shim aside, which names its own program) and every reply must
//! be the same.
//!
//! Needs the original from PyPI (see `dfm_e2e::upstream`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use dfm_e2e::upstream::{self, Original};
use dfm_e2e::{describe, TestProject};
use serde_json::{json, Value};

/// A step of the corpus: its name, shell, body, params, inputs, memento.
struct Step {
    name: &'static str,
    shell: &'static str,
    body: &'static str,
    params: Value,
    inputs: Value,
    memento: Value,
}

fn step(name: &'static str, body: &'static str) -> Step {
    Step {
        name,
        shell: "bash",
        body,
        params: json!({}),
        inputs: json!([]),
        memento: Value::Null,
    }
}

fn corpus() -> Vec<Step> {
    let params = json!({
        "n": 3, "s": "x y", "top": ["tb", "it's"], "m": {"k": 1.5, "z": null},
        "b": true, "f": 1e-7, "none": null, "ü": "é", "rundir": "not this"
    });
    vec![
        Step {
            params: params.clone(),
            ..step(
                "p.expand",
                "cat > out.txt <<'EOF'\n\
                 ${{ n }} ${{s}} ${{ this.top }} ${{ m }} ${{ b }} ${{ f }} ${{ none }} \
                 ${{ ü }} ${{ rundir }} ${{ nope }} ${{ this.nope }} ${{ }} ${{}} ${{ a } }}\n\
                 EOF",
            )
        },
        Step {
            params: params.clone(),
            ..step(
                "p.env",
                "env | grep -E '^(DFM_|TASK_|PATH=)' | sed 's/^PATH=[^:]*:/PATH=SHIM:/' | sort",
            )
        },
        step(
            "p.outputs",
            "dfm-out fileset --filetype verilogSource a.v b.v\n\
             echo '{\"type\":\"std.FileSet\",\"basedir\":\".\",\"files\":[\"x.sv\"],\"name\":\"dropped\"}' >> \"$DFM_OUTPUT\"\n\
             echo '{\"type\":\"std.Env\",\"vals\":{\"A\":\"1\"}}' >> \"$DFM_OUTPUT\"\n\
             echo '[1]' >> \"$DFM_OUTPUT\"\n\
             echo '{\"files\":[]}' >> \"$DFM_OUTPUT\"\n\
             dfm-out env SIM=ivl 'MULTI=a b'\n\
             printf 'H<<EOF\\nl1\\nl2\\nEOF\\n' >> \"$DFM_ENV\"\n\
             dfm-out path /opt/tool/bin\n\
             dfm-out error --file rtl/top.v --line 3 'it broke'\n\
             echo '{\"msg\":\"w\",\"severity\":\"odd\"}' >> \"$DFM_MARKERS\"\n\
             echo '\"plain\"' >> \"$DFM_MARKERS\"\n\
             echo '{\"seen\": [1, 2.5, \"é\"]}' > \"$DFM_MEMENTO_OUT\"",
        ),
        step("p.fails", "echo before; echo oops >&2; exit 3"),
        step("p.fails_multi", "echo one\nfalse\nexit 7"),
        step("p.signal", "kill -SEGV $$"),
        step("p.env_expr", "echo ${{ env.HOME }}"),
        Step {
            inputs: json!([
                {"type": "std.Env", "src": "up", "seq": 0, "vals": {"FOO": "bar"},
                 "append_path": {"PATH": "/appended"}, "prepend_path": {"PATH": "/prepended", "EMPTY": ""}},
                {"type": "std.FileSet", "src": "up", "seq": 1, "filetype": "v", "basedir": "/b",
                 "files": ["a.v"], "incdirs": [], "defines": [], "attributes": []},
            ]),
            memento: json!({"last": {"k": [1, 2]}}),
            ..step(
                "p.inputs",
                "echo \"$FOO\" \"$DFM_MEMENTO\"; echo \"$PATH\" | tr ':' '\\n' | grep -E 'pended' ",
            )
        },
        Step {
            shell: "sh",
            ..step("p.sh", "echo \"in sh: $0\"\necho two")
        },
        Step {
            shell: "shell",
            ..step("p.shell", "echo shell is bash: $BASH_VERSION > /dev/null; echo ok")
        },
        // Outputs only dv-flow-mgr's own code reads: a type of no package,
        // a line that is not JSON.
        step(
            "p.foreign",
            "echo '{\"type\":\"my.Thing\",\"k\":1}' >> \"$DFM_OUTPUT\"\n\
             dfm-out fileset a.v",
        ),
        // What dfm's dfm-out hands to dv-flow-mgr's: its own words.
        step(
            "p.fallback",
            "dfm-out nonsense 2>&1 | tail -2\n\
             dfm-out fileset --bogus a.v; echo \"rc=$?\"\n\
             dfm-out --help | head -3",
        ),
        step("p.malformed", "echo 'not json' >> \"$DFM_OUTPUT\"; dfm-out env A=1"),
        // Declined before it runs: an std.Env value that is not a string.
        Step {
            inputs: json!([{"type": "std.Env", "vals": {"N": "1"}, "append_path": {"P": 5}}]),
            ..step("p.odd_input", "echo \"$P\"")
        },
    ]
}

/// Runs the corpus through a daemon in `project`; returns each reply's
/// result (the project folder written `ROOT`) and the rundir's files.
fn run_corpus(
    original: &Original,
    project: &TestProject,
    in_python: bool,
) -> (BTreeMap<String, Value>, upstream::Files) {
    let mut start = project.command(&["daemon", "start", "--pool-size", "2"]);
    if in_python {
        start.env("DFM_WORKER_ORIGINAL_SHELL_IN_PYTHON", "1");
    }
    let output = start.output().expect("start the daemon");
    assert!(output.status.success(), "{}", describe(&output));
    let mut client = project.client();
    let steps = corpus();
    for step in &steps {
        client.submit(json!({
            "request_id": step.name,
            "name": step.name,
            "callable_spec": "",
            "shell": step.shell,
            "body": step.body,
            "srcdir": project.root,
            "rundir": project.root.join("rundir").join(step.name),
            "pythonpath": original.sys_path(),
            "params": step.params,
            "inputs": step.inputs,
            "env": {"PATH": original.activated_path().to_string_lossy(), "HOME": "/home/h", "LANG": "C.UTF-8"},
            "memento": step.memento,
            "resource_class": "",
        }));
    }
    let root = project.root.display().to_string();
    let results = client
        .results(steps.len())
        .into_iter()
        .map(|(id, mut reply)| {
            // Where, when and at what cost: this run's, not the step's.
            if let Some(result) = reply["result"].as_object_mut() {
                result.remove("measurements");
            }
            let text = reply["result"].to_string().replace(&root, "ROOT");
            (id, serde_json::from_str(&text).expect("JSON"))
        })
        .collect();
    (results, upstream::rundir_files(project))
}

#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn native_shell_steps_leave_the_same_files_and_replies_as_the_originals_code() {
    let original = Original::find();
    let native = TestProject::new("shell-native");
    let reference = TestProject::new("shell-python");
    let (native_results, native_files) = run_corpus(&original, &native, false);
    let (python_results, python_files) = run_corpus(&original, &reference, true);
    for (id, expected) in &python_results {
        assert_eq!(&native_results[id], expected, "the reply to {id} differs");
    }
    upstream::assert_same_files(
        &python_files,
        &native_files,
        "native against the original's code",
    );

    // What the corpus is for: it reached what it is named for.
    let expanded = &native_files["p.expand/out.txt"];
    assert_eq!(
        expanded,
        "3 x y ['tb', \"it's\"] {'k': 1.5, 'z': None} True 1e-07 None é ROOT/rundir/p.expand ${{ nope }} ${{ this.nope }} ${{  }} ${{}} ${{ a } }}\n",
        "{expanded}"
    );
    let env = &native_files["p.env/p.env.log"];
    for line in [
        "DFM_PARAM_TOP=[\"tb\",\"it's\"]",
        "DFM_PARAM_B=true",
        "DFM_PARAM_NONE=",
        "PATH=SHIM:",
    ] {
        assert!(
            env.lines().any(|l| l.starts_with(line)),
            "{line} in:\n{env}"
        );
    }
    assert!(native_files.contains_key("p.fails_multi/p.fails_multi_cmd.sh"));
    assert_eq!(native_results["p.signal"]["status"], -11);
    let outputs = &native_results["p.outputs"];
    assert_eq!(
        outputs["output"].as_array().map(Vec::len),
        Some(4),
        "{outputs}"
    );
    assert_eq!(native_results["p.foreign"]["output"][0]["type"], "my.Thing");
    let fallback = &native_files["p.fallback/p.fallback.log"];
    assert!(
        fallback.contains("rc=2") && fallback.contains("usage"),
        "{fallback}"
    );
    // Declined and run by the interpreter in both: the same, and worked.
    assert_eq!(native_files["p.odd_input/p.odd_input.log"], "5\n");
}

/// A rundir the native path used holds a link to dfm's own `dfm-out`; a
/// step run there next by the interpreter (declined: it names one of the
/// namespace's own attributes) writes its shim in the link's place, never
/// through the link into dfm's program.
#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn a_step_declined_where_a_native_one_ran_leaves_dfms_dfm_out_alone() {
    let original = Original::find();
    let project = TestProject::new("shell-shim-link");
    let output = project
        .command(&["daemon", "start", "--pool-size", "1"])
        .output()
        .expect("start the daemon");
    assert!(output.status.success(), "{}", describe(&output));
    let native_dfm_out = dfm_e2e::bin_dir().join("dfm-out");
    let before = std::fs::read(&native_dfm_out).expect("dfm's dfm-out");
    let rundir = project.root.join("rundir/shared");
    let shim = rundir.join(".dfm-bin/dfm-out");
    let mut client = project.client();
    let steps = [
        ("native", "echo native"),
        ("declined", "echo \"${{ __class__ }}\" | wc -c"),
    ];
    for (name, body) in steps {
        client.submit(json!({
            "request_id": name, "name": name, "callable_spec": "", "shell": "bash",
            "body": body, "srcdir": project.root, "rundir": rundir,
            "pythonpath": original.sys_path(), "params": {}, "inputs": [],
            "env": {"PATH": original.activated_path().to_string_lossy()},
            "resource_class": "",
        }));
        let reply = client.recv();
        assert_eq!(reply["result"]["status"], 0, "{name}: {reply}");
        // The native path's shim runs dfm's own from its #! line; the
        // interpreter's is a shell script.
        let text = std::fs::read_to_string(&shim).expect("the dfm-out shim");
        assert!(!shim.is_symlink(), "{name}: a file, never a link");
        assert_eq!(
            text.contains("--dfm-shim"),
            name == "native",
            "{name}: {text}"
        );
    }
    let after = std::fs::read(&native_dfm_out).expect("dfm's dfm-out");
    assert!(before == after, "dfm's dfm-out was overwritten");
}

/// The original's own engine, run in-process in a project whose steps ran
/// on dfm's daemon before, writes its own dfm-out shim where dfm's was
/// (its `ShellCallable` opens the path for writing): dfm's program is left
/// alone, and dfm-out works from both shims.
#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn the_originals_own_shim_over_dfms_leaves_dfms_dfm_out_alone() {
    let original = Original::find();
    let project = TestProject::new("shell-shim-theirs");
    std::fs::write(
        project.root.join("flow.dv"),
        "package:\n  name: p\n  tasks:\n  - root: t\n    shell: bash\n    run: dfm-out env DONE=1\n",
    )
    .expect("write flow.dv");
    let native_dfm_out = dfm_e2e::bin_dir().join("dfm-out");
    let before = std::fs::read(&native_dfm_out).expect("dfm's dfm-out");
    let output = project
        .command(&["daemon", "start", "--pool-size", "1"])
        .output()
        .expect("start the daemon");
    assert!(output.status.success(), "{}", describe(&output));
    let through_ours = original.run(&project, "t");
    assert!(
        through_ours.output.status.success(),
        "{}",
        describe(&through_ours.output)
    );
    let stop = project.command(&["daemon", "stop"]).output().expect("stop");
    assert!(stop.status.success(), "{}", describe(&stop));
    let shim = project.root.join("rundir/p.t/.dfm-bin/dfm-out");
    let ours = std::fs::read_to_string(&shim).expect("dfm's shim");
    assert!(ours.contains("--dfm-shim"), "{ours}");

    // Forced: it would find the task up to date.
    let in_process = original
        .command(&project, &["run", "-u", "log", "-f", "t"])
        .output()
        .expect("run the original in-process");
    assert!(in_process.status.success(), "{}", describe(&in_process));
    let theirs = std::fs::read_to_string(&shim).expect("the original's shim");
    assert!(
        theirs.contains("dv_flow.mgr.out"),
        "{theirs}\n{}",
        describe(&in_process)
    );
    let after = std::fs::read(&native_dfm_out).expect("dfm's dfm-out");
    assert!(before == after, "dfm's dfm-out was overwritten");
}

/// Case 2 of issue 26: a client built on the original's API, with
/// `pythonpath` and `env` left empty as its dataclass defaults them. A shell
/// step needs no Python: the daemon's configured Python cannot even import
/// dv-flow-mgr, and the steps still pass, as through the original's daemon.
#[ignore = "needs the original: tests/upstream/requirements.txt in $DFM_UPSTREAM_PYTHON (scripts/test-all.sh)"]
#[test]
fn a_client_of_the_originals_api_with_empty_pythonpath_runs_shell_steps_without_python() {
    let original = Original::find();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("upstream/api_client.py");
    let run_client = |project: &TestProject| {
        let output = Command::new(original.python())
            .arg(&script)
            .arg(&project.root)
            .output()
            .expect("run the API client");
        assert!(output.status.success(), "{}", describe(&output));
        let root = project.root.display().to_string();
        String::from_utf8_lossy(&output.stdout).replace(&root, "ROOT")
    };

    let theirs = TestProject::new("api-theirs");
    let expected = {
        let _daemon = original.start_its_daemon(&theirs);
        run_client(&theirs)
    };
    let ours = TestProject::new("api-ours");
    let bare = original.bare_venv(&ours.home().join("bare"));
    ours.configure(&format!("runner:\n  python: {}\n", bare.display()));
    ours.start_daemon(&["--pool-size", "2"]);
    let actual = run_client(&ours);
    // dfm keeps the marker the task's context collects, as in-process
    // does; the original's worker drops it.
    let failed = r#"[{"loc": null, "msg": "Command failed: /bin/bash -c echo broken >&2; exit 2", "severity": "error"}]"#;
    assert!(actual.contains(failed), "{actual}");
    assert_eq!(actual.replace(failed, "[]"), expected);
    assert!(actual.contains("up.one status=0"), "{actual}");
    assert!(actual.contains("up.multi status=0"), "{actual}");
}
