//! A connection: one Concur company linked to one ERP, with the settings that
//! shape how its documents flow.

use serde::{Deserialize, Serialize};

use crate::ids::{CompanyUuid, ConcurrencyLevel, ConnectionId, DocumentType};

/// Lifecycle of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Created by an operator; Concur not connected yet.
    Pending,
    /// Concur connected; documents flow.
    Active,
    /// The Concur refresh token was refused or is about to expire: an admin
    /// must click Connect again.
    NeedsReauth,
    /// Switched off by an operator.
    Disabled,
}

/// Concur edition, from `/profile/v1/me` `marketingName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edition {
    Professional,
    Standard,
    /// The profile named an edition we do not recognise: surfaced, not guessed.
    Unknown,
}

impl Edition {
    /// `CTE`/`Enterprise` → Professional; `Standard…` → Standard; else Unknown.
    pub fn from_marketing_name(name: Option<&str>) -> Self {
        let Some(name) = name.map(|n| n.trim().to_ascii_lowercase()) else {
            return Edition::Unknown;
        };
        if name.starts_with("standard") {
            Edition::Standard
        } else if name == "cte" || name.starts_with("enterprise") {
            Edition::Professional
        } else {
            Edition::Unknown
        }
    }
}

/// Which ERP a connection posts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErpKind {
    Acumatica,
    IfsCloud,
    Infor,
}

/// The stored connection (the `settings` item of the connections table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub connection_id: ConnectionId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_uuid: Option<CompanyUuid>,
    pub status: ConnectionStatus,
    pub erp_kind: ErpKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<Edition>,
    /// Base URL of the company's Concur datacenter, from the token response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geolocation: Option<String>,
    pub concurrency_level: ConcurrencyLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrow_concurrency_from: Option<ConnectionId>,
    pub enabled_document_types: Vec<DocumentType>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edition_from_marketing_name() {
        assert_eq!(Edition::from_marketing_name(Some("CTE")), Edition::Professional);
        assert_eq!(Edition::from_marketing_name(Some("Enterprise")), Edition::Professional);
        assert_eq!(Edition::from_marketing_name(Some("Standard Edition")), Edition::Standard);
        assert_eq!(Edition::from_marketing_name(Some("Premium")), Edition::Unknown);
        assert_eq!(Edition::from_marketing_name(None), Edition::Unknown);
    }
}
