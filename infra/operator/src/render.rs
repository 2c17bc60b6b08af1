//! Plain-text views of connections and documents for an operator's
//! terminal. Nothing here ever sees a credential value: only the names of
//! the keys stored; ledger records and audit events hold none.

use domain::clock::rfc3339;
use std::io::{self, Write};

use domain::{Connection, ErpSettings, FlowOptions, PostingForm};
use platform::audit::AuditEvent;
use platform::ledger::{Confirmation, LedgerKey, LedgerRecord};
use serde_json::{Value, json};

/// What is known about a connection's ERP credentials secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialState {
    pub secret: String,
    /// `Ok(Some(keys))` stored; `Ok(None)` not stored; `Err` unreadable (why).
    pub keys: Result<Option<Vec<String>>, String>,
}

impl CredentialState {
    pub fn describe(&self) -> String {
        match &self.keys {
            Ok(Some(keys)) => format!("stored in secret {} (keys: {})", self.secret, keys.join(", ")),
            Ok(None) => format!("not stored (secret {} does not exist)", self.secret),
            Err(why) => format!("secret {} could not be read: {why}", self.secret),
        }
    }

    pub fn to_json(&self) -> Value {
        match &self.keys {
            Ok(Some(keys)) => json!({"secret": self.secret, "stored": true, "keys": keys}),
            Ok(None) => json!({"secret": self.secret, "stored": false}),
            Err(why) => json!({"secret": self.secret, "stored": null, "error": why}),
        }
    }
}

/// The status column: the status, and a key about to expire (as a refresh token about to expire shows as
/// `reconnect_soon`).
fn list_status(c: &Connection) -> String {
    let now = time::OffsetDateTime::now_utc();
    if c.pgp_keys.values().any(|k| k.expires_soon(now)) {
        format!("{} (pgp key expiring)", c.status.as_str())
    } else {
        c.status.as_str().to_owned()
    }
}

fn form(f: PostingForm) -> &'static str {
    match f {
        PostingForm::ApBill => "ap_bill",
        PostingForm::Journal => "journal",
    }
}

fn level(c: &Connection) -> String {
    match &c.borrow_concurrency_from {
        Some(lender) => format!("borrows {lender}"),
        None => c.concurrency_level.get().to_string(),
    }
}

/// One line per connection under a header, columns padded to fit.
pub fn table(connections: &[Connection], out: &mut dyn Write) -> io::Result<()> {
    if connections.is_empty() {
        return writeln!(out, "no connections yet: create one with `connector connections create ID --name NAME …`");
    }
    let header = ["ID", "NAME", "STATUS", "ERP", "COMPANY", "SCHEDULE", "LEVEL", "LAST POLL"];
    let rows: Vec<Vec<String>> = connections
        .iter()
        .map(|c| {
            vec![
                c.connection_id.to_string(),
                domain::text::ellipsized_to_width(&c.name, 30),
                list_status(c),
                c.erp.as_ref().map_or_else(|| "-".to_owned(), |e| e.kind().to_string()),
                c.company_uuid.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string),
                c.schedule.to_string(),
                level(c),
                c.last_poll_at.clone().unwrap_or_else(|| "never".to_owned()),
            ]
        })
        .collect();
    columns(&header, &rows, out)
}

/// Rows under a header, each column padded to its widest cell.
pub(crate) fn columns(header: &[&str], rows: &[Vec<String>], out: &mut dyn Write) -> io::Result<()> {
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}

/// Every setting of one connection, one per line.
pub fn details(c: &Connection, credentials: &CredentialState, out: &mut dyn Write) -> io::Result<()> {
    let mut line = |label: &str, value: &str| writeln!(out, "{label:<22}{value}");
    line("connection", c.connection_id.as_str())?;
    line("name", &c.name)?;
    let state = match &c.status_reason {
        Some(reason) => format!("{} ({reason})", c.status.as_str()),
        None => c.status.as_str().to_owned(),
    };
    line("status", &state)?;
    line(
        "concur company",
        c.company_uuid.as_ref().map_or("not set (set by Quick Connect or --company-uuid)", |u| u.as_str()),
    )?;
    let edition = match (&c.edition, &c.edition_name) {
        (Some(e), Some(name)) => format!("{e:?} ({name})").to_lowercase(),
        (Some(e), None) => format!("{e:?}").to_lowercase(),
        (None, _) => "unknown until connected".to_owned(),
    };
    line("concur edition", &edition)?;
    line("concur datacenter", c.geolocation.as_deref().unwrap_or("not connected yet"))?;
    let connected = match (&c.connected_at, &c.connected_by) {
        (Some(at), Some(by)) => format!("{at} by {by}"),
        (Some(at), None) => at.clone(),
        (None, _) => "never".to_owned(),
    };
    line("concur connected", &connected)?;
    line("concur refresh until", c.concur_refresh_expires_at.as_deref().unwrap_or("-"))?;
    match &c.erp {
        None => line("erp", "not configured (set it with `connections update ID --erp …`)")?,
        Some(ErpSettings::Acumatica(a)) => {
            line("erp", "acumatica")?;
            line("  url", a.base_url.as_str())?;
            line("  tenant", &a.tenant)?;
            line("  endpoint", &format!("{}/{}", a.endpoint_name, a.endpoint_version))?;
            line("  branch", a.branch.as_deref().unwrap_or("(the user's default)"))?;
        }
        Some(ErpSettings::IfsCloud(i)) => {
            line("erp", "ifs_cloud")?;
            line("  url", i.base_url.as_str())?;
            line("  namespace", &i.namespace)?;
            line("  company", &i.company)?;
        }
        Some(ErpSettings::Infor(i)) => {
            line("erp", "infor")?;
            line("  logical id", i.logical_id.as_deref().unwrap_or("-"))?;
        }
    }
    line("erp credentials", &credentials.describe())?;
    if let Some(hold) = &c.erp_hold {
        let what = match hold.kind {
            domain::ErpHoldKind::Refused => "refused the credentials".to_owned(),
            domain::ErpHoldKind::Unavailable => format!("posts failed in a row: {}", hold.failures),
        };
        line("erp hold", &format!("since {}: {what} ({})", hold.since, hold.reason))?;
    }
    line("schedule", &format!("{} (UTC)", c.schedule))?;
    line("last poll", c.last_poll_at.as_deref().unwrap_or("never"))?;
    if let Some(error) = &c.last_poll_error {
        line("last poll error", error)?;
    }
    let concurrency = match &c.borrow_concurrency_from {
        Some(lender) => {
            format!("borrows the slots of {lender} (own level {} unused)", c.concurrency_level.get())
        }
        None => format!("level {}", c.concurrency_level.get()),
    };
    line("concurrency", &concurrency)?;
    let types: Vec<&str> = c.enabled_document_types.iter().map(|t| t.as_str()).collect();
    line("document types", &types.join(", "))?;
    let FlowOptions { confirm_postings, expense_report_as, invoice_as, cash_advance_as } = c.flow;
    line("confirm postings", if confirm_postings { "yes" } else { "no" })?;
    line("expense reports as", form(expense_report_as))?;
    line("invoices as", form(invoice_as))?;
    line("cash advances as", form(cash_advance_as))?;
    source_details(c, &mut line)?;
    line("created", &c.created_at)?;
    line("updated", &c.updated_at)?;
    Ok(())
}

/// Where the connection's documents come from, and its OpenPGP keys (issue 15).
fn source_details(c: &Connection, line: &mut dyn FnMut(&str, &str) -> io::Result<()>) -> io::Result<()> {
    let source = &c.posting_source;
    let resolved = source.resolve(c.edition);
    let reads = match (resolved.fis, resolved.files) {
        (true, None) => "financial integration".to_owned(),
        (fis, Some(api)) => {
            let api = format!("{api:?}").to_lowercase().replace("paymentbatch", "payment batches");
            if fis { format!("financial integration and {api} files") } else { format!("{api} files") }
        }
        (false, None) => "nothing".to_owned(),
    };
    line("source", &format!("{} (reads {reads})", format!("{:?}", source.choice).to_lowercase()))?;
    if resolved.files.is_some() {
        let all = |v: &[String]| if v.is_empty() { "all".to_owned() } else { v.join(", ") };
        line("  definitions", &all(&source.definitions))?;
        line("  start jobs", if source.start_jobs { "yes" } else { "no (Concur's scheduled jobs)" })?;
        line(
            "  batches",
            &format!(
                "types {}; currencies {}; methods {}",
                all(&source.batch_types),
                all(&source.batch_currencies),
                all(&source.batch_payment_methods)
            ),
        )?;
        line("  delimiter", domain::posting_source::delimiter_name::name(source.delimiter))?;
        line("  files since", source.since.as_deref().unwrap_or("-"))?;
    }
    let now = time::OffsetDateTime::now_utc();
    for (fingerprint, key) in &c.pgp_keys {
        let expires = key.expires_at.as_deref().unwrap_or("never");
        let warning = if key.expires_soon(now) { "; EXPIRES SOON: add the next key (connector keys add)" } else { "" };
        line(
            "pgp key",
            &format!(
                "{fingerprint} expires {expires}, last used {}{warning}",
                key.last_used_at.as_deref().unwrap_or("never")
            ),
        )?;
    }
    Ok(())
}

/// `show --json`: the stored settings plus where the credentials are.
pub fn details_json(c: &Connection, credentials: &CredentialState) -> Value {
    let mut value = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("erp_credentials".into(), credentials.to_json());
    }
    value
}

/// A ledger record as JSON: identifiers, states, reasons and times.
pub fn ledger_json(r: &LedgerRecord) -> Value {
    json!({
        "connection_id": r.key.connection_id,
        "document_type": r.key.document_type,
        "document_id": r.key.document_id,
        "status": r.status,
        "erp_reference": r.erp_reference,
        "posting_form": r.posting_form,
        "confirmation": r.confirmation,
        "failed_step": r.failed_step,
        "failure_reason": r.failure_reason,
        "last_error": r.last_error,
        "holder": r.holder,
        "claim_expires_at": r.claim_expires_at.map(rfc3339),
        "claims": r.claims,
        "attempts": r.attempts,
        "replays": r.replays,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

/// `documents history --json`: the ledger record (null if none) and the
/// audit events, oldest first.
pub fn history_json(key: &LedgerKey, record: Option<&LedgerRecord>, events: &[AuditEvent]) -> Value {
    json!({
        "connection_id": key.connection_id,
        "document_type": key.document_type,
        "document_id": key.document_id,
        "ledger": record.map(ledger_json),
        "events": events,
    })
}

/// The time part of an audit event key (`time#unique`).
fn event_time(event: &AuditEvent) -> &str {
    event.event_key.split_once('#').map_or(event.event_key.as_str(), |(time, _)| time)
}

/// `documents history`: the ledger record, one field a line, then the
/// audit events oldest first.
pub fn history(
    key: &LedgerKey,
    record: Option<&LedgerRecord>,
    events: &[AuditEvent],
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "{key}")?;
    {
        let mut line = |label: &str, value: &str| writeln!(out, "{label:<22}{value}");
        match record {
            None => line("ledger", "no record: not claimed by the poster yet")?,
            Some(r) => {
                line("status", r.status.as_str())?;
                if let Some(step) = &r.failed_step {
                    line("failed at", step)?;
                }
                if let Some(reason) = &r.failure_reason {
                    line("failure reason", reason)?;
                }
                line("erp reference", r.erp_reference.as_deref().unwrap_or("-"))?;
                if let Some(f) = r.posting_form {
                    line("posted as", form(f))?;
                }
                if let Some(c) = r.confirmation {
                    line(
                        "confirmation",
                        match c {
                            Confirmation::Sent => "sent to Concur",
                            Confirmation::NotRequired => "not required",
                        },
                    )?;
                }
                if let Some(error) = &r.last_error {
                    line("last error", error)?;
                }
                if let Some(holder) = &r.holder {
                    let until = r.claim_expires_at.map_or_else(|| "?".to_owned(), rfc3339);
                    line("claimed by", &format!("{holder} until {until}"))?;
                }
                line("claims", &r.claims.to_string())?;
                line("attempts", &format!("{} (retryable failures since the last replay)", r.attempts))?;
                line("replays", &r.replays.to_string())?;
                line("created", &r.created_at)?;
                line("updated", &r.updated_at)?;
            }
        }
    }
    writeln!(out)?;
    if events.is_empty() {
        return writeln!(out, "no audit events (events expire after the stack's AuditRetentionDays)");
    }
    writeln!(out, "audit events, oldest first:")?;
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                event_time(e).to_owned(),
                e.function.clone(),
                e.step.clone(),
                e.outcome.clone(),
                e.erp_reference.clone().unwrap_or_else(|| "-".to_owned()),
                e.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    columns(&["TIME", "FUNCTION", "STEP", "OUTCOME", "ERP REFERENCE", "DETAIL"], &rows, out)
}

/// `documents failed`: one line per FAILED document, least recently changed first.
pub fn failed(connection: &domain::ConnectionId, records: &[LedgerRecord], out: &mut dyn Write) -> io::Result<()> {
    if records.is_empty() {
        return writeln!(out, "connection {connection} has no FAILED documents");
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.updated_at.clone(),
                r.key.document_type.to_string(),
                r.key.document_id.to_string(),
                r.failed_step.clone().unwrap_or_else(|| "-".to_owned()),
                domain::text::ellipsized_to_width(r.failure_reason.as_deref().unwrap_or("-"), 120),
            ]
        })
        .collect();
    columns(&["UPDATED", "TYPE", "ID", "FAILED STEP", "REASON"], &rows, out)?;
    writeln!(
        out,
        "{} failed; one's trail: `connector documents history {connection} TYPE ID`; once the cause is fixed: \
         `connector documents replay {connection} --failed`",
        records.len()
    )
}
