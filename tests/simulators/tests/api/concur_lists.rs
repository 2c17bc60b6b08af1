//! Concur simulator over real HTTP: List v4 and List Item v4 — lists,
//! hierarchical items, strict parents and codes, children filters, deletes.

use crate::concur_refdata_support;

use concur_refdata_support::{COMPANY, Env, env};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use simulators::concur::{ListItemRecord, ReferenceWriteKind};

const LISTS: &str = "/list/v4/lists";
const ITEMS: &str = "/list/v4/items";
const UNKNOWN_ID: &str = "11111111-2222-4333-8444-555555555555";

fn short_codes(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .expect("content")
        .iter()
        .map(|i| i["shortCode"].as_str().expect("code").to_owned())
        .collect()
}

fn id(item: &Value) -> String {
    item["id"].as_str().expect("id").to_owned()
}

/// Asserts the documented v4 error body and returns its `error.id`.
fn error_id(reply: &concur_refdata_support::Reply, status: StatusCode) -> String {
    assert_eq!(reply.status, status, "{}", reply.text);
    let body = &reply.body;
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", reply.text);
    assert!(body["httpStatus"].as_str().is_some_and(|s| s.starts_with(&status.as_u16().to_string())));
    assert!(body["path"].as_str().is_some_and(|p| p.starts_with("/list/v4/")));
    assert!(body["timestamp"].as_str().is_some());
    assert!(reply.header("x-sim-reason").is_some());
    body["error"]["id"].as_str().expect("error.id").to_owned()
}

async fn post_item(env: &Env, body: Value) -> concur_refdata_support::Reply {
    env.call(Method::POST, &env.us(ITEMS), Some(&body)).await
}

async fn create_item(env: &Env, body: Value) -> Value {
    let r = post_item(env, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

#[tokio::test]
async fn lists_are_paged_by_100_created_with_a_location_and_read_back() {
    let env = env().await;
    for n in 0..149 {
        env.sim().create_list(COMPANY, &format!("List {n:03}"), 1).expect("list");
    }
    let created =
        env.call(Method::POST, &env.us(LISTS), Some(&json!({"value": "Cost centres", "searchCriteria": "CODE"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let location = created.header("location").expect("Location").to_owned();
    assert_eq!(location, env.us(&format!("{LISTS}/{}", id(&created.body))));
    assert_eq!(created.body["category"]["type"], "Normal");
    assert_eq!(created.body["isDeleted"], false);
    let read = env.get(&location).await;
    assert_eq!((read.status, &read.body), (StatusCode::OK, &created.body));

    let first = env.get(&env.us(LISTS)).await;
    assert_eq!(first.body["page"], json!({"size": 100, "totalElements": 150, "totalPages": 2, "number": 1}));
    assert_eq!(first.body["content"].as_array().map(Vec::len), Some(100));
    assert_eq!(first.body["content"][0]["value"], "Cost centres", "sorted by name");
    let second = env.get(&env.us(&format!("{LISTS}?page=2&sortDirection=desc"))).await;
    assert_eq!(second.body["content"].as_array().map(Vec::len), Some(50));
    assert_eq!(second.body["content"][49]["value"], "Cost centres");

    let duplicate = env.call(Method::POST, &env.us(LISTS), Some(&json!({"value": "Cost centres"}))).await;
    assert_eq!(error_id(&duplicate, StatusCode::BAD_REQUEST), "LIST_DUPLICATE_NAME");
    assert_eq!(
        error_id(&env.get(&env.us(&format!("{LISTS}?page=0"))).await, StatusCode::BAD_REQUEST),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        error_id(&env.get(&env.us(&format!("{LISTS}/{UNKNOWN_ID}"))).await, StatusCode::NOT_FOUND),
        "LIST_NOT_FOUND"
    );

    let reader = env.token_for(&env.concur.us_url(), COMPANY, Some("spend.list.read")).await;
    assert_eq!(env.call_as(&reader, Method::GET, &env.us(LISTS), None).await.status, StatusCode::OK);
    let refused = env.call_as(&reader, Method::POST, &env.us(LISTS), Some(&json!({"value": "Other"}))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(env.sim().reference_write_count(COMPANY, ReferenceWriteKind::ListCreate, true), 1);
}

#[tokio::test]
async fn items_get_long_codes_and_strict_parents_levels_and_short_codes() {
    let env = env().await;
    let list = env.sim().create_list(COMPANY, "Departments", 2).expect("list");
    let top = post_item(&env, json!({"listId": list, "shortCode": "0100", "value": "Sales"})).await;
    assert_eq!(top.status, StatusCode::CREATED, "{}", top.text);
    assert_eq!(top.header("location"), Some(env.us(&format!("{ITEMS}/{}", id(&top.body)))).as_deref());
    assert_eq!(
        top.body,
        json!({"id": id(&top.body), "code": "0100", "shortCode": "0100", "value": "Sales", "parentId": null,
               "listId": list, "level": 1, "lists": [{"id": list, "hasChildren": false}], "isDeleted": false})
    );
    let by_code =
        create_item(&env, json!({"listId": list, "parentCode": "0100", "shortCode": "EAST", "value": "East"})).await;
    assert_eq!(
        (&by_code["code"], &by_code["level"], &by_code["parentId"]),
        (&json!("0100-EAST"), &json!(2), &top.body["id"])
    );
    let by_id =
        create_item(&env, json!({"listId": list, "parentId": id(&top.body), "shortCode": "WEST", "value": "West"}))
            .await;
    assert_eq!(by_id["code"], "0100-WEST");

    let too_deep =
        post_item(&env, json!({"listId": list, "parentId": id(&by_id), "shortCode": "X", "value": "X"})).await;
    assert_eq!(error_id(&too_deep, StatusCode::BAD_REQUEST), "LEVEL_EXCEEDS_LIST");
    let duplicate =
        post_item(&env, json!({"listId": list, "parentCode": "0100", "shortCode": "EAST", "value": "Again"})).await;
    assert_eq!(error_id(&duplicate, StatusCode::BAD_REQUEST), "LIST_ITEM_DUPLICATE_SHORT_CODE");
    assert_eq!(duplicate.body["validationErrors"][0]["source"], "shortCode");
    let top_duplicate = post_item(&env, json!({"listId": list, "shortCode": "0100", "value": "Sales again"})).await;
    assert_eq!(error_id(&top_duplicate, StatusCode::BAD_REQUEST), "LIST_ITEM_DUPLICATE_SHORT_CODE");
    let no_parent =
        post_item(&env, json!({"listId": list, "parentId": UNKNOWN_ID, "shortCode": "Y", "value": "Y"})).await;
    assert_eq!(error_id(&no_parent, StatusCode::NOT_FOUND), "PARENT_NOT_FOUND");
    let no_code = post_item(&env, json!({"listId": list, "parentCode": "0999", "shortCode": "Y", "value": "Y"})).await;
    assert_eq!(error_id(&no_code, StatusCode::NOT_FOUND), "PARENT_NOT_FOUND");
    let no_list = post_item(&env, json!({"listId": UNKNOWN_ID, "shortCode": "Y", "value": "Y"})).await;
    assert_eq!(error_id(&no_list, StatusCode::NOT_FOUND), "LIST_NOT_FOUND");
    for body in [
        json!({"listId": list, "shortCode": "Y"}),
        json!({"listId": list, "shortCode": "", "value": "Y"}),
        json!({"listId": "not-a-uuid", "shortCode": "Y", "value": "Y"}),
        json!({"listId": list, "parentID": id(&top.body), "shortCode": "Y", "value": "Y"}),
        json!({"listId": list, "shortCode": 7, "value": "Y"}),
        json!({"listId": list, "shortCode": "Y".repeat(33), "value": "Y"}),
    ] {
        let r = post_item(&env, body.clone()).await;
        assert_eq!(error_id(&r, StatusCode::BAD_REQUEST), "VALIDATION_FAILED", "{body}");
    }
    let malformed = env.send_raw(Method::POST, &env.us(ITEMS), "application/json", "{\"listId\": ").await;
    assert_eq!(error_id(&malformed, StatusCode::BAD_REQUEST), "MALFORMED_REQUEST");
    let text = env.send_raw(Method::POST, &env.us(ITEMS), "text/plain", "{}").await;
    assert_eq!(error_id(&text, StatusCode::UNSUPPORTED_MEDIA_TYPE), "UNSUPPORTED_MEDIA_TYPE");

    // GET carries an ETag; PUT needs shortCode and value and shows hasChildren.
    let item_url = env.us(&format!("{ITEMS}/{}", id(&top.body)));
    let read = env.get(&item_url).await;
    let etag = read.header("etag").expect("ETag").to_owned();
    let cached =
        env.http.get(&item_url).bearer_auth(&env.token).header("if-none-match", &etag).send().await.expect("GET");
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let missing_value = env.call(Method::PUT, &item_url, Some(&json!({"shortCode": "0100"}))).await;
    assert_eq!(error_id(&missing_value, StatusCode::BAD_REQUEST), "VALIDATION_FAILED");
    let updated =
        env.call(Method::PUT, &item_url, Some(&json!({"shortCode": "0100", "value": "Sales & Marketing"}))).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(
        (&updated.body["value"], &updated.body["lists"][0]["hasChildren"]),
        (&json!("Sales & Marketing"), &json!(true))
    );
    assert_ne!(env.get(&item_url).await.header("etag"), Some(etag.as_str()));
    let renamed = env
        .call(
            Method::PUT,
            &env.us(&format!("{ITEMS}/{}", id(&by_id))),
            Some(&json!({"shortCode": "EAST", "value": "W"})),
        )
        .await;
    assert_eq!(error_id(&renamed, StatusCode::BAD_REQUEST), "LIST_ITEM_DUPLICATE_SHORT_CODE");
    let unknown = env
        .call(Method::PUT, &env.us(&format!("{ITEMS}/{UNKNOWN_ID}")), Some(&json!({"shortCode": "A", "value": "B"})))
        .await;
    assert_eq!(error_id(&unknown, StatusCode::NOT_FOUND), "LIST_ITEM_NOT_FOUND");

    let codes: Vec<String> = env.sim().list_items(COMPANY, &list).into_iter().map(|i| i.code).collect();
    assert_eq!(codes, ["0100", "0100-EAST", "0100-WEST"]);
    assert_eq!(env.sim().reference_write_count(COMPANY, ReferenceWriteKind::ListItemCreate, true), 3);
}

#[tokio::test]
async fn children_filter_by_op_prefixes_and_page_by_100() {
    let env = env().await;
    let list = env.sim().create_list(COMPANY, "Airlines", 2).expect("list");
    let mut ids = Vec::new();
    for (code, value) in [
        ("BA", "British Airways"),
        ("BD", "British Midland"),
        ("LH", "Lufthansa"),
        ("AF", "Air France"),
        ("Gate:7", "Colon code"),
    ] {
        ids.push(env.sim().add_list_item(COMPANY, &list, None, code, value).expect("item"));
    }
    for n in 0..105 {
        env.sim()
            .add_list_item(COMPANY, &list, Some(&ids[2]), &format!("R{n:03}"), &format!("Route {n:03}"))
            .expect("route");
    }
    let children = |query: &str| env.us(&format!("/list/v4/lists/{list}/children{query}"));
    let all = env.get(&children("")).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(short_codes(&all.body), ["AF", "BA", "BD", "Gate:7", "LH"], "sorted by value");
    assert_eq!(all.body["page"], json!({"size": 100, "totalElements": 5, "totalPages": 1, "number": 1}));
    assert_eq!(all.body["links"], json!([]));
    for (query, expected) in [
        ("?value=sw:British", vec!["BA", "BD"]),
        ("?value=sw%3ABritish", vec!["BA", "BD"]),
        ("?shortCode=BA", vec!["BA"]),
        ("?shortCode=eq:LH", vec!["LH"]),
        ("?shortCode=Gate:7", vec!["Gate:7"]),
        ("?value=ew:ways&shortCode=not:BD", vec!["BA"]),
        ("?shortCodeOrValue=cp:an", vec!["AF", "BD", "LH"]),
        ("?value=not:Lufthansa&sortBy=shortCode&sortDirection=desc", vec!["Gate:7", "BD", "BA", "AF"]),
        ("?hasChildren=true", vec!["LH"]),
        ("?value=eq:british%20airways", vec![]),
    ] {
        let page = env.get(&children(query)).await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.text);
        assert_eq!(short_codes(&page.body), expected, "{query}");
    }
    for query in ["?page=0", "?sortBy=code", "?isDeleted=yes", "?shortcode=BA"] {
        assert_eq!(error_id(&env.get(&children(query)).await, StatusCode::BAD_REQUEST), "VALIDATION_FAILED", "{query}");
    }

    // 105 routes under Lufthansa: 100 then 5, the same through both item children calls.
    let in_list = env.us(&format!("/list/v4/lists/{list}/items/{}/children", ids[2]));
    let anywhere = env.us(&format!("{ITEMS}/{}/children", ids[2]));
    let first = env.get(&in_list).await;
    assert_eq!(first.body["page"], json!({"size": 100, "totalElements": 105, "totalPages": 2, "number": 1}));
    assert_eq!(short_codes(&first.body).len(), 100);
    let second = env.get(&format!("{in_list}?page=2")).await;
    assert_eq!(short_codes(&second.body), ["R100", "R101", "R102", "R103", "R104"]);
    assert_eq!(second.body["content"][0]["code"], "LH-R100");
    assert_eq!(env.get(&format!("{anywhere}?page=2")).await.body, second.body);
    assert_eq!(short_codes(&env.get(&format!("{anywhere}?page=3")).await.body), Vec::<String>::new());
    let missing = env.get(&env.us(&format!("/list/v4/lists/{list}/items/{UNKNOWN_ID}/children"))).await;
    assert_eq!(error_id(&missing, StatusCode::NOT_FOUND), "LIST_ITEM_NOT_FOUND");
    let no_list = env.get(&env.us(&format!("/list/v4/lists/{UNKNOWN_ID}/children"))).await;
    assert_eq!(error_id(&no_list, StatusCode::NOT_FOUND), "LIST_NOT_FOUND");
}

#[tokio::test]
async fn deleting_from_one_list_keeps_a_shared_item_and_is_deleted_only_from_all() {
    let env = env().await;
    let first = env.sim().create_list(COMPANY, "Projects", 2).expect("list");
    let second = env.sim().create_list(COMPANY, "Projects (shared)", 2).expect("list");
    let project = create_item(&env, json!({"listId": first, "shortCode": "P1", "value": "Project one"})).await;
    let task =
        create_item(&env, json!({"listId": first, "parentCode": "P1", "shortCode": "T1", "value": "Task"})).await;
    assert!(env.sim().share_list_item(COMPANY, &id(&project), &second));

    let from_first = env.us(&format!("{LISTS}/{first}/items/{}", id(&project)));
    let deleted = env.call(Method::DELETE, &from_first, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    let item_url = env.us(&format!("{ITEMS}/{}", id(&project)));
    let read = env.get(&item_url).await;
    assert_eq!(
        (&read.body["isDeleted"], &read.body["lists"]),
        (&json!(false), &json!([{"id": second, "hasChildren": true}]))
    );
    let record: ListItemRecord = env.sim().list_item(COMPANY, &id(&task)).expect("task");
    assert_eq!((record.lists, record.is_deleted), (vec![second.clone()], false), "children go with their parent");

    let first_children = env.us(&format!("{LISTS}/{first}/children"));
    assert_eq!(short_codes(&env.get(&first_children).await.body), Vec::<String>::new());
    assert_eq!(short_codes(&env.get(&format!("{first_children}?isDeleted=true")).await.body), ["P1"]);
    assert_eq!(short_codes(&env.get(&env.us(&format!("{LISTS}/{second}/children"))).await.body), ["P1"]);
    // Deleting again from a list it was in is harmless; from a list it never was in is a 400.
    assert_eq!(env.call(Method::DELETE, &from_first, None).await.status, StatusCode::NO_CONTENT);
    let other = env.sim().create_list(COMPANY, "Unrelated", 1).expect("list");
    let never = env.call(Method::DELETE, &env.us(&format!("{LISTS}/{other}/items/{}", id(&project))), None).await;
    assert_eq!(error_id(&never, StatusCode::BAD_REQUEST), "LIST_ITEM_NOT_FOUND");

    let reader = env.token_for(&env.concur.us_url(), COMPANY, Some("spend.listitem.read spend.listitem.write")).await;
    assert_eq!(env.call_as(&reader, Method::DELETE, &item_url, None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(env.call(Method::DELETE, &item_url, None).await.status, StatusCode::NO_CONTENT);
    let gone = env.get(&item_url).await;
    assert_eq!((gone.status, &gone.body["isDeleted"]), (StatusCode::OK, &json!(true)));
    assert!(env.sim().list_items(COMPANY, &second).is_empty());
    let unknown = env.call(Method::DELETE, &env.us(&format!("{ITEMS}/{UNKNOWN_ID}")), None).await;
    assert_eq!(error_id(&unknown, StatusCode::BAD_REQUEST), "LIST_ITEM_NOT_FOUND", "DELETE documents no 404");
    let update_deleted = env.call(Method::PUT, &item_url, Some(&json!({"shortCode": "P1", "value": "Back"}))).await;
    assert_eq!(error_id(&update_deleted, StatusCode::NOT_FOUND), "LIST_ITEM_NOT_FOUND");

    // A deleted item's short code is free again.
    create_item(&env, json!({"listId": first, "shortCode": "P1", "value": "Project one, again"})).await;
    let deletes = env.sim().reference_write_count(COMPANY, ReferenceWriteKind::ListItemDelete, true);
    assert_eq!(deletes, 3);
}

#[tokio::test]
async fn an_injected_429_on_the_list_api_is_answered_then_the_call_works() {
    let env = env().await;
    let list = env.sim().create_list(COMPANY, "Cost centres", 1).expect("list");
    let rule = json!({"kind": "too_many_requests", "count": 1, "path_prefix": "/list/v4/items", "method": "POST"});
    let added = env.http.post(env.us("/_sim/faults")).json(&rule).send().await.expect("control");
    assert_eq!(added.status(), StatusCode::CREATED);
    let body = json!({"listId": list, "shortCode": "4000", "value": "Finance"});
    let limited = post_item(&env, body.clone()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after"), None);
    assert!(env.sim().list_items(COMPANY, &list).is_empty());
    create_item(&env, body).await;
    assert_eq!(env.sim().list_items(COMPANY, &list).len(), 1);
}
