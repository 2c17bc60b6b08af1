//! Creating Bills and JournalTransactions exactly once.
//!
//! Acumatica has no idempotency key (reference §4): the Concur key travels
//! in the document (`VendorRef` of a bill; the journal's `Description` or a
//! custom field) and every create looks it up first. A PUT that timed out or
//! got a 5xx may have committed, so it is never resent blindly: the key is
//! looked up again and the document created only if still absent.

use std::time::Duration;

use domain::HeldVendorDocument;
use serde_json::Value;
use transport::{Idempotency, TransportError, short_reason};

use super::documents::{AcumaticaBill, AcumaticaJournal, JOURNAL_KEY_PREFIX, JournalKeyField, check_key_field};
use super::{AcumaticaClient, AcumaticaError, SERVICE, error_message};
use crate::ErpReference;

/// Field errors quoted from one 422 before "and N more".
const ERRORS_SHOWN: usize = 12;
/// Release status polls, with these waits between them (≈ 60 s in total).
const POLL_DELAYS_MS: [u64; 12] = [200, 400, 800, 1600, 3000, 5000, 7000, 7000, 8000, 9000, 9000, 10000];

/// What a key lookup found.
pub(super) struct Found {
    pub(super) reference: ErpReference,
    /// Session GUID, for release.
    id: Option<String>,
    status: Option<String>,
}

/// Which document kind a call is about (screens for 403 messages, release actions).
#[derive(Clone, Copy)]
enum DocKind {
    Bill,
    Journal,
}

impl DocKind {
    fn entity(self) -> &'static str {
        match self {
            DocKind::Bill => "Bill",
            DocKind::Journal => "JournalTransaction",
        }
    }

    fn screen(self) -> &'static str {
        match self {
            DocKind::Bill => "bills (screen AP301000)",
            DocKind::Journal => "journal transactions (screen GL301000)",
        }
    }

    /// `$select` of the PUT answer: what [`found_in`] reads.
    fn saved_fields(self) -> &'static str {
        match self {
            DocKind::Bill => "Type,ReferenceNbr,Status",
            DocKind::Journal => "Module,BatchNbr,Status",
        }
    }

    fn release_action(self) -> &'static str {
        match self {
            DocKind::Bill => "ReleaseBill",
            DocKind::Journal => "ReleaseJournalTransaction",
        }
    }

    /// Status in which the document is complete, off hold and can be released.
    fn releasable(self, status: &str) -> bool {
        status == "Balanced"
    }
}

// OData string literals (reference §4); the whole `$filter` is URL-encoded by the query builder.
use crate::odata::literal;

/// The `value` of `field`, as sent.
pub(super) fn text<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
    record.get(field)?.get("value")?.as_str()
}

impl AcumaticaClient {
    /// The bill of `vendor` whose `VendorRef` is exactly `vendor_ref`
    /// (`Bill/<Type>/<ReferenceNbr>`, the keys of its URL).
    pub async fn find_bill_by_vendor_ref(
        &self,
        vendor: &str,
        vendor_ref: &str,
    ) -> Result<Option<ErpReference>, AcumaticaError> {
        Ok(self.lookup_bill(Some(vendor), vendor_ref).await?.map(|f| f.reference))
    }

    /// The journal transaction carrying Concur key `key` in `key_field`
    /// (`JournalTransaction/GL/<BatchNbr>`).
    pub async fn find_journal_by_key(
        &self,
        key_field: &JournalKeyField,
        key: &str,
    ) -> Result<Option<ErpReference>, AcumaticaError> {
        Ok(self.lookup_journal(key_field, key).await?.map(|f| f.reference))
    }

    /// Creates `bill` unless a bill with its vendor and vendor reference
    /// exists; either way returns its reference (released if the connection
    /// asks for released documents).
    pub async fn create_bill(&self, bill: &AcumaticaBill) -> Result<ErpReference, AcumaticaError> {
        let document = bill.label();
        bill.validate()
            .map_err(|problem| AcumaticaError::Invalid { document: document.clone(), problem: Box::new(problem) })?;
        let release = self.posting.release;
        // Created off hold only when it is to be released (reference §6a [DEFAULT]).
        let body = bill.to_wire(!release);
        let lookup = || self.lookup_bill(Some(&bill.vendor), &bill.vendor_ref);
        let found = self.create_once(DocKind::Bill, &document, &body, lookup).await?;
        self.finish(DocKind::Bill, &document, found).await
    }

    /// Creates `journal` (after the balance check) unless one with its key
    /// exists; either way returns its reference.
    pub async fn create_journal(&self, journal: &AcumaticaJournal) -> Result<ErpReference, AcumaticaError> {
        let document = journal.label();
        journal
            .validate()
            .map_err(|problem| AcumaticaError::Invalid { document: document.clone(), problem: Box::new(problem) })?;
        let body = journal.to_wire();
        let lookup = || self.lookup_journal(&journal.key_field, &journal.key);
        let found = self.create_once(DocKind::Journal, &document, &body, lookup).await?;
        self.finish(DocKind::Journal, &document, found).await
    }

    /// Lookup → PUT (→ outcome unknown → one more lookup). At most one PUT
    /// per call: a create whose outcome is unknown may commit after any
    /// lookup made now, so the next PUT waits for the pipeline's settle
    /// window and a fresh lookup.
    async fn create_once<F, Fut>(
        &self,
        kind: DocKind,
        document: &str,
        body: &Value,
        lookup: F,
    ) -> Result<Found, AcumaticaError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<Found>, AcumaticaError>>,
    {
        {
            if let Some(found) = lookup().await? {
                tracing::info!(service = SERVICE, document, reference = %found.reference.reference, "already in Acumatica; not created again");
                return Ok(found);
            }
            let url = format!("{}?$select={}", self.entity_url(kind.entity()), kind.saved_fields());
            let sent = self
                .send_authorized(Idempotency::Unsafe, |c, token| {
                    c.put(&url).bearer_auth(token).header(reqwest::header::ACCEPT, "application/json").json(body)
                })
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e @ (AcumaticaError::Unreachable { .. } | AcumaticaError::Unavailable { .. })) => {
                    // It may still commit, later than a lookup right now could
                    // see: never resend in this call. The pipeline waits out a
                    // settle window before the next attempt looks again.
                    tracing::warn!(service = SERVICE, document, error = %e, "create outcome unknown; looking the key up once");
                    return match lookup().await? {
                        Some(found) => Ok(found),
                        None => Err(e),
                    };
                }
                Err(e) => return Err(e),
            };
            let status = response.status().as_u16();
            if response.status().is_success() {
                let record = self.json_body(response, "a document create").await?;
                return found_in(kind, &record).ok_or_else(|| AcumaticaError::Malformed {
                    what: "a document create",
                    detail: "the saved record carries no document number".into(),
                });
            }
            let body = transport::bounded_text(response).await;
            if status == 422
                && let DocKind::Bill = kind
                && duplicate_vendor_ref(&body)
                && let Some(found) = lookup().await?
            {
                // Created concurrently (or by the unknown-outcome PUT) a moment ago.
                return Ok(found);
            }
            return Err(self.document_error(kind.screen(), document, status, &body).await);
        }
    }

    /// Releases the document when the connection asks for it and it is releasable.
    async fn finish(&self, kind: DocKind, document: &str, found: Found) -> Result<ErpReference, AcumaticaError> {
        let wants = self.posting.release && found.status.as_deref().is_some_and(|s| kind.releasable(s));
        if let (true, Some(id)) = (wants, found.id.as_deref()) {
            self.release(kind, document, &found.reference, id).await?;
        }
        Ok(found.reference)
    }

    /// `POST /{Entity}/{Action}` then polls `Location` until 204 (reference §6a).
    async fn release(
        &self,
        kind: DocKind,
        document: &str,
        reference: &ErpReference,
        id: &str,
    ) -> Result<(), AcumaticaError> {
        let failed = |message: String| AcumaticaError::ReleaseFailed {
            document: document.to_owned(),
            reference: reference.reference.clone(),
            message,
        };
        let url = format!("{}/{}", self.entity_url(kind.entity()), kind.release_action());
        let body = serde_json::json!({ "entity": { "id": id } });
        // Releasing twice is refused by Acumatica, not duplicated: safe to retry.
        let mut response = self
            .send_authorized(Idempotency::Safe, |c, token| c.post(&url).bearer_auth(token).json(&body))
            .await
            .map_err(|e| failed(e.to_string()))?;
        for delay in POLL_DELAYS_MS {
            match response.status().as_u16() {
                204 | 200 => return Ok(()),
                202 => {}
                status => {
                    let body = transport::bounded_text(response).await;
                    return Err(failed(format!("HTTP {status}: {}", error_message(&body))));
                }
            }
            let Some(location) = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()) else {
                return Err(failed("Acumatica accepted the release but gave no status URL to follow".into()));
            };
            // Used verbatim: an absolute path resolves against the instance's origin.
            let base = reqwest::Url::parse(self.base())
                .map_err(|e| failed(format!("the instance URL `{}` is not usable: {e}", self.base())))?;
            let poll_url = base.join(location).map_err(|e| {
                failed(format!("the release status URL `{}` is not usable: {e}", short_reason(location)))
            })?;
            // The poll carries the bearer token: only ever to the instance itself.
            if poll_url.origin() != base.origin() {
                return Err(failed(format!(
                    "Acumatica pointed the release status at another server ({}), which is not polled with the \
                     access token; check that the ERP URL is the instance's own address (no proxy rewriting \
                     Location headers)",
                    short_reason(&poll_url.origin().ascii_serialization())
                )));
            }
            tokio::time::sleep(Duration::from_millis(delay)).await;
            response = self
                .send_authorized(Idempotency::Safe, |c, token| c.get(poll_url.clone()).bearer_auth(token))
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        Err(failed("it was still running after a minute; check the document in Acumatica".into()))
    }

    /// Every bill and debit adjustment whose `VendorRef` is exactly
    /// `vendor_ref`, on any vendor.
    pub async fn bills_by_vendor_ref(&self, vendor_ref: &str) -> Result<Vec<HeldVendorDocument>, AcumaticaError> {
        let filter = format!("VendorRef eq {}", literal(vendor_ref));
        let rows = self.list(DocKind::Bill, &filter, "Type,ReferenceNbr,Status,Vendor,VendorRef", None).await?;
        Ok(rows
            .iter()
            .filter(|r| text(r, "VendorRef") == Some(vendor_ref))
            .filter_map(|r| {
                Some(HeldVendorDocument {
                    reference: found_in(DocKind::Bill, r)?.reference.reference,
                    vendor: text(r, "Vendor")?.to_owned(),
                })
            })
            .collect())
    }

    pub(super) async fn lookup_bill(
        &self,
        vendor: Option<&str>,
        vendor_ref: &str,
    ) -> Result<Option<Found>, AcumaticaError> {
        // By vendor and key: one Concur document may bill several vendors
        // (the employee and a card issuer) under the same key.
        let mut filter = format!("VendorRef eq {}", literal(vendor_ref));
        if let Some(vendor) = vendor {
            filter = format!("Vendor eq {} and {filter}", literal(vendor));
        }
        let rows = self.list(DocKind::Bill, &filter, "Type,ReferenceNbr,Status,Vendor,VendorRef", None).await?;
        // Acumatica compares text case-insensitively; another case is another
        // Concur key, and creating it then fails loudly on the duplicate.
        let hits: Vec<&Value> = rows.iter().filter(|r| text(r, "VendorRef") == Some(vendor_ref)).collect();
        Ok(pick(DocKind::Bill, vendor_ref, &hits))
    }

    async fn lookup_journal(&self, key_field: &JournalKeyField, key: &str) -> Result<Option<Found>, AcumaticaError> {
        check_key_field(key_field).map_err(|problem| AcumaticaError::Invalid {
            document: format!("the journal transaction lookup for Concur key `{key}`"),
            problem: Box::new(problem),
        })?;
        let select = "Module,BatchNbr,Status,Description";
        let hits: Vec<Value> = match key_field {
            JournalKeyField::Description => {
                let prefix = format!("{JOURNAL_KEY_PREFIX}{key}");
                let filter = format!("Module eq 'GL' and startswith(Description,{})", literal(&prefix));
                let rows = self.list(DocKind::Journal, &filter, select, None).await?;
                // `Concur CNQ-1` must not match `Concur CNQ-12 …`.
                rows.into_iter()
                    .filter(|r| {
                        text(r, "Description")
                            .and_then(|d| d.strip_prefix(prefix.as_str()))
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
                    })
                    .collect()
            }
            JournalKeyField::Custom { field } => {
                let custom = format!("{}.{field}", JournalKeyField::HEADER_VIEW);
                let filter = format!("Module eq 'GL' and cf.String(f='{custom}') eq {}", literal(key));
                let rows = self.list(DocKind::Journal, &filter, select, Some(&custom)).await?;
                rows.into_iter()
                    .filter(|r| {
                        r.pointer(&format!("/custom/{}/{field}/value", JournalKeyField::HEADER_VIEW))
                            .and_then(Value::as_str)
                            == Some(key)
                    })
                    .collect()
            }
        };
        Ok(pick(DocKind::Journal, key, &hits.iter().collect::<Vec<_>>()))
    }

    /// `GET /{Entity}?$filter=…&$select=…` (always with `$select`, reference §4).
    async fn list(
        &self,
        kind: DocKind,
        filter: &str,
        select: &str,
        custom: Option<&str>,
    ) -> Result<Vec<Value>, AcumaticaError> {
        let mut query = vec![("$filter", filter.to_owned()), ("$select", select.to_owned())];
        if let Some(custom) = custom {
            query.push(("$custom", custom.to_owned()));
        }
        let what = format!("the {} lookup `{}`", kind.entity(), short_reason(filter));
        self.list_rows(kind.entity(), kind.screen(), &query, ("a document lookup", &what)).await
    }

    /// `GET /{entity}?{query}`: the records, none when Acumatica says no
    /// entity satisfies the condition. `screen` names the screen whose
    /// access a 401/403 is about; `what` names the kind of read (for an
    /// unreadable answer) and the call (for a refusal).
    pub(super) async fn list_rows(
        &self,
        entity: &str,
        screen: &'static str,
        query: &[(&str, String)],
        (read, what): (&'static str, &str),
    ) -> Result<Vec<Value>, AcumaticaError> {
        let url = self.entity_url(entity);
        let sent = self
            .send_authorized(Idempotency::Safe, |c, token| {
                c.get(&url).query(query).bearer_auth(token).header(reqwest::header::ACCEPT, "application/json")
            })
            .await;
        let response = match sent {
            Ok(r) => r,
            // Reference §9: "No entity satisfies the condition" means not found.
            Err(AcumaticaError::Unavailable { source: TransportError::Status { status: 500, body, .. }, .. })
                if no_entity(&body) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            return match self.json_body(response, read).await? {
                Value::Array(rows) => Ok(rows),
                _ => Err(AcumaticaError::Malformed { what: read, detail: "expected a JSON array of records".into() }),
            };
        }
        let body = transport::bounded_text(response).await;
        Err(self.document_error(screen, what, status, &body).await)
    }

    async fn json_body(&self, response: reqwest::Response, what: &'static str) -> Result<Value, AcumaticaError> {
        let bytes = transport::read_body(SERVICE, response)
            .await
            .map_err(|e| AcumaticaError::Malformed { what, detail: format!("the body could not be read: {e}") })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AcumaticaError::Malformed { what, detail: format!("the body is not JSON: {e}") })
    }

    /// A non-2xx answer (other than 429/5xx, which the transport reports) as an error.
    pub(super) async fn document_error(
        &self,
        screen: &'static str,
        document: &str,
        status: u16,
        body: &str,
    ) -> AcumaticaError {
        let document = document.to_owned();
        match status {
            400 => AcumaticaError::BadRequest { document, message: request_problem(body) },
            401 | 403 => self.access_refused(status, screen),
            404 => self.endpoint_not_published().await,
            422 => AcumaticaError::Refused { document, errors: field_errors(body) },
            _ => AcumaticaError::Rejected { status, what: "a document call", message: error_message(body) },
        }
    }
}

/// The first hit (several means duplicates already exist: say so in the log).
fn pick(kind: DocKind, key: &str, hits: &[&Value]) -> Option<Found> {
    let mut found = hits.first().and_then(|r| found_in(kind, r))?;
    if hits.len() > 1 {
        tracing::warn!(
            service = SERVICE,
            entity = kind.entity(),
            key,
            count = hits.len(),
            "several Acumatica documents carry one Concur key; using the first, reporting the others"
        );
        found.reference.duplicates =
            hits[1..].iter().filter_map(|r| found_in(kind, r)).map(|f| f.reference.reference).collect();
    }
    Some(found)
}

/// The reference of a returned record: its entity and key values, as in its URL.
fn found_in(kind: DocKind, record: &Value) -> Option<Found> {
    let reference = match kind {
        DocKind::Bill => format!("Bill/{}/{}", text(record, "Type").unwrap_or("Bill"), text(record, "ReferenceNbr")?),
        DocKind::Journal => {
            format!("JournalTransaction/{}/{}", text(record, "Module").unwrap_or("GL"), text(record, "BatchNbr")?)
        }
    };
    Some(Found {
        reference: ErpReference::new(reference),
        id: record.get("id").and_then(Value::as_str).map(str::to_owned),
        status: text(record, "Status").map(str::to_owned),
    })
}

fn no_entity(body: &str) -> bool {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("exceptionType")?.as_str().map(|t| t.ends_with("NoEntitySatisfiesTheConditionException")))
        .unwrap_or(false)
}

/// A 422 on the bill's `VendorRef`: the duplicate-reference check fired.
fn duplicate_vendor_ref(body: &str) -> bool {
    serde_json::from_str::<Value>(body).ok().and_then(|v| v.pointer("/VendorRef/error").cloned()).is_some()
}

/// Every `error` in an entity-shaped 422 body, worded for an operator:
/// "line 2 Account `99999`: 'Account' cannot be found in the system.".
pub(crate) fn field_errors(body: &str) -> String {
    let Ok(root) = serde_json::from_str::<Value>(body) else { return short_reason(body.trim()) };
    let mut errors = Vec::new();
    collect(&root, "", &mut errors);
    let generic = root.get("error").and_then(Value::as_str).map(str::to_owned);
    if errors.is_empty() {
        return generic.map(|g| short_reason(&g)).unwrap_or_else(|| error_message(body));
    }
    let shown = errors.len().min(ERRORS_SHOWN);
    let mut text = errors[..shown].join("; ");
    if errors.len() > shown {
        text.push_str(&format!("; and {} more", errors.len() - shown));
    }
    text
}

/// Walks a record: its own non-generic `error`, wrapped fields, detail lines.
fn collect(record: &Value, place: &str, out: &mut Vec<String>) {
    let Value::Object(members) = record else { return };
    if let Some(message) = members.get("error").and_then(Value::as_str)
        && (!place.is_empty() || !message.contains("raised at least one error"))
    {
        let at = if place.is_empty() { "document".to_owned() } else { place.to_owned() };
        out.push(format!("{at}: {}", short_reason(message)));
    }
    // Header fields before lines: the order an operator reads the screen in.
    let (lines, fields): (Vec<_>, Vec<_>) = members.iter().partition(|(_, m)| m.is_array());
    for (name, member) in fields.into_iter().chain(lines) {
        match member {
            Value::Object(field) if field.contains_key("error") || field.contains_key("value") => {
                if let Some(message) = field.get("error").and_then(Value::as_str) {
                    let value = match field.get("value") {
                        Some(Value::String(s)) => format!(" `{}`", short_reason(s)),
                        Some(Value::Number(n)) => format!(" `{n}`"),
                        _ => String::new(),
                    };
                    let at = if place.is_empty() { String::new() } else { format!("{place} ") };
                    out.push(format!("{at}{name}{value}: {}", short_reason(message)));
                }
            }
            Value::Array(lines) if name != "files" => {
                for (i, line) in lines.iter().enumerate() {
                    let at = if name == "Details" { format!("line {}", i + 1) } else { format!("{name} {}", i + 1) };
                    collect(line, &at, out);
                }
            }
            // A linked entity (`MainContact`, its `Address`): "MainContact/Address Country `ZZ`: …".
            Value::Object(_) => {
                let at = if place.is_empty() { name.clone() } else { format!("{place}/{name}") };
                collect(member, &at, out);
            }
            _ => {}
        }
    }
}

/// A 400's `modelState` (binding errors) or `exceptionMessage`.
fn request_problem(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    if let Some(Value::Object(state)) = parsed.as_ref().and_then(|v| v.get("modelState")) {
        let parts: Vec<String> = state
            .iter()
            .map(|(member, problems)| {
                let problems: Vec<&str> = problems.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                format!("{member}: {}", problems.join(" "))
            })
            .collect();
        if !parts.is_empty() {
            return short_reason(&parts.join("; "));
        }
    }
    error_message(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_in_literals() {
        assert_eq!(literal("O'Hara"), "'O''Hara'");
    }

    #[test]
    fn field_errors_name_the_line_the_field_and_the_value() {
        let body = r#"{"id":"x","error":"Inserting 'Bill' record raised at least one error. Please review the errors.",
            "Vendor":{"value":"V999999","error":"'Vendor' cannot be found in the system."},
            "VendorRef":{"value":"K"},
            "Details":[{"id":"a","Account":{"value":"60100"}},
                       {"id":"b","Account":{"value":"99999","error":"'Account' cannot be found in the system."}}]}"#;
        assert_eq!(
            field_errors(body),
            "Vendor `V999999`: 'Vendor' cannot be found in the system.; line 2 Account `99999`: 'Account' cannot be \
             found in the system."
        );
        let batch = r#"{"error":"Batch is out of balance, please review.","Details":[]}"#;
        assert_eq!(field_errors(batch), "document: Batch is out of balance, please review.");
    }
}
