//! One value of a line written by hand instead of through serde.
//!
//! A status of 10,000 workers is 2 MB, and most of each worker's entry
//! (its id, class, host, pid and job) stays the same while it is in the
//! pool. The daemon keeps that part as JSON, written once, and copies it
//! into each status; serde has no way to put ready JSON in the middle of a
//! value without parsing it again. So the line is written through serde
//! with a [`Spliced`] placeholder where that value goes, and the value is
//! then written in its place by the caller.

use std::cell::Cell;
use std::io;

use serde::Serialize;

/// Where a [`Spliced`] value goes in the line being written.
#[derive(Default)]
pub struct Splice {
    /// Bytes written so far.
    written: Cell<usize>,
    /// Where the placeholder was written.
    at: Cell<Option<usize>>,
}

/// The placeholder of a value written by hand: put it in the message, once.
/// It is written as `null`, then replaced.
#[derive(Clone, Copy)]
pub struct Spliced<'a>(&'a Splice);

impl Serialize for Spliced<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.at.set(Some(self.0.written.get()));
        serializer.serialize_unit()
    }
}

impl Splice {
    /// The placeholder, to put in the message.
    pub fn here(&self) -> Spliced<'_> {
        Spliced(self)
    }

    /// `message` as one protocol line (into a buffer of `capacity` bytes
    /// to begin with), with the JSON that `write` appends where its
    /// placeholder is.
    pub fn to_line<T: Serialize>(
        &self,
        message: &T,
        capacity: usize,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> String {
        let mut line = Vec::with_capacity(capacity);
        self.written.set(0);
        self.at.set(None);
        let counted = Counted {
            line: &mut line,
            written: &self.written,
        };
        // Our message types are maps of strings and numbers: serialising
        // them cannot fail.
        if serde_json::to_writer(counted, message).is_err() {
            return "{}\n".to_string();
        }
        if let Some(at) = self.at.get() {
            debug_assert_eq!(line.get(at..at + 4), Some(&b"null"[..]));
            let rest = line.split_off(at + 4);
            line.truncate(at);
            write(&mut line);
            line.extend_from_slice(&rest);
        }
        line.push(b'\n');
        // serde_json writes UTF-8 only, and so must `write`.
        String::from_utf8(line).unwrap_or_else(|_| "{}\n".to_string())
    }
}

/// A line's buffer that counts what is written to it (serde_json writes
/// straight through, so the count at the placeholder is its position).
struct Counted<'a> {
    line: &'a mut Vec<u8>,
    written: &'a Cell<usize>,
}

impl io::Write for Counted<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(bytes);
        self.written.set(self.line.len());
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write(bytes).map(|_| ())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    struct Message<'a> {
        before: &'a str,
        value: Spliced<'a>,
        after: Vec<u32>,
    }

    #[test]
    fn the_value_is_written_in_place_of_its_placeholder() {
        let splice = Splice::default();
        let message = Message {
            before: "null \"x\"",
            value: splice.here(),
            after: vec![1, 2],
        };
        let line = splice.to_line(&message, 8, |out| out.extend_from_slice(b"[{\"a\":null}]"));
        assert!(line.ends_with("}\n"), "{line}");
        let read: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
        let expected = json!({"before": "null \"x\"", "value": [{"a": null}], "after": [1, 2]});
        assert_eq!(read, expected);
        // A second line from the same splice starts afresh.
        let again = splice.to_line(&message, 0, |out| out.extend_from_slice(b"7"));
        let read: serde_json::Value = serde_json::from_str(&again).expect("one JSON line");
        assert_eq!(read["value"], json!(7));
    }
}
