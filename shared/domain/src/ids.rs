//! Parse-don't-validate identifiers: once a value has one of these types it is
//! known to be well formed, so code downstream never re-checks it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a raw value was refused, phrased for the operator who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} `{value}` is invalid: {why}")]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
    pub why: &'static str,
}

pub(crate) fn refuse(what: &'static str, value: &str, why: &'static str) -> ParseError {
    // Keep error messages bounded even when the input is not.
    let value = crate::text::truncate(value, 80).to_owned();
    ParseError { what, value, why }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

/// Our name for one Concur company ↔ one ERP link: `[a-z0-9-]`, 1–64 chars,
/// starting with a letter or digit. It appears in table keys, secret names and
/// SQS message group ids, hence the narrow alphabet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        const WHAT: &str = "connection id";
        if s.is_empty() || s.len() > 64 {
            return Err(refuse(WHAT, s, "it must be 1 to 64 characters long"));
        }
        if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(refuse(WHAT, s, "use only lower-case letters, digits and '-'"));
        }
        if s.starts_with('-') {
            return Err(refuse(WHAT, s, "it must start with a letter or digit"));
        }
        Ok(Self(s.to_owned()))
    }
}
string_newtype!(ConnectionId);

/// A Concur company's UUID (the App Center `id`, `/profile/v1/me` `id`),
/// kept in canonical lower-case hyphenated form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CompanyUuid(String);

impl CompanyUuid {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match uuid::Uuid::try_parse(s.trim()) {
            Ok(u) => Ok(Self(u.hyphenated().to_string())),
            Err(_) => Err(refuse("company UUID", s, "it is not a UUID")),
        }
    }
}
string_newtype!(CompanyUuid);

/// A Financial Integration document id (`content[].id`, 32 hex characters in
/// Concur's examples; up to 32 alphanumerics by the schema).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConcurDocumentId(String);

impl ConcurDocumentId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        const WHAT: &str = "Concur document id";
        if s.is_empty() || s.len() > 32 {
            return Err(refuse(WHAT, s, "it must be 1 to 32 characters long"));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(refuse(WHAT, s, "use only letters and digits"));
        }
        Ok(Self(s.to_owned()))
    }
}
string_newtype!(ConcurDocumentId);

/// The Financial Integration document types the connector posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentType {
    Expense,
    Invoice,
    #[serde(rename = "cashadvance")]
    CashAdvance,
}

impl DocumentType {
    pub const ALL: [DocumentType; 3] = [DocumentType::Expense, DocumentType::Invoice, DocumentType::CashAdvance];

    /// The `{docType}` path segment of the FI v4 API.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::Expense => "expense",
            DocumentType::Invoice => "invoice",
            DocumentType::CashAdvance => "cashadvance",
        }
    }
}

impl fmt::Display for DocumentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DocumentType {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "expense" => Ok(DocumentType::Expense),
            "invoice" => Ok(DocumentType::Invoice),
            "cashadvance" => Ok(DocumentType::CashAdvance),
            _ => Err(refuse("document type", s, "expected expense, invoice or cashadvance")),
        }
    }
}

/// How many documents of one tenant may be worked on at once (1–25). It is the
/// number of SQS FIFO message groups ("slots") the tenant's work is spread over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct ConcurrencyLevel(u8);

impl ConcurrencyLevel {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 25;

    pub fn new(level: u8) -> Result<Self, ParseError> {
        if (Self::MIN..=Self::MAX).contains(&level) {
            Ok(Self(level))
        } else {
            Err(refuse("concurrency level", &level.to_string(), "it must be between 1 and 25"))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// Level 1: one document at a time.
    pub const fn lowest() -> Self {
        Self(Self::MIN)
    }
}

impl TryFrom<u8> for ConcurrencyLevel {
    type Error = ParseError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<ConcurrencyLevel> for u8 {
    fn from(v: ConcurrencyLevel) -> u8 {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_are_narrow() {
        assert!(ConnectionId::parse("acme-us-1").is_ok());
        for bad in ["", "-acme", "Acme", "acme_us", "acme/us", &"a".repeat(65)] {
            assert!(ConnectionId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn company_uuids_are_canonical() {
        let u = CompanyUuid::parse("8568A4CD-8FFC-49D6-9417-BE2D69AA075F").unwrap();
        assert_eq!(u.as_str(), "8568a4cd-8ffc-49d6-9417-be2d69aa075f");
        assert!(CompanyUuid::parse("not-a-uuid").is_err());
    }

    #[test]
    fn document_ids_and_types() {
        assert!(ConcurDocumentId::parse("e7f810cabc8348cdb051dd9431c8cfbb").is_ok());
        assert!(ConcurDocumentId::parse("e7f810ca-bc83").is_err());
        assert!(ConcurDocumentId::parse(&"a".repeat(33)).is_err());
        assert_eq!("cashadvance".parse::<DocumentType>().unwrap(), DocumentType::CashAdvance);
        assert_eq!(serde_json::to_string(&DocumentType::CashAdvance).unwrap(), "\"cashadvance\"");
        assert!("payroll".parse::<DocumentType>().is_err());
    }

    #[test]
    fn concurrency_level_bounds() {
        assert!(ConcurrencyLevel::new(0).is_err());
        assert!(ConcurrencyLevel::new(26).is_err());
        assert_eq!(ConcurrencyLevel::new(25).unwrap().get(), 25);
        assert!(serde_json::from_str::<ConcurrencyLevel>("26").is_err());
    }

    #[test]
    fn errors_do_not_echo_unbounded_input() {
        let err = ConnectionId::parse(&"X".repeat(10_000)).unwrap_err();
        assert!(err.to_string().len() < 200);
    }
}
