use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn handshake(worker_nonce: &'static str) -> Handshake<'static> {
    Handshake {
        secret: "the-secret",
        daemon_nonce: "d-nonce",
        worker_nonce,
        worker_id: "w1",
    }
}

fn frames(texts: &[&[u8]]) -> (Vec<u8>, Vec<usize>) {
    let mut sealer = handshake("w-nonce").sealer(Direction::DaemonToWorker);
    let mut out = Vec::new();
    let mut ends = Vec::new();
    for text in texts {
        sealer.seal(text, &mut out).expect("seal");
        ends.push(out.len());
    }
    (out, ends)
}

fn open_all(bytes: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut opener = handshake("w-nonce").opener(Direction::DaemonToWorker);
    opener.feed(bytes);
    let mut out = Vec::new();
    while opener.open_next(&mut out)? {}
    Ok(out)
}

#[test]
fn frames_open_in_order_and_hide_what_they_carry() {
    let (bytes, _) = frames(&[
        b"{\"method\":\"task.execute\",\"body\":\"make sim\"}\n",
        b"second\n",
    ]);
    assert!(!bytes.windows(8).any(|w| w == b"make sim"));
    assert_eq!(
        open_all(&bytes).expect("open"),
        b"{\"method\":\"task.execute\",\"body\":\"make sim\"}\nsecond\n"
    );
}

#[test]
fn an_altered_replayed_reordered_or_injected_frame_fails_to_open() {
    let (bytes, ends) = frames(&[b"one\n", b"two\n"]);
    let mut flipped = bytes.clone();
    flipped[6] ^= 1;
    assert_eq!(open_all(&flipped), Err(SealError::Forged));

    let first = &bytes[..ends[0]];
    let replayed = [first, first].concat();
    assert_eq!(open_all(&replayed), Err(SealError::Forged));

    let reordered = [&bytes[ends[0]..], first].concat();
    assert_eq!(open_all(&reordered), Err(SealError::Forged));

    let injected = b"{\"method\":\"task.execute\",\"params\":{}}\n".to_vec();
    assert!(open_all(&injected).is_err());
}

#[test]
fn each_direction_and_each_connection_has_its_own_key() {
    let (bytes, _) = frames(&[b"one\n"]);
    let mut other_way = handshake("w-nonce").opener(Direction::WorkerToDaemon);
    other_way.feed(&bytes);
    assert_eq!(other_way.open_next(&mut Vec::new()), Err(SealError::Forged));
    let mut other_connection = handshake("another").opener(Direction::DaemonToWorker);
    other_connection.feed(&bytes);
    assert_eq!(
        other_connection.open_next(&mut Vec::new()),
        Err(SealError::Forged)
    );
}

#[test]
fn a_frame_longer_than_any_peer_sends_is_refused_before_it_is_read() {
    let mut opener = handshake("w-nonce").opener(Direction::DaemonToWorker);
    opener.feed(&u32::MAX.to_be_bytes());
    assert!(matches!(
        opener.open_next(&mut Vec::new()),
        Err(SealError::TooLarge(_))
    ));
}

#[tokio::test]
async fn streams_carry_lines_after_a_clear_welcome() {
    let (a, b) = tokio::io::duplex(1024);
    let hs = handshake("w-nonce");
    let mut writer = SealedWrite::new(a, hs.sealer(Direction::DaemonToWorker), 8);
    let big = vec![b'x'; 3 * MAX_FRAME_PLAINTEXT + 5];
    let sent = big.clone();
    let send = tokio::spawn(async move {
        writer.write_all(b"welcome\n").await.expect("welcome");
        writer.write_all(&sent).await.expect("write");
        writer.shutdown().await.expect("shutdown");
    });
    let mut b = b;
    let mut welcome = [0u8; 8];
    b.read_exact(&mut welcome).await.expect("welcome");
    assert_eq!(&welcome, b"welcome\n");
    let mut reader = SealedRead::new(b, hs.opener(Direction::DaemonToWorker), &[]);
    let mut got = Vec::new();
    reader.read_to_end(&mut got).await.expect("read");
    send.await.expect("sender");
    assert_eq!(got, big);
}

/// The frames are RFC 8439's ChaCha20-Poly1305 under HKDF-SHA256 keys, as
/// the module says: these bytes came from another implementation (Python's
/// `cryptography`, from the construction written in `sealed/mod.rs`), so a
/// change of cipher library cannot change what crosses the wire.
#[test]
fn frames_are_the_documented_construction_byte_for_byte() {
    let (bytes, _) = frames(&[b"hello\n", b"second line\n"]);
    let expected = "00000016266124b32033e6af1a8404ed24eb69693e9b0036352c\
                    0000001c6deaa54ab0291081cf3cd958b1ba851a89b43f430576b4cf7cd6072f";
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, expected);
}
