//! Keyring: parsing, passphrases, what is reported about a key, and the
//! errors an operator sees for the usual mistakes.

mod common;

use common::{PASSPHRASE, new_key, old_key, protected_key, ring};
use files::{
    KeyAlgorithm, KeyError, KeySource, KeySpec, Keyring, decrypt, encrypt_to, generate_key, generate_key_with,
};
use time::{Duration, OffsetDateTime};

#[test]
fn a_key_reports_fingerprint_ids_user_and_its_public_key() {
    let ring = ring(&[old_key()]);
    let info = &ring.keys()[0];
    assert_eq!(info.fingerprint.len(), 40, "v4 fingerprint: 20 bytes in hex");
    assert!(info.fingerprint.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    assert_eq!(info.key_id, info.fingerprint[24..], "a v4 key id is the fingerprint's low 64 bits");
    assert_eq!(info.user_ids, vec!["Old Key <finance@example.com>".to_string()]);
    assert_eq!(info.encryption_key_ids.len(), 1, "one encryption subkey");
    assert_ne!(info.encryption_key_ids[0], info.key_id, "the subkey encrypts, not the primary");
    assert!(info.public_key_armored.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    assert!((OffsetDateTime::now_utc() - info.created).abs() < Duration::hours(1));
    assert_eq!(info.expires, None);
    // The published public key is the one files are encrypted to.
    let file = encrypt_to(&info.public_key_armored, b"hello").expect("encrypt");
    assert_eq!(decrypt(&ring, &file).expect("decrypt").plaintext, b"hello");
}

#[test]
fn expiry_is_reported_and_warned_ahead() {
    let ring = ring(&[old_key(), new_key()]);
    let now = OffsetDateTime::now_utc();
    let new = &ring.keys()[1];
    let expires = new.expires.expect("the new key expires");
    let days_left = (expires - now).whole_days();
    assert!((19..=20).contains(&days_left), "expires in 20 days, got {days_left}");
    assert!(new.expires_within(30, now), "warned 30 days ahead");
    assert!(!new.expires_within(10, now));
    assert!(!new.is_expired(now));
    assert!(new.is_expired(now + Duration::days(21)));
    let warned: Vec<&str> = ring.expiring_within(30, now).iter().map(|k| k.fingerprint.as_str()).collect();
    assert_eq!(warned, vec![new.fingerprint.as_str()], "the old key never expires");
    assert!(!ring.keys()[0].expires_within(u32::MAX, now), "no expiry: never warned");
    assert!(new.expires_within(u32::MAX, now), "a horizon past the calendar does not overflow");
}

fn expiry_of(
    expires_in_days: Option<u32>,
    subkey_expires_in_days: Option<u32>,
) -> (OffsetDateTime, Option<OffsetDateTime>) {
    let spec = KeySpec {
        user_id: "Expiring <x@example.com>",
        expires_in_days,
        subkey_expires_in_days,
        algorithm: KeyAlgorithm::Curve25519,
        passphrase: None,
    };
    let (secret, _) = generate_key_with(&spec).expect("key");
    let ring = Keyring::from_armored(&[KeySource::new(&secret)]).expect("ring");
    (ring.keys()[0].created, ring.keys()[0].expires)
}

#[test]
fn expiry_is_the_earliest_of_primary_and_encryption_subkey() {
    let (created, expires) = expiry_of(Some(100), Some(10));
    assert_eq!(expires, Some(created + Duration::days(10)), "the subkey expires first");
    let (created, expires) = expiry_of(Some(10), Some(100));
    assert_eq!(expires, Some(created + Duration::days(10)), "the primary expires first");
    let (created, expires) = expiry_of(None, Some(5));
    assert_eq!(expires, Some(created + Duration::days(5)), "only the subkey expires");
    let (created, expires) = expiry_of(Some(7), None);
    assert_eq!(expires, Some(created + Duration::days(7)), "both expire together");
}

#[test]
fn a_protected_key_needs_its_passphrase() {
    let key = protected_key();
    let ring = Keyring::from_armored(&[KeySource::with_passphrase(&key.secret, PASSPHRASE)]).expect("right passphrase");
    let file = encrypt_to(&key.public, b"protected").expect("encrypt");
    assert_eq!(decrypt(&ring, &file).expect("decrypt").plaintext, b"protected");

    let wrong = Keyring::from_armored(&[KeySource::with_passphrase(&key.secret, "wrong")]);
    let error = wrong.expect_err("wrong passphrase");
    assert!(matches!(error, KeyError::WrongPassphrase { position: 1, .. }), "{error:?}");
    assert!(error.to_string().contains("the passphrase does not unlock it"), "{error}");

    let missing = Keyring::from_armored(&[KeySource::new(&key.secret)]);
    assert!(matches!(missing, Err(KeyError::PassphraseRequired { position: 1, .. })), "{missing:?}");
}

#[test]
fn errors_name_the_key_by_position() {
    let old = old_key();
    let bad = Keyring::from_armored(&[KeySource::new(&old.secret), KeySource::new("not a key")]);
    let error = bad.expect_err("garbage");
    assert!(matches!(error, KeyError::NotArmored { position: 2, .. }), "{error:?}");
    assert!(error.to_string().starts_with("key #2: "), "{error}");
}

#[test]
fn a_public_key_given_as_secret_is_named_as_such() {
    let error = Keyring::from_armored(&[KeySource::new(&old_key().public)]).expect_err("public key");
    assert!(matches!(error, KeyError::PublicKeyGiven { position: 1 }), "{error:?}");
    assert!(error.to_string().contains("--export-secret-keys"), "{error}");
}

#[test]
fn damaged_armor_is_refused_without_showing_key_material() {
    let secret = &old_key().secret;
    // Cut the key in half, and separately corrupt a line of its base64.
    let half = &secret[..secret.len() / 2];
    let mut lines: Vec<String> = secret.lines().map(str::to_string).collect();
    let middle = lines.len() / 2;
    lines[middle] = lines[middle].replace(|c: char| c.is_ascii_alphanumeric(), "!");
    let corrupted = lines.join("\n");
    for damaged in [half, corrupted.as_str()] {
        let error = Keyring::from_armored(&[KeySource::new(damaged)]).expect_err("damaged key");
        assert!(matches!(error, KeyError::Unreadable { position: 1, .. }), "{error:?}");
        let text = format!("{error} / {error:?}");
        println!("{error}");
        for line in secret.lines().filter(|l| l.len() > 20 && !l.starts_with("-----")) {
            assert!(!text.contains(&line[..20]), "error shows key material: {text}");
        }
    }
}

#[test]
fn an_empty_or_duplicated_keyring_is_refused() {
    assert!(matches!(Keyring::from_armored(&[]), Err(KeyError::NoKeys)));
    let old = old_key();
    let twice = Keyring::from_armored(&[KeySource::new(&old.secret), KeySource::new(&old.secret)]);
    assert!(matches!(twice, Err(KeyError::Duplicate { position: 2, first: 1, .. })), "{twice:?}");
}

#[test]
fn debug_output_holds_no_key_material() {
    let old = old_key();
    let source = KeySource::with_passphrase(&old.secret, "secret-passphrase");
    let shown = format!("{source:?}");
    assert!(!shown.contains("PRIVATE") && !shown.contains("secret-passphrase"), "{shown}");
    let ring = ring(&[old]);
    let shown = format!("{ring:?}");
    assert!(shown.contains(&ring.keys()[0].fingerprint) && !shown.contains("PRIVATE"), "{shown}");
}

#[test]
fn an_rsa_key_decrypts_too() {
    let spec = KeySpec {
        user_id: "RSA <finance@example.com>",
        expires_in_days: Some(365),
        subkey_expires_in_days: None,
        algorithm: KeyAlgorithm::Rsa { bits: 2048 },
        passphrase: None,
    };
    let (secret, public) = generate_key_with(&spec).expect("RSA key");
    let ring = Keyring::from_armored(&[KeySource::new(&secret)]).expect("ring");
    assert!(ring.keys()[0].expires.is_some());
    let file = encrypt_to(&public, common::CSV).expect("encrypt");
    assert_eq!(decrypt(&ring, &file).expect("decrypt").plaintext, common::CSV);
}

#[test]
fn out_of_range_expiry_is_refused() {
    assert!(generate_key("x <x@example.com>", Some(0)).is_err());
    assert!(generate_key("x <x@example.com>", Some(files::MAX_EXPIRY_DAYS + 1)).is_err());
}

#[test]
fn keyring_and_errors_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Keyring>();
    send_sync::<KeyError>();
    send_sync::<files::DecryptError>();
    send_sync::<files::ZipError>();
    send_sync::<files::HelperError>();
}
