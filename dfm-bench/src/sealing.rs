//! `dfm-bench --sealing`: what sealing worker traffic costs. The same
//! pool, tasks and transport (the worker socket) with its traffic in clear
//! and sealed (`runner.seal_local_socket`), measured in turns side by side;
//! the ratio of each sealed run to the clear run just before it.

use std::path::Path;

use crate::measures::throughput_with;
use crate::setup::Options;
use crate::stats::median;

pub(crate) fn compare(dfm: &Path, options: &Options) {
    let (turns, tasks) = if options.quick { (3, 2000) } else { (5, 5000) };
    let base = std::env::temp_dir();
    println!("SEAL   sealed vs clear worker traffic: pool of 2, {tasks} trivial tasks, 64 in flight, {turns} turns");
    let (mut clear, mut sealed, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..turns {
        let c = throughput_with(dfm, &base, 2, 1, tasks, None);
        let s = throughput_with(
            dfm,
            &base,
            2,
            1,
            tasks,
            Some("runner:\n  seal_local_socket: true\n"),
        );
        clear.push(c);
        sealed.push(s);
        ratios.push(s / c);
    }
    let range = |v: &[f64]| {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(0.0, f64::max);
        format!("[{min:.3}-{max:.3}]")
    };
    println!(
        "SEAL   clear {:.0} tasks/s, sealed {:.0} tasks/s: sealed/clear {:.3} {}",
        median(&clear),
        median(&sealed),
        median(&ratios),
        range(&ratios)
    );
}
