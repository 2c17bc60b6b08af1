//! List v4 and List Item v4 over HTTP (reference-data.md §2–§3).
//!
//! Company token with the `spend.list.*` / `spend.listitem.*` scope of the
//! call. Refusals use the documented v4 error body
//! `{error{message,id}, httpStatus, path, timestamp, validationErrors}`.
//! Request fields and query parameters the docs do not list are refused
//! **[simulator strictness]**: a misspelt `parentId` would otherwise create a
//! level-1 item, a misspelt filter list everything.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State, rejection::PathRejection},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::Ctx;
use super::http::{Answer, Rejection, company_with_scope, is_json, with_reason};
use super::list_store::{
    ChildrenOf, LIST_PAGE_SIZE, ListBook, ListError, MAX_ITEM_VALUE_CHARS, MAX_LIST_LEVELS, MAX_SHORT_CODE_CHARS,
    NewItem, invalid_field, list_error,
};
use super::state::{ReferenceWriteKind, State as SimState};

const LIST_READ: &[&str] = &["spend.list.read", "spend.list.write"];
const LIST_WRITE: &[&str] = &["spend.list.write"];
const ITEM_READ: &[&str] = &["spend.listitem.read", "spend.listitem.write"];
const ITEM_WRITE: &[&str] = &["spend.listitem.write"];
const ITEM_DELETE: &[&str] = &["spend.listitem.delete"];

/// The documented v4 error body; `x-sim-reason` repeats the message.
fn error_response(error: &ListError, path: &str) -> Response {
    let status = error.status;
    let phrase = status.canonical_reason().unwrap_or("Error").to_ascii_uppercase().replace(' ', "_");
    let mut body = json!({
        "error": {"message": error.message, "id": error.id},
        "httpStatus": format!("{} {phrase}", status.as_u16()),
        "path": path,
        "timestamp": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
    });
    if !error.validation.is_empty() {
        let details: Vec<Value> =
            error.validation.iter().map(|(message, source)| json!({"message": message, "source": source})).collect();
        body["validationErrors"] = Value::Array(details);
    }
    with_reason((status, Json(body)).into_response(), &error.message)
}

fn reject(error: &ListError, uri: &Uri) -> Rejection {
    error_response(error, uri.path()).into()
}

fn caller(ctx: &Ctx, headers: &HeaderMap, scopes: &[&str]) -> Result<String, Rejection> {
    company_with_scope(ctx, headers, "The List API", scopes)
}

/// A path id that must be a uuid (else 400).
fn uuid_param(value: &str, name: &str) -> Result<String, ListError> {
    uuid::Uuid::parse_str(value)
        .map(|_| value.to_owned())
        .map_err(|_| invalid_field(name, format!("{name} `{value}` is not a valid UUID")))
}

fn one_id(path: Result<Path<String>, PathRejection>, name: &str, uri: &Uri) -> Result<String, Rejection> {
    let Ok(Path(id)) = path else {
        return Err(reject(&invalid_field(name, format!("{name} is not readable")), uri));
    };
    uuid_param(&id, name).map_err(|e| reject(&e, uri))
}

fn two_ids(path: Result<Path<(String, String)>, PathRejection>, uri: &Uri) -> Result<(String, String), Rejection> {
    let Ok(Path((list_id, item_id))) = path else {
        return Err(reject(&invalid_field("path", "listId or itemId is not readable"), uri));
    };
    let list_id = uuid_param(&list_id, "listId").map_err(|e| reject(&e, uri))?;
    let item_id = uuid_param(&item_id, "itemId").map_err(|e| reject(&e, uri))?;
    Ok((list_id, item_id))
}

fn book<'a>(state: &'a SimState, company: &str, empty: &'a ListBook) -> &'a ListBook {
    state.list_books.get(company).unwrap_or(empty)
}

/// The JSON object of a POST/PUT: `application/json` (else 415), an object (else 400),
/// only `allowed` fields, each a string or null.
fn body_fields(headers: &HeaderMap, body: &Bytes, allowed: &[&str]) -> Result<Map<String, Value>, ListError> {
    if !is_json(headers) {
        return Err(list_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Content-Type must be application/json",
        ));
    }
    let parsed: Value = serde_json::from_slice(body).map_err(|e| {
        list_error(StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", format!("Malformed JSON request: {e}"))
    })?;
    let Value::Object(object) = parsed else {
        return Err(list_error(StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", "The request body must be a JSON object"));
    };
    for (name, value) in &object {
        if !allowed.contains(&name.as_str()) {
            return Err(invalid_field(name, format!("{name} is not a field of this request")));
        }
        if !(value.is_string() || value.is_null()) {
            return Err(invalid_field(name, format!("{name} must be a string")));
        }
    }
    Ok(object)
}

fn optional_text(object: &Map<String, Value>, field: &str) -> Option<String> {
    object.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// A required, non-blank string of at most `max` characters.
fn required_text(object: &Map<String, Value>, field: &str, max: usize) -> Result<String, ListError> {
    let text = optional_text(object, field).filter(|t| !t.trim().is_empty());
    let text = text.ok_or_else(|| invalid_field(field, format!("{field} is required")))?;
    if text.chars().count() > max {
        return Err(invalid_field(field, format!("{field} exceeds the maximum length of {max}")));
    }
    Ok(text)
}

/// `page` (1-based, default 1); refuses any parameter outside `allowed`.
fn page_and_params(uri: &Uri, allowed: &[&str]) -> Result<(usize, Vec<(String, String)>), ListError> {
    let mut page = 1;
    let mut params = Vec::new();
    for (key, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if key == "page" {
            page = value
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| invalid_field("page", format!("page must be an integer from 1, got `{value}`")))?;
        } else if allowed.contains(&key.as_ref()) {
            params.push((key.into_owned(), value.into_owned()));
        } else {
            return Err(invalid_field(&key, format!("`{key}` is not a parameter of this call")));
        }
    }
    Ok((page, params))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn descending(params: &[(String, String)]) -> Result<bool, ListError> {
    match param(params, "sortDirection").map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => Ok(false),
        Some("desc") => Ok(true),
        Some(other) => Err(invalid_field("sortDirection", format!("sortDirection must be asc or desc, got `{other}`"))),
    }
}

/// One page of 100 in the documented envelope (`links` empty, as in every documented example).
fn paged(mut all: Vec<Value>, page: usize) -> Value {
    let total = all.len();
    let content: Vec<Value> =
        all.drain(..).skip((page - 1).saturating_mul(LIST_PAGE_SIZE)).take(LIST_PAGE_SIZE).collect();
    json!({
        "links": [],
        "content": content,
        "page": {"size": LIST_PAGE_SIZE, "totalElements": total, "totalPages": total.div_ceil(LIST_PAGE_SIZE), "number": page},
    })
}

fn created(location: &str, body: Value) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

// ------------------------------------------------------------------- lists

pub(crate) async fn lists(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap) -> Answer {
    let company = caller(&ctx, &headers, LIST_READ)?;
    let (page, params) = page_and_params(&uri, &["sortBy", "sortDirection"]).map_err(|e| reject(&e, &uri))?;
    let descending = descending(&params).map_err(|e| reject(&e, &uri))?;
    let sort_by = param(&params, "sortBy").map(str::to_ascii_lowercase).unwrap_or_else(|| "name".into());
    if !["name", "levelcount", "listcategory"].contains(&sort_by.as_str()) {
        let error =
            invalid_field("sortBy", format!("sortBy must be name, levelcount or listcategory, got `{sort_by}`"));
        return Err(reject(&error, &uri));
    }
    let state = ctx.sim.lock();
    let empty = ListBook::default();
    let mut lists: Vec<_> = book(&state, &company, &empty).lists().iter().filter(|l| !l.is_deleted).collect();
    lists.sort_by(|a, b| match sort_by.as_str() {
        "levelcount" => a.level_count.cmp(&b.level_count).then_with(|| a.name.cmp(&b.name)),
        "listcategory" => a.category_type.cmp(&b.category_type).then_with(|| a.name.cmp(&b.name)),
        _ => a.name.cmp(&b.name),
    });
    if descending {
        lists.reverse();
    }
    let all = lists.iter().map(|l| l.to_json()).collect();
    Ok((StatusCode::OK, Json(paged(all, page))).into_response())
}

pub(crate) async fn get_list(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    let company = caller(&ctx, &headers, LIST_READ)?;
    let id = one_id(path, "listId", &uri)?;
    let state = ctx.sim.lock();
    let empty = ListBook::default();
    match book(&state, &company, &empty).list(&id) {
        Some(list) => Ok((StatusCode::OK, Json(list.to_json())).into_response()),
        None => {
            Err(reject(&list_error(StatusCode::NOT_FOUND, "LIST_NOT_FOUND", format!("List {id} was not found")), &uri))
        }
    }
}

pub(crate) async fn create_list(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap, body: Bytes) -> Answer {
    let company = caller(&ctx, &headers, LIST_WRITE)?;
    let fields = ["value", "searchCriteria", "categoryId", "displayFormat"];
    let object = body_fields(&headers, &body, &fields).map_err(|e| reject(&e, &uri))?;
    let parsed = parse_new_list(&object).map_err(|e| reject(&e, &uri))?;
    let (name, category, search_criteria, display_format) = parsed;
    let mut state = ctx.sim.lock();
    let location_base = format!("{}/list/v4/lists", state.geolocation(&ctx.datacenter));
    // Lists created through the API take items to the deepest level Concur allows
    // [docs silent: the create body has no levelCount].
    let outcome = state.list_books.entry(company.clone()).or_default().create_list(
        &name,
        MAX_LIST_LEVELS,
        category.as_deref(),
        &search_criteria,
        &display_format,
    );
    let outcome = outcome.map(|l| l.to_json());
    state.log_write(&company, ReferenceWriteKind::ListCreate, &name, outcome.is_ok());
    let list = outcome.map_err(|e| reject(&e, &uri))?;
    let location = format!("{location_base}/{}", list["id"].as_str().unwrap_or_default());
    Ok(created(&location, list))
}

type NewList = (String, Option<String>, String, String);

fn parse_new_list(object: &Map<String, Value>) -> Result<NewList, ListError> {
    let name = required_text(object, "value", usize::MAX)?;
    let category = optional_text(object, "categoryId").map(|c| uuid_param(&c, "categoryId")).transpose()?;
    let search_criteria = optional_text(object, "searchCriteria").unwrap_or_else(|| "TEXT".into());
    if !["TEXT", "CODE"].contains(&search_criteria.as_str()) {
        return Err(invalid_field("searchCriteria", "searchCriteria must be TEXT or CODE"));
    }
    let display_format = optional_text(object, "displayFormat").unwrap_or_else(|| "(CODE) TEXT".into());
    if !["(CODE) TEXT", "TEXT (CODE)"].contains(&display_format.as_str()) {
        return Err(invalid_field("displayFormat", "displayFormat must be `(CODE) TEXT` or `TEXT (CODE)`"));
    }
    Ok((name, category, search_criteria, display_format))
}

// ------------------------------------------------------------------- items

pub(crate) async fn get_item(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    let company = caller(&ctx, &headers, ITEM_READ)?;
    let id = one_id(path, "itemId", &uri)?;
    let state = ctx.sim.lock();
    let empty = ListBook::default();
    let book = book(&state, &company, &empty);
    let (Some(item), Some(etag)) = (book.item_json(&id), book.item_etag(&id)) else {
        let error = list_error(StatusCode::NOT_FOUND, "LIST_ITEM_NOT_FOUND", format!("List item {id} was not found"));
        return Err(reject(&error, &uri));
    };
    let unchanged = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str());
    let mut response =
        if unchanged { StatusCode::NOT_MODIFIED.into_response() } else { (StatusCode::OK, Json(item)).into_response() };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

fn parse_new_item(object: &Map<String, Value>) -> Result<NewItem, ListError> {
    let list_id = optional_text(object, "listId").ok_or_else(|| invalid_field("listId", "listId is required"))?;
    let list_id = uuid_param(&list_id, "listId")?;
    let parent_id = optional_text(object, "parentId").map(|p| uuid_param(&p, "parentId")).transpose()?;
    Ok(NewItem {
        list_id,
        short_code: required_text(object, "shortCode", MAX_SHORT_CODE_CHARS)?,
        value: required_text(object, "value", MAX_ITEM_VALUE_CHARS)?,
        parent_id,
        parent_code: optional_text(object, "parentCode").filter(|c| !c.is_empty()),
    })
}

pub(crate) async fn create_item(State(ctx): State<Ctx>, uri: Uri, headers: HeaderMap, body: Bytes) -> Answer {
    let company = caller(&ctx, &headers, ITEM_WRITE)?;
    let fields = ["listId", "shortCode", "value", "parentId", "parentCode"];
    let object = body_fields(&headers, &body, &fields).map_err(|e| reject(&e, &uri))?;
    let new = parse_new_item(&object).map_err(|e| reject(&e, &uri))?;
    let short_code = new.short_code.clone();
    let mut state = ctx.sim.lock();
    let outcome = state.list_books.entry(company.clone()).or_default().create_item(new);
    state.log_write(&company, ReferenceWriteKind::ListItemCreate, &short_code, outcome.is_ok());
    let item = outcome.map_err(|e| reject(&e, &uri))?;
    let location =
        format!("{}/list/v4/items/{}", state.geolocation(&ctx.datacenter), item["id"].as_str().unwrap_or_default());
    Ok(created(&location, item))
}

pub(crate) async fn update_item(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let company = caller(&ctx, &headers, ITEM_WRITE)?;
    let id = one_id(path, "itemId", &uri)?;
    let object = body_fields(&headers, &body, &["shortCode", "value"]).map_err(|e| reject(&e, &uri))?;
    let short_code = required_text(&object, "shortCode", MAX_SHORT_CODE_CHARS).map_err(|e| reject(&e, &uri))?;
    let value = required_text(&object, "value", MAX_ITEM_VALUE_CHARS).map_err(|e| reject(&e, &uri))?;
    let mut state = ctx.sim.lock();
    let outcome = state.list_books.entry(company.clone()).or_default().update_item(&id, &short_code, &value);
    state.log_write(&company, ReferenceWriteKind::ListItemUpdate, &id, outcome.is_ok());
    let item = outcome.map_err(|e| reject(&e, &uri))?;
    Ok((StatusCode::OK, Json(item)).into_response())
}

/// `DELETE /list/v4/items/{itemId}`: from every list.
pub(crate) async fn delete_item(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    let company = caller(&ctx, &headers, ITEM_DELETE)?;
    let id = one_id(path, "itemId", &uri)?;
    remove(&ctx, &company, &id, None, &uri)
}

/// `DELETE /list/v4/lists/{listId}/items/{itemId}`: from that list only.
pub(crate) async fn delete_from_list(
    State(ctx): State<Ctx>,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    let company = caller(&ctx, &headers, ITEM_DELETE)?;
    let (list_id, item_id) = two_ids(path, &uri)?;
    remove(&ctx, &company, &item_id, Some(&list_id), &uri)
}

fn remove(ctx: &Ctx, company: &str, item_id: &str, list_id: Option<&str>, uri: &Uri) -> Answer {
    let mut state = ctx.sim.lock();
    let outcome = state.list_books.entry(company.to_owned()).or_default().delete_item(item_id, list_id);
    state.log_write(company, ReferenceWriteKind::ListItemDelete, item_id, outcome.is_ok());
    outcome.map_err(|e| reject(&e, uri))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- children

pub(crate) async fn list_children(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    let company = caller(&ctx, &headers, ITEM_READ)?;
    let list_id = one_id(path, "listId", &uri)?;
    children(&ctx, &company, ChildrenOf::List(&list_id), &uri)
}

pub(crate) async fn list_item_children(
    State(ctx): State<Ctx>,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    let company = caller(&ctx, &headers, ITEM_READ)?;
    let (list_id, item_id) = two_ids(path, &uri)?;
    children(&ctx, &company, ChildrenOf::ItemInList(&list_id, &item_id), &uri)
}

pub(crate) async fn item_children(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Answer {
    let company = caller(&ctx, &headers, ITEM_READ)?;
    let item_id = one_id(path, "itemId", &uri)?;
    children(&ctx, &company, ChildrenOf::Item(&item_id), &uri)
}

fn children(ctx: &Ctx, company: &str, of: ChildrenOf<'_>, uri: &Uri) -> Answer {
    let query = ChildrenQuery::parse(uri).map_err(|e| reject(&e, uri))?;
    let state = ctx.sim.lock();
    let empty = ListBook::default();
    let all = book(&state, company, &empty).children(of, query.include_deleted).map_err(|e| reject(&e, uri))?;
    let list = match of {
        ChildrenOf::List(list) | ChildrenOf::ItemInList(list, _) => Some(list),
        ChildrenOf::Item(_) => None,
    };
    let mut kept: Vec<Value> = all.into_iter().filter(|item| query.keeps(item, list)).collect();
    query.sort(&mut kept);
    Ok((StatusCode::OK, Json(paged(kept, query.page))).into_response())
}

/// A filter `[op:]text`; `op` ∈ eq (default), cp, not, sw, ew.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    op: &'static str,
    text: String,
}

impl Filter {
    fn parse(raw: &str) -> Self {
        const OPS: [&str; 5] = ["eq", "cp", "not", "sw", "ew"];
        // A prefix that is not an operator is part of the text (default `eq`).
        match raw.split_once(':') {
            Some((op, text)) if OPS.contains(&op) => {
                let op = OPS.iter().find(|o| **o == op).copied().unwrap_or("eq");
                Filter { op, text: text.to_owned() }
            }
            _ => Filter { op: "eq", text: raw.to_owned() },
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        match self.op {
            "cp" => candidate.contains(&self.text),
            "not" => candidate != self.text,
            "sw" => candidate.starts_with(&self.text),
            "ew" => candidate.ends_with(&self.text),
            _ => candidate == self.text,
        }
    }
}

/// A validated children query.
struct ChildrenQuery {
    page: usize,
    by_short_code: bool,
    descending: bool,
    has_children: Option<bool>,
    include_deleted: bool,
    value: Option<Filter>,
    short_code: Option<Filter>,
    either: Option<Filter>,
}

fn boolean(params: &[(String, String)], name: &str) -> Result<Option<bool>, ListError> {
    match param(params, name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(invalid_field(name, format!("{name} must be true or false, got `{other}`"))),
    }
}

impl ChildrenQuery {
    const PARAMS: [&'static str; 7] =
        ["sortBy", "sortDirection", "hasChildren", "isDeleted", "value", "shortCode", "shortCodeOrValue"];

    fn parse(uri: &Uri) -> Result<Self, ListError> {
        let (page, params) = page_and_params(uri, &Self::PARAMS)?;
        let by_short_code = match param(&params, "sortBy") {
            None | Some("value") => false,
            Some("shortCode") => true,
            Some(other) => {
                return Err(invalid_field("sortBy", format!("sortBy must be value or shortCode, got `{other}`")));
            }
        };
        Ok(ChildrenQuery {
            page,
            by_short_code,
            descending: descending(&params)?,
            has_children: boolean(&params, "hasChildren")?,
            include_deleted: boolean(&params, "isDeleted")?.unwrap_or(false),
            value: param(&params, "value").map(Filter::parse),
            short_code: param(&params, "shortCode").map(Filter::parse),
            either: param(&params, "shortCodeOrValue").map(Filter::parse),
        })
    }

    fn keeps(&self, item: &Value, list: Option<&str>) -> bool {
        let short_code = item["shortCode"].as_str().unwrap_or_default();
        let value = item["value"].as_str().unwrap_or_default();
        let has_children = item["lists"]
            .as_array()
            .is_some_and(|lists| lists.iter().any(|l| list.is_none_or(|id| l["id"] == id) && l["hasChildren"] == true));
        self.value.as_ref().is_none_or(|f| f.matches(value))
            && self.short_code.as_ref().is_none_or(|f| f.matches(short_code))
            && self.either.as_ref().is_none_or(|f| f.matches(short_code) || f.matches(value))
            && self.has_children.is_none_or(|wanted| wanted == has_children)
    }

    fn sort(&self, items: &mut [Value]) {
        let field = if self.by_short_code { "shortCode" } else { "value" };
        items.sort_by(|a, b| {
            let key = |v: &Value| {
                (v[field].as_str().unwrap_or_default().to_owned(), v["id"].as_str().unwrap_or_default().to_owned())
            };
            key(a).cmp(&key(b))
        });
        if self.descending {
            items.reverse();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_default_to_eq_and_keep_unknown_prefixes_as_text() {
        assert_eq!(Filter::parse("sw:British"), Filter { op: "sw", text: "British".into() });
        assert_eq!(Filter::parse("British"), Filter { op: "eq", text: "British".into() });
        assert_eq!(Filter::parse("Gate:7"), Filter { op: "eq", text: "Gate:7".into() });
        assert!(Filter::parse("not:A").matches("B"));
        assert!(Filter::parse("cp:ir").matches("Airlines"));
        assert!(Filter::parse("ew:lines").matches("Airlines"));
        assert!(!Filter::parse("eq:airlines").matches("Airlines"));
    }
}
