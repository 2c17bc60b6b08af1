//! Supplier invoices, credit notes and vouchers against the IFS Cloud
//! simulator over HTTP: exact amounts on the right code parts, exactly once
//! across retries, 412s, throttling, expired tokens and crashes mid-way,
//! every PATCH/DELETE with the current ETag, and one company only.

use crate::ifs_support;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use domain::{ErpDocument, ErpDocumentKind, FailureKind, IfsApiNames, IfsCloudSettings, PlannedLine};
use erp::ifs::{IfsClient, IfsError, IfsPurchaseOrder, IfsPurchaseOrderLine};
use erp::{ErpAdapter, ErpReference};
use ifs_support::{CLIENT_ID, NAMESPACE, SECRET, client, client_for, credentials, http};
use rust_decimal::Decimal;
use serde_json::Value;
use simulators::RunningSimulator;
use simulators::faults::{FaultKind, FaultSpec};
use simulators::ifs::{AfterCommit, IfsSim};
use time::macros::date;

const INVOICES: &str = "/main/ifsapplications/projection/v1/ManualSupplierInvoiceHandling.svc/ManSuppInvoiceSet";
const VOUCHERS: &str = "/main/ifsapplications/projection/v1/VoucherEntryHandling.svc/VoucherSet";

/// Companies 10 and 20 with the same supplier and accounts; the IAM client
/// may write to both, so only the adapter keeps a client in its company.
async fn site() -> (IfsSim, RunningSimulator) {
    let sim = ifs_support::seeded();
    for company in ["10", "20"] {
        sim.add_account(company, "6100", "Cost", false);
        sim.add_account(company, "6200", "Cost", false);
        sim.add_account(company, "1990", "Asset", false);
        sim.add_account(company, "2440", "Liability", false);
        sim.add_code_part(company, "B", "Cost Center");
        sim.add_code_part_value(company, "B", "110");
        sim.add_code_part(company, "C", "Project");
        sim.add_code_part_value(company, "C", "P1");
    }
    let running = sim.clone().start().await;
    (sim, running)
}

fn settings(base: &str, company: &str) -> IfsCloudSettings {
    ifs_support::settings(base, company, IfsApiNames::default())
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// A decimal as the simulator renders it (number or string).
fn amount(v: &Value) -> Decimal {
    match v {
        Value::String(s) => dec(s),
        other => dec(&other.to_string()),
    }
}

fn line(account: &str, value: &str, dims: &[(&str, &str)]) -> PlannedLine {
    PlannedLine {
        account: account.into(),
        dimensions: dims.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
        amount: dec(value),
        description: format!("line on {account}"),
        source: 0,
    }
}

fn document(kind: ErpDocumentKind, key: &str, lines: Vec<PlannedLine>) -> ErpDocument {
    ErpDocument {
        kind,
        key: key.into(),
        date: date!(2024 - 03 - 15),
        currency: "USD".into(),
        description: "Trip to Austin".into(),
        lines,
    }
}

/// Hotel on cost center 110 and project P1, a taxi, a personal charge deducted.
fn bill(key: &str) -> ErpDocument {
    document(
        ErpDocumentKind::Bill { vendor: "EMPJDOE".into() },
        key,
        vec![
            line("6100", "200.00", &[("cost_center", "110"), ("code_c", "P1"), ("subaccount", "ignored")]),
            line("6200", "45.55", &[]),
            line("1990", "-30.05", &[]),
        ],
    )
}

fn journal(key: &str) -> ErpDocument {
    document(
        ErpDocumentKind::Journal,
        key,
        vec![line("6100", "245.50", &[("cost_center", "110")]), line("2440", "-245.50", &[])],
    )
}

fn reference(text: &str) -> ErpReference {
    ErpReference::new(text)
}

/// POSTs to projections the simulator saw, with their statuses.
fn posts(sim: &IfsSim) -> Vec<(String, u16)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("/ifsapplications/"))
        .map(|r| (r.path, r.status))
        .collect()
}

/// Every PATCH/DELETE carried the entity's current ETag (never none, never `*`).
fn assert_current_etags(sim: &IfsSim) {
    let writes = sim.writes();
    assert!(!writes.is_empty());
    for w in &writes {
        let if_match = w.if_match.as_deref().unwrap_or_default();
        assert!(if_match.starts_with("W/\"") && w.was_current, "{w:?}");
        assert_ne!(w.status, 428, "{w:?}");
    }
}

#[tokio::test]
async fn a_bill_and_a_journal_are_posted_with_exact_amounts_on_the_right_code_parts() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    assert_eq!(c.post(&bill("CNQ-8842")).await.unwrap(), reference("ManSuppInvoiceSet/10/104233"));
    let invoices = sim.invoices("10");
    assert_eq!(invoices.len(), 1);
    let invoice = &invoices[0];
    assert_eq!(invoice["Identity"], "EMPJDOE");
    assert_eq!(invoice["InvoiceNo"], "CNQ-8842");
    assert_eq!(invoice["PartyType"], "Supplier");
    assert_eq!(invoice["OurReference"], "Concur CNQ-8842", "marked complete");
    assert_eq!(
        (invoice["InvoiceDate"].as_str(), invoice["DueDate"].as_str()),
        (Some("2024-03-15"), Some("2024-03-15"))
    );
    assert_eq!(amount(&invoice["NetCurrAmount"]), dec("215.50"));
    assert_eq!(amount(&invoice["GrossCurrAmount"]), dec("215.50"));
    assert_eq!(amount(&invoice["VatCurrAmount"]), Decimal::ZERO);
    let rows = invoice["ManSuppInvoicePostings"].as_array().unwrap();
    let coded: Vec<(&str, Option<&str>, Option<&str>, Decimal)> = rows
        .iter()
        .map(|r| (r["CodeA"].as_str().unwrap(), r["CodeB"].as_str(), r["CodeC"].as_str(), amount(&r["CurrAmount"])))
        .collect();
    assert_eq!(
        coded,
        [
            ("6100", Some("110"), Some("P1"), dec("200.00")),
            ("6200", None, None, dec("45.55")),
            ("1990", None, None, dec("-30.05"))
        ]
    );
    assert_eq!(rows.iter().map(|r| amount(&r["CurrAmount"])).sum::<Decimal>(), amount(&invoice["NetCurrAmount"]));

    let voucher = c.post(&journal("CNQ-8842")).await.unwrap();
    assert_eq!(voucher, reference("VoucherSet/10/2024/M/2024000001"));
    let vouchers = sim.vouchers("10");
    assert_eq!(vouchers.len(), 1);
    assert_eq!(vouchers[0]["Text"], "Concur CNQ-8842 Trip to Austin");
    assert_eq!(vouchers[0]["UserGroup"], "AC");
    assert_eq!(vouchers[0]["VoucherDate"], "2024-03-15");
    let rows = vouchers[0]["VoucherRowArray"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0]["CodeA"].as_str(), rows[0]["CodeB"].as_str()), (Some("6100"), Some("110")));
    assert_eq!(amount(&rows[0]["CurrencyDebitAmount"]), dec("245.50"));
    assert_eq!(amount(&rows[0]["DebitAmount"]), dec("245.50"));
    assert!(rows[0].get("CurrencyCreditAmount").is_none_or(Value::is_null));
    assert_eq!(amount(&rows[1]["CurrencyCreditAmount"]), dec("245.50"));
    assert_eq!(amount(&rows[1]["CreditAmount"]), dec("245.50"));
    assert!(rows.iter().all(|r| r["ReferenceNumber"] == "CNQ-8842" && r["CurrencyCode"] == "USD"));
    assert_current_etags(&sim);
}

#[tokio::test]
async fn a_debit_adjustment_is_a_credit_note_with_negated_amounts() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let mut note = bill("CNQ-77");
    note.kind = ErpDocumentKind::DebitAdjustment { vendor: "EMPJDOE".into() };
    note.lines = vec![line("1990", "81.00", &[])];
    c.post(&note).await.unwrap();
    let invoice = &sim.invoices("10")[0];
    assert_eq!(amount(&invoice["NetCurrAmount"]), dec("-81.00"));
    assert_eq!(amount(&invoice["GrossCurrAmount"]), dec("-81.00"));
    assert_eq!(amount(&invoice["ManSuppInvoicePostings"][0]["CurrAmount"]), dec("-81.00"));
}

#[tokio::test]
async fn a_second_post_of_the_same_key_returns_the_first_reference_without_a_post() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let first = c.post(&bill("CNQ-1")).await.unwrap();
    let voucher = c.post(&journal("CNQ-1")).await.unwrap();
    let before = posts(&sim).len();
    assert_eq!(c.post(&bill("CNQ-1")).await.unwrap(), first);
    assert_eq!(c.post(&journal("CNQ-1")).await.unwrap(), voucher);
    assert_eq!(posts(&sim).len(), before, "the repeats sent no POST");
    assert_eq!((sim.invoices("10").len(), sim.vouchers("10").len()), (1, 1));

    // The trait's lookup: an invoice with the key (any supplier), else a voucher.
    assert_eq!(c.find_by_external_key("CNQ-1").await.unwrap(), Some(first));
    let only_voucher = c.post(&journal("CNQ-12")).await.unwrap();
    assert_eq!(c.find_by_external_key("CNQ-12").await.unwrap(), Some(only_voucher.clone()));
    assert_ne!(only_voucher, voucher, "key CNQ-1 never matches CNQ-12");
    assert_eq!(c.find_voucher("CNQ-1").await.unwrap(), Some(voucher));
    assert_eq!(c.find_by_external_key("CNQ-3").await.unwrap(), None);
}

#[tokio::test]
async fn quotes_in_keys_are_doubled_in_filters() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let first = c.post(&bill("O'Hara-1")).await.unwrap();
    assert_eq!(c.post(&bill("O'Hara-1")).await.unwrap(), first);
    let v = c.post(&journal("O'Hara-1")).await.unwrap();
    assert_eq!(c.post(&journal("O'Hara-1")).await.unwrap(), v);
    assert_eq!((sim.invoices("10").len(), sim.vouchers("10").len()), (1, 1));
}

#[tokio::test]
async fn a_stale_etag_is_read_again_and_retried_once() {
    let (sim, running) = site().await;
    sim.require_if_match(true);
    let c = client(&running.base_url());
    sim.stale_etag_next(1);
    c.post(&bill("CNQ-1")).await.unwrap();
    let statuses: Vec<(String, u16)> = sim.writes().iter().map(|w| (w.method.clone(), w.status)).collect();
    assert_eq!(statuses, [("PATCH".to_owned(), 412), ("PATCH".to_owned(), 200)]);
    assert_current_etags(&sim);
    let invoices = sim.invoices("10");
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["OurReference"], "Concur CNQ-1");
    let headers = posts(&sim).iter().filter(|(p, _)| p == INVOICES).count();
    assert_eq!(headers, 1, "posted once");
}

#[tokio::test]
async fn a_record_that_keeps_changing_is_a_retryable_conflict_and_leaves_nothing_behind() {
    let (sim, running) = site().await;
    sim.require_if_match(true);
    let c = client(&running.base_url());
    sim.stale_etag_next(2);
    let e = c.post(&journal("CNQ-1")).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(e.reason.contains("HTTP 412 twice"), "{}", e.reason);
    assert!(sim.vouchers("10").is_empty(), "the incomplete voucher was deleted");
    assert_current_etags(&sim);
    c.post(&journal("CNQ-1")).await.unwrap();
    assert_eq!(sim.vouchers("10").len(), 1);
}

#[tokio::test]
async fn a_429_storm_posts_once() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    sim.faults()
        .inject(FaultSpec {
            fault: FaultKind::TooManyRequests { retry_after_seconds: None },
            count: Some(3),
            fraction: None,
            path_prefix: Some(INVOICES.into()),
            method: Some("POST".into()),
        })
        .unwrap();
    c.post(&bill("CNQ-1")).await.unwrap();
    let headers: Vec<u16> = posts(&sim).into_iter().filter(|(p, _)| p == INVOICES).map(|(_, s)| s).collect();
    assert_eq!(headers, [429, 429, 429, 201]);
    assert_eq!(sim.invoices("10").len(), 1);
    assert_eq!(sim.invoices("10")[0]["ManSuppInvoicePostings"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_retryable_and_creates_nothing() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    sim.faults()
        .inject(FaultSpec {
            fault: FaultKind::TooManyRequests { retry_after_seconds: None },
            count: Some(50),
            fraction: None,
            path_prefix: Some(INVOICES.into()),
            method: Some("POST".into()),
        })
        .unwrap();
    let e = c.post(&bill("CNQ-1")).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(sim.invoices("10").is_empty());
}

#[tokio::test]
async fn the_token_is_cached_and_renewed_shortly_before_it_expires() {
    let (sim, running) = site().await;
    // 2 s lifetime: renewed after 1 s (the 30 s margin is capped at half the lifetime).
    sim.set_token_lifetime(2);
    let c = client(&running.base_url());
    c.check().await.unwrap();
    c.check().await.unwrap();
    assert_eq!(sim.token_calls(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.check().await.unwrap();
    assert_eq!(sim.token_calls(), 2);
    assert!(sim.requests().iter().all(|r| r.status != 401), "renewed before IFS refused it");
}

#[tokio::test]
async fn a_metadata_refresh_on_a_read_is_retried() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    sim.faults()
        .inject(FaultSpec {
            fault: FaultKind::ServerError { status: 503 },
            count: Some(2),
            fraction: None,
            path_prefix: Some(INVOICES.into()),
            method: Some("GET".into()),
        })
        .unwrap();
    c.post(&bill("CNQ-1")).await.unwrap();
    assert_eq!(sim.invoices("10").len(), 1);
    let faults: Vec<Option<String>> = sim.requests().into_iter().map(|r| r.fault).filter(Option::is_some).collect();
    assert_eq!(faults.len(), 2);
}

#[tokio::test]
async fn an_expired_token_is_replaced_once() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    c.post(&bill("CNQ-1")).await.unwrap();
    assert_eq!(sim.token_calls(), 1, "one token for the whole invoice");
    sim.expire_tokens();
    c.post(&journal("CNQ-1")).await.unwrap();
    assert_eq!(sim.token_calls(), 2);
    // A token refused in the middle of an invoice (between its rows).
    sim.faults()
        .inject(FaultSpec {
            fault: FaultKind::ExpiredToken,
            count: Some(1),
            fraction: None,
            path_prefix: Some(format!("{INVOICES}(")),
            method: Some("POST".into()),
        })
        .unwrap();
    c.post(&bill("CNQ-2")).await.unwrap();
    assert_eq!(sim.token_calls(), 3);
    let invoices = sim.invoices("10");
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1]["ManSuppInvoicePostings"].as_array().unwrap().len(), 3, "every row once");
}

#[tokio::test]
async fn a_crash_after_the_header_is_repaired_by_the_next_post() {
    let (sim, running) = site().await;
    sim.require_if_match(true);
    let c = client(&running.base_url());
    // The header commits, the answer is late, and the poster dies meanwhile.
    sim.after_commit(1, AfterCommit::Delay { ms: 1500 });
    let crashed = tokio::time::timeout(Duration::from_millis(400), c.post(&bill("CNQ-1"))).await;
    assert!(crashed.is_err(), "the post was cut off");
    let left = sim.invoices("10");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["OurReference"], "Concur CNQ-1 (incomplete)");
    assert_eq!(c.find_by_external_key("CNQ-1").await.unwrap(), None, "an incomplete invoice is not a posting");

    let repaired = c.post(&bill("CNQ-1")).await.unwrap();
    let invoices = sim.invoices("10");
    assert_eq!(invoices.len(), 1, "never two invoices");
    assert_eq!(invoices[0]["OurReference"], "Concur CNQ-1");
    assert_eq!(invoices[0]["ManSuppInvoicePostings"].as_array().unwrap().len(), 3);
    assert_eq!(repaired, reference(&format!("ManSuppInvoiceSet/10/{}", invoices[0]["InvoiceId"])));
    assert!(sim.writes().iter().any(|w| w.method == "DELETE" && w.status == 204), "the half invoice was deleted");
    assert_current_etags(&sim);
    assert_eq!(c.post(&bill("CNQ-1")).await.unwrap(), repaired);
}

#[tokio::test]
async fn a_5xx_after_the_voucher_header_committed_is_looked_up_not_resent_blindly() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    sim.after_commit(1, AfterCommit::ServerError { status: 503 });
    let v = c.post(&journal("CNQ-1")).await.unwrap();
    let vouchers = sim.vouchers("10");
    assert_eq!(vouchers.len(), 1);
    assert_eq!(vouchers[0]["Text"], "Concur CNQ-1 Trip to Austin");
    assert_eq!(v, reference(&format!("VoucherSet/10/2024/M/{}", vouchers[0]["VoucherNo"])));
    let headers: Vec<u16> = posts(&sim).into_iter().filter(|(p, _)| p == VOUCHERS).map(|(_, s)| s).collect();
    assert_eq!(headers, [503, 201], "the second header only after the lookup found the first incomplete");
    assert!(sim.writes().iter().any(|w| w.method == "DELETE"));
}

#[tokio::test]
async fn a_row_whose_outcome_is_unknown_starts_the_invoice_over() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    sim.faults()
        .inject(FaultSpec {
            fault: FaultKind::ServerError { status: 503 },
            count: Some(1),
            fraction: None,
            path_prefix: Some(format!("{INVOICES}(")),
            method: Some("POST".into()),
        })
        .unwrap();
    c.post(&bill("CNQ-1")).await.unwrap();
    let invoices = sim.invoices("10");
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["ManSuppInvoicePostings"].as_array().unwrap().len(), 3, "no row twice");
    assert_eq!(invoices[0]["OurReference"], "Concur CNQ-1");
}

#[tokio::test]
async fn a_rejected_row_leaves_no_invoice_and_names_the_account() {
    let (sim, running) = site().await;
    sim.require_if_match(true);
    let c = client(&running.base_url());
    let mut b = bill("CNQ-1");
    b.lines[1].account = "9999".into();
    let e = c.post(&b).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Permanent, "{}", e.reason);
    assert!(e.reason.contains("line 2 (account 9999)"), "{}", e.reason);
    assert!(e.reason.contains("DATABASE_ERROR"), "{}", e.reason);
    assert!(sim.invoices("10").is_empty(), "the header was deleted");
    assert_current_etags(&sim);
}

#[tokio::test]
async fn an_unbalanced_journal_is_refused_before_any_request() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let mut j = journal("CNQ-1");
    j.lines[1].amount = dec("-245.49");
    let e = c.post(&j).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Permanent);
    assert!(e.reason.contains("debits 245.50 ≠ credits 245.49"), "{}", e.reason);
    assert!(sim.requests().is_empty(), "not even a token");
}

#[tokio::test]
async fn every_request_is_for_the_configured_company() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    sim.after_commit(1, AfterCommit::ServerError { status: 500 });
    c.post(&bill("CNQ-1")).await.unwrap();
    c.post(&journal("CNQ-1")).await.unwrap();
    c.find_by_external_key("CNQ-2").await.unwrap();
    c.accounts().await.unwrap();
    c.code_part_values('B').await.unwrap();
    c.check().await.unwrap();

    let mut collections = 0;
    for r in sim.requests().iter().filter(|r| r.path.contains("/ifsapplications/projection/")) {
        if r.path.ends_with("Set") {
            if r.method == "GET" {
                // reqwest's URL parser encodes the quotes too.
                let query = r.query.as_deref().unwrap_or_default().replace("%20", " ").replace("%27", "'");
                assert!(query.starts_with("$filter=Company eq '10'"), "{r:?}");
                collections += 1;
            }
            // A POST's company is in its body: shown by where the rows landed.
        } else {
            assert!(r.path.contains("(Company='10',"), "{r:?}");
        }
    }
    assert!(collections >= 5);
    assert!(sim.invoices("20").is_empty() && sim.vouchers("20").is_empty(), "nothing in company 20");

    // A client for company 20 sees none of company 10's documents and posts its own.
    let other = client_for(&running.base_url(), "20");
    assert_eq!(other.find_by_external_key("CNQ-1").await.unwrap(), None);
    let theirs = other.post(&bill("CNQ-1")).await.unwrap();
    assert!(theirs.reference.starts_with("ManSuppInvoiceSet/20/"), "{theirs:?}");
    assert_eq!((sim.invoices("10").len(), sim.invoices("20").len()), (1, 1));
}

#[tokio::test]
async fn reference_reads_page_through_the_company_data() {
    let (sim, running) = site().await;
    sim.set_page_size(2);
    let c = client(&running.base_url());
    let accounts = c.accounts().await.unwrap();
    let mut names: Vec<&str> = accounts.iter().map(|a| a.account.as_str()).collect();
    names.sort();
    assert_eq!(names, ["1990", "2440", "6100", "6200"], "company 10's accounts, every page");
    assert_eq!(accounts.iter().find(|a| a.account == "2440").unwrap().logical_type.as_deref(), Some("Liability"));
    assert_eq!(accounts[0].valid_until, Some(date!(2049 - 12 - 31)));
    let values = c.code_part_values('c').await.unwrap();
    assert_eq!(values.iter().map(|v| (v.code_part, v.value.as_str())).collect::<Vec<_>>(), [('C', "P1")]);
    sim.add_supplier("S2", "Second", &["10"]);
    sim.add_supplier("S3", "Third", &["20"]);
    let suppliers = c.suppliers().await.unwrap();
    assert_eq!(suppliers.len(), 3);
    assert!(suppliers.iter().any(|s| s.id == "EMPJDOE" && s.name.as_deref() == Some("Jane Doe (employee)")));
    let invoicing: Vec<(&str, bool)> = suppliers.iter().map(|s| (s.id.as_str(), s.in_company)).collect();
    assert!(invoicing.contains(&("S2", true)) && invoicing.contains(&("S3", false)), "{invoicing:?}");
    assert!(c.code_part_values('A').await.is_err(), "A is the account");
    c.check().await.unwrap();
}

#[tokio::test]
async fn check_refuses_wrong_credentials_realm_company_and_names() {
    let (sim, running) = site().await;
    let base = running.base_url();
    let wrong = IfsClient::new(http(Duration::from_secs(5)), settings(&base, "10"), credentials("nope")).unwrap();
    let e = wrong.check().await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NeedsReauth, "{}", e.reason);
    assert!(e.reason.contains("IAM client `CONCUR_INT` in realm acmeprod"), "{}", e.reason);
    assert!(!e.reason.contains("nope"), "never echo the secret");

    let mut realm = settings(&base, "10");
    realm.namespace = "acmetest".into();
    let e = IfsClient::new(http(Duration::from_secs(5)), realm, credentials(SECRET)).unwrap().check_access().await;
    assert!(matches!(e, Err(IfsError::NoRealm { .. })), "{e:?}");

    sim.set_client_grants(NAMESPACE, CLIENT_ID, false, true);
    let e = client(&base).check().await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NeedsReauth);
    assert!(e.reason.contains("enable Service Accounts"), "{}", e.reason);
    sim.set_client_grants(NAMESPACE, CLIENT_ID, true, true);

    let e = client_for(&base, "30").check().await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Permanent, "{}", e.reason);
    assert!(e.reason.contains("company 30"), "{}", e.reason);

    let mut names = settings(&base, "10");
    names.api.invoice_projection = "ManualSupplierInvoice".into();
    let c = IfsClient::new(http(Duration::from_secs(5)), names, credentials(SECRET)).unwrap();
    c.check().await.unwrap();
    let e = c.post(&bill("CNQ-1")).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Permanent);
    assert!(e.reason.contains("ManualSupplierInvoice.svc/ManSuppInvoiceSet"), "{}", e.reason);
    assert!(e.reason.contains("`api.invoice_projection` / `api.invoice_set`"), "{}", e.reason);
}

#[tokio::test]
async fn a_purchase_order_is_created_once_with_its_lines() {
    let (sim, running) = site().await;
    sim.require_if_match(true);
    let c = client(&running.base_url());
    let lines = vec![
        IfsPurchaseOrderLine::from_concur("1", Some("Laptop"), "2", "1250.00", Some("PCS")).unwrap(),
        IfsPurchaseOrderLine::from_concur("2", Some("Dock"), "1.5", "99.90", None).unwrap(),
    ];
    let po = IfsPurchaseOrder::from_concur("API101", "EMPJDOE", "USD", "2024-03-15", lines).unwrap();
    let created = c.create_purchase_order(&po).await.unwrap();
    assert_eq!(created, reference("PurchaseOrderSet/CNQ-API101"));
    assert_eq!(c.create_purchase_order(&po).await.unwrap(), created);
    let orders = sim.purchase_orders("10");
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["Company"], "10");
    assert_eq!(orders[0]["Cf_Concur_Po"], "API101");
    assert_eq!(orders[0]["Cf_Concur_Status"], "complete");
    let lines = orders[0]["PurchaseOrderLineArray"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(amount(&lines[1]["BuyQtyDue"]), dec("1.5"));
    assert_eq!(amount(&lines[0]["FbuyUnitPrice"]), dec("1250.00"));
    assert_current_etags(&sim);
}
