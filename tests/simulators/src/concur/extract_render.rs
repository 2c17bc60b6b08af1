//! FI documents rendered as accounting extract files: expense reports and
//! cash advances as SAE rows, invoices as PRAE rows
//! (extracts-and-payment-batches.md §4, §5).
//!
//! The mapping is the inverse of `docs/extract-files.md`, column for
//! column, so a test can send the same documents through FIS and through a
//! file and compare what the connector makes of each. Columns that table
//! does not name stay empty, except the SAE batch columns 2–4 (batch id,
//! date, sequence number), which describe the file rather than a document,
//! and the payer `EMPL`, payee `COMP` and DR/CR of a cash advance
//! application row, as §4's worked example gives them.
//!
//! Keys the SAE declares numeric are numbers: Report Key (col 20) is
//! `reportKey`, Report Entry Id (61) the entry's `legacyEntryId`, Journal
//! Key (170) and Allocation Key (189) sequence numbers unique in the file,
//! Cash Advance Key (187) the number [`CashAdvanceKeys`] gives the
//! advance's `cashAdvanceId`. A key the document lacks is a number above
//! every key the file already uses, so it cannot merge two documents.
//!
//! Amounts are written exactly as the FI document has them (its number's
//! own text read as a decimal: `4.42`, `125`, `0E-8` → `0.00000000`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::Value;
use time::Date;
use time::macros::format_description;

/// Columns of an SAE detail record (§4).
pub const SAE_COLUMNS: usize = 400;
/// Columns of a PRAE detail record (§5).
pub const PRAE_COLUMNS: usize = 256;
const SAE_AMOUNT: usize = 169;
const PRAE_AMOUNT: usize = 62;
/// PRAE has four Prorated VAT Amount / Tax Code pairs (212–219).
const PRAE_TAX_SLOTS: usize = 4;

/// The field separator of a company's extract files (the reference leaves it open, §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    /// `,` (the API's one example).
    #[default]
    Comma,
    /// `|` (common in SAE deployments).
    Pipe,
}

impl Delimiter {
    /// The separator character.
    pub fn as_char(self) -> char {
        match self {
            Delimiter::Comma => ',',
            Delimiter::Pipe => '|',
        }
    }
}

/// What a file's header says about the batch, and how its fields are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    /// Batch ID (§4: starts at 1 and increments).
    pub batch_id: u64,
    /// Batch date: `yyyy-MM-dd` in an SAE, `yyyy/mm/dd` in a PRAE.
    pub batch_date: Date,
    /// Field separator.
    pub delimiter: Delimiter,
}

/// The Cash Advance Key (SAE col 187) of each `cashAdvanceId`: the SAE has
/// only a number, and an advance's issuance and its applications on later
/// reports must carry the same one, file after file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CashAdvanceKeys {
    keys: BTreeMap<String, u64>,
}

impl CashAdvanceKeys {
    /// The advance's key, assigning the next number (from 1) on first sight.
    pub fn key(&mut self, cash_advance_id: &str) -> u64 {
        let next = self.keys.len() as u64 + 1;
        *self.keys.entry(cash_advance_id.to_owned()).or_insert(next)
    }

    /// The key already assigned to an advance, if any.
    pub fn get(&self, cash_advance_id: &str) -> Option<u64> {
        self.keys.get(cash_advance_id).copied()
    }
}

/// An FI number or numeric string as an exact decimal (`0E-8` included).
pub fn exact_decimal(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.trim().to_owned(),
        _ => return None,
    };
    Decimal::from_str_exact(&text).or_else(|_| Decimal::from_scientific(&text)).ok()
}

/// A member as file text: strings as they are (trailing blanks included),
/// numbers as their exact decimal, null or absent as empty.
fn cell(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(number @ Value::Number(raw)) => exact_decimal(number).map_or_else(|| raw.to_string(), |d| d.to_string()),
        Some(Value::Bool(flag)) => flag.to_string(),
        _ => String::new(),
    }
}

/// A whole number key (`61731` or `"61731"`).
fn key_of(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// `value` as one field: quoted (inner quotes doubled) when it holds the
/// delimiter, a quote or a line break, as the connector's reader expects.
pub fn quote_field(value: &str, delimiter: Delimiter) -> String {
    if value.contains(|c| c == delimiter.as_char() || matches!(c, '"' | '\n' | '\r')) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// One detail record being filled, 1-based like the workbooks.
#[derive(Debug, Clone)]
struct Row(Vec<String>);

impl Row {
    fn new(width: usize, marker: &str) -> Self {
        let mut row = Row(vec![String::new(); width]);
        row.set(1, marker);
        row
    }

    fn set(&mut self, column: usize, value: impl Into<String>) {
        self.0[column - 1] = value.into();
    }

    /// The member `name` of `object` into `column`.
    fn put(&mut self, column: usize, object: &Value, name: &str) {
        self.set(column, cell(object.get(name)));
    }

    /// `{prefix}1{suffix}` … `{prefix}{count}{suffix}` into consecutive columns from `first`.
    fn put_numbered(&mut self, first: usize, object: &Value, prefix: &str, suffix: &str, count: usize) {
        for n in 1..=count {
            self.put(first + n - 1, object, &format!("{prefix}{n}{suffix}"));
        }
    }

    /// The journal amount of the row, to add up in the header.
    fn amount(&self, column: usize) -> Decimal {
        Decimal::from_str_exact(&self.0[column - 1]).unwrap_or_default()
    }

    fn line(&self, delimiter: Delimiter) -> String {
        let fields: Vec<String> = self.0.iter().map(|f| quote_field(f, delimiter)).collect();
        fields.join(&delimiter.as_char().to_string())
    }
}

/// A key series: numbers above every explicit key the file uses.
struct Fallback(u64);

impl Fallback {
    fn above<'v>(explicit: impl Iterator<Item = Option<&'v Value>>) -> Self {
        Fallback(explicit.filter_map(key_of).max().unwrap_or(0))
    }

    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }

    /// The explicit key, else the next fallback.
    fn or_next(&mut self, value: Option<&Value>) -> u64 {
        key_of(value).unwrap_or_else(|| self.next())
    }
}

/// The array member `name` of `object` (absent, null or not an array: empty).
pub(crate) fn array<'v>(object: &'v Value, name: &str) -> &'v [Value] {
    object.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn is_cash_advance(document: &&Value) -> bool {
    document.get("cashAdvanceData").is_some()
}

fn is_expense(document: &&Value) -> bool {
    document.get("report").is_some()
}

fn is_invoice(document: &&Value) -> bool {
    document.get("requestHeader").is_some()
}

// ------------------------------------------------------------------ SAE

/// The SAE of `documents` (FI `document` objects: expense reports and cash
/// advances; anything else is left out), cash advance keys numbered from 1.
pub fn render_sae(documents: &[&Value], file: &FileSpec) -> String {
    render_sae_keyed(documents, file, &mut CashAdvanceKeys::default())
}

/// [`render_sae`] with the company's cash advance keys (extended as new advances appear).
///
/// Cash advance issuances come first (an advance is issued before a report
/// applies it); every document's rows are consecutive, as the reader
/// requires.
pub fn render_sae_keyed(documents: &[&Value], file: &FileSpec, keys: &mut CashAdvanceKeys) -> String {
    let reports: Vec<&Value> = documents.iter().copied().filter(is_expense).collect();
    let entries = reports.iter().flat_map(|r| array(r, "expenseEntry"));
    let mut sae = Sae {
        rows: Vec::new(),
        keys,
        journal_keys: Fallback(0),
        allocation_keys: Fallback(0),
        entry_ids: Fallback::above(entries.map(|e| e.get("legacyEntryId"))),
        report_keys: Fallback::above(reports.iter().map(|r| r.pointer("/report/reportKey"))),
    };
    for advance in documents.iter().copied().filter(is_cash_advance) {
        sae.cash_advance(advance);
    }
    for report in reports {
        sae.report(report);
    }
    let mut rows = sae.rows;
    let date = format_date(file.batch_date, Layout::Sae);
    for (sequence, row) in rows.iter_mut().enumerate() {
        row.set(2, file.batch_id.to_string());
        row.set(3, date.clone());
        row.set(4, (sequence + 1).to_string());
    }
    finish(&rows, file, Layout::Sae)
}

struct Sae<'k> {
    rows: Vec<Row>,
    keys: &'k mut CashAdvanceKeys,
    journal_keys: Fallback,
    allocation_keys: Fallback,
    entry_ids: Fallback,
    report_keys: Fallback,
}

impl Sae<'_> {
    /// One row per `journalData[]`, type 1 (issuance), signed by `debitOrCredit`.
    fn cash_advance(&mut self, document: &Value) {
        let data = &document["cashAdvanceData"];
        let mut base = Row::new(SAE_COLUMNS, "DETAIL");
        put_employee(&mut base, &document["employeeData"]);
        let id = data.get("cashAdvanceId").and_then(Value::as_str).unwrap_or_default();
        base.set(187, self.keys.key(id).to_string());
        base.set(185, "1");
        base.put(259, data, "name");
        base.put(177, data, "requestAmount");
        base.put(178, data, "currencyAlphaCode");
        base.put(180, data, "exchangeRate");
        base.put(181, data, "employeeCurrencyAlphaCode");
        for journal in array(document, "journalData") {
            let mut row = base.clone();
            let amount = journal.get("amount").and_then(exact_decimal).unwrap_or_default();
            // `debitOrCredit` decides; without one, the amount's own sign (§8.3: signed as in SAE).
            let credit = match journal.get("debitOrCredit").and_then(Value::as_str) {
                Some(side) => side.eq_ignore_ascii_case("CR"),
                None => amount.is_sign_negative(),
            };
            let magnitude = amount.abs();
            row.set(SAE_AMOUNT, if credit { -magnitude } else { magnitude }.to_string());
            row.set(168, if credit { "CR" } else { "DR" });
            row.put(167, journal, "accountCode");
            row.put(164, journal, "payer");
            row.put(166, journal, "payee");
            row.put(184, journal, "paymentCode");
            row.set(170, self.journal_keys.next().to_string());
            self.rows.push(row);
        }
    }

    fn report(&mut self, document: &Value) {
        let report = &document["report"];
        let mut base = Row::new(SAE_COLUMNS, "DETAIL");
        put_employee(&mut base, &document["employee"]);
        put_report(&mut base, report, self.report_keys.or_next(report.get("reportKey")));
        for entry in array(document, "expenseEntry") {
            let mut row = base.clone();
            put_entry(&mut row, entry, self.entry_ids.or_next(entry.get("legacyEntryId")));
            for allocation in array(entry, "allocation") {
                let mut row = row.clone();
                row.set(189, self.allocation_keys.next().to_string());
                row.put_numbered(191, allocation, "allocationCustom", "Code", 20);
                self.journals(&row, allocation);
            }
        }
        for application in array(document, "cashAdvanceApplication") {
            self.application(&base, application);
        }
    }

    /// One row per journal; a journal with several taxes continues on rows of
    /// the same Journal Key with amount `0`, one more tax each
    /// (docs/extract-files.md, "More than one tax on a journal").
    fn journals(&mut self, allocation_row: &Row, allocation: &Value) {
        let journals = array(allocation, "journal");
        for (journal, taxes) in journals.iter().zip(taxes_by_journal(allocation, journals)) {
            let mut row = allocation_row.clone();
            row.put(164, journal, "journalPayer");
            row.put(166, journal, "journalPayee");
            row.put(167, journal, "journalAccountCode");
            row.set(SAE_AMOUNT, amount_or_zero(journal.get("amountGross")));
            row.put(247, journal, "amountNetOfTax");
            row.put(18, journal, "amountNetOfReclaim");
            row.set(170, self.journal_keys.next().to_string());
            let mut taxes = taxes.into_iter();
            if let Some(first) = taxes.next() {
                put_tax(&mut row, first);
            }
            let continuation = continuation_of(&row);
            self.rows.push(row);
            for tax in taxes {
                let mut row = continuation.clone();
                put_tax(&mut row, tax);
                self.rows.push(row);
            }
        }
    }

    /// A `cashAdvanceApplication[]` row (type 2): the employee pays the advance back to the company.
    fn application(&mut self, report_row: &Row, application: &Value) {
        let mut row = report_row.clone();
        let amount = application.get("cashAdvanceApplicationAmount").and_then(exact_decimal).unwrap_or_default();
        let id = application.get("cashAdvanceId").and_then(Value::as_str).unwrap_or_default();
        row.set(185, "2");
        row.set(187, self.keys.key(id).to_string());
        row.set(SAE_AMOUNT, amount.to_string());
        row.set(168, if amount.is_sign_negative() { "CR" } else { "DR" });
        row.put(167, application, "cashAdvanceClearingAccountCode");
        row.set(164, "EMPL");
        row.set(166, "COMP");
        row.set(170, self.journal_keys.next().to_string());
        self.rows.push(row);
    }
}

/// Each journal's tax rows: those its `taxGuid` (array or string) names, in
/// that order. Tax rows no journal names go with the first journal, so the
/// file never drops a tax the document has.
fn taxes_by_journal<'v>(allocation: &'v Value, journals: &[Value]) -> Vec<Vec<&'v Value>> {
    let taxes = array(allocation, "tax");
    let mut claimed = vec![false; taxes.len()];
    let mut per_journal: Vec<Vec<&Value>> = journals
        .iter()
        .map(|journal| {
            let named: Vec<&str> = match journal.get("taxGuid") {
                Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_str).collect(),
                Some(Value::String(id)) => vec![id.as_str()],
                _ => Vec::new(),
            };
            let is_named = |tax: &Value, id: &str| tax.get("taxGuid").and_then(Value::as_str) == Some(id);
            let positions = named.iter().filter_map(|id| taxes.iter().position(|t| is_named(t, id)));
            positions
                .map(|at| {
                    claimed[at] = true;
                    &taxes[at]
                })
                .collect()
        })
        .collect();
    if let Some(first) = per_journal.first_mut() {
        first.extend(taxes.iter().zip(&claimed).filter(|(_, taken)| !**taken).map(|(tax, _)| tax));
    }
    per_journal
}

/// The row a further tax of the same journal goes on: the journal's row with
/// its amounts left to the first row.
fn continuation_of(row: &Row) -> Row {
    let mut continuation = row.clone();
    continuation.set(SAE_AMOUNT, "0");
    for column in [18, 247, 226, 228, 231, 232, 238, 158] {
        continuation.set(column, "");
    }
    continuation
}

fn put_tax(row: &mut Row, tax: &Value) {
    row.put(226, tax, "taxAuthorityLabel");
    row.put(228, tax, "amountTax");
    row.put(231, tax, "amountReclaim");
    row.put(232, tax, "taxCode");
    row.put(238, tax, "taxReclaimCode");
    row.put(158, tax, "locationCountryCode");
}

fn put_employee(row: &mut Row, employee: &Value) {
    row.put(5, employee, "employeeId");
    row.put(6, employee, "employeeLastName");
    row.put(7, employee, "employeeFirstName");
    row.put(8, employee, "employeeMI");
    row.put(9, employee, "employeeCustom21Code");
    row.put_numbered(10, employee, "employeeOrgUnit", "Code", 6);
    row.put_numbered(266, employee, "employeeCustom", "Code", 20);
}

fn put_report(row: &mut Row, report: &Value, report_key: u64) {
    row.put(19, report, "reportId");
    row.set(20, report_key.to_string());
    row.put(21, report, "ledgerCode");
    row.put(22, report, "employeeCurrencyAlphaCode");
    row.put(27, report, "reportName");
    row.put(32, report, "totalApprovedAmount");
    row.put(327, report, "cashAdvanceReturnsAmount");
    row.put_numbered(35, report, "reportOrgUnit", "Code", 6);
    row.put_numbered(41, report, "reportCustom", "Code", 20);
}

fn put_entry(row: &mut Row, entry: &Value, entry_id: u64) {
    row.set(61, entry_id.to_string());
    row.put(63, entry, "expenseTypeName");
    row.put(68, entry, "entryIsPersonal");
    row.put(69, entry, "entryDescription");
    row.put(125, entry, "entryApprovedAmount");
    row.put(126, entry, "reportEntryPatKey");
    row.put_numbered(77, entry, "entryOrgUnit", "Code", 6);
    row.put_numbered(83, entry, "entryCustom", "Code", 40);
}

/// A journal amount column must hold a number (the reader refuses the file otherwise).
fn amount_or_zero(value: Option<&Value>) -> String {
    value.and_then(exact_decimal).map_or_else(|| "0".to_owned(), |d| d.to_string())
}

// ----------------------------------------------------------------- PRAE

/// The PRAE of `documents` (FI invoice `document` objects; anything else is left out).
pub fn render_prae(documents: &[&Value], file: &FileSpec) -> String {
    let invoices: Vec<&Value> = documents.iter().copied().filter(is_invoice).collect();
    let allocations = invoices.iter().flat_map(|i| array(i, "lineItem")).flat_map(|l| array(l, "allocation"));
    let mut allocation_keys = Fallback::above(allocations.map(|a| a.get("allocationKey")));
    let mut request_keys = Fallback::above(invoices.iter().map(|i| i.pointer("/requestHeader/reqKey")));
    let mut rows = Vec::new();
    for invoice in invoices {
        let header = &invoice["requestHeader"];
        let mut base = Row::new(PRAE_COLUMNS, "Detail");
        base.set(2, request_keys.or_next(header.get("reqKey")).to_string());
        base.put(4, header, "requestTitle");
        base.put(10, header, "requestTotal");
        base.put(51, header, "requestId");
        base.put(59, header, "ledgerCode");
        base.put(65, header, "currencyAlphaCode");
        base.put(165, &invoice["vendor"], "vendorCode");
        base.put(166, &invoice["vendor"], "vendorRemitToAddressCode");
        base.put(94, &invoice["ownerEmployee"], "employeeId");
        for (index, line) in array(invoice, "lineItem").iter().enumerate() {
            let mut line_row = base.clone();
            let sequence = key_of(line.get("lineItemSequenceOrder")).unwrap_or(index as u64 + 1);
            line_row.set(132, sequence.to_string());
            line_row.put(133, line, "lineItemDescription");
            line_row.put(134, line, "expenseTypeCode");
            line_row.put(135, line, "expenseTypeName");
            line_row.put(128, line, "lineItemPurchaseOrderNumber");
            for allocation in array(line, "allocation") {
                let mut row = line_row.clone();
                row.set(89, allocation_keys.or_next(allocation.get("allocationKey")).to_string());
                row.put(68, allocation, "allocationAccountCode");
                row.put_numbered(69, allocation, "allocationCustom", "Code", 20);
                rows.extend(invoice_journals(allocation).into_iter().map(|j| journal_row(&row, j)));
            }
        }
    }
    finish(&rows, file, Layout::Prae)
}

/// An allocation's `journal`: an object in Concur's sample, an array in the
/// schema; a missing one still gives the allocation a (zero) row.
fn invoice_journals(allocation: &Value) -> Vec<&Value> {
    match allocation.get("journal") {
        Some(Value::Array(journals)) if !journals.is_empty() => journals.iter().collect(),
        Some(journal @ Value::Object(_)) => vec![journal],
        _ => vec![&Value::Null],
    }
}

fn journal_row(allocation_row: &Row, journal: &Value) -> Row {
    let mut row = allocation_row.clone();
    row.put(61, journal, "accountCode");
    row.set(PRAE_AMOUNT, amount_or_zero(journal.get("amountNet")));
    row.put(63, journal, "amountGross");
    row.put(58, journal, "amountShipping");
    let taxes: Vec<&Value> = match journal.get("tax") {
        Some(Value::Array(taxes)) => taxes.iter().collect(),
        Some(tax @ Value::Object(_)) => vec![tax],
        _ => Vec::new(),
    };
    for (slot, tax) in taxes.into_iter().take(PRAE_TAX_SLOTS).enumerate() {
        row.put(212 + 2 * slot, tax, "amountTax");
        row.put(213 + 2 * slot, tax, "taxCode");
    }
    row
}

// ------------------------------------------------------------- the file

#[derive(Clone, Copy)]
enum Layout {
    Sae,
    Prae,
}

fn format_date(date: Date, layout: Layout) -> String {
    let formatted = match layout {
        Layout::Sae => date.format(format_description!("[year]-[month]-[day]")),
        Layout::Prae => date.format(format_description!("[year]/[month]/[day]")),
    };
    formatted.unwrap_or_default()
}

/// The header (count and total from the rows themselves), then the rows, each ending in a line feed.
fn finish(rows: &[Row], file: &FileSpec, layout: Layout) -> String {
    let amount_column = match layout {
        Layout::Sae => SAE_AMOUNT,
        Layout::Prae => PRAE_AMOUNT,
    };
    let total: Decimal = rows.iter().map(|row| row.amount(amount_column)).sum();
    let (count, date, batch) =
        (rows.len().to_string(), format_date(file.batch_date, layout), file.batch_id.to_string());
    // §4 and §5 order the header fields differently.
    let header = match layout {
        Layout::Sae => ["EXTRACT", &date, &count, &total.to_string(), &batch],
        Layout::Prae => ["Extract", &batch, &date, &count, &total.to_string()],
    };
    let delimiter = file.delimiter.as_char().to_string();
    let mut out = header.join(&delimiter);
    out.push('\n');
    for row in rows {
        out.push_str(&row.line(file.delimiter));
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[path = "extract_render_tests.rs"]
mod tests;
