//! A task as a client submits it and a worker runs it, and what it produced.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::decode::Borrowed;

/// A task's environment variables.
pub type Env = BTreeMap<String, String>;

/// A task's environment as its client sent it: the text of a JSON object
/// of strings. The daemon only passes it on, so it never takes it apart:
/// it checks each distinct one once, and the tasks of a client share one
/// copy. Workers read the variables out when they start a task.
///
/// Deserialises only straight from JSON text in memory
/// (`serde_json::from_str` and `from_slice`), not from a `Value`, a reader
/// or through serde's buffering (untagged or flattened types): the
/// protocol parsers read it that way. An environment that is the same text
/// as the last one read on the same thread is that one again, with no copy
/// made: the tasks of a client follow each other.
#[derive(Clone)]
pub struct Environment(Arc<RawValue>);

/// An environment whose values are not all strings.
#[derive(Debug, thiserror::Error)]
#[error("'env' must be an object of strings: {0}")]
pub struct EnvironmentError(#[from] serde_json::Error);

impl Environment {
    pub fn new(variables: &Env) -> Environment {
        // A map of strings always serialises.
        serde_json::value::to_raw_value(variables)
            .map(|raw| Environment(Arc::from(raw)))
            .unwrap_or_default()
    }

    /// The JSON text.
    pub fn as_json(&self) -> &str {
        self.0.get()
    }

    /// The variables, or what is wrong with them.
    pub fn variables(&self) -> Result<Env, EnvironmentError> {
        Ok(serde_json::from_str(self.as_json())?)
    }

    /// Whether both are the same shared copy.
    pub fn ptr_eq(&self, other: &Environment) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// How many tasks (and tables) hold this copy.
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl Default for Environment {
    fn default() -> Environment {
        Environment::new(&Env::new())
    }
}

impl PartialEq for Environment {
    fn eq(&self, other: &Environment) -> bool {
        self.ptr_eq(other) || self.as_json() == other.as_json()
    }
}

impl Eq for Environment {}

impl std::hash::Hash for Environment {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_json().hash(state);
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_json())
    }
}

impl Serialize for Environment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Environment, D::Error> {
        thread_local! {
            static LAST: std::cell::RefCell<Option<Environment>> = const { std::cell::RefCell::new(None) };
        }
        let raw = <&RawValue>::deserialize(deserializer)?;
        // Whether its values are all strings is checked where it is used.
        if !raw.get().starts_with('{') {
            return Err(de::Error::custom(format!(
                "'env' must be an object of strings, not {}",
                raw.get()
            )));
        }
        // Newlines between its tokens (legal JSON, never inside a string)
        // would split the one line every message is when it is written
        // out again: such an environment is kept compact.
        if raw.get().contains('\n') {
            let compact = serde_json::from_str::<serde_json::Value>(raw.get())
                .and_then(|value| serde_json::value::to_raw_value(&value))
                .map_err(de::Error::custom)?;
            return Ok(Environment(Arc::from(compact)));
        }
        Ok(LAST.with_borrow_mut(|last| match last {
            Some(env) if env.as_json() == raw.get() => env.clone(),
            _ => last.insert(Environment(Arc::from(raw.to_owned()))).clone(),
        }))
    }
}

/// The field of a task that names its client's Python (see
/// [`TaskSpec::client_python`]).
pub const CLIENT_PYTHON: &str = "client_python";

/// A shell task as a client submits it and a worker runs it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskSpec {
    pub request_id: String,
    pub name: String,
    pub shell: String,
    pub body: String,
    pub srcdir: String,
    pub rundir: String,
    /// Shared: the daemon keeps one copy of each distinct environment.
    pub env: Environment,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_class: String,
    /// What a worker for this task's class needs, beyond the configured
    /// class (from the flow's `std.ResourceTag`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequest>,
    /// The client's share of the pool against other clients' (tasks per
    /// turn; 1 when absent, as from the original's client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// Fields the original's clients send that shell tasks do not use
    /// (`params`, `inputs`, `callable_spec`, `pythonpath`): kept, not acted on.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Written out rather than derived: a derived `#[serde(flatten)]` buffers
/// every field, the environment included, before it looks at any, and the
/// daemon reads one of these per task.
impl<'de> Deserialize<'de> for TaskSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TaskSpec, D::Error> {
        enum Field<'a> {
            RequestId,
            Name,
            Shell,
            Body,
            Srcdir,
            Rundir,
            Env,
            ResourceClass,
            Resources,
            Priority,
            Other(Cow<'a, str>),
        }

        impl<'de> Deserialize<'de> for Field<'de> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Field<'de>, D::Error> {
                let Borrowed(name) = Borrowed::deserialize(deserializer)?;
                Ok(Field::named(&name).unwrap_or(Field::Other(name)))
            }
        }

        impl Field<'_> {
            fn named(name: &str) -> Option<Field<'static>> {
                Some(match name {
                    "request_id" => Field::RequestId,
                    "name" => Field::Name,
                    "shell" => Field::Shell,
                    "body" => Field::Body,
                    "srcdir" => Field::Srcdir,
                    "rundir" => Field::Rundir,
                    "env" => Field::Env,
                    "resource_class" => Field::ResourceClass,
                    "resources" => Field::Resources,
                    "priority" => Field::Priority,
                    _ => return None,
                })
            }
        }

        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = TaskSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a task (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TaskSpec, A::Error> {
                let mut spec = TaskSpec {
                    shell: "bash".to_string(),
                    ..TaskSpec::default()
                };
                let mut request_id = None;
                // The original's client sends `"body": null` for Python
                // tasks: a null text is an empty one.
                fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<String, A::Error> {
                    Ok(map.next_value::<Option<String>>()?.unwrap_or_default())
                }
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::RequestId => request_id = Some(map.next_value()?),
                        Field::Name => spec.name = text(&mut map)?,
                        Field::Shell => spec.shell = text(&mut map)?,
                        Field::Body => spec.body = text(&mut map)?,
                        Field::Srcdir => spec.srcdir = text(&mut map)?,
                        Field::Rundir => spec.rundir = text(&mut map)?,
                        Field::Env => spec.env = map.next_value()?,
                        Field::ResourceClass => spec.resource_class = text(&mut map)?,
                        Field::Resources => spec.resources = map.next_value()?,
                        Field::Priority => spec.priority = map.next_value()?,
                        Field::Other(name) => {
                            spec.extra.insert(name.into_owned(), map.next_value()?);
                        }
                    }
                }
                spec.request_id =
                    request_id.ok_or_else(|| de::Error::missing_field("request_id"))?;
                Ok(spec)
            }
        }

        deserializer.deserialize_map(Fields)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walltime: Option<String>,
}

/// Shells a task of dfm's own clients may name.
pub const SHELLS: &[&str] = &["bash", "sh", "dash", "zsh", "ksh", "csh", "tcsh"];

/// The `shell` of the original's Python tasks: `callable_spec` names the
/// function to run.
pub const PYTASK: &str = "pytask";

/// Whose task this is, which decides how a worker runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// dfm's own clients (`dfm run`, plain protocol clients): a shell
    /// body, already expanded, run as it is.
    Native,
    /// The original dv-flow-mgr's `dfm run`, which always sends
    /// `callable_spec` and `pythonpath`: a Python callable (`pytask`), or a
    /// shell step with its `${{ }}` expansion and data_io contract, run as
    /// its own worker would.
    Original,
}

/// What makes a submitted task one a worker cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTask {
    #[error("task.submit needs a non-empty 'request_id'")]
    NoRequestId,
    #[error("task.submit needs a non-empty 'name'")]
    NoName,
    #[error("shell '{0}' is not supported: dfm runs shell tasks with one of {shells}, and the original dv-flow-mgr's tasks (which send 'callable_spec' and 'pythonpath')", shells = SHELLS.join(", "))]
    UnknownShell(String),
    #[error(
        "task '{0}' has shell 'pytask' but no 'callable_spec' naming the Python function to run"
    )]
    PytaskWithoutCallable(String),
    #[error("task '{0}' has an empty 'shell'")]
    NoShell(String),
    #[error("task '{name}' needs an absolute 'rundir' (got '{rundir}')")]
    RelativeRundir { name: String, rundir: String },
    #[error("'priority' is {0}: it must be 1 (the default) to {MAX_PRIORITY}, tasks per turn against other clients'")]
    BadPriority(u32),
    #[error("'licenses' must map license names to tokens (whole numbers from 1), as {{\"vcs\": 1}}, not {0}")]
    BadLicenses(String),
}

/// `task.submit`'s field naming the licenses a task holds while it runs,
/// besides its class's (dfm's extension).
pub const LICENSES: &str = "licenses";

impl TaskSpec {
    /// Whose task this is (see [`Dialect`]).
    pub fn dialect(&self) -> Dialect {
        if self.extra.contains_key("pythonpath") || self.extra.contains_key("callable_spec") {
            Dialect::Original
        } else {
            Dialect::Native
        }
    }

    /// `callable_spec`, for the original's tasks; empty for shell steps.
    pub fn callable_spec(&self) -> &str {
        self.extra
            .get("callable_spec")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `pythonpath`, for the original's tasks: the client's `sys.path`,
    /// its project first.
    pub fn pythonpath(&self) -> impl Iterator<Item = &str> {
        self.extra
            .get("pythonpath")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }

    /// The Python the client process runs on, as it names itself
    /// (`sys.executable`): the daemon adds it to the original's tasks from
    /// the client's process ([`CLIENT_PYTHON`]).
    pub fn client_python(&self) -> Option<&str> {
        self.extra
            .get(CLIENT_PYTHON)
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
    }

    /// The licenses the task holds while it runs, besides its class's:
    /// `licenses` (dfm's extension of `task.submit`), `{name: tokens}`.
    pub fn licenses(&self) -> Result<Vec<(String, u32)>, InvalidTask> {
        let Some(given) = self.extra.get(LICENSES) else {
            return Ok(Vec::new());
        };
        let bad = || InvalidTask::BadLicenses(given.to_string());
        let Value::Object(named) = given else {
            return Err(bad());
        };
        named
            .iter()
            .map(|(name, tokens)| {
                let tokens = tokens
                    .as_u64()
                    .and_then(|t| u32::try_from(t).ok())
                    .filter(|t| *t >= 1)
                    .ok_or_else(bad)?;
                Ok((name.clone(), tokens))
            })
            .collect()
    }

    /// Checks what a worker needs; the error says what to fix.
    pub fn validate(&self) -> Result<(), InvalidTask> {
        if self.request_id.is_empty() {
            return Err(InvalidTask::NoRequestId);
        }
        if self.name.is_empty() {
            return Err(InvalidTask::NoName);
        }
        match self.dialect() {
            Dialect::Native if !SHELLS.contains(&self.shell.as_str()) => {
                return Err(InvalidTask::UnknownShell(self.shell.clone()));
            }
            Dialect::Original if self.shell == PYTASK && self.callable_spec().is_empty() => {
                return Err(InvalidTask::PytaskWithoutCallable(self.name.clone()));
            }
            // The original's worker runs any shell as /bin/<shell>.
            Dialect::Original if self.shell.is_empty() => {
                return Err(InvalidTask::NoShell(self.name.clone()));
            }
            _ => {}
        }
        if self.rundir.is_empty() || !self.rundir.starts_with('/') {
            return Err(InvalidTask::RelativeRundir {
                name: self.name.clone(),
                rundir: self.rundir.clone(),
            });
        }
        if let Some(priority) = self.priority.filter(|p| !(1..=MAX_PRIORITY).contains(p)) {
            return Err(InvalidTask::BadPriority(priority));
        }
        self.licenses()?;
        Ok(())
    }
}

/// The highest `priority` a task may give: its client's tasks per turn.
pub const MAX_PRIORITY: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub msg: String,
    pub severity: Severity,
    /// Where it points (`{path, line, pos}`), as the original's tasks
    /// report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loc: Option<Value>,
}

/// What a task produced, in the original's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub request_id: String,
    pub status: i32,
    #[serde(default)]
    pub changed: bool,
    #[serde(default)]
    pub output: Vec<Value>,
    #[serde(default)]
    pub markers: Vec<Marker>,
    #[serde(default)]
    pub memento: Value,
    /// dfm's: where, when and at what cost it ran (the original's client
    /// ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurements: Option<Box<crate::Measurements>>,
}

impl TaskResult {
    pub fn new(request_id: &str, status: i32) -> TaskResult {
        TaskResult {
            request_id: request_id.to_string(),
            status,
            changed: true,
            output: Vec::new(),
            markers: Vec::new(),
            memento: Value::Null,
            measurements: None,
        }
    }

    /// A failure before the task's command could run.
    pub fn error(request_id: &str, message: String) -> TaskResult {
        let mut result = TaskResult::new(request_id, 1);
        result.changed = false;
        result.markers.push(Marker::error(message));
        result
    }
}

impl Marker {
    /// An error that points nowhere.
    pub fn error(msg: impl Into<String>) -> Marker {
        Marker {
            msg: msg.into(),
            severity: Severity::Error,
            loc: None,
        }
    }
}
