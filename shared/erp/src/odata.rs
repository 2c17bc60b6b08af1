//! What Acumatica's and IFS Cloud's OData APIs share.

/// An OData string literal: in single quotes, a `'` inside doubled (the
/// whole query is URL-encoded after).
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
