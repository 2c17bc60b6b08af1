//! The connection's secret keys: parsing, unlocking, and what an operator needs
//! to know about each (fingerprint, expiry, the public key to give Concur).

mod inspect;

use std::fmt;

use pgp::composed::{ArmorOptions, Deserializable, SignedSecretKey};
use pgp::packet::{SecretKey, SecretSubkey};
use pgp::types::{KeyDetails, Password, S2kParams, SecretParams, StringToKey};
use time::{Duration, OffsetDateTime};

use crate::util::{Cause, from_unix, hex_upper};

pub(crate) use inspect::Slot;
pub(crate) use inspect::{encryption_binding, primary_may_encrypt, valid_self_signatures};

/// One secret key as the operator supplies it: the ASCII armor that
/// `gpg --export-secret-keys --armor <fingerprint>` writes, and its passphrase
/// when the key is protected by one.
#[derive(Clone, Copy)]
pub struct KeySource<'a> {
    /// `-----BEGIN PGP PRIVATE KEY BLOCK-----` … holding exactly one key.
    pub armored: &'a str,
    /// The passphrase, for a protected key.
    pub passphrase: Option<&'a str>,
}

impl<'a> KeySource<'a> {
    /// A key without passphrase.
    pub fn new(armored: &'a str) -> Self {
        KeySource { armored, passphrase: None }
    }

    /// A passphrase-protected key.
    pub fn with_passphrase(armored: &'a str, passphrase: &'a str) -> Self {
        KeySource { armored, passphrase: Some(passphrase) }
    }
}

/// Never prints the key or the passphrase, only whether there is one.
impl fmt::Debug for KeySource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySource")
            .field("armored", &format_args!("<{} bytes>", self.armored.len()))
            .field("passphrase", &self.passphrase.map(|_| "<set>"))
            .finish()
    }
}

/// What an operator sees of a key: enough to recognise it, publish it and
/// plan its replacement; no secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The primary key's fingerprint, upper-case hex without spaces (as
    /// `gpg --with-colons` prints it).
    pub fingerprint: String,
    /// The primary key's 64-bit key id, upper-case hex.
    pub key_id: String,
    /// When the primary key was created.
    pub created: OffsetDateTime,
    /// The earliest expiry that stops Concur from encrypting to this key: the
    /// primary key's, or the encryption subkey's if that comes first. `None`:
    /// it does not expire.
    pub expires: Option<OffsetDateTime>,
    /// User ids with a valid self-signature (`Name <email>`).
    pub user_ids: Vec<String>,
    /// Key ids of the (sub)keys that decrypt: these are the ids a file names as
    /// its recipient.
    pub encryption_key_ids: Vec<String>,
    /// The public key, ASCII-armored, to upload to Concur.
    pub public_key_armored: String,
}

impl KeyInfo {
    /// Whether the key has expired at `now` or will within `days`: the check
    /// behind a "replace this key" warning ahead of time (30 days is usual).
    pub fn expires_within(&self, days: u32, now: OffsetDateTime) -> bool {
        // A horizon past the last representable date covers every expiry.
        let horizon = now.checked_add(Duration::days(i64::from(days)));
        self.expires.is_some_and(|expires| horizon.is_none_or(|horizon| expires <= horizon))
    }

    /// Whether the key has expired at `now`. An expired key still decrypts the
    /// files encrypted to it before; it only stops new ones.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }
}

/// Why a key cannot be added to a keyring. `position` counts the keys given
/// from 1; once the key is read, its fingerprint is named too.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no secret key given: a connection needs at least one to decrypt files (`connector keys add`)")]
    NoKeys,
    #[error(
        "key #{position}: not an ASCII-armored OpenPGP secret key ({cause}); export it with \
         `gpg --export-secret-keys --armor <fingerprint>` and supply the whole text"
    )]
    NotArmored { position: usize, cause: Cause },
    #[error(
        "key #{position}: is a public key; decrypting needs the secret key \
         (`gpg --export-secret-keys --armor <fingerprint>`)"
    )]
    PublicKeyGiven { position: usize },
    #[error(
        "key #{position}: cannot be read ({cause}); the armored text is damaged or incomplete, \
         export it again with `gpg --export-secret-keys --armor <fingerprint>`"
    )]
    Unreadable {
        position: usize,
        #[source]
        cause: Cause,
    },
    #[error("key #{position}: holds {count} keys; give each key separately, each with its own passphrase")]
    SeveralKeys { position: usize, count: usize },
    #[error(
        "key #{position} ({fingerprint}): has no encryption subkey with a valid binding signature, so \
         nothing can be encrypted to it; use a key with an encryption subkey \
         (`gpg --quick-add-key <fingerprint> cv25519 encr`)"
    )]
    NoEncryptionKey { position: usize, fingerprint: String },
    #[error(
        "key #{position} ({fingerprint}): the secret part of the encryption subkey is not in the export \
         (a stub, or it lives on a smartcard); export the full secret key"
    )]
    SecretMissing { position: usize, fingerprint: String },
    #[error(
        "key #{position} ({fingerprint}): is passphrase-protected and no passphrase was given; supply it with the key"
    )]
    PassphraseRequired { position: usize, fingerprint: String },
    #[error(
        "key #{position} ({fingerprint}): the passphrase does not unlock it ({cause}); check the \
         passphrase stored with the key"
    )]
    WrongPassphrase {
        position: usize,
        fingerprint: String,
        #[source]
        cause: Cause,
    },
    #[error("key #{position} ({fingerprint}): is given twice (also key #{first}); give each key once")]
    Duplicate { position: usize, fingerprint: String, first: usize },
}

/// A secret key ready to decrypt: the parsed key with its decrypting parts
/// unlocked, and which parts those are.
pub(crate) struct Entry {
    pub(crate) key: SignedSecretKey,
    pub(crate) slots: Vec<Slot>,
    pub(crate) fingerprint: String,
}

/// The keys a connection decrypts with. See the crate documentation for the
/// rotation model: every key in the ring is tried by the recipient a file names.
///
/// Keys are unlocked when added (the passphrase is checked then, not at the
/// first file) and held unlocked in memory for the life of the keyring.
pub struct Keyring {
    entries: Vec<Entry>,
    infos: Vec<KeyInfo>,
}

/// Lists fingerprints only: a keyring must never print key material.
impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("fingerprints", &self.fingerprints()).finish()
    }
}

impl Keyring {
    /// A keyring of one or more keys (current and, during a rotation, the
    /// previous or next one). Fails on the first key that cannot be used,
    /// naming it by position.
    pub fn from_armored(sources: &[KeySource<'_>]) -> Result<Self, KeyError> {
        if sources.is_empty() {
            return Err(KeyError::NoKeys);
        }
        let mut ring = Keyring { entries: Vec::new(), infos: Vec::new() };
        for source in sources {
            ring.add(*source)?;
        }
        Ok(ring)
    }

    /// Adds one more key; it is numbered after those already held.
    pub fn add(&mut self, source: KeySource<'_>) -> Result<&KeyInfo, KeyError> {
        let position = self.entries.len() + 1;
        let (entry, info) = load(position, source)?;
        if let Some(first) = self.entries.iter().position(|held| held.fingerprint == entry.fingerprint) {
            return Err(KeyError::Duplicate { position, fingerprint: entry.fingerprint, first: first + 1 });
        }
        self.entries.push(entry);
        self.infos.push(info);
        Ok(&self.infos[self.entries.len() - 1])
    }

    /// The keys held, in the order given.
    pub fn keys(&self) -> &[KeyInfo] {
        &self.infos
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the ring holds no key (only possible for a ring never given one).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys that have expired or expire within `days` of `now`.
    pub fn expiring_within(&self, days: u32, now: OffsetDateTime) -> Vec<&KeyInfo> {
        self.infos.iter().filter(|info| info.expires_within(days, now)).collect()
    }

    /// Fingerprints of the keys held, in order.
    pub fn fingerprints(&self) -> Vec<String> {
        self.entries.iter().map(|entry| entry.fingerprint.clone()).collect()
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub(crate) fn infos(&self) -> &[KeyInfo] {
        &self.infos
    }
}

/// Parses, checks and unlocks one key.
fn load(position: usize, source: KeySource<'_>) -> Result<(Entry, KeyInfo), KeyError> {
    let armored = armor_block(position, source.armored)?;
    let mut key = parse_single(position, armored)?;
    let fingerprint = hex_upper(key.primary_key.fingerprint().as_bytes());
    let slots = inspect::decryption_slots(&key);
    if slots.is_empty() {
        return Err(KeyError::NoEncryptionKey { position, fingerprint });
    }
    let slots = unlock(&mut key, slots, source.passphrase, position, &fingerprint)?;
    let info = key_info(&key, &slots, &fingerprint)
        .map_err(|cause| KeyError::Unreadable { position, cause: Cause::new(cause) })?;
    Ok((Entry { key, slots, fingerprint }, info))
}

/// The text from the armor header on, after checking it is a private key
/// block (a public key is the most common mistake, and deserves its own
/// message).
fn armor_block(position: usize, text: &str) -> Result<&str, KeyError> {
    const BEGIN: &str = "-----BEGIN PGP ";
    let Some(start) = text.find(BEGIN) else {
        let cause = Cause::new("no `-----BEGIN PGP PRIVATE KEY BLOCK-----` line");
        return Err(KeyError::NotArmored { position, cause });
    };
    let block = &text[start..];
    let label = block[BEGIN.len()..].split("-----").next().unwrap_or("");
    match label {
        "PRIVATE KEY BLOCK" => Ok(block),
        "PUBLIC KEY BLOCK" => Err(KeyError::PublicKeyGiven { position }),
        other => {
            let cause = Cause::new(format!("found a `{other}` block"));
            Err(KeyError::NotArmored { position, cause })
        }
    }
}

/// Exactly one transferable secret key from an armored block.
fn parse_single(position: usize, armored: &str) -> Result<SignedSecretKey, KeyError> {
    let unreadable = |cause: pgp::errors::Error| KeyError::Unreadable { position, cause: Cause::new(cause) };
    let (keys, _headers) = SignedSecretKey::from_string_many(armored).map_err(unreadable)?;
    let mut keys: Vec<SignedSecretKey> = keys.collect::<Result<_, _>>().map_err(unreadable)?;
    match keys.len() {
        0 => Err(KeyError::Unreadable { position, cause: Cause::new("the block holds no secret key") }),
        1 => Ok(keys.remove(0)),
        count => Err(KeyError::SeveralKeys { position, count }),
    }
}

/// The secret-key packet behind a slot, primary or subkey, seen through what
/// unlocking needs.
enum Part<'a> {
    Primary(&'a mut SecretKey),
    Subkey(&'a mut SecretSubkey),
}

impl Part<'_> {
    fn params(&self) -> &SecretParams {
        match self {
            Part::Primary(key) => key.secret_params(),
            Part::Subkey(key) => key.secret_params(),
        }
    }

    fn remove_password(&mut self, password: &Password) -> pgp::errors::Result<()> {
        match self {
            Part::Primary(key) => key.remove_password(password),
            Part::Subkey(key) => key.remove_password(password),
        }
    }
}

fn part(key: &mut SignedSecretKey, slot: Slot) -> Option<Part<'_>> {
    match slot {
        Slot::Primary => Some(Part::Primary(&mut key.primary_key)),
        Slot::Subkey(index) => key.secret_subkeys.get_mut(index).map(|sub| Part::Subkey(&mut sub.key)),
    }
}

/// Whether a protected secret is absent: GnuPG writes private S2K types
/// (101, "gnu-dummy" or "divert-to-card") where the secret is not exported.
fn is_stub(params: &SecretParams) -> bool {
    let SecretParams::Encrypted(encrypted) = params else { return false };
    match encrypted.string_to_key_params() {
        S2kParams::Cfb { s2k, .. } | S2kParams::MalleableCfb { s2k, .. } | S2kParams::Aead { s2k, .. } => {
            matches!(s2k, StringToKey::Private { .. })
        }
        S2kParams::Unprotected | S2kParams::LegacyCfb { .. } => false,
    }
}

/// Unlocks every decrypting part with the passphrase, once, so a wrong
/// passphrase shows when the key is added rather than at the first file.
/// Parts whose secret is not in the export are dropped; none left is an error.
fn unlock(
    key: &mut SignedSecretKey,
    slots: Vec<Slot>,
    passphrase: Option<&str>,
    position: usize,
    fingerprint: &str,
) -> Result<Vec<Slot>, KeyError> {
    let password = passphrase.map(Password::from);
    let mut usable = Vec::new();
    for slot in slots {
        let Some(mut part) = part(key, slot) else { continue };
        if is_stub(part.params()) {
            continue;
        }
        if matches!(part.params(), SecretParams::Encrypted(_)) {
            let Some(password) = &password else {
                return Err(KeyError::PassphraseRequired { position, fingerprint: fingerprint.to_string() });
            };
            part.remove_password(password).map_err(|cause| KeyError::WrongPassphrase {
                position,
                fingerprint: fingerprint.to_string(),
                cause: Cause::new(cause),
            })?;
        }
        usable.push(slot);
    }
    if usable.is_empty() {
        return Err(KeyError::SecretMissing { position, fingerprint: fingerprint.to_string() });
    }
    Ok(usable)
}

/// Key id (upper-case hex) of the part behind a slot.
pub(crate) fn slot_key_id(key: &SignedSecretKey, slot: Slot) -> String {
    match slot {
        Slot::Primary => hex_upper(key.primary_key.key_id().as_ref()),
        Slot::Subkey(index) => {
            key.secret_subkeys.get(index).map(|sub| hex_upper(sub.key.key_id().as_ref())).unwrap_or_default()
        }
    }
}

fn key_info(key: &SignedSecretKey, slots: &[Slot], fingerprint: &str) -> pgp::errors::Result<KeyInfo> {
    let primary = key.primary_key.public_key();
    Ok(KeyInfo {
        fingerprint: fingerprint.to_string(),
        key_id: hex_upper(key.primary_key.key_id().as_ref()),
        created: from_unix(pgp::types::PublicKeyTrait::created_at(primary).timestamp()),
        expires: inspect::expiry(key, slots),
        user_ids: inspect::user_ids(primary, &key.details),
        encryption_key_ids: slots.iter().map(|slot| slot_key_id(key, *slot)).collect(),
        public_key_armored: key.signed_public_key().to_armored_string(ArmorOptions::default())?,
    })
}
