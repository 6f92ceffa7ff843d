//! What a poll tells about a job beyond its status (API 0.1.2): why the
//! scheduler keeps it pending.

use abi_stable::{std_types::RString, StableAbi};

use crate::{JobState, JobStatus};

/// A job's status, and why it waits while it is pending.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub status: JobStatus,
    /// Why the scheduler keeps a pending job waiting, in its own words
    /// (SLURM's `%r`: `Licenses`, `Resources`, `Priority`; LSF's
    /// `pend_reason`); empty when the job is not pending or the scheduler
    /// does not say. The host shows it, and counts a job whose reason names
    /// a license (the word, or a license's name) as waiting for that
    /// license.
    pub pending_reason: RString,
}

impl JobReport {
    /// A report of `status` alone.
    pub fn new(status: JobStatus) -> JobReport {
        JobReport {
            status,
            pending_reason: RString::new(),
        }
    }

    /// With why the job waits, if it is pending (ignored otherwise, and
    /// when `reason` is blank or the scheduler's "none").
    pub fn pending_because(self, reason: &str) -> JobReport {
        let reason = reason.trim();
        let said = !reason.is_empty() && !matches!(reason, "None" | "(null)" | "-");
        if self.status.state() != JobState::Pending || !said {
            return self;
        }
        JobReport {
            pending_reason: reason.into(),
            ..self
        }
    }

    pub fn status(&self) -> JobStatus {
        self.status
    }

    /// Why a pending job waits; `None` when not said.
    pub fn pending_reason(&self) -> Option<&str> {
        Some(self.pending_reason.as_str()).filter(|reason| !reason.is_empty())
    }
}

impl From<JobStatus> for JobReport {
    fn from(status: JobStatus) -> JobReport {
        JobReport::new(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pending_job_has_a_reason_and_none_is_no_reason() {
        let pending = JobStatus::new(JobState::Pending);
        let report = JobReport::new(pending).pending_because(" Licenses ");
        assert_eq!(report.pending_reason(), Some("Licenses"));
        for none in ["", "None", "(null)", "-"] {
            let report = JobReport::new(pending).pending_because(none);
            assert_eq!(report.pending_reason(), None, "{none:?}");
        }
        let running = JobReport::new(JobStatus::new(JobState::Running)).pending_because("Licenses");
        assert_eq!(running.pending_reason(), None);
    }
}
