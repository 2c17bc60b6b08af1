//! Acumatica simulator over real HTTP: wire format, PUT upsert, querying,
//! validation errors, Bills, Journal Transactions and release actions;
//! purchase orders and receipts, projects and their tasks, read only.

use reqwest::{Client, RequestBuilder, Response, StatusCode, header};
use serde_json::{Value, json};
use simulators::RunningSimulator;
use simulators::acumatica::{
    AcumaticaSim, PurchaseOrderLineSpec, PurchaseOrderSpec, PurchaseReceiptSpec, ReceiptLineSpec, TenantSpec,
};

const GUID: &str = "88358B02-A48D-A50E-F710-39C1636C30F6";
const BASE: &str = "/entity/Default/24.200.001";

struct Env {
    sim: AcumaticaSim,
    server: RunningSimulator,
    http: Client,
    token: String,
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{BASE}{path}", self.server.base_url())
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(&self.token)
    }

    fn put(&self, path: &str, body: &Value) -> RequestBuilder {
        self.http.put(self.url(path)).bearer_auth(&self.token).json(body)
    }

    fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(&self.token).json(body)
    }
}

async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let response: Response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
    (status, body)
}

async fn token_for(server: &RunningSimulator, http: &Client, tenant: &str, guid: &str, secret: &str) -> String {
    let client_id = format!("{guid}@{tenant}");
    let body: Value = http
        .post(format!("{}/identity/connect/token", server.base_url()))
        .form(&[
            ("grant_type", "password"),
            ("client_id", &client_id),
            ("client_secret", secret),
            ("username", "concur_int"),
            ("password", "p@ss"),
            ("scope", "api"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn env() -> Env {
    let sim = AcumaticaSim::new();
    sim.add_tenant(TenantSpec {
        name: "Acme".into(),
        client_id: GUID.into(),
        client_secret: "s3cr3t".into(),
        users: vec![("concur_int".into(), "p@ss".into())],
        branches: vec!["HQ".into()],
    });
    sim.add_vendor("Acme", "V000123", "Acme Supplies", "Active");
    sim.add_vendor("Acme", "V000777", "Other Supplies", "Active");
    sim.add_vendor("Acme", "V000999", "Dormant Ltd", "Inactive");
    sim.add_account("Acme", "60100", "Travel", "Expense", true);
    sim.add_account("Acme", "60200", "Local transport", "Expense", true);
    sim.add_account("Acme", "20500", "Employee payable", "Liability", true);
    sim.add_account("Acme", "69999", "Retired", "Expense", false);
    sim.add_subaccount("Acme", "000-110", "Sales", true);
    sim.add_subaccount("Acme", "000-000", "Default", true);
    let server = sim.clone().start().await;
    let http = Client::new();
    let token = token_for(&server, &http, "Acme", GUID, "s3cr3t").await;
    Env { sim, server, http, token }
}

fn bill(vendor_ref: &str) -> Value {
    json!({
        "Type": {"value": "Bill"},
        "Vendor": {"value": "V000123"},
        "VendorRef": {"value": vendor_ref},
        "Date": {"value": "2024-03-15T00:00:00+00:00"},
        "DueDate": {"value": "2024-04-14T00:00:00+00:00"},
        "CurrencyID": {"value": "USD"},
        "Description": {"value": "Concur expense report CNQ-8842 J. Doe"},
        "Hold": {"value": true},
        "Amount": {"value": 245.50},
        "Details": [
            {"TransactionDescription": {"value": "Hotel 2 nights"}, "Qty": {"value": 1}, "UnitCost": {"value": 200.00},
             "Amount": {"value": 200.00}, "Account": {"value": "60100"}, "Subaccount": {"value": "000-110"}, "Branch": {"value": "HQ"}},
            {"TransactionDescription": {"value": "Taxi"}, "Qty": {"value": 1}, "UnitCost": {"value": 45.50},
             "Amount": {"value": 45.50}, "Account": {"value": "60200"}, "Subaccount": {"value": "000-110"}, "Branch": {"value": "HQ"}}
        ],
        "custom": {"Document": {"UsrConcurKey": {"type": "CustomStringField", "value": "9C1A77"}}}
    })
}

fn journal(debit: &str, credit: &str, hold: bool) -> Value {
    let debit: Value = serde_json::from_str(debit).unwrap();
    let credit: Value = serde_json::from_str(credit).unwrap();
    json!({
        "Module": {"value": "GL"},
        "TransactionDate": {"value": "2024-03-15T00:00:00+00:00"},
        "LedgerID": {"value": "ACTUAL"},
        "BranchID": {"value": "HQ"},
        "CurrencyID": {"value": "USD"},
        "Description": {"value": "Concur CNQ-8842 accrual"},
        "Hold": {"value": hold},
        "Details": [
            {"Account": {"value": "60100"}, "Subaccount": {"value": "000-110"}, "DebitAmount": {"value": debit},
             "CreditAmount": {"value": 0}, "ReferenceNbr": {"value": "CNQ-8842"}},
            {"Account": {"value": "20500"}, "Subaccount": {"value": "000-000"}, "DebitAmount": {"value": 0},
             "CreditAmount": {"value": credit}, "ReferenceNbr": {"value": "CNQ-8842"}}
        ]
    })
}

fn num(v: &Value) -> String {
    v["value"].to_string()
}

#[tokio::test]
async fn bare_field_is_a_400_binding_error() {
    let env = env().await;
    let mut body = bill("CNQ-1");
    body["Vendor"] = json!("V1");
    let (status, response) = send(env.put("/Bill", &body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        response,
        json!({
            "message": "The request is invalid.",
            "modelState": {"entity.Vendor": ["Error converting value \"V1\" to type 'PX.Api.ContractBased.Models.StringValue'. Path 'Vendor'."]}
        })
    );

    // A bare value inside a detail line, a wrong-case name, an unknown name: same shape.
    let mut body = bill("CNQ-1");
    body["Details"][1]["Amount"] = json!(45.5);
    let (status, response) = send(env.put("/Bill", &body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        response["modelState"]["entity.Details[1].Amount"][0],
        "Error converting value 45.5 to type 'PX.Api.ContractBased.Models.DecimalValue'. Path 'Details[1].Amount'."
    );
    for (name, key) in [("vendor", "entity.vendor"), ("VendorReference", "entity.VendorReference")] {
        let mut body = bill("CNQ-1");
        body[name] = json!({"value": "x"});
        let (status, response) = send(env.put("/Bill", &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            response["modelState"][key][0],
            format!("Could not find member '{name}' on object of type 'Bill'. Path '{name}'.")
        );
    }
    let (status, response) = send(
        env.http
            .put(env.url("/Bill"))
            .bearer_auth(&env.token)
            .header(header::CONTENT_TYPE, "application/json")
            .body("{\"Vendor\": "),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(response["message"], "The request is invalid.");
    assert!(env.sim.bills("Acme").is_empty(), "nothing may be stored");
}

#[tokio::test]
async fn put_bill_creates_with_auto_number_and_details_only_when_expanded() {
    let env = env().await;
    let (status, created) = send(env.put("/Bill?$expand=Details", &bill("CNQ-8842"))).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["ReferenceNbr"]["value"], "000001");
    assert_eq!(created["Status"]["value"], "On Hold");
    assert_eq!(created["PostPeriod"]["value"], "032024");
    assert_eq!(created["Date"]["value"], "2024-03-15T00:00:00+00:00");
    assert_eq!(num(&created["Amount"]), "245.5");
    assert_eq!(num(&created["Balance"]), "245.5");
    assert_eq!(created["note"], json!({"value": ""}));
    assert_eq!(created["custom"], json!({}), "custom fields only with $custom");
    assert!(created["id"].as_str().is_some_and(|id| id.len() == 36));
    let lines = created["Details"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(num(&lines[0]["ExtendedCost"]), "200.0");
    assert_eq!(lines[1]["Account"]["value"], "60200");
    assert_eq!(lines[1]["rowNumber"], 2);
    assert!(lines[0]["id"].is_string());

    let (status, second) = send(env.put("/Bill", &bill("CNQ-8843"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["ReferenceNbr"]["value"], "000002");
    assert!(second.get("Details").is_none(), "contract v4: no Details without $expand");

    // Read back by keys, with and without $expand; custom field on request.
    let (status, read) = send(env.get("/Bill/Bill/000001?$custom=Document.UsrConcurKey")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(read.get("Details").is_none());
    assert_eq!(read["custom"], json!({"Document": {"UsrConcurKey": {"type": "CustomStringField", "value": "9C1A77"}}}));
    let (_, by_id) = send(env.get(&format!("/Bill/{}?$expand=Details", created["id"].as_str().unwrap()))).await;
    assert_eq!(by_id["Details"].as_array().unwrap().len(), 2);
    assert_eq!(env.sim.bills("Acme").len(), 2);
    assert_eq!(env.sim.bills("Acme")[0]["Details"][1]["TransactionDescription"]["value"], "Taxi");
}

#[tokio::test]
async fn bills_are_found_by_vendor_and_vendor_ref_filter() {
    let env = env().await;
    send(env.put("/Bill", &bill("CNQ-8842"))).await;
    send(env.put("/Bill", &bill("CNQ-9000"))).await;
    let lookup = |filter: &str| {
        env.get("/Bill").query(&[("$filter", filter), ("$select", "Type,ReferenceNbr,Status,VendorRef,Amount")])
    };
    let (status, found) = send(lookup("Vendor eq 'V000123' and VendorRef eq 'CNQ-8842'")).await;
    assert_eq!(status, StatusCode::OK);
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["ReferenceNbr"]["value"], "000001");
    assert_eq!(found[0]["rowNumber"], 1);
    assert!(found[0].get("Vendor").is_none(), "$select restricts the fields");
    let (_, none) = send(lookup("Vendor eq 'V000123' and VendorRef eq 'CNQ-0000'")).await;
    assert_eq!(none, json!([]));
    let (_, both) = send(lookup("substringof('CNQ',VendorRef) and (Amount gt 245 or Hold eq false)")).await;
    assert_eq!(both.as_array().unwrap().len(), 2);
    let (_, paged) = send(env.get("/Bill").query(&[("$top", "1"), ("$skip", "1")])).await;
    assert_eq!(paged.as_array().unwrap().len(), 1);
    assert_eq!(paged[0]["VendorRef"]["value"], "CNQ-9000");

    // datetimeoffset literals: `ge` includes the record's own timestamp, `gt` excludes it.
    let (_, all) = send(env.get("/Bill")).await;
    let stamp = all[0]["LastModifiedDateTime"]["value"].as_str().unwrap().to_owned();
    let refs = |rows: &Value| -> Vec<String> {
        rows.as_array().unwrap().iter().map(|r| r["ReferenceNbr"]["value"].as_str().unwrap().to_owned()).collect()
    };
    let (status, ge) =
        send(env.get("/Bill").query(&[("$filter", format!("LastModifiedDateTime ge datetimeoffset'{stamp}'"))])).await;
    assert_eq!(status, StatusCode::OK, "{ge}");
    assert!(refs(&ge).contains(&"000001".to_owned()));
    let (_, gt) =
        send(env.get("/Bill").query(&[("$filter", format!("LastModifiedDateTime gt datetimeoffset'{stamp}'"))])).await;
    assert!(!refs(&gt).contains(&"000001".to_owned()), "{stamp}");

    let (status, error) = send(lookup("Vendor eq 'V000123' and")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["message"], "An error has occurred.");
    assert!(error["exceptionMessage"].as_str().unwrap().starts_with("Syntax error at position"), "{error}");
    let (status, _) = send(lookup("NoSuchField eq 'x'")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn custom_field_filter_finds_the_bill() {
    let env = env().await;
    send(env.put("/Bill", &bill("CNQ-8842"))).await;
    let mut other = bill("CNQ-8843");
    other["custom"]["Document"]["UsrConcurKey"]["value"] = json!("O'Hara");
    send(env.put("/Bill", &other)).await;

    let (status, found) = send(env.get("/Bill").query(&[
        ("$filter", "cf.String(f='Document.UsrConcurKey') eq 'O''Hara'"),
        ("$custom", "Document.UsrConcurKey"),
    ]))
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["VendorRef"]["value"], "CNQ-8843");
    assert_eq!(found[0]["custom"]["Document"]["UsrConcurKey"]["value"], "O'Hara");
    let (_, none) =
        send(env.get("/Bill").query(&[("$filter", "cf.String(f='Document.UsrConcurKey') eq 'nope'")])).await;
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn duplicate_vendor_ref_is_422_on_vendor_ref() {
    let env = env().await;
    send(env.put("/Bill", &bill("CNQ-8842"))).await;
    let (status, error) = send(env.put("/Bill", &bill("cnq-8842"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"], "Inserting 'Bill' record raised at least one error. Please review the errors.");
    assert_eq!(error["VendorRef"]["value"], "cnq-8842");
    assert_eq!(
        error["VendorRef"]["error"],
        "The document with the same vendor reference number already exists: Bill 000001."
    );
    assert!(error["Vendor"].get("error").is_none());
    assert_eq!(env.sim.bills("Acme").len(), 1);

    // The same reference for another vendor is fine.
    let mut other = bill("CNQ-8842");
    other["Vendor"] = json!({"value": "V000777"});
    assert_eq!(send(env.put("/Bill", &other)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn unknown_account_vendor_and_missing_fields_are_422_on_the_field() {
    let env = env().await;
    let mut body = bill("CNQ-1");
    body["Details"][1]["Account"] = json!({"value": "99999"});
    let (status, error) = send(env.put("/Bill", &body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error["Details"][1]["Account"],
        json!({"value": "99999", "error": "'Account' cannot be found in the system."})
    );
    assert!(error["Details"][0]["Account"].get("error").is_none());
    assert!(error["Details"][1]["id"].is_string());

    let mut body = bill("CNQ-1");
    body["Details"][0]["Account"] = json!({"value": "69999"});
    body["Vendor"] = json!({"value": "V999999"});
    let (status, error) = send(env.put("/Bill", &body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["Vendor"]["error"], "'Vendor' cannot be found in the system.");
    assert_eq!(error["Details"][0]["Account"]["error"], "Account '69999' is inactive.");

    let mut body = bill("CNQ-1");
    body["Vendor"] = json!({"value": "V000999"});
    body.as_object_mut().unwrap().remove("VendorRef");
    body["Details"][1].as_object_mut().unwrap().remove("Account");
    body["Details"][0]["Subaccount"] = json!({"value": "999-999"});
    let (status, error) = send(env.put("/Bill", &body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["Vendor"]["error"], "The vendor status is 'Inactive'.");
    assert_eq!(error["VendorRef"], json!({"error": "'Vendor Ref.' cannot be empty."}));
    assert_eq!(error["Details"][1]["Account"], json!({"error": "'Account' cannot be empty."}));
    assert_eq!(error["Details"][0]["Subaccount"]["error"], "'Subaccount' cannot be found in the system.");
    assert!(env.sim.bills("Acme").is_empty());
}

#[tokio::test]
async fn missing_record_by_key_is_500_no_entity() {
    let env = env().await;
    for path in [
        "/Bill/Bill/000187",
        "/JournalTransaction/GL/000412",
        "/Vendor/V404",
        "/Bill/5a0d3b8e-1f2c-4c9e-9d7a-0b1c2d3e4f50",
    ] {
        let (status, body) = send(env.get(path)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(body["message"], "An error has occurred.");
        assert_eq!(body["exceptionMessage"], "No entity satisfies the condition.");
        assert_eq!(body["exceptionType"], "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException");
    }
    let (status, vendor) = send(env.get("/Vendor/V000123")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(vendor["VendorName"]["value"], "Acme Supplies");
    let (status, _) = send(env.http.delete(env.url("/Vendor/V404")).bearer_auth(&env.token)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn if_none_match_and_if_match_give_412() {
    let env = env().await;
    let vendor = json!({
        "VendorID": {"value": "EMP-JDOE"},
        "VendorName": {"value": "Jane Doe (employee)"},
        "MainContact": {"Email": {"value": "jane.doe@example.com"}, "Address": {"City": {"value": "Austin"}}}
    });
    let (status, body) = send(env.put("/Vendor?$expand=MainContact", &vendor).header(header::IF_NONE_MATCH, "*")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["MainContact"]["Email"]["value"], "jane.doe@example.com");
    assert_eq!(body["MainContact"]["Address"]["City"]["value"], "Austin");
    assert_eq!(body["Status"]["value"], "Active");

    let (status, body) = send(env.put("/Vendor", &vendor).header(header::IF_NONE_MATCH, "*")).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert!(body["message"].is_string());

    let ghost = json!({"VendorID": {"value": "EMP-GHOST"}, "VendorName": {"value": "Nobody"}});
    let (status, _) = send(env.put("/Vendor", &ghost).header(header::IF_MATCH, "*")).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert!(env.sim.vendors("Acme").iter().all(|v| v["VendorID"]["value"] != "EMP-GHOST"));

    let update = json!({"VendorID": {"value": "EMP-JDOE"}, "VendorName": {"value": "Jane Q. Doe"}});
    let (status, body) = send(env.put("/Vendor?$expand=MainContact", &update).header(header::IF_MATCH, "*")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["VendorName"]["value"], "Jane Q. Doe");
    assert_eq!(body["MainContact"]["Email"]["value"], "jane.doe@example.com", "untouched fields survive an update");
}

#[tokio::test]
async fn a_vendor_gets_the_default_class_and_an_unknown_currency_or_country_is_refused() {
    let env = env().await;
    let vendor = json!({
        "VendorID": {"value": "EMP-NEW"},
        "VendorName": {"value": "New Hire"},
        "CurrencyID": {"value": "XXX"},
        "MainContact": {"Address": {"Country": {"value": "usa"}}}
    });
    let (status, error) = send(env.put("/Vendor", &vendor).header(header::IF_NONE_MATCH, "*")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["CurrencyID"]["error"], "'Currency' cannot be found in the system.");
    assert_eq!(error["MainContact"]["Address"]["Country"]["error"], "'Country' cannot be found in the system.");

    let vendor = json!({"VendorID": {"value": "EMP-NEW"}, "VendorName": {"value": "New Hire"},
        "CurrencyID": {"value": "EUR"}, "MainContact": {"Address": {"Country": {"value": "DE"}}}});
    let (status, saved) = send(env.put("/Vendor", &vendor).header(header::IF_NONE_MATCH, "*")).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["VendorClass"]["value"], "DEFAULT", "AP Preferences' class");
}

#[tokio::test]
async fn invented_auto_number_fails_and_filter_put_updates() {
    let env = env().await;
    let mut body = bill("CNQ-1");
    body["ReferenceNbr"] = json!({"value": "009999"});
    let (status, error) = send(env.put("/Bill", &body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["ReferenceNbr"]["error"], "'Reference Nbr.' cannot be found in the system.");
    assert!(env.sim.bills("Acme").is_empty());

    send(env.put("/Bill", &bill("CNQ-1"))).await;
    let (status, updated) = send(
        env.put("/Bill", &json!({"Description": {"value": "changed"}})).query(&[("$filter", "VendorRef eq 'CNQ-1'")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["ReferenceNbr"]["value"], "000001");
    assert_eq!(updated["Description"]["value"], "changed");
    assert_eq!(env.sim.bills("Acme").len(), 1);
}

#[tokio::test]
async fn detail_lines_update_add_and_delete_by_id() {
    let env = env().await;
    let (_, created) = send(env.put("/Bill?$expand=Details", &bill("CNQ-1"))).await;
    let id = created["id"].as_str().unwrap();
    let hotel = created["Details"][0]["id"].as_str().unwrap();
    let taxi = created["Details"][1]["id"].as_str().unwrap();
    let change = json!({
        "id": id,
        "Details": [
            {"id": hotel, "UnitCost": {"value": 150}, "Amount": {"value": 150}},
            {"id": taxi, "delete": true},
            {"Account": {"value": "60200"}, "Amount": {"value": "12.345"}, "TransactionDescription": {"value": "Bus"}}
        ]
    });
    let (status, updated) = send(env.put("/Bill?$expand=Details", &change)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let lines = updated["Details"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], hotel);
    assert_eq!(num(&lines[0]["Amount"]), "150.0");
    assert_eq!(lines[1]["TransactionDescription"]["value"], "Bus");
    assert_eq!(num(&lines[1]["Amount"]), "12.35", "money rounds to 2 places");
    // The control total sent at creation is kept while the bill is on hold…
    assert_eq!(num(&updated["Amount"]), "245.5");
    // …and must match the lines to take it off hold.
    let (status, error) = send(env.put("/Bill", &json!({"id": id, "Hold": {"value": false}}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["Amount"]["error"], "Document is out of balance.");
    assert_eq!(error["error"], "Updating 'Bill' record raised at least one error. Please review the errors.");
    let (status, balanced) =
        send(env.put("/Bill", &json!({"id": id, "Hold": {"value": false}, "Amount": {"value": 162.35}}))).await;
    assert_eq!(status, StatusCode::OK, "{balanced}");
    assert_eq!(balanced["Status"]["value"], "Balanced");
}

#[tokio::test]
async fn journal_balance_rules() {
    let env = env().await;
    let (status, error) =
        send(env.put("/JournalTransaction?$expand=Details", &journal("245.50", "245.49", false))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"], "Batch is out of balance, please review.");
    assert!(env.sim.journal_transactions("Acme").is_empty());

    // Unbalanced on hold is allowed.
    let (status, held) = send(env.put("/JournalTransaction", &journal("10", "9", true))).await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["Status"]["value"], "Hold");
    assert_eq!(held["BatchNbr"]["value"], "000001");

    let mut both = journal("245.50", "245.50", false);
    both["Details"][0]["CreditAmount"] = json!({"value": 1});
    let (status, error) = send(env.put("/JournalTransaction", &both)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error["Details"][0]["CreditAmount"]["error"],
        "A transaction cannot have both a debit amount and a credit amount."
    );

    let (status, posted) =
        send(env.put("/JournalTransaction?$expand=Details", &journal("245.50", "245.5", false))).await;
    assert_eq!(status, StatusCode::OK, "{posted}");
    assert_eq!(posted["BatchNbr"]["value"], "000002");
    assert_eq!(posted["Module"]["value"], "GL");
    assert_eq!(posted["Status"]["value"], "Balanced");
    assert_eq!(posted["PostPeriod"]["value"], "032024");
    assert_eq!(posted["Details"][0]["LineNbr"]["value"], 1);
    assert_eq!(posted["Details"][1]["LineNbr"]["value"], 2);
    assert_eq!(num(&posted["Details"][1]["CreditAmount"]), "245.5");
    let (status, read) = send(env.get("/JournalTransaction/GL/000002")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["Description"]["value"], "Concur CNQ-8842 accrual");
    let (_, found) = send(
        env.get("/JournalTransaction").query(&[("$filter", "Module eq 'GL' and substringof('CNQ-8842',Description)")]),
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn release_actions_answer_202_then_poll_202_then_204() {
    let env = env().await;
    let (_, created) = send(env.put("/Bill", &bill("CNQ-1"))).await;
    let id = created["id"].as_str().unwrap().to_owned();

    // On hold: refused.
    let (status, error) = send(env.post("/Bill/ReleaseBill", &json!({"entity": {"id": id}}))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error["exceptionType"], "PX.Data.PXException");
    assert_eq!(error["exceptionMessage"], "Error: The document is on hold and cannot be released.");

    send(env.put("/Bill", &json!({"id": id, "Hold": {"value": false}}))).await;
    let response = env
        .post("/Bill/ReleaseBill", &json!({"entity": {"Type": {"value": "Bill"}, "ReferenceNbr": {"value": "000001"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{BASE}/Bill/ReleaseBill/")), "{location}");
    let poll = || env.http.get(format!("{}{location}", env.server.base_url())).bearer_auth(&env.token).send();
    assert_eq!(poll().await.unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(poll().await.unwrap().status(), StatusCode::NO_CONTENT);
    let (_, released) = send(env.get("/Bill/Bill/000001")).await;
    assert_eq!(released["Status"]["value"], "Open");

    // Released documents cannot be released again or edited.
    let (status, _) = send(env.post("/Bill/ReleaseBill", &json!({"entity": {"id": id}}))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _) = send(env.put("/Bill", &json!({"id": id, "Description": {"value": "late edit"}}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, batch) = send(env.put("/JournalTransaction", &journal("5", "5", false))).await;
    let response = env
        .post("/JournalTransaction/ReleaseJournalTransaction", &json!({"entity": {"id": batch["id"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (_, read) = send(env.get(&format!("/JournalTransaction/{}", batch["id"].as_str().unwrap()))).await;
    assert_eq!(read["Status"]["value"], "Posted");

    // Unknown action names are 404; bodies without `entity` are 400.
    assert_eq!(send(env.post("/Bill/ApproveBill", &json!({"entity": {"id": id}}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(env.post("/Bill/ReleaseBill", &json!({"id": id}))).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_token_only_reaches_its_own_tenant() {
    let env = env().await;
    env.sim.add_tenant(TenantSpec {
        name: "Globex".into(),
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        client_secret: "other".into(),
        users: vec![("concur_int".into(), "p@ss".into())],
        branches: vec!["MAIN".into()],
    });
    send(env.put("/Bill", &bill("CNQ-1"))).await;
    let other = token_for(&env.server, &env.http, "Globex", "11111111-2222-3333-4444-555555555555", "other").await;
    let (status, list) = send(env.http.get(env.url("/Bill")).bearer_auth(&other)).await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));
    let (status, _) = send(env.http.get(env.url("/Bill/Bill/000001")).bearer_auth(&other)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(env.sim.bills("Globex").is_empty());
}

#[tokio::test]
async fn accounts_and_subaccounts_list_for_mapping() {
    let env = env().await;
    let (status, accounts) = send(
        env.get("/Account").query(&[("$select", "AccountCD,Description,Type,Active"), ("$filter", "Active eq true")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cds: Vec<&str> =
        accounts.as_array().unwrap().iter().map(|a| a["AccountCD"]["value"].as_str().unwrap()).collect();
    assert_eq!(cds, ["20500", "60100", "60200"]);
    assert_eq!(accounts[0]["Type"]["value"], "Liability");
    let (_, subs) = send(env.get("/Subaccount").query(&[("$select", "SubaccountCD,Description,Active")])).await;
    assert_eq!(subs.as_array().unwrap().len(), 2);
    assert_eq!(subs[0]["SubaccountCD"]["value"], "000-000");
}

#[tokio::test]
async fn attachments_and_deletes() {
    let env = env().await;
    send(env.put("/Bill", &bill("CNQ-1"))).await;
    let response = env
        .http
        .put(env.url("/Bill/Bill/000001/files/receipt%20CNQ-1.pdf"))
        .bearer_auth(&env.token)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("PX-CbFileComment", "hotel receipt")
        .body(b"%PDF-1.4 fake".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, read) = send(env.get("/Bill/Bill/000001")).await;
    let files = read["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["filename"], "receipt CNQ-1.pdf");
    assert_eq!(files[0]["comment"], "hotel receipt");
    let href = files[0]["href"].as_str().unwrap();
    let bytes = env.http.get(format!("{}{href}", env.server.base_url())).bearer_auth(&env.token).send().await.unwrap();
    assert_eq!(bytes.status(), StatusCode::OK);
    assert_eq!(bytes.bytes().await.unwrap().as_ref(), b"%PDF-1.4 fake");
    let (status, _) =
        send(env.http.put(env.url("/Bill/Bill/000404/files/x.pdf")).bearer_auth(&env.token).body("x")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    let (status, _) = send(env.http.delete(env.url("/Bill/Bill/000001")).bearer_auth(&env.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = send(env.get("/Bill/Bill/000001")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["exceptionMessage"], "No entity satisfies the condition.");
    assert!(env.sim.bills("Acme").is_empty());
    // Auto-numbers are not reused after a delete.
    let (_, next) = send(env.put("/Bill", &bill("CNQ-2"))).await;
    assert_eq!(next["ReferenceNbr"]["value"], "000002");
}

fn seed_purchasing(sim: &AcumaticaSim) {
    let line = |description: &str, account: &str| PurchaseOrderLineSpec {
        description: Some(description.into()),
        quantity: "2.5".parse().unwrap(),
        unit_cost: "1234.5678".parse().unwrap(),
        uom: "EA".into(),
        account: account.into(),
    };
    for (number, status) in [("PO000001", "Open"), ("PO000002", "On Hold")] {
        sim.add_purchase_order(
            "Acme",
            &PurchaseOrderSpec {
                order_type: "Normal".into(),
                number: number.into(),
                vendor: "V000123".into(),
                description: None,
                currency: "USD".into(),
                date: time::macros::date!(2024 - 03 - 15),
                status: status.into(),
                lines: vec![line("Laptops", "60100"), line("Taxi vouchers", "60200")],
            },
        );
    }
    sim.add_purchase_receipt(
        "Acme",
        &PurchaseReceiptSpec {
            receipt_type: "Receipt".into(),
            number: "RC000001".into(),
            vendor: "V000123".into(),
            date: time::macros::date!(2024 - 03 - 20),
            status: "Released".into(),
            lines: vec![ReceiptLineSpec {
                order: Some(("Normal".into(), "PO000001".into(), 2)),
                quantity: "1".parse().unwrap(),
                uom: "EA".into(),
            }],
        },
    );
}

#[tokio::test]
async fn purchase_orders_list_with_details_only_when_expanded_and_the_account_text_in_description() {
    let env = env().await;
    seed_purchasing(&env.sim);
    let (status, bare) = send(env.get("/PurchaseOrder").query(&[("$select", "OrderNbr,Status")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bare.as_array().unwrap().len(), 2);
    assert!(bare[0].get("Details").is_none(), "lines come only with $expand");

    let query = [
        ("$select", "OrderNbr,Status,Details/LineNbr,Details/LineDescription,Details/Description,Details/UnitCost"),
        ("$expand", "Details"),
        ("$filter", "Status eq 'Open' and Type eq 'Normal'"),
        ("$top", "1"),
    ];
    let (_, open) = send(env.get("/PurchaseOrder").query(&query)).await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    let lines = &open[0]["Details"];
    assert_eq!(lines[1]["LineNbr"]["value"], 2);
    assert_eq!(lines[1]["LineDescription"]["value"], "Taxi vouchers");
    assert_eq!(lines[1]["Description"]["value"], "Local transport", "the account's description, as Acumatica does");
    assert_eq!(num(&lines[1]["UnitCost"]), "1234.5678");
    assert!(lines[1].get("OrderQty").is_none(), "$select restricts the lines too");

    let (status, receipts) = send(env.get("/PurchaseReceipt").query(&[
        ("$select", "ReceiptNbr,Status,Details/POOrderNbr,Details/POLineNbr,Details/ReceiptQty"),
        ("$expand", "Details"),
    ]))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(receipts[0]["Details"][0]["POLineNbr"]["value"], 2);
    assert_eq!(num(&receipts[0]["Details"][0]["ReceiptQty"]), "1.0");
}

#[tokio::test]
async fn purchase_orders_and_receipts_are_read_only_and_move_their_change_time() {
    let env = env().await;
    seed_purchasing(&env.sim);
    let (status, body) = send(env.put("/PurchaseOrder", &json!({"OrderNbr": {"value": "PO000009"}}))).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(body["exceptionMessage"].as_str().unwrap().contains("seed"), "{body}");
    let (status, _) = send(env.http.delete(env.url("/PurchaseReceipt/Receipt/RC000001")).bearer_auth(&env.token)).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    let (status, _) = send(env.get("/PurchaseOrder").query(&[("$select", "Nope")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the contract is strict");

    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    env.sim.backdate_purchasing("Acme", long_ago);
    assert!(env.sim.set_purchase_order_status("Acme", "Normal", "PO000002", "Open"));
    assert!(!env.sim.set_purchase_receipt_status("Acme", "RC999999", "Canceled"));
    let since =
        (long_ago + time::Duration::minutes(30)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let (_, changed) = send(env.get("/PurchaseOrder").query(&[
        ("$select", "OrderNbr,Status,Hold"),
        ("$filter", &format!("LastModifiedDateTime gt datetimeoffset'{since}'")),
    ]))
    .await;
    assert_eq!(changed.as_array().unwrap().len(), 1);
    assert_eq!((&changed[0]["OrderNbr"]["value"], &changed[0]["Hold"]["value"]), (&json!("PO000002"), &json!(false)));
}

#[tokio::test]
async fn projects_and_tasks_are_strict_read_only_entities_keyed_by_project_and_task() {
    let env = env().await;
    env.sim.add_project("Acme", "PRJ01", "Office fit-out", "Active");
    env.sim.add_project_task("Acme", "PRJ01", "DESIGN", "Design", "Active");
    env.sim.add_project_task("Acme", "PRJ01", "BUILD", "Build", "In Planning");

    let (status, projects) = send(env.get("/Project").query(&[("$select", "ProjectID,Description,Status")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(projects[0]["Status"]["value"], "Active");
    assert!(projects[0].get("Hold").is_none(), "$select restricts the fields");
    let query = [("$select", "ProjectTaskID,Status"), ("$filter", "ProjectID eq 'PRJ01' and Status eq 'Active'")];
    let (_, active) = send(env.get("/ProjectTask").query(&query)).await;
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(active[0]["ProjectTaskID"]["value"], "DESIGN");
    let (status, build) = send(env.get("/ProjectTask/PRJ01/BUILD")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((&build["Description"]["value"], &build["Default"]["value"]), (&json!("Build"), &json!(false)));

    let (status, _) = send(env.get("/ProjectTask").query(&[("$select", "TaskCD")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the contract is strict");
    let (status, _) = send(env.put("/Project", &json!({"ProjectID": {"value": "PRJ02"}}))).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);

    assert!(env.sim.set_project_task_status("Acme", "PRJ01", "BUILD", "Completed"));
    assert!(env.sim.set_project_status("Acme", "PRJ01", "On Hold"));
    assert!(!env.sim.set_project_status("Acme", "PRJ99", "Active"));
    assert_eq!(env.sim.projects("Acme")[0]["Hold"]["value"], true);
    let tasks = env.sim.project_tasks("Acme");
    let build = tasks.iter().find(|t| t["ProjectTaskID"]["value"] == "BUILD").unwrap();
    assert_eq!(build["Status"]["value"], "Completed");
}
