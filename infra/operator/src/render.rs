//! Plain-text views of connections for an operator's terminal. Nothing here
//! ever sees a credential value: only the names of the keys stored.

use std::io::{self, Write};

use domain::{Connection, ConnectionStatus, ErpSettings, FlowOptions, PostingForm};
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

pub fn status(s: ConnectionStatus) -> &'static str {
    match s {
        ConnectionStatus::Pending => "pending",
        ConnectionStatus::Active => "active",
        ConnectionStatus::ReconnectSoon => "reconnect_soon",
        ConnectionStatus::NeedsReauth => "needs_reauth",
        ConnectionStatus::Disabled => "disabled",
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

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One line per connection under a header, columns padded to fit.
pub fn table(connections: &[Connection], out: &mut dyn Write) -> io::Result<()> {
    if connections.is_empty() {
        return writeln!(out, "no connections yet: create one with `connector connections create ID --name NAME …`");
    }
    let header = ["ID", "NAME", "STATUS", "ERP", "COMPANY", "SCHEDULE", "LEVEL", "LAST POLL"].map(str::to_owned);
    let rows: Vec<[String; 8]> = connections
        .iter()
        .map(|c| {
            [
                c.connection_id.to_string(),
                clip(&c.name, 30),
                status(c.status).to_owned(),
                c.erp.as_ref().map_or_else(|| "-".to_owned(), |e| e.kind().to_string()),
                c.company_uuid.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string),
                c.schedule.to_string(),
                level(c),
                c.last_poll_at.clone().unwrap_or_else(|| "never".to_owned()),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
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
        Some(reason) => format!("{} ({reason})", status(c.status)),
        None => status(c.status).to_owned(),
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
    line("created", &c.created_at)?;
    line("updated", &c.updated_at)?;
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
