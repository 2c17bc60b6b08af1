//! `/{main|int}/ifsapplications/projection/v1/{Projection}.svc/...`: path
//! resolution (entity set, key predicate, navigation), company isolation, and
//! the operations — list, read, create (POST), update / upsert (PATCH),
//! delete — with IFS's ETag rules (§4).
//!
//! Order of checks: bearer token (401) → rate limit (429) → path (404/400) →
//! company of keys/rows (400 unknown, 403 forbidden) → method (405) → body
//! (400 `ODP_DESERIALIZATION_ERROR`) → `If-Match` (428/412) → business rules
//! (400 `DATABASE_ERROR`, 409 duplicate key).
//!
//! Helpers return `Result<_, Response>` whose error is the HTTP answer itself.
#![allow(clippy::result_large_err)]

use std::cell::Cell;
use std::time::Instant;

use axum::{
    Json,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::auth::authenticate;
use super::errors::{self, already_exists, bad_request, database, forbidden, method_not_allowed, not_found};
use super::odata::{filter, keys, query};
use super::schema::{self, EntityType, Nav, Projection};
use super::state::{AccessToken, Ifs, Row, Val};
use super::wire::{self, Changes, RenderOpts, children, key_order, link_keys, read_body};
use super::{AfterCommit, IfsSim, WriteRecord, metadata, validate};

const PREFIXES: [&str; 2] = ["/main/ifsapplications/projection/v1/", "/int/ifsapplications/projection/v1/"];

/// Every projection call.
pub(crate) async fn handle(
    State(sim): State<IfsSim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let response = handle_locked(&sim, &method, &uri, &headers, &body);
    // Only a POST that saved (201) is subject to after-commit misbehaviour.
    if method != Method::POST || response.status() != StatusCode::CREATED {
        return response;
    }
    match sim.take_after_commit() {
        None => response,
        Some(AfterCommit::ServerError { status }) => {
            errors::server_error(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Some(AfterCommit::Delay { ms }) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            response
        }
    }
}

/// One authenticated projection request.
struct Ctx<'a> {
    method: &'a Method,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    query: Option<&'a str>,
    caller: AccessToken,
    /// `http://{host}/main/ifsapplications/projection/v1`
    base: String,
    /// Set once the addressed row is known: did `If-Match` carry its current ETag?
    was_current: Cell<bool>,
}

/// Runs the request under the state lock (never held across an await) and
/// logs PATCH/DELETE in the write log.
fn handle_locked(sim: &IfsSim, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Response {
    let mut ifs = sim.lock();
    let was_current = Cell::new(false);
    let response = route(&mut ifs, method, uri, headers, body, &was_current);
    if matches!(*method, Method::PATCH | Method::DELETE) {
        ifs.writes.push(WriteRecord {
            method: method.to_string(),
            path: percent_decode(uri.path()),
            if_match: headers.get(header::IF_MATCH).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            was_current: was_current.get(),
            status: response.status().as_u16(),
        });
    }
    response
}

fn route(
    ifs: &mut Ifs,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    was_current: &Cell<bool>,
) -> Response {
    let now = Instant::now();
    let caller = match authenticate(ifs, headers, now) {
        Ok(c) => c,
        Err(response) => return response,
    };
    if ifs.over_rate_limit(&caller.client_id, now) {
        return errors::too_many_requests(Some(10));
    }
    let path = uri.path();
    let Some((prefix, rest)) = PREFIXES.iter().find_map(|p| Some((*p, path.strip_prefix(p)?))) else {
        return not_found();
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let ctx = Ctx {
        method,
        headers,
        body,
        query: uri.query(),
        caller,
        base: format!("http://{host}{}", prefix.trim_end_matches('/')),
        was_current: Cell::new(false),
    };
    let segments = match split_segments(&percent_decode(rest)) {
        Ok(s) => s,
        Err(e) => return bad_request(&e),
    };
    let Some((first, more)) = segments.split_first() else { return not_found() };
    let Some(projection) =
        first.name.strip_suffix(".svc").filter(|_| first.keys.is_none()).and_then(schema::projection)
    else {
        return not_found();
    };
    let response = match more {
        [] => only_get(method, || metadata::service_document(projection, &ctx.base)),
        [m] if m.name == "$metadata" && m.keys.is_none() => only_get(method, || metadata::csdl(projection)),
        [b] if b.name == "$batch" => {
            errors::not_implemented("$batch is not supported by the simulator; send one request per operation.")
        }
        _ => match resolve(ifs, &ctx, projection, more) {
            Err(response) => response,
            Ok(target) => dispatch(ifs, &ctx, &target),
        },
    };
    was_current.set(ctx.was_current.get());
    response
}

fn only_get(method: &Method, answer: impl FnOnce() -> Response) -> Response {
    if *method == Method::GET { answer() } else { method_not_allowed(method.as_str()) }
}

/// One path segment: a name and the raw text of its key predicate.
#[derive(Debug, PartialEq)]
struct Segment {
    name: String,
    keys: Option<String>,
}

/// Decodes `%XX` escapes (a `+` stays a `+` in a path).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a decoded resource path on `/` outside quotes and parentheses.
fn split_segments(path: &str) -> Result<Vec<Segment>, String> {
    let mut pieces = Vec::new();
    let (mut current, mut quoted, mut depth) = (String::new(), false, 0usize);
    for c in path.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.checked_sub(1).ok_or_else(|| format!("Unbalanced ')' in '{path}'."))?,
            '/' if !quoted && depth == 0 => {
                pieces.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if quoted || depth != 0 {
        return Err(format!("Unterminated key predicate in '{path}'."));
    }
    pieces.push(current);
    if pieces.len() > 1 && pieces.last().is_some_and(String::is_empty) {
        pieces.pop();
    }
    let mut out = Vec::new();
    for piece in pieces {
        match piece.split_once('(') {
            None => out.push(Segment { name: piece, keys: None }),
            Some((name, rest)) => {
                let Some(inner) = rest.strip_suffix(')') else {
                    return Err(format!("Unexpected text after the key predicate in '{piece}'."));
                };
                out.push(Segment { name: name.to_owned(), keys: Some(inner.to_owned()) });
            }
        }
    }
    if out.iter().any(|s| s.name.is_empty()) {
        return Err(format!("Empty path segment in '{path}'."));
    }
    Ok(out)
}

/// What a projection URL addresses.
struct Target {
    projection: &'static Projection,
    namespace: String,
    /// Located ancestors (navigation parents), outermost first: (type, row index).
    parents: Vec<(&'static EntityType, usize)>,
    ty: &'static EntityType,
    /// The last segment is this navigation.
    nav: Option<&'static Nav>,
    /// Key values of the last segment, if it had a key predicate.
    keys: Option<Vec<(&'static str, Val)>>,
    /// The addressed row, when keys were given and it exists.
    row: Option<usize>,
    /// `ManSuppInvoiceSet` or `ManSuppInvoiceSet(Company='10',InvoiceId=1)/ManSuppInvoicePostings`
    /// (the collection, for `@odata.context`, `Location` and `@odata.nextLink`).
    collection: String,
}

impl Target {
    fn parent_row(&self, ifs: &Ifs) -> Option<Row> {
        self.parents.last().map(|(ty, i)| ifs.rows(ty)[*i].clone())
    }
}

/// 400 for an unknown company, 403 for one the caller may not access.
fn company_access(ifs: &Ifs, caller: &AccessToken, company: &str) -> Result<(), Response> {
    if !ifs.companies.contains_key(company) {
        return Err(database(&format!("Company.NOTEXIST: Company {company} does not exist.")));
    }
    if !caller.companies.iter().any(|c| c == company) {
        return Err(forbidden(&format!("You do not have access to company {company}.")));
    }
    Ok(())
}

fn row_access(ifs: &Ifs, caller: &AccessToken, ty: &EntityType, row: &Row) -> Result<(), Response> {
    match row.str("Company") {
        Some(company) if ty.has_company() => company_access(ifs, caller, company),
        _ => Ok(()),
    }
}

fn keys_literal(ty: &EntityType, values: &[(&'static str, Val)], namespace: &str) -> String {
    values
        .iter()
        .map(|(k, v)| {
            let attr_ty = ty.attr(k).map(|a| a.ty).unwrap_or(schema::Ty::Str);
            format!("{k}={}", v.url_literal(attr_ty, namespace))
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn row_keys(ty: &EntityType, row: &Row) -> Vec<(&'static str, Val)> {
    ty.keys.iter().filter_map(|k| Some((*k, row.get(k)?.clone()))).collect()
}

fn resolve(ifs: &Ifs, ctx: &Ctx, projection: &'static Projection, segs: &[Segment]) -> Result<Target, Response> {
    let namespace = projection.namespace();
    let (set_seg, navs) = segs.split_first().ok_or_else(not_found)?;
    let set_ty = projection.set(&set_seg.name).ok_or_else(not_found)?;
    let parse_keys = |seg: &Segment, ty: &'static EntityType| -> Result<Option<Vec<(&'static str, Val)>>, Response> {
        let Some(text) = &seg.keys else { return Ok(None) };
        let values = keys::parse(text, ty, &namespace).map_err(|e| bad_request(&e))?;
        if let Some((_, Val::Str(company))) = values.iter().find(|(k, _)| *k == "Company") {
            company_access(ifs, &ctx.caller, company)?;
        }
        Ok(Some(values))
    };
    let mut target = Target {
        projection,
        namespace: namespace.clone(),
        parents: Vec::new(),
        ty: set_ty,
        nav: None,
        keys: parse_keys(set_seg, set_ty)?,
        row: None,
        collection: set_seg.name.clone(),
    };
    for seg in navs {
        let Some(parent_keys) = target.keys.take() else {
            return Err(bad_request(&format!("The navigation '{}' needs a keyed parent segment.", seg.name)));
        };
        let parent_index = locate(ifs, &target, &parent_keys).ok_or_else(not_found)?;
        let parent_row = &ifs.rows(target.ty)[parent_index];
        row_access(ifs, &ctx.caller, target.ty, parent_row)?;
        let nav = target.ty.nav(&seg.name).ok_or_else(not_found)?;
        target.collection =
            format!("{}({})/{}", target.collection, keys_literal(target.ty, &parent_keys, &namespace), nav.name);
        target.parents.push((target.ty, parent_index));
        target.ty = nav.target;
        target.nav = Some(nav);
        target.keys = parse_keys(seg, nav.target)?;
    }
    if let Some(k) = &target.keys {
        target.row = locate(ifs, &target, k);
        if let Some(i) = target.row {
            row_access(ifs, &ctx.caller, target.ty, &ifs.rows(target.ty)[i])?;
        }
    }
    Ok(target)
}

/// The row of `target.ty` with these keys that belongs to the located parent.
fn locate(ifs: &Ifs, target: &Target, keys: &[(&'static str, Val)]) -> Option<usize> {
    let index = ifs.find(target.ty, keys)?;
    if let Some((parent_ty, parent_index)) = target.parents.last() {
        let link = link_keys(parent_ty, &ifs.rows(parent_ty)[*parent_index]);
        if !ifs.rows(target.ty)[index].has_keys(&link) {
            return None;
        }
    }
    Some(index)
}

fn dispatch(ifs: &mut Ifs, ctx: &Ctx, t: &Target) -> Response {
    let writes = matches!(*ctx.method, Method::POST | Method::PATCH | Method::DELETE);
    if writes && !t.ty.writable {
        return method_not_allowed(ctx.method.as_str());
    }
    if let (Some(index), Precondition::Tag(sent)) = (t.row, precondition(ctx.headers)) {
        ctx.was_current.set(sent == ifs.rows(t.ty)[index].etag());
    }
    let result = match (t.keys.is_some(), ctx.method.clone()) {
        (false, Method::GET) => list(ifs, ctx, t),
        (false, Method::POST) => create(ifs, ctx, t),
        (true, Method::GET) => read(ifs, ctx, t),
        (true, Method::PATCH) => patch(ifs, ctx, t),
        (true, Method::DELETE) => delete(ifs, ctx, t),
        (_, other) => Err(method_not_allowed(other.as_str())),
    };
    result.unwrap_or_else(|response| response)
}

fn render_opts<'a>(ctx: &Ctx, q: &'a query::Query) -> RenderOpts<'a> {
    RenderOpts { ieee754: wire::ieee754_response(ctx.headers), select: q.select.as_deref(), expand: &q.expand }
}

/// Encodes a resource path for a URL (key predicates stay readable).
fn encode_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~'(),=:$@!*/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn list(ifs: &Ifs, ctx: &Ctx, t: &Target) -> Result<Response, Response> {
    let q = query::parse(ctx.query, t.ty, &t.namespace, false).map_err(|e| bad_request(&e))?;
    if t.nav.is_none() && t.ty.has_company() {
        let pinned = q.filter.as_ref().map(|f| filter::pinned(f, "Company")).unwrap_or_default();
        if pinned.is_empty() {
            return Err(database(&format!(
                "Company must be given: add Company eq '<company>' to $filter of {}.",
                t.collection
            )));
        }
        for company in &pinned {
            company_access(ifs, &ctx.caller, company)?;
        }
    }
    let mut rows: Vec<&Row> = match (t.parents.last(), t.nav) {
        (Some((parent_ty, i)), Some(nav)) => children(ifs, parent_ty, &ifs.rows(parent_ty)[*i], nav),
        _ => {
            let mut all: Vec<&Row> = ifs.rows(t.ty).iter().collect();
            all.sort_by(|a, b| key_order(t.ty, a, b));
            all
        }
    };
    rows.retain(|r| row_access(ifs, &ctx.caller, t.ty, r).is_ok());
    if let Some(f) = &q.filter {
        rows.retain(|r| filter::matches(f, r));
    }
    if !q.orderby.is_empty() {
        rows.sort_by(|a, b| {
            for (attr, desc) in &q.orderby {
                let o = match (a.get(attr), b.get(attr)) {
                    (Some(x), Some(y)) => filter::order(x, y).unwrap_or(std::cmp::Ordering::Equal),
                    (x, y) => x.is_some().cmp(&y.is_some()),
                };
                let o = if *desc { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    let total = rows.len();
    let wanted = q.top.unwrap_or(usize::MAX).min(total.saturating_sub(q.skip));
    let served = wanted.min(ifs.page_size);
    let opts = render_opts(ctx, &q);
    let value: Vec<Value> =
        rows.iter().skip(q.skip).take(served).map(|r| Value::Object(wire::render(ifs, t.ty, r, opts))).collect();
    let mut out = Map::new();
    let select = q.select.as_ref().map(|s| format!("({})", s.join(","))).unwrap_or_default();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/{}.svc/$metadata#{}{select}", ctx.base, t.projection.name, t.collection)),
    );
    if q.count {
        out.insert("@odata.count".into(), json!(total));
    }
    out.insert("value".into(), Value::Array(value));
    if served < wanted {
        out.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/{}.svc/{}?{}",
                ctx.base,
                t.projection.name,
                encode_path(&t.collection),
                query::next_page(&q, served)
            )),
        );
    }
    Ok(ok_json(StatusCode::OK, out, None, None))
}

fn ok_json(status: StatusCode, body: Map<String, Value>, etag: Option<String>, location: Option<String>) -> Response {
    let mut response = (status, Json(Value::Object(body))).into_response();
    let headers = response.headers_mut();
    headers.insert("OData-Version", HeaderValue::from_static("4.0"));
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert(header::ETAG, v);
    }
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, v);
    }
    response
}

/// A single row with `@odata.context` (`…#Set/$entity`) and its ETag header.
fn entity_response(ifs: &Ifs, ctx: &Ctx, t: &Target, index: usize, status: StatusCode, q: &query::Query) -> Response {
    let row = &ifs.rows(t.ty)[index];
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/{}.svc/$metadata#{}/$entity", ctx.base, t.projection.name, t.collection)),
    );
    body.extend(wire::render(ifs, t.ty, row, render_opts(ctx, q)));
    let location = format!(
        "{}/{}.svc/{}",
        ctx.base,
        t.projection.name,
        encode_path(&format!("{}({})", t.collection, keys_literal(t.ty, &row_keys(t.ty, row), &t.namespace)))
    );
    ok_json(status, body, Some(row.etag()), (status == StatusCode::CREATED).then_some(location))
}

fn read(ifs: &Ifs, ctx: &Ctx, t: &Target) -> Result<Response, Response> {
    let q = query::parse(ctx.query, t.ty, &t.namespace, true).map_err(|e| bad_request(&e))?;
    let index = t.row.ok_or_else(not_found)?;
    Ok(entity_response(ifs, ctx, t, index, StatusCode::OK, &q))
}

fn lu(t: &Target) -> &'static str {
    t.ty.luname
}

fn mandatory(t: &Target, attr: &str) -> Response {
    database(&format!("{}.MANDATORY: Field [{attr}] is mandatory for {}.", lu(t), lu(t)))
}

/// `POST` on a collection: create one row.
fn create(ifs: &mut Ifs, ctx: &Ctx, t: &Target) -> Result<Response, Response> {
    let changes = wire::bind(ctx.body, ctx.headers, t.ty, &t.namespace)?;
    if t.ty.has_company() && !matches!(changes.get("Company"), Some(Some(_))) {
        return Err(mandatory(t, "Company"));
    }
    let index = insert_row(ifs, ctx, t, &changes, None)?;
    Ok(entity_response(ifs, ctx, t, index, StatusCode::CREATED, &query::Query::default()))
}

/// Builds, validates, numbers and stores a new row. With `url_keys` (PATCH
/// upsert) the keys come from the URL and key attributes in the body are ignored.
fn insert_row(
    ifs: &mut Ifs,
    ctx: &Ctx,
    t: &Target,
    changes: &Changes,
    url_keys: Option<&[(&'static str, Val)]>,
) -> Result<usize, Response> {
    let ty = t.ty;
    let mut row = Row::default();
    for (attr, value) in &changes.values {
        if url_keys.is_some() && attr.key {
            continue;
        }
        if !attr.insertable() {
            return Err(database(&format!(
                "{}.NOTINSERTABLE: Field [{}] is assigned by IFS and cannot be given when creating a {}.",
                lu(t),
                attr.name,
                lu(t)
            )));
        }
        if let Some(v) = value {
            row.values.insert(attr.name, v.clone());
        }
    }
    for (key, value) in url_keys.unwrap_or_default() {
        if ty.attr(key).is_some_and(|a| a.assigned) {
            return Err(database(&format!(
                "{}.NOTINSERTABLE: Key [{key}] is assigned by IFS; {} rows cannot be created by upsert, use POST.",
                lu(t),
                lu(t)
            )));
        }
        row.values.insert(key, value.clone());
    }
    let parent = t.parent_row(ifs);
    if let (Some((parent_ty, _)), Some(parent_row)) = (t.parents.last(), &parent) {
        for (key, value) in link_keys(parent_ty, parent_row) {
            match row.get(key) {
                Some(given) if *given != value => {
                    return Err(database(&format!(
                        "{}.PARENTKEY: {key} {} does not match the parent's {key} {}.",
                        lu(t),
                        given.keyref_text(),
                        value.keyref_text()
                    )));
                }
                _ => {
                    row.values.insert(key, value);
                }
            }
        }
    }
    if ty.has_company() {
        let Some(company) = row.str("Company").map(str::to_owned) else { return Err(mandatory(t, "Company")) };
        company_access(ifs, &ctx.caller, &company)?;
    }
    validate::defaults(ifs, ty, &mut row, parent.as_ref());
    if let Some(attr) = ty.attrs.iter().find(|a| a.required && !a.assigned && row.get(a.name).is_none()) {
        return Err(mandatory(t, attr.name));
    }
    if !ty.attrs.iter().any(|a| a.assigned) && ifs.find(ty, &row_keys(ty, &row)).is_some() {
        return Err(already_exists(ty.luname));
    }
    validate::check(ifs, ty, &row, parent.as_ref(), None).map_err(|e| database(&e))?;
    validate::assign(ifs, ty, &mut row);
    Ok(ifs.insert(ty, row))
}

/// `If-Match` as sent.
enum Precondition {
    Absent,
    Any,
    Tag(String),
}

fn precondition(headers: &HeaderMap) -> Precondition {
    match headers.get(header::IF_MATCH).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned()) {
        None => Precondition::Absent,
        Some(v) if v == "*" => Precondition::Any,
        Some(v) => Precondition::Tag(v),
    }
}

/// Applies the ETag rules to an existing row: 412 on a stale tag, and the
/// injected "someone else updated it" ([`IfsSim::stale_etag_next`]).
fn check_etag(ifs: &mut Ifs, t: &Target, index: usize, pre: &Precondition) -> Result<(), Response> {
    let Precondition::Tag(sent) = pre else { return Ok(()) };
    if *sent != ifs.rows(t.ty)[index].etag() {
        return Err(errors::precondition_failed());
    }
    if ifs.stale_etag_next > 0 {
        ifs.stale_etag_next -= 1;
        ifs.bump(t.ty, index);
        return Err(errors::precondition_failed());
    }
    Ok(())
}

fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("Prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("return=minimal")))
}

/// `PATCH` on an entity: update with `If-Match` (current ETag or `*`); without
/// it, upsert (23R2+) — or 428 when [`IfsSim::require_if_match`] is on.
fn patch(ifs: &mut Ifs, ctx: &Ctx, t: &Target) -> Result<Response, Response> {
    let changes = wire::bind(ctx.body, ctx.headers, t.ty, &t.namespace)?;
    let pre = precondition(ctx.headers);
    if matches!(pre, Precondition::Absent) && ifs.require_if_match {
        return Err(errors::missing_precondition());
    }
    let Some(index) = t.row else {
        if !matches!(pre, Precondition::Absent) {
            return Err(not_found());
        }
        let keys = t.keys.clone().unwrap_or_default();
        let index = insert_row(ifs, ctx, t, &changes, Some(&keys))?;
        return Ok(entity_response(ifs, ctx, t, index, StatusCode::CREATED, &query::Query::default()));
    };
    check_etag(ifs, t, index, &pre)?;
    let upsert = matches!(pre, Precondition::Absent);
    let parent = t.parent_row(ifs);
    let old = ifs.rows(t.ty)[index].clone();
    validate::may_change(ifs, t.ty, &old, parent.as_ref(), false).map_err(|e| database(&e))?;
    let mut row = old.clone();
    for (attr, value) in &changes.values {
        if attr.key || !attr.updatable() {
            if upsert || value.as_ref() == old.get(attr.name) {
                continue;
            }
            return Err(database(&format!(
                "{}.NOTUPDATABLE: Field [{}] in {} cannot be updated.",
                lu(t),
                attr.name,
                lu(t)
            )));
        }
        match value {
            Some(v) => row.values.insert(attr.name, v.clone()),
            None => row.values.remove(attr.name),
        };
    }
    if let Some(attr) = t.ty.attrs.iter().find(|a| a.required && row.get(a.name).is_none()) {
        return Err(mandatory(t, attr.name));
    }
    validate::check(ifs, t.ty, &row, parent.as_ref(), Some(index)).map_err(|e| database(&e))?;
    ifs.rows_mut(t.ty)[index] = row;
    ifs.bump(t.ty, index);
    if prefers_minimal(ctx.headers) {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&ifs.rows(t.ty)[index].etag()) {
            response.headers_mut().insert(header::ETAG, v);
        }
        response.headers_mut().insert("Preference-Applied", HeaderValue::from_static("return=minimal"));
        return Ok(response);
    }
    Ok(entity_response(ifs, ctx, t, index, StatusCode::OK, &query::Query::default()))
}

/// `DELETE` on an entity (children go with it): 204.
fn delete(ifs: &mut Ifs, ctx: &Ctx, t: &Target) -> Result<Response, Response> {
    let pre = precondition(ctx.headers);
    if matches!(pre, Precondition::Absent) && ifs.require_if_match {
        return Err(errors::missing_precondition());
    }
    let index = t.row.ok_or_else(not_found)?;
    check_etag(ifs, t, index, &pre)?;
    let parent = t.parent_row(ifs);
    let row = ifs.rows(t.ty)[index].clone();
    validate::may_change(ifs, t.ty, &row, parent.as_ref(), true).map_err(|e| database(&e))?;
    remove_with_children(ifs, t.ty, &row);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn remove_with_children(ifs: &mut Ifs, ty: &EntityType, row: &Row) {
    for nav in ty.navigations {
        let kids: Vec<Row> = children(ifs, ty, row, nav).into_iter().cloned().collect();
        for kid in &kids {
            remove_with_children(ifs, nav.target, kid);
        }
    }
    let keys = row_keys(ty, row);
    ifs.rows_mut(ty).retain(|r| !r.has_keys(&keys));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_paths_respecting_quotes() {
        let segs = split_segments(
            "ManualSupplierInvoiceHandling.svc/ManSuppInvoiceSet(Company='1/0',InvoiceId=5)/ManSuppInvoicePostings",
        )
        .unwrap();
        assert_eq!(segs.len(), 3);
        assert_eq!(
            segs[1],
            Segment { name: "ManSuppInvoiceSet".into(), keys: Some("Company='1/0',InvoiceId=5".into()) }
        );
        assert_eq!(segs[2].keys, None);
        assert_eq!(split_segments("SupplierHandling.svc/").unwrap().len(), 1);
        assert_eq!(percent_decode("Set(Id='O%27%27Neil%20x')"), "Set(Id='O''Neil x')");
        for bad in ["P.svc/Set('x", "P.svc/Set(Id='x'))", "P.svc/Set(Id='x')y", "P.svc//Set"] {
            assert!(split_segments(bad).is_err(), "{bad}");
        }
    }
}
