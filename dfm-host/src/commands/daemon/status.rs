//! `dfm daemon status`. Exit status: 0 the daemon runs and answers, 1 no
//! daemon runs (or a dead one's state file is left), 3 a daemon holds the
//! project's lock but does not answer within `pool.client_timeout`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::client::{self, Connection, Ping};
use crate::project::{Probe, Project};
use dfm_wire::{ClientCall, DaemonStatus};

/// `dfm daemon status`'s exit status for a daemon that does not answer.
pub const NOT_ANSWERING: i32 = 3;

/// What to tell the user about a daemon that does not answer.
pub fn not_answering(project: &Project, pid: u32, timeout: Duration) -> String {
    format!(
        "the dfm daemon (pid {pid}) of {} holds the lock but does not answer on its socket after {:.0} s: \
         it may be stopped or hung. `dfm daemon stop --force` ends it.",
        project.root.display(),
        timeout.as_secs_f64()
    )
}

pub fn status(root: Option<&Path>, as_json: bool) -> Result<i32> {
    let project = Project::at(root)?;
    let state = match project.probe() {
        Probe::Absent => {
            if as_json {
                println!("{}", json!({"running": false}));
            } else {
                println!("no dfm daemon is running for {}", project.root.display());
            }
            return Ok(1);
        }
        Probe::Stale { pid } => {
            if as_json {
                println!("{}", json!({"running": false, "stale": true, "pid": pid}));
            } else {
                let who = pid.map(|p| format!(" for pid {p}")).unwrap_or_default();
                println!(
                    "stale {}{who}: that daemon is gone. `dfm daemon start` or `dfm run` will clean it up.",
                    project.state_path().display()
                );
            }
            return Ok(1);
        }
        Probe::Running(state) => state,
    };
    let timeout = client::settings_for(&project.root).timeout;
    let socket = Path::new(&state.socket);
    let fetched: Option<Result<DaemonStatus>> = super::runtime()?.block_on(async {
        if client::ping(socket, timeout).await != Ping::Answered {
            return None;
        }
        Some(
            async {
                let mut connection = Connection::connect(socket).await?;
                let value = connection.call_within(ClientCall::Status, timeout).await?;
                serde_json::from_value(value)
                    .context("the daemon sent a status this dfm does not understand")
            }
            .await,
        )
    });
    let status = match fetched {
        Some(Ok(status)) => status,
        Some(Err(_)) | None => {
            if as_json {
                println!(
                    "{}",
                    json!({"running": true, "responding": false, "stale": false, "pid": state.pid})
                );
            } else {
                println!("{}", not_answering(&project, state.pid, timeout));
            }
            return Ok(NOT_ANSWERING);
        }
    };
    if as_json {
        let mut value = serde_json::to_value(&status)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("running".into(), json!(true));
            object.insert("responding".into(), json!(true));
            object.insert("stale".into(), json!(false));
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render_status(&status));
    }
    Ok(0)
}

fn render_status(status: &DaemonStatus) -> String {
    let (c, tasks) = (&status.tasks.workers, &status.tasks);
    let mut text = format!(
        "dfm daemon running\n  pid:      {}\n  runner:   {}\n  uptime:   {}\n  socket:   {}\n  workers:  {} total, {} busy, {} idle, {} pending launch (pool size {})\n  tasks:    {} pending, {} running, {} completed, {} failed\n",
        status.pid,
        status.runner,
        format_duration(status.uptime_secs),
        status.socket,
        c.total,
        c.busy,
        c.idle,
        c.pending,
        status.pool_size,
        tasks.pending_tasks,
        tasks.running_tasks,
        tasks.completed_tasks,
        tasks.failed_tasks,
    );
    if !status.clients.is_empty() {
        text.push_str(&format!(
            "\n  {:<8} {:>8} {:>8} {:>8} {:>8}\n",
            "CLIENT", "PID", "QUEUED", "HELD", "RUNNING"
        ));
        for c in &status.clients {
            let pid = c.pid.map_or("-".to_string(), |p| p.to_string());
            text.push_str(&format!(
                "  {:<8} {:>8} {:>8} {:>8} {:>8}\n",
                c.client, pid, c.queued, c.held, c.running
            ));
        }
    }
    if !status.licenses.is_empty() {
        text.push_str(&format!(
            "\n  {:<16} {:>7} {:>8} {:>6} {:>7} {:>8}\n",
            "LICENSE", "IN USE", "ALLOWED", "COUNT", "OTHERS", "WAITING"
        ));
        for l in &status.licenses {
            let others = l.others.map_or("-".to_string(), |n| n.to_string());
            text.push_str(&format!(
                "  {:<16} {:>7} {:>8} {:>6} {:>7} {:>8}\n",
                l.name, l.in_use, l.allowed, l.count, others, l.waiting
            ));
            if let Some(note) = &l.note {
                text.push_str(&format!("    {note}\n"));
            }
        }
    }
    if !status.worker_licenses.is_empty() {
        text.push_str(&format!(
            "\n  {:<16} {:>7} {:>8}   (held by the scheduler, per worker job)\n",
            "LICENSE", "HELD", "WAITING"
        ));
        for l in &status.worker_licenses {
            text.push_str(&format!(
                "  {:<16} {:>7} {:>8}\n",
                l.name, l.workers_holding, l.workers_waiting
            ));
        }
    }
    if !status.workers.is_empty() {
        text.push_str(&format!(
            "\n  {:<10} {:<16} {:>8} {:<10} {:<12} {}\n",
            "WORKER", "HOST", "PID", "STATE", "JOB", "TASK"
        ));
        for w in &status.workers {
            text.push_str(&format!(
                "  {:<10} {:<16} {:>8} {:<10} {:<12} {}\n",
                w.worker_id,
                w.hostname,
                w.pid,
                w.state,
                w.job_id,
                match (&w.current_task, &w.pending_reason) {
                    (Some(task), _) => task.clone(),
                    (None, Some(reason)) => format!("(pending: {reason})"),
                    (None, None) => "-".to_string(),
                }
            ));
        }
    }
    text
}

fn format_duration(secs: f64) -> String {
    let secs = secs as u64;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}
