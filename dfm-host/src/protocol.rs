//! Every message that crosses a socket: the client protocol (Unix socket,
//! compatible with the original dv-flow-mgr daemon) and the worker protocol
//! (TCP), both one JSON object per line. Daemon, worker and clients all use
//! these types.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest line either protocol accepts. Task bodies and environments
/// are well below this; anything longer is refused and the connection
/// closed, so a peer cannot make the daemon buffer without bound.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

// ---------------------------------------------------------------- framing

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("message longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Completes one newline-terminated line in `buf` (without the newline),
/// refusing lines longer than [`MAX_LINE_BYTES`]. Returns `Ok(false)` at a
/// clean end of stream.
///
/// Cancel-safe: bytes read before the future is dropped stay in `buf`, so
/// the caller must clear `buf` after handling each line.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> Result<bool, FrameError> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            // EOF: a final line without a newline still counts.
            return Ok(!buf.is_empty());
        }
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if buf.len() + chunk.len() > MAX_LINE_BYTES {
            return Err(FrameError::TooLong);
        }
        buf.extend_from_slice(chunk);
        let used = done.unwrap_or(available.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(true);
        }
    }
}

/// Serialises a message as one protocol line, newline included.
pub fn to_line<T: Serialize>(message: &T) -> String {
    to_line_of_size(message, 256)
}

/// [`to_line`], into a buffer of `capacity` bytes to begin with: a line
/// that outgrows its buffer is copied at each doubling.
fn to_line_of_size<T: Serialize>(message: &T, capacity: usize) -> String {
    let mut line = Vec::with_capacity(capacity);
    // Our message types are maps of strings and numbers: serialising them
    // cannot fail.
    if serde_json::to_writer(&mut line, message).is_err() {
        return "{}\n".to_string();
    }
    line.push(b'\n');
    // serde_json writes UTF-8 only.
    String::from_utf8(line).unwrap_or_else(|_| "{}\n".to_string())
}

// ---------------------------------------------------------------- shared task types

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
/// protocol parsers below read it that way. An environment that is the
/// same text as the last one read on the same thread is that one again,
/// with no copy made: the tasks of a client follow each other.
#[derive(Clone)]
pub struct Environment(Arc<RawValue>);

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
    pub fn variables(&self) -> Result<Env, String> {
        serde_json::from_str(self.as_json())
            .map_err(|e| format!("'env' must be an object of strings: {e}"))
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
        Ok(LAST.with_borrow_mut(|last| match last {
            Some(env) if env.as_json() == raw.get() => env.clone(),
            _ => last.insert(Environment(Arc::from(raw.to_owned()))).clone(),
        }))
    }
}

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
    #[serde(skip_serializing_if = "is_empty_str")]
    pub resource_class: String,
    /// What a worker for this task's class needs, beyond the configured
    /// class (from the flow's `std.ResourceTag`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequest>,
    /// Fields the original's clients send that shell tasks do not use
    /// (`params`, `inputs`, `callable_spec`, `pythonpath`): kept, not acted on.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A string, borrowed from the line unless it has escapes.
struct Borrowed<'a>(Cow<'a, str>);
impl<'de> Deserialize<'de> for Borrowed<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Borrowed<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Borrowed<'de>, E> {
                Ok(Borrowed(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Borrowed<'de>, E> {
                Ok(Borrowed(Cow::Owned(text.to_string())))
            }
        }
        deserializer.deserialize_str(Text)
    }
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
                    shell: default_shell(),
                    ..TaskSpec::default()
                };
                let mut request_id = None;
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::RequestId => request_id = Some(map.next_value()?),
                        Field::Name => spec.name = map.next_value()?,
                        Field::Shell => spec.shell = map.next_value()?,
                        Field::Body => spec.body = map.next_value()?,
                        Field::Srcdir => spec.srcdir = map.next_value()?,
                        Field::Rundir => spec.rundir = map.next_value()?,
                        Field::Env => spec.env = map.next_value()?,
                        Field::ResourceClass => spec.resource_class = map.next_value()?,
                        Field::Resources => spec.resources = map.next_value()?,
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

fn default_shell() -> String {
    "bash".to_string()
}

fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}

/// Shells a task may name. The original also has `pytask` (Python
/// callables), which dfm does not run.
pub const SHELLS: &[&str] = &["bash", "sh", "dash", "zsh", "ksh", "csh", "tcsh"];

impl TaskSpec {
    /// Checks what a worker needs; the message says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.request_id.is_empty() {
            return Err("task.submit needs a non-empty 'request_id'".into());
        }
        if self.name.is_empty() {
            return Err("task.submit needs a non-empty 'name'".into());
        }
        if !SHELLS.contains(&self.shell.as_str()) {
            return Err(format!(
                "shell '{}' is not supported: dfm runs shell tasks with one of {}",
                self.shell,
                SHELLS.join(", ")
            ));
        }
        if self.rundir.is_empty() || !self.rundir.starts_with('/') {
            return Err(format!(
                "task '{}' needs an absolute 'rundir' (got '{}')",
                self.name, self.rundir
            ));
        }
        Ok(())
    }
}

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
        }
    }

    /// A failure before the task's command could run.
    pub fn error(request_id: &str, message: String) -> TaskResult {
        let mut result = TaskResult::new(request_id, 1);
        result.changed = false;
        result.markers.push(Marker {
            msg: message,
            severity: Severity::Error,
        });
        result
    }
}

// ---------------------------------------------------------------- client protocol

/// A request on the client socket: `{"method", "id", "params"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRequest {
    pub id: Value,
    pub call: ClientCall,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClientCall {
    Ping,
    Submit(Box<TaskSpec>),
    Cancel {
        request_id: String,
    },
    Status,
    /// `monitor.subscribe`: every event (the monitor), or with
    /// `{"scope": "own"}` only `task.dispatched` of this connection's own
    /// tasks (`dfm run`).
    Subscribe {
        own_tasks: bool,
    },
    Shutdown,
}

/// Why a line could not be understood; becomes an error reply.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRequest {
    pub id: Value,
    pub error: String,
}

impl ClientRequest {
    pub fn to_line(&self) -> String {
        /// A request line, serialised straight from its parts.
        #[derive(Serialize)]
        struct Line<'a, P> {
            method: &'a str,
            id: &'a Value,
            params: P,
        }
        let (method, params) = match &self.call {
            // The bulk of what a client sends: no intermediate JSON tree.
            ClientCall::Submit(spec) => {
                return to_line(&Line {
                    method: "task.submit",
                    id: &self.id,
                    params: spec,
                })
            }
            ClientCall::Ping => ("ping", json!({})),
            ClientCall::Cancel { request_id } => {
                ("task.cancel", json!({ "request_id": request_id }))
            }
            ClientCall::Status => ("status.get", json!({})),
            ClientCall::Subscribe { own_tasks: false } => ("monitor.subscribe", json!({})),
            ClientCall::Subscribe { own_tasks: true } => {
                ("monitor.subscribe", json!({ "scope": "own" }))
            }
            ClientCall::Shutdown => ("shutdown", json!({})),
        };
        to_line(&Line {
            method,
            id: &self.id,
            params,
        })
    }

    pub fn parse(line: &[u8]) -> Result<ClientRequest, BadRequest> {
        // The common case in one pass: a task's params are read as a task
        // when the method comes first (as every client writes it), others
        // stay text until the method says what they are. Anything odd is
        // read again, as a whole, by `parse_as_value`.
        enum Params<'a> {
            Text(&'a RawValue),
            Task(Box<TaskSpec>),
        }
        struct Envelope<'a> {
            id: Value,
            method: Option<Cow<'a, str>>,
            params: Option<Params<'a>>,
        }
        impl<'de> Deserialize<'de> for Envelope<'de> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Fields;
                impl<'de> Visitor<'de> for Fields {
                    type Value = Envelope<'de>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a request")
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Envelope<'de>, A::Error> {
                        let mut envelope = Envelope {
                            id: Value::Null,
                            method: None,
                            params: None,
                        };
                        while let Some(Borrowed(key)) = map.next_key()? {
                            match key.as_ref() {
                                "id" => envelope.id = map.next_value()?,
                                "method" => envelope.method = Some(map.next_value::<Borrowed>()?.0),
                                "params" if envelope.method.as_deref() == Some("task.submit") => {
                                    envelope.params = Some(Params::Task(map.next_value()?));
                                }
                                "params" => envelope.params = Some(Params::Text(map.next_value()?)),
                                _ => {
                                    map.next_value::<de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(envelope)
                    }
                }
                deserializer.deserialize_map(Fields)
            }
        }

        if let Ok(Envelope {
            id,
            method: Some(method),
            params,
        }) = serde_json::from_slice::<Envelope>(line)
        {
            let call = match params {
                Some(Params::Task(spec)) => {
                    Some(spec.validate().map(|()| ClientCall::Submit(spec)))
                }
                Some(Params::Text(text)) if !text.get().starts_with('{') => None,
                Some(Params::Text(text)) => Some(ClientCall::parse(&method, text.get())),
                None => Some(ClientCall::parse(&method, "{}")),
            };
            match call {
                Some(Ok(call)) => return Ok(ClientRequest { id, call }),
                Some(Err(error)) => return Err(BadRequest { id, error }),
                None => {}
            }
        }
        Self::parse_as_value(line)
    }

    /// Reads the line as a whole: says what is wrong with a line that is
    /// not a request, and takes what the quick reading refuses but JSON
    /// allows (a field given twice: the last one counts).
    #[cold]
    fn parse_as_value(line: &[u8]) -> Result<ClientRequest, BadRequest> {
        let bad = |id: &Value, error: String| BadRequest {
            id: id.clone(),
            error,
        };
        let value: Value = serde_json::from_slice(line).map_err(|e| BadRequest {
            id: Value::Null,
            error: format!("Invalid JSON: {e}"),
        })?;
        let Value::Object(mut object) = value else {
            return Err(bad(
                &Value::Null,
                "Invalid request: not a JSON object".into(),
            ));
        };
        let id = object.remove("id").unwrap_or(Value::Null);
        let method = match object.remove("method") {
            Some(Value::String(method)) => method,
            _ => return Err(bad(&id, "Invalid request: missing 'method'".into())),
        };
        let params = match object.remove("params") {
            None | Some(Value::Null) => "{}".to_string(),
            Some(params @ Value::Object(_)) => params.to_string(),
            Some(_) => {
                return Err(bad(
                    &id,
                    "Invalid request: 'params' must be an object".into(),
                ))
            }
        };
        match ClientCall::parse(&method, &params) {
            Ok(call) => Ok(ClientRequest { id, call }),
            Err(error) => Err(bad(&id, error)),
        }
    }
}

impl ClientCall {
    /// The call `method` makes with `params`, the JSON text of an object.
    fn parse(method: &str, params: &str) -> Result<ClientCall, String> {
        let fields = || -> Result<Map<String, Value>, String> {
            match serde_json::from_str(params) {
                Ok(fields) => Ok(fields),
                Err(e) => Err(format!("Invalid {method} params: {e}")),
            }
        };
        Ok(match method {
            "ping" => ClientCall::Ping,
            "task.submit" => {
                let spec: TaskSpec = serde_json::from_str(params)
                    .map_err(|e| format!("Invalid task.submit params: {e}"))?;
                spec.validate()?;
                ClientCall::Submit(Box::new(spec))
            }
            "task.cancel" => match fields()?.remove("request_id") {
                Some(Value::String(request_id)) => ClientCall::Cancel { request_id },
                _ => return Err("task.cancel needs a string 'request_id'".into()),
            },
            "status.get" => ClientCall::Status,
            "monitor.subscribe" => match fields()?.remove("scope") {
                None | Some(Value::Null) => ClientCall::Subscribe { own_tasks: false },
                Some(Value::String(scope)) if scope == "all" => {
                    ClientCall::Subscribe { own_tasks: false }
                }
                Some(Value::String(scope)) if scope == "own" => {
                    ClientCall::Subscribe { own_tasks: true }
                }
                Some(other) => {
                    return Err(format!(
                        "monitor.subscribe: 'scope' is \"all\" or \"own\", not {other}"
                    ))
                }
            },
            "shutdown" => ClientCall::Shutdown,
            other => return Err(format!("Unknown method: {other}")),
        })
    }
}

/// A reply line on the client socket.
pub fn reply_result(id: &Value, result: impl Serialize) -> String {
    #[derive(Serialize)]
    struct Line<'a, R> {
        id: &'a Value,
        result: R,
    }
    to_line(&Line { id, result })
}

pub fn reply_error(id: &Value, error: &str) -> String {
    if id.is_null() {
        to_line(&json!({ "error": error }))
    } else {
        to_line(&json!({"id": id, "error": error}))
    }
}

/// A monitor event line (no `id`).
pub fn event_line(method: &str, params: Value) -> String {
    to_line(&json!({"method": method, "params": params}))
}

/// A reply as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Result { id: Value, result: Value },
    Error { id: Value, error: String },
    Event { method: String, params: Value },
}

impl Reply {
    pub fn parse(line: &[u8]) -> Result<Reply, String> {
        let value: Value =
            serde_json::from_slice(line).map_err(|e| format!("daemon sent invalid JSON: {e}"))?;
        let Value::Object(mut object) = value else {
            return Err("daemon sent a reply that is not an object".into());
        };
        let id = object.remove("id").unwrap_or(Value::Null);
        if let Some(error) = object.remove("error") {
            let error = match error {
                Value::String(s) => s,
                other => other.to_string(),
            };
            return Ok(Reply::Error { id, error });
        }
        if let Some(result) = object.remove("result") {
            return Ok(Reply::Result { id, result });
        }
        match object.remove("method") {
            Some(Value::String(method)) => Ok(Reply::Event {
                method,
                params: object.remove("params").unwrap_or(Value::Null),
            }),
            _ => Err("daemon sent a reply with neither result, error nor method".into()),
        }
    }
}

/// `status.get`'s result. Upstream's fields first; the rest are ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub runner: String,
    pub workers: Vec<WorkerStatus>,
    pub pending_tasks: usize,
    pub started: String,
    pub uptime_secs: f64,
    pub socket: String,
    pub worker_port: u16,
    pub pool_size: usize,
    pub running_tasks: usize,
    pub completed_tasks: u64,
    pub failed_tasks: u64,
    pub counts: WorkerCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerCounts {
    pub total: usize,
    pub busy: usize,
    pub idle: usize,
    pub pending: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub worker_id: String,
    pub resource_class: String,
    pub hostname: String,
    pub pid: u32,
    /// `launching`, `idle` or `busy`.
    pub state: String,
    pub current_task: Option<String>,
    pub job_id: String,
    /// Upstream's name for `job_id`.
    pub lsf_job_id: String,
}

// ---------------------------------------------------------------- worker protocol

/// Worker → daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params")]
pub enum FromWorker {
    #[serde(rename = "worker.register")]
    Register(Register),
    #[serde(rename = "task.result")]
    Result(TaskResult),
    #[serde(rename = "worker.heartbeat")]
    Heartbeat { worker_id: String },
    /// The task held ahead, handed back unstarted (after `task.withdraw`
    /// or `task.cancel`).
    #[serde(rename = "task.withdrawn")]
    Withdrawn { request_id: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Register {
    pub worker_id: String,
    pub hostname: String,
    pub pid: u32,
    #[serde(default)]
    pub resource_class: String,
    /// The scheduler's job id (LSF, SLURM), or empty.
    #[serde(default)]
    pub job_id: String,
    /// Upstream's name for `job_id`.
    #[serde(default)]
    pub lsf_job_id: String,
    /// Proof that the worker knows the secret, for the daemon's nonce.
    pub auth: String,
    /// The worker's own nonce, which the daemon must answer to prove it
    /// knows the secret too.
    pub nonce: String,
    /// The worker takes a `task.execute` while busy, runs it as soon as its
    /// current task ends, and answers `task.withdraw`.
    #[serde(default)]
    pub prefetch: bool,
    /// How many such tasks it holds at once; absent (0) with `prefetch`
    /// means one, as workers that predate it hold.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prefetch_depth: u32,
}

impl Register {
    /// How many tasks the worker accepts ahead while busy.
    pub fn tasks_ahead(&self) -> usize {
        match (self.prefetch, self.prefetch_depth) {
            (false, _) => 0,
            (true, 0) => 1,
            (true, depth) => depth as usize,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Daemon → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params")]
pub enum ToWorker {
    /// First message on every worker connection.
    #[serde(rename = "auth.challenge")]
    Challenge { nonce: String },
    #[serde(rename = "worker.registered")]
    Registered {
        /// The daemon's answer to the worker's nonce.
        auth: String,
        heartbeat_interval_ms: u64,
    },
    #[serde(rename = "worker.rejected")]
    Rejected { reason: String },
    #[serde(rename = "task.execute")]
    Execute(Arc<TaskSpec>),
    /// Kill the task if it runs; hand it back if it is held ahead.
    #[serde(rename = "task.cancel")]
    Cancel { request_id: String },
    /// Hand back the task held ahead if it has not started; else nothing.
    #[serde(rename = "task.withdraw")]
    Withdraw { request_id: String },
    #[serde(rename = "worker.shutdown")]
    Shutdown {},
    /// The answer to each `worker.heartbeat`: the daemon is alive.
    #[serde(rename = "daemon.heartbeat")]
    Heartbeat {},
}

impl ToWorker {
    /// The message as a protocol line.
    pub fn to_line(&self) -> String {
        let capacity = match self {
            ToWorker::Execute(spec) => {
                let text = [
                    &spec.name,
                    &spec.body,
                    &spec.srcdir,
                    &spec.rundir,
                    &spec.request_id,
                ];
                spec.env.as_json().len() + text.iter().map(|t| t.len()).sum::<usize>() + 256
            }
            _ => 256,
        };
        to_line_of_size(self, capacity)
    }

    /// Reads a message from the daemon. A task's environment is read
    /// straight from the text (see [`Environment`]), whatever the order of
    /// the fields.
    pub fn parse(line: &[u8]) -> serde_json::Result<ToWorker> {
        #[derive(Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow)]
            method: Cow<'a, str>,
            #[serde(borrow)]
            params: &'a RawValue,
        }
        match serde_json::from_slice::<Envelope>(line) {
            Ok(envelope) if envelope.method == "task.execute" => {
                serde_json::from_str(envelope.params.get()).map(ToWorker::Execute)
            }
            _ => serde_json::from_slice(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<ClientRequest, BadRequest> {
        ClientRequest::parse(line.as_bytes())
    }

    #[test]
    fn parses_the_original_clients_submit() {
        // As dv-flow-mgr's DaemonClientBackend sends it.
        let line = r#"{"method": "task.submit", "id": "ab12", "params": {"request_id": "ab12",
            "name": "demo.build", "callable_spec": "", "shell": "bash", "body": "echo hi",
            "srcdir": "/src", "rundir": "/run/demo.build", "pythonpath": [], "params": {},
            "inputs": [], "env": {"A": "1"}, "resource_class": ""}}"#;
        let request = parse(line).expect("valid submit");
        assert_eq!(request.id, json!("ab12"));
        let ClientCall::Submit(spec) = request.call else {
            panic!("not a submit: {:?}", request.call);
        };
        assert_eq!(spec.name, "demo.build");
        let env = spec.env.variables().expect("variables");
        assert_eq!(env.get("A").map(String::as_str), Some("1"));
        assert!(spec.extra.contains_key("callable_spec"));
        assert_eq!(spec.extra["inputs"], json!([]));
        // The params before the method: the same task.
        let params = r#"{"request_id": "r", "name": "t", "rundir": "/x", "env": {"A": "1"}}"#;
        let first = parse(&format!(
            r#"{{"method": "task.submit", "params": {params}}}"#
        ));
        let last = parse(&format!(
            r#"{{"params": {params}, "method": "task.submit"}}"#
        ));
        assert!(matches!(
            first,
            Ok(ClientRequest {
                call: ClientCall::Submit(_),
                ..
            })
        ));
        assert_eq!(first, last);
    }

    #[test]
    fn a_worker_says_how_many_tasks_it_holds_ahead() {
        let register = |extra: &str| {
            let line = format!(
                r#"{{"worker_id": "w", "hostname": "h", "pid": 1, "auth": "a", "nonce": "n"{extra}}}"#
            );
            serde_json::from_str::<Register>(&line).map(|r| r.tasks_ahead())
        };
        // The original's workers, then ours before `prefetch_depth`.
        assert_eq!(register("").ok(), Some(0));
        assert_eq!(register(r#", "prefetch": true"#).ok(), Some(1));
        assert_eq!(
            register(r#", "prefetch": true, "prefetch_depth": 8"#).ok(),
            Some(8)
        );
        assert_eq!(
            register(r#", "prefetch": false, "prefetch_depth": 8"#).ok(),
            Some(0)
        );
    }

    #[test]
    fn names_written_with_escapes_are_the_same_names() {
        let line = r#"{"m\u0065thod": "task.submit", "id": 1, "params": {"request_\u0069d": "r",
            "n\u0061me": "t", "rundir": "/x", "in\u0070uts": [2]}}"#;
        let request = parse(line).expect("valid submit");
        let ClientCall::Submit(spec) = request.call else {
            panic!("not a submit: {:?}", request.call);
        };
        assert_eq!((spec.request_id.as_str(), spec.name.as_str()), ("r", "t"));
        assert_eq!(spec.extra.get("inputs"), Some(&json!([2])));
    }

    #[test]
    fn a_field_given_twice_counts_once_the_last_time() {
        let line = r#"{"method": "task.cancel", "id": 1, "params": {"request_id": "a"},
            "params": {"request_id": "b"}}"#;
        let request = parse(line).expect("JSON allows it");
        assert_eq!(
            request.call,
            ClientCall::Cancel {
                request_id: "b".into()
            }
        );
    }

    #[test]
    fn an_env_must_be_an_object() {
        let line = r#"{"id": 1, "method": "task.submit", "params": {"request_id": "r",
            "name": "t", "rundir": "/x", "env": ["A=1"]}}"#;
        let error = parse(line).expect_err("a list is no environment").error;
        assert!(
            error.contains("'env' must be an object of strings"),
            "{error}"
        );
    }

    #[test]
    fn a_task_reaches_the_worker_whole_whatever_the_order_of_fields() {
        let env = Env::from([("A".to_string(), "1 \"quoted\"".to_string())]);
        let spec = TaskSpec {
            request_id: "r1".into(),
            name: "t".into(),
            shell: "sh".into(),
            body: "true".into(),
            rundir: "/tmp/x".into(),
            env: Environment::new(&env),
            extra: Map::from_iter([("inputs".to_string(), json!([1]))]),
            ..TaskSpec::default()
        };
        let message = ToWorker::Execute(Arc::new(spec.clone()));
        let line = to_line(&message);
        assert!(
            line.starts_with(r#"{"method":"task.execute","params":{"#),
            "{line}"
        );
        assert_eq!(
            ToWorker::parse(line.trim_end().as_bytes()).expect("parsed"),
            message
        );
        let params = serde_json::to_string(&spec).expect("params");
        let reversed = format!(r#"{{"params":{params},"method":"task.execute"}}"#);
        let parsed = ToWorker::parse(reversed.as_bytes()).expect("parsed");
        assert_eq!(parsed, message);
        let ToWorker::Execute(parsed) = parsed else {
            panic!("not a task");
        };
        assert_eq!(parsed.env.variables(), Ok(env));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let cases = [
            ("{nope", "Invalid JSON"),
            ("[1,2]", "not a JSON object"),
            (r#"{"id": 1}"#, "missing 'method'"),
            (r#"{"id": 1, "method": "x.y"}"#, "Unknown method: x.y"),
            (
                r#"{"id": 1, "method": "ping", "params": 3}"#,
                "'params' must be an object",
            ),
            (
                r#"{"id": 1, "method": "task.cancel", "params": {}}"#,
                "request_id",
            ),
            (
                r#"{"id": 1, "method": "task.submit", "params": {"request_id": "r", "name": "t", "rundir": "/x", "shell": "pytask"}}"#,
                "shell 'pytask' is not supported",
            ),
            (
                r#"{"id": 1, "method": "task.submit", "params": {"request_id": "r", "name": "t", "rundir": "rel"}}"#,
                "absolute 'rundir'",
            ),
            (
                r#"{"id": 1, "method": "task.submit", "params": {"request_id": 5}}"#,
                "Invalid task.submit params",
            ),
        ];
        for (line, expected) in cases {
            let error = parse(line).expect_err(line).error;
            assert!(error.contains(expected), "{line}: {error}");
        }
    }

    #[test]
    fn requests_round_trip() {
        let spec = TaskSpec {
            request_id: "r1".into(),
            name: "t".into(),
            shell: "sh".into(),
            body: "true".into(),
            rundir: "/tmp/x".into(),
            ..TaskSpec::default()
        };
        for call in [
            ClientCall::Ping,
            ClientCall::Submit(Box::new(spec)),
            ClientCall::Cancel {
                request_id: "r1".into(),
            },
            ClientCall::Status,
            ClientCall::Subscribe { own_tasks: false },
            ClientCall::Subscribe { own_tasks: true },
            ClientCall::Shutdown,
        ] {
            let request = ClientRequest {
                id: json!("7"),
                call,
            };
            let line = request.to_line();
            assert_eq!(parse(line.trim_end()), Ok(request));
        }
    }

    #[test]
    fn worker_messages_use_the_original_method_names() {
        let line = to_line(&ToWorker::Cancel {
            request_id: "r".into(),
        });
        assert_eq!(
            line,
            "{\"method\":\"task.cancel\",\"params\":{\"request_id\":\"r\"}}\n"
        );
        let heartbeat: FromWorker =
            serde_json::from_str(r#"{"method":"worker.heartbeat","params":{"worker_id":"w"}}"#)
                .expect("heartbeat");
        assert_eq!(
            heartbeat,
            FromWorker::Heartbeat {
                worker_id: "w".into()
            }
        );
    }

    #[tokio::test]
    async fn read_line_refuses_overlong_lines() {
        let mut big = vec![b'x'; MAX_LINE_BYTES + 1];
        big.push(b'\n');
        let mut reader = tokio::io::BufReader::new(&big[..]);
        let mut buf = Vec::new();
        assert!(matches!(
            read_line(&mut reader, &mut buf).await,
            Err(FrameError::TooLong)
        ));

        let mut reader = tokio::io::BufReader::new(&b"one\ntwo"[..]);
        buf.clear();
        assert!(read_line(&mut reader, &mut buf).await.expect("line"));
        assert_eq!(buf, b"one");
        buf.clear();
        assert!(read_line(&mut reader, &mut buf).await.expect("line"));
        assert_eq!(buf, b"two");
        buf.clear();
        assert!(!read_line(&mut reader, &mut buf).await.expect("eof"));
    }
}
