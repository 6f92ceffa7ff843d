//! `runner.metrics_listen`: the daemon's metrics, read by the real thing —
//! Debian's Prometheus scraping it on loopback, its HTTP API asked for
//! `up` and a counter after a run, and `promtool check metrics` on the
//! text.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dfm_e2e::{describe, needs, wait_for, TestProject};
use serde_json::Value;

/// A port free on loopback now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// `GET path` on `127.0.0.1:port`: the status code and the body.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// Prometheus, stopped on drop.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Prometheus {
    fn scraping(project: &TestProject, target: &str) -> Prometheus {
        let dir = project.root.join("prometheus");
        std::fs::create_dir_all(&dir).expect("a folder for Prometheus");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: dfm\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).expect("its log"))
            .spawn()
            .expect("start prometheus");
        Prometheus { child, port }
    }

    /// The value of `query` now, as Prometheus's API answers it.
    fn value(&self, query: &str) -> Option<String> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect();
        let (code, body) = http_get(self.port, &format!("/api/v1/query?query={encoded}"))?;
        let answer: Value = serde_json::from_str(&body).ok()?;
        let value = answer["data"]["result"][0]["value"][1].as_str()?;
        (code == 200).then(|| value.to_string())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[ignore = "needs Prometheus and promtool: apt-get install prometheus"]
#[test]
fn prometheus_scrapes_the_daemon_and_sees_its_counters() {
    needs::program("promtool", &["--version"], "apt-get install prometheus");
    needs::program("prometheus", &["--version"], "apt-get install prometheus");
    let project = TestProject::new("metrics");
    let port = free_port();
    project.configure(&format!(
        "runner:\n  metrics_listen: \"127.0.0.1:{port}\"\n"
    ));
    project.start_daemon(&["--pool-size", "2"]);
    let prometheus = Prometheus::scraping(&project, &format!("127.0.0.1:{port}"));

    let mut client = project.client();
    for i in 0..5 {
        client.submit(project.task(&format!("t{i}"), &format!("exit {}", i / 4)));
    }
    let results = client.results(5);
    assert_eq!(
        results
            .values()
            .filter(|r| r["result"]["status"] == 0)
            .count(),
        4
    );

    let text = wait_for(Duration::from_secs(10), "the daemon's /metrics", || {
        http_get(port, "/metrics").filter(|(code, _)| *code == 200)
    })
    .1;
    for line in [
        "dfm_tasks_completed_total 4\n",
        "dfm_tasks_failed_total 1\n",
        "dfm_task_queue_wait_seconds_count 5\n",
        "dfm_task_duration_seconds_count 5\n",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    assert!(
        text.contains("dfm_workers{class=\"default\",state=\"idle\"}"),
        "{text}"
    );
    assert!(
        text.contains("dfm_runner_call_seconds_count{call=\"launch"),
        "{text}"
    );
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    check
        .stdin
        .take()
        .expect("its stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let checked = check.wait_with_output().expect("promtool's verdict");
    assert!(checked.status.success(), "{}", describe(&checked));
    assert!(
        checked.stdout.is_empty() && checked.stderr.is_empty(),
        "{}",
        describe(&checked)
    );
    assert_eq!(http_get(port, "/other").map(|(code, _)| code), Some(404));

    // Prometheus itself: the target is up, and the counter arrived.
    wait_for(Duration::from_secs(60), "Prometheus scraping dfm", || {
        (prometheus.value("up{job=\"dfm\"}")? == "1").then_some(())
    });
    wait_for(Duration::from_secs(60), "the counter in Prometheus", || {
        (prometheus.value("dfm_tasks_completed_total")? == "4").then_some(())
    });
    let stop = project.dfm(&["daemon", "stop"]);
    assert!(stop.status.success(), "{}", describe(&stop));
}
