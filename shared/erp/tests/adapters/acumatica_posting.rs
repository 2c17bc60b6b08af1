//! Bills and journal transactions against the Acumatica simulator over
//! HTTP: exact amounts, exactly once across retries, timeouts and 5xx
//! after commit, throttling, and refusals an operator can act on; vendors
//! read for Concur, and vendors from Concur written once however many race.

use crate::acumatica_support;
use crate::records;

use std::time::Duration;

use acumatica_support::{client, client_with, site};
use domain::FailureKind;
use erp::acumatica::{
    AcumaticaBill, AcumaticaClient, AcumaticaError, AcumaticaJournal, BillLine, BillType, JournalKeyField, JournalLine,
    PostingOptions,
};
use erp::{ErpAdapter, ErpReference};
use records::{concur_vendor, dec};
use serde_json::Value;
use simulators::acumatica::{AcumaticaSim, AfterCommit};
use simulators::faults::{FaultKind, FaultSpec};
use time::macros::date;

fn bill(vendor_ref: &str) -> AcumaticaBill {
    let line = |account: &str, amount: &str, description: &str| BillLine {
        account: account.into(),
        subaccount: Some("000-110".into()),
        branch: Some("HQ".into()),
        amount: dec(amount),
        description: description.into(),
    };
    AcumaticaBill {
        bill_type: BillType::Bill,
        vendor: "V000123".into(),
        vendor_ref: vendor_ref.into(),
        date: date!(2024 - 03 - 15),
        description: format!("Concur expense report {vendor_ref} J. Doe"),
        currency: "USD".into(),
        branch: Some("HQ".into()),
        lines: vec![line("60100", "200.00", "Hotel 2 nights"), line("60200", "45.55", "Taxi")],
    }
}

fn journal(key: &str, debit: &str, credit: &str) -> AcumaticaJournal {
    let line = |account: &str, debit: &str, credit: &str| JournalLine {
        account: account.into(),
        subaccount: Some("000-000".into()),
        branch: Some("HQ".into()),
        debit: dec(debit),
        credit: dec(credit),
        description: format!("T&E {key}"),
        reference: Some(key.into()),
    };
    AcumaticaJournal {
        date: date!(2024 - 03 - 15),
        description: "accrual".into(),
        currency: "USD".into(),
        branch: Some("HQ".into()),
        key_field: JournalKeyField::Description,
        key: key.into(),
        lines: vec![line("60100", debit, "0"), line("20500", "0", credit)],
    }
}

fn reference(text: &str) -> ErpReference {
    ErpReference::new(text)
}

fn num(v: &Value) -> String {
    v["value"].to_string()
}

/// Entity PUTs the simulator saw, with their statuses.
fn puts(sim: &AcumaticaSim) -> Vec<u16> {
    sim.faults().requests().iter().filter(|r| r.method == "PUT").map(|r| r.status).collect()
}

#[tokio::test]
async fn a_bill_and_a_journal_are_created_with_exact_amounts() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    assert_eq!(c.create_bill(&bill("CNQ-8842")).await.unwrap(), reference("Bill/Bill/000001"));
    let bills = sim.bills("Acme");
    assert_eq!(bills.len(), 1);
    assert_eq!(bills[0]["VendorRef"]["value"], "CNQ-8842");
    assert_eq!(bills[0]["Status"]["value"], "On Hold", "not released unless the connection asks");
    assert_eq!(num(&bills[0]["Amount"]), "245.55");
    assert_eq!(num(&bills[0]["Details"][0]["Amount"]), "200.0");
    assert_eq!(num(&bills[0]["Details"][1]["Amount"]), "45.55");
    assert_eq!(bills[0]["Details"][1]["Subaccount"]["value"], "000-110");

    let j = journal("CNQ-8842", "245.55", "245.55");
    assert_eq!(c.create_journal(&j).await.unwrap(), reference("JournalTransaction/GL/000001"));
    let batches = sim.journal_transactions("Acme");
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0]["Description"]["value"], "Concur CNQ-8842 accrual");
    assert_eq!(batches[0]["Status"]["value"], "Balanced");
    assert_eq!(num(&batches[0]["Details"][0]["DebitAmount"]), "245.55");
    assert_eq!(num(&batches[0]["Details"][1]["CreditAmount"]), "245.55");
    assert_eq!(batches[0]["Details"][1]["ReferenceNbr"]["value"], "CNQ-8842");
}

#[tokio::test]
async fn a_second_create_with_the_same_key_returns_the_first_reference() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let first = c.create_bill(&bill("CNQ-1")).await.unwrap();
    assert_eq!(c.create_bill(&bill("CNQ-1")).await.unwrap(), first);
    assert_eq!(sim.bills("Acme").len(), 1);
    assert_eq!(c.find_bill_by_vendor_ref("V000123", "CNQ-1").await.unwrap(), Some(first.clone()));
    assert_eq!(c.find_bill_by_vendor_ref("V000123", "CNQ-2").await.unwrap(), None);

    let j = c.create_journal(&journal("CNQ-7", "10", "10")).await.unwrap();
    assert_eq!(c.create_journal(&journal("CNQ-7", "10", "10")).await.unwrap(), j);
    assert_eq!(sim.journal_transactions("Acme").len(), 1);
    assert_eq!(puts(&sim), [200, 200], "the repeats created nothing");

    // The trait's lookup finds either kind by the Concur key alone.
    assert_eq!(c.find_by_external_key("CNQ-1").await.unwrap(), Some(first));
    assert_eq!(c.find_by_external_key("CNQ-7").await.unwrap(), Some(j));
    assert_eq!(c.find_by_external_key("CNQ-3").await.unwrap(), None);
}

#[tokio::test]
async fn a_key_that_prefixes_another_is_another_document() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let long = c.create_journal(&journal("CNQ-12", "1", "1")).await.unwrap();
    let short = c.create_journal(&journal("CNQ-1", "1", "1")).await.unwrap();
    assert_ne!(long, short);
    assert_eq!(sim.journal_transactions("Acme").len(), 2);
}

#[tokio::test]
async fn quotes_in_keys_are_escaped_in_the_filter() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let first = c.create_bill(&bill("O'Hara-1")).await.unwrap();
    assert_eq!(c.create_bill(&bill("O'Hara-1")).await.unwrap(), first);
    let j = c.create_journal(&journal("O'Hara-1", "3.10", "3.1")).await.unwrap();
    assert_eq!(c.find_by_external_key("O'Hara-1").await.unwrap(), Some(first));
    assert_eq!(c.find_journal_by_key(&JournalKeyField::Description, "O'Hara-1").await.unwrap(), Some(j));
    assert_eq!(sim.bills("Acme").len(), 1);
}

#[tokio::test]
async fn a_custom_key_field_carries_and_finds_the_journal() {
    let (sim, running) = site().await;
    let key_field = JournalKeyField::Custom { field: "UsrConcurKey".into() };
    let c = client_with(
        &running.base_url(),
        Duration::from_secs(5),
        PostingOptions { release: false, journal_key_field: key_field.clone() },
    );
    let mut j = journal("9C1A77", "5", "5");
    j.key_field = key_field.clone();
    let created = c.create_journal(&j).await.unwrap();
    assert_eq!(c.create_journal(&j).await.unwrap(), created);
    assert_eq!(c.find_by_external_key("9C1A77").await.unwrap(), Some(created));
    let batches = sim.journal_transactions("Acme");
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0]["custom"]["BatchModule"]["UsrConcurKey"]["value"], "9C1A77");
    assert_eq!(batches[0]["Description"]["value"], "accrual");
}

#[tokio::test]
async fn a_5xx_after_commit_is_looked_up_not_resent() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    sim.after_commit(1, AfterCommit::ServerError { status: 500 });
    assert_eq!(c.create_bill(&bill("CNQ-1")).await.unwrap(), reference("Bill/Bill/000001"));
    assert_eq!(sim.bills("Acme").len(), 1);

    // A journal has no duplicate check in Acumatica: only the lookup prevents a second batch.
    sim.after_commit(1, AfterCommit::ServerError { status: 503 });
    let j = c.create_journal(&journal("CNQ-1", "7.25", "7.25")).await.unwrap();
    assert_eq!(j, reference("JournalTransaction/GL/000001"));
    assert_eq!(sim.journal_transactions("Acme").len(), 1);
    assert_eq!(puts(&sim), [500, 503], "each document was PUT once");
}

#[tokio::test]
async fn a_timeout_after_commit_is_looked_up_not_resent() {
    let (sim, running) = site().await;
    let c = client_with(&running.base_url(), Duration::from_millis(400), PostingOptions::default());
    sim.after_commit(2, AfterCommit::Delay { ms: 1200 });
    assert_eq!(c.create_bill(&bill("CNQ-1")).await.unwrap(), reference("Bill/Bill/000001"));
    let j = c.create_journal(&journal("CNQ-1", "1", "1")).await.unwrap();
    assert_eq!(j, reference("JournalTransaction/GL/000001"));
    assert_eq!((sim.bills("Acme").len(), sim.journal_transactions("Acme").len()), (1, 1));
}

#[tokio::test]
async fn a_5xx_on_create_is_never_followed_by_a_blind_second_put_in_the_same_call() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    sim.faults()
        .inject(FaultSpec {
            fault: FaultKind::ServerError { status: 502 },
            count: Some(1),
            fraction: None,
            path_prefix: Some("/entity/Default/24.200.001/Bill".into()),
            method: Some("PUT".into()),
        })
        .unwrap();
    // The outcome is unknown (a 5xx may come after the commit): one more
    // lookup, no second PUT; the caller retries after its settle window.
    let unknown = c.create_bill(&bill("CNQ-1")).await.unwrap_err();
    assert!(unknown.to_failure("posting").is_retryable(), "{unknown}");
    assert_eq!(puts(&sim), [502]);
    // The next attempt looks the key up again, then creates it once.
    assert_eq!(c.create_bill(&bill("CNQ-1")).await.unwrap(), reference("Bill/Bill/000001"));
    assert_eq!(sim.bills("Acme").len(), 1);
    assert_eq!(puts(&sim), [502, 200]);
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
            path_prefix: Some("/entity".into()),
            method: Some("PUT".into()),
        })
        .unwrap();
    assert_eq!(c.create_bill(&bill("CNQ-1")).await.unwrap(), reference("Bill/Bill/000001"));
    assert_eq!(puts(&sim), [429, 429, 429, 200]);
    assert_eq!(sim.bills("Acme").len(), 1);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_retryable() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    sim.faults()
        .inject(FaultSpec {
            fault: FaultKind::TooManyRequests { retry_after_seconds: None },
            count: Some(50),
            fraction: None,
            path_prefix: Some("/entity".into()),
            method: Some("PUT".into()),
        })
        .unwrap();
    let e = c.create_bill(&bill("CNQ-1")).await.unwrap_err();
    assert!(matches!(e, AcumaticaError::Unavailable { .. }), "{e}");
    assert!(e.to_failure("posting").is_retryable());
    assert!(sim.bills("Acme").is_empty());
}

#[tokio::test]
async fn a_422_is_permanent_and_lists_acumaticas_field_errors() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let mut b = bill("CNQ-1");
    b.vendor = "V999999".into();
    b.lines[1].account = "99999".into();
    let e = c.create_bill(&b).await.unwrap_err();
    assert!(matches!(e, AcumaticaError::Refused { .. }), "{e}");
    let f = e.to_failure("posting Concur report CNQ-1");
    assert_eq!(f.kind, FailureKind::Permanent);
    assert!(
        f.reason.contains("Acumatica refused the bill for vendor V999999 with vendor reference `CNQ-1` (HTTP 422)")
    );
    assert!(f.reason.contains("Vendor `V999999`: 'Vendor' cannot be found in the system."), "{}", f.reason);
    assert!(f.reason.contains("line 2 Account `99999`: 'Account' cannot be found in the system."), "{}", f.reason);
    assert!(sim.bills("Acme").is_empty());

    let mut j = journal("CNQ-2", "1", "1");
    j.lines[0].subaccount = Some("999-999".into());
    let e = c.create_journal(&j).await.unwrap_err();
    assert!(e.to_string().contains("line 1 Subaccount `999-999`: 'Subaccount' cannot be found in the system."), "{e}");
}

#[tokio::test]
async fn a_vendor_ref_differing_only_in_case_is_refused_loudly() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    c.create_bill(&bill("CNQ-ABC")).await.unwrap();
    let e = c.create_bill(&bill("cnq-abc")).await.unwrap_err();
    assert!(e.to_string().contains("VendorRef `cnq-abc`: The document with the same vendor reference"), "{e}");
    assert_eq!(sim.bills("Acme").len(), 1);
}

#[tokio::test]
async fn an_unbalanced_journal_is_refused_before_any_call() {
    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let e = c.create_journal(&journal("CNQ-1", "245.50", "245.49")).await.unwrap_err();
    assert!(matches!(e, AcumaticaError::Invalid { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("the journal transaction for Concur key `CNQ-1` was not sent to Acumatica"), "{text}");
    assert!(text.contains("debits 245.50 ≠ credits 245.49"), "{text}");
    assert_eq!(e.to_failure("posting").kind, FailureKind::Permanent);
    assert!(sim.faults().requests().is_empty(), "not even a sign-in");
}

#[tokio::test]
async fn release_is_done_when_the_connection_wants_it() {
    let (sim, running) = site().await;
    let posting = PostingOptions { release: true, journal_key_field: JournalKeyField::Description };
    let c = client_with(&running.base_url(), Duration::from_secs(5), posting);
    let b = c.create_bill(&bill("CNQ-1")).await.unwrap();
    assert_eq!(sim.bills("Acme")[0]["Status"]["value"], "Open");
    c.create_journal(&journal("CNQ-1", "2", "2")).await.unwrap();
    assert_eq!(sim.journal_transactions("Acme")[0]["Status"]["value"], "Posted");
    // Found again: already released, nothing more happens.
    assert_eq!(c.create_bill(&bill("CNQ-1")).await.unwrap(), b);
    assert_eq!(sim.bills("Acme").len(), 1);
}

#[tokio::test]
async fn a_release_status_on_another_server_is_not_polled_with_the_token() {
    let (sim, running) = site().await;
    let (elsewhere, elsewhere_running) = site().await;
    let posting = PostingOptions { release: true, journal_key_field: JournalKeyField::Description };
    let c = client_with(&running.base_url(), Duration::from_secs(5), posting);
    let status_url = format!("{}/entity/Default/24.200.001/Bill/ReleaseBill/status/1", elsewhere_running.base_url());
    sim.faults()
        .inject(FaultSpec {
            fault: FaultKind::Location { status: 202, location: status_url },
            count: Some(1),
            fraction: None,
            path_prefix: Some("/entity/Default/24.200.001/Bill/ReleaseBill".into()),
            method: Some("POST".into()),
        })
        .unwrap();
    let e = c.create_bill(&bill("CNQ-9")).await.unwrap_err();
    assert!(matches!(e, AcumaticaError::ReleaseFailed { .. }), "{e}");
    assert!(e.to_string().contains("another server"), "{e}");
    assert!(elsewhere.faults().requests().is_empty(), "the bearer token went to {}", elsewhere_running.base_url());
}

#[tokio::test]
async fn an_html_error_page_becomes_a_short_one_line_reason() {
    // A proxy in front of the instance answering every call with its own page.
    let page = format!(
        "<!DOCTYPE html><html><head><title>Access denied</title></head><body>{}\u{1b}[2J</body></html>",
        "<p>internal detail</p>\n".repeat(20_000)
    );
    let api = axum::Router::new().fallback(move || {
        let page = page.clone();
        async move { (axum::http::StatusCode::BAD_REQUEST, [("content-type", "text/html")], page) }
    });
    let proxy = simulators::spawn(api, 0).await.unwrap();
    let e = client(&proxy.base_url()).authenticate().await.unwrap_err();
    let reason = e.to_failure("signing in").reason;
    assert!(reason.contains("an HTML page titled `Access denied`"), "{reason}");
    assert!(!reason.contains('<') && !reason.contains('\u{1b}') && !reason.contains('\n'), "{reason}");
    assert!(reason.len() < 1000, "{} bytes", reason.len());
}

// Reference data: the vendors the sync reads for Concur's Vendor v3.

#[tokio::test]
async fn vendors_are_read_in_pages_with_their_status_and_by_changed_since() {
    use domain::reference::ReadPage;
    use domain::reference::VendorLimits;

    let (sim, running) = site().await;
    sim.add_vendor("Acme", "V000200", "Globex", "Inactive");
    sim.add_vendor("Acme", "V000300", "Initech", "On Hold");
    let client = client(&running.base_url());
    let page = |skip, top, changed_after| ReadPage { changed_after, skip, top };

    let all = client.vendors_page(page(0, 100, None), "MAIN", VendorLimits::default()).await.unwrap();
    let codes: Vec<(&str, bool)> = all.iter().map(|v| (v.vendor_code.as_str(), v.active)).collect();
    assert_eq!(codes, [("V000123", true), ("V000200", false), ("V000300", false)]);
    assert_eq!(all[0].name, "Acme Travel");
    assert!(all.iter().all(|v| v.address_code == "MAIN"));

    let first = client.vendors_page(page(0, 2, None), "MAIN", VendorLimits::default()).await.unwrap();
    let rest = client.vendors_page(page(2, 2, None), "MAIN", VendorLimits::default()).await.unwrap();
    assert_eq!((first.len(), rest.len()), (2, 1), "a short page ends the read");

    // Only what changed after the cursor (read to the second: a vendor
    // changed in the cursor's own second is read again, never missed).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cursor = time::OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sim.add_vendor("Acme", "V000400", "Umbrella", "Active");
    let changed = client.vendors_page(page(0, 100, Some(cursor)), "MAIN", VendorLimits::default()).await.unwrap();
    assert_eq!(changed.iter().map(|v| v.vendor_code.as_str()).collect::<Vec<_>>(), ["V000400"]);
}

// Reference data, Concur → ERP: vendors written from Concur.

/// Vendor PUTs the simulator saw.
fn vendor_puts(sim: &AcumaticaSim) -> usize {
    sim.faults().requests().iter().filter(|r| r.method == "PUT" && r.path.ends_with("/Vendor")).count()
}

async fn read_back(client: &AcumaticaClient, code: &str) -> Option<domain::reference::VendorRecord> {
    let page = domain::reference::ReadPage { changed_after: None, skip: 0, top: 100 };
    let vendors = ErpAdapter::read_vendors(client, page, domain::reference::VendorLimits::default()).await.unwrap();
    vendors.unwrap().into_iter().find(|v| v.vendor_code == code)
}

#[tokio::test]
async fn a_vendor_from_concur_is_created_with_every_field_and_read_back_the_same() {
    use domain::reference::VendorField;
    use erp::VendorWritten;

    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let vendor = concur_vendor("EMP-JDOE", "Jane Doe (employee)", "12-3456789");
    let written = ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap();
    assert_eq!(written, Some(VendorWritten::Created));
    assert_eq!(read_back(&c, "EMP-JDOE").await, Some(vendor), "the codes and values line up both ways");
    let stored = sim.vendors("Acme").into_iter().find(|v| v["VendorID"]["value"] == "EMP-JDOE").unwrap();
    assert_eq!(stored["VendorClass"]["value"], "DEFAULT", "the class comes from AP Preferences");
    assert_eq!(stored["MainContact"]["Address"]["AddressLine2"]["value"], "Suite 4");
}

#[tokio::test]
async fn writing_the_same_vendor_again_is_unchanged_and_sends_no_put() {
    use domain::reference::VendorField;
    use erp::VendorWritten;

    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let vendor = concur_vendor("EMP-JDOE", "Jane Doe (employee)", "12-3456789");
    ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap();
    let puts = vendor_puts(&sim);
    let again = ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap();
    assert_eq!(again, Some(VendorWritten::Unchanged));
    assert_eq!(vendor_puts(&sim), puts, "nothing differs: nothing is written");
}

#[tokio::test]
async fn an_update_writes_only_the_owned_fields_that_differ() {
    use domain::reference::{VendorField, VendorFields};
    use erp::VendorWritten;

    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let mut vendor = concur_vendor("EMP-JDOE", "Jane Doe (employee)", "12-3456789");
    ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap();

    // Concur renamed the vendor and moved it, and dropped its second
    // address line; it owns the address only.
    vendor.name = "Jane Q. Doe".into();
    vendor.city = Some("Dallas".into());
    vendor.address2 = None;
    let owned: VendorFields = [VendorField::Address, VendorField::Currency].into();
    let written = ErpAdapter::write_vendor(&c, &vendor, &owned).await.unwrap();
    assert_eq!(written, Some(VendorWritten::Updated(vec![VendorField::Address])));
    let held = read_back(&c, "EMP-JDOE").await.unwrap();
    assert_eq!(held.name, "Jane Doe (employee)", "the name is not Concur's to write");
    assert_eq!((held.city.as_deref(), held.address2.as_deref()), (Some("Dallas"), None));
    assert_eq!(held.tax_id.as_deref(), Some("12-3456789"));
    let stored = sim.vendors("Acme").into_iter().find(|v| v["VendorID"]["value"] == "EMP-JDOE").unwrap();
    assert_eq!(stored["VendorName"]["value"], "Jane Doe (employee)");
}

#[tokio::test]
async fn two_concurrent_writes_of_a_new_vendor_create_it_once() {
    use domain::reference::VendorField;
    use erp::VendorWritten;

    let (sim, running) = site().await;
    let c = client(&running.base_url());
    c.authenticate().await.unwrap();
    // Both reads answer "no such vendor" before either create arrives.
    let slow_reads = FaultSpec {
        fault: FaultKind::Slow { delay_ms: 300 },
        count: Some(2),
        fraction: None,
        path_prefix: Some("/entity/Default/24.200.001/Vendor".into()),
        method: Some("GET".into()),
    };
    sim.faults().inject(slow_reads).unwrap();
    let vendor = concur_vendor("EMP-RACE", "Jane Doe (employee)", "12-3456789");
    let fields = VendorField::all();
    let (first, second) =
        tokio::join!(ErpAdapter::write_vendor(&c, &vendor, &fields), ErpAdapter::write_vendor(&c, &vendor, &fields));
    let mut outcomes = [first.unwrap().unwrap(), second.unwrap().unwrap()];
    outcomes.sort_by_key(|o| matches!(o, VendorWritten::Created));
    assert_eq!(outcomes, [VendorWritten::Unchanged, VendorWritten::Created]);
    let held = sim.vendors("Acme").into_iter().filter(|v| v["VendorID"]["value"] == "EMP-RACE").count();
    assert_eq!(held, 1);
    let statuses: Vec<u16> = sim
        .faults()
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/Vendor"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 1, "the losing create met 412: {statuses:?}");
}

#[tokio::test]
async fn a_vendor_acumatica_refuses_is_a_permanent_failure_with_its_reason() {
    use domain::reference::VendorField;

    let (sim, running) = site().await;
    let c = client(&running.base_url());
    let mut vendor = concur_vendor("EMP-BAD", "Jane Doe (employee)", "12-3456789");
    vendor.currency_code = Some("XXX".into());
    vendor.country_code = Some("USA".into());
    let failure = ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Permanent);
    let reason = &failure.reason;
    assert!(reason.contains("Acumatica refused to create vendor `EMP-BAD` (HTTP 422)"), "{reason}");
    assert!(reason.contains("CurrencyID `XXX`: 'Currency' cannot be found in the system."), "{reason}");
    assert!(reason.contains("MainContact/Address Country `USA`: 'Country' cannot be found"), "{reason}");
    assert!(sim.vendors("Acme").iter().all(|v| v["VendorID"]["value"] != "EMP-BAD"));

    let nameless = domain::reference::VendorRecord {
        vendor_code: " ".into(),
        ..concur_vendor("x", "Jane Doe (employee)", "12-3456789")
    };
    let failure = ErpAdapter::write_vendor(&c, &nameless, &VendorField::all()).await.unwrap_err();
    assert!(failure.reason.contains("has no vendor code"), "{}", failure.reason);
}
