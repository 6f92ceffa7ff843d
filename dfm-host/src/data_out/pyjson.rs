//! JSON as Python's `json.dumps(value, separators=(",", ":"))` writes it,
//! and JSON read as Python's `json.loads` reads it, for values dfm-out
//! passes through: object keys keep their order, non-ASCII is escaped
//! (`\uXXXX`), floats are written as Python's `repr`.

use std::fmt::Write;

/// A JSON value, with object keys in the order they came.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// An integer, as its (canonical) decimal text: Python's ints have no
    /// limit.
    Int(String),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// An object, keys in order; a later key of the same name replaces the
    /// value of the first (as a Python dict does).
    pub fn object(pairs: impl IntoIterator<Item = (String, Json)>) -> Json {
        let mut object: Vec<(String, Json)> = Vec::new();
        for (key, value) in pairs {
            match object.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => object.push((key, value)),
            }
        }
        Json::Object(object)
    }

    /// The compact text (`separators=(",", ":")`, `ensure_ascii`).
    pub fn dumps(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Int(digits) => out.push_str(digits),
            Json::Float(x) => out.push_str(&float_repr(*x)),
            Json::Str(s) => write_str(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(pairs) => {
                out.push('{');
                for (i, (key, value)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr` of a float, as `json.dumps` writes it.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // Rust's `{:e}` gives the shortest digits that read back as `x`, as
    // Python's repr does; only the layout differs.
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // The decimal point sits after `point` digits.
    let point = exponent + 1;
    if !(-4 < point && point <= 16) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let (exp_sign, exp) = if exponent < 0 {
            ('-', -exponent)
        } else {
            ('+', exponent)
        };
        return format!("{sign}{first}{fraction}e{exp_sign}{exp:02}");
    }
    if point <= 0 {
        let zeros = "0".repeat((-point) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() <= point {
        let zeros = "0".repeat(point - digits.len());
        format!("{sign}{digits}{zeros}.0")
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

/// Reads JSON text as `json.loads` does; `None` for anything it would
/// refuse, or where reading it exactly is beyond this reader (a lone
/// surrogate in a string): the caller then leaves the job to Python.
pub fn loads(text: &str) -> Option<Json> {
    let mut reader = Reader {
        text: text.as_bytes(),
        at: 0,
    };
    reader.space();
    let value = reader.value(0)?;
    reader.space();
    (reader.at == reader.text.len()).then_some(value)
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

/// Nesting beyond this is left to Python.
const MAX_DEPTH: usize = 128;

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn word(&mut self, word: &str) -> bool {
        let matched = self.text[self.at..].starts_with(word.as_bytes());
        if matched {
            self.at += word.len();
        }
        matched
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'n' if self.word("null") => Some(Json::Null),
            b't' if self.word("true") => Some(Json::Bool(true)),
            b'f' if self.word("false") => Some(Json::Bool(false)),
            b'N' if self.word("NaN") => Some(Json::Float(f64::NAN)),
            b'I' if self.word("Infinity") => Some(Json::Float(f64::INFINITY)),
            b'-' if self.word("-Infinity") => Some(Json::Float(f64::NEG_INFINITY)),
            b'"' => self.string().map(Json::Str),
            b'[' => self
                .items(b']', |reader| reader.value(depth + 1))
                .map(Json::Array),
            b'{' => self
                .items(b'}', |reader| {
                    if reader.peek()? != b'"' {
                        return None;
                    }
                    let key = reader.string()?;
                    reader.space();
                    if reader.peek()? != b':' {
                        return None;
                    }
                    reader.at += 1;
                    reader.space();
                    Some((key, reader.value(depth + 1)?))
                })
                .map(Json::object),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// The items of an array or object whose opening bracket is next, up to
    /// its `close`: `item` reads one, from its first byte.
    fn items<T>(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.peek() == Some(close) {
            self.at += 1;
            return Some(items);
        }
        loop {
            self.space();
            items.push(item(self)?);
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                c if c == close => {
                    self.at += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }

    /// Skips one or more digits; `None` if there is none.
    fn digits(&mut self) -> Option<()> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        (self.at > start).then_some(())
    }

    fn number(&mut self) -> Option<Json> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.at += 1;
                }
            }
            _ => return None,
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            float = true;
            self.at += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digits()?;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).ok()?;
        if float {
            text.parse().ok().map(Json::Float)
        } else if text == "-0" {
            Some(Json::Int("0".into()))
        } else {
            Some(Json::Int(text.to_string()))
        }
    }

    fn string(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(std::str::from_utf8(&self.text[start..self.at]).ok()?);
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.at += 1;
                    let escaped = self.peek()?;
                    self.at += 1;
                    match escaped {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4()?;
                            let c = if (0xd800..0xdc00).contains(&first) {
                                if !self.word("\\u") {
                                    return None;
                                }
                                let second = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&second) {
                                    return None;
                                }
                                let code = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                                char::from_u32(code)?
                            } else {
                                char::from_u32(first)?
                            };
                            out.push(c);
                        }
                        _ => return None,
                    }
                }
                // Control characters are refused in strict mode.
                _ => return None,
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let hex = self.text.get(self.at..self.at + 4)?;
        self.at += 4;
        u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_pythons_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e100, "1e+100"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.2345e-7, "1.2345e-07"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, python) in cases {
            assert_eq!(float_repr(x), python, "{x:?}");
        }
    }

    #[test]
    fn text_is_read_and_written_as_python_does() {
        let cases = [
            (
                r#"{"b": 1, "a": [true, null, 2.50, -0, 1E2]}"#,
                r#"{"b":1,"a":[true,null,2.5,0,100.0]}"#,
            ),
            (
                r#""caf\u00e9 \ud83d\ude00 /\/""#,
                r#""caf\u00e9 \ud83d\ude00 //""#,
            ),
            (r#"{"a": 1, "b": 2, "a": 3}"#, r#"{"a":3,"b":2}"#),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            (" [] ", "[]"),
        ];
        for (text, python) in cases {
            assert_eq!(
                loads(text).map(|v| v.dumps()).as_deref(),
                Some(python),
                "{text}"
            );
        }
        assert_eq!(
            Json::Str("é\u{1}\u{7f}".into()).dumps(),
            "\"\\u00e9\\u0001\u{7f}\""
        );
        for refused in [
            "",
            "01",
            "1.",
            "[1,]",
            "{\"a\" 1}",
            "\"\\ud800\"",
            "nul",
            "[1] 2",
        ] {
            assert_eq!(loads(refused), None, "{refused}");
        }
    }
}
