//! `bjobs` and `bkill`: what LSF says about jobs and array elements, and
//! about stopping them.

use std::collections::BTreeMap;

use dfm_plugin_api::command::CommandOutput;
use dfm_plugin_api::{JobReport, JobState, JobStatus};

/// The exit code reported for a job LSF has forgotten (finished longer
/// than CLEAN_PERIOD ago): it ended, how is no longer known.
pub const FORGOTTEN_EXIT_CODE: i32 = -1;

/// What `bjobs -o` prints per job, fields split by `|` (`time_left`,
/// `exit_reason` and `pend_reason` hold spaces): its id, its index in its
/// array (0 for a job that is not an element), its state, the run time it
/// has left (`0:09 L`: hours and minutes before its run limit), why it
/// ended, and why it is pending (`Job requirements for reserving resource
/// (sim_seat) not satisfied: 1 host`, `-` when not).
pub const FORMAT: &str = "jobid jobindex stat time_left exit_reason pend_reason delimiter='|'";

/// What an unreadable line of `bjobs` means for the jobs it may be about.
const UNREADABLE: &str =
    "the jobs bjobs did not otherwise name are of unknown state for this poll, and kept";

/// The state of an LSF job status (`bjobs -o stat`).
pub fn lsf_state(stat: &str) -> JobState {
    match stat {
        "PEND" | "PSUSP" | "USUSP" | "SSUSP" | "WAIT" => JobState::Pending,
        "RUN" => JobState::Running,
        "DONE" | "POST_DONE" => JobState::Exited(0),
        "EXIT" | "ZOMBI" | "POST_ERR" => JobState::Exited(1),
        // UNKWN: mbatchd lost the host for now; anything newer, likewise
        // not a reason to give up on the worker.
        _ => JobState::Unknown,
    }
}

/// Seconds in `time_left`: `H:MM`, then `L` (its run limit) or `E` (an
/// estimate); only the run limit counts. `-` or anything else: none. LSF
/// shows whole minutes, the ones left begun or not: this is the most the
/// figure can mean (the host keeps the sooner of it and its own clock).
pub fn seconds_left(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    let clock = words.next()?;
    if words.next() != Some("L") {
        return None;
    }
    let (hours, minutes) = clock.split_once(':')?;
    let minutes = hours.parse::<u64>().ok()? * 60 + minutes.parse::<u64>().ok()?;
    Some(minutes * 60 + 59)
}

/// Whether `exit_reason` says the job reached its run limit
/// (`TERM_RUNLIMIT: job killed after reaching LSF run time limit`).
fn at_run_limit(reason: &str) -> bool {
    let reason = reason.to_ascii_uppercase();
    reason.contains("TERM_RUNLIMIT") || reason.contains("RUN TIME LIMIT")
}

/// `N` (or `N[i]`) from `Job <N> is not found`.
fn not_found_id(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix("Job <")?
        .strip_suffix("> is not found")
}

/// One line of `bjobs -o FORMAT`: the id as the plugin names it (`N`, or
/// `N[i]` for an array element) and the report.
fn parse_line(line: &str) -> Option<(String, JobReport)> {
    let fields: Vec<&str> = line.split('|').map(str::trim).collect();
    let [id, index, stat, left, reason, pending] = fields.as_slice() else {
        return None;
    };
    let id = match *index {
        "" | "-" | "0" => id.to_string(),
        index => format!("{id}[{index}]"),
    };
    let status = JobStatus::new(lsf_state(stat));
    let status = match status.state() {
        JobState::Running => status.with_seconds_left(seconds_left(left)),
        JobState::Exited(_) if at_run_limit(reason) => status.at_walltime(),
        _ => status,
    };
    Some((id, JobReport::new(status).pending_because(pending)))
}

/// The reports of `ids` from one `bjobs -o FORMAT -noheader IDS...`.
/// A line it cannot read (a site's wrapper, another LSF version) may be
/// any job's: the jobs it does not name are then of unknown state for this
/// poll, not gone, and the line is logged once.
pub fn parse_bjobs(ids: &[&str], output: &CommandOutput) -> Result<Vec<JobReport>, String> {
    let mut known: BTreeMap<String, JobReport> = BTreeMap::new();
    let mut unreadable = false;
    for line in output.stdout.lines().filter(|l| !l.trim().is_empty()) {
        match parse_line(line) {
            Some((id, status)) => {
                known.insert(id, status);
            }
            None => {
                unreadable = true;
                output.warn_unreadable(line, UNREADABLE);
            }
        }
    }
    let forgotten = JobStatus::new(JobState::Exited(FORGOTTEN_EXIT_CODE));
    for line in output.stderr.lines() {
        if let Some(id) = not_found_id(line) {
            known.insert(id.to_string(), forgotten.into());
        }
    }
    ids.iter()
        .map(|id| match known.remove(*id) {
            Some(report) => Ok(report),
            None if unreadable => Ok(JobStatus::new(JobState::Unknown).into()),
            // bjobs answered for the others, so this one is gone.
            None if output.success() => Ok(forgotten.into()),
            None => Err(output.failure()),
        })
        .collect()
}

/// Whether `bkill`'s answer means the job is stopped or stopping.
pub fn killed_or_gone(output: &CommandOutput) -> bool {
    let said = format!("{}\n{}", output.stdout, output.stderr);
    output.success()
        || said.contains("is being terminated")
        || said.contains("No matching job found")
        || said.contains("Job has already finished")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(code: i32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            program: "bjobs".into(),
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    fn states(reports: &[JobReport]) -> Vec<JobState> {
        reports
            .iter()
            .map(|report| report.status().state())
            .collect()
    }

    #[test]
    fn lsf_states() {
        for stat in ["PEND", "PSUSP", "USUSP", "SSUSP", "WAIT"] {
            assert_eq!(lsf_state(stat), JobState::Pending, "{stat}");
        }
        assert_eq!(lsf_state("RUN"), JobState::Running);
        assert_eq!(lsf_state("DONE"), JobState::Exited(0));
        assert_eq!(lsf_state("POST_DONE"), JobState::Exited(0));
        for stat in ["EXIT", "ZOMBI", "POST_ERR"] {
            assert!(
                matches!(lsf_state(stat), JobState::Exited(c) if c != 0),
                "{stat}"
            );
        }
        assert_eq!(lsf_state("UNKWN"), JobState::Unknown);
    }

    #[test]
    fn time_left_counts_only_against_the_run_limit() {
        assert_eq!(seconds_left("0:09 L"), Some(599));
        assert_eq!(seconds_left("0:00 L"), Some(59));
        assert_eq!(seconds_left("12:30 L"), Some(45_059));
        assert_eq!(seconds_left("0:09 E"), None);
        assert_eq!(seconds_left("-"), None);
        assert_eq!(seconds_left(""), None);
    }

    #[test]
    fn bjobs_answers_in_the_order_asked() {
        let ids = ["3", "1", "2", "4", "7[1]", "7[2]"];
        let out = output(
            0,
            "1|0|RUN|0:09 L|-|-\n\
             2|0|PEND|-|-|Job requirements for reserving resource (sim_seat) not satisfied: 1 host\n\
             3|0|UNKWN|-|-|-\n\
             7|1|RUN|1:00 L|-|-\n\
             7|2|EXIT|-|TERM_RUNLIMIT: job killed after reaching LSF run time limit|-\n",
            "Job <4> is not found\n",
        );
        let reports = parse_bjobs(&ids, &out).expect("parsed");
        let pending: Vec<Option<&str>> = reports.iter().map(JobReport::pending_reason).collect();
        let license = "Job requirements for reserving resource (sim_seat) not satisfied: 1 host";
        assert_eq!(pending, [None, None, Some(license), None, None, None]);
        let statuses: Vec<JobStatus> = reports.iter().map(JobReport::status).collect();
        assert_eq!(
            states(&reports),
            [
                JobState::Unknown,
                JobState::Running,
                JobState::Pending,
                JobState::Exited(FORGOTTEN_EXIT_CODE),
                JobState::Running,
                JobState::Exited(1),
            ]
        );
        let left: Vec<Option<u64>> = statuses.iter().map(JobStatus::seconds_left).collect();
        assert_eq!(left, [None, Some(599), None, None, Some(3659), None]);
        let limit: Vec<bool> = statuses.iter().map(JobStatus::hit_walltime).collect();
        assert_eq!(limit, [false, false, false, false, false, true]);

        let none = output(255, "", "Job <1> is not found\nJob <2[3]> is not found\n");
        assert_eq!(
            states(&parse_bjobs(&["1", "2[3]"], &none).expect("parsed")),
            vec![JobState::Exited(FORGOTTEN_EXIT_CODE); 2]
        );
        let down = output(255, "", "LSF is down. Please wait ...\n");
        let error = parse_bjobs(&["1"], &down).expect_err("no answer");
        assert!(error.contains("LSF is down"), "{error}");
        let missing = output(0, "1|0|DONE|-|-|-\n", "");
        assert_eq!(
            states(&parse_bjobs(&["1", "2"], &missing).expect("parsed")),
            [JobState::Exited(0), JobState::Exited(FORGOTTEN_EXIT_CODE)]
        );
    }

    /// A site's wrapper that prints a banner, or a line of a newer LSF:
    /// no job is taken for gone because of it.
    #[test]
    fn a_line_bjobs_cannot_read_leaves_the_jobs_it_may_be_about_unknown() {
        let odd = output(0, "1|0|RUN|0:09 L|-|-\n*** maintenance at 18:00 ***\n", "");
        assert_eq!(
            states(&parse_bjobs(&["1", "2"], &odd).expect("parsed")),
            [JobState::Running, JobState::Unknown]
        );
        let fewer_fields = output(0, "2|0|RUN\n", "Job <3> is not found\n");
        assert_eq!(
            states(&parse_bjobs(&["2", "3"], &fewer_fields).expect("parsed")),
            [JobState::Unknown, JobState::Exited(FORGOTTEN_EXIT_CODE)]
        );
        // Said once per distinct line.
        assert!(!odd.warn_unreadable("*** maintenance at 18:00 ***", "x"));
    }

    #[test]
    fn bkill_answers() {
        assert!(killed_or_gone(&output(
            0,
            "Job <1> is being terminated\n",
            ""
        )));
        assert!(killed_or_gone(&output(
            255,
            "",
            "Job <1>: No matching job found\n"
        )));
        assert!(killed_or_gone(&output(
            255,
            "",
            "Job <1>: Job has already finished\n"
        )));
        assert!(!killed_or_gone(&output(
            255,
            "",
            "User permission denied\n"
        )));
    }
}
