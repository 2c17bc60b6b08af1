//! The Quick Connect flow behind the page: exchange the App Center's request
//! token for a company grant, store it, create or refresh the connection,
//! make sure the webhooks exist, and ask for the first reference sync.
//!
//! Order matters for "nothing half done":
//! 1. the exchange (nothing stored yet if Concur refuses);
//! 2. the grant secret, *before* the connection says `active` — a connection
//!    that claims to be connected always has a grant behind it;
//! 3. the connection item (created, or updated keeping every setting and
//!    mapping when the company is already known);
//! 4. webhooks and the first sync: useful, not essential (the poller covers
//!    both), so their failure is reported on the page and in the audit, and
//!    the connection stands.
//!
//! Every step can be repeated: the request token stays valid for 24 hours,
//! so reloading the page after a failure simply runs the flow again.

use std::time::Duration;

use concur::app::AppCredentials;
use concur::client::{CompanyProfile, ConcurClient, ConcurError};
use concur::token::TokenResponse;
use concur::tokens::{AccessToken, StoredGrant};
use concur::webhooks::WebhookPlan;
use domain::clock::{epoch_rfc3339, now_rfc3339};
use domain::{CompanyUuid, Connection, ConnectionId, ConnectionStatus, Edition, ReferenceSyncRequest, SyncReason};
use platform::aws::SECRET_TTL;
use platform::{
    Aws, CommonSettings, ConfigError, Env, SetupError, audit::AuditLog, connections::ConnectionStore, queue::WorkQueue,
    secrets::SecretStore,
};

use crate::{ConnectOutcome, ConnectRequest, Connector, WebhookSetup};

/// The function's name in audit events.
const FUNCTION: &str = "oauth-callback";

/// Deployment settings of the flow (from the function's environment).
#[derive(Debug, Clone)]
pub struct QuickConnectSettings {
    pub app_secret_id: String,
    /// `<stack>/connections/`: the grant lives at `<prefix><connection>/concur`.
    pub secret_prefix: String,
    /// The webhook subscriptions every connect asserts.
    pub webhooks: WebhookPlan,
}

impl QuickConnectSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            app_secret_id: env.required("CONCUR_APP_SECRET_ID")?,
            secret_prefix: env.required("CONNECTION_SECRET_PREFIX")?,
            webhooks: platform::config::webhook_plan(env)?,
        })
    }

    pub fn grant_secret_id(&self, connection: &ConnectionId) -> String {
        format!("{}{connection}/concur", self.secret_prefix)
    }
}

/// The real connector: Concur over HTTP, state in AWS.
pub struct QuickConnect {
    pub concur: ConcurClient,
    pub secrets: SecretStore,
    pub connections: ConnectionStore,
    pub queue: WorkQueue,
    pub audit: AuditLog,
    pub settings: QuickConnectSettings,
}

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    pub quick_connect: QuickConnectSettings,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { common: CommonSettings::from_env(env)?, quick_connect: QuickConnectSettings::from_env(env)? })
    }
}

impl QuickConnect {
    /// Reads the settings from `env` and builds the flow: `main.rs`, the
    /// tests and the demo all build it this way.
    pub fn from_env(env: &Env, aws: &Aws) -> Result<Self, SetupError> {
        Ok(Self::build(Settings::from_env(env)?, aws))
    }

    /// Builds the Concur client and the stores (once per cold start).
    pub fn build(settings: Settings, aws: &Aws) -> Self {
        // An admin is waiting and API Gateway gives us 30 s in all: short
        // timeouts and few, short retries; a reload of the page retries more.
        let policy = transport::RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            request_timeout: Duration::from_secs(6),
        };
        let http = transport::HttpClient::for_deployment(policy, aws.url_policy());
        let common = &settings.common;
        Self {
            concur: ConcurClient::new(http),
            secrets: aws.secrets(SECRET_TTL),
            connections: aws.connections(&common.connections_table),
            queue: aws.work_queue(&common.work_queue_url),
            audit: aws.audit(&common.audit, FUNCTION),
            settings: settings.quick_connect,
        }
    }
}

impl Connector for QuickConnect {
    async fn connect(&self, request: ConnectRequest) -> ConnectOutcome {
        let company = request.company.clone();
        match self.run(request).await {
            Ok(outcome) => outcome,
            Err(Stop::Outcome(outcome)) => outcome,
            Err(Stop::Internal(reason)) => {
                tracing::error!(%company, %reason, "connect failed on our side; nothing the admin did");
                ConnectOutcome::Unavailable
            }
        }
    }
}

/// Why the flow stopped early.
enum Stop {
    /// An answer for the admin (their link, their company, Concur's availability).
    Outcome(ConnectOutcome),
    /// Our side failed (configuration, AWS): logged for the operator.
    Internal(String),
}

impl From<platform::StoreError> for Stop {
    fn from(e: platform::StoreError) -> Self {
        Stop::Internal(e.to_string())
    }
}

/// What the exchange with Concur gave: the tokens, the grant to store and
/// the company's profile when it could be read.
struct Exchanged {
    token: TokenResponse,
    grant: StoredGrant,
    profile: Option<CompanyProfile>,
}

impl QuickConnect {
    async fn run(&self, request: ConnectRequest) -> Result<ConnectOutcome, Stop> {
        let company = request.company.clone();
        let app: AppCredentials = self.secrets.get_json(&self.settings.app_secret_id).await?.ok_or_else(|| {
            Stop::Internal(format!("the Concur app secret {} does not exist", self.settings.app_secret_id))
        })?;
        // 1. The exchange: nothing is stored if Concur refuses.
        let Exchanged { token, grant, profile } = self.exchange(&app, &request).await?;

        let now = now_rfc3339();
        let existing = self.connections.find_by_company(&company).await?;
        let reconnected = existing.is_some();
        let connection = match existing {
            Some(c) => c,
            None => {
                let name = profile.as_ref().and_then(|p| p.name.clone());
                Connection::new(new_connection_id(&company, name.as_deref()), display_name(&company, name), None, &now)
            }
        };
        let id = connection.connection_id.clone();

        // 2. The grant first: a connection never claims more than it has.
        self.secrets
            .put_json(
                &self.settings.grant_secret_id(&id),
                &grant.to_secret_json(),
                &format!("Concur refresh token of connection {id} (written by oauth-callback and on rotation)"),
            )
            .await?;

        // 3. The connection: Concur fields refreshed, every setting kept.
        let link = ConcurLink {
            company: company.clone(),
            geolocation: token.geolocation.clone(),
            edition: profile.as_ref().map(|p| (p.edition(), p.marketing_name.clone())),
            connected_by: request.admin_user.clone(),
            connected_at: now.clone(),
            refresh_expires_at: grant.refresh_expires_at.and_then(epoch_rfc3339),
        };
        let connection = self.save_connection(connection, &link, reconnected, &now).await?;
        self.record_connected(&connection, &link, reconnected).await;

        // 4. Useful, not essential.
        let webhooks = self.subscribe(&app, &id).await;
        let sync_queued = self.queue_first_sync(&id).await;

        Ok(ConnectOutcome::Connected {
            connection_id: id.to_string(),
            company_name: profile.and_then(|p| p.name),
            edition: connection.edition,
            erp_configured: connection.erp.is_some(),
            reconnected,
            webhooks,
            sync_queued,
        })
    }

    /// Exchanges the request token for the company's grant, and reads the
    /// company's profile with it.
    async fn exchange(&self, app: &AppCredentials, request: &ConnectRequest) -> Result<Exchanged, Stop> {
        let company = &request.company;
        let token = self
            .concur
            .exchange_request_token(app, company, &request.request_token)
            .await
            .map_err(|e| refusal(company, e))?;
        let grant = StoredGrant::from_token(&token).ok_or_else(|| {
            Stop::Internal(format!("Concur's token answer for company {company} carried no refresh token"))
        })?;
        let access = AccessToken::from_response(&token);
        // The profile only adds the name and edition: a failure leaves them
        // unknown (shown to the operator) rather than failing the connect.
        let profile = match self.concur.company_profile(&access).await {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(%company, error = %e, "could not read the company profile; edition left unknown");
                None
            }
        };
        Ok(Exchanged { token, grant, profile })
    }

    /// Writes the Concur fields over the connection (created when new),
    /// keeping every operator setting; returns the connection as stored.
    async fn save_connection(
        &self,
        mut connection: Connection,
        link: &ConcurLink,
        reconnected: bool,
        now: &str,
    ) -> Result<Connection, Stop> {
        link.apply(&mut connection);
        if reconnected {
            let seen = std::mem::replace(&mut connection.updated_at, now.to_owned());
            if let Err(e) = self.connections.replace_if_unchanged(&connection, &seen).await {
                // Someone (an operator, a token flag) wrote in between: the
                // grant is stored; a reload of the page applies the Concur
                // fields over the newer settings.
                return Err(Stop::Internal(e.to_string()));
            }
        } else if let Err(e) = self.connections.create(&connection).await {
            if !e.conflict {
                return Err(e.into());
            }
            // Two clicks raced: the other one created it; keep its settings.
            let id = &connection.connection_id;
            let mut theirs = self.connections.get(id).await?.ok_or_else(|| Stop::Internal(e.to_string()))?;
            link.apply(&mut theirs);
            let seen = std::mem::replace(&mut theirs.updated_at, now.to_owned());
            self.connections.replace_if_unchanged(&theirs, &seen).await?;
            connection = theirs;
        }
        Ok(connection)
    }

    /// Logs and audits that the company is connected.
    async fn record_connected(&self, connection: &Connection, link: &ConcurLink, reconnected: bool) {
        let (id, company) = (&connection.connection_id, &link.company);
        tracing::info!(
            connection = %id,
            %company,
            datacenter = %link.geolocation,
            edition = ?connection.edition,
            connected_by = link.connected_by.as_deref().unwrap_or("-"),
            reconnected,
            "Concur company connected"
        );
        let mut event =
            self.audit.event(id.as_str(), "connection", if reconnected { "reconnected" } else { "connected" }, "ok");
        event.detail = Some(format!(
            "company {company} in {}; edition {}; by user {}",
            link.geolocation,
            edition_text(connection.edition, connection.edition_name.as_deref()),
            link.connected_by.as_deref().unwrap_or("unknown")
        ));
        self.record(&event).await;
    }

    /// Asks for the first reference sync; `false` (audited) when it could
    /// not be queued: the scheduled sync covers it.
    async fn queue_first_sync(&self, id: &ConnectionId) -> bool {
        let sync = ReferenceSyncRequest::new(id.clone(), SyncReason::Connected, time::OffsetDateTime::now_utc());
        match self.queue.send_reference_sync(&sync).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(connection = %id, error = %e, "could not queue the first reference sync; the scheduled sync will cover it");
                let mut event = self.audit.event(id.as_str(), "connection", "reference_sync_requested", "failed");
                event.detail = Some(e.to_string());
                self.record(&event).await;
                false
            }
        }
    }

    /// Creates or refreshes this deployment's webhook subscriptions. They
    /// belong to the application (Concur adds each connected company), so
    /// every connect re-asserts the same ids: idempotent, self-healing.
    async fn subscribe(&self, app: &AppCredentials, connection: &ConnectionId) -> WebhookSetup {
        let mut setup = WebhookSetup::default();
        let result = concur::webhooks::assert_subscriptions(&self.concur, app, &self.settings.webhooks).await;
        if let Ok(asserted) = &result {
            setup.subscribed.clone_from(&asserted.subscribed);
            setup.not_offered.clone_from(&asserted.not_offered);
        }
        let (outcome, detail) = match &result {
            Ok(_) => (
                "ok",
                format!(
                    "subscribed: {}; not offered to the application: {}",
                    list_or_none(&setup.subscribed),
                    list_or_none(&setup.not_offered)
                ),
            ),
            Err(e) => {
                tracing::error!(%connection, error = %e, advice = e.advice(), "webhook subscriptions could not be set up; polling still runs");
                setup.error = Some(e.to_string());
                ("failed", format!("{e} ({})", e.advice()))
            }
        };
        let mut event = self.audit.event(connection.as_str(), "connection", "webhooks", outcome);
        event.detail = Some(detail);
        self.record(&event).await;
        setup
    }

    /// The audit trail is evidence, not control flow: a failed write is
    /// logged and the connect goes on.
    async fn record(&self, event: &platform::audit::AuditEvent) {
        if let Err(e) = self.audit.record(event).await {
            tracing::error!(connection = %event.connection_id, step = %event.step, error = %e, "audit write failed");
        }
    }
}

/// What a Quick Connect learns about the company: written over a new or
/// known connection alike, leaving every operator setting as it is.
struct ConcurLink {
    company: CompanyUuid,
    geolocation: String,
    /// The profile's edition and raw marketing name, when it could be read.
    edition: Option<(Edition, Option<String>)>,
    connected_by: Option<String>,
    connected_at: String,
    refresh_expires_at: Option<String>,
}

impl ConcurLink {
    fn apply(&self, connection: &mut Connection) {
        connection.company_uuid = Some(self.company.clone());
        connection.geolocation = Some(self.geolocation.clone());
        if let Some((edition, name)) = &self.edition {
            connection.edition = Some(*edition);
            connection.edition_name = name.clone();
        }
        connection.connected_by = self.connected_by.clone();
        connection.connected_at = Some(self.connected_at.clone());
        connection.concur_refresh_expires_at = self.refresh_expires_at.clone();
        // A disabled connection stays off: reconnecting is not switching on.
        if connection.status != ConnectionStatus::Disabled {
            connection.status = ConnectionStatus::Active;
            connection.status_reason = None;
        }
    }
}

/// Maps a failed exchange to what the admin is told.
fn refusal(company: &CompanyUuid, error: ConcurError) -> Stop {
    match &error {
        ConcurError::Grant(e) if e.error == "invalid_grant" => {
            tracing::warn!(%company, code = ?e.code, "Concur refused the request token (expired, used up or wrong)");
            Stop::Outcome(ConnectOutcome::RequestTokenRefused)
        }
        // 53: "company is not enabled for this client".
        ConcurError::Grant(e) if e.code == Some(53) => {
            tracing::warn!(%company, "Concur says the company is not enabled for this application");
            Stop::Outcome(ConnectOutcome::CompanyNotEnabled)
        }
        ConcurError::Transport(_) => {
            tracing::warn!(%company, error = %error, "Concur could not be reached for the token exchange");
            Stop::Outcome(ConnectOutcome::ConcurUnavailable)
        }
        // invalid_client (our app credentials), bad request shapes, malformed answers: ours to fix.
        _ => Stop::Internal(format!("the token exchange for company {company} failed: {error} ({})", error.advice())),
    }
}

/// `<slug of the company name>-<first 8 of the UUID>`, or `concur-<8>`:
/// readable in logs and table keys, unique per company.
pub fn new_connection_id(company: &CompanyUuid, name: Option<&str>) -> ConnectionId {
    let short: String = company.as_str().chars().filter(char::is_ascii_hexdigit).take(8).collect();
    let mut slug = String::new();
    for c in name.unwrap_or("").chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_matches('-');
    let raw = if slug.is_empty() { format!("concur-{short}") } else { format!("{slug}-{short}") };
    // Both forms are in the ConnectionId alphabet; the fallback cannot fail.
    ConnectionId::parse(&raw).unwrap_or_else(|_| ConnectionId::parse("concur").expect("a literal id is valid"))
}

fn display_name(company: &CompanyUuid, name: Option<String>) -> String {
    name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| format!("Concur company {company}"))
}

fn edition_text(edition: Option<Edition>, raw: Option<&str>) -> String {
    match (edition, raw) {
        (Some(Edition::Professional), _) => "Professional".into(),
        (Some(Edition::Standard), _) => "Standard".into(),
        (_, Some(raw)) => format!("unknown (\"{raw}\")"),
        _ => "unknown".into(),
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_are_readable_and_unique_per_company() {
        let company = CompanyUuid::parse("8568a4cd-8ffc-49d6-9417-be2d69aa075f").unwrap();
        assert_eq!(new_connection_id(&company, Some("Sandbox Corp (EMEA)")).as_str(), "sandbox-corp-emea-8568a4cd");
        assert_eq!(new_connection_id(&company, None).as_str(), "concur-8568a4cd");
        assert_eq!(new_connection_id(&company, Some("  ---  ")).as_str(), "concur-8568a4cd");
        assert_eq!(new_connection_id(&company, Some("Ünïcode GmbH")).as_str(), "n-code-gmbh-8568a4cd");
        let long = "a".repeat(200);
        assert!(new_connection_id(&company, Some(&long)).as_str().len() <= 64);
    }

    #[test]
    fn the_grant_lives_under_the_connection() {
        let settings = QuickConnectSettings {
            app_secret_id: String::new(),
            secret_prefix: "Stack/connections/".into(),
            webhooks: WebhookPlan::new(String::new(), String::new(), None),
        };
        assert_eq!(settings.grant_secret_id(&ConnectionId::parse("acme").unwrap()), "Stack/connections/acme/concur");
    }
}
