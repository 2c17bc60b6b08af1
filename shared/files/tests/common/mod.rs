//! Keys shared by the tests of one test binary: generated once (key generation
//! and passphrase stretching are slow in a debug build), never checked in.

#![allow(dead_code)] // each test binary uses a part of it

use std::sync::OnceLock;

use files::{KeyAlgorithm, KeySource, KeySpec, Keyring, generate_key, generate_key_with};

/// A generated key pair.
pub struct Pair {
    pub secret: String,
    pub public: String,
}

fn pair(user_id: &str, expires_in_days: Option<u32>) -> Pair {
    let (secret, public) = generate_key(user_id, expires_in_days).expect("key generation");
    Pair { secret, public }
}

/// The key a connection used until the rotation.
pub fn old_key() -> &'static Pair {
    static KEY: OnceLock<Pair> = OnceLock::new();
    KEY.get_or_init(|| pair("Old Key <finance@example.com>", None))
}

/// The key it rotated to (expires in 20 days, to test the warning).
pub fn new_key() -> &'static Pair {
    static KEY: OnceLock<Pair> = OnceLock::new();
    KEY.get_or_init(|| pair("New Key <finance@example.com>", Some(20)))
}

/// A key the connection never held.
pub fn stranger_key() -> &'static Pair {
    static KEY: OnceLock<Pair> = OnceLock::new();
    KEY.get_or_init(|| pair("Stranger <someone@example.org>", None))
}

pub const PASSPHRASE: &str = "correct horse battery staple";

/// A passphrase-protected key.
pub fn protected_key() -> &'static Pair {
    static KEY: OnceLock<Pair> = OnceLock::new();
    KEY.get_or_init(|| {
        let spec = KeySpec {
            user_id: "Protected <finance@example.com>",
            expires_in_days: None,
            subkey_expires_in_days: None,
            algorithm: KeyAlgorithm::Curve25519,
            passphrase: Some(PASSPHRASE),
        };
        let (secret, public) = generate_key_with(&spec).expect("key generation");
        Pair { secret, public }
    })
}

/// A keyring of the given (unprotected) keys.
pub fn ring(keys: &[&Pair]) -> Keyring {
    let sources: Vec<KeySource<'_>> = keys.iter().map(|pair| KeySource::new(&pair.secret)).collect();
    Keyring::from_armored(&sources).expect("keyring")
}

/// The fingerprint of a key, as the keyring reports it.
pub fn fingerprint(pair: &Pair) -> String {
    ring(&[pair]).keys()[0].fingerprint.clone()
}

/// A few lines of an SAE extract.
pub const CSV: &[u8] = b"EXTRACT|2026-01-31|3|150.00\nDETAIL|1|E0001|Doe|Jane|...\nDETAIL|2|E0001|Doe|Jane|...\n";
