//! Payment Batch v1 (Standard edition, extracts-and-payment-batches.md §3):
//! the batch list and the close answer. Namespace
//! `http://www.concursolutions.com/api/expense/paymentbatch/2011/11`,
//! ignored: elements are matched by local name.

use rust_decimal::Decimal;

use super::xml::{Element, parse_root};
use super::{ExtractXmlError, Link};

/// The asynchronous close (§3: v1.2 schedules the close; v1.1 closes
/// synchronously and can time out on large batches).
const ASYNC_CLOSE_VERSION: &str = "v1.2";
/// The version segment of the `Batch-URL` in §3's example.
const LISTED_VERSION: &str = "v1.1";
/// Where the batch actions live when only a `BatchID` is given (§3 URI table).
const BATCH_PATH: &str = "/api/expense/paymentbatch";

/// One `BatchSummary` of the batch list (`GET …/v1.1/batchlist/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentBatch {
    /// `BatchID` (an unencrypted GUID) when given, otherwise the last
    /// segment of `Batch-URL`: answers carry either, and the id is what
    /// processed batches are remembered by.
    pub id: String,
    /// `Batch-URL`: the base for actions on the batch, preferred over
    /// `BatchID` for closing (§3 [contradiction], as Concur's sample does).
    pub batch_url: Option<Link>,
    /// `BatchName`, as in Payment Manager.
    pub name: Option<String>,
    /// `Type`: the payee, `Employee` or `Card Program`.
    pub payee_type: Option<String>,
    /// `Currency`, ISO 4217.
    pub currency: Option<String>,
    /// `PaymentMethod`, e.g. `Expense Pay by SAP Concur` (older: `by
    /// Concur`); compare loosely when choosing batches.
    pub payment_method: Option<String>,
    /// `Count`: payment demands in the batch.
    pub count: Option<u64>,
    /// `BatchTotal`, exact.
    pub total: Option<Decimal>,
    /// `BatchStatus` (or `Status`) when the list carries one (`OPEN`,
    /// `CLOSED`); §3's example has none [docs silent], the list filter
    /// (`batchlist/OPEN`) says it instead.
    pub status: Option<String>,
}

impl PaymentBatch {
    /// What to POST to close the batch asynchronously: the `Batch-URL` with
    /// its version segment moved to `v1.2` and `/close` appended (§3
    /// [derived]), or the v1.2 path with the `BatchID` when no URL is
    /// given. A URL still goes through [`Link::on_datacenter`]; a path
    /// through the client's own base.
    pub fn async_close_target(&self) -> String {
        match &self.batch_url {
            Some(link) => link.with_version(LISTED_VERSION, ASYNC_CLOSE_VERSION).joined("close").to_string(),
            None => {
                const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_');
                let id = percent_encoding::utf8_percent_encode(&self.id, KEEP);
                format!("{BATCH_PATH}/{ASYNC_CLOSE_VERSION}/batch/{id}/close")
            }
        }
    }
}

/// The answer to closing a batch (root `BatchStatus`, which also names a
/// child). v1.2 (asynchronous) answers `Status` and `JobQueueKey`, v1.1
/// (synchronous) `BatchStatus`, `File-Url` and `Status`; an older v1.2
/// example returns all four (§3). The asynchronous close has no status
/// link: its progress shows in the batch list, and the file comes from a
/// v1.1 close of the closed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchCloseAnswer {
    /// `Status`: `SUCCESS` in every example; others are not documented.
    pub status: String,
    /// `JobQueueKey`: the scheduled close (v1.2).
    pub job_queue_key: Option<String>,
    /// `BatchStatus`: e.g. `CLOSED` (v1.1).
    pub batch_status: Option<String>,
    /// `File-Url`: the batch file (v1.1), used whole.
    pub file_url: Option<Link>,
}

impl BatchCloseAnswer {
    pub fn succeeded(&self) -> bool {
        self.status.eq_ignore_ascii_case("SUCCESS")
    }

    pub fn is_closed(&self) -> bool {
        self.batch_status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("CLOSED"))
    }
}

/// The batch list (`<BatchList>`).
pub fn parse_batch_list(body: &[u8]) -> Result<Vec<PaymentBatch>, ExtractXmlError> {
    let root = parse_root(body, "BatchList")?;
    root.children_named("BatchSummary").map(batch).collect()
}

/// A close answer (`<BatchStatus>`), v1.1 or v1.2.
pub fn parse_close_answer(body: &[u8]) -> Result<BatchCloseAnswer, ExtractXmlError> {
    let root = parse_root(body, "BatchStatus")?;
    Ok(BatchCloseAnswer {
        status: root.required_text("Status")?,
        job_queue_key: root.text("JobQueueKey")?,
        batch_status: root.text("BatchStatus")?,
        file_url: root.link("File-Url")?,
    })
}

fn batch(element: &Element) -> Result<PaymentBatch, ExtractXmlError> {
    let batch_url = element.link("Batch-URL")?;
    let id = match (element.text("BatchID")?, &batch_url) {
        (Some(id), _) => id,
        (None, Some(link)) => {
            let segment = link.last_segment().filter(|s| !s.eq_ignore_ascii_case("batch"));
            let segment =
                segment.ok_or_else(|| element.invalid("Batch-URL", link.as_str(), "a URL ending in the batch id"))?;
            segment.to_owned()
        }
        (None, None) => return Err(ExtractXmlError::Missing { path: element.field_path("BatchID or Batch-URL") }),
    };
    let status = match element.text("BatchStatus")? {
        Some(status) => Some(status),
        None => element.text("Status")?,
    };
    Ok(PaymentBatch {
        id,
        batch_url,
        name: element.text("BatchName")?,
        payee_type: element.text("Type")?,
        currency: element.text("Currency")?,
        payment_method: element.text("PaymentMethod")?,
        count: parsed(element, "Count", "a whole number", |t| t.parse().ok())?,
        total: parsed(element, "BatchTotal", "an exact decimal amount", |t| Decimal::from_str_exact(t).ok())?,
        status,
    })
}

/// The child `name` read with `parse`; an unreadable value is an error
/// naming the element, not a silent `None`.
fn parsed<T>(
    element: &Element,
    name: &str,
    expected: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, ExtractXmlError> {
    match element.text(name)? {
        None => Ok(None),
        Some(text) => parse(&text).map(Some).ok_or_else(|| element.invalid(name, &text, expected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // §3, verbatim.
    const BATCH_LIST: &str = r#"<BatchList xmlns="http://www.concursolutions.com/api/expense/paymentbatch/2011/11">
  <BatchSummary>
    <BatchName>USD: Employees Batch Paid by Expense Pay</BatchName>
    <BatchID>13cb38dc-46d2-4e0c-8973-8c7667806b47</BatchID>
    <BatchTotal>334.21</BatchTotal>
    <Currency>USD</Currency>
    <Count>10</Count>
    <Type>Employee</Type>
    <PaymentMethod>Expense Pay by Concur</PaymentMethod>
    <Batch-URL>https://www.concursolutions.com/api/expense/paymentbatch/v1.1/batch/12345678901234567890</Batch-URL>
  </BatchSummary>
</BatchList>"#;

    // §3, verbatim (including the documentation's `http:// www.` typo).
    const CLOSE_ANSWER: &str = r#"<BatchStatus xmlns="http://www.concursolutions.com/api/expense/paymentbatch/2011/11" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
    <BatchStatus>CLOSED</BatchStatus>
    <File-Url>http:// www.concursolutions.com/api/expense/paymentbatch/v1.1/batch/n$s4MtBKgvoJxAYcbggR7eD2jRU$sxYjePU/file</File-Url>
    <Status>SUCCESS</Status>
    <JobQueueKey>d$wIUEkl72LW299WTjTlskdy</JobQueueKey>
</BatchStatus>"#;

    #[test]
    fn extract_payment_batch_list_example_parses() {
        let batches = parse_batch_list(BATCH_LIST.as_bytes()).unwrap();
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        assert_eq!(batch.id, "13cb38dc-46d2-4e0c-8973-8c7667806b47");
        assert_eq!(batch.name.as_deref(), Some("USD: Employees Batch Paid by Expense Pay"));
        assert_eq!(batch.total, Some(Decimal::new(33421, 2)));
        assert_eq!(batch.currency.as_deref(), Some("USD"));
        assert_eq!(batch.count, Some(10));
        assert_eq!(batch.payee_type.as_deref(), Some("Employee"));
        assert_eq!(batch.payment_method.as_deref(), Some("Expense Pay by Concur"));
        assert_eq!(batch.status, None);
    }

    #[test]
    fn extract_payment_batch_closes_through_batch_url_on_v1_2() {
        let batch = &parse_batch_list(BATCH_LIST.as_bytes()).unwrap()[0];
        assert_eq!(
            batch.async_close_target(),
            "https://www.concursolutions.com/api/expense/paymentbatch/v1.2/batch/12345678901234567890/close"
        );
    }

    #[test]
    fn extract_payment_batch_id_comes_from_the_url_when_only_the_url_is_given() {
        let body = BATCH_LIST.replace("<BatchID>13cb38dc-46d2-4e0c-8973-8c7667806b47</BatchID>", "");
        let batch = &parse_batch_list(body.as_bytes()).unwrap()[0];
        assert_eq!(batch.id, "12345678901234567890");
    }

    #[test]
    fn extract_payment_batch_id_alone_closes_by_path() {
        let body = BATCH_LIST.replace(
            "<Batch-URL>https://www.concursolutions.com/api/expense/paymentbatch/v1.1/batch/12345678901234567890</Batch-URL>",
            "",
        );
        let batch = &parse_batch_list(body.as_bytes()).unwrap()[0];
        assert!(batch.batch_url.is_none());
        assert_eq!(
            batch.async_close_target(),
            "/api/expense/paymentbatch/v1.2/batch/13cb38dc-46d2-4e0c-8973-8c7667806b47/close"
        );
        let neither = body.replace("<BatchID>13cb38dc-46d2-4e0c-8973-8c7667806b47</BatchID>", "");
        let e = parse_batch_list(neither.as_bytes()).unwrap_err();
        assert!(
            matches!(&e, ExtractXmlError::Missing { path } if path.starts_with("BatchList/BatchSummary[1]/")),
            "{e}"
        );
    }

    #[test]
    fn extract_payment_batch_total_is_exact_and_errors_name_the_path() {
        let precise = BATCH_LIST.replace("334.21", "12345678901234567.12345678");
        let batch = &parse_batch_list(precise.as_bytes()).unwrap()[0];
        assert_eq!(batch.total.unwrap().to_string(), "12345678901234567.12345678");
        let bad = BATCH_LIST.replace("334.21", "334,21");
        let e = parse_batch_list(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(&e, ExtractXmlError::Invalid { path, .. } if path == "BatchList/BatchSummary[1]/BatchTotal"),
            "{e}"
        );
        let bad = BATCH_LIST.replace("<Count>10</Count>", "<Count>ten</Count>");
        let e = parse_batch_list(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(&e, ExtractXmlError::Invalid { path, .. } if path == "BatchList/BatchSummary[1]/Count"),
            "{e}"
        );
    }

    #[test]
    fn extract_close_answer_example_parses_with_root_and_child_both_batch_status() {
        let answer = parse_close_answer(CLOSE_ANSWER.as_bytes()).unwrap();
        assert!(answer.succeeded() && answer.is_closed());
        assert_eq!(answer.job_queue_key.as_deref(), Some("d$wIUEkl72LW299WTjTlskdy"));
        let file = answer.file_url.unwrap();
        assert_eq!(
            file.as_str(),
            "http://www.concursolutions.com/api/expense/paymentbatch/v1.1/batch/n$s4MtBKgvoJxAYcbggR7eD2jRU$sxYjePU/file"
        );
        // The typo's `http` is no https datacenter: the token is not sent there.
        assert!(file.on_datacenter("https://www.concursolutions.com").is_err());
    }

    #[test]
    fn extract_close_answer_async_v1_2_shape_parses() {
        let body = r#"<BatchStatus xmlns="http://www.concursolutions.com/api/expense/paymentbatch/2011/11">
            <Status>SUCCESS</Status><JobQueueKey>d$wIUEkl72LW299WTjTlskdy</JobQueueKey></BatchStatus>"#;
        let answer = parse_close_answer(body.as_bytes()).unwrap();
        assert!(answer.succeeded() && !answer.is_closed());
        assert!(answer.file_url.is_none() && answer.batch_status.is_none());
        let e = parse_close_answer(b"<BatchStatus><JobQueueKey>k</JobQueueKey></BatchStatus>").unwrap_err();
        assert!(matches!(&e, ExtractXmlError::Missing { path } if path == "BatchStatus/Status"), "{e}");
    }
}
