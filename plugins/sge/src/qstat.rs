//! `qstat -xml`: what Grid Engine says about the jobs it still holds.
//! Finished jobs are not there; `qacct.rs` tells how they ended.

use std::collections::BTreeMap;

use dfm_plugin_api::command::CommandOutput;
use dfm_plugin_api::{JobReport, JobState, JobStatus};

/// What a job is, by its `qstat` state letters (`r`, `qw`, `hqw`, `Eqw`,
/// `dr`, `t`, `s`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Held(JobState),
    /// In error (`E`): it will never run by itself; dfm deletes it.
    Failed,
}

/// The state of a job by its letters.
pub fn seen(letters: &str) -> Seen {
    if letters.contains('E') {
        return Seen::Failed;
    }
    let state = if letters.contains('r') || letters.contains('t') || letters.contains('R') {
        JobState::Running
    } else if letters.contains(['q', 'w', 'h', 's', 'S', 'T']) {
        // Waiting, held, or suspended: the job will run (again).
        JobState::Pending
    } else {
        JobState::Unknown
    };
    Seen::Held(state)
}

/// The ids in a job list's `tasks`: `3`, `1-4:1`, `5,7-9:2`.
fn task_ids(tasks: &str) -> Vec<u32> {
    let mut ids = Vec::new();
    for part in tasks.split(',') {
        let (range, step) = part.split_once(':').unwrap_or((part, "1"));
        let step: u32 = step.trim().parse().unwrap_or(1).max(1);
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(first), Ok(last)) = (first.trim().parse::<u32>(), last.trim().parse::<u32>()) {
            ids.extend((first..=last.min(first.saturating_add(100_000))).step_by(step as usize));
        }
    }
    ids
}

/// Every job and array element `qstat -xml` names, by the id dfm knows it
/// by (`42`, an element `42.3`), with its state letters.
pub fn parse_xml(xml: &str) -> Result<BTreeMap<String, String>, String> {
    let document = roxmltree::Document::parse(xml).map_err(|e| format!("qstat -xml: {e}"))?;
    let mut jobs = BTreeMap::new();
    for list in document
        .descendants()
        .filter(|n| n.has_tag_name("job_list"))
    {
        let text = |tag: &str| {
            list.children()
                .find(|n| n.has_tag_name(tag))
                .and_then(|n| n.text())
                .map(str::trim)
        };
        let Some(number) = text("JB_job_number") else {
            continue;
        };
        let letters = text("state").unwrap_or_default().to_string();
        match text("tasks") {
            Some(tasks) => {
                for index in task_ids(tasks) {
                    jobs.insert(format!("{number}.{index}"), letters.clone());
                }
            }
            None => {
                jobs.insert(number.to_string(), letters);
            }
        }
    }
    Ok(jobs)
}

/// What `qstat -xml` says of `ids`: each one's state, `None` for those it
/// does not hold (ended; ask `qacct`). Output it cannot read leaves them all
/// of unknown state for this poll, never ended.
pub fn reports(ids: &[&str], output: &CommandOutput) -> Result<Vec<Option<Seen>>, String> {
    if !output.success() {
        return Err(output.failure());
    }
    let jobs = match parse_xml(&output.stdout) {
        Ok(jobs) => jobs,
        Err(e) => {
            output.warn_unreadable(&e, "every job is of unknown state for this poll, and kept");
            return Ok(vec![Some(Seen::Held(JobState::Unknown)); ids.len()]);
        }
    };
    Ok(ids
        .iter()
        .map(|id| jobs.get(*id).map(|s| seen(s)))
        .collect())
}

/// A report of a job `qstat` holds (not one in error: that is deleted).
pub fn report(state: JobState) -> JobReport {
    JobReport::new(JobStatus::new(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Son of Grid Engine 8.1.9 prints it (verified on Debian 12): a
    /// running array's elements one list each, a pending array's range in
    /// one, a single job without `tasks`.
    const QSTAT: &str = r#"<?xml version='1.0'?>
<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">
  <queue_info>
    <job_list state="running">
      <JB_job_number>2</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>dfm-workers-ab</JB_name>
      <JB_owner>root</JB_owner>
      <state>r</state>
      <JAT_start_time>2026-12-07T06:45:04</JAT_start_time>
      <queue_name>all.q@vm</queue_name>
      <slots>1</slots>
      <tasks>1</tasks>
    </job_list>
    <job_list state="running">
      <JB_job_number>3</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>dfm-worker-cd</JB_name>
      <JB_owner>root</JB_owner>
      <state>t</state>
      <queue_name>all.q@vm</queue_name>
      <slots>1</slots>
    </job_list>
  </queue_info>
  <job_info>
    <job_list state="pending">
      <JB_job_number>2</JB_job_number>
      <state>qw</state>
      <slots>1</slots>
      <tasks>2-4:1</tasks>
    </job_list>
    <job_list state="pending">
      <JB_job_number>5</JB_job_number>
      <state>Eqw</state>
      <slots>1</slots>
    </job_list>
  </job_info>
</job_info>"#;

    fn output(code: i32, stdout: &str) -> CommandOutput {
        CommandOutput {
            program: "qstat".into(),
            code,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    #[test]
    fn qstat_xml_answers_for_each_job_and_element_asked() {
        let ids = ["2.1", "2.3", "3", "5", "6", "2.5"];
        let seen = reports(&ids, &output(0, QSTAT)).expect("read");
        assert_eq!(
            seen,
            [
                Some(Seen::Held(JobState::Running)),
                Some(Seen::Held(JobState::Pending)),
                Some(Seen::Held(JobState::Running)),
                Some(Seen::Failed),
                None,
                None,
            ]
        );
    }

    #[test]
    fn states_and_ranges() {
        assert_eq!(seen("hqw"), Seen::Held(JobState::Pending));
        assert_eq!(seen("dr"), Seen::Held(JobState::Running));
        assert_eq!(seen("S"), Seen::Held(JobState::Pending));
        assert_eq!(seen("Eqw"), Seen::Failed);
        assert_eq!(seen("?"), Seen::Held(JobState::Unknown));
        assert_eq!(task_ids("1-7:3"), [1, 4, 7]);
        assert_eq!(task_ids("5,7-8:1"), [5, 7, 8]);
        assert_eq!(task_ids("x"), Vec::<u32>::new());
    }

    #[test]
    fn output_it_cannot_read_keeps_every_job() {
        let seen = reports(&["1"], &output(0, "NOTICE: maintenance\n")).expect("kept");
        assert_eq!(seen, [Some(Seen::Held(JobState::Unknown))]);
        let down = output(1, "");
        assert!(reports(&["1"], &down).is_err());
    }
}
