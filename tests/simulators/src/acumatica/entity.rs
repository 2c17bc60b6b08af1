//! `/entity/{EndpointName}/{Version}/...`: routing and the operations every
//! entity shares — list, get by keys/id, PUT upsert (§5), delete, actions
//! with 202 + polling, file attachments, `$adHocSchema`.
//!
//! Helpers return `Result<_, Response>` whose error is the HTTP answer itself,
//! handed straight back to axum; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::time::Instant;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::AcumaticaSim;
use super::auth::{self, Caller, require_json};
use super::errors::{self, binding_error, entity_error, message_only, no_entity, not_found, px_exception, query_error};
use super::filter;
use super::query::{self, QueryOptions};
use super::schema::{self, EntityDef, Kind, Schema};
use super::state::{FileRef, Operation, Record, Site, StoredFile, Tenant, Val, same_text};
use super::validate::Ctx;
use super::wire::{self, BindError, Incoming, RecErrors, RenderOpts};
use super::{account, bill, journal, purchasing, vendor};

/// One authenticated `/entity` request.
struct Req<'a> {
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    caller: Caller,
    /// `/entity/{endpoint}/{version}`
    base: String,
}

/// Decodes `%XX` escapes of one path segment (`Credit%20Adj.`).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bind_failure(e: BindError) -> Response {
    binding_error(&e.path, &e.detail)
}

/// `GET /entity`: build version and published endpoints (no sign-in needed).
pub(crate) async fn discovery(State(sim): State<AcumaticaSim>) -> Response {
    let site = sim.lock();
    let endpoints: Vec<Value> = site
        .versions
        .iter()
        .map(|v| json!({"name": site.endpoint_name, "version": v, "href": format!("/entity/{}/{v}/", site.endpoint_name)}))
        .collect();
    axum::Json(json!({
        "version": {"acumaticaBuildVersion": site.build_version, "databaseVersion": site.build_version},
        "endpoints": endpoints,
    }))
    .into_response()
}

/// Every other `/entity/...` route.
pub(crate) async fn handle(
    State(sim): State<AcumaticaSim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_put = method == Method::PUT;
    if is_put && let Some(ms) = sim.take_commit_late() {
        // Spawned, so the save happens even after the caller hung up.
        let late = sim.clone();
        let saved = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            handle_locked(&late, method, &uri, &headers, &body)
        });
        return saved
            .await
            .unwrap_or_else(|_| errors::http_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal", "Sim"));
    }
    let response = handle_locked(&sim, method, &uri, &headers, &body);
    // Only a PUT that saved (200) is subject to after-commit misbehaviour.
    if !is_put || response.status() != StatusCode::OK {
        return response;
    }
    match sim.take_after_commit() {
        None => response,
        Some(super::AfterCommit::ServerError { status }) => {
            let status = StatusCode::from_u16(status)
                .ok()
                .filter(StatusCode::is_server_error)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            errors::http_error(status, status.canonical_reason().unwrap_or("Server Error"), "System.Web.HttpException")
        }
        Some(super::AfterCommit::Delay { ms }) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            response
        }
        // Taken before the save; never here.
        Some(super::AfterCommit::CommitLate { .. }) => response,
    }
}

/// Every other `/entity/...` route, under the site lock (never held across an await).
fn handle_locked(sim: &AcumaticaSim, method: Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Response {
    let mut site = sim.lock();
    let now = Instant::now();
    let caller = match auth::authenticate(&mut site, headers, now) {
        Ok(c) => c,
        Err(response) => return response,
    };
    if site.over_rate_limit(now) {
        return errors::too_many_requests(None);
    }
    let path = uri.path();
    let mut segs: Vec<String> = path.trim_start_matches("/entity/").split('/').map(percent_decode).collect();
    if segs.last().is_some_and(String::is_empty) {
        segs.pop();
    }
    if segs.len() < 3 || segs[0] != site.endpoint_name || !site.versions.contains(&segs[1]) {
        return not_found(path);
    }
    let req = Req { path, query: uri.query(), headers, body, caller, base: format!("/entity/{}/{}", segs[0], segs[1]) };
    if segs[2] == "files" {
        return match (segs.len(), &method) {
            (4, &Method::GET) => download(&site, &req, &segs[3]),
            (4, _) => errors::method_not_allowed(method.as_str()),
            _ => not_found(path),
        };
    }
    let Some(def) = schema::entity(&segs[2]) else { return not_found(path) };
    if def.seeded_only && method != Method::GET {
        return purchasing::not_simulated(def, method.as_str());
    }
    let rest = &segs[3..];
    match rest {
        [] => match method {
            Method::GET => list(&site, &req, def),
            Method::PUT => put(&mut site, &req, def),
            _ => errors::method_not_allowed(method.as_str()),
        },
        [only] if only == "$adHocSchema" => match method {
            Method::GET => ad_hoc_schema(&req, def),
            _ => errors::method_not_allowed(method.as_str()),
        },
        [action] if def.actions.contains(&action.as_str()) => match method {
            Method::POST => invoke(&mut site, &req, def, action),
            _ => errors::method_not_allowed(method.as_str()),
        },
        [_] if method == Method::POST => not_found(path),
        [action, status, op] if status == "status" && def.actions.contains(&action.as_str()) => match method {
            Method::GET => poll(&mut site, &req, def, action, op),
            _ => errors::method_not_allowed(method.as_str()),
        },
        [keys @ .., files, filename] if files == "files" && !keys.is_empty() => match method {
            Method::PUT => attach(&mut site, &req, def, keys, filename),
            _ => errors::method_not_allowed(method.as_str()),
        },
        keys => match method {
            Method::GET => get_one(&site, &req, def, keys),
            Method::DELETE => delete(&mut site, &req, def, keys),
            _ => errors::method_not_allowed(method.as_str()),
        },
    }
}

fn render_opts(req: &Req, def: &EntityDef, q: &QueryOptions) -> RenderOpts {
    RenderOpts {
        select: q.select.clone(),
        expand: q.expand.clone(),
        custom: q.custom.clone(),
        everything: false,
        base: req.base.clone(),
        entity: def.name.to_owned(),
    }
}

/// Options for echoing a record with errors, and for the read-back helpers.
pub(crate) fn everything(base: &str, def: &EntityDef) -> RenderOpts {
    RenderOpts { everything: true, base: base.to_owned(), entity: def.name.to_owned(), ..RenderOpts::default() }
}

fn json_ok(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

/// Key values of a record in key order, for sorting.
fn sort_key(def: &EntityDef, rec: &Record) -> Vec<String> {
    def.keys.iter().map(|k| rec.str(k).unwrap_or_default().to_lowercase()).collect()
}

/// Stored records of a kind, in key order.
pub(crate) fn sorted<'t>(tenant: &'t Tenant, def: &EntityDef) -> Vec<&'t Record> {
    let mut records: Vec<&Record> = tenant.records(def.kind).iter().collect();
    records.sort_by_key(|r| sort_key(def, r));
    records
}

fn list(site: &Site, req: &Req, def: &EntityDef) -> Response {
    let q = match query::parse(req.query, def.schema) {
        Ok(q) => q,
        Err(e) => return query_error(&e),
    };
    let tenant = &site.tenants[req.caller.tenant];
    let opts = render_opts(req, def, &q);
    let rows: Vec<Value> = sorted(tenant, def)
        .into_iter()
        .filter(|r| q.filter.as_ref().is_none_or(|f| filter::matches(f, r)))
        .skip(q.skip)
        .take(q.top.unwrap_or(usize::MAX))
        .enumerate()
        .map(|(i, r)| wire::render(r, def.schema, &opts, i + 1, None))
        .collect();
    json_ok(Value::Array(rows))
}

/// Index of the record addressed by URL segments: one GUID (`id`) or all key values.
fn locate(tenant: &Tenant, def: &EntityDef, segs: &[String]) -> Option<usize> {
    let records = tenant.records(def.kind);
    if let [single] = segs
        && let Ok(id) = Uuid::parse_str(single)
        && let Some(i) = records.iter().position(|r| r.id == id)
    {
        return Some(i);
    }
    if segs.len() != def.keys.len() {
        return None;
    }
    records.iter().position(|r| def.keys.iter().zip(segs).all(|(k, v)| r.str(k).is_some_and(|x| same_text(x, v))))
}

fn get_one(site: &Site, req: &Req, def: &EntityDef, keys: &[String]) -> Response {
    let q = match query::parse(req.query, def.schema) {
        Ok(q) => q,
        Err(e) => return query_error(&e),
    };
    let tenant = &site.tenants[req.caller.tenant];
    match locate(tenant, def, keys) {
        Some(i) => json_ok(wire::render(&tenant.records(def.kind)[i], def.schema, &render_opts(req, def, &q), 1, None)),
        None => no_entity(),
    }
}

fn is_released(kind: Kind, rec: &Record) -> bool {
    match kind {
        Kind::Bill => bill::is_released(rec),
        Kind::Journal => journal::is_released(rec),
        _ => false,
    }
}

fn delete(site: &mut Site, req: &Req, def: &EntityDef, keys: &[String]) -> Response {
    let tenant = &mut site.tenants[req.caller.tenant];
    let Some(i) = locate(tenant, def, keys) else { return no_entity() };
    if is_released(def.kind, &tenant.records(def.kind)[i]) {
        return px_exception("The document has been released and cannot be deleted.");
    }
    let removed = tenant.records_mut(def.kind).remove(i);
    for file in removed.files {
        tenant.files.remove(&file.id);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `If-Match` / `If-None-Match`: `Some(true)` for `*`, `Some(false)` for an
/// entity tag (none is ever issued, so a tag never matches), `None` if absent.
fn precondition(headers: &HeaderMap, name: header::HeaderName) -> Option<bool> {
    headers.get(name).map(|v| v.to_str().is_ok_and(|s| s.trim() == "*"))
}

/// Values of all key fields sent in the body (first key may default).
fn incoming_keys(def: &EntityDef, inc: &Incoming) -> Option<Vec<String>> {
    def.keys
        .iter()
        .enumerate()
        .map(|(i, k)| match inc.value(k) {
            Some(Val::Str(s)) => Some(s.clone()),
            _ if i == 0 => def.first_key_default.map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// Applies the requested changes to a record (values, linked, lines, custom, note).
fn apply(rec: &mut Record, inc: &Incoming, schema: &Schema, frozen_keys: &[&str], errors: &mut RecErrors) {
    for (name, change) in &inc.values {
        let Some(field) = schema.field(name) else { continue };
        if field.read_only || frozen_keys.contains(name) {
            continue;
        }
        rec.touched.insert(field.name);
        match change {
            Some(v) => rec.set(name, v.clone()),
            None => {
                rec.values.remove(*name);
            }
        }
    }
    for (name, linked) in &inc.linked {
        if let Some(linked_schema) = schema.linked(name) {
            let target = rec.linked.entry((*name).to_owned()).or_insert_with(Record::with_new_id);
            apply(target, linked, linked_schema, &[], errors);
        }
    }
    for (name, lines) in &inc.collections {
        let Some(line_schema) = schema.collection(name) else { continue };
        let stored = rec.collections.entry((*name).to_owned()).or_default();
        for line in lines {
            match line.id {
                Some(id) => match stored.iter().position(|l| l.id == id) {
                    Some(pos) if line.delete => {
                        stored.remove(pos);
                    }
                    Some(pos) => apply(&mut stored[pos], line, line_schema, &[], errors),
                    None => errors.record = Some(format!("The {name} line with id '{id}' cannot be found.")),
                },
                None if line.delete => {
                    errors.record = Some(format!("A {name} line to delete must be identified by its id."));
                }
                None => {
                    let mut new_line = Record::with_new_id();
                    apply(&mut new_line, line, line_schema, &[], errors);
                    stored.push(new_line);
                }
            }
        }
    }
    for (view, field, value) in &inc.custom {
        if schema.custom_views.contains(&view.as_str()) {
            rec.custom.entry(view.clone()).or_default().insert(field.clone(), value.clone());
        }
    }
    if let Some(note) = &inc.note {
        rec.note = note.clone();
    }
}

/// Milliseconds precision, as rendered, so `gt <rendered value>` excludes the record itself.
fn now_ms() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(now)
}

fn business_date(headers: &HeaderMap, now: OffsetDateTime) -> Result<time::Date, Response> {
    match headers.get("PX-CbApiBusinessDate") {
        None => Ok(now.date()),
        Some(v) => v.to_str().ok().and_then(wire::parse_date).map(|d| d.date()).ok_or_else(|| {
            errors::http_error(
                StatusCode::BAD_REQUEST,
                &format!("The business date '{}' is not valid.", String::from_utf8_lossy(v.as_bytes())),
                "System.FormatException",
            )
        }),
    }
}

/// `PUT /{Entity}`: upsert by `id`, else key fields, else `$filter` (§5).
fn put(site: &mut Site, req: &Req, def: &'static EntityDef) -> Response {
    if let Err(response) = require_json(req.headers) {
        return response;
    }
    let q = match query::parse(req.query, def.schema) {
        Ok(q) => q,
        Err(e) => return query_error(&e),
    };
    let incoming = match wire::bind_body(req.body, def.schema) {
        Ok(i) => i,
        Err(e) => return bind_failure(e),
    };
    let now = now_ms();
    let business_date = match business_date(req.headers, now) {
        Ok(d) => d,
        Err(response) => return response,
    };
    let tenant = &site.tenants[req.caller.tenant];
    let records = tenant.records(def.kind);

    // Which record does the request address?
    let target = if let Some(id) = incoming.id {
        match records.iter().position(|r| r.id == id) {
            Some(i) => Some(i),
            None => return no_entity(),
        }
    } else if let Some(keys) = incoming_keys(def, &incoming) {
        let found = locate(tenant, def, &keys);
        if found.is_none()
            && let Some(auto) = def.auto_key
        {
            // A create must not invent an auto-numbered key.
            let mut echo = Record::with_new_id();
            let mut errors = RecErrors::default();
            apply(&mut echo, &incoming, def.schema, &[], &mut errors);
            errors.field(auto, format!("'{}' cannot be found in the system.", schema::label(auto)));
            errors.record =
                Some(format!("Inserting '{}' record raised at least one error. Please review the errors.", def.dac));
            return entity_error(wire::render(&echo, def.schema, &everything(&req.base, def), 1, Some(&errors)));
        }
        found
    } else if let Some(f) = &q.filter {
        let hits: Vec<usize> =
            records.iter().enumerate().filter(|(_, r)| filter::matches(f, r)).map(|(i, _)| i).collect();
        match hits.as_slice() {
            [] => None,
            [one] => Some(*one),
            _ => {
                return query_error(&format!(
                    "The $filter of the PUT request matches {} records; it must identify at most one.",
                    hits.len()
                ));
            }
        }
    } else {
        None
    };

    if precondition(req.headers, header::IF_NONE_MATCH) == Some(true) && target.is_some() {
        return message_only(
            StatusCode::PRECONDITION_FAILED,
            "Precondition failed: a record with these key values already exists.",
        );
    }
    if let Some(star) = precondition(req.headers, header::IF_MATCH)
        && (!star || target.is_none())
    {
        return message_only(StatusCode::PRECONDITION_FAILED, "Precondition failed: no record matches the request.");
    }

    let inserting = target.is_none();
    let mut rec = target.map(|i| records[i].clone()).unwrap_or_else(Record::with_new_id);
    rec.clear_touched();
    let mut errors = RecErrors::default();
    let frozen: &[&str] = if inserting { def.auto_key.as_slice() } else { def.keys };
    apply(&mut rec, &incoming, def.schema, frozen, &mut errors);
    let ctx = Ctx { tenant, inserting, incoming: &incoming, business_date, branch: req.caller.branch.as_deref() };
    match def.kind {
        Kind::Bill => bill::prepare(&ctx, &mut rec, &mut errors),
        Kind::Journal => journal::prepare(&ctx, &mut rec, &mut errors),
        Kind::Vendor => vendor::prepare(&ctx, &mut rec, &mut errors),
        Kind::Account => account::prepare_account(&ctx, &mut rec, &mut errors),
        Kind::Subaccount => account::prepare_subaccount(&ctx, &mut rec, &mut errors),
        // Seeded only: refused before any write (see `handle_locked`).
        Kind::PurchaseOrder | Kind::PurchaseReceipt | Kind::Project | Kind::ProjectTask => {}
    }
    if !errors.is_empty() {
        let verb = if inserting { "Inserting" } else { "Updating" };
        errors.record.get_or_insert_with(|| {
            format!("{verb} '{}' record raised at least one error. Please review the errors.", def.dac)
        });
        return entity_error(wire::render(&rec, def.schema, &everything(&req.base, def), 1, Some(&errors)));
    }

    let tenant = &mut site.tenants[req.caller.tenant];
    if inserting {
        match def.kind {
            Kind::Bill => {
                tenant.last_bill_nbr += 1;
                rec.set_str("ReferenceNbr", format!("{:06}", tenant.last_bill_nbr));
            }
            Kind::Journal => {
                tenant.last_batch_nbr += 1;
                rec.set_str("BatchNbr", format!("{:06}", tenant.last_batch_nbr));
            }
            Kind::Account => tenant.last_account_id += 1,
            Kind::Subaccount => tenant.last_subaccount_id += 1,
            Kind::Vendor | Kind::PurchaseOrder | Kind::PurchaseReceipt | Kind::Project | Kind::ProjectTask => {}
        }
        if def.schema.field("CreatedDateTime").is_some() {
            rec.set("CreatedDateTime", Val::Date(now));
        }
    }
    rec.set("LastModifiedDateTime", Val::Date(now));
    let rendered = wire::render(&rec, def.schema, &render_opts(req, def, &q), 1, None);
    let stored = tenant.records_mut(def.kind);
    match target {
        Some(i) => stored[i] = rec,
        None => stored.push(rec),
    }
    json_ok(rendered)
}

/// `POST /{Entity}/{Action}` with `{"entity": {...}, "parameters": {...}}`.
fn invoke(site: &mut Site, req: &Req, def: &EntityDef, action: &str) -> Response {
    if let Err(response) = require_json(req.headers) {
        return response;
    }
    let body: Value = match serde_json::from_slice(req.body) {
        Ok(v) => v,
        Err(e) => return binding_error("", &format!("Invalid JSON: {e}")),
    };
    let Value::Object(members) = &body else {
        return binding_error("", &format!("The body of '{action}' must be an object with an 'entity' member."));
    };
    for (key, value) in members {
        match key.as_str() {
            "entity" => {}
            // These actions take no parameters.
            "parameters" => match value {
                Value::Null => {}
                Value::Object(params) if params.is_empty() => {}
                Value::Object(params) => {
                    let name = params.keys().next().map(String::as_str).unwrap_or_default();
                    return binding_error(
                        &format!("parameters.{name}"),
                        &format!(
                            "Could not find member '{name}' on object of type '{action}Parameters'. Path 'parameters.{name}'."
                        ),
                    );
                }
                other => {
                    return binding_error(
                        "parameters",
                        &format!("Error converting value {other} to type '{action}Parameters'."),
                    );
                }
            },
            other => {
                return binding_error(
                    other,
                    &format!("Could not find member '{other}' on object of type '{action}'. Path '{other}'."),
                );
            }
        }
    }
    let Some(entity) = members.get("entity").filter(|e| !e.is_null()) else {
        return binding_error("entity", "The 'entity' member is required.");
    };
    // Binding errors inside `entity` are reported with the `entity.` prefix already.
    let incoming = match wire::bind_record(entity, def.schema, "", true) {
        Ok(i) => i,
        Err(e) => return bind_failure(e),
    };
    let tenant = &mut site.tenants[req.caller.tenant];
    let position = match incoming.id {
        Some(id) => tenant.records(def.kind).iter().position(|r| r.id == id),
        None => incoming_keys(def, &incoming).and_then(|keys| locate(tenant, def, &keys)),
    };
    let Some(i) = position else { return no_entity() };
    let rec = &mut tenant.records_mut(def.kind)[i];
    let outcome = match def.kind {
        Kind::Bill => bill::release(rec),
        Kind::Journal => journal::release(rec),
        _ => Err(format!("The action '{action}' is not available.")),
    };
    if let Err(message) = outcome {
        return px_exception(&message);
    }
    rec.set("LastModifiedDateTime", Val::Date(now_ms()));
    let op = Uuid::new_v4();
    site.operations.insert(op, Operation { tenant: req.caller.tenant, polls: 0 });
    accepted(&format!("{}/{}/{action}/status/{op}", req.base, def.name))
}

fn accepted(location: &str) -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// `GET <Location>` of an action: 202 on the first poll, 204 afterwards.
fn poll(site: &mut Site, req: &Req, def: &EntityDef, action: &str, op: &str) -> Response {
    let Some(operation) = Uuid::parse_str(op).ok().and_then(|id| site.operations.get_mut(&id)) else {
        return not_found(req.path);
    };
    if operation.tenant != req.caller.tenant {
        return not_found(req.path);
    }
    operation.polls += 1;
    if operation.polls == 1 {
        accepted(&format!("{}/{}/{action}/status/{op}", req.base, def.name))
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// `PUT /{Entity}/{keys}/files/{filename}` with the raw bytes: 204.
fn attach(site: &mut Site, req: &Req, def: &EntityDef, keys: &[String], filename: &str) -> Response {
    if filename.trim().is_empty() {
        return not_found(req.path);
    }
    let comment = req.headers.get("PX-CbFileComment").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let tenant = &mut site.tenants[req.caller.tenant];
    let Some(i) = locate(tenant, def, keys) else { return no_entity() };
    let id = Uuid::new_v4();
    tenant.files.insert(id, StoredFile { filename: filename.to_owned(), content: req.body.to_vec() });
    let rec = &mut tenant.records_mut(def.kind)[i];
    rec.files.push(FileRef { id, filename: filename.to_owned(), comment });
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /entity/{endpoint}/{version}/files/{id}`: the attachment bytes.
fn download(site: &Site, req: &Req, id: &str) -> Response {
    let tenant = &site.tenants[req.caller.tenant];
    let Some(file) = Uuid::parse_str(id).ok().and_then(|id| tenant.files.get(&id)) else {
        return not_found(req.path);
    };
    let mut response = (StatusCode::OK, file.content.clone()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.filename.replace('"', ""))) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `GET /{Entity}/$adHocSchema`: every contract field, empty, with one blank detail line.
fn ad_hoc_schema(req: &Req, def: &EntityDef) -> Response {
    let mut blank = Record { id: Uuid::nil(), ..Record::default() };
    for (name, _) in def.schema.collections {
        blank.collections.insert((*name).to_owned(), vec![Record { id: Uuid::nil(), ..Record::default() }]);
    }
    json_ok(wire::render(&blank, def.schema, &everything(&req.base, def), 1, None))
}

/// Renders the stored records of a kind as `$expand` of everything would.
pub(crate) fn read_back(site: &Site, tenant: &str, kind: Kind) -> Vec<Value> {
    let Some(t) = site.tenant_index(tenant) else { return Vec::new() };
    let def = schema::def(kind);
    let base = format!("/entity/{}/{}", site.endpoint_name, site.versions.first().map(String::as_str).unwrap_or(""));
    let opts = everything(&base, def);
    sorted(&site.tenants[t], def)
        .into_iter()
        .enumerate()
        .map(|(i, r)| wire::render(r, def.schema, &opts, i + 1, None))
        .collect()
}
