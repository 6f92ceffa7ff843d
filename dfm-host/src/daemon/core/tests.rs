//! The core driven by a fake runner on tokio's paused clock: each test is
//! the event loop (it hands the core one event at a time, and the runner's
//! answers as they come), or runs the core's own loop to its end.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dfm_plugin_api::extended::{GuardedV2, RunnerV2_TO};
use dfm_plugin_api::{JobHandle, JobReport, JobState, JobStatus, LaunchRequest, RunnerPlugin};
use dfm_wire::worker::job_env;
use dfm_wire::{DaemonStatus, MonitorEvent, PoolCounts, Register, Reply, TaskSpec};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::{clock_now, Core, Setup};
use crate::config::{CliOverrides, Layers};
use crate::daemon::durations::DurationsFile;
use crate::daemon::event::{Event, Request};
use crate::daemon::journal::{self, JournalFile, Keeper};
use crate::daemon::line_writers::{self, Hold, Queue};
use crate::daemon::runner_calls::LaunchSetup;
use crate::plugin::Runner;
use crate::pool::{ClientId, Pool, SlotId};

/// What the fake scheduler was asked, in order, and what it answers.
#[derive(Default)]
struct Scheduler {
    calls: Mutex<Vec<String>>,
    /// Worker ids of the jobs launched, in order.
    workers: Mutex<Vec<String>>,
    /// What `poll_reports` answers for each job id (default: running).
    statuses: Mutex<Vec<(String, JobReport)>>,
}

impl Scheduler {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    fn answer(&self, job_id: &str, report: impl Into<JobReport>) {
        self.statuses
            .lock()
            .expect("statuses")
            .push((job_id.into(), report.into()));
    }
}

struct FakeRunner(Arc<Scheduler>);

impl RunnerPlugin for FakeRunner {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let worker = env(request, job_env::WORKER_ID);
        let mut calls = self.0.calls.lock().expect("calls");
        calls.push(format!("launch {worker}"));
        self.0.workers.lock().expect("workers").push(worker);
        Ok(JobHandle::new(&format!("job{}", calls.len())))
    }

    fn array_index_variable(&self) -> Option<String> {
        Some("FAKE_INDEX".into())
    }

    fn launch_array(&self, request: &LaunchRequest, count: u32) -> Result<Vec<JobHandle>, String> {
        let workers = env(request, job_env::WORKER_IDS);
        let mut calls = self.0.calls.lock().expect("calls");
        calls.push(format!("launch_array {count}"));
        let array = format!("job{}", calls.len());
        let mut known = self.0.workers.lock().expect("workers");
        known.extend(workers.split(',').map(str::to_string));
        Ok((1..=count)
            .map(|i| JobHandle::new(&format!("{array}_{i}")))
            .collect())
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        let mut calls = self.0.calls.lock().expect("calls");
        calls.push(format!("terminate {}", job.job_id()));
        Ok(())
    }

    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> {
        Ok(self
            .poll_status(jobs)?
            .iter()
            .map(JobStatus::state)
            .collect())
    }

    fn poll_status(&self, jobs: &[JobHandle]) -> Result<Vec<JobStatus>, String> {
        Ok(self
            .poll_reports(jobs)?
            .iter()
            .map(JobReport::status)
            .collect())
    }

    fn poll_reports(&self, jobs: &[JobHandle]) -> Result<Vec<JobReport>, String> {
        let statuses = self.0.statuses.lock().expect("statuses");
        Ok(jobs
            .iter()
            .map(|job| {
                statuses
                    .iter()
                    .rev()
                    .find(|(id, _)| id == job.job_id())
                    .map(|(_, report)| report.clone())
                    .unwrap_or_else(|| JobStatus::new(JobState::Running).into())
            })
            .collect())
    }
}

fn env(request: &LaunchRequest, name: &str) -> String {
    request
        .env_pairs()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
        .unwrap_or_default()
}

/// A core with the fake runner, its events, and the project folder.
struct Harness {
    core: Core,
    events: mpsc::UnboundedReceiver<Event>,
    events_tx: mpsc::UnboundedSender<Event>,
    scheduler: Arc<Scheduler>,
    dir: PathBuf,
    /// A connected client's queued lines.
    client: Queue,
}

const CLIENT: ClientId = 1;

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dfm-core-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test folder");
    dir
}

impl Harness {
    /// `options` as `--runner-opt`; with a journal, as a project daemon.
    fn new(name: &str, options: &[(&str, &str)], with_journal: bool) -> Harness {
        let dir = dir(name);
        let layers = Layers {
            files: Vec::new(),
            env_runner: None,
        };
        let overrides = CliOverrides {
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..CliOverrides::default()
        };
        let config = Arc::new(layers.load(&overrides).expect("configuration"));
        let mut pool_config = config.pool_config();
        pool_config.arrays = config.pool.launch_as_array;
        let journal = with_journal.then(|| {
            let base = journal::new_journal(&dir, "fake", "secret", "127.0.0.1", 1);
            Keeper::start(JournalFile::new(dir.join("journal.json")), base).expect("journal")
        });
        let setup = Setup {
            launch: LaunchSetup {
                config: config.clone(),
                secret: Arc::new("secret".into()),
                worker_program: PathBuf::from("/bin/true"),
                worker_address: "127.0.0.1:1".into(),
                local_worker_socket: None,
                workers_log_dir: dir.join("workers"),
            },
            status_base: DaemonStatus {
                pid: 1,
                runner: "fake".into(),
                workers: Vec::new(),
                tasks: PoolCounts::default(),
                started: String::new(),
                uptime_secs: 0.0,
                socket: String::new(),
                worker_port: 1,
                pool_size: config.pool.max_workers,
                clients: Vec::new(),
                licenses: Vec::new(),
                worker_licenses: Vec::new(),
            },
            hold_client_lines: Hold::new(line_writers::HOLD),
            durations: DurationsFile::new(dir.join("durations.json")),
            journal,
            adopted: Vec::new(),
        };
        let scheduler = Arc::new(Scheduler::default());
        let runner = Runner::V2(RunnerV2_TO::from_value(
            GuardedV2(FakeRunner(scheduler.clone())),
            abi_stable::sabi_trait::TD_Opaque,
        ));
        let (events_tx, events) = mpsc::unbounded_channel();
        let pool = Pool::new(pool_config, "w");
        let mut core = Core::new(setup, runner, pool, events_tx.clone());
        let (lines, client) = line_writers::channel();
        core.step(Event::ClientConnected {
            client: CLIENT,
            pid: None,
            lines,
            writer: tokio::spawn(async {}),
        });
        Harness {
            core,
            events,
            events_tx,
            scheduler,
            dir,
            client,
        }
    }

    fn submit(&mut self, name: &str) {
        let spec: TaskSpec = serde_json::from_value(json!({
            "request_id": name, "name": name, "shell": "bash", "body": "true",
            "srcdir": "/tmp", "rundir": "/tmp",
        }))
        .expect("a task");
        self.core.step(Event::ClientRequest {
            client: CLIENT,
            id: json!(name),
            request: Request::Submit(Box::new(spec)),
        });
    }

    /// The runner's next answer, handed to the core.
    async fn runner_answers(&mut self) {
        let event = self.events.recv().await.expect("the runner answers");
        self.core.step(event);
    }

    /// Registers the worker `worker_id` launched; its slot and queue.
    fn register(&mut self, worker_id: &str) -> (SlotId, Queue) {
        let (lines, queue) = line_writers::channel();
        let (answer, mut slot) = oneshot::channel();
        let register = Register {
            worker_id: worker_id.into(),
            hostname: "node1".into(),
            pid: 7,
            resource_class: String::new(),
            job_id: String::new(),
            lsf_job_id: String::new(),
            auth: String::new(),
            nonce: String::new(),
            prefetch: true,
            prefetch_depth: 4,
            seal: true,
        };
        self.core.step(Event::WorkerHello {
            register,
            welcome: "welcome\n".into(),
            lines,
            answer,
        });
        let slot = slot
            .try_recv()
            .expect("an answer at once")
            .expect("registered");
        (slot, queue)
    }

    fn launched_workers(&self) -> Vec<String> {
        self.scheduler.workers.lock().expect("workers").clone()
    }

    /// Polls through the runner and hands its answer to the core.
    async fn poll(&mut self) {
        self.core.runner.poll(self.core.workers.jobs());
        self.runner_answers().await;
    }
}

impl Core {
    /// One turn of the loop: the event, then what the pool wants done.
    fn step(&mut self, event: Event) {
        self.handle(event);
        self.apply_actions();
        self.keep_journal();
    }
}

#[tokio::test(start_paused = true)]
async fn launches_asked_for_across_events_go_out_as_one_job_array() {
    let mut h = Harness::new("gather", &[("pool.max_workers", "3")], false);
    for name in ["a", "b", "c"] {
        h.submit(name);
    }
    assert!(h.scheduler.calls().is_empty(), "nothing launched yet");
    h.core.launch_gathered();
    h.runner_answers().await;
    assert_eq!(h.scheduler.calls(), ["launch_array 3"]);
    assert_eq!(h.launched_workers().len(), 3);
    for worker in h.launched_workers() {
        let (_, mut queue) = h.register(&worker);
        let lines = queue.take();
        assert_eq!(lines[0], "welcome\n");
        assert!(lines[1].contains("task.execute"), "{lines:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_job_launched_alone_is_launched_alone() {
    let mut h = Harness::new("alone", &[("pool.max_workers", "3")], false);
    h.submit("a");
    h.core.launch_gathered();
    h.runner_answers().await;
    assert_eq!(
        h.scheduler.calls(),
        [format!("launch {}", h.launched_workers()[0])]
    );
}

#[tokio::test(start_paused = true)]
async fn without_job_arrays_each_worker_is_launched_at_once() {
    let options = [("pool.max_workers", "2"), ("pool.launch_as_array", "false")];
    let mut h = Harness::new("no-arrays", &options, false);
    h.submit("a");
    h.submit("b");
    // No gathering: each launch is asked for as the pool decides it.
    assert!(h.core.launches.is_empty() && h.core.gathered_at.is_none());
    h.runner_answers().await;
    h.runner_answers().await;
    let launched: Vec<String> = h
        .launched_workers()
        .iter()
        .map(|w| format!("launch {w}"))
        .collect();
    assert_eq!((launched.len(), h.scheduler.calls()), (2, launched));
}

/// Starts one worker for task `a` and registers it.
async fn one_worker(h: &mut Harness) -> (SlotId, Queue) {
    h.submit("a");
    h.core.launch_gathered();
    h.runner_answers().await;
    let worker = h.launched_workers()[0].clone();
    h.register(&worker)
}

#[tokio::test(start_paused = true)]
async fn the_time_a_poll_says_a_job_has_left_sets_when_it_ends() {
    let mut h = Harness::new("walltime", &[], false);
    let (slot, _queue) = one_worker(&mut h).await;
    assert_eq!(h.core.pool.slot(slot).and_then(|s| s.ends_at()), None);

    h.scheduler.answer(
        "job1",
        JobStatus::new(JobState::Running).with_seconds_left(Some(600)),
    );
    h.poll().await;
    let seeded = clock_now() + Duration::from_secs(600);
    assert_eq!(
        h.core.pool.slot(slot).and_then(|s| s.ends_at()),
        Some(seeded)
    );

    // Later polls only ever bring the end nearer.
    tokio::time::advance(Duration::from_secs(100)).await;
    h.scheduler.answer(
        "job1",
        JobStatus::new(JobState::Running).with_seconds_left(Some(900)),
    );
    h.poll().await;
    assert_eq!(
        h.core.pool.slot(slot).and_then(|s| s.ends_at()),
        Some(seeded)
    );
    h.scheduler.answer(
        "job1",
        JobStatus::new(JobState::Running).with_seconds_left(Some(60)),
    );
    h.poll().await;
    let nearer = clock_now() + Duration::from_secs(60);
    assert_eq!(
        h.core.pool.slot(slot).and_then(|s| s.ends_at()),
        Some(nearer)
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_of_unknown_state_stays_and_an_exited_one_is_replaced() {
    let mut h = Harness::new("polls", &[], false);
    let (slot, _queue) = one_worker(&mut h).await;

    for state in [JobState::Unknown, JobState::Pending] {
        h.scheduler.answer("job1", JobStatus::new(state));
        h.poll().await;
        assert!(
            h.core.pool.slot(slot).is_some(),
            "{state:?}: the worker stays"
        );
    }

    // Its job exited with the task on it: the task runs again, on a new job.
    h.scheduler
        .answer("job1", JobStatus::new(JobState::Exited(1)));
    h.poll().await;
    assert!(h.core.pool.slot(slot).is_none(), "the worker is gone");
    h.core.launch_gathered();
    // Its job is stopped (it may linger), and a new one launched.
    h.runner_answers().await;
    h.runner_answers().await;
    let calls = h.scheduler.calls();
    assert!(calls.contains(&"terminate job1".to_string()), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| c.starts_with("launch")).count(), 2);
    let replacement = h.launched_workers()[1].clone();
    let (_, mut queue) = h.register(&replacement);
    assert!(queue
        .take()
        .iter()
        .any(|l| l.contains(r#""request_id":"a""#)));
}

/// A `daemon.shutdown` request through the core's own loop, to its end.
async fn shut_down(mut h: Harness, keep_workers: bool) -> (Vec<String>, PathBuf) {
    let (_slot, _queue) = one_worker(&mut h).await;
    let Harness {
        core,
        events,
        events_tx,
        scheduler,
        dir,
        mut client,
    } = h;
    let (_control_tx, control) = mpsc::unbounded_channel();
    events_tx
        .send(Event::ClientRequest {
            client: CLIENT,
            id: json!("stop"),
            request: Request::Shutdown { keep_workers },
        })
        .expect("the core listens");
    let ended = core.run(control, events, Duration::from_secs(3600));
    tokio::time::timeout(Duration::from_secs(600), ended)
        .await
        .expect("the core ends");
    let replies = client.take();
    assert!(
        replies.iter().any(|l| l.contains("shutting_down")),
        "{replies:?}"
    );
    let calls = scheduler.calls();
    (calls, dir)
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_stops_every_job_and_leaves_no_journal() {
    let h = Harness::new("stop", &[], true);
    let (calls, dir) = shut_down(h, false).await;
    assert!(calls.contains(&"terminate job1".to_string()), "{calls:?}");
    assert!(!dir.join("journal.json").exists());
}

#[tokio::test(start_paused = true)]
async fn a_restart_leaves_the_workers_running_and_named_in_the_journal() {
    let h = Harness::new("restart", &[], true);
    let (calls, dir) = shut_down(h, true).await;
    assert!(
        !calls.iter().any(|c| c.starts_with("terminate")),
        "{calls:?}"
    );
    let journal = std::fs::read_to_string(dir.join("journal.json")).expect("the journal");
    let journal: serde_json::Value = serde_json::from_str(&journal).expect("JSON");
    assert_eq!(journal["workers"][0]["job_id"], "job1", "{journal}");
}

/// A class whose workers each hold a license the scheduler counts
/// (`license_scope: worker`): a job the scheduler keeps pending for it is
/// shown so, per worker (the scheduler's words) and per license, until a
/// poll says it runs.
#[tokio::test(start_paused = true)]
async fn workers_the_scheduler_keeps_waiting_for_a_license_are_shown_waiting() {
    let options = [
        ("pool.max_workers", "2"),
        ("defaults.license_scope", "worker"),
        ("defaults.licenses.sim_seat", "1"),
    ];
    let mut h = Harness::new("seat", &options, false);
    h.submit("a");
    h.submit("b");
    h.core.launch_gathered();
    h.runner_answers().await;
    assert_eq!(h.scheduler.calls(), ["launch_array 2"]);
    let first = h.launched_workers()[0].clone();
    h.register(&first);
    let pending = JobStatus::new(JobState::Pending);
    h.scheduler.answer(
        "job1_2",
        JobReport::new(pending).pending_because("Licenses"),
    );
    h.poll().await;

    let status = h.core.status();
    let seat = &status.worker_licenses;
    assert_eq!(seat.len(), 1, "{seat:?}");
    assert_eq!(
        (
            seat[0].name.as_str(),
            seat[0].workers_holding,
            seat[0].workers_waiting
        ),
        ("sim_seat", 1, 1)
    );
    let reasons: Vec<Option<&str>> = status
        .workers
        .iter()
        .map(|w| w.pending_reason.as_deref())
        .collect();
    assert_eq!(
        reasons.iter().filter(|r| **r == Some("Licenses")).count(),
        1
    );
    // status.get's reply, written from borrowed strings, says the same.
    let mut reply: serde_json::Value =
        serde_json::from_str(&h.core.status_reply(&json!(7))).expect("a JSON line");
    let mut owned = serde_json::to_value(h.core.status()).expect("serialises");
    // Each says how long the daemon has run, when asked.
    reply["result"]["uptime_secs"] = json!(null);
    owned["uptime_secs"] = json!(null);
    assert_eq!(reply["result"], owned);
    assert_eq!(reply["result"]["workers"].as_array().map(Vec::len), Some(2));

    // Pending for another reason: not for the license.
    h.scheduler.answer(
        "job1_2",
        JobReport::new(pending).pending_because("Priority"),
    );
    h.poll().await;
    assert_eq!(h.core.status().worker_licenses[0].workers_waiting, 0);

    // It runs: no reason left.
    h.scheduler
        .answer("job1_2", JobStatus::new(JobState::Running));
    h.poll().await;
    let status = h.core.status();
    assert!(status.workers.iter().all(|w| w.pending_reason.is_none()));
}

#[tokio::test(start_paused = true)]
async fn a_monitors_snapshot_written_from_borrowed_parts_reads_back_as_the_pool_is() {
    let mut h = Harness::new("snapshot", &[], false);
    let (_slot, _queue) = one_worker(&mut h).await;
    let line = h.core.snapshot_line();
    let Ok(Reply::Event { method, params }) = Reply::parse(line.trim_end().as_bytes()) else {
        panic!("not an event line: {line}");
    };
    let Ok(Some(MonitorEvent::Snapshot(snapshot))) = MonitorEvent::parse(&method, params) else {
        panic!("not a snapshot: {line}");
    };
    let worker = h.launched_workers()[0].clone();
    let running: Vec<(&str, &str, &str)> = snapshot
        .running
        .iter()
        .map(|t| (t.request_id.as_str(), t.name.as_str(), t.worker_id.as_str()))
        .collect();
    assert_eq!(running, [("a", "a", worker.as_str())]);
    let mut status = h.core.status();
    let mut shown = snapshot.status;
    // Each says how long the daemon has run, when asked.
    (status.uptime_secs, shown.uptime_secs) = (0.0, 0.0);
    assert_eq!(shown, status);
    assert_eq!(shown.workers[0].current_task.as_deref(), Some("a"));
}

/// `status.get`'s reply as read by a client, and the status as the core
/// holds it, the same but for how long the daemon has run.
fn status_as_written_and_held(h: &Harness) -> (serde_json::Value, serde_json::Value) {
    let mut reply: serde_json::Value =
        serde_json::from_str(&h.core.status_reply(&json!(1))).expect("a JSON line");
    let mut held = serde_json::to_value(h.core.status()).expect("serialises");
    reply["result"]["uptime_secs"] = json!(null);
    held["uptime_secs"] = json!(null);
    (reply["result"].take(), held)
}

#[tokio::test(start_paused = true)]
async fn a_workers_entry_kept_as_json_follows_its_job_and_registration() {
    let mut h = Harness::new("entry-json", &[], false);
    h.submit("a");
    h.core.launch_gathered();
    // The runner has launched the job, and the worker registers before
    // the core hears of its job.
    let launched = h.events.recv().await.expect("the runner answers");
    let (written, held) = status_as_written_and_held(&h);
    assert_eq!(written, held);
    assert_eq!(written["workers"][0]["state"], "launching");
    let worker = h.launched_workers()[0].clone();
    h.register(&worker);
    let (written, held) = status_as_written_and_held(&h);
    assert_eq!(written, held);
    assert_eq!(written["workers"][0]["hostname"], "node1");
    assert_eq!(written["workers"][0]["current_task"], "a");
    assert_eq!(written["workers"][0]["job_id"], "");
    h.core.step(launched);
    let (written, held) = status_as_written_and_held(&h);
    assert_eq!(written, held);
    assert_ne!(written["workers"][0]["job_id"], "", "{written}");
}
