//! Mutual challenge–response between the daemon and its workers.
//!
//! Both sides know a random secret (the daemon's `daemon.json`, the
//! worker's `DFM_WORKER_TOKEN`). Neither ever sends it: each proves
//! knowledge of it with an HMAC-SHA256 over a fresh nonce chosen by the
//! other side, so a listener that is an impostor learns nothing it can
//! replay, and a worker never takes work from a daemon that cannot prove
//! itself.

use std::io::Read;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// `n` random bytes from the kernel, as hex.
pub fn random_hex(n: usize) -> std::io::Result<String> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 under the secret of the role and the handshake's values:
/// the role keeps a worker's proof from ever serving as the daemon's.
fn proof(
    secret: &str,
    role: &str,
    daemon_nonce: &str,
    worker_id: &str,
    worker_nonce: &str,
) -> String {
    // HMAC accepts keys of any length.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(role.as_bytes());
    for part in [daemon_nonce, worker_id, worker_nonce] {
        mac.update(&[0]);
        mac.update(part.as_bytes());
    }
    hex(&mac.finalize().into_bytes())
}

/// The worker's proof for the daemon's `nonce`.
pub fn worker_proof(
    secret: &str,
    daemon_nonce: &str,
    worker_id: &str,
    worker_nonce: &str,
) -> String {
    proof(secret, "dfm-worker", daemon_nonce, worker_id, worker_nonce)
}

/// The daemon's proof for the worker's nonce.
pub fn daemon_proof(
    secret: &str,
    daemon_nonce: &str,
    worker_id: &str,
    worker_nonce: &str,
) -> String {
    proof(secret, "dfm-daemon", daemon_nonce, worker_id, worker_nonce)
}

/// Constant-time comparison of two hex proofs.
pub fn proofs_match(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_depend_on_secret_nonce_and_role() {
        let proof = worker_proof("s", "n1", "w", "m");
        assert!(proofs_match(&proof, &worker_proof("s", "n1", "w", "m")));
        assert!(!proofs_match(&proof, &worker_proof("t", "n1", "w", "m")));
        assert!(!proofs_match(&proof, &worker_proof("s", "n2", "w", "m")));
        assert!(!proofs_match(&proof, &daemon_proof("s", "n1", "w", "m")));
        assert!(!proofs_match(&proof, ""));
        assert_eq!(random_hex(16).expect("random").len(), 32);
    }
}
