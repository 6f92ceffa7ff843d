//! What a scrape of `/metrics` shows: the pool now, and what the core
//! recorded over time (`daemon::metrics`).

use crate::daemon::metrics::text::Exposition;
use crate::pool::SlotState;

use super::{clock_now, Core};

/// How a class is named in labels (the default class has no name).
fn class_label(class: &str) -> &str {
    if class.is_empty() {
        "default"
    } else {
        class
    }
}

impl Core {
    /// The text of a scrape.
    pub(super) fn metrics_text(&self) -> String {
        let mut out = Exposition::default();
        self.pool_metrics(&mut out);
        self.recorded_metrics(&mut out);
        self.license_metrics(&mut out);
        out.family(
            "dfm_daemon_uptime_seconds",
            "gauge",
            "Seconds since the daemon started.",
        )
        .sample(
            "dfm_daemon_uptime_seconds",
            &[],
            clock_now().duration_since(self.started).as_secs_f64(),
        );
        out.family(
            "dfm_build_info",
            "gauge",
            "The dfm that serves these metrics (always 1).",
        )
        .sample(
            "dfm_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("runner", &self.status_base.runner),
            ],
            1.0,
        );
        out.into_text()
    }

    fn pool_metrics(&self, out: &mut Exposition) {
        let classes: Vec<_> = self.pool.class_counts().collect();
        out.family(
            "dfm_workers",
            "gauge",
            "Workers in the pool, by resource class and state.",
        );
        for c in &classes {
            let class = class_label(c.class);
            for (state, n) in [
                ("launching", c.launching),
                ("idle", c.idle),
                ("busy", c.busy),
            ] {
                out.sample(
                    "dfm_workers",
                    &[("class", class), ("state", state)],
                    n as f64,
                );
            }
        }
        out.family(
            "dfm_worker_launches_pending",
            "gauge",
            "Worker launches asked of the runner and not answered yet.",
        )
        .sample(
            "dfm_worker_launches_pending",
            &[],
            self.pool.launches_in_flight() as f64,
        );
        out.family("dfm_tasks", "gauge", "Tasks in the pool, by resource class and state (queued, held ahead by a busy worker, running).");
        for c in &classes {
            let class = class_label(c.class);
            for (state, n) in [("queued", c.queued), ("held", c.held), ("running", c.busy)] {
                out.sample("dfm_tasks", &[("class", class), ("state", state)], n as f64);
            }
        }
        let counts = self.pool.counts();
        out.family(
            "dfm_tasks_completed_total",
            "counter",
            "Tasks that ended with status 0.",
        )
        .sample(
            "dfm_tasks_completed_total",
            &[],
            counts.completed_tasks as f64,
        );
        out.family(
            "dfm_tasks_failed_total",
            "counter",
            "Tasks that failed, or did not run to completion.",
        )
        .sample("dfm_tasks_failed_total", &[], counts.failed_tasks as f64);
        out.family(
            "dfm_client_tasks",
            "gauge",
            "Each connected client's tasks, by state.",
        );
        for client in self.client_statuses() {
            let id = client.client.to_string();
            let pid = client.pid.map(|p| p.to_string()).unwrap_or_default();
            for (state, n) in [
                ("queued", client.queued),
                ("held", client.held),
                ("running", client.running),
            ] {
                let labels = [
                    ("client", id.as_str()),
                    ("pid", pid.as_str()),
                    ("state", state),
                ];
                out.sample("dfm_client_tasks", &labels, n as f64);
            }
        }
        // The soonest end of a worker job, per class: a long list of
        // workers would make a label per worker.
        let now = clock_now();
        let mut soonest: std::collections::BTreeMap<&str, f64> = Default::default();
        for (_, slot) in self.pool.slots() {
            if let (Some(ends), SlotState::Idle | SlotState::Busy(_)) = (slot.ends_at(), slot.state)
            {
                let left = ends.saturating_duration_since(now).as_secs_f64();
                let class = class_label(self.pool.class_of(slot));
                let entry = soonest.entry(class).or_insert(left);
                *entry = entry.min(left);
            }
        }
        out.family(
            "dfm_worker_job_seconds_left_min",
            "gauge",
            "Seconds before the soonest run limit of a worker job of the class.",
        );
        for (class, left) in soonest {
            out.sample("dfm_worker_job_seconds_left_min", &[("class", class)], left);
        }
    }

    fn recorded_metrics(&self, out: &mut Exposition) {
        let Some(m) = self.metrics.as_deref() else {
            return;
        };
        out.histograms(
            "dfm_task_queue_wait_seconds",
            "From a task's submit to its start on a worker.",
            [(Vec::new(), &m.queue_wait)],
        );
        out.histograms(
            "dfm_task_duration_seconds",
            "How long tasks ran on their workers.",
            [(Vec::new(), &m.task_duration)],
        );
        out.histograms(
            "dfm_dispatch_latency_seconds",
            "From a task's submit to its being sent to a worker (to run, or to hold ahead).",
            [(Vec::new(), &m.dispatch_latency)],
        );
        out.family(
            "dfm_worker_launches_total",
            "counter",
            "Worker jobs the runner started.",
        )
        .sample("dfm_worker_launches_total", &[], m.workers_launched as f64);
        out.family(
            "dfm_worker_launch_failures_total",
            "counter",
            "Worker jobs the runner failed to start.",
        )
        .sample(
            "dfm_worker_launch_failures_total",
            &[],
            m.worker_launches_failed as f64,
        );
        let calls = self.runner.call_times().snapshot();
        out.histograms(
            "dfm_runner_call_seconds",
            "How long the runner plugin's calls took (bsub, sbatch, squeue, ...), by call.",
            calls.iter().map(|(call, h)| (vec![("call", *call)], h)),
        );
    }

    fn license_metrics(&self, out: &mut Exposition) {
        let licenses = self.license_statuses();
        if licenses.is_empty() {
            return;
        }
        out.family(
            "dfm_license_tokens_in_use",
            "gauge",
            "License tokens held by the daemon's running tasks.",
        );
        for l in &licenses {
            out.sample(
                "dfm_license_tokens_in_use",
                &[("license", &l.name)],
                f64::from(l.in_use),
            );
        }
        out.family(
            "dfm_license_tokens_allowed",
            "gauge",
            "License tokens the daemon's tasks may hold now.",
        );
        for l in &licenses {
            out.sample(
                "dfm_license_tokens_allowed",
                &[("license", &l.name)],
                f64::from(l.allowed),
            );
        }
        out.family(
            "dfm_license_tasks_waiting",
            "gauge",
            "Tasks waiting that need the license.",
        );
        for l in &licenses {
            out.sample(
                "dfm_license_tasks_waiting",
                &[("license", &l.name)],
                l.waiting as f64,
            );
        }
    }
}
