//! OData v4 as IFS speaks it (reference §3, §6): literals, keys, query
//! strings, error bodies, money and the one company every request is for.
//!
//! Pure functions: everything here is tested without a server.

use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rust_decimal::Decimal;
use serde_json::{Map, Number, Value};
use transport::{sanitized, short_reason};

/// Members IFS adds to every record that must never go back in a body
/// (reference §3: rejected or ignored).
const SYSTEM_MEMBERS: [&str; 7] = ["luname", "keyref", "Objgrants", "Objid", "Objversion", "Objstate", "Objkey"];

pub(crate) use crate::odata::literal;

/// One key value of an entity URL (reference §3 "Keys in URLs").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyValue {
    /// Quoted: `Company='10'`.
    Text(String),
    /// Bare: `InvoiceId=104233`.
    Number(i64),
    /// Typed with the projection namespace: `IfsApp.SupplierHandling.PartyType'Supplier'`.
    #[allow(dead_code)] // No key the connector addresses has an enum part yet; kept for the reference's syntax.
    Enum { type_name: String, value: String },
}

impl KeyValue {
    fn render(&self) -> String {
        match self {
            KeyValue::Text(text) => literal(text),
            KeyValue::Number(n) => n.to_string(),
            KeyValue::Enum { type_name, value } => format!("{type_name}{}", literal(value)),
        }
    }
}

/// The key of one entity, in URL order. Built by [`Company::key`], so every
/// key of a company-keyed entity starts with the client's company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key(Vec<(&'static str, KeyValue)>);

impl Key {
    /// The key of an entity IFS keys without a company: a purchase order's
    /// `OrderNo` (such records are company-checked on every read instead),
    /// a supplier's `SupplierId` and its addresses (global master data).
    pub(crate) fn unscoped(parts: Vec<(&'static str, KeyValue)>) -> Self {
        Key(parts)
    }

    /// `Company='10',InvoiceId=104233`, URL-encoded for a path segment.
    pub(crate) fn to_path(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(name, value)| format!("{name}={}", utf8_percent_encode(&value.render(), PATH_SEGMENT)))
            .collect();
        parts.join(",")
    }

    /// The values, `/`-separated, for references and messages (`10/104233`).
    pub(crate) fn values(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(_, v)| match v {
                KeyValue::Text(t) => t.clone(),
                KeyValue::Number(n) => n.to_string(),
                KeyValue::Enum { value, .. } => value.clone(),
            })
            .collect();
        parts.join("/")
    }
}

/// The one IFS company a client works for. Filters, keys and create bodies
/// are built only here, so none can name another company, and every record
/// read back is checked to belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Company(String);

impl Company {
    pub(crate) fn new(company: &str) -> Self {
        Self(company.to_owned())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// `Company eq '<c>'` and then each condition, joined with `and`.
    pub(crate) fn filter(&self, conditions: &[String]) -> String {
        let mut filter = format!("Company eq {}", literal(&self.0));
        for condition in conditions {
            filter.push_str(" and ");
            filter.push_str(condition);
        }
        filter
    }

    /// `Company='<c>'` followed by `rest`.
    pub(crate) fn key(&self, rest: Vec<(&'static str, KeyValue)>) -> Key {
        let mut parts = vec![("Company", KeyValue::Text(self.0.clone()))];
        parts.extend(rest);
        Key(parts)
    }

    /// A create body: `fields` with this company's `Company` (one in `fields` is replaced).
    pub(crate) fn body(&self, fields: Map<String, Value>) -> Value {
        let mut body = Map::new();
        body.insert("Company".into(), Value::String(self.0.clone()));
        for (name, value) in fields {
            if name != "Company" {
                body.insert(name, value);
            }
        }
        Value::Object(body)
    }

    /// `Ok` when `record` carries this company; what it carries otherwise.
    pub(crate) fn check(&self, record: &Value) -> Result<(), ForeignRecord> {
        match record.get("Company") {
            Some(Value::String(c)) if *c == self.0 => Ok(()),
            Some(Value::String(c)) => Err(ForeignRecord::OtherCompany { company: sanitized(c, 40) }),
            Some(_) => Err(ForeignRecord::CompanyNotText),
            None => Err(ForeignRecord::NoCompany),
        }
    }
}

/// A record that is not of the client's company.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ForeignRecord {
    #[error("a record of company `{company}`")]
    OtherCompany { company: String },
    #[error("a record whose Company is not text")]
    CompanyNotText,
    #[error("a record without Company")]
    NoCompany,
}

/// Characters percent-encoded (as UTF-8) in a key segment: all but ASCII
/// letters, digits, the unreserved marks and the OData key syntax.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b',')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'*');
/// Characters percent-encoded in a query option's value: as in a key
/// segment, except that `=` is encoded (it separates option and value) and
/// `/` is kept (a `$select` path).
const QUERY_VALUE: &AsciiSet = &PATH_SEGMENT.add(b'=').remove(b'/');

/// `?$filter=…&$select=…` with every value percent-encoded (spaces as `%20`).
pub(crate) fn query(options: &[(&str, &str)]) -> String {
    let parts: Vec<String> =
        options.iter().map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, QUERY_VALUE))).collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

/// A name from configuration that goes into a URL or `$filter`: letters,
/// digits and `_` only, starting with a letter, so configuration can never
/// change the meaning of a request.
pub(crate) fn is_identifier(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// IFS's error body `{"error":{"code","message","details","innererror"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ODataError {
    pub(crate) code: String,
    /// `message`, then each `details[].message` that adds something, then
    /// `innererror.message`; bounded.
    pub(crate) message: String,
}

impl ODataError {
    /// Parses an error body; a body that is not IFS's shape becomes the message.
    pub(crate) fn parse(body: &str) -> Self {
        let Ok(root) = serde_json::from_str::<Value>(body) else {
            return Self { code: String::new(), message: short_reason(body) };
        };
        let Some(error) = root.get("error").filter(|e| e.is_object()) else {
            return Self { code: String::new(), message: short_reason(body) };
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned();
        let code = text(error.get("code"));
        let mut parts: Vec<String> = Vec::new();
        let mut add = |part: String| {
            if !part.is_empty() && !parts.iter().any(|p| p.contains(&part)) {
                parts.push(part);
            }
        };
        add(text(error.get("message")));
        for detail in error.get("details").and_then(Value::as_array).into_iter().flatten() {
            let message = text(detail.get("message"));
            let code = text(detail.get("code"));
            match (code.is_empty(), message.is_empty()) {
                (_, true) => {}
                (true, false) => add(message),
                (false, false) => add(format!("{code}: {message}")),
            }
        }
        if let Some(inner) = error.get("innererror") {
            add(match inner {
                Value::String(s) => s.trim().to_owned(),
                other => text(other.get("message")),
            });
        }
        Self { code: sanitized(&code, 80), message: short_reason(&parts.join("; ")) }
    }

    /// IFS's projection metadata cache was invalidated: the same request
    /// is expected to succeed when repeated (reference §6).
    pub(crate) fn is_metadata_modified(&self) -> bool {
        self.code == "MI_MODIFIED_ERROR"
    }

    /// ` ODP_FORBIDDEN` style suffix for messages (empty without a code).
    pub(crate) fn code_suffix(&self) -> String {
        if self.code.is_empty() { String::new() } else { format!(" {}", self.code) }
    }
}

/// The decimal's exact text as a JSON number. serde_json is built with
/// `arbitrary_precision` (rust_decimal's feature), so `0.10` stays `0.10`
/// on the wire; decimal text always parses as a JSON number.
pub(crate) fn money(amount: Decimal) -> Value {
    Number::from_str(&amount.to_string()).map(Value::Number).unwrap_or(Value::Null)
}

/// An `Edm.Decimal` read back exactly: a JSON number by its text (serde_json
/// keeps it with `arbitrary_precision`), or a string
/// (`IEEE754Compatible=true`); never through a binary float.
pub(crate) fn decimal(record: &Value, member: &str) -> Option<Decimal> {
    let text = match record.get(member)? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)).ok()
}

/// A member's value as text: a string trimmed (`None` when blank), or a
/// number's text (a key part like `ReceiptNo` may be numeric, `LineNo` is
/// a string).
pub(crate) fn value_text(record: &Value, member: &str) -> Option<String> {
    match record.get(member)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer key read back (number, or numeric string).
pub(crate) fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.to_string().parse().ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The record's text member.
pub(crate) fn text<'a>(record: &'a Value, member: &str) -> Option<&'a str> {
    record.get(member).and_then(Value::as_str)
}

/// `true` for members that must never be sent back (`@odata.*`, IFS's
/// envelope and `Obj*` system attributes).
pub(crate) fn is_system_member(name: &str) -> bool {
    name.starts_with("@odata.") || name.contains("@odata.") || SYSTEM_MEMBERS.contains(&name)
}

/// `body` without system members (defence in depth: bodies are built from
/// our own fields, never from a record read back).
pub(crate) fn without_system_members(body: Value) -> Value {
    match body {
        Value::Object(members) => {
            Value::Object(members.into_iter().filter(|(name, _)| !is_system_member(name)).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_literals_double_quotes() {
        assert_eq!(literal("S1000"), "'S1000'");
        assert_eq!(literal("O'Neil"), "'O''Neil'");
        assert_eq!(literal("''"), "''''''");
    }

    #[test]
    fn keys_quote_text_leave_numbers_bare_and_type_enums() {
        let company = Company::new("10");
        let key = company.key(vec![("InvoiceId", KeyValue::Number(104233))]);
        assert_eq!(key.to_path(), "Company='10',InvoiceId=104233");
        assert_eq!(key.values(), "10/104233");
        let key = company.key(vec![
            ("Identity", KeyValue::Text("O'Neil & Sons/1".into())),
            (
                "PartyType",
                KeyValue::Enum { type_name: "IfsApp.SupplierHandling.PartyType".into(), value: "Supplier".into() },
            ),
        ]);
        assert_eq!(
            key.to_path(),
            "Company='10',Identity='O''Neil%20%26%20Sons%2F1',PartyType=IfsApp.SupplierHandling.PartyType'Supplier'"
        );
        let voucher = company.key(vec![
            ("AccountingYear", KeyValue::Number(2024)),
            ("VoucherType", KeyValue::Text("M".into())),
            ("VoucherNo", KeyValue::Number(2024000123)),
        ]);
        assert_eq!(voucher.to_path(), "Company='10',AccountingYear=2024,VoucherType='M',VoucherNo=2024000123");
    }

    #[test]
    fn filters_always_start_with_the_company() {
        let company = Company::new("1'0");
        assert_eq!(company.filter(&[]), "Company eq '1''0'");
        let filter = company.filter(&[format!("InvoiceNo eq {}", literal("K'1"))]);
        assert_eq!(filter, "Company eq '1''0' and InvoiceNo eq 'K''1'");
        assert_eq!(
            query(&[("$filter", &filter), ("$top", "1")]),
            "?$filter=Company%20eq%20'1''0'%20and%20InvoiceNo%20eq%20'K''1'&$top=1"
        );
        assert_eq!(query(&[("$filter", "a+b&c=d#é")]), "?$filter=a%2Bb%26c%3Dd%23%C3%A9");
    }

    #[test]
    fn only_letters_digits_and_the_odata_marks_stay_unencoded() {
        // Every ASCII character: kept exactly when it is a letter, a digit or
        // one of the marks the OData syntax needs in that place.
        for byte in 0u8..=127 {
            let text = (byte as char).to_string();
            let encoded = format!("%{byte:02X}");
            let in_key = utf8_percent_encode(&text, PATH_SEGMENT).to_string();
            let kept_in_key = byte.is_ascii_alphanumeric() || b"-._~'(),=:@!$*".contains(&byte);
            assert_eq!(in_key, if kept_in_key { text.clone() } else { encoded.clone() }, "key: {text:?}");
            let in_query = utf8_percent_encode(&text, QUERY_VALUE).to_string();
            let kept_in_query = byte.is_ascii_alphanumeric() || b"-._~'(),:@!$*/".contains(&byte);
            assert_eq!(in_query, if kept_in_query { text } else { encoded }, "query: {byte:#04x}");
        }
    }

    #[test]
    fn bodies_carry_the_company_and_nothing_else_can_override_it() {
        let company = Company::new("10");
        let mut fields = Map::new();
        fields.insert("Company".into(), json!("20"));
        fields.insert("Identity".into(), json!("S1"));
        assert_eq!(company.body(fields), json!({"Company": "10", "Identity": "S1"}));
        assert_eq!(company.check(&json!({"Company": "10"})), Ok(()));
        assert!(company.check(&json!({"Company": "20"})).unwrap_err().to_string().contains("company `20`"));
        assert!(company.check(&json!({"InvoiceId": 1})).is_err());
    }

    #[test]
    fn system_members_are_never_sent_back() {
        let body = json!({"@odata.etag": "W/\"x\"", "@odata.context": "c", "luname": "L", "keyref": "K",
            "Objstate": "Preliminary", "Objversion": "1", "Objid": "a", "Objkey": "k", "Objgrants": null,
            "Text@odata.type": "x", "OurReference": "Concur K"});
        assert_eq!(without_system_members(body), json!({"OurReference": "Concur K"}));
    }

    #[test]
    fn errors_keep_code_message_details_and_innererror() {
        let body = r#"{"error":{"code":"DATABASE_ERROR","message":"Account 9999 does not exist.",
            "details":[{"code":"ACCOUNT_NOT_EXIST","message":"Code part value 9999 is missing in company 10."},
                       {"code":"X","message":""}],
            "innererror":{"message":"ORA-20111: Account.NOTEXIST"}}}"#;
        let e = ODataError::parse(body);
        assert_eq!(e.code, "DATABASE_ERROR");
        assert_eq!(
            e.message,
            "Account 9999 does not exist.; ACCOUNT_NOT_EXIST: Code part value 9999 is missing in company 10.; \
             ORA-20111: Account.NOTEXIST"
        );
        assert!(ODataError::parse(r#"{"error":{"code":"MI_MODIFIED_ERROR","message":"m"}}"#).is_metadata_modified());
        let plain = ODataError::parse("<html>Bad gateway</html>");
        // An HTML page is named and its words kept, never dumped (transport::short_reason).
        assert_eq!((plain.code.as_str(), plain.message.as_str()), ("", "an HTML page: Bad gateway"));
        assert_eq!(ODataError::parse("").message, "");
    }

    #[test]
    fn money_keeps_its_exact_text() {
        let amount = Decimal::from_str("245.50").unwrap();
        assert_eq!(serde_json::to_string(&money(amount)).unwrap(), "245.50");
        assert_eq!(serde_json::to_string(&money(-amount)).unwrap(), "-245.50");
        assert_eq!(integer(&json!("2024000123")), Some(2024000123));
        assert_eq!(integer(&json!(104233)), Some(104233));
    }

    #[test]
    fn decimals_are_read_from_their_text() {
        let record: Value = serde_json::from_str(r#"{"n":999.90,"s":"0.10","e":1E+2,"x":true,"k":7}"#).unwrap();
        assert_eq!(decimal(&record, "n").map(|d| d.to_string()), Some("999.90".into()));
        assert_eq!(decimal(&record, "s").map(|d| d.to_string()), Some("0.10".into()));
        assert_eq!(decimal(&record, "e"), Some(Decimal::from(100)));
        assert_eq!((decimal(&record, "x"), decimal(&record, "missing")), (None, None));
        assert_eq!(value_text(&record, "k").as_deref(), Some("7"));
        assert_eq!(value_text(&json!({"k": " 1 "}), "k").as_deref(), Some("1"));
        assert_eq!(value_text(&json!({"k": ""}), "k"), None);
    }

    #[test]
    fn configured_names_are_identifiers() {
        assert!(is_identifier("ManSuppInvoiceSet"));
        assert!(is_identifier("Cf_Concur_Po"));
        assert!(!is_identifier("Set?$filter=x"));
        assert!(!is_identifier("1Set"));
        assert!(!is_identifier(""));
    }
}
