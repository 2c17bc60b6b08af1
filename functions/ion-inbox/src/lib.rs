//! ion-inbox: the IMS application endpoint Infor ION calls with the ERP's
//! verdicts on what erp-poster sent (`Acknowledge<Noun>`, `ConfirmBOD`),
//! `ANY /ion/{connection}/{…}` behind the HTTP API.
//!
//! ION's 2xx to a posted BOD only means "accepted for routing"; the ERP's
//! verdict arrives here later. The inbox does no posting and holds no
//! Concur access: it authenticates the call, reads the verdict, finds the
//! document in the ledger and queues an `erp_outcome` message in that
//! document's FIFO group, where erp-poster confirms the document to Concur
//! (every part accepted) or stops it (refused).
//!
//! Checks, in order: body size (413) → `Authorization: Bearer <token>`
//! equal to the connection's `…/connections/<id>/ion-inbox` secret, for a
//! connection that exists and is on Infor (401; [DEFAULT]: the reference
//! does not say how ION authenticates to an application endpoint, so the
//! token is configured on ION's side of the connection point). An unknown
//! connection gets the same 401, the same body and the same two reads as a
//! wrong token, so the inbox does not tell which connections exist → route
//! → multipart parts `ParameterRequest` + `MessagePayload` (400) → the
//! payload, inflated within [`MAX_INFLATED_BYTES`] (400) → the verdict XML (400)
//! → the document in the ledger (a verdict for an unknown document is
//! audited and answered 200: ION must not resend it forever) → queue (200,
//! or 503 when AWS fails, which ION retries).

use std::io::Read;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use domain::{ConcurDocumentId, Connection, ConnectionId, DocumentType, ErpKind, ErpOutcome};
use erp::infor::InforOutcome;
use platform::audit::AuditLog;
use platform::aws::SECRET_TTL;
use platform::connections::ConnectionStore;
use platform::http_api::{raw_body, response};
use platform::ledger::{LedgerKey, LedgerStore};
use platform::queue::WorkQueue;
use platform::secrets::SecretStore;
use platform::{Aws, CommonSettings, ConfigError, Env, StoreError};
use serde::Deserialize;

/// Verdict messages are a few KB; anything near this is not one.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most a DEFLATE payload may inflate to: a few KB deflated can inflate
/// to gigabytes.
pub const MAX_INFLATED_BYTES: usize = 4 * MAX_BODY_BYTES;
/// The function's name in audit events.
pub const FUNCTION: &str = "ion-inbox";

/// What the handler needs, built once per container.
pub struct Inbox {
    pub connections: ConnectionStore,
    pub ledger: LedgerStore,
    pub queue: WorkQueue,
    pub audit: AuditLog,
    pub secrets: SecretStore,
    /// `<stack>/connections/`: the inbox token is `<prefix><id>/ion-inbox`.
    pub secret_prefix: String,
}

/// The inbox could not be built (cold start).
pub use platform::SetupError;

/// What the inbox reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    pub ledger_table: String,
    /// `<stack>/connections/`: the inbox token is `<prefix><id>/ion-inbox`.
    pub secret_prefix: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonSettings::from_env(env)?,
            ledger_table: env.required("LEDGER_TABLE")?,
            secret_prefix: env.required("CONNECTION_SECRET_PREFIX")?,
        })
    }
}

impl Inbox {
    /// Reads the settings from `env` and builds the inbox.
    pub fn from_env(env: &Env, aws: &Aws) -> Result<Self, SetupError> {
        Ok(Self::build(Settings::from_env(env)?, aws))
    }

    /// Builds the stores (once per cold start).
    pub fn build(settings: Settings, aws: &Aws) -> Self {
        let common = &settings.common;
        Self {
            connections: aws.connections(&common.connections_table),
            ledger: aws.ledger(&settings.ledger_table),
            queue: aws.work_queue(&common.work_queue_url),
            audit: aws.audit(&common.audit, FUNCTION),
            secrets: aws.secrets(SECRET_TTL),
            secret_prefix: settings.secret_prefix,
        }
    }
}

/// The per-connection secret ION presents.
#[derive(Deserialize)]
struct InboxSecret {
    token: String,
}

/// `ParameterRequest` of an IMS multipart message (only what we read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParameterRequest {
    #[serde(default)]
    document_name: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

fn answer(status: u16, message: &str) -> ApiGatewayV2httpResponse {
    response(status, "application/json", serde_json::json!({ "message": message }).to_string())
}

/// Handles one call from ION, and counts it by its answer (`InboundCalls`;
/// ION's pings and protocol questions are not counted).
pub async fn handle(inbox: &Inbox, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let (Ok(reply) | Err(reply)) = answer_call(inbox, &request).await;
    if let Some(outcome) = reply.outcome() {
        platform::telemetry::inbound_call("ion_inbox", outcome);
    }
    reply.send(inbox).await
}

/// The steps of a call, in the order of the module's checks; each either
/// hands on what it read or ends the call with its [`Reply`].
async fn answer_call(inbox: &Inbox, request: &ApiGatewayV2httpRequest) -> Result<Reply, Reply> {
    let body = match raw_body(request) {
        Ok(body) if body.len() > MAX_BODY_BYTES => return Err(Reply::TooLarge),
        Ok(body) => body,
        Err(reason) => return Err(Reply::BadBody(reason)),
    };
    let path = request.raw_path.as_deref().unwrap_or_default();
    let Some((connection_text, action)) = path.strip_prefix("/ion/").and_then(|rest| rest.split_once('/')) else {
        return Err(Reply::UnknownPath);
    };
    let connection = authenticate(inbox, connection_text, request).await?;
    ims_operation(request.request_context.http.method.as_str(), action)?;
    let id = &connection.connection_id;
    let message = read_message(request, body).await.map_err(|reason| Reply::refused(id, &reason))?;
    let verdict = erp::infor::parse_outcome(&message.xml)
        .map_err(|e| Reply::refused(id, &format!("the verdict cannot be read: {e}")))?;
    let (business_id, document_type) = find_verdict_document(inbox, id, &verdict).await?;
    queue_outcome(inbox, &connection, &message.parameters, verdict, business_id, document_type).await
}

/// What ION is answered, and what the audit is told about a refusal.
enum Reply {
    /// 413: larger than a verdict can be.
    TooLarge,
    /// 400: the body cannot be read as API Gateway passed it.
    BadBody(&'static str),
    /// 404: not `/ion/<connection>/…`.
    UnknownPath,
    /// 401: unknown connection, not on Infor, or a wrong token (one answer).
    Unauthorized,
    /// 404: an IMS operation the inbox does not offer.
    UnknownOperation,
    /// 200 to ION's `ping`.
    Ping,
    /// 200 to ION's `protocol` question.
    Protocol,
    /// 400, audited as failed: the message or its verdict cannot be read.
    Refused { connection: ConnectionId, reason: String },
    /// 200, audited as skipped: ION must not resend a verdict for a
    /// document that is not ours or not in the ledger.
    UnknownDocument { connection: ConnectionId, reason: String },
    /// 503, which ION retries: a store or the queue failed.
    Unavailable(StoreError),
    /// 200: the verdict is queued (and audited) for erp-poster.
    Queued,
}

impl Reply {
    fn refused(connection: &ConnectionId, reason: &dyn std::fmt::Display) -> Self {
        Reply::Refused { connection: connection.clone(), reason: reason.to_string() }
    }

    /// The `Outcome` of the `InboundCalls` metric (docs/metrics.md).
    fn outcome(&self) -> Option<&'static str> {
        match self {
            Reply::Queued => Some("queued"),
            Reply::UnknownDocument { .. } => Some("ignored"),
            Reply::Unauthorized => Some("unauthorized"),
            Reply::Unavailable(_) => Some("unavailable"),
            Reply::TooLarge
            | Reply::BadBody(_)
            | Reply::UnknownPath
            | Reply::UnknownOperation
            | Reply::Refused { .. } => Some("refused"),
            Reply::Ping | Reply::Protocol => None,
        }
    }

    async fn send(self, inbox: &Inbox) -> ApiGatewayV2httpResponse {
        match self {
            Reply::TooLarge => answer(413, "the message is larger than a verdict can be"),
            Reply::BadBody(reason) => answer(400, reason),
            Reply::UnknownPath => answer(404, "unknown path: ION calls /ion/<connection>/v3/multipartMessage"),
            Reply::Unauthorized => answer(401, "missing or wrong bearer token"),
            Reply::UnknownOperation => answer(404, "unknown IMS operation"),
            Reply::Ping => answer(200, "ok"),
            // [DEFAULT] the IMS protocol this endpoint speaks.
            Reply::Protocol => response(200, "application/json", r#"{"protocol":"v3"}"#.to_owned()),
            Reply::Refused { connection, reason } => {
                record(inbox, connection.as_str(), "ion-inbox", "erp verdict received", "failed", reason.clone()).await;
                answer(400, &reason)
            }
            Reply::UnknownDocument { connection, reason } => {
                record(inbox, connection.as_str(), "ion-inbox", "erp verdict received", "skipped", reason.clone())
                    .await;
                answer(200, &reason)
            }
            Reply::Unavailable(e) => {
                tracing::error!(error = %e, "ion-inbox cannot reach its stores");
                answer(503, "temporarily unavailable; send the message again")
            }
            Reply::Queued => answer(200, "queued"),
        }
    }
}

impl From<StoreError> for Reply {
    fn from(e: StoreError) -> Self {
        Reply::Unavailable(e)
    }
}

/// The Infor connection the path names, when the bearer token is its inbox
/// token. Unknown, not on Infor, or a wrong token: one answer, after the
/// same two reads (connection, then secret), so nothing tells them apart.
async fn authenticate(
    inbox: &Inbox,
    connection_text: &str,
    request: &ApiGatewayV2httpRequest,
) -> Result<Connection, Reply> {
    let Ok(connection_id) = ConnectionId::parse(connection_text) else {
        tracing::warn!("ION call refused: the path names no valid connection id");
        return Err(Reply::Unauthorized);
    };
    let connection = inbox.connections.get(&connection_id).await?;
    let connection = connection.filter(|c| c.erp.as_ref().is_some_and(|e| e.kind() == ErpKind::Infor));
    let token_matches = authorized(inbox, &connection_id, request).await?;
    match connection {
        Some(connection) if token_matches => Ok(connection),
        known => {
            tracing::warn!(connection = %connection_id, known_infor_connection = known.is_some(),
                "ION call refused: missing or wrong inbox token, or no such Infor connection");
            Err(Reply::Unauthorized)
        }
    }
}

/// `Ok` for a posted message; the answer to every other IMS operation.
fn ims_operation(method: &str, action: &str) -> Result<(), Reply> {
    match (method, action) {
        ("GET", "ping") => Err(Reply::Ping),
        ("GET", "protocol") => Err(Reply::Protocol),
        ("POST", "v3/multipartMessage" | "v2/multipartMessage") => Ok(()),
        _ => Err(Reply::UnknownOperation),
    }
}

/// An IMS message: its parameters and its payload as text.
struct Message {
    parameters: ParameterRequest,
    xml: String,
}

/// The multipart parts of the call, the payload inflated when ION deflated it.
async fn read_message(request: &ApiGatewayV2httpRequest, body: Vec<u8>) -> Result<Message, Refusal> {
    let content_type = request.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (parameters, payload) = read_multipart(content_type, body).await?;
    let xml = decode_payload(&parameters, payload)?;
    Ok(Message { parameters, xml })
}

/// The Concur document the verdict answers, with its type from the ledger.
async fn find_verdict_document(
    inbox: &Inbox,
    connection: &ConnectionId,
    verdict: &InforOutcome,
) -> Result<(ConcurDocumentId, DocumentType), Reply> {
    let unknown = |reason: String| Reply::UnknownDocument { connection: connection.clone(), reason };
    let Some(business_id) = business_id_of(&verdict.document_id) else {
        let reason = format!("the verdict names document `{}`, which is not one of ours", cut(&verdict.document_id));
        return Err(unknown(reason));
    };
    match find_document(inbox, connection, &business_id).await? {
        Some(document_type) => Ok((business_id, document_type)),
        None => {
            let reason =
                format!("the verdict names document `{}`, which the ledger does not know", cut(business_id.as_str()));
            Err(unknown(reason))
        }
    }
}

/// Queues the verdict in the document's FIFO group for erp-poster. No
/// audit write: the queued message is the durable record, and the poster's
/// run audits the verdict with the rest of the document's story (its
/// "erp verdict" event); the ION message id stays in this log line, as the
/// ESS event id does in event-intake's (docs/performance.md, calls per
/// document).
async fn queue_outcome(
    inbox: &Inbox,
    connection: &Connection,
    parameters: &ParameterRequest,
    verdict: InforOutcome,
    business_id: ConcurDocumentId,
    document_type: DocumentType,
) -> Result<Reply, Reply> {
    let received_at = time::OffsetDateTime::now_utc();
    let connection_id = &connection.connection_id;
    let outcome = ErpOutcome {
        v: 1,
        kind: ErpOutcome::KIND.to_owned(),
        connection_id: connection_id.clone(),
        document_type,
        document_id: business_id,
        part: verdict.document_id.clone(),
        parts: erp::infor::parse_document_id(&verdict.document_id)
            .map_or(1, |p| u32::try_from(p.parts).unwrap_or(u32::MAX)),
        accepted: verdict.accepted,
        erp_id: verdict.erp_id.clone(),
        message: verdict.message.as_deref().map(cut),
        answers: cut(&verdict.bod_id),
        received_at: domain::clock::rfc3339(received_at),
    };
    let (owner, level) = inbox.connections.slot_owner(connection).await?;
    inbox.queue.send_outcome(&outcome, &owner, level).await?;
    let detail = format!(
        "{} {} for {} ({}) queued{}",
        parameters.document_name.as_deref().unwrap_or("verdict"),
        if verdict.accepted { "accepted" } else { "refused" },
        outcome.part,
        outcome.answers,
        parameters.message_id.as_deref().map(|m| format!("; ION message {}", cut(m))).unwrap_or_default()
    );
    tracing::info!(connection = %connection_id, document = %outcome.document_key(), %detail, "erp verdict queued");
    Ok(Reply::Queued)
}

/// The bearer token matches the connection's inbox secret (compared in
/// constant time). No secret stored: nobody is authorized.
async fn authorized(
    inbox: &Inbox,
    connection: &ConnectionId,
    request: &ApiGatewayV2httpRequest,
) -> Result<bool, StoreError> {
    let presented = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or_default();
    // Read even without a token: every refusal costs the same reads.
    let secret: Option<InboxSecret> =
        inbox.secrets.get_json(&format!("{}{connection}/ion-inbox", inbox.secret_prefix)).await?;
    Ok(secret.is_some_and(|s| {
        !presented.is_empty()
            && !s.token.is_empty()
            && subtle::ConstantTimeEq::ct_eq(s.token.as_bytes(), presented.as_bytes()).into()
    }))
}

/// Why a message from ION is refused (400) before its verdict is read.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("the body must be multipart/form-data with a boundary")]
    NotMultipart(#[source] multer::Error),
    #[error("the multipart body is malformed: {0}")]
    Malformed(#[source] multer::Error),
    #[error("part {name} cannot be read: {source}")]
    UnreadablePart {
        name: String,
        #[source]
        source: multer::Error,
    },
    #[error("ParameterRequest is not the expected JSON: {0}")]
    Parameters(#[source] serde_json::Error),
    #[error("the message needs the parts ParameterRequest and MessagePayload")]
    MissingParts,
    #[error("the DEFLATE payload cannot be inflated: {0}")]
    Inflate(#[source] std::io::Error),
    #[error(
        "the DEFLATE payload inflates to more than {MAX_INFLATED_BYTES} bytes; a verdict is a few KB, so it was \
         refused unread"
    )]
    TooLarge,
    /// The encoding ION named (cut to a loggable length).
    #[error("encoding `{0}` is not NONE or DEFLATE")]
    Encoding(String),
    #[error("the payload is not UTF-8 text")]
    NotUtf8(#[source] std::string::FromUtf8Error),
}

/// The two parts of an IMS multipart message.
async fn read_multipart(content_type: &str, body: Vec<u8>) -> Result<(ParameterRequest, Vec<u8>), Refusal> {
    let boundary = multer::parse_boundary(content_type).map_err(Refusal::NotMultipart)?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes::Bytes::from(body)) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut parameters, mut payload) = (None, None);
    while let Some(field) = multipart.next_field().await.map_err(Refusal::Malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        let data = field.bytes().await.map_err(|source| Refusal::UnreadablePart { name: name.clone(), source })?;
        match name.as_str() {
            "ParameterRequest" => {
                parameters = Some(serde_json::from_slice::<ParameterRequest>(&data).map_err(Refusal::Parameters)?);
            }
            "MessagePayload" => payload = Some(data.to_vec()),
            _ => {}
        }
    }
    match (parameters, payload) {
        (Some(p), Some(m)) => Ok((p, m)),
        _ => Err(Refusal::MissingParts),
    }
}

/// The payload as text, inflated when ION deflated it (bounded).
fn decode_payload(parameters: &ParameterRequest, payload: Vec<u8>) -> Result<String, Refusal> {
    let bytes = match parameters.encoding.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("NONE") => payload,
        Some("DEFLATE") => {
            let mut inflated = Vec::new();
            // One byte past the limit tells "too large" from "exactly the limit".
            flate2::read::ZlibDecoder::new(payload.as_slice())
                .take(MAX_INFLATED_BYTES as u64 + 1)
                .read_to_end(&mut inflated)
                .map_err(Refusal::Inflate)?;
            if inflated.len() > MAX_INFLATED_BYTES {
                return Err(Refusal::TooLarge);
            }
            inflated
        }
        Some(other) => return Err(Refusal::Encoding(cut(other))),
    };
    String::from_utf8(bytes).map_err(Refusal::NotUtf8)
}

/// The Concur business id a BOD's DocumentID names (the Infor adapter's
/// `<key>[.<supplier>][-<i>of<n>]`).
pub fn business_id_of(document_id: &str) -> Option<ConcurDocumentId> {
    let parts = erp::infor::parse_document_id(document_id)?;
    ConcurDocumentId::parse(&parts.key).ok()
}

/// The type of the ledger's document with this business id, if any.
async fn find_document(
    inbox: &Inbox,
    connection: &ConnectionId,
    business_id: &ConcurDocumentId,
) -> Result<Option<DocumentType>, StoreError> {
    for document_type in DocumentType::ALL {
        let key = LedgerKey::new(connection.clone(), document_type, business_id.clone());
        if inbox.ledger.get(&key).await?.is_some() {
            return Ok(Some(document_type));
        }
    }
    Ok(None)
}

async fn record(inbox: &Inbox, connection: &str, subject: &str, step: &str, outcome: &str, detail: String) {
    let mut event = inbox.audit.event(connection, subject, step, outcome);
    event.detail = Some(detail);
    if let Err(e) = inbox.audit.record(&event).await {
        tracing::warn!(error = %e, "audit event not recorded");
    }
}

/// Text from ION, bounded before it reaches a log, the audit or the queue.
fn cut(text: &str) -> String {
    domain::text::truncate(text, 300).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_name_the_concur_document() {
        assert_eq!(business_id_of("0C45F960C3064ED88C39-2of3").unwrap().as_str(), "0C45F960C3064ED88C39");
        assert_eq!(business_id_of("0C45F960C3064ED88C39.EMPUIEXP").unwrap().as_str(), "0C45F960C3064ED88C39");
        assert_eq!(business_id_of("0C45F960C3064ED88C39.AMEX-1of2").unwrap().as_str(), "0C45F960C3064ED88C39");
        assert!(business_id_of("").is_none());
    }
}
