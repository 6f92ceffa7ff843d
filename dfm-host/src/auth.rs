//! Mutual challenge–response between the daemon and its workers.
//!
//! Both sides know a random secret (the daemon's `daemon.json`, the
//! worker's `DFM_WORKER_TOKEN`). Neither ever sends it: each proves
//! knowledge of it with an HMAC-SHA256 over a fresh nonce chosen by the
//! other side, so a listener that is an impostor learns nothing it can
//! replay, and a worker never takes work from a daemon that cannot prove
//! itself. The proofs also bind everything either side takes from the
//! handshake (the worker's registration, the daemon's answer): a peer in
//! the path cannot rewrite any of it unseen.

use std::io::Read;

use dfm_wire::worker::welcome_transcript;
use dfm_wire::Register;
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

/// HMAC-SHA256 under the secret of the role and `parts`, each after its
/// length: the role keeps a worker's proof from ever serving as the
/// daemon's.
fn proof(secret: &str, role: &str, parts: &[&[u8]]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(role.as_bytes());
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    hex(&mac.finalize().into_bytes())
}

/// The worker's proof for the daemon's nonce, binding all it registers
/// with ([`Register::transcript`]).
pub fn worker_proof(secret: &str, daemon_nonce: &str, register: &Register) -> String {
    proof(
        secret,
        "dfm-worker",
        &[daemon_nonce.as_bytes(), &register.transcript()],
    )
}

/// The daemon's proof in its `worker.registered`: for the worker's nonce
/// (in its registration, bound whole) and binding what the daemon answers.
pub fn daemon_proof(
    secret: &str,
    daemon_nonce: &str,
    register: &Register,
    heartbeat_interval_ms: u64,
    sealed: bool,
) -> String {
    proof(
        secret,
        "dfm-daemon",
        &[
            daemon_nonce.as_bytes(),
            &register.transcript(),
            &welcome_transcript(heartbeat_interval_ms, sealed),
        ],
    )
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

    fn register() -> Register {
        Register {
            worker_id: "w".into(),
            hostname: "node1".into(),
            pid: 7,
            resource_class: "sim".into(),
            job_id: "12[3]".into(),
            lsf_job_id: "12[3]".into(),
            auth: String::new(),
            nonce: "m".into(),
            prefetch: true,
            prefetch_depth: 64,
            seal: true,
        }
    }

    #[test]
    fn proofs_depend_on_secret_nonce_and_role() {
        let proof = worker_proof("s", "n1", &register());
        assert!(proofs_match(&proof, &worker_proof("s", "n1", &register())));
        assert!(!proofs_match(&proof, &worker_proof("t", "n1", &register())));
        assert!(!proofs_match(&proof, &worker_proof("s", "n2", &register())));
        assert!(!proofs_match(
            &proof,
            &daemon_proof("s", "n1", &register(), 1000, true)
        ));
        assert!(!proofs_match(&proof, ""));
        assert_eq!(random_hex(16).expect("random").len(), 32);
    }

    #[test]
    fn every_registered_value_and_every_answered_one_is_bound() {
        let proof = worker_proof("s", "n", &register());
        let rewrites: [fn(&mut Register); 10] = [
            |r| r.worker_id.push('x'),
            |r| r.hostname = "elsewhere".into(),
            |r| r.pid += 1,
            |r| r.resource_class = "large".into(),
            |r| r.job_id = "12[4]".into(),
            |r| r.lsf_job_id = "13".into(),
            |r| r.nonce.push('x'),
            |r| r.prefetch = false,
            |r| r.prefetch_depth = 1,
            |r| r.seal = false,
        ];
        for rewrite in rewrites {
            let mut rewritten = register();
            rewrite(&mut rewritten);
            assert!(!proofs_match(&proof, &worker_proof("s", "n", &rewritten)));
        }
        // The proof itself is not part of what it proves.
        let mut with_proof = register();
        with_proof.auth = proof.clone();
        assert!(proofs_match(&proof, &worker_proof("s", "n", &with_proof)));

        let answer = daemon_proof("s", "n", &register(), 1000, true);
        assert!(!proofs_match(
            &answer,
            &daemon_proof("s", "n", &register(), 60_000, true)
        ));
        assert!(!proofs_match(
            &answer,
            &daemon_proof("s", "n", &register(), 1000, false)
        ));
        let mut other = register();
        other.hostname = "elsewhere".into();
        assert!(!proofs_match(
            &answer,
            &daemon_proof("s", "n", &other, 1000, true)
        ));
    }
}
