//! A connection: one Concur company linked to one ERP, with the settings that
//! shape how its documents flow.

use serde::{Deserialize, Serialize};

use crate::erp_url::ErpUrl;
use crate::ids::{CompanyUuid, ConcurrencyLevel, ConnectionId, DocumentType};
use crate::schedule::PollSchedule;

/// Lifecycle of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Created by an operator; Concur not connected yet.
    Pending,
    /// Concur connected; documents flow.
    Active,
    /// Documents still flow, but the Concur refresh token expires soon: an
    /// admin must click Connect again before `concur_refresh_expires_at`.
    ReconnectSoon,
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

impl ErpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErpKind::Acumatica => "acumatica",
            ErpKind::IfsCloud => "ifs_cloud",
            ErpKind::Infor => "infor",
        }
    }
}

impl std::fmt::Display for ErpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErpKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "acumatica" => Ok(ErpKind::Acumatica),
            "ifs" | "ifs_cloud" => Ok(ErpKind::IfsCloud),
            "infor" => Ok(ErpKind::Infor),
            _ => Err(format!("unknown ERP kind `{s}` (expected acumatica, ifs_cloud or infor)")),
        }
    }
}

/// Acumatica instance settings (not secret). Credentials live in the
/// connection's ERP secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcumaticaSettings {
    /// Everything before `/entity`, e.g. `https://acme.acumatica.com` or `https://erp.example.com/AcumaticaERP`.
    pub base_url: ErpUrl,
    /// Tenant login name; the OAuth client id is sent as `<client_id>@<tenant>`.
    pub tenant: String,
    #[serde(default = "default_acumatica_endpoint")]
    pub endpoint_name: String,
    #[serde(default = "default_acumatica_version")]
    pub endpoint_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// [DEFAULT] endpoint of the Acumatica reference: the system contract.
pub fn default_acumatica_endpoint() -> String {
    "Default".to_owned()
}

/// [DEFAULT] contract version of the Acumatica reference.
pub fn default_acumatica_version() -> String {
    "24.200.001".to_owned()
}

/// IFS Cloud tenant settings (not secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfsCloudSettings {
    pub base_url: ErpUrl,
    /// Keycloak realm: the token URL is `<base_url>/auth/realms/<namespace>/protocol/openid-connect/token`.
    pub namespace: String,
    /// The IFS company every query and write is filtered by.
    pub company: String,
}

/// Infor CloudSuite settings (not secret). The ION API endpoints come from
/// the customer's `.ionapi` file, which is a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InforSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
}

/// The ERP side of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErpSettings {
    Acumatica(AcumaticaSettings),
    IfsCloud(IfsCloudSettings),
    Infor(InforSettings),
}

impl ErpSettings {
    pub fn kind(&self) -> ErpKind {
        match self {
            ErpSettings::Acumatica(_) => ErpKind::Acumatica,
            ErpSettings::IfsCloud(_) => ErpKind::IfsCloud,
            ErpSettings::Infor(_) => ErpKind::Infor,
        }
    }

    /// The instance URL the credentials are sent to, where the settings hold it.
    pub fn base_url(&self) -> Option<&ErpUrl> {
        match self {
            ErpSettings::Acumatica(a) => Some(&a.base_url),
            ErpSettings::IfsCloud(i) => Some(&i.base_url),
            ErpSettings::Infor(_) => None,
        }
    }
}

/// What a Concur document becomes in the ERP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingForm {
    /// An AP bill / supplier invoice on the employee's or supplier's vendor.
    ApBill,
    /// A balanced journal entry.
    Journal,
}

impl std::str::FromStr for PostingForm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "ap_bill" | "bill" => Ok(PostingForm::ApBill),
            "journal" => Ok(PostingForm::Journal),
            _ => Err(format!("unknown posting form `{s}` (expected ap_bill or journal)")),
        }
    }
}

/// The Concur → ERP flow options of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowOptions {
    /// Send a Financial Integration posting confirmation back to Concur once
    /// the ERP accepted (or permanently refused) a document. On for
    /// Acumatica and Infor; off for IFS Cloud, whose customers keep Concur
    /// documents read-only.
    pub confirm_postings: bool,
    pub expense_report_as: PostingForm,
    pub invoice_as: PostingForm,
    pub cash_advance_as: PostingForm,
}

impl FlowOptions {
    pub fn default_for(kind: Option<ErpKind>) -> Self {
        Self {
            confirm_postings: kind != Some(ErpKind::IfsCloud),
            expense_report_as: PostingForm::ApBill,
            invoice_as: PostingForm::ApBill,
            cash_advance_as: PostingForm::Journal,
        }
    }
}

impl Default for FlowOptions {
    fn default() -> Self {
        Self::default_for(None)
    }
}

/// The stored connection (the `settings` item of the connections table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub connection_id: ConnectionId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_uuid: Option<CompanyUuid>,
    pub status: ConnectionStatus,
    /// Why the status is what it is, when it needs someone's attention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// `None` until an operator configures the ERP side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp: Option<ErpSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<Edition>,
    /// The profile's raw `marketingName`, kept when the edition is Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition_name: Option<String>,
    /// Base URL of the company's Concur datacenter, from the token response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geolocation: Option<String>,
    /// The Concur user who clicked Connect last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_by: Option<String>,
    /// RFC 3339 UTC of the last successful Quick Connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<String>,
    /// RFC 3339 UTC expiry of the Concur refresh token (not secret: only its date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concur_refresh_expires_at: Option<String>,
    #[serde(default)]
    pub schedule: PollSchedule,
    /// RFC 3339 UTC of the last poll that read every page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_at: Option<String>,
    /// Why the last poll did not finish (RFC 3339 time first), until one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_error: Option<String>,
    pub concurrency_level: ConcurrencyLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrow_concurrency_from: Option<ConnectionId>,
    pub enabled_document_types: Vec<DocumentType>,
    #[serde(default)]
    pub flow: FlowOptions,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

impl Connection {
    /// A connection with default settings: 15-minute polls, level 1, all
    /// document types, flow options for its ERP (or none yet).
    pub fn new(connection_id: ConnectionId, name: impl Into<String>, erp: Option<ErpSettings>, now: &str) -> Self {
        let flow = FlowOptions::default_for(erp.as_ref().map(ErpSettings::kind));
        Self {
            connection_id,
            name: name.into(),
            company_uuid: None,
            status: ConnectionStatus::Pending,
            status_reason: None,
            erp,
            edition: None,
            edition_name: None,
            geolocation: None,
            connected_by: None,
            connected_at: None,
            concur_refresh_expires_at: None,
            schedule: PollSchedule::default(),
            last_poll_at: None,
            last_poll_error: None,
            concurrency_level: ConcurrencyLevel::lowest(),
            borrow_concurrency_from: None,
            enabled_document_types: DocumentType::ALL.to_vec(),
            flow,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        }
    }

    /// Whether documents flow for this connection (on the Concur side).
    pub fn is_flowing(&self) -> bool {
        matches!(self.status, ConnectionStatus::Active | ConnectionStatus::ReconnectSoon)
    }
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
