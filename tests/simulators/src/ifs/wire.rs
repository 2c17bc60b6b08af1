//! The JSON wire format: reading request bodies into attribute changes and
//! rendering rows as IFS returns them (`@odata.etag`, `luname`, `keyref`,
//! `Objgrants`, then every attribute; `null` when unset).
//!
//! Binding is strict: `Content-Type: application/json` is required on a body;
//! system members (`@odata.*`, `luname`, `keyref`, `Objgrants`, `Objid`,
//! `Objversion`, `Objstate`, `Objkey`), unknown attributes, navigations
//! (no deep insert) and ill-typed values are 400 `ODP_DESERIALIZATION_ERROR`.
//! `Edm.Decimal` values are JSON numbers; strings are accepted (and
//! returned) only with `IEEE754Compatible=true` on `Accept`/`Content-Type`.
//!
//! Helpers return `Result<_, Response>` whose error is the HTTP answer itself.
#![allow(clippy::result_large_err)]

use std::str::FromStr;

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, header::HeaderName},
    response::Response,
};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use time::{Date, OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

use super::errors::{deserialization, too_large};
use super::odata::filter::order as filter_order;
use super::schema::{Attr, EntityType, Nav, Ty};
use super::state::{Ifs, Row, Val};

/// Request body cap.
pub(crate) const MAX_BODY: usize = 10 * 1024 * 1024;

/// Members a client must never send back.
const SYSTEM_MEMBERS: [&str; 7] = ["luname", "keyref", "Objgrants", "Objid", "Objversion", "Objstate", "Objkey"];

/// Reads the whole body, refusing more than [`MAX_BODY`] bytes with 413.
pub(crate) async fn read_body(body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| too_large(MAX_BODY))
}

/// Whether header `name` names media type `expected` (parameters ignored).
pub(crate) fn has_media_type(headers: &HeaderMap, name: HeaderName, expected: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// `IEEE754Compatible=true` on the given header.
fn ieee754_on(headers: &HeaderMap, name: HeaderName) -> bool {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split([';', ',']).any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("IEEE754Compatible") && v.trim().eq_ignore_ascii_case("true")
            })
        })
    })
}

/// Decimals as strings in responses (the `Accept` header asks for it).
pub(crate) fn ieee754_response(headers: &HeaderMap) -> bool {
    ieee754_on(headers, axum::http::header::ACCEPT)
}

pub(crate) fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub(crate) fn format_timestamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

fn parse_decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str(text).ok().or_else(|| Decimal::from_scientific(text).ok())
}

/// The attribute changes one body asks for (`None` = set to null), in body order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Changes {
    pub values: Vec<(&'static Attr, Option<Val>)>,
}

impl Changes {
    /// The value sent for `attr` (outer `None` = not sent).
    pub(crate) fn get(&self, attr: &str) -> Option<&Option<Val>> {
        self.values.iter().find(|(a, _)| a.name == attr).map(|(_, v)| v)
    }
}

/// Binds a create/update body for a row of `ty`; the error is the 400 answer.
pub(crate) fn bind(
    body: &[u8],
    headers: &HeaderMap,
    ty: &'static EntityType,
    namespace: &str,
) -> Result<Changes, Response> {
    if !has_media_type(headers, axum::http::header::CONTENT_TYPE, "application/json") {
        let sent = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("none");
        return Err(deserialization(&format!("The Content-Type must be application/json, not '{sent}'.")));
    }
    let strings_ok = ieee754_on(headers, axum::http::header::CONTENT_TYPE) || ieee754_response(headers);
    let value: Value = serde_json::from_slice(body).map_err(|e| deserialization(&format!("Invalid JSON: {e}.")))?;
    let Value::Object(members) = value else {
        return Err(deserialization("The body must be a JSON object."));
    };
    let mut changes = Changes::default();
    for (name, member) in members {
        if name.starts_with('@') || SYSTEM_MEMBERS.contains(&name.as_str()) {
            return Err(deserialization(&format!(
                "'{name}' is a system member and must not be sent in a request body."
            )));
        }
        if let Some(nav) = ty.nav(&name) {
            return Err(deserialization(&format!(
                "'{}' is a navigation of '{namespace}.{}'; deep insert is not supported, POST each row on the navigation.",
                nav.name, ty.name
            )));
        }
        let Some(attr) = ty.attr(&name) else {
            return Err(deserialization(&format!(
                "The property '{name}' does not exist in type '{namespace}.{}'.",
                ty.name
            )));
        };
        let value = convert(&member, attr, namespace, strings_ok)?;
        changes.values.push((attr, value));
    }
    Ok(changes)
}

fn convert(member: &Value, attr: &Attr, namespace: &str, strings_ok: bool) -> Result<Option<Val>, Response> {
    let wrong =
        |expected: &str| deserialization(&format!("The property '{}' expects {expected}, got {member}.", attr.name));
    Ok(Some(match (attr.ty, member) {
        (_, Value::Null) => return Ok(None),
        (Ty::Str, Value::String(s)) => Val::Str(s.clone()),
        (Ty::Str, _) => return Err(wrong("a string")),
        (Ty::Int, Value::Number(n)) => Val::Int(n.as_i64().ok_or_else(|| wrong("an integer"))?),
        (Ty::Int, _) => return Err(wrong("an integer")),
        (Ty::Dec, Value::Number(n)) => Val::Dec(parse_decimal(&n.to_string()).ok_or_else(|| wrong("a decimal"))?),
        (Ty::Dec, Value::String(s)) if strings_ok => Val::Dec(parse_decimal(s).ok_or_else(|| wrong("a decimal"))?),
        (Ty::Dec, Value::String(_)) => {
            return Err(wrong("a JSON number (decimal strings need IEEE754Compatible=true)"));
        }
        (Ty::Dec, _) => return Err(wrong("a decimal number")),
        (Ty::Bool, Value::Bool(b)) => Val::Bool(*b),
        (Ty::Bool, _) => return Err(wrong("true or false")),
        (Ty::Date, Value::String(s)) => Val::Date(parse_date(s).ok_or_else(|| wrong("an Edm.Date 'YYYY-MM-DD'"))?),
        (Ty::Date, _) => return Err(wrong("an Edm.Date 'YYYY-MM-DD'")),
        (Ty::Enum(e), Value::String(s)) if e.values.contains(&s.as_str()) => Val::Str(s.clone()),
        (Ty::Enum(e), _) => {
            return Err(wrong(&format!("a member of {namespace}.{} ({})", e.name, e.values.join(", "))));
        }
    }))
}

/// JSON of one value.
fn value_json(v: &Val, ieee754: bool) -> Value {
    match v {
        Val::Str(s) => json!(s),
        Val::Int(i) => json!(i),
        Val::Dec(d) => {
            let text = d.normalize().to_string();
            if ieee754 { json!(text) } else { serde_json::from_str(&text).unwrap_or(Value::Null) }
        }
        Val::Bool(b) => json!(b),
        Val::Date(d) => json!(format_date(*d)),
        Val::Timestamp(t) => json!(format_timestamp(*t)),
    }
}

/// How to render a row.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RenderOpts<'a> {
    pub ieee754: bool,
    /// `$select`: only these attributes (the envelope members always).
    pub select: Option<&'a [&'static str]>,
    pub expand: &'a [&'static Nav],
}

/// A row as IFS returns it.
pub(crate) fn render(ifs: &Ifs, ty: &'static EntityType, row: &Row, opts: RenderOpts) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("@odata.etag".into(), json!(row.etag()));
    out.insert("luname".into(), json!(ty.luname));
    out.insert("keyref".into(), json!(row.keyref(ty)));
    out.insert("Objgrants".into(), Value::Null);
    for attr in ty.attrs {
        if opts.select.is_some_and(|s| !s.contains(&attr.name)) {
            continue;
        }
        let v = row.get(attr.name).map(|v| value_json(v, opts.ieee754)).unwrap_or(Value::Null);
        out.insert(attr.name.into(), v);
    }
    for nav in opts.expand {
        let children: Vec<Value> = children(ifs, ty, row, nav)
            .into_iter()
            .map(|c| Value::Object(render(ifs, nav.target, c, RenderOpts { select: None, expand: &[], ..opts })))
            .collect();
        out.insert(nav.name.into(), Value::Array(children));
    }
    out
}

/// The parent-key values a child row of `parent_ty` must carry.
pub(crate) fn link_keys(parent_ty: &EntityType, parent: &Row) -> Vec<(&'static str, Val)> {
    parent_ty.keys.iter().filter_map(|k| Some((*k, parent.get(k)?.clone()))).collect()
}

/// Child rows of `parent` on `nav`, in key order.
pub(crate) fn children<'a>(ifs: &'a Ifs, parent_ty: &EntityType, parent: &Row, nav: &Nav) -> Vec<&'a Row> {
    let link = link_keys(parent_ty, parent);
    let mut rows: Vec<&Row> = ifs.rows(nav.target).iter().filter(|r| r.has_keys(&link)).collect();
    rows.sort_by(|a, b| key_order(nav.target, a, b));
    rows
}

/// Order of two rows by their keys.
pub(crate) fn key_order(ty: &EntityType, a: &Row, b: &Row) -> std::cmp::Ordering {
    for k in ty.keys {
        let o = match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => filter_order(x, y).unwrap_or(std::cmp::Ordering::Equal),
            (x, y) => x.is_some().cmp(&y.is_some()),
        };
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ifs::schema::MAN_SUPP_INVOICE;
    use axum::http::HeaderValue;

    fn headers(content_type: &str, accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        h.insert(axum::http::header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        h
    }

    const NS: &str = "IfsApp.ManualSupplierInvoiceHandling";

    #[test]
    fn binds_strictly() {
        let json = headers("application/json", "application/json");
        let ok = bind(br#"{"Company":"10","GrossCurrAmount":245.50,"InvoiceDate":"2024-03-15","PartyType":"Supplier","DueDate":null}"#, &json, &MAN_SUPP_INVOICE, NS).unwrap();
        assert_eq!(ok.get("GrossCurrAmount"), Some(&Some(Val::Dec(Decimal::new(24550, 2)))));
        assert_eq!(ok.get("DueDate"), Some(&None));
        for bad in [
            r#"{"@odata.etag":"x"}"#,
            r#"{"luname":"ManSuppInvoice"}"#,
            r#"{"Objstate":"Preliminary"}"#,
            r#"{"Nope":1}"#,
            r#"{"ManSuppInvoicePostings":[]}"#,
            r#"{"GrossCurrAmount":"245.50"}"#,
            r#"{"InvoiceDate":"2024-03-15T00:00:00Z"}"#,
            r#"{"PartyType":"Vendor"}"#,
            r#"{"Company":10}"#,
            r#"[]"#,
            r#"{"#,
        ] {
            assert!(bind(bad.as_bytes(), &json, &MAN_SUPP_INVOICE, NS).is_err(), "{bad}");
        }
        assert!(bind(b"{}", &headers("text/plain", "application/json"), &MAN_SUPP_INVOICE, NS).is_err());
        let ieee = headers("application/json", "application/json;odata.metadata=minimal;IEEE754Compatible=true");
        let ok = bind(br#"{"GrossCurrAmount":"245.50"}"#, &ieee, &MAN_SUPP_INVOICE, NS).unwrap();
        assert_eq!(ok.get("GrossCurrAmount"), Some(&Some(Val::Dec(Decimal::new(24550, 2)))));
    }

    #[test]
    fn decimals_render_as_numbers_or_strings() {
        let v = Val::Dec(Decimal::new(24550, 2));
        assert_eq!(value_json(&v, false).to_string(), "245.5");
        assert_eq!(value_json(&v, true), json!("245.5"));
    }
}
