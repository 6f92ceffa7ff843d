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
    assert!(stderr.contains("dfm-plugin-api 0.1.2"), "{stderr}");
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

#[test]
fn dfm_plugins_lists_names_versions_files_and_load_failures() {
    let project = TestProject::new("listplugins");
    let output = project.dfm(&["plugins"]);
    assert!(output.status.success(), "{}", describe(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    for name in ["local", "lsf", "slurm", "sge", "template"] {
        let line = listing
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not listed: {listing}"));
        assert!(line.contains("api 0.1.2"), "{line}");
        assert!(line.contains(&format!("libdfm_runner_{name}.so")), "{line}");
    }
    let oldapi = listing
        .lines()
        .find(|line| line.trim_start().starts_with("oldapi "))
        .unwrap_or_else(|| panic!("oldapi not listed: {listing}"));
    assert!(
        oldapi.contains("FAILS TO LOAD") && oldapi.contains("dfm-plugin-api 99.0.0"),
        "{oldapi}"
    );
}

/// A site team's plugin: the template copied out of this repository,
/// renamed, built on its own against dfm-plugin-api, runs tasks.
#[test]
fn an_out_of_tree_plugin_built_from_the_template_runs_tasks() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the repository")
        .to_path_buf();
    let project = TestProject::new("outoftree");
    let crate_dir = project.root.join("mysite-runner");
    std::fs::create_dir_all(crate_dir.join("src")).expect("create the plugin crate");
    let template = repo.join("plugins/template");
    let manifest = std::fs::read_to_string(template.join("Cargo.toml"))
        .expect("read the template's Cargo.toml")
        .replace("dfm-runner-template", "dfm-runner-mysite")
        .replace("dfm_runner_template", "dfm_runner_mysite")
        .replace(
            "path = \"../../dfm-plugin-api\"",
            &format!("path = \"{}\"", repo.join("dfm-plugin-api").display()),
        );
    assert!(manifest.contains(&repo.display().to_string()), "{manifest}");
    // A workspace of its own, not a stray member of whatever is above it.
    std::fs::write(crate_dir.join("Cargo.toml"), manifest + "\n[workspace]\n")
        .expect("write Cargo.toml");
    let source = std::fs::read_to_string(template.join("src/lib.rs"))
        .expect("read the template's source")
        .replace("export_runner!(\"template\"", "export_runner!(\"mysite\"");
    std::fs::write(crate_dir.join("src/lib.rs"), source).expect("write lib.rs");
    let plugin = dfm_e2e::build_plugin_out_of_tree(&crate_dir, "dfm_runner_mysite");
    let plugin = plugin.to_str().expect("utf-8 path");

    project.start_daemon(&["--runner", plugin, "--pool-size", "1"]);
    assert_eq!(project.status()["runner"], "mysite");
    let mut client = project.client();
    client.submit(project.task("oot", "echo from-mysite > out.txt"));
    let reply = client.recv();
    assert_eq!(reply["result"]["status"], 0, "{reply}");
    let out = std::fs::read_to_string(project.root.join("rundir/oot/out.txt")).expect("out.txt");
    assert_eq!(out.trim(), "from-mysite");
    let stop = project.dfm(&["daemon", "stop"]);
    assert!(stop.status.success(), "{}", describe(&stop));
}

/// A site's plugin built against dfm-plugin-api 0.1.1 (arrays and run
/// limits, before pending reasons): the local runner as it was then
/// (`fixtures/runner-local-api011`), built on its own against the frozen
/// 0.1.1 (`fixtures/plugin-api-0.1.1`). This
/// dfm loads it through its 0.1.1 entry point and polls it: the pending
/// reasons it cannot give are left out (abi_stable runs the default
/// `poll_reports`, which asks its `poll_status`), and a daemon runs tasks
/// with it.
#[test]
fn a_plugin_built_against_api_0_1_1_still_loads_polls_and_runs_tasks() {
    use dfm_host::plugin::{Plugin, Runner};
    use dfm_plugin_api::{JobState, LaunchRequest, Resources};

    let project = TestProject::new("api011");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let build = project.root.join("build");
    for name in ["plugin-api-0.1.1", "runner-local-api011"] {
        dfm_e2e::copy_dir(&fixtures.join(name), &build.join(name));
    }
    let crate_dir = build.join("runner-local-api011");
    let path = dfm_e2e::build_plugin_out_of_tree(&crate_dir, "dfm_runner_local");

    let plugin = Plugin::load(&path).expect("an API 0.1.1 plugin loads");
    assert!(
        plugin.api_version.contains("0.1.1"),
        "{}",
        plugin.api_version
    );
    let runner = plugin.new_runner("{}").expect("its runner");
    assert!(
        matches!(runner, Runner::V2(_)),
        "through its 0.1.1 entry point"
    );
    let log = project.root.join("sleep.log");
    let request = LaunchRequest::new(
        "sleeper",
        &["sleep", "30"],
        &[],
        Resources::new(0, "", "", "", ""),
        log.to_str().expect("utf-8 path"),
    );
    let job = runner.launch(&request).expect("launched");
    let reports = runner.poll(vec![job.clone()]).expect("polled");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].status().state(), JobState::Running);
    assert_eq!(reports[0].pending_reason(), None);
    runner.terminate(&job).expect("stopped");
    dfm_e2e::wait_for(std::time::Duration::from_secs(10), "the job ends", || {
        let reports = runner.poll(vec![job.clone()]).ok()?;
        matches!(reports[0].status().state(), JobState::Exited(_)).then_some(())
    });

    let path = path.to_str().expect("utf-8 path");
    project.start_daemon(&["--runner", path, "--pool-size", "1"]);
    let mut client = project.client();
    client.submit(project.task("t", "echo ran"));
    let results = client.results(1);
    assert!(
        results.values().all(|r| r["result"]["status"] == 0),
        "{results:?}"
    );
    let stop = project.dfm(&["daemon", "stop"]);
    assert!(stop.status.success(), "{}", describe(&stop));
}
