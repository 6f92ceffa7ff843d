//! A plugin's runner, whichever plugin API it was built against: the one
//! set of calls the daemon makes. A plugin of API 0.1.0 has no job arrays
//! and no statuses beyond its jobs' states, one of 0.1.1 no pending
//! reasons; the defaults here say so.

use std::path::Path;

use abi_stable::library::RawLibrary;
use abi_stable::std_types::{RResult, RString, RVec};
use abi_stable::type_layout::TypeLayout;
use dfm_plugin_api::extended::{self, RunnerV2Box, RunnerV2ModuleRef};
use dfm_plugin_api::host::RunnerBox;
use dfm_plugin_api::{JobHandle, JobReport, JobStatus, LaunchRequest};

pub enum Runner {
    /// Built against API 0.1.0.
    V1(RunnerBox),
    /// Built against API 0.1.1 or later.
    V2(RunnerV2Box),
}

fn plain<T>(result: RResult<T, RString>) -> Result<T, String> {
    result.into_result().map_err(RString::into_string)
}

impl Runner {
    pub fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> {
        plain(match self {
            Runner::V1(runner) => runner.launch(request),
            Runner::V2(runner) => runner.launch(request),
        })
    }

    pub fn terminate(&self, job: &JobHandle) -> Result<(), String> {
        plain(match self {
            Runner::V1(runner) => runner.terminate(job),
            Runner::V2(runner) => runner.terminate(job),
        })
    }

    /// The reports of `jobs`, in their order, in one call. (A plugin of
    /// API 0.1.1 answers through `poll_status`, by the default
    /// `poll_reports` abi_stable runs for it.)
    pub fn poll(&self, jobs: Vec<JobHandle>) -> Result<Vec<JobReport>, String> {
        match self {
            Runner::V1(runner) => {
                let states = plain(runner.poll(RVec::from(jobs)))?;
                Ok(states
                    .into_iter()
                    .map(|state| JobReport::new(JobStatus::new(state)))
                    .collect())
            }
            Runner::V2(runner) => plain(runner.poll_reports(RVec::from(jobs))).map(RVec::into_vec),
        }
    }

    /// The variable in which an element of a job array finds its index;
    /// `None` when the runner has no job arrays.
    pub fn array_index_variable(&self) -> Option<String> {
        match self {
            Runner::V1(_) => None,
            Runner::V2(runner) => Some(runner.array_index_variable().into_string()),
        }
        .filter(|name| !name.is_empty())
    }

    /// `count` jobs of `request` as one job array.
    pub fn launch_array(
        &self,
        request: &LaunchRequest,
        count: u32,
    ) -> Result<Vec<JobHandle>, String> {
        match self {
            Runner::V1(_) => Err("this runner plugin was built before job arrays".into()),
            Runner::V2(runner) => plain(runner.launch_array(request, count)).map(RVec::into_vec),
        }
    }
}

/// The API 0.1.1 entry point of the plugin at `path`, if it has one.
/// `Err`: it has one, but its layout does not match this dfm's.
pub fn entry_point(path: &Path) -> Result<Option<RunnerV2ModuleRef>, String> {
    let library = RawLibrary::load_at(path).map_err(|e| e.to_string())?;
    // SAFETY: the symbols, where present, are the functions
    // `export_runner!` defines with exactly these signatures.
    let layout = match unsafe {
        library.get::<extern "C" fn() -> &'static TypeLayout>(extended::LAYOUT_SYMBOL)
    } {
        Ok(layout) => layout(),
        // Built before API 0.1.1.
        Err(_) => return Ok(None),
    };
    compatible(layout)?;
    // SAFETY: as above; its layout was just checked.
    let module =
        unsafe { library.get::<extern "C" fn() -> RunnerV2ModuleRef>(extended::ENTRY_POINT) }
            .map_err(|e| e.to_string())?();
    // What the plugin handed out lives in the library: keep it loaded, as
    // abi_stable does with the libraries it loads.
    std::mem::forget(library);
    Ok(Some(module))
}

/// Whether a plugin's layout of the 0.1.1 entry point (`plugin`) can be
/// used by this dfm's. Their methods must agree as far as both go; either
/// may have more after `RunnerV2`'s last prefix method. abi_stable's check
/// lets only the implementation have more, so it is asked both ways: a
/// newer plugin has methods this dfm ignores; an older one lacks methods
/// whose calls then run their default (abi_stable checks, at each call,
/// whether the plugin's table of methods has it).
fn compatible(plugin: &'static TypeLayout) -> Result<(), String> {
    use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
    let ours = extended::layout();
    match check_layout_compatibility(ours, plugin) {
        Ok(()) => Ok(()),
        Err(newer) => {
            check_layout_compatibility(plugin, ours).map_err(|_| what_differs(&newer.to_string()))
        }
    }
}

/// The lines of abi_stable's report that say what differs (`Error:too
/// many fields`, what was expected and found), not the layouts it dumps.
fn what_differs(report: &str) -> String {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let said: Vec<String> = lines
        .iter()
        .position(|line| line.starts_with("Error:"))
        .map(|at| {
            lines[at..]
                .iter()
                .take(5)
                .filter(|line| !line.is_empty())
                .map(|line| line.to_string())
                .collect()
        })
        .unwrap_or_default();
    if said.is_empty() {
        "its layout does not match".to_string()
    } else {
        said.join(" ")
    }
}
