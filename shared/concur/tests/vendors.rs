//! Vendor v3 writes against the strict Concur simulator over HTTP.

mod support;

use concur::WriteVerb;
use concur::vendors::VENDOR_BATCH;
use concur::{AccessToken, ConcurClient};
use domain::reference::{SyncRecord, VendorLimits, VendorRecord};
use simulators::concur::StartedConcur;
use simulators::faults::{FaultKind, FaultSpec};
use support::COMPANY;

async fn setup() -> (StartedConcur, ConcurClient, AccessToken) {
    support::connected(4).await
}

fn vendor(code: &str, name: &str) -> VendorRecord {
    VendorRecord {
        vendor_code: code.into(),
        address_code: "MAIN".into(),
        name: name.into(),
        address1: Some("1 Main St".into()),
        address2: None,
        city: Some("Bellevue".into()),
        state: Some("WA".into()),
        postal_code: Some("98004".into()),
        country_code: Some("US".into()),
        currency_code: Some("USD".into()),
        tax_id: None,
        active: true,
        limits: VendorLimits::default(),
    }
}

fn held_name(concur: &StartedConcur, code: &str) -> Option<String> {
    concur.sim.vendor(COMPANY, code, "MAIN").map(|v| v.fields["VendorName"].clone())
}

#[tokio::test]
async fn new_and_changed_vendors_are_written_and_a_stale_guess_of_the_verb_still_ends_in_one_vendor() {
    let (concur, client, token) = setup().await;
    let first: Vec<_> = (0..3).map(|n| (vendor(&format!("V{n}"), &format!("Vendor {n}")), WriteVerb::Create)).collect();
    let outcomes = client.write_vendors(&token, &first).await.unwrap();
    assert!(outcomes.iter().all(|o| o.refused.is_none()), "{outcomes:?}");
    assert_eq!(concur.sim.vendors(COMPANY).len(), 3);

    // V0 changed (known: update); V1 guessed "new" though Concur has it
    // (a POST repeated after a timeout); V9 guessed "known" though it is new.
    let second = vec![
        (vendor("V0", "Vendor 0 Ltd"), WriteVerb::Update),
        (vendor("V1", "Vendor 1 GmbH"), WriteVerb::Create),
        (vendor("V9", "Vendor 9"), WriteVerb::Update),
    ];
    let outcomes = client.write_vendors(&token, &second).await.unwrap();
    assert!(outcomes.iter().all(|o| o.refused.is_none()), "{outcomes:?}");
    assert_eq!(
        outcomes.iter().map(|o| o.key.clone()).collect::<Vec<_>>(),
        second.iter().map(|(r, _)| r.key()).collect::<Vec<_>>()
    );
    assert_eq!(held_name(&concur, "V0").as_deref(), Some("Vendor 0 Ltd"));
    assert_eq!(held_name(&concur, "V1").as_deref(), Some("Vendor 1 GmbH"));
    assert_eq!(concur.sim.vendors(COMPANY).len(), 4, "one vendor per key, however the verb was guessed");
}

#[tokio::test]
async fn a_record_concur_refuses_is_reported_with_its_reason_and_the_rest_are_written() {
    let (concur, client, token) = setup().await;
    // Concur's own limit, sent anyway (the plan would refuse it first).
    let mut refused = vendor("V2", "Vendor 2");
    refused.name = "N".repeat(300);
    let records = vec![(vendor("V1", "Vendor 1"), WriteVerb::Create), (refused, WriteVerb::Create)];
    let outcomes = client.write_vendors(&token, &records).await.unwrap();
    assert_eq!(outcomes[0].refused, None);
    let reason = outcomes[1].refused.as_deref().expect("refused");
    assert!(reason.starts_with("create: ") && reason.contains("; update: "), "both verbs' reasons: {reason}");
    assert_eq!(concur.sim.vendors(COMPANY).len(), 1);
}

#[tokio::test]
async fn more_vendors_than_one_batch_go_in_several_requests_through_429s() {
    let (concur, client, token) = setup().await;
    concur
        .sim
        .faults()
        .inject(FaultSpec {
            fault: FaultKind::TooManyRequests { retry_after_seconds: None },
            count: Some(2),
            fraction: None,
            path_prefix: Some("/api/v3.0/invoice/vendors".into()),
            method: None,
        })
        .unwrap();
    let n = VENDOR_BATCH * 2 + 7;
    let records: Vec<_> =
        (0..n).map(|i| (vendor(&format!("V{i:04}"), &format!("Vendor {i}")), WriteVerb::Create)).collect();
    let outcomes = client.write_vendors(&token, &records).await.unwrap();
    assert_eq!(outcomes.len(), n);
    assert!(outcomes.iter().all(|o| o.refused.is_none()));
    assert_eq!(concur.sim.vendors(COMPANY).len(), n);
}

#[tokio::test]
async fn an_inactive_vendor_address_is_deleted_and_a_missing_one_is_reported() {
    let (concur, client, token) = setup().await;
    client.write_vendors(&token, &[(vendor("V1", "Vendor 1"), WriteVerb::Create)]).await.unwrap();
    assert_eq!(client.delete_vendor(&token, "V1", "MAIN").await.unwrap(), None);
    assert!(concur.sim.vendors(COMPANY).is_empty());
    let again = client.delete_vendor(&token, "V1", "MAIN").await.unwrap();
    assert!(again.is_some(), "Concur says it has no such address");
}
