//! `dfm run --clean`: the old rundir is moved aside at once and removed
//! while the tasks run, so that a clean run's first task does not wait for
//! thousands of files to be deleted (400 tasks' rundirs took 40 ms here:
//! see docs/performance.md). A removal cut short (the run killed) is
//! finished by the next clean run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use anyhow::{Context as _, Result};

/// What `--clean` moved aside, being removed.
pub struct Removal(Option<JoinHandle<Vec<(PathBuf, std::io::Error)>>>);

/// The names rundirs are moved aside to: `<name>.dfm-removing-<pid>`.
fn aside_prefix(rundir: &Path) -> Option<OsString> {
    let mut prefix = rundir.file_name()?.to_os_string();
    prefix.push(".dfm-removing-");
    Some(prefix)
}

/// Moves `rundir` aside (or, where it cannot be renamed, removes it in
/// place before returning) and starts removing it, with what earlier runs
/// left aside.
pub fn start(rundir: &Path) -> Result<Removal> {
    let (Some(prefix), Some(parent)) = (aside_prefix(rundir), rundir.parent()) else {
        return Ok(Removal(None));
    };
    let mut doomed = leftovers(parent, &prefix);
    if rundir.exists() {
        let mut aside = prefix.clone();
        aside.push(std::process::id().to_string());
        let aside = parent.join(aside);
        match std::fs::rename(rundir, &aside) {
            Ok(()) => doomed.push(aside),
            // A mount point, say: removed here and now, as before.
            Err(_) => std::fs::remove_dir_all(rundir)
                .with_context(|| format!("cannot remove {}", rundir.display()))?,
        }
    }
    if doomed.is_empty() {
        return Ok(Removal(None));
    }
    let remover = std::thread::Builder::new()
        .name("dfm-clean".into())
        .spawn(move || {
            doomed
                .into_iter()
                .filter_map(|dir| std::fs::remove_dir_all(&dir).err().map(|e| (dir, e)))
                // Gone already: another clean run of the project swept it.
                .filter(|(_, e)| e.kind() != std::io::ErrorKind::NotFound)
                .collect()
        })
        .context("cannot start removing the old rundir")?;
    Ok(Removal(Some(remover)))
}

/// Folders named `<prefix>...` in `parent`: removals an earlier run did not
/// finish.
fn leftovers(parent: &Path, prefix: &OsString) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let prefix = prefix.as_encoded_bytes();
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().as_encoded_bytes().starts_with(prefix))
        .map(|entry| entry.path())
        .collect()
}

impl Removal {
    /// Waits for the removal to end; what could not be removed is said on
    /// stderr (the run's outcome does not depend on it).
    pub fn finish(self) {
        let Some(remover) = self.0 else {
            return;
        };
        for (dir, e) in remover.join().unwrap_or_default() {
            eprintln!(
                "dfm: could not remove the old rundir moved aside to {}: {e}; remove it by hand",
                dir.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_rundir_and_leftovers_are_gone_once_finished_and_a_new_one_can_be_made_at_once() {
        let base = std::env::temp_dir().join(format!("dfm-clean-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let rundir = base.join("rundir");
        std::fs::create_dir_all(rundir.join("t1")).expect("rundir");
        std::fs::write(rundir.join("t1").join("log"), "old").expect("file");
        let leftover = base.join("rundir.dfm-removing-1");
        std::fs::create_dir_all(leftover.join("t2")).expect("leftover");
        let unrelated = base.join("rundir.keep");
        std::fs::create_dir_all(&unrelated).expect("unrelated");

        let removal = start(&rundir).expect("started");
        assert!(!rundir.exists(), "moved aside before start returns");
        std::fs::create_dir_all(rundir.join("t1")).expect("a new rundir at once");
        removal.finish();

        let mut left: Vec<String> = std::fs::read_dir(&base)
            .expect("base")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["rundir", "rundir.keep"]);
        assert!(!rundir.join("t1").join("log").exists());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn without_a_rundir_there_is_nothing_to_do() {
        let base = std::env::temp_dir().join(format!("dfm-clean-none-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("base");
        let removal = start(&base.join("rundir")).expect("started");
        assert!(removal.0.is_none());
        removal.finish();
        let _ = std::fs::remove_dir_all(&base);
    }
}
