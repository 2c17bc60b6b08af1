//! The contract-based wire format (§2): binding request bodies into
//! [`Incoming`] changes and rendering stored records back to JSON.
//!
//! Binding is strict the way Acumatica's Json.NET model binder is strict about
//! *shape*: a business field must be a `{"value": ...}` wrapper. A bare
//! scalar (`"Vendor": "V1"`) cannot be converted to `StringValue`, which
//! ASP.NET Web API reports as an invalid model state: **HTTP 400** with
//! `{"message":"The request is invalid.","modelState":{"entity.Vendor":[...]}}`.
//! 400 (not 422) because the body never reaches the business logic — 422 is
//! reserved for records that bind but fail validation. Unknown member names
//! (including wrong-case ones) get the same 400: the reference is silent on
//! them and a strict simulator must not drop a misspelt field unnoticed.
//! Value *conversions* follow Json.NET: a numeric string is accepted for a
//! decimal, a number for a string, "true"/"false" for a boolean.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use time::{
    Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, format_description::well_known::Iso8601,
    macros::format_description,
};
use uuid::Uuid;

use super::schema::{FieldDef, Schema, Ty};
use super::state::{CustomType, CustomVal, Record, Val};

/// A binding failure: the member path (Json.NET style) and the message.
#[derive(Debug)]
pub(crate) struct BindError {
    pub path: String,
    pub detail: String,
}

fn bind_err(path: &str, detail: impl Into<String>) -> BindError {
    BindError { path: path.to_owned(), detail: detail.into() }
}

/// The changes one request body asks for, on one record.
#[derive(Debug, Default, Clone)]
pub(crate) struct Incoming {
    pub id: Option<Uuid>,
    pub delete: bool,
    /// field → new value (`None` = clear it).
    pub values: BTreeMap<&'static str, Option<Val>>,
    pub linked: BTreeMap<&'static str, Incoming>,
    pub collections: BTreeMap<&'static str, Vec<Incoming>>,
    /// (view, field, value)
    pub custom: Vec<(String, String, CustomVal)>,
    pub note: Option<Option<String>>,
}

impl Incoming {
    /// The value sent for `field`, if one was sent and is not null.
    pub(crate) fn value(&self, field: &str) -> Option<&Val> {
        self.values.get(field).and_then(Option::as_ref)
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() { member.to_owned() } else { format!("{path}.{member}") }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "Float",
        Value::String(_) => "String",
        Value::Array(_) => "StartArray",
        Value::Object(_) => "StartObject",
    }
}

/// Parses a request body into changes for a record of `schema`.
pub(crate) fn bind_body(body: &[u8], schema: &Schema) -> Result<Incoming, BindError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bind_err("", "The request body is empty; an entity is required."));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| bind_err("", format!("Invalid JSON: {e}")))?;
    bind_record(&value, schema, "", true)
}

/// Binds one JSON object as a record of `schema`; `path` is its Json.NET path.
pub(crate) fn bind_record(value: &Value, schema: &Schema, path: &str, top: bool) -> Result<Incoming, BindError> {
    let Value::Object(members) = value else {
        return Err(bind_err(
            path,
            format!(
                "Cannot deserialize the current JSON {} into type '{}' because the type requires a JSON object. Path '{path}'.",
                json_kind(value),
                schema.name
            ),
        ));
    };
    let mut incoming = Incoming::default();
    for (name, member) in members {
        let here = join(path, name);
        match name.as_str() {
            "id" => incoming.id = bind_id(member, &here)?,
            "rowNumber" => {
                if !(member.is_null() || member.is_i64()) {
                    return Err(bind_err(&here, format!("Could not convert {member} to integer. Path '{here}'.")));
                }
            }
            "note" => incoming.note = bind_note(member, &here)?,
            "custom" => incoming.custom = bind_custom(member, schema, &here)?,
            // Echoed system members a client may send back; they carry no change.
            "files" | "_links" | "error" => {}
            "delete" => match member {
                Value::Bool(b) if !top => incoming.delete = *b,
                Value::Null if !top => {}
                Value::Bool(_) | Value::Null => {
                    return Err(bind_err(
                        &here,
                        "'delete' is only supported on detail lines; use DELETE to remove a record.",
                    ));
                }
                other => {
                    return Err(bind_err(&here, format!("Could not convert {other} to boolean. Path '{here}'.")));
                }
            },
            _ => {
                if let Some(field) = schema.field(name) {
                    if let Some(change) = bind_field(member, field, &here)? {
                        incoming.values.insert(field.name, change);
                    }
                } else if let Some((linked_name, linked)) = schema.linked.iter().find(|(n, _)| n == name) {
                    if !member.is_null() {
                        incoming.linked.insert(linked_name, bind_record(member, linked, &here, false)?);
                    }
                } else if let Some((coll_name, line)) = schema.collections.iter().find(|(n, _)| n == name) {
                    match member {
                        Value::Null => {}
                        Value::Array(items) => {
                            let mut lines = Vec::with_capacity(items.len());
                            for (i, item) in items.iter().enumerate() {
                                lines.push(bind_record(item, line, &format!("{here}[{i}]"), false)?);
                            }
                            incoming.collections.insert(coll_name, lines);
                        }
                        other => {
                            return Err(bind_err(
                                &here,
                                format!(
                                    "Cannot deserialize the current JSON {} into type 'List<{}>' because the type requires a JSON array. Path '{here}'.",
                                    json_kind(other),
                                    line.name
                                ),
                            ));
                        }
                    }
                } else {
                    return Err(bind_err(
                        &here,
                        format!("Could not find member '{name}' on object of type '{}'. Path '{here}'.", schema.name),
                    ));
                }
            }
        }
    }
    Ok(incoming)
}

fn bind_id(member: &Value, path: &str) -> Result<Option<Uuid>, BindError> {
    match member {
        Value::Null => Ok(None),
        Value::String(s) => Uuid::parse_str(s).map(Some).map_err(|_| {
            bind_err(
                path,
                format!("Error converting value \"{s}\" to type 'System.Nullable`1[System.Guid]'. Path '{path}'."),
            )
        }),
        other => Err(bind_err(
            path,
            format!("Error converting value {other} to type 'System.Nullable`1[System.Guid]'. Path '{path}'."),
        )),
    }
}

fn bind_note(member: &Value, path: &str) -> Result<Option<Option<String>>, BindError> {
    match member {
        Value::Null => Ok(None),
        Value::Object(obj) => {
            for key in obj.keys() {
                if key != "value" {
                    return Err(bind_err(
                        path,
                        format!("Could not find member '{key}' on object of type 'StringValue'. Path '{path}.{key}'."),
                    ));
                }
            }
            match obj.get("value") {
                None => Ok(None),
                Some(Value::Null) => Ok(Some(None)),
                Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
                Some(other) => Err(bind_err(
                    path,
                    format!("Error reading string. Unexpected token: {}. Path '{path}.value'.", json_kind(other)),
                )),
            }
        }
        other => Err(bind_err(
            path,
            format!("Error converting value {other} to type '{}'. Path '{path}'.", Ty::Str.model_name()),
        )),
    }
}

/// Binds one `{"value": ...}` wrapper. `Ok(None)` = no change requested.
fn bind_field(member: &Value, field: &FieldDef, path: &str) -> Result<Option<Option<Val>>, BindError> {
    match member {
        Value::Null => Ok(None),
        Value::Object(obj) => {
            for key in obj.keys() {
                if key != "value" && key != "error" {
                    let short = field.ty.model_name().rsplit('.').next().unwrap_or("Value");
                    return Err(bind_err(
                        path,
                        format!("Could not find member '{key}' on object of type '{short}'. Path '{path}.{key}'."),
                    ));
                }
            }
            match obj.get("value") {
                None => Ok(None),
                Some(Value::Null) => Ok(Some(None)),
                Some(v) => convert(v, field.ty, &format!("{path}.value")).map(|v| Some(Some(v))),
            }
        }
        bare => Err(bind_err(
            path,
            format!("Error converting value {bare} to type '{}'. Path '{path}'.", field.ty.model_name()),
        )),
    }
}

/// Converts a JSON scalar to a field value as Json.NET would.
pub(crate) fn convert(v: &Value, ty: Ty, path: &str) -> Result<Val, BindError> {
    let unexpected = |what: &str| {
        bind_err(path, format!("Error reading {what}. Unexpected token: {}. Path '{path}'.", json_kind(v)))
    };
    match ty {
        Ty::Str => match v {
            Value::String(s) => Ok(Val::Str(s.clone())),
            Value::Number(n) => Ok(Val::Str(n.to_string())),
            Value::Bool(b) => Ok(Val::Str(if *b { "True" } else { "False" }.into())),
            _ => Err(unexpected("string")),
        },
        Ty::Dec => {
            let text = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_owned(),
                _ => return Err(unexpected("decimal")),
            };
            let value = parse_decimal(&text).ok_or_else(|| {
                bind_err(path, format!("Could not convert string to decimal: {text}. Path '{path}'."))
            })?;
            // Acumatica stores amounts as SQL decimals; far larger values fail on save.
            if value.abs() >= Decimal::from(MAX_DECIMAL) {
                return Err(bind_err(
                    path,
                    format!("Value was either too large or too small for a Decimal. Path '{path}'."),
                ));
            }
            Ok(Val::Dec(value))
        }
        Ty::Int => {
            let text = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_owned(),
                _ => return Err(unexpected("integer")),
            };
            text.parse::<i32>()
                .map(|i| Val::Int(i64::from(i)))
                .map_err(|_| bind_err(path, format!("Input string '{text}' is not a valid integer. Path '{path}'.")))
        }
        Ty::Bool => match v {
            Value::Bool(b) => Ok(Val::Bool(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Val::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Val::Bool(false)),
            Value::Number(n) if n.is_i64() => Ok(Val::Bool(n.as_i64() != Some(0))),
            Value::String(s) => {
                Err(bind_err(path, format!("Could not convert string to boolean: {s}. Path '{path}'.")))
            }
            _ => Err(unexpected("boolean")),
        },
        Ty::Date => match v {
            Value::String(s) => parse_date(s)
                .map(Val::Date)
                .ok_or_else(|| bind_err(path, format!("Could not convert string to DateTime: {s}. Path '{path}'."))),
            _ => Err(unexpected("date")),
        },
    }
}

fn bind_custom(member: &Value, schema: &Schema, path: &str) -> Result<Vec<(String, String, CustomVal)>, BindError> {
    let mut out = Vec::new();
    let views = match member {
        Value::Null => return Ok(out),
        Value::Object(views) => views,
        other => {
            return Err(bind_err(
                path,
                format!(
                    "Cannot deserialize the current JSON {} into type 'CustomFields'. Path '{path}'.",
                    json_kind(other)
                ),
            ));
        }
    };
    for (view, fields) in views {
        let view_path = join(path, view);
        if !schema.custom_views.contains(&view.as_str()) {
            return Err(bind_err(
                &view_path,
                format!(
                    "'{view}' is not a data view of '{}'; custom fields belong to: {}.",
                    schema.name,
                    schema.custom_views.join(", ")
                ),
            ));
        }
        let Value::Object(fields) = fields else {
            return Err(bind_err(&view_path, format!("Expected an object of custom fields. Path '{view_path}'.")));
        };
        for (field, wrapper) in fields {
            let field_path = join(&view_path, field);
            let Value::Object(wrapper) = wrapper else {
                return Err(bind_err(
                    &field_path,
                    format!(
                        "Error converting value {wrapper} to type 'PX.Api.ContractBased.Models.CustomField'. Path '{field_path}'."
                    ),
                ));
            };
            for key in wrapper.keys() {
                if key != "type" && key != "value" && key != "error" {
                    return Err(bind_err(
                        &field_path,
                        format!(
                            "Could not find member '{key}' on object of type 'CustomField'. Path '{field_path}.{key}'."
                        ),
                    ));
                }
            }
            let ty = match wrapper.get("type") {
                Some(Value::String(name)) => CustomType::from_wire(name).ok_or_else(|| {
                    bind_err(&field_path, format!("Unknown custom field type '{name}'. Path '{field_path}.type'."))
                })?,
                _ => {
                    return Err(bind_err(
                        &field_path,
                        format!("A custom field needs a 'type' such as 'CustomStringField'. Path '{field_path}.type'."),
                    ));
                }
            };
            let value = match wrapper.get("value") {
                None | Some(Value::Null) => None,
                Some(v) => {
                    let value_path = format!("{field_path}.value");
                    let converted = convert(v, ty.value_ty(), &value_path)?;
                    if ty == CustomType::Guid
                        && let Val::Str(s) = &converted
                        && Uuid::parse_str(s).is_err()
                    {
                        return Err(bind_err(
                            &value_path,
                            format!("Could not convert string to Guid: {s}. Path '{value_path}'."),
                        ));
                    }
                    Some(converted)
                }
            };
            out.push((view.clone(), field.clone(), CustomVal { ty, value }));
        }
    }
    Ok(out)
}

/// Largest magnitude (exclusive) accepted for a decimal value.
const MAX_DECIMAL: i64 = 1_000_000_000_000_000;

/// Parses decimal text exactly (no f64 round trip), with or without exponent.
pub(crate) fn parse_decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str(text).ok().or_else(|| Decimal::from_scientific(text).ok())
}

/// Parses the date/time forms Acumatica accepts: ISO-8601 with an offset,
/// without one (taken as UTC), or date-only (midnight).
pub(crate) fn parse_date(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(d) = OffsetDateTime::parse(text, &Iso8601::PARSING) {
        return Some(d);
    }
    if let Ok(d) = PrimitiveDateTime::parse(text, &Iso8601::PARSING) {
        return Some(d.assume_utc());
    }
    let date_only = format_description!("[year]-[month]-[day]");
    Date::parse(text, &date_only).ok().map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc())
}

/// `2024-03-15T00:00:00+00:00`, with milliseconds when non-zero (`.37`).
pub(crate) fn format_date(d: OffsetDateTime) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    );
    let millis = d.millisecond();
    if millis > 0 {
        let frac = format!("{millis:03}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let offset: UtcOffset = d.offset();
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    s.push_str(&format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs()));
    s
}

/// A decimal as a JSON number, always with a fractional part (`200.0`).
pub(crate) fn decimal_json(d: Decimal) -> Value {
    let n = d.normalize();
    let text = if n.scale() == 0 { format!("{n}.0") } else { n.to_string() };
    serde_json::Number::from_str(&text).map(Value::Number).unwrap_or(Value::Null)
}

/// A value as it appears inside `{"value": ...}`.
pub(crate) fn val_json(v: &Val) -> Value {
    match v {
        Val::Str(s) => Value::String(s.clone()),
        Val::Dec(d) => decimal_json(*d),
        Val::Int(i) => Value::from(*i),
        Val::Bool(b) => Value::Bool(*b),
        Val::Date(d) => Value::String(format_date(*d)),
    }
}

/// `$select` restriction: top-level fields and per-child field lists.
#[derive(Debug, Default, Clone)]
pub(crate) struct Select {
    pub fields: BTreeSet<String>,
    pub nested: BTreeMap<String, BTreeSet<String>>,
}

/// Validation errors to attach to a rendered record.
#[derive(Debug, Default, Clone)]
pub(crate) struct RecErrors {
    pub record: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub linked: BTreeMap<String, RecErrors>,
    /// collection → line index → errors
    pub lines: BTreeMap<String, BTreeMap<usize, RecErrors>>,
}

impl RecErrors {
    pub(crate) fn is_empty(&self) -> bool {
        self.record.is_none()
            && self.fields.is_empty()
            && self.linked.values().all(RecErrors::is_empty)
            && self.lines.values().all(|lines| lines.values().all(RecErrors::is_empty))
    }

    pub(crate) fn field(&mut self, field: &str, message: impl Into<String>) {
        self.fields.entry(field.to_owned()).or_insert_with(|| message.into());
    }

    pub(crate) fn line(&mut self, collection: &str, index: usize) -> &mut RecErrors {
        self.lines.entry(collection.to_owned()).or_default().entry(index).or_default()
    }
}

/// What to include when rendering.
#[derive(Debug, Clone, Default)]
pub(crate) struct RenderOpts {
    pub select: Option<Select>,
    /// Linked/detail members to include (`$expand`).
    pub expand: BTreeSet<String>,
    /// `$custom` entries: (view, field).
    pub custom: Vec<(String, String)>,
    /// Include everything (read-back helpers, 422 echoes).
    pub everything: bool,
    /// `/entity/{endpoint}/{version}` for `_links`.
    pub base: String,
    pub entity: String,
}

/// Renders a top-level record.
pub(crate) fn render(
    rec: &Record,
    schema: &Schema,
    opts: &RenderOpts,
    row: usize,
    errors: Option<&RecErrors>,
) -> Value {
    let mut out = render_members(rec, schema, opts, opts.select.as_ref().map(|s| &s.fields), errors);
    out.insert("rowNumber".into(), json!(row));
    out.insert("note".into(), json!({ "value": rec.note.clone().unwrap_or_default() }));
    let files: Vec<Value> = rec
        .files
        .iter()
        .map(|f| {
            let mut file = json!({
                "id": f.id.to_string(),
                "filename": f.filename,
                "href": format!("{}/files/{}", opts.base, f.id),
            });
            if let Some(comment) = &f.comment {
                file["comment"] = json!(comment);
            }
            file
        })
        .collect();
    out.insert("files".into(), Value::Array(files));
    out.insert(
        "_links".into(),
        json!({
            "self": format!("{}/{}/{}", opts.base, opts.entity, rec.id),
            "files:put": format!("{}/{}/{}/files/{{filename}}", opts.base, opts.entity, rec.id),
        }),
    );
    for (name, line_schema) in schema.collections {
        let errs = errors.and_then(|e| e.lines.get(*name));
        if !(opts.everything || opts.expand.contains(*name) || errs.is_some()) {
            continue;
        }
        let line_select = opts.select.as_ref().and_then(|s| s.nested.get(*name));
        let lines: Vec<Value> = rec
            .lines(name)
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let line_errors = errs.and_then(|e| e.get(&i));
                let mut m = render_members(line, line_schema, opts, line_select, line_errors);
                m.insert("rowNumber".into(), json!(i + 1));
                m.insert("note".into(), json!({ "value": line.note.clone().unwrap_or_default() }));
                m.insert("_links".into(), json!({}));
                Value::Object(m)
            })
            .collect();
        out.insert((*name).to_owned(), Value::Array(lines));
    }
    for (name, linked_schema) in schema.linked {
        let errs = errors.and_then(|e| e.linked.get(*name));
        if !(opts.everything || opts.expand.contains(*name) || errs.is_some()) {
            continue;
        }
        let empty = Record::default();
        let linked = rec.linked.get(*name).unwrap_or(&empty);
        let select = opts.select.as_ref().and_then(|s| s.nested.get(*name));
        out.insert((*name).to_owned(), Value::Object(render_linked(linked, linked_schema, opts, select, errs)));
    }
    Value::Object(out)
}

fn render_linked(
    rec: &Record,
    schema: &Schema,
    opts: &RenderOpts,
    select: Option<&BTreeSet<String>>,
    errors: Option<&RecErrors>,
) -> Map<String, Value> {
    let mut out = render_members(rec, schema, opts, select, errors);
    for (name, child) in schema.linked {
        let empty = Record::default();
        let linked = rec.linked.get(*name).unwrap_or(&empty);
        let errs = errors.and_then(|e| e.linked.get(*name));
        out.insert((*name).to_owned(), Value::Object(render_linked(linked, child, opts, None, errs)));
    }
    out
}

/// `id`, business fields, `custom` and `error` of one record.
fn render_members(
    rec: &Record,
    schema: &Schema,
    opts: &RenderOpts,
    select: Option<&BTreeSet<String>>,
    errors: Option<&RecErrors>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), json!(rec.id.to_string()));
    for field in schema.fields {
        if !opts.everything && select.is_some_and(|s| !s.contains(field.name)) {
            continue;
        }
        let mut wrapper = Map::new();
        if let Some(v) = rec.values.get(field.name) {
            wrapper.insert("value".into(), val_json(v));
        }
        if let Some(message) = errors.and_then(|e| e.fields.get(field.name)) {
            wrapper.insert("error".into(), json!(message));
        }
        out.insert(field.name.to_owned(), Value::Object(wrapper));
    }
    let mut custom = Map::new();
    for (view, fields) in &rec.custom {
        if !schema.custom_views.contains(&view.as_str()) {
            continue;
        }
        for (field, value) in fields {
            let requested = opts.custom.iter().any(|(v, f)| v == view && f == field);
            if !(opts.everything || requested) {
                continue;
            }
            let mut wrapper = Map::new();
            wrapper.insert("type".into(), json!(value.ty.wire_name()));
            if let Some(v) = &value.value {
                wrapper.insert("value".into(), val_json(v));
            }
            let view_obj = custom.entry(view.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = view_obj {
                m.insert(field.clone(), Value::Object(wrapper));
            }
        }
    }
    out.insert("custom".into(), Value::Object(custom));
    if let Some(message) = errors.and_then(|e| e.record.as_ref()) {
        out.insert("error".into(), json!(message));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_exact_value() {
        assert_eq!(parse_decimal("245.50"), Some(Decimal::new(24550, 2)));
        assert_eq!(parse_decimal("1e2"), Some(Decimal::from(100)));
        assert_eq!(decimal_json(Decimal::new(20000, 2)).to_string(), "200.0");
        assert_eq!(decimal_json(Decimal::new(2455, 1)).to_string(), "245.5");
        assert_eq!(decimal_json(Decimal::new(1, 1)).to_string(), "0.1");
    }

    #[test]
    fn dates_parse_and_format_like_acumatica() {
        let d = parse_date("2024-03-15").unwrap();
        assert_eq!(format_date(d), "2024-03-15T00:00:00+00:00");
        let d = parse_date("2024-03-15T14:02:11.370+02:00").unwrap();
        assert_eq!(format_date(d), "2024-03-15T14:02:11.37+02:00");
        assert_eq!(format_date(parse_date("2024-03-15T10:00:00Z").unwrap()), "2024-03-15T10:00:00+00:00");
        assert!(parse_date("15/03/2024").is_none());
    }
}
