//! JSON values as Python shows them, for the original's shell steps run
//! natively: `str(value)` (what `${{ p }}` expands to in a body),
//! `json.dumps(value, indent=2)` (the `dfm.*.json` files data_io stages),
//! and the value of a `DFM_PARAM_<NAME>` variable (data_io's
//! `_scalar_to_env`).

use std::fmt::Write;

use super::pyjson::{float_repr, Json};

impl Json {
    /// A value read by serde_json (with `preserve_order`: keys keep their
    /// order) as Python's `json.loads` would have read the same text.
    pub fn from_value(value: &serde_json::Value) -> Json {
        use serde_json::Value;
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) if n.is_f64() => Json::Float(n.as_f64().unwrap_or(f64::NAN)),
            Value::Number(n) => Json::Int(n.to_string()),
            Value::String(s) => Json::Str(s.clone()),
            Value::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            Value::Object(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Json::from_value(v)))
                    .collect(),
            ),
        }
    }

    /// Python's `str()` of the value: a string as it is, anything else as
    /// its `repr`.
    pub fn python_str(&self) -> String {
        match self {
            Json::Str(s) => s.clone(),
            other => {
                let mut out = String::new();
                other.write_repr(&mut out);
                out
            }
        }
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("None"),
            Json::Bool(true) => out.push_str("True"),
            Json::Bool(false) => out.push_str("False"),
            Json::Int(digits) => out.push_str(digits),
            Json::Float(x) => out.push_str(&python_float_repr(*x)),
            Json::Str(s) => write_str_repr(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out);
                }
                out.push(']');
            }
            Json::Object(pairs) => {
                out.push('{');
                for (i, (key, value)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_str_repr(key, out);
                    out.push_str(": ");
                    value.write_repr(out);
                }
                out.push('}');
            }
        }
    }

    /// `json.dumps(value, indent=2)`: `", "`-less items one per line,
    /// `": "` after keys, non-ASCII escaped.
    pub fn dumps_indented(&self) -> String {
        let mut out = String::new();
        self.write_indented(&mut out, 0);
        out
    }

    fn write_indented(&self, out: &mut String, depth: usize) {
        let newline = |out: &mut String, depth: usize| {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', 2 * depth));
        };
        match self {
            Json::Array(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write_indented(out, depth + 1);
                }
                newline(out, depth);
                out.push(']');
            }
            Json::Object(pairs) if !pairs.is_empty() => {
                out.push('{');
                for (i, (key, value)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    out.push_str(&Json::Str(key.clone()).dumps());
                    out.push_str(": ");
                    value.write_indented(out, depth + 1);
                }
                newline(out, depth);
                out.push('}');
            }
            other => out.push_str(&other.dumps()),
        }
    }

    /// data_io's `_scalar_to_env`: `None` empty, booleans lower case,
    /// lists and maps compact JSON, anything else `str()`.
    pub fn env_value(&self) -> String {
        match self {
            Json::Null => String::new(),
            Json::Bool(b) => b.to_string(),
            // `json.dumps(value, separators=(",", ":"))`
            Json::Array(_) | Json::Object(_) => self.dumps(),
            other => other.python_str(),
        }
    }
}

/// Python's `repr` of a float (`json.dumps` writes infinities otherwise).
fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        float_repr(x)
    }
}

/// Python's `repr` of a string: single quotes unless it holds one and no
/// double quote; escapes for backslash, the quote and what does not print.
fn write_str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x7f || is_printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable` for a character beyond ASCII: not a control,
/// format or separator character (the space aside), nor unassigned.
fn is_printable(c: char) -> bool {
    let code = c as u32;
    let format = matches!(
        code,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0xe000..=0xf8ff
    );
    !(c.is_control() || c.is_whitespace() || format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Json {
        Json::from_value(&serde_json::from_str(text).expect("test JSON"))
    }

    #[test]
    fn str_is_pythons() {
        let cases = [
            (r#""x y""#, "x y"),
            ("1", "1"),
            ("1.0", "1.0"),
            ("1e-07", "1e-07"),
            ("true", "True"),
            ("null", "None"),
            (r#"["tb", "it's"]"#, r#"['tb', "it's"]"#),
            (r#"{"k": 1.5, "n": null}"#, "{'k': 1.5, 'n': None}"),
            (
                r#"["a\nb", "q'\"", "é\u0001\u00a0"]"#,
                r#"['a\nb', 'q\'"', 'é\x01\xa0']"#,
            ),
            ("[]", "[]"),
            ("{}", "{}"),
        ];
        for (text, expected) in cases {
            assert_eq!(json(text).python_str(), expected, "{text}");
        }
    }

    #[test]
    fn indented_dumps_are_pythons() {
        let value =
            json(r#"{"a": 1, "l": ["tb", "é"], "m": {"k": 1.5, "n": null}, "e": [], "o": {}}"#);
        assert_eq!(
            value.dumps_indented(),
            "{\n  \"a\": 1,\n  \"l\": [\n    \"tb\",\n    \"\\u00e9\"\n  ],\n  \"m\": {\n    \"k\": 1.5,\n    \"n\": null\n  },\n  \"e\": [],\n  \"o\": {}\n}"
        );
        assert_eq!(json("[]").dumps_indented(), "[]");
    }

    #[test]
    fn env_values_are_data_ios() {
        assert_eq!(json("true").env_value(), "true");
        assert_eq!(json("null").env_value(), "");
        assert_eq!(json("2.50").env_value(), "2.5");
        assert_eq!(json(r#"["a", 1]"#).env_value(), r#"["a",1]"#);
        assert_eq!(json(r#"{"a": "é"}"#).env_value(), r#"{"a":"\u00e9"}"#);
    }
}
