//! Asking the license servers how many tokens others hold: each license
//! with a `query` runs it every `poll` seconds (on a blocking thread, with
//! a deadline) and reads FlexLM's `lmstat` line for its feature (or RLM's
//! `rlmstat`). What dfm may use is then
//! `min(count, issued - (in use - what dfm's tasks held when it asked))`.
//! Until its first answer, a license with a query allows nothing. A query
//! that fails keeps its last answer for two polls, then falls back to
//! `count`; the log and status say so.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::LicenseSpec;

/// What the last query of a license found, as status shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Queried {
    /// Tokens in use by others when it last answered.
    pub others: Option<u32>,
    /// Why the allowance is not from a fresh answer, if so.
    pub note: Option<String>,
}

/// A query to run: the license, its command, its deadline.
pub struct Query {
    pub license: String,
    pub command: String,
    pub timeout: Duration,
}

#[derive(Debug)]
struct State {
    spec: LicenseSpec,
    queried: Queried,
    in_flight: bool,
    next: Instant,
    /// The last good answer's allowance, and when it came.
    last_good: Option<(u32, Instant)>,
}

/// The licenses that have a query, and what each last answered.
#[derive(Debug, Default)]
pub struct LicenseQueries {
    states: BTreeMap<String, State>,
}

impl LicenseQueries {
    pub fn new(licenses: &BTreeMap<String, LicenseSpec>, now: Instant) -> LicenseQueries {
        let states = licenses
            .iter()
            .filter(|(_, spec)| spec.query.is_some())
            .map(|(name, spec)| {
                let state = State {
                    spec: spec.clone(),
                    queried: Queried::default(),
                    in_flight: false,
                    next: now,
                    last_good: None,
                };
                (name.clone(), state)
            })
            .collect();
        LicenseQueries { states }
    }

    /// The licenses that have a query.
    pub fn licenses(&self) -> impl Iterator<Item = &str> {
        self.states.keys().map(String::as_str)
    }

    pub fn last(&self, license: &str) -> Option<&Queried> {
        self.states.get(license).map(|state| &state.queried)
    }

    /// The queries due at `now`, each marked as running until answered.
    pub fn due(&mut self, now: Instant) -> Vec<Query> {
        let mut due = Vec::new();
        for (name, state) in &mut self.states {
            if state.in_flight || now < state.next {
                continue;
            }
            state.in_flight = true;
            let poll = Duration::from_secs_f64(state.spec.poll);
            due.push(Query {
                license: name.clone(),
                command: state.spec.query.clone().unwrap_or_default(),
                timeout: poll.min(Duration::from_secs(60)),
            });
        }
        due
    }

    /// A query's output (or why it failed), with the tokens dfm's tasks
    /// held when it was run: the tokens dfm may hold now.
    pub fn answered(
        &mut self,
        license: &str,
        output: Result<String, String>,
        held_when_asked: u32,
        now: Instant,
    ) -> Option<u32> {
        let state = self.states.get_mut(license)?;
        state.in_flight = false;
        let poll = Duration::from_secs_f64(state.spec.poll);
        state.next = now + poll;
        let count = state.spec.count;
        let feature = state.spec.feature(license).to_string();
        let read = output.and_then(|text| {
            usage(&text, &feature)
                .ok_or_else(|| format!("its output has no usage line for feature {feature}"))
        });
        match read {
            Ok((issued, in_use)) => {
                let others = in_use.saturating_sub(held_when_asked);
                let allowed = count.min(issued.saturating_sub(others));
                state.queried = Queried {
                    others: Some(others),
                    note: None,
                };
                state.last_good = Some((allowed, now));
                Some(allowed)
            }
            Err(why) => {
                let keep = state
                    .last_good
                    .filter(|(_, at)| now.saturating_duration_since(*at) <= poll * 2);
                let (allowed, note) = match keep {
                    Some((allowed, _)) => (
                        allowed,
                        format!("the license query failed ({why}); keeping its last answer"),
                    ),
                    None => (
                        count,
                        format!("the license query failed ({why}); allowing count ({count})"),
                    ),
                };
                tracing::warn!("license {license}: {note}");
                state.queried.note = Some(note);
                Some(allowed)
            }
        }
    }
}

/// (issued, in use) of `feature` in a license server's report: FlexLM's
/// `lmstat` (`Users of FEATURE:  (Total of N licenses issued;  Total of M
/// licenses in use)`) or RLM's `rlmstat` (a line `FEATURE v...` followed by
/// one with `count: N, ... inuse: M`).
pub fn usage(text: &str, feature: &str) -> Option<(u32, u32)> {
    let flexlm = format!("Users of {feature}:");
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix(&flexlm) {
            let issued = number_after(rest, "Total of ")?;
            let in_use = number_after(rest.split(';').nth(1)?, "Total of ")?;
            return Some((issued, in_use));
        }
        if line.split_whitespace().next() == Some(feature) {
            if let Some(counts) = lines.next() {
                if let (Some(count), Some(in_use)) = (
                    number_after(counts, "count:"),
                    number_after(counts, "inuse:"),
                ) {
                    return Some((count, in_use));
                }
            }
        }
    }
    None
}

/// The number that follows `label` in `text`.
fn number_after(text: &str, label: &str) -> Option<u32> {
    let (_, rest) = text.split_once(label)?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LMSTAT: &str = "lmutil - Copyright (c) 1989-2019 Flexera.\n\
        Flexible License Manager status on Mon 12/7/2026 10:00\n\n\
        Users of VCSRuntime_Net:  (Total of 5 licenses issued;  Total of 3 licenses in use)\n\n\
          \"VCSRuntime_Net\" v2026.03, vendor: snpslmd, expiry: 31-dec-2026\n\
          floating license\n\n\
            alice host1 /dev/tty (v2026.03) (lic1/27000 101), start Mon 12/7 9:00\n\
        Users of VCS_Debug:  (Total of 2 licenses issued;  Total of 0 licenses in use)\n";

    const RLMSTAT: &str = "rlmutil v15.0\n\nxcelium v23.09\n\
        \tcount: 8, # reservations: 0, inuse: 6, exp: 31-dec-2026\n";

    #[test]
    fn flexlm_and_rlm_usage_lines_are_read() {
        assert_eq!(usage(LMSTAT, "VCSRuntime_Net"), Some((5, 3)));
        assert_eq!(usage(LMSTAT, "VCS_Debug"), Some((2, 0)));
        assert_eq!(usage(LMSTAT, "Nope"), None);
        assert_eq!(usage(RLMSTAT, "xcelium"), Some((8, 6)));
    }

    fn vcs(count: u32) -> BTreeMap<String, LicenseSpec> {
        BTreeMap::from([(
            "vcs".to_string(),
            LicenseSpec {
                count,
                query: Some("lmstat".into()),
                feature: Some("VCSRuntime_Net".into()),
                poll: 10.0,
            },
        )])
    }

    #[test]
    fn others_holding_tokens_shrink_what_dfm_may_use_and_a_failing_query_falls_back() {
        let t0 = Instant::now();
        let mut queries = LicenseQueries::new(&vcs(4), t0);
        assert_eq!(queries.due(t0).len(), 1);
        assert!(queries.due(t0).is_empty(), "one at a time");
        // 5 issued, 3 in use of which dfm held 1: others hold 2, 3 left.
        let allowed = queries.answered("vcs", Ok(LMSTAT.into()), 1, t0);
        assert_eq!(allowed, Some(3));
        assert_eq!(queries.last("vcs").and_then(|q| q.others), Some(2));
        // Never more than count, whatever the server has.
        let mut few = LicenseQueries::new(&vcs(2), t0);
        few.due(t0);
        assert_eq!(few.answered("vcs", Ok(LMSTAT.into()), 0, t0), Some(2));

        // A failure keeps the last answer for two polls, then count.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(queries.due(t1).len(), 1);
        assert_eq!(
            queries.answered("vcs", Err("timed out".into()), 0, t1),
            Some(3)
        );
        let note = queries
            .last("vcs")
            .and_then(|q| q.note.clone())
            .unwrap_or_default();
        assert!(
            note.contains("timed out") && note.contains("last answer"),
            "{note}"
        );
        let t2 = t0 + Duration::from_secs(25);
        queries.due(t2);
        assert_eq!(
            queries.answered("vcs", Ok("garbage".into()), 0, t2),
            Some(4)
        );
        let note = queries
            .last("vcs")
            .and_then(|q| q.note.clone())
            .unwrap_or_default();
        assert!(note.contains("allowing count (4)"), "{note}");
    }
}
