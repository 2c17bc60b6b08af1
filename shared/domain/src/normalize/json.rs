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
        parse_decimal(member.value).map(Some).ok_or_else(|| Problem::invalid(&member.path, AMOUNT_FORMS, member.value))
    }

    pub fn require_decimal(&self, key: &str) -> Result<Decimal, Problem> {
        self.decimal(key)?.ok_or_else(|| Problem::missing(self.child_path(key)))
    }

    /// `Y`/`N` flags; anything else but `Y` is "no".
    pub fn flag(&self, key: &str) -> Result<bool, Problem> {
        Ok(matches!(self.text(key)?.as_deref(), Some("Y" | "y")))
    }
}

/// Most fractional digits Concur sends (financial-integration-v4.md §8.4).
pub(crate) const MAX_FRACTION_DIGITS: u32 = 8;

/// What [`parse_decimal`] accepts, as a refusal names it.
pub(crate) const AMOUNT_FORMS: &str = "an amount as Concur sends it (a JSON number or numeric string such as 12.5, 50.00000000 or 0E-8, no blanks, \
     at most 8 decimals)";

/// Parses an amount from its text, strictly in Concur's documented forms
/// (§8.4): a JSON number, or a string holding one (Concur sends some numbers
/// as strings), plain (`12.50`, `50.00000000`) or with an exponent (`0E-8`),
/// with at most 8 fractional digits once the exponent is applied. Anything
/// else (surrounding blanks, `+`, `1,5`, `NaN`, 9 decimals) is refused: an
/// amount Concur did not write that way is not one we can vouch for.
pub(crate) fn parse_decimal(value: &Value) -> Option<Decimal> {
    let text = match value {
        // With arbitrary_precision, Display gives the number's source text.
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    if text.len() > 64 || !is_json_number(&text) {
        return None;
    }
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(&text).ok()?
    } else {
        // `from_str_exact` refuses digits it would have to round away:
        // rounding an amount silently is not an option.
        Decimal::from_str_exact(&text).ok()?
    };
    // `0E-8` and `50.00000000` have scale 8; `1.5E-8` would have 9.
    (parsed.scale() <= MAX_FRACTION_DIGITS).then_some(parsed)
}

/// The JSON number grammar (RFC 8259 §6, leading zeros allowed as Concur's
/// strings may carry them), exponent limited to two digits so that no
/// representable amount is lost and nothing huge is attempted.
fn is_json_number(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        digits(e) && e.len() <= 2
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use serde_json::Value;

    use super::{MAX_FRACTION_DIGITS, parse_decimal};

    fn number(text: &str) -> Value {
        serde_json::from_str(text).expect("a JSON number")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Every amount Concur can write (≤ 8 decimals), as a JSON number or
        /// a numeric string, reads back exactly.
        #[test]
        fn documented_forms_read_back_exactly(mantissa in any::<i64>(), scale in 0..=MAX_FRACTION_DIGITS) {
            let amount = Decimal::new(mantissa, scale);
            let text = amount.to_string();
            prop_assert_eq!(parse_decimal(&number(&text)), Some(amount));
            prop_assert_eq!(parse_decimal(&Value::String(text)), Some(amount));
        }

        /// `<m>E<e>` forms, as in `0E-8`.
        #[test]
        fn exponent_forms_read_back_exactly(mantissa in -99_999i64..=99_999, exponent in -8i32..=8) {
            let text = format!("{mantissa}E{exponent}");
            let expected = if exponent < 0 {
                Decimal::new(mantissa, exponent.unsigned_abs())
            } else {
                Decimal::from(mantissa) * Decimal::from(10i64.pow(exponent.unsigned_abs()))
            };
            prop_assert_eq!(parse_decimal(&number(&text)), Some(expected));
        }

        /// A ninth decimal is never read (nor rounded away).
        #[test]
        fn more_than_eight_decimals_are_refused(mantissa in 0i64..=i64::MAX / 10 - 1, scale in 9u32..=28) {
            let amount = Decimal::new(mantissa * 10 + 1, scale);
            let text = amount.to_string();
            prop_assert_eq!(parse_decimal(&number(&text)), None);
            prop_assert_eq!(parse_decimal(&Value::String(text)), None);
        }

        /// Blanks around an amount make it something Concur did not send.
        #[test]
        fn blanks_are_refused(mantissa in any::<i32>(), blank in prop::sample::select(vec![" ", "\t", "\n", "\u{a0}"]), before in any::<bool>()) {
            let text = if before { format!("{blank}{mantissa}") } else { format!("{mantissa}{blank}") };
            prop_assert_eq!(parse_decimal(&Value::String(text)), None);
        }

        /// Any text: no panic, and whatever is accepted is within the rules.
        #[test]
        fn any_text_is_read_or_refused_without_panic(text in "[-+0-9eE. a-z]{0,40}|\\PC{0,40}") {
            if let Some(amount) = parse_decimal(&Value::String(text.clone())) {
                prop_assert!(amount.scale() <= MAX_FRACTION_DIGITS, "{text} → {amount}");
                prop_assert!(!text.contains(char::is_whitespace), "{text}");
            }
        }
    }
}
