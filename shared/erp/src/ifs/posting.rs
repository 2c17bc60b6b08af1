//! Creating supplier invoices, vouchers and purchase orders exactly once.
//!
//! IFS has no idempotency key and no transaction across calls (reference
//! §3): the Concur key travels in the document, every create looks it up
//! first, and a document is created marked incomplete, its rows added one
//! call each, and the marker changed last. So after `post` returns `Ok`
//! there is exactly one complete document; a crash anywhere before leaves
//! at most one document marked incomplete, which the next post deletes and
//! creates again. A POST whose outcome is unknown (timeout, 5xx) is never
//! resent blindly: the next round starts with the lookup.

use domain::HeldVendorDocument;
use serde_json::Value;

use super::documents::{Completeness, IfsInvoice, IfsVoucher, PostingRow, invoice_completeness, voucher_completeness};
use super::odata::{Company, Key, KeyValue, integer, literal, query, text};
use super::{IfsClient, IfsError, SERVICE, Sent, Set, Target};
use crate::{DocumentProblem, ErpReference};

/// Header POSTs per create call whose outcome was unknown; after that the
/// caller's retry (which starts with a lookup again) takes over.
const HEADER_ATTEMPTS: usize = 2;

/// A document IFS stores as a header with rows, created with a marker.
pub(crate) trait HeaderAndRows {
    fn set(&self) -> Set;
    fn label(&self) -> String;
    fn validate(&self) -> Result<(), DocumentProblem>;
    /// `$filter` conditions after `Company eq …` and the `$select` of the lookup.
    fn lookup(&self) -> (Vec<String>, &'static str);
    /// Whether a looked-up record is this document, and how complete.
    fn matches(&self, record: &Value) -> Option<Completeness>;
    /// The key of a header record and the number rows are created under.
    fn header_key(&self, company: &Company, record: &Value) -> Option<(Key, HeaderNumber)>;
    fn header_body(&self, company: &Company) -> Value;
    /// The GL posting rows of an invoice or voucher; a document with other
    /// rows (a purchase order's lines) overrides the row methods instead.
    fn posting_rows(&self) -> &[PostingRow] {
        &[]
    }
    fn row_count(&self) -> usize {
        self.posting_rows().len()
    }
    fn row_body(&self, company: &Company, number: &HeaderNumber, index: usize) -> Value;
    /// How messages name row `index`.
    fn row_label(&self, index: usize) -> String {
        format!("line {} (account {}) of {}", index + 1, self.posting_rows()[index].account, self.label())
    }
    fn complete_body(&self) -> Value;
}

/// What a header is numbered by, as rows need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderNumber {
    /// `InvoiceId`, `VoucherNo`.
    Number(i64),
    /// `OrderNo`.
    Text(String),
}

impl HeaderNumber {
    /// The number of an invoice or voucher header (`header_key` of those
    /// documents only ever gives [`HeaderNumber::Number`]).
    fn numeric(&self) -> i64 {
        match self {
            HeaderNumber::Number(n) => *n,
            HeaderNumber::Text(text) => unreachable!("invoices and vouchers are numbered, not `{text}`"),
        }
    }
}

/// A document found by its key.
pub(crate) struct Found {
    pub(crate) key: Key,
    pub(crate) reference: ErpReference,
    pub(crate) completeness: Completeness,
}

/// How adding the rows ended, when it did not succeed.
enum RowFailure {
    /// The outcome of a row POST is unknown.
    Unknown(IfsError),
    /// IFS refused a row (or another permanent error).
    Failed(IfsError),
}

impl HeaderAndRows for IfsInvoice {
    fn set(&self) -> Set {
        Set::Invoice
    }

    fn label(&self) -> String {
        IfsInvoice::label(self)
    }

    fn validate(&self) -> Result<(), DocumentProblem> {
        IfsInvoice::validate(self)
    }

    fn lookup(&self) -> (Vec<String>, &'static str) {
        (
            vec![
                format!("Identity eq {}", literal(&self.supplier)),
                format!("InvoiceNo eq {}", literal(&self.invoice_no)),
            ],
            INVOICE_SELECT,
        )
    }

    fn matches(&self, record: &Value) -> Option<Completeness> {
        // IFS may compare text case-insensitively; another case is another key.
        (text(record, "InvoiceNo") == Some(self.invoice_no.as_str())
            && text(record, "Identity") == Some(self.supplier.as_str()))
        .then(|| invoice_completeness(&self.invoice_no, text(record, "OurReference")))
    }

    fn header_key(&self, company: &Company, record: &Value) -> Option<(Key, HeaderNumber)> {
        invoice_key(company, record)
    }

    fn header_body(&self, company: &Company) -> Value {
        IfsInvoice::header_body(self, company)
    }

    fn posting_rows(&self) -> &[PostingRow] {
        &self.rows
    }

    fn row_body(&self, company: &Company, number: &HeaderNumber, index: usize) -> Value {
        IfsInvoice::row_body(self, company, number.numeric(), index)
    }

    fn complete_body(&self) -> Value {
        IfsInvoice::complete_body(self)
    }
}

impl HeaderAndRows for IfsVoucher {
    fn set(&self) -> Set {
        Set::Voucher
    }

    fn label(&self) -> String {
        IfsVoucher::label(self)
    }

    fn validate(&self) -> Result<(), DocumentProblem> {
        IfsVoucher::validate(self)
    }

    fn lookup(&self) -> (Vec<String>, &'static str) {
        voucher_lookup(&self.key)
    }

    fn matches(&self, record: &Value) -> Option<Completeness> {
        text(record, "Text").and_then(|t| voucher_completeness(&self.key, t))
    }

    fn header_key(&self, company: &Company, record: &Value) -> Option<(Key, HeaderNumber)> {
        voucher_key(company, record)
    }

    fn header_body(&self, company: &Company) -> Value {
        IfsVoucher::header_body(self, company)
    }

    fn posting_rows(&self) -> &[PostingRow] {
        &self.rows
    }

    fn row_body(&self, company: &Company, number: &HeaderNumber, index: usize) -> Value {
        IfsVoucher::row_body(self, company, number.numeric(), index)
    }

    fn complete_body(&self) -> Value {
        IfsVoucher::complete_body(self)
    }
}

const INVOICE_SELECT: &str = "Company,InvoiceId,Identity,InvoiceNo,OurReference";
const VOUCHER_SELECT: &str = "Company,AccountingYear,VoucherType,VoucherNo,Text";

fn voucher_lookup(key: &str) -> (Vec<String>, &'static str) {
    (vec![format!("startswith(Text,{})", literal(&format!("{}{key} ", super::KEY_PREFIX)))], VOUCHER_SELECT)
}

fn invoice_key(company: &Company, record: &Value) -> Option<(Key, HeaderNumber)> {
    let id = integer(record.get("InvoiceId")?)?;
    Some((company.key(vec![("InvoiceId", KeyValue::Number(id))]), HeaderNumber::Number(id)))
}

fn voucher_key(company: &Company, record: &Value) -> Option<(Key, HeaderNumber)> {
    let year = integer(record.get("AccountingYear")?)?;
    let voucher_type = text(record, "VoucherType")?.to_owned();
    let no = integer(record.get("VoucherNo")?)?;
    let key = company.key(vec![
        ("AccountingYear", KeyValue::Number(year)),
        ("VoucherType", KeyValue::Text(voucher_type)),
        ("VoucherNo", KeyValue::Number(no)),
    ]);
    Some((key, HeaderNumber::Number(no)))
}

impl IfsClient {
    /// Creates `invoice` unless this company has one of its supplier with its
    /// invoice number; either way returns its reference
    /// (`<invoice_set>/<Company>/<InvoiceId>`).
    pub async fn create_invoice(&self, invoice: &IfsInvoice) -> Result<ErpReference, IfsError> {
        self.create_once(invoice).await
    }

    /// Creates `voucher` (after the balance check) unless this company has
    /// one carrying its key; either way returns its reference
    /// (`<voucher_set>/<Company>/<AccountingYear>/<VoucherType>/<VoucherNo>`).
    pub async fn create_voucher(&self, voucher: &IfsVoucher) -> Result<ErpReference, IfsError> {
        self.create_once(voucher).await
    }

    /// The complete invoice with invoice number `invoice_no` (of `supplier`,
    /// or of any supplier), if any. One still marked incomplete is not a
    /// posting and is not returned.
    pub async fn find_invoice(
        &self,
        supplier: Option<&str>,
        invoice_no: &str,
    ) -> Result<Option<ErpReference>, IfsError> {
        let mut conditions = vec![format!("InvoiceNo eq {}", literal(invoice_no))];
        if let Some(supplier) = supplier {
            conditions.insert(0, format!("Identity eq {}", literal(supplier)));
        }
        let rows = self.lookup_rows(Set::Invoice, &conditions, INVOICE_SELECT, "the supplier invoice lookup").await?;
        let found = rows.iter().filter(|r| {
            text(r, "InvoiceNo") == Some(invoice_no) && supplier.is_none_or(|s| text(r, "Identity") == Some(s))
        });
        Ok(self.first_complete(
            Set::Invoice,
            found.filter_map(|r| {
                let (key, _) = invoice_key(&self.company, r)?;
                Some((key, invoice_completeness(invoice_no, text(r, "OurReference"))))
            }),
        ))
    }

    /// Every complete supplier invoice with invoice number `invoice_no`, of
    /// any supplier of the company.
    pub async fn invoices_by_number(&self, invoice_no: &str) -> Result<Vec<HeldVendorDocument>, IfsError> {
        let conditions = [format!("InvoiceNo eq {}", literal(invoice_no))];
        let rows = self.lookup_rows(Set::Invoice, &conditions, INVOICE_SELECT, "the supplier invoice lookup").await?;
        Ok(rows
            .iter()
            .filter(|r| text(r, "InvoiceNo") == Some(invoice_no))
            .filter(|r| invoice_completeness(invoice_no, text(r, "OurReference")) == Completeness::Complete)
            .filter_map(|r| {
                let (key, _) = invoice_key(&self.company, r)?;
                Some(HeldVendorDocument {
                    reference: self.reference(Set::Invoice, &key).reference,
                    vendor: text(r, "Identity")?.to_owned(),
                })
            })
            .collect())
    }

    /// The complete voucher carrying Concur key `key`, if any.
    pub async fn find_voucher(&self, key: &str) -> Result<Option<ErpReference>, IfsError> {
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Ok(None);
        }
        let (conditions, select) = voucher_lookup(key);
        let rows = self.lookup_rows(Set::Voucher, &conditions, select, "the GL voucher lookup").await?;
        Ok(self.first_complete(
            Set::Voucher,
            rows.iter().filter_map(|r| {
                let completeness = voucher_completeness(key, text(r, "Text")?)?;
                Some((voucher_key(&self.company, r)?.0, completeness))
            }),
        ))
    }

    fn first_complete(&self, set: Set, found: impl Iterator<Item = (Key, Completeness)>) -> Option<ErpReference> {
        found.filter(|(_, c)| *c == Completeness::Complete).map(|(key, _)| self.reference(set, &key)).next()
    }

    /// `<EntitySet>/<key values>`.
    pub(crate) fn reference(&self, set: Set, key: &Key) -> ErpReference {
        ErpReference::new(format!("{}/{}", set.name(self.api()), key.values()))
    }

    /// `GET <set>?$filter=Company eq '<c>' and …&$select=…`, every page.
    pub(crate) async fn lookup_rows(
        &self,
        set: Set,
        conditions: &[String],
        select: &str,
        what: &str,
    ) -> Result<Vec<Value>, IfsError> {
        let filter = self.company.filter(conditions);
        let url = format!("{}{}", self.set_url(set), query(&[("$filter", &filter), ("$select", select)]));
        self.list(set, &url, what).await
    }

    /// The documents carrying `doc`'s key.
    async fn lookup<D: HeaderAndRows>(&self, doc: &D) -> Result<Vec<Found>, IfsError> {
        let set = doc.set();
        let (conditions, select) = doc.lookup();
        let what = format!("the lookup of {}", doc.label());
        let rows = self.lookup_rows(set, &conditions, select, &what).await?;
        let mut found = Vec::new();
        for record in &rows {
            let Some(completeness) = doc.matches(record) else { continue };
            let Some((key, _)) = doc.header_key(&self.company, record) else {
                return Err(self.malformed(&what, "a record found carries no complete key".into()));
            };
            found.push(Found { reference: self.reference(set, &key), key, completeness });
        }
        Ok(found)
    }

    /// Lookup → (delete incomplete) → header → rows → marker, with at most
    /// [`HEADER_ATTEMPTS`] header POSTs.
    pub(crate) async fn create_once<D: HeaderAndRows>(&self, doc: &D) -> Result<ErpReference, IfsError> {
        let label = doc.label();
        let set = doc.set();
        doc.validate().map_err(|problem| IfsError::Invalid {
            company: self.company().to_owned(),
            document: label.clone(),
            problem: Box::new(problem),
        })?;
        let mut last_unknown: Option<IfsError> = None;
        for attempt in 1..=HEADER_ATTEMPTS {
            let found = self.lookup(doc).await?;
            let (complete, incomplete): (Vec<Found>, Vec<Found>) =
                found.into_iter().partition(|f| f.completeness == Completeness::Complete);
            if let Some(done) = complete.first() {
                if complete.len() > 1 {
                    tracing::warn!(service = SERVICE, document = %label, count = complete.len(), "several IFS documents carry one Concur key; using the first");
                }
                for left in &incomplete {
                    // Our own leftovers next to the finished one: tidy, but the posting stands.
                    if let Err(e) = self.delete(set, &left.key, &format!("the incomplete copy of {label}")).await {
                        tracing::warn!(service = SERVICE, document = %label, reference = %left.reference.reference, error = %e, "could not delete an incomplete copy");
                    }
                }
                tracing::info!(service = SERVICE, document = %label, reference = %done.reference.reference, "already in IFS; not created again");
                return Ok(done.reference.clone());
            }
            for left in &incomplete {
                tracing::warn!(service = SERVICE, document = %label, reference = %left.reference.reference, "found marked incomplete (an interrupted post); deleting it to create it again");
                self.delete(set, &left.key, &format!("the incomplete {label}")).await?;
            }

            let header = match self
                .create(set, Target::Set, &self.set_url(set), &doc.header_body(&self.company), &label)
                .await?
            {
                Sent::Created(record) => record,
                Sent::Unknown(e) => {
                    tracing::warn!(service = SERVICE, document = %label, attempt, error = %e, "header create outcome unknown; looking the key up again");
                    last_unknown = Some(e);
                    continue;
                }
            };
            let Some((key, number)) = doc.header_key(&self.company, &header) else {
                // Marked incomplete: the next post finds and replaces it.
                return Err(
                    self.malformed(&format!("the create of {label}"), "the created record carries no key".into())
                );
            };
            let reference = self.reference(set, &key);
            match self.add_rows(doc, &key, &number).await {
                Ok(()) => {}
                Err(RowFailure::Unknown(e)) => {
                    tracing::warn!(service = SERVICE, document = %label, error = %e, "row create outcome unknown; deleting the header to start over");
                    if let Err(cleanup) = self.delete(set, &key, &label).await {
                        return Err(left_incomplete(&label, &reference, cleanup, e));
                    }
                    last_unknown = Some(e);
                    continue;
                }
                Err(RowFailure::Failed(e)) => return Err(self.abandon(set, &key, &label, &reference, e).await),
            }
            let complete = doc.complete_body();
            let applied = |record: &Value| doc.matches(record) == Some(Completeness::Complete);
            return match self.update(set, &key, &complete, &label, applied).await {
                Ok(()) => {
                    tracing::info!(service = SERVICE, document = %label, reference = %reference.reference, "created in IFS");
                    Ok(reference)
                }
                // Still marked incomplete: the next post replaces it.
                Err(e) if e.outcome_unknown() => Err(e),
                Err(e) => Err(self.abandon(set, &key, &label, &reference, e).await),
            };
        }
        Err(last_unknown.unwrap_or_else(|| self.malformed(&label, "no create attempt was made".into())))
    }

    /// One POST per row on the header's navigation.
    async fn add_rows<D: HeaderAndRows>(&self, doc: &D, key: &Key, number: &HeaderNumber) -> Result<(), RowFailure> {
        let set = doc.set();
        let url = self.rows_url(set, key);
        for index in 0..doc.row_count() {
            let body = doc.row_body(&self.company, number, index);
            let what = doc.row_label(index);
            match self.create(set, Target::Rows, &url, &body, &what).await {
                Ok(Sent::Created(_)) => {}
                Ok(Sent::Unknown(e)) => return Err(RowFailure::Unknown(e)),
                Err(e) => return Err(RowFailure::Failed(e)),
            }
        }
        Ok(())
    }

    /// Deletes the header a failed create left, then returns `error` (or,
    /// when the delete fails too, says what was left behind).
    async fn abandon(&self, set: Set, key: &Key, label: &str, reference: &ErpReference, error: IfsError) -> IfsError {
        tracing::warn!(service = SERVICE, document = %label, error = %error, "create failed; deleting the incomplete header");
        match self.delete(set, key, &format!("the incomplete {label}")).await {
            Ok(()) => error,
            Err(cleanup) => left_incomplete(label, reference, cleanup, error),
        }
    }
}

fn left_incomplete(label: &str, reference: &ErpReference, cleanup: IfsError, error: IfsError) -> IfsError {
    IfsError::LeftIncomplete {
        document: label.trim_start_matches("the ").to_owned(),
        reference: reference.reference.clone(),
        cleanup: cleanup.to_string(),
        error: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_voucher_lookup_ends_the_key_with_a_space() {
        let (conditions, select) = voucher_lookup("K'1");
        assert_eq!(conditions, ["startswith(Text,'Concur K''1 ')"]);
        assert!(select.starts_with("Company,"));
        let company = Company::new("10");
        assert_eq!(company.filter(&conditions), "Company eq '10' and startswith(Text,'Concur K''1 ')");
    }

    #[test]
    fn header_keys_come_from_the_record() {
        let company = Company::new("10");
        let (key, number) = invoice_key(&company, &json!({"Company": "10", "InvoiceId": 104233})).unwrap();
        assert_eq!((key.to_path(), number), ("Company='10',InvoiceId=104233".to_owned(), HeaderNumber::Number(104233)));
        let record = json!({"Company": "10", "AccountingYear": 2024, "VoucherType": "M", "VoucherNo": 2024000123});
        let (key, _) = voucher_key(&company, &record).unwrap();
        assert_eq!(key.values(), "10/2024/M/2024000123");
        assert!(invoice_key(&company, &json!({"Company": "10"})).is_none());
    }
}
