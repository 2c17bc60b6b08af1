//! IFS simulator over real HTTP: query options, server paging with
//! `@odata.nextLink`, IFS literals (bare dates, typed enumerations) in `$filter`.

use crate::ifs_support;

use ifs_support::{INVOICES, env, env_with, seeded, send};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn values(body: &Value) -> &Vec<Value> {
    body["value"].as_array().unwrap()
}

#[tokio::test]
async fn pages_of_100_with_next_links_until_the_end() {
    let sim = seeded();
    for n in 0..250 {
        sim.add_account("20", &format!("7{n:03}"), "Cost", false);
    }
    let env = env_with(sim).await;
    let first = send(
        env.get("AccountsHandling.svc/AccountSet?$filter=Company eq '20' and startswith(Account,'7')&$count=true"),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["@odata.count"], 250);
    assert!(
        first.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/main/ifsapplications/projection/v1/AccountsHandling.svc/$metadata#AccountSet")
    );
    let mut accounts: Vec<String> = Vec::new();
    let mut page = first.body;
    let mut pages = 0;
    loop {
        pages += 1;
        accounts.extend(values(&page).iter().map(|a| a["Account"].as_str().unwrap().to_owned()));
        let Some(next) = page["@odata.nextLink"].as_str() else { break };
        assert!(next.starts_with(&env.server.base_url()), "absolute: {next}");
        // Followed verbatim.
        let answer = send(env.http.get(next).bearer_auth(&env.token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{next}: {}", answer.body);
        page = answer.body;
    }
    assert_eq!(pages, 3);
    assert_eq!(accounts.len(), 250);
    assert_eq!(accounts.first().map(String::as_str), Some("7000"));
    assert_eq!(accounts.last().map(String::as_str), Some("7249"));

    // $top larger than a page: the next link carries the rest of $top.
    let top = send(env.get("AccountsHandling.svc/AccountSet?$filter=Company eq '20'&$top=150&$select=Account")).await;
    assert_eq!(values(&top.body).len(), 100);
    let next = top.body["@odata.nextLink"].as_str().unwrap();
    assert!(next.contains("$top=50") && next.contains("$skip=100"), "{next}");
    let rest = send(env.http.get(next).bearer_auth(&env.token)).await;
    assert_eq!(values(&rest.body).len(), 50);
    assert!(rest.body.get("@odata.nextLink").is_none());
    assert!(values(&rest.body)[0].get("Description").is_none(), "$select survives paging");

    env.sim.set_page_size(10);
    let small =
        send(env.get("AccountsHandling.svc/AccountSet?$filter=Company eq '20'&$orderby=Account desc&$skip=5&$top=12"))
            .await;
    let got: Vec<&str> = values(&small.body).iter().map(|a| a["Account"].as_str().unwrap()).collect();
    assert_eq!(got.len(), 10);
    assert_eq!(got[0], "7244", "ordered descending, after skipping 7249..7245");
}

#[tokio::test]
async fn filters_take_ifs_literals() {
    let env = env().await;
    env.create_invoice("EMPJDOE", "F-1", 100.0).await;
    env.create_invoice("S1000", "F-2", 250.0).await;
    let count = |query: &'static str| {
        let request = env.get(&format!("{INVOICES}?$filter=Company eq '10' and {query}"));
        async move {
            let answer = send(request).await;
            assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.body);
            values(&answer.body).len()
        }
    };
    assert_eq!(count("InvoiceDate eq 2024-03-15").await, 2);
    assert_eq!(count("DueDate lt 2024-04-14").await, 0);
    assert_eq!(count("PartyType eq IfsApp.ManualSupplierInvoiceHandling.PartyType'Supplier'").await, 2);
    assert_eq!(count("Objstate eq IfsApp.ManualSupplierInvoiceHandling.ManSuppInvoiceState'Preliminary'").await, 2);
    assert_eq!(count("GrossCurrAmount gt 100").await, 1);
    assert_eq!(count("GrossCurrAmount ge 100.00 and not (Identity eq 'S1000')").await, 1);
    assert_eq!(count("(InvoiceNo eq 'F-1' or InvoiceNo eq 'F-2') and endswith(InvoiceNo,'2')").await, 1);
    assert_eq!(count("contains(InvoiceNo,'f')").await, 0, "case-sensitive");
    assert_eq!(count("Description eq null").await, 2);

    for bad in [
        "PartyType eq 'Supplier'",
        "PartyType eq IfsApp.SupplierHandling.PartyType'Supplier'",
        "InvoiceDate eq '2024-03-15'",
        "InvoiceDate eq datetime'2024-03-15'",
        "Nope eq 1",
        "InvoiceNo eq 'x",
    ] {
        let answer = send(env.get(&format!("{INVOICES}?$filter=Company eq '10' and {bad}"))).await;
        assert_eq!((answer.status, answer.code()), (StatusCode::BAD_REQUEST, "ODP_BAD_REQUEST"), "{bad}");
    }
    for bad in ["$select=Nope", "$orderby=Nope", "$top=x", "$expand=Nope", "$search=x"] {
        let answer = send(env.get(&format!("{INVOICES}?$filter=Company eq '10'&{bad}"))).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // Reference data queries from the reference.
    let accounts = send(env.get("AccountsHandling.svc/AccountSet?$filter=Company eq '10' and ValidUntil ge 2024-03-15 and BlockedForDirectPosting eq false&$select=Account,Description,AccntType&$top=500")).await;
    let names: Vec<&str> = values(&accounts.body).iter().map(|a| a["Account"].as_str().unwrap()).collect();
    assert_eq!(names, ["2440", "6100"]);
    assert!(accounts.body["@odata.context"].as_str().unwrap().ends_with("#AccountSet(Account,Description,AccntType)"));
    let costs = send(env.get("AccountsHandling.svc/AccountSet?$filter=Company eq '10' and LogicalAccountType eq IfsApp.AccountsHandling.AccountTypeValue'Cost'")).await;
    assert_eq!(values(&costs.body).len(), 2);
    let cost_centers = send(env.get("CodePartValuesHandling.svc/CodePartValueSet?$filter=Company eq '10' and CodePart eq 'B'&$select=CodeValue,Description,ValidFrom,ValidUntil")).await;
    let codes: Vec<&str> = values(&cost_centers.body).iter().map(|c| c["CodeValue"].as_str().unwrap()).collect();
    assert_eq!(codes, ["110", "120"]);
    assert_eq!(values(&cost_centers.body)[0]["ValidUntil"], "2049-12-31");
    let parts = send(env.get("CodePartValuesHandling.svc/CodePartSet?$filter=Company eq '10'")).await;
    let parts: Vec<(&str, &str)> = values(&parts.body)
        .iter()
        .map(|p| (p["CodePart"].as_str().unwrap(), p["CodeName"].as_str().unwrap()))
        .collect();
    assert_eq!(parts, [("A", "Account"), ("B", "Cost Center"), ("C", "Project")]);
    let suppliers =
        send(env.get("SupplierHandling.svc/SupplierInfoGeneralSet?$filter=contains(Name,'Doe')&$top=20")).await;
    assert_eq!(values(&suppliers.body)[0]["SupplierId"], "EMPJDOE");
    let expanded = send(env.get(
        "SupplierHandling.svc/SupplierInfoGeneralSet?$expand=SupplierInvoiceCompanies&$filter=SupplierId eq 'EMPJDOE'",
    ))
    .await;
    let companies: Vec<&str> = values(&expanded.body)[0]["SupplierInvoiceCompanies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Company"].as_str().unwrap())
        .collect();
    assert_eq!(companies, ["10", "20"]);
}

#[tokio::test]
async fn ieee754_compatible_returns_decimals_as_strings() {
    let env = env().await;
    let id = env.create_invoice("EMPJDOE", "D-1", 245.5).await;
    let url = format!("{INVOICES}(Company='10',InvoiceId={id})");
    let plain = send(env.get(&url)).await;
    assert_eq!(plain.body["GrossCurrAmount"], json!(245.5));
    let strings =
        send(env.get(&url).header("Accept", "application/json;odata.metadata=minimal;IEEE754Compatible=true")).await;
    assert_eq!(strings.body["GrossCurrAmount"], json!("245.5"));
    assert_eq!(strings.body["InvoiceId"], json!(id));
    let single_filter = send(env.get(&format!("{url}?$filter=Company eq '10'"))).await;
    assert_eq!(single_filter.status, StatusCode::BAD_REQUEST, "collection options on a single entity");
}
