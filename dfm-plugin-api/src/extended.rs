//! The runner interface of API 0.1.1: job arrays and run limits, as a
//! second, optional entry point beside the root module.
//!
//! Why a second entry point: `abi_stable` lets a library have *more* than
//! the interface its user was built with, never less, so a host with a
//! longer [`Runner`](crate::Runner) would refuse every plugin built before
//! it. The root module and `Runner` therefore stay exactly as in 0.1.0,
//! which every host and plugin since share; a plugin built against 0.1.1
//! or later also exports [`ENTRY_POINT`], a [`RunnerV2Module`] whose
//! runner does everything. A host finds it, checks its layout against its
//! own ([`LAYOUT_SYMBOL`]), and uses it; without it (an older plugin) the
//! host uses `Runner` and launches one job at a time. Later additions go
//! after [`RunnerV2`]'s last prefix method, which `abi_stable` lets newer
//! plugins have and older hosts ignore, each with a default body that an
//! older plugin's runner gets instead (`poll_reports`, API 0.1.2).

#![allow(non_local_definitions)]

use abi_stable::{
    sabi_trait,
    std_types::{RBox, RResult, RStr, RString, RVec},
    type_layout::TypeLayout,
    StableAbi,
};

use crate::{guarded, one_per, JobHandle, JobReport, JobStatus, LaunchRequest, RunnerPlugin};

/// The symbol of the function that returns a plugin's [`RunnerV2ModuleRef`].
pub const ENTRY_POINT: &[u8] = b"dfm_runner_v2\0";

/// The symbol of the function that returns the layout the plugin was built
/// with, for the host to check before it calls [`ENTRY_POINT`].
pub const LAYOUT_SYMBOL: &[u8] = b"dfm_runner_v2_layout\0";

/// Everything a runner does, from API 0.1.1.
#[doc(hidden)]
#[sabi_trait]
pub trait RunnerV2: Send + Sync {
    fn launch(&self, request: &LaunchRequest) -> RResult<JobHandle, RString>;

    fn terminate(&self, job: &JobHandle) -> RResult<(), RString>;

    /// The variable in which an element of a job array finds its index;
    /// empty: no arrays.
    fn array_index_variable(&self) -> RString;

    /// `count` jobs of `request` in one call; their handles in index order.
    fn launch_array(
        &self,
        request: &LaunchRequest,
        count: u32,
    ) -> RResult<RVec<JobHandle>, RString>;

    /// The statuses of many jobs, in the order given, in one call.
    #[sabi(last_prefix_field)]
    fn poll_status(&self, jobs: RVec<JobHandle>) -> RResult<RVec<JobStatus>, RString>;

    /// API 0.1.2: as `poll_status`, with why pending jobs wait. A plugin
    /// built against 0.1.1 has no such method: `abi_stable` then runs this
    /// default, on the host's side, which asks `poll_status`.
    fn poll_reports(&self, jobs: RVec<JobHandle>) -> RResult<RVec<JobReport>, RString> {
        match self.poll_status(jobs) {
            RResult::ROk(statuses) => {
                RResult::ROk(statuses.into_iter().map(JobReport::new).collect())
            }
            RResult::RErr(message) => RResult::RErr(message),
        }
    }
}

/// A boxed [`RunnerV2`], as a plugin returns it.
#[doc(hidden)]
pub type RunnerV2Box = RunnerV2_TO<'static, RBox<()>>;

/// What [`ENTRY_POINT`] returns.
#[doc(hidden)]
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = RunnerV2ModuleRef)))]
#[sabi(missing_field(panic))]
pub struct RunnerV2Module {
    /// Builds the runner from its configuration, given as JSON text.
    #[sabi(last_prefix_field)]
    pub new_runner: extern "C" fn(config_json: RStr<'_>) -> RResult<RunnerV2Box, RString>,
}

/// The layout of [`RunnerV2ModuleRef`] this crate was built with.
#[doc(hidden)]
pub fn layout() -> &'static TypeLayout {
    <RunnerV2ModuleRef as StableAbi>::LAYOUT
}

/// Adapts a [`RunnerPlugin`] to [`RunnerV2`], catching panics in every call.
#[doc(hidden)]
pub struct GuardedV2<P>(pub P);

impl<P: RunnerPlugin> RunnerV2 for GuardedV2<P> {
    fn launch(&self, request: &LaunchRequest) -> RResult<JobHandle, RString> {
        guarded("launch", || self.0.launch(request))
    }

    fn terminate(&self, job: &JobHandle) -> RResult<(), RString> {
        guarded("terminate", || self.0.terminate(job))
    }

    fn array_index_variable(&self) -> RString {
        match guarded("array_index_variable", || Ok(self.0.array_index_variable())) {
            RResult::ROk(Some(name)) => name.into(),
            // No arrays, or a panic: launching one at a time always works.
            _ => RString::new(),
        }
    }

    fn launch_array(
        &self,
        request: &LaunchRequest,
        count: u32,
    ) -> RResult<RVec<JobHandle>, RString> {
        guarded("launch_array", || {
            let jobs = self.0.launch_array(request, count)?;
            one_per("job handles", "array elements", jobs, count as usize)
        })
    }

    fn poll_status(&self, jobs: RVec<JobHandle>) -> RResult<RVec<JobStatus>, RString> {
        guarded("poll_status", || {
            let statuses = self.0.poll_status(jobs.as_slice())?;
            one_per("job statuses", "jobs", statuses, jobs.len())
        })
    }

    fn poll_reports(&self, jobs: RVec<JobHandle>) -> RResult<RVec<JobReport>, RString> {
        guarded("poll_reports", || {
            let reports = self.0.poll_reports(jobs.as_slice())?;
            one_per("job reports", "jobs", reports, jobs.len())
        })
    }
}

/// Builds the [`RunnerV2`] object from a plugin constructor; used by
/// [`export_runner!`](crate::export_runner).
#[doc(hidden)]
pub fn build_runner_v2<P: RunnerPlugin>(
    config_json: RStr<'_>,
    ctor: fn(&str) -> Result<P, String>,
) -> RResult<RunnerV2Box, RString> {
    guarded("new_runner", || {
        let plugin = ctor(config_json.as_str())?;
        Ok(RunnerV2_TO::from_value(
            GuardedV2(plugin),
            abi_stable::sabi_trait::TD_Opaque,
        ))
    })
}
