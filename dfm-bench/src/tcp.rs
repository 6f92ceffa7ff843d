//! `dfm-bench --tcp BASELINE_DFM`: workers on the TCP port, through a proxy
//! that delays what it forwards as a network hop would, with this dfm (its
//! traffic sealed) and with BASELINE, another build (say one from before
//! sealing, in clear), in turns side by side: the ratio of each of this
//! dfm's runs to the baseline's run just before it.
//!
//! Both daemons bind the worker port on 127.0.0.1 and tell workers to
//! connect to 127.0.0.2, where the proxy listens on the same port; the
//! project folder's path leaves room for the client socket's path but not
//! for the worker socket's (a Unix socket's path has at most 107 bytes), so
//! no worker uses the worker socket, whichever dfm it is.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::daemon::Daemon;
use crate::measures::throughput_on;
use crate::setup::{fail, Options};
use crate::stats::median;

/// What the proxy adds to each chunk it forwards, each way.
const HOP: Duration = Duration::from_micros(100);

const CONFIG: &str = "runner:\n  worker_bind: 127.0.0.1\n  worker_host: 127.0.0.2\n";

pub(crate) fn compare(dfm: &Path, baseline: &Path, options: &Options) {
    if !baseline.is_file() {
        fail(&format!("{} is not a dfm binary", baseline.display()));
    }
    let (turns, tasks) = if options.quick { (3, 2000) } else { (5, 5000) };
    println!(
        "TCP    workers on TCP through a proxy adding {} us per hop: pool of 2, {tasks} trivial tasks, {turns} turns",
        HOP.as_micros()
    );
    let (mut theirs, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..turns {
        let b = through_proxy(baseline, tasks);
        let o = through_proxy(dfm, tasks);
        theirs.push(b);
        ours.push(o);
        ratios.push(o / b);
    }
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(0.0, f64::max);
    println!(
        "TCP    baseline {:.0} tasks/s, this dfm {:.0} tasks/s: this/baseline {:.3} [{min:.3}-{max:.3}]",
        median(&theirs),
        median(&ours),
        median(&ratios)
    );
}

/// A project folder whose `.dfm/daemon.sock` fits in a socket's path and
/// whose `.dfm/daemon.workers.sock` does not.
fn project_folder() -> std::path::PathBuf {
    let stem = std::env::temp_dir().join(format!("dfm-bench-tcp-{}-", crate::daemon::unique()));
    let length = stem.as_os_str().len();
    let root = std::path::PathBuf::from(format!(
        "{}{}",
        stem.display(),
        "x".repeat(86usize.saturating_sub(length))
    ));
    if let Err(e) = std::fs::create_dir_all(root.join(".dfm"))
        .and_then(|()| std::fs::write(root.join(".dfm/config.yaml"), CONFIG))
    {
        fail(&format!("cannot create {}: {e}", root.display()));
    }
    root
}

fn through_proxy(dfm: &Path, tasks: usize) -> f64 {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let daemon = Daemon::start_in(dfm, &project_folder(), 2, &path);
    let state: Value = std::fs::read_to_string(daemon.root.join(".dfm/daemon.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| fail("no daemon.json"));
    let port = state["worker_port"].as_u64().unwrap_or(0) as u16;
    let listener = TcpListener::bind(("127.0.0.2", port))
        .unwrap_or_else(|e| fail(&format!("cannot listen on 127.0.0.2:{port}: {e}")));
    std::thread::spawn(move || {
        for worker in listener.incoming().flatten() {
            let Ok(daemon) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let _ = (worker.set_nodelay(true), daemon.set_nodelay(true));
            for (from, to) in [(&worker, &daemon), (&daemon, &worker)] {
                if let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) {
                    std::thread::spawn(move || forward(from, to));
                }
            }
        }
    });
    let rate = throughput_on(&daemon, 2, 1, tasks);
    // Make sure the workers went through the proxy, not the worker socket.
    let logs = std::fs::read_dir(daemon.root.join(".dfm/workers"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect::<String>()
        })
        .unwrap_or_default();
    if !logs.contains(&format!("registered with 127.0.0.2:{port}")) {
        fail(&format!(
            "the workers of {} did not connect through the proxy:\n{logs}",
            dfm.display()
        ));
    }
    rate
}

fn forward(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        std::thread::sleep(HOP);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
