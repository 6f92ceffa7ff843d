//! The sealed framing (`dfm_wire::sealed`): whatever bytes arrive, fed in
//! arbitrary chunks, the opener refuses them cleanly (no panic, no frame
//! larger than the limit buffered), and frames sealed from the input open
//! back to it, whole or as a prefix cut at a frame boundary.
#![no_main]

use dfm_wire::sealed::{Direction, Handshake, SealError, MAX_FRAME_PLAINTEXT};
use libfuzzer_sys::fuzz_target;

fn keys() -> Handshake<'static> {
    Handshake {
        secret: "fuzz-secret",
        daemon_nonce: "d",
        worker_nonce: "w",
        worker_id: "w1",
    }
}

fuzz_target!(|data: &[u8]| {
    // Arbitrary bytes as if from the network: never a panic, never open.
    let mut opener = keys().opener(Direction::WorkerToDaemon);
    let mut out = Vec::new();
    for chunk in data.chunks(7) {
        opener.feed(chunk);
        match opener.open_next(&mut out) {
            Ok(true) => panic!("a forged frame opened"),
            Ok(false) => {}
            Err(SealError::Forged | SealError::TooLarge(_) | SealError::Exhausted) => return,
        }
    }

    // The input sealed, then opened in chunks: the same bytes come back;
    // with one byte of it flipped, nothing past that frame does.
    let mut sealer = keys().sealer(Direction::DaemonToWorker);
    let mut frames = Vec::new();
    let plain = data.repeat(1 + MAX_FRAME_PLAINTEXT / (data.len().max(1) * 8));
    if sealer.seal(&plain, &mut frames).is_err() {
        return;
    }
    let mut opener = keys().opener(Direction::DaemonToWorker);
    let mut opened = Vec::new();
    let step = 1 + data.first().copied().unwrap_or(0) as usize * 13;
    for chunk in frames.chunks(step) {
        opener.feed(chunk);
        while opener.open_next(&mut opened).expect("our own frames open") {}
    }
    assert_eq!(opened, plain);
    if !frames.is_empty() {
        let at = data.len() * 31 % frames.len();
        frames[at] ^= 1;
        let mut opener = keys().opener(Direction::DaemonToWorker);
        opener.feed(&frames);
        let mut partial = Vec::new();
        loop {
            match opener.open_next(&mut partial) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(_) => break,
            }
        }
        assert!(partial.len() < plain.len() || plain.is_empty());
    }
});
