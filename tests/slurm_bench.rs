//! `scripts/slurm-bench.sh` (dfm against one `sbatch` per task, a job array
//! and HyperQueue on a real SLURM) and `scripts/slurm-start-latency.sh` kept
//! working: a short run of each, on the one-node SLURM the other tests use.
//! A test binary of its own, so that no other test's jobs share SLURM with
//! it. HyperQueue is left out here (its `hq` is built by hand, outside CI:
//! see the script).

use std::path::Path;
use std::process::Command;

use dfm_e2e::{describe, dfm_path, needs};

#[ignore = "needs SLURM: scripts/slurm-up.sh, as root"]
#[test]
fn the_slurm_side_by_side_runs_every_way_to_the_end_and_reports_each() {
    needs::slurm();
    let cpus = Command::new("sinfo")
        .args(["-h", "-o", "%c"])
        .output()
        .expect("run sinfo");
    let cpus = String::from_utf8_lossy(&cpus.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/slurm-bench.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg("1")
        .env("DFM", dfm_path())
        .env("HQ", "")
        .env("DFM_BENCH_LENGTHS", "0.05")
        .env("DFM_BENCH_TASKS", "16")
        .env("DFM_BENCH_SLOTS", &cpus)
        .output()
        .expect("run scripts/slurm-bench.sh");
    // It exits non-zero if any way ran fewer tasks than it was given.
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for how in [
        "local-floor",
        "sbatch-each",
        "array",
        "dfm-cold",
        "dfm-warm",
        "dfm-srun-cold",
        "dfm-srun-warm",
    ] {
        let row = stdout
            .lines()
            .find(|line| line.split_whitespace().nth(3) == Some(how))
            .unwrap_or_else(|| panic!("no row for {how}:\n{stdout}"));
        let fields: Vec<f64> = row
            .split_whitespace()
            .skip(4)
            .map(|f| f.parse().unwrap_or(f64::NAN))
            .collect();
        let [makespan, first, over_ideal] = fields[..] else {
            panic!("not a makespan, a first result and a ratio: {row}");
        };
        // No task took less than its 0.05 s, and the first ended before the last.
        assert!(first >= 0.05 && first <= makespan, "{row}");
        assert!(over_ideal >= 0.99, "{row}");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HyperQueue is left out"), "{stderr}");
    assert!(
        !stdout.contains("hq-cold"),
        "HyperQueue ran without an hq: {stdout}"
    );
    // In the same test: it too needs SLURM to itself.
    start_latency_reports_every_way();
}

/// `scripts/slurm-start-latency.sh` runs each way to the end and prints a
/// time for each.
fn start_latency_reports_every_way() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/slurm-start-latency.sh");
    let output = Command::new("bash")
        .args([script.as_os_str(), "2".as_ref()])
        .output()
        .expect("run scripts/slurm-start-latency.sh");
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for way in ["sbatch", "array", "srun", "salloc"] {
        let row = stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(way))
            .unwrap_or_else(|| panic!("no row for {way}:\n{stdout}"));
        let times: Vec<f64> = row
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(f64::NAN))
            .collect();
        assert_eq!(times.len(), 2, "{row}");
        assert!(times.iter().all(|t| *t > 0.0 && *t < 60.0), "{row}");
    }
}
