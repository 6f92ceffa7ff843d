//! `qacct -j`: how a finished job ended, where the site keeps accounting.

use dfm_plugin_api::command::CommandOutput;
use dfm_plugin_api::{JobState, JobStatus};

/// Grid Engine's `failed` code for a job it ended at a limit (`h_rt`,
/// `h_cpu`, `h_vmem`: "qmaster enforced h_rt, h_cpu, or h_vmem limit").
const FAILED_AT_LIMIT: u32 = 37;

/// What `qacct` says of a job that `qstat` no longer holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ended {
    /// How it ended.
    Known(JobStatus),
    /// Not in the accounting file yet (it is written a moment after).
    NotYet,
    /// No accounting here (or qacct fails): how it ended is not known.
    Unknowable,
}

/// The `qacct -j` arguments for `id` (`42`, an element `42.3`).
pub fn args(id: &str) -> Vec<String> {
    match id.split_once('.') {
        Some((job, task)) => vec!["-j".into(), job.into(), "-t".into(), task.into()],
        None => vec!["-j".into(), id.into()],
    }
}

/// How the job ended, from `qacct -j ID [-t TASK]`'s answer.
pub fn ended(output: &CommandOutput) -> Ended {
    if !output.success() {
        let said = format!("{}{}", output.stdout, output.stderr);
        return if said.contains("not found") {
            Ended::NotYet
        } else {
            Ended::Unknowable
        };
    }
    // The last record (a job run again has one per run).
    let field = |name: &str| -> Option<&str> {
        output
            .stdout
            .lines()
            .rev()
            .find_map(|line| {
                line.strip_prefix(name)
                    .filter(|rest| rest.starts_with([' ', '\t']))
            })
            .map(str::trim)
    };
    let number = |text: &str| text.split_whitespace().next()?.parse::<i64>().ok();
    let (Some(failed), Some(exit)) = (
        field("failed").and_then(|f| number(f).map(|n| (n, f.to_string()))),
        field("exit_status").and_then(number),
    ) else {
        return Ended::Unknowable;
    };
    let status = JobStatus::new(JobState::Exited(exit as i32));
    let at_limit = failed.0 == i64::from(FAILED_AT_LIMIT) || failed.1.contains("h_rt");
    Ended::Known(if at_limit {
        status.at_walltime()
    } else {
        status
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(code: i32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            program: "qacct".into(),
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    /// What Son of Grid Engine 8.1.9 prints (fields as verified on Debian 12).
    fn record(failed: &str, exit: &str) -> String {
        format!(
            "==============================================================\n\
             qname        all.q               \nhostname     vm                  \n\
             jobname      dfm-worker-ab       \njobnumber    7                   \n\
             taskid       undefined           \nfailed       {failed}\n\
             exit_status  {exit}\nru_wallclock 61s\n"
        )
    }

    #[test]
    fn how_jobs_ended() {
        let normal = output(0, &record("0    ", "0                   "), "");
        assert_eq!(
            ended(&normal),
            Ended::Known(JobStatus::new(JobState::Exited(0)))
        );
        let limit = record(
            "37  : qmaster enforced h_rt, h_cpu, or h_vmem limit",
            "137                  (Killed)",
        );
        let status = JobStatus::new(JobState::Exited(137)).at_walltime();
        assert_eq!(ended(&output(0, &limit, "")), Ended::Known(status));
        let deleted = record("100 : assumedly after job", "137                  (Killed)");
        assert_eq!(
            ended(&output(0, &deleted, "")),
            Ended::Known(JobStatus::new(JobState::Exited(137)))
        );
        let not_yet = output(1, "", "error: job id 7 not found\n");
        assert_eq!(ended(&not_yet), Ended::NotYet);
        let none = output(1, "", "error: unable to open accounting file\n");
        assert_eq!(ended(&none), Ended::Unknowable);
        assert_eq!(args("7.3"), ["-j", "7", "-t", "3"]);
        assert_eq!(args("7"), ["-j", "7"]);
    }
}
