use serde_json::{json, Map};

use super::*;
use crate::frame::to_line;
use crate::task::{Env, Environment};

#[test]
fn a_worker_says_how_many_tasks_it_holds_ahead() {
    let register = |extra: &str| {
        let line = format!(
            r#"{{"worker_id": "w", "hostname": "h", "pid": 1, "auth": "a", "nonce": "n"{extra}}}"#
        );
        serde_json::from_str::<Register>(&line).map(|r| r.tasks_ahead())
    };
    // The original's workers, then ours before `prefetch_depth`.
    assert_eq!(register("").ok(), Some(0));
    assert_eq!(register(r#", "prefetch": true"#).ok(), Some(1));
    assert_eq!(
        register(r#", "prefetch": true, "prefetch_depth": 8"#).ok(),
        Some(8)
    );
    assert_eq!(
        register(r#", "prefetch": false, "prefetch_depth": 8"#).ok(),
        Some(0)
    );
}

#[test]
fn a_task_reaches_the_worker_whole_whatever_the_order_of_fields() {
    let env = Env::from([("A".to_string(), "1 \"quoted\"".to_string())]);
    let spec = TaskSpec {
        request_id: "r1".into(),
        name: "t".into(),
        shell: "sh".into(),
        body: "true".into(),
        rundir: "/tmp/x".into(),
        env: Environment::new(&env),
        extra: Map::from_iter([("inputs".to_string(), json!([1]))]),
        ..TaskSpec::default()
    };
    let message = ToWorker::Execute(Arc::new(spec.clone()));
    let line = to_line(&message);
    assert!(
        line.starts_with(r#"{"method":"task.execute","params":{"#),
        "{line}"
    );
    assert_eq!(
        ToWorker::parse(line.trim_end().as_bytes()).expect("parsed"),
        message
    );
    let params = serde_json::to_string(&spec).expect("params");
    let reversed = format!(r#"{{"params":{params},"method":"task.execute"}}"#);
    let parsed = ToWorker::parse(reversed.as_bytes()).expect("parsed");
    assert_eq!(parsed, message);
    let ToWorker::Execute(parsed) = parsed else {
        panic!("not a task");
    };
    assert_eq!(parsed.env.variables().expect("variables"), env);
}

#[test]
fn worker_messages_use_the_original_method_names() {
    let line = to_line(&ToWorker::Cancel {
        request_id: "r".into(),
    });
    assert_eq!(
        line,
        "{\"method\":\"task.cancel\",\"params\":{\"request_id\":\"r\"}}\n"
    );
    let heartbeat: FromWorker =
        serde_json::from_str(r#"{"method":"worker.heartbeat","params":{"worker_id":"w"}}"#)
            .expect("heartbeat");
    assert_eq!(
        heartbeat,
        FromWorker::Heartbeat {
            worker_id: "w".into()
        }
    );
}

#[test]
fn an_array_element_finds_its_own_worker_id_by_its_index() {
    use super::job_env::{worker_id, ARRAY_INDEX_VAR, WORKER_ID, WORKER_IDS};
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(worker_id(env(&[(WORKER_ID, "w1")])), Ok("w1".into()));
    let array = &[
        (WORKER_IDS, "a1,a2,a3"),
        (ARRAY_INDEX_VAR, "SLURM_ARRAY_TASK_ID"),
        ("SLURM_ARRAY_TASK_ID", "2"),
    ];
    assert_eq!(worker_id(env(array)), Ok("a2".into()));
    let beyond = &[
        (WORKER_IDS, "a1"),
        (ARRAY_INDEX_VAR, "LSB_JOBINDEX"),
        ("LSB_JOBINDEX", "4"),
    ];
    assert!(worker_id(env(beyond)).unwrap_err().contains("element 4"));
    let zero = &[
        (WORKER_IDS, "a1"),
        (ARRAY_INDEX_VAR, "LSB_JOBINDEX"),
        ("LSB_JOBINDEX", "0"),
    ];
    assert!(worker_id(env(zero)).unwrap_err().contains("LSB_JOBINDEX"));
    assert!(worker_id(env(&[])).unwrap_err().contains(WORKER_ID));
}
