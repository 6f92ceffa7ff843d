//! dfm's own `dfm-out`: the helper a shell step of the original dv-flow-mgr
//! calls to hand data back (`dfm-out env N=1`, `dfm-out fileset a.v`, ...).
//!
//! It is a plain file-append contract: each verb appends one line to the
//! file a `DFM_*` variable names. dv-flow-mgr's own `dfm-out` starts Python
//! and imports its package for every call (about 250 ms); this one writes
//! the same bytes in about a millisecond. It does only what it can do
//! exactly as `dv_flow.mgr.out` (1.20) does: anything else (`publish`,
//! `--help`, abbreviated or unknown options, any error) is handed to
//! `$DFM_OUT_PYTHON -m dv_flow.mgr.out` with the same arguments, so the
//! outcome is dv-flow-mgr's own. `tests/upstream_out.rs` checks both give
//! the same files for the same calls.

mod fallback;
pub mod pyjson;
mod pyrepr;

pub use self::fallback::{FallbackPython, SHIM_DIR, SHIM_FLAG, SHIM_PYTHON};

use std::ffi::OsString;
use std::io::Write;

use self::pyjson::Json;

/// What to do with a command line.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Append these lines, in order: (the `DFM_*` variable, the line).
    Append(Vec<(&'static str, String)>),
    /// Leave it to dv-flow-mgr's `dfm-out`.
    Python,
}

/// Reads a `dfm-out` command line (without the program name).
pub fn plan(args: &[OsString]) -> Plan {
    let Some(args) = args
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
    else {
        return Plan::Python;
    };
    let Some((verb, rest)) = args.split_first() else {
        return Plan::Python;
    };
    let planned = match verb.as_str() {
        "fileset" => fileset(rest),
        "item" => item(rest),
        "env" => env(rest),
        "path" => path(rest),
        "error" | "warning" | "info" => marker(verb, rest),
        _ => None,
    };
    planned.map_or(Plan::Python, Plan::Append)
}

/// A verb's arguments: options with one value each, and positionals, read
/// as argparse reads them where that is unambiguous. `None` (leave it to
/// Python) for anything else: an option it does not know exactly, a missing
/// value, `-h`, a value that looks like an option.
struct Args {
    options: Vec<(String, String)>,
    positionals: Vec<String>,
}

fn split(args: &[String], options: &[&str]) -> Option<Args> {
    let mut parsed = Args {
        options: Vec::new(),
        positionals: Vec::new(),
    };
    // argparse takes one run of positionals for a verb's `nargs`: a second
    // run after an option is an error there.
    let mut runs = 0;
    let mut in_run = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            return None;
        }
        if arg.starts_with('-') && arg.len() > 1 && !looks_negative(arg) {
            in_run = false;
            let (name, value) = match arg.split_once('=') {
                Some((name, value)) => (name, value.to_string()),
                None => (arg.as_str(), rest.next()?.clone()),
            };
            if !options.contains(&name) || value.starts_with('-') && !looks_negative(&value) {
                return None;
            }
            parsed.options.push((name.to_string(), value));
        } else {
            if !in_run {
                runs += 1;
                in_run = true;
            }
            parsed.positionals.push(arg.clone());
        }
    }
    (runs <= 1).then_some(parsed)
}

/// argparse takes `-5` (`^-\d+$|^-\d*\.\d+$`) for a positional when no
/// option looks like a number.
fn looks_negative(arg: &str) -> bool {
    let Some(number) = arg.strip_prefix('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match number.split_once('.') {
        None => digits(number),
        Some((whole, fraction)) => (whole.is_empty() || digits(whole)) && digits(fraction),
    }
}

impl Args {
    /// The last value of `name` (argparse's `store`).
    fn last(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (argparse's `append`).
    fn all(&self, name: &str) -> Vec<String> {
        self.options
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

fn strings(items: Vec<String>) -> Json {
    Json::Array(items.into_iter().map(Json::Str).collect())
}

fn line(var: &'static str, value: &Json) -> (&'static str, String) {
    (var, value.dumps())
}

fn fileset(args: &[String]) -> Option<Vec<(&'static str, String)>> {
    let args = split(args, &["--filetype", "--basedir", "--incdir"])?;
    if args.positionals.is_empty() {
        return None;
    }
    let mut item = vec![("type".to_string(), Json::Str("std.FileSet".into()))];
    if let Some(filetype) = args.last("--filetype").filter(|t| !t.is_empty()) {
        item.push(("filetype".into(), Json::Str(filetype.into())));
    }
    let basedir = args.last("--basedir").unwrap_or(".");
    item.push(("basedir".into(), Json::Str(basedir.into())));
    item.push(("files".into(), strings(args.positionals.clone())));
    let incdirs = args.all("--incdir");
    if !incdirs.is_empty() {
        item.push(("incdirs".into(), strings(incdirs)));
    }
    Some(vec![line("DFM_OUTPUT", &Json::object(item))])
}

fn item(args: &[String]) -> Option<Vec<(&'static str, String)>> {
    let args = split(args, &["--type"])?;
    let kind = args.last("--type")?;
    let mut item = vec![("type".to_string(), Json::Str(kind.into()))];
    for token in &args.positionals {
        // As dv-flow-mgr reads them: `:=` first, then `=`.
        if let Some((key, json)) = token.split_once(":=") {
            item.push((key.to_string(), pyjson::loads(json)?));
        } else if let Some((key, value)) = token.split_once('=') {
            item.push((key.to_string(), Json::Str(value.into())));
        } else {
            return None;
        }
    }
    Some(vec![line("DFM_OUTPUT", &Json::object(item))])
}

fn env(args: &[String]) -> Option<Vec<(&'static str, String)>> {
    let args = split(args, &[])?;
    if args.positionals.is_empty() || args.positionals.iter().any(|a| !a.contains('=')) {
        return None;
    }
    Some(
        args.positionals
            .into_iter()
            .map(|a| ("DFM_ENV", a))
            .collect(),
    )
}

fn path(args: &[String]) -> Option<Vec<(&'static str, String)>> {
    let args = split(args, &[])?;
    if args.positionals.is_empty() {
        return None;
    }
    Some(
        args.positionals
            .into_iter()
            .map(|d| ("DFM_PATH", d))
            .collect(),
    )
}

fn marker(severity: &str, args: &[String]) -> Option<Vec<(&'static str, String)>> {
    let args = split(args, &["--file", "--line", "--pos"])?;
    let [msg] = args.positionals.as_slice() else {
        return None;
    };
    let mut marker = vec![
        ("severity".to_string(), Json::Str(severity.into())),
        ("msg".to_string(), Json::Str(msg.clone())),
    ];
    // argparse converts every --line and --pos, used or not.
    let mut numbers = Vec::new();
    for (option, key) in [("--line", "line"), ("--pos", "pos")] {
        for number in args.all(option) {
            plain_int(&number)?;
        }
        if let Some(number) = args.last(option) {
            numbers.push((key.to_string(), Json::Int(plain_int(number)?)));
        }
    }
    if let Some(file) = args.last("--file").filter(|f| !f.is_empty()) {
        let mut loc = vec![("path".to_string(), Json::Str(file.into()))];
        loc.extend(numbers);
        marker.push(("loc".into(), Json::object(loc)));
    }
    Some(vec![line("DFM_MARKERS", &Json::object(marker))])
}

/// An integer as Python's `int()` reads it, if it is a plain one.
fn plain_int(text: &str) -> Option<String> {
    let value: i64 = text.parse().ok()?;
    let canonical = value.to_string();
    (canonical == text || format!("+{canonical}") == text).then_some(canonical)
}

/// Carries out `plan`: appends each line (and its newline) to the file its
/// variable names. `Err` with the variable when one is not set.
pub fn append(lines: &[(&'static str, String)]) -> std::io::Result<Result<(), &'static str>> {
    for (var, text) in lines {
        let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) else {
            return Ok(Err(var));
        };
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)?;
        let mut bytes = text.clone().into_bytes();
        if !text.ends_with('\n') {
            bytes.push(b'\n');
        }
        file.write_all(&bytes)?;
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(args: &[&str]) -> Plan {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        plan(&args)
    }

    fn appends(args: &[&str]) -> Vec<(&'static str, String)> {
        match plan_of(args) {
            Plan::Append(lines) => lines,
            Plan::Python => panic!("left to Python: {args:?}"),
        }
    }

    #[test]
    fn the_verbs_write_what_dv_flow_mgr_writes() {
        assert_eq!(
            appends(&["fileset", "--filetype", "verilogSource", "a.v", "b.v", "--incdir=inc"]),
            [(
                "DFM_OUTPUT",
                r#"{"type":"std.FileSet","filetype":"verilogSource","basedir":".","files":["a.v","b.v"],"incdirs":["inc"]}"#.to_string()
            )]
        );
        assert_eq!(
            appends(&[
                "item",
                "--type",
                "my.Report",
                "name=tb",
                "n:=3",
                "x:=[1.50, \"é\"]"
            ]),
            [(
                "DFM_OUTPUT",
                r#"{"type":"my.Report","name":"tb","n":3,"x":[1.5,"\u00e9"]}"#.to_string()
            )]
        );
        assert_eq!(
            appends(&["env", "SEED=42", "EMPTY="]),
            [("DFM_ENV", "SEED=42".into()), ("DFM_ENV", "EMPTY=".into())]
        );
        assert_eq!(
            appends(&["path", "/opt/bin"]),
            [("DFM_PATH", "/opt/bin".into())]
        );
        assert_eq!(
            appends(&["error", "synthesis failed", "--file", "top.sv", "--line", "10"]),
            [(
                "DFM_MARKERS",
                r#"{"severity":"error","msg":"synthesis failed","loc":{"path":"top.sv","line":10}}"#.to_string()
            )]
        );
    }

    #[test]
    fn what_it_cannot_do_exactly_goes_to_python() {
        for args in [
            &["publish", "a.txt"][..],
            &["fileset", "--help"],
            &["fileset", "--file", "x", "a.v"],
            &["fileset"],
            &["item", "n:=[1,"],
            &["item", "--type"],
            &["env", "NOEQUALS"],
            &["error", "a", "b"],
            &["error", "m", "--file", "f", "--line", "1_0"],
            &["error", "m", "--line", "ten"],
            &["fileset", "a.v", "--filetype", "x", "b.v"],
            &["path", "-inf"],
            &["env", "--", "A=1"],
            &["nosuchverb"],
            &[],
        ] {
            assert_eq!(plan_of(args), Plan::Python, "{args:?}");
        }
    }
}
