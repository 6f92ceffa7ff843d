//! `.dfm/journal.json`: what a daemon's successor needs to adopt its
//! workers when it dies (kill -9, out of memory, a crash) or is restarted
//! with `dfm daemon restart`: the runner, the secret and worker address the
//! workers know, and each worker job (its id, class and launch time).
//!
//! Written whole or not at all (a temporary file, synced, renamed, and the
//! folder synced) each time the set of worker jobs changes, so that after a
//! crash it names every job that may still run. A clean stop, which ends
//! every worker, removes it. A file that cannot be read, or that another
//! project's or another version's daemon wrote, is set aside with a
//! warning and the daemon starts fresh.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Bumped when what the file means changes; another is set aside.
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// The project root, to tell a journal copied from elsewhere.
    pub project: String,
    pub runner: String,
    pub secret: String,
    pub worker_host: String,
    pub worker_port: u16,
    pub workers: Vec<JournalWorker>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalWorker {
    pub worker_id: String,
    pub resource_class: String,
    pub job_id: String,
    #[serde(default)]
    pub pid: Option<u32>,
    /// Seconds since the epoch.
    pub launched_at: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a journal this dfm writes ({why})")]
    Unreadable { path: String, why: String },
    #[error("{path} belongs to the project at {project}, not this one")]
    Foreign { path: String, project: String },
}

pub struct JournalFile {
    path: PathBuf,
}

impl JournalFile {
    pub fn new(path: PathBuf) -> JournalFile {
        JournalFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal a daemon of `project` left; `None` without one.
    pub fn load(&self, project: &Path) -> Result<Option<Journal>, JournalError> {
        let path = self.path.display().to_string();
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(JournalError::Read { path, source }),
        };
        let journal: Journal =
            serde_json::from_str(&text).map_err(|e| JournalError::Unreadable {
                path: path.clone(),
                why: e.to_string(),
            })?;
        if journal.version != VERSION {
            return Err(JournalError::Unreadable {
                path,
                why: format!("version {}, this dfm writes {VERSION}", journal.version),
            });
        }
        if Path::new(&journal.project) != project {
            return Err(JournalError::Foreign {
                path,
                project: journal.project,
            });
        }
        Ok(Some(journal))
    }

    /// How long ago the journal's daemon was last alive, at most.
    pub fn age(&self) -> Option<Duration> {
        let modified = fs::metadata(&self.path).and_then(|m| m.modified()).ok()?;
        modified.elapsed().ok()
    }

    /// Moves an unusable journal out of the way (`journal.json.bad`).
    pub fn set_aside(&self) -> PathBuf {
        let aside = self.path.with_extension("json.bad");
        let _ = fs::rename(&self.path, &aside);
        aside
    }

    /// Writes `journal`, whole or not at all.
    pub fn write(&self, journal: &Journal) {
        if let Err(e) = write_synced(&self.path, journal) {
            tracing::warn!(
                "cannot write {}: {e}; a daemon started after this one dies could not adopt its workers",
                self.path.display()
            );
        }
    }

    /// A clean stop: no worker is left to adopt.
    pub fn remove(&self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// How often a running daemon touches its journal: its age then tells how
/// long ago its daemon died, at most.
pub const TOUCH_EVERY: Duration = Duration::from_secs(5);

/// What the journal's writer thread is asked to do.
enum Job {
    Write(Journal),
    Touch,
    Remove,
}

/// The daemon's journal. The core hands it each new state; a thread of its
/// own writes and syncs it (a sync can take tens of milliseconds, which the
/// core must not wait for), only the latest when several queue up.
pub struct Keeper {
    base: Journal,
    last: Option<Journal>,
    last_touch: Instant,
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Keeper {
    pub fn start(file: JournalFile, base: Journal) -> std::io::Result<Keeper> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("dfm-journal".into())
            .spawn(move || write_jobs(file, queue))?;
        Ok(Keeper {
            base,
            last: None,
            last_touch: Instant::now(),
            jobs: Some(jobs),
            writer: Some(writer),
        })
    }

    fn send(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }

    /// Records the daemon's worker jobs now.
    pub fn record(&mut self, workers: Vec<JournalWorker>) {
        let journal = Journal {
            workers,
            ..self.base.clone()
        };
        if self.last.as_ref() != Some(&journal) {
            self.last = Some(journal.clone());
            self.send(Job::Write(journal));
        }
    }

    /// Marks the journal as its daemon's, alive now, every [`TOUCH_EVERY`].
    pub fn touch_now_and_then(&mut self) {
        if self.last_touch.elapsed() >= TOUCH_EVERY && self.last.is_some() {
            self.last_touch = Instant::now();
            self.send(Job::Touch);
        }
    }

    /// A clean stop: no worker is left to adopt.
    pub fn remove(&mut self) {
        self.send(Job::Remove);
    }
}

impl Drop for Keeper {
    /// Waits until what was asked is written: the daemon exits after.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn write_jobs(file: JournalFile, queue: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        // Only the last of the jobs waiting matters.
        let job = queue.try_iter().fold(first, |_, next| next);
        match job {
            Job::Write(journal) => file.write(&journal),
            Job::Touch => {
                if let Ok(f) = File::options().write(true).open(&file.path) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
            }
            Job::Remove => file.remove(),
        }
    }
}

pub fn new_journal(project: &Path, runner: &str, secret: &str, host: &str, port: u16) -> Journal {
    Journal {
        version: VERSION,
        project: project.to_string_lossy().into_owned(),
        runner: runner.to_string(),
        secret: secret.to_string(),
        worker_host: host.to_string(),
        worker_port: port,
        workers: Vec::new(),
    }
}

fn write_synced(path: &Path, journal: &Journal) -> std::io::Result<()> {
    let partial = path.with_extension("json.partial");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&partial)?;
    let text = serde_json::to_string_pretty(journal).map_err(std::io::Error::other)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&partial, path)?;
    // The rename itself is durable once the folder is synced.
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dfm-journal-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn a_journal_written_is_read_back_and_a_damaged_one_is_refused() {
        let dir = dir("roundtrip");
        let file = JournalFile::new(dir.join("journal.json"));
        assert!(matches!(file.load(&dir), Ok(None)));
        let mut journal = new_journal(&dir, "local", "s3cret", "127.0.0.1", 4242);
        journal.workers.push(JournalWorker {
            worker_id: "ab120001".into(),
            resource_class: "big".into(),
            job_id: "123".into(),
            pid: Some(123),
            launched_at: 1_700_000_000,
        });
        file.write(&journal);
        assert_eq!(file.load(&dir).ok().flatten(), Some(journal));
        assert!(matches!(
            file.load(Path::new("/elsewhere")),
            Err(JournalError::Foreign { .. })
        ));
        let text = fs::read_to_string(file.path()).expect("read");
        fs::write(file.path(), &text[..text.len() / 2]).expect("truncate");
        assert!(matches!(
            file.load(&dir),
            Err(JournalError::Unreadable { .. })
        ));
        let aside = file.set_aside();
        assert!(aside.is_file() && !file.path().exists());
        assert!(matches!(file.load(&dir), Ok(None)));
    }
}
