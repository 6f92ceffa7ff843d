//! The warm interpreter's life cycle, with a stand-in for Python: a shell
//! script that speaks the driver's protocol (a request line in, an answer
//! line out) and does what each task's name says: answer, crash, hang with
//! a child of its own, or answer what is not an answer. It notes its pid at
//! each start, so a test sees which tasks shared an interpreter.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dfm_wire::TaskSpec;
use serde_json::json;

use super::PythonExecutor;
use crate::worker::state::Ending;

const STAND_IN: &str = r#"#!/bin/sh
echo $$ >> "$STARTS"
while IFS= read -r line; do
    case "$line" in
        *'"name":"crash"'*) echo "the last words" >&2; exit 3 ;;
        *'"name":"hang"'*) sleep 600 & echo $! > "$CHILD"; wait ;;
        *'"name":"garbled"'*) echo "this is not an answer" ;;
        *'"name":"measured"'*) echo '{"result": {"status": 0}, "cpu": [0.25, 0.125]}' ;;
        *'"name":"empty"'*) echo '{"cpu": [0.25, 0.125]}' ;;
        *) echo '{"result": {"status": 0, "changed": true}}' ;;
    esac
done
"#;

struct StandIn {
    dir: PathBuf,
    python: PathBuf,
}

impl StandIn {
    fn new(name: &str) -> StandIn {
        let dir = std::env::temp_dir().join(format!("dfm-python-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test folder");
        let python = dir.join("python3");
        std::fs::write(&python, STAND_IN).expect("the stand-in");
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        StandIn { dir, python }
    }

    fn executor(&self) -> PythonExecutor {
        PythonExecutor::new(Some(self.python.clone()), None)
    }

    fn task(&self, name: &str) -> TaskSpec {
        // From text: a task's environment is read raw, as off the wire.
        let text = json!({
            "request_id": format!("{name}-1"), "name": name, "shell": "pytask", "body": "",
            "srcdir": self.dir, "rundir": self.dir,
            "env": {
                "STARTS": self.dir.join("starts"),
                "CHILD": self.dir.join("child"),
                "PATH": "/usr/bin:/bin",
            },
        });
        serde_json::from_str(&text.to_string()).expect("a task")
    }

    /// The interpreters started so far, by pid.
    fn starts(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.join("starts")).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }

    /// Runs `name` to its end, giving the interpreter back.
    async fn run(&self, executor: &mut PythonExecutor, name: &str) -> Ending {
        let mut run = executor.start(&self.task(name)).expect("started");
        let ending = run.ended().await;
        executor.reclaim(run);
        ending
    }
}

/// Whether process `pid` runs (a zombie waiting to be reaped does not).
fn alive(pid: &str) -> bool {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.trim()).join("stat"));
    // After the command's closing parenthesis: its state.
    stat.ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z'))
}

#[tokio::test]
async fn tasks_that_end_well_share_one_interpreter() {
    let stand_in = StandIn::new("warm");
    let mut executor = stand_in.executor();
    for _ in 0..3 {
        let ending = stand_in.run(&mut executor, "fine").await;
        assert_eq!(ending.result.status, 0);
        assert!(ending.result.changed);
    }
    assert_eq!(stand_in.starts().len(), 1, "one interpreter for all three");
}

#[tokio::test]
async fn a_crash_fails_its_task_with_its_last_words_and_the_next_task_gets_a_fresh_one() {
    let stand_in = StandIn::new("crash");
    let mut executor = stand_in.executor();
    stand_in.run(&mut executor, "fine").await;
    let ending = stand_in.run(&mut executor, "crash").await;
    assert_eq!(ending.result.status, 3);
    assert!(!ending.by_stop_signal);
    let said = &ending.result.markers[0].msg;
    assert!(said.contains("died while running task 'crash'"), "{said}");
    assert!(said.contains("the last words"), "{said}");

    let ending = stand_in.run(&mut executor, "fine").await;
    assert_eq!(ending.result.status, 0);
    assert_eq!(
        stand_in.starts().len(),
        2,
        "a fresh interpreter after the crash"
    );
}

#[tokio::test]
async fn a_killed_task_takes_what_it_started_with_it_and_the_next_task_gets_a_fresh_one() {
    let stand_in = StandIn::new("kill");
    let mut executor = stand_in.executor();
    let mut run = executor.start(&stand_in.task("hang")).expect("started");
    let child_file = stand_in.dir.join("child");
    let mut child = String::new();
    for _ in 0..6000 {
        child = std::fs::read_to_string(&child_file).unwrap_or_default();
        if !child.trim().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(alive(&child), "the task's own child runs");
    run.kill();
    // A hang guard only: an end that never comes is a failure, not a stuck test.
    let ending = tokio::time::timeout(std::time::Duration::from_secs(60), run.ended())
        .await
        .expect("the killed task ends");
    executor.reclaim(run);
    assert!(ending.by_stop_signal, "killed: {:?}", ending.result);
    assert_eq!(ending.result.status, 128 + libc::SIGKILL);
    // Its process group went with it.
    for _ in 0..6000 {
        if !alive(&child) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!alive(&child), "the task's child outlived the kill");

    let ending = stand_in.run(&mut executor, "fine").await;
    assert_eq!(ending.result.status, 0);
    assert_eq!(
        stand_in.starts().len(),
        2,
        "a fresh interpreter after the kill"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_one_fails_the_task_and_the_interpreter_is_not_trusted_again() {
    let stand_in = StandIn::new("garbled");
    let mut executor = stand_in.executor();
    let ending = stand_in.run(&mut executor, "garbled").await;
    assert_eq!(ending.result.status, 1, "{:?}", ending.result);
    let said = &ending.result.markers[0].msg;
    assert!(said.contains("an answer dfm cannot read"), "{said}");
    stand_in.run(&mut executor, "fine").await;
    assert_eq!(stand_in.starts().len(), 2);
}

#[tokio::test]
async fn a_tasks_cpu_is_what_the_driver_measured_and_an_answer_without_a_result_is_an_error() {
    let stand_in = StandIn::new("measured");
    let mut executor = stand_in.executor();
    let mut run = executor.start(&stand_in.task("measured")).expect("started");
    let ending = run.ended().await;
    assert_eq!(ending.result.status, 0);
    let usage = run.usage().expect("the driver's figures");
    assert_eq!((usage.cpu_user_secs, usage.cpu_system_secs), (0.25, 0.125));
    assert_eq!(usage.max_rss_kib, None);
    executor.reclaim(run);

    let ending = stand_in.run(&mut executor, "empty").await;
    assert_ne!(ending.result.status, 0);
    let said = format!("{:?}", ending.result.markers);
    assert!(said.contains("neither a result nor an error"), "{said}");
    // Not trusted with the next task: a fresh interpreter runs it.
    stand_in.run(&mut executor, "ok").await;
    assert_eq!(stand_in.starts().len(), 2);
}
