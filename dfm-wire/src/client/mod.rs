//! The client socket: requests (`{"method", "id", "params"}`) and the
//! replies to them, compatible with the original dv-flow-mgr daemon.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::decode::Borrowed;
use crate::frame::to_line;
use crate::splice::Splice;
use crate::task::{InvalidTask, TaskSpec};

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
    /// `shutdown`; with `{"keep_workers": true}` (`dfm daemon restart`)
    /// the daemon leaves its workers running, for the daemon that replaces
    /// it to adopt, and ends its clients' connections without final replies.
    Shutdown {
        keep_workers: bool,
    },
}

/// Why a line could not be understood; becomes an error reply.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRequest {
    pub id: Value,
    pub error: String,
}

/// What is wrong with a request's method or params.
#[derive(Debug, thiserror::Error)]
enum RequestError {
    #[error("Invalid {method} params: {source}")]
    Params {
        method: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Task(#[from] InvalidTask),
    #[error("task.cancel needs a string 'request_id'")]
    CancelWithoutId,
    #[error("monitor.subscribe: 'scope' is \"all\" or \"own\", not {0}")]
    Scope(Value),
    #[error("Unknown method: {0}")]
    UnknownMethod(String),
}

/// A request's `params`: a task read as one as the line is read, or any
/// other params as text, read once the method says what they are.
enum Params<'a> {
    Text(&'a RawValue),
    Task(Box<TaskSpec>),
}

/// A request line as [`ClientRequest::parse`] reads it in one pass.
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
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'de>, A::Error> {
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
            ClientCall::Shutdown {
                keep_workers: false,
            } => ("shutdown", json!({})),
            ClientCall::Shutdown { keep_workers: true } => {
                ("shutdown", json!({ "keep_workers": true }))
            }
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
        if let Ok(Envelope {
            id,
            method: Some(method),
            params,
        }) = serde_json::from_slice::<Envelope>(line)
        {
            let call = match params {
                Some(Params::Task(spec)) => Some(
                    spec.validate()
                        .map(|()| ClientCall::Submit(spec))
                        .map_err(RequestError::from),
                ),
                Some(Params::Text(text)) if !text.get().starts_with('{') => None,
                Some(Params::Text(text)) => Some(ClientCall::parse(&method, text.get())),
                None => Some(ClientCall::parse(&method, "{}")),
            };
            match call {
                Some(Ok(call)) => return Ok(ClientRequest { id, call }),
                Some(Err(error)) => {
                    return Err(BadRequest {
                        id,
                        error: error.to_string(),
                    })
                }
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
            Err(error) => Err(bad(&id, error.to_string())),
        }
    }
}

impl ClientCall {
    /// The call `method` makes with `params`, the JSON text of an object.
    fn parse(method: &str, params: &str) -> Result<ClientCall, RequestError> {
        let invalid = |source| RequestError::Params {
            method: method.to_string(),
            source,
        };
        let fields = || serde_json::from_str::<Map<String, Value>>(params).map_err(invalid);
        Ok(match method {
            "ping" => ClientCall::Ping,
            "task.submit" => {
                let spec: TaskSpec = serde_json::from_str(params).map_err(invalid)?;
                spec.validate()?;
                ClientCall::Submit(Box::new(spec))
            }
            "task.cancel" => match fields()?.remove("request_id") {
                Some(Value::String(request_id)) => ClientCall::Cancel { request_id },
                _ => return Err(RequestError::CancelWithoutId),
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
                Some(other) => return Err(RequestError::Scope(other)),
            },
            "shutdown" => ClientCall::Shutdown {
                keep_workers: matches!(fields()?.remove("keep_workers"), Some(Value::Bool(true))),
            },
            other => return Err(RequestError::UnknownMethod(other.to_string())),
        })
    }
}

/// A reply line on the client socket.
pub fn reply_result(id: &Value, result: impl Serialize) -> String {
    reply_result_of_size(id, result, 256)
}

/// [`reply_result`] into a buffer of `capacity` bytes to begin with (a
/// status of 10,000 workers is 2 MB: written into a buffer of its size,
/// not one doubled thirteen times).
pub fn reply_result_of_size(id: &Value, result: impl Serialize, capacity: usize) -> String {
    crate::frame::to_line_of_size(&ResultLine { id, result }, capacity)
}

/// [`reply_result_of_size`], with one value in `result` written by `write`
/// in place of `splice`'s placeholder (see [`crate::splice`]).
pub fn reply_result_spliced(
    id: &Value,
    result: impl Serialize,
    splice: &Splice,
    capacity: usize,
    write: impl FnOnce(&mut Vec<u8>),
) -> String {
    splice.to_line(&ResultLine { id, result }, capacity, write)
}

#[derive(Serialize)]
struct ResultLine<'a, R> {
    id: &'a Value,
    result: R,
}

pub fn reply_error(id: &Value, error: &str) -> String {
    if id.is_null() {
        to_line(&json!({ "error": error }))
    } else {
        to_line(&json!({"id": id, "error": error}))
    }
}

/// A reply as a client sees it. Events are kept as they came: a client
/// reads those it knows ([`crate::MonitorEvent::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Result { id: Value, result: Value },
    Error { id: Value, error: String },
    Event { method: String, params: Value },
}

/// A line from the daemon that is not a reply.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("daemon sent invalid JSON: {0}")]
    InvalidJson(#[from] serde_json::Error),
    #[error("daemon sent a reply that is not an object")]
    NotAnObject,
    #[error("daemon sent a reply with neither result, error nor method")]
    Unrecognised,
}

impl Reply {
    pub fn parse(line: &[u8]) -> Result<Reply, ReplyError> {
        let value: Value = serde_json::from_slice(line)?;
        let Value::Object(mut object) = value else {
            return Err(ReplyError::NotAnObject);
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
            _ => Err(ReplyError::Unrecognised),
        }
    }
}

#[cfg(test)]
mod tests;
