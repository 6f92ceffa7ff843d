use std::collections::BTreeMap;

use super::*;

fn load_text(text: &str, overrides: &[(&str, &str)]) -> Result<Flow, FlowError> {
    let overrides: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = BTreeMap::from([("USER".to_string(), "ada".to_string())]);
    let context = Context {
        overrides: &overrides,
        rundir_base: Path::new("/work/rundir"),
        env: &env,
    };
    parse(Path::new("/src/flow.dv"), text, &context)
}

const DEMO: &str = r#"
package:
  name: demo
  with:
    seed: {type: int, value: 1}
    mode: fast
  tasks:
  - name: build
    run: echo build ${{ mode }} > out.txt
  - root: test
    needs: [build]
    with:
      extra: {type: str, value: "-v"}
    run: |
      ./sim --seed ${{ seed }} ${{ extra }} ${{ rundir }} ${{ srcdir }} ${{ env.USER }}
    tags:
    - std.ResourceTag: {resource_class: large, cores: 8}
  - name: hello
    scope: root
    uses: std.Message
    with:
      msg: "seed is ${{ seed }}"
  - name: slow
    needs: [demo.test]
    iff: ${{ mode != 'fast' }}
    shell: sh
    run: sleep 100
"#;

#[test]
fn loads_the_original_format() {
    let flow = load_text(DEMO, &[]).expect("valid flow");
    assert_eq!(flow.package, "demo");
    assert_eq!(flow.srcdir, Path::new("/src"));
    let names: Vec<&str> = flow.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["demo.build", "demo.test", "demo.hello", "demo.slow"]
    );
    let test = &flow.tasks[1];
    assert!(test.root);
    assert_eq!(test.needs, [0]);
    assert_eq!(test.rundir, Path::new("/work/rundir/demo.test"));
    assert_eq!(
        test.action,
        Action::Shell {
            shell: "bash".into(),
            body: "./sim --seed 1 -v /work/rundir/demo.test /src ada\n".into()
        }
    );
    assert_eq!(test.resources.resource_class, "large");
    assert_eq!(test.resources.cores, Some(8));
    assert_eq!(flow.tasks[2].action, Action::Message("seed is 1".into()));
    assert!(flow.tasks[2].root);
    assert!(!flow.tasks[3].enabled, "iff is false in fast mode");
    let roots: Vec<&str> = flow.root_tasks().map(|t| t.name.as_str()).collect();
    assert_eq!(roots, ["demo.test", "demo.hello"]);
}

#[test]
fn overrides_set_package_and_task_parameters() {
    let flow = load_text(
        DEMO,
        &[("seed", "42"), ("mode", "slow"), ("test.extra", "-q")],
    )
    .expect("valid flow");
    let Action::Shell { body, .. } = &flow.tasks[1].action else {
        panic!("shell task");
    };
    assert!(body.starts_with("./sim --seed 42 -q "), "{body}");
    assert!(flow.tasks[3].enabled, "iff is true in slow mode");

    let error = load_text(DEMO, &[("sede", "1")]).expect_err("unknown parameter");
    assert!(
        error
            .to_string()
            .contains("no parameter 'sede' (it has: mode, seed)"),
        "{error}"
    );
    let error = load_text(DEMO, &[("nosuch.x", "1")]).expect_err("unknown task");
    assert!(error.to_string().contains("no task 'nosuch'"), "{error}");
}

#[test]
fn resolves_names_exactly_or_by_unique_suffix() {
    let flow = load_text(DEMO, &[]).expect("valid flow");
    assert_eq!(flow.resolve("demo.build"), Ok(0));
    assert_eq!(flow.resolve("build"), Ok(0));
    assert_eq!(flow.resolve("llo"), Ok(2));
    let error = flow.resolve("nope").expect_err("unknown").to_string();
    assert!(
        error.contains("root tasks: demo.test, demo.hello"),
        "{error}"
    );
    assert_eq!(flow.closure(&[3]), [0, 1, 3]);
}

fn error_of(text: &str) -> String {
    load_text(text, &[]).expect_err("invalid flow").to_string()
}

#[test]
fn the_originals_features_are_told_apart_from_mistakes() {
    let theirs = [
        (
            "package:\n  name: p\n  imports: [lib/flow.dv]\n",
            3,
            "'imports' in package",
        ),
        ("fragment:\n  tasks: []\n", 1, "'fragment' in the flow file"),
        (
            "package:\n  name: p\n  tasks:\n  - name: a\n    uses: std.FileSet\n",
            5,
            "task 'a': 'uses: std.FileSet'",
        ),
        (
            "package:\n  name: p\n  tasks:\n  - name: a\n    shell: pytask\n    run: m.f\n",
            5,
            "task 'a': 'shell: pytask'",
        ),
        (
            "package:\n  name: p\n  tasks:\n  - name: a\n    passthrough: all\n",
            5,
            "'passthrough' in a task",
        ),
        (
            "package:\n  name: p\n  tasks:\n  - name: a\n    tags: [{hdl.SimTag: {}}]\n",
            5,
            "'hdl.SimTag' in a tag",
        ),
        (
            "package:\n  name: p\n  with:\n    n: {type: int, value: 1, cli: true}\n",
            4,
            "'cli' in parameter 'n'",
        ),
    ];
    for (text, line, feature) in theirs {
        let error = load_text(text, &[]).expect_err(text);
        assert_eq!(error.theirs.as_deref(), Some(feature), "{text}");
        assert_eq!(error.line, Some(line), "{text}");
        assert!(
            error.to_string().contains("original dv-flow-mgr"),
            "{error}"
        );
    }
    // What neither accepts is a mistake, reported as such.
    for text in [
        "package:\n  name: p\n  taks: []\n",
        "package:\n  name: p\n  tasks:\n  - name: a\n    rnu: x\n",
    ] {
        assert_eq!(load_text(text, &[]).expect_err(text).theirs, None, "{text}");
    }
}

#[test]
fn errors_name_the_file_the_line_and_the_fix() {
    let cases = [
        ("package:\n  name: p\n  taks: []\n", "/src/flow.dv:3: unknown key 'taks' in package (allowed: name, desc, with, tasks)"),
        ("package:\n  name: p\n  tasks:\n  - name: a\n    rnu: x\n", "/src/flow.dv:5: unknown key 'rnu' in a task"),
        ("package:\n  name: p\n  tasks:\n  - name: a\n    needs: [b]\n", "/src/flow.dv:5: task 'a' needs 'b', which is not a task of package 'p' (tasks: a)"),
        (
            "package:\n  name: p\n  tasks:\n  - name: a\n    needs: [b]\n  - name: b\n    needs: [a]\n",
            "/src/flow.dv:4: dependency cycle: p.a -> p.b -> p.a",
        ),
        ("package:\n  name: p\n  tasks:\n  - name: a\n    run: echo ${{ sede }}\n", "/src/flow.dv:5: in 'run' of task 'a': unknown name 'sede'"),
        ("package:\n  name: p\n  tasks:\n  - name: a\n    iff: ${{ 1 + }}\n", "/src/flow.dv:5: bad iff"),
        ("package:\n  name: p\n  tasks:\n  - name: a\n  - name: a\n", "/src/flow.dv:5: task 'a' is defined twice"),
        ("package:\n  tasks: []\n", "/src/flow.dv:2: package needs a 'name'"),
        ("tasks: []\n", "/src/flow.dv:1: unknown key 'tasks' in the flow file"),
        ("package:\n  name: p\n  with:\n    n: {type: int, value: x}\n", "/src/flow.dv:4: parameter 'n': 'x' is not an int"),
        ("package:\n  name: p\n  tasks:\n  - name: a\n    tags: [{std.ResourceTag: {cores: many}}]\n", "cores must be a whole number"),
        ("package: [\n", "/src/flow.dv:2: invalid YAML"),
        ("", "the file is empty"),
    ];
    for (text, expected) in cases {
        let error = error_of(text);
        assert!(
            error.contains(expected),
            "for:\n{text}\ngot:      {error}\nexpected: {expected}"
        );
    }
}

#[test]
fn a_very_long_chain_of_needs_loads_and_orders() {
    let mut text = String::from("package:\n  name: p\n  tasks:\n  - name: t0\n");
    for i in 1..20_000 {
        text.push_str(&format!("  - name: t{i}\n    needs: [t{}]\n", i - 1));
    }
    let flow = load_text(&text, &[]).expect("valid flow");
    let last = flow.resolve("t19999").expect("last task");
    let order = flow.closure(&[last]);
    assert_eq!(order.len(), 20_000);
    assert_eq!((order[0], order[19_999]), (0, last));

    text.push_str(
        "  - name: loop\n    needs: [t19999, loop2]\n  - name: loop2\n    needs: [loop]\n",
    );
    let error = load_text(&text, &[]).expect_err("cycle").to_string();
    assert!(
        error.contains("dependency cycle: p.loop -> p.loop2 -> p.loop"),
        "{error}"
    );
}

/// Issue 26, case 1: dv-flow-libhdlsim as its docs show it. The list value
/// is no reason to refuse: the `uses:` makes it the original's, whatever
/// dfm's subset would say of the rest.
#[test]
fn a_library_flow_is_the_originals_before_any_check_of_dfms_subset() {
    let text = "package:\n  name: p\n  tasks:\n  - name: rtl\n    uses: std.FileSet\n    with:\n      include: [\"*.v\"]\n  - name: sim\n    uses: hdlsim.ivl.SimImage\n    needs: [rtl]\n    with: {top: [tb]}\n    strange: {x: [1]}\n";
    let error = load_text(text, &[]).expect_err("the original's");
    assert_eq!(
        error.theirs.as_deref(),
        Some("task 'rtl': 'uses: std.FileSet'")
    );
    assert_eq!(error.line, Some(5));
    // A mistake that comes first in the file does not hide it either.
    let text = "package:\n  name: p\n  tasks:\n  - name: a\n    run: x\n    with: {n: {type: nonsense, value: 1}}\n  - name: b\n    body: []\n";
    assert_eq!(
        load_text(text, &[])
            .expect_err("the original's")
            .theirs
            .as_deref(),
        Some("'body' in a task")
    );
}

#[test]
fn list_and_map_values_are_accepted_in_every_form_the_original_takes() {
    let text = "package:\n  name: p\n  tasks:\n  - name: t\n    with:\n      top: [tb, dut]\n      m: {k: v, n: 2}\n      tl: {type: list, value: [1, \"2\"]}\n      tm:\n        type: map\n        value: {a: [b]}\n      bare: {type: list, value: one}\n    run: echo ${{ top }} ${{ m }} ${{ tl }} ${{ tm }} ${{ bare }}\n";
    let flow = load_text(text, &[]).expect("a flow dfm runs");
    let task = &flow.tasks[0];
    let Action::Shell { body, .. } = &task.action else {
        panic!("a shell task");
    };
    assert_eq!(body, "echo [tb, dut] {k: v, n: 2} [1, 2] {a: [b]} one");
    let env: BTreeMap<&str, String> = task
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.env_value()))
        .collect();
    assert_eq!(env["top"], r#"["tb","dut"]"#);
    assert_eq!(env["m"], r#"{"k":"v","n":2}"#);
    assert_eq!(env["tl"], r#"[1,"2"]"#);
    // What neither accepts is still a mistake with its line.
    let wrong = "package:\n  name: p\n  tasks:\n  - name: t\n    with:\n      n: {type: int, value: [1]}\n    run: x\n";
    let error = load_text(wrong, &[]).expect_err("a mistake");
    assert_eq!(error.theirs, None);
    assert_eq!(error.line, Some(6));
}

#[test]
fn a_resource_tag_names_licenses_dfm_schedules() {
    let flow = load_text(
        "package:\n  name: p\n  tasks:\n  - root: sim\n    run: echo\n    tags: [{std.ResourceTag: {licenses: {vcs: 2}}}]\n",
        &[],
    )
    .expect("loads");
    let task = &flow.tasks[0];
    assert_eq!(
        task.resources.licenses,
        BTreeMap::from([("vcs".to_string(), 2)])
    );

    let bad = load_text(
        "package:\n  name: p\n  tasks:\n  - root: sim\n    run: echo\n    tags: [{std.ResourceTag: {licenses: {vcs: lots}}}]\n",
        &[],
    )
    .expect_err("not a number");
    assert!(
        bad.to_string()
            .contains("licenses.vcs must be a whole number"),
        "{bad}"
    );

    // A flow only the original runs cannot use dfm's extension: said at
    // once, not refused by the original after the handover.
    let both = load_text(
        "package:\n  name: p\n  tasks:\n  - root: sim\n    uses: std.FileSet\n    tags: [{std.ResourceTag: {licenses: {vcs: 1}}}]\n",
        &[],
    )
    .expect_err("both");
    assert!(both.theirs.is_none(), "not handed over: {both}");
    assert!(
        both.to_string()
            .contains("names 'licenses' in its std.ResourceTag")
            && both.to_string().contains("std.FileSet"),
        "{both}"
    );
}
