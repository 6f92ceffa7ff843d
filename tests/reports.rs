//! What `dfm run` tells of a run: each task's measurements, and the
//! `--report` bundle, checked with what others read it with: the original's
//! own `--report` on the same flow, junitparser and Jenkins' JUnit XSD,
//! a headless chromium.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use dfm_e2e::upstream::Original;
use dfm_e2e::{describe, needs, TestProject};
use serde_json::Value;

fn write_flow(project: &TestProject, text: &str) {
    std::fs::write(project.root.join("flow.dv"), text).expect("write flow.dv");
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A task that works for its CPU and holds 64 MiB: its measurements say
/// where it ran, that it was its first attempt, and what it cost.
#[test]
fn each_tasks_measurements_say_where_when_and_what_it_cost() {
    let project = TestProject::new("measured");
    write_flow(
        &project,
        r#"
package:
  name: m
  tasks:
  - root: work
    run: python3 -c "b = bytearray(64 << 20); b[::4096] = b'x' * len(b[::4096]); sum(i * i for i in range(2_000_000))"
"#,
    );
    let output = project.dfm(&["run", "--json", "work"]);
    assert!(output.status.success(), "{}", describe(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("a JSON summary");
    let m = &summary["tasks"][0]["measurements"];
    for key in ["worker_id", "host", "job_id"] {
        assert!(
            m[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key}: {m:#}"
        );
    }
    assert_eq!(m["attempt"], 1, "{m:#}");
    let at = |key: &str| m[key].as_f64().unwrap_or_else(|| panic!("{key}: {m:#}"));
    assert!(
        at("queued_at") <= at("started_at") && at("started_at") <= at("ended_at"),
        "{m:#}"
    );
    assert!(at("queue_wait_secs") >= 0.0, "{m:#}");
    // Two million squares are well over a tenth of a CPU second anywhere.
    assert!(at("cpu_user_secs") + at("cpu_system_secs") > 0.1, "{m:#}");
    assert!(at("max_rss_kib") > 64.0 * 1024.0, "{m:#}");
}

const FLOW: &str = r#"
package:
  name: p
  tasks:
  - name: a
    run: echo "hello from a"
  - name: b
    needs: [a]
    run: echo "b says"; echo "more of b"
  - name: c
    needs: [a]
    run: echo c
  - root: all
    needs: [b, c]
    run: echo all
  - name: fails
    needs: [a]
    run: echo "about to fail"; exit 3
  - root: broken
    needs: [fails]
    run: echo never
"#;

/// `report.json` as read by a `dvflow-report/1` reader: its rundirs made
/// relative to the project, dfm's own `dfm` keys and the time left out.
fn comparable_report(project: &TestProject, dir: &Path) -> Value {
    let mut report = read_json(&dir.join("report.json"));
    report["generated_unix"] = Value::Null;
    let root = project.root.display().to_string();
    let mut tasks: BTreeMap<String, Value> = BTreeMap::new();
    for task in report["tasks"].as_array().cloned().unwrap_or_default() {
        let mut task = task;
        if let Some(object) = task.as_object_mut() {
            object.remove("dfm");
        }
        let rundir = task["rundir"]
            .as_str()
            .unwrap_or_default()
            .replace(&root, "<root>");
        task["rundir"] = Value::String(rundir);
        let log = task["log"].as_str().map(|log| {
            std::fs::read_to_string(dir.join(log)).unwrap_or_else(|e| panic!("{log}: {e}"))
        });
        task["log_text"] = serde_json::json!(log);
        tasks.insert(task["name"].as_str().unwrap_or_default().to_string(), task);
    }
    report["tasks"] = serde_json::json!(tasks);
    report
}

/// The same shell-only flow, run by the original in-process and by dfm,
/// both with `--report`: the same `report.json` (but dfm's measurements,
/// under a key of its own), the same logs, the same `report.md` but the
/// times. Where a task fails, the original's shell adds a marker of its
/// own ("Command failed: ..."), which dfm's does not: that run compares
/// all but the markers.
#[ignore = "needs the original: pip install -r tests/upstream/requirements.txt, then DFM_UPSTREAM_PYTHON"]
#[test]
fn the_report_bundle_is_the_originals_with_dfms_measurements() {
    let original = Original::find();
    for (root, failing) in [("all", false), ("broken", true)] {
        let theirs = TestProject::new(&format!("report-orig-{root}"));
        let ours = TestProject::new(&format!("report-ours-{root}"));
        for project in [&theirs, &ours] {
            write_flow(project, FLOW);
        }
        let run = original
            .command(&theirs, &["run", "-u", "log", "--report", "rep", root])
            .output()
            .expect("run the original");
        assert_eq!(run.status.success(), !failing, "{}", describe(&run));
        let run = ours.dfm(&["run", "-u", "log", "--report", "rep", root]);
        assert_eq!(run.status.success(), !failing, "{}", describe(&run));

        let mut expected = comparable_report(&theirs, &theirs.root.join("rep"));
        let mut actual = comparable_report(&ours, &ours.root.join("rep"));
        if failing {
            for report in [&mut expected, &mut actual] {
                report["counts"]["markers"] = Value::Null;
                for task in report["tasks"]
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|t| t.values_mut())
                {
                    task["markers"] = Value::Null;
                }
            }
        }
        assert_eq!(actual, expected, "report.json of {root}");

        let report = read_json(&ours.root.join("rep/report.json"));
        for task in report["tasks"].as_array().into_iter().flatten() {
            assert!(task["dfm"]["worker_id"].is_string(), "{task:#}");
        }
        if !failing {
            let md = |project: &TestProject| {
                let text =
                    std::fs::read_to_string(project.root.join("rep/report.md")).expect("report.md");
                let mut lines: Vec<String> = text
                    .lines()
                    .map(|line| match line.rsplit_once("| ") {
                        Some((row, _time)) if line.starts_with("| ") => format!("{row}|"),
                        _ => line.to_string(),
                    })
                    .collect();
                lines.sort();
                lines
            };
            assert_eq!(md(&ours), md(&theirs), "report.md of {root}");
        }
    }
}

/// Runs the failing flow with `--report` through dfm; the bundle's folder.
fn failing_run_report(name: &str) -> (TestProject, std::path::PathBuf) {
    let project = TestProject::new(name);
    write_flow(&project, FLOW);
    let run = project.dfm(&[
        "run", "-u", "log", "-j", "2", "--report", "rep", "broken", "all",
    ]);
    assert!(!run.status.success(), "{}", describe(&run));
    let dir = project.root.join("rep");
    (project, dir)
}

/// `junit.xml` is valid for the JUnit XSD Jenkins checks reports with, and
/// junitparser (what GitLab-style tools use) reads a testcase per task:
/// the failure with its log's end, tasks not run as skipped.
#[ignore = "needs xmllint (apt-get install libxml2-utils) and junitparser (pip install -r tests/upstream/requirements.txt)"]
#[test]
fn junit_xml_is_valid_for_jenkins_xsd_and_junitparser() {
    needs::program("xmllint", &["--version"], "apt-get install libxml2-utils");
    let original = Original::find();
    original.needs(&["junitparser"]);
    let (_project, dir) = failing_run_report("report-junit");
    let junit = dir.join("junit.xml");
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit/junit-10.xsd");
    let valid = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&junit)
        .output()
        .expect("run xmllint");
    assert!(valid.status.success(), "{}", describe(&valid));

    let script = r#"
import json, sys
from junitparser import JUnitXml, Failure, Skipped
cases = {}
for suite in JUnitXml.fromfile(sys.argv[1]):
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        text = [r.text or "" for r in case.result]
        cases[case.classname + "." + case.name] = {"kinds": kinds, "text": text, "time": case.time,
                                                   "out": case.system_out or ""}
print(json.dumps(cases))
"#;
    let read = Command::new(original.python())
        .args(["-c", script])
        .arg(&junit)
        .output()
        .expect("run junitparser");
    assert!(read.status.success(), "{}", describe(&read));
    let cases: Value = serde_json::from_slice(&read.stdout).expect("JSON");
    let mut names: Vec<&String> = cases.as_object().expect("cases").keys().collect();
    names.sort();
    assert_eq!(
        names,
        ["p.a", "p.all", "p.b", "p.broken", "p.c", "p.fails"],
        "{cases:#}"
    );
    assert_eq!(
        cases["p.fails"]["kinds"],
        serde_json::json!(["Failure"]),
        "{cases:#}"
    );
    let failure = cases["p.fails"]["text"][0].as_str().unwrap_or_default();
    assert!(
        failure.contains("about to fail"),
        "the log's end: {failure}"
    );
    assert_eq!(
        cases["p.broken"]["kinds"],
        serde_json::json!(["Skipped"]),
        "{cases:#}"
    );
    assert_eq!(cases["p.a"]["kinds"], serde_json::json!([]), "{cases:#}");
    let out = cases["p.a"]["out"].as_str().unwrap_or_default();
    assert!(
        out.contains("dfm.worker=") && out.contains("dfm.attempt=1"),
        "{out}"
    );
}

/// `trace.json` has the structure Perfetto and chrome://tracing load: a
/// complete event per task that ran, on its worker's lane, named by
/// metadata; queue waits as balanced async begin/end pairs; an arrow (a
/// flow start and finish) from each need that ran to what needed it.
#[test]
fn trace_json_has_a_lane_per_worker_and_balanced_events() {
    let (_project, dir) = failing_run_report("report-trace");
    let trace = read_json(&dir.join("trace.json"));
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let of = |ph: &str| events.iter().filter(|e| e["ph"] == ph).collect::<Vec<_>>();
    let report = read_json(&dir.join("report.json"));
    let ran = report["tasks"].as_array().expect("tasks");
    let tasks: Vec<&Value> = of("X").into_iter().filter(|e| e["cat"] == "task").collect();
    assert_eq!(tasks.len(), ran.len(), "{trace:#}");
    // The pool's workers started during the run: each lane's start, once.
    let starts: Vec<&Value> = of("X")
        .into_iter()
        .filter(|e| e["cat"] == "worker")
        .collect();
    assert!(!starts.is_empty(), "{trace:#}");
    let lanes_started: std::collections::BTreeSet<String> = starts
        .iter()
        .map(|e| format!("{}/{}", e["pid"], e["tid"]))
        .collect();
    assert_eq!(
        lanes_started.len(),
        starts.len(),
        "one start per lane: {trace:#}"
    );
    for task in &tasks {
        assert!(task["dur"].as_i64().is_some_and(|d| d >= 0), "{task}");
        assert!(task["args"]["worker_id"].is_string(), "{task}");
    }
    let workers: std::collections::BTreeSet<&str> = ran
        .iter()
        .filter_map(|t| t["dfm"]["worker_id"].as_str())
        .collect();
    let lanes: Vec<&Value> = of("M")
        .into_iter()
        .filter(|e| e["name"] == "thread_name")
        .collect();
    assert_eq!(lanes.len(), workers.len(), "a lane per worker: {trace:#}");
    let mut open: BTreeMap<String, i64> = BTreeMap::new();
    for event in events {
        let id = event["id"].to_string();
        match event["ph"].as_str() {
            Some("b") => *open.entry(id).or_default() += 1,
            Some("e") => *open.entry(id).or_default() -= 1,
            _ => {}
        }
    }
    assert!(
        open.values().all(|n| *n == 0),
        "unbalanced async events: {open:?}"
    );
    let (starts, finishes) = (of("s"), of("f"));
    assert_eq!(starts.len(), finishes.len());
    // An arrow for each need that ran, of a task that ran (after the
    // failure, dfm starts nothing new: which ran depends on the order).
    let ran: std::collections::BTreeSet<&str> =
        ran.iter().filter_map(|t| t["name"].as_str()).collect();
    let needs = [
        ("p.a", "p.b"),
        ("p.a", "p.c"),
        ("p.a", "p.fails"),
        ("p.b", "p.all"),
        ("p.c", "p.all"),
        ("p.fails", "p.broken"),
    ];
    let arrows: Vec<String> = needs
        .iter()
        .filter(|(need, task)| ran.contains(need) && ran.contains(task))
        .map(|(need, task)| format!("{need} -> {task}"))
        .collect();
    let mut drawn: Vec<String> = starts
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    drawn.sort();
    assert_eq!(drawn, arrows, "{trace:#}");
}

/// `report.html` needs nothing from the network, and a real browser draws
/// it: a screenshot that is not blank, and a lane per worker used.
#[ignore = "needs chromium: apt-get install chromium"]
#[test]
fn report_html_is_drawn_by_a_real_browser_with_a_lane_per_worker() {
    needs::program("chromium", &["--version"], "apt-get install chromium");
    let (project, dir) = failing_run_report("report-html");
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    for outside in ["http://", "https://", "<script", "<link"] {
        assert!(
            !page.contains(outside),
            "the page fetches nothing: {outside}"
        );
    }
    let report = read_json(&dir.join("report.json"));
    let workers: std::collections::BTreeSet<&str> = report["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["dfm"]["worker_id"].as_str())
        .collect();
    let chromium = |extra: &[&str]| {
        let output = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(extra)
            .arg(format!("file://{}", dir.join("report.html").display()))
            .env("HOME", project.home())
            .output()
            .expect("run chromium");
        assert!(output.status.success(), "{}", describe(&output));
        output
    };
    let dom = chromium(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(
        dom.matches("class=\"lane\"").count(),
        workers.len(),
        "{dom}"
    );
    assert!(dom.contains("class=\"task\""), "{dom}");

    let shot = dir.join("report.png");
    chromium(&[
        "--window-size=1200,700",
        &format!("--screenshot={}", shot.display()),
    ]);
    let decoder = png::Decoder::new(std::fs::File::open(&shot).expect("the screenshot"));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).expect("its pixels");
    let pixels = &pixels[..frame.buffer_size()];
    let step = frame.color_type.samples();
    let colours: std::collections::BTreeSet<&[u8]> = pixels.chunks(step).collect();
    // Text, the red failure and the green passes, the lanes' shading.
    assert!(
        colours.len() > 20,
        "a blank page: {} colours",
        colours.len()
    );
    let red = pixels
        .chunks(step)
        .filter(|p| p[0] > 180 && p[1] < 70 && p[2] < 80)
        .count();
    assert!(
        red > 100,
        "the failed task's red bar is drawn: {red} red pixels"
    );
}

/// The trace the original writes (`rundir/log/<root>.trace.json`): its
/// task events by name and phase, with their status, in a comparable form
/// (times and thread ids are the run's own).
fn comparable_trace(project: &TestProject, root: &str) -> Vec<String> {
    let trace = read_json(&project.root.join(format!("rundir/log/{root}.trace.json")));
    let mut events: Vec<String> = trace["traceEvents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["cat"] == "task" || e["cat"] == "flow")
        .map(|e| {
            format!(
                "{} {} {} {}",
                e["cat"], e["name"], e["ph"], e["args"]["status"]
            )
        })
        .collect();
    events.sort();
    events
}

/// The original's own `dfm run --report` and its trace, through dfm's
/// daemon, give what they give in-process and through its own daemon:
/// the same report (but for what its client drops from any daemon's
/// result: markers' locations; none here) and the same trace events.
#[ignore = "needs the original: pip install -r tests/upstream/requirements.txt, then DFM_UPSTREAM_PYTHON"]
#[test]
fn the_originals_report_and_trace_through_our_daemon_are_as_in_process() {
    let original = Original::find();
    let in_process = TestProject::new("their-report-alone");
    let through_theirs = TestProject::new("their-report-theirs");
    let through_ours = TestProject::new("their-report-ours");
    for project in [&in_process, &through_theirs, &through_ours] {
        write_flow(project, FLOW);
    }
    let run = |project: &TestProject| {
        let output = original
            .command(project, &["run", "-u", "log", "--report", "rep", "all"])
            .output()
            .expect("run the original");
        assert!(output.status.success(), "{}", describe(&output));
    };
    run(&in_process);
    {
        let _theirs = original.start_its_daemon(&through_theirs);
        run(&through_theirs);
    }
    through_ours.start_daemon(&["--pool-size", "2"]);
    run(&through_ours);
    let tasks = through_ours.status()["completed_tasks"].as_u64();
    assert_eq!(tasks, Some(4), "the tasks ran on dfm's daemon");
    let stop = through_ours.dfm(&["daemon", "stop"]);
    assert!(stop.status.success(), "{}", describe(&stop));

    let expected = comparable_report(&in_process, &in_process.root.join("rep"));
    let trace = comparable_trace(&in_process, "p");
    let begun = trace.iter().filter(|e| e.contains(" \"B\" ")).count();
    assert_eq!(begun, 4, "a span per task: {trace:?}");
    for (how, project) in [("their daemon", &through_theirs), ("ours", &through_ours)] {
        let report = comparable_report(project, &project.root.join("rep"));
        assert_eq!(report, expected, "report.json through {how}");
        assert_eq!(
            comparable_trace(project, "p"),
            comparable_trace(&in_process, "p"),
            "trace through {how}"
        );
    }
}
