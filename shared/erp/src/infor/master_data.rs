//! GL accounts, dimension values and suppliers of the accounting entity,
//! read through the gateway before anything is sent, so a document naming
//! something the ledger does not know stops here with every unknown named,
//! instead of coming back later as an asynchronous rejection.
//!
//! [DEFAULT] M3-style REST (reference §5.6; the simulator uses the same
//! programs): `GET {base}/M3/m3api-rest/v2/execute/{Program}/{Transaction}`
//! answering `{"results":[{"records":[…]}]}`, a business error being HTTP 200
//! with `errorMessage` in the result. `maxrecs=0` asks for every record (M3
//! returns 100 by default).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use domain::{ErpDocument, ErpDocumentKind};
use serde_json::Value;
use transport::Idempotency;

use super::{InforClient, InforError, error_message};

/// GL accounts of an accounting entity: `?DIVI=<entity>` → records `AITM`.
pub const GL_ACCOUNTS_PATH: &str = "M3/m3api-rest/v2/execute/GLS040MI/LstAccounts";
/// Values of one dimension: `?DIVI=<entity>&DIMT=<listID>` → records `AITM`.
pub const DIMENSION_VALUES_PATH: &str = "M3/m3api-rest/v2/execute/CRS630MI/LstDimValues";
/// Suppliers of an accounting entity: `?DIVI=<entity>` → records `SUNO`.
pub const SUPPLIERS_PATH: &str = "M3/m3api-rest/v2/execute/CRS620MI/LstSuppliers";
/// Unknown items named in one message before "and N more".
const NAMED: usize = 20;

/// One list of master data (ordered as messages name them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MasterList {
    GlAccounts,
    /// Values of the dimension with this `listID` (the mapping's dimension name).
    Dimension(String),
    Suppliers,
}

impl MasterList {
    fn path(&self) -> &'static str {
        match self {
            MasterList::GlAccounts => GL_ACCOUNTS_PATH,
            MasterList::Suppliers => SUPPLIERS_PATH,
            MasterList::Dimension(_) => DIMENSION_VALUES_PATH,
        }
    }

    /// The record field holding the id.
    fn field(&self) -> &'static str {
        match self {
            MasterList::Suppliers => "SUNO",
            _ => "AITM",
        }
    }

    fn describe(&self, value: &str) -> String {
        match self {
            MasterList::GlAccounts => format!("GL account `{value}`"),
            MasterList::Suppliers => format!("supplier `{value}`"),
            MasterList::Dimension(list) => format!("{list} `{value}`"),
        }
    }
}

/// A list as the ledger answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    Values(std::collections::BTreeSet<String>),
    /// The ledger refused the read (e.g. "Dimension type X does not exist").
    Refused(String),
}

impl Listing {
    fn contains(&self, value: &str) -> bool {
        matches!(self, Listing::Values(v) if v.contains(value))
    }
}

/// What one M3 transaction answered.
pub(super) enum M3Answer {
    Records(Vec<Value>),
    /// A business error (HTTP 200 with `errorMessage`), and the input
    /// field M3 blames (`errorField`, empty when it names none).
    Refused {
        message: String,
        field: String,
    },
}

struct Cached {
    at: Instant,
    listing: Arc<Listing>,
}

/// The connection's master-data cache: one per [`InforClient`], entries
/// trusted for `master_data_ttl_seconds`. An item missing from a cached
/// list is looked up once more in a fresh read before the document is
/// refused (it may have been created a moment ago).
pub struct InforMasterData {
    ttl: Duration,
    cache: tokio::sync::Mutex<HashMap<MasterList, Cached>>,
    reads: AtomicUsize,
}

impl InforMasterData {
    pub(super) fn new(ttl: Duration) -> Self {
        Self { ttl, cache: tokio::sync::Mutex::default(), reads: AtomicUsize::new(0) }
    }

    /// How many lists were read from Infor so far (cache misses).
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    /// Forgets every cached list.
    pub async fn clear(&self) {
        self.cache.lock().await.clear();
    }
}

/// Something the document names that the ledger does not know.
struct Unknown {
    list: MasterList,
    value: String,
    /// 1-based line numbers (empty for the header or a setting).
    lines: Vec<usize>,
    note: Option<String>,
}

impl InforClient {
    /// The list, from the cache unless stale or `force`d; with whether it was read just now.
    pub async fn master_list(&self, list: &MasterList, force: bool) -> Result<(Arc<Listing>, bool), InforError> {
        let master = &self.master;
        let mut cache = master.cache.lock().await;
        if !force && let Some(cached) = cache.get(list).filter(|c| c.at.elapsed() < master.ttl) {
            return Ok((cached.listing.clone(), false));
        }
        let listing = Arc::new(self.read_list(list).await?);
        master.reads.fetch_add(1, Ordering::Relaxed);
        cache.insert(list.clone(), Cached { at: Instant::now(), listing: listing.clone() });
        Ok((listing, true))
    }

    async fn read_list(&self, list: &MasterList) -> Result<Listing, InforError> {
        Ok(match self.m3_records(list).await? {
            M3Answer::Refused { message, .. } => Listing::Refused(message),
            M3Answer::Records(records) => Listing::Values(
                records
                    .iter()
                    .filter_map(|r| r.get(list.field()).and_then(Value::as_str))
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect(),
            ),
        })
    }

    /// Every supplier of the accounting entity as Concur vendor records
    /// (mapped by [`supplier_record`]). One read: M3's list transactions
    /// page by key, not by offset, and `maxrecs=0` returns them all.
    pub async fn supplier_vendors(
        &self,
        address_code: &str,
        limits: domain::reference::VendorLimits,
    ) -> Result<Vec<domain::reference::VendorRecord>, InforError> {
        let records = self.m3_list(SUPPLIERS_PATH, &[], "the supplier read (M3 API)").await?;
        Ok(records.iter().filter_map(|r| supplier_record(r, address_code, limits)).collect())
    }

    /// Every GL account (`GLS040MI`) or value of one accounting dimension
    /// (`CRS630MI`, `DIMT`) as items of Concur list `list`: code `AITM`,
    /// text `TX40` (the code when blank). M3 lists only the values it
    /// holds, so every item read is active and one gone is deactivated by
    /// the sync's full read. `None` for a source M3 does not have.
    pub async fn list_items(
        &self,
        source: &domain::reference::ListSource,
        list: &str,
    ) -> Result<Option<Vec<domain::reference::ListItemRecord>>, InforError> {
        use domain::reference::ListSource;
        let records = match source {
            ListSource::Accounts => self.m3_list(GL_ACCOUNTS_PATH, &[], "the GL account read (M3 API)").await?,
            ListSource::Dimension(name) => {
                self.m3_list(DIMENSION_VALUES_PATH, &[("DIMT", name)], "the dimension read (M3 API)").await?
            }
            ListSource::Subaccounts | ListSource::Projects | ListSource::CodePart(_) => return Ok(None),
        };
        let text = |record: &Value, field: &str| {
            record.get(field).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
        };
        let items = records.iter().filter_map(|record| {
            let code = text(record, "AITM")?;
            let value = text(record, "TX40").unwrap_or_else(|| code.clone());
            Some(domain::reference::ListItemRecord { list: list.to_owned(), path: vec![code], value, active: true })
        });
        Ok(Some(items.collect()))
    }

    /// Every record of M3 list transaction `path` (`maxrecs=0`); a business
    /// error of M3 is a refusal of `what`.
    pub(super) async fn m3_list(
        &self,
        path: &str,
        params: &[(&str, &str)],
        what: &'static str,
    ) -> Result<Vec<Value>, InforError> {
        let mut query = params.to_vec();
        query.push(("maxrecs", "0"));
        match self.m3_execute(path, &query, what).await? {
            M3Answer::Records(records) => Ok(records),
            M3Answer::Refused { message, .. } => Err(InforError::Rejected { status: 200, what, message }),
        }
    }

    /// One M3 list transaction's records, or the business error it answered.
    async fn m3_records(&self, list: &MasterList) -> Result<M3Answer, InforError> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let MasterList::Dimension(name) = list {
            query.push(("DIMT", name.as_str()));
        }
        query.push(("maxrecs", "0"));
        self.m3_execute(list.path(), &query, "a master-data read (M3 API)").await
    }

    /// `GET {base}/{path}?DIVI=<entity>&{params}`: one M3 API transaction in
    /// the accounting entity, its records or the business error it answered
    /// (HTTP 200 with `errorMessage`). A refused division is the
    /// `accounting_entity` setting's fault and said so.
    pub(super) async fn m3_execute(
        &self,
        path: &str,
        params: &[(&str, &str)],
        what: &'static str,
    ) -> Result<M3Answer, InforError> {
        let entity = self.entity()?;
        let url = format!("{}/{path}", self.api_base());
        let mut query: Vec<(&str, &str)> = vec![("DIVI", entity.as_str())];
        query.extend_from_slice(params);
        let response = self
            .send_authorized(what, Idempotency::Safe, |c, token| {
                c.get(&url).query(&query).bearer_auth(token).header(reqwest::header::ACCEPT, "application/json")
            })
            .await?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let body = transport::bounded_text(response).await;
            return Err(match status {
                403 => InforError::Forbidden {
                    what,
                    message: error_message(&body),
                    fix: "allow the authorized app's service account to use the M3 API (the user needs access to \
                          GLS040MI, CRS630MI, CRS620MI, and PPS200MI and PPS300MI for purchase orders)",
                },
                404 => InforError::NotFound {
                    what,
                    url,
                    fix: "check `iu` and `ti` in the .ionapi file and that the tenant runs M3",
                },
                _ => InforError::Rejected { status, what, message: error_message(&body) },
            });
        }
        // Bounded by the transport's body limit: `maxrecs=0` asks for every record.
        let body: Value = transport::read_json(super::SERVICE, response)
            .await
            .map_err(|e| InforError::Malformed { what, detail: e.to_string() })?;
        let Some(result) = body.get("results").and_then(Value::as_array).and_then(|r| r.first()) else {
            return Err(InforError::Malformed { what, detail: "the answer has no results".into() });
        };
        if let Some(message) = result.get("errorMessage").and_then(Value::as_str).filter(|m| !m.trim().is_empty()) {
            let message = message.trim().to_owned();
            let field = result.get("errorField").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
            if field == "DIVI" {
                return Err(InforError::Setting {
                    setting: "accounting_entity",
                    problem: format!("`{entity}` is refused by Infor ({message})"),
                });
            }
            return Ok(M3Answer::Refused { message, field });
        }
        let records = result.get("records").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(M3Answer::Records(records))
    }

    /// Every GL account, dimension value and supplier `document` names is
    /// known to the accounting entity; else a permanent failure naming each
    /// unknown one. Nothing is sent either way.
    pub async fn validate(&self, document: &ErpDocument) -> Result<(), domain::Failure> {
        self.check_master_data(document, None).await.map_err(|e| e.to_failure(&self.posting_context(document)))
    }

    /// [`Self::validate`], plus `clearing_account` when chunks use one.
    pub(super) async fn check_master_data(
        &self,
        document: &ErpDocument,
        clearing_account: Option<&str>,
    ) -> Result<(), InforError> {
        let wanted = wanted(document, clearing_account);
        let mut unknown = Vec::new();
        let mut recheck = HashSet::new();
        for (list, values) in &wanted {
            let (listing, fresh) = self.master_list(list, false).await?;
            if values.keys().any(|v| !listing.contains(v)) && !fresh {
                recheck.insert(list.clone());
            }
        }
        for (list, values) in &wanted {
            let (listing, _) = self.master_list(list, recheck.contains(list)).await?;
            for (value, lines) in values {
                if !listing.contains(value) {
                    let note = match listing.as_ref() {
                        Listing::Refused(message) => Some(message.clone()),
                        Listing::Values(_) => None,
                    };
                    unknown.push(Unknown { list: list.clone(), value: value.clone(), lines: lines.clone(), note });
                }
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let named: Vec<String> = unknown
            .iter()
            .take(NAMED)
            .map(|u| {
                let mut text = u.list.describe(&u.value);
                match (u.lines.as_slice(), clearing_account) {
                    ([], Some(account)) if u.list == MasterList::GlAccounts && u.value == account => {
                        text.push_str(" (the chunk_clearing_account setting)");
                    }
                    ([], _) => {}
                    ([one], _) => text.push_str(&format!(" (line {one})")),
                    (many, _) => text.push_str(&format!(
                        " (lines {})",
                        many.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
                    )),
                }
                if let Some(note) = &u.note {
                    text.push_str(&format!(" [{note}]"));
                }
                text
            })
            .collect();
        let mut text = named.join(", ");
        if unknown.len() > NAMED {
            text.push_str(&format!(" and {} more", unknown.len() - NAMED));
        }
        Err(InforError::UnknownMasterData {
            document: format!("the {} for Concur key `{}`", document.label(), document.key),
            entity: self.entity()?,
            unknown: text,
        })
    }
}

/// The M3 supplier fields (CIDMAS) holding Concur's address, in the order of
/// [`VendorRecord::address`](domain::reference::VendorRecord::address): address lines `SUA1`, `SUA2`, town
/// `TOWN`, state `ECAR`, postal code `PONO`, country `CSCD` **[DEFAULT]**
/// names (CRS622MI's separate addresses call the lines `ADR1`…`ADR4`).
pub(super) const SUPPLIER_ADDRESS_FIELDS: [&str; 6] = ["SUA1", "SUA2", "TOWN", "ECAR", "PONO", "CSCD"];
/// Name, currency and VAT registration number **[DEFAULT]** field names.
pub(super) const SUPPLIER_NAME: &str = "SUNM";
pub(super) const SUPPLIER_CURRENCY: &str = "CUCD";
pub(super) const SUPPLIER_TAX_ID: &str = "VRNO";

/// Field `field` of an M3 record, trimmed; `None` when blank (M3 answers
/// every field, blank when it holds nothing).
pub(super) fn m3_text(record: &Value, field: &str) -> Option<String> {
    record.get(field).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// An M3 supplier record (`LstSuppliers`, `GetBasicData`) as a Concur
/// vendor record: `SUNO` is the code, `STAT` 20 is active and any other
/// status (90 blocked) inactive; fields M3 leaves blank are empty. `None`
/// without a supplier number.
pub(super) fn supplier_record(
    record: &Value,
    address_code: &str,
    limits: domain::reference::VendorLimits,
) -> Option<domain::reference::VendorRecord> {
    let text = |field: &str| m3_text(record, field);
    let (code, name) = (text("SUNO")?, text(SUPPLIER_NAME).unwrap_or_default());
    let mut record = domain::reference::VendorRecord::named(code, address_code.to_owned(), name, limits);
    record.set_address(SUPPLIER_ADDRESS_FIELDS.map(text));
    record.currency_code = text(SUPPLIER_CURRENCY);
    record.tax_id = text(SUPPLIER_TAX_ID);
    record.active = text("STAT").is_none_or(|s| s == "20");
    Some(record)
}

/// What a document needs known: list → value → lines naming it.
fn wanted(
    document: &ErpDocument,
    clearing_account: Option<&str>,
) -> BTreeMap<MasterList, BTreeMap<String, Vec<usize>>> {
    let mut wanted: BTreeMap<MasterList, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
    let mut add = |list: MasterList, value: &str, line: Option<usize>| {
        let lines = wanted.entry(list).or_default().entry(value.trim().to_owned()).or_default();
        if let Some(line) = line
            && !lines.contains(&line)
        {
            lines.push(line);
        }
    };
    if let ErpDocumentKind::Bill { vendor } | ErpDocumentKind::DebitAdjustment { vendor } = &document.kind {
        add(MasterList::Suppliers, vendor, None);
    }
    for (i, line) in document.lines.iter().enumerate() {
        add(MasterList::GlAccounts, &line.account, Some(i + 1));
        for (name, value) in &line.dimensions {
            add(MasterList::Dimension(name.clone()), value, Some(i + 1));
        }
    }
    if let Some(account) = clearing_account {
        add(MasterList::GlAccounts, account, None);
    }
    wanted
}
