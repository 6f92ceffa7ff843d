//! `dfm run --report DIR`: what happened, for people and for CI.
//!
//! One bundle: the original's (`report.json` with schema `dvflow-report/1`,
//! `report.md`, `summary.md`, `markers.jsonl`, `logs/`), with dfm's
//! measurements under a `dfm` key of each task a `dvflow-report/1` reader
//! passes over; `junit.xml` for Jenkins and GitLab; `trace.json` for
//! Perfetto; `report.html`, a page with the run's timeline. Each file has
//! its module; this one gathers what they share ([`Report`]) and writes
//! the original's part.

mod html;
mod junit;
mod trace;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dfm_wire::{Marker, Measurements};
use serde_json::{json, Value};

use super::outcome::{TaskOutcome, TaskProgress};

/// The schema of `report.json`, the original's.
const SCHEMA: &str = "dvflow-report/1";

/// What the report is made of.
pub struct Report<'a> {
    /// The root package, as the original names it.
    pub root: &'a str,
    pub tasks: Vec<ReportTask<'a>>,
    /// The pool the run used (`daemon pid 42 (slurm)`, `ephemeral pool`).
    pub mode: &'a str,
    pub wall_secs: f64,
    pub generated_unix: u64,
}

/// One task of the run, as every part of the report sees it.
pub struct ReportTask<'a> {
    pub outcome: &'a TaskOutcome,
    /// The tasks it needs, by name.
    pub needs: Vec<&'a str>,
}

impl ReportTask<'_> {
    pub fn name(&self) -> &str {
        &self.outcome.name
    }

    /// Its exit status, if it ran (or had nothing to run).
    pub fn status(&self) -> Option<i32> {
        match &self.outcome.state {
            TaskProgress::Passed { .. } => Some(0),
            TaskProgress::Failed { exit_code, .. } => Some(exit_code.unwrap_or(1)),
            _ => None,
        }
    }

    pub fn ran(&self) -> bool {
        self.status().is_some()
    }

    pub fn markers(&self) -> &[Marker] {
        &self.outcome.said.markers
    }

    pub fn measurements(&self) -> Option<&Measurements> {
        self.outcome.said.measurements.as_ref()
    }

    /// Its folder.
    pub fn rundir(&self) -> PathBuf {
        self.outcome
            .log
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Seconds it took, where known.
    pub fn secs(&self) -> Option<f64> {
        match &self.outcome.state {
            TaskProgress::Passed { secs } | TaskProgress::Failed { secs, .. } => Some(*secs),
            _ => None,
        }
    }

    /// Why it failed, in a line: its first error marker, dfm's reason, or
    /// its exit status.
    pub fn failure(&self) -> Option<String> {
        let TaskProgress::Failed {
            exit_code, error, ..
        } = &self.outcome.state
        else {
            return None;
        };
        Some(
            error
                .clone()
                .or_else(|| exit_code.map(|code| format!("exited with status {code}")))
                .unwrap_or_else(|| "failed".to_string()),
        )
    }
}

/// Writes the whole bundle into `dir`.
pub fn write(dir: &Path, report: &Report) -> Result<()> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    let (json, markers) = report_json(&logs, report);
    write(
        "report.json",
        format!("{}\n", serde_json::to_string_pretty(&json)?),
    )?;
    write("markers.jsonl", markers)?;
    let summary = summary_md(report);
    write("summary.md", summary.clone())?;
    write("report.md", report_md(&json, &summary))?;
    write("junit.xml", junit::junit_xml(report))?;
    write("trace.json", format!("{}\n", trace::trace_json(report)))?;
    write("report.html", html::report_html(report))?;
    Ok(())
}

/// A marker as the original's report writes it: `loc` always present.
fn marker_json(marker: &Marker) -> Value {
    json!({"msg": marker.msg, "severity": marker.severity, "loc": marker.loc})
}

/// `report.json`, copying each task's log into `logs`; and the lines of
/// `markers.jsonl`.
fn report_json(logs: &Path, report: &Report) -> (Value, String) {
    let mut used = BTreeSet::new();
    let mut counts = json!({"info": 0, "warning": 0, "error": 0});
    let mut markers_jsonl = String::new();
    let mut failed = 0;
    let mut tasks = Vec::new();
    for task in report.tasks.iter().filter(|t| t.ran()) {
        if task.status() != Some(0) {
            failed += 1;
        }
        let log = copy_log(&task.outcome.log, task.name(), logs, &mut used);
        let markers: Vec<Value> = task.markers().iter().map(marker_json).collect();
        for marker in &markers {
            if let Some(n) = marker["severity"].as_str().and_then(|s| counts.get_mut(s)) {
                *n = json!(n.as_u64().unwrap_or(0) + 1);
            }
            let mut line = json!({"task": task.name()});
            if let (Some(line), Some(marker)) = (line.as_object_mut(), marker.as_object()) {
                line.extend(marker.clone());
            }
            markers_jsonl.push_str(&format!("{line}\n"));
        }
        let mut entry = json!({
            "name": task.name(),
            "status": task.status(),
            "changed": task.outcome.said.changed,
            "cache_hit": false,
            "rundir": task.rundir(),
            "log": log,
            "markers": markers,
        });
        if let Some(measured) = task.measurements() {
            entry["dfm"] = json!(measured);
        }
        tasks.push(entry);
    }
    let json = json!({
        "schema": SCHEMA,
        "root": report.root,
        "status": failed,
        "generated_unix": report.generated_unix,
        "counts": {"tasks_total": tasks.len(), "tasks_failed": failed, "markers": counts},
        "tasks": tasks,
    });
    (json, markers_jsonl)
}

/// Copies `log` to `logs/<name>.log` (a name of its own), if it exists;
/// its path in the bundle.
fn copy_log(log: &Path, name: &str, logs: &Path, used: &mut BTreeSet<String>) -> Option<String> {
    if !log.is_file() {
        return None;
    }
    let base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = match base.trim_matches('_') {
        "" => "task".to_string(),
        trimmed => trimmed.to_string(),
    };
    let file = (0..)
        .map(|n| match n {
            0 => format!("{base}.log"),
            n => format!("{base}.{n}.log"),
        })
        .find(|file| !used.contains(file))?;
    std::fs::copy(log, logs.join(&file)).ok()?;
    used.insert(file.clone());
    Some(format!("logs/{file}"))
}

/// The end-of-run summary, as the original renders it in `summary.md`
/// (its `render_task_summary_markdown`): a task that did not run because
/// one it needs failed is an error there too; counts of none are left out.
fn summary_md(report: &Report) -> String {
    let shown: Vec<&ReportTask> = report
        .tasks
        .iter()
        .filter(|t| !matches!(t.outcome.state, TaskProgress::Skipped))
        .collect();
    let done = shown.iter().filter(|t| t.status() == Some(0)).count();
    let errors = shown.len() - done;
    let mut text = format!("## Task Summary\n\n- **Tasks:** {}\n", shown.len());
    for (label, count) in [("Done", done), ("Error", errors)] {
        if count > 0 {
            text.push_str(&format!("- **{label}:** {count}\n"));
        }
    }
    text.push_str("\n| Status | Task | Time |\n|---|---|---|\n");
    for task in &shown {
        let status = if task.status() == Some(0) {
            "done"
        } else {
            "error"
        };
        let time = match task.secs() {
            Some(s) if s >= 1.0 => format!("{s:.2}s"),
            Some(s) => format!("{:.2}ms", s * 1000.0),
            None => "-".to_string(),
        };
        text.push_str(&format!("| {status} | `{}` | {time} |\n", task.name()));
    }
    let with_markers: Vec<&&ReportTask> =
        shown.iter().filter(|t| !t.markers().is_empty()).collect();
    if !with_markers.is_empty() {
        text.push_str("\n### Markers\n\n");
        for task in with_markers {
            text.push_str(&format!("- `{}`\n", task.name()));
            for m in task.markers() {
                let prefix = match m.severity {
                    dfm_wire::Severity::Error => 'E',
                    dfm_wire::Severity::Warning => 'W',
                    dfm_wire::Severity::Info => 'I',
                };
                let at = m.loc.as_ref().map(location).unwrap_or_default();
                text.push_str(&format!("  - {prefix}: {}{at}\n", m.msg));
            }
        }
    }
    text
}

/// `report.md`, as the original writes it from `report.json`.
fn report_md(report: &Value, summary: &str) -> String {
    let counts = &report["counts"];
    let markers = &counts["markers"];
    let mut lines = vec![
        "# DV Flow Run Report".to_string(),
        String::new(),
        format!(
            "- **Root:** `{}`",
            report["root"].as_str().unwrap_or("(unnamed)")
        ),
        format!(
            "- **Result:** {}",
            if report["status"] == 0 {
                "PASS"
            } else {
                "FAIL"
            }
        ),
        format!(
            "- **Tasks:** {} total, {} failed",
            counts["tasks_total"], counts["tasks_failed"]
        ),
        format!(
            "- **Markers:** {} error, {} warning, {} info",
            markers["error"], markers["warning"], markers["info"]
        ),
        String::new(),
        summary.trim_end().to_string(),
        String::new(),
    ];
    let tasks = report["tasks"].as_array().cloned().unwrap_or_default();
    let with = |task: &Value, severity: &str| -> Vec<String> {
        task["markers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["severity"] == severity)
            .map(|m| {
                let at = location(&m["loc"]);
                format!(
                    "- `{}`{at}: {}",
                    task["name"].as_str().unwrap_or_default(),
                    m["msg"].as_str().unwrap_or_default()
                )
            })
            .collect()
    };
    let groups: Vec<(&str, Vec<String>)> =
        [("error", "Error"), ("warning", "Warning"), ("info", "Info")]
            .into_iter()
            .map(|(key, label)| (label, tasks.iter().flat_map(|t| with(t, key)).collect()))
            .collect();
    if groups.iter().any(|(_, items)| !items.is_empty()) {
        lines.extend(["## Markers".to_string(), String::new()]);
        for (label, items) in groups.into_iter().filter(|(_, items)| !items.is_empty()) {
            lines.push("<details>".into());
            lines.push(format!("<summary>{label} ({})</summary>", items.len()));
            lines.push(String::new());
            lines.extend(items);
            lines.extend([String::new(), "</details>".into(), String::new()]);
        }
    }
    let failed: Vec<&Value> = tasks
        .iter()
        .filter(|t| !(t["status"] == 0 || t["status"].is_null()))
        .collect();
    if !failed.is_empty() {
        lines.extend(["## Failed tasks".to_string(), String::new()]);
        for task in failed {
            lines.push(format!(
                "### `{}` (status {})",
                task["name"].as_str().unwrap_or_default(),
                task["status"]
            ));
            if let Some(log) = task["log"].as_str() {
                lines.extend([String::new(), format!("Log: `{log}`")]);
            }
            for m in task["markers"].as_array().into_iter().flatten() {
                lines.push(format!(
                    "- **{}:** {}",
                    m["severity"].as_str().unwrap_or_default().to_uppercase(),
                    m["msg"].as_str().unwrap_or_default()
                ));
            }
            lines.push(String::new());
        }
    }
    lines.join("\n") + "\n"
}

/// ` (path:line)` for a marker's location, as the original renders it.
fn location(loc: &Value) -> String {
    let Some(path) = loc["path"].as_str().filter(|p| !p.is_empty()) else {
        return String::new();
    };
    match loc["line"].as_i64() {
        Some(line) if line >= 0 => format!(" ({path}:{line})"),
        _ => format!(" ({path})"),
    }
}
