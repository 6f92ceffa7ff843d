//! What `/proc` says about this machine and its processes.

/// Whether `pid` is a running (not zombie) process.
pub fn is_live(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may
    // itself contain spaces or parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X") | Some("x"))
}

/// The resident set size of `pid` in KiB (0 if it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// This machine's host name, as workers report it and cluster workers
/// are told to connect to.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// This running kernel's boot id: equal for two processes exactly when
/// they run on the same machine (and boot).
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

/// The Python interpreter `pid` runs on, named as that Python names itself
/// (`sys.executable`): the program it was started as (`argv[0]`, which for
/// a script is the interpreter of its `#!` line), made absolute from its
/// working folder, or looked up in its `PATH` when it has no `/` — not the
/// binary that resolves to, so that a venv's `bin/python3` stays that.
/// `None` when the process is not a Python, or is not ours to read.
pub fn python_of(pid: u32) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Component, Path, PathBuf};
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    if !exe.file_name()?.as_bytes().starts_with(b"python") {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let program = cmdline
        .split(|b| *b == 0)
        .next()
        .filter(|p| !p.is_empty())?;
    let program = Path::new(std::ffi::OsStr::from_bytes(program));
    let found = if program.as_os_str().as_bytes().contains(&b'/') {
        if program.is_absolute() {
            program.to_path_buf()
        } else {
            std::fs::read_link(format!("/proc/{pid}/cwd"))
                .ok()?
                .join(program)
        }
    } else {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        let path = environ
            .split(|b| *b == 0)
            .find_map(|entry| entry.strip_prefix(b"PATH="))?;
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
        std::env::split_paths(std::ffi::OsStr::from_bytes(path))
            .map(|dir| cwd.join(dir).join(program))
            .find(|candidate| candidate.is_file())?
    };
    // os.path.abspath: `.` and `..` taken out as written, links kept.
    let mut clean = PathBuf::new();
    for part in found.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    clean.to_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zombies_and_missing_pids_are_not_alive() {
        assert!(is_live(std::process::id()));
        assert!(rss_kib(std::process::id()) > 0);
        assert!(!is_live(u32::MAX));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        // Wait for it to exit without reaping it: it is a zombie.
        for _ in 0..500 {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if state.contains(") Z") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!is_live(pid));
        child.wait().expect("reap");
    }

    /// As `sys.executable` names it: a venv's link, not the binary it
    /// resolves to; found in `PATH` when started by bare name.
    #[test]
    fn a_python_is_named_as_it_was_started() {
        // The binary itself (python3 on PATH may be a wrapper script).
        let asked = std::process::Command::new("python3")
            .args([
                "-c",
                "import os, sys; print(os.path.realpath(sys.executable))",
            ])
            .output();
        let real = asked
            .ok()
            .filter(|o| o.status.success())
            .map(|o| std::path::PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .expect("this test needs python3 on PATH");
        let venv = std::env::temp_dir().join(format!("dfm-python-of-{}", std::process::id()));
        let bin = venv.join("bin");
        std::fs::create_dir_all(&bin).expect("scratch bin");
        let link = bin.join("python3");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&real, &link).expect("link");
        let sleep = ["-c", "import time; time.sleep(30)"];
        let by_path = std::process::Command::new(&link).args(sleep).spawn();
        let by_name = std::process::Command::new("python3")
            .args(sleep)
            .env("PATH", &bin)
            .spawn();
        let (Ok(mut by_path), Ok(mut by_name)) = (by_path, by_name) else {
            panic!("cannot start python3");
        };
        // Until the process has exec'd it is still this test binary.
        let named = |pid: u32| {
            (0..200).find_map(|_| {
                python_of(pid).or_else(|| {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    None
                })
            })
        };
        let expected = Some(link.display().to_string());
        assert_eq!(named(by_path.id()), expected);
        assert_eq!(named(by_name.id()), expected);
        assert_eq!(
            python_of(std::process::id()),
            None,
            "this test is no Python"
        );
        for child in [&mut by_path, &mut by_name] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&venv);
    }
}
