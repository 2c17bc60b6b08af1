//! The commands: plain async functions over [`Deps`], writing to `out`.
//! Every check runs before the first write; writes are the connection item
//! first (conditional), then the ERP secret.

use domain::clock::now_rfc3339;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use concur::{AppCredentials, ConcurClient, TokenManager, TokenOptions};
use domain::mapping::ErpValues;
use domain::{Connection, ConnectionId, ConnectionStatus, ErpSettings, ErpUrl};
use erp::infor::IonApi;
use erp::{ErpAdapter, MasterData, MasterDataError, MasterDataRead};
use serde_json::Value;

use crate::cli::{CreateArgs, SettingsFlags, UpdateArgs};
use crate::dns::{Resolution, check_host};
use crate::render::{self, CredentialState};
use crate::settings::{self, Refusal};
use crate::{CliError, Deps, Outcome};

const DISABLED_REASON: &str = "switched off by an operator (`connector connections update ID --enable` switches it on)";

pub(crate) fn parse_id(raw: &str) -> Result<ConnectionId, CliError> {
    ConnectionId::parse(raw.trim()).map_err(|e| CliError::Refused(Refusal(e.to_string())))
}

pub(crate) async fn load(deps: &Deps, id: &ConnectionId) -> Result<Connection, CliError> {
    deps.connections.get(id).await?.ok_or_else(|| CliError::NotFound(id.to_string()))
}

async fn credential_state(deps: &Deps, id: &ConnectionId) -> CredentialState {
    let secret = deps.names.erp_secret(id);
    let keys = match deps.secrets.get_json::<Value>(&secret).await {
        Ok(Some(Value::Object(map))) => {
            let mut keys: Vec<String> = map.keys().cloned().collect();
            keys.sort();
            Ok(Some(keys))
        }
        Ok(Some(_)) => Err("it is not a JSON object".to_owned()),
        Ok(None) => Ok(None),
        Err(e) => Err(e.message),
    };
    CredentialState { secret, keys }
}

/// `connections list`
pub async fn list(deps: &Deps, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let all = deps.connections.list().await?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &all).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        render::table(&all, out)?;
    }
    Ok(Outcome::Done)
}

/// `connections show ID`
pub async fn show(deps: &Deps, raw_id: &str, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    let credentials = credential_state(deps, &id).await;
    if json {
        serde_json::to_writer_pretty(&mut *out, &render::details_json(&connection, &credentials))
            .map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        render::details(&connection, &credentials, out)?;
    }
    Ok(Outcome::Done)
}

/// A credentials file read and checked for the connection's ERP.
struct Credentials {
    file: String,
    value: Value,
    keys: Vec<String>,
}

fn read_credentials(path: Option<&Path>, erp: Option<&ErpSettings>) -> Result<Option<Credentials>, CliError> {
    let Some(path) = path else { return Ok(None) };
    let file = path.display().to_string();
    let Some(erp) = erp else {
        return Err(Refusal("--erp-credentials-file needs an ERP: add --erp acumatica|ifs_cloud|infor".into()).into());
    };
    let bytes = std::fs::read(path).map_err(|e| Refusal(format!("cannot read credentials file {file}: {e}")))?;
    let (value, keys) = settings::parse_credentials(erp, &file, &bytes)?;
    if let ErpSettings::Infor(_) = erp
        && let Err(problems) = IonApi::from_value(&value).and_then(|ionapi| ionapi.validate())
    {
        // Names what is wrong (missing keys, `pu` without its slash, a
        // service-account key of another tenant…), never a value.
        return Err(Refusal(format!("{file} is not a usable .ionapi file: {problems}")).into());
    }
    Ok(Some(Credentials { file, value, keys }))
}

/// Resolves each URL's host: refuses non-public answers, warns about names
/// that do not resolve (they may be created later; `test` checks again).
async fn check_resolution(deps: &Deps, urls: &[ErpUrl], out: &mut dyn Write) -> Result<(), CliError> {
    for url in urls {
        match check_host(url, deps.url_policy, &deps.resolver).await {
            Resolution::Public => {}
            Resolution::Unresolved(why) => writeln!(out, "warning: {why}; accepted, but check the name")?,
            Resolution::NotPublic(why) => return Err(Refusal(why).into()),
        }
    }
    Ok(())
}

/// The URLs that will receive credentials: the ERP URL (when new or
/// changed) and those inside a credentials file.
fn urls_to_resolve(
    deps: &Deps,
    before: Option<&ErpSettings>,
    after: Option<&ErpSettings>,
    credentials: Option<&Credentials>,
) -> Result<Vec<ErpUrl>, CliError> {
    let mut urls = Vec::new();
    if let Some(url) = after.and_then(ErpSettings::base_url)
        && before.and_then(ErpSettings::base_url) != Some(url)
    {
        urls.push(url.clone());
    }
    if let (Some(erp), Some(c)) = (after, credentials) {
        urls.extend(settings::credential_urls(erp.kind(), &c.value, deps.url_policy, &c.file)?);
    }
    Ok(urls)
}

/// Runs the checks that need the other connections.
async fn check_against_others(deps: &Deps, connection: &Connection, flags: &SettingsFlags) -> Result<(), CliError> {
    if flags.borrow_concurrency_from.is_none() && flags.company_uuid.is_none() {
        return Ok(());
    }
    let all = deps.connections.list().await?;
    settings::check_borrowing(connection, &all)?;
    settings::check_company_unique(connection, &all)?;
    Ok(())
}

async fn store_credentials(
    deps: &Deps,
    id: &ConnectionId,
    credentials: &Credentials,
    what_happened: &str,
) -> Result<(), CliError> {
    let secret = deps.names.erp_secret(id);
    let description = format!("ERP credentials of connection {id} (written by the connector CLI)");
    deps.secrets.put_json(&secret, &credentials.value, &description).await.map_err(|e| {
        CliError::Partial(format!(
            "connection {id} was {what_happened}, but storing its ERP credentials in secret {secret} failed: {e}. \
             Fix the cause (Secrets Manager permissions or quota in this account/region) and run `connector \
             connections update {id} --erp-credentials-file {}`",
            credentials.file
        ))
    })
}

/// `connections create ID --name NAME …`
pub async fn create(deps: &Deps, args: &CreateArgs, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(&args.id)?;
    if id.as_str() == platform::audit::UNROUTED {
        return Err(Refusal(format!(
            "`{id}` is reserved: the audit trail files webhooks no connection could take under it"
        ))
        .into());
    }
    let name = settings::text("--name", &args.name, 200)?;
    let parsed = settings::parse_flags(&args.settings, deps.url_policy)?;
    let now = now_rfc3339();
    let mut connection = Connection::new(id.clone(), name, None, &now);
    let kind = parsed.erp_kind;
    connection.flow = domain::FlowOptions::default_for(kind);
    settings::apply(&mut connection, &parsed)?;
    if args.disable {
        connection.status = ConnectionStatus::Disabled;
        connection.status_reason = Some(DISABLED_REASON.into());
    }
    let credentials = read_credentials(args.settings.erp_credentials_file.as_deref(), connection.erp.as_ref())?;
    if deps.connections.get(&id).await?.is_some() {
        return Err(Refusal(format!(
            "connection {id} already exists; change it with `connector connections update {id} …`"
        ))
        .into());
    }
    let urls = urls_to_resolve(deps, None, connection.erp.as_ref(), credentials.as_ref())?;
    check_resolution(deps, &urls, out).await?;
    check_against_others(deps, &connection, &args.settings).await?;

    deps.connections.create(&connection).await.map_err(|e| match e.conflict {
        true => {
            CliError::Refused(Refusal(format!("connection {id} already exists (created just now by someone else)")))
        }
        false => CliError::Store(e),
    })?;
    writeln!(out, "created connection {id} ({})", connection.status.as_str())?;
    match &credentials {
        Some(c) => {
            store_credentials(deps, &id, c, "created").await?;
            writeln!(
                out,
                "stored ERP credentials in secret {} (keys: {})",
                deps.names.erp_secret(&id),
                c.keys.join(", ")
            )?;
        }
        None if connection.erp.is_some() => writeln!(
            out,
            "no ERP credentials given: store them with `connector connections update {id} --erp-credentials-file FILE`"
        )?,
        None => {}
    }
    ensure_ion_inbox_token(deps, &id, connection.erp.as_ref(), out).await?;
    writeln!(out, "next: `connector connections test {id}`")?;
    Ok(Outcome::Done)
}

/// Top-level settings that differ (by their stored form).
fn changed_fields(before: &Connection, after: &Connection) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return vec!["settings".into()];
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| k.as_str() != "updated_at" && a.get(*k) != b.get(*k)).cloned().collect()
}

/// `connections update ID …`
pub async fn update(deps: &Deps, args: &UpdateArgs, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(&args.id)?;
    let name = args.name.as_deref().map(|n| settings::text("--name", n, 200)).transpose()?;
    let parsed = settings::parse_flags(&args.settings, deps.url_policy)?;
    let current = load(deps, &id).await?;
    let mut next = current.clone();
    settings::apply(&mut next, &parsed)?;
    if let Some(name) = name {
        next.name = name;
    }
    if args.no_borrow {
        next.borrow_concurrency_from = None;
    }
    if args.disable {
        next.status = ConnectionStatus::Disabled;
        next.status_reason = Some(DISABLED_REASON.into());
    } else if args.enable && current.status == ConnectionStatus::Disabled {
        // The grant's health is re-established by the next token refresh.
        next.status = if next.connected_at.is_some() { ConnectionStatus::Active } else { ConnectionStatus::Pending };
        next.status_reason = None;
    }
    let old_kind = current.erp.as_ref().map(ErpSettings::kind);
    let new_kind = next.erp.as_ref().map(ErpSettings::kind);
    if old_kind.is_some() && old_kind != new_kind && args.settings.erp_credentials_file.is_none() {
        let (old, new) = (old_kind.map(|k| k.to_string()).unwrap_or_default(), new_kind.map(|k| k.to_string()));
        return Err(Refusal(format!(
            "switching connection {id} from {old} to {} needs --erp-credentials-file with its credentials (the stored \
             ones are for {old})",
            new.unwrap_or_default()
        ))
        .into());
    }
    let credentials = read_credentials(args.settings.erp_credentials_file.as_deref(), next.erp.as_ref())?;
    let urls = urls_to_resolve(deps, current.erp.as_ref(), next.erp.as_ref(), credentials.as_ref())?;
    check_resolution(deps, &urls, out).await?;
    check_against_others(deps, &next, &args.settings).await?;

    let changed = changed_fields(&current, &next);
    if changed.is_empty() && credentials.is_none() {
        writeln!(out, "connection {id}: nothing to change")?;
        return Ok(Outcome::Done);
    }
    if !changed.is_empty() {
        next.updated_at = now_rfc3339();
        // Only over what was validated: a reconnect or token flag in between
        // makes this fail with "changed since it was read" instead of being undone.
        deps.connections.replace_if_unchanged(&next, &current.updated_at).await?;
        writeln!(out, "updated connection {id} (changed: {})", changed.join(", "))?;
    }
    if let Some(c) = &credentials {
        let what = if changed.is_empty() { "left as it was" } else { "updated" };
        store_credentials(deps, &id, c, what).await?;
        writeln!(out, "stored ERP credentials in secret {} (keys: {})", deps.names.erp_secret(&id), c.keys.join(", "))?;
    }
    ensure_ion_inbox_token(deps, &id, next.erp.as_ref(), out).await?;
    Ok(Outcome::Done)
}

/// An Infor connection needs the token ION presents to ion-inbox with its
/// verdicts: created once (256 random bits), never printed — the operator
/// copies it from Secrets Manager into ION's connection point.
async fn ensure_ion_inbox_token(
    deps: &Deps,
    id: &ConnectionId,
    erp: Option<&ErpSettings>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if !matches!(erp, Some(ErpSettings::Infor(_))) {
        return Ok(());
    }
    let secret = deps.names.ion_inbox_secret(id);
    if deps.secrets.get_json::<serde_json::Value>(&secret).await?.is_none() {
        let mut bytes = [0_u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut bytes);
        let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        let description = format!("Bearer token ION presents to ion-inbox for connection {id}");
        deps.secrets.put_json(&secret, &serde_json::json!({ "token": token }), &description).await.map_err(|e| {
            CliError::Partial(format!(
                "connection {id} is set up, but creating its ION inbox token in secret {secret} failed: {e}; run the \
                 update again"
            ))
        })?;
        writeln!(out, "created the ION inbox token in secret {secret} (value not printed)")?;
    }
    writeln!(
        out,
        "ION sends its verdicts to <IonInboxUrl stack output>/{id}/v3/multipartMessage with `Authorization: Bearer \
         <token from secret {secret}>`"
    )?;
    Ok(())
}

/// One check's line: `✓`, `✗` (with the reason and the fix) or `-` (skipped).
struct Report<'a> {
    out: &'a mut dyn Write,
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Report<'_> {
    fn pass(&mut self, what: &str, detail: &str) -> std::io::Result<()> {
        self.passed += 1;
        writeln!(self.out, "✓ {what}: {detail}")
    }

    fn fail(&mut self, what: &str, reason: &str, fix: &str) -> std::io::Result<()> {
        self.failed += 1;
        writeln!(self.out, "✗ {what}: {reason}")?;
        writeln!(self.out, "    fix: {fix}")
    }

    fn skip(&mut self, what: &str, why: &str) -> std::io::Result<()> {
        self.skipped += 1;
        writeln!(self.out, "- {what}: skipped: {why}")
    }
}

/// `connections test ID`: each side separately; non-zero exit when any check fails.
pub async fn test(deps: &Deps, raw_id: &str, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    let erp = connection.erp.as_ref().map_or_else(|| "no ERP".to_owned(), |e| e.kind().to_string());
    writeln!(out, "connection {id} ({}, {erp})", connection.status.as_str())?;
    let mut report = Report { out, passed: 0, failed: 0, skipped: 0 };
    concur_checks(deps, &connection, &mut report).await?;
    erp_checks(deps, &connection, &mut report).await?;
    let Report { out, passed, failed, skipped } = report;
    writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")?;
    Ok(if failed > 0 { Outcome::Failed } else { Outcome::Done })
}

async fn concur_checks(deps: &Deps, connection: &Connection, report: &mut Report<'_>) -> Result<(), CliError> {
    const TOKEN: &str = "Concur access token";
    const PROFILE: &str = "Concur company profile";
    let app_secret = &deps.names.concur_app_secret;
    let app = match deps.secrets.get_json::<AppCredentials>(app_secret).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            report.fail(
                TOKEN,
                &format!("the Concur application secret {app_secret} does not exist"),
                "create it (README, Deploy step 1) or name it with --concur-app-secret / CONCUR_APP_SECRET_ID",
            )?;
            return Ok(report.skip(PROFILE, "needs an access token")?);
        }
        Err(e) => {
            report.fail(
                TOKEN,
                &e.to_string(),
                "the secret must hold client_id, client_secret and app_base_url (README, Deploy step 1)",
            )?;
            return Ok(report.skip(PROFILE, "needs an access token")?);
        }
    };
    let client = ConcurClient::new(deps.http.clone());
    let store = deps.aws.concur_grants(deps.secrets.clone(), &deps.names.connections_table, &deps.names.secret_prefix);
    let tokens = TokenManager::new(client.clone(), app, store, TokenOptions::default());
    let token = match tokens.access_token(&connection.connection_id).await {
        Ok(token) => {
            report.pass(TOKEN, &format!("issued for datacenter {}", token.geolocation))?;
            token
        }
        Err(e) => {
            report.fail(TOKEN, &e.to_string(), e.advice())?;
            return Ok(report.skip(PROFILE, "needs an access token")?);
        }
    };
    match client.company_profile(&token).await {
        Ok(profile) => {
            let company = profile.id.as_deref().unwrap_or("no id");
            let expected = connection.company_uuid.as_ref().map(|c| c.as_str());
            if expected.is_some_and(|e| !e.eq_ignore_ascii_case(company)) {
                report.fail(
                    PROFILE,
                    &format!(
                        "the grant belongs to company {company}, but the connection is for {}",
                        expected.unwrap_or_default()
                    ),
                    "an admin of the right company must click Connect in the Concur App Center, or correct \
                     --company-uuid",
                )?;
            } else {
                let name = profile.name.as_deref().unwrap_or("(no name)");
                let edition = format!("{:?}", profile.edition()).to_lowercase();
                report.pass(PROFILE, &format!("{name} ({company}), edition {edition}"))?;
            }
        }
        Err(e) => report.fail(PROFILE, &e.to_string(), e.advice())?,
    }
    Ok(())
}

async fn erp_checks(deps: &Deps, connection: &Connection, report: &mut Report<'_>) -> Result<(), CliError> {
    let id = &connection.connection_id;
    let Some(settings) = &connection.erp else {
        return Ok(report.fail(
            "ERP settings",
            "no ERP is configured for this connection",
            &format!(
                "`connector connections update {id} --erp acumatica --erp-url URL --tenant T --erp-credentials-file \
                 FILE`"
            ),
        )?);
    };
    let checks = erp::checks_of(settings);
    let adapter = match erp_adapter(deps, id, settings).await {
        Ok(adapter) => adapter,
        Err(not_tried) => {
            report.fail(checks.sign_in, &not_tried.to_string(), &not_tried.fix(id, settings))?;
            return Ok(report.skip(checks.read, checks.read_needs)?);
        }
    };
    match adapter.sign_in(id).await {
        Ok(detail) => report.pass(checks.sign_in, &detail)?,
        Err(problem) => {
            report.fail(checks.sign_in, &problem.to_string(), &problem.fix)?;
            return Ok(report.skip(checks.read, checks.read_needs)?);
        }
    }
    match adapter.read_probe(id).await {
        Ok(detail) => report.pass(checks.read, &detail)?,
        Err(problem) => report.fail(checks.read, &problem.to_string(), &problem.fix)?,
    }
    if let Some(inbox_check) = checks.verdict_inbox {
        verdict_inbox_check(deps, id, inbox_check, report).await?;
    }
    Ok(())
}

/// Why no adapter of the connection's ERP could be built (so `connections
/// test` cannot try the sign-in).
#[derive(Debug, thiserror::Error)]
enum NoErpAdapter {
    #[error("{missing} (secret {secret})")]
    NoCredentials { missing: &'static str, secret: String },
    #[error(transparent)]
    CredentialsUnreadable(#[from] platform::StoreError),
    /// The ERP URL no longer resolves to an address the policy allows.
    #[error("{0}")]
    UrlNotPublic(String),
    #[error(transparent)]
    Refused(#[from] erp::ErpProblem),
}

impl NoErpAdapter {
    fn fix(&self, id: &ConnectionId, settings: &ErpSettings) -> String {
        match self {
            NoErpAdapter::NoCredentials { .. } | NoErpAdapter::CredentialsUnreadable(_) => {
                erp::checks_of(settings).store_again(id)
            }
            NoErpAdapter::UrlNotPublic(_) => format!("`connector connections update {id} --erp-url URL`"),
            NoErpAdapter::Refused(problem) => problem.fix.clone(),
        }
    }
}

/// The adapter of the connection's ERP, built from its stored credentials
/// once its URL is known to still resolve to an allowed address (DNS may
/// have changed since it was stored: checked before credentials are sent).
async fn erp_adapter(
    deps: &Deps,
    id: &ConnectionId,
    settings: &ErpSettings,
) -> Result<Box<dyn ErpAdapter>, NoErpAdapter> {
    let secret = deps.names.erp_secret(id);
    let Some(credentials) = deps.secrets.get_json::<Value>(&secret).await? else {
        return Err(NoErpAdapter::NoCredentials { missing: erp::checks_of(settings).missing_credentials, secret });
    };
    if let Some(url) = settings.base_url()
        && let Resolution::NotPublic(why) = check_host(url, deps.url_policy, &deps.resolver).await
    {
        return Err(NoErpAdapter::UrlNotPublic(why));
    }
    Ok(erp::adapter_for(deps.http.clone(), id, settings, credentials)?)
}

/// The token ion-inbox expects from the ERP's verdicts must be stored.
async fn verdict_inbox_check(
    deps: &Deps,
    id: &ConnectionId,
    what: &str,
    report: &mut Report<'_>,
) -> Result<(), CliError> {
    let inbox = deps.names.ion_inbox_secret(id);
    match deps.secrets.get_json::<serde_json::Value>(&inbox).await {
        Ok(Some(_)) => report.pass(what, &format!("stored in secret {inbox}"))?,
        Ok(None) => report.fail(
            what,
            "missing: ION's verdicts would be refused",
            &format!("`connector connections update {id}`"),
        )?,
        Err(e) => report.fail(what, &e.to_string(), "check Secrets Manager access")?,
    }
    Ok(())
}

/// Largest mapping file read: thousands of codes fit in far less.
const MAX_MAPPING_BYTES: u64 = 1024 * 1024;

/// `mapping import ID FILE.yaml`
pub async fn mapping_import(
    deps: &Deps,
    raw_id: &str,
    file: &std::path::Path,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let shown = file.display();
    let size = std::fs::metadata(file).map_err(|e| Refusal(format!("{shown} cannot be read: {e}")))?.len();
    if size > MAX_MAPPING_BYTES {
        return Err(Refusal(format!("{shown} is larger than 1 MiB; a mapping is a few KiB")).into());
    }
    let text = std::fs::read_to_string(file).map_err(|e| Refusal(format!("{shown} cannot be read as text: {e}")))?;
    let mapping = domain::mapping::Mapping::from_yaml(&text).map_err(|e| Refusal(format!("{shown}: {e}")))?;
    if deps.connections.get(&id).await?.is_none() {
        return Err(CliError::NotFound(id.to_string()));
    }
    let store = deps.aws.mappings(&deps.names.connections_table);
    let current = store.get(&id).await?.map(|m| m.revision);
    let revision = store.put(&id, &mapping, current, &now_rfc3339()).await?;
    writeln!(
        out,
        "stored the mapping of connection {id} (revision {revision}): {} accounts{}, {} payment codes, {} employees, {} dimensions, {} tax rules",
        mapping.accounts.len(),
        if mapping.default_account.is_some() { " + a default" } else { "" },
        mapping.parties.len(),
        mapping.employees.len(),
        mapping.dimensions.len(),
        mapping.taxes.len()
    )?;
    Ok(Outcome::Done)
}

/// `mapping export ID`
pub async fn mapping_export(deps: &Deps, raw_id: &str, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    if deps.connections.get(&id).await?.is_none() {
        return Err(CliError::NotFound(id.to_string()));
    }
    let store = deps.aws.mappings(&deps.names.connections_table);
    match store.get(&id).await? {
        Some(stored) => {
            writeln!(out, "# mapping of connection {id}, revision {} ({})", stored.revision, stored.updated_at)?;
            write!(out, "{}", stored.mapping.to_yaml())?;
        }
        None => writeln!(
            out,
            "# connection {id} has no mapping yet: write one and run `connector mapping import {id} FILE.yaml`"
        )?,
    }
    Ok(Outcome::Done)
}

/// `mapping check ID`: every ERP value the stored mapping names, looked up
/// in the ERP (read-only). Exit 1 when one is missing: that mapping would
/// stop documents at the ERP (IFS) or before sending (Infor).
pub async fn mapping_check(deps: &Deps, raw_id: &str, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    let store = deps.aws.mappings(&deps.names.connections_table);
    let Some(stored) = store.get(&id).await? else {
        return Err(Refusal(format!(
            "connection {id} has no mapping yet: write one and run `connector mapping import {id} FILE.yaml`"
        ))
        .into());
    };
    let mut report = Report { out, passed: 0, failed: 0, skipped: 0 };
    writeln!(report.out, "mapping of connection {id} (revision {}) against its ERP", stored.revision)?;
    match connection.erp.as_ref() {
        Some(settings) => match erp::checks_of(settings).master_data_unsupported {
            Some(why) => report.skip("ERP values", why)?,
            None => {
                let adapter = erp_adapter(deps, &id, settings).await.map_err(|e| match e {
                    NoErpAdapter::CredentialsUnreadable(store) => CliError::from(store),
                    refused => Refusal(format!("connection {id}: {refused}")).into(),
                })?;
                compare_master_data(&*adapter, &id, &stored.mapping.erp_values(), &mut report).await?;
            }
        },
        None => {
            report.fail("ERP settings", "no ERP is configured for this connection", "`connector connections update`")?
        }
    }
    let Report { out, passed, failed, skipped } = report;
    writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")?;
    Ok(if failed == 0 { Outcome::Done } else { Outcome::Failed })
}

/// Every list the mapping names values of (accounts, suppliers, each
/// dimension), read from the ERP and compared, one report line each.
async fn compare_master_data(
    adapter: &dyn ErpAdapter,
    id: &ConnectionId,
    wanted: &ErpValues,
    report: &mut Report<'_>,
) -> Result<(), CliError> {
    let fix = format!("create them in the ERP, or correct the mapping and `connector mapping import {id} FILE.yaml`");
    let mut lists = vec![(MasterData::GlAccounts, &wanted.accounts), (MasterData::Suppliers, &wanted.vendors)];
    lists.extend(wanted.dimensions.iter().map(|(name, values)| (MasterData::Dimension(name.clone()), values)));
    for (list, values) in lists {
        let what = adapter.master_data_label(&list);
        match adapter.read_master_data(&list).await {
            Ok(MasterDataRead::Known(known)) => compare_values(report, &what, values, &known, &fix)?,
            Ok(MasterDataRead::Refused(reason)) => report.fail(&what, &reason, &fix)?,
            Ok(MasterDataRead::NotUsed(why)) => report.skip(&what, why)?,
            Err(MasterDataError::List(e)) => {
                report.fail(&what, &e.to_string(), "check the connection with `connector connections test`")?
            }
            Err(MasterDataError::Unsupported(why)) => return Ok(report.skip("ERP values", why)?),
            Err(e @ MasterDataError::Erp { .. }) => return Err(CliError::Partial(e.to_string())),
        }
    }
    Ok(())
}

/// One line: every wanted value known, or the unknown ones (at most 20 shown).
fn compare_values(
    report: &mut Report<'_>,
    what: &str,
    wanted: &BTreeSet<String>,
    known: &BTreeSet<String>,
    fix: &str,
) -> std::io::Result<()> {
    let missing: Vec<&str> = wanted.iter().filter(|v| !known.contains(*v)).map(String::as_str).collect();
    if missing.is_empty() {
        return report.pass(what, &format!("all {} known", wanted.len()));
    }
    let shown = missing.iter().take(20).copied().collect::<Vec<_>>().join(", ");
    let more = if missing.len() > 20 { format!(" and {} more", missing.len() - 20) } else { String::new() };
    report.fail(what, &format!("{} of {} unknown: {shown}{more}", missing.len(), wanted.len()), fix)
}
