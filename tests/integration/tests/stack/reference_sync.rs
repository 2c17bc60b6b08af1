//! The vendor sync (issue 14) on the real stack: Acumatica's vendors into
//! the strict Concur simulator's Vendor v3, with the sync state in moto's
//! DynamoDB (the template's reference table).

use std::collections::BTreeMap;

use domain::ErpKind;
use domain::SyncReason;
use domain::reference::ReferenceKind;
use erp_poster::reference_sync::SyncOutcome;
use integration::posting::{COMPANY, IFS_COMPANY, INFOR_ENTITY, INFOR_TENANT, POSTER, PostingWorld, TENANT};
use platform::reference::RunCounts;

/// Concur's vendors: code → name.
fn in_concur(world: &PostingWorld) -> BTreeMap<String, String> {
    world
        .concur
        .vendors(COMPANY)
        .into_iter()
        .map(|v| (v.fields["VendorCode"].clone(), v.fields.get("VendorName").cloned().unwrap_or_default()))
        .collect()
}

/// Acumatica's active vendors: code → name.
fn in_acumatica(world: &PostingWorld) -> BTreeMap<String, String> {
    world
        .acumatica()
        .vendors(TENANT)
        .into_iter()
        .filter(|v| v["Status"]["value"] == "Active")
        .map(|v| {
            let text = |f: &str| v[f]["value"].as_str().unwrap_or_default().to_owned();
            (text("VendorID"), text("VendorName"))
        })
        .collect()
}

fn counts(outcome: SyncOutcome) -> RunCounts {
    match outcome {
        SyncOutcome::Done(counts) => counts,
        other => panic!("the sync ran: {other:?}"),
    }
}

#[tokio::test]
async fn vendors_reach_concur_once_then_only_what_changed_and_an_inactivated_one_is_removed() {
    let world = PostingWorld::new("acme-sync").await;
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let vendors = in_acumatica(&world);
    assert!(vendors.len() >= 3, "the example tenant has vendors: {vendors:?}");

    // The first sync puts exactly the ERP's vendors into Concur.
    let first = counts(poster.sync_vendors(&connection, false).await.unwrap());
    assert_eq!(first.written as usize, vendors.len(), "{first:?}");
    assert_eq!(in_concur(&world), vendors);

    // Nothing changed: nothing written (the ERP's read finds no change, and
    // a full read finds every hash equal).
    let writes = || world.concur.reference_writes(COMPANY).len();
    let before = writes();
    assert_eq!(counts(poster.sync_vendors(&connection, false).await.unwrap()).written, 0);
    let full = counts(poster.sync_vendors(&connection, true).await.unwrap());
    assert_eq!((full.written, full.unchanged as usize), (0, vendors.len()), "{full:?}");
    assert_eq!(writes(), before, "no call wrote to Concur");

    // Three vendors renamed and one inactivated in the ERP: exactly those.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let codes: Vec<String> = vendors.keys().cloned().collect();
    for code in &codes[..2] {
        assert!(world.acumatica().update_vendor(TENANT, code, &format!("{code} Renamed"), "Active"));
    }
    assert!(world.acumatica().update_vendor(TENANT, &codes[2], "Closed", "Inactive"));
    let third = counts(poster.sync_vendors(&connection, false).await.unwrap());
    // (The read overlaps the cursor by 5 minutes: vendors seeded just
    // before are read again and found unchanged.)
    assert_eq!((third.written, third.deactivated), (2, 1), "{third:?}");
    assert_eq!(writes(), before + 3, "two updates and one delete");
    assert_eq!(in_concur(&world), in_acumatica(&world));

    // The operator's view: the state holds the run's counts and cursor.
    let state = world.stack.reference(POSTER).state(&world.connection, ReferenceKind::Vendors).await.unwrap().unwrap();
    assert_eq!(state.last_run, Some(third));
    assert!(state.cursor.is_some() && state.refused.is_empty());
    let status = integration::connector(world.stack.stack_name(), &["sync", "status", "acme-sync"]).await;
    assert_eq!(status.code, 0, "{}", status.all());
    assert!(status.out.contains("written 2, deactivated 1"), "{}", status.out);
    assert!(status.out.contains("lists           never run"), "{}", status.out);
    let json = integration::connector(world.stack.stack_name(), &["sync", "status", "acme-sync", "--json"]).await;
    let parsed: serde_json::Value = serde_json::from_str(&json.out).unwrap();
    assert_eq!(parsed["syncs"]["vendors"]["last_run"]["written"], 2);

    // Each run is an audit event under `<id>#sync`, with its counts.
    let events = world.stack.audit(POSTER).history(&format!("{}#sync", world.connection)).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.step == "sync vendors").count(), 4, "{events:?}");
    assert!(events.iter().any(|e| e.detail.as_deref().is_some_and(|d| d.contains("written 2, deactivated 1"))));
}

#[tokio::test]
async fn a_vendor_concur_cannot_hold_is_listed_with_the_reason_and_the_rest_are_written() {
    let captured = platform::telemetry::capture();
    let world = PostingWorld::new("acme-sync-refused").await;
    world.acumatica().add_vendor(TENANT, "V-WITH-A-CODE-FAR-TOO-LONG-FOR-CONCUR", "Too long", "Active");
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let run = counts(poster.sync_vendors(&connection, false).await.unwrap());
    assert_eq!(run.refused, 1, "{run:?}");
    assert_eq!(in_concur(&world).len(), in_acumatica(&world).len() - 1, "the rest are written");
    // The run's counts as metrics (docs/metrics.md): one line per outcome.
    let records: Vec<(String, String, f64)> = captured
        .lines()
        .iter()
        .filter(|l| l.get("ReferenceRecords").is_some())
        .map(|l| {
            assert_eq!(
                l["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                serde_json::json!([["ConnectionId", "Kind", "Outcome"], ["Outcome"]])
            );
            assert_eq!(l["ConnectionId"], "acme-sync-refused");
            (
                l["Kind"].as_str().unwrap().to_owned(),
                l["Outcome"].as_str().unwrap().to_owned(),
                l["ReferenceRecords"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        records,
        [("vendors".into(), "written".into(), run.written as f64), ("vendors".into(), "refused".into(), 1.0)]
    );
    let status = integration::connector(world.stack.stack_name(), &["sync", "status", "acme-sync-refused"]).await;
    assert!(status.out.contains("refused V-WITH-A-CODE-FAR-TOO-LONG-FOR-CONCUR/MAIN: VendorCode"), "{}", status.out);
    assert!(status.out.contains("at most 32"), "{}", status.out);

    // `sync run` queues a full sync for the poster.
    let queued = integration::connector(world.stack.stack_name(), &["sync", "run", "acme-sync-refused"]).await;
    assert_eq!(queued.code, 0, "{}", queued.all());
    let messages = world.stack.peek_queue("WorkQueue").await;
    assert!(messages.iter().any(|m| m.contains("reference_sync") && m.contains("operator")), "{messages:?}");
}

#[tokio::test]
async fn two_runs_at_once_write_each_vendor_once_and_the_queued_request_runs_the_sync() {
    let world = PostingWorld::new("acme-sync-twice").await;
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let (a, b) = tokio::join!(poster.sync_vendors(&connection, true), poster.sync_vendors(&connection, true));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert!(outcomes.contains(&SyncOutcome::AlreadyRunning), "one run held the lease: {outcomes:?}");
    let vendors = in_acumatica(&world);
    assert_eq!(in_concur(&world), vendors);
    let creates = world.concur.reference_writes(COMPANY).iter().filter(|w| w.succeeded).count();
    assert_eq!(creates, vendors.len(), "each vendor written once");

    // The queued request (as Quick Connect sends it) goes through the same run.
    let request = domain::ReferenceSyncRequest::new(
        world.connection.clone(),
        SyncReason::Operator,
        time::OffsetDateTime::now_utc(),
    );
    erp_poster::DocumentPipeline::reference_sync(&poster, &request).await.unwrap();
    let state = world.stack.reference(POSTER).state(&world.connection, ReferenceKind::Vendors).await.unwrap().unwrap();
    assert_eq!(state.last_run.map(|c| c.unchanged as usize), Some(vendors.len()));
}

#[tokio::test]
async fn a_run_cut_short_by_concur_gives_its_lease_back_and_the_retry_finishes_the_sync() {
    use simulators::faults::{FaultKind, FaultSpec};

    let world = PostingWorld::new("acme-sync-outage").await;
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    world
        .concur
        .faults()
        .inject(FaultSpec {
            fault: FaultKind::ServerError { status: 503 },
            count: Some(4),
            fraction: None,
            path_prefix: Some("/api/v3.0/invoice/vendors".into()),
            method: None,
        })
        .unwrap();
    let failure = poster.sync_vendors(&connection, false).await.unwrap_err();
    assert!(failure.is_retryable(), "{failure:?}");
    let store = world.stack.reference(POSTER);
    let state = store.state(&world.connection, ReferenceKind::Vendors).await.unwrap().unwrap();
    assert!(state.last_error.is_some_and(|e| e.contains("503")), "the reason is kept for `sync status`");
    assert!(state.cursor.is_none(), "the cursor did not move");

    // The message's retry runs at once (no stale lease) and finishes.
    let retry = counts(poster.sync_vendors(&connection, false).await.unwrap());
    assert_eq!(retry.written as usize, in_acumatica(&world).len());
    assert_eq!(in_concur(&world), in_acumatica(&world));
}

#[tokio::test]
async fn a_company_concur_offers_no_vendor_api_is_told_once_not_retried_forever() {
    let world = PostingWorld::new("acme-sync-china").await;
    world.concur.set_vendor_api_available(COMPANY, false);
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let outcome = poster.sync_vendors(&connection, false).await.unwrap();
    assert!(matches!(&outcome, SyncOutcome::NotOffered(reason) if reason.contains("China")), "{outcome:?}");
    assert!(world.concur.vendors(COMPANY).is_empty());
    let status = integration::connector(world.stack.stack_name(), &["sync", "status", "acme-sync-china"]).await;
    assert!(status.out.contains("last error Concur does not offer the Vendor v3 API"), "{}", status.out);
    // The lease is free: the next request runs (and says the same) at once.
    let again = poster.sync_vendors(&connection, false).await.unwrap();
    assert!(matches!(again, SyncOutcome::NotOffered(_)), "{again:?}");
}

#[tokio::test]
async fn ifs_suppliers_with_invoice_data_in_the_company_reach_concur_and_the_others_do_not() {
    let world = PostingWorld::with_erp("ifs-sync", ErpKind::IfsCloud).await;
    world.ifs().add_supplier("S-900", "Nordic Paper", &[IFS_COMPANY]);
    world.ifs().add_supplier("S-901", "No invoices here", &[]);
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let expected: BTreeMap<String, String> = world
        .ifs()
        .suppliers()
        .into_iter()
        .filter(|s| {
            s["SupplierInvoiceCompanies"].as_array().is_some_and(|c| c.iter().any(|c| c["Company"] == IFS_COMPANY))
        })
        .map(|s| (s["SupplierId"].as_str().unwrap().to_owned(), s["Name"].as_str().unwrap().to_owned()))
        .collect();
    assert!(expected.contains_key("S-900") && !expected.contains_key("S-901"));

    let first = counts(poster.sync_vendors(&connection, false).await.unwrap());
    assert_eq!(first.written as usize, expected.len(), "{first:?}");
    assert_eq!(in_concur(&world), expected);
    let again = counts(poster.sync_vendors(&connection, false).await.unwrap());
    // Every supplier read again (S-901 too: inactive and never written), none written.
    assert_eq!((again.written, again.deactivated, again.unchanged), (0, 0, again.read), "{again:?}");
    assert_eq!(again.read as usize, world.ifs().suppliers().len());
}

#[tokio::test]
async fn a_dry_run_shows_what_a_run_would_write_and_writes_nothing() {
    let world = PostingWorld::new("acme-sync-dry").await;
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let vendors = in_acumatica(&world);
    let dry = erp_poster::reference_sync::SyncMode { everything: true, dry_run: true };
    let outcome = poster.sync_kind(&connection, ReferenceKind::Vendors, dry).await.unwrap();
    let SyncOutcome::DryRun(would) = outcome else { panic!("a dry run: {outcome:?}") };
    assert_eq!(would.written as usize, vendors.len(), "{would:?}");
    assert!(world.concur.vendors(COMPANY).is_empty(), "nothing written");
    assert!(world.concur.reference_writes(COMPANY).is_empty());
    let status = integration::connector(world.stack.stack_name(), &["sync", "status", "acme-sync-dry"]).await;
    let line = format!("would write {}, deactivate 0, refuse 0", vendors.len());
    assert!(status.out.contains(&line), "{}", status.out);
    assert!(status.out.contains("cursor - (the next run reads everything)"), "the cursor did not move: {}", status.out);

    // The real run then writes exactly that.
    let run = counts(poster.sync_vendors(&connection, false).await.unwrap());
    assert_eq!(run.written, would.written);
    assert_eq!(in_concur(&world), vendors);
}

#[tokio::test]
async fn infor_suppliers_reach_concur_through_m3_and_a_blocked_one_is_removed() {
    let world = PostingWorld::with_erp("infor-sync", ErpKind::Infor).await;
    let infor = world.infor();
    infor.add_supplier_named(INFOR_TENANT, INFOR_ENTITY, "SUP900", "Midwest Paper");
    infor.add_supplier_named(INFOR_TENANT, INFOR_ENTITY, "SUP901", "Prairie Freight");
    let poster = world.poster().await;
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();
    let suppliers = infor.suppliers(INFOR_TENANT, INFOR_ENTITY);

    let first = counts(poster.sync_vendors(&connection, false).await.unwrap());
    assert_eq!(first.written as usize, suppliers.len(), "{first:?}");
    assert_eq!(in_concur(&world).get("SUP900").map(String::as_str), Some("Midwest Paper"));
    assert_eq!(in_concur(&world).len(), suppliers.len());

    // Blocked in M3 (status 90): removed from Concur on the next run.
    infor.block_supplier(INFOR_TENANT, INFOR_ENTITY, "SUP901");
    let second = counts(poster.sync_vendors(&connection, false).await.unwrap());
    assert_eq!((second.written, second.deactivated), (0, 1), "{second:?}");
    assert!(!in_concur(&world).contains_key("SUP901"));
    assert_eq!(in_concur(&world).len(), suppliers.len() - 1);
}

/// The claim's (and the sync lease's) lifetime sits between the poster's
/// timeout and the work queue's visibility timeout, as the template sets
/// them: a run the timeout cuts off has lost its lease by the time SQS
/// delivers its message again.
#[test]
fn the_sync_lease_lapses_between_the_poster_timeout_and_the_redelivery() {
    let template = localstack::template::Template::bundled().unwrap();
    let poster = template.functions.values().find(|f| f.binary.as_deref() == Some("erp-poster")).unwrap();
    let visibility = template.queues["WorkQueue"].visibility_timeout.unwrap();
    let lease = erp_poster::PosterOptions::default().claim_ttl.as_secs();
    assert!(u64::from(poster.timeout.unwrap()) < lease && lease < u64::from(visibility), "{lease} s");
}

#[tokio::test]
async fn a_run_the_lambda_timeout_cuts_off_is_taken_over_by_the_redelivery_and_finishes() {
    use simulators::faults::{FaultKind, FaultSpec};

    let world = PostingWorld::new("acme-sync-timeout").await;
    for n in 0..300 {
        world.acumatica().add_vendor(TENANT, &format!("T{n:04}"), &format!("Vendor {n}"), "Active");
    }
    let mut options = integration::posting::test_options();
    options.claim_ttl = std::time::Duration::from_secs(3);
    let env = world.stack.env_of(POSTER);
    let poster = erp_poster::Poster::from_env(&env, &world.stack.aws(), options).await.unwrap();
    let connection = world.stack.connections(POSTER).get(&world.connection).await.unwrap().unwrap();

    // Concur answers slowly: the invocation's timeout ends the run after
    // its first chunk of 250 vendors, while their hashes are stored or the
    // rest is sent.
    let slow = FaultSpec {
        fault: FaultKind::Slow { delay_ms: 1000 },
        count: Some(10),
        fraction: None,
        path_prefix: Some("/api/v3.0/invoice/vendors".into()),
        method: Some("POST".into()),
    };
    world.concur.faults().inject(slow).unwrap();
    let cut =
        tokio::time::timeout(std::time::Duration::from_millis(1600), poster.sync_vendors(&connection, true)).await;
    assert!(cut.is_err(), "the timeout cut the run off");
    world.concur.faults().clear();
    let store = world.stack.reference(POSTER);
    let remembered = store.known_all(&world.connection, ReferenceKind::Vendors).await.unwrap().len();
    assert!(remembered > 0 && remembered < 300, "cut part-way: {remembered} vendors remembered");
    // Until the dead run's lease lapses, a second run does not start.
    assert_eq!(poster.sync_vendors(&connection, true).await.unwrap(), SyncOutcome::AlreadyRunning);

    // The redelivery (the visibility timeout is longer than the lease)
    // takes over, writes only what the cut-off run had not, and finishes.
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let done = counts(poster.sync_vendors(&connection, true).await.unwrap());
    assert_eq!(in_concur(&world), in_acumatica(&world));
    assert_eq!(done.written as usize + remembered, in_acumatica(&world).len(), "only the rest: {done:?}");
    let again = counts(poster.sync_vendors(&connection, true).await.unwrap());
    assert_eq!(again.written, 0);
}
