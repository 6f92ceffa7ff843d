//! Draws the monitor: running tasks filling the screen, recent completions
//! below them, and a status bar of exactly four lines at the bottom.

use std::time::{Duration, Instant};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table};
use ratatui::Frame;

use super::model::Model;

pub const STATUS_BAR_LINES: u16 = 4;

/// `12.3s`, `4m05s`, `2h03m`.
pub fn format_elapsed(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    match secs {
        0..=59 => format!("{:.1}s", elapsed.as_secs_f64()),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// Rows of the running table that fit in `area` (title and header take two).
pub fn running_rows_visible(area: Rect) -> usize {
    area.height.saturating_sub(2) as usize
}

/// The areas: running tasks, recent completions, status bar.
pub fn layout(area: Rect, recent: usize) -> [Rect; 3] {
    let main = area.height.saturating_sub(STATUS_BAR_LINES);
    // Completions get up to a third of the main area (title + rows).
    let recent_rows = recent.clamp(1, (main as usize / 3).max(1)) as u16;
    let [running, completions, status] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(recent_rows + 2),
        Constraint::Length(STATUS_BAR_LINES),
    ])
    .areas(area);
    [running, completions, status]
}

pub fn render(frame: &mut Frame, model: &Model, now: Instant) {
    let [running, completions, status] = layout(frame.area(), model.recent.len());
    render_running(frame, running, model, now);
    render_completions(frame, completions, model);
    render_status(frame, status, model, now);
}

/// `Clients: #3 (pid 812) 40 queued, 2 running · #5 ...`, one line.
pub fn clients_line(model: &Model) -> String {
    let clients: Vec<String> = model
        .clients
        .iter()
        .map(|c| {
            let pid = c.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            let held = if c.held > 0 {
                format!(", {} held", c.held)
            } else {
                String::new()
            };
            format!(
                "#{}{pid} {} queued, {} running{held}",
                c.client, c.queued, c.running
            )
        })
        .collect();
    format!("Clients: {}", clients.join(" · "))
}

/// `   Licenses: vcs 3/5 in use, 2 others, 7 waiting`, or nothing without
/// any.
pub fn licenses_text(model: &Model) -> String {
    if model.licenses.is_empty() {
        return String::new();
    }
    let each: Vec<String> = model.licenses.iter().map(|l| l.summary()).collect();
    format!("   Licenses: {}", each.join("; "))
}

fn render_running(frame: &mut Frame, area: Rect, model: &Model, now: Instant) {
    // The clients sharing the pool: a line under the running tasks.
    let area = if model.clients.is_empty() {
        area
    } else {
        let [tasks, clients] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
        frame.render_widget(Paragraph::new(clients_line(model)), clients);
        tasks
    };
    let rows = model.running_rows();
    let visible = running_rows_visible(area);
    let first = model.scroll.min(rows.len().saturating_sub(visible));
    let shown = &rows[first..rows.len().min(first + visible)];
    let title = if rows.len() > visible {
        format!(
            "Running tasks ({}), {}-{} shown (Up/Down/PgUp/PgDn)",
            rows.len(),
            first + 1,
            first + shown.len()
        )
    } else {
        format!("Running tasks ({})", rows.len())
    };
    let [title_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(title).style(Style::new().add_modifier(Modifier::BOLD)),
        title_area,
    );
    let table = Table::new(
        shown.iter().map(|task| {
            Row::new(vec![
                task.name.clone(),
                task.worker_id.clone(),
                task.hostname.clone(),
                format!(
                    "{:>9}",
                    format_elapsed(now.saturating_duration_since(task.since))
                ),
            ])
        }),
        [
            Constraint::Fill(1),
            Constraint::Length(10),
            Constraint::Length(16),
            Constraint::Length(9),
        ],
    )
    .header(
        Row::new(vec!["TASK", "WORKER", "HOST", "  ELAPSED"])
            .style(Style::new().add_modifier(Modifier::UNDERLINED)),
    );
    frame.render_widget(table, table_area);
}

fn render_completions(frame: &mut Frame, area: Rect, model: &Model) {
    let rows = area.height.saturating_sub(2) as usize;
    let mut lines = vec![
        Line::default(),
        Line::styled(
            "Recent Completions",
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ];
    if model.recent.is_empty() {
        lines.push(Line::from("  (none yet)"));
    }
    for done in model.recent.iter().take(rows) {
        let verdict = if done.passed() { "PASS" } else { "FAIL" };
        let how = match (done.status, &done.error) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "failed".to_string(),
        };
        let duration = done.duration.map(format_elapsed).unwrap_or_default();
        lines.push(Line::from(format!(
            "  {verdict}  {:<40} {duration:>9}  {how}",
            done.name
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn render_status(frame: &mut Frame, area: Rect, model: &Model, now: Instant) {
    let s = &model.stats;
    let uptime = now.saturating_duration_since(model.started).as_secs();
    let first = match model.silent_since {
        Some(since) => format!(
            " dfm daemon pid {}   NOT ANSWERING for {}s (stopped or hung?); still trying",
            model.pid,
            now.saturating_duration_since(since).as_secs()
        ),
        None => format!(
            " dfm daemon pid {}   up {}h{:02}m{:02}s",
            model.pid,
            uptime / 3600,
            uptime % 3600 / 60,
            uptime % 60
        ),
    };
    let lines = vec![
        Line::from(first),
        Line::from(format!(
            " Workers: {} total, {} busy, {} idle, {} pending",
            s.workers.total, s.workers.busy, s.workers.idle, s.workers.pending
        )),
        Line::from(format!(
            " Tasks: {} running, {} completed, {} failed, {} queued",
            s.running_tasks, s.completed_tasks, s.failed_tasks, s.pending_tasks
        )),
        Line::from(format!(
            " Runner: {}   Pool size: {}{}   (q: detach)",
            model.runner,
            model.pool_size,
            licenses_text(model)
        )),
    ];
    frame.render_widget(
        Paragraph::new(lines).style(Style::new().add_modifier(Modifier::REVERSED)),
        area,
    );
}

#[cfg(test)]
mod tests;
