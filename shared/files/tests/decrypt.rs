//! Decryption: round trips, rotation, and every way a file is refused.

mod common;

use common::{CSV, Pair, fingerprint, new_key, old_key, ring, stranger_key};
use files::{DecryptError, EncryptOptions, decrypt, decrypt_with_limit, encrypt_to, encrypt_with, looks_encrypted};
use pgp::bytes::Bytes;
use pgp::composed::{Deserializable, MessageBuilder, SignedPublicKey, SignedSecretKey};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{LiteralData, PacketTrait, PublicKeyEncryptedSessionKey, SymEncryptedProtectedData};
use pgp::types::{CompressionAlgorithm, StringToKey};
use rand_core_06::OsRng;

fn binary(options: EncryptOptions) -> EncryptOptions {
    EncryptOptions { armor: false, ..options }
}

fn encrypt(pair: &Pair, plaintext: &[u8], options: &EncryptOptions) -> Vec<u8> {
    encrypt_with(&pair.public, plaintext, options).expect("encrypt")
}

#[test]
fn armored_and_binary_files_round_trip() {
    let old = old_key();
    let ring = ring(&[old]);
    let default = EncryptOptions::default();
    for options in [
        default.clone(),
        binary(default.clone()),
        EncryptOptions { compress: false, ..default.clone() },
        EncryptOptions { aead: true, ..default.clone() },
        binary(EncryptOptions { aead: true, compress: false, ..default.clone() }),
    ] {
        let file = encrypt(old, CSV, &options);
        assert_eq!(file.starts_with(b"-----BEGIN PGP MESSAGE-----"), options.armor);
        assert!(looks_encrypted(&file), "{options:?}");
        let decrypted = decrypt(&ring, &file).unwrap_or_else(|e| panic!("{options:?}: {e}"));
        assert_eq!(decrypted.plaintext, CSV, "{options:?}");
        assert_eq!(decrypted.file_name, None, "pgp's builder writes no name");
        assert_eq!(decrypted.key_fingerprint, fingerprint(old));
    }
    let empty = decrypt(&ring, &encrypt_to(&old.public, b"").expect("encrypt")).expect("decrypt");
    assert!(empty.plaintext.is_empty());
}

#[test]
fn during_a_rotation_files_to_either_key_decrypt() {
    let (old, new) = (old_key(), new_key());
    let ring = ring(&[old, new]);
    for (pair, content) in [(old, &b"before the rotation"[..]), (new, &b"after the rotation"[..])] {
        let decrypted = decrypt(&ring, &encrypt_to(&pair.public, content).expect("encrypt")).expect("decrypt");
        assert_eq!(decrypted.plaintext, content);
        assert_eq!(decrypted.key_fingerprint, fingerprint(pair), "reports which key decrypted");
    }
    // Order in the ring does not matter.
    let reversed = common::ring(&[new, old]);
    assert!(decrypt(&reversed, &encrypt_to(&old.public, CSV).expect("encrypt")).is_ok());
}

#[test]
fn a_file_for_another_key_names_its_recipient_and_the_keys_held() {
    let old = old_key();
    let ring = ring(&[old]);
    let file = encrypt_to(&stranger_key().public, CSV).expect("encrypt");
    let error = decrypt(&ring, &file).expect_err("not our key");
    let DecryptError::NoMatchingKey { recipients, held, held_key_ids } = &error else { panic!("{error:?}") };
    let stranger_ring = common::ring(&[stranger_key()]);
    let stranger = &stranger_ring.keys()[0];
    assert_eq!(recipients, &vec![format!("key 0x{}", stranger.encryption_key_ids[0])]);
    assert_eq!(held, &vec![fingerprint(old)]);
    assert_eq!(held_key_ids, &vec![format!("0x{}", ring.keys()[0].encryption_key_ids[0])]);
    let text = error.to_string();
    assert!(text.contains(&stranger.encryption_key_ids[0]) && text.contains(&held[0]), "{text}");
    assert!(text.contains("connector keys add"), "{text}");
    println!("{text}");
}

#[test]
fn an_anonymous_recipient_is_tried_with_every_key() {
    let (old, new) = (old_key(), new_key());
    let hidden = EncryptOptions { hide_recipient: true, ..EncryptOptions::default() };
    let file = encrypt(new, CSV, &hidden);
    let decrypted = decrypt(&ring(&[old, new]), &file).expect("decrypt");
    assert_eq!(decrypted.key_fingerprint, fingerprint(new));
    let error = decrypt(&ring(&[old]), &file).expect_err("not our key");
    assert!(
        matches!(&error, DecryptError::NoMatchingKey { recipients, .. } if recipients[0].contains("anonymous")),
        "{error:?}"
    );
}

/// Flips one bit at each of many positions inside the encrypted data: every
/// result is an error, never a plaintext.
#[test]
fn a_tampered_file_is_refused_and_yields_nothing() {
    let old = old_key();
    let ring = ring(&[old]);
    let content: Vec<u8> = CSV.repeat(50);
    for options in [
        binary(EncryptOptions::default()),
        binary(EncryptOptions { compress: false, ..EncryptOptions::default() }),
        binary(EncryptOptions { aead: true, ..EncryptOptions::default() }),
    ] {
        let file = encrypt(old, &content, &options);
        // The encrypted data packet is the last third of the file at least.
        let start = file.len() - file.len() / 3;
        for at in (start..file.len()).step_by(7).chain([file.len() - 1]) {
            let mut tampered = file.clone();
            tampered[at] ^= 0x01;
            let error = decrypt(&ring, &tampered).expect_err("tampered file must not decrypt");
            assert!(
                matches!(error, DecryptError::IntegrityCheckFailed { .. } | DecryptError::Truncated { .. }),
                "{options:?} byte {at}: {error:?}"
            );
        }
    }
    let mut tampered = encrypt(old, &content, &binary(EncryptOptions { compress: false, ..EncryptOptions::default() }));
    let middle = tampered.len() - 200;
    tampered[middle] ^= 0x80;
    let error = decrypt(&ring, &tampered).expect_err("tampered");
    assert!(matches!(error, DecryptError::IntegrityCheckFailed { .. }), "{error:?}");
    println!("{error}");
}

#[test]
fn a_damaged_session_key_names_the_key_that_failed() {
    let old = old_key();
    let mut file = encrypt(old, CSV, &binary(EncryptOptions::default()));
    // The file starts with the recipient's PKESK packet: new-format tag 1, one-octet length.
    assert_eq!(file[0], 0xC1, "a PKESK packet first");
    let pkesk_end = 2 + usize::from(file[1]);
    file[pkesk_end - 1] ^= 0x01;
    let error = decrypt(&ring(&[old]), &file).expect_err("damaged session key");
    assert!(
        matches!(&error, DecryptError::SessionKey { fingerprint, .. } if *fingerprint == common::fingerprint(old)),
        "{error:?}"
    );
    println!("{error}");
}

#[test]
fn a_truncated_file_is_refused() {
    let old = old_key();
    let ring = ring(&[old]);
    let content: Vec<u8> = CSV.repeat(50);
    for options in
        [binary(EncryptOptions::default()), binary(EncryptOptions { aead: true, ..EncryptOptions::default() })]
    {
        let file = encrypt(old, &content, &options);
        for keep in [file.len() - 1, file.len() - 22, file.len() / 2, 200, 20, 3] {
            let error = decrypt(&ring, &file[..keep]).expect_err("truncated");
            assert!(
                matches!(
                    error,
                    DecryptError::Truncated { .. }
                        | DecryptError::Malformed { .. }
                        | DecryptError::IntegrityCheckFailed { .. }
                ),
                "{keep} of {}: {error:?}",
                file.len()
            );
        }
        let error = decrypt(&ring, &file[..file.len() / 2]).expect_err("truncated");
        assert!(matches!(error, DecryptError::Truncated { .. }), "{error:?}");
        println!("{error}");
    }
    // An armored file cut off before its end line.
    let armored = encrypt_to(&old.public, &content).expect("encrypt");
    let error = decrypt(&ring, &armored[..armored.len() * 2 / 3]).expect_err("truncated armor");
    assert!(!matches!(error, DecryptError::NotEncrypted), "{error:?}");
}

#[test]
fn a_plain_file_is_not_encrypted() {
    let ring = ring(&[old_key()]);
    for plain in [CSV, b"", b"   \n", b"PK\x03\x04 a zip", "\u{feff}EXTRACT|é".as_bytes()] {
        assert!(!looks_encrypted(plain));
        let error = decrypt(&ring, plain).expect_err("plain");
        assert!(matches!(error, DecryptError::NotEncrypted), "{plain:?}: {error:?}");
    }
}

#[test]
fn openpgp_data_that_is_not_an_encrypted_message_is_refused() {
    let old = old_key();
    let ring = ring(&[old]);
    let literal = MessageBuilder::from_bytes("", CSV.to_vec()).to_vec(OsRng).expect("literal message");
    let error = decrypt(&ring, &literal).expect_err("unencrypted");
    assert!(matches!(error, DecryptError::Unencrypted { .. }), "{error:?}");
    let mut compressed = MessageBuilder::from_bytes("", CSV.to_vec());
    compressed.compression(CompressionAlgorithm::ZLIB);
    let compressed = compressed.to_vec(OsRng).expect("compressed message");
    assert!(matches!(decrypt(&ring, &compressed), Err(DecryptError::Unencrypted { .. })));
    let error = decrypt(&ring, old.public.as_bytes()).expect_err("a key, not a message");
    assert!(matches!(&error, DecryptError::Unencrypted { found } if found.contains("PUBLIC KEY BLOCK")), "{error:?}");
}

#[test]
fn a_password_only_file_is_refused() {
    let mut builder = MessageBuilder::from_bytes("", CSV.to_vec()).seipd_v1(OsRng, SymmetricKeyAlgorithm::AES256);
    let s2k = StringToKey::new_iterated(OsRng, Default::default(), 1);
    builder.encrypt_with_password(s2k, &"password".into()).expect("password");
    let file = builder.to_vec(OsRng).expect("message");
    assert!(looks_encrypted(&file));
    let error = decrypt(&ring(&[old_key()]), &file).expect_err("password only");
    assert!(matches!(error, DecryptError::PasswordOnly), "{error:?}");
}

/// A new-format packet header with a fixed length.
fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xC0 | tag];
    match body.len() {
        len @ 0..192 => out.push(len as u8),
        len @ 192..8384 => {
            let len = len - 192;
            out.extend([((len >> 8) + 192) as u8, (len & 0xff) as u8]);
        }
        len => {
            out.push(0xFF);
            out.extend((len as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(body);
    out
}

/// A message assembled from its packets, for what pgp's builder does not
/// write: a stored file name, or (`protected: false`) what pre-2001 PGP
/// wrote, a Symmetrically Encrypted Data packet (tag 9): CFB without
/// modification detection.
fn assembled(public: &str, plaintext: &[u8], file_name: &str, protected: bool) -> Vec<u8> {
    let (key, _) = SignedPublicKey::from_string(public).expect("public key");
    let subkey = &key.public_subkeys[0].key;
    let sym = SymmetricKeyAlgorithm::AES256;
    let session_key = sym.new_session_key(OsRng);
    let pkesk = PublicKeyEncryptedSessionKey::from_session_key_v3(OsRng, &session_key, sym, subkey).expect("pkesk");
    let mut out = Vec::new();
    pkesk.to_writer_with_header(&mut out).expect("pkesk bytes");
    let literal = LiteralData::from_bytes(file_name.to_string(), Bytes::from(plaintext.to_vec())).expect("literal");
    let mut literal_bytes = Vec::new();
    literal.to_writer_with_header(&mut literal_bytes).expect("literal bytes");
    if protected {
        let seipd =
            SymEncryptedProtectedData::encrypt_seipdv1(OsRng, sym, &session_key, &literal_bytes).expect("seipd");
        seipd.to_writer_with_header(&mut out).expect("seipd bytes");
    } else {
        out.extend(packet(9, &sym.encrypt(OsRng, &session_key, &literal_bytes).expect("cfb")));
    }
    out
}

#[test]
fn the_stored_file_name_is_reported() {
    let old = old_key();
    let file = assembled(&old.public, CSV, "extract_20260131.txt", true);
    let decrypted = decrypt(&ring(&[old]), &file).expect("decrypt");
    assert_eq!(decrypted.plaintext, CSV);
    assert_eq!(decrypted.file_name.as_deref(), Some("extract_20260131.txt"));
}

#[test]
fn a_file_without_integrity_protection_is_refused() {
    let old = old_key();
    let file = assembled(&old.public, CSV, "old.csv", false);
    assert!(looks_encrypted(&file));
    let error = decrypt(&ring(&[old]), &file).expect_err("no MDC");
    assert!(matches!(error, DecryptError::NotIntegrityProtected), "{error:?}");
    println!("{error}");
}

#[test]
fn a_compression_bomb_stops_at_the_limit() {
    let old = old_key();
    let ring = ring(&[old]);
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let file = encrypt_to(&old.public, &zeros).expect("encrypt");
    assert!(file.len() < 64 * 1024, "compresses well: {} bytes", file.len());
    let error = decrypt_with_limit(&ring, &file, 1024 * 1024).expect_err("over the limit");
    assert!(matches!(error, DecryptError::TooLarge { limit: 1_048_576 }), "{error:?}");
    // The limit is inclusive.
    let exact = decrypt_with_limit(&ring, &file, zeros.len() as u64).expect("at the limit");
    assert_eq!(exact.plaintext.len(), zeros.len());
}

#[test]
fn a_signed_and_encrypted_file_decrypts() {
    // Signatures are read through (not verified): the content comes out.
    let old = old_key();
    let (signer, _) = SignedSecretKey::from_string(&stranger_key().secret).expect("secret key");
    let (key, _) = SignedPublicKey::from_string(&old.public).expect("public key");
    let mut builder =
        MessageBuilder::from_bytes("signed.csv", CSV.to_vec()).seipd_v1(OsRng, SymmetricKeyAlgorithm::AES256);
    builder.sign(&signer.primary_key, "".into(), pgp::crypto::hash::HashAlgorithm::Sha256);
    builder.compression(CompressionAlgorithm::ZIP);
    builder.encrypt_to_key(OsRng, &key.public_subkeys[0].key).expect("recipient");
    let file = builder.to_vec(OsRng).expect("message");
    let decrypted = decrypt(&ring(&[old]), &file).expect("decrypt");
    assert_eq!(decrypted.plaintext, CSV);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn sample() -> &'static (files::Keyring, Vec<u8>) {
        static SAMPLE: OnceLock<(files::Keyring, Vec<u8>)> = OnceLock::new();
        SAMPLE.get_or_init(|| {
            let old = old_key();
            (ring(&[old]), encrypt(old, CSV, &binary(EncryptOptions::default())))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

        /// Random damage (a changed byte and a cut) never panics, and never
        /// yields anything but the original plaintext.
        #[test]
        fn damage_never_panics_or_yields_other_plaintext(
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let (ring, file) = sample();
            let mut damaged = file.clone();
            let at = at.index(damaged.len());
            damaged[at] = value;
            let cut = damaged.len() - cut.index(damaged.len() / 4 + 1);
            damaged.truncate(cut);
            if let Ok(decrypted) = decrypt(ring, &damaged) {
                prop_assert_eq!(decrypted.plaintext, CSV);
            }
        }

        /// Arbitrary bytes never panic.
        #[test]
        fn arbitrary_input_never_panics(input in prop::collection::vec(any::<u8>(), 0..512)) {
            let (ring, _) = sample();
            let _ = decrypt(ring, &input);
        }
    }
}
