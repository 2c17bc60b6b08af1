//! The commands: plain async functions over [`Deps`], writing to `out`.
//! Every check runs before the first write; writes are the connection item
//! first (conditional), then the ERP secret.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use concur::{AppCredentials, ConcurClient, TokenManager, TokenOptions};
use domain::{Connection, ConnectionId, ConnectionStatus, ErpSettings, ErpUrl};
use erp::acumatica::{AcumaticaClient, AcumaticaCredentials, AcumaticaError};
use erp::ifs::{IfsClient, IfsCredentials, IfsError};
use erp::infor::{InforClient, InforError, IonApi, Listing, MasterList};
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

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
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
    writeln!(out, "created connection {id} ({})", render::status(connection.status))?;
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
    writeln!(out, "connection {id} ({}, {erp})", render::status(connection.status))?;
    let mut report = Report { out, passed: 0, failed: 0, skipped: 0 };
    concur_checks(deps, &connection, &mut report).await?;
    erp_checks(deps, &connection, &mut report).await?;
    let Report { out, passed, failed, skipped } = report;
    writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")?;
    Ok(if failed > 0 { Outcome::ChecksFailed } else { Outcome::Done })
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
    match &connection.erp {
        None => report.fail(
            "ERP settings",
            "no ERP is configured for this connection",
            &format!(
                "`connector connections update {id} --erp acumatica --erp-url URL --tenant T --erp-credentials-file \
                 FILE`"
            ),
        )?,
        Some(ErpSettings::Acumatica(settings)) => acumatica_checks(deps, id, settings, report).await?,
        Some(ErpSettings::IfsCloud(settings)) => ifs_checks(deps, id, settings, report).await?,
        Some(ErpSettings::Infor(settings)) => infor_checks(deps, id, settings, report).await?,
    }
    Ok(())
}

async fn acumatica_checks(
    deps: &Deps,
    id: &ConnectionId,
    settings: &domain::AcumaticaSettings,
    report: &mut Report<'_>,
) -> Result<(), CliError> {
    const SIGN_IN: &str = "Acumatica sign-in";
    const READ: &str = "Acumatica read";
    let secret = deps.names.erp_secret(id);
    let store_again = format!("`connector connections update {id} --erp-credentials-file FILE`");
    let credentials = match deps.secrets.get_json::<AcumaticaCredentials>(&secret).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            report.fail(SIGN_IN, &format!("no ERP credentials are stored (secret {secret})"), &store_again)?;
            return Ok(report.skip(READ, "needs a sign-in")?);
        }
        Err(e) => {
            report.fail(SIGN_IN, &e.to_string(), &store_again)?;
            return Ok(report.skip(READ, "needs a sign-in")?);
        }
    };
    // DNS may have changed since the URL was stored: check before sending credentials.
    if let Resolution::NotPublic(why) = check_host(&settings.base_url, deps.url_policy, &deps.resolver).await {
        report.fail(SIGN_IN, &why, &format!("`connector connections update {id} --erp-url URL`"))?;
        return Ok(report.skip(READ, "needs a sign-in")?);
    }
    let client = AcumaticaClient::new(deps.http.clone(), settings.clone(), credentials.clone());
    if let Err(e) = client.authenticate().await {
        report.fail(SIGN_IN, &e.to_string(), &acumatica_fix(&e, id))?;
        return Ok(report.skip(READ, "needs a sign-in")?);
    }
    report.pass(
        SIGN_IN,
        &format!("tenant {} at {} as user {}", settings.tenant, settings.base_url, credentials.username),
    )?;
    match client.read_probe().await {
        Ok(()) => report.pass(READ, &format!("{}/{} Vendor", settings.endpoint_name, settings.endpoint_version))?,
        Err(e) => report.fail(READ, &e.to_string(), &acumatica_fix(&e, id))?,
    }
    Ok(())
}

async fn ifs_checks(
    deps: &Deps,
    id: &ConnectionId,
    settings: &domain::IfsCloudSettings,
    report: &mut Report<'_>,
) -> Result<(), CliError> {
    const SIGN_IN: &str = "IFS Cloud token";
    const READ: &str = "IFS Cloud read";
    let secret = deps.names.erp_secret(id);
    let store_again = format!("`connector connections update {id} --erp-credentials-file FILE`");
    let credentials = match deps.secrets.get_json::<IfsCredentials>(&secret).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            report.fail(SIGN_IN, &format!("no ERP credentials are stored (secret {secret})"), &store_again)?;
            return Ok(report.skip(READ, "needs a token")?);
        }
        Err(e) => {
            report.fail(SIGN_IN, &e.to_string(), &store_again)?;
            return Ok(report.skip(READ, "needs a token")?);
        }
    };
    if let Resolution::NotPublic(why) = check_host(&settings.base_url, deps.url_policy, &deps.resolver).await {
        report.fail(SIGN_IN, &why, &format!("`connector connections update {id} --erp-url URL`"))?;
        return Ok(report.skip(READ, "needs a token")?);
    }
    let fix = |e: &IfsError| match e.to_failure("").kind {
        domain::FailureKind::NeedsReauth => {
            format!("check the IAM client in IFS (confidential, service account enabled), then {store_again}")
        }
        domain::FailureKind::Retryable { .. } | domain::FailureKind::Parked => {
            "wait a few minutes and test again; nothing to change".to_owned()
        }
        domain::FailureKind::Permanent => format!(
            "check the URL, namespace, company and the service user's permission sets; \
             `connector connections update {id} …`"
        ),
    };
    let client = match IfsClient::new(deps.http.clone(), settings.clone(), credentials) {
        Ok(client) => client,
        Err(e) => {
            report.fail(SIGN_IN, &e.to_string(), &fix(&e))?;
            return Ok(report.skip(READ, "needs a token")?);
        }
    };
    if let Err(e) = client.authenticate().await {
        report.fail(SIGN_IN, &e.to_string(), &fix(&e))?;
        return Ok(report.skip(READ, "needs a token")?);
    }
    report.pass(SIGN_IN, &format!("realm {} at {}", settings.namespace, settings.base_url))?;
    match client.read_probe().await {
        Ok(()) => report.pass(READ, &format!("company {}: {}", settings.company, settings.api.account_set))?,
        Err(e) => report.fail(READ, &e.to_string(), &fix(&e))?,
    }
    Ok(())
}

async fn infor_checks(
    deps: &Deps,
    id: &ConnectionId,
    settings: &domain::InforSettings,
    report: &mut Report<'_>,
) -> Result<(), CliError> {
    const SIGN_IN: &str = "Infor ION token";
    const PING: &str = "Infor ION messaging";
    const INBOX: &str = "ION inbox token";
    let secret = deps.names.erp_secret(id);
    let store_again = format!("`connector connections update {id} --erp-credentials-file FILE.ionapi`");
    let ionapi = match deps.secrets.get_json::<serde_json::Value>(&secret).await {
        Ok(Some(value)) => match IonApi::from_value(&value) {
            Ok(ionapi) => ionapi,
            Err(problems) => {
                report.fail(SIGN_IN, &problems.to_string(), &store_again)?;
                return Ok(report.skip(PING, "needs a token")?);
            }
        },
        Ok(None) => {
            report.fail(SIGN_IN, &format!("no .ionapi file is stored (secret {secret})"), &store_again)?;
            return Ok(report.skip(PING, "needs a token")?);
        }
        Err(e) => {
            report.fail(SIGN_IN, &e.to_string(), &store_again)?;
            return Ok(report.skip(PING, "needs a token")?);
        }
    };
    let client = InforClient::new(deps.http.clone(), settings.clone(), ionapi);
    let fix = |e: &InforError| match e.to_failure("").kind {
        domain::FailureKind::NeedsReauth => format!("download the app's .ionapi file again, then {store_again}"),
        domain::FailureKind::Retryable { .. } | domain::FailureKind::Parked => {
            "wait a few minutes and test again; nothing to change".to_owned()
        }
        domain::FailureKind::Permanent => {
            format!("check the authorized app, the connection point and `connector connections update {id} --ion-…`")
        }
    };
    if let Err(e) = client.authenticate().await {
        report.fail(SIGN_IN, &e.to_string(), &fix(&e))?;
        return Ok(report.skip(PING, "needs a token")?);
    }
    report.pass(SIGN_IN, "the service account's password grant works")?;
    match client.ping().await {
        Ok(()) => report.pass(PING, "IMS answers the ping")?,
        Err(e) => report.fail(PING, &e.to_string(), &fix(&e))?,
    }
    let inbox = deps.names.ion_inbox_secret(id);
    match deps.secrets.get_json::<serde_json::Value>(&inbox).await {
        Ok(Some(_)) => report.pass(INBOX, &format!("stored in secret {inbox}"))?,
        Ok(None) => report.fail(
            INBOX,
            "missing: ION's verdicts would be refused",
            &format!("`connector connections update {id}`"),
        )?,
        Err(e) => report.fail(INBOX, &e.to_string(), "check Secrets Manager access")?,
    }
    Ok(())
}

/// Which command fixes an Acumatica failure.
fn acumatica_fix(e: &AcumaticaError, id: &ConnectionId) -> String {
    match e {
        AcumaticaError::InvalidClient { .. } => format!(
            "correct the credentials file and store it with `connector connections update {id} \
             --erp-credentials-file FILE` (or correct the tenant with `--tenant`)"
        ),
        AcumaticaError::InvalidUser { .. }
        | AcumaticaError::InvalidScope { .. }
        | AcumaticaError::TokenRefused { .. } => {
            format!(
                "fix it in Acumatica or in the credentials file, then `connector connections update {id} \
                 --erp-credentials-file FILE`"
            )
        }
        AcumaticaError::NoTokenEndpoint { .. } | AcumaticaError::Unreachable { .. } => {
            format!("`connector connections update {id} --erp-url URL` if the URL is wrong; then test again")
        }
        AcumaticaError::EndpointNotPublished { .. } => {
            format!("`connector connections update {id} --endpoint-version V` (and `--endpoint-name N` if it differs)")
        }
        AcumaticaError::Unauthorized { .. } | AcumaticaError::Forbidden { .. } => {
            "give the integration user the rights named above in Acumatica, then test again".to_owned()
        }
        AcumaticaError::Unavailable { .. } => "wait a few minutes and test again; nothing to change".to_owned(),
        AcumaticaError::Rejected { .. } | AcumaticaError::Malformed { .. } => {
            "check the instance's web service endpoint configuration; report the message if it persists".to_owned()
        }
        // Posting errors; `test` only signs in and reads, so these come from posting paths.
        AcumaticaError::Invalid { .. }
        | AcumaticaError::Refused { .. }
        | AcumaticaError::BadRequest { .. }
        | AcumaticaError::ReleaseFailed { .. } => {
            "see the message: it names the document, line and field Acumatica refused".to_owned()
        }
    }
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
    let wanted = stored.mapping.erp_values();
    let secret = deps.names.erp_secret(&id);
    let mut report = Report { out, passed: 0, failed: 0, skipped: 0 };
    writeln!(report.out, "mapping of connection {id} (revision {}) against its ERP", stored.revision)?;
    let fix = format!("create them in the ERP, or correct the mapping and `connector mapping import {id} FILE.yaml`");
    match connection.erp.as_ref() {
        Some(ErpSettings::IfsCloud(settings)) => {
            let credentials: IfsCredentials = deps
                .secrets
                .get_json(&secret)
                .await?
                .ok_or_else(|| Refusal(format!("connection {id} has no ERP credentials (secret {secret})")))?;
            let client =
                IfsClient::new(deps.http.clone(), settings.clone(), credentials).map_err(|e| Refusal(e.to_string()))?;
            let read = |e: IfsError| CliError::Partial(format!("reading from IFS Cloud failed: {e}"));
            let known: BTreeSet<String> =
                client.accounts().await.map_err(read)?.into_iter().map(|a| a.account).collect();
            compare_values(&mut report, "GL accounts", &wanted.accounts, &known, &fix)?;
            let known: BTreeSet<String> =
                client.suppliers().await.map_err(read)?.into_iter().filter(|s| s.in_company).map(|s| s.id).collect();
            compare_values(
                &mut report,
                &format!("suppliers of company {}", settings.company),
                &wanted.vendors,
                &known,
                &fix,
            )?;
            for (name, values) in &wanted.dimensions {
                let letter = match name.as_str() {
                    "cost_center" => settings.api.cost_center_code_part.chars().next(),
                    other => other.strip_prefix("code_").and_then(|l| l.chars().next()).filter(|_| other.len() == 6),
                };
                let Some(letter) = letter else {
                    report.skip(
                        &format!("dimension {name}"),
                        "IFS Cloud does not use it (name it cost_center or code_b…code_j)",
                    )?;
                    continue;
                };
                let known: BTreeSet<String> =
                    client.code_part_values(letter).await.map_err(read)?.into_iter().map(|v| v.value).collect();
                compare_values(&mut report, &format!("dimension {name} (code part {letter})"), values, &known, &fix)?;
            }
        }
        Some(ErpSettings::Infor(settings)) => {
            let value: serde_json::Value = deps
                .secrets
                .get_json(&secret)
                .await?
                .ok_or_else(|| Refusal(format!("connection {id} has no .ionapi file stored (secret {secret})")))?;
            let ionapi = IonApi::from_value(&value).map_err(|e| Refusal(e.to_string()))?;
            let client = InforClient::new(deps.http.clone(), settings.clone(), ionapi);
            let mut lists = vec![
                ("GL accounts".to_owned(), MasterList::GlAccounts, &wanted.accounts),
                ("suppliers".to_owned(), MasterList::Suppliers, &wanted.vendors),
            ];
            for (name, values) in &wanted.dimensions {
                lists.push((format!("dimension {name}"), MasterList::Dimension(name.clone()), values));
            }
            for (what, list, values) in lists {
                let read = client.master_list(&list, true).await;
                match read.map(|(listing, _)| listing) {
                    Ok(listing) => match listing.as_ref() {
                        Listing::Values(known) => compare_values(&mut report, &what, values, known, &fix)?,
                        Listing::Refused(reason) => {
                            report.fail(&what, &format!("Infor refused the read: {reason}"), &fix)?
                        }
                    },
                    Err(e) => {
                        report.fail(&what, &e.to_string(), "check the connection with `connector connections test`")?
                    }
                }
            }
        }
        Some(ErpSettings::Acumatica(_)) => {
            report.skip(
                "ERP values",
                "the Acumatica adapter does not read accounts and vendors yet; `connections test` proves access",
            )?;
        }
        None => {
            report.fail("ERP settings", "no ERP is configured for this connection", "`connector connections update`")?
        }
    }
    let Report { out, passed, failed, skipped } = report;
    writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")?;
    Ok(if failed == 0 { Outcome::Done } else { Outcome::ChecksFailed })
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
