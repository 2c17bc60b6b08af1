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
use integration::posting::{COMPANY, IFS_COMPANY, POSTER, PostingWorld, example_work_items, test_options};
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
    let stopped = tokio::time::timeout(Duration::from_millis(700), crashing.process_item(&first)).await;
    assert!(stopped.is_err(), "{first_file}: the poster was stopped mid-post");
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
