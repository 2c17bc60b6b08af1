//! Path-tracking reads from the FI document's JSON, with exact decimals.
//!
//! Every read knows its JSON path so that a refusal can name the exact field.
//! Amounts are parsed from the number's source text (serde_json's
//! `arbitrary_precision` is on in this workspace), so `0E-8` or
//! `50.00000000` never go through `f64`.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::Problem;

/// A JSON value together with its path from the FI envelope.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a> {
    pub value: &'a Value,
    path: &'a str,
}

/// An owned path plus the value, for children (paths are built on the way down).
pub(crate) struct Owned<'a> {
    pub value: &'a Value,
    pub path: String,
}

impl<'a> Owned<'a> {
    pub fn node(&self) -> Node<'_> {
        Node { value: self.value, path: &self.path }
    }
}

impl<'a> Node<'a> {
    pub fn root(value: &'a Value, path: &'a str) -> Self {
        Node { value, path }
    }

    pub fn path(&self) -> &str {
        self.path
    }

    pub fn child_path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn object(&self) -> Result<&'a Map<String, Value>, Problem> {
        self.value.as_object().ok_or_else(|| Problem::invalid(self.path, "a JSON object", self.value))
    }

    /// The member `key`, or `None` when it is absent or `null`.
    pub fn get(&self, key: &str) -> Result<Option<Owned<'a>>, Problem> {
        Ok(match self.object()?.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(Owned { value, path: self.child_path(key) }),
        })
    }

    pub fn require(&self, key: &str) -> Result<Owned<'a>, Problem> {
        self.get(key)?.ok_or_else(|| Problem::missing(self.child_path(key)))
    }

    /// Elements of the array member `key`; absent or `null` reads as empty.
    pub fn array(&self, key: &str) -> Result<Vec<Owned<'a>>, Problem> {
        let Some(member) = self.get(key)? else {
            return Ok(Vec::new());
        };
        let items =
            member.value.as_array().ok_or_else(|| Problem::invalid(&member.path, "a JSON array", member.value))?;
        Ok(items.iter().enumerate().map(|(i, value)| Owned { value, path: format!("{}[{i}]", member.path) }).collect())
    }

    /// Like [`Node::array`], but a single object also counts as one element
    /// (invoice `allocation.journal` is an object in Concur's sample).
    pub fn array_or_object(&self, key: &str) -> Result<Vec<Owned<'a>>, Problem> {
        match self.get(key)? {
            Some(member) if member.value.is_object() => Ok(vec![member]),
            _ => self.array(key),
        }
    }

    /// A text member, trimmed (codes can carry trailing blanks); empty text
    /// reads as absent. Numbers are accepted as their text (account codes are
    /// numbers in some schemas).
    pub fn text(&self, key: &str) -> Result<Option<String>, Problem> {
        let Some(member) = self.get(key)? else {
            return Ok(None);
        };
        let text = match member.value {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            other => return Err(Problem::invalid(&member.path, "a string", other)),
        };
        Ok(if text.is_empty() { None } else { Some(text) })
    }

    pub fn require_text(&self, key: &str) -> Result<String, Problem> {
        self.text(key)?.ok_or_else(|| Problem::missing(self.child_path(key)))
    }

    /// An exact decimal member; `None` when absent or `null`.
    pub fn decimal(&self, key: &str) -> Result<Option<Decimal>, Problem> {
        let Some(member) = self.get(key)? else {
            return Ok(None);
        };
        parse_decimal(member.value)
            .map(Some)
            .ok_or_else(|| Problem::invalid(&member.path, "a decimal number", member.value))
    }

    pub fn require_decimal(&self, key: &str) -> Result<Decimal, Problem> {
        self.decimal(key)?.ok_or_else(|| Problem::missing(self.child_path(key)))
    }

    /// `Y`/`N` flags; anything else but `Y` is "no".
    pub fn flag(&self, key: &str) -> Result<bool, Problem> {
        Ok(matches!(self.text(key)?.as_deref(), Some("Y" | "y")))
    }
}

/// Parses a JSON number (or a numeric string, as Concur sends some numbers)
/// from its text: plain (`12.50`) or exponent (`0E-8`) form.
pub(crate) fn parse_decimal(value: &Value) -> Option<Decimal> {
    let text = match value {
        // With arbitrary_precision, Display gives the number's source text.
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(&text).ok()
    } else {
        // `from_str_exact` refuses digits it would have to round away:
        // rounding an amount silently is not an option.
        Decimal::from_str_exact(&text).ok()
    }
}
