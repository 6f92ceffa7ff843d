use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::json;

use super::*;
use crate::monitor::model::tests::{event, snapshot};

/// The screen as text, one string per row, trailing blanks trimmed.
fn screen(model: &Model, now: Instant, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| render(frame, model, now))
        .expect("draw");
    let buffer = terminal.backend().buffer().clone();
    (0..height)
        .map(|y| {
            let row: String = (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            row.trim_end().to_string()
        })
        .collect()
}

fn daemon(t0: Instant) -> Model {
    let mut model = Model::new(t0);
    model.apply(
        snapshot(
            json!({"pid": 4242, "runner": "local", "pool_size": 8, "uptime_secs": 3725.0}),
            json!([]),
            json!([]),
        ),
        t0,
    );
    model
}

fn assert_screen(actual: &[String], expected: &[&str]) {
    let expected: Vec<String> = expected.iter().map(|s| s.trim_end().to_string()).collect();
    assert_eq!(
        actual,
        expected,
        "\nactual screen:\n{}\n",
        actual.join("\n")
    );
}

#[test]
fn an_idle_daemon() {
    let t0 = Instant::now();
    let model = daemon(t0);
    let now = t0 + Duration::from_secs(1);
    assert_screen(
        &screen(&model, now, 80, 24),
        &[
            "Running tasks (0)",
            "TASK                                       WORKER     HOST               ELAPSED",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "Recent Completions",
            "  (none yet)",
            " dfm daemon pid 4242   up 1h02m06s",
            " Workers: 0 total, 0 busy, 0 idle, 0 pending",
            " Tasks: 0 running, 0 completed, 0 failed, 0 queued",
            " Runner: local   Pool size: 8   (q: detach)",
        ],
    );
}

fn busy(t0: Instant, tasks: usize) -> Model {
    let mut model = daemon(t0);
    for i in 0..tasks {
        model.apply(
            event(
                "task.dispatched",
                json!({"request_id": format!("r{i}"), "name": format!("regress.test_{i:02}"),
                    "worker_id": format!("w{i:02}"), "hostname": "node1"}),
            ),
            t0 + Duration::from_millis(100 * i as u64),
        );
    }
    model.apply(
        event(
            "task.completed",
            json!({"request_id": "b", "name": "regress.build", "status": 0, "duration_secs": 0.31}),
        ),
        t0,
    );
    model.apply(
        event("task.completed", json!({"request_id": "x", "name": "regress.test_bad", "status": 3, "duration_secs": 75.0})),
        t0,
    );
    model.apply(
        event(
            "task.completed",
            json!({"request_id": "y", "name": "regress.test_lost", "status": null,
                "error": "worker lost: w9 on node2", "duration_secs": 2.0}),
        ),
        t0,
    );
    model.apply(
        event(
            "pool.stats",
            json!({"counts": {"total": 4, "busy": 3, "idle": 0, "pending": 1}, "pending_tasks": 5,
                "running_tasks": tasks, "completed_tasks": 1, "failed_tasks": 2}),
        ),
        t0,
    );
    model
}

#[test]
fn a_busy_daemon() {
    let t0 = Instant::now();
    let model = busy(t0, 3);
    let now = t0 + Duration::from_secs(12);
    assert_screen(
        &screen(&model, now, 80, 24),
        &[
            "Running tasks (3)",
            "TASK                                       WORKER     HOST               ELAPSED",
            "regress.test_00                            w00        node1                12.0s",
            "regress.test_01                            w01        node1                11.9s",
            "regress.test_02                            w02        node1                11.8s",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "Recent Completions",
            "  FAIL  regress.test_lost                             2.0s  worker lost: w9 on n",
            "  FAIL  regress.test_bad                             1m15s  exit 3",
            "  PASS  regress.build                                 0.3s  exit 0",
            " dfm daemon pid 4242   up 1h02m17s",
            " Workers: 4 total, 3 busy, 0 idle, 1 pending",
            " Tasks: 3 running, 1 completed, 2 failed, 5 queued",
            " Runner: local   Pool size: 8   (q: detach)",
        ],
    );
}

#[test]
fn a_long_list_scrolls() {
    let t0 = Instant::now();
    let mut model = busy(t0, 30);
    let now = t0 + Duration::from_secs(100);
    let before = screen(&model, now, 80, 24);
    assert_eq!(
        before[0],
        "Running tasks (30), 1-13 shown (Up/Down/PgUp/PgDn)"
    );
    assert!(before[2].starts_with("regress.test_00"));
    assert!(before[14].starts_with("regress.test_12"));

    let visible = running_rows_visible(layout(Rect::new(0, 0, 80, 24), model.recent.len())[0]);
    assert_eq!(visible, 13);
    model.scroll_by(visible as isize, visible);
    let after = screen(&model, now, 80, 24);
    assert_screen(
        &after[..3],
        &[
            "Running tasks (30), 14-26 shown (Up/Down/PgUp/PgDn)",
            "TASK                                       WORKER     HOST               ELAPSED",
            "regress.test_13                            w13        node1                1m38s",
        ],
    );
    model.scroll_by(1000, visible);
    let end = screen(&model, now, 80, 24);
    assert_eq!(
        end[0],
        "Running tasks (30), 18-30 shown (Up/Down/PgUp/PgDn)"
    );
    assert!(end[14].starts_with("regress.test_29"));
    // The status bar stays put, exactly four lines at the bottom.
    assert_eq!(end[20], " dfm daemon pid 4242   up 1h03m45s");
    assert_eq!(end[23], " Runner: local   Pool size: 8   (q: detach)");
}

#[test]
fn a_larger_terminal_shows_more() {
    let t0 = Instant::now();
    let model = busy(t0, 30);
    let now = t0 + Duration::from_secs(100);
    let big = screen(&model, now, 120, 50);
    assert_eq!(big[0], "Running tasks (30)", "all 30 fit: no scrolling");
    assert!(big[31].starts_with("regress.test_29"));
    assert_eq!(big[46], " dfm daemon pid 4242   up 1h03m45s");
}

#[test]
fn the_clients_sharing_the_pool_get_a_line_under_the_running_tasks() {
    let t0 = Instant::now();
    let mut model = daemon(t0);
    model.apply(
        event(
            "pool.clients",
            json!([
                {"client": 3, "pid": 812, "queued": 40, "held": 2, "running": 2},
                {"client": 5, "queued": 3, "held": 0, "running": 0},
            ]),
        ),
        t0,
    );
    let rows = screen(&model, t0, 100, 14);
    let line = "Clients: #3 (pid 812) 40 queued, 2 running, 2 held · #5 3 queued, 0 running";
    assert!(rows.iter().any(|row| row == line), "{rows:#?}");
    // Gone once no client has anything in the pool.
    model.apply(event("pool.clients", json!([])), t0);
    let rows = screen(&model, t0, 100, 14);
    assert!(
        !rows.iter().any(|row| row.starts_with("Clients:")),
        "{rows:#?}"
    );
}

#[test]
fn a_daemon_that_does_not_answer_says_so_until_it_does() {
    let t0 = Instant::now();
    let mut model = daemon(t0);
    let now = t0 + Duration::from_secs(10);
    model.silent_since = Some(t0 + Duration::from_secs(3));
    let rows = screen(&model, now, 90, 24);
    assert!(
        rows.iter()
            .any(|r| r.contains("pid 4242   NOT ANSWERING for 7s")),
        "{}",
        rows.join("\n")
    );
    model.silent_since = None;
    let rows = screen(&model, now, 90, 24);
    assert!(!rows.iter().any(|r| r.contains("NOT ANSWERING")));
}

#[test]
fn the_status_bar_shows_each_licenses_use() {
    let t0 = Instant::now();
    let mut model = daemon(t0);
    model.apply(
        event(
            "pool.licenses",
            json!([{"name": "vcs", "in_use": 3, "allowed": 5, "count": 8, "others": 3, "waiting": 7}]),
        ),
        t0,
    );
    let rows = screen(&model, t0, 120, 14);
    let line =
        " Runner: local   Pool size: 8   Licenses: vcs 3/5 in use, 3 others, 7 waiting   (q: detach)";
    assert!(rows.iter().any(|row| row == line), "{rows:#?}");
}
