//! Decrypting an OpenPGP message with a [`Keyring`].

use std::fmt;
use std::io::{self, Read};

use pgp::composed::{Esk, Message, PlainSessionKey};
use pgp::packet::PublicKeyEncryptedSessionKey;
use pgp::types::{EskType, Password, PkeskVersion, Tag};

use crate::keys::{Entry, Keyring, Slot};
use crate::util::{Cause, guard, hex_upper};

/// The default bound on a decrypted file: well above the largest extract a
/// company produces (Concur caps a file's rows), well below what a Lambda's
/// memory holds next to the ciphertext.
pub const MAX_PLAINTEXT_BYTES: u64 = 512 * 1024 * 1024;

/// Compression and signature layers inside the encryption, at most. GnuPG
/// writes one or two; more is a crafted file.
const MAX_LAYERS: usize = 8;

/// A decrypted file.
#[derive(Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The file's content, decompressed.
    pub plaintext: Vec<u8>,
    /// Fingerprint (primary key) of the keyring key that decrypted it: shows
    /// which key Concur still encrypts to during a rotation.
    pub key_fingerprint: String,
    /// The file name stored inside the message, as the sender wrote it (empty
    /// means none). Informational only: it is not sanitized, never use it as
    /// a path.
    pub file_name: Option<String>,
}

/// Prints sizes and names, not the content (expense data stays out of logs).
impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext", &format_args!("<{} bytes>", self.plaintext.len()))
            .field("key_fingerprint", &self.key_fingerprint)
            .field("file_name", &self.file_name)
            .finish()
    }
}

/// Why a file was not decrypted. Every case leaves no plaintext behind: a
/// file either decrypts whole and verified, or not at all.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    #[error(
        "the file is not OpenPGP-encrypted (no `-----BEGIN PGP MESSAGE-----` armor, no OpenPGP packet): \
         read it as a plain file"
    )]
    NotEncrypted,
    #[error(
        "the file is OpenPGP data but not an encrypted message ({found}); have Concur encrypt extracts \
         to the connection's public key (`connector keys show`)"
    )]
    Unencrypted { found: String },
    #[error(
        "the file is encrypted with a password only, not to a public key; have Concur encrypt extracts \
         to the connection's public key"
    )]
    PasswordOnly,
    #[error(
        "the file is encrypted without integrity protection (no MDC, no AEAD) and is refused, as such a file \
         can be altered unnoticed; have it encrypted again with a current OpenPGP tool (integrity \
         protection is its default)"
    )]
    NotIntegrityProtected,
    #[error(
        "the file was encrypted to {}, which this connection does not hold (it holds {}; encryption subkeys {}); \
         add the key the file was encrypted to with `connector keys add`, or, if Concur still has an old public key, \
         upload the current one (`connector keys show`)",
        .recipients.join(", "), list_or_none(.held), list_or_none(.held_key_ids)
    )]
    NoMatchingKey { recipients: Vec<String>, held: Vec<String>, held_key_ids: Vec<String> },
    #[error(
        "key {fingerprint} is the file's recipient but could not decrypt its session key ({cause}); \
         the file or the key is damaged: fetch the file again, and check the key with `connector keys show`"
    )]
    SessionKey {
        fingerprint: String,
        #[source]
        cause: Cause,
    },
    #[error("the file ends early ({cause}): it was cut off in transfer; fetch it again from Concur")]
    Truncated {
        #[source]
        cause: Cause,
    },
    #[error(
        "the file failed its integrity check ({cause}): it was altered or damaged after encryption, \
         and none of it is used; fetch it again from Concur"
    )]
    IntegrityCheckFailed {
        #[source]
        cause: Cause,
    },
    #[error("the file is an OpenPGP message that cannot be read ({cause}); it is damaged: fetch it again from Concur")]
    Malformed {
        #[source]
        cause: Cause,
    },
    #[error(
        "the file uses an OpenPGP feature this connector does not support ({cause}); have it encrypted with \
         AES and ZIP/ZLIB or no compression (GnuPG's defaults)"
    )]
    Unsupported {
        #[source]
        cause: Cause,
    },
    #[error(
        "the decrypted file exceeds the limit of {limit} bytes and was not kept (a compression bomb, or an \
         extract far larger than expected); if the extract is genuinely that large, raise the limit"
    )]
    TooLarge { limit: u64 },
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "none".to_string() } else { items.join(", ") }
}

/// What the first bytes of a file say it is.
enum Kind<'a> {
    /// `-----BEGIN PGP MESSAGE-----`, from this offset.
    ArmoredMessage(&'a [u8]),
    /// Another armored block (a key, a signature, a cleartext-signed text).
    ArmoredOther(String),
    /// A binary OpenPGP packet that starts an encrypted message.
    BinaryEncrypted,
    /// A binary OpenPGP packet of another kind, or a plain file whose first
    /// byte happens to look like one.
    BinaryOther,
    /// Not OpenPGP.
    Plain,
}

/// Packet tags that start an encrypted message: PKESK (1), SKESK (3),
/// SED (9), Marker (10), SEIPD (18), the draft AEAD packet (20).
const ENCRYPTED_TAGS: [u8; 6] = [1, 3, 9, 10, 18, 20];

/// The packet tag of a binary OpenPGP packet header byte (old or new format),
/// or `None` when the byte cannot start a packet.
fn packet_tag(first: u8) -> Option<u8> {
    if first & 0x80 == 0 {
        return None;
    }
    let tag = if first & 0x40 != 0 { first & 0x3f } else { (first >> 2) & 0x0f };
    (tag != 0).then_some(tag)
}

fn classify(input: &[u8]) -> Kind<'_> {
    const BEGIN: &[u8] = b"-----BEGIN PGP ";
    let start = input.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(input.len());
    let text = &input[start..];
    if let Some(rest) = text.strip_prefix(BEGIN) {
        let label_end = rest.windows(5).position(|w| w == b"-----").unwrap_or(0).min(40);
        let label = String::from_utf8_lossy(&rest[..label_end]).into_owned();
        return if label == "MESSAGE" { Kind::ArmoredMessage(text) } else { Kind::ArmoredOther(label) };
    }
    match input.first().copied().and_then(packet_tag) {
        Some(tag) if ENCRYPTED_TAGS.contains(&tag) => Kind::BinaryEncrypted,
        Some(_) => Kind::BinaryOther,
        None => Kind::Plain,
    }
}

/// Whether the input looks like an encrypted OpenPGP message: an armored
/// `PGP MESSAGE` block, or binary data whose first packet starts an encrypted
/// message. A cheap check on the first bytes; [`decrypt`] is the real test.
pub fn looks_encrypted(input: &[u8]) -> bool {
    matches!(classify(input), Kind::ArmoredMessage(_) | Kind::BinaryEncrypted)
}

/// Decrypts a file (binary or ASCII-armored OpenPGP) with the keyring,
/// bounded by [`MAX_PLAINTEXT_BYTES`]. See [`decrypt_with_limit`].
pub fn decrypt(keyring: &Keyring, input: &[u8]) -> Result<Decrypted, DecryptError> {
    decrypt_with_limit(keyring, input, MAX_PLAINTEXT_BYTES)
}

/// Decrypts a file with the keyring, refusing a plaintext larger than
/// `max_plaintext_bytes` (checked while decompressing, so a compression bomb
/// stops at the limit).
///
/// The file must be integrity-protected (SEIPD with MDC, or AEAD) and is read
/// to its end before anything is returned, so the integrity check has passed
/// for all of the plaintext. Input that is not OpenPGP at all gives
/// [`DecryptError::NotEncrypted`], for a caller that accepts plain files too.
pub fn decrypt_with_limit(
    keyring: &Keyring,
    input: &[u8],
    max_plaintext_bytes: u64,
) -> Result<Decrypted, DecryptError> {
    let on_panic = || DecryptError::Malformed { cause: Cause::new("the OpenPGP reader failed on this input") };
    match classify(input) {
        Kind::Plain => Err(DecryptError::NotEncrypted),
        Kind::ArmoredOther(label) => Err(DecryptError::Unencrypted { found: format!("an armored `{label}` block") }),
        Kind::ArmoredMessage(text) => guard(
            || {
                let (message, _headers) = Message::from_armor(text).map_err(parse_error)?;
                decrypt_message(keyring, message, max_plaintext_bytes)
            },
            on_panic,
        ),
        Kind::BinaryEncrypted => guard(
            || decrypt_message(keyring, Message::from_bytes(input).map_err(parse_error)?, max_plaintext_bytes),
            on_panic,
        ),
        Kind::BinaryOther => guard(
            || match Message::from_bytes(input) {
                Ok(message) => Err(DecryptError::Unencrypted { found: describe(&message).to_string() }),
                Err(_) => Err(DecryptError::NotEncrypted),
            },
            on_panic,
        ),
    }
}

/// What an unencrypted message is, for the error.
fn describe(message: &Message<'_>) -> &'static str {
    match message {
        Message::Literal { .. } => "plain data wrapped in an OpenPGP literal packet",
        Message::Compressed { .. } => "compressed, unencrypted data",
        Message::Signed { .. } | Message::SignedOnePass { .. } => "a signed, unencrypted message",
        Message::Encrypted { .. } => "an encrypted message",
    }
}

/// Checks the encryption layer, finds the session key, then decrypts,
/// decompresses and reads the whole message.
fn decrypt_message(keyring: &Keyring, message: Message<'_>, limit: u64) -> Result<Decrypted, DecryptError> {
    let Message::Encrypted { esk, edata, .. } = &message else {
        return Err(DecryptError::Unencrypted { found: describe(&message).to_string() });
    };
    if edata.tag() == Tag::SymEncryptedData {
        return Err(DecryptError::NotIntegrityProtected);
    }
    let recipients: Vec<&PublicKeyEncryptedSessionKey> = esk
        .iter()
        .filter_map(|esk| match esk {
            Esk::PublicKeyEncryptedSessionKey(pkesk) => Some(pkesk),
            Esk::SymKeyEncryptedSessionKey(_) => None,
        })
        .collect();
    if recipients.is_empty() {
        return Err(if esk.is_empty() {
            DecryptError::Malformed { cause: Cause::new("no recipient before the encrypted data") }
        } else {
            DecryptError::PasswordOnly
        });
    }
    let (session_key, key_fingerprint) = find_session_key(keyring, &recipients)?;
    let message = message.decrypt_with_session_key(session_key).map_err(content_error)?;
    let message = plain_layers(message)?;
    let (plaintext, file_name) = read_limited(message, limit)?;
    Ok(Decrypted { plaintext, key_fingerprint, file_name })
}

/// The session key, from the first (recipient, keyring key) pair that
/// matches and decrypts. A recipient naming no key id (an "anonymous" one) is
/// tried with every key.
fn find_session_key(
    keyring: &Keyring,
    recipients: &[&PublicKeyEncryptedSessionKey],
) -> Result<(PlainSessionKey, String), DecryptError> {
    let mut failure = None;
    for pkesk in recipients {
        for entry in keyring.entries() {
            for slot in &entry.slots {
                if !matches_slot(pkesk, entry, *slot) {
                    continue;
                }
                match decrypt_session_key(pkesk, entry, *slot) {
                    Ok(key) => return Ok((key, entry.fingerprint.clone())),
                    // An anonymous recipient is tried with every key: failing is no sign of damage.
                    Err(_) if is_anonymous(pkesk) => {}
                    Err(cause) => {
                        failure.get_or_insert((entry.fingerprint.clone(), cause));
                    }
                }
            }
        }
    }
    Err(match failure {
        Some((fingerprint, cause)) => DecryptError::SessionKey { fingerprint, cause },
        None => no_matching_key(keyring, recipients),
    })
}

fn matches_slot(pkesk: &PublicKeyEncryptedSessionKey, entry: &Entry, slot: Slot) -> bool {
    match slot {
        Slot::Primary => pkesk.match_identity(entry.key.primary_key.public_key()),
        Slot::Subkey(index) => {
            entry.key.secret_subkeys.get(index).is_some_and(|sub| pkesk.match_identity(sub.key.public_key()))
        }
    }
}

/// Decrypts a recipient's session key with one (already unlocked) key part.
fn decrypt_session_key(
    pkesk: &PublicKeyEncryptedSessionKey,
    entry: &Entry,
    slot: Slot,
) -> Result<PlainSessionKey, Cause> {
    let typ = match pkesk.version() {
        PkeskVersion::V3 => EskType::V3_4,
        PkeskVersion::V6 => EskType::V6,
        PkeskVersion::Other(version) => return Err(Cause::new(format!("unknown PKESK version {version}"))),
    };
    let values = pkesk.values().map_err(Cause::new)?;
    // The parts were unlocked when the key was added: no passphrase is needed.
    let unlocked = Password::empty();
    let result = match slot {
        Slot::Primary => entry.key.decrypt_session_key(&unlocked, values, typ),
        Slot::Subkey(index) => match entry.key.secret_subkeys.get(index) {
            Some(sub) => sub.decrypt_session_key(&unlocked, values, typ),
            None => return Err(Cause::new("no such subkey")),
        },
    };
    result.map_err(Cause::new)?.map_err(Cause::new)
}

fn is_anonymous(pkesk: &PublicKeyEncryptedSessionKey) -> bool {
    match pkesk {
        PublicKeyEncryptedSessionKey::V3 { id, .. } => id.is_wildcard(),
        PublicKeyEncryptedSessionKey::V6 { fingerprint, .. } => fingerprint.is_none(),
        _ => false,
    }
}

/// A recipient as a person compares it with `gpg --list-keys --keyid-format long`.
fn recipient_name(pkesk: &PublicKeyEncryptedSessionKey) -> String {
    match pkesk {
        PublicKeyEncryptedSessionKey::V3 { id, .. } if !id.is_wildcard() => format!("key 0x{}", hex_upper(id.as_ref())),
        PublicKeyEncryptedSessionKey::V6 { fingerprint: Some(fingerprint), .. } => {
            format!("key {}", hex_upper(fingerprint.as_bytes()))
        }
        PublicKeyEncryptedSessionKey::V3 { .. } | PublicKeyEncryptedSessionKey::V6 { .. } => {
            "an anonymous recipient (hidden key id)".to_string()
        }
        _ => "a recipient of an unknown packet version".to_string(),
    }
}

fn no_matching_key(keyring: &Keyring, recipients: &[&PublicKeyEncryptedSessionKey]) -> DecryptError {
    DecryptError::NoMatchingKey {
        recipients: recipients.iter().map(|pkesk| recipient_name(pkesk)).collect(),
        held: keyring.fingerprints(),
        held_key_ids: keyring
            .infos()
            .iter()
            .flat_map(|info| info.encryption_key_ids.iter().map(|id| format!("0x{id}")))
            .collect(),
    }
}

/// Which layer sits under any signatures: what has to happen next.
enum Layer {
    Literal,
    Compressed,
    Encrypted,
}

fn innermost(message: &Message<'_>) -> Layer {
    let mut current = message;
    loop {
        match current {
            Message::Literal { .. } => return Layer::Literal,
            Message::Compressed { .. } => return Layer::Compressed,
            Message::Encrypted { .. } => return Layer::Encrypted,
            Message::Signed { reader, .. } => current = reader.get_ref(),
            Message::SignedOnePass { reader, .. } => current = reader.get_ref(),
        }
    }
}

/// Decompresses until the literal data is reached (signatures stay: they are
/// read through, not verified; see the crate documentation).
fn plain_layers(mut message: Message<'_>) -> Result<Message<'_>, DecryptError> {
    for _ in 0..MAX_LAYERS {
        match innermost(&message) {
            Layer::Literal => return Ok(message),
            Layer::Compressed => message = message.decompress().map_err(content_error)?,
            Layer::Encrypted => {
                let cause = Cause::new("an encrypted message inside the encrypted message");
                return Err(DecryptError::Unsupported { cause });
            }
        }
    }
    Err(DecryptError::Unsupported { cause: Cause::new(format!("more than {MAX_LAYERS} nested layers")) })
}

/// Reads the message to its end (which checks the MDC or the last AEAD tag),
/// stopping one byte past the limit.
fn read_limited(mut message: Message<'_>, limit: u64) -> Result<(Vec<u8>, Option<String>), DecryptError> {
    let mut plaintext = Vec::new();
    (&mut message).take(limit.saturating_add(1)).read_to_end(&mut plaintext).map_err(read_error)?;
    if u64::try_from(plaintext.len()).unwrap_or(u64::MAX) > limit {
        return Err(DecryptError::TooLarge { limit });
    }
    let file_name = message
        .literal_data_header()
        .map(|header| String::from_utf8_lossy(header.file_name()).into_owned())
        .filter(|name| !name.is_empty());
    Ok((plaintext, file_name))
}

/// Whether an I/O error means the input stopped early. The library reports
/// a fixed-length packet cut short as a plain error with this text, not as
/// `UnexpectedEof`.
fn io_is_eof(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::UnexpectedEof || error.to_string().contains("shorter than expected")
}

/// Whether an error means the input stopped early.
fn is_eof(error: &pgp::errors::Error) -> bool {
    match error {
        pgp::errors::Error::IO { source, .. } => io_is_eof(source),
        pgp::errors::Error::PacketIncomplete { .. } => true,
        pgp::errors::Error::PacketParsing { source } => source.is_incomplete(),
        _ => false,
    }
}

fn is_unsupported(error: &pgp::errors::Error) -> bool {
    matches!(error, pgp::errors::Error::Unsupported { .. } | pgp::errors::Error::Unimplemented { .. })
}

/// An error reading the packets around the encrypted data (before any key is
/// used).
fn parse_error(error: pgp::errors::Error) -> DecryptError {
    pgp_error(error, |cause| DecryptError::Malformed { cause })
}

/// An error inside the encrypted data, once the session key is known: the
/// data was cut off, uses something unsupported, or decrypts to garbage
/// (which, behind a valid session key, means it was altered).
fn content_error(error: pgp::errors::Error) -> DecryptError {
    pgp_error(error, |cause| DecryptError::IntegrityCheckFailed { cause })
}

/// Truncated, unsupported, or else `otherwise`.
fn pgp_error(error: pgp::errors::Error, otherwise: impl FnOnce(Cause) -> DecryptError) -> DecryptError {
    if is_eof(&error) {
        DecryptError::Truncated { cause: Cause::new(error) }
    } else if is_unsupported(&error) {
        DecryptError::Unsupported { cause: Cause::new(error) }
    } else {
        otherwise(Cause::new(error))
    }
}

/// An error while reading the plaintext: the end came early, or the MDC /
/// an AEAD tag / the decompressed stream did not check out.
fn read_error(error: io::Error) -> DecryptError {
    if io_is_eof(&error) {
        DecryptError::Truncated { cause: Cause::new(error) }
    } else {
        DecryptError::IntegrityCheckFailed { cause: Cause::new(error) }
    }
}
