//! A corpus someone else wrote: the original dv-flow-mgr's own unit tests
//! (`tests/upstream/corpus/tests/unit`, from the commit pinned in `COMMIT`),
//! which build flows inline and run them with `TaskSetRunner`, run with
//! every runner routed through dfm's daemon (`dfm_route.py`). Their outcomes
//! in-process and through the original's own daemon are recorded in
//! `outcomes.json` (`scripts/corpus.sh record` regenerates them); no test
//! that passes through the original's daemon may fail through ours.
//!
//! Needs the original from PyPI with pytest (`tests/upstream/requirements.txt`;
//! see `dfm_e2e::upstream`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use dfm_e2e::upstream::Original;
use dfm_e2e::{copy_dir, describe, dfm_path};

/// Outcome by test id.
type Outcomes = BTreeMap<String, String>;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("upstream/corpus")
}

/// One pytest run of `tests` (the whole corpus when empty) in `dir`, routed
/// through dfm's daemon.
fn run_through_ours(original: &Original, dir: &Path, tests: &[&str]) -> Outcomes {
    let out = dir.join(format!("outcomes-{}.json", tests.len()));
    let mut command = Command::new(original.python());
    command
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "dfm_route",
        ])
        .args(["--timeout", "120"])
        .args(if tests.is_empty() {
            &["tests/unit"][..]
        } else {
            tests
        })
        .current_dir(dir)
        .env("PYTHONPATH", dir)
        .env("DFM_CORPUS_DAEMON", "ours")
        .env("DFM_CORPUS_DFM", dfm_path())
        .env("DFM_CORPUS_OUTCOMES", &out)
        .env("PATH", original.activated_path())
        .stdin(Stdio::null());
    let output = command.output().expect("run pytest");
    let text = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("pytest wrote no outcomes ({e}): {}", describe(&output)));
    serde_json::from_str(&text).expect("outcomes as JSON")
}

fn passed(outcomes: &Outcomes) -> usize {
    outcomes.values().filter(|o| *o == "passed").count()
}

#[ignore = "needs the original and pytest: tests/upstream/requirements.txt (scripts/test-all.sh)"]
#[test]
fn the_originals_own_unit_tests_pass_through_our_daemon_wherever_they_pass_through_its_own() {
    let original = Original::find();
    original.needs(&["pytest", "pytest_timeout"]);
    let recorded: BTreeMap<String, BTreeMap<String, String>> = serde_json::from_str(
        &std::fs::read_to_string(corpus_dir().join("outcomes.json")).expect("outcomes.json"),
    )
    .expect("outcomes.json is JSON");
    let column = |mode: &str| -> Outcomes {
        recorded
            .iter()
            .map(|(test, by_mode)| (test.clone(), by_mode[mode].clone()))
            .collect()
    };
    let (in_process, theirs) = (column("in-process"), column("theirs"));

    // A copy: the tests write next to themselves.
    let dir = std::env::temp_dir().join(format!("dfm-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&corpus_dir(), &dir);
    let started = Instant::now();
    let mut ours = run_through_ours(&original, &dir, &[]);
    let took = started.elapsed();

    // The same tests ran: none lost, none added.
    let names = |o: &Outcomes| o.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&ours),
        names(&theirs),
        "not the same tests as recorded"
    );

    // What passes through the original's daemon passes through ours; a
    // test that fails is given one more try (a loaded machine), and named.
    let behind = |ours: &Outcomes| -> Vec<String> {
        theirs
            .iter()
            .filter(|(test, outcome)| *outcome == "passed" && ours[*test] != "passed")
            .map(|(test, _)| test.clone())
            .collect()
    };
    let first_try = behind(&ours);
    if !first_try.is_empty() {
        let ids: Vec<&str> = first_try.iter().map(String::as_str).collect();
        ours.extend(run_through_ours(&original, &dir, &ids));
    }
    let still = behind(&ours);
    eprintln!(
        "corpus: {} tests; passed in-process {}, through the original's daemon {}, through dfm's {} \
         ({:.0} s through dfm's; {} passed only on a second try: {:?})",
        ours.len(),
        passed(&in_process),
        passed(&theirs),
        passed(&ours),
        took.as_secs_f64(),
        first_try.len() - still.len(),
        first_try.iter().filter(|t| !still.contains(t)).collect::<Vec<_>>(),
    );
    assert!(
        still.is_empty(),
        "these pass through the original's daemon but not through dfm's: {still:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
