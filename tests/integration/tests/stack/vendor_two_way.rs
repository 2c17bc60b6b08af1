//! Vendors from Concur into the ERP (issue 14, point 4) on the real stack:
//! the strict Concur simulator's Vendor v3, each ERP's simulator, the sync
//! state in moto's DynamoDB. A vendor created in Concur reaches the ERP
//! once, even when two runs race; with vendors flowing both ways each field
//! has one owner, and no change bounces back.

use std::collections::BTreeMap;

use domain::reference::{KnownRecord, ReadPage, ReferenceKind, VendorLimits, VendorRecord, vendor_key};
use domain::{Connection, ErpKind, ReferenceSyncRequest, SyncReason};
use erp_poster::reference_sync::{SyncMode, SyncOutcome};
use integration::posting::{COMPANY, POSTER, PostingWorld, TENANT};
use serde_json::json;

const FULL: SyncMode = SyncMode { everything: true, dry_run: false };

async fn connection(world: &PostingWorld) -> Connection {
    world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap()
}

/// `connector sync vendors ID ARGS…`, which must succeed.
async fn set_vendors(world: &PostingWorld, args: &[&str]) -> String {
    let mut all = vec!["sync", "vendors", world.connection.as_str()];
    all.extend_from_slice(args);
    let answer = integration::connector(world.stack.stack_name(), &all).await;
    assert_eq!(answer.code, 0, "{}", answer.all());
    answer.out
}

/// The ERP's vendors as its own read gives them (the codes line up both ways).
async fn in_erp(world: &PostingWorld) -> BTreeMap<String, VendorRecord> {
    let poster = world.poster().await;
    let erp = poster.erp.for_connection(&connection(world).await).await.unwrap();
    let page = ReadPage { changed_after: None, skip: 0, top: 5000 };
    let vendors = erp.read_vendors(page, VendorLimits::default()).await.unwrap().expect("the ERP reads vendors");
    vendors.into_iter().map(|v| (v.vendor_code.clone(), v)).collect()
}

/// Concur's vendor `code`/MAIN field `field`.
fn concur_field(world: &PostingWorld, code: &str, field: &str) -> Option<String> {
    world.concur.vendor(COMPANY, code, "MAIN")?.field(field).map(str::to_owned)
}

/// Records written by the last run of `kind`.
async fn written(world: &PostingWorld, kind: ReferenceKind) -> u64 {
    let state = world.stack.reference(POSTER).state(&world.connection, kind).await.unwrap();
    state.and_then(|s| s.last_run).map_or(0, |c| c.written)
}

async fn created_events(world: &PostingWorld, code: &str) -> usize {
    let subject = format!("{}#vendor#{code}", world.connection);
    let events = world.stack.audit(POSTER).history(&subject).await.unwrap();
    events.iter().filter(|e| e.detail.as_deref() == Some("created in the ERP from Concur")).count()
}

async fn created_in_concur_reaches_the_erp_once(kind: ErpKind, id: &str) {
    let world = PostingWorld::with_erp(id, kind).await;
    let out = set_vendors(&world, &["--direction", "concur_to_erp"]).await;
    assert!(out.contains("vendors concur_to_erp") && out.contains("name      owned by concur"), "{out}");
    let vendor = json!({"VendorCode": "V-NEW", "AddressCode": "MAIN", "VendorName": "Northwind Traders",
        "Address1": "1 Pike St", "City": "Seattle", "State": "WA", "PostalCode": "98101", "CountryCode": "US",
        "CurrencyCode": "USD"});
    world.concur.add_vendor(COMPANY, vendor).unwrap();
    world
        .concur
        .add_vendor(COMPANY, json!({"VendorCode": "V-NEW", "AddressCode": "REMIT2", "VendorName": "N"}))
        .unwrap();
    let connection = connection(&world).await;
    let (one, two) = (world.poster().await, world.poster().await);
    let (a, b) = tokio::join!(
        one.sync_kind(&connection, ReferenceKind::VendorsToErp, FULL),
        two.sync_kind(&connection, ReferenceKind::VendorsToErp, FULL)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    assert!(outcomes.iter().any(|o| matches!(o, SyncOutcome::Done(c) if c.written >= 1)), "{outcomes:?}");

    let erp = in_erp(&world).await;
    let created = erp.get("V-NEW").expect("the vendor reached the ERP");
    assert_eq!((created.name.as_str(), created.city.as_deref()), ("Northwind Traders", Some("Seattle")));
    assert_eq!(created_events(&world, "V-NEW").await, 1, "created once, audited");
    let state = world.stack.reference(POSTER).state(&world.connection, ReferenceKind::VendorsToErp).await.unwrap();
    let refused = state.unwrap().refused;
    assert!(refused.iter().any(|r| r.key == vendor_key("V-NEW", "REMIT2") && r.reason.contains("MAIN")), "{refused:?}");

    // A run cut off after the ERP took the vendor and before its hash was
    // stored: the next run writes it again, and the ERP still has one.
    let stale = KnownRecord {
        hash: domain::reference::ContentHash::from_stored("0".repeat(64)),
        active: true,
        rank: 0,
        target_id: None,
        state: None,
    };
    let store = world.stack.reference(POSTER);
    store.remember(&world.connection, ReferenceKind::VendorsToErp, &vendor_key("V-NEW", "MAIN"), &stale).await.unwrap();
    let again = one.sync_kind(&connection, ReferenceKind::VendorsToErp, FULL).await.unwrap();
    // The ERP finds nothing to change: counted unchanged, not written.
    assert!(matches!(&again, SyncOutcome::Done(c) if (c.written, c.unchanged) == (0, 1)), "{again:?}");
    let count = in_erp(&world).await.keys().filter(|code| *code == "V-NEW").count();
    assert_eq!((count, created_events(&world, "V-NEW").await), (1, 1), "still one vendor, created once");

    // One way from Concur: the ERP's vendors do not go to Concur.
    let other = one.sync_kind(&connection, ReferenceKind::Vendors, FULL).await.unwrap();
    assert_eq!(other, SyncOutcome::NotSupported);
}

#[tokio::test]
async fn acumatica_a_vendor_created_in_concur_reaches_the_erp_once_even_when_two_runs_race() {
    created_in_concur_reaches_the_erp_once(ErpKind::Acumatica, "acme-from-concur").await;
}

/// One request as the schedule or the operator sends it: both directions.
async fn round(world: &PostingWorld) -> (u64, u64) {
    let poster = world.poster().await;
    let request =
        ReferenceSyncRequest::new(world.connection.clone(), SyncReason::Operator, time::OffsetDateTime::now_utc());
    erp_poster::DocumentPipeline::reference_sync(&poster, &request).await.unwrap();
    (written(world, ReferenceKind::Vendors).await, written(world, ReferenceKind::VendorsToErp).await)
}

#[tokio::test]
async fn with_vendors_both_ways_each_field_follows_its_owner_and_no_change_bounces_back() {
    let world = PostingWorld::new("acme-both-ways").await;
    let out = set_vendors(&world, &["--direction", "both", "--owner", "address=concur"]).await;
    assert!(out.contains("address   owned by concur") && out.contains("name      owned by erp"), "{out}");
    let contoso = json!({"VendorCode": "V-CONTOSO", "AddressCode": "MAIN", "VendorName": "Contoso",
        "City": "Redmond", "CountryCode": "US"});
    world.concur.add_vendor(COMPANY, contoso).unwrap();
    let erp_vendors = in_erp(&world).await.len();

    // First round: the ERP's vendors into Concur, Concur's own one into the
    // ERP (the ERP's own vendors come back from Concur equal: unchanged).
    assert_eq!(round(&world).await, (erp_vendors as u64, 1));
    assert_eq!(in_erp(&world).await["V-CONTOSO"].city.as_deref(), Some("Redmond"));
    // Settled: nothing to write either way, not even the vendor the ERP just got.
    let concur_writes = || world.concur.reference_writes(COMPANY).len();
    let before = concur_writes();
    assert_eq!(round(&world).await, (0, 0));

    // The ERP owns the name: its rename reaches Concur, and nothing comes back.
    let code = in_erp(&world).await.keys().find(|c| *c != "V-CONTOSO").cloned().unwrap();
    assert!(world.acumatica().update_vendor(TENANT, &code, "Renamed in the ERP", "Active"));
    assert_eq!(round(&world).await, (1, 0));
    assert_eq!(concur_field(&world, &code, "VendorName").as_deref(), Some("Renamed in the ERP"));

    // Concur owns the address: an admin's edit reaches the ERP, and nothing comes back.
    world.concur.update_vendor(COMPANY, json!({"VendorCode": code, "AddressCode": "MAIN", "City": "Tacoma"})).unwrap();
    assert_eq!(round(&world).await, (0, 1));
    assert_eq!(in_erp(&world).await[&code].city.as_deref(), Some("Tacoma"));
    assert_eq!(in_erp(&world).await[&code].name, "Renamed in the ERP", "the ERP's own field is untouched");

    // An edit in Concur of a field the ERP owns is not carried to the ERP.
    world.concur.update_vendor(COMPANY, json!({"VendorCode": code, "AddressCode": "MAIN", "VendorName": "X"})).unwrap();
    assert_eq!(round(&world).await, (0, 0));
    assert_eq!(in_erp(&world).await[&code].name, "Renamed in the ERP");

    // And it stays settled: no loop.
    for _ in 0..2 {
        assert_eq!(round(&world).await, (0, 0));
    }
    assert_eq!(concur_writes(), before + 1, "one write into Concur since it settled: the ERP's rename");
}

#[tokio::test]
async fn ifs_a_vendor_created_in_concur_reaches_the_erp_once_even_when_two_runs_race() {
    created_in_concur_reaches_the_erp_once(ErpKind::IfsCloud, "acme-ifs-from-concur").await;
}

#[tokio::test]
async fn infor_a_vendor_created_in_concur_reaches_the_erp_once_even_when_two_runs_race() {
    created_in_concur_reaches_the_erp_once(ErpKind::Infor, "acme-infor-from-concur").await;
}
