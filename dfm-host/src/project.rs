//! A project's `.dfm/` folder: the daemon's state file, socket, lock and
//! logs, and whether the daemon they describe is alive.
//!
//! Liveness rests on an advisory lock (`daemon.lock`) that the daemon holds
//! for its whole life. The kernel drops it when the process dies, so
//! neither a zombie nor a recycled pid can pass for a live daemon.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub const STATE_FILE: &str = "daemon.json";
pub const SOCKET_FILE: &str = "daemon.sock";
pub const LOCK_FILE: &str = "daemon.lock";
pub const LOG_FILE: &str = "daemon.log";

/// `daemon.json`: the original's fields, then ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonState {
    pub pid: u32,
    pub socket: String,
    pub worker_port: u16,
    pub started: String,
    pub runner: String,
    /// The secret workers prove they know; never printed.
    pub secret: String,
    /// The address workers are told to connect to.
    #[serde(default)]
    pub worker_host: String,
    #[serde(default)]
    pub pool_size: usize,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub dfm_dir: PathBuf,
}

/// What `.dfm/` says about the daemon.
#[derive(Debug)]
pub enum Probe {
    Absent,
    /// A state file whose daemon is gone (or unreadable).
    Stale {
        pid: Option<u32>,
    },
    Running(DaemonState),
}

/// The worker socket of a pool server whose client socket is `client_socket`
/// (`daemon.sock` -> `daemon.workers.sock`).
pub fn worker_socket_beside(client_socket: &Path) -> PathBuf {
    client_socket.with_extension("workers.sock")
}

impl Project {
    /// The project rooted at `root` (or the current folder).
    pub fn at(root: Option<&Path>) -> Result<Project> {
        let root = match root {
            Some(root) => root.to_path_buf(),
            None => std::env::current_dir().context("cannot determine the current folder")?,
        };
        let root = root
            .canonicalize()
            .with_context(|| format!("project root {} does not exist", root.display()))?;
        let dfm_dir = root.join(".dfm");
        Ok(Project { root, dfm_dir })
    }

    pub fn state_path(&self) -> PathBuf {
        self.dfm_dir.join(STATE_FILE)
    }

    pub fn socket_path(&self) -> PathBuf {
        self.dfm_dir.join(SOCKET_FILE)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dfm_dir.join(LOG_FILE)
    }

    /// The Unix socket that workers on the daemon's own machine use
    /// instead of the TCP port.
    pub fn worker_socket_path(&self) -> PathBuf {
        worker_socket_beside(&self.socket_path())
    }

    pub fn workers_dir(&self) -> PathBuf {
        self.dfm_dir.join("workers")
    }

    /// What a daemon's successor needs to adopt its workers.
    pub fn journal_path(&self) -> PathBuf {
        self.dfm_dir.join("journal.json")
    }

    /// What tasks took, learned across daemon runs.
    pub fn durations_path(&self) -> PathBuf {
        self.dfm_dir.join("durations.json")
    }

    /// Creates `.dfm/` (mode 0700, also when it already exists).
    pub fn ensure_dir(&self) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dfm_dir)
            .with_context(|| format!("cannot create {}", self.dfm_dir.display()))?;
        fs::set_permissions(&self.dfm_dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot set permissions of {}", self.dfm_dir.display()))
    }

    pub fn probe(&self) -> Probe {
        let text = match fs::read_to_string(self.state_path()) {
            Ok(text) => text,
            Err(_) => return Probe::Absent,
        };
        let state: Option<DaemonState> = serde_json::from_str(&text).ok();
        let pid = state
            .as_ref()
            .map(|s| s.pid)
            .or_else(|| pid_of_unparsable(&text));
        let alive = self.lock_is_held() && pid.is_some_and(crate::procfs::is_live);
        match state {
            Some(state) if alive => Probe::Running(state),
            _ => Probe::Stale { pid },
        }
    }

    /// True while some process holds the daemon lock.
    pub fn lock_is_held(&self) -> bool {
        match self.try_lock() {
            Ok(Some(_lock)) => false,
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// The process that holds the daemon lock, as the kernel says
    /// (`/proc/locks`): the check before a signal that it still is our
    /// daemon, not a process that has reused its pid.
    pub fn lock_holder(&self) -> Option<u32> {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(self.dfm_dir.join(LOCK_FILE)).ok()?;
        let dev = meta.dev();
        // /proc/locks writes the device as major:minor in hex.
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let file = format!("{major:02x}:{minor:02x}:{}", meta.ino());
        let locks = fs::read_to_string("/proc/locks").ok()?;
        locks.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // "1: FLOCK  ADVISORY  WRITE 4066 fe:00:10136675 0 EOF"; on NFS
            // an flock is a POSIX lock underneath, listed as such.
            (matches!(fields.get(1), Some(&"FLOCK") | Some(&"POSIX"))
                && fields.get(5) == Some(&file.as_str()))
            .then(|| fields.get(4)?.parse().ok())
            .flatten()
        })
    }

    /// Whether `pid` runs this project's daemon, by its command line: for
    /// where the kernel does not say who holds the lock.
    pub fn is_daemon_process(&self, pid: u32) -> bool {
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            return false;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let root = self.root.as_os_str().as_encoded_bytes();
        args.contains(&b"daemon".as_slice())
            && args.contains(&b"--foreground".as_slice())
            && args.contains(&root)
    }

    /// Takes the daemon lock; `None` when another process holds it. The
    /// lock lasts as long as the returned file is open.
    pub fn try_lock(&self) -> Result<Option<File>> {
        let path = self.dfm_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a valid, open descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            Ok(Some(file))
        } else {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
                Ok(None)
            } else {
                Err(error).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// Removes a dead daemon's state file and sockets, unless a daemon
    /// holds the lock: one starting now may already have written its own.
    /// False if it did not.
    pub fn remove_stale_if_unlocked(&self) -> bool {
        match self.try_lock() {
            Ok(Some(_lock)) => {
                self.remove_stale();
                true
            }
            _ => false,
        }
    }

    /// Removes the state file and socket of a dead daemon. Only for the
    /// holder of the lock (see [`Project::remove_stale_if_unlocked`]).
    pub fn remove_stale(&self) {
        let _ = fs::remove_file(self.state_path());
        let _ = fs::remove_file(self.socket_path());
        let _ = fs::remove_file(worker_socket_beside(&self.socket_path()));
    }

    /// Writes `daemon.json` (0600) atomically.
    pub fn write_state(&self, state: &DaemonState) -> Result<()> {
        let tmp = self.dfm_dir.join(format!("{STATE_FILE}.partial"));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let text = serde_json::to_string_pretty(state)?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, self.state_path())
            .with_context(|| format!("cannot create {}", self.state_path().display()))
    }
}

/// A pid from a state file too damaged to parse, for messages.
fn pid_of_unparsable(text: &str) -> Option<u32> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("pid")?.as_u64()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_and_released_on_close() {
        let dir = std::env::temp_dir().join(format!("dfm-project-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let project = Project::at(Some(&dir)).expect("project");
        project.ensure_dir().expect("ensure");
        let mode = fs::metadata(&project.dfm_dir)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let lock = project.try_lock().expect("lock").expect("free");
        assert!(project.lock_is_held());
        assert_eq!(project.lock_holder(), Some(std::process::id()));
        drop(lock);
        assert!(!project.lock_is_held());
        assert_eq!(project.lock_holder(), None);
        assert!(matches!(project.probe(), Probe::Absent));
        fs::write(project.state_path(), r#"{"pid": 1}"#).expect("write");
        assert!(matches!(project.probe(), Probe::Stale { pid: Some(1) }));
    }
}
