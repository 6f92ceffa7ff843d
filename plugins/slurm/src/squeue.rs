//! `squeue` and `scancel`: what SLURM says about jobs, and about stopping
//! them.

use std::collections::BTreeMap;

use dfm_plugin_api::command::CommandOutput;
use dfm_plugin_api::{JobReport, JobState, JobStatus};

/// The exit code reported for a job SLURM has forgotten (finished longer
/// than MinJobAge ago): it ended, how is no longer known.
pub const FORGOTTEN_EXIT_CODE: i32 = -1;

/// What `squeue` prints per job: id (`42`, or `42_3` for an array
/// element, with `-r`), state, time left (one word, `UNLIMITED` too), and
/// why it is pending (`Licenses`, `Resources`, `Priority`; `None` when not;
/// last, as it may hold spaces).
pub const FORMAT: &str = "%i %T %L %r";

/// As [`FORMAT`], with the job's name first instead of its id: `launch:
/// srun` knows its jobs by name (`squeue -n NAMES`).
pub const BY_NAME_FORMAT: &str = "%j %T %L %r";

/// What an unreadable line of `squeue` means for the jobs it may be about.
const UNREADABLE: &str =
    "the jobs squeue did not otherwise name are of unknown state for this poll, and kept";

/// The state of a SLURM job state name (`squeue -o %T`).
pub fn slurm_state(state: &str) -> JobState {
    match state {
        // Waiting, or put back in the queue: the job will run again.
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "SUSPENDED"
        | "PREEMPTED" | "RESIZING" => JobState::Pending,
        "RUNNING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" => JobState::Running,
        "COMPLETED" => JobState::Exited(0),
        "FAILED" | "CANCELLED" | "TIMEOUT" | "NODE_FAIL" | "OUT_OF_MEMORY" | "BOOT_FAIL"
        | "DEADLINE" | "SPECIAL_EXIT" | "REVOKED" => JobState::Exited(1),
        _ => JobState::Unknown,
    }
}

/// Seconds in SLURM's `%L`: `SS`, `MM:SS`, `HH:MM:SS` or `D-HH:MM:SS`;
/// `None` for `UNLIMITED`, `NOT_SET`, `INVALID` and the like.
pub fn seconds_left(text: &str) -> Option<u64> {
    let (days, clock) = match text.split_once('-') {
        Some((days, clock)) => (days.parse::<u64>().ok()?, clock),
        None => (0, text),
    };
    let mut seconds = 0u64;
    for part in clock.split(':') {
        seconds = seconds * 60 + part.parse::<u64>().ok()?;
    }
    Some(days * 86_400 + seconds)
}

/// One job's status from its `squeue` line's state and time left.
fn status(state: &str, left: Option<&str>) -> JobStatus {
    let status = JobStatus::new(slurm_state(state));
    match status.state() {
        JobState::Running => status.with_seconds_left(left.and_then(seconds_left)),
        _ if state == "TIMEOUT" => status.at_walltime(),
        _ => status,
    }
}

/// The reports of `ids` from one `squeue -h -r -t all -j IDS -o FORMAT`.
pub fn parse_squeue(ids: &[&str], output: &CommandOutput) -> Result<Vec<JobReport>, String> {
    parse_lines(ids, output, is_job_id)
}

/// The reports of the jobs called `names` from one `squeue -h -t all -n
/// NAMES -o BY_NAME_FORMAT`; one it does not name is gone, or not yet
/// known to SLURM.
pub fn parse_squeue_by_name(
    names: &[&str],
    output: &CommandOutput,
) -> Result<Vec<JobReport>, String> {
    parse_lines(names, output, |name| names.contains(&name))
}

/// The reports of `keys` (ids or names) from squeue's lines that start
/// with a key `is_key` accepts.
fn parse_lines(
    keys: &[&str],
    output: &CommandOutput,
    is_key: impl Fn(&str) -> bool,
) -> Result<Vec<JobReport>, String> {
    // squeue fails this way when every id asked for is unknown.
    let all_unknown = !output.success() && output.stderr.contains("Invalid job id specified");
    if !output.success() && !all_unknown {
        return Err(output.failure());
    }
    let mut known: BTreeMap<&str, JobReport> = BTreeMap::new();
    let mut unreadable = false;
    for line in output.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        match (fields.next(), fields.next()) {
            (Some(id), Some(state)) if is_key(id) && is_state_name(state) => {
                let left = fields.next();
                let reason: Vec<&str> = fields.collect();
                let report = JobReport::new(status(state, left)).pending_because(&reason.join(" "));
                known.insert(id, report);
            }
            _ => {
                unreadable = true;
                output.warn_unreadable(line, UNREADABLE);
            }
        }
    }
    // A line it cannot read may be any job's: those it does not name are
    // then of unknown state for this poll, not gone.
    let missing = if unreadable {
        JobStatus::new(JobState::Unknown)
    } else {
        JobStatus::new(JobState::Exited(FORGOTTEN_EXIT_CODE))
    };
    Ok(keys
        .iter()
        .map(|key| known.remove(key).unwrap_or_else(|| missing.into()))
        .collect())
}

/// `42`, `42_3`, or a pending array's `42_[1-3]`.
fn is_job_id(text: &str) -> bool {
    let (job, element) = text.split_once('_').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(job) && (digits(element) || (element.starts_with('[') && element.ends_with(']')))
}

/// `RUNNING`, `OUT_OF_MEMORY`: what `%T` prints.
fn is_state_name(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

/// Whether `scancel`'s answer means the job is stopped or stopping.
pub fn cancelled_or_gone(output: &CommandOutput) -> bool {
    output.success()
        || output.stderr.contains("Invalid job id specified")
        || output.stderr.contains("already completed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(code: i32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            program: "squeue".into(),
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn slurm_states() {
        for state in [
            "PENDING",
            "CONFIGURING",
            "REQUEUED",
            "SUSPENDED",
            "PREEMPTED",
            "RESIZING",
        ] {
            assert_eq!(slurm_state(state), JobState::Pending, "{state}");
        }
        assert_eq!(slurm_state("RUNNING"), JobState::Running);
        assert_eq!(slurm_state("COMPLETING"), JobState::Running);
        assert_eq!(slurm_state("COMPLETED"), JobState::Exited(0));
        for state in [
            "FAILED",
            "CANCELLED",
            "TIMEOUT",
            "NODE_FAIL",
            "OUT_OF_MEMORY",
            "BOOT_FAIL",
            "DEADLINE",
        ] {
            assert!(
                matches!(slurm_state(state), JobState::Exited(c) if c != 0),
                "{state}"
            );
        }
        assert_eq!(slurm_state("SOMETHING_NEW"), JobState::Unknown);
    }

    #[test]
    fn time_left_as_squeue_prints_it() {
        assert_eq!(seconds_left("1:57"), Some(117));
        assert_eq!(seconds_left("45"), Some(45));
        assert_eq!(seconds_left("2:03:04"), Some(7384));
        assert_eq!(seconds_left("1-00:00:10"), Some(86_410));
        assert_eq!(seconds_left("UNLIMITED"), None);
        assert_eq!(seconds_left("INVALID"), None);
        assert_eq!(seconds_left("NOT_SET"), None);
    }

    #[test]
    fn squeue_answers_in_the_order_asked() {
        let out = output(
            0,
            "7 RUNNING 1:57 None\n5 PENDING 2:00 Licenses\n6 COMPLETED 0:00 None\n9_2 TIMEOUT 0:00 None\n9_1 RUNNING UNLIMITED None\n",
            "",
        );
        let reports = parse_squeue(&["5", "6", "7", "8", "9_1", "9_2"], &out).expect("parsed");
        let reasons: Vec<Option<&str>> = reports.iter().map(JobReport::pending_reason).collect();
        assert_eq!(reasons, [Some("Licenses"), None, None, None, None, None]);
        let statuses: Vec<JobStatus> = reports.iter().map(JobReport::status).collect();
        let states: Vec<JobState> = statuses.iter().map(JobStatus::state).collect();
        assert_eq!(
            states,
            [
                JobState::Pending,
                JobState::Exited(0),
                JobState::Running,
                JobState::Exited(FORGOTTEN_EXIT_CODE),
                JobState::Running,
                JobState::Exited(1),
            ]
        );
        // Time left only for running jobs, and where SLURM gives one.
        let left: Vec<Option<u64>> = statuses.iter().map(JobStatus::seconds_left).collect();
        assert_eq!(left, [None, None, Some(117), None, None, None]);
        let at_limit: Vec<bool> = statuses.iter().map(JobStatus::hit_walltime).collect();
        assert_eq!(at_limit, [false, false, false, false, false, true]);

        let unknown = output(1, "", "slurm_load_jobs error: Invalid job id specified\n");
        assert_eq!(
            parse_squeue(&["9"], &unknown),
            Ok(vec![
                JobStatus::new(JobState::Exited(FORGOTTEN_EXIT_CODE)).into()
            ])
        );
        let down = output(
            1,
            "",
            "slurm_load_jobs error: Unable to contact slurm controller\n",
        );
        let error = parse_squeue(&["9"], &down).expect_err("no answer");
        assert!(error.contains("Unable to contact"), "{error}");
    }

    /// A site's wrapper that prints a banner, or a line of another SLURM:
    /// no job is taken for gone because of it.
    #[test]
    fn a_line_squeue_cannot_read_leaves_the_jobs_it_may_be_about_unknown() {
        for odd in ["NOTICE: maintenance at 18:00", "12345", "7 running 1:00"] {
            let out = output(0, &format!("5 RUNNING 1:00\n{odd}\n"), "");
            let states: Vec<JobState> = parse_squeue(&["5", "7"], &out)
                .expect("parsed")
                .iter()
                .map(|report| report.status().state())
                .collect();
            assert_eq!(states, [JobState::Running, JobState::Unknown], "{odd}");
        }
        assert!(is_job_id("42_[1-3]") && is_job_id("42_3") && !is_job_id("42x"));
    }

    /// A reason of several words (`launch failed requeued held`) is kept
    /// whole; an older squeue that prints no reason still reads.
    #[test]
    fn a_pending_reason_is_the_rest_of_the_line() {
        let out = output(
            0,
            "5 PENDING 1:00:00 launch failed requeued held\n6 PENDING 1:00:00\n",
            "",
        );
        let reports = parse_squeue(&["5", "6"], &out).expect("parsed");
        let reasons: Vec<Option<&str>> = reports.iter().map(JobReport::pending_reason).collect();
        assert_eq!(reasons, [Some("launch failed requeued held"), None]);
    }

    #[test]
    fn squeue_by_name_reads_the_names_asked_for() {
        let out = output(
            0,
            "dfm-worker-a1-00ff PENDING 10:00 Licenses\ndfm-worker-a2-0100 RUNNING 9:58 None\n",
            "",
        );
        let names = [
            "dfm-worker-a2-0100",
            "dfm-worker-a1-00ff",
            "dfm-worker-a3-0101",
        ];
        let reports = parse_squeue_by_name(&names, &out).expect("parsed");
        let states: Vec<JobState> = reports.iter().map(|r| r.status().state()).collect();
        assert_eq!(
            states,
            [
                JobState::Running,
                JobState::Pending,
                JobState::Exited(FORGOTTEN_EXIT_CODE)
            ]
        );
        assert_eq!(reports[0].status().seconds_left(), Some(598));
        assert_eq!(reports[1].pending_reason(), Some("Licenses"));
        // A line of another name may be anyone's: not gone, unknown.
        let banner = output(0, "NOTICE maintenance\n", "");
        let states: Vec<JobState> = parse_squeue_by_name(&names[..1], &banner)
            .expect("parsed")
            .iter()
            .map(|r| r.status().state())
            .collect();
        assert_eq!(states, [JobState::Unknown]);
    }

    #[test]
    fn scancel_answers() {
        assert!(cancelled_or_gone(&output(0, "", "")));
        assert!(cancelled_or_gone(&output(
            1,
            "",
            "scancel: error: Kill job error on job id 5: Invalid job id specified\n"
        )));
        assert!(!cancelled_or_gone(&output(
            210,
            "",
            "scancel: error: Kill job error on job id 5: Access/permission denied\n"
        )));
    }
}
