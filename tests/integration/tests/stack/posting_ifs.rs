//! The erp-poster pipeline into IFS Cloud on the real stack: moto, the
//! Concur simulator with the official FI examples, the strict IFS
//! simulator. Every example posts balanced into company 10 exactly once,
//! also under a stale ETag, a 429 storm and a crash after an invoice header
//! was created; no PATCH or DELETE ever goes without the current ETag; no
//! request names another company; and Concur is never written to.

use std::collections::BTreeSet;
use std::time::Duration;

use domain::{ErpKind, FlowOptions, WorkItem, WorkSource};
use erp_poster::{Poster, Processed};
use integration::expected::{compare, expected_by_file, ifs_postings};
use integration::posting::{
    COMPANY, IFS_COMPANY, POSTER, PostingWorld, example_work_items, stop_once_saved, test_options,
};
use platform::ledger::{Confirmation, LedgerKey, LedgerStatus};
use simulators::faults::{FaultKind, FaultSpec};
use simulators::ifs::AfterCommit;

fn key_of(item: &WorkItem) -> LedgerKey {
    LedgerKey::new(item.connection_id.clone(), item.document_type, item.document_id.clone())
}

fn unique_items(world: &PostingWorld) -> Vec<(String, WorkItem)> {
    let mut seen = BTreeSet::new();
    example_work_items(&world.connection, WorkSource::Poll)
        .into_iter()
        .filter(|(_, item)| seen.insert(item.document_key()))
        .collect()
}

/// Every example's posting in company 10, compared with EXPECTED.md line by line.
fn assert_all_posted_as_expected(world: &PostingWorld) {
    let flow = FlowOptions::default_for(Some(ErpKind::IfsCloud));
    let expected = expected_by_file();
    let posted = ifs_postings(world.ifs(), IFS_COMPANY);
    let mapping = world.mapping();
    let mut problems = Vec::new();
    for (file, item) in example_work_items(&world.connection, WorkSource::Poll) {
        let want = &expected[&file];
        let Some(got) = posted.get(item.document_id.as_str()) else {
            problems.push(format!("{file}: nothing posted"));
            continue;
        };
        for problem in compare(want, got, &mapping, flow.form_for(item.document_type)) {
            problems.push(format!("{file} ({:?}): {problem}", got.documents));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(posted.len(), unique_items(world).len(), "one posting per document: {:?}", posted.keys());
    assert!(world.ifs().invoices("20").is_empty() && world.ifs().vouchers("20").is_empty(), "nothing in company 20");
}

/// No PATCH or DELETE without the ETag current at that moment, and no
/// request about another company.
fn assert_writes_were_guarded(world: &PostingWorld) {
    for write in world.ifs().writes().iter().filter(|w| w.method == "PATCH" || w.method == "DELETE") {
        assert!(write.if_match.is_some(), "a {} without If-Match: {write:?}", write.method);
        assert!(
            write.was_current || write.status == 412,
            "a {} with a stale ETag got through: {write:?}",
            write.method
        );
    }
    for request in world.ifs().requests() {
        let text = format!("{} {}", request.path, request.query.as_deref().unwrap_or_default());
        assert!(!text.contains("Company='20'") && !text.contains("'20'"), "a request about company 20: {text}");
    }
}

async fn post_all(world: &PostingWorld, poster: &Poster<platform::concur_grants::ConcurGrantStore>) {
    for (file, item) in unique_items(world) {
        let mut outcome = poster.process_item(&item).await;
        // A fault storm may outlast one delivery's retries: redeliver, as SQS does.
        for _ in 0..20 {
            match &outcome {
                Err(failure) if failure.is_retryable() => outcome = poster.process_item(&item).await,
                _ => break,
            }
        }
        let processed = outcome.unwrap_or_else(|f| panic!("{file}: {}", f.reason));
        assert!(matches!(processed, Processed::Posted { .. }), "{file}: {processed:?}");
    }
}

#[tokio::test]
async fn every_example_posts_into_the_named_company_once_and_concur_stays_read_only() {
    let world = PostingWorld::with_erp("acme-ifs", ErpKind::IfsCloud).await;
    world.ifs().require_if_match(true);
    world.load_examples();
    let poster = world.poster().await;
    post_all(&world, &poster).await;
    assert_all_posted_as_expected(&world);
    assert_writes_were_guarded(&world);

    let ledger = world.stack.ledger(POSTER);
    for (file, item) in unique_items(&world) {
        let record = ledger.get(&key_of(&item)).await.unwrap().unwrap();
        assert_eq!(
            (record.status, record.confirmation),
            (LedgerStatus::Confirmed, Some(Confirmation::NotRequired)),
            "{file}"
        );
        // A later poll queues it again (it is still READY in Concur): the ledger stops it.
        assert_eq!(poster.process_item(&item).await.unwrap(), Processed::Duplicate, "{file}");
    }
    assert!(world.concur.posting_confirmations(COMPANY).is_empty(), "nothing confirmed to Concur");
    let writes_to_concur: Vec<_> = world.concur.requests().into_iter().filter(|r| r.method != "GET").collect();
    assert!(
        writes_to_concur.iter().all(|r| r.path.contains("/oauth2/")),
        "Concur was only read (and tokens refreshed): {writes_to_concur:?}"
    );
}

#[tokio::test]
async fn a_stale_etag_a_429_storm_and_a_crash_after_the_header_still_post_each_document_once() {
    let world = PostingWorld::with_erp("acme-ifs-faults", ErpKind::IfsCloud).await;
    world.load_examples();
    let items = unique_items(&world);

    // A crash after the first invoice header was created: its answer comes
    // late and the poster is stopped (claim lapses after 1 s).
    let (first_file, first) = items.iter().find(|(f, _)| f.contains("Example-2.1")).unwrap().clone();
    world.ifs().after_commit(1, AfterCommit::Delay { ms: 1500 });
    let mut options = test_options();
    options.claim_ttl = Duration::from_secs(1);
    let crashing = Poster::from_env(&world.stack.env_of(POSTER), &world.stack.aws(), options).await.unwrap();
    stop_once_saved(crashing.process_item(&first), || !world.ifs().invoices(IFS_COMPANY).is_empty()).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let headers = world.ifs().invoices(IFS_COMPANY);
    assert_eq!(headers.len(), 1, "the header exists");
    assert!(
        headers[0]["ManSuppInvoicePostings"].as_array().is_none_or(Vec::is_empty),
        "and has no rows yet: {}",
        headers[0]
    );

    // Stale ETags on the next completion PATCHes, and a 429 storm on the entity sets.
    world.ifs().stale_etag_next(3);
    for (count, fraction) in [(Some(30), None), (None, Some(0.25))] {
        world
            .ifs()
            .faults()
            .inject(FaultSpec {
                fault: FaultKind::TooManyRequests { retry_after_seconds: None },
                count,
                fraction,
                path_prefix: Some("/main/ifsapplications".into()),
                method: None,
            })
            .unwrap();
    }
    let poster = world.poster().await;
    post_all(&world, &poster).await;
    assert_all_posted_as_expected(&world);
    assert_writes_were_guarded(&world);
    let stale = world.ifs().writes().iter().filter(|w| w.status == 412).count();
    assert!(stale >= 1, "the stale ETags were met (and re-read)");
    let throttled = world.ifs().requests().iter().filter(|r| r.status == 429).count();
    assert!(throttled > 10, "the storm hit ({throttled} × 429)");
    let record = world.stack.ledger(POSTER).get(&key_of(&first)).await.unwrap().unwrap();
    assert_eq!(record.status, LedgerStatus::Confirmed, "{first_file}");
}

/// A Concur purchase order of supplier `SUP-PO` with two lines.
fn concur_purchase_order(number: &str) -> serde_json::Value {
    let address = |id: &str| {
        serde_json::json!({"ExternalID": id, "Address1": "1 Main St", "City": "Minneapolis", "CountryCode": "US",
            "PostalCode": "55426", "StateProvince": "MN"})
    };
    serde_json::json!({
        "PurchaseOrderNumber": number, "Name": "Paper for Q1", "CurrencyCode": "USD", "OrderDate": "2026-11-02",
        "PolicyExternalID": "PO", "VendorCode": "SUP-PO", "VendorAddressCode": "MAIN",
        "BillToAddress": address("billto"), "ShipToAddress": address("shipto"),
        "LineItem": [
            {"LineNumber": "1", "ExternalID": format!("{number}-1"), "Description": "Paper A4", "Quantity": "10",
             "UnitPrice": "4.00", "UnitOfMeasureCode": "BOX", "AccountCode": "6110"},
            {"LineNumber": "2", "ExternalID": format!("{number}-2"), "Description": "Toner", "Quantity": "1",
             "UnitPrice": "10.00", "AccountCode": "6110"}
        ]
    })
}

/// An FI invoice (payment request) on `SUP-PO` whose line names `po_number`.
fn po_backed_invoice(request_id: &str, po_number: &str) -> serde_json::Value {
    serde_json::json!({
        "requestHeader": {"requestId": request_id, "requestTitle": "Paper", "currencyAlphaCode": "USD",
            "requestTotal": 50, "revisionNumber": "1"},
        "vendor": {"vendorCode": "SUP-PO", "vendorRemitToAddressCode": "MAIN"},
        "lineItem": [{
            "lineItemSequenceOrder": 1, "lineItemDescription": "Paper and toner", "lineItemPurchaseOrderNumber": po_number,
            "allocation": [{"allocationKey": 1,
                "journal": {"accountCode": "474230", "amountNet": 50, "amountShipping": 0, "amountGross": 50}}]
        }]
    })
}

#[tokio::test]
async fn a_po_backed_invoice_posts_with_its_purchase_order_created_first_and_once() {
    let world = PostingWorld::with_erp("acme-ifs-po", ErpKind::IfsCloud).await;
    world.ifs().add_supplier("SUP-PO", "Paper Company", &[IFS_COMPANY]);
    let vendor = serde_json::json!({"VendorCode": "SUP-PO", "AddressCode": "MAIN", "VendorName": "Paper Company"});
    world.concur.add_vendor(COMPANY, vendor).unwrap();
    world.concur.add_purchase_order(COMPANY, concur_purchase_order("PO-7001")).unwrap();
    world.concur.add_fi_document(
        COMPANY,
        "invoice",
        "invfi00000000000000000000000701",
        po_backed_invoice("INV701", "PO-7001"),
    );
    world.concur.add_fi_document(
        COMPANY,
        "invoice",
        "invfi00000000000000000000000702",
        po_backed_invoice("INV702", "PO-7001"),
    );
    world.concur.add_fi_document(
        COMPANY,
        "invoice",
        "invfi00000000000000000000000703",
        po_backed_invoice("INV703", "PO-9999"),
    );
    let item = |id: &str| {
        let id = domain::ConcurDocumentId::parse(id).unwrap();
        WorkItem::new(
            world.connection.clone(),
            domain::DocumentType::Invoice,
            id,
            WorkSource::Poll,
            time::OffsetDateTime::now_utc(),
        )
    };
    // The first try creates the purchase order, then IFS fails on the invoice.
    world
        .ifs()
        .faults()
        .inject(FaultSpec {
            fault: FaultKind::ServerError { status: 503 },
            count: Some(50),
            fraction: None,
            path_prefix: Some("/main/ifsapplications/projection/v1/ManualSupplierInvoiceHandling.svc".into()),
            method: None,
        })
        .unwrap();
    let poster = world.poster().await;
    let first = poster.process_item(&item("INV701")).await.unwrap_err();
    assert!(first.is_retryable(), "{}", first.reason);
    let orders = world.ifs().purchase_orders(IFS_COMPANY);
    assert_eq!(orders.len(), 1, "the purchase order came first: {orders:?}");
    assert_eq!(orders[0]["Cf_Concur_Po"], "PO-7001");
    assert!(world.ifs().invoices(IFS_COMPANY).is_empty());

    // The redelivery posts the invoice on the purchase order IFS now holds;
    // a second invoice on the same PO creates nothing more.
    world.ifs().faults().clear();
    for id in ["INV701", "INV702"] {
        let posted = poster.process_item(&item(id)).await.unwrap();
        assert!(matches!(posted, Processed::Posted { .. }), "{id}: {posted:?}");
    }
    let orders = world.ifs().purchase_orders(IFS_COMPANY);
    assert_eq!(orders.len(), 1, "one purchase order: {orders:?}");
    let lines = orders[0]["PurchaseOrderLineArray"].as_array().map_or(0, Vec::len);
    assert_eq!((orders[0]["OrderNo"].as_str(), lines), (Some("CNQ-PO-7001"), 2), "{}", orders[0]);
    assert_eq!(world.ifs().invoices(IFS_COMPANY).len(), 2);
    let header_posts = world.ifs().requests().into_iter().filter(|r| {
        r.method == "POST" && r.status < 300 && r.path.ends_with("PurchaseOrderHandling.svc/PurchaseOrderSet")
    });
    assert_eq!(header_posts.count(), 1, "one create of the order header");
    let history = world.stack.audit(POSTER).history(&format!("{}#invoice#INV701", world.connection)).await.unwrap();
    assert!(history.iter().any(|e| e.step == "purchase order"), "{history:?}");

    // A PO Concur does not have stops the invoice, with the fix.
    let missing = poster.process_item(&item("INV703")).await.unwrap_err();
    assert!(!missing.is_retryable() && missing.reason.contains("`PO-9999`"), "{}", missing.reason);
    assert_eq!(world.ifs().invoices(IFS_COMPANY).len(), 2);
}

#[tokio::test]
async fn the_operator_pulls_a_named_purchase_order_into_ifs_once() {
    let world = PostingWorld::with_erp("acme-ifs-pull", ErpKind::IfsCloud).await;
    world.ifs().add_supplier("SUP-PO", "Paper Company", &[IFS_COMPANY]);
    let vendor = serde_json::json!({"VendorCode": "SUP-PO", "AddressCode": "MAIN", "VendorName": "Paper Company"});
    world.concur.add_vendor(COMPANY, vendor).unwrap();
    world.concur.add_purchase_order(COMPANY, concur_purchase_order("PO-8001")).unwrap();

    let args = ["sync", "po", "acme-ifs-pull", "--number", "PO-8001", "--number", "PO-NONE"];
    let queued = integration::connector(world.stack.stack_name(), &args).await;
    assert_eq!(queued.code, 0, "{}", queued.all());
    let messages = world.stack.peek_queue("WorkQueue").await;
    assert!(messages.iter().any(|m| m.contains("reference_sync") && m.contains("PO-8001")), "{messages:?}");

    let mut request = domain::ReferenceSyncRequest::new(
        world.connection.clone(),
        domain::SyncReason::Operator,
        time::OffsetDateTime::now_utc(),
    );
    request.purchase_orders = vec!["PO-8001".into(), "PO-NONE".into()];
    let poster = world.poster().await;
    for _ in 0..2 {
        erp_poster::DocumentPipeline::reference_sync(&poster, &request).await.unwrap();
    }
    let orders = world.ifs().purchase_orders(IFS_COMPANY);
    assert_eq!(orders.len(), 1, "pulled once: {orders:?}");
    let audit = world.stack.audit(POSTER);
    let pulled = audit.history(&format!("{}#purchase_order#PO-8001", world.connection)).await.unwrap();
    let details: Vec<String> = pulled.iter().filter_map(|e| e.detail.clone()).collect();
    assert!(details.iter().any(|d| d.starts_with("created in the ERP")), "{details:?}");
    assert!(details.iter().any(|d| d == "the ERP holds it already"), "{details:?}");
    let missing = audit.history(&format!("{}#purchase_order#PO-NONE", world.connection)).await.unwrap();
    assert!(missing.iter().all(|e| e.outcome == "failed") && !missing.is_empty(), "{missing:?}");
}
