//! `report.html`: one page, nothing fetched: the run's summary, its
//! failures first with the end of their logs, a timeline (inline SVG) of
//! the tasks on their workers' lanes, coloured by outcome, each with its
//! queue wait before it, and every task in a table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::junit::escape;
use super::{Report, ReportTask};
use crate::commands::run::outcome::tail;

/// How many lines of a failed task's log the page shows.
const LOG_LINES: usize = 20;
const LANE_HEIGHT: f64 = 22.0;
const LABEL_WIDTH: f64 = 170.0;
const PLOT_WIDTH: f64 = 900.0;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}\
.pass{color:#1a7f37}.fail{color:#cf222e}\
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.85em}\
table{border-collapse:collapse;font-size:.9em}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}\
svg text{font-size:11px;font-family:monospace}";

pub fn report_html(report: &Report) -> String {
    let failed: Vec<&ReportTask> = report
        .tasks
        .iter()
        .filter(|t| t.failure().is_some())
        .collect();
    let passed = report
        .tasks
        .iter()
        .filter(|t| t.status() == Some(0))
        .count();
    let not_run = report.tasks.len() - passed - failed.len();
    let (class, verdict) = if failed.is_empty() {
        ("pass", "PASS")
    } else {
        ("fail", "FAIL")
    };
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>dfm run {root}: {verdict}</title><style>{STYLE}</style></head><body>\n\
         <h1>dfm run <code>{root}</code>: <span class=\"{class}\">{verdict}</span></h1>\n\
         <p>{passed} passed, {failed} failed, {not_run} not run, in {wall:.2} s on {mode}.</p>\n",
        root = escape(report.root),
        failed = failed.len(),
        wall = report.wall_secs,
        mode = escape(report.mode),
    );
    if !failed.is_empty() {
        page.push_str("<h2>Failures</h2>\n");
        for task in &failed {
            let why = task.failure().unwrap_or_default();
            let _ = writeln!(
                page,
                "<h3 class=\"fail\">{}</h3><p>{}</p>",
                escape(task.name()),
                escape(&why)
            );
            for marker in task.markers() {
                let _ = writeln!(
                    page,
                    "<p>{:?}: {}</p>",
                    marker.severity,
                    escape(&marker.msg)
                );
            }
            let log = tail(&task.outcome.log, LOG_LINES).join("\n");
            let _ = writeln!(
                page,
                "<pre>{}</pre><p>Log: <code>{}</code></p>",
                escape(&log),
                escape(&task.outcome.log.display().to_string())
            );
        }
    }
    page.push_str(
        "<h2>Timeline</h2>\n<p>A lane per worker (host/worker); each task a bar, \
         <span class=\"pass\">green</span> passed, <span class=\"fail\">red</span> failed, \
         after a grey line for its wait in the queue.</p>\n",
    );
    page.push_str(&timeline_svg(report));
    page.push_str(
        "<h2>Tasks</h2>\n<table><tr><th>Task</th><th>Result</th><th>Time (s)</th>\
         <th>Queue wait (s)</th><th>Worker</th><th>Host</th><th>CPU (s)</th><th>Peak RSS (MiB)</th></tr>\n",
    );
    for task in &report.tasks {
        let m = task.measurements();
        let cell = |v: Option<String>| escape(&v.unwrap_or_else(|| "-".into()));
        let result = match task.status() {
            Some(0) => "<span class=\"pass\">passed</span>".to_string(),
            Some(code) => format!("<span class=\"fail\">failed ({code})</span>"),
            None => "not run".to_string(),
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{result}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(task.name()),
            cell(task.secs().map(|s| format!("{s:.3}"))),
            cell(m.and_then(|m| m.queue_wait_secs).map(|s| format!("{s:.3}"))),
            cell(m.and_then(|m| m.worker_id.clone())),
            cell(m.and_then(|m| m.host.clone())),
            cell(m.and_then(|m| Some(m.cpu_user_secs? + m.cpu_system_secs?)).map(|s| format!("{s:.3}"))),
            cell(m.and_then(|m| m.max_rss_kib).map(|k| format!("{:.1}", k as f64 / 1024.0))),
        );
    }
    page.push_str("</table>\n</body></html>\n");
    page
}

/// A task that ran, where it goes on the timeline: its lane (host,
/// worker), and when it was queued, started and ended.
struct Placed<'a> {
    task: &'a ReportTask<'a>,
    lane: (&'a str, &'a str),
    queued: f64,
    start: f64,
    end: f64,
}

/// The tasks on their workers' lanes (one per worker, grouped by host),
/// across the run's time: a bar per task, green or red, its queue wait a
/// thin grey line before it.
fn timeline_svg(report: &Report) -> String {
    let placed: Vec<Placed> = report
        .tasks
        .iter()
        .filter_map(|task| {
            let m = task.measurements()?;
            let lane = (m.host.as_deref()?, m.worker_id.as_deref()?);
            let start = m.started_at?;
            let queued = start - m.queue_wait_secs.unwrap_or(0.0);
            Some(Placed {
                task,
                lane,
                queued,
                start,
                end: m.ended_at?.max(start),
            })
        })
        .collect();
    if placed.is_empty() {
        return "<p>No task ran on a worker.</p>\n".to_string();
    }
    let mut lanes: BTreeMap<(&str, &str), usize> = placed.iter().map(|p| (p.lane, 0)).collect();
    for (n, index) in lanes.values_mut().enumerate() {
        *index = n;
    }
    let first = placed.iter().map(|p| p.queued).fold(f64::MAX, f64::min);
    let last = placed.iter().map(|p| p.end).fold(f64::MIN, f64::max);
    let span = (last - first).max(1e-3);
    let x = |t: f64| LABEL_WIDTH + (t - first) / span * PLOT_WIDTH;
    let height = lanes.len() as f64 * LANE_HEIGHT + 30.0;
    let mut svg = format!(
        "<svg width=\"{w}\" height=\"{height}\" role=\"img\" \
         aria-label=\"tasks on worker lanes\">\n",
        w = LABEL_WIDTH + PLOT_WIDTH + 10.0
    );
    for ((host, worker), index) in &lanes {
        let y = *index as f64 * LANE_HEIGHT;
        let _ = writeln!(
            svg,
            "<g class=\"lane\"><rect x=\"0\" y=\"{y}\" width=\"{w}\" height=\"{LANE_HEIGHT}\" fill=\"{fill}\"/>\
             <text x=\"4\" y=\"{ty}\">{host}/{worker}</text></g>",
            w = LABEL_WIDTH + PLOT_WIDTH,
            fill = if index % 2 == 0 { "#f6f8fa" } else { "#ffffff" },
            ty = y + 15.0,
            host = escape(host),
            worker = escape(worker),
        );
    }
    for Placed {
        task,
        lane,
        queued,
        start,
        end,
    } in &placed
    {
        let y = lanes[lane] as f64 * LANE_HEIGHT;
        let colour = if task.status() == Some(0) {
            "#2da44e"
        } else {
            "#cf222e"
        };
        let _ = writeln!(
            svg,
            "<line class=\"wait\" x1=\"{}\" x2=\"{}\" y1=\"{cy}\" y2=\"{cy}\" stroke=\"#999\" stroke-width=\"2\"/>\
             <rect class=\"task\" x=\"{}\" y=\"{}\" width=\"{:.2}\" height=\"{}\" fill=\"{colour}\"><title>{} ({:.3} s)</title></rect>",
            x(*queued),
            x(*start),
            x(*start),
            y + 3.0,
            (x(*end) - x(*start)).max(1.0),
            LANE_HEIGHT - 6.0,
            escape(task.name()),
            end - start,
            cy = y + LANE_HEIGHT / 2.0,
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{LABEL_WIDTH}\" y=\"{ty}\">0 s</text><text x=\"{end}\" y=\"{ty}\" text-anchor=\"end\">{span:.2} s</text>\n</svg>",
        ty = height - 8.0,
        end = LABEL_WIDTH + PLOT_WIDTH,
    );
    svg
}
