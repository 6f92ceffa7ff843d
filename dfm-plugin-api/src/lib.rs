//! The stable-ABI interface between the `dfm` host and its runner plugins.
//!
//! A runner plugin starts, stops and watches *worker jobs* on some execution
//! backend (local processes, LSF, SLURM, a site's own scheduler). It knows
//! nothing about pools, sockets or tasks: the host decides when a worker is
//! needed and what command line it runs.
//!
//! A plugin is a `cdylib` that depends on this crate only. It implements
//! [`RunnerPlugin`] with plain Rust types and exports itself with
//! [`export_runner!`]:
//!
//! ```no_run
//! use dfm_plugin_api::{export_runner, JobHandle, JobState, LaunchRequest, RunnerPlugin};
//!
//! struct MyRunner;
//!
//! impl RunnerPlugin for MyRunner {
//!     fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String> { todo!() }
//!     fn terminate(&self, job: &JobHandle) -> Result<(), String> { todo!() }
//!     fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String> { todo!() }
//! }
//!
//! fn new_runner(config_json: &str) -> Result<MyRunner, String> { Ok(MyRunner) }
//!
//! export_runner!("mysite", new_runner);
//! ```
//!
//! A plugin reads its [`LaunchRequest`] through accessors
//! ([`LaunchRequest::program`], [`LaunchRequest::args`],
//! [`LaunchRequest::env_pairs`], [`LaunchRequest::resources`], ...) and makes
//! [`JobHandle`]s with [`JobHandle::new`]: it never names an `abi_stable`
//! type.
//!
//! Every call crosses the boundary synchronously, with `abi_stable` types
//! only. The host calls plugins from blocking threads, so a plugin may block
//! (run `bsub`, wait for a process) but must not assume any async runtime,
//! thread-local or logger of the host. Panics are caught on the plugin side
//! and reported to the host as errors: a faulty plugin never takes the
//! daemon down.
//!
//! The types a plugin never names (the ABI-stable trait object the host
//! calls, the root module it loads) are in [`host`].

// The impls that `#[sabi_trait]` generates inside a const trip this lint.
#![allow(non_local_definitions)]

use std::panic::{catch_unwind, AssertUnwindSafe};

pub mod batch;
pub mod children;
pub mod command;
#[doc(hidden)]
pub mod extended;
mod report;
pub mod units;

pub use report::JobReport;

#[doc(hidden)]
pub use abi_stable;
use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, ROption, RResult, RStr, RString, RVec, Tuple2},
    StableAbi,
};

/// The version of this interface, as checked by the host when it loads a
/// plugin. Plugins built against an incompatible version are refused.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a worker job needs from the scheduler.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Default, PartialEq)]
pub struct Resources {
    /// Number of cores; 0 means the backend's default.
    pub cores: u32,
    /// Memory with a unit suffix (`512M`, `4G`); empty means the default.
    pub memory: RString,
    /// Run limit as `M`, `H:MM` or `H:MM:SS` (see
    /// [`units::walltime_minutes`]); empty means the default.
    pub walltime: RString,
    /// Queue or partition; empty means the default.
    pub queue: RString,
    /// The resource class the worker serves; empty for the default class.
    pub resource_class: RString,
}

/// A request to start one worker job.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Default, PartialEq)]
pub struct LaunchRequest {
    /// A name for the job, safe to show in a scheduler's queue listing.
    pub job_name: RString,
    /// The worker's command line; the first element is the program.
    pub argv: RVec<RString>,
    /// Variables to add to the job's environment. They may hold secrets:
    /// pass them through the environment, never on a command line.
    pub env: RVec<Tuple2<RString, RString>>,
    pub resources: Resources,
    /// Where the job's stdout and stderr go.
    pub log_path: RString,
}

impl LaunchRequest {
    /// A request, from plain Rust values (the host builds these; a
    /// plugin's tests may too).
    pub fn new(
        job_name: &str,
        argv: &[&str],
        env: &[(&str, &str)],
        resources: Resources,
        log_path: &str,
    ) -> LaunchRequest {
        LaunchRequest {
            job_name: job_name.into(),
            argv: argv.iter().map(|arg| RString::from(*arg)).collect(),
            env: env
                .iter()
                .map(|(name, value)| Tuple2(RString::from(*name), RString::from(*value)))
                .collect(),
            resources,
            log_path: log_path.into(),
        }
    }

    pub fn job_name(&self) -> &str {
        &self.job_name
    }

    /// The program to run: the first element of the command line.
    pub fn program(&self) -> Option<&str> {
        self.argv.first().map(RString::as_str)
    }

    /// The command line after the program.
    pub fn args(&self) -> impl Iterator<Item = &str> {
        self.argv.iter().skip(1).map(RString::as_str)
    }

    /// The environment additions as string pairs.
    pub fn env_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env
            .iter()
            .map(|pair| (pair.0.as_str(), pair.1.as_str()))
    }

    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    pub fn log_path(&self) -> &str {
        &self.log_path
    }
}

impl Resources {
    /// Resources from plain Rust values; empty strings and 0 mean the
    /// backend's default.
    pub fn new(
        cores: u32,
        memory: &str,
        walltime: &str,
        queue: &str,
        resource_class: &str,
    ) -> Resources {
        Resources {
            cores,
            memory: memory.into(),
            walltime: walltime.into(),
            queue: queue.into(),
            resource_class: resource_class.into(),
        }
    }

    /// Number of cores; 0 means the backend's default.
    pub fn cores(&self) -> u32 {
        self.cores
    }

    /// Memory with a unit suffix; empty means the default.
    pub fn memory(&self) -> &str {
        &self.memory
    }

    /// Run limit (see [`units::walltime_minutes`]); empty means the default.
    pub fn walltime(&self) -> &str {
        &self.walltime
    }

    /// Queue or partition; empty means the default.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The resource class the worker serves; empty for the default class.
    pub fn resource_class(&self) -> &str {
        &self.resource_class
    }
}

/// The backend's handle on a launched job.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobHandle {
    /// The scheduler's job id (or the pid, for local processes).
    pub job_id: RString,
    /// The process id, where the backend knows it.
    pub pid: ROption<u32>,
}

impl JobHandle {
    /// A job the scheduler knows by `job_id`.
    pub fn new(job_id: &str) -> JobHandle {
        JobHandle {
            job_id: job_id.into(),
            pid: ROption::RNone,
        }
    }

    /// A job that is a process of this machine.
    pub fn with_pid(job_id: &str, pid: u32) -> JobHandle {
        JobHandle {
            job_id: job_id.into(),
            pid: ROption::RSome(pid),
        }
    }

    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid.into_option()
    }
}

/// What the backend knows about a job.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting in the scheduler's queue (or suspended, or otherwise not
    /// running but expected to).
    Pending,
    Running,
    /// The job ended, with this exit code (128 + signal when killed).
    Exited(i32),
    /// The backend cannot tell right now; not a failure.
    Unknown,
}

/// What the backend knows about a job, and what more it can tell than its
/// state (API 0.1.1).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobStatus {
    pub state: JobState,
    /// Seconds until the scheduler stops the job at its run limit, where
    /// the scheduler says (SLURM's `%L`, LSF's `time_left`).
    pub seconds_left: ROption<u64>,
    /// The job ended because it reached its run limit (SLURM `TIMEOUT`,
    /// LSF `TERM_RUNLIMIT`).
    pub hit_walltime: bool,
}

impl JobStatus {
    /// A status with nothing known beyond `state`.
    pub fn new(state: JobState) -> JobStatus {
        JobStatus {
            state,
            seconds_left: ROption::RNone,
            hit_walltime: false,
        }
    }

    /// With the seconds left before the job's run limit.
    pub fn with_seconds_left(self, seconds: Option<u64>) -> JobStatus {
        JobStatus {
            seconds_left: seconds.into(),
            ..self
        }
    }

    /// Ended at its run limit.
    pub fn at_walltime(self) -> JobStatus {
        JobStatus {
            hit_walltime: true,
            ..self
        }
    }

    pub fn state(&self) -> JobState {
        self.state
    }

    pub fn seconds_left(&self) -> Option<u64> {
        self.seconds_left.into_option()
    }

    pub fn hit_walltime(&self) -> bool {
        self.hit_walltime
    }
}

/// In the log path of a job array's request, where each element's index
/// goes (the plugin writes its scheduler's pattern there: LSF `%I`, SLURM
/// `%a`).
pub const ARRAY_INDEX_PLACEHOLDER: &str = "{index}";

/// The ABI-stable runner object the host talks to. Plugins do not implement
/// this directly: they implement [`RunnerPlugin`], and [`export_runner!`]
/// wraps it so that panics become errors. (Stays at the crate's root: its
/// path is part of its ABI layout; [`host`] is where to find it.)
#[doc(hidden)]
#[sabi_trait]
pub trait Runner: Send + Sync {
    /// Start one worker job.
    fn launch(&self, request: &LaunchRequest) -> RResult<JobHandle, RString>;

    /// Stop a job and everything it started. Stopping a job that has already
    /// ended is not an error.
    fn terminate(&self, job: &JobHandle) -> RResult<(), RString>;

    /// The states of many jobs, in the order given, in one call.
    #[sabi(last_prefix_field)]
    fn poll(&self, jobs: RVec<JobHandle>) -> RResult<RVec<JobState>, RString>;
}

/// Why `launch_array` fails on a runner without job arrays.
const NO_ARRAYS: &str = "this runner plugin has no job arrays: launch one job at a time";

/// A boxed runner, as returned by a plugin.
#[doc(hidden)]
pub type RunnerBox = Runner_TO<'static, RBox<()>>;

/// The root module every runner plugin exports.
#[doc(hidden)]
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = RunnerModuleRef)))]
#[sabi(missing_field(panic))]
pub struct RunnerModule {
    /// The plugin's runner name (`local`, `lsf`, ...).
    pub name: extern "C" fn() -> RString,

    /// Builds a runner from its configuration, given as JSON text.
    #[sabi(last_prefix_field)]
    pub new_runner: extern "C" fn(config_json: RStr<'_>) -> RResult<RunnerBox, RString>,
}

impl RootModule for RunnerModuleRef {
    declare_root_module_statics! {RunnerModuleRef}
    const BASE_NAME: &'static str = "dfm_runner";
    const NAME: &'static str = "dfm_runner";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// What a plugin implements, with plain Rust types.
///
/// Calls may come from several threads at once. Errors are messages for a
/// person: say what failed and, where possible, what to do about it.
pub trait RunnerPlugin: Send + Sync + 'static {
    fn launch(&self, request: &LaunchRequest) -> Result<JobHandle, String>;
    fn terminate(&self, job: &JobHandle) -> Result<(), String>;
    fn poll(&self, jobs: &[JobHandle]) -> Result<Vec<JobState>, String>;

    /// Job arrays (API 0.1.1): the variable in which each element of an
    /// array finds its index, from 1 (`LSB_JOBINDEX`, `SLURM_ARRAY_TASK_ID`).
    /// `None`, the default: no arrays; the host launches one job at a time
    /// and never calls [`RunnerPlugin::launch_array`].
    fn array_index_variable(&self) -> Option<String> {
        None
    }

    /// Starts `count` jobs of `request` in one scheduler call, as one job
    /// array; returns a handle per element, in index order (index 1
    /// first), each of which [`RunnerPlugin::poll`] and
    /// [`RunnerPlugin::terminate`] take alone. [`ARRAY_INDEX_PLACEHOLDER`]
    /// in `request.log_path()` stands for the element's index.
    fn launch_array(&self, request: &LaunchRequest, count: u32) -> Result<Vec<JobHandle>, String> {
        let _ = (request, count);
        Err(NO_ARRAYS.into())
    }

    /// As [`RunnerPlugin::poll`], and what more the scheduler tells (API
    /// 0.1.1): the seconds left before a job's run limit, and whether it
    /// ended at it. The default knows only the states.
    fn poll_status(&self, jobs: &[JobHandle]) -> Result<Vec<JobStatus>, String> {
        Ok(self.poll(jobs)?.into_iter().map(JobStatus::new).collect())
    }

    /// As [`RunnerPlugin::poll_status`], with why each pending job waits
    /// (API 0.1.2), from the same one scheduler call. The default knows
    /// the statuses only.
    fn poll_reports(&self, jobs: &[JobHandle]) -> Result<Vec<JobReport>, String> {
        Ok(self
            .poll_status(jobs)?
            .into_iter()
            .map(JobReport::new)
            .collect())
    }
}

/// What the host uses to load and call a plugin; a plugin never names
/// these.
pub mod host {
    pub use crate::{Runner, RunnerBox, RunnerModule, RunnerModuleRef, Runner_TO};
}

/// Runs `f`, turning a panic into an error message. No unwind may cross the
/// plugin boundary.
#[doc(hidden)]
pub fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> RResult<T, RString> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => RResult::ROk(value),
        Ok(Err(message)) => RResult::RErr(message.into()),
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            RResult::RErr(format!("runner plugin panicked in {what}: {detail}").into())
        }
    }
}

/// Adapts a [`RunnerPlugin`] to the ABI-stable [`Runner`] trait, catching
/// panics in every call.
#[doc(hidden)]
pub struct Guarded<P>(pub P);

impl<P: RunnerPlugin> Runner for Guarded<P> {
    fn launch(&self, request: &LaunchRequest) -> RResult<JobHandle, RString> {
        guarded("launch", || self.0.launch(request))
    }

    fn terminate(&self, job: &JobHandle) -> RResult<(), RString> {
        guarded("terminate", || self.0.terminate(job))
    }

    fn poll(&self, jobs: RVec<JobHandle>) -> RResult<RVec<JobState>, RString> {
        guarded("poll", || {
            let states = self.0.poll(jobs.as_slice())?;
            one_per("job states", "jobs", states, jobs.len())
        })
    }
}

/// `answers` if there is one per thing asked about.
pub(crate) fn one_per<T>(
    answers_are: &str,
    asked_are: &str,
    answers: Vec<T>,
    asked: usize,
) -> Result<RVec<T>, String> {
    if answers.len() != asked {
        return Err(format!(
            "runner plugin returned {} {answers_are} for {asked} {asked_are}",
            answers.len()
        ));
    }
    Ok(RVec::from(answers))
}

/// Builds the ABI-stable runner object from a plugin constructor; used by
/// [`export_runner!`].
#[doc(hidden)]
pub fn build_runner<P: RunnerPlugin>(
    config_json: RStr<'_>,
    ctor: fn(&str) -> Result<P, String>,
) -> RResult<RunnerBox, RString> {
    guarded("new_runner", || {
        let plugin = ctor(config_json.as_str())?;
        Ok(Runner_TO::from_value(
            Guarded(plugin),
            abi_stable::sabi_trait::TD_Opaque,
        ))
    })
}

/// Exports a runner plugin: its name and its constructor
/// `fn(config_json: &str) -> Result<impl RunnerPlugin, String>`.
///
/// Expands to the library header the host looks up (what
/// `abi_stable::export_root_module` would generate), so the plugin crate
/// needs no dependency but this one.
#[macro_export]
macro_rules! export_runner {
    ($name:expr, $ctor:path) => {
        #[doc(hidden)]
        pub fn __dfm_runner_root_module() -> $crate::RunnerModuleRef {
            extern "C" fn __dfm_runner_name() -> $crate::abi_stable::std_types::RString {
                $crate::abi_stable::std_types::RString::from($name)
            }
            extern "C" fn __dfm_new_runner(
                config_json: $crate::abi_stable::std_types::RStr<'_>,
            ) -> $crate::abi_stable::std_types::RResult<
                $crate::RunnerBox,
                $crate::abi_stable::std_types::RString,
            > {
                $crate::build_runner(config_json, $ctor)
            }
            $crate::abi_stable::prefix_type::PrefixTypeTrait::leak_into_prefix(
                $crate::RunnerModule {
                    name: __dfm_runner_name,
                    new_runner: __dfm_new_runner,
                },
            )
        }

        /// API 0.1.1's entry point (see `dfm_plugin_api::extended`).
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn dfm_runner_v2() -> $crate::extended::RunnerV2ModuleRef {
            extern "C" fn __dfm_new_runner_v2(
                config_json: $crate::abi_stable::std_types::RStr<'_>,
            ) -> $crate::abi_stable::std_types::RResult<
                $crate::extended::RunnerV2Box,
                $crate::abi_stable::std_types::RString,
            > {
                $crate::extended::build_runner_v2(config_json, $ctor)
            }
            $crate::abi_stable::prefix_type::PrefixTypeTrait::leak_into_prefix(
                $crate::extended::RunnerV2Module {
                    new_runner: __dfm_new_runner_v2,
                },
            )
        }

        /// The layout `dfm_runner_v2` returns, for the host to check first.
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn dfm_runner_v2_layout(
        ) -> &'static $crate::abi_stable::type_layout::TypeLayout {
            $crate::extended::layout()
        }

        #[no_mangle]
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::abi_stable::library::LibHeader = {
            pub extern "C" fn erased_module() -> $crate::abi_stable::library::RootModuleResult {
                $crate::abi_stable::library::__call_root_module_loader(__dfm_runner_root_module)
            }
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<$crate::RunnerModuleRef>(
                    erased_module,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_symbol_matches_abi_stable() {
        // export_runner! hard-codes the symbol abi_stable looks up; this
        // fails if abi_stable ever changes its mangling.
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }

    #[test]
    fn panics_become_errors() {
        let result: RResult<(), RString> = guarded("poll", || panic!("boom"));
        assert_eq!(
            result,
            RResult::RErr("runner plugin panicked in poll: boom".into())
        );
    }
}
