//! event-intake: Concur Event Subscription Service webhooks
//! (`POST /concur/events`).
//!
//! Answer codes follow ESS's retry rules on purpose (events.md §6, §8): a
//! 2xx only once the work is durably queued (or there is nothing to do);
//! 5xx/401 make ESS retry for up to 72 hours; any other 4xx tells it never
//! to send that event again.
//!
//! Checks, in order: body size (413) → `Concur-Signature` over the raw body
//! (401, nothing else is looked at, nothing recorded) → JSON shape (400) →
//! notification fields (400) → the company's connection (404 when unknown)
//! → queue (202, or 503 when SQS or DynamoDB fails). Refusals of a genuine
//! (signed) delivery are written to the audit table under connection
//! [`UNROUTED`], so an operator can find events ESS will not resend.
//!
//! Duplicates and out-of-order deliveries are normal: every approved report
//! is queued with the FIFO deduplication id connection + document
//! ([`Outgoing::document`]), so repeats within SQS's 5-minute window become
//! one message, and the poster's ledger makes later ones harmless. The
//! event id is logged and audited, not used for deduplication: two events
//! about one document must collapse, which an event id cannot do.

use std::future::Future;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use concur::events::{Action, DocumentEvent, Notification, SIGNATURE_HEADER, SignatureError, WebhookVerifier};
use domain::{CompanyUuid, ConcurrencyLevel, Connection, ConnectionId};
use domain::{WorkItem, WorkSource};
use platform::StoreError;
use platform::http_api::{raw_body, response};
use platform::queue::Outgoing;

mod setup;

pub use setup::{LiveIntake, Settings, SetupError};

/// Larger bodies are refused before anything else: ESS events are ~1 KB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub use platform::audit::UNROUTED;

/// Looks up the connection of a Concur company and whose slots it uses.
pub trait ConnectionLookup: Send + Sync {
    fn find_by_company(
        &self,
        company: &CompanyUuid,
    ) -> impl Future<Output = Result<Option<Connection>, StoreError>> + Send;

    fn slot_owner(
        &self,
        connection: &Connection,
    ) -> impl Future<Output = Result<(ConnectionId, ConcurrencyLevel), StoreError>> + Send;
}

/// Sends one message to the work queue; `Ok` means SQS accepted it.
pub trait WorkSender: Send + Sync {
    fn send(&self, message: &Outgoing) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One audit record, before the store stamps time and retention on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// A connection id, or [`UNROUTED`].
    pub connection_id: String,
    /// `{doctype}#{docid}` for a document, `company-{uuid}` or `malformed` for unrouted events.
    pub subject: String,
    pub step: &'static str,
    /// ok | failed | skipped
    pub outcome: &'static str,
    pub detail: String,
}

/// Appends to the audit trail.
pub trait AuditSink: Send + Sync {
    fn record(&self, entry: AuditEntry) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What the handler needs, built once per container.
pub struct Intake<C, Q, A> {
    pub verifier: WebhookVerifier,
    pub connections: C,
    pub queue: Q,
    pub audit: A,
}

/// What became of one notification. Ordered by how much it matters for the
/// answer to a body that holds several: the most severe one is answered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Ignored(String),
    Queued,
    UnknownCompany(CompanyUuid),
    Malformed(String),
    /// Our side failed (AWS): ESS must retry.
    Unavailable,
}

fn json(status: u16, message: &str) -> ApiGatewayV2httpResponse {
    response(status, "application/json", serde_json::json!({ "message": message }).to_string())
}

/// Handles one webhook delivery, and counts it by its answer (`InboundCalls`).
pub async fn handle<C, Q, A>(intake: &Intake<C, Q, A>, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse
where
    C: ConnectionLookup,
    Q: WorkSender,
    A: AuditSink,
{
    // Boxed: one more layer of nested futures takes main's future past the compiler's layout depth limit.
    let response = Box::pin(answer(intake, request)).await;
    let outcome = match response.status_code {
        202 => "queued",
        200 => "ignored",
        401 => "unauthorized",
        404 => "unknown_company",
        400 | 413 => "refused",
        _ => "unavailable",
    };
    platform::telemetry::inbound_call("concur_events", outcome);
    response
}

async fn answer<C, Q, A>(intake: &Intake<C, Q, A>, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse
where
    C: ConnectionLookup,
    Q: WorkSender,
    A: AuditSink,
{
    // Refuse a huge body before decoding it (base64 is 4/3 the size).
    let encoded = request.body.as_deref().map_or(0, str::len);
    let limit = if request.is_base64_encoded { MAX_BODY_BYTES.div_ceil(3) * 4 } else { MAX_BODY_BYTES };
    if encoded > limit {
        tracing::warn!(bytes = encoded, "refused an oversized event");
        return json(413, "the event body is larger than 64 KiB");
    }
    let body = match raw_body(&request) {
        Ok(b) => b,
        Err(problem) => return json(400, problem),
    };
    if body.len() > MAX_BODY_BYTES {
        tracing::warn!(bytes = body.len(), "refused an oversized event");
        return json(413, "the event body is larger than 64 KiB");
    }

    // Nothing from an unsigned body is trusted, logged or recorded.
    let verified = match request.headers.get(SIGNATURE_HEADER) {
        None => Err(SignatureError::Missing),
        Some(value) => match value.to_str() {
            Ok(value) => intake.verifier.verify(value, &body),
            Err(_) => Err(SignatureError::NotBase64),
        },
    };
    if let Err(problem) = verified {
        tracing::warn!(reason = %problem, bytes = body.len(), "refused an event whose signature does not verify");
        let message = match problem {
            SignatureError::Missing => "the Concur-Signature header is missing",
            _ => "the Concur-Signature header does not verify over this body",
        };
        return json(401, message);
    }

    let received_at = time::OffsetDateTime::now_utc();
    let notifications = match concur::events::parse_notifications(&body) {
        Ok(n) => n,
        Err(problem) => {
            tracing::warn!(reason = %problem, "refused a signed event that is not a notification");
            let entry = AuditEntry {
                connection_id: UNROUTED.into(),
                subject: "malformed".into(),
                step: "rejected",
                outcome: "failed",
                detail: format!(
                    "a signed ESS delivery was refused (400, ESS will not resend it): {problem}; \
                     report the event to SAP Concur, the document is still picked up by the poll"
                ),
            };
            return match record(&intake.audit, entry).await {
                Ok(()) => json(400, &problem.to_string()),
                Err(()) => json(503, "the event could not be recorded; retry later"),
            };
        }
    };

    let mut worst = None;
    for notification in &notifications {
        let outcome = take(intake, notification, received_at).await;
        if worst.as_ref().is_none_or(|w| outcome > *w) {
            worst = Some(outcome);
        }
    }
    match worst {
        Some(Outcome::Queued) => json(202, "queued"),
        Some(Outcome::Ignored(reason)) => json(200, &format!("ignored: {reason}")),
        Some(Outcome::UnknownCompany(company)) => {
            json(404, &format!("no connection is set up for Concur company {company}"))
        }
        Some(Outcome::Malformed(reason)) => json(400, &reason),
        Some(Outcome::Unavailable) | None => json(503, "the event could not be queued; retry later"),
    }
}

/// Decides and does what one notification asks for.
async fn take<C, Q, A>(intake: &Intake<C, Q, A>, n: &Notification, received_at: time::OffsetDateTime) -> Outcome
where
    C: ConnectionLookup,
    Q: WorkSender,
    A: AuditSink,
{
    let event = n.event_id();
    let topic = n.topic_label();
    match n.action() {
        Action::Ignore { company, reason } => {
            tracing::info!(event, topic, company = company_label(company.as_ref()), reason, "event ignored");
            Outcome::Ignored(reason)
        }
        Action::Malformed { company, reason } => {
            tracing::warn!(event, topic, company = company_label(company.as_ref()), reason, "event refused");
            let entry = AuditEntry {
                connection_id: UNROUTED.into(),
                subject: company.as_ref().map_or_else(|| "malformed".to_owned(), |c| format!("company-{c}")),
                step: "rejected",
                outcome: "failed",
                detail: format!(
                    "event {event} ({topic}) refused (400, ESS will not resend it): {reason}; \
                     the document is still picked up by the poll"
                ),
            };
            match record(&intake.audit, entry).await {
                Ok(()) => Outcome::Malformed(format!("the notification cannot be used: {reason}")),
                Err(()) => Outcome::Unavailable,
            }
        }
        Action::Queue(document) => queue(intake, &event, &topic, document, received_at).await,
    }
}

/// An event for a company no connection is set up for: refused for good
/// (404), and audited as unrouted.
async fn unknown_company(audit: &impl AuditSink, event: &str, topic: &str, key: &str, company: CompanyUuid) -> Outcome {
    tracing::warn!(event, topic, %company, document = key, "event for a company with no connection");
    let entry = AuditEntry {
        connection_id: UNROUTED.into(),
        subject: format!("company-{company}"),
        step: "rejected",
        outcome: "failed",
        detail: format!(
            "event {event} ({topic}) for {key} refused (404, ESS will not resend it): no connection is set up for \
             Concur company {company}; connect the company (Quick Connect) and the poll picks the document up"
        ),
    };
    match record(audit, entry).await {
        Ok(()) => Outcome::UnknownCompany(company),
        Err(()) => Outcome::Unavailable,
    }
}

/// An event the connection does not take now (`reason`): not queued, the
/// poll picks the document up later; audited.
async fn ignored(
    audit: &impl AuditSink,
    event: &str,
    topic: &str,
    id: &ConnectionId,
    key: String,
    reason: &str,
) -> Outcome {
    tracing::info!(event, topic, connection = %id, document = key, reason, "event ignored");
    let entry = AuditEntry {
        connection_id: id.to_string(),
        subject: key,
        step: "received",
        outcome: "skipped",
        detail: format!(
            "webhook event {event} ({topic}) not queued: {reason}; the document stays READY in Concur and the poll \
             picks it up once the connection is ready"
        ),
    };
    match record(audit, entry).await {
        Ok(()) => Outcome::Ignored(format!("connection {id}: {reason}")),
        Err(()) => Outcome::Unavailable,
    }
}

async fn queue<C, Q, A>(
    intake: &Intake<C, Q, A>,
    event: &str,
    topic: &str,
    document: DocumentEvent,
    received_at: time::OffsetDateTime,
) -> Outcome
where
    C: ConnectionLookup,
    Q: WorkSender,
    A: AuditSink,
{
    let DocumentEvent { company, document_type, document_id } = document;
    let key = format!("{document_type}#{document_id}");
    let connection = match intake.connections.find_by_company(&company).await {
        Ok(Some(connection)) => connection,
        Ok(None) => return unknown_company(&intake.audit, event, topic, &key, company).await,
        Err(e) => {
            tracing::error!(event, %company, document = key, error = %e, "connection lookup failed; ESS will retry");
            return Outcome::Unavailable;
        }
    };
    let id = &connection.connection_id;

    if let Some(reason) = connection.not_taking_documents(Some(document_type)) {
        return ignored(&intake.audit, event, topic, id, key, reason).await;
    }

    let (owner, level) = match intake.connections.slot_owner(&connection).await {
        Ok(slots) => slots,
        Err(e) => {
            tracing::error!(event, connection = %id, document = key, error = %e, "slot lookup failed; ESS will retry");
            return Outcome::Unavailable;
        }
    };
    let item = WorkItem::new(id.clone(), document_type, document_id, WorkSource::Webhook, received_at);
    let message = Outgoing::document(item, &owner, level);
    if let Err(e) = intake.queue.send(&message).await {
        tracing::error!(event, connection = %id, document = key, error = %e, "queueing failed; ESS will retry");
        return Outcome::Unavailable;
    }
    // No audit write for a queued document: the poster's run records it ("received … from webhook, first
    // seen …") with the rest of its story in one write, and the webhook answers sooner (docs/performance.md,
    // calls per document). The event id stays in this log line.
    tracing::info!(event, topic, connection = %id, document = key, group = message.group.as_str(), "queued");
    Outcome::Queued
}

/// Records an entry; a failure is logged here and returned as `Err(())`.
async fn record(audit: &impl AuditSink, entry: AuditEntry) -> Result<(), ()> {
    let (connection, subject, step) = (entry.connection_id.clone(), entry.subject.clone(), entry.step);
    audit.record(entry).await.map_err(|e| {
        tracing::error!(connection, subject, step, error = %e, "audit write failed");
    })
}

fn company_label(company: Option<&CompanyUuid>) -> &str {
    company.map_or("-", CompanyUuid::as_str)
}

#[cfg(test)]
mod tests;
