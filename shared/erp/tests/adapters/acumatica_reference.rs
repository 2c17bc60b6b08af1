//! Purchase orders and their goods receipts read out of the Acumatica
//! simulator for Concur, over HTTP: which orders and receipts count, their
//! exact values, paging, and changed-since reads; and projects → tasks as
//! a two-level list.

use crate::acumatica_support;

use std::collections::BTreeMap;
use std::str::FromStr;

use acumatica_support::{client, site};
use domain::reference::{ListSource, PoReceiptRecord, PurchaseOrderRecord, ReadPage};
use erp::acumatica::AcumaticaClient;
use erp::{ErpAdapter, ListItemsRead};
use rust_decimal::Decimal;
use simulators::acumatica::{
    AcumaticaSim, PurchaseOrderLineSpec, PurchaseOrderSpec, PurchaseReceiptSpec, ReceiptLineSpec,
};
use time::macros::date;
use time::{Duration, OffsetDateTime};

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn line(description: Option<&str>, quantity: &str, unit_cost: &str, account: &str) -> PurchaseOrderLineSpec {
    PurchaseOrderLineSpec {
        description: description.map(str::to_owned),
        quantity: dec(quantity),
        unit_cost: dec(unit_cost),
        uom: "EA".into(),
        account: account.into(),
    }
}

fn order(order_type: &str, number: &str, status: &str) -> PurchaseOrderSpec {
    PurchaseOrderSpec {
        order_type: order_type.into(),
        number: number.into(),
        vendor: "V000123".into(),
        description: Some(format!("Order {number}")),
        currency: "USD".into(),
        date: date!(2024 - 03 - 15),
        status: status.into(),
        lines: vec![line(Some("Hotel block"), "1", "100.00", "60100")],
    }
}

fn receipt(number: &str, status: &str, lines: Vec<ReceiptLineSpec>) -> PurchaseReceiptSpec {
    PurchaseReceiptSpec {
        receipt_type: "Receipt".into(),
        number: number.into(),
        vendor: "V000123".into(),
        date: date!(2024 - 03 - 20),
        status: status.into(),
        lines,
    }
}

fn received(order: &str, order_line: i64, quantity: &str) -> ReceiptLineSpec {
    ReceiptLineSpec {
        order: Some(("Normal".into(), order.into(), order_line)),
        quantity: dec(quantity),
        uom: "EA".into(),
    }
}

fn page(skip: usize, top: usize, changed_after: Option<OffsetDateTime>) -> ReadPage {
    ReadPage { changed_after, skip, top }
}

async fn orders(client: &AcumaticaClient, page: ReadPage) -> Vec<PurchaseOrderRecord> {
    ErpAdapter::read_purchase_orders(client, page).await.unwrap().expect("Acumatica reads purchase orders")
}

async fn receipts(client: &AcumaticaClient, page: ReadPage) -> Vec<PoReceiptRecord> {
    ErpAdapter::read_po_receipts(client, page).await.unwrap().expect("Acumatica reads purchase receipts")
}

/// Number → closed, of the orders read.
fn states(read: &[PurchaseOrderRecord]) -> Vec<(&str, bool)> {
    read.iter().map(|o| (o.number.as_str(), o.closed)).collect()
}

/// The query options of the GETs of `entity` the simulator saw.
fn list_calls(sim: &AcumaticaSim, entity: &str) -> Vec<BTreeMap<String, String>> {
    let suffix = format!("/{entity}");
    sim.faults()
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&suffix))
        .map(|r| {
            let url = reqwest::Url::parse(&format!("http://sim/?{}", r.query.as_deref().unwrap_or(""))).unwrap();
            url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
        })
        .collect()
}

#[tokio::test]
async fn a_full_read_returns_exactly_the_released_orders_with_their_lines_and_exact_values() {
    let (sim, running) = site().await;
    let mut open = order("Normal", "PO000001", "Open");
    open.lines = vec![line(Some("Laptops, 14 inch"), "2.5", "1234.5678", "60100"), line(None, "3", "0.10", "60200")];
    sim.add_purchase_order("Acme", &open);
    sim.add_purchase_order(
        "Acme",
        &PurchaseOrderSpec { description: None, ..order("Normal", "PO000002", "Completed") },
    );
    for (number, status) in
        [("PO000003", "On Hold"), ("PO000004", "Pending Approval"), ("PO000005", "Canceled"), ("PO000006", "Closed")]
    {
        sim.add_purchase_order("Acme", &order("Normal", number, status));
    }
    sim.add_purchase_order("Acme", &order("Drop Ship", "PO000007", "Open"));
    // A blanket agreement numbered like a normal order: not read.
    sim.add_purchase_order("Acme", &order("Blanket", "PO000001", "Open"));
    let client = client(&running.base_url());

    let read = orders(&client, page(0, 100, None)).await;
    assert_eq!(
        states(&read),
        [("PO000007", false), ("PO000001", false), ("PO000002", true), ("PO000005", true), ("PO000006", true)]
    );
    let po1 = read.iter().find(|o| o.number == "PO000001").unwrap();
    assert_eq!((po1.name.as_str(), po1.vendor_code.as_str()), ("Order PO000001", "V000123"));
    assert_eq!((po1.vendor_address_code.as_str(), po1.currency_code.as_str()), ("MAIN", "USD"));
    assert_eq!(po1.order_date, date!(2024 - 03 - 15));
    let lines: Vec<_> = po1
        .lines
        .iter()
        .map(|l| (l.line_number.as_str(), l.external_id.as_str(), l.description.as_deref(), l.quantity, l.unit_price))
        .collect();
    assert_eq!(
        lines,
        [
            ("1", "Normal-PO000001-1", Some("Laptops, 14 inch"), dec("2.5"), dec("1234.5678")),
            // Not "Local transport": that is the account's description.
            ("2", "Normal-PO000001-2", None, dec("3"), dec("0.10")),
        ]
    );
    assert_eq!(po1.lines[1].account_code.as_deref(), Some("60200"));
    assert_eq!(po1.lines[1].unit_of_measure.as_deref(), Some("EA"));
    let unnamed = read.iter().find(|o| o.number == "PO000002").unwrap();
    assert_eq!(unnamed.name, "PO000002", "an order without a description is named by its number");
    assert_eq!(read.iter().find(|o| o.number == "PO000007").unwrap().lines[0].external_id, "Drop Ship-PO000007-1");

    let call = &list_calls(&sim, "PurchaseOrder")[0];
    assert!(call["$select"].contains("Details/LineDescription"), "{call:?}");
    assert_eq!(call["$expand"], "Details");
    assert!(!call["$filter"].contains("LastModifiedDateTime"), "a full read has no time window: {call:?}");
}

#[tokio::test]
async fn orders_are_read_in_pages_that_a_left_out_order_does_not_shorten() {
    let (sim, running) = site().await;
    for n in 1..=7 {
        let status = if n % 3 == 0 { "On Hold" } else { "Open" };
        sim.add_purchase_order("Acme", &order("Normal", &format!("PO{n:06}"), status));
    }
    let client = client(&running.base_url());

    let mut numbers = Vec::new();
    let mut sizes = Vec::new();
    let mut skip = 0;
    loop {
        let read = orders(&client, page(skip, 2, None)).await;
        sizes.push(read.len());
        skip += read.len();
        numbers.extend(read.into_iter().map(|o| o.number));
        if sizes.last() < Some(&2) {
            break;
        }
    }
    assert_eq!(numbers, ["PO000001", "PO000002", "PO000004", "PO000005", "PO000007"]);
    assert_eq!(sizes, [2, 2, 1], "orders on hold are filtered by Acumatica, so only the last page is short");
    let pages: Vec<(String, String)> =
        list_calls(&sim, "PurchaseOrder").iter().map(|q| (q["$top"].clone(), q["$skip"].clone())).collect();
    assert_eq!(pages, [("2".into(), "0".into()), ("2".into(), "2".into()), ("2".into(), "4".into())]);
}

#[tokio::test]
async fn a_changed_since_read_returns_only_the_orders_changed_after_the_time() {
    let (sim, running) = site().await;
    for (number, status) in [("PO000001", "Open"), ("PO000002", "Open"), ("PO000003", "Pending Approval")] {
        sim.add_purchase_order("Acme", &order("Normal", number, status));
    }
    sim.backdate_purchasing("Acme", OffsetDateTime::now_utc() - Duration::hours(2));
    let cursor = OffsetDateTime::now_utc() - Duration::hours(1);
    assert!(sim.set_purchase_order_status("Acme", "Normal", "PO000002", "Completed"));
    assert!(sim.set_purchase_order_status("Acme", "Normal", "PO000003", "Open"));
    sim.add_purchase_order("Acme", &order("Normal", "PO000004", "On Hold"));
    let client = client(&running.base_url());

    let changed = orders(&client, page(0, 100, Some(cursor))).await;
    assert_eq!(states(&changed), [("PO000002", true), ("PO000003", false)], "approved and completed; not on hold");
    let call = list_calls(&sim, "PurchaseOrder").pop().unwrap();
    assert!(call["$filter"].contains("LastModifiedDateTime gt datetimeoffset'"), "{call:?}");
}

#[tokio::test]
async fn an_order_on_hold_is_left_out_until_released_and_is_closed_once_completed() {
    let (sim, running) = site().await;
    sim.add_purchase_order("Acme", &order("Normal", "PO000001", "On Hold"));
    let client = client(&running.base_url());
    assert!(orders(&client, page(0, 100, None)).await.is_empty());

    assert!(sim.set_purchase_order_status("Acme", "Normal", "PO000001", "Pending Approval"));
    assert!(orders(&client, page(0, 100, None)).await.is_empty());
    assert!(sim.set_purchase_order_status("Acme", "Normal", "PO000001", "Open"));
    assert_eq!(states(&orders(&client, page(0, 100, None)).await), [("PO000001", false)]);
    assert!(sim.set_purchase_order_status("Acme", "Normal", "PO000001", "Completed"));
    assert_eq!(states(&orders(&client, page(0, 100, None)).await), [("PO000001", true)]);
}

/// Seeds order PO000001 (Open, two lines) for receipts to name.
fn seed_order(sim: &AcumaticaSim) {
    let mut open = order("Normal", "PO000001", "Open");
    open.lines = vec![line(Some("Laptops"), "10", "900", "60100"), line(Some("Docks"), "10", "150", "60100")];
    sim.add_purchase_order("Acme", &open);
}

#[tokio::test]
async fn released_receipts_are_read_with_the_order_lines_external_id_and_others_are_not() {
    let (sim, running) = site().await;
    seed_order(&sim);
    sim.add_purchase_receipt(
        "Acme",
        &receipt("RC000001", "Released", vec![received("PO000001", 1, "4.25"), received("PO000001", 2, "10")]),
    );
    sim.add_purchase_receipt("Acme", &receipt("RC000002", "Balanced", vec![received("PO000001", 1, "1")]));
    sim.add_purchase_receipt("Acme", &receipt("RC000003", "On Hold", vec![received("PO000001", 1, "1")]));
    let returned = PurchaseReceiptSpec { receipt_type: "Return".into(), ..receipt("RT000001", "Released", vec![]) };
    sim.add_purchase_receipt("Acme", &returned);
    let client = client(&running.base_url());

    let read = receipts(&client, page(0, 100, None)).await;
    let order_ids: Vec<String> =
        orders(&client, page(0, 100, None)).await[0].lines.iter().map(|l| l.external_id.clone()).collect();
    let expected = |id: &str, quantity: &str| PoReceiptRecord {
        po_number: "PO000001".into(),
        line_external_id: id.into(),
        receipt_number: "RC000001".into(),
        received_date: date!(2024 - 03 - 20),
        quantity: dec(quantity),
        unit_of_measure: Some("EA".into()),
        active: true,
    };
    assert_eq!(read, [expected(&order_ids[0], "4.25"), expected(&order_ids[1], "10")]);
    let call = &list_calls(&sim, "PurchaseReceipt")[0];
    assert_eq!(call["$expand"], "Details");
    assert!(call["$filter"].contains("Type eq 'Receipt'"), "{call:?}");
}

#[tokio::test]
async fn a_receipt_is_read_once_released_and_comes_back_inactive_once_cancelled() {
    let (sim, running) = site().await;
    seed_order(&sim);
    sim.add_purchase_receipt("Acme", &receipt("RC000001", "Balanced", vec![received("PO000001", 1, "2")]));
    sim.add_purchase_receipt("Acme", &receipt("RC000002", "Released", vec![received("PO000001", 2, "1")]));
    sim.backdate_purchasing("Acme", OffsetDateTime::now_utc() - Duration::hours(2));
    let cursor = OffsetDateTime::now_utc() - Duration::hours(1);
    let client = client(&running.base_url());
    let read = |changed_after| {
        let client = &client;
        async move {
            let records = receipts(client, page(0, 100, changed_after)).await;
            records.into_iter().map(|r| (r.receipt_number, r.active)).collect::<Vec<_>>()
        }
    };
    assert!(read(Some(cursor)).await.is_empty(), "nothing changed after the cursor");

    assert!(sim.set_purchase_receipt_status("Acme", "RC000001", "Released"));
    assert_eq!(read(Some(cursor)).await, [("RC000001".to_owned(), true)]);
    assert!(sim.set_purchase_receipt_status("Acme", "RC000002", "Canceled"));
    assert_eq!(read(Some(cursor)).await, [("RC000001".to_owned(), true), ("RC000002".to_owned(), false)]);
}

#[tokio::test]
async fn the_first_receipt_page_reads_every_receipt_top_at_a_time_and_a_later_page_is_empty() {
    let (sim, running) = site().await;
    seed_order(&sim);
    for n in 1..=5 {
        let lines = vec![received("PO000001", 1, "1"), received("PO000001", 2, "2")];
        sim.add_purchase_receipt("Acme", &receipt(&format!("RC{n:06}"), "Released", lines));
    }
    let client = client(&running.base_url());

    let read = receipts(&client, page(0, 2, None)).await;
    assert_eq!(read.len(), 10, "two order lines on each of five receipts");
    let pages: Vec<(String, String)> =
        list_calls(&sim, "PurchaseReceipt").iter().map(|q| (q["$top"].clone(), q["$skip"].clone())).collect();
    assert_eq!(pages, [("2".into(), "0".into()), ("2".into(), "2".into()), ("2".into(), "4".into())]);
    assert!(receipts(&client, page(10, 2, None)).await.is_empty());
    assert_eq!(list_calls(&sim, "PurchaseReceipt").len(), 3, "a later page asks Acumatica nothing");
}

/// The items of a `projects` read: path → (text, active).
async fn project_items(client: &AcumaticaClient) -> BTreeMap<String, (String, bool)> {
    let read = ErpAdapter::read_list_items(client, &ListSource::Projects, "Projects").await.unwrap();
    let ListItemsRead::Items(items) = read else { panic!("Acumatica offers projects: {read:?}") };
    assert!(items.iter().all(|i| i.list == "Projects"));
    items.into_iter().map(|i| (i.path.join("/"), (i.value, i.active))).collect()
}

#[tokio::test]
async fn projects_and_their_tasks_are_read_as_a_two_level_list_in_flat_pages() {
    let (sim, running) = site().await;
    sim.add_project("Acme", "PRJ01", "Office fit-out", "Active");
    sim.add_project("Acme", "PRJ02", "Trade fair", "Active");
    for n in 0..501 {
        sim.add_project_task("Acme", "PRJ01", &format!("T{n:03}"), &format!("Phase {n}"), "Active");
    }
    sim.add_project_task("Acme", "PRJ02", "BOOTH", "Booth", "In Planning");
    let client = client(&running.base_url());

    let items = project_items(&client).await;
    assert_eq!(items.len(), 2 + 502, "every project and task, across the page boundary");
    assert_eq!(items["PRJ01"], ("Office fit-out".into(), true));
    assert_eq!(items["PRJ01/T500"], ("Phase 500".into(), true));
    assert_eq!(items["PRJ02/BOOTH"], ("Booth".into(), false), "a task in planning takes no costs yet");

    let projects = list_calls(&sim, "Project");
    assert_eq!(projects.len(), 1, "{projects:?}");
    assert_eq!(projects[0]["$select"], "ProjectID,Description,Status");
    let tasks = list_calls(&sim, "ProjectTask");
    assert_eq!(
        tasks.iter().map(|c| (c["$top"].as_str(), c["$skip"].as_str())).collect::<Vec<_>>(),
        [("500", "0"), ("500", "500")]
    );
    assert_eq!(tasks[0]["$select"], "ProjectID,ProjectTaskID,Description,Status");

    // Completing the project takes it and every task out.
    assert!(sim.set_project_status("Acme", "PRJ02", "Completed"));
    assert!(sim.set_project_task_status("Acme", "PRJ02", "BOOTH", "Active"));
    let items = project_items(&client).await;
    assert_eq!((items["PRJ02"].1, items["PRJ02/BOOTH"].1), (false, false));
}
