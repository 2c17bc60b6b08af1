//! `connector keys …` and `connector files …` (issue 15): a connection's OpenPGP keys for encrypted extract
//! files, and the files it has seen.
//!
//! The private keys live in the connection's `pgp` secret (never printed); what is not secret about them
//! (fingerprint, user, expiry, added, last use) is on the connection, where `connections show` warns of a
//! key about to expire. Rotation: `keys add` the new key, `keys show` its public half to Concur, and `keys
//! remove` the old one once `keys list` shows no file has used it for a full extract cycle.

use std::io::Write;
use std::path::Path;

use domain::posting_source::{FILES, PgpKey};
use files::{KeyInfo, KeySource, Keyring};
use platform::files::{KeyringSecret, StoredKey};
use serde_json::json;

use crate::commands::{load, parse_id};
use crate::documents::queue_url;
use crate::settings::Refusal;
use crate::{CliError, Deps, Outcome};

/// Longest key or passphrase file read (an armored key is a few KB).
const MAX_KEY_FILE_BYTES: u64 = 1024 * 1024;

fn read_text(path: &Path, what: &str) -> Result<String, CliError> {
    let refuse = |why: String| CliError::Refused(Refusal(format!("{what} {}: {why}", path.display())));
    let size = std::fs::metadata(path).map_err(|e| refuse(e.to_string()))?.len();
    if size > MAX_KEY_FILE_BYTES {
        return Err(refuse(format!("{size} bytes is not a key file")));
    }
    let bytes = std::fs::read(path).map_err(|e| refuse(e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| refuse("not text (export the key with --armor)".into()))
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    domain::clock::rfc3339(at)
}

/// The connection's keys as stored (empty when it has none).
async fn stored(deps: &Deps, id: &domain::ConnectionId) -> Result<KeyringSecret, CliError> {
    Ok(deps.secrets.get_json::<KeyringSecret>(&deps.names.pgp_secret(id)).await?.unwrap_or_default())
}

/// What the stored keys are, read as a keyring (checks every one).
fn keyring(secret: &KeyringSecret) -> Result<Option<Keyring>, CliError> {
    if secret.keys.is_empty() {
        return Ok(None);
    }
    let sources: Vec<KeySource<'_>> = secret
        .keys
        .iter()
        .map(|k| match &k.passphrase {
            Some(p) => KeySource::with_passphrase(&k.armored, p),
            None => KeySource::new(&k.armored),
        })
        .collect();
    Keyring::from_armored(&sources).map(Some).map_err(|e| CliError::Refused(Refusal(e.to_string())))
}

fn shown_key(info: &KeyInfo, added_at: String) -> PgpKey {
    PgpKey {
        user_id: info.user_ids.first().cloned(),
        created_at: rfc3339(info.created),
        expires_at: info.expires.map(rfc3339),
        added_at,
        last_used_at: None,
    }
}

/// `keys add ID --file KEY.asc [--passphrase-file F]`
pub async fn add(
    deps: &Deps,
    raw_id: &str,
    file: &Path,
    passphrase_file: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    let armored = read_text(file, "the key file")?;
    let passphrase = passphrase_file.map(|p| read_text(p, "the passphrase file")).transpose()?;
    let passphrase = passphrase.map(|p| p.trim_end_matches(['\r', '\n']).to_owned());
    let mut secret = stored(deps, &id).await?;
    secret.keys.push(StoredKey { armored, passphrase });
    // The whole ring is read again: a duplicate or a bad key is refused before anything is written.
    let ring = keyring(&secret)?.ok_or_else(|| CliError::Refused(Refusal("no key given".into())))?;
    let info = ring.keys().last().cloned().ok_or_else(|| CliError::Refused(Refusal("no key given".into())))?;
    let description = format!("OpenPGP private keys of connection {id} (extract files)");
    deps.secrets.put_json(&deps.names.pgp_secret(&id), &secret, &description).await?;
    let mut next = connection.clone();
    next.pgp_keys.insert(info.fingerprint.clone(), shown_key(&info, rfc3339(time::OffsetDateTime::now_utc())));
    if let Err(e) = deps.connections.replace_if_unchanged(&next, &connection.updated_at).await {
        return Err(CliError::Partial(format!(
            "the key is stored and decrypts files, but its expiry was not recorded on the connection ({e}): run \
             `connector keys add` again to record it"
        )));
    }
    let expires = info.expires.map_or("never".to_owned(), rfc3339);
    writeln!(out, "added key {} ({}), expires {expires}", info.fingerprint, info.user_ids.join(", "))?;
    writeln!(out, "connection {id} now holds {} key(s)", ring.len())?;
    writeln!(out, "next: give Concur its public key: connector keys show {id} {}", info.fingerprint)?;
    Ok(Outcome::Done)
}

/// `keys list ID [--json]`
pub async fn list(deps: &Deps, raw_id: &str, as_json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    let ring = keyring(&stored(deps, &id).await?)?;
    let now = time::OffsetDateTime::now_utc();
    let rows: Vec<serde_json::Value> = ring
        .iter()
        .flat_map(|r| r.keys().iter())
        .map(|info| {
            let shown = connection.pgp_keys.get(&info.fingerprint);
            let expires = info.expires.map(rfc3339);
            json!({
                "fingerprint": info.fingerprint,
                "user": info.user_ids.first(),
                "expires_at": expires,
                "expires_soon": shown.is_some_and(|k| k.expires_soon(now)) || info.expires_within(30, now),
                "added_at": shown.map(|k| k.added_at.clone()),
                "last_used_at": shown.and_then(|k| k.last_used_at.clone()),
            })
        })
        .collect();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows).unwrap_or_default())?;
        return Ok(Outcome::Done);
    }
    if rows.is_empty() {
        writeln!(
            out,
            "connection {id} holds no key: encrypted files are refused (connector keys add {id} --file KEY.asc)"
        )?;
    }
    for row in &rows {
        let text = |field: &str| row[field].as_str().unwrap_or("-").to_owned();
        let warn = if row["expires_soon"] == json!(true) { "  EXPIRES SOON: add the next key" } else { "" };
        writeln!(
            out,
            "{}  {}  expires {}  added {}  last used {}{warn}",
            text("fingerprint"),
            text("user"),
            row["expires_at"].as_str().unwrap_or("never"),
            text("added_at"),
            row["last_used_at"].as_str().unwrap_or("never"),
        )?;
    }
    Ok(Outcome::Done)
}

/// `keys show ID FINGERPRINT`: the public key, armored.
pub async fn show(deps: &Deps, raw_id: &str, fingerprint: &str, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let ring = keyring(&stored(deps, &id).await?)?;
    let wanted = fingerprint.trim().to_ascii_uppercase();
    let info = ring.iter().flat_map(|r| r.keys().iter()).find(|k| k.fingerprint == wanted).ok_or_else(|| {
        CliError::Absent(format!("connection {id} holds no key {wanted}: see `connector keys list {id}`"))
    })?;
    write!(out, "{}", info.public_key_armored)?;
    Ok(Outcome::Done)
}

/// `keys remove ID FINGERPRINT`
pub async fn remove(deps: &Deps, raw_id: &str, fingerprint: &str, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    let mut secret = stored(deps, &id).await?;
    let wanted = fingerprint.trim().to_ascii_uppercase();
    let ring = keyring(&secret)?;
    let infos: Vec<KeyInfo> = ring.iter().flat_map(|r| r.keys().iter().cloned()).collect();
    let Some(index) = infos.iter().position(|k| k.fingerprint == wanted) else {
        return Err(CliError::Absent(format!("connection {id} holds no key {wanted}: see `connector keys list {id}`")));
    };
    secret.keys.remove(index);
    let description = format!("OpenPGP private keys of connection {id} (extract files)");
    deps.secrets.put_json(&deps.names.pgp_secret(&id), &secret, &description).await?;
    let mut next = connection.clone();
    let last_used = next.pgp_keys.remove(&wanted).and_then(|k| k.last_used_at);
    deps.connections.replace_if_unchanged(&next, &connection.updated_at).await?;
    writeln!(out, "removed key {wanted} (last used {})", last_used.as_deref().unwrap_or("never"))?;
    if secret.keys.is_empty() {
        writeln!(out, "connection {id} holds no key now: encrypted files are refused until one is added")?;
    }
    Ok(Outcome::Done)
}

/// `files list ID [--json]`: every file seen and its state.
pub async fn files_list(deps: &Deps, raw_id: &str, as_json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    load(deps, &id).await?;
    let store = deps.aws.reference(&deps.names.reference_table);
    let known = store.known_all(&id, FILES).await?;
    let mut rows: Vec<(String, String, String)> = Vec::with_capacity(known.len());
    for (file, record) in known {
        // The file's last audit event says what became of it (the reason, for a refused one).
        let events = crate::documents::audit(deps).history(&format!("{id}#file#{file}")).await?;
        let detail = events.last().and_then(|e| e.detail.clone()).unwrap_or_default();
        rows.push((file, record.state.unwrap_or_else(|| "-".into()), detail));
    }
    rows.sort();
    if as_json {
        let value: Vec<serde_json::Value> =
            rows.iter().map(|(file, state, detail)| json!({"file": file, "state": state, "detail": detail})).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&value).unwrap_or_default())?;
        return Ok(Outcome::Done);
    }
    if rows.is_empty() {
        writeln!(out, "connection {id} has seen no file yet")?;
    }
    for (file, state, detail) in rows {
        writeln!(out, "{state:<9} {file}  {detail}")?;
    }
    Ok(Outcome::Done)
}

/// `files take ID`: asks file-intake to take the connection's new files now.
pub async fn files_take(deps: &Deps, raw_id: &str, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    if connection.posting_source.resolve(connection.edition).files.is_none() {
        return Err(CliError::Refused(Refusal(format!(
            "connection {id} takes no files (its source is {:?}): `connections update {id} --source extract|payment_batch|auto`",
            connection.posting_source.choice
        ))));
    }
    let inbox = deps.aws.inbox_queue(queue_url(deps, &deps.names.inbox_queue).await?);
    inbox.send_files_request(&domain::inbox::FilesRequest::new(id.clone(), time::OffsetDateTime::now_utc())).await?;
    writeln!(out, "asked file-intake to take connection {id}'s new files; see `connector files list {id}`")?;
    Ok(Outcome::Done)
}
