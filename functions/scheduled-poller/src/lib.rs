//! scheduled-poller: on every EventBridge Scheduler tick, find the
//! connections that are due and queue their READY Financial Integration
//! documents (the FI polling itself arrives with the intake work, issue 4).
//!
//! This module decides *which* connections a tick covers: active ones with
//! at least one enabled document type. A connection that needs a reconnect
//! or is disabled is skipped and said so, so an operator sees why nothing
//! moves for it.

use domain::{Connection, ConnectionStatus};

/// A connection this tick skips, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Skipped {
    pub connection_id: String,
    pub reason: &'static str,
}

/// Splits connections into those to poll now and those skipped.
pub fn due_connections(connections: Vec<Connection>) -> (Vec<Connection>, Vec<Skipped>) {
    let mut due = Vec::new();
    let mut skipped = Vec::new();
    for c in connections {
        let reason = match c.status {
            ConnectionStatus::Active | ConnectionStatus::ReconnectSoon if c.enabled_document_types.is_empty() => {
                Some("no document type is enabled")
            }
            ConnectionStatus::Active | ConnectionStatus::ReconnectSoon if c.geolocation.is_none() => {
                Some("Concur is not connected yet")
            }
            ConnectionStatus::Active | ConnectionStatus::ReconnectSoon if c.erp.is_none() => {
                Some("no ERP is configured yet (connections update)")
            }
            ConnectionStatus::Active | ConnectionStatus::ReconnectSoon => None,
            ConnectionStatus::Pending => Some("Concur is not connected yet"),
            ConnectionStatus::NeedsReauth => Some("the Concur connection needs a reconnect by an admin"),
            ConnectionStatus::Disabled => Some("disabled by an operator"),
        };
        match reason {
            None => due.push(c),
            Some(reason) => skipped.push(Skipped { connection_id: c.connection_id.to_string(), reason }),
        }
    }
    (due, skipped)
}

/// One tick: returns what it did, for the log line and tests.
pub async fn handle(connections: &platform::connections::ConnectionStore) -> Result<TickReport, platform::StoreError> {
    let (due, skipped) = due_connections(connections.list().await?);
    for s in &skipped {
        tracing::info!(connection = %s.connection_id, reason = s.reason, "skipped this tick");
    }
    Ok(TickReport { due: due.into_iter().map(|c| c.connection_id.to_string()).collect(), skipped })
}

#[derive(Debug, PartialEq, Eq)]
pub struct TickReport {
    pub due: Vec<String>,
    pub skipped: Vec<Skipped>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AcumaticaSettings, ConnectionId, DocumentType, ErpSettings, ErpUrl};

    fn connection(id: &str, status: ConnectionStatus, types: Vec<DocumentType>) -> Connection {
        let erp = ErpSettings::Acumatica(AcumaticaSettings {
            base_url: ErpUrl::parse("https://acme.acumatica.com").unwrap(),
            tenant: "Acme".into(),
            endpoint_name: "Default".into(),
            endpoint_version: "24.200.001".into(),
            branch: None,
        });
        let mut c = Connection::new(ConnectionId::parse(id).unwrap(), id, Some(erp), "2026-11-23T10:00:00Z");
        c.status = status;
        c.geolocation = Some("https://us.api.concursolutions.com".into());
        c.enabled_document_types = types;
        c
    }

    #[test]
    fn only_active_connections_with_work_are_due() {
        let (due, skipped) = due_connections(vec![
            connection("a", ConnectionStatus::Active, vec![DocumentType::Expense]),
            connection("b", ConnectionStatus::Active, vec![]),
            connection("c", ConnectionStatus::NeedsReauth, vec![DocumentType::Expense]),
            connection("d", ConnectionStatus::Disabled, vec![DocumentType::Invoice]),
            connection("e", ConnectionStatus::ReconnectSoon, vec![DocumentType::Invoice]),
            Connection { erp: None, ..connection("f", ConnectionStatus::Active, vec![DocumentType::Invoice]) },
        ]);
        assert_eq!(due.iter().map(|c| c.connection_id.as_str()).collect::<Vec<_>>(), ["a", "e"]);
        assert_eq!(
            skipped.iter().map(|s| (s.connection_id.as_str(), s.reason)).collect::<Vec<_>>(),
            [
                ("b", "no document type is enabled"),
                ("c", "the Concur connection needs a reconnect by an admin"),
                ("d", "disabled by an operator"),
                ("f", "no ERP is configured yet (connections update)"),
            ]
        );
    }
}
