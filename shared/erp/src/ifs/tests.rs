//! The client's own rules, without a server: settings checks, URLs, error
//! classification and the documents built from the posting plan.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use domain::{ErpUrl, FailureKind, PlannedLine, UrlPolicy};
use rust_decimal::Decimal;
use transport::RetryPolicy;

use super::*;

fn settings() -> IfsCloudSettings {
    IfsCloudSettings {
        base_url: ErpUrl::parse_with("https://acme.ifs.cloud", UrlPolicy::PublicHttpsOnly).unwrap(),
        namespace: "acmeprod".into(),
        company: "10".into(),
        api: IfsApiNames::default(),
    }
}

fn credentials() -> IfsCredentials {
    serde_json::from_value(serde_json::json!({"client_id": "CONCUR_INT", "client_secret": "8f0c-secret"})).unwrap()
}

fn http() -> HttpClient {
    HttpClient::new(transport::build_client(Duration::from_secs(5)), RetryPolicy::default())
}

fn client_with(settings: IfsCloudSettings) -> Result<IfsClient, IfsError> {
    IfsClient::new(http(), settings, credentials())
}

fn client() -> IfsClient {
    client_with(settings()).unwrap()
}

fn problem(mutate: impl FnOnce(&mut IfsCloudSettings)) -> String {
    let mut s = settings();
    mutate(&mut s);
    match client_with(s) {
        Err(e @ IfsError::Settings { .. }) => e.to_string(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn settings_that_cannot_work_are_refused_before_any_call() {
    assert!(problem(|s| s.company = " ".into()).contains("company"));
    assert!(problem(|s| s.namespace = "a/b".into()).contains("namespace"));
    assert!(problem(|s| s.api.path_prefix = "x".into()).contains("api.path_prefix"));
    let e = problem(|s| s.api.invoice_set = "ManSuppInvoiceSet?$top=1".into());
    assert!(e.contains("`api.invoice_set`"), "{e}");
    assert!(problem(|s| s.api.cost_center_code_part = "A".into()).contains("B…J"));
    assert!(problem(|s| s.api.voucher_type = "".into()).contains("api.voucher_type"));
    let mut lower = settings();
    lower.api.cost_center_code_part = "d".into();
    assert_eq!(client_with(lower).unwrap().cost_center, 'D');
}

#[test]
fn stored_settings_without_the_purchase_order_read_names_load_with_the_defaults() {
    let stored = serde_json::json!({"path_prefix": "int", "purchase_order_set": "PurchaseOrderSet"});
    let api: IfsApiNames = serde_json::from_value(stored).unwrap();
    assert_eq!(api.path_prefix, "int");
    assert_eq!(
        (api.purchase_order_line_account.as_str(), api.purchase_receipt_projection.as_str()),
        ("CodeA", "PurchaseReceiptHandling")
    );
    let e = problem(|s| s.api.purchase_order_line_account = "Code A".into());
    assert!(e.contains("`api.purchase_order_line_account`"), "{e}");
    let mut s = settings();
    s.api.purchase_receipt_set = "ReceiptSet".into();
    assert!(client_with(s).unwrap().set_url(Set::PurchaseReceipt).ends_with("PurchaseReceiptHandling.svc/ReceiptSet"));
}

#[test]
fn urls_follow_the_configured_names() {
    let mut s = settings();
    s.api.path_prefix = "int".into();
    s.api.invoice_projection = "SupplierInvoiceHandling".into();
    let c = client_with(s).unwrap();
    assert_eq!(
        c.set_url(Set::Invoice),
        "https://acme.ifs.cloud/int/ifsapplications/projection/v1/SupplierInvoiceHandling.svc/ManSuppInvoiceSet"
    );
    let key = c.company.key(vec![("InvoiceId", odata::KeyValue::Number(7))]);
    assert_eq!(
        c.rows_url(Set::Invoice, &key),
        "https://acme.ifs.cloud/int/ifsapplications/projection/v1/SupplierInvoiceHandling.svc/ManSuppInvoiceSet(Company='10',InvoiceId=7)/ManSuppInvoicePostings"
    );
    assert_eq!(client().token_url(), "https://acme.ifs.cloud/auth/realms/acmeprod/protocol/openid-connect/token");
    assert_eq!(client().reference(Set::Invoice, &key).reference, "ManSuppInvoiceSet/10/7");
}

#[test]
fn next_links_stay_on_the_same_server() {
    let c = client();
    let current = "https://acme.ifs.cloud/main/ifsapplications/projection/v1/AccountsHandling.svc/AccountSet?$top=1";
    assert_eq!(
        c.follow(current, "AccountSet?$skip=100", "x").unwrap(),
        "https://acme.ifs.cloud/main/ifsapplications/projection/v1/AccountsHandling.svc/AccountSet?$skip=100"
    );
    let e = c.follow(current, "https://evil.example/steal?$skip=100", "x").unwrap_err();
    assert!(e.to_string().contains("another server"), "{e}");
}

#[test]
fn api_errors_say_what_to_fix() {
    let c = client();
    let body = r#"{"error":{"code":"DATABASE_ERROR","message":"Account 9999 does not exist in company 10."}}"#;
    let e = c.api_error(Set::Invoice, Target::Rows, true, 400, body, "line 2 (account 9999) of the supplier invoice");
    assert_eq!(e.to_failure("posting").kind, FailureKind::Permanent);
    let text = e.to_string();
    assert!(text.contains("(HTTP 400 DATABASE_ERROR): Account 9999 does not exist in company 10."), "{text}");
    assert!(text.contains("line 2 (account 9999)"), "{text}");

    let e =
        c.api_error(Set::Voucher, Target::Set, false, 403, r#"{"error":{"code":"ODP_FORBIDDEN","message":"no"}}"#, "x");
    let text = e.to_string();
    assert!(text.contains("grant the permission set that includes projection VoucherEntryHandling"), "{text}");
    assert!(text.contains("`CONCUR_INT`"), "{text}");

    let not_found = r#"{"error":{"code":"ODP_RESOURCE_NOTFOUND","message":"Resource not found."}}"#;
    let e = c.api_error(Set::Invoice, Target::Rows, true, 404, not_found, "x");
    let text = e.to_string();
    assert!(text.contains("ManualSupplierInvoiceHandling.svc/ManSuppInvoiceSet(…)/ManSuppInvoicePostings"), "{text}");
    assert!(text.contains("`api.invoice_projection` / `api.invoice_set` / `api.invoice_postings`"), "{text}");
    assert_eq!(e.to_failure("x").kind, FailureKind::Permanent);

    let e = c.api_error(Set::Account, Target::Set, false, 401, "", "a GL account read");
    assert_eq!(e.to_failure("x").kind, FailureKind::NeedsReauth);

    let bad = r#"{"error":{"code":"DATABASE_ERROR","message":"Company 30 does not exist."}}"#;
    let e = c.api_error(Set::Account, Target::Set, false, 400, bad, "a GL account read");
    assert!(matches!(e, IfsError::Rejected { .. }), "a read refuses no document: {e}");
    assert!(e.to_string().contains("HTTP 400 DATABASE_ERROR to a GL account read in company 10: Company 30"), "{e}");
}

#[test]
fn metadata_refreshes_and_outages_are_retryable() {
    let c = client();
    let e = c.transport_error(TransportError::Status {
        service: SERVICE,
        status: 503,
        retry_after: Some(Duration::from_secs(2)),
        body: r#"{"error":{"code":"MI_MODIFIED_ERROR","message":"Metadata modified."}}"#.into(),
    });
    assert!(e.outcome_unknown());
    assert!(e.to_string().contains("MI_MODIFIED_ERROR"), "{e}");
    assert_eq!(e.to_failure("x").kind, FailureKind::Retryable { after: Some(Duration::from_secs(2)) });
    let timeout = c.transport_error(TransportError::Timeout { service: SERVICE, timeout: Duration::from_secs(3) });
    assert!(timeout.outcome_unknown() && timeout.to_failure("x").is_retryable());
    assert!(timeout.to_string().contains("no answer within 3 s"), "{timeout}");
}

#[test]
fn token_refusals_need_new_credentials_and_never_show_the_secret() {
    let e = IfsError::InvalidClient { namespace: "acmeprod".into(), client_id: "CONCUR_INT".into() };
    assert_eq!(e.to_failure("checking").kind, FailureKind::NeedsReauth);
    let shown = format!("{:?}", credentials());
    assert!(!shown.contains("8f0c-secret"), "{shown}");
}

fn planned(account: &str, amount: &str, dims: &[(&str, &str)]) -> PlannedLine {
    PlannedLine {
        account: account.into(),
        dimensions: dims.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
        amount: Decimal::from_str(amount).unwrap(),
        description: format!("{account} line"),
        source: 0,
    }
}

fn document(kind: ErpDocumentKind, lines: Vec<PlannedLine>) -> ErpDocument {
    ErpDocument {
        kind,
        key: "CNQ-8842".into(),
        date: time::macros::date!(2024 - 03 - 15),
        currency: "USD".into(),
        description: "Trip to Austin".into(),
        lines,
    }
}

#[test]
fn plan_documents_become_invoices_credit_notes_and_vouchers() {
    let mut s = settings();
    s.api.cost_center_code_part = "C".into();
    s.api.voucher_type = "CQ".into();
    let c = client_with(s).unwrap();
    let bill = document(
        ErpDocumentKind::Bill { vendor: "EMPJDOE".into() },
        vec![planned("6100", "200.00", &[("cost_center", "110"), ("subaccount", "x")]), planned("6200", "45.50", &[])],
    );
    let invoice = c.invoice_for(&bill).unwrap();
    assert_eq!(invoice.kind, InvoiceKind::Invoice);
    assert_eq!((invoice.supplier.as_str(), invoice.invoice_no.as_str()), ("EMPJDOE", "CNQ-8842"));
    assert_eq!(invoice.rows[0].code_parts, BTreeMap::from([('C', "110".to_owned())]));
    let mut debit = bill.clone();
    debit.kind = ErpDocumentKind::DebitAdjustment { vendor: "EMPJDOE".into() };
    assert_eq!(c.invoice_for(&debit).unwrap().kind, InvoiceKind::CreditNote);

    let journal = document(ErpDocumentKind::Journal, vec![planned("6100", "5", &[]), planned("2440", "-5", &[])]);
    let voucher = c.voucher_for(&journal).unwrap();
    assert_eq!((voucher.voucher_type.as_str(), voucher.user_group.as_str()), ("CQ", "AC"));
    assert!(c.invoice_for(&journal).is_err() && c.voucher_for(&bill).is_err());

    let clash = document(
        ErpDocumentKind::Journal,
        vec![planned("6100", "5", &[("cost_center", "1"), ("code_c", "2")]), planned("2440", "-5", &[])],
    );
    let e = c.voucher_for(&clash).unwrap_err();
    assert!(matches!(e, IfsError::Invalid { .. }) && e.to_string().contains("line 1"), "{e}");
}
