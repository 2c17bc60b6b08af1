//! Concur extract files as they arrive: OpenPGP-encrypted or not, zipped or
//! not. Bytes in, bytes out: no AWS, no network, no file system.
//!
//! # Decryption and key rotation
//!
//! A company can have Concur encrypt its extract files with a public key the
//! connection publishes; the connection decrypts them with the matching
//! secret key. Keys are replaced over time (they expire, people leave,
//! policies change), and Concur does not switch keys at the same instant the
//! connector does: files already produced, files retried, and files produced
//! before the new public key was uploaded are still encrypted to the old key.
//!
//! So a connection holds a [`Keyring`] of several secret keys at once, and a
//! file is decrypted with whichever key it was encrypted to: every OpenPGP
//! message names its recipient (the key id of the encryption subkey), and
//! [`decrypt`] picks the keyring key with that id. No key is "current" for
//! decryption; [`Decrypted::key_fingerprint`] tells which one was used. A
//! rotation is therefore:
//!
//! 1. add the new key to the connection (both keys are now in the ring);
//! 2. upload the new public key ([`KeyInfo::public_key_armored`]) to Concur;
//! 3. once no file has been decrypted with the old key for a full extract
//!    cycle (and no retry can bring one), remove the old key.
//!
//! A file encrypted to a key the ring does not hold fails with
//! [`DecryptError::NoMatchingKey`], naming the key ids the file was encrypted
//! to and the fingerprints held, which is exactly what an operator needs
//! when step 3 came too early. [`KeyInfo::expires`] and
//! [`Keyring::expiring_within`] give the warning that starts step 1 ahead of
//! time.
//!
//! # What is checked
//!
//! A file is returned only whole and integrity-checked: the encryption must
//! carry integrity protection (SEIPD with MDC, or AEAD), the message is read
//! to its end (where the check happens) before anything is returned, and the
//! output is bounded ([`MAX_PLAINTEXT_BYTES`]) so a compression bomb stops.
//! Signatures inside the message are read through but **not verified**: the
//! connection holds no Concur signing key, and integrity protection shows
//! the file is as encrypted, not who encrypted it (anyone with the public key
//! can). Files come from Concur over an authenticated API, which is where
//! their origin is established.
//!
//! # Zip
//!
//! [`unzip`] reads an archive into its members, with bounds on entry count
//! and total size, and refuses encrypted entries and paths that would escape
//! a directory.
//!
//! # Test and demo helpers
//!
//! [`generate_key`] and [`encrypt_to`] make key pairs and encrypted files for
//! the tests, the Concur simulator and the demo; the connector itself never
//! encrypts.

mod archive;
mod decrypt;
mod helpers;
mod keys;
mod open;
mod util;

pub use archive::{ZipError, ZipLimits, ZipMember, is_zip, unzip};
pub use decrypt::{DecryptError, Decrypted, MAX_PLAINTEXT_BYTES, decrypt, decrypt_with_limit, looks_encrypted};
pub use helpers::{
    EncryptOptions, HelperError, KeyAlgorithm, KeySpec, MAX_EXPIRY_DAYS, encrypt_to, encrypt_with, generate_key,
    generate_key_with,
};
pub use keys::{KeyError, KeyInfo, KeySource, Keyring};
pub use open::{FileRefused, OpenedFile, looks_like_extract, open_file};
pub use util::Cause;
