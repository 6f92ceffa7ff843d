//! `dfm completions SHELL` and `dfm manpages DIR`: shell completions and
//! man pages, generated from the same clap definitions as the command line
//! itself (clap_complete, clap_mangen), so they cannot drift from it. Task
//! names after `dfm run` complete from the flow where the shell allows it
//! (bash, fish): the scripts call `dfm complete-tasks`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap_complete::Shell;

/// Bash: clap's completion, with task names for `dfm run`.
const BASH_TASKS: &str = r#"
_dfm_with_tasks() {
    local cur="${COMP_WORDS[COMP_CWORD]}"
    if [[ "${COMP_WORDS[1]}" == run && "$cur" != -* ]]; then
        COMPREPLY=( $(compgen -W "$(dfm complete-tasks 2>/dev/null)" -- "$cur") )
        [[ ${#COMPREPLY[@]} -gt 0 ]] && return 0
    fi
    _dfm "$@"
}
complete -F _dfm_with_tasks -o bashdefault -o default dfm
"#;

/// Fish: task names for `dfm run`.
const FISH_TASKS: &str =
    "complete -c dfm -n '__fish_seen_subcommand_from run' -f -a '(dfm complete-tasks 2>/dev/null)'\n";

/// `cli`: the whole command line's definition.
pub fn completions(shell: Shell, mut cli: clap::Command) -> Result<i32> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cli, "dfm", &mut out);
    match shell {
        Shell::Bash => out.extend_from_slice(BASH_TASKS.as_bytes()),
        Shell::Fish => out.extend_from_slice(FISH_TASKS.as_bytes()),
        _ => {}
    }
    std::io::stdout()
        .write_all(&out)
        .context("cannot write the completions")?;
    Ok(0)
}

/// Writes `dfm.1` and a page per subcommand (`dfm-daemon-start.1`, ...)
/// into `dir`.
pub fn manpages(dir: &Path, cli: clap::Command) -> Result<i32> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_pages(&cli, "dfm", dir)?;
    Ok(0)
}

fn write_pages(command: &clap::Command, name: &str, dir: &Path) -> Result<()> {
    let command = command.clone().name(name.to_string());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .with_context(|| format!("cannot render the man page of {name}"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}

/// The task names of the flow found from the current folder, one per line;
/// nothing (and no error) where there is none.
pub fn task_names() -> Result<i32> {
    let Ok(cwd) = std::env::current_dir() else {
        return Ok(0);
    };
    let Some(file) = crate::flow::find_root_file(&cwd) else {
        return Ok(0);
    };
    let env = std::env::vars().collect();
    let context = crate::flow::Context {
        overrides: &[],
        rundir_base: &cwd.join("rundir"),
        env: &env,
    };
    if let Ok(flow) = crate::flow::load(&file, &context) {
        for task in &flow.tasks {
            println!("{}", task.name);
        }
    }
    Ok(0)
}
