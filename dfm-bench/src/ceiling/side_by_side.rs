//! The cost of one thing at a time, side by side: the same pool with and
//! without it, in alternating rounds (`DFM_BENCH_CEILING=licenses` or
//! `=metrics`, and the end of a full `--ceiling`).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Point, Pool};
use crate::setup::fail;
use crate::stats::{ms, percentiles};

/// The cost of metrics: 100 workers, 4 clients, the daemon serving
/// `/metrics` to a scraper that asks every 100 ms, against the same pool
/// without, in alternating rounds.
pub(super) fn scraped_side_by_side(
    dfm: &Path,
    relay: &Path,
    runtime: &tokio::runtime::Runtime,
    seconds: f64,
) {
    let (workers, clients) = (100, 4);
    let mut scrapes = Vec::new();
    let sides = SideBySide::alternated(|scraped| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| fail(&format!("no free port: {e}")));
        let extra = if scraped {
            format!("  metrics_listen: '127.0.0.1:{port}'\n")
        } else {
            String::new()
        };
        let pool = Pool::start_with(dfm, relay, workers, runtime, &extra);
        let scraper = scraped.then(|| Scraper::start(port));
        let point = runtime.block_on(pool.measure(clients, seconds));
        if let Some(scraper) = scraper {
            scrapes.extend(scraper.stop());
        }
        pool.stop(runtime);
        point
    });
    let scrape = percentiles(scrapes.clone());
    println!(
        "CEIL   metrics: {workers} workers, {clients} clients, scraped every 100 ms ({} scrapes, p50 {}, max {}): {}",
        scrapes.len(),
        ms(scrape.p50),
        ms(scrapes.iter().max().copied().unwrap_or_default()),
        sides.summary("not served"),
    );
}

/// A Prometheus stand-in for the bench: `GET /metrics` every 100 ms, on a
/// thread of its own, timing each answer.
struct Scraper {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Duration>>,
}

impl Scraper {
    fn start(port: u16) -> Scraper {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut took = Vec::new();
            while !stopping.load(Ordering::Relaxed) {
                let started = Instant::now();
                if scrape(port).is_some() {
                    took.push(started.elapsed());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            took
        });
        Scraper { stop, thread }
    }

    fn stop(self) -> Vec<Duration> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// One scrape: the body's length.
fn scrape(port: u16) -> Option<usize> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    answer.starts_with(b"HTTP/1.1 200").then_some(answer.len())
}

/// The cost of licenses: 100 workers, 4 clients, every task holding a
/// token of a license with room for all (so none waits), against the same
/// pool without, in alternating rounds.
pub(super) fn licensed_side_by_side(
    dfm: &Path,
    relay: &Path,
    runtime: &tokio::runtime::Runtime,
    seconds: f64,
) {
    let (workers, clients) = (100, 4);
    let sides = SideBySide::alternated(|licensed| {
        let extra = if licensed {
            "  licenses: {seat: {count: 1000000}}\n  defaults: {licenses: {seat: 1}}\n"
        } else {
            ""
        };
        let pool = Pool::start_with(dfm, relay, workers, runtime, extra);
        let point = runtime.block_on(pool.measure(clients, seconds));
        pool.stop(runtime);
        point
    });
    println!(
        "CEIL   licenses: {workers} workers, {clients} clients, every task holding a token: {}",
        sides.summary("without"),
    );
}

/// Two ways of running one pool, measured in alternating rounds.
#[derive(Default)]
pub(super) struct SideBySide {
    /// Tasks per second and daemon CPU per task (µs), without and with.
    rates: [Vec<f64>; 2],
    cpu: [Vec<f64>; 2],
}

impl SideBySide {
    /// `measure` without and with, two rounds, alternated.
    pub(super) fn alternated(mut measure: impl FnMut(bool) -> Point) -> SideBySide {
        let mut sides = SideBySide::default();
        for _round in 0..2 {
            for with in [false, true] {
                let point = measure(with);
                let side = usize::from(with);
                sides.rates[side].push(point.rate);
                sides.cpu[side].push(point.cpu_per_task.as_secs_f64() * 1e6);
            }
        }
        sides
    }

    /// With, then `without` (what the other way is called), and the ratio
    /// of their rates.
    pub(super) fn summary(&self, without: &str) -> String {
        let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let (rate, cpu) = (
            self.rates.each_ref().map(mean),
            self.cpu.each_ref().map(mean),
        );
        format!(
            "{:.0} tasks/s, daemon CPU {:.1} us/task; {without}: {:.0} tasks/s, {:.1} us/task (ratio {:.2}, rounds alternated)",
            rate[1],
            cpu[1],
            rate[0],
            cpu[0],
            rate[1] / rate[0].max(1.0),
        )
    }
}
