//! In-memory state of one simulated IFS Cloud environment: IAM realms,
//! clients, users and tokens; companies; one table of rows per entity type;
//! the knobs tests turn (ETag rules, rate limit, paging) and the write log.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use base64::Engine;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use super::WriteRecord;
use super::schema::{EntityType, Ty};

/// A non-null attribute value (null = the attribute is absent from the row).
/// Enumeration values are stored as their client value (`Str`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Int(i64),
    Dec(Decimal),
    Bool(bool),
    Date(Date),
    Timestamp(OffsetDateTime),
}

impl Val {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Numeric value of `Int`/`Dec`.
    pub(crate) fn as_dec(&self) -> Option<Decimal> {
        match self {
            Val::Int(i) => Some(Decimal::from(*i)),
            Val::Dec(d) => Some(*d),
            _ => None,
        }
    }

    /// The value as it appears in a `keyref` (`COMPANY=10^`).
    pub(crate) fn keyref_text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Int(i) => i.to_string(),
            Val::Dec(d) => d.normalize().to_string(),
            Val::Bool(b) => b.to_string().to_uppercase(),
            Val::Date(d) => super::wire::format_date(*d),
            Val::Timestamp(t) => super::wire::format_timestamp(*t),
        }
    }

    /// The value as an OData URL literal (`'10'`, `104233`, `2024-03-15`).
    pub(crate) fn url_literal(&self, ty: Ty, namespace: &str) -> String {
        match (self, ty) {
            (Val::Str(s), Ty::Enum(e)) => format!("{namespace}.{}'{}'", e.name, s.replace('\'', "''")),
            (Val::Str(s), _) => format!("'{}'", s.replace('\'', "''")),
            (other, _) => other.keyref_text(),
        }
    }
}

/// One stored row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    /// Oracle-rowid-like id, fixed for the row's life.
    pub objid: String,
    /// Changes on every update (`YYYYMMDDhhmmss`, strictly increasing).
    pub objversion: String,
    pub values: BTreeMap<&'static str, Val>,
}

impl Row {
    pub(crate) fn get(&self, attr: &str) -> Option<&Val> {
        self.values.get(attr)
    }

    pub(crate) fn str(&self, attr: &str) -> Option<&str> {
        self.get(attr).and_then(Val::as_str)
    }

    pub(crate) fn dec(&self, attr: &str) -> Option<Decimal> {
        self.get(attr).and_then(Val::as_dec)
    }

    pub(crate) fn int(&self, attr: &str) -> Option<i64> {
        match self.get(attr) {
            Some(Val::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// `W/"<base64 of W/"objid:objversion">"`, as the documented sample decodes.
    pub(crate) fn etag(&self) -> String {
        let inner = format!("W/\"{}:{}\"", self.objid, self.objversion);
        format!("W/\"{}\"", base64::engine::general_purpose::STANDARD.encode(inner))
    }

    /// `COMPANY=10^INVOICE_ID=104233^`
    pub(crate) fn keyref(&self, ty: &EntityType) -> String {
        ty.keys
            .iter()
            .map(|k| {
                let v = self.get(k).map(Val::keyref_text).unwrap_or_default();
                format!("{}={v}^", super::schema::db_name(k))
            })
            .collect()
    }

    /// Does this row have exactly these key values?
    pub(crate) fn has_keys(&self, keys: &[(&'static str, Val)]) -> bool {
        keys.iter().all(|(k, v)| self.get(k) == Some(v))
    }
}

/// An IAM client (confidential, tied to a service user).
#[derive(Debug, Clone)]
pub(crate) struct IamClient {
    pub realm: String,
    pub client_id: String,
    pub secret: String,
    /// Companies the client's service user may access.
    pub companies: Vec<String>,
    /// "Service Accounts Enabled": client_credentials allowed.
    pub service_accounts: bool,
    /// "Direct Access Grants Enabled": password grant allowed.
    pub direct_access: bool,
}

/// An IFS user for the password grant.
#[derive(Debug, Clone)]
pub(crate) struct IamUser {
    pub realm: String,
    pub username: String,
    pub password: String,
    pub companies: Vec<String>,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub client_id: String,
    pub companies: Vec<String>,
    pub expires_at: Instant,
}

/// An issued refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    pub realm: String,
    pub client_id: String,
    /// `None` for a service account, else the user name.
    pub user: Option<String>,
    pub scope: String,
    pub expires_at: Instant,
}

/// A company (finance tenant inside the environment).
#[derive(Debug, Clone)]
pub(crate) struct Company {
    pub currency: String,
}

/// Everything one simulated environment holds.
#[derive(Debug)]
pub(crate) struct Ifs {
    pub realms: BTreeSet<String>,
    pub clients: Vec<IamClient>,
    pub users: Vec<IamUser>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub token_lifetime: Duration,
    pub refresh_lifetime: Duration,
    pub token_calls: usize,
    pub companies: BTreeMap<String, Company>,
    /// Entity type name → rows.
    pub tables: HashMap<&'static str, Vec<Row>>,
    /// Last objversion handed out, as a number.
    pub last_objversion: u64,
    pub last_objid: u64,
    pub last_invoice_id: i64,
    /// (company, year, voucher type) → last VoucherNo serial.
    pub voucher_serials: HashMap<(String, i64, String), i64>,
    pub require_if_match: bool,
    /// Pending "someone else updated it first" answers.
    pub stale_etag_next: usize,
    pub rate_limit_per_minute: Option<u32>,
    pub recent_requests: HashMap<String, VecDeque<Instant>>,
    pub page_size: usize,
    pub writes: Vec<WriteRecord>,
}

impl Ifs {
    pub(crate) fn new() -> Self {
        Ifs {
            realms: BTreeSet::new(),
            clients: Vec::new(),
            users: Vec::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            token_lifetime: Duration::from_secs(180),
            refresh_lifetime: Duration::from_secs(1800),
            token_calls: 0,
            companies: BTreeMap::new(),
            tables: HashMap::new(),
            last_objversion: 0,
            last_objid: 0,
            last_invoice_id: 104_232,
            voucher_serials: HashMap::new(),
            require_if_match: false,
            stale_etag_next: 0,
            rate_limit_per_minute: None,
            recent_requests: HashMap::new(),
            page_size: 100,
            writes: Vec::new(),
        }
    }

    pub(crate) fn rows(&self, ty: &EntityType) -> &[Row] {
        self.tables.get(ty.name).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn rows_mut(&mut self, ty: &EntityType) -> &mut Vec<Row> {
        self.tables.entry(ty.name).or_default()
    }

    /// Index of the row of `ty` with exactly these key values.
    pub(crate) fn find(&self, ty: &EntityType, keys: &[(&'static str, Val)]) -> Option<usize> {
        self.rows(ty).iter().position(|r| r.has_keys(keys))
    }

    /// A fresh objversion: the current time as `YYYYMMDDhhmmss`, bumped past
    /// the previous one so two updates in the same second still differ.
    pub(crate) fn next_objversion(&mut self) -> String {
        let now = OffsetDateTime::now_utc();
        let stamp = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let stamp: u64 = stamp.parse().unwrap_or(0);
        self.last_objversion = stamp.max(self.last_objversion + 1);
        self.last_objversion.to_string()
    }

    /// A fresh rowid-like objid (18 characters of the base64 alphabet).
    pub(crate) fn next_objid(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        self.last_objid += 1;
        let mut n = self.last_objid;
        let mut tail = [b'A'; 9];
        for slot in tail.iter_mut().rev() {
            *slot = ALPHABET[(n % 64) as usize];
            n /= 64;
        }
        format!("AAAVHTAAF{}", String::from_utf8_lossy(&tail))
    }

    /// Stamps a new row with objid and objversion and stores it; returns its index.
    pub(crate) fn insert(&mut self, ty: &EntityType, mut row: Row) -> usize {
        row.objid = self.next_objid();
        row.objversion = self.next_objversion();
        let rows = self.rows_mut(ty);
        rows.push(row);
        rows.len() - 1
    }

    /// Gives the row a new objversion (its ETag changes).
    pub(crate) fn bump(&mut self, ty: &EntityType, index: usize) {
        let version = self.next_objversion();
        if let Some(row) = self.rows_mut(ty).get_mut(index) {
            row.objversion = version;
        }
    }

    /// Sliding one-minute window per client id; true = this request is over the limit.
    pub(crate) fn over_rate_limit(&mut self, client_id: &str, now: Instant) -> bool {
        let Some(limit) = self.rate_limit_per_minute else { return false };
        let window = self.recent_requests.entry(client_id.to_owned()).or_default();
        while window.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            window.pop_front();
        }
        if window.len() >= limit as usize {
            return true;
        }
        window.push_back(now);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objversions_strictly_increase_and_etags_decode_like_the_sample() {
        let mut ifs = Ifs::new();
        let a = ifs.next_objversion();
        let b = ifs.next_objversion();
        assert_eq!(a.len(), 14);
        assert!(b.parse::<u64>().unwrap() > a.parse::<u64>().unwrap());
        let row = Row { objid: ifs.next_objid(), objversion: a.clone(), values: BTreeMap::new() };
        assert_eq!(row.objid.len(), 18);
        let etag = row.etag();
        let payload = etag.strip_prefix("W/\"").and_then(|e| e.strip_suffix('"')).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(payload).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), format!("W/\"{}:{a}\"", row.objid));
    }
}
