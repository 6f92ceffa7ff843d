//! Which Python runs a client's tasks when `runner.python` does not say:
//! the interpreter the client itself runs on, found from the `sys.path` it
//! sends, so its venv's compiled packages (pydantic's core, a team's own
//! extensions) load in the version they were built for.

use std::path::{Path, PathBuf};

/// The interpreter that owns `pythonpath`: the `bin/pythonX.Y` of the prefix
/// of its first `lib/pythonX.Y/site-packages` (a venv's, when the client
/// runs in one), else of its standard library `lib/pythonX.Y`. `None` when
/// no such interpreter is there to run, as on a compute node that does not
/// see the client's disk.
pub fn client_python(pythonpath: &[&str]) -> Option<PathBuf> {
    let site_packages = pythonpath
        .iter()
        .filter_map(|entry| interpreter_beside(Path::new(entry), true));
    let standard_library = pythonpath
        .iter()
        .filter_map(|entry| interpreter_beside(Path::new(entry), false));
    site_packages.chain(standard_library).next()
}

/// `path`, if it is a program that can be run here.
pub fn runnable(path: &str) -> Option<PathBuf> {
    let path = Path::new(path);
    (path.is_absolute() && is_executable(path)).then(|| path.to_path_buf())
}

/// `<prefix>/bin/pythonX.Y` for `<prefix>/lib/pythonX.Y[/site-packages]`, if
/// it can be run.
fn interpreter_beside(entry: &Path, site_packages: bool) -> Option<PathBuf> {
    let version_dir = if site_packages {
        (entry.file_name()? == "site-packages").then(|| entry.parent())??
    } else {
        entry
    };
    let version = version_dir.file_name()?.to_str()?;
    let is_version = version
        .strip_prefix("python3.")
        .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()));
    let lib = version_dir.parent()?;
    if !is_version || lib.file_name()? != "lib" {
        return None;
    }
    let bin = lib.parent()?.join("bin");
    [bin.join(version), bin.join("python3")]
        .into_iter()
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prefix with `lib/python3.11/site-packages` and `bin/python3.11`.
    fn prefix(root: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let prefix = root.join(name);
        std::fs::create_dir_all(prefix.join("lib/python3.11/site-packages")).unwrap();
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        let python = prefix.join("bin/python3.11");
        std::fs::write(&python, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        prefix
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dfm-choice-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_venvs_site_packages_wins_over_the_standard_library_before_it() {
        let root = scratch("venv");
        let base = prefix(&root, "base");
        let venv = prefix(&root, "venv");
        let path = [
            "/project".to_string(),
            base.join("lib/python3.11").display().to_string(),
            venv.join("lib/python3.11/site-packages")
                .display()
                .to_string(),
        ];
        let found = client_python(&path.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(found, Some(venv.join("bin/python3.11")));
    }

    #[test]
    fn without_site_packages_the_standard_librarys_interpreter_is_used() {
        let root = scratch("stdlib");
        let base = prefix(&root, "base");
        let path = [base.join("lib/python3.11").display().to_string()];
        let found = client_python(&path.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(found, Some(base.join("bin/python3.11")));
    }

    #[test]
    fn a_path_no_interpreter_here_owns_gives_none() {
        let root = scratch("none");
        let unseen = root.join("elsewhere/lib/python3.11/site-packages");
        let path = [
            unseen.display().to_string(),
            "/usr/lib/python3/dist-packages".to_string(),
            "relative/lib/python3.x".to_string(),
            String::new(),
        ];
        assert_eq!(
            client_python(&path.iter().map(String::as_str).collect::<Vec<_>>()),
            None
        );
    }
}
