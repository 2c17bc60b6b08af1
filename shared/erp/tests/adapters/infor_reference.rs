//! Purchase orders and goods receipts read out of the Infor simulator's M3
//! API for Concur over HTTP: every released order of the accounting entity
//! with its lines and exact values in one read, open or closed by the
//! statuses of its lines, preliminary orders left out; receipts with the
//! line ids the order read gives.

use crate::infor_support;
use crate::records;

use domain::reference::{PoReceiptRecord, PurchaseOrderRecord, ReadPage, SyncRecord};
use erp::ErpAdapter;
use infor_support::{ENTITY, TI, client, site};
use records::{dec, line, order};
use simulators::infor::{InforSim, M3PoLine, M3PurchaseOrder, M3Receipt};
use time::macros::date;

fn page(skip: usize) -> ReadPage {
    ReadPage { changed_after: None, skip, top: 100 }
}

fn m3_line(line: u32, subline: u32, text: &str, quantity: &str, price: &str, account: &str, status: u16) -> M3PoLine {
    M3PoLine {
        line,
        subline,
        item: format!("ITEM-{line}"),
        description: text.into(),
        quantity: dec(quantity),
        unit: "EA".into(),
        price: dec(price),
        account: Some(account.into()),
        status,
    }
}

fn m3_order(number: &str, supplier: &str, currency: &str, day: time::Date, lines: Vec<M3PoLine>) -> M3PurchaseOrder {
    M3PurchaseOrder {
        number: number.into(),
        supplier: supplier.into(),
        currency: currency.into(),
        order_date: day,
        status: 20,
        lines,
    }
}

/// 4000001 open (lines at 50 and 20), 4000002 closed (every line at 85),
/// 4000003 preliminary (15), 4000004 open (one line closed, one at 50).
fn seed_orders(sim: &InforSim) {
    sim.add_supplier_named(TI, ENTITY, "S1000", "Contoso Ltd");
    let orders = [
        m3_order(
            "4000001",
            "S1000",
            "USD",
            date!(2024 - 03 - 15),
            vec![
                m3_line(10, 0, "Laptop", "2", "999.90", "6100", 50),
                m3_line(20, 0, "Dock", "1.5", "0.123456789012345678", "6200", 20),
            ],
        ),
        m3_order(
            "4000002",
            "AMEX",
            "EUR",
            date!(2024 - 02 - 01),
            vec![m3_line(10, 0, "", "3", "12.345", "6100", 85), m3_line(10, 1, "Spare", "1", "7", "6100", 85)],
        ),
        m3_order(
            "4000003",
            "S1000",
            "USD",
            date!(2024 - 04 - 01),
            vec![m3_line(10, 0, "Not yet", "1", "1", "6100", 15)],
        ),
        m3_order(
            "4000004",
            "S1000",
            "USD",
            date!(2024 - 01 - 10),
            vec![m3_line(10, 0, "Chair", "6", "80", "6100", 85), m3_line(20, 0, "Desk", "1", "250", "6100", 50)],
        ),
    ];
    for order in orders {
        sim.add_purchase_order(TI, ENTITY, order);
    }
}

#[tokio::test]
async fn one_read_gives_every_released_order_with_its_lines_and_exact_values() {
    let (sim, running) = site().await;
    seed_orders(&sim);
    let erp = client(&sim, &running);

    let orders = erp.read_purchase_orders(page(0)).await.unwrap().expect("M3 reads purchase orders");

    let expected = vec![
        PurchaseOrderRecord {
            lines: vec![
                line("10", "10-0", "Laptop", "2", "999.90", "EA", "6100"),
                line("20", "20-0", "Dock", "1.5", "0.123456789012345678", "EA", "6200"),
            ],
            ..order("4000001", "S1000", "USD", date!(2024 - 03 - 15), false)
        },
        PurchaseOrderRecord {
            lines: vec![
                line("10", "10-0", "ITEM-10", "3", "12.345", "EA", "6100"),
                line("10", "10-1", "Spare", "1", "7", "EA", "6100"),
            ],
            ..order("4000002", "AMEX", "EUR", date!(2024 - 02 - 01), true)
        },
        PurchaseOrderRecord {
            lines: vec![
                line("10", "10-0", "Chair", "6", "80", "EA", "6100"),
                line("20", "20-0", "Desk", "1", "250", "EA", "6100"),
            ],
            ..order("4000004", "S1000", "USD", date!(2024 - 01 - 10), false)
        },
    ];
    assert_eq!(orders, expected);
    assert_eq!(orders[0].lines[1].unit_price.to_string(), "0.123456789012345678");
    for order in &orders {
        order.check().unwrap();
    }
    // M3 pages by key: the one read was everything, a later page is empty.
    assert_eq!(erp.read_purchase_orders(page(3)).await.unwrap(), Some(Vec::new()));
    let lines_read = sim.requests().iter().filter(|r| r.path.ends_with("/PPS200MI/LstLine")).count();
    assert_eq!(lines_read, 3, "the lines of each released order, once");
}

#[tokio::test]
async fn receipts_carry_the_order_lines_ids() {
    let (sim, running) = site().await;
    seed_orders(&sim);
    let receipt = |order: &str, line: u32, subline: u32, number: &str, day: time::Date, quantity: &str| M3Receipt {
        order: order.into(),
        line,
        subline,
        receiving_number: number.into(),
        date: day,
        quantity: dec(quantity),
        unit: "EA".into(),
    };
    sim.add_purchase_receipt(TI, ENTITY, receipt("4000001", 10, 0, "R100", date!(2024 - 03 - 20), "1"));
    sim.add_purchase_receipt(TI, ENTITY, receipt("4000001", 20, 0, "R101", date!(2024 - 03 - 22), "0.5"));
    sim.add_purchase_receipt(TI, ENTITY, receipt("4000002", 10, 1, "R102", date!(2024 - 02 - 10), "1"));
    let erp = client(&sim, &running);

    let receipts = erp.read_po_receipts(page(0)).await.unwrap().expect("M3 reads receipts");

    let record = |po: &str, line: &str, number: &str, day: time::Date, quantity: &str| PoReceiptRecord {
        po_number: po.into(),
        line_external_id: line.into(),
        receipt_number: number.into(),
        received_date: day,
        quantity: dec(quantity),
        unit_of_measure: Some("EA".into()),
        active: true,
    };
    assert_eq!(
        receipts,
        [
            record("4000001", "10-0", "R100", date!(2024 - 03 - 20), "1"),
            record("4000001", "20-0", "R101", date!(2024 - 03 - 22), "0.5"),
            record("4000002", "10-1", "R102", date!(2024 - 02 - 10), "1"),
        ]
    );
    let orders = erp.read_purchase_orders(page(0)).await.unwrap().unwrap();
    for r in &receipts {
        r.check().unwrap();
        let order = orders.iter().find(|o| o.number == r.po_number).unwrap();
        assert!(order.lines.iter().any(|l| l.external_id == r.line_external_id), "{r:?}");
    }
    assert_eq!(erp.read_po_receipts(page(3)).await.unwrap(), Some(Vec::new()));
}
