//! What `dfm run` shows: a live view on a terminal, one line per task
//! start and end otherwise, and always a final summary.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use dfm_wire::LicenseStatus;

use super::outcome::{json_summary, tail, TaskOutcome, TaskProgress};

/// `vcs 3/3 in use, 2 others, 7 waiting; ...`.
pub fn licenses_text(licenses: &[LicenseStatus]) -> String {
    let each: Vec<String> = licenses.iter().map(LicenseStatus::summary).collect();
    each.join("; ")
}

/// How many lines of a failed task's log the summary shows.
const FAILED_LOG_LINES: usize = 10;
/// How many running tasks the live view lists.
const LIVE_ROWS: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ui {
    /// One line per task start and end.
    Log,
    /// A live view of running tasks (needs a terminal).
    Progress,
    /// Nothing until the end (`--json`).
    #[value(skip)]
    Quiet,
}

pub struct Display {
    ui: Ui,
    total: usize,
    done: usize,
    failed: usize,
    mode: String,
    /// Lines of the live view on screen now.
    drawn: usize,
    running: Vec<(String, f64)>,
    /// The daemon's licenses, while this run has tasks waiting.
    licenses: Vec<LicenseStatus>,
    /// The log's lines, written out at each tick ([`Display::flush`]) and
    /// before anything else is printed: one write for many tasks, not two
    /// per task.
    log: std::io::BufWriter<std::io::Stdout>,
}

impl Display {
    pub fn new(ui: Ui, total: usize, mode: &str) -> Display {
        if ui != Ui::Quiet {
            eprintln!("dfm: {total} task(s) on the {mode}");
        }
        Display {
            ui,
            total,
            done: 0,
            failed: 0,
            mode: mode.to_string(),
            drawn: 0,
            running: Vec::new(),
            licenses: Vec::new(),
            log: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
        }
    }

    /// Prints a line above the live view.
    fn line(&mut self, text: &str) {
        match self.ui {
            Ui::Quiet => {}
            Ui::Log => {
                let _ = writeln!(self.log, "{text}");
            }
            Ui::Progress => {
                self.clear();
                println!("{text}");
                let running = std::mem::take(&mut self.running);
                self.redraw(&running);
            }
        }
    }

    fn clear(&mut self) {
        if self.drawn > 0 {
            print!("\x1b[{}F\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }

    pub fn started(&mut self, name: &str) {
        if self.ui == Ui::Log {
            let _ = writeln!(self.log, "start  {name}");
        }
    }

    pub fn message(&mut self, name: &str, msg: &str) {
        self.done += 1;
        self.line(&format!("note   {name}: {msg}"));
    }

    /// Writes out the log lines kept so far.
    pub fn flush(&mut self) {
        let _ = self.log.flush();
    }

    pub fn warning(&mut self, text: &str) {
        self.flush();
        self.clear();
        if self.ui != Ui::Quiet {
            eprintln!("dfm: {text}");
        }
    }

    pub fn finished(&mut self, name: &str, state: &TaskProgress, log: &Path) {
        self.done += 1;
        let text = match state {
            TaskProgress::Passed { secs } => {
                if self.ui == Ui::Progress {
                    let running = std::mem::take(&mut self.running);
                    self.redraw(&running);
                    return;
                }
                format!("pass   {name} ({secs:.2}s)")
            }
            TaskProgress::Failed {
                exit_code,
                error,
                secs,
            } => {
                self.failed += 1;
                let why = match (exit_code, error) {
                    (Some(code), _) => format!("exit {code}"),
                    (None, Some(error)) => error.clone(),
                    (None, None) => "failed".to_string(),
                };
                format!("FAIL   {name} ({why}, {secs:.2}s) log: {}", log.display())
            }
            TaskProgress::Skipped => format!("skip   {name} (iff is false)"),
            _ => return,
        };
        self.line(&text);
    }

    /// The daemon's licenses, as its status said (the live view shows
    /// them; the log says when tasks start waiting for one).
    pub fn licenses(&mut self, licenses: Vec<LicenseStatus>) {
        if self.ui == Ui::Log {
            let waiting_now = |all: &[LicenseStatus]| all.iter().any(|l| l.waiting > 0);
            if waiting_now(&licenses) && !waiting_now(&self.licenses) {
                self.line(&format!(
                    "dfm: tasks wait for licenses: {}",
                    licenses_text(&licenses)
                ));
            }
        }
        self.licenses = licenses;
    }

    /// Redraws the live view (progress mode only).
    pub fn redraw(&mut self, running: &[(String, f64)]) {
        if self.ui != Ui::Progress {
            return;
        }
        self.clear();
        let mut lines = vec![format!(
            "[{}/{} done, {} failed] running {}:",
            self.done,
            self.total,
            self.failed,
            running.len()
        )];
        if !self.licenses.is_empty() {
            lines.push(format!("  licenses: {}", licenses_text(&self.licenses)));
        }
        for (name, secs) in running.iter().take(LIVE_ROWS) {
            lines.push(format!("  {name:<40} {secs:>7.1}s"));
        }
        if running.len() > LIVE_ROWS {
            lines.push(format!("  ... and {} more", running.len() - LIVE_ROWS));
        }
        let mut out = std::io::stdout().lock();
        for line in &lines {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
        self.drawn = lines.len();
        self.running = running.to_vec();
    }

    pub fn summary(
        &mut self,
        package: &str,
        outcomes: &[TaskOutcome],
        wall: Duration,
        as_json: bool,
    ) {
        self.flush();
        self.clear();
        if as_json {
            println!("{}", json_summary(package, outcomes, wall, &self.mode));
            return;
        }
        let passed = outcomes
            .iter()
            .filter(|o| matches!(o.state, TaskProgress::Passed { .. }))
            .count();
        let failed: Vec<&TaskOutcome> = outcomes
            .iter()
            .filter(|o| matches!(o.state, TaskProgress::Failed { .. }))
            .collect();
        let skipped = outcomes.len() - passed - failed.len();
        println!(
            "{package}: {passed} passed, {} failed, {skipped} skipped in {:.2}s ({})",
            failed.len(),
            wall.as_secs_f64(),
            self.mode
        );
        for outcome in failed {
            let TaskProgress::Failed {
                exit_code, error, ..
            } = &outcome.state
            else {
                continue;
            };
            match (exit_code, error) {
                (Some(code), _) => println!(
                    "FAILED {} (exit {code}), log: {}",
                    outcome.name,
                    outcome.log.display()
                ),
                (None, Some(error)) => println!("FAILED {}: {error}", outcome.name),
                (None, None) => println!("FAILED {}", outcome.name),
            }
            for line in tail(&outcome.log, FAILED_LOG_LINES) {
                println!("    | {line}");
            }
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.flush();
    }
}
