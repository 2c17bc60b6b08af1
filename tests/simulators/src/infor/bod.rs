//! Reading BODs (reference §5): the Infor OAGIS 9.2 envelope, the BODID
//! pattern, and the nouns the simulated ERP processes.
//!
//! Three levels of "wrong", mirroring what ION and the ERP do:
//! - [`Failure`]: the BOD cannot be identified (not XML, wrong root,
//!   namespace, release, sender, BODID, tenant, no document id/variation):
//!   ION accepted the message, the ERP answers only a failure `ConfirmBOD`.
//! - a `String` error from the noun parsers: the document is identified but
//!   its content is invalid → `Acknowledge` Rejected.
//! - business validation against master data lives in `erp.rs`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::state::{DebitCredit, Dimension, Distribution, Journal, JournalLine, SupplierInvoice, SupplierInvoiceLine};
use super::xml::{self, Element};

/// Namespace of every Infor BOD.
pub const BOD_NAMESPACE: &str = "http://schema.infor.com/InforOAGIS/2";
/// `releaseID` of Infor OAGIS BODs.
pub const BOD_RELEASE_ID: &str = "9.2";

const NS: &str = BOD_NAMESPACE;

/// `Sender/ConfirmationCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confirmation {
    Never,
    OnError,
    Always,
}

/// What could be read of the `ApplicationArea`, echoed in outcomes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub sender_lid: Option<String>,
    pub component_id: Option<String>,
    pub confirmation_code: Option<String>,
    pub creation: Option<String>,
    pub bod_id: Option<String>,
    pub entity: Option<String>,
    pub location: Option<String>,
}

/// A BOD that cannot be processed at all.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub reason: String,
    pub origin: Origin,
    /// Set when the noun's identity was read before the failure.
    pub document_id: Option<String>,
    pub variation: Option<u64>,
}

/// The parts of `BODID` = `infor-nid:<tenant>:<entity>:<location>:<docid>:<variation>?<Noun>&verb=<Verb>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodId {
    pub tenant: String,
    pub entity: String,
    pub location: String,
    pub document_id: String,
    pub variation: String,
    pub noun: String,
    pub verb: String,
}

impl BodId {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "BODID '{text}' does not follow infor-nid:<tenant>:<entity>:<location>:<documentId>:<variation>?<Noun>&verb=<Verb>"
            )
        };
        let rest = text.strip_prefix("infor-nid:").ok_or_else(bad)?;
        let (nid, query) = rest.split_once('?').ok_or_else(bad)?;
        let mut head = nid.splitn(4, ':');
        let (Some(tenant), Some(entity), Some(location), Some(tail)) =
            (head.next(), head.next(), head.next(), head.next())
        else {
            return Err(bad());
        };
        let (document_id, variation) = tail.rsplit_once(':').ok_or_else(bad)?;
        let (noun, verb) = query.split_once("&verb=").ok_or_else(bad)?;
        if tenant.is_empty() || noun.is_empty() || verb.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            tenant: tenant.into(),
            entity: entity.into(),
            location: location.into(),
            document_id: document_id.into(),
            variation: variation.into(),
            noun: noun.into(),
            verb: verb.into(),
        })
    }

    /// Formats a BODID.
    pub fn format(
        tenant: &str,
        entity: &str,
        location: &str,
        document_id: &str,
        variation: &str,
        noun: &str,
        verb: &str,
    ) -> String {
        format!("infor-nid:{tenant}:{entity}:{location}:{document_id}:{variation}?{noun}&verb={verb}")
    }
}

/// An identified BOD.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub verb: String,
    pub noun: String,
    pub confirmation: Confirmation,
    pub origin: Origin,
    pub bod_id: String,
    pub entity: String,
    pub action_code: Option<String>,
    pub document_id: String,
    pub variation: u64,
    pub root: Element,
}

impl Envelope {
    /// `DataArea/<Noun>`.
    pub fn noun_element(&self) -> &Element {
        self.root.path(NS, &["DataArea", &self.noun]).expect("checked when the envelope was read")
    }
}

/// The noun's identity element path: where `DocumentID`-like ids live.
fn identity_path(noun: &str) -> Option<&'static [&'static str]> {
    match noun {
        "SupplierInvoice" => Some(&["SupplierInvoiceHeader", "DocumentID", "ID"]),
        "SourceSystemJournalEntry" => Some(&["JournalEntryHeader", "JournalID"]),
        "SupplierPartyMaster" => Some(&["PartyIDs", "ID"]),
        _ => None,
    }
}

/// Reads and checks the envelope of a BOD sent as `document_name` by `from_lid` to tenant `ti`.
pub(crate) fn read_envelope(
    ti: &str,
    document_name: &str,
    from_lid: &str,
    payload: &[u8],
) -> Result<Envelope, Box<Failure>> {
    let mut origin = Origin::default();
    let fail = |origin: &Origin, reason: String| {
        Box::new(Failure { reason, origin: origin.clone(), document_id: None, variation: None })
    };
    let Some((verb, noun)) = document_name.split_once('.').filter(|(v, n)| !v.is_empty() && !n.is_empty()) else {
        return Err(fail(
            &origin,
            format!("No document flow delivers '{document_name}' to the ERP (not a BOD name <Verb>.<Noun>)"),
        ));
    };
    let root = xml::parse(payload).map_err(|e| fail(&origin, format!("The BOD is not well-formed XML: {e}")))?;
    // Whatever ApplicationArea says is worth echoing, even if the rest is wrong.
    if let Some(area) = root.child(NS, "ApplicationArea") {
        origin.sender_lid = area.text_at(NS, &["Sender", "LogicalID"]);
        origin.component_id = area.text_at(NS, &["Sender", "ComponentID"]);
        origin.confirmation_code = area.text_at(NS, &["Sender", "ConfirmationCode"]);
        origin.creation = area.text_at(NS, &["CreationDateTime"]);
        origin.bod_id = area.text_at(NS, &["BODID"]);
    }
    origin.entity = root.text_at(NS, &["DataArea", verb, "AccountingEntityID"]);
    origin.location = root.text_at(NS, &["DataArea", verb, "LocationID"]);
    let expected_root = format!("{verb}{noun}");
    if root.ns.as_deref() != Some(NS) {
        return Err(fail(
            &origin,
            format!(
                "Root element <{}> is not in namespace {NS} (found {})",
                root.name,
                root.ns.as_deref().unwrap_or("none")
            ),
        ));
    }
    if root.name != expected_root {
        return Err(fail(
            &origin,
            format!(
                "Root element <{}> does not match document name '{document_name}' (expected <{expected_root}>)",
                root.name
            ),
        ));
    }
    match root.attr("releaseID") {
        Some(BOD_RELEASE_ID) => {}
        other => {
            return Err(fail(
                &origin,
                format!("releaseID must be {BOD_RELEASE_ID}, found {}", other.unwrap_or("none")),
            ));
        }
    }
    if root.child(NS, "ApplicationArea").is_none() {
        return Err(fail(&origin, "ApplicationArea is missing".into()));
    }
    match origin.sender_lid.as_deref() {
        Some(lid) if lid == from_lid => {}
        Some(lid) => {
            return Err(fail(
                &origin,
                format!("ApplicationArea/Sender/LogicalID '{lid}' does not match fromLogicalId '{from_lid}'"),
            ));
        }
        None => return Err(fail(&origin, "ApplicationArea/Sender/LogicalID is missing".into())),
    }
    let confirmation = match origin.confirmation_code.as_deref() {
        None | Some("Never") => Confirmation::Never,
        Some("OnError") => Confirmation::OnError,
        Some("Always") => Confirmation::Always,
        Some(other) => {
            return Err(fail(&origin, format!("ConfirmationCode '{other}' is not one of Never, OnError, Always")));
        }
    };
    match origin.creation.as_deref() {
        None => return Err(fail(&origin, "ApplicationArea/CreationDateTime is missing".into())),
        Some(t) if time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_err() => {
            return Err(fail(&origin, format!("CreationDateTime '{t}' is not an ISO 8601 date-time with offset")));
        }
        Some(_) => {}
    }
    let Some(bod_id_text) = origin.bod_id.clone() else {
        return Err(fail(&origin, "ApplicationArea/BODID is missing".into()));
    };
    let bod_id = BodId::parse(&bod_id_text).map_err(|e| fail(&origin, e))?;
    if bod_id.noun != noun || bod_id.verb != verb {
        return Err(fail(
            &origin,
            format!(
                "BODID '{bod_id_text}' names {}&verb={}, the document is {noun}&verb={verb}",
                bod_id.noun, bod_id.verb
            ),
        ));
    }
    if bod_id.tenant != ti {
        return Err(fail(&origin, format!("BODID '{bod_id_text}' names tenant '{}', not '{ti}'", bod_id.tenant)));
    }
    let Some(verb_el) = root.path(NS, &["DataArea", verb]) else {
        return Err(fail(&origin, format!("DataArea/{verb} is missing")));
    };
    match verb_el.text_at(NS, &["TenantID"]) {
        Some(t) if t == ti => {}
        Some(t) => return Err(fail(&origin, format!("DataArea/{verb}/TenantID '{t}' is not the tenant '{ti}'"))),
        None => return Err(fail(&origin, format!("DataArea/{verb}/TenantID is missing"))),
    }
    let Some(entity) = origin.entity.clone() else {
        return Err(fail(&origin, format!("DataArea/{verb}/AccountingEntityID is missing")));
    };
    if !bod_id.entity.is_empty() && bod_id.entity != entity {
        return Err(fail(
            &origin,
            format!(
                "BODID '{bod_id_text}' names accounting entity '{}', AccountingEntityID is '{entity}'",
                bod_id.entity
            ),
        ));
    }
    let action_code =
        verb_el.path(NS, &["ActionCriteria", "ActionExpression"]).and_then(|e| e.attr("actionCode")).map(str::to_owned);
    let Some(noun_el) = root.path(NS, &["DataArea", noun]) else {
        return Err(fail(&origin, format!("DataArea/{noun} is missing")));
    };
    let Some(id_path) = identity_path(noun) else {
        return Err(fail(&origin, format!("No document flow delivers '{document_name}' to the ERP")));
    };
    let id_name = id_path.join("/");
    let Some(id_el) = noun_el.path(NS, id_path) else {
        return Err(fail(&origin, format!("{noun}/{id_name} is missing")));
    };
    let document_id = id_el.text();
    if document_id.is_empty() {
        return Err(fail(&origin, format!("{noun}/{id_name} is empty")));
    }
    let variation = match id_el.attr("variationID") {
        None => {
            let mut f = fail(&origin, format!("{noun}/{id_name} has no variationID"));
            f.document_id = Some(document_id);
            return Err(f);
        }
        Some(v) => match v.parse::<u64>() {
            Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                let mut f = fail(&origin, format!("{noun}/{id_name}@variationID '{v}' is not a non-negative integer"));
                f.document_id = Some(document_id);
                return Err(f);
            }
        },
    };
    let identified = |origin: &Origin, reason: String| {
        Box::new(Failure {
            reason,
            origin: origin.clone(),
            document_id: Some(document_id.clone()),
            variation: Some(variation),
        })
    };
    if !bod_id.document_id.is_empty() && bod_id.document_id != document_id {
        return Err(identified(
            &origin,
            format!("BODID '{bod_id_text}' names document '{}', the {noun} is '{document_id}'", bod_id.document_id),
        ));
    }
    if !bod_id.variation.is_empty() && bod_id.variation != variation.to_string() {
        return Err(identified(
            &origin,
            format!(
                "BODID '{bod_id_text}' names variation '{}', the {noun} has variationID {variation}",
                bod_id.variation
            ),
        ));
    }
    Ok(Envelope {
        verb: verb.to_owned(),
        noun: noun.to_owned(),
        confirmation,
        origin,
        bod_id: bod_id_text,
        entity,
        action_code,
        document_id,
        variation,
        root,
    })
}

/// A plain decimal amount (`-?digits[.digits]`).
fn amount(el: &Element, what: &str) -> Result<Decimal, String> {
    let text = el.text();
    let digits = text.strip_prefix('-').unwrap_or(&text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let plain = !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !plain {
        return Err(format!("{what} '{text}' is not a decimal amount"));
    }
    text.parse::<Decimal>().map_err(|e| format!("{what} '{text}': {e}"))
}

/// `currencyID` of an amount element: three upper-case letters.
fn currency(el: &Element, what: &str) -> Result<String, String> {
    match el.attr("currencyID") {
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => Ok(c.to_owned()),
        Some(c) => Err(format!("{what}@currencyID '{c}' is not an ISO 4217 code")),
        None => Err(format!("{what} has no currencyID")),
    }
}

fn dimensions(parent: &Element, what: &str) -> Result<Vec<Dimension>, String> {
    let Some(codes) = parent.child(NS, "DimensionCodes") else { return Ok(Vec::new()) };
    codes
        .children_named(NS, "DimensionCode")
        .map(|code| {
            let list_id = code
                .attr("listID")
                .filter(|l| !l.is_empty())
                .ok_or_else(|| format!("{what}: DimensionCode has no listID"))?;
            let value = code.text();
            if value.is_empty() {
                return Err(format!("{what}: DimensionCode '{list_id}' is empty"));
            }
            let sequence = match code.attr("sequence") {
                None => None,
                Some(s) => Some(
                    s.parse::<u32>().map_err(|_| format!("{what}: DimensionCode sequence '{s}' is not a number"))?,
                ),
            };
            Ok(Dimension { list_id: list_id.to_owned(), sequence, value })
        })
        .collect()
}

fn gl_account(parent: &Element, what: &str) -> Result<String, String> {
    parent
        .text_at(NS, &["GLAccount", "GLNominalAccount"])
        .ok_or_else(|| format!("{what}: GLAccount/GLNominalAccount is missing"))
}

/// The `accountingEntity` attribute of an id, if present, must be the BOD's entity.
fn same_entity(el: &Element, entity: &str, what: &str) -> Result<(), String> {
    match el.attr("accountingEntity") {
        Some(e) if !e.is_empty() && e != entity => {
            Err(format!("{what}@accountingEntity '{e}' is not the BOD's accounting entity '{entity}'"))
        }
        _ => Ok(()),
    }
}

/// `SourceSystemJournalEntry` content (§5.3); ids and bookkeeping fields are filled by the caller.
pub(crate) fn journal(env: &Envelope) -> Result<Journal, String> {
    let noun = env.noun_element();
    let header = noun.child(NS, "JournalEntryHeader").ok_or("JournalEntryHeader is missing")?;
    if let Some(id) = header.child(NS, "JournalID") {
        same_entity(id, &env.entity, "JournalID")?;
    }
    let mut lines = Vec::new();
    for (index, line) in noun.children_named(NS, "JournalEntryLine").enumerate() {
        let what = format!("JournalEntryLine {}", index + 1);
        let amount_el = line.child(NS, "Amount").ok_or_else(|| format!("{what}: Amount is missing"))?;
        let value = amount(amount_el, &format!("{what}: Amount"))?;
        if value.is_sign_negative() && !value.is_zero() {
            return Err(format!(
                "{what}: Amount {value} is negative; amounts are positive and DebitCreditFlag gives the side"
            ));
        }
        let debit_credit = match line.text_at(NS, &["DebitCreditFlag"]).as_deref() {
            Some("D") => DebitCredit::Debit,
            Some("C") => DebitCredit::Credit,
            Some(other) => return Err(format!("{what}: DebitCreditFlag '{other}' is not D or C")),
            None => return Err(format!("{what}: DebitCreditFlag is missing")),
        };
        // Infor's ledger books each line in the accounting entity's functional
        // currency too (§5.3): a line without it cannot be posted.
        let functional_el = line
            .child(NS, "FunctionalAmount")
            .ok_or_else(|| format!("{what}: FunctionalAmount is missing (the amount in the functional currency)"))?;
        let functional_amount = amount(functional_el, &format!("{what}: FunctionalAmount"))?;
        if functional_amount.is_sign_negative() && !functional_amount.is_zero() {
            return Err(format!("{what}: FunctionalAmount {functional_amount} is negative"));
        }
        let functional_currency = currency(functional_el, &format!("{what}: FunctionalAmount"))?;
        let sequence = match line.attr("sequence") {
            None => None,
            Some(s) => Some(s.parse::<u32>().map_err(|_| format!("{what}: sequence '{s}' is not a number"))?),
        };
        lines.push(JournalLine {
            sequence,
            amount: value,
            currency: currency(amount_el, &format!("{what}: Amount"))?,
            functional_amount,
            functional_currency,
            account: gl_account(line, &what)?,
            dimensions: dimensions(line, &what)?,
            debit_credit,
            description: line.text_at(NS, &["Description"]),
            reference: line.text_at(NS, &["TransactionReferenceText"]),
            post_date: line.text_at(NS, &["SourceAccountingDate", "PostDateTime"]),
        });
    }
    if lines.is_empty() {
        return Err("The journal has no JournalEntryLine".into());
    }
    let mut balance: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    for line in &lines {
        let entry = balance.entry(line.currency.as_str()).or_default();
        match line.debit_credit {
            DebitCredit::Debit => entry.0 += line.amount,
            DebitCredit::Credit => entry.1 += line.amount,
        }
    }
    let mut functional: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    for line in &lines {
        let entry = functional.entry(line.functional_currency.as_str()).or_default();
        match line.debit_credit {
            DebitCredit::Debit => entry.0 += line.functional_amount,
            DebitCredit::Credit => entry.1 += line.functional_amount,
        }
    }
    if functional.len() > 1 {
        return Err(format!(
            "The journal's FunctionalAmounts are in several currencies ({}); an accounting entity has one",
            functional.keys().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    for (what, totals) in [("", &balance), ("functional ", &functional)] {
        for (currency, (debit, credit)) in totals {
            if debit != credit {
                return Err(format!(
                    "The journal is not balanced in {what}{currency}: debits {debit}, credits {credit}"
                ));
            }
        }
    }
    Ok(Journal {
        document_id: env.document_id.clone(),
        variation_id: env.variation,
        accounting_entity: env.entity.clone(),
        erp_id: String::new(),
        bod_id: env.bod_id.clone(),
        message_id: String::new(),
        display_id: header.text_at(NS, &["DisplayID"]),
        ledger_id: header.text_at(NS, &["BaseJournalEntryHeader", "LedgerID"]),
        lines,
        replaced: 0,
    })
}

/// `SupplierInvoice` content (§5.2).
pub(crate) fn supplier_invoice(env: &Envelope) -> Result<SupplierInvoice, String> {
    let noun = env.noun_element();
    let header = noun.child(NS, "SupplierInvoiceHeader").ok_or("SupplierInvoiceHeader is missing")?;
    if let Some(id) = header.path(NS, &["DocumentID", "ID"]) {
        same_entity(id, &env.entity, "DocumentID/ID")?;
    }
    let total_el = header.child(NS, "TotalAmount").ok_or("SupplierInvoiceHeader/TotalAmount is missing")?;
    let total_amount = amount(total_el, "TotalAmount")?;
    let type_code = header.text_at(NS, &["TypeCode"]);
    match type_code.as_deref() {
        None | Some("Invoice") => {}
        Some("CreditNote") if total_amount.is_sign_negative() && !total_amount.is_zero() => {
            return Err(format!("A CreditNote's TotalAmount is positive (what the supplier owes), not {total_amount}"));
        }
        Some("CreditNote") => {}
        Some(other) => return Err(format!("SupplierInvoiceHeader/TypeCode '{other}' is not Invoice or CreditNote")),
    }
    let invoice_currency = currency(total_el, "TotalAmount")?;
    let supplier_el =
        header.path(NS, &["SupplierParty", "PartyIDs", "ID"]).ok_or("SupplierParty/PartyIDs/ID is missing")?;
    same_entity(supplier_el, &env.entity, "SupplierParty/PartyIDs/ID")?;
    let supplier_id = supplier_el.text();
    if supplier_id.is_empty() {
        return Err("SupplierParty/PartyIDs/ID is empty".into());
    }
    let alternate_ids = header
        .children_named(NS, "AlternateDocumentID")
        .filter_map(|alt| alt.child(NS, "ID"))
        .map(|id| (id.attr("schemeName").unwrap_or("").to_owned(), id.text()))
        .collect();
    let mut lines: Vec<SupplierInvoiceLine> = Vec::new();
    for (index, line) in noun.children_named(NS, "SupplierInvoiceLine").enumerate() {
        let what = format!("SupplierInvoiceLine {}", index + 1);
        let number_text = line.text_at(NS, &["LineNumber"]).ok_or_else(|| format!("{what}: LineNumber is missing"))?;
        let line_number =
            number_text.parse::<u32>().map_err(|_| format!("{what}: LineNumber '{number_text}' is not a number"))?;
        if lines.iter().any(|l| l.line_number == line_number) {
            return Err(format!("LineNumber {line_number} is used twice"));
        }
        let what = format!("SupplierInvoiceLine {line_number}");
        let extended_el =
            line.child(NS, "ExtendedAmount").ok_or_else(|| format!("{what}: ExtendedAmount is missing"))?;
        let extended_amount = amount(extended_el, &format!("{what}: ExtendedAmount"))?;
        let line_currency = currency(extended_el, &format!("{what}: ExtendedAmount"))?;
        if line_currency != invoice_currency {
            return Err(format!(
                "{what}: currency {line_currency} differs from the invoice currency {invoice_currency}"
            ));
        }
        let mut distributions = Vec::new();
        for distribution in line.children_named(NS, "Distribution") {
            let share = match distribution.child(NS, "TotalAmount") {
                None => None,
                Some(el) => {
                    let c = currency(el, &format!("{what}: Distribution/TotalAmount"))?;
                    if c != invoice_currency {
                        return Err(format!(
                            "{what}: distribution currency {c} differs from the invoice currency {invoice_currency}"
                        ));
                    }
                    Some(amount(el, &format!("{what}: Distribution/TotalAmount"))?)
                }
            };
            distributions.push(Distribution {
                amount: share,
                account: gl_account(distribution, &what)?,
                dimensions: dimensions(distribution, &what)?,
            });
        }
        if distributions.is_empty() {
            return Err(format!("{what}: no Distribution (GL account) is given"));
        }
        if distributions.iter().all(|d| d.amount.is_some()) {
            let sum: Decimal = distributions.iter().filter_map(|d| d.amount).sum();
            if sum != extended_amount {
                return Err(format!(
                    "{what}: distributions total {sum}, the line's ExtendedAmount is {extended_amount}"
                ));
            }
        }
        lines.push(SupplierInvoiceLine {
            line_number,
            description: line.text_at(NS, &["Description"]),
            extended_amount,
            currency: line_currency,
            distributions,
        });
    }
    if lines.is_empty() {
        return Err("The supplier invoice has no SupplierInvoiceLine".into());
    }
    let lines_total: Decimal = lines.iter().map(|l| l.extended_amount).sum();
    if lines_total != total_amount {
        return Err(format!(
            "The lines total {lines_total} {invoice_currency}, TotalAmount is {total_amount} {invoice_currency}"
        ));
    }
    Ok(SupplierInvoice {
        document_id: env.document_id.clone(),
        variation_id: env.variation,
        accounting_entity: env.entity.clone(),
        erp_id: String::new(),
        bod_id: env.bod_id.clone(),
        message_id: String::new(),
        supplier_id,
        total_amount,
        type_code,
        currency: invoice_currency,
        description: header.text_at(NS, &["Description"]),
        document_date: header.text_at(NS, &["DocumentDateTime"]),
        alternate_ids,
        payment_term: header.text_at(NS, &["PaymentTerm", "PaymentTermCode"]),
        lines,
        replaced: 0,
    })
}

/// `SupplierPartyMaster` (§5.4): the supplier id and its name.
pub(crate) fn supplier_party(env: &Envelope) -> Result<(String, String), String> {
    let noun = env.noun_element();
    if let Some(id) = noun.path(NS, &["PartyIDs", "ID"]) {
        same_entity(id, &env.entity, "PartyIDs/ID")?;
    }
    let name = noun.text_at(NS, &["Name"]).ok_or("SupplierPartyMaster/Name is missing")?;
    Ok((env.document_id.clone(), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bod_id_round_trip() {
        let text = BodId::format("ACME_TST", "1000", "", "CNQ-8842", "20240315140211", "SupplierInvoice", "Process");
        assert_eq!(text, "infor-nid:ACME_TST:1000::CNQ-8842:20240315140211?SupplierInvoice&verb=Process");
        let parsed = BodId::parse(&text).unwrap();
        assert_eq!(parsed.tenant, "ACME_TST");
        assert_eq!(parsed.entity, "1000");
        assert_eq!(parsed.location, "");
        assert_eq!(parsed.document_id, "CNQ-8842");
        assert_eq!(parsed.variation, "20240315140211");
        assert_eq!((parsed.noun.as_str(), parsed.verb.as_str()), ("SupplierInvoice", "Process"));
        // A document id may itself contain ':'.
        let with_colon = BodId::parse("infor-nid:T:1::A:B:7?X&verb=Sync").unwrap();
        assert_eq!(with_colon.document_id, "A:B");
        assert!(BodId::parse("nid:T:1::A:7?X&verb=Sync").is_err());
        assert!(BodId::parse("infor-nid:T:1::A:7?X").is_err());
        assert!(BodId::parse("infor-nid:T:1:A?X&verb=Sync").is_err());
    }
}
