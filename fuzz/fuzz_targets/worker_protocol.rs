//! The worker-protocol decoders (`FromWorker`, `ToWorker`), the client-side
//! `Reply::parse`, and the async line framer `read_line` driven over a reader
//! that hands the input out in arbitrary chunks.
#![no_main]

use std::pin::Pin;
use std::task::{Context, Poll};

use dfm_fuzz::lines_eq_up_to_float_ulps;
use dfm_wire::{read_line, to_line, FromWorker, Reply, ToWorker, MAX_LINE_BYTES};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

/// An `AsyncBufRead` over `data` that exposes at most the next chunk size
/// at a time, and sometimes returns `Pending` first (waking itself), as a
/// socket would.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    turn: usize,
    /// Bytes of the current chunk not yet consumed.
    left: usize,
    pending_next: bool,
}

impl Chunked<'_> {
    fn next_size(&mut self) -> usize {
        if self.sizes.is_empty() {
            return self.data.len();
        }
        let s = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        self.pending_next = s & 0x80 != 0;
        usize::from(s & 0x7f).max(1)
    }
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let available = match Pin::new(&mut *this).poll_fill_buf(cx) {
            Poll::Ready(Ok(available)) => available,
            other => return other.map(|r| r.map(|_| ())),
        };
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        Pin::new(this).consume(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncBufRead for Chunked<'_> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.left == 0 && !this.data.is_empty() {
            this.left = this.next_size().min(this.data.len());
            if this.pending_next {
                this.pending_next = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        Poll::Ready(Ok(&this.data[..this.left]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        assert!(
            amt <= this.left,
            "consume({amt}) beyond fill_buf ({})",
            this.left
        );
        this.data = &this.data[amt..];
        this.left -= amt;
    }
}

fn framing(data: &[u8], sizes: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let lines = runtime.block_on(async {
        let mut reader = Chunked {
            data,
            sizes,
            turn: 0,
            left: 0,
            pending_next: false,
        };
        let mut lines = Vec::new();
        let mut buf = Vec::new();
        // One line per newline plus a final one: more calls mean a loop.
        for _ in 0..=data.len() + 1 {
            match read_line(&mut reader, &mut buf).await {
                Ok(true) => {
                    assert!(!buf.contains(&b'\n'), "a line holds a newline");
                    assert!(buf.len() <= MAX_LINE_BYTES, "line over MAX_LINE_BYTES");
                    lines.push(std::mem::take(&mut buf));
                }
                Ok(false) => return lines,
                Err(e) => panic!("read_line failed on an in-memory reader: {e}"),
            }
        }
        panic!("read_line kept returning lines past the end of the input");
    });
    // Lossless: the lines are exactly the input split at newlines (a final
    // newline does not start another line).
    let mut expected: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if expected.last().is_some_and(|l| l.is_empty()) {
        expected.pop();
    }
    assert_eq!(lines, expected);
}

fuzz_target!(|data: &[u8]| {
    // Decoders: any outcome but a panic is fine. Accepted messages must
    // re-encode to one line that decodes again.
    if let Ok(message) = serde_json::from_slice::<FromWorker>(data) {
        let line = to_line(&message);
        assert_eq!(line.matches('\n').count(), 1);
        let again =
            serde_json::from_str::<FromWorker>(&line).expect("re-encoded FromWorker decodes");
        assert!(
            again == message || lines_eq_up_to_float_ulps(&line, &to_line(&again)),
            "FromWorker round trip through {line:?} gives {again:?}"
        );
    }
    if let Ok(message) = ToWorker::parse(data) {
        let line = to_line(&message);
        assert_eq!(line.matches('\n').count(), 1);
        let again = ToWorker::parse(line.trim_end().as_bytes()).expect("re-encoded ToWorker decodes");
        // Exact, but for float drift in a task's pass-through fields.
        assert!(
            again == message || lines_eq_up_to_float_ulps(&line, &to_line(&again)),
            "ToWorker round trip through {line:?} gives {again:?}"
        );
    }
    let _ = Reply::parse(data);

    // Framing: the first byte says how many of the next bytes are chunk
    // sizes; the rest is the stream.
    let (sizes, stream) = match data.split_first() {
        Some((&n, rest)) => rest.split_at(usize::from(n % 16).min(rest.len())),
        None => (&[][..], data),
    };
    framing(stream, sizes);
});
