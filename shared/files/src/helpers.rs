//! Key generation and encryption, **for tests, the simulator and the demo**.
//!
//! The connector itself only decrypts: Concur encrypts the extracts. These
//! helpers play Concur's part (encrypt a file to a published public key) and
//! the operator's (make a key pair) where no real ones exist. Real keys are
//! made with GnuPG or the organisation's key tooling, not with this.

use std::time::Duration as StdDuration;

use pgp::composed::{
    ArmorOptions, Deserializable, KeyType, MessageBuilder, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
    SubkeyParamsBuilder,
};
use pgp::crypto::aead::{AeadAlgorithm, ChunkSize};
use pgp::crypto::ecc_curve::ECCCurve;
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{Subpacket, SubpacketData};
use pgp::types::{CompressionAlgorithm, Password, PublicKeyTrait, Tag};
use rand_core_06::OsRng;

use crate::keys::{encryption_binding, primary_may_encrypt, valid_self_signatures};
use crate::util::Cause;

/// Longest validity [`generate_key`] accepts: a century.
pub const MAX_EXPIRY_DAYS: u32 = 36_500;

/// Why a helper failed.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    #[error("invalid key request: {reason}")]
    InvalidRequest { reason: String },
    #[error("the public key cannot be read ({cause}); give the ASCII armor `connector keys show` prints")]
    PublicKey {
        #[source]
        cause: Cause,
    },
    #[error("the public key has no encryption (sub)key with a valid binding signature; nothing can be encrypted to it")]
    NoEncryptionKey,
    #[error("{what} failed ({cause})")]
    Pgp {
        what: &'static str,
        #[source]
        cause: Cause,
    },
}

fn pgp_error(what: &'static str) -> impl FnOnce(pgp::errors::Error) -> HelperError {
    move |error| HelperError::Pgp { what, cause: Cause::new(error) }
}

/// The key algorithm of a generated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Ed25519 primary key with a Curve25519 (cv25519) encryption subkey: what
    /// `gpg --quick-gen-key` makes by default; fast, small, widely supported.
    Curve25519,
    /// RSA primary key and RSA encryption subkey of this many bits (at least
    /// 2048), for senders that only know RSA. Slow to generate.
    Rsa { bits: u32 },
}

/// What [`generate_key_with`] makes.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec<'a> {
    /// `Name <email>`.
    pub user_id: &'a str,
    /// Validity from now, in days, written into the key's self-signatures
    /// (primary and encryption subkey); `None`: no expiry.
    pub expires_in_days: Option<u32>,
    /// A different validity for the encryption subkey alone (`None`: as
    /// `expires_in_days`), as when a long-lived primary key gets short-lived
    /// encryption subkeys.
    pub subkey_expires_in_days: Option<u32>,
    pub algorithm: KeyAlgorithm,
    /// Protects the secret key (GnuPG's default S2K: iterated SHA-256, AES-256).
    pub passphrase: Option<&'a str>,
}

/// A Curve25519 key pair without passphrase, as `(secret_armored,
/// public_armored)`. For tests and demos (see the module documentation).
pub fn generate_key(user_id: &str, expires_in_days: Option<u32>) -> Result<(String, String), HelperError> {
    generate_key_with(&KeySpec {
        user_id,
        expires_in_days,
        subkey_expires_in_days: None,
        algorithm: KeyAlgorithm::Curve25519,
        passphrase: None,
    })
}

/// A key pair as specified, as `(secret_armored, public_armored)`. For tests
/// and demos (see the module documentation).
pub fn generate_key_with(spec: &KeySpec<'_>) -> Result<(String, String), HelperError> {
    let subkey_days = spec.subkey_expires_in_days.or(spec.expires_in_days);
    for days in [spec.expires_in_days, subkey_days].into_iter().flatten() {
        if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
            return Err(HelperError::InvalidRequest { reason: format!("expiry must be 1 to {MAX_EXPIRY_DAYS} days") });
        }
    }
    let mut key = unsigned_key(spec)?.sign(OsRng, &Password::empty()).map_err(pgp_error("signing the new key"))?;
    set_expiry(&mut key, spec.expires_in_days, subkey_days)?;
    if let Some(passphrase) = spec.passphrase {
        protect(&mut key, passphrase)?;
    }
    let secret = key.to_armored_string(ArmorOptions::default()).map_err(pgp_error("armoring the secret key"))?;
    let public = key
        .signed_public_key()
        .to_armored_string(ArmorOptions::default())
        .map_err(pgp_error("armoring the public key"))?;
    Ok((secret, public))
}

/// A primary key for certifying and signing with one encryption subkey,
/// preferring AES and ZLIB/ZIP so senders pick those.
fn unsigned_key(spec: &KeySpec<'_>) -> Result<pgp::composed::SecretKey, HelperError> {
    let (primary_type, subkey_type) = match spec.algorithm {
        KeyAlgorithm::Curve25519 => (KeyType::Ed25519Legacy, KeyType::ECDH(ECCCurve::Curve25519)),
        KeyAlgorithm::Rsa { bits } => (KeyType::Rsa(bits), KeyType::Rsa(bits)),
    };
    let invalid = |reason: String| HelperError::InvalidRequest { reason };
    let subkey = SubkeyParamsBuilder::default()
        .key_type(subkey_type)
        .can_encrypt(true)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let params = SecretKeyParamsBuilder::default()
        .key_type(primary_type)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(spec.user_id.to_string())
        .preferred_symmetric_algorithms(
            vec![SymmetricKeyAlgorithm::AES256, SymmetricKeyAlgorithm::AES192, SymmetricKeyAlgorithm::AES128].into(),
        )
        .preferred_hash_algorithms(vec![HashAlgorithm::Sha256, HashAlgorithm::Sha384, HashAlgorithm::Sha512].into())
        .preferred_compression_algorithms(vec![CompressionAlgorithm::ZLIB, CompressionAlgorithm::ZIP].into())
        .subkey(subkey)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    params.generate(OsRng).map_err(pgp_error("generating the key"))
}

/// Re-signs the user ids and subkey bindings with a key-expiration subpacket
/// (the library's key builder writes none): the primary key expires
/// `primary_days` after creation, the encryption subkey `subkey_days` after.
fn set_expiry(
    key: &mut SignedSecretKey,
    primary_days: Option<u32>,
    subkey_days: Option<u32>,
) -> Result<(), HelperError> {
    let primary = &key.primary_key;
    let unlocked = Password::empty();
    if let Some(days) = primary_days {
        let expiration = expiration(primary.public_key(), days)?;
        for user in &mut key.details.users {
            let Some(mut config) = user.signatures.first().and_then(|sig| sig.config()).cloned() else { continue };
            config.hashed_subpackets.push(expiration.clone());
            let sig = config
                .sign_certification(primary, primary.public_key(), &unlocked, Tag::UserId, &user.id)
                .map_err(pgp_error("re-signing a user id"))?;
            user.signatures = vec![sig];
        }
    }
    let Some(days) = subkey_days else { return Ok(()) };
    for subkey in &mut key.secret_subkeys {
        let Some(mut config) = subkey.signatures.first().and_then(|sig| sig.config()).cloned() else { continue };
        config.hashed_subpackets.push(expiration(subkey.key.public_key(), days)?);
        let sig = config
            .sign_subkey_binding(primary, primary.public_key(), &unlocked, subkey.key.public_key())
            .map_err(pgp_error("re-signing a subkey binding"))?;
        subkey.signatures = vec![sig];
    }
    Ok(())
}

/// A key-expiration subpacket: `days` after the key's creation. The library
/// takes the offset as a chrono `TimeDelta`, and chrono is not a dependency
/// of this crate: the offset is made by chrono itself, as the difference
/// between the creation time and that time plus `days` (bounded by
/// [`MAX_EXPIRY_DAYS`], so the addition cannot overflow).
fn expiration(key: &impl PublicKeyTrait, days: u32) -> Result<Subpacket, HelperError> {
    let created = *key.created_at();
    let validity = (created + StdDuration::from_secs(u64::from(days) * 86_400)).signed_duration_since(created);
    Subpacket::regular(SubpacketData::KeyExpirationTime(validity)).map_err(pgp_error("writing the expiry subpacket"))
}

/// Locks the primary key and every subkey with the passphrase.
fn protect(key: &mut SignedSecretKey, passphrase: &str) -> Result<(), HelperError> {
    let password = Password::from(passphrase);
    key.primary_key.set_password(OsRng, &password).map_err(pgp_error("protecting the key"))?;
    for subkey in &mut key.secret_subkeys {
        subkey.key.set_password(OsRng, &password).map_err(pgp_error("protecting a subkey"))?;
    }
    Ok(())
}

/// How [`encrypt_with`] writes a message. (No file name is stored: pgp 0.16's
/// message builder always writes an empty one.)
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    /// ASCII armor (`-----BEGIN PGP MESSAGE-----`) rather than binary.
    pub armor: bool,
    /// ZLIB-compress the content before encrypting (as GnuPG does).
    pub compress: bool,
    /// Integrity by AEAD (SEIPD v2, OCB) rather than MDC (SEIPD v1).
    pub aead: bool,
    /// Leave the recipient key id out (`gpg --throw-keyids`).
    pub hide_recipient: bool,
}

impl Default for EncryptOptions {
    /// Armored, ZLIB-compressed, MDC: what GnuPG writes by default.
    fn default() -> Self {
        EncryptOptions { armor: true, compress: true, aead: false, hide_recipient: false }
    }
}

/// Encrypts to a public key as GnuPG does by default (AES-256, MDC, ZLIB),
/// ASCII armored. For tests and demos (see the module documentation).
pub fn encrypt_to(public_key_armored: &str, plaintext: &[u8]) -> Result<Vec<u8>, HelperError> {
    encrypt_with(public_key_armored, plaintext, &EncryptOptions::default())
}

/// Encrypts to a public key's newest encryption subkey (or its primary key if
/// that is the one that encrypts). For tests and demos.
pub fn encrypt_with(
    public_key_armored: &str,
    plaintext: &[u8],
    options: &EncryptOptions,
) -> Result<Vec<u8>, HelperError> {
    let (key, _headers) = SignedPublicKey::from_string(public_key_armored)
        .map_err(|e| HelperError::PublicKey { cause: Cause::new(e) })?;
    let primary = &key.primary_key;
    let newest_subkey = key
        .public_subkeys
        .iter()
        .filter(|sub| encryption_binding(primary, &sub.key, &sub.signatures).is_some())
        .max_by_key(|sub| sub.key.created_at().timestamp());
    if let Some(subkey) = newest_subkey {
        return encrypt_to_part(&subkey.key, plaintext, options);
    }
    if primary_may_encrypt(primary, &valid_self_signatures(primary, &key.details)) {
        return encrypt_to_part(primary, plaintext, options);
    }
    Err(HelperError::NoEncryptionKey)
}

fn encrypt_to_part<K: PublicKeyTrait>(
    recipient: &K,
    plaintext: &[u8],
    options: &EncryptOptions,
) -> Result<Vec<u8>, HelperError> {
    let mut builder = MessageBuilder::from_bytes("", plaintext.to_vec());
    if options.compress {
        builder.compression(CompressionAlgorithm::ZLIB);
    }
    let sym = SymmetricKeyAlgorithm::AES256;
    let what = "encrypting";
    macro_rules! finish {
        ($builder:expr) => {{
            let mut builder = $builder;
            if options.hide_recipient {
                builder.encrypt_to_key_anonymous(OsRng, recipient).map_err(pgp_error(what))?;
            } else {
                builder.encrypt_to_key(OsRng, recipient).map_err(pgp_error(what))?;
            }
            if options.armor {
                builder.to_armored_string(OsRng, ArmorOptions::default()).map(String::into_bytes)
            } else {
                builder.to_vec(OsRng)
            }
            .map_err(pgp_error(what))
        }};
    }
    if options.aead {
        finish!(builder.seipd_v2(OsRng, sym, AeadAlgorithm::Ocb, ChunkSize::default()))
    } else {
        finish!(builder.seipd_v1(OsRng, sym))
    }
}
