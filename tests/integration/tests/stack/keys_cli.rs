//! `connector keys …`, `connector files …` and `--source` (issue 15) in-process on a fresh stack: a key
//! rotation as the README walks it (add the new key beside the old, show its public half, remove the old),
//! a key about to expire showing on the connection, key material never printed, and the files commands.

use std::path::PathBuf;

use domain::ConnectionId;
use integration::{CliRun, TestStack};
use platform::files::KeyringSecret;

async fn cli(stack: &TestStack, args: &[&str]) -> CliRun {
    let app_secret = format!("{}/concur-app", stack.stack_name());
    let mut full = vec!["--concur-app-secret", &app_secret];
    full.extend_from_slice(args);
    integration::connector(stack.stack_name(), &full).await
}

/// A key file in the temp directory, removed when dropped.
struct KeyFile(PathBuf);

impl KeyFile {
    fn new(name: &str, armored: &str) -> Self {
        let path = std::env::temp_dir().join(format!("keys-cli-{}-{name}.asc", std::process::id()));
        std::fs::write(&path, armored).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn fingerprint(secret: &str) -> String {
    let ring = files::Keyring::from_armored(&[files::KeySource::new(secret)]).unwrap();
    ring.keys()[0].fingerprint.clone()
}

#[tokio::test]
async fn a_key_rotation_through_the_cli_and_a_key_about_to_expire_shows() {
    let stack = TestStack::new().await;
    let created = cli(&stack, &["connections", "create", "acme", "--name", "Acme"]).await;
    assert_eq!(created.code, 0, "{}", created.all());
    let source = cli(&stack, &["connections", "update", "acme", "--source", "extract", "--delimiter", "pipe"]).await;
    assert_eq!(source.code, 0, "{}", source.all());

    let (old_secret, _) = files::generate_key("Acme AP 2025 <ap@acme.test>", Some(10)).unwrap();
    let (new_secret, new_public) = files::generate_key("Acme AP 2026 <ap@acme.test>", None).unwrap();
    let (old_file, new_file) = (KeyFile::new("old", &old_secret), KeyFile::new("new", &new_secret));
    let (old_fp, new_fp) = (fingerprint(&old_secret), fingerprint(&new_secret));

    let added = cli(&stack, &["keys", "add", "acme", "--file", old_file.path()]).await;
    assert_eq!(added.code, 0, "{}", added.all());
    assert!(added.out.contains(&old_fp), "{}", added.out);
    let show = cli(&stack, &["connections", "show", "acme"]).await;
    assert!(show.out.contains("reads extract files") && show.out.contains("pipe"), "{}", show.out);
    assert!(show.out.contains("EXPIRES SOON"), "a key within 30 days of expiry shows: {}", show.out);
    assert!(cli(&stack, &["connections", "list"]).await.out.contains("pgp key expiring"));

    // The same key again: refused, nothing changed.
    let again = cli(&stack, &["keys", "add", "acme", "--file", old_file.path()]).await;
    assert_eq!(again.code, 2, "{}", again.all());
    let added = cli(&stack, &["keys", "add", "acme", "--file", new_file.path()]).await;
    assert_eq!(added.code, 0, "{}", added.all());
    let listed = cli(&stack, &["keys", "list", "acme", "--json"]).await;
    let keys: serde_json::Value = serde_json::from_str(&listed.out).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 2, "{keys}");

    // The public half Concur gets encrypts files the connection decrypts.
    let public = cli(&stack, &["keys", "show", "acme", &new_fp]).await;
    assert!(public.out.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"), "{}", public.out);
    let secret_id = format!("{}/connections/acme/pgp", stack.stack_name());
    let stored: KeyringSecret = stack.secrets().get_json(&secret_id).await.unwrap().unwrap();
    let sources: Vec<files::KeySource<'_>> = stored.keys.iter().map(|k| files::KeySource::new(&k.armored)).collect();
    let ring = files::Keyring::from_armored(&sources).unwrap();
    let encrypted = files::encrypt_to(&public.out, b"EXTRACT|2026-12-01|0|0|1\n").unwrap();
    assert_eq!(files::decrypt(&ring, &encrypted).unwrap().key_fingerprint, new_fp);
    assert_eq!(public.out.trim(), new_public.trim(), "the public half of the key that was added");

    let removed = cli(&stack, &["keys", "remove", "acme", &old_fp]).await;
    assert_eq!(removed.code, 0, "{}", removed.all());
    let listed = cli(&stack, &["keys", "list", "acme"]).await;
    assert!(listed.out.contains(&new_fp) && !listed.out.contains(&old_fp), "{}", listed.out);
    assert!(!cli(&stack, &["connections", "show", "acme"]).await.out.contains("EXPIRES SOON"));

    // Key material is never printed by any of these commands.
    for run in [&added, &listed, &removed, &show] {
        assert!(!run.all().contains("PRIVATE KEY"), "{}", run.all());
    }
    let missing = cli(&stack, &["keys", "show", "acme", &old_fp]).await;
    assert_eq!(missing.code, 2, "{}", missing.all());
}

#[tokio::test]
async fn files_are_listed_and_taken_on_demand_only_for_a_connection_that_takes_files() {
    let stack = TestStack::new().await;
    assert_eq!(cli(&stack, &["connections", "create", "acme", "--name", "Acme"]).await.code, 0);
    let refused = cli(&stack, &["files", "take", "acme"]).await;
    assert_eq!(refused.code, 2, "a FIS connection takes no files: {}", refused.all());
    assert!(refused.err.contains("--source"), "{}", refused.err);
    assert_eq!(cli(&stack, &["connections", "update", "acme", "--source", "payment_batch"]).await.code, 0);
    let taken = cli(&stack, &["files", "take", "acme"]).await;
    assert_eq!(taken.code, 0, "{}", taken.all());
    let inbox = stack.env_of("ScheduledPollerFunction").required("INBOX_QUEUE_URL").unwrap();
    let received = stack.sqs().receive_message().queue_url(&inbox).max_number_of_messages(10).send().await.unwrap();
    let bodies: Vec<domain::inbox::InboxMessage> = received
        .messages
        .unwrap_or_default()
        .iter()
        .filter_map(|m| domain::inbox::InboxMessage::from_json(m.body.as_deref().unwrap_or("")).ok())
        .collect();
    let id = ConnectionId::parse("acme").unwrap();
    assert!(
        bodies.iter().any(|m| matches!(m, domain::inbox::InboxMessage::Files(r) if r.connection_id == id)),
        "{bodies:?}"
    );
    let listed = cli(&stack, &["files", "list", "acme"]).await;
    assert!(listed.out.contains("has seen no file yet"), "{}", listed.all());
}
