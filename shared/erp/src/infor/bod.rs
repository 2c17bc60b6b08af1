//! The BODs the connector sends (reference §5): `Process.SupplierInvoice`
//! for bills and debit adjustments, `Process.SourceSystemJournalEntry` for
//! journals, in the Infor OAGIS 9.2 envelope.
//!
//! Rendered with quick-xml's writer, so every text and attribute is escaped.
//! Amounts are written as the decimal's own text (`245.50` stays
//! `245.50`), never through a float. Identity is the caller's: the
//! `DocumentID` comes from the chunk, the `variationID` from the poster, so
//! sending the same document attempt again yields the same BOD, which ION's
//! DocumentID + variationID check drops (reference §7).

use std::fmt;

use domain::text::truncate;
use domain::{DebitAdjustmentForm, ErpDocument, ErpDocumentKind, InforSettings, PlannedLine};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::InforError;
use super::chunk::Chunk;
use crate::problem::{DocumentProblem, require};

/// Infor OAGIS namespace.
pub const NAMESPACE: &str = "http://schema.infor.com/InforOAGIS/2";
/// OAGIS release of every BOD.
pub const RELEASE_ID: &str = "9.2";
/// `Sender/ComponentID`.
pub const COMPONENT_ID: &str = "ConcurConnector";
/// `schemeName` of the `AlternateDocumentID` carrying the Concur key.
pub const CONCUR_KEY_SCHEME: &str = "ConcurKey";
/// Longest `DocumentID` sent. [DEFAULT] The reference names no limit; 60
/// leaves room for a chunk suffix on the longest Concur keys while staying
/// short enough for ledgers' document-number columns.
pub const DOCUMENT_ID_MAX: usize = 60;

/// The per-document-attempt number ION deduplicates by (with the
/// DocumentID). The poster derives it from the ledger, so a resend after a
/// crash carries the same one; a deliberate re-post (a replay after the ERP
/// rejected the document) carries a higher one and replaces the earlier BOD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Variation(pub u64);

impl Variation {
    /// What [`crate::ErpAdapter::post`] sends: the first attempt.
    pub const FIRST: Variation = Variation(1);
}

impl fmt::Display for Variation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An ION document name, `<Verb>.<Noun>` (e.g. `Process.SupplierInvoice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentName {
    pub verb: String,
    pub noun: String,
}

/// A configured document name that is not `<Verb>.<Noun>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an ION document name of the form <Verb>.<Noun> (e.g. Process.SupplierInvoice)")]
pub struct NotADocumentName {
    /// The first characters of the name as configured.
    pub text: String,
}

impl DocumentName {
    pub fn parse(text: &str) -> Result<Self, NotADocumentName> {
        let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric());
        match text.trim().split_once('.') {
            Some((verb, noun)) if word(verb) && word(noun) => Ok(Self { verb: verb.into(), noun: noun.into() }),
            _ => Err(NotADocumentName { text: truncate(text, 80).to_owned() }),
        }
    }

    /// The BOD's root element: `ProcessSupplierInvoice`.
    pub fn root(&self) -> String {
        format!("{}{}", self.verb, self.noun)
    }
}

impl fmt::Display for DocumentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.verb, self.noun)
    }
}

/// What every BOD of one connection shares: the settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodSettings {
    /// `ti` of the `.ionapi` file.
    pub tenant: String,
    pub accounting_entity: String,
    /// Our connection point (`Sender/LogicalID`, IMS `fromLogicalId`).
    pub logical_id: String,
    pub to_logical_id: String,
    pub bod_version: String,
    pub confirmation_code: String,
    pub supplier_invoice: DocumentName,
    pub journal: DocumentName,
    pub ledger_id: String,
    pub journal_reference: String,
    pub chunk_clearing_account: Option<String>,
    pub max_message_bytes: usize,
    /// The accounting entity's functional currency (`FunctionalAmount`).
    pub functional_currency: Option<String>,
    /// Document currency → functional units per unit.
    pub functional_rates: std::collections::BTreeMap<String, Decimal>,
    pub debit_adjustment_form: DebitAdjustmentForm,
}

impl BodSettings {
    /// Checks the connection's settings; the error names the setting to fix.
    pub fn new(tenant: &str, settings: &InforSettings) -> Result<Self, InforError> {
        let api = &settings.api;
        let required = |setting: &'static str, value: Option<&str>, example: &str| {
            value
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| InforError::Setting { setting, problem: format!("is not set (e.g. {example})") })
        };
        let logical_id = required("logical_id", settings.logical_id.as_deref(), "lid://infor.ims.concurconnector")?;
        if !logical_id.starts_with("lid://") {
            return Err(InforError::Setting {
                setting: "logical_id",
                problem: "must be the IMS connection point's logical id, starting with lid://".into(),
            });
        }
        let accounting_entity = required("accounting_entity", settings.accounting_entity.as_deref(), "1000")?;
        let document = |setting: &'static str, text: &str| {
            DocumentName::parse(text).map_err(|e| InforError::Setting { setting, problem: e.to_string() })
        };
        let confirmation_code = api.confirmation_code.trim().to_owned();
        if !["Never", "OnError", "Always"].contains(&confirmation_code.as_str()) {
            return Err(InforError::Setting {
                setting: "confirmation_code",
                problem: "must be Never, OnError or Always".into(),
            });
        }
        if api.max_message_bytes < 1024 {
            return Err(InforError::Setting {
                setting: "max_message_bytes",
                problem: "must be at least 1024 bytes (default 5 MiB)".into(),
            });
        }
        let functional_currency = settings.functional_currency.as_deref().map(str::trim).filter(|c| !c.is_empty());
        if let Some(code) = functional_currency
            && domain::currency::minor_units(code).is_none()
        {
            return Err(InforError::Setting {
                setting: "functional_currency",
                problem: format!("`{code}` is not an ISO 4217 currency code (e.g. USD)"),
            });
        }
        if let Some((code, rate)) = settings.functional_rates.iter().find(|(_, rate)| **rate <= Decimal::ZERO) {
            return Err(InforError::Setting {
                setting: "functional_rates",
                problem: format!("has rate {rate} for {code}; a rate must be positive"),
            });
        }
        Ok(Self {
            tenant: tenant.trim().to_owned(),
            accounting_entity,
            logical_id,
            to_logical_id: required("to_logical_id", Some(&api.to_logical_id), "lid://default")?,
            bod_version: required("bod_version", Some(&api.bod_version), "2.14.0")?,
            confirmation_code,
            supplier_invoice: document("supplier_invoice_document", &api.supplier_invoice_document)?,
            journal: document("journal_document", &api.journal_document)?,
            ledger_id: required("ledger_id", Some(&api.ledger_id), "A")?,
            journal_reference: required("journal_reference", Some(&api.journal_reference), "TE")?,
            chunk_clearing_account: api
                .chunk_clearing_account
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
            max_message_bytes: api.max_message_bytes,
            functional_currency: functional_currency.map(str::to_owned),
            functional_rates: settings.functional_rates.clone(),
            debit_adjustment_form: settings.debit_adjustment_form,
        })
    }

    /// The document name a document is sent as.
    pub fn document_name(&self, kind: &ErpDocumentKind) -> &DocumentName {
        match kind {
            ErpDocumentKind::Journal => &self.journal,
            _ => &self.supplier_invoice,
        }
    }
}

/// `infor-nid:<tenant>:<entity>:<location>:<documentId>:<variation>?<Noun>&verb=<Verb>`
/// (reference §5.1; the location is empty).
pub fn bod_id(settings: &BodSettings, name: &DocumentName, document_id: &str, variation: Variation) -> String {
    format!(
        "infor-nid:{}:{}::{document_id}:{variation}?{}&verb={}",
        settings.tenant, settings.accounting_entity, name.noun, name.verb
    )
}

/// The IMS `messageId`: stable for a BOD (its DocumentID, noun and
/// variation), so a retried message is recognisably the same one.
pub fn message_id(name: &DocumentName, document_id: &str, variation: Variation) -> String {
    format!("{document_id}:{}:{variation}", name.noun)
}

/// The reference the poster records for one sent BOD.
pub fn reference(document_id: &str, variation: Variation) -> String {
    format!("ion:{document_id}:{variation}")
}

/// The DocumentID and variation of a [`reference`] (`ion:<DocumentID>:<variation>`).
pub fn parse_reference(reference: &str) -> Option<(&str, Variation)> {
    let (document_id, variation) = reference.trim().strip_prefix("ion:")?.rsplit_once(':')?;
    Some((document_id, Variation(variation.parse().ok()?))).filter(|(id, _)| !id.is_empty())
}

/// The DocumentID and variation a BODID names
/// (`infor-nid:<tenant>:<entity>:<location>:<DocumentID>:<variation>?…`).
pub fn parse_bod_id(bod_id: &str) -> Option<(&str, Variation)> {
    let head = bod_id.trim().split('?').next()?;
    let (rest, variation) = head.rsplit_once(':')?;
    let (_, document_id) = rest.rsplit_once(':')?;
    Some((document_id, Variation(variation.parse().ok()?))).filter(|(id, _)| !id.is_empty())
}

/// One rendered BOD, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bod {
    pub document_name: DocumentName,
    pub document_id: String,
    pub variation: Variation,
    pub bod_id: String,
    pub message_id: String,
    /// 1-based part of the Concur document, and how many parts it has.
    pub part: usize,
    pub parts: usize,
    pub xml: String,
}

/// Separates the Concur key from the supplier in a supplier invoice's
/// DocumentID. Never part of a key ([`check_document`] refuses it there;
/// Concur business ids are letters and digits).
pub const SUPPLIER_SEPARATOR: char = '.';

/// The DocumentID of a whole document. A journal's is the Concur key. A
/// supplier invoice's is `<key>.<supplier>`: one Concur document can become
/// invoices to several suppliers (the employee and a card issuer), and ION
/// keeps one version per noun and DocumentID, so the key alone would make
/// the second invoice look like a repeat of the first and drop it. Parts of
/// a chunked document add `-<i>of<n>`; [`parse_document_id`] reads it back.
pub fn document_id(document: &ErpDocument) -> String {
    match &document.kind {
        ErpDocumentKind::Journal => document.key.trim().to_owned(),
        ErpDocumentKind::Bill { vendor } | ErpDocumentKind::DebitAdjustment { vendor } => {
            format!("{}{SUPPLIER_SEPARATOR}{}", document.key.trim(), vendor.trim())
        }
    }
}

/// What a DocumentID we sent says (for an outcome coming back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentIdParts {
    /// The Concur key.
    pub key: String,
    /// The supplier of a supplier invoice.
    pub supplier: Option<String>,
    /// 1-based part, and how many (1 of 1 for a document sent whole).
    pub part: usize,
    pub parts: usize,
}

/// Reads `<key>[.<supplier>][-<i>of<n>]` back (see [`document_id`]).
pub fn parse_document_id(document_id: &str) -> Option<DocumentIdParts> {
    let id = document_id.trim();
    let mut whole = (id, 1, 1);
    if let Some((base, suffix)) = id.rsplit_once('-')
        && let Some((i, n)) = suffix.split_once("of")
        && i.bytes().all(|b| b.is_ascii_digit())
        && n.bytes().all(|b| b.is_ascii_digit())
        && let (Ok(i), Ok(n)) = (i.parse::<usize>(), n.parse::<usize>())
        && (1..=n).contains(&i)
        && n > 1
    {
        whole = (base, i, n);
    }
    let (base, part, parts) = whole;
    let (key, supplier) = match base.split_once(SUPPLIER_SEPARATOR) {
        Some((key, supplier)) => (key, Some(supplier.to_owned()).filter(|s| !s.is_empty())),
        None => (base, None),
    };
    if key.is_empty() {
        return None;
    }
    Some(DocumentIdParts { key: key.to_owned(), supplier, part, parts })
}

/// Refuses what would corrupt the BOD's identity or what the ERP would reject.
pub fn check_document(document: &ErpDocument) -> Result<(), DocumentProblem> {
    check_document_id("the Concur key", &document.key)?;
    if document.key.contains(SUPPLIER_SEPARATOR) {
        return Err(DocumentProblem::KeyWithSeparator {
            key: truncate(&document.key, 80).to_owned(),
            separator: SUPPLIER_SEPARATOR,
        });
    }
    if document.currency.trim().is_empty() {
        return Err(DocumentProblem::NoCurrency);
    }
    if document.lines.is_empty() {
        return Err(DocumentProblem::NoLines);
    }
    if let ErpDocumentKind::Bill { vendor } | ErpDocumentKind::DebitAdjustment { vendor } = &document.kind
        && vendor.trim().is_empty()
    {
        return Err(DocumentProblem::NoSupplier);
    }
    check_document_id("its DocumentID (Concur key and supplier)", &document_id(document))?;
    for (i, line) in document.lines.iter().enumerate() {
        if line.account.trim().is_empty() {
            return Err(DocumentProblem::NoAccount { line: i + 1 });
        }
        if let Some((name, _)) = line.dimensions.iter().find(|(n, v)| n.trim().is_empty() || v.trim().is_empty()) {
            return Err(DocumentProblem::EmptyDimension { line: i + 1, name: name.clone() });
        }
    }
    // Σ|amount| bounds every partial sum (chunk totals, carried balances).
    if document.lines.iter().try_fold(Decimal::ZERO, |s, l| s.checked_add(l.amount.abs())).is_none() {
        return Err(DocumentProblem::AmountsTooLarge);
    }
    if let ErpDocumentKind::Journal = document.kind {
        let sum = document.lines.iter().try_fold(Decimal::ZERO, |s, l| s.checked_add(l.amount));
        match sum {
            Some(s) if s.is_zero() => {}
            Some(difference) => return Err(DocumentProblem::JournalOff { difference }),
            None => return Err(DocumentProblem::AmountsOverflow),
        }
    }
    Ok(())
}

/// A DocumentID must fit the BODID pattern (no `:`, `?`, `&`, `#` or
/// spaces) and [`DOCUMENT_ID_MAX`].
pub fn check_document_id(what: &str, id: &str) -> Result<(), DocumentProblem> {
    require(what, id)?;
    if let Some(c) =
        id.chars().find(|c| matches!(c, ':' | '?' | '&' | '#' | '/') || c.is_whitespace() || c.is_control())
    {
        return Err(DocumentProblem::DocumentIdCharacter {
            what: what.to_owned(),
            id: truncate(id, 80).to_owned(),
            character: c.escape_default().to_string(),
        });
    }
    let length = id.chars().count();
    if length > DOCUMENT_ID_MAX {
        return Err(DocumentProblem::DocumentIdTooLong {
            what: what.to_owned(),
            id: truncate(id, 40).to_owned(),
            length,
            max: DOCUMENT_ID_MAX,
        });
    }
    Ok(())
}

/// Renders one chunk as a BOD. `created` is `CreationDateTime` (metadata
/// only: identity is DocumentID + variation).
pub fn render(settings: &BodSettings, chunk: &Chunk, variation: Variation, created: OffsetDateTime) -> Bod {
    let name = settings.document_name(&chunk.document.kind).clone();
    let bod_id = bod_id(settings, &name, &chunk.document_id, variation);
    let mut x = Xml::new();
    x.declaration();
    write_bod(&mut x, settings, chunk, variation, created, true);
    Bod {
        message_id: message_id(&name, &chunk.document_id, variation),
        document_id: chunk.document_id.clone(),
        document_name: name,
        variation,
        bod_id,
        part: chunk.part,
        parts: chunk.parts,
        xml: x.finish(),
    }
}

/// Bytes of the BOD without any line (what chunking budgets around).
pub(super) fn envelope_bytes(settings: &BodSettings, chunk: &Chunk, variation: Variation) -> usize {
    let mut x = Xml::new();
    x.declaration();
    write_bod(&mut x, settings, chunk, variation, OffsetDateTime::UNIX_EPOCH, false);
    x.len()
}

/// Bytes of one line element as [`render`] writes it.
pub(super) fn line_bytes(
    settings: &BodSettings,
    document: &ErpDocument,
    line: &PlannedLine,
    functional: Option<Decimal>,
    sequence: usize,
) -> usize {
    let mut x = Xml::new();
    write_line(&mut x, settings, document, line, functional, sequence);
    x.len()
}

fn write_bod(
    x: &mut Xml,
    settings: &BodSettings,
    chunk: &Chunk,
    variation: Variation,
    created: OffsetDateTime,
    with_lines: bool,
) {
    let name = settings.document_name(&chunk.document.kind);
    let root = name.root();
    x.open(&root, &[("xmlns", NAMESPACE), ("releaseID", RELEASE_ID), ("versionID", &settings.bod_version)]);
    write_application_area(x, settings, &bod_id(settings, name, &chunk.document_id, variation), created);
    x.open("DataArea", &[]);
    write_verb(x, settings, name);
    let document = &chunk.document;
    x.open(&name.noun, &[]);
    match &document.kind {
        ErpDocumentKind::Bill { vendor } | ErpDocumentKind::DebitAdjustment { vendor } => {
            write_supplier_invoice_header(x, settings, chunk, vendor, variation);
        }
        ErpDocumentKind::Journal => write_journal_header(x, settings, chunk, variation),
    }
    if with_lines {
        for (i, line) in document.lines.iter().enumerate() {
            write_line(x, settings, document, line, chunk.functional.get(i).copied(), i + 1);
        }
    }
    x.close(&name.noun);
    x.close("DataArea");
    x.close(&root);
}

/// `ApplicationArea`: who sends, when, and the BODID.
fn write_application_area(x: &mut Xml, settings: &BodSettings, bod_id: &str, created: OffsetDateTime) {
    x.open("ApplicationArea", &[]);
    x.open("Sender", &[]);
    x.leaf("LogicalID", &[], &settings.logical_id);
    x.leaf("ComponentID", &[], COMPONENT_ID);
    x.leaf("ConfirmationCode", &[], &settings.confirmation_code);
    x.close("Sender");
    x.leaf("CreationDateTime", &[], &timestamp(created));
    x.leaf("BODID", &[], bod_id);
    x.close("ApplicationArea");
}

/// The verb element (`Process`): tenant, accounting entity, action `Add`.
fn write_verb(x: &mut Xml, settings: &BodSettings, name: &DocumentName) {
    x.open(&name.verb, &[]);
    x.leaf("TenantID", &[], &settings.tenant);
    x.leaf("AccountingEntityID", &[], &settings.accounting_entity);
    x.empty("LocationID", &[]);
    x.open("ActionCriteria", &[]);
    x.empty("ActionExpression", &[("actionCode", "Add")]);
    x.close("ActionCriteria");
    x.close(&name.verb);
}

/// `SupplierInvoiceHeader` of a bill or debit adjustment.
fn write_supplier_invoice_header(
    x: &mut Xml,
    settings: &BodSettings,
    chunk: &Chunk,
    vendor: &str,
    variation: Variation,
) {
    let document = &chunk.document;
    let entity = settings.accounting_entity.as_str();
    x.open("SupplierInvoiceHeader", &[]);
    x.open("DocumentID", &[]);
    x.leaf("ID", &[("accountingEntity", entity), ("variationID", &variation.to_string())], &chunk.document_id);
    x.close("DocumentID");
    x.open("AlternateDocumentID", &[]);
    x.leaf("ID", &[("schemeName", CONCUR_KEY_SCHEME)], &document.key);
    x.close("AlternateDocumentID");
    x.leaf("DocumentDateTime", &[], &date_time(document.date));
    x.leaf("Description", &[], &document.description);
    x.open("Status", &[]);
    x.leaf("Code", &[], "Open");
    x.close("Status");
    if credit_note(settings, document) {
        x.leaf("TypeCode", &[], "CreditNote");
    }
    // check_document bounds Σ|amount|, so no part's sum overflows.
    let total: Decimal = document.lines.iter().map(|l| signed(settings, document, l.amount)).sum();
    x.leaf("TotalAmount", &[("currencyID", &document.currency)], &total.to_string());
    x.open("SupplierParty", &[]);
    x.open("PartyIDs", &[]);
    x.leaf("ID", &[("accountingEntity", entity)], vendor);
    x.close("PartyIDs");
    x.close("SupplierParty");
    x.close("SupplierInvoiceHeader");
}

/// `JournalEntryHeader` of a journal (or one part of it).
fn write_journal_header(x: &mut Xml, settings: &BodSettings, chunk: &Chunk, variation: Variation) {
    let entity = settings.accounting_entity.as_str();
    x.open("JournalEntryHeader", &[]);
    x.leaf("JournalID", &[("accountingEntity", entity), ("variationID", &variation.to_string())], &chunk.document_id);
    x.leaf("DisplayID", &[], &chunk.document_id);
    x.leaf("Description", &[], &chunk.document.description);
    x.open("BaseJournalEntryHeader", &[]);
    x.leaf("LedgerID", &[], &settings.ledger_id);
    x.leaf("LedgerType", &[], "Actual");
    x.open("AccountingJournalReference", &[]);
    x.leaf("ID", &[], &settings.journal_reference);
    x.close("AccountingJournalReference");
    x.open("LedgerSetupReference", &[]);
    x.open("DocumentID", &[]);
    x.leaf("ID", &[], &settings.ledger_id);
    x.close("DocumentID");
    x.leaf("BookInstanceID", &[], &settings.ledger_id);
    x.close("LedgerSetupReference");
    x.open("JournalStatus", &[]);
    x.leaf("Code", &[], "Final");
    x.close("JournalStatus");
    x.close("BaseJournalEntryHeader");
    x.close("JournalEntryHeader");
}

/// A debit adjustment sent in the connection's credit-note form.
fn credit_note(settings: &BodSettings, document: &ErpDocument) -> bool {
    matches!(document.kind, ErpDocumentKind::DebitAdjustment { .. })
        && settings.debit_adjustment_form == DebitAdjustmentForm::CreditNote
}

/// Debit adjustments are supplier invoices with negative amounts
/// ([`DebitAdjustmentForm::NegativeTotal`], the [DEFAULT]) or credit notes
/// with the planned, positive amounts; everything else as planned.
fn signed(settings: &BodSettings, document: &ErpDocument, amount: Decimal) -> Decimal {
    match document.kind {
        ErpDocumentKind::DebitAdjustment { .. } if !credit_note(settings, document) => -amount,
        _ => amount,
    }
}

/// `functional`: the line's amount in the functional currency (journals).
fn write_line(
    x: &mut Xml,
    settings: &BodSettings,
    document: &ErpDocument,
    line: &PlannedLine,
    functional: Option<Decimal>,
    sequence: usize,
) {
    let currency = document.currency.as_str();
    let description = if line.description.trim().is_empty() { &document.description } else { &line.description };
    match document.kind {
        ErpDocumentKind::Bill { .. } | ErpDocumentKind::DebitAdjustment { .. } => {
            let amount = signed(settings, document, line.amount).to_string();
            x.open("SupplierInvoiceLine", &[]);
            x.leaf("LineNumber", &[], &sequence.to_string());
            x.leaf("Description", &[], description);
            x.leaf("ExtendedAmount", &[("currencyID", currency)], &amount);
            x.open("Distribution", &[]);
            x.leaf("TotalAmount", &[("currencyID", currency)], &amount);
            x.open("GLAccount", &[]);
            x.leaf("GLNominalAccount", &[], &line.account);
            x.close("GLAccount");
            write_dimensions(x, line);
            x.close("Distribution");
            x.close("SupplierInvoiceLine");
        }
        ErpDocumentKind::Journal => {
            let amount = line.amount.abs().to_string();
            let flag = if line.amount.is_sign_negative() { "C" } else { "D" };
            x.open("JournalEntryLine", &[("sequence", &sequence.to_string())]);
            x.leaf("Amount", &[("currencyID", currency)], &amount);
            if let (Some(functional), Some(functional_currency)) = (functional, &settings.functional_currency) {
                x.leaf("FunctionalAmount", &[("currencyID", functional_currency)], &functional.abs().to_string());
            }
            x.open("GLAccount", &[]);
            x.leaf("GLNominalAccount", &[], &line.account);
            x.open("AccountingChartReference", &[]);
            x.leaf("ID", &[], &settings.accounting_entity);
            x.close("AccountingChartReference");
            x.close("GLAccount");
            write_dimensions(x, line);
            x.leaf("DebitCreditFlag", &[], flag);
            x.open("SourceAccountingDate", &[]);
            x.leaf("PeriodID", &[], &u8::from(document.date.month()).to_string());
            x.leaf("Year", &[], &document.date.year().to_string());
            x.leaf("PostDateTime", &[], &date_time(document.date));
            x.close("SourceAccountingDate");
            x.leaf("TransactionReferenceText", &[], &document.key);
            x.leaf("Description", &[], description);
            x.close("JournalEntryLine");
        }
    }
}

/// `DimensionCodes` with `listID` = the mapping's dimension name, in name order.
fn write_dimensions(x: &mut Xml, line: &PlannedLine) {
    if line.dimensions.is_empty() {
        return;
    }
    x.open("DimensionCodes", &[]);
    for (i, (name, value)) in line.dimensions.iter().enumerate() {
        x.leaf("DimensionCode", &[("sequence", &(i + 1).to_string()), ("listID", name)], value);
    }
    x.close("DimensionCodes");
}

/// `2024-03-15T00:00:00Z`: a posting date as the BOD's date-time.
fn date_time(date: time::Date) -> String {
    format!("{date}T00:00:00Z")
}

/// `2024-03-15T14:02:11Z` (UTC, whole seconds).
fn timestamp(at: OffsetDateTime) -> String {
    domain::clock::rfc3339_seconds(at)
}

/// A writer into memory: writing into a `Vec` cannot fail, so the
/// helpers return nothing.
struct Xml(Writer<Vec<u8>>);

const IN_MEMORY: &str = "writing XML into memory cannot fail";

impl Xml {
    fn new() -> Self {
        Self(Writer::new(Vec::new()))
    }

    fn declaration(&mut self) {
        self.0.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect(IN_MEMORY);
    }

    fn start<'a>(name: &'a str, attributes: &[(&'a str, &'a str)]) -> BytesStart<'a> {
        BytesStart::new(name).with_attributes(attributes.iter().copied())
    }

    fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.0.write_event(Event::Start(Self::start(name, attributes))).expect(IN_MEMORY);
    }

    fn close(&mut self, name: &str) {
        self.0.write_event(Event::End(BytesEnd::new(name))).expect(IN_MEMORY);
    }

    fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.0.write_event(Event::Empty(Self::start(name, attributes))).expect(IN_MEMORY);
    }

    fn leaf(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.open(name, attributes);
        self.0.write_event(Event::Text(BytesText::new(text))).expect(IN_MEMORY);
        self.close(name);
    }

    fn len(&self) -> usize {
        self.0.get_ref().len()
    }

    fn finish(self) -> String {
        // Only &str went in.
        String::from_utf8(self.0.into_inner()).expect("the XML was written from UTF-8 text")
    }
}
