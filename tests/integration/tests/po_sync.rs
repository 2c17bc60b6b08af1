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
