//! `dfm run`: loads the flow, runs the selected tasks and what they need
//! through the project's daemon (or an ephemeral pool of its own), and
//! reports.
//!
//! `args.rs` is its command line, `target.rs` where tasks go,
//! `driver.rs` what is submitted when (with `readiness.rs`), `outcome.rs`
//! where each task stands, `display.rs` what the user sees, `survive.rs`
//! where it goes on when its daemon is lost.

mod args;
mod clean;
mod display;
mod driver;
mod outcome;
mod readiness;
mod report;
mod survive;
mod target;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{anyhow, Context as _, Result};

pub use self::args::RunArgs;
use self::display::{Display, Ui};
use self::driver::{Driven, Run};
use self::outcome::TaskProgress;
use self::target::Target;
use super::handover;
use crate::client;
use crate::flow::{self, Flow};
use crate::project::Project;

pub fn run(args: RunArgs) -> Result<i32> {
    let project = Project::at(args.root.as_deref())?;
    let cwd = std::env::current_dir().context("cannot determine the current folder")?;
    let file = flow::find_root_file(&project.root).ok_or_else(|| {
        anyhow!(
            "no flow file ({}) in {} or any folder above it",
            flow::ROOT_FILES.join(", "),
            project.root.display()
        )
    })?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let rundir_base = cwd.join("rundir");
    let loaded = flow::load(
        &file,
        &flow::Context {
            overrides: &args.defines,
            rundir_base: &rundir_base,
            env: &env,
        },
    );
    let flow = match loaded {
        Ok(flow) => flow,
        Err(error) if error.theirs.is_some() => {
            let feature = error.theirs.as_deref().unwrap_or_default();
            let place = match error.line {
                Some(line) => format!("{}:{line}", error.file.display()),
                None => error.file.display().to_string(),
            };
            let why =
                format!("this flow uses {feature} ({place}), which dfm's own engine does not run");
            let args: Vec<_> = std::env::args_os().skip(1).collect();
            return handover::hand_over(&project.root, &args, &why);
        }
        Err(error) => return Err(error.into()),
    };

    if args.tasks.is_empty() {
        println!("Root tasks of {} ({}):", flow.package, file.display());
        for task in flow.root_tasks() {
            println!("  {:<30} {}", task.name, task.desc);
        }
        println!("Run one with: dfm run TASK");
        return Ok(0);
    }
    let selected = args
        .tasks
        .iter()
        .map(|name| flow.resolve(name).map_err(anyhow::Error::from))
        .collect::<Result<Vec<usize>>>()?;
    let order = flow.closure(&selected);

    let removal = if args.clean {
        Some(clean::start(&rundir_base)?)
    } else {
        None
    };

    let target = Target::choose(&project, &args)?;
    let ui = if args.json {
        Ui::Quiet
    } else {
        args.ui.unwrap_or(if std::io::stdout().is_terminal() {
            Ui::Progress
        } else {
            Ui::Log
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(execute(&project, &flow, &order, target, &args, ui, &env));
    if let Some(removal) = removal {
        removal.finish();
    }
    outcome
}

async fn execute(
    project: &Project,
    flow: &Flow,
    order: &[usize],
    target: Target,
    args: &RunArgs,
    ui: Ui,
    env: &BTreeMap<String, String>,
) -> Result<i32> {
    let started = Instant::now();
    let settings = client::settings_for(&project.root);
    let lost_pid = target.daemon_pid();
    let first = survive::connect(target.open(project, args).await?, settings.timeout).await;
    let (mut pool, mut connection) = match (first, lost_pid) {
        (Ok(opened), _) => opened,
        (Err(e), None) => return Err(e),
        (Err(e), Some(pid)) => {
            let mut warn = |message: &str| eprintln!("dfm: {message}");
            warn(&format!(
                "the daemon (pid {pid}) has not answered ({e:#}): it may be stopped or hung; waiting up to {:.0} s for another to take over",
                settings.reconnect_grace.as_secs_f64()
            ));
            survive::replacement(
                project,
                args,
                lost_pid,
                settings.reconnect_grace,
                settings.timeout,
                &mut warn,
            )
            .await?
        }
    };
    let mut display = Display::new(ui, order.len(), &pool.mode);
    let mut run = Run::new(
        flow,
        order,
        pool.jobs.max(1),
        env,
        args.priority,
        settings.timeout,
    );
    let interrupted = loop {
        match run.drive(&mut connection, &mut display).await? {
            Driven::Done => break false,
            Driven::Interrupted => break true,
            Driven::DaemonLost(why) if pool.is_daemon() => {
                display.warning(&format!(
                    "lost the daemon ({why}); waiting up to {:.0} s for another to take over",
                    settings.reconnect_grace.as_secs_f64()
                ));
                let lost = pool.daemon_pid();
                drop(connection);
                (pool, connection) = survive::replacement(
                    project,
                    args,
                    lost,
                    settings.reconnect_grace,
                    settings.timeout,
                    &mut |message| display.warning(message),
                )
                .await?;
                run.reconnected();
            }
            Driven::DaemonLost(why) => anyhow::bail!("the ephemeral pool failed: {why}"),
        }
    };
    let mode = pool.mode.clone();
    pool.close(connection).await?;

    let outcomes = run.outcomes();
    display.summary(&flow.package, &outcomes, started.elapsed(), args.json);
    if let Some(dir) = &args.report {
        let tasks = order
            .iter()
            .zip(&outcomes)
            .map(|(&i, outcome)| report::ReportTask {
                outcome,
                needs: flow.tasks[i]
                    .needs
                    .iter()
                    .map(|&n| flow.tasks[n].name.as_str())
                    .collect(),
            })
            .collect();
        let generated_unix = dfm_wire::unix_now() as u64;
        let bundle = report::Report {
            root: &flow.package,
            tasks,
            mode: &mode,
            wall_secs: started.elapsed().as_secs_f64(),
            generated_unix,
        };
        report::write(dir, &bundle)?;
        if !args.json {
            eprintln!("dfm: wrote the run's report to {}", dir.display());
        }
    }
    if interrupted {
        return Ok(130);
    }
    let failed = outcomes
        .iter()
        .any(|o| matches!(o.state, TaskProgress::Failed { .. }));
    Ok(if failed { 1 } else { 0 })
}
