//! `dfm-bench`: measures what a task costs through dfm against what the
//! machine can do at best (spawning the same command directly), using the
//! daemon's real socket protocol like any client.
//!
//! Run it from a release build: `cargo build --release --workspace &&
//! ./target/release/dfm-bench` (`--quick` for a short run). Every figure is
//! the median of repeated runs, with min–max, and its ratio to the limit.

mod ceiling;
mod daemon;
mod floor;
mod limits;
mod measures;
mod original;
mod pool_core;
mod probes;
mod sealing;
mod setup;
mod stats;
mod tcp;

use std::path::{Path, PathBuf};

use daemon::remove_leftovers;
use limits::{
    own_spawn_lane, own_spawn_rate, own_spawn_times, spawn_latency, spawn_rate, spawn_throughput,
};
use measures::{cold_start, flow_run, memory, throughput, warm_round_trip};
use pool_core::pool_curve;
use setup::{fail, Failure, Options, COMMAND, SHELL};
use stats::{between_limits, median, ms, ms_range, rate, ratio};

const USAGE: &str = "usage: dfm-bench [--quick] [--original] | --pool-core | --ceiling [--quick] | --sealing [--quick] | --tcp BASELINE_DFM [--quick]

Measures the spawn limit, a no-logic floor and dfm on `bash -c true`
tasks, then the original dv-flow-mgr's tasks through dfm's daemon and the
original's (with DFM_UPSTREAM_PYTHON, a Python with dv-flow-mgr 1.20);
see README.md. A full run takes about 25 minutes, --quick about two.
--original measures only the original's tasks; --pool-core only the
pool's decision core (seconds, no processes); --ceiling only the daemon,
with 10 to 10,000 workers of the bench's own that answer at once
(DFM_BENCH_CEILING=WxC one point; =licenses, =metrics or =monitor one
cost, side by side; DFM_BENCH_SEALED=1 its workers' traffic sealed;
DFM_BENCH_PER_WORKER tasks in flight per worker, 2 by default;
DFM_BENCH_STATUS_EVERY milliseconds between status.get, 100 by default);
--sealing what sealing worker traffic costs, sealed
and clear side by side; --tcp workers on TCP through a delaying proxy,
this dfm against another build. Run it on an otherwise idle machine.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = std::panic::catch_unwind(|| match args.first().map(String::as_str) {
        Some("--floor-relay") => floor::relay(&args[1..]),
        Some("--floor-worker") => floor::worker(&args[1..]),
        Some("--own-spawn-lane") => own_spawn_lane(&args[1..]),
        Some("--pool-core") if args.len() == 1 => pool_curve(&Options {
            repeat: 5,
            quick: false,
        }),
        Some("--ceiling") => ceiling::curve(&own_dfm(), &one_pass(&args)),
        Some("--sealing") => sealing::compare(&own_dfm(), &one_pass(&args)),
        Some("--tcp") => match args.get(1) {
            Some(baseline) => tcp::compare(&own_dfm(), Path::new(baseline), &one_pass(&args)),
            None => fail(&format!(
                "--tcp needs the baseline dfm to compare with\n{USAGE}"
            )),
        },
        Some("-h" | "--help") => println!("{USAGE}"),
        _ => {
            let quick = args.iter().any(|a| a == "--quick");
            let only_original = args.iter().any(|a| a == "--original");
            if args.iter().any(|a| a != "--quick" && a != "--original") {
                fail(&format!("unexpected arguments {args:?}\n{USAGE}"));
            }
            bench(quick, only_original)
        }
    });
    remove_leftovers();
    if let Err(payload) = outcome {
        match payload.downcast_ref::<Failure>() {
            Some(Failure(message)) => eprintln!("dfm-bench: {message}"),
            None => eprintln!("dfm-bench: internal error (see the panic above)"),
        }
        std::process::exit(1);
    }
}

/// The `dfm` beside this bench.
fn own_dfm() -> std::path::PathBuf {
    std::env::current_exe()
        .map(|exe| exe.with_file_name("dfm"))
        .unwrap_or_default()
}

/// One pass of a measurement, `--quick` or not.
fn one_pass(args: &[String]) -> Options {
    Options {
        repeat: 1,
        quick: args.iter().any(|a| a == "--quick"),
    }
}

fn bench(quick: bool, only_original: bool) {
    let options = Options {
        repeat: if quick { 3 } else { 5 },
        quick,
    };
    let dfm = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name("dfm"),
        Err(e) => fail(&format!("cannot find this executable: {e}")),
    };
    if !dfm.is_file() {
        fail(&format!(
            "{} is missing: build the workspace first",
            dfm.display()
        ));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "dfm-bench: `{SHELL} -c {COMMAND}` tasks, {cores} cores, median of {} runs [min-max]",
        options.repeat
    );
    println!();
    if only_original {
        original::side_by_side(&dfm, Path::new("/dev/shm"), &options);
        return;
    }

    let limit_1 = spawn_latency(&options);
    let lanes = cores.min(2);
    let limit_n = spawn_throughput(lanes, &options);
    println!(
        "LIMIT  spawn+wait, 1 lane:   p50 {}  p99 {}",
        ms(limit_1.p50),
        ms(limit_1.p99)
    );
    println!("LIMIT  spawn+wait, {lanes} lanes:  {}", rate(&limit_n));
    let own_1 = own_spawn_times(if options.quick { 300 } else { 1000 });
    let own_n: Vec<f64> = (0..options.repeat)
        .map(|_| own_spawn_rate(lanes, if options.quick { 1000 } else { 2000 }))
        .collect();
    println!(
        "LIMIT  dfm's own spawn (the worker's, log file included), 1 lane:   p50 {}  p99 {}",
        ms(own_1.p50),
        ms(own_1.p99)
    );
    println!("LIMIT  the same, {lanes} lanes:  {}", rate(&own_n));
    println!();

    // The speed of this machine drifts with its neighbours' load, by more
    // than the differences measured here: every ratio sets a measurement
    // against the limit measured just before and just after it (see
    // `between_limits`), and is the median of those ratios [min-max].
    let floor = floor::measure(lanes, &options);
    println!(
        "FLOOR  client -> relay -> worker -> spawn, no logic, 1 lane:  p50 {}   ratio to spawn {}",
        ms(floor.round_trip),
        ratio(&floor.round_trip_ratios)
    );
    println!(
        "FLOOR  the same, {lanes} workers, 64 in flight:  {}   ratio to spawn limit {}",
        rate(&floor.throughput),
        ratio(&floor.throughput_ratios)
    );
    println!();

    let base_dirs = [
        ("tmpfs", PathBuf::from("/dev/shm")),
        ("disk", std::env::temp_dir()),
    ];
    for (fs, base) in &base_dirs {
        if !base.is_dir() {
            continue;
        }
        let (rtt, ratios) = warm_round_trip(&dfm, base, &options);
        println!(
            "DFM    warm round trip ({fs}):  p50 {}  p99 {}   ratio to spawn {}, to floor {:.2}, to own spawn {:.2}",
            ms(rtt.p50),
            ms(rtt.p99),
            ratio(&ratios),
            rtt.p50.as_secs_f64() / floor.round_trip.as_secs_f64(),
            rtt.p50.as_secs_f64() / own_1.p50.as_secs_f64()
        );
    }
    println!();

    let sizes: &[usize] = if options.quick {
        &[1000]
    } else {
        &[1000, 10000]
    };
    for (fs, base) in &base_dirs {
        if !base.is_dir() || (options.quick && *fs == "disk") {
            continue;
        }
        for &tasks in sizes {
            for pool in [1usize, 2, 4] {
                for clients in [1usize, 4] {
                    let (runs, ratios) = between_limits(
                        options.repeat,
                        || spawn_rate(pool.min(lanes), 1000),
                        || throughput(&dfm, base, pool, clients, tasks),
                    );
                    let to_floor = if pool == lanes {
                        format!(
                            ", to floor {:.2}, to own spawn {:.2}",
                            median(&runs) / median(&floor.throughput),
                            median(&runs) / median(&own_n)
                        )
                    } else {
                        String::new()
                    };
                    println!(
                        "DFM    {tasks:>5} tasks, pool {pool}, {clients} client(s), 64 in flight ({fs}):  {}   ratio to spawn limit {}{to_floor}",
                        rate(&runs),
                        ratio(&ratios)
                    );
                }
            }
        }
    }
    println!();

    // What a user sees: `dfm run` of a flow, dependency tracking and
    // display included.
    let flow_tasks = if options.quick { 2000 } else { 5000 };
    let mut cpu = Vec::new();
    let (runs, ratios) = between_limits(
        options.repeat,
        || spawn_rate(lanes, 1000),
        || {
            let (run, client_cpu) = flow_run(&dfm, &base_dirs[0].1, lanes, flow_tasks);
            cpu.push(client_cpu);
            run
        },
    );
    println!(
        "DFM    `dfm run` of a flow of {flow_tasks} tasks and one that needs them all, pool {lanes}, --jobs 64 (tmpfs):  {}   ratio to spawn limit {}   `dfm run` CPU {:.0} us per task",
        rate(&runs),
        ratio(&ratios),
        median(&cpu)
    );
    println!();

    let (start, first) = cold_start(&dfm, &base_dirs[0].1, &options);
    println!("DFM    daemon start -> ready:  {}", ms_range(&start));
    println!("DFM    first task on a cold pool:  {}", ms_range(&first));
    let rss = memory(&dfm, &base_dirs[0].1);
    println!(
        "DFM    RSS: daemon idle {} KiB, worker idle {} KiB, daemon with 10000 queued {} KiB",
        rss.daemon_idle, rss.worker_idle, rss.daemon_queued
    );
    println!("DFM    files written per task: {}", rss.files_per_task);
    println!();

    original::side_by_side(&dfm, &base_dirs[0].1, &options);
    println!();

    pool_curve(&options);
}
