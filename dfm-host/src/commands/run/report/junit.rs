//! `junit.xml`: one testsuite for the run, one testcase per task, as
//! Jenkins (its JUnit XSD, `junit-10.xsd`) and GitLab read it.
//!
//! That XSD allows properties on the testsuite only: where each task ran
//! (worker, host, job, attempt) is in its testcase's `system-out`, one
//! `dfm.<name>=<value>` line each, which both show with the test.

use std::fmt::Write as _;

use super::{Report, ReportTask};
use crate::commands::run::outcome::tail;

/// How many lines of a failed task's log its `<failure>` carries.
const LOG_LINES: usize = 30;

pub fn junit_xml(report: &Report) -> String {
    let tests = report.tasks.len();
    let failures = report
        .tasks
        .iter()
        .filter(|t| matches!(t.status(), Some(s) if s != 0))
        .count();
    let skipped = report.tasks.iter().filter(|t| !t.ran()).count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"{root}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">",
        root = escape(report.root),
        time = report.wall_secs,
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{root}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\" timestamp=\"{stamp}\" hostname=\"{host}\">",
        root = escape(report.root),
        time = report.wall_secs,
        stamp = timestamp(report.generated_unix),
        host = escape(&crate::procfs::hostname()),
    );
    let _ = writeln!(
        xml,
        "    <properties>\n      <property name=\"dfm.mode\" value=\"{}\"/>\n    </properties>",
        escape(report.mode)
    );
    for task in &report.tasks {
        testcase(&mut xml, report.root, task);
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn testcase(xml: &mut String, package: &str, task: &ReportTask) {
    let name = task
        .name()
        .strip_prefix(package)
        .and_then(|n| n.strip_prefix('.'))
        .unwrap_or(task.name());
    let _ = writeln!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
        escape(package),
        escape(name),
        task.secs().unwrap_or(0.0)
    );
    if let Some(why) = task.failure() {
        let mut body = String::new();
        for marker in task.markers() {
            let _ = writeln!(body, "{:?}: {}", marker.severity, marker.msg);
        }
        let log = tail(&task.outcome.log, LOG_LINES);
        if !log.is_empty() {
            let _ = writeln!(body, "--- last lines of {}", task.outcome.log.display());
            for line in log {
                let _ = writeln!(body, "{line}");
            }
        }
        let _ = writeln!(
            xml,
            "      <failure message=\"{}\" type=\"exit {}\">{}</failure>",
            escape(&why),
            task.status().unwrap_or(1),
            escape(&body)
        );
    } else if !task.ran() {
        let _ = writeln!(xml, "      <skipped message=\"not run\"/>");
    }
    if let Some(m) = task.measurements() {
        let mut out = String::new();
        let mut line = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                let _ = writeln!(out, "dfm.{key}={value}");
            }
        };
        line("worker", m.worker_id.clone());
        line("host", m.host.clone());
        line("job_id", m.job_id.clone());
        line("attempt", m.attempt.map(|a| a.to_string()));
        line(
            "queue_wait_secs",
            m.queue_wait_secs.map(|s| format!("{s:.3}")),
        );
        line("cpu_user_secs", m.cpu_user_secs.map(|s| format!("{s:.3}")));
        line(
            "cpu_system_secs",
            m.cpu_system_secs.map(|s| format!("{s:.3}")),
        );
        line("max_rss_kib", m.max_rss_kib.map(|k| k.to_string()));
        let _ = writeln!(xml, "      <system-out>{}</system-out>", escape(&out));
    }
    xml.push_str("    </testcase>\n");
}

/// Text safe in XML content and attributes (control characters, which
/// XML 1.0 cannot carry, become `?`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// `2026-12-07T06:30:00`, UTC, as JUnit's `timestamp` is written.
fn timestamp(unix: u64) -> String {
    let (days, secs) = (unix / 86_400, unix % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The calendar date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_escapes() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00");
        assert_eq!(timestamp(1_796_624_898), "2026-12-07T06:28:18");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(escape("a<b & \"c\"\u{1b}"), "a&lt;b &amp; &quot;c&quot;?");
    }
}
