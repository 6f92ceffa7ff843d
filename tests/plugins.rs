//! Finding and loading runner plugins, through the real binary.

use dfm_e2e::{describe, TestProject};

#[test]
fn an_unknown_runner_lists_where_it_looked_and_what_it_found() {
    let project = TestProject::new("noplugin");
    let output = project.dfm(&["daemon", "start", "--runner", "nosuch"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("runner plugin 'nosuch' not found"),
        "{stderr}"
    );
    assert!(stderr.contains("libdfm_runner_nosuch.so"), "{stderr}");
    assert!(
        stderr.contains(&dfm_e2e::bin_dir().display().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains("local"),
        "the local plugin is listed as found: {stderr}"
    );
    assert!(!project.socket().exists());
}

#[test]
fn a_plugin_built_against_another_api_version_is_refused_by_name() {
    let project = TestProject::new("oldapi");
    let output = project.dfm(&["daemon", "start", "--runner", "oldapi"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("dfm-plugin-api 99.0.0"), "{stderr}");
    assert!(stderr.contains("dfm-plugin-api 0.1.0"), "{stderr}");
    assert!(stderr.contains("libdfm_runner_oldapi.so"), "{stderr}");
}

#[test]
fn a_runner_given_by_path_is_loaded_from_that_file() {
    let project = TestProject::new("bypath");
    let path = dfm_e2e::bin_dir().join("libdfm_runner_local.so");
    let path = path.to_str().expect("utf-8 path");
    let missing = project.dfm(&["daemon", "start", "--runner", "/no/such/libdfm_runner_x.so"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("/no/such/libdfm_runner_x.so: cannot load runner plugin"),
        "{stderr}"
    );

    project.start_daemon(&["--runner", path]);
    assert_eq!(project.status()["runner"], "local");
}

#[test]
fn a_panicking_plugin_fails_the_tasks_with_its_message_and_the_daemon_stays_up() {
    let project = TestProject::new("panic");
    project.start_daemon(&["--runner", "panic", "--pool-size", "2"]);
    let mut client = project.client();
    client.submit(project.task("doomed", "true"));
    let reply = client.recv();
    let error = reply["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("runner plugin panicked in launch: launch exploded on purpose"),
        "{reply}"
    );
    assert_eq!(client.call("ping", serde_json::json!({}))["result"], "pong");
    let stop = project.dfm(&["daemon", "stop"]);
    assert!(stop.status.success(), "{}", describe(&stop));
}
