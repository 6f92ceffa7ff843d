//! `runner.licenses`: the licenses dfm schedules for the tasks it runs, and
//! which resource classes hold which.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::pool::Needs;

/// One license: `runner.licenses.<name>`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseSpec {
    /// At most this many tokens in use by this daemon's tasks.
    pub count: u32,
    /// A command printing FlexLM's `lmstat` (or RLM's `rlmstat`) lines:
    /// the live count.
    #[serde(default)]
    pub query: Option<String>,
    /// Which feature of the query's output (default: the license's name).
    #[serde(default)]
    pub feature: Option<String>,
    /// Seconds between queries.
    #[serde(default = "default_poll")]
    pub poll: f64,
}

fn default_poll() -> f64 {
    30.0
}

impl LicenseSpec {
    /// The feature the query's output names.
    pub fn feature<'a>(&'a self, name: &'a str) -> &'a str {
        self.feature.as_deref().unwrap_or(name)
    }
}

/// `runner.licenses`: the licenses by name, and `retry_exit_codes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Licenses {
    pub by_name: BTreeMap<String, LicenseSpec>,
    /// Exit codes by which a task's command says its license could not be
    /// checked out: it runs again, without using an attempt.
    pub retry_exit_codes: Vec<i32>,
}

/// The key of `runner.licenses` that is not a license.
const RETRY_EXIT_CODES: &str = "retry_exit_codes";

/// Reads `runner.licenses` (absent: none).
pub fn parse(section: Option<&Value>) -> Result<Licenses, String> {
    let Some(section) = section.filter(|v| !v.is_null()) else {
        return Ok(Licenses::default());
    };
    let Value::Object(licenses) = section else {
        return Err(format!(
            "runner.licenses must map license names to {{count: N}}, not {section}"
        ));
    };
    let mut parsed = BTreeMap::new();
    let mut retry_exit_codes = Vec::new();
    for (name, spec) in licenses {
        if name == RETRY_EXIT_CODES {
            retry_exit_codes = serde_json::from_value(spec.clone()).map_err(|_| {
                format!(
                    "runner.licenses.{RETRY_EXIT_CODES} must be a list of exit codes, not {spec}"
                )
            })?;
            continue;
        }
        let spec: LicenseSpec = serde_json::from_value(spec.clone()).map_err(|e| {
            format!("runner.licenses.{name}: {e} (it takes count, query, feature, poll)")
        })?;
        if spec.count == 0 {
            return Err(format!("runner.licenses.{name}.count must be at least 1"));
        }
        if !(spec.poll > 0.0 && spec.poll.is_finite()) {
            return Err(format!(
                "runner.licenses.{name}.poll must be a positive number of seconds, not {}",
                spec.poll
            ));
        }
        if spec.query.as_deref().is_some_and(|q| q.trim().is_empty()) {
            return Err(format!("runner.licenses.{name}.query is empty"));
        }
        parsed.insert(name.clone(), spec);
    }
    Ok(Licenses {
        by_name: parsed,
        retry_exit_codes,
    })
}

/// What each class's tasks hold while they run (`""`: the default class,
/// and any class not configured): the class's own `licenses`, else those
/// of `defaults`; every name one of `licenses`.
pub fn class_needs<'a>(
    licenses: &BTreeMap<String, LicenseSpec>,
    defaults: &'a BTreeMap<String, u32>,
    classes: impl Iterator<Item = (&'a str, &'a BTreeMap<String, u32>)>,
) -> Result<BTreeMap<String, Needs>, String> {
    let mut needs = BTreeMap::new();
    let all = std::iter::once(("", defaults, "runner.defaults".to_string()))
        .chain(classes.map(|(name, own)| (name, own, format!("runner.resource_classes.{name}"))));
    for (class, own, at) in all {
        let own = if own.is_empty() { defaults } else { own };
        let mut held = Needs::new();
        for (license, &tokens) in own {
            if !licenses.contains_key(license) {
                let defined: Vec<&str> = licenses.keys().map(String::as_str).collect();
                return Err(format!(
                    "{at}.licenses names '{license}', which runner.licenses does not define (it defines: {})",
                    if defined.is_empty() { "none".to_string() } else { defined.join(", ") }
                ));
            }
            if tokens == 0 || tokens > licenses[license].count {
                return Err(format!(
                    "{at}.licenses.{license} must be from 1 to its count ({}), not {tokens}",
                    licenses[license].count
                ));
            }
            held.push((license.clone(), tokens));
        }
        needs.insert(class.to_string(), held);
    }
    Ok(needs)
}
