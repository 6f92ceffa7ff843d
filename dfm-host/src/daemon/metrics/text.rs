//! The Prometheus text exposition format (version 0.0.4): families with
//! their help and type, samples with escaped labels, histograms with
//! cumulative buckets.

use std::fmt::Write as _;
use std::time::Duration;

/// Upper bounds of the seconds histograms: 100 µs to 1 h.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0, 900.0, 3600.0,
];

/// A histogram of seconds.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// Observations at or under each of [`SECONDS_BUCKETS`] (not
    /// cumulative: made so when written).
    counts: [u64; 15],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        let seconds = seconds.max(0.0);
        if let Some(at) = SECONDS_BUCKETS.iter().position(|le| seconds <= *le) {
            self.counts[at] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    pub fn observe_duration(&mut self, took: Duration) {
        self.observe(took.as_secs_f64());
    }
}

/// The text of a scrape, family by family.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Exposition {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    /// One sample of the family just started.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Exposition {
        let _ = writeln!(self.text, "{name}{} {}", label_set(labels), number(value));
        self
    }

    /// A histogram family of one series per label set.
    pub fn histograms<'a>(
        &mut self,
        name: &str,
        help: &str,
        series: impl IntoIterator<Item = (Vec<(&'a str, &'a str)>, &'a Histogram)>,
    ) {
        self.family(name, "histogram", help);
        for (labels, histogram) in series {
            let mut cumulative = 0;
            for (le, count) in SECONDS_BUCKETS.iter().zip(histogram.counts) {
                cumulative += count;
                let le = number(*le);
                let mut with_le = labels.clone();
                with_le.push(("le", &le));
                self.sample(&format!("{name}_bucket"), &with_le, cumulative as f64);
            }
            let mut inf = labels.clone();
            inf.push(("le", "+Inf"));
            self.sample(&format!("{name}_bucket"), &inf, histogram.count as f64);
            self.sample(&format!("{name}_sum"), &labels, histogram.sum);
            self.sample(&format!("{name}_count"), &labels, histogram.count as f64);
        }
    }

    pub fn into_text(self) -> String {
        self.text
    }
}

/// `{a="x",b="y"}`, values escaped; nothing for no labels.
fn label_set(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| {
            let value = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{name}=\"{value}\"")
        })
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// A sample value as Prometheus reads it.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_written_cumulatively_with_its_sum_and_count() {
        let mut h = Histogram::default();
        for s in [0.0002, 0.003, 0.003, 7200.0] {
            h.observe(s);
        }
        let mut text = Exposition::default();
        text.histograms("x_seconds", "X.", [(vec![("class", "a\"b")], &h)]);
        let text = text.into_text();
        assert!(text.starts_with("# HELP x_seconds X.\n# TYPE x_seconds histogram\n"));
        assert!(
            text.contains("x_seconds_bucket{class=\"a\\\"b\",le=\"0.0001\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{class=\"a\\\"b\",le=\"0.0005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{class=\"a\\\"b\",le=\"0.005\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{class=\"a\\\"b\",le=\"3600\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{class=\"a\\\"b\",le=\"+Inf\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_count{class=\"a\\\"b\"} 4\n"),
            "{text}"
        );
    }
}
