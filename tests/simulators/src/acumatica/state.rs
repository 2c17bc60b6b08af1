//! In-memory state of one simulated Acumatica site: tenants, their records,
//! OAuth tokens, cookie sessions, long-running operations and limits.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use time::OffsetDateTime;
use uuid::Uuid;

use super::schema::Kind;

/// A non-null field value. Null is represented by the field's absence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Dec(Decimal),
    Int(i64),
    Bool(bool),
    Date(OffsetDateTime),
}

impl Val {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Custom (non-contract) field types, as named in the OpenAPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CustomType {
    String,
    Int,
    Short,
    Long,
    Byte,
    Decimal,
    Double,
    Boolean,
    DateTime,
    Guid,
}

impl CustomType {
    const ALL: [CustomType; 10] = [
        CustomType::String,
        CustomType::Int,
        CustomType::Short,
        CustomType::Long,
        CustomType::Byte,
        CustomType::Decimal,
        CustomType::Double,
        CustomType::Boolean,
        CustomType::DateTime,
        CustomType::Guid,
    ];

    /// `String` in `cf.String(...)`.
    pub(crate) fn short_name(self) -> &'static str {
        match self {
            CustomType::String => "String",
            CustomType::Int => "Int",
            CustomType::Short => "Short",
            CustomType::Long => "Long",
            CustomType::Byte => "Byte",
            CustomType::Decimal => "Decimal",
            CustomType::Double => "Double",
            CustomType::Boolean => "Boolean",
            CustomType::DateTime => "DateTime",
            CustomType::Guid => "Guid",
        }
    }

    /// `CustomStringField`, the `type` member on the wire.
    pub(crate) fn wire_name(self) -> String {
        format!("Custom{}Field", self.short_name())
    }

    pub(crate) fn from_wire(name: &str) -> Option<CustomType> {
        Self::ALL.into_iter().find(|t| t.wire_name() == name)
    }

    pub(crate) fn from_short(name: &str) -> Option<CustomType> {
        Self::ALL.into_iter().find(|t| t.short_name() == name)
    }

    /// The scalar type custom values of this kind hold.
    pub(crate) fn value_ty(self) -> super::schema::Ty {
        use super::schema::Ty;
        match self {
            CustomType::String | CustomType::Guid => Ty::Str,
            CustomType::Int | CustomType::Short | CustomType::Long | CustomType::Byte => Ty::Int,
            CustomType::Decimal | CustomType::Double => Ty::Dec,
            CustomType::Boolean => Ty::Bool,
            CustomType::DateTime => Ty::Date,
        }
    }
}

/// A stored custom field value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CustomVal {
    pub ty: CustomType,
    pub value: Option<Val>,
}

/// A file attached to a record.
#[derive(Debug, Clone)]
pub(crate) struct FileRef {
    pub id: Uuid,
    pub filename: String,
    pub comment: Option<String>,
}

/// A stored record (top-level, detail line or linked object).
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    pub id: Uuid,
    pub values: BTreeMap<String, Val>,
    pub linked: BTreeMap<String, Record>,
    pub collections: BTreeMap<String, Vec<Record>>,
    /// view → field → value
    pub custom: BTreeMap<String, BTreeMap<String, CustomVal>>,
    pub note: Option<String>,
    pub files: Vec<FileRef>,
    /// Bill control total once the client has set `Amount` explicitly;
    /// `None` = the amount follows the lines.
    pub control_total: Option<Decimal>,
    /// Fields the current request set on this record (drives recalculation).
    pub touched: std::collections::BTreeSet<&'static str>,
}

impl Record {
    /// An empty record with a fresh session id.
    pub(crate) fn with_new_id() -> Self {
        Record { id: Uuid::new_v4(), ..Record::default() }
    }

    pub(crate) fn str(&self, field: &str) -> Option<&str> {
        self.values.get(field).and_then(Val::as_str)
    }

    pub(crate) fn dec(&self, field: &str) -> Option<Decimal> {
        match self.values.get(field) {
            Some(Val::Dec(d)) => Some(*d),
            Some(Val::Int(i)) => Some(Decimal::from(*i)),
            _ => None,
        }
    }

    pub(crate) fn bool(&self, field: &str) -> Option<bool> {
        match self.values.get(field) {
            Some(Val::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn date(&self, field: &str) -> Option<OffsetDateTime> {
        match self.values.get(field) {
            Some(Val::Date(d)) => Some(*d),
            _ => None,
        }
    }

    pub(crate) fn set(&mut self, field: &str, value: Val) {
        self.values.insert(field.to_owned(), value);
    }

    pub(crate) fn set_str(&mut self, field: &str, value: impl Into<String>) {
        self.set(field, Val::Str(value.into()));
    }

    /// Forgets which fields an earlier request touched, on the record and its lines.
    pub(crate) fn clear_touched(&mut self) {
        self.touched.clear();
        for lines in self.collections.values_mut() {
            for line in lines {
                line.touched.clear();
            }
        }
    }

    pub(crate) fn lines(&self, collection: &str) -> &[Record] {
        self.collections.get(collection).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// String comparison as Acumatica's database does it (case-insensitive collation).
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Stored attachment bytes.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub filename: String,
    pub content: Vec<u8>,
}

/// One tenant (company) of the site.
#[derive(Debug)]
pub(crate) struct Tenant {
    pub name: String,
    /// Upper-case GUID part of the OAuth client id.
    pub client_guid: String,
    pub client_secret: String,
    pub users: Vec<(String, String)>,
    pub branches: Vec<String>,
    pub records: HashMap<Kind, Vec<Record>>,
    pub files: HashMap<Uuid, StoredFile>,
    /// Last numbers handed out by the auto-numbering sequences.
    pub last_bill_nbr: u64,
    pub last_batch_nbr: u64,
    pub last_account_id: i64,
    pub last_subaccount_id: i64,
}

impl Tenant {
    pub(crate) fn records(&self, kind: Kind) -> &[Record] {
        self.records.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn records_mut(&mut self, kind: Kind) -> &mut Vec<Record> {
        self.records.entry(kind).or_default()
    }

    pub(crate) fn default_branch(&self) -> Option<&str> {
        self.branches.first().map(String::as_str)
    }

    pub(crate) fn has_branch(&self, branch: &str) -> bool {
        self.branches.iter().any(|b| same_text(b, branch))
    }
}

/// An issued OAuth access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub tenant: usize,
    pub expires_at: Instant,
}

/// An issued OAuth refresh token (single use: refreshing rotates it).
#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    pub tenant: usize,
    pub client_guid: String,
    pub user: String,
    pub scopes: Vec<String>,
    pub expires_at: Instant,
}

/// A cookie session from `/entity/auth/login`.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub tenant: usize,
    pub branch: Option<String>,
    pub last_used: Instant,
}

/// How a long-running action ends once polled to completion.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub tenant: usize,
    /// Polls answered so far; the first poll says 202, later ones 204.
    pub polls: u32,
}

/// Everything one simulated site holds.
#[derive(Debug)]
pub(crate) struct Site {
    pub tenants: Vec<Tenant>,
    pub endpoint_name: String,
    pub versions: Vec<String>,
    pub build_version: String,
    pub token_lifetime: Duration,
    pub refresh_lifetime: Duration,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub token_calls: HashMap<String, usize>,
    pub sessions: HashMap<String, Session>,
    pub max_sessions: usize,
    pub session_idle: Duration,
    pub rate_limit_per_minute: Option<u32>,
    pub recent_requests: VecDeque<Instant>,
    pub operations: HashMap<Uuid, Operation>,
}

impl Site {
    pub(crate) fn new(versions: Vec<String>) -> Self {
        Site {
            tenants: Vec::new(),
            endpoint_name: "Default".into(),
            versions,
            build_version: "24.210.0019".into(),
            token_lifetime: Duration::from_secs(3600),
            refresh_lifetime: Duration::from_secs(30 * 24 * 3600),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            token_calls: HashMap::new(),
            sessions: HashMap::new(),
            max_sessions: 2,
            session_idle: Duration::from_secs(20 * 60),
            rate_limit_per_minute: None,
            recent_requests: VecDeque::new(),
            operations: HashMap::new(),
        }
    }

    pub(crate) fn tenant_index(&self, name: &str) -> Option<usize> {
        self.tenants.iter().position(|t| same_text(&t.name, name))
    }

    /// Drops cookie sessions idle for longer than the timeout (frees seats).
    pub(crate) fn expire_idle_sessions(&mut self, now: Instant) {
        let idle = self.session_idle;
        self.sessions.retain(|_, s| now.duration_since(s.last_used) < idle);
    }

    /// Sliding one-minute window; true = this request is over the limit.
    pub(crate) fn over_rate_limit(&mut self, now: Instant) -> bool {
        let Some(limit) = self.rate_limit_per_minute else { return false };
        while self.recent_requests.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            self.recent_requests.pop_front();
        }
        if self.recent_requests.len() >= limit as usize {
            return true;
        }
        self.recent_requests.push_back(now);
        false
    }
}
