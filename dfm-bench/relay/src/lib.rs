//! For `dfm-bench --ceiling` only: a runner whose "jobs" are workers the
//! bench runs in its own process. Each launch (one worker, or a job array
//! of them) is one JSON line to the bench's socket (`runner.relay.socket`):
//! `{"launch": [worker ids], "env": {...}, "argv": [...]}`; a stop is
//! `{"stop": job id}`. The bench's workers speak the real protocol
//! (authenticate, register, heartbeat, answer) and run nothing, so what is
//! measured is the daemon alone.

use std::io::Write;
use std::os::unix::net::UnixStream;

use dfm_plugin_api::{export_runner, JobHandle, JobState, LaunchRequest, RunnerPlugin};
use serde_json::{json, Value};

struct Relay {
    socket: String,
}

impl Relay {
    fn tell(&self, message: Value) -> Result<(), String> {
        let mut stream = UnixStream::connect(&self.socket)
            .map_err(|e| format!("cannot reach the bench at {}: {e}", self.socket))?;
        stream
            .write_all(format!("{message}\n").as_bytes())
            .map_err(|e| format!("cannot tell the bench: {e}"))
    }

    fn launch_ids(&self, request: &LaunchRequest, ids: &[String]) -> Result<(), String> {
        let env: serde_json::Map<String, Value> = request
            .env_pairs()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let argv: Vec<&str> = request
            .program()
            .into_iter()
            .chain(request.args())
            .collect();
        self.tell(json!({"launch": ids, "env": env, "argv": argv}))
    }
}

fn env_value<'a>(request: &'a LaunchRequest, name: &str) -> Option<&'a str> {
    request
        .env_pairs()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl RunnerPlugin for Relay {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        let id = env_value(request, "DFM_WORKER_ID")
            .ok_or("no DFM_WORKER_ID in the launch request")?
            .to_string();
        self.launch_ids(request, std::slice::from_ref(&id))?;
        Ok(JobHandle::new(&id))
    }

    fn array_index_variable(&self) -> Option<String> {
        Some("RELAY_INDEX".into())
    }

    fn launch_array(&self, request: &LaunchRequest, count: u32) -> Result<Vec<JobHandle>, String> {
        let ids: Vec<String> = env_value(request, "DFM_WORKER_IDS")
            .ok_or("no DFM_WORKER_IDS in the array request")?
            .split(',')
            .map(str::to_string)
            .collect();
        if ids.len() != count as usize {
            return Err(format!("{} worker ids for {count} elements", ids.len()));
        }
        self.launch_ids(request, &ids)?;
        Ok(ids.iter().map(|id| JobHandle::new(id)).collect())
    }

    fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        self.tell(json!({"stop": job.job_id()}))
    }

    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> {
        Ok(vec![JobState::Running; jobs.len()])
    }
}

fn new_runner(config_json: &str) -> Result<Relay, String> {
    let config: Value =
        serde_json::from_str(config_json).map_err(|e| format!("runner.relay: {e}"))?;
    let socket = config["socket"]
        .as_str()
        .ok_or("runner.relay.socket: the bench's socket")?
        .to_string();
    Ok(Relay { socket })
}

export_runner!("relay", new_runner);
