use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dfm-config-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn layers_merge_scalars_last_and_accumulate_select_lists() {
    let dir = temp_dir("merge");
    let install = write(
        &dir,
        "install.yaml",
        "runner:\n  default: lsf\n  pool: {max_workers: 8, idle_timeout: 60}\n  lsf: {queue: normal, resource_select: [\"type==X86_64\"]}\n",
    );
    let site = write(
        &dir,
        "site.yaml",
        "runner:\n  pool: {max_workers: 32}\n  lsf: {resource_select: [\"mem>8000\"], bsub_extra: [\"-G\", \"grp\"]}\n  resource_classes:\n    large: {cores: 8, memory: 32G}\n",
    );
    let project = write(
        &dir,
        "project.yaml",
        "runner:\n  type: slurm\n  defaults: {memory: 2G, cores: 1}\n",
    );
    let layers = Layers {
        files: vec![install, site, project, dir.join("missing.yaml")],
        env_runner: None,
    };
    let config = layers.load(&CliOverrides::default()).expect("config");
    assert_eq!(config.runner, "slurm");
    assert_eq!(config.pool.max_workers, 32);
    assert_eq!(config.pool.idle_timeout, 60.0);
    let lsf = config.raw.get("lsf").expect("lsf section");
    assert_eq!(lsf["queue"], "normal");
    assert_eq!(
        lsf["resource_select"],
        serde_json::json!(["type==X86_64", "mem>8000"])
    );
    let large = config.resources_for("large");
    assert_eq!(
        (large.cores, large.memory.as_deref()),
        (Some(8), Some("32G"))
    );
    let default = config.resources_for("");
    assert_eq!(
        (default.cores, default.memory.as_deref()),
        (Some(1), Some("2G"))
    );

    let with_env = Layers {
        env_runner: Some("lsf".into()),
        ..layers.clone()
    };
    assert_eq!(
        with_env
            .load(&CliOverrides::default())
            .expect("config")
            .runner,
        "lsf"
    );
    let cli = CliOverrides {
        runner: Some("local".into()),
        pool_size: Some(3),
        options: vec![
            ("lsf.queue".into(), "short".into()),
            ("pool.idle_timeout".into(), "5".into()),
        ],
    };
    let config = with_env.load(&cli).expect("config");
    assert_eq!(
        (config.runner.as_str(), config.pool.max_workers),
        ("local", 3)
    );
    assert_eq!(config.raw["lsf"]["queue"], "short");
    assert_eq!(config.pool.idle_timeout, 5.0);
    let bad = CliOverrides {
        options: vec![("pool.max_workers".into(), "many".into())],
        ..CliOverrides::default()
    };
    assert!(with_env.load(&bad).is_err());
}

#[test]
fn the_plugin_gets_its_own_section() {
    let dir = temp_dir("plugin");
    let file = write(
        &dir,
        "c.yaml",
        "runner:\n  default: lsf\n  lsf: {queue: q}\n  defaults: {cores: 2}\n",
    );
    let layers = Layers {
        files: vec![file],
        env_runner: None,
    };
    let config = layers.load(&CliOverrides::default()).expect("config");
    let json: Value = serde_json::from_str(&config.plugin_config_json()).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"queue": "q", "defaults": {"cores": 2}})
    );
}

#[test]
fn worker_address_defaults_by_runner() {
    let dir = temp_dir("address");
    let load = |text: &str| {
        let layers = Layers {
            files: vec![write(&dir, "c.yaml", text)],
            env_runner: None,
        };
        layers.load(&CliOverrides::default()).expect("config")
    };
    let local = load("runner: {default: local}");
    assert_eq!(
        (local.worker_bind(), local.worker_host()),
        ("127.0.0.1".into(), "127.0.0.1".into())
    );
    let slurm = load("runner: {default: slurm}");
    assert_eq!(slurm.worker_bind(), "0.0.0.0");
    assert_eq!(slurm.worker_host(), crate::procfs::hostname());
    let set = load("runner: {default: lsf, worker_bind: 10.0.0.5, worker_host: head.example.com}");
    assert_eq!(
        (set.worker_bind(), set.worker_host()),
        ("10.0.0.5".into(), "head.example.com".into())
    );
}

#[test]
fn mistakes_name_the_file_and_the_key() {
    let dir = temp_dir("bad");
    let cases = [
        ("runner: [1]", "'runner' must be a mapping"),
        (
            "runner:\n  pool: {max_wrokers: 3}",
            "unknown field `max_wrokers`",
        ),
        (
            "runner:\n  pool: {min_workers: 5, max_workers: 2}",
            "larger than pool.max_workers",
        ),
        ("runner: {pool: {", "invalid YAML"),
        (
            "runner: {worker_host: [a]}",
            "runner.worker_host must be a host name",
        ),
        (
            "runner:\n  pool: {prefetch: some}",
            "pool.prefetch is true, false or a number of tasks",
        ),
        (
            "runner:\n  pool: {prefetch: -1}",
            "pool.prefetch is true, false or a number of tasks",
        ),
        ("runner:\n  pool: {prefetch: 65}", "may be at most 64"),
    ];
    for (text, expected) in cases {
        let file = write(&dir, "c.yaml", text);
        let layers = Layers {
            files: vec![file],
            env_runner: None,
        };
        let error = layers
            .load(&CliOverrides::default())
            .expect_err(text)
            .to_string();
        assert!(error.contains(expected), "{text}: {error}");
    }
}

#[test]
fn prefetch_is_a_number_of_tasks_or_a_flag() {
    let dir = temp_dir("prefetch");
    let cases = [
        ("true", crate::pool::DEFAULT_PREFETCH),
        ("false", 0),
        ("0", 0),
        ("1", 1),
        ("8", 8),
    ];
    for (given, depth) in cases {
        let file = write(
            &dir,
            "c.yaml",
            &format!("runner:\n  pool: {{prefetch: {given}}}"),
        );
        let layers = Layers {
            files: vec![file],
            env_runner: None,
        };
        let config = layers.load(&CliOverrides::default()).expect(given);
        assert_eq!(config.pool.pool_config().prefetch, depth, "{given}");
    }
    assert_eq!(
        PoolSettings::default().pool_config().prefetch,
        crate::pool::DEFAULT_PREFETCH
    );
}

#[test]
fn the_worker_socket_and_its_sealing_are_switches() {
    let dir = temp_dir("switches");
    let load = |yaml: &str| {
        let file = write(&dir, "c.yaml", yaml);
        Layers {
            files: vec![file],
            env_runner: None,
        }
        .load(&CliOverrides::default())
    };
    let defaults = load("runner:\n  default: local\n").expect("config");
    assert!(defaults.worker_socket && !defaults.seal_local_socket);
    let set = load("runner:\n  worker_socket: false\n  seal_local_socket: true\n").expect("config");
    assert!(!set.worker_socket && set.seal_local_socket);
    let wrong = load("runner:\n  seal_local_socket: yes please\n").expect_err("a string");
    assert!(
        wrong
            .to_string()
            .contains("runner.seal_local_socket must be true or false"),
        "{wrong}"
    );
    let empty = load("# runner:\n#   default: local\n").expect("an all-comments file");
    assert_eq!(empty.runner, "local");
}

/// The error `text` as the project layer gives, or `None` if it loads.
fn project_layer_error(tag: &str, text: &str, options: &[(&str, &str)]) -> Option<String> {
    let dir = temp_dir(tag);
    let project = write(&dir, "config.yaml", text);
    let layers = Layers {
        files: vec![project],
        env_runner: None,
    };
    let cli = CliOverrides {
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..CliOverrides::default()
    };
    layers.load(&cli).err().map(|e| e.to_string())
}

#[test]
fn a_key_dfm_does_not_know_is_an_error_naming_its_file_and_what_is_allowed() {
    let error = project_layer_error("licences", "runner:\n  licences: {vcs: {count: 5}}\n", &[])
        .expect("a misspelt section is an error");
    assert!(error.contains("config.yaml"), "{error}");
    assert!(error.contains("runner.licences"), "{error}");
    assert!(
        error.contains("licenses") && error.contains("pool"),
        "{error}"
    );

    let error = project_layer_error(
        "classkey",
        "runner:\n  resource_classes:\n    sim: {cores: 2, licence: {vcs: 1}}\n",
        &[],
    )
    .expect("a misspelt class key is an error");
    assert!(
        error.contains("runner.resource_classes.sim.licence"),
        "{error}"
    );

    let error = project_layer_error("optkey", "", &[("metrics_listn", "127.0.0.1:9464")])
        .expect("a misspelt option is an error");
    assert!(error.contains("--runner-opt metrics_listn"), "{error}");
}

#[test]
fn runner_sections_and_their_class_keys_are_known() {
    let text = "runner:\n  default: /opt/site/libdfm_runner_mysite.so\n  mysite: {queue: q}\n  \
                lsf: {queue: normal}\n  slurm: {partition: p}\n  resource_classes:\n    \
                big: {cores: 8, resource_select: [\"mem>1\"], mysite: {pool: x}}\n";
    assert_eq!(
        project_layer_error("known", text, &[("lsf.queue", "short")]),
        None
    );
}

/// The install's `etc/config.yaml`, every key commented out: uncommented,
/// it is a layer dfm takes whole (each key known, each value valid).
#[test]
fn the_commented_install_configuration_is_a_valid_layer() {
    let text = include_str!("../../../etc/config.yaml");
    let yaml: String = text
        .lines()
        .filter_map(|line| line.strip_prefix("# "))
        .filter(|line| line.starts_with("runner:") || line.starts_with("  "))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(yaml.contains("licenses:"), "{yaml}");
    let dir = temp_dir("install");
    let layers = Layers {
        files: vec![write(&dir, "config.yaml", &yaml)],
        env_runner: None,
    };
    let config = layers
        .load(&CliOverrides::default())
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(config.licenses["vcs"].count, 50);
    assert_eq!(
        config.pool_config().licenses.classes["sim"],
        vec![("vcs".to_string(), 1)]
    );
}

#[test]
fn licenses_the_scheduler_holds_for_workers_are_not_counted_by_dfm() {
    let text = "runner:\n  resource_classes:\n    seat: {licenses: {sim_seat: 1}, license_scope: worker}\n";
    assert_eq!(project_layer_error("scope", text, &[]), None);
    let dir = temp_dir("scope-load");
    let layers = Layers {
        files: vec![write(&dir, "config.yaml", text)],
        env_runner: None,
    };
    let config = layers.load(&CliOverrides::default()).expect("config");
    assert_eq!(config.pool_config().licenses.classes["seat"], vec![]);

    let wrong = "runner:\n  resource_classes:\n    seat: {license_scope: job}\n";
    let error = project_layer_error("scope-wrong", wrong, &[]).expect("an error");
    assert!(
        error.contains("task") && error.contains("worker"),
        "{error}"
    );
    let undefined = "runner:\n  resource_classes:\n    sim: {licenses: {vcs: 1}}\n";
    let error = project_layer_error("undefined", undefined, &[]).expect("an error");
    assert!(error.contains("runner.licenses does not define"), "{error}");
}

#[test]
fn metrics_listen_is_an_address_and_port_or_nothing() {
    assert_eq!(
        project_layer_error("metrics-off", "runner: {}\n", &[]),
        None
    );
    let on = "runner:\n  metrics_listen: \"127.0.0.1:9464\"\n";
    assert_eq!(project_layer_error("metrics-on", on, &[]), None);
    let wrong = "runner:\n  metrics_listen: \"localhost\"\n";
    let error = project_layer_error("metrics-wrong", wrong, &[]).expect("no port");
    assert!(
        error.contains("runner.metrics_listen must be an address and port, like 127.0.0.1:9464"),
        "{error}"
    );
}
