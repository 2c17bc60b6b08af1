//! The Infor adapter against the Infor simulator (ION API Gateway, IMS and
//! the ERP behind it) over HTTP: BODs accepted and processed balanced,
//! resends dropped as repeats, chunking, throttling and token renewal, and
//! validation that stops a document before anything is sent; suppliers
//! read for Concur, and vendors from Concur written once however many race.

use crate::infor_support;
use crate::records;

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::{ErpDocument, ErpDocumentKind, FailureKind, PlannedLine};
use erp::infor::{
    DEFLATE_ABOVE, InMemoryRefreshTokens, InforClient, IonApi, MasterList, RENEW_BEFORE, Variation, parse_outcome,
};
use erp::{ErpAdapter, ErpReference};
use infor_support::{CLEARING, ENTITY, LID, TI, client, client_with, http, settings, site};
use records::{concur_vendor, dec};
use rust_decimal::Decimal;
use simulators::faults::{FaultKind, FaultSpec};
use simulators::infor::{DebitCredit, InforSim, ReceivedStatus};
use time::macros::date;

const PUBLISH: &str = "/ACME_TST/IONSERVICES/api/ion/messaging/service/v3/multipartMessage";

fn line(account: &str, amount: &str, cost_center: Option<&str>, description: &str) -> PlannedLine {
    let mut dimensions = BTreeMap::new();
    if let Some(cc) = cost_center {
        dimensions.insert("CostCenter".to_owned(), cc.to_owned());
    }
    PlannedLine { account: account.into(), dimensions, amount: dec(amount), description: description.into(), source: 0 }
}

fn journal(key: &str) -> ErpDocument {
    ErpDocument {
        kind: ErpDocumentKind::Journal,
        key: key.into(),
        date: date!(2024 - 03 - 15),
        currency: "USD".into(),
        description: format!("Concur expense report {key} J. Doe & co"),
        lines: vec![
            line("6100", "200.00", Some("110"), "Hotel 2 nights"),
            line("6200", "45.5", Some("120"), "Taxi <airport>"),
            line("2440", "-245.50", None, "Employee payable"),
        ],
    }
}

fn bill(key: &str, vendor: &str) -> ErpDocument {
    ErpDocument {
        kind: ErpDocumentKind::Bill { vendor: vendor.into() },
        lines: vec![line("6100", "200.00", Some("110"), "Hotel 2 nights"), line("6200", "45.5", Some("120"), "Taxi")],
        ..journal(key)
    }
}

/// A balanced journal of `groups` × (two debits, one credit of their sum).
fn big_journal(key: &str, groups: usize) -> ErpDocument {
    let mut lines = Vec::new();
    for i in 0..groups {
        let a = dec(&format!("{}.{:02}", 10 + i * 7 % 913, i % 100));
        let b = dec(&format!("{}.5", i % 13));
        lines.push(line("6100", &a.to_string(), Some("110"), &format!("Hotel night {i}")));
        lines.push(line("6200", &b.to_string(), Some("120"), &format!("Taxi ride {i}")));
        lines.push(line("2440", &(-(a + b)).to_string(), None, &format!("Employee payable {i}")));
    }
    ErpDocument { lines, ..journal(key) }
}

fn publishes(sim: &InforSim) -> Vec<u16> {
    sim.requests().iter().filter(|r| r.method == "POST" && r.path == PUBLISH).map(|r| r.status).collect()
}

fn fault(kind: FaultKind, count: u32, path: &str) -> FaultSpec {
    FaultSpec { fault: kind, count: Some(count), fraction: None, path_prefix: Some(path.into()), method: None }
}

#[tokio::test]
async fn a_journal_and_a_supplier_invoice_are_accepted_and_processed_balanced() {
    let (sim, running) = site().await;
    let c = client(&sim, &running);
    c.check().await.unwrap();

    let reference = c.post(&journal("CNQ-8842")).await.unwrap();
    assert_eq!(reference, ErpReference::new("ion:CNQ-8842:1"));
    let journals = sim.journals(TI);
    assert_eq!(journals.len(), 1);
    let j = &journals[0];
    assert_eq!((j.document_id.as_str(), j.variation_id, j.accounting_entity.as_str()), ("CNQ-8842", 1, ENTITY));
    let lines: Vec<(&str, Decimal, DebitCredit)> =
        j.lines.iter().map(|l| (l.account.as_str(), l.amount, l.debit_credit)).collect();
    assert_eq!(
        lines,
        vec![
            ("6100", dec("200.00"), DebitCredit::Debit),
            ("6200", dec("45.5"), DebitCredit::Debit),
            ("2440", dec("245.50"), DebitCredit::Credit),
        ]
    );
    assert_eq!(j.lines[1].description.as_deref(), Some("Taxi <airport>"));
    assert_eq!(j.lines[0].dimensions[0].list_id, "CostCenter");
    assert_eq!(j.lines[0].reference.as_deref(), Some("CNQ-8842"));

    let reference = c.post(&bill("CNQ-8842", "EMPJDOE")).await.unwrap();
    assert_eq!(reference.reference, "ion:CNQ-8842.EMPJDOE:1");
    let invoices = sim.supplier_invoices(TI);
    assert_eq!(invoices.len(), 1);
    let i = &invoices[0];
    assert_eq!((i.supplier_id.as_str(), i.total_amount, i.currency.as_str()), ("EMPJDOE", dec("245.50"), "USD"));
    assert_eq!(i.alternate_ids, vec![("ConcurKey".to_owned(), "CNQ-8842".to_owned())]);
    assert_eq!(i.lines.iter().map(|l| l.extended_amount).collect::<Vec<_>>(), vec![dec("200.00"), dec("45.5")]);

    // What IMS saw: our connection point, the stable message id, NONE encoding.
    let received = sim.received(TI);
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|r| matches!(r.status, ReceivedStatus::Accepted { .. })), "{received:?}");
    assert_eq!(received[0].message_id, "CNQ-8842:SourceSystemJournalEntry:1");
    assert_eq!(received[0].from_logical_id, LID);
    assert_eq!(received[0].encoding, "NONE");
    assert_eq!(received[0].parameters["variationId"], "1");
    assert_eq!(received[0].parameters["accountingEntity"], ENTITY);

    // The ERP's answers read back: accepted, with its own ids.
    let outcomes: Vec<_> = sim.outbox(TI).iter().map(|m| parse_outcome(&m.xml).unwrap()).collect();
    let acknowledged: Vec<_> = outcomes.iter().filter(|o| o.erp_id.is_some() && o.accepted).collect();
    assert!(acknowledged.iter().any(|o| o.document_id == "CNQ-8842" && o.erp_id.as_deref() == Some("JE-000001")));
    assert!(acknowledged.iter().any(|o| o.document_id == "CNQ-8842.EMPJDOE" && o.noun == "SupplierInvoice"));
    assert!(outcomes.iter().all(|o| o.accepted));
    assert_eq!(sim.token_calls(), 1, "one sign-in for everything");
}

#[tokio::test]
async fn a_resend_with_the_same_variation_is_dropped_as_a_duplicate() {
    let (sim, running) = site().await;
    let c = client(&sim, &running);
    let first = c.post_with_variation(&journal("CNQ-1"), Variation(20240315140211)).await.unwrap();
    // A crash before the ledger recorded it: the poster sends the same attempt again.
    let again = c.post_with_variation(&journal("CNQ-1"), Variation(20240315140211)).await.unwrap();
    assert_eq!(
        first.iter().map(|s| &s.bod_id).collect::<Vec<_>>(),
        again.iter().map(|s| &s.bod_id).collect::<Vec<_>>()
    );
    assert_eq!(first[0].message_id, again[0].message_id);
    let received = sim.received(TI);
    assert_eq!(received.len(), 2);
    assert!(matches!(received[1].status, ReceivedStatus::Duplicate { held_variation: 20240315140211 }));
    assert_eq!(sim.journals(TI).len(), 1);

    // A deliberate re-post carries a higher variation and replaces it.
    c.post_with_variation(&journal("CNQ-1"), Variation(20240315140212)).await.unwrap();
    let journals = sim.journals(TI);
    assert_eq!((journals.len(), journals[0].replaced, journals[0].variation_id), (1, 1, 20240315140212));
}

#[tokio::test]
async fn invoices_to_two_suppliers_of_one_concur_document_are_both_kept() {
    let (sim, running) = site().await;
    let c = client(&sim, &running);
    c.post(&bill("CNQ-7", "EMPJDOE")).await.unwrap();
    c.post(&ErpDocument { kind: ErpDocumentKind::DebitAdjustment { vendor: "AMEX".into() }, ..bill("CNQ-7", "AMEX") })
        .await
        .unwrap();
    let invoices = sim.supplier_invoices(TI);
    let held: Vec<(&str, &str, Decimal)> =
        invoices.iter().map(|i| (i.document_id.as_str(), i.supplier_id.as_str(), i.total_amount)).collect();
    assert_eq!(held, vec![("CNQ-7.EMPJDOE", "EMPJDOE", dec("245.50")), ("CNQ-7.AMEX", "AMEX", dec("-245.50"))]);
}

#[tokio::test]
async fn a_document_too_large_for_one_message_posts_as_balanced_chunks() {
    let (sim, running) = site().await;
    let mut settings = settings();
    settings.api.max_message_bytes = 16 * 1024;
    let c = client_with(&sim, &running, settings);
    let document = big_journal("CNQ-BIG", 40);
    let sent = c.post_with_variation(&document, Variation(3)).await.unwrap();
    let parts = sent.len();
    assert!(parts >= 4, "{parts} parts");
    assert!(sent.iter().all(|s| s.bytes <= 16 * 1024 && s.encoding == "NONE" && !s.duplicate));

    let journals = sim.journals(TI);
    assert_eq!(journals.len(), parts, "every part was processed (the simulator checks each balances)");
    let mut clearing = Decimal::ZERO;
    let mut debits = Decimal::ZERO;
    let mut original_lines = 0;
    for (i, j) in journals.iter().enumerate() {
        assert_eq!(j.document_id, format!("CNQ-BIG-{}of{parts}", i + 1));
        for l in &j.lines {
            let signed = if l.debit_credit == DebitCredit::Debit { l.amount } else { -l.amount };
            if l.account == CLEARING {
                clearing += signed;
            } else {
                original_lines += 1;
                debits += signed.max(Decimal::ZERO);
            }
        }
    }
    assert_eq!(clearing, Decimal::ZERO, "the clearing account nets to zero across the parts");
    assert_eq!(original_lines, document.lines.len());
    assert_eq!(debits, document.total());

    let reference = erp::infor::references(&sent);
    assert!(reference.reference.starts_with("ion:CNQ-BIG-1of"), "{reference:?}");
    assert_eq!(reference.reference.matches("ion:").count(), parts);

    // Resending the whole document is dropped part by part.
    c.post_with_variation(&document, Variation(3)).await.unwrap();
    assert_eq!(sim.journals(TI).len(), parts);
    let duplicates = sim.received(TI).iter().filter(|r| matches!(r.status, ReceivedStatus::Duplicate { .. })).count();
    assert_eq!(duplicates, parts);
}

#[tokio::test]
async fn a_large_supplier_invoice_is_chunked_into_invoices_that_each_add_up() {
    let (sim, running) = site().await;
    let mut settings = settings();
    settings.api.max_message_bytes = 8 * 1024;
    let c = client_with(&sim, &running, settings);
    let mut document = bill("CNQ-INV", "EMPJDOE");
    document.lines =
        (0..60).map(|i| line("6100", &format!("{}.25", i + 1), Some("110"), &format!("Night {i}"))).collect();
    let sent = c.post_with_variation(&document, Variation(1)).await.unwrap();
    let invoices = sim.supplier_invoices(TI);
    assert_eq!(invoices.len(), sent.len());
    assert!(invoices.len() > 1);
    assert_eq!(invoices.iter().map(|i| i.total_amount).sum::<Decimal>(), document.total());
    assert!(invoices.iter().all(|i| i.alternate_ids == vec![("ConcurKey".to_owned(), "CNQ-INV".to_owned())]));
    assert!(invoices[0].description.as_deref().unwrap().ends_with(&format!("(part 1 of {})", sent.len())));
    assert_eq!(invoices[1].document_id, format!("CNQ-INV.EMPJDOE-2of{}", sent.len()));
    let parts = erp::infor::parse_document_id(&invoices[1].document_id).unwrap();
    assert_eq!((parts.key.as_str(), parts.supplier.as_deref(), parts.part), ("CNQ-INV", Some("EMPJDOE"), 2));
}

#[tokio::test]
async fn a_journal_needing_chunks_without_a_clearing_account_stops_before_sending() {
    let (sim, running) = site().await;
    let mut settings = settings();
    settings.api.max_message_bytes = 16 * 1024;
    settings.api.chunk_clearing_account = None;
    let c = client_with(&sim, &running, settings);
    let e = c.post(&big_journal("CNQ-BIG", 40)).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Permanent);
    assert!(e.reason.contains("set `chunk_clearing_account`"), "{}", e.reason);
    assert!(sim.received(TI).is_empty());
}

#[tokio::test]
async fn payloads_above_256_kib_are_deflated() {
    let (sim, running) = site().await;
    let c = client(&sim, &running);
    let document = big_journal("CNQ-DEFLATE", 240);
    let sent = c.post(&document).await.unwrap();
    let sent = sent.reference;
    assert_eq!(sent, "ion:CNQ-DEFLATE:1", "one message: below 5 MiB and 1000 lines");
    let received = sim.received(TI);
    assert_eq!(received[0].encoding, "DEFLATE");
    assert!(received[0].xml.len() > DEFLATE_ABOVE);
    assert!(received[0].payload_bytes < received[0].xml.len() / 4);
    assert!(matches!(received[0].status, ReceivedStatus::Accepted { .. }), "{:?}", received[0].status);
    assert_eq!(sim.journals(TI)[0].lines.len(), 720);
}

#[tokio::test]
async fn throttling_and_an_expired_token_midway_still_post_each_part_once() {
    let (sim, running) = site().await;
    let mut settings = settings();
    settings.api.max_message_bytes = 16 * 1024;
    let c = client_with(&sim, &running, settings);
    c.authenticate().await.unwrap();
    let faults = sim.faults();
    faults.inject(fault(FaultKind::TooManyRequests { retry_after_seconds: Some(1) }, 1, PUBLISH)).unwrap();
    faults.inject(fault(FaultKind::TooManyRequests { retry_after_seconds: None }, 1, PUBLISH)).unwrap();
    faults.inject(fault(FaultKind::ServerError { status: 503 }, 1, PUBLISH)).unwrap();
    let document = big_journal("CNQ-RETRY", 40);
    // The token dies between the master-data reads and the publishing.
    faults.inject(fault(FaultKind::ExpiredToken, 1, PUBLISH)).unwrap();
    sim.expire_tokens();
    let sent = c.post_with_variation(&document, Variation(8)).await.unwrap();
    let statuses = publishes(&sim);
    assert!(statuses.contains(&429) && statuses.contains(&503) && statuses.contains(&401), "{statuses:?}");
    let journals = sim.journals(TI);
    assert_eq!(journals.len(), sent.len());
    assert!(sim.received(TI).iter().all(|r| matches!(r.status, ReceivedStatus::Accepted { .. })), "posted once");
    assert!(sim.token_calls() <= 3, "{} sign-ins", sim.token_calls());
}

#[tokio::test]
async fn unknown_accounts_cost_centers_and_suppliers_stop_the_document_before_anything_is_sent() {
    let (sim, running) = site().await;
    let c = client(&sim, &running);
    let mut document = bill("CNQ-BAD", "NOBODY");
    document.lines[0].account = "9999".into();
    document.lines[1].dimensions.insert("CostCenter".into(), "999".into());
    document.lines.push(line("9999", "1.00", Some("998"), "More"));
    let e = c.post(&document).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Permanent);
    assert!(
        e.reason.contains(
            "accounting entity 1000 does not know GL account `9999` (lines 1, 3), CostCenter `998` (line 3), \
             CostCenter `999` (line 2), supplier `NOBODY`"
        ),
        "{}",
        e.reason
    );
    assert!(e.reason.contains("Infor tenant ACME_TST (accounting entity 1000)"), "{}", e.reason);
    assert!(sim.received(TI).is_empty(), "nothing reached ION");
    assert!(publishes(&sim).is_empty());

    // A dimension Infor does not have at all is named with Infor's reason.
    let mut document = journal("CNQ-DIM");
    document.lines[0].dimensions.insert("Project".into(), "P1".into());
    let e = c.validate(&document).await.unwrap_err();
    assert!(e.reason.contains("Project `P1` (line 1) [Dimension type Project does not exist]"), "{}", e.reason);
}

#[tokio::test]
async fn master_data_is_cached_per_client_and_reread_for_a_new_item() {
    let (sim, running) = site().await;
    let c = client(&sim, &running);
    c.post(&journal("CNQ-A")).await.unwrap();
    c.post(&journal("CNQ-B")).await.unwrap();
    assert_eq!(c.master_data().reads(), 2, "accounts and cost centers, once each");
    // An account created in Infor a moment ago is found by one fresh read.
    sim.add_account(TI, ENTITY, "6300");
    let mut document = journal("CNQ-C");
    document.lines[1].account = "6300".into();
    c.post(&document).await.unwrap();
    assert_eq!(c.master_data().reads(), 3);
    let (accounts, fresh) = c.master_list(&MasterList::GlAccounts, false).await.unwrap();
    assert!(!fresh && matches!(accounts.as_ref(), erp::infor::Listing::Values(v) if v.contains("6300")));
}

#[tokio::test]
async fn tokens_are_renewed_before_they_run_out() {
    let (sim, running) = site().await;
    // The default 7200 s token is reused.
    let c = client(&sim, &running);
    c.check().await.unwrap();
    c.check().await.unwrap();
    assert_eq!(sim.token_calls(), 1);

    // A token living less than the renewal margin is renewed before each use:
    // no call ever meets an expired token.
    sim.set_token_lifetime(RENEW_BEFORE.as_secs() - 60);
    let c = client(&sim, &running);
    c.check().await.unwrap();
    c.post(&journal("CNQ-T")).await.unwrap();
    c.check().await.unwrap();
    assert_eq!(sim.token_calls_with("password"), 1 + 5, "check, two master-data reads, publish, check");
    let refused = sim.requests().iter().filter(|r| r.status == 401).count();
    assert_eq!(refused, 0, "no request was refused for its token");
}

#[tokio::test]
async fn refresh_tokens_rotate_into_the_sink_and_a_stale_one_falls_back_to_the_password_grant() {
    let (sim, running) = site().await;
    sim.issue_refresh_tokens(true);
    sim.set_token_lifetime(60);
    let sink = Arc::new(InMemoryRefreshTokens::default());
    let c = client(&sim, &running).with_refresh_tokens(sink.clone(), None);
    c.check().await.unwrap();
    c.check().await.unwrap();
    c.check().await.unwrap();
    assert_eq!(sim.token_calls_with("password"), 1);
    assert_eq!(sim.token_calls_with("refresh_token"), 2);
    assert_eq!(sink.count(), 3, "every new refresh token is handed over");
    let latest = sink.latest().unwrap();

    // A new container starts from the persisted token.
    let next = client(&sim, &running).with_refresh_tokens(sink.clone(), Some(latest.clone()));
    next.check().await.unwrap();
    assert_eq!(sim.token_calls_with("refresh_token"), 3);

    // The old one was spent by that refresh: refused, so the password grant takes over.
    let stale = client(&sim, &running).with_refresh_tokens(sink.clone(), Some(latest));
    stale.check().await.unwrap();
    let log = sim.token_call_log();
    let last_two: Vec<(&str, u16)> = log[log.len() - 2..].iter().map(|c| (c.grant_type.as_str(), c.status)).collect();
    assert_eq!(last_two, vec![("refresh_token", 400), ("password", 200)]);
}

#[tokio::test]
async fn refused_credentials_need_a_new_ionapi_file() {
    let (sim, running) = site().await;
    let mut file = sim.ionapi_file(&running.base_url(), TI);
    file["sask"] = "wrong-secret-key".into();
    let c = InforClient::new(http(), settings(), IonApi::from_value(&file).unwrap());
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NeedsReauth);
    assert!(e.reason.contains("refused the service-account keys (saak/sask) of tenant ACME_TST"), "{}", e.reason);
    assert!(!e.reason.contains("wrong-secret-key"));

    // A broken file is explained without a single call.
    let mut file = sim.ionapi_file(&running.base_url(), TI);
    file["pu"] = format!("{}/{TI}/as", running.base_url()).into();
    let before = sim.token_calls();
    let c = InforClient::new(http(), settings(), IonApi::from_value(&file).unwrap());
    let e = c.post(&journal("CNQ-1")).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NeedsReauth);
    assert!(e.reason.contains("`pu` must end with `/`"), "{}", e.reason);
    assert_eq!(sim.token_calls(), before);
}

#[tokio::test]
async fn ion_configuration_problems_are_permanent_and_say_what_to_fix() {
    let (sim, running) = site().await;
    // The connection point does not list the journal document.
    let mut settings = settings();
    settings.logical_id = Some("lid://infor.ims.other".into());
    sim.add_connection_point(TI, "lid://infor.ims.other", &["Process.SupplierInvoice"]);
    let c = client_with(&sim, &running, settings);
    let e = c.post(&journal("CNQ-1")).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Permanent);
    assert!(e.reason.contains("HTTP 400"), "{}", e.reason);
    assert!(e.reason.contains("is not configured for connection point 'lid://infor.ims.other'"), "{}", e.reason);
    assert!(e.reason.contains("Documents tab of connection point lid://infor.ims.other"), "{}", e.reason);

    // ION's own limit is below ours: 413 says to lower max_message_bytes.
    sim.set_max_message_bytes(1000);
    let c = client(&sim, &running);
    let e = c.post(&journal("CNQ-2")).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::Permanent);
    assert!(e.reason.contains("HTTP 413") && e.reason.contains("lower max_message_bytes"), "{}", e.reason);
}

#[tokio::test]
async fn an_outage_that_outlasts_the_retries_is_retryable() {
    let (sim, running) = site().await;
    let c = client(&sim, &running);
    sim.faults().inject(fault(FaultKind::ServerError { status: 503 }, 10, PUBLISH)).unwrap();
    let e = c.post(&journal("CNQ-1")).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(sim.journals(TI).is_empty());
}

#[tokio::test]
async fn a_rejection_by_the_erp_comes_back_as_an_outcome() {
    let (sim, running) = site().await;
    let c = client(&sim, &running);
    // Skip the adapter's validation to let the ERP refuse: publish a rendered BOD directly.
    let settings = c.bod_settings().unwrap();
    let mut document = journal("CNQ-REJ");
    document.lines[0].account = "9999".into();
    let functional = erp::infor::functional::functional_amounts(&document, &settings).unwrap();
    let chunk = erp::infor::Chunk::whole(&document, &functional);
    let bod = erp::infor::bod::render(&settings, &chunk, Variation(4), time::OffsetDateTime::now_utc());
    let sent = c.publish(&settings, &bod).await.unwrap();
    assert!(!sent.duplicate);
    let outcomes: Vec<_> = sim.outbox(TI).iter().map(|m| parse_outcome(&m.xml).unwrap()).collect();
    assert_eq!(outcomes.len(), 2, "Acknowledge and ConfirmBOD (confirmation code Always)");
    for outcome in &outcomes {
        assert!(!outcome.accepted);
        assert_eq!(outcome.bod_id, sent.bod_id);
        assert_eq!(outcome.document_id, "CNQ-REJ");
        assert_eq!(outcome.noun, "SourceSystemJournalEntry");
        assert!(outcome.message.as_deref().unwrap().contains("GL account '9999' does not exist"), "{outcome:?}");
    }
}

#[test]
fn the_adapter_and_the_simulator_agree_on_paths() {
    use simulators::infor as sim;
    assert_eq!(erp::infor::GL_ACCOUNTS_PATH, sim::M3_LIST_ACCOUNTS_PATH);
    assert_eq!(erp::infor::DIMENSION_VALUES_PATH, sim::M3_LIST_DIMENSION_VALUES_PATH);
    assert_eq!(erp::infor::SUPPLIERS_PATH, sim::M3_LIST_SUPPLIERS_PATH);
    assert_eq!(erp::infor::PO_HEADS_PATH, sim::M3_LIST_PO_HEADS_PATH);
    assert_eq!(erp::infor::PO_LINES_PATH, sim::M3_LIST_PO_LINES_PATH);
    assert_eq!(erp::infor::PO_RECEIPTS_PATH, sim::M3_LIST_PO_RECEIPTS_PATH);
    assert_eq!(erp::infor::IMS_SERVICE_PATH, sim::IMS_SERVICE_PATH);
    assert_eq!(erp::infor::PUBLISH_PATH, format!("{}/v3/multipartMessage", sim::IMS_SERVICE_PATH));
    assert_eq!(erp::infor::bod::NAMESPACE, sim::BOD_NAMESPACE);
    assert_eq!(erp::infor::bod::RELEASE_ID, sim::BOD_RELEASE_ID);
}

// Reference data, Concur → ERP: vendors written from Concur as M3 suppliers.

/// `AddSupplier` and `UpdSupplier` calls the simulator saw.
fn supplier_writes(sim: &InforSim) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/CRS620MI/AddSupplier") || r.path.ends_with("/CRS620MI/UpdSupplier"))
        .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_owned())
        .collect()
}

async fn read_back(client: &InforClient, code: &str) -> Option<domain::reference::VendorRecord> {
    let page = domain::reference::ReadPage { changed_after: None, skip: 0, top: 100 };
    let vendors = ErpAdapter::read_vendors(client, page, domain::reference::VendorLimits::default()).await.unwrap();
    vendors.unwrap().into_iter().find(|v| v.vendor_code == code)
}

#[tokio::test]
async fn a_vendor_from_concur_becomes_a_supplier_read_back_the_same() {
    use domain::reference::VendorField;
    use erp::VendorWritten;

    let (sim, running) = site().await;
    let c = client(&sim, &running);
    let vendor = concur_vendor("EMPJANE", "Jane Doe", "US123456789");
    let written = ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap();
    assert_eq!(written, Some(VendorWritten::Created));
    assert_eq!(read_back(&c, "EMPJANE").await, Some(vendor), "the codes and values line up both ways");
    let stored = sim.supplier(TI, ENTITY, "EMPJANE").unwrap();
    let defaults: Vec<&str> = ["SUTY", "LNCD", "TEPY", "PYME"].iter().map(|f| stored[*f].as_str()).collect();
    assert_eq!(defaults, ["0", "GB", "30", "TRF"], "what Concur lacks comes from the connection's defaults");
}

#[tokio::test]
async fn writing_the_same_supplier_again_is_unchanged_and_sends_no_write() {
    use domain::reference::VendorField;
    use erp::VendorWritten;

    let (sim, running) = site().await;
    let c = client(&sim, &running);
    // No country or currency in Concur: M3 gets the defaults, which are
    // then no difference.
    let mut vendor = concur_vendor("EMPJANE", "Jane Doe", "US123456789");
    vendor.country_code = None;
    vendor.currency_code = None;
    let written = ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap();
    assert_eq!(written, Some(VendorWritten::Created));
    let stored = sim.supplier(TI, ENTITY, "EMPJANE").unwrap();
    assert_eq!((stored["CSCD"].as_str(), stored["CUCD"].as_str()), ("US", "USD"), "functional currency");
    let again = ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap();
    assert_eq!(again, Some(VendorWritten::Unchanged));
    assert_eq!(supplier_writes(&sim), ["AddSupplier"], "nothing differs: nothing is written");
}

#[tokio::test]
async fn a_supplier_update_writes_only_the_owned_fields_that_differ() {
    use domain::reference::{VendorField, VendorFields};
    use erp::VendorWritten;

    let (sim, running) = site().await;
    let c = client(&sim, &running);
    let mut vendor = concur_vendor("EMPJANE", "Jane Doe", "US123456789");
    ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap();

    // Concur renamed and moved the vendor; it owns the name only.
    vendor.name = "Jane Q. Doe".into();
    vendor.city = Some("Dallas".into());
    let owned: VendorFields = [VendorField::Name, VendorField::TaxId].into();
    let written = ErpAdapter::write_vendor(&c, &vendor, &owned).await.unwrap();
    assert_eq!(written, Some(VendorWritten::Updated(vec![VendorField::Name])));
    let stored = sim.supplier(TI, ENTITY, "EMPJANE").unwrap();
    assert_eq!((stored["SUNM"].as_str(), stored["TOWN"].as_str()), ("Jane Q. Doe", "Austin"));
    let update = sim.requests().into_iter().find(|r| r.path.ends_with("/UpdSupplier")).unwrap();
    let query = update.query.unwrap_or_default();
    assert!(query.contains("SUNM=Jane") && !query.contains("TOWN") && !query.contains("VRNO"), "{query}");
}

#[tokio::test]
async fn two_concurrent_writes_of_a_new_supplier_create_it_once() {
    use domain::reference::VendorField;
    use erp::VendorWritten;

    let (sim, running) = site().await;
    let c = client(&sim, &running);
    c.authenticate().await.unwrap();
    // Both reads answer "no such supplier" before either create arrives.
    let slow_reads = FaultSpec {
        fault: FaultKind::Slow { delay_ms: 300 },
        count: Some(2),
        fraction: None,
        path_prefix: Some(format!("/{TI}/M3/m3api-rest/v2/execute/CRS620MI/GetBasicData")),
        method: Some("GET".into()),
    };
    sim.faults().inject(slow_reads).unwrap();
    let vendor = concur_vendor("EMPRACE", "Jane Doe", "US123456789");
    let fields = VendorField::all();
    let (first, second) =
        tokio::join!(ErpAdapter::write_vendor(&c, &vendor, &fields), ErpAdapter::write_vendor(&c, &vendor, &fields));
    let mut outcomes = [first.unwrap().unwrap(), second.unwrap().unwrap()];
    outcomes.sort_by_key(|o| matches!(o, VendorWritten::Created));
    assert_eq!(outcomes, [VendorWritten::Unchanged, VendorWritten::Created]);
    assert_eq!(sim.suppliers(TI, ENTITY).iter().filter(|s| *s == "EMPRACE").count(), 1);
    assert_eq!(supplier_writes(&sim), ["AddSupplier", "AddSupplier"], "the losing add was refused, then read");
}

#[tokio::test]
async fn a_supplier_m3_refuses_is_a_permanent_failure_with_its_reason() {
    use domain::reference::VendorField;

    let (sim, running) = site().await;
    let c = client(&sim, &running);
    let mut vendor = concur_vendor("EMPLONG", "Jane Doe", "US123456789");
    vendor.name = "Jane Doe, Travel and Entertainment Accounts".into();
    let failure = ErpAdapter::write_vendor(&c, &vendor, &VendorField::all()).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Permanent);
    let reason = &failure.reason;
    assert!(reason.contains("M3 refused to create supplier `EMPLONG` in accounting entity 1000"), "{reason}");
    assert!(reason.contains("is too long; at most 36 characters (field SUNM)"), "{reason}");
    assert!(sim.supplier(TI, ENTITY, "EMPLONG").is_none());

    // An update M3 refuses: the supplier exists, the new currency does not.
    let mut known = concur_vendor("EMPJDOE", "Jane Doe", "US123456789");
    known.currency_code = Some("XXX".into());
    let failure = ErpAdapter::write_vendor(&c, &known, &VendorField::all()).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Permanent);
    assert!(failure.reason.contains("M3 refused to update supplier `EMPJDOE`"), "{}", failure.reason);
    assert!(failure.reason.contains("Currency XXX does not exist (field CUCD)"), "{}", failure.reason);
}
