//! Reading what a key's self-signatures say: which (sub)keys may encrypt, when
//! the key expires, which user ids it carries.
//!
//! Only self-signatures that verify are read. An exported key also carries
//! third-party certifications on its user ids (other people's signatures);
//! they say nothing about the key's own capabilities or lifetime and are
//! skipped, as is any signature that does not verify against the primary key.

use pgp::composed::{SignedKeyDetails, SignedSecretKey};
use pgp::packet::{PublicKey, PublicSubkey, Signature, SignatureType, SubpacketData};
use pgp::types::{PublicKeyTrait, Tag};
use time::OffsetDateTime;

use crate::util::from_unix;

/// Which part of a transferable key can decrypt: the primary key (old RSA
/// keys without subkeys) or the secret subkey at this index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Primary,
    Subkey(usize),
}

/// The certification types a key holder puts on their own user ids.
fn is_user_certification(sig: &Signature) -> bool {
    matches!(
        sig.typ(),
        Some(
            SignatureType::CertGeneric
                | SignatureType::CertPersona
                | SignatureType::CertCasual
                | SignatureType::CertPositive
        )
    )
}

/// Seconds since the epoch of a signature's creation (0 when it has none, so
/// such a signature never wins a "newest" comparison).
fn created_secs(sig: &Signature) -> i64 {
    sig.created().map(|c| c.timestamp()).unwrap_or(0)
}

/// The primary key's self-signatures that verify: certifications of its user
/// ids and direct-key signatures.
pub(crate) fn valid_self_signatures<'a>(primary: &PublicKey, details: &'a SignedKeyDetails) -> Vec<&'a Signature> {
    let certifications = details.users.iter().flat_map(|user| {
        user.signatures
            .iter()
            .filter(|sig| is_user_certification(sig))
            .filter(move |sig| sig.verify_certification(primary, Tag::UserId, &user.id).is_ok())
    });
    let direct = details
        .direct_signatures
        .iter()
        .filter(|sig| sig.typ() == Some(SignatureType::Key) && sig.verify_key(primary).is_ok());
    certifications.chain(direct).collect()
}

/// The newest of the given signatures: the one that states the key's current
/// flags and expiry (a re-signed key keeps its old signatures too).
fn newest<'a>(sigs: impl IntoIterator<Item = &'a Signature>) -> Option<&'a Signature> {
    sigs.into_iter().max_by_key(|sig| created_secs(sig))
}

/// User ids that carry a valid self-certification, as text.
pub(crate) fn user_ids(primary: &PublicKey, details: &SignedKeyDetails) -> Vec<String> {
    details
        .users
        .iter()
        .filter(|user| {
            user.signatures.iter().any(|sig| {
                is_user_certification(sig) && sig.verify_certification(primary, Tag::UserId, &user.id).is_ok()
            })
        })
        .map(|user| String::from_utf8_lossy(user.id.id()).into_owned())
        .collect()
}

/// Whether a signature's key flags allow encryption. A signature without a
/// key-flags subpacket (keys made before flags existed) leaves it to the
/// algorithm, which the caller checks.
fn flags_allow_encryption(sig: &Signature) -> bool {
    let has_flags = sig
        .config()
        .is_some_and(|config| config.hashed_subpackets().any(|p| matches!(p.data, SubpacketData::KeyFlags(_))));
    if !has_flags {
        return true;
    }
    let flags = sig.key_flags();
    flags.encrypt_comms() || flags.encrypt_storage()
}

/// The newest valid binding signature of a subkey, if the subkey may encrypt
/// (algorithm and flags). A subkey whose binding does not verify is not part
/// of the key at all.
pub(crate) fn encryption_binding<'a>(
    primary: &PublicKey,
    subkey: &PublicSubkey,
    signatures: &'a [Signature],
) -> Option<&'a Signature> {
    if !subkey.is_encryption_key() {
        return None;
    }
    let valid = signatures
        .iter()
        .filter(|sig| sig.typ() == Some(SignatureType::SubkeyBinding))
        .filter(|sig| sig.verify_subkey_binding(primary, subkey).is_ok());
    newest(valid).filter(|sig| flags_allow_encryption(sig))
}

/// Whether the primary key itself may decrypt (an RSA key without subkeys,
/// flagged for encryption or without flags).
pub(crate) fn primary_may_encrypt(primary: &PublicKey, self_signatures: &[&Signature]) -> bool {
    primary.is_encryption_key() && newest(self_signatures.iter().copied()).is_some_and(flags_allow_encryption)
}

/// The parts of a secret key that can decrypt a file: the primary when it may
/// encrypt, and every secret subkey with a valid encryption binding.
pub(crate) fn decryption_slots(key: &SignedSecretKey) -> Vec<Slot> {
    let primary = key.primary_key.public_key();
    let self_signatures = valid_self_signatures(primary, &key.details);
    let mut slots = Vec::new();
    if primary_may_encrypt(primary, &self_signatures) {
        slots.push(Slot::Primary);
    }
    for (index, subkey) in key.secret_subkeys.iter().enumerate() {
        if encryption_binding(primary, subkey.key.public_key(), &subkey.signatures).is_some() {
            slots.push(Slot::Subkey(index));
        }
    }
    slots
}

/// When a key expires, by the self-signature that states it: its creation
/// time plus the signature's key-expiration offset (none, or zero, means it
/// does not expire).
fn expiry_by(created: i64, sig: Option<&Signature>) -> Option<OffsetDateTime> {
    let offset = sig?.key_expiration_time()?.num_seconds();
    (offset > 0).then(|| from_unix(created.saturating_add(offset)))
}

/// The earliest expiry that matters for decryption: the primary key's (when
/// it expires, the whole key does) and the encryption subkeys' (a sender can
/// encrypt while any one of them is valid, so the latest of them counts).
pub(crate) fn expiry(key: &SignedSecretKey, slots: &[Slot]) -> Option<OffsetDateTime> {
    let primary = key.primary_key.public_key();
    let self_signatures = valid_self_signatures(primary, &key.details);
    let primary_expiry = expiry_by(primary.created_at().timestamp(), newest(self_signatures.iter().copied()));
    if slots.contains(&Slot::Primary) {
        // The primary decrypts itself: its own lifetime is the one that counts.
        return primary_expiry;
    }
    let subkey_expiries: Vec<Option<OffsetDateTime>> = slots
        .iter()
        .filter_map(|slot| match slot {
            Slot::Primary => None,
            Slot::Subkey(index) => key.secret_subkeys.get(*index),
        })
        .map(|subkey| {
            let binding = encryption_binding(primary, subkey.key.public_key(), &subkey.signatures);
            expiry_by(subkey.key.public_key().created_at().timestamp(), binding)
        })
        .collect();
    // Latest subkey expiry; a subkey that never expires makes it None.
    let subkeys_expiry = if subkey_expiries.is_empty() || subkey_expiries.iter().any(Option::is_none) {
        None
    } else {
        subkey_expiries.into_iter().flatten().max()
    };
    match (primary_expiry, subkeys_expiry) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
