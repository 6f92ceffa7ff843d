//! Framing: both protocols send one JSON object per line.

use serde::Serialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest line either protocol accepts. Task bodies and environments
/// are well below this; anything longer is refused and the connection
/// closed, so a peer cannot make the daemon buffer without bound.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

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

/// A line that is not a message.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("invalid message: {0}")]
    Invalid(#[from] serde_json::Error),
}

impl MessageError {
    /// Whether the read failed because a sealed frame did not open: the
    /// peer, or someone in the path, altered, replayed or injected bytes.
    pub fn is_forgery(&self) -> bool {
        let MessageError::Frame(FrameError::Io(io)) = self else {
            return false;
        };
        io.get_ref()
            .and_then(|inner| inner.downcast_ref::<crate::sealed::SealError>())
            .is_some()
    }
}

/// The next line, read by `parse`; `None` at a clean end of stream.
/// Cancel-safe, as [`read_line`].
pub async fn read_message<R: AsyncBufRead + Unpin, T>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    parse: impl FnOnce(&[u8]) -> serde_json::Result<T>,
) -> Result<Option<T>, MessageError> {
    if !read_line(reader, buf).await? {
        return Ok(None);
    }
    let message = parse(buf);
    buf.clear();
    Ok(Some(message?))
}

/// Serialises a message as one protocol line, newline included.
pub fn to_line<T: Serialize>(message: &T) -> String {
    to_line_of_size(message, 256)
}

/// [`to_line`], into a buffer of `capacity` bytes to begin with: a line
/// that outgrows its buffer is copied at each doubling.
pub(crate) fn to_line_of_size<T: Serialize>(message: &T, capacity: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
