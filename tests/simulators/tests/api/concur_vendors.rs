//! Concur simulator over real HTTP: Invoice Vendor v3 — batches with
//! per-record outcomes, search and paging, delete, availability and faults.

use crate::concur_refdata_support;

use concur_refdata_support::{CHINA_COMPANY, COMPANY, Env, VENDORS, env};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use simulators::concur::{MAX_VENDOR_CODE_CHARS, ReferenceWriteKind, vendor_status_code};
use simulators::faults::{FaultKind, FaultSpec};
use time::{Duration, OffsetDateTime};

fn vendor(code: &str, address: &str, name: &str) -> Value {
    json!({"VendorCode": code, "AddressCode": address, "VendorName": name, "PaymentTerms": "30"})
}

/// `(Code, Type, RecordNumber)` of each record's single status.
fn statuses(body: &Value) -> Vec<(u64, String, u64)> {
    body["Vendor"]
        .as_array()
        .expect("Vendor array")
        .iter()
        .map(|record| {
            let status = &record["StatusList"][0];
            let code = status["Code"].as_u64().expect("Code");
            (code, status["Type"].as_str().expect("Type").to_owned(), status["RecordNumber"].as_u64().expect("n"))
        })
        .collect()
}

fn ok(n: u64) -> (u64, String, u64) {
    (u64::from(vendor_status_code::SUCCESS), "SUCCESS".into(), n)
}

fn error(code: u32, n: u64) -> (u64, String, u64) {
    (u64::from(code), "ERROR".into(), n)
}

fn keys(body: &Value) -> Vec<String> {
    body["Items"]
        .as_array()
        .expect("Items")
        .iter()
        .map(|v| format!("{}/{}", v["VendorCode"].as_str().unwrap_or("?"), v["AddressCode"].as_str().unwrap_or("?")))
        .collect()
}

async fn post_vendors(env: &Env, records: Vec<Value>) -> Value {
    let r = env.call(Method::POST, &env.us(VENDORS), Some(&json!({"Vendor": records}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

#[tokio::test]
async fn create_update_and_delete_answer_200_with_each_records_outcome() {
    let env = env().await;
    let too_long = "X".repeat(MAX_VENDOR_CODE_CHARS + 1);
    let created = post_vendors(
        &env,
        vec![
            vendor("V1000", "MAIN", "Acme Ltd"),
            vendor("V1000", "REMIT", "Acme Ltd"),
            json!({"VendorCode": "V2000", "VendorName": "No address"}),
            vendor(&too_long, "MAIN", "Too long"),
        ],
    )
    .await;
    assert_eq!(
        statuses(&created),
        [
            ok(1),
            ok(2),
            error(vendor_status_code::REQUIRED_FIELD_MISSING, 3),
            error(vendor_status_code::VALUE_TOO_LONG, 4)
        ]
    );
    assert_eq!(created["Vendor"][0]["VendorName"], "Acme Ltd");
    assert!(created["Vendor"][0]["ID"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(created["Vendor"][2]["StatusList"][0]["Message"], "AddressCode is required");
    assert!(created["Vendor"][3]["StatusList"][0]["Message"].as_str().is_some_and(|m| m.contains("VendorCode")));
    assert_eq!(created["RequestRunSummary"], "4 record(s) processed: 2 succeeded, 2 failed");

    // Creating an existing pair fails that record only.
    let again = post_vendors(&env, vec![vendor("V1000", "MAIN", "Acme again"), vendor("V3000", "MAIN", "Beta")]).await;
    assert_eq!(statuses(&again), [error(vendor_status_code::ALREADY_EXISTS, 1), ok(2)]);
    assert_eq!(
        env.sim().vendor(COMPANY, "V1000", "MAIN").and_then(|v| v.vendor_name().map(str::to_owned)).as_deref(),
        Some("Acme Ltd")
    );

    let before = env.sim().vendor(COMPANY, "V1000", "MAIN").expect("stored").modified_at;
    let update = json!({"Vendor": [
        {"VendorCode": "V1000", "AddressCode": "MAIN", "VendorName": "Acme Holdings", "City": "Bellevue"},
        {"VendorCode": "V9999", "AddressCode": "MAIN", "VendorName": "Nobody"},
        {"VendorCode": "V3000", "AddressCode": "MAIN", "PaymentMethodType": "CASH"},
    ]});
    let updated = env.call(Method::PUT, &env.us(VENDORS), Some(&update)).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(
        statuses(&updated.body),
        [ok(1), error(vendor_status_code::NOT_FOUND, 2), error(vendor_status_code::INVALID_VALUE, 3)]
    );
    let stored = env.sim().vendor(COMPANY, "V1000", "MAIN").expect("stored");
    assert_eq!(
        (stored.vendor_name(), stored.field("City"), stored.field("PaymentTerms")),
        (Some("Acme Holdings"), Some("Bellevue"), Some("30"))
    );
    assert!(stored.modified_at >= before);
    assert!(env.sim().vendor(COMPANY, "V9999", "MAIN").is_none());

    let found = env.get(&env.us(&format!("{VENDORS}?vendorCode=V1000"))).await;
    assert_eq!((found.status, found.body["TotalCount"].as_u64()), (StatusCode::OK, Some(2)));
    assert_eq!(keys(&found.body), ["V1000/MAIN", "V1000/REMIT"]);
    assert_eq!(found.body["NextPage"], Value::Null);

    // Delete needs both keys; it removes one remit address.
    let without_address = env.call(Method::DELETE, &env.us(&format!("{VENDORS}?vendorCode=V1000")), None).await;
    assert_eq!(without_address.status, StatusCode::BAD_REQUEST);
    assert!(without_address.header("x-sim-reason").is_some_and(|r| r.contains("addressCode")));
    let delete_url = env.us(&format!("{VENDORS}?vendorCode=V1000&addressCode=REMIT"));
    let deleted = env.call(Method::DELETE, &delete_url, None).await;
    assert_eq!(statuses(&deleted.body), [ok(1)]);
    let twice = env.call(Method::DELETE, &delete_url, None).await;
    assert_eq!((twice.status, statuses(&twice.body)), (StatusCode::OK, vec![error(vendor_status_code::NOT_FOUND, 1)]));
    let left: Vec<String> =
        env.sim().vendors(COMPANY).iter().map(|v| format!("{}/{}", v.vendor_code(), v.address_code())).collect();
    assert_eq!(left, ["V1000/MAIN", "V3000/MAIN"]);

    let count = |kind, succeeded| env.sim().reference_write_count(COMPANY, kind, succeeded);
    assert_eq!((count(ReferenceWriteKind::VendorCreate, true), count(ReferenceWriteKind::VendorCreate, false)), (3, 3));
    assert_eq!((count(ReferenceWriteKind::VendorUpdate, true), count(ReferenceWriteKind::VendorUpdate, false)), (1, 2));
    assert_eq!((count(ReferenceWriteKind::VendorDelete, true), count(ReferenceWriteKind::VendorDelete, false)), (1, 1));
}

#[tokio::test]
async fn empty_oversized_or_malformed_batches_are_refused_whole() {
    let env = env().await;
    let records: Vec<Value> = (0..1001).map(|n| vendor(&format!("V{n:05}"), "MAIN", "Bulk")).collect();
    let oversized = env.call(Method::POST, &env.us(VENDORS), Some(&json!({"Vendor": records}))).await;
    assert_eq!(oversized.status, StatusCode::BAD_REQUEST);
    assert!(oversized.header("x-sim-reason").is_some_and(|r| r.contains("1001")));
    assert!(env.sim().vendors(COMPANY).is_empty(), "nothing of a refused batch is stored");

    let thousand: Vec<Value> = (0..1000).map(|n| vendor(&format!("V{n:05}"), "MAIN", "Bulk")).collect();
    let accepted = post_vendors(&env, thousand).await;
    assert_eq!(statuses(&accepted).len(), 1000);
    assert_eq!(env.sim().vendors(COMPANY).len(), 1000);

    let empty = env.call(Method::PUT, &env.us(VENDORS), Some(&json!({"Vendor": []}))).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    for (content_type, body) in [
        ("application/json", "{\"Vendor\": [ {\"VendorCode\": "),
        ("application/json", "[{\"VendorCode\": \"V1\", \"AddressCode\": \"A\"}]"),
        ("application/json", "{\"Vendors\": []}"),
    ] {
        let r = env.send_raw(Method::POST, &env.us(VENDORS), content_type, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(r.header("x-sim-reason").is_some(), "{body}");
    }
    let xml = env.send_raw(Method::POST, &env.us(VENDORS), "application/xml", "<Vendors/>").await;
    assert_eq!(xml.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn search_pages_follow_next_page_to_the_end() {
    let env = env().await;
    for n in 0..60 {
        let name = format!("Vendor {:02}", 59 - n);
        env.sim().add_vendor(COMPANY, vendor(&format!("V{n:03}"), "MAIN", &name)).expect("seeded");
    }
    env.sim().add_vendor(COMPANY, vendor("X001", "MAIN", "Another")).expect("seeded");

    // Default page of 25, sorted by vendor name; the filter survives into NextPage.
    let mut url = env.us(&format!("{VENDORS}?vendorCode=V&searchType=begins"));
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = env.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert_eq!(page.body["TotalCount"], 60);
        seen.extend(keys(&page.body));
        pages += 1;
        match page.body["NextPage"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&env.concur.us_url()), "absolute URL: {next}");
                assert!(next.contains("searchType=begins"), "{next}");
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..60).rev().map(|n| format!("V{n:03}/MAIN")).collect();
    assert_eq!(seen, expected, "every vendor once, by name");

    let everything = env.get(&env.us(&format!("{VENDORS}?limit=1000"))).await;
    assert_eq!((keys(&everything.body).len(), &everything.body["NextPage"]), (61, &Value::Null));
    for query in
        ["limit=1001", "limit=0", "limit=ten", "offset=25", "vendorcod=V1", "searchType=fuzzy", "sortBy=Colour"]
    {
        let r = env.get(&env.us(&format!("{VENDORS}?{query}"))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(r.header("x-sim-reason").is_some(), "{query}");
    }
    let by_code = env.get(&env.us(&format!("{VENDORS}?sortBy=VendorCode&sortDirection=descending&limit=2"))).await;
    assert_eq!(keys(&by_code.body), ["X001/MAIN", "V059/MAIN"]);
    let contains = env.get(&env.us(&format!("{VENDORS}?vendorName=other&searchType=contains"))).await;
    assert_eq!(keys(&contains.body), ["X001/MAIN"]);
}

#[tokio::test]
async fn the_vendor_api_needs_invven_and_is_missing_in_china() {
    let env = env().await;
    let without = env.token_for(&env.concur.us_url(), COMPANY, Some("openid FISVC spend.list.read")).await;
    let refused = env.call_as(&without, Method::GET, &env.us(VENDORS), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["error"], "access_denied");

    let china = env.token_for(&env.cn.base_url(), CHINA_COMPANY, None).await;
    let china_url = format!("{}{VENDORS}", env.cn.base_url());
    let missing = env.call_as(&china, Method::GET, &china_url, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.header("x-sim-reason").is_some_and(|r| r.contains("China")));
    let posted =
        env.call_as(&china, Method::POST, &china_url, Some(&json!({"Vendor": [vendor("V1", "A", "N")]}))).await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert!(env.sim().vendors(CHINA_COMPANY).is_empty());

    // The China token is not valid at the US instance either.
    assert_eq!(env.call_as(&china, Method::GET, &env.us(VENDORS), None).await.status, StatusCode::UNAUTHORIZED);

    env.sim().set_vendor_api_available(CHINA_COMPANY, true);
    assert_eq!(env.call_as(&china, Method::GET, &china_url, None).await.status, StatusCode::OK);
    env.sim().set_vendor_api_available(COMPANY, false);
    assert_eq!(env.get(&env.us(VENDORS)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_injected_429_is_answered_then_the_call_works() {
    let env = env().await;
    let spec = FaultSpec {
        fault: FaultKind::TooManyRequests { retry_after_seconds: Some(3) },
        count: Some(1),
        fraction: None,
        path_prefix: Some(VENDORS.into()),
        method: Some("POST".into()),
    };
    env.sim().faults().inject(spec).expect("valid rule");
    let body = json!({"Vendor": [vendor("V1", "MAIN", "Acme")]});
    let limited = env.call(Method::POST, &env.us(VENDORS), Some(&body)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after"), Some("3"));
    assert!(limited.header("concur-correlationid").is_some());
    assert!(env.sim().vendors(COMPANY).is_empty(), "a throttled batch writes nothing");
    let retried = env.call(Method::POST, &env.us(VENDORS), Some(&body)).await;
    assert_eq!(statuses(&retried.body), [ok(1)]);
    let faults: Vec<String> = env.sim().requests().into_iter().filter_map(|r| r.fault).collect();
    assert_eq!(faults, ["429"]);
}

#[tokio::test]
async fn last_modified_is_an_inspection_helper_not_a_search_filter() {
    let env = env().await;
    let old = vendor("OLD", "MAIN", "Old");
    post_vendors(&env, vec![old, vendor("NEW", "MAIN", "New")]).await;
    let long_ago = OffsetDateTime::now_utc() - Duration::days(30);
    assert!(env.sim().set_vendor_modified_at(COMPANY, "OLD", "MAIN", long_ago));
    let since = OffsetDateTime::now_utc() - Duration::days(1);
    let changed: Vec<String> =
        env.sim().vendors_changed_since(COMPANY, since).iter().map(|v| v.vendor_code().to_owned()).collect();
    assert_eq!(changed, ["NEW"]);
    let filtered = env.get(&env.us(&format!("{VENDORS}?lastModifiedDate=2024-01-01"))).await;
    assert_eq!(filtered.status, StatusCode::BAD_REQUEST);
}
