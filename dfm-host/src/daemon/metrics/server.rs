//! The metrics listener: plain HTTP/1.1, `GET /metrics` only, one answer
//! per connection. Each scrape asks the core for the text (one event,
//! answered between two others: a scrape never holds dispatch up for
//! longer than writing the text takes).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::daemon::event::Event;

/// How long a scraper may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a request read: a scrape's is a few hundred bytes.
const MAX_REQUEST: usize = 16 * 1024;

/// Serves scrapes on `listener` until the daemon ends.
pub async fn serve(listener: TcpListener, events: mpsc::UnboundedSender<Event>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: the next accept may work.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let events = events.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT * 2, answer(stream, events)).await;
        });
    }
}

async fn answer(
    mut stream: TcpStream,
    events: mpsc::UnboundedSender<Event>,
) -> std::io::Result<()> {
    let Ok(head) = tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await else {
        return Ok(());
    };
    let (status, content_type, body) = match request_line(&head?) {
        Some(("GET" | "HEAD", "/metrics")) => {
            let (answer, text) = oneshot::channel();
            if events.send(Event::MetricsWanted { answer }).is_err() {
                return Ok(());
            }
            match text.await {
                Ok(text) => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", text),
                Err(_) => return Ok(()),
            }
        }
        Some((_, "/metrics")) => (
            "405 Method Not Allowed",
            "text/plain",
            "GET /metrics\n".into(),
        ),
        _ => (
            "404 Not Found",
            "text/plain",
            "dfm serves /metrics only\n".into(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// The request up to its blank line (or as much as the limit allows).
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

/// The method and path (without its query) of a request's first line.
fn request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line = std::str::from_utf8(head).ok()?.lines().next()?;
    let mut words = line.split_whitespace();
    let (method, target) = (words.next()?, words.next()?);
    let path = target.split('?').next()?;
    Some((method, path))
}

#[cfg(test)]
mod tests {
    use super::request_line;

    #[test]
    fn requests_are_read_by_method_and_path() {
        let get = b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(request_line(get), Some(("GET", "/metrics")));
        assert_eq!(
            request_line(b"POST / HTTP/1.1\r\n\r\n"),
            Some(("POST", "/"))
        );
        assert_eq!(request_line(b"\xff\xfe"), None);
        assert_eq!(request_line(b""), None);
    }
}
