//! Why a document cannot be sent as it is: the rules every adapter checks
//! before a request, as one typed list. The adapters' `Invalid` errors
//! carry one of these with the document's label.

use rust_decimal::Decimal;

/// A rule the document breaks; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentProblem {
    #[error("{what} is empty")]
    Empty { what: String },
    #[error("it has no lines")]
    NoLines,
    /// `needs` says what the ERP requires, e.g. "a bill needs at least one expense line".
    #[error("it has no lines: {needs}")]
    NoLinesFor { needs: &'static str },
    /// `lines` is what the ERP calls them ("lines", "rows").
    #[error("it needs at least two {lines} (a debit and a credit)")]
    TooFewLines { lines: &'static str },
    /// `carrier` is where the key is stored, e.g. "Description key field".
    #[error("the Concur key contains a space, which the {carrier} cannot carry")]
    KeyWithSpace { carrier: &'static str },
    #[error("the line amounts add up beyond what a decimal holds")]
    TotalOverflow,
    #[error(
        "it is not balanced: debits {debits} ≠ credits {credits} (difference {}); fix the mapping that produced \
         its lines",
        .debits - .credits
    )]
    Unbalanced { debits: Decimal, credits: Decimal },
    #[error("line {line} has a negative amount; put it on the other side instead")]
    NegativeLine { line: usize },
    #[error("line {line} has both a debit and a credit; split it in two")]
    DebitAndCredit { line: usize },
    #[error("line {line} has neither a debit nor a credit")]
    NeitherDebitNorCredit { line: usize },
    #[error("line {line} has a zero amount")]
    ZeroAmount { line: usize },
    /// A problem of one line (1-based).
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: Box<DocumentProblem> },

    // Acumatica.
    #[error(
        "its total is {total}; an AP document's total must be positive (what the vendor owes the company is a \
         debit adjustment)"
    )]
    BillTotalNotPositive { total: Decimal },
    #[error(
        "the vendor reference (Concur key) has {length} characters; Acumatica stores at most {max} and a \
         shortened key could match another bill: map a shorter key"
    )]
    VendorRefTooLong { length: usize, max: usize },
    #[error(
        "the journal key field `{field}` is not a field name (letters, digits and _ only, e.g. UsrConcurKey): \
         correct it in the connection's mapping"
    )]
    KeyFieldName { field: String },

    // IFS Cloud.
    #[error(
        "its lines add up to {total}; what is owed must be positive (what the supplier owes the company is a \
         credit note)"
    )]
    InvoiceTotalNotPositive { total: Decimal },
    #[error("the invoice number (Concur key) starts or ends with a space")]
    InvoiceNoSpaces,
    #[error(
        "two dimensions post on code part {letter} with different values (`{existing}` and `{value}`; \
         `cost_center` is code part {cost_center}): map only one of them"
    )]
    CodePartConflict { letter: char, existing: String, value: String, cost_center: char },
    #[error("`{code_part}` is not a code part B…J (A is the account: use the account list)")]
    NotACodePart { code_part: char },
    #[error("a journal is posted as a voucher, not a supplier invoice")]
    JournalAsInvoice,
    #[error("an AP document is posted as a supplier invoice, not a voucher")]
    ApDocumentAsVoucher,
    #[error("the Concur purchase order's `{field}` is empty")]
    PurchaseOrderFieldEmpty { field: &'static str },
    #[error("the Concur purchase order's `{field}` `{value}` is not a number")]
    PurchaseOrderNotANumber { field: &'static str, value: String },
    #[error("the Concur purchase order's `OrderDate` `{value}` is not a date (YYYY-MM-DD)")]
    PurchaseOrderNotADate { value: String },
    #[error("a line has no LineNumber")]
    NoLineNumber,
    #[error("LineNumber {line} appears twice")]
    LineNumberTwice { line: String },
    #[error("line {line} has quantity {quantity}; it must be positive")]
    QuantityNotPositive { line: String, quantity: Decimal },

    // Infor.
    /// `key` is shortened for the message.
    #[error(
        "the Concur key `{key}` contains `{separator}`, which separates the key from the supplier in an ION DocumentID"
    )]
    KeyWithSeparator { key: String, separator: char },
    #[error("it has no currency")]
    NoCurrency,
    #[error("it has no supplier")]
    NoSupplier,
    #[error("line {line} has no GL account")]
    NoAccount { line: usize },
    #[error("line {line} has an empty dimension `{name}`")]
    EmptyDimension { line: usize, name: String },
    #[error("its amounts are too large to add up exactly")]
    AmountsTooLarge,
    #[error("its debits and credits differ by {difference}; a journal must balance")]
    JournalOff { difference: Decimal },
    #[error("its amounts overflow")]
    AmountsOverflow,
    /// `id` is shortened for the message; `character` escaped.
    #[error("{what} `{id}` contains `{character}`, which cannot be part of an ION BODID")]
    DocumentIdCharacter { what: String, id: String, character: String },
    /// `id` is the first characters only.
    #[error("{what} `{id}…` has {length} characters; an ION DocumentID may have at most {max}")]
    DocumentIdTooLong { what: String, id: String, length: usize, max: usize },
    #[error("its amounts in the functional currency are too large to add up exactly")]
    FunctionalOverflow,
    #[error(
        "line {line} ({amount} {currency}) is {functional_amount} {functional} at rate {rate}, which cannot be \
         booked on the same side; check the rate in functional_rates"
    )]
    FunctionalSide {
        line: usize,
        amount: Decimal,
        currency: String,
        functional_amount: Decimal,
        functional: String,
        rate: Decimal,
    },
    #[error("it has {lines} lines but {amounts} functional amounts; this is a bug in the connector")]
    FunctionalMismatch { lines: usize, amounts: usize },
    #[error(
        "part {part} came out larger than max_message_bytes ({max}); this is a bug in the connector: report it, \
         and raise max_message_bytes meanwhile"
    )]
    PartTooLarge { part: usize, max: usize },
}

/// Refuses an empty (or blank) `value`, naming it `what`.
pub(crate) fn require(what: &str, value: &str) -> Result<(), DocumentProblem> {
    if value.trim().is_empty() { Err(DocumentProblem::Empty { what: what.to_owned() }) } else { Ok(()) }
}

/// Refuses totals that overflowed (`None`) or do not balance.
pub(crate) fn check_balanced(totals: Option<(Decimal, Decimal)>) -> Result<(), DocumentProblem> {
    let (debits, credits) = totals.ok_or(DocumentProblem::TotalOverflow)?;
    if debits != credits {
        return Err(DocumentProblem::Unbalanced { debits, credits });
    }
    Ok(())
}
