//! Purchase orders and their receipts into Concur (issue 14) on the real
//! stack: Acumatica's simulator as the source, the strict Concur
//! simulator's Purchase Order v3 and PO Receipt v3 as the target, the sync
//! state in moto's DynamoDB.

use domain::ReferenceSyncRequest;
use domain::SyncReason;
use domain::reference::ReferenceKind;
use integration::posting::{COMPANY, POSTER, PostingWorld, TENANT};
use rust_decimal::Decimal;
use simulators::acumatica::{PurchaseOrderLineSpec, PurchaseOrderSpec, PurchaseReceiptSpec, ReceiptLineSpec};

const ADDRESS: &str = "HQ|1 Main St|Minneapolis|MN|55426|US";

fn order(number: &str, vendor: &str, status: &str, lines: usize) -> PurchaseOrderSpec {
    PurchaseOrderSpec {
        order_type: "Normal".into(),
        number: number.into(),
        vendor: vendor.into(),
        description: Some(format!("Order {number}")),
        currency: "USD".into(),
        date: time::macros::date!(2026 - 11 - 02),
        status: status.into(),
        lines: (1..=lines)
            .map(|n| PurchaseOrderLineSpec {
                description: Some(format!("item {n}")),
                quantity: Decimal::from(n as i64 * 2),
                unit_cost: Decimal::new(1250, 2),
                uom: "EA".into(),
                account: "6100".into(),
            })
            .collect(),
    }
}

fn receipt(number: &str, vendor: &str, order: &str, line: i64, status: &str) -> PurchaseReceiptSpec {
    PurchaseReceiptSpec {
        receipt_type: "Receipt".into(),
        number: number.into(),
        vendor: vendor.into(),
        date: time::macros::date!(2026 - 11 - 20),
        status: status.into(),
        lines: vec![ReceiptLineSpec {
            order: Some(("Normal".into(), order.into(), line)),
            quantity: Decimal::from(2),
            uom: "EA".into(),
        }],
    }
}

/// One request as the schedule or the operator sends it; the written
/// counts of the purchase orders and the receipts.
async fn round(world: &PostingWorld) -> (u64, u64) {
    let poster = world.poster().await;
    let request =
        ReferenceSyncRequest::new(world.connection.clone(), SyncReason::Operator, time::OffsetDateTime::now_utc());
    erp_poster::DocumentPipeline::reference_sync(&poster, &request).await.unwrap();
    let store = world.stack.reference(POSTER);
    let mut written = [0, 0];
    for (slot, kind) in written.iter_mut().zip([ReferenceKind::PurchaseOrders, ReferenceKind::PoReceipts]) {
        let state = store.state(&world.connection, kind).await.unwrap();
        *slot = state.and_then(|s| s.last_run).map_or(0, |c| c.written);
    }
    (written[0], written[1])
}

fn concur_status(world: &PostingWorld, number: &str) -> Option<String> {
    let po = world.concur.purchase_order(COMPANY, number)?;
    po["Status"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn acumatica_purchase_orders_and_receipts_reach_concur_once_then_only_what_changed() {
    let world = PostingWorld::new("acme-po").await;
    let vendor = world.acumatica().vendors(TENANT)[0]["VendorID"]["value"].as_str().unwrap().to_owned();
    let sim = world.acumatica();
    for n in 1..=5 {
        sim.add_purchase_order(TENANT, &order(&format!("PO00{n}"), &vendor, "Open", 2));
    }
    sim.add_purchase_order(TENANT, &order("PO006", &vendor, "Completed", 1));
    sim.add_purchase_order(TENANT, &order("PO007", &vendor, "On Hold", 1));
    sim.add_vendor(TENANT, "V-NOT-IN-CONCUR", "Unsynced", "Inactive");
    sim.add_purchase_order(TENANT, &order("PO008", "V-NOT-IN-CONCUR", "Open", 1));
    sim.add_purchase_receipt(TENANT, &receipt("RC001", &vendor, "PO001", 1, "Released"));
    sim.add_purchase_receipt(TENANT, &receipt("RC002", &vendor, "PO002", 2, "Released"));

    // Not configured: no purchase order goes to Concur.
    round(&world).await;
    assert!(world.concur.purchase_orders(COMPANY).is_empty());
    let args = ["sync", "purchase-orders", "acme-po", "--policy", "PO", "--bill-to", ADDRESS, "--ship-to", ADDRESS];
    let set = integration::connector(world.stack.stack_name(), &args).await;
    assert_eq!(set.code, 0, "{}", set.all());
    assert!(set.out.contains("policy PO") && set.out.contains("ship to HQ: 1 Main St"), "{}", set.out);

    // The first run: every released order (the completed one closed), the
    // one on hold left out, the one on a vendor Concur lacks refused with
    // Concur's reason; both receipts.
    assert_eq!(round(&world).await, (6, 2));
    let numbers: Vec<String> = world
        .concur
        .purchase_orders(COMPANY)
        .iter()
        .map(|po| po["PurchaseOrderNumber"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers, ["PO001", "PO002", "PO003", "PO004", "PO005", "PO006"]);
    assert_eq!(concur_status(&world, "PO006").as_deref(), Some("Closed"));
    assert_eq!(concur_status(&world, "PO001").as_deref(), Some("Transmitted"));
    let line = &world.concur.purchase_order(COMPANY, "PO002").unwrap()["LineItem"][1];
    assert_eq!((line["ExternalID"].as_str(), line["Quantity"].as_str()), (Some("Normal-PO002-2"), Some("4")));
    let state = world.stack.reference(POSTER).state(&world.connection, ReferenceKind::PurchaseOrders).await.unwrap();
    let refused = state.unwrap().refused;
    assert!(refused.iter().any(|r| r.key == "PO008" && r.reason.contains("2000")), "{refused:?}");
    assert_eq!(world.concur.po_receipts(COMPANY).len(), 2);

    // Nothing changed: nothing written (the refused one is tried again and refused again).
    assert_eq!(round(&world).await, (0, 0));

    // Three orders completed and a receipt cancelled in the ERP: exactly those.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for number in ["PO003", "PO004", "PO005"] {
        assert!(sim.set_purchase_order_status(TENANT, "Normal", number, "Completed"));
    }
    assert!(sim.set_purchase_receipt_status(TENANT, "RC002", "Canceled"));
    assert_eq!(round(&world).await, (3, 0));
    for number in ["PO003", "PO004", "PO005"] {
        assert_eq!(concur_status(&world, number).as_deref(), Some("Closed"), "{number}");
    }
    let receipts = world.concur.po_receipts(COMPANY);
    assert_eq!(receipts.len(), 1, "the cancelled receipt is deleted: {receipts:?}");
    let state = world.stack.reference(POSTER).state(&world.connection, ReferenceKind::PoReceipts).await.unwrap();
    assert_eq!(state.unwrap().last_run.map(|c| c.deactivated), Some(1));
}

/// `connector sync purchase-orders ID …` with the one address for both.
async fn send_purchase_orders(world: &PostingWorld) {
    let id = world.connection.as_str();
    let args = ["sync", "purchase-orders", id, "--policy", "PO", "--bill-to", ADDRESS, "--ship-to", ADDRESS];
    let set = integration::connector(world.stack.stack_name(), &args).await;
    assert_eq!(set.code, 0, "{}", set.all());
}

fn numbers_in_concur(world: &PostingWorld) -> Vec<String> {
    let orders = world.concur.purchase_orders(COMPANY);
    orders.iter().map(|po| po["PurchaseOrderNumber"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn ifs_purchase_orders_and_receipts_of_the_company_reach_concur() {
    use simulators::ifs::PoLineSeed;

    let world = PostingWorld::with_erp("acme-ifs-po-sync", domain::ErpKind::IfsCloud).await;
    let ifs = world.ifs();
    ifs.add_supplier("S1000", "Contoso Ltd", &[integration::posting::IFS_COMPANY]);
    let line = |n: &str| {
        let mut line = PoLineSeed::new(n, &format!("item {n}"), Decimal::from(3), Decimal::new(4250, 2));
        (line.unit, line.account) = (Some("pcs".into()), Some("6100".into()));
        line
    };
    for (number, state) in [("PO-1001", "Released"), ("PO-1002", "Closed"), ("PO-1003", "Planned")] {
        ifs.add_purchase_order(
            integration::posting::IFS_COMPANY,
            number,
            "S1000",
            "USD",
            time::macros::date!(2026 - 11 - 02),
        );
        ifs.add_purchase_order_line(number, &line("1"));
        ifs.add_purchase_order_line(number, &line("2"));
        if state != "Planned" {
            ifs.set_purchase_order_state(number, state);
        }
    }
    ifs.add_purchase_receipt("PO-1001", "2", "1", 1, time::macros::date!(2026 - 11 - 20), Decimal::from(3));
    send_purchase_orders(&world).await;

    assert_eq!(round(&world).await, (2, 1));
    assert_eq!(numbers_in_concur(&world), ["PO-1001", "PO-1002"], "the planned order is left out");
    assert_eq!(concur_status(&world, "PO-1002").as_deref(), Some("Closed"));
    let line = &world.concur.purchase_order(COMPANY, "PO-1001").unwrap()["LineItem"][1];
    assert_eq!((line["ExternalID"].as_str(), line["AccountCode"].as_str()), (Some("2-1"), Some("6100")));
    let receipts = world.concur.po_receipts(COMPANY);
    assert_eq!(receipts[0].0, ("PO-1001".to_owned(), "2-1".to_owned(), "PO-1001-2-1-1".to_owned()));
    assert_eq!(round(&world).await, (0, 0));

    ifs.set_purchase_order_state("PO-1001", "Closed");
    assert_eq!(round(&world).await, (1, 0));
    assert_eq!(concur_status(&world, "PO-1001").as_deref(), Some("Closed"));
}

#[tokio::test]
async fn infor_purchase_orders_and_receipts_of_the_entity_reach_concur() {
    use integration::posting::{INFOR_ENTITY, INFOR_TENANT};
    use simulators::infor::{M3PoLine, M3PurchaseOrder, M3Receipt};

    let world = PostingWorld::with_erp("acme-infor-po-sync", domain::ErpKind::Infor).await;
    let infor = world.infor();
    infor.add_supplier_named(INFOR_TENANT, INFOR_ENTITY, "S1000", "Contoso Ltd");
    let line = |n: u32, status: u16| M3PoLine {
        line: n,
        subline: 0,
        item: format!("ITEM{n}"),
        description: format!("item {n}"),
        quantity: Decimal::from(5),
        unit: "PCS".into(),
        price: Decimal::new(1999, 2),
        account: Some("6100".into()),
        status,
    };
    for (number, status) in [("4000001", 20), ("4000002", 85), ("4000003", 15)] {
        let order = M3PurchaseOrder {
            number: number.into(),
            supplier: "S1000".into(),
            currency: "USD".into(),
            order_date: time::macros::date!(2026 - 11 - 02),
            status,
            lines: vec![line(10, status), line(20, status)],
        };
        infor.add_purchase_order(INFOR_TENANT, INFOR_ENTITY, order);
    }
    let receipt = M3Receipt {
        order: "4000001".into(),
        line: 10,
        subline: 0,
        receiving_number: "9000001".into(),
        date: time::macros::date!(2026 - 11 - 20),
        quantity: Decimal::from(5),
        unit: "PCS".into(),
    };
    infor.add_purchase_receipt(INFOR_TENANT, INFOR_ENTITY, receipt);
    send_purchase_orders(&world).await;

    assert_eq!(round(&world).await, (2, 1));
    assert_eq!(numbers_in_concur(&world), ["4000001", "4000002"], "the preliminary order is left out");
    assert_eq!(concur_status(&world, "4000002").as_deref(), Some("Closed"));
    assert_eq!(world.concur.po_receipts(COMPANY).len(), 1);
    assert_eq!(round(&world).await, (0, 0));
}
