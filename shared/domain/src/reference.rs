//! Reference data kept in step between an ERP and Concur (issue 14): the
//! records each kind carries, what Concur can hold, and the plan of one
//! sync run — pure, so every ERP and both directions share it.
//!
//! A run reads what changed in the source since its cursor, and the plan
//! says what to write: records whose content differs from what the target
//! last got from us (a content hash per record, kept by the caller), the
//! records to deactivate, and the ones the target cannot hold, refused
//! with the reason before any call. Only after the writes does the caller
//! store the new hashes and move the cursor, so a run cut off anywhere
//! resumes and writes the same things again at worst (every write is an
//! upsert keyed by the ERP's keys).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The kinds of reference data a connection keeps in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceKind {
    /// The ERP's vendors into Concur.
    Vendors,
    /// Concur's vendors into the ERP (where the connection's vendor
    /// direction says so): its own cursor, hashes and lease.
    VendorsToErp,
    Lists,
    PurchaseOrders,
    PoReceipts,
}

impl ReferenceKind {
    pub const ALL: [ReferenceKind; 5] =
        [Self::Vendors, Self::VendorsToErp, Self::Lists, Self::PurchaseOrders, Self::PoReceipts];

    /// Whether asking for `self` asks for `kind` (vendors cover both directions).
    pub fn covers(self, kind: ReferenceKind) -> bool {
        self == kind || (self == Self::Vendors && kind == Self::VendorsToErp)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vendors => "vendors",
            Self::VendorsToErp => "vendors_to_erp",
            Self::Lists => "lists",
            Self::PurchaseOrders => "purchase_orders",
            Self::PoReceipts => "po_receipts",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CannotHold> {
        Self::ALL.into_iter().find(|k| k.as_str() == text.trim()).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
            CannotHold(format!("unknown reference kind `{text}`: one of {}", known.join(", ")))
        })
    }
}

/// A partition of the sync state (`<connection>#<name>`): a reference kind, or the extract files a connection
/// has taken ([`crate::posting_source::FILES`]), which share the lease and the remembered records.
pub trait SyncPartition: Copy + Send + Sync {
    fn as_str(self) -> &'static str;
}

impl SyncPartition for ReferenceKind {
    fn as_str(self) -> &'static str {
        ReferenceKind::as_str(self)
    }
}

/// Why a value cannot be taken (a record Concur cannot hold, an unknown
/// kind), in words for the operator: what is wrong and where to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CannotHold(pub String);

/// A stable digest of what a record writes (hex SHA-256 of its canonical
/// JSON): equal digests mean nothing to write.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(String);

impl ContentHash {
    /// The digest of `content`. Structs serialize their fields in
    /// declaration order and maps in key order, so the same content always
    /// gives the same digest.
    pub fn of(content: &impl Serialize) -> Self {
        // Serializing plain records (strings, flags, ordered maps) cannot fail.
        let bytes = serde_json::to_vec(content).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A digest read back from the sync state.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a record needs to take part in a sync.
pub trait SyncRecord {
    /// The key the target knows it by, stable across runs.
    fn key(&self) -> String;
    /// Whether the source has it active (inactive, blocked or deleted
    /// records are deactivated in the target, never left active).
    fn is_active(&self) -> bool;
    /// Why the target cannot hold it as it is; checked before any call,
    /// never fixed by truncating.
    fn check(&self) -> Result<(), CannotHold>;
    /// The digest of what a write sends.
    fn content_hash(&self) -> ContentHash;
    /// Records the target needs first (a list item's parent): a lower
    /// rank is written earlier and deactivated later.
    fn rank(&self) -> usize {
        0
    }
}

/// What the target last got from us for one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownRecord {
    pub hash: ContentHash,
    pub active: bool,
    /// For deactivating a key the latest read no longer has.
    #[serde(default)]
    pub rank: usize,
    /// The target's own id for it (a Concur list item's uuid), when the
    /// target keys by id rather than by our key: updates and removals then
    /// need no lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// Where the source's record stands when that matters to the next run (a payment batch seen open, asked
    /// to close, taken); `None` for reference records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// How much of the source a run read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadScope {
    /// What changed since the cursor: a record not read is unchanged.
    Changed,
    /// Everything the source holds: a known record not read was deleted
    /// there (a changed-since filter never shows deletes).
    Everything,
}

/// A record the target cannot hold, with the reason and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub key: String,
    pub reason: String,
}

/// What one run writes.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPlan<R> {
    /// New or changed active records, parents first.
    pub write: Vec<R>,
    /// Keys active in the target that are inactive (or gone) in the
    /// source, children first.
    pub deactivate: Vec<String>,
    pub unchanged: usize,
    pub refused: Vec<Refusal>,
}

/// The plan of one run: `read` (the source's records; a key read twice
/// counts once, the later one) against `known` (what the target last got
/// from us).
pub fn plan_sync<R: SyncRecord>(read: Vec<R>, known: &HashMap<String, KnownRecord>, scope: ReadScope) -> SyncPlan<R> {
    let mut latest: BTreeMap<String, R> = BTreeMap::new();
    for record in read {
        latest.insert(record.key(), record);
    }
    let read_keys: std::collections::HashSet<String> = latest.keys().cloned().collect();
    let mut plan = SyncPlan { write: Vec::new(), deactivate: Vec::new(), unchanged: 0, refused: Vec::new() };
    let mut deactivate: Vec<(usize, String)> = Vec::new();
    for (key, record) in latest {
        let before = known.get(&key);
        if !record.is_active() {
            match before.is_some_and(|k| k.active) {
                true => deactivate.push((record.rank(), key)),
                false => plan.unchanged += 1,
            }
        } else if let Err(reason) = record.check() {
            plan.refused.push(Refusal { key, reason: reason.0 });
        } else if before.is_some_and(|k| k.active && k.hash == record.content_hash()) {
            plan.unchanged += 1;
        } else {
            plan.write.push(record);
        }
    }
    if scope == ReadScope::Everything {
        let gone = known.iter().filter(|(key, k)| k.active && !read_keys.contains(*key));
        deactivate.extend(gone.map(|(key, k)| (k.rank, key.clone())));
    }
    // Parents before children; removals children first, then by key.
    plan.write.sort_by_key(SyncRecord::rank);
    deactivate.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    plan.deactivate = deactivate.into_iter().map(|(_, key)| key).collect();
    plan
}

/// How often the poller queues a connection's reference sync [DEFAULT].
pub const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);
/// How often a sync reads everything rather than what changed: the only
/// read that finds records deleted in the ERP, and Acumatica's vendor
/// address edits (which do not move its change time) [DEFAULT].
pub const FULL_READ_EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Whether the scheduled sync of a connection is due at `now`: `every`
/// after the last one the schedule queued, else after the connect (which
/// queues the first sync itself); at once when neither is known.
pub fn sync_due(
    last_queued: Option<OffsetDateTime>,
    connected: Option<OffsetDateTime>,
    now: OffsetDateTime,
    every: std::time::Duration,
) -> bool {
    last_queued.or(connected).is_none_or(|at| now - at >= every)
}

/// Whether a run starting at `now` reads everything: the last full read
/// is older than `every`, or there was none.
pub fn full_read_due(last_full: Option<OffsetDateTime>, now: OffsetDateTime, every: std::time::Duration) -> bool {
    last_full.is_none_or(|at| now - at >= every)
}

/// One page of a source read: what changed after a time, from `skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPage {
    /// Changed after this (`None`: everything).
    pub changed_after: Option<OffsetDateTime>,
    pub skip: usize,
    pub top: usize,
}

/// The Concur `AddressCode` of a vendor whose ERP shows only its default
/// address (Acumatica's Default endpoint) [DEFAULT].
pub const DEFAULT_ADDRESS_CODE: &str = "MAIN";

/// Where a changed-since read starts: `cursor` (the start of the last run
/// that finished) less `overlap` (clocks differ, commits land late);
/// `None`: everything (the first run).
pub fn read_from(cursor: Option<OffsetDateTime>, overlap: std::time::Duration) -> Option<OffsetDateTime> {
    cursor.map(|c| c - overlap)
}

/// Checks one text field against what the target holds: present when
/// required, within `max` characters, no control characters, no
/// surrounding spaces (the target trims them and the keys would drift).
pub fn check_text(field: &str, value: Option<&str>, required: bool, max: usize) -> Result<(), CannotHold> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return match required {
            true => Err(CannotHold(format!("{field} is missing; Concur requires it: fill it in the ERP"))),
            false => Ok(()),
        };
    };
    let chars = value.chars().count();
    if chars > max {
        return Err(CannotHold(format!(
            "{field} `{value}` has {chars} characters; Concur holds at most {max}: shorten it in the ERP \
             (it is never truncated, or two records could become one)"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(CannotHold(format!(
            "{field} `{}` holds a control character Concur refuses: fix it in the ERP",
            value.escape_debug()
        )));
    }
    if value.trim() != value {
        return Err(CannotHold(format!(
            "{field} `{value}` starts or ends with spaces: Concur trims them; fix it in the ERP"
        )));
    }
    Ok(())
}

/// Concur's limits on vendor fields. Vendor v3 documents none, so these
/// are [DEFAULT]s, kept configurable: the code as the PRAE column holds it
/// (32; FI's schema says 23 for `vendorCode`, its own PRAE sheet 32), the
/// address code and name as FI carries them (64, 255).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorLimits {
    pub vendor_code: usize,
    pub address_code: usize,
    pub vendor_name: usize,
    pub address_line: usize,
}

impl Default for VendorLimits {
    fn default() -> Self {
        Self { vendor_code: 32, address_code: 64, vendor_name: 255, address_line: 64 }
    }
}

/// One vendor remit address as Concur's Vendor v3 keys it
/// (`VendorCode` + `AddressCode`), read from the ERP's vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorRecord {
    /// The ERP's vendor id (Acumatica VendorID, IFS supplier id, Infor
    /// supplier party id): the code FI invoices carry, so a posting lands
    /// on the same vendor.
    pub vendor_code: String,
    pub address_code: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// ISO 4217.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    pub active: bool,
    /// Checked against [`VendorLimits`]; not part of the content.
    #[serde(skip)]
    pub limits: VendorLimits,
}

impl VendorRecord {
    /// An active vendor with its keys and name, every optional field empty
    /// (an ERP fills in what it reads).
    pub fn named(vendor_code: String, address_code: String, name: String, limits: VendorLimits) -> Self {
        Self {
            vendor_code,
            address_code,
            name,
            address1: None,
            address2: None,
            city: None,
            state: None,
            postal_code: None,
            country_code: None,
            currency_code: None,
            tax_id: None,
            active: true,
            limits,
        }
    }
}

impl SyncRecord for VendorRecord {
    fn key(&self) -> String {
        vendor_key(&self.vendor_code, &self.address_code)
    }

    fn is_active(&self) -> bool {
        self.active
    }

    fn check(&self) -> Result<(), CannotHold> {
        let l = &self.limits;
        check_text("VendorCode", Some(&self.vendor_code), true, l.vendor_code)?;
        check_text("AddressCode", Some(&self.address_code), true, l.address_code)?;
        check_text("VendorName", Some(&self.name), true, l.vendor_name)?;
        for (field, value) in [("Address1", &self.address1), ("Address2", &self.address2), ("City", &self.city)] {
            check_text(field, value.as_deref(), false, l.address_line)?;
        }
        check_code("CountryCode", self.country_code.as_deref(), 2)?;
        check_code("CurrencyCode", self.currency_code.as_deref(), 3)
    }

    fn content_hash(&self) -> ContentHash {
        ContentHash::of(self)
    }
}

/// A group of vendor fields with one owner in a two-way sync: the side
/// that owns a field is the only one whose changes to it are carried to
/// the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorField {
    /// `VendorName`.
    Name,
    /// `Address1`, `Address2`, `City`, `State`, `PostalCode`, `CountryCode`.
    Address,
    /// `CurrencyCode`.
    Currency,
    /// `TaxID`.
    TaxId,
}

/// A set of [`VendorField`]s.
pub type VendorFields = std::collections::BTreeSet<VendorField>;

impl VendorField {
    pub const ALL: [VendorField; 4] = [Self::Name, Self::Address, Self::Currency, Self::TaxId];

    /// Every field.
    pub fn all() -> VendorFields {
        Self::ALL.into_iter().collect()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Address => "address",
            Self::Currency => "currency",
            Self::TaxId => "tax_id",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CannotHold> {
        Self::ALL.into_iter().find(|f| f.as_str() == text.trim()).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|f| f.as_str()).collect();
            CannotHold(format!("unknown vendor field `{text}`: one of {}", known.join(", ")))
        })
    }
}

impl VendorRecord {
    /// The record with only `fields` (and the keys and the active flag):
    /// what one side owns, and so what its content hash covers.
    pub fn project(&self, fields: &VendorFields) -> VendorRecord {
        let mut kept =
            VendorRecord::named(self.vendor_code.clone(), self.address_code.clone(), String::new(), self.limits);
        kept.active = self.active;
        kept.take(self, fields);
        kept
    }

    /// The address lines in Concur's order (Address1, Address2, City,
    /// State, PostalCode, CountryCode): each ERP names them in a table of
    /// the same order.
    pub fn address(&self) -> [&Option<String>; 6] {
        [&self.address1, &self.address2, &self.city, &self.state, &self.postal_code, &self.country_code]
    }

    /// Sets the address lines, in [`Self::address`]'s order.
    pub fn set_address(&mut self, lines: [Option<String>; 6]) {
        [self.address1, self.address2, self.city, self.state, self.postal_code, self.country_code] = lines;
    }

    /// Sets `fields` to `other`'s values.
    pub fn take(&mut self, other: &VendorRecord, fields: &VendorFields) {
        for field in fields {
            match field {
                VendorField::Name => self.name.clone_from(&other.name),
                VendorField::Address => {
                    self.set_address(other.address().map(Clone::clone));
                }
                VendorField::Currency => self.currency_code.clone_from(&other.currency_code),
                VendorField::TaxId => self.tax_id.clone_from(&other.tax_id),
            }
        }
    }

    /// The fields among `among` whose values differ between `self` and `other`.
    pub fn differing(&self, other: &VendorRecord, among: &VendorFields) -> Vec<VendorField> {
        among
            .iter()
            .copied()
            .filter(|field| {
                let one: VendorFields = [*field].into_iter().collect();
                self.project(&one).content_hash() != other.project(&one).content_hash()
            })
            .collect()
    }
}

/// Which way vendors flow for a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorDirection {
    /// The ERP's vendors into Concur (the default: the ERP pays them).
    #[default]
    ErpToConcur,
    /// Vendors created or changed in Concur into the ERP.
    ConcurToErp,
    /// Both, each field carried from the side that owns it.
    Both,
}

impl VendorDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ErpToConcur => "erp_to_concur",
            Self::ConcurToErp => "concur_to_erp",
            Self::Both => "both",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CannotHold> {
        [Self::ErpToConcur, Self::ConcurToErp, Self::Both]
            .into_iter()
            .find(|d| d.as_str() == text.trim())
            .ok_or_else(|| CannotHold(format!("unknown direction `{text}`: one of erp_to_concur, concur_to_erp, both")))
    }
}

/// The side that owns a vendor field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldOwner {
    Erp,
    Concur,
}

impl FieldOwner {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Erp => "erp",
            Self::Concur => "concur",
        }
    }

    pub fn parse(text: &str) -> Result<Self, CannotHold> {
        match text.trim() {
            "erp" => Ok(Self::Erp),
            "concur" => Ok(Self::Concur),
            other => Err(CannotHold(format!("unknown owner `{other}`: erp or concur"))),
        }
    }
}

/// How a connection's vendors are kept in step: the direction and, for
/// `both`, the owner of each field (the ERP for a field not named).
///
/// Why no update can loop: each direction writes only the fields its
/// source owns and hashes only those, so a write into one side changes
/// nothing the other direction looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorSync {
    #[serde(default)]
    pub direction: VendorDirection,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<VendorField, FieldOwner>,
}

impl VendorSync {
    /// Who owns `field`.
    pub fn owner(&self, field: VendorField) -> FieldOwner {
        match self.direction {
            VendorDirection::ErpToConcur => FieldOwner::Erp,
            VendorDirection::ConcurToErp => FieldOwner::Concur,
            VendorDirection::Both => self.owners.get(&field).copied().unwrap_or(FieldOwner::Erp),
        }
    }

    /// The fields `owner` owns.
    pub fn owned_by(&self, owner: FieldOwner) -> VendorFields {
        VendorField::ALL.into_iter().filter(|f| self.owner(*f) == owner).collect()
    }

    /// Whether the ERP's vendors go to Concur.
    pub fn to_concur(&self) -> bool {
        self.direction != VendorDirection::ConcurToErp
    }

    /// Whether Concur's vendors go to the ERP.
    pub fn to_erp(&self) -> bool {
        self.direction != VendorDirection::ErpToConcur
    }

    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A vendor as one direction of a sync carries it: the whole record is
/// written, but only the fields its source owns count as its content, so
/// a change the other direction wrote is not carried back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedVendor {
    pub record: VendorRecord,
    /// The fields the source of this direction owns.
    pub owned: VendorFields,
}

impl SyncRecord for OwnedVendor {
    fn key(&self) -> String {
        self.record.key()
    }

    fn is_active(&self) -> bool {
        self.record.active
    }

    fn check(&self) -> Result<(), CannotHold> {
        self.record.check()
    }

    /// With every field owned, the hash of the whole record (so hashes
    /// stored before owners existed still match).
    fn content_hash(&self) -> ContentHash {
        match self.owned.len() == VendorField::ALL.len() {
            true => self.record.content_hash(),
            false => self.record.project(&self.owned).content_hash(),
        }
    }
}

/// The key of a vendor address in the sync state: `VendorCode` and
/// `AddressCode` joined by a character neither may hold.
pub fn vendor_key(vendor_code: &str, address_code: &str) -> String {
    format!("{vendor_code}\u{1f}{address_code}")
}

/// An ISO code of exactly `len` upper-case letters, when present.
fn check_code(field: &str, value: Option<&str>, len: usize) -> Result<(), CannotHold> {
    match value {
        Some(code) if code.len() != len || !code.bytes().all(|b| b.is_ascii_uppercase()) => {
            Err(CannotHold(format!("{field} `{code}` is not an ISO code of {len} capital letters: fix it in the ERP")))
        }
        _ => Ok(()),
    }
}

/// A purchase order as Concur's Purchase Order v3 keys it (by
/// `PurchaseOrderNumber`), in either direction: read from Concur for an
/// ERP that creates the POs invoices reference (IFS Cloud), or read from
/// the ERP for Concur.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseOrderRecord {
    pub number: String,
    pub name: String,
    /// The ERP's vendor id, as Vendor v3 holds it.
    pub vendor_code: String,
    pub vendor_address_code: String,
    /// ISO 4217.
    pub currency_code: String,
    pub order_date: time::Date,
    /// `Closed` in Concur (else `Transmitted`).
    pub closed: bool,
    pub lines: Vec<PurchaseOrderLine>,
}

/// One `LineItem` of a purchase order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseOrderLine {
    pub line_number: String,
    /// Unique within the order: what receipts and FI invoice lines name.
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub quantity: rust_decimal::Decimal,
    pub unit_price: rust_decimal::Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_of_measure: Option<String>,
    /// The GL account the line is coded to (Concur: `AccountCode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_code: Option<String>,
}

impl SyncRecord for PurchaseOrderRecord {
    fn key(&self) -> String {
        self.number.clone()
    }

    /// A purchase order is never inactive: one closed, cancelled or
    /// completed in the ERP is sent `Closed` (Concur deletes none).
    fn is_active(&self) -> bool {
        true
    }

    fn check(&self) -> Result<(), CannotHold> {
        check_text("PurchaseOrderNumber", Some(&self.number), true, PO_TEXT_MAX)?;
        check_text("Name", Some(&self.name), true, PO_NAME_MAX)?;
        check_text("VendorCode", Some(&self.vendor_code), true, VendorLimits::default().vendor_code)?;
        check_text("VendorAddressCode", Some(&self.vendor_address_code), true, VendorLimits::default().address_code)?;
        check_code("CurrencyCode", Some(&self.currency_code), 3)?;
        if self.lines.is_empty() {
            return Err(CannotHold(format!(
                "purchase order `{}` has no lines; Concur takes none without: it is sent once it has a line",
                self.number
            )));
        }
        let mut ids = std::collections::BTreeSet::new();
        for line in &self.lines {
            check_text("LineNumber", Some(&line.line_number), true, PO_TEXT_MAX)?;
            check_text("line ExternalID", Some(&line.external_id), true, PO_LINE_ID_MAX)?;
            check_text("line Description", line.description.as_deref(), false, PO_NAME_MAX)?;
            if !ids.insert(line.external_id.as_str()) {
                return Err(CannotHold(format!(
                    "purchase order `{}` has line id `{}` twice; Concur needs them unique (error 5600)",
                    self.number, line.external_id
                )));
            }
            if line.account_code.is_none() {
                return Err(CannotHold(format!(
                    "line {} of purchase order `{}` has no GL account; Concur needs an account code or an \
                     expense type on every line: code the line to an account in the ERP",
                    line.line_number, self.number
                )));
            }
        }
        Ok(())
    }

    fn content_hash(&self) -> ContentHash {
        ContentHash::of(self)
    }
}

/// [DEFAULT] limits on purchase order texts (PO v3 documents none; FI
/// carries a line's `externalLineItemId` up to 100 characters).
pub const PO_TEXT_MAX: usize = 50;
pub const PO_NAME_MAX: usize = 255;
pub const PO_LINE_ID_MAX: usize = 100;

/// One goods receipt of a purchase order line as Concur's PO Receipt v3
/// keys it: the order, its line's `ExternalID` and the receipt number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoReceiptRecord {
    pub po_number: String,
    pub line_external_id: String,
    pub receipt_number: String,
    pub received_date: time::Date,
    pub quantity: rust_decimal::Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_of_measure: Option<String>,
    /// False for a receipt reversed or deleted in the ERP: deleted in Concur.
    pub active: bool,
}

impl SyncRecord for PoReceiptRecord {
    fn key(&self) -> String {
        po_receipt_key(&self.po_number, &self.line_external_id, &self.receipt_number)
    }

    fn is_active(&self) -> bool {
        self.active
    }

    fn check(&self) -> Result<(), CannotHold> {
        check_text("PurchaseOrderNumber", Some(&self.po_number), true, PO_TEXT_MAX)?;
        check_text("LineItemExternalID", Some(&self.line_external_id), true, PO_LINE_ID_MAX)?;
        check_text("GoodsReceiptNumber", Some(&self.receipt_number), true, PO_TEXT_MAX)?;
        // PO Receipt v3: a unit of measure under 10 characters (error 1005).
        check_text("UnitOfMeasureCode", self.unit_of_measure.as_deref(), false, 9)
    }

    fn content_hash(&self) -> ContentHash {
        ContentHash::of(self)
    }
}

/// The key of a PO receipt in the sync state.
pub fn po_receipt_key(po_number: &str, line_external_id: &str, receipt_number: &str) -> String {
    format!("{po_number}\u{1f}{line_external_id}\u{1f}{receipt_number}")
}

/// Concur's limits on list items: List Item v3 documents 32 characters a
/// level code and 64 a name; v4 is silent, so the same [DEFAULT]s.
pub const LIST_ITEM_CODE_MAX: usize = 32;
pub const LIST_ITEM_VALUE_MAX: usize = 64;

/// One cost-object code in a Concur list, at the level its path gives
/// (level 1 = one code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListItemRecord {
    /// The Concur list's name.
    pub list: String,
    /// The short codes from level 1 down to this item.
    pub path: Vec<String>,
    /// The text Concur shows.
    pub value: String,
    pub active: bool,
}

impl SyncRecord for ListItemRecord {
    fn key(&self) -> String {
        list_item_key(&self.list, &self.path)
    }

    fn is_active(&self) -> bool {
        self.active
    }

    fn check(&self) -> Result<(), CannotHold> {
        if self.path.is_empty() {
            return Err(CannotHold(format!("an item of list `{}` has no code", self.list)));
        }
        for code in &self.path {
            check_text("shortCode", Some(code), true, LIST_ITEM_CODE_MAX)?;
            // Concur's long code joins the levels with `-`: a `-` inside
            // a code would name another parent.
            if self.path.len() > 1 && code.contains('-') {
                return Err(CannotHold(format!(
                    "shortCode `{code}` holds `-`, which Concur uses between the levels of a long code: \
                     use another character in the ERP"
                )));
            }
        }
        check_text("value", Some(&self.value), true, LIST_ITEM_VALUE_MAX)
    }

    fn content_hash(&self) -> ContentHash {
        ContentHash::of(self)
    }

    fn rank(&self) -> usize {
        self.path.len()
    }
}

/// The key of a list item in the sync state: the list and its path, each
/// part separated by a character no code holds.
pub fn list_item_key(list: &str, path: &[String]) -> String {
    let mut key = list.to_owned();
    for code in path {
        key.push('\u{1f}');
        key.push_str(code);
    }
    key
}

/// The list and the path a [`list_item_key`] was made of.
pub fn split_list_item_key(key: &str) -> (&str, Vec<String>) {
    let mut parts = key.split('\u{1f}');
    let list = parts.next().unwrap_or_default();
    (list, parts.map(str::to_owned).collect())
}

/// Where the items of a Concur list come from in the ERP
/// (reference-data-from-erp.md §1.1, §2.1). Each ERP reads the sources it
/// has and says so for the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ListSource {
    /// Acumatica's subaccounts (GL203000): `SubaccountCD`, `Description`, `Active`.
    Subaccounts,
    /// The ERP's GL accounts (Acumatica `Account`: `AccountCD`,
    /// `Description`, `Active`; Infor M3 `GLS040MI`: `AITM`, `TX40`).
    Accounts,
    /// Acumatica projects → tasks (a two-level list): each project at
    /// level 1 (`ProjectID`, `Description`), its tasks under it at level 2
    /// (`ProjectTaskID`, `Description`), so a form picks a project and
    /// then one of its tasks.
    Projects,
    /// The values of one IFS Cloud code part (`B`…`J`) of the connection's
    /// company, active while today lies within their validity.
    CodePart(char),
    /// The values of one Infor M3 accounting dimension (`CRS630MI`, the
    /// dimension's `DIMT` list id as the mapping names it): `AITM`, `TX40`.
    Dimension(String),
}

impl ListSource {
    pub fn parse(text: &str) -> Result<Self, CannotHold> {
        let text = text.trim();
        match text.to_ascii_lowercase().as_str() {
            "subaccounts" => return Ok(Self::Subaccounts),
            "accounts" => return Ok(Self::Accounts),
            "projects" => return Ok(Self::Projects),
            _ => {}
        }
        if let Some(name) = text.strip_prefix("dimension:").map(str::trim) {
            return match name.is_empty() || name.contains('\u{1f}') {
                true => Err(CannotHold(format!("`{text}` names no dimension after `dimension:`"))),
                false => Ok(Self::Dimension(name.to_owned())),
            };
        }
        let letter = text.strip_prefix("code_part:").or_else(|| text.strip_prefix("CODE_PART:"));
        match letter.map(|l| l.to_ascii_uppercase()) {
            Some(l) if l.len() == 1 && ("B"..="J").contains(&l.as_str()) => {
                Ok(Self::CodePart(l.chars().next().unwrap_or('B')))
            }
            _ => Err(CannotHold(format!(
                "unknown list source `{text}`: one of subaccounts, accounts, projects (Acumatica), code_part:B … \
                 code_part:J (IFS Cloud), accounts, dimension:NAME (Infor M3)"
            ))),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Self::Subaccounts => "subaccounts".into(),
            Self::Accounts => "accounts".into(),
            Self::Projects => "projects".into(),
            Self::CodePart(letter) => format!("code_part:{letter}"),
            Self::Dimension(name) => format!("dimension:{name}"),
        }
    }
}

impl TryFrom<String> for ListSource {
    type Error = CannotHold;

    fn try_from(text: String) -> Result<Self, CannotHold> {
        Self::parse(&text)
    }
}

impl From<ListSource> for String {
    fn from(source: ListSource) -> String {
        source.name()
    }
}

impl std::fmt::Display for ListSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// What reference data a connection keeps in step beyond its vendors
/// (which follow the ERP wherever it reads them and Concur takes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceSettings {
    /// The Concur lists fed from the ERP, each from its source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<ListFeed>,
    /// Which way vendors flow, and who owns which field.
    #[serde(default, skip_serializing_if = "VendorSync::is_default")]
    pub vendors: VendorSync,
    /// The ERP's purchase orders and their receipts into Concur, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_orders: Option<PurchaseOrderSettings>,
}

impl ReferenceSettings {
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty() && self.vendors.is_default() && self.purchase_orders.is_none()
    }
}

/// What Concur's Purchase Order v3 needs beyond what the ERP's order
/// holds: the policy and the bill-to and ship-to addresses (required on
/// every order; the ERPs' orders carry none Concur can take as is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseOrderSettings {
    /// `PolicyExternalID`: always `PO` in the Standard edition; from the
    /// implementation team in Professional.
    pub policy_external_id: String,
    pub bill_to: PoAddress,
    pub ship_to: PoAddress,
}

/// A PO v3 `BillToAddress` / `ShipToAddress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoAddress {
    pub external_id: String,
    pub address1: String,
    pub city: String,
    pub state_province: String,
    pub postal_code: String,
    /// ISO 3166 alpha-2.
    pub country_code: String,
}

impl PoAddress {
    /// `EXTERNALID|ADDRESS1|CITY|STATE|POSTALCODE|COUNTRY`, as the operator
    /// CLI takes it (every part required, as Concur requires them).
    pub fn parse(text: &str) -> Result<Self, CannotHold> {
        let parts: Vec<&str> = text.split('|').map(str::trim).collect();
        let [external_id, address1, city, state_province, postal_code, country_code] = parts[..] else {
            return Err(CannotHold(format!(
                "`{text}` is not EXTERNALID|ADDRESS1|CITY|STATE|POSTALCODE|COUNTRY (six parts, all required)"
            )));
        };
        if let Some(empty) = parts.iter().position(|p| p.is_empty()) {
            return Err(CannotHold(format!("part {} of `{text}` is empty; Concur requires every part", empty + 1)));
        }
        check_code("country", Some(country_code), 2)?;
        Ok(Self {
            external_id: external_id.into(),
            address1: address1.into(),
            city: city.into(),
            state_province: state_province.into(),
            postal_code: postal_code.into(),
            country_code: country_code.into(),
        })
    }
}

/// One Concur list fed from one ERP source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFeed {
    /// The Concur list's name (List v4 `value`): the list must exist in
    /// Concur, where an admin ties it to a form field.
    pub list: String,
    pub source: ListSource,
}

impl ListFeed {
    /// `LIST=SOURCE`, as the operator CLI takes it.
    pub fn parse(text: &str) -> Result<Self, CannotHold> {
        let Some((list, source)) = text.rsplit_once('=') else {
            return Err(CannotHold(format!("`{text}` is not LIST=SOURCE (for example `Cost Centers=subaccounts`)")));
        };
        let list = list.trim();
        if list.is_empty() || list.contains('\u{1f}') {
            return Err(CannotHold(format!("`{text}` names no Concur list before `=`")));
        }
        Ok(Self { list: list.to_owned(), source: ListSource::parse(source)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_is_due_every_period_after_the_last_one_queued_or_the_connect() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let hours = |h: i64| now - time::Duration::hours(h);
        assert!(sync_due(None, None, now, SYNC_EVERY), "nothing known: at once");
        assert!(!sync_due(None, Some(hours(1)), now, SYNC_EVERY), "the connect queued one an hour ago");
        assert!(sync_due(None, Some(hours(6)), now, SYNC_EVERY));
        assert!(!sync_due(Some(hours(5)), Some(hours(100)), now, SYNC_EVERY), "the last queued one counts");
        assert!(sync_due(Some(hours(7)), Some(hours(1)), now, SYNC_EVERY));
        assert!(full_read_due(None, now, FULL_READ_EVERY));
        assert!(!full_read_due(Some(hours(23)), now, FULL_READ_EVERY));
        assert!(full_read_due(Some(hours(24)), now, FULL_READ_EVERY));
    }

    fn vendor(code: &str, name: &str) -> VendorRecord {
        VendorRecord {
            vendor_code: code.into(),
            address_code: "MAIN".into(),
            name: name.into(),
            address1: Some("1 Main St".into()),
            address2: None,
            city: Some("Bellevue".into()),
            state: Some("WA".into()),
            postal_code: Some("98004".into()),
            country_code: Some("US".into()),
            currency_code: Some("USD".into()),
            tax_id: None,
            active: true,
            limits: VendorLimits::default(),
        }
    }

    fn known(records: &[&VendorRecord]) -> HashMap<String, KnownRecord> {
        records
            .iter()
            .map(|r| {
                (
                    r.key(),
                    KnownRecord { hash: r.content_hash(), active: r.active, rank: 0, target_id: None, state: None },
                )
            })
            .collect()
    }

    fn item(path: &[&str], value: &str) -> ListItemRecord {
        ListItemRecord {
            list: "Cost centers".into(),
            path: path.iter().map(|c| (*c).to_owned()).collect(),
            value: value.into(),
            active: true,
        }
    }

    #[test]
    fn only_new_and_changed_records_are_written() {
        let (a, b, c) = (vendor("V1", "Acme"), vendor("V2", "Globex"), vendor("V3", "Initech"));
        let state = known(&[&a, &b, &c]);
        let mut b2 = b.clone();
        b2.city = Some("Seattle".into());
        let d = vendor("V4", "Umbrella");
        let plan = plan_sync(vec![a, b2.clone(), c, d.clone()], &state, ReadScope::Changed);
        assert_eq!(plan.write, vec![b2, d]);
        assert_eq!((plan.unchanged, plan.deactivate.len(), plan.refused.len()), (2, 0, 0));
    }

    #[test]
    fn an_inactive_record_is_deactivated_once_and_a_deleted_one_on_a_full_read() {
        let (a, b, c) = (vendor("V1", "Acme"), vendor("V2", "Globex"), vendor("V3", "Initech"));
        let state = known(&[&a, &b, &c]);
        let mut b_off = b.clone();
        b_off.active = false;
        // Changed-since read: V3 not read means unchanged, not deleted.
        let plan = plan_sync(vec![a.clone(), b_off.clone()], &state, ReadScope::Changed);
        assert_eq!(plan.deactivate, vec![b.key()]);
        assert!(plan.write.is_empty());
        // A full read without V3: V3 was deleted in the ERP.
        let plan = plan_sync(vec![a.clone(), b_off.clone()], &state, ReadScope::Everything);
        assert_eq!(plan.deactivate, vec![b.key(), c.key()]);
        // Once deactivated (state says inactive), nothing more to do.
        let mut after = state.clone();
        after.get_mut(&b.key()).unwrap().active = false;
        after.get_mut(&c.key()).unwrap().active = false;
        let plan = plan_sync(vec![a, b_off], &after, ReadScope::Everything);
        assert!(plan.deactivate.is_empty() && plan.write.is_empty());
        // Reactivated in the ERP: written again.
        let plan = plan_sync(vec![c.clone()], &after, ReadScope::Changed);
        assert_eq!(plan.write, vec![c]);
    }

    #[test]
    fn a_record_concur_cannot_hold_is_refused_with_the_reason_and_the_rest_written() {
        let long = vendor(&"X".repeat(33), "Too long a code");
        let mut bad_country = vendor("V2", "Globex");
        bad_country.country_code = Some("usa".into());
        let spaced = vendor("V3", " Initech");
        let fine = vendor("V4", "Umbrella");
        let plan = plan_sync(vec![long, bad_country, spaced, fine.clone()], &HashMap::new(), ReadScope::Changed);
        assert_eq!(plan.write, vec![fine]);
        let reasons: Vec<&str> = plan.refused.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        // In key order: V2, V3, then the long code.
        assert!(reasons[0].contains("CountryCode `usa`"), "{reasons:?}");
        assert!(reasons[1].contains("spaces"), "{reasons:?}");
        assert!(reasons[2].contains("33 characters") && reasons[2].contains("at most 32"), "{reasons:?}");
    }

    #[test]
    fn list_items_are_written_parents_first_and_removed_children_first() {
        let parent = item(&["100"], "Sales");
        let child = item(&["100", "110"], "Sales East");
        let plan = plan_sync(vec![child.clone(), parent.clone()], &HashMap::new(), ReadScope::Everything);
        assert_eq!(plan.write, vec![parent.clone(), child.clone()]);

        let state: HashMap<String, KnownRecord> = [&parent, &child]
            .iter()
            .map(|r| {
                (
                    r.key(),
                    KnownRecord { hash: r.content_hash(), active: true, rank: r.rank(), target_id: None, state: None },
                )
            })
            .collect();
        let plan = plan_sync(Vec::<ListItemRecord>::new(), &state, ReadScope::Everything);
        assert_eq!(plan.deactivate, vec![child.key(), parent.key()]);
    }

    #[test]
    fn a_list_code_with_the_level_separator_is_refused() {
        let plan = plan_sync(vec![item(&["100", "1-10"], "East")], &HashMap::new(), ReadScope::Changed);
        assert!(plan.refused[0].reason.contains("`-`"), "{:?}", plan.refused);
        // At level 1 alone the long code is the short code: allowed.
        assert!(item(&["1-10"], "East").check().is_ok());
    }

    #[test]
    fn a_key_read_twice_counts_once_the_later_read_wins() {
        let first = vendor("V1", "Acme");
        let mut later = first.clone();
        later.name = "Acme Corp".into();
        let plan = plan_sync(vec![first, later.clone()], &HashMap::new(), ReadScope::Changed);
        assert_eq!(plan.write, vec![later]);
    }

    #[test]
    fn the_content_hash_is_stable_and_ignores_the_limits() {
        let a = vendor("V1", "Acme");
        let mut b = a.clone();
        b.limits.vendor_name = 200;
        assert_eq!(a.content_hash(), b.content_hash());
        assert_eq!(a.content_hash().as_str().len(), 64);
        b.name = "Acme ".into();
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn a_changed_since_read_overlaps_the_cursor() {
        let cursor = time::macros::datetime!(2026-12-06 09:00 UTC);
        let from = read_from(Some(cursor), std::time::Duration::from_secs(300));
        assert_eq!(from, Some(time::macros::datetime!(2026-12-06 08:55 UTC)));
        assert_eq!(read_from(None, std::time::Duration::ZERO), None);
    }

    #[test]
    fn each_field_has_one_owner_and_each_direction_hashes_only_its_own() {
        let both = VendorSync {
            direction: VendorDirection::Both,
            owners: [(VendorField::Name, FieldOwner::Concur)].into_iter().collect(),
        };
        let concur_owned = both.owned_by(FieldOwner::Concur);
        let erp_owned = both.owned_by(FieldOwner::Erp);
        assert_eq!(concur_owned, [VendorField::Name].into_iter().collect());
        assert!(concur_owned.intersection(&erp_owned).next().is_none());
        assert_eq!(concur_owned.len() + erp_owned.len(), VendorField::ALL.len());
        assert!(both.to_concur() && both.to_erp());
        let one_way = VendorSync::default();
        assert_eq!(one_way.owned_by(FieldOwner::Erp), VendorField::all());
        assert!(one_way.to_concur() && !one_way.to_erp());

        // The ERP's vendor after Concur wrote the name into it: the ERP
        // direction sees the same content, so nothing goes back.
        let erp = vendor("V1", "Acme");
        let mut renamed = erp.clone();
        renamed.name = "ACME Corporation".into();
        let from_erp = |r: &VendorRecord| OwnedVendor { record: r.clone(), owned: erp_owned.clone() };
        assert_eq!(from_erp(&erp).content_hash(), from_erp(&renamed).content_hash());
        let mut moved = erp.clone();
        moved.city = Some("Seattle".into());
        assert_ne!(from_erp(&erp).content_hash(), from_erp(&moved).content_hash());
        assert_eq!(erp.differing(&moved, &VendorField::all()), vec![VendorField::Address]);
        assert_eq!(erp.differing(&moved, &concur_owned), vec![]);
        // Every field owned: the whole record's hash, as stored before owners existed.
        let all = OwnedVendor { record: erp.clone(), owned: VendorField::all() };
        assert_eq!(all.content_hash(), erp.content_hash());
    }

    #[test]
    fn kinds_parse_from_their_names() {
        for kind in ReferenceKind::ALL {
            assert_eq!(ReferenceKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(ReferenceKind::parse("suppliers").unwrap_err().0.contains("vendors, vendors_to_erp, lists"));
    }

    #[test]
    fn list_sources_parse_from_their_names_and_an_unknown_one_lists_them() {
        for source in [ListSource::Subaccounts, ListSource::Accounts, ListSource::Projects, ListSource::CodePart('C')] {
            assert_eq!(ListSource::parse(&source.name()), Ok(source.clone()));
            let json = serde_json::to_string(&source).unwrap();
            assert_eq!(serde_json::from_str::<ListSource>(&json).unwrap(), source, "{json}");
        }
        assert_eq!(ListSource::parse(" Projects "), Ok(ListSource::Projects));
        assert_eq!(ListSource::parse("dimension:D2"), Ok(ListSource::Dimension("D2".into())));
        assert_eq!(ListSource::Dimension("D2".into()).to_string(), "dimension:D2");
        assert!(ListSource::parse("dimension: ").is_err());
        assert_eq!(ListSource::Projects.to_string(), "projects");
        let feed = ListFeed::parse("Projects=projects").unwrap();
        assert_eq!((feed.list.as_str(), feed.source), ("Projects", ListSource::Projects));
        let unknown = ListSource::parse("tasks").unwrap_err().0;
        assert!(unknown.contains("unknown list source `tasks`"), "{unknown}");
        assert!(unknown.contains("subaccounts, accounts, projects (Acumatica)"), "{unknown}");
    }
}
