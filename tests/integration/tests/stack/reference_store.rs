//! The reference sync state on moto's DynamoDB (the template's table): one
//! run of a sync at a time, a cut-off run keeps its cursor, and the content
//! hashes written come back by key or all at once.

use std::collections::HashMap;
use std::time::Duration;

use domain::ConnectionId;
use domain::reference::{
    KnownRecord, ReadScope, ReferenceKind, Refusal, SyncRecord, VendorLimits, VendorRecord, plan_sync,
};
use integration::TestStack;
use platform::reference::{RunCounts, SyncState};
use time::OffsetDateTime;

const POSTER: &str = "ErpPosterFunction";

fn vendor(code: &str, name: &str) -> VendorRecord {
    VendorRecord {
        vendor_code: code.into(),
        address_code: "MAIN".into(),
        name: name.into(),
        address1: None,
        address2: None,
        city: None,
        state: None,
        postal_code: None,
        country_code: Some("US".into()),
        currency_code: Some("USD".into()),
        tax_id: None,
        active: true,
        limits: VendorLimits::default(),
    }
}

#[tokio::test]
async fn one_run_at_a_time_and_a_cut_off_run_keeps_its_cursor() {
    let stack = TestStack::new().await;
    let store = stack.reference(POSTER);
    let acme = ConnectionId::parse("acme").unwrap();
    let now = OffsetDateTime::now_utc();
    assert_eq!(store.state(&acme, ReferenceKind::Vendors).await.unwrap(), None, "never run");

    let first = store.lease(&acme, ReferenceKind::Vendors, "run-1", Duration::from_secs(60), now).await.unwrap();
    assert_eq!(first.state, SyncState::default());
    let second = store.lease(&acme, ReferenceKind::Vendors, "run-2", Duration::from_secs(60), now).await;
    assert!(second.unwrap_err().conflict, "a second run waits for the first");
    // Another kind of the same connection is another sync.
    store.lease(&acme, ReferenceKind::Lists, "run-3", Duration::from_secs(60), now).await.unwrap();

    let finished = SyncState {
        cursor: Some("2026-12-06T10:00:00Z".into()),
        last_run_at: Some("2026-12-06T10:00:00Z".into()),
        last_full_run_at: Some("2026-12-06T10:00:00Z".into()),
        last_run: Some(RunCounts { read: 3, written: 2, unchanged: 1, ..RunCounts::default() }),
        last_error: None,
        refused: vec![Refusal { key: "V9".into(), reason: "VendorName is missing".into() }],
        last_dry_run: None,
    };
    store.finish(&acme, ReferenceKind::Vendors, "run-1", &finished).await.unwrap();
    assert_eq!(store.state(&acme, ReferenceKind::Vendors).await.unwrap(), Some(finished.clone()));

    // A run that is cut off (its lease lapses) keeps the cursor of the last
    // finished one; the next run takes over, and the cut-off one cannot
    // write over it when it wakes up.
    let later = now + Duration::from_secs(120);
    store.lease(&acme, ReferenceKind::Vendors, "run-4", Duration::from_secs(60), now).await.unwrap();
    let takeover = store.lease(&acme, ReferenceKind::Vendors, "run-5", Duration::from_secs(60), later).await.unwrap();
    assert_eq!(takeover.state.cursor, finished.cursor);
    let stale = store.finish(&acme, ReferenceKind::Vendors, "run-4", &SyncState::default()).await;
    assert!(stale.unwrap_err().conflict);
    assert_eq!(store.state(&acme, ReferenceKind::Vendors).await.unwrap().unwrap().cursor, finished.cursor);
}

#[tokio::test]
async fn the_hashes_written_come_back_and_make_the_next_plan_write_only_what_changed() {
    let stack = TestStack::new().await;
    let store = stack.reference(POSTER);
    let acme = ConnectionId::parse("acme").unwrap();
    // Enough records for several BatchGetItem calls and Query pages.
    let vendors: Vec<VendorRecord> = (0..250).map(|n| vendor(&format!("V{n:04}"), &format!("Vendor {n}"))).collect();
    let plan = plan_sync(vendors.clone(), &HashMap::new(), ReadScope::Everything);
    assert_eq!(plan.write.len(), 250);
    for record in &plan.write {
        let known = KnownRecord {
            hash: record.content_hash(),
            active: true,
            rank: record.rank(),
            target_id: None,
            state: None,
        };
        store.remember(&acme, ReferenceKind::Vendors, &record.key(), &known).await.unwrap();
    }

    let all = store.known_all(&acme, ReferenceKind::Vendors).await.unwrap();
    assert_eq!(all.len(), 250);
    // Nothing changed: nothing to write.
    assert_eq!(plan_sync(vendors.clone(), &all, ReadScope::Everything).write.len(), 0);

    // Three changed in the ERP: a changed-since read brings only those, and
    // the known records are read by key.
    let mut changed: Vec<VendorRecord> = vendors[10..13].to_vec();
    for record in &mut changed {
        record.name.push_str(" Ltd");
    }
    let keys: Vec<String> = changed.iter().map(SyncRecord::key).collect();
    let known = store.known(&acme, ReferenceKind::Vendors, &keys).await.unwrap();
    assert_eq!(known.len(), 3);
    let plan = plan_sync(changed.clone(), &known, ReadScope::Changed);
    assert_eq!(plan.write, changed);

    // Keys never written are simply absent; another connection sees none.
    let other = ConnectionId::parse("globex").unwrap();
    assert!(store.known(&other, ReferenceKind::Vendors, &keys).await.unwrap().is_empty());
    assert!(store.known_all(&acme, ReferenceKind::Lists).await.unwrap().is_empty());
}
