//! What a shell step of the original's handed back through the data_io
//! files, read as dv-flow-mgr's `data_io.harvest_outputs` (1.20) reads it
//! in its worker, whose `mkDataItem` builds `std.FileSet` and `std.Env`
//! from the std package's types: the same items, field for field, the same
//! markers and the same memento.
//!
//! Only what is read exactly here is read here: an item of any other type
//! (a library's type is built by its own package's definition), a line
//! that is not plain JSON to this reader, a marker pydantic would have to
//! coerce, or a file with line breaks other than `\n` makes
//! [`harvest`] answer [`NeedsPython`], and the caller asks dv-flow-mgr's
//! own code instead.

use std::fs;
use std::io;
use std::path::Path;

use super::stage::{ENV_FILE, MARKERS_FILE, MEMENTO_OUT, OUTPUT_FILE, PATH_FILE};
use crate::data_out::pyjson::{self, Json};

/// What the step handed back.
#[derive(Debug, PartialEq)]
pub struct Harvest {
    pub output: Vec<Json>,
    pub markers: Vec<Json>,
    pub memento: Option<Json>,
}

/// This needs dv-flow-mgr's own reading: what was found that this does not
/// read exactly.
#[derive(Debug, PartialEq)]
pub struct NeedsPython(pub String);

/// Reads the data_io files in `rundir` of the task `name`.
pub fn harvest(rundir: &str, name: &str) -> Result<Harvest, NeedsPython> {
    let dir = Path::new(rundir);
    let mut harvest = Harvest {
        output: Vec::new(),
        markers: Vec::new(),
        memento: None,
    };
    let mut seq = 0u64;
    for (lineno, line) in lines(dir, OUTPUT_FILE)?.iter().enumerate() {
        let lineno = lineno + 1;
        let Some(fields) = json_line(line, OUTPUT_FILE)? else {
            continue;
        };
        let Json::Object(mut fields) = fields else {
            harvest.markers.push(marker(
                &format!("DFM_OUTPUT line {lineno} is not a JSON object"),
                "warning",
            ));
            continue;
        };
        let kind = match fields.iter().position(|(k, _)| k == "type") {
            Some(at) => fields.remove(at).1,
            None => Json::Null,
        };
        let kind = match kind {
            Json::Null => {
                harvest.markers.push(marker(
                    &format!("DFM_OUTPUT line {lineno} missing 'type'"),
                    "warning",
                ));
                continue;
            }
            Json::Str(kind) => kind,
            other => return Err(NeedsPython(format!("an item of type {}", other.dumps()))),
        };
        let item = match kind.as_str() {
            "std.FileSet" => {
                if let Some((_, basedir)) = fields.iter_mut().find(|(k, _)| k == "basedir") {
                    if *basedir == Json::Str(".".into()) {
                        *basedir = Json::Str(rundir.to_string());
                    }
                }
                fileset(&fields, name, seq)
            }
            "std.Env" => env_item(&fields, name, Json::Int(seq.to_string())),
            other => return Err(NeedsPython(format!("an item of type {other}"))),
        };
        seq += 1;
        harvest.output.push(item);
    }
    let vals = env_file(dir)?;
    let path_dirs: Vec<String> = lines(dir, PATH_FILE)?
        .iter()
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect();
    if !vals.is_empty() || !path_dirs.is_empty() {
        let mut fields = Vec::new();
        if !vals.is_empty() {
            fields.push(("vals".to_string(), Json::object(vals)));
        }
        if !path_dirs.is_empty() {
            let path = Json::Str(path_dirs.join(":"));
            fields.push((
                "prepend_path".to_string(),
                Json::object([("PATH".into(), path)]),
            ));
        }
        // The item is made without a sequence number; mkDataItem's default.
        harvest
            .output
            .push(env_item(&fields, name, Json::Str(String::new())));
    }
    for line in lines(dir, MARKERS_FILE)? {
        if let Some(value) = json_line(&line, MARKERS_FILE)? {
            harvest.markers.push(coerce_marker(value)?);
        }
    }
    harvest.memento = memento(dir)?;
    Ok(harvest)
}

/// The lines of a file as Python's text reading splits them; none if it
/// does not exist.
fn lines(dir: &Path, file: &str) -> Result<Vec<String>, NeedsPython> {
    let text = match fs::read(dir.join(file)) {
        Ok(bytes) => {
            String::from_utf8(bytes).map_err(|_| NeedsPython(format!("{file} is not UTF-8")))?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NeedsPython(format!("{file}: {e}"))),
    };
    // Python's universal newlines, and `splitlines`, break at more than `\n`.
    let other_breaks = |c: char| {
        matches!(
            c,
            '\r' | '\u{b}'
                | '\u{c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        )
    };
    if text.contains(other_breaks) {
        return Err(NeedsPython(format!(
            "{file} has line breaks other than \\n"
        )));
    }
    Ok(text.lines().map(str::to_string).collect())
}

/// A stripped JSONL line: `None` if blank.
fn json_line(line: &str, file: &str) -> Result<Option<Json>, NeedsPython> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    pyjson::loads(line)
        .map(Some)
        .ok_or_else(|| NeedsPython(format!("a line of {file} that is not plain JSON")))
}

/// `std.FileSet` as the std package defines it.
fn fileset(fields: &[(String, Json)], src: &str, seq: u64) -> Json {
    let given = |name: &str, default: Json| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or(default, |(_, v)| v.clone())
    };
    let empty = || Json::Str(String::new());
    Json::Object(vec![
        ("src".into(), Json::Str(src.into())),
        ("seq".into(), Json::Int(seq.to_string())),
        ("type".into(), Json::Str("std.FileSet".into())),
        ("filetype".into(), given("filetype", empty())),
        ("basedir".into(), given("basedir", empty())),
        ("files".into(), given("files", Json::Array(Vec::new()))),
        ("incdirs".into(), given("incdirs", Json::Array(Vec::new()))),
        ("defines".into(), given("defines", Json::Array(Vec::new()))),
        (
            "attributes".into(),
            given("attributes", Json::Array(Vec::new())),
        ),
    ])
}

/// `std.Env` as the std package defines it.
fn env_item(fields: &[(String, Json)], src: &str, seq: Json) -> Json {
    let given = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or(Json::Object(Vec::new()), |(_, v)| v.clone())
    };
    Json::Object(vec![
        ("src".into(), Json::Str(src.into())),
        ("seq".into(), seq),
        ("vals".into(), given("vals")),
        ("append_path".into(), given("append_path")),
        ("prepend_path".into(), given("prepend_path")),
        ("type".into(), Json::Str("std.Env".into())),
    ])
}

/// `_parse_env_file`: `KEY=VALUE` lines and `KEY<<DELIM` heredocs.
fn env_file(dir: &Path) -> Result<Vec<(String, Json)>, NeedsPython> {
    let lines = lines(dir, ENV_FILE)?;
    let mut vals = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        let heredoc = line.find("<<");
        let eq = line.find('=');
        match (heredoc, eq) {
            (Some(h), eq) if eq.is_none_or(|eq| h < eq) => {
                let key = line[..h].trim().to_string();
                let delim = line[h + 2..].trim();
                i += 1;
                let mut body = Vec::new();
                while i < lines.len() && lines[i] != delim {
                    body.push(lines[i].as_str());
                    i += 1;
                }
                if i < lines.len() {
                    i += 1;
                }
                vals.push((key, Json::Str(body.join("\n"))));
            }
            (_, Some(eq)) => {
                vals.push((
                    line[..eq].trim().to_string(),
                    Json::Str(line[eq + 1..].to_string()),
                ));
                i += 1;
            }
            // Python logs and skips a malformed line.
            _ => i += 1,
        }
    }
    Ok(vals)
}

/// `coerce_marker` for the markers it takes as they are.
fn coerce_marker(value: Json) -> Result<Json, NeedsPython> {
    let odd = || NeedsPython("a marker pydantic would coerce".to_string());
    let Json::Object(fields) = value else {
        return Ok(marker(
            &format!("Invalid marker format: {}", value.python_str()),
            "warning",
        ));
    };
    let field = |name: &str| fields.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
    let Some(Json::Str(msg)) = field("msg") else {
        return Err(odd());
    };
    let severity = match field("severity") {
        None => "info",
        Some(Json::Str(s)) if matches!(s.as_str(), "info" | "warning" | "error") => s.as_str(),
        Some(Json::Str(_)) => "info",
        Some(_) => return Err(odd()),
    };
    let loc = match field("loc") {
        None => Json::Null,
        Some(Json::Object(loc)) => {
            let get = |name: &str| loc.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
            let Some(Json::Str(path)) = get("path") else {
                return Err(odd());
            };
            let number = |name: &str| match get(name) {
                None => Ok(Json::Int("-1".into())),
                Some(Json::Int(n)) if n.parse::<i64>().is_ok() => Ok(Json::Int(n.clone())),
                Some(_) => Err(odd()),
            };
            Json::Object(vec![
                ("path".into(), Json::Str(path.clone())),
                ("line".into(), number("line")?),
                ("pos".into(), number("pos")?),
            ])
        }
        Some(_) => return Err(odd()),
    };
    Ok(Json::Object(vec![
        ("msg".into(), Json::Str(msg.clone())),
        ("severity".into(), Json::Str(severity.into())),
        ("loc".into(), loc),
    ]))
}

fn memento(dir: &Path) -> Result<Option<Json>, NeedsPython> {
    let text = match fs::read_to_string(dir.join(MEMENTO_OUT)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return Err(NeedsPython(format!("{MEMENTO_OUT} cannot be read here"))),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    pyjson::loads(text.trim())
        .map(Some)
        .ok_or_else(|| NeedsPython(format!("{MEMENTO_OUT} is not plain JSON")))
}

/// A marker as `TaskMarker.model_dump(mode="json")` writes it.
pub fn marker(msg: &str, severity: &str) -> Json {
    Json::Object(vec![
        ("msg".into(), Json::Str(msg.into())),
        ("severity".into(), Json::Str(severity.into())),
        ("loc".into(), Json::Null),
    ])
}

#[cfg(test)]
mod tests;
