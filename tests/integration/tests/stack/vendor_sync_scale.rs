//! The vendor sync at scale (issue 14): a first sync of many Acumatica
//! vendors into Concur, then a second after 1 % of them changed, through
//! the real poster on moto and the simulators. It prints records per
//! second and Concur and ERP calls per record, next to a
//! reference measured in the same run: the same vendors written straight
//! to Concur with the client (no ERP read, no state). Only the results are
//! asserted, never the times.
//!
//! CI size by default (`SYNC_VENDORS`, 300); the figure in
//! docs/performance.md is `SYNC_VENDORS=10000 tests/run -- -E
//! 'test(vendor_sync_at_scale)' --no-capture`.

use std::time::Instant;

use concur::WriteVerb;
use domain::reference::{VendorLimits, VendorRecord};
use erp_poster::reference_sync::SyncOutcome;
use integration::posting::{COMPANY, POSTER, PostingWorld, TENANT};
use platform::reference::RunCounts;

fn vendors_wanted() -> usize {
    std::env::var("SYNC_VENDORS").ok().and_then(|n| n.parse().ok()).unwrap_or(300)
}

fn counts(outcome: SyncOutcome) -> RunCounts {
    match outcome {
        SyncOutcome::Done(counts) => counts,
        other => panic!("the sync ran: {other:?}"),
    }
}

/// Calls each simulator served so far: (Concur, Acumatica).
fn calls(world: &PostingWorld) -> (usize, usize) {
    (world.concur.faults().requests().len(), world.acumatica().faults().requests().len())
}

fn print_run(what: &str, records: usize, seconds: f64, (concur, erp): (usize, usize)) {
    let per = |n: usize| n as f64 / records.max(1) as f64;
    println!(
        "vendor sync {what}: {records} records in {seconds:.1} s = {:.0} records/s; {:.3} Concur calls, {:.4} ERP \
         calls per record",
        records as f64 / seconds.max(1e-9),
        per(concur),
        per(erp),
    );
}

#[tokio::test]
async fn vendor_sync_at_scale_first_sync_then_one_percent_changed() {
    let n = vendors_wanted();
    let world = PostingWorld::new("acme-sync-scale").await;
    let acumatica = world.acumatica();
    for i in 0..n {
        acumatica.add_vendor(TENANT, &format!("S{i:06}"), &format!("Supplier {i}"), "Active");
    }
    // Vendors that have not changed for a day: a changed-since read skips them.
    acumatica.backdate_vendors(TENANT, time::OffsetDateTime::now_utc() - time::Duration::days(1));
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let in_erp = acumatica.vendors(TENANT).into_iter().filter(|v| v["Status"]["value"] == "Active").count();

    // The first sync: every vendor read and written.
    let (concur0, erp0) = calls(&world);
    let started = Instant::now();
    let first = counts(poster.sync_vendors(&connection, false).await.unwrap());
    let first_seconds = started.elapsed().as_secs_f64();
    let (concur1, erp1) = calls(&world);
    assert_eq!(first.written as usize, in_erp, "{first:?}");
    assert_eq!(world.concur.vendors(COMPANY).len(), in_erp);
    print_run("first (all new)", in_erp, first_seconds, (concur1 - concur0, erp1 - erp0));

    // 1 % changed in the ERP: only those are written.
    let changed = (n / 100).max(1);
    for i in 0..changed {
        assert!(acumatica.update_vendor(TENANT, &format!("S{:06}", i * 100), &format!("Renamed {i}"), "Active"));
    }
    let started = Instant::now();
    let second = counts(poster.sync_vendors(&connection, false).await.unwrap());
    let second_seconds = started.elapsed().as_secs_f64();
    let (concur2, erp2) = calls(&world);
    assert_eq!((second.read as usize, second.written as usize), (changed, changed), "{second:?}");
    let label = format!("second ({changed} changed, changed-since read; per vendor in the ERP)");
    print_run(&label, in_erp, second_seconds, (concur2 - concur1, erp2 - erp1));

    // The daily full read of the same: every vendor read, only hashes compared.
    let started = Instant::now();
    let full = counts(poster.sync_vendors(&connection, true).await.unwrap());
    let full_seconds = started.elapsed().as_secs_f64();
    let (concur3, erp3) = calls(&world);
    assert_eq!((full.written, full.unchanged as usize), (0, in_erp), "{full:?}");
    print_run("full read, nothing changed", in_erp, full_seconds, (concur3 - concur2, erp3 - erp2));

    // Reference: the same records written straight to Concur (updates; no
    // ERP read, no state), the floor of what any sync of them costs.
    let records: Vec<(VendorRecord, WriteVerb)> = world
        .concur
        .vendors(COMPANY)
        .into_iter()
        .map(|v| {
            let field = |f: &str| v.fields.get(f).cloned();
            let record = VendorRecord {
                vendor_code: field("VendorCode").unwrap_or_default(),
                address_code: field("AddressCode").unwrap_or_default(),
                name: field("VendorName").unwrap_or_default(),
                address1: None,
                address2: None,
                city: None,
                state: None,
                postal_code: None,
                country_code: field("CountryCode"),
                currency_code: field("CurrencyCode"),
                tax_id: None,
                active: true,
                limits: VendorLimits::default(),
            };
            (record, WriteVerb::Update)
        })
        .collect();
    let token = poster.tokens.access_token(&world.connection).await.unwrap();
    let started = Instant::now();
    let written = poster.tokens.client().write_vendors(&token, &records).await.unwrap();
    let reference_seconds = started.elapsed().as_secs_f64();
    assert!(written.iter().all(|w| w.refused.is_none()));
    let (concur4, erp4) = calls(&world);
    print_run("reference: straight Concur writes", records.len(), reference_seconds, (concur4 - concur3, erp4 - erp3));
}
