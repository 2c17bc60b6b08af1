//! Purchase orders and goods receipts read out of the IFS Cloud simulator
//! for Concur over HTTP: the company's released orders with their lines and
//! exact values, open or closed by state, unreleased orders, the
//! connector's own (`CNQ-`) orders and other companies' left out; paging
//! over `$top`/`$skip` and IFS's own server pages; receipts with the line
//! ids the order read gives, a cancelled one inactive.

use crate::ifs_support;
use crate::records;

use domain::reference::{PoReceiptRecord, PurchaseOrderRecord, ReadPage};
use domain::{FailureKind, IfsApiNames};
use erp::ErpAdapter;
use ifs_support::{client, client_with, site};
use records::{dec, line, order};
use rust_decimal::Decimal;
use simulators::ifs::{IfsSim, PoLineSeed};
use time::macros::date;

fn page(skip: usize, top: usize) -> ReadPage {
    ReadPage { changed_after: None, skip, top }
}

fn coded(mut line: PoLineSeed, unit: &str, account: &str) -> PoLineSeed {
    line.unit = Some(unit.into());
    line.account = Some(account.into());
    line
}

/// Company 10: PO-1001 released (a cancelled line), PO-1002 closed (a
/// cancelled line), PO-1003 planned, PO-1004 cancelled, the connector's
/// CNQ-API101 released; company 20: PO-2001 released.
fn seed_orders(sim: &IfsSim) {
    sim.add_supplier("S1000", "Contoso Ltd", &["10"]);
    sim.add_supplier("S2000", "Fabrikam", &["20"]);
    sim.add_purchase_order("10", "PO-1001", "S1000", "USD", date!(2024 - 03 - 15));
    sim.add_purchase_order_line(
        "PO-1001",
        &coded(PoLineSeed::new("1", "Laptop", dec("2"), dec("999.90")), "pcs", "6100"),
    );
    let mut dock = coded(PoLineSeed::new("2", "Dock", dec("1.5"), Decimal::ZERO), "pcs", "6200");
    (dock.unit_price, dock.base_unit_price) = (None, Some(dec("0.123456789012345678")));
    sim.add_purchase_order_line("PO-1001", &dock);
    sim.add_purchase_order_line("PO-1001", &coded(PoLineSeed::new("3", "Cable", dec("4"), dec("5")), "pcs", "6200"));
    sim.set_purchase_order_state("PO-1001", "Released");
    sim.set_purchase_order_line_state("PO-1001", "3", "1", "Cancelled");

    sim.add_purchase_order("10", "PO-1002", "EMPJDOE", "EUR", date!(2024 - 02 - 01));
    let mut part = coded(PoLineSeed::new("1", "", dec("3"), dec("12.345")), "ea", "6100");
    (part.description, part.part_no, part.release_no) = (None, Some("P-7".into()), "2".into());
    sim.add_purchase_order_line("PO-1002", &part);
    sim.add_purchase_order_line("PO-1002", &coded(PoLineSeed::new("2", "Spare", dec("1"), dec("7")), "ea", "6100"));
    sim.set_purchase_order_line_state("PO-1002", "2", "1", "Cancelled");
    sim.set_purchase_order_state("PO-1002", "Closed");

    sim.add_purchase_order("10", "PO-1003", "S1000", "USD", date!(2024 - 04 - 01));
    sim.add_purchase_order_line("PO-1003", &PoLineSeed::new("1", "Not yet", dec("1"), dec("1")));
    sim.add_purchase_order("10", "PO-1004", "S1000", "USD", date!(2024 - 01 - 10));
    sim.add_purchase_order_line("PO-1004", &coded(PoLineSeed::new("1", "Chair", dec("6"), dec("80")), "pcs", "6100"));
    sim.set_purchase_order_state("PO-1004", "Cancelled");
    sim.add_purchase_order("10", "CNQ-API101", "S1000", "USD", date!(2024 - 03 - 01));
    sim.add_purchase_order_line("CNQ-API101", &PoLineSeed::new("1", "From Concur", dec("1"), dec("106.74")));
    sim.set_purchase_order_state("CNQ-API101", "Released");
    sim.add_purchase_order("20", "PO-2001", "S2000", "EUR", date!(2024 - 03 - 15));
    sim.add_purchase_order_line("PO-2001", &PoLineSeed::new("1", "Other company", dec("1"), dec("1")));
    sim.set_purchase_order_state("PO-2001", "Released");
}

/// What the read of [`seed_orders`] must give, in `OrderNo` order.
fn expected_orders() -> Vec<PurchaseOrderRecord> {
    let released = PurchaseOrderRecord {
        lines: vec![
            line("1", "1-1", "Laptop", "2", "999.90", "pcs", "6100"),
            line("2", "2-1", "Dock", "1.5", "0.123456789012345678", "pcs", "6200"),
        ],
        ..order("PO-1001", "S1000", "USD", date!(2024 - 03 - 15), false)
    };
    let closed = PurchaseOrderRecord {
        lines: vec![
            line("1", "1-2", "P-7", "3", "12.345", "ea", "6100"),
            line("2", "2-1", "Spare", "1", "7", "ea", "6100"),
        ],
        ..order("PO-1002", "EMPJDOE", "EUR", date!(2024 - 02 - 01), true)
    };
    let cancelled = PurchaseOrderRecord {
        lines: vec![line("1", "1-1", "Chair", "6", "80", "pcs", "6100")],
        ..order("PO-1004", "S1000", "USD", date!(2024 - 01 - 10), true)
    };
    vec![released, closed, cancelled]
}

async fn read_orders(erp: &dyn ErpAdapter, skip: usize, top: usize) -> Vec<PurchaseOrderRecord> {
    erp.read_purchase_orders(page(skip, top)).await.unwrap().expect("IFS reads purchase orders")
}

#[tokio::test]
async fn a_full_read_gives_the_released_orders_with_their_lines_and_exact_values() {
    let (sim, running) = site().await;
    seed_orders(&sim);
    let erp = client(&running.base_url());

    let orders = read_orders(&erp, 0, 100).await;

    assert_eq!(orders, expected_orders());
    // Exact to the last digit: no binary float on the way.
    assert_eq!(orders[0].lines[1].unit_price.to_string(), "0.123456789012345678");
    for order in &orders {
        domain::reference::SyncRecord::check(order).unwrap();
    }
}

#[tokio::test]
async fn orders_are_paged_by_top_and_skip_across_ifs_server_pages() {
    let (sim, running) = site().await;
    seed_orders(&sim);
    sim.set_page_size(1);
    let erp = client(&running.base_url());

    let (first, second) = (read_orders(&erp, 0, 2).await, read_orders(&erp, 2, 2).await);

    let numbers = |orders: &[PurchaseOrderRecord]| orders.iter().map(|o| o.number.clone()).collect::<Vec<_>>();
    assert_eq!(numbers(&first), ["PO-1001", "PO-1002"]);
    assert_eq!(numbers(&second), ["PO-1004"], "a short page: the read is over");
    assert_eq!([first, second].concat(), expected_orders());
    let reads: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/PurchaseOrderSet"))
        .map(|r| r.query.unwrap_or_default())
        .collect();
    assert!(reads.iter().all(|q| q.contains("orderby=OrderNo")), "{reads:?}");
    assert!(reads.len() >= 3, "IFS's nextLink is followed within a page: {reads:?}");
}

#[tokio::test]
async fn receipts_carry_the_order_lines_ids_and_a_cancelled_one_is_inactive() {
    let (sim, running) = site().await;
    seed_orders(&sim);
    sim.add_purchase_receipt("PO-1001", "1", "1", 1, date!(2024 - 03 - 20), dec("1"));
    sim.add_purchase_receipt("PO-1001", "1", "1", 2, date!(2024 - 03 - 22), dec("0.5"));
    sim.set_purchase_receipt_state("PO-1001", "1", "1", 2, "Cancelled");
    sim.add_purchase_receipt("PO-1002", "1", "2", 1, date!(2024 - 02 - 10), dec("3"));
    sim.add_purchase_receipt("CNQ-API101", "1", "1", 1, date!(2024 - 03 - 05), dec("1"));
    sim.add_purchase_receipt("PO-2001", "1", "1", 1, date!(2024 - 03 - 25), dec("1"));
    let erp = client(&running.base_url());

    let receipts = erp.read_po_receipts(page(0, 100)).await.unwrap().expect("IFS reads receipts");

    let receipt = |po: &str, line: &str, number: &str, day: time::Date, quantity: &str, active: bool| PoReceiptRecord {
        po_number: po.into(),
        line_external_id: line.into(),
        receipt_number: number.into(),
        received_date: day,
        quantity: dec(quantity),
        unit_of_measure: None,
        active,
    };
    assert_eq!(
        receipts,
        [
            receipt("PO-1001", "1-1", "PO-1001-1-1-1", date!(2024 - 03 - 20), "1", true),
            receipt("PO-1001", "1-1", "PO-1001-1-1-2", date!(2024 - 03 - 22), "0.5", false),
            receipt("PO-1002", "1-2", "PO-1002-1-2-1", date!(2024 - 02 - 10), "3", true),
        ]
    );
    let orders = read_orders(&erp, 0, 100).await;
    for r in &receipts {
        let order = orders.iter().find(|o| o.number == r.po_number).unwrap();
        assert!(order.lines.iter().any(|l| l.external_id == r.line_external_id), "{r:?}");
    }
    let later = erp.read_po_receipts(page(2, 2)).await.unwrap().unwrap();
    assert_eq!(later.iter().map(|r| r.receipt_number.as_str()).collect::<Vec<_>>(), ["PO-1002-1-2-1"]);
}

#[tokio::test]
async fn a_line_attribute_ifs_lacks_is_a_permanent_failure_naming_the_order_and_the_setting() {
    let (sim, running) = site().await;
    seed_orders(&sim);
    let api = IfsApiNames { purchase_order_line_account: "Cf_Gl_Account".into(), ..IfsApiNames::default() };
    let erp = client_with(&running.base_url(), api);

    let failure = erp.read_purchase_orders(page(0, 100)).await.unwrap_err();

    assert_eq!(failure.kind, FailureKind::Permanent, "{failure:?}");
    assert!(failure.reason.contains("purchase order `PO-1001`"), "{}", failure.reason);
    assert!(failure.reason.contains("Cf_Gl_Account"), "{}", failure.reason);
    assert!(failure.reason.contains("api.purchase_order_line_account"), "{}", failure.reason);
}
