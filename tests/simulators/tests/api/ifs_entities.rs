//! IFS simulator over real HTTP: company isolation, supplier invoices and
//! their postings, vouchers, purchase orders and their goods receipts,
//! business validation, ETags (If-Match current / stale / `*` / missing =
//! upsert / required), the write log and after-commit misbehaviour.

use crate::ifs_support;

use ifs_support::{Answer, Env, INVOICES, env, send};
use reqwest::StatusCode;
use serde_json::{Value, json};
use simulators::ifs::AfterCommit;

fn invoice_url(id: i64) -> String {
    format!("{INVOICES}(Company='10',InvoiceId={id})")
}

fn postings_url(id: i64) -> String {
    format!("{}/ManSuppInvoicePostings", invoice_url(id))
}

async fn etag_of(env: &Env, path: &str) -> String {
    let answer = send(env.get(path)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let etag = answer.body["@odata.etag"].as_str().unwrap().to_owned();
    assert_eq!(answer.header("etag"), Some(etag.as_str()));
    etag
}

fn assert_database_error(answer: &Answer, needle: &str) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.code(), "DATABASE_ERROR", "{}", answer.body);
    assert!(answer.message().contains(needle), "'{}' should mention '{needle}'", answer.message());
}

#[tokio::test]
async fn company_must_be_given_and_accessible() {
    let env = env().await;
    for set in [
        INVOICES,
        "VoucherEntryHandling.svc/VoucherSet",
        "AccountsHandling.svc/AccountSet",
        "CodePartValuesHandling.svc/CodePartValueSet",
        "CodePartValuesHandling.svc/CodePartSet",
        "PurchaseOrderHandling.svc/PurchaseOrderSet",
    ] {
        assert_database_error(&send(env.get(set)).await, "Company must be given");
        let or = send(env.get(&format!("{set}?$filter=Company eq '10' or Company eq '30'"))).await;
        assert_database_error(&or, "Company must be given");
        let forbidden = send(env.get(&format!("{set}?$filter=Company eq '30'"))).await;
        assert_eq!((forbidden.status, forbidden.code()), (StatusCode::FORBIDDEN, "ODP_FORBIDDEN"), "{set}");
        assert_database_error(&send(env.get(&format!("{set}?$filter=Company eq '99'"))).await, "99");
        let ok = send(env.get(&format!("{set}?$filter=Company eq '10'"))).await;
        assert_eq!(ok.status, StatusCode::OK, "{set}: {}", ok.body);
        assert!(ok.body["value"].as_array().unwrap().iter().all(|r| r["Company"] == "10"));
    }
    // Suppliers are not company data.
    assert_eq!(send(env.get("SupplierHandling.svc/SupplierInfoGeneralSet")).await.status, StatusCode::OK);
    // Keys and bodies are checked too.
    let by_key = send(env.get("AccountsHandling.svc/AccountSet(Company='30',Account='6100')")).await;
    assert_eq!(by_key.status, StatusCode::FORBIDDEN);
    let body = json!({"Company": "30", "Identity": "S3000", "InvoiceNo": "X", "InvoiceDate": "2024-03-15", "GrossCurrAmount": 1});
    assert_eq!(send(env.post(INVOICES, &body)).await.status, StatusCode::FORBIDDEN);
    let mut no_company = body.clone();
    no_company.as_object_mut().unwrap().remove("Company");
    assert_database_error(&send(env.post(INVOICES, &no_company)).await, "[Company]");
    // Navigation rows of other companies are not listed.
    let companies =
        send(env.get("SupplierHandling.svc/SupplierInfoGeneralSet(SupplierId='S3000')/SupplierInvoiceCompanies")).await;
    assert_eq!(companies.body["value"], json!([]));
}

#[tokio::test]
async fn creates_an_invoice_with_postings() {
    let env = env().await;
    let body = json!({
        "Company": "10", "Identity": "EMPJDOE", "PartyType": "Supplier", "InvoiceNo": "CNQ-8842",
        "InvoiceDate": "2024-03-15", "DueDate": "2024-04-14", "Currency": "USD",
        "NetCurrAmount": 245.50, "VatCurrAmount": 0, "GrossCurrAmount": 245.50,
        "PayTermId": "30", "OurReference": "Concur report CNQ-8842", "Cf_Concur_Id": "9C1A77"
    });
    let created = send(env.post(INVOICES, &body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let invoice = &created.body;
    let id = invoice["InvoiceId"].as_i64().unwrap();
    assert_eq!(invoice["Objstate"], "Preliminary");
    assert_eq!(invoice["luname"], "ManSuppInvoice");
    assert_eq!(invoice["keyref"], format!("COMPANY=10^INVOICE_ID={id}^"));
    assert_eq!(invoice["GrossCurrAmount"], json!(245.5));
    assert_eq!(invoice["CurrRate"], json!(1));
    assert!(
        invoice["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("ManualSupplierInvoiceHandling.svc/$metadata#ManSuppInvoiceSet/$entity")
    );
    assert_eq!(created.header("etag"), invoice["@odata.etag"].as_str());
    assert!(created.header("location").unwrap().ends_with(&format!("ManSuppInvoiceSet(Company='10',InvoiceId={id})")));

    for (amount, account, cost_center) in [(200.00, "6100", "110"), (45.50, "6100", "120")] {
        let row = json!({"Company": "10", "InvoiceId": id, "CodeA": account, "CodeB": cost_center, "CurrAmount": amount, "Text": "Hotel"});
        let answer = send(env.post(&postings_url(id), &row)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(answer.body["luname"], "ManSuppInvoicePosting");
    }
    // Parent keys may be left out of a child body (they come from the URL), but not Company.
    let answer = send(env.post(&postings_url(id), &json!({"Company": "10", "CodeA": "6100", "CurrAmount": 0}))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(answer.body["RowNo"], 3);
    let del = send(
        env.delete(&format!(
            "{INVOICES}(Company='10',InvoiceId={id})/ManSuppInvoicePostings(Company='10',InvoiceId={id},RowNo=3)"
        ))
        .header("If-Match", "*"),
    )
    .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.body);

    let rows = send(env.get(&postings_url(id))).await;
    let numbers: Vec<i64> =
        rows.body["value"].as_array().unwrap().iter().map(|r| r["RowNo"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [1, 2]);
    let expanded = send(env.get(&format!("{}?$expand=ManSuppInvoicePostings", invoice_url(id)))).await;
    assert_eq!(expanded.body["ManSuppInvoicePostings"].as_array().unwrap().len(), 2);

    let stored = env.sim.invoices("10");
    assert_eq!(stored.len(), 1);
    let sum: f64 =
        stored[0]["ManSuppInvoicePostings"].as_array().unwrap().iter().map(|r| r["CurrAmount"].as_f64().unwrap()).sum();
    assert_eq!(sum, 245.5);
    assert!(env.sim.invoices("20").is_empty());

    // The duplicate check the connector runs.
    let query = "?$filter=Company eq '10' and Identity eq 'EMPJDOE' and InvoiceNo eq 'CNQ-8842'&$select=Company,InvoiceId,InvoiceNo,Objstate";
    let found = send(env.get(&format!("{INVOICES}{query}"))).await;
    assert_eq!(found.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(found.body["value"][0]["InvoiceId"], id);
    assert!(found.body["value"][0].get("GrossCurrAmount").is_none(), "$select limits the attributes");

    // A credit note: negative gross.
    let credit = json!({"Company": "10", "Identity": "EMPJDOE", "InvoiceNo": "CNQ-8842-CR", "InvoiceDate": "2024-03-16", "GrossCurrAmount": -20.00});
    let answer = send(env.post(INVOICES, &credit)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(answer.body["PartyType"], "Supplier");
    assert_eq!(answer.body["Currency"], "USD", "defaults to the company currency");
}

#[tokio::test]
async fn business_validation_answers_database_error() {
    let env = env().await;
    let id = env.create_invoice("EMPJDOE", "INV-1", 100.0).await;
    let base = json!({"Company": "10", "Identity": "EMPJDOE", "InvoiceNo": "INV-2", "InvoiceDate": "2024-03-15", "GrossCurrAmount": 10});
    let with = |patch: Value| {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    assert_database_error(&send(env.post(INVOICES, &with(json!({"Identity": "NOBODY"})))).await, "NOBODY");
    assert_database_error(&send(env.post(INVOICES, &with(json!({"Identity": "S3000"})))).await, "S3000");
    assert_database_error(&send(env.post(INVOICES, &with(json!({"InvoiceNo": "INV-1"})))).await, "INV-1");
    assert_database_error(
        &send(env.post(INVOICES, &with(json!({"NetCurrAmount": 9, "VatCurrAmount": 2})))).await,
        "Gross",
    );
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("InvoiceDate");
    assert_database_error(&send(env.post(INVOICES, &missing)).await, "[InvoiceDate]");
    assert_database_error(&send(env.post(INVOICES, &with(json!({"InvoiceId": 5})))).await, "[InvoiceId]");
    // The same InvoiceNo is fine for another supplier.
    assert_eq!(
        send(env.post(INVOICES, &with(json!({"Identity": "S1000", "InvoiceNo": "INV-1"})))).await.status,
        StatusCode::CREATED
    );

    let posting = |code_a: &str, extra: Value| {
        let mut row = json!({"Company": "10", "InvoiceId": id, "CodeA": code_a, "CurrAmount": 100});
        for (k, v) in extra.as_object().unwrap() {
            row[k] = v.clone();
        }
        row
    };
    let url = postings_url(id);
    assert_database_error(&send(env.post(&url, &posting("9999", json!({})))).await, "Account 9999");
    assert_database_error(&send(env.post(&url, &posting("6999", json!({})))).await, "blocked");
    assert_database_error(&send(env.post(&url, &posting("6100", json!({"CodeB": "999"})))).await, "999");
    assert_database_error(&send(env.post(&url, &posting("6100", json!({"CodeD": "X"})))).await, "Code part D");
    assert_database_error(&send(env.post(&url, &posting("6100", json!({"InvoiceId": id + 1})))).await, "InvoiceId");
    assert_eq!(
        send(env.post(&url, &posting("6100", json!({"CodeB": "110", "CodeC": "P1"})))).await.status,
        StatusCode::CREATED
    );

    env.sim.set_invoice_state("10", id, "Authorized");
    assert_database_error(&send(env.post(&url, &posting("6100", json!({})))).await, "Preliminary");
    let patch = send(env.patch(&invoice_url(id), &json!({"Description": "late"})).header("If-Match", "*")).await;
    assert_database_error(&patch, "Preliminary");

    // Deserialization errors.
    let system = send(env.post(INVOICES, &with(json!({"@odata.etag": "W/\"x\""})))).await;
    assert_eq!((system.status, system.code()), (StatusCode::BAD_REQUEST, "ODP_DESERIALIZATION_ERROR"));
    for member in ["luname", "keyref", "Objgrants", "Objid", "Objversion", "Objstate", "Objkey"] {
        let answer = send(env.post(INVOICES, &with(json!({member: "x"})))).await;
        assert_eq!(answer.code(), "ODP_DESERIALIZATION_ERROR", "{member}");
    }
    let unknown = send(env.post(INVOICES, &with(json!({"Cf_Unknown": "x"})))).await;
    assert_eq!(unknown.code(), "ODP_DESERIALIZATION_ERROR");
    let no_type = send(env.http.post(env.url(INVOICES)).bearer_auth(&env.token).body(base.to_string())).await;
    assert_eq!((no_type.status, no_type.code()), (StatusCode::BAD_REQUEST, "ODP_DESERIALIZATION_ERROR"));
    let text = send(
        env.http
            .post(env.url(INVOICES))
            .bearer_auth(&env.token)
            .header("Content-Type", "text/plain")
            .body(base.to_string()),
    )
    .await;
    assert_eq!(text.code(), "ODP_DESERIALIZATION_ERROR");
    let string_amount =
        send(env.post(INVOICES, &with(json!({"InvoiceNo": "INV-3", "GrossCurrAmount": "10.00"})))).await;
    assert_eq!(string_amount.code(), "ODP_DESERIALIZATION_ERROR", "decimal strings need IEEE754Compatible=true");
    let ieee = send(
        env.post(INVOICES, &with(json!({"InvoiceNo": "INV-3", "GrossCurrAmount": "10.10"})))
            .header("Accept", "application/json;odata.metadata=minimal;IEEE754Compatible=true"),
    )
    .await;
    assert_eq!(ieee.status, StatusCode::CREATED, "{}", ieee.body);
    assert_eq!(ieee.body["GrossCurrAmount"], "10.1");
    assert!(ieee.body["InvoiceId"].as_i64().is_some(), "integers stay numbers");
}

#[tokio::test]
async fn patch_and_delete_follow_the_etag_rules() {
    let env = env().await;
    let id = env.create_invoice("EMPJDOE", "E-1", 50.0).await;
    let url = invoice_url(id);

    // Current ETag → 200 with the full entity and a new ETag.
    let first = etag_of(&env, &url).await;
    let ok = send(env.patch(&url, &json!({"Description": "one"})).header("If-Match", &first)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["Description"], "one");
    assert_eq!(ok.body["InvoiceNo"], "E-1");
    let second = ok.body["@odata.etag"].as_str().unwrap().to_owned();
    assert_ne!(first, second, "objversion changes on every update");
    assert_eq!(ok.header("etag"), Some(second.as_str()));

    // Stale ETag → 412.
    let stale = send(env.patch(&url, &json!({"Description": "two"})).header("If-Match", &first)).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "ODP_PRECONDITION_FAILED"));

    // `*` → no check.
    let star = send(env.patch(&url, &json!({"Description": "three"})).header("If-Match", "*")).await;
    assert_eq!(star.status, StatusCode::OK);

    // Prefer: return=minimal → 204 with the new ETag.
    let current = etag_of(&env, &url).await;
    let minimal =
        send(env.patch(&url, &json!({"Text": "t"})).header("If-Match", &current).header("Prefer", "return=minimal"))
            .await;
    assert_eq!(minimal.status, StatusCode::NO_CONTENT);
    assert_eq!(minimal.header("etag"), Some(etag_of(&env, &url).await.as_str()));

    // Not updatable / system members.
    let current = etag_of(&env, &url).await;
    let identity = send(env.patch(&url, &json!({"Identity": "S1000"})).header("If-Match", &current)).await;
    assert_eq!(identity.code(), "DATABASE_ERROR");
    let objstate = send(env.patch(&url, &json!({"Objstate": "Posted"})).header("If-Match", &current)).await;
    assert_eq!(objstate.code(), "ODP_DESERIALIZATION_ERROR");

    // No If-Match → upsert: update of the existing row (non-updatable attributes ignored)...
    let upsert = send(env.patch(&url, &json!({"Description": "upserted", "Identity": "S1000"}))).await;
    assert_eq!(upsert.status, StatusCode::OK, "{}", upsert.body);
    assert_eq!(
        (upsert.body["Description"].as_str(), upsert.body["Identity"].as_str()),
        (Some("upserted"), Some("EMPJDOE"))
    );
    // ...but no insert where IFS numbers the key.
    let insert = send(env.patch(
        &invoice_url(999_999),
        &json!({"Identity": "EMPJDOE", "InvoiceNo": "U", "InvoiceDate": "2024-03-15", "GrossCurrAmount": 1}),
    ))
    .await;
    assert_eq!(insert.code(), "DATABASE_ERROR");
    // With If-Match, a missing row is 404.
    let missing = send(env.patch(&invoice_url(999_999), &json!({"Description": "x"})).header("If-Match", "*")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Older releases: If-Match required.
    env.sim.require_if_match(true);
    let required = send(env.patch(&url, &json!({"Description": "x"}))).await;
    assert_eq!((required.status, required.code()), (StatusCode::PRECONDITION_REQUIRED, "ODP_MISSING_PRECONDITION"));
    assert_eq!(send(env.delete(&url)).await.status, StatusCode::PRECONDITION_REQUIRED);
    env.sim.require_if_match(false);

    // Someone else updates in between.
    env.sim.stale_etag_next(1);
    let current = etag_of(&env, &url).await;
    let raced = send(env.patch(&url, &json!({"Description": "mine"})).header("If-Match", &current)).await;
    assert_eq!(raced.status, StatusCode::PRECONDITION_FAILED);
    assert_ne!(etag_of(&env, &url).await, current, "the entity moved on");
    let retried =
        send(env.patch(&url, &json!({"Description": "mine"})).header("If-Match", etag_of(&env, &url).await)).await;
    assert_eq!(retried.status, StatusCode::OK);

    // DELETE: stale → 412, current → 204 (postings go with the invoice).
    send(env.post(&postings_url(id), &json!({"Company": "10", "CodeA": "6100", "CurrAmount": 50}))).await;
    let stale = send(env.delete(&url).header("If-Match", &first)).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let current = etag_of(&env, &url).await;
    let gone = send(env.delete(&url).header("If-Match", &current)).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(send(env.get(&url)).await.status, StatusCode::NOT_FOUND);
    assert!(env.sim.invoices("10").is_empty());

    // The write log: what each PATCH/DELETE carried.
    let writes = env.sim.writes();
    let summary: Vec<(&str, Option<&str>, bool, u16)> =
        writes.iter().map(|w| (w.method.as_str(), w.if_match.as_deref(), w.was_current, w.status)).collect();
    let star = Some("*");
    assert_eq!(
        summary,
        [
            ("PATCH", Some(first.as_str()), true, 200),
            ("PATCH", Some(first.as_str()), false, 412),
            ("PATCH", star, false, 200),
            ("PATCH", summary[3].1, true, 204),
            ("PATCH", summary[4].1, true, 400),
            ("PATCH", summary[5].1, true, 400),
            ("PATCH", None, false, 200),
            ("PATCH", None, false, 400),
            ("PATCH", star, false, 404),
            ("PATCH", None, false, 428),
            ("DELETE", None, false, 428),
            ("PATCH", summary[11].1, true, 412),
            ("PATCH", summary[12].1, true, 200),
            ("DELETE", Some(first.as_str()), false, 412),
            ("DELETE", summary[14].1, true, 204),
        ]
    );
    assert!(writes[0].path.ends_with(&format!("ManSuppInvoiceSet(Company='10',InvoiceId={id})")), "{}", writes[0].path);
    let sloppy: Vec<_> =
        writes.iter().filter(|w| w.method == "PATCH" && !w.was_current && w.if_match.as_deref() != Some("*")).collect();
    assert_eq!(sloppy.len(), 4, "a client test asserts this is empty");
    env.sim.clear_writes();
    assert!(env.sim.writes().is_empty());
}

#[tokio::test]
async fn upsert_inserts_where_the_client_owns_the_key() {
    let env = env().await;
    let url = "SupplierHandling.svc/SupplierInfoGeneralSet(SupplierId='EMPNEW')";
    let created =
        send(env.patch(url, &json!({"SupplierId": "IGNORED", "Name": "New Employee", "Country": "US"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["SupplierId"], "EMPNEW", "keys come from the URL");
    let company = send(env.patch(
        &format!("{url}/SupplierInvoiceCompanies(SupplierId='EMPNEW',Company='10')"),
        &json!({"PayTermId": "30"}),
    ))
    .await;
    assert_eq!(company.status, StatusCode::CREATED, "{}", company.body);
    assert_eq!(company.body["Currency"], "USD");
    let forbidden =
        send(env.patch(&format!("{url}/SupplierInvoiceCompanies(SupplierId='EMPNEW',Company='30')"), &json!({}))).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    // Now invoices can be entered for the new supplier.
    env.create_invoice("EMPNEW", "N-1", 5.0).await;
    // POST with an existing client key → 409.
    let dup = send(
        env.post("SupplierHandling.svc/SupplierInfoGeneralSet", &json!({"SupplierId": "EMPNEW", "Name": "Again"})),
    )
    .await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "DATABASE_ERROR"));
    let quote = send(
        env.post("SupplierHandling.svc/SupplierInfoGeneralSet", &json!({"SupplierId": "O'NEIL", "Name": "Pat O'Neil"})),
    )
    .await;
    assert_eq!(quote.status, StatusCode::CREATED);
    let read = send(env.get("SupplierHandling.svc/SupplierInfoGeneralSet(SupplierId='O''NEIL')")).await;
    assert_eq!(read.body["Name"], "Pat O'Neil");
    assert_eq!(read.body["keyref"], "SUPPLIER_ID=O'NEIL^");
}

#[tokio::test]
async fn after_commit_saves_then_misbehaves() {
    let env = env().await;
    env.sim.after_commit(1, AfterCommit::ServerError { status: 503 });
    let body = json!({"Company": "10", "Identity": "EMPJDOE", "InvoiceNo": "AC-1", "InvoiceDate": "2024-03-15", "GrossCurrAmount": 10});
    let answer = send(env.post(INVOICES, &body)).await;
    assert_eq!((answer.status, answer.code()), (StatusCode::SERVICE_UNAVAILABLE, "MI_MODIFIED_ERROR"));
    assert_eq!(env.sim.invoices("10").len(), 1, "the invoice was saved anyway");
    let again = send(env.post(INVOICES, &body)).await;
    assert_eq!(again.code(), "DATABASE_ERROR", "a blind retry hits the duplicate check");

    env.sim.after_commit(1, AfterCommit::Delay { ms: 400 });
    let timeout = env
        .http
        .post(env.url(INVOICES))
        .bearer_auth(&env.token)
        .json(&json!({"Company": "10", "Identity": "EMPJDOE", "InvoiceNo": "AC-2", "InvoiceDate": "2024-03-15", "GrossCurrAmount": 10}))
        .timeout(std::time::Duration::from_millis(100))
        .send()
        .await;
    assert!(timeout.is_err(), "the client gave up");
    assert_eq!(env.sim.invoices("10").len(), 2);
    // Failed POSTs do not consume the queue.
    env.sim.after_commit(1, AfterCommit::ServerError { status: 500 });
    assert_eq!(send(env.post(INVOICES, &json!({"Company": "10"}))).await.status, StatusCode::BAD_REQUEST);
    let third = send(env.post(INVOICES, &json!({"Company": "10", "Identity": "EMPJDOE", "InvoiceNo": "AC-3", "InvoiceDate": "2024-03-15", "GrossCurrAmount": 10}))).await;
    assert_eq!((third.status, third.code()), (StatusCode::INTERNAL_SERVER_ERROR, "MI_MODIFIED_ERROR"));
}

#[tokio::test]
async fn vouchers_take_rows_and_are_read_back_for_balance() {
    let env = env().await;
    let header = json!({"Company": "10", "AccountingYear": 2024, "VoucherType": "M", "VoucherDate": "2024-03-15", "UserGroup": "AC", "Text": "Concur CNQ-8842 accrual"});
    let created = send(env.post("VoucherEntryHandling.svc/VoucherSet", &header)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["Objstate"], "Confirmed");
    let no = created.body["VoucherNo"].as_i64().unwrap();
    assert_eq!(no, 2_024_000_001);
    let rows = format!(
        "VoucherEntryHandling.svc/VoucherSet(Company='10',AccountingYear=2024,VoucherType='M',VoucherNo={no})/VoucherRowArray"
    );
    let keys = json!({"Company": "10", "AccountingYear": 2024, "VoucherType": "M", "VoucherNo": no});
    let row = |extra: Value| {
        let mut r = keys.clone();
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let debit = send(env.post(&rows, &row(json!({"CodeA": "6100", "CodeB": "110", "CurrencyCode": "USD", "CurrencyDebitAmount": 245.50, "ReferenceNumber": "CNQ-8842"})))).await;
    assert_eq!(debit.status, StatusCode::CREATED, "{}", debit.body);
    assert_eq!(debit.body["DebitAmount"], json!(245.5), "accounting amount defaults from the rate");
    let credit =
        send(env.post(&rows, &row(json!({"CodeA": "2440", "CurrencyCreditAmount": 245.50, "CreditAmount": 245.50}))))
            .await;
    assert_eq!(credit.status, StatusCode::CREATED, "{}", credit.body);
    assert_eq!(credit.body["RowNo"], 2);
    let both =
        send(env.post(&rows, &row(json!({"CodeA": "6100", "CurrencyDebitAmount": 1, "CurrencyCreditAmount": 1}))))
            .await;
    assert_database_error(&both, "both a debit and a credit");
    let wrong_year = send(env.post(
        "VoucherEntryHandling.svc/VoucherSet",
        &json!({"Company": "10", "AccountingYear": 2023, "VoucherType": "M", "VoucherDate": "2024-03-15"}),
    ))
    .await;
    assert_database_error(&wrong_year, "accounting year 2023");

    let vouchers = env.sim.vouchers("10");
    assert_eq!(vouchers.len(), 1);
    let lines = vouchers[0]["VoucherRowArray"].as_array().unwrap();
    let total = |attr: &str| lines.iter().map(|l| l[attr].as_f64().unwrap_or(0.0)).sum::<f64>();
    assert_eq!(total("DebitAmount"), total("CreditAmount"));

    let found =
        send(env.get("VoucherEntryHandling.svc/VoucherSet?$filter=Company eq '10' and contains(Text,'CNQ-8842')"))
            .await;
    assert_eq!(found.body["value"].as_array().unwrap().len(), 1);
    env.sim.set_voucher_state("10", 2024, "M", no, "Posted");
    assert_database_error(
        &send(env.post(&rows, &row(json!({"CodeA": "6100", "CurrencyDebitAmount": 1})))).await,
        "Posted",
    );
}

#[tokio::test]
async fn purchase_orders_with_lines() {
    let env = env().await;
    let sets = "PurchaseOrderHandling.svc/PurchaseOrderSet";
    let header = json!({"OrderNo": "PO-1001", "Company": "10", "VendorNo": "S1000", "Contract": "MAIN", "OrderDate": "2024-03-15", "BuyerCode": "ALAIN", "Cf_Concur_Po": "CPO-77"});
    let created = send(env.post(sets, &header)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        (created.body["CurrencyCode"].as_str(), created.body["Objstate"].as_str()),
        (Some("USD"), Some("Planned"))
    );
    let mut no_company = header.clone();
    no_company.as_object_mut().unwrap().remove("Company");
    no_company["OrderNo"] = json!("PO-1002");
    assert_database_error(&send(env.post(sets, &no_company)).await, "[Company]");
    let foreign_vendor = json!({"OrderNo": "PO-1003", "Company": "20", "VendorNo": "S1000"});
    assert_database_error(&send(env.post(sets, &foreign_vendor)).await, "S1000");

    let lines = format!("{sets}(OrderNo='PO-1001')/PurchaseOrderLineArray");
    let line = send(env.post(&lines, &json!({"Description": "Laptop", "BuyQtyDue": 2, "BuyUnitMeas": "pcs", "FbuyUnitPrice": 999.90, "WantedDeliveryDate": "2024-04-01"}))).await;
    assert_eq!(line.status, StatusCode::CREATED, "{}", line.body);
    assert_eq!((line.body["LineNo"].as_str(), line.body["ReleaseNo"].as_str()), (Some("1"), Some("1")));
    assert_database_error(&send(env.post(&lines, &json!({"BuyQtyDue": 1}))).await, "PartNo or Description");
    assert_database_error(
        &send(env.post(&lines, &json!({"PartNo": "P-1", "BuyQtyDue": 0}))).await,
        "greater than zero",
    );
    let second = send(env.post(&lines, &json!({"PartNo": "P-1", "LineNo": "5", "BuyQtyDue": 3}))).await;
    assert_eq!(second.body["LineNo"], "5");

    let orders = env.sim.purchase_orders("10");
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["PurchaseOrderLineArray"].as_array().unwrap().len(), 2);
    let by_concur = send(env.get(&format!("{sets}?$filter=Company eq '10' and Cf_Concur_Po eq 'CPO-77'"))).await;
    assert_eq!(by_concur.body["value"][0]["OrderNo"], "PO-1001");

    // Another client without company 10 cannot read it, by key or by line.
    let other = ifs_support::client_token(&env.server, &env.http, "OTHER", "other").await;
    let by_key = send(env.http.get(env.url(&format!("{sets}(OrderNo='PO-1001')"))).bearer_auth(&other)).await;
    assert_eq!(by_key.status, StatusCode::FORBIDDEN);
    let line_by_key = send(
        env.http.get(env.url(&format!("{lines}(OrderNo='PO-1001',LineNo='1',ReleaseNo='1')"))).bearer_auth(&other),
    )
    .await;
    assert_eq!(line_by_key.status, StatusCode::FORBIDDEN);

    env.sim.set_purchase_order_state("PO-1001", "Released");
    assert_database_error(&send(env.post(&lines, &json!({"PartNo": "P-2", "BuyQtyDue": 1}))).await, "Planned");
}

#[tokio::test]
async fn goods_receipts_are_read_only_company_rows_of_released_lines() {
    use rust_decimal::Decimal;
    use simulators::ifs::PoLineSeed;
    use time::macros::date;

    let env = env().await;
    let one = Decimal::ONE;
    env.sim.add_purchase_order("10", "PO-7", "S1000", "USD", date!(2024 - 03 - 15));
    env.sim.add_purchase_order_line("PO-7", &PoLineSeed::new("1", "Laptop", one, one));
    env.sim.set_purchase_order_state("PO-7", "Released");
    env.sim.add_purchase_receipt("PO-7", "1", "1", 1, date!(2024 - 03 - 20), one);
    env.sim.add_purchase_receipt("PO-7", "1", "1", 2, date!(2024 - 03 - 21), one);
    env.sim.set_purchase_receipt_state("PO-7", "1", "1", 2, "Cancelled");
    let set = "PurchaseReceiptHandling.svc/PurchaseReceiptSet";

    assert_database_error(&send(env.get(set)).await, "Company must be given");
    let cancelled = "IfsApp.PurchaseReceiptHandling.PurchaseReceiptState'Cancelled'";
    let listed = send(env.get(&format!("{set}?$filter=Company eq '10' and Objstate ne {cancelled}"))).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let rows = listed.body["value"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["ReceiptNo"].as_i64(), rows[0]["Objstate"].as_str()), (Some(1), Some("Received")));
    let unknown_state = send(env.get(&format!("{set}?$filter=Company eq '10' and Objstate eq {cancelled}x"))).await;
    assert_eq!(unknown_state.status, StatusCode::BAD_REQUEST);
    let by_key = send(env.get(&format!("{set}(OrderNo='PO-7',LineNo='1',ReleaseNo='1',ReceiptNo=2)"))).await;
    assert_eq!(by_key.body["Objstate"], "Cancelled");
    let post = json!({"OrderNo": "PO-7", "LineNo": "1", "ReleaseNo": "1", "ReceiptNo": 3, "Company": "10"});
    assert_eq!(send(env.post(set, &post)).await.status, StatusCode::METHOD_NOT_ALLOWED);
}
