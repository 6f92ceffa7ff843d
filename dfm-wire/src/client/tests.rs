use serde_json::json;

use super::*;

fn parse(line: &str) -> Result<ClientRequest, BadRequest> {
    ClientRequest::parse(line.as_bytes())
}
#[test]
fn parses_the_original_clients_submit() {
    // As dv-flow-mgr's DaemonClientBackend sends it.
    let line = r#"{"method": "task.submit", "id": "ab12", "params": {"request_id": "ab12",
        "name": "demo.build", "callable_spec": "", "shell": "bash", "body": "echo hi",
        "srcdir": "/src", "rundir": "/run/demo.build", "pythonpath": [], "params": {},
        "inputs": [], "env": {"A": "1"}, "resource_class": ""}}"#;
    let request = parse(line).expect("valid submit");
    assert_eq!(request.id, json!("ab12"));
    let ClientCall::Submit(spec) = request.call else {
        panic!("not a submit: {:?}", request.call);
    };
    assert_eq!(spec.name, "demo.build");
    let env = spec.env.variables().expect("variables");
    assert_eq!(env.get("A").map(String::as_str), Some("1"));
    assert!(spec.extra.contains_key("callable_spec"));
    assert_eq!(spec.extra["inputs"], json!([]));
    // The params before the method: the same task.
    let params = r#"{"request_id": "r", "name": "t", "rundir": "/x", "env": {"A": "1"}}"#;
    let first = parse(&format!(
        r#"{{"method": "task.submit", "params": {params}}}"#
    ));
    let last = parse(&format!(
        r#"{{"params": {params}, "method": "task.submit"}}"#
    ));
    assert!(matches!(
        first,
        Ok(ClientRequest {
            call: ClientCall::Submit(_),
            ..
        })
    ));
    assert_eq!(first, last);
}

#[test]
fn names_written_with_escapes_are_the_same_names() {
    let line = r#"{"m\u0065thod": "task.submit", "id": 1, "params": {"request_\u0069d": "r",
        "n\u0061me": "t", "rundir": "/x", "in\u0070uts": [2]}}"#;
    let request = parse(line).expect("valid submit");
    let ClientCall::Submit(spec) = request.call else {
        panic!("not a submit: {:?}", request.call);
    };
    assert_eq!((spec.request_id.as_str(), spec.name.as_str()), ("r", "t"));
    assert_eq!(spec.extra.get("inputs"), Some(&json!([2])));
}

#[test]
fn a_field_given_twice_counts_once_the_last_time() {
    let line = r#"{"method": "task.cancel", "id": 1, "params": {"request_id": "a"},
        "params": {"request_id": "b"}}"#;
    let request = parse(line).expect("JSON allows it");
    assert_eq!(
        request.call,
        ClientCall::Cancel {
            request_id: "b".into()
        }
    );
}

#[test]
fn an_env_must_be_an_object() {
    let line = r#"{"id": 1, "method": "task.submit", "params": {"request_id": "r",
        "name": "t", "rundir": "/x", "env": ["A=1"]}}"#;
    let error = parse(line).expect_err("a list is no environment").error;
    assert!(
        error.contains("'env' must be an object of strings"),
        "{error}"
    );
}

#[test]
fn bad_requests_say_what_is_wrong() {
    let cases = [
        ("{nope", "Invalid JSON"),
        ("[1,2]", "not a JSON object"),
        (r#"{"id": 1}"#, "missing 'method'"),
        (r#"{"id": 1, "method": "x.y"}"#, "Unknown method: x.y"),
        (
            r#"{"id": 1, "method": "ping", "params": 3}"#,
            "'params' must be an object",
        ),
        (
            r#"{"id": 1, "method": "task.cancel", "params": {}}"#,
            "request_id",
        ),
        (
            r#"{"id": 1, "method": "task.submit", "params": {"request_id": "r", "name": "t", "rundir": "/x", "shell": "pytask"}}"#,
            "shell 'pytask' is not supported",
        ),
        (
            r#"{"id": 1, "method": "task.submit", "params": {"request_id": "r", "name": "t", "rundir": "rel"}}"#,
            "absolute 'rundir'",
        ),
        (
            r#"{"id": 1, "method": "task.submit", "params": {"request_id": 5}}"#,
            "Invalid task.submit params",
        ),
    ];
    for (line, expected) in cases {
        let error = parse(line).expect_err(line).error;
        assert!(error.contains(expected), "{line}: {error}");
    }
}

#[test]
fn requests_round_trip() {
    let spec = TaskSpec {
        request_id: "r1".into(),
        name: "t".into(),
        shell: "sh".into(),
        body: "true".into(),
        rundir: "/tmp/x".into(),
        ..TaskSpec::default()
    };
    for call in [
        ClientCall::Ping,
        ClientCall::Submit(Box::new(spec)),
        ClientCall::Cancel {
            request_id: "r1".into(),
        },
        ClientCall::Status,
        ClientCall::Subscribe { own_tasks: false },
        ClientCall::Subscribe { own_tasks: true },
        ClientCall::Shutdown {
            keep_workers: false,
        },
        ClientCall::Shutdown { keep_workers: true },
    ] {
        let request = ClientRequest {
            id: json!("7"),
            call,
        };
        let line = request.to_line();
        assert_eq!(parse(line.trim_end()), Ok(request));
    }
}

#[test]
fn the_originals_python_tasks_are_accepted_and_known_by_their_dialect() {
    // As dv-flow-mgr 1.20's DaemonClientBackend sends a pytask.
    let line = r#"{"method": "task.submit", "id": "c1", "params": {"request_id": "c1",
        "name": "regress.rtl", "callable_spec": "dv_flow.mgr.std.fileset.FileSet",
        "shell": "pytask", "body": null, "srcdir": "/p", "rundir": "/p/rundir/regress.rtl",
        "pythonpath": ["/p"], "params": {"include": "*.v"}, "inputs": [], "env": {},
        "resource_class": ""}}"#;
    let request = parse(line).expect("a valid pytask");
    let ClientCall::Submit(spec) = request.call else {
        panic!("not a submit");
    };
    assert_eq!(spec.dialect(), crate::task::Dialect::Original);
    assert_eq!(spec.callable_spec(), "dv_flow.mgr.std.fileset.FileSet");
    // A null body reads as none.
    assert_eq!(spec.body, "");
    let ours = r#"{"method": "task.submit", "id": 2, "params": {"request_id": "r",
        "name": "t", "rundir": "/x", "body": "true"}}"#;
    let ClientCall::Submit(spec) = parse(ours).expect("valid").call else {
        panic!("not a submit");
    };
    assert_eq!(spec.dialect(), crate::task::Dialect::Native);
}

#[test]
fn a_submits_licenses_are_tokens_by_name() {
    let submit = |licenses: &str| {
        parse(&format!(
            r#"{{"method": "task.submit", "id": 1, "params": {{"request_id": "r", "name": "t",
                "shell": "bash", "rundir": "/x", "licenses": {licenses}}}}}"#
        ))
    };
    let ok = submit(r#"{"vcs": 2}"#).expect("valid");
    let ClientCall::Submit(spec) = ok.call else {
        panic!("not a submit");
    };
    assert_eq!(
        spec.licenses().expect("licenses"),
        vec![("vcs".to_string(), 2)]
    );
    for bad in [r#"{"vcs": 0}"#, r#"{"vcs": "one"}"#, r#"["vcs"]"#] {
        let error = submit(bad).expect_err(bad);
        assert!(
            error.error.contains("'licenses' must map"),
            "{}",
            error.error
        );
    }
}

/// Found by fuzzing: newlines between an environment's tokens were kept
/// as read, and the request written out again was several lines.
#[test]
fn an_environment_written_over_lines_is_written_out_on_one() {
    let line =
        "{\"method\": \"task.submit\", \"id\": \"ab12\", \"params\": {\"request_id\": \"ab12\",
        \"name\": \"demo.build\", \"shell\": \"bash\", \"body\": \"echo hi\", \"srcdir\": \"/src\",
        \"rundir\": \"/run\", \"env\": {\"A\"\n\n: \"0\",\n \"B\": \"x y\"}}}";
    let request = parse(line).expect("valid submit");
    let out = request.to_line();
    assert_eq!(out.matches('\n').count(), 1, "{out:?}");
    assert!(out.contains(r#""env":{"A":"0","B":"x y"}"#), "{out:?}");
    assert_eq!(parse(out.trim_end()).expect("parses again"), request);
}
