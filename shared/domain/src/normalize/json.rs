//! Reads of the FI document's scalar fields, checked where they are used.
//!
//! The typed structs of [`super::document`] keep each scalar as the JSON text
//! Concur sent (`&RawValue`, borrowed from the input): a field is checked and
//! converted only when the normalizer reads it, in the order it reads them,
//! so a refusal names the same field as before and a field that is never
//! read (an unused custom field, a net amount of a row without tax) is never
//! refused. Amounts are parsed from the number's source text, so `0E-8` or
//! `50.00000000` never go through `f64`.

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::Problem;

/// A scalar member as Concur sent it; `None` when absent or `null`.
pub(crate) type Raw<'a> = Option<&'a RawValue>;

/// The JSON path of an object of the document, to name its members in a
/// refusal (built once per object; a member's path only on refusal).
#[derive(Clone, Copy)]
pub(crate) struct At<'p>(pub &'p str);

impl<'p> At<'p> {
    pub fn path(&self) -> &'p str {
        self.0
    }

    pub fn child_path(&self, key: &str) -> String {
        format!("{}.{key}", self.0)
    }

    /// A text member, trimmed (codes can carry trailing blanks); empty text
    /// reads as absent. Numbers are accepted as their text (account codes are
    /// numbers in some schemas).
    pub fn text<'a>(&self, raw: Raw<'a>, key: &str) -> Result<Option<Cow<'a, str>>, Problem> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let text = match string_or_number(raw) {
            Some(Scalar::Text(text)) => trimmed(text),
            Some(Scalar::Number(number)) => Cow::Borrowed(number),
            None => return Err(Problem::invalid(&self.child_path(key), "a string", &compact(raw))),
        };
        Ok(if text.is_empty() { None } else { Some(text) })
    }

    /// [`At::text`] as an owned string, for what goes into the entry.
    pub fn string(&self, raw: Raw<'_>, key: &str) -> Result<Option<String>, Problem> {
        Ok(self.text(raw, key)?.map(Cow::into_owned))
    }

    pub fn require_string(&self, raw: Raw<'_>, key: &str) -> Result<String, Problem> {
        self.string(raw, key)?.ok_or_else(|| Problem::missing(self.child_path(key)))
    }

    /// An exact decimal member; `None` when absent or `null`.
    pub fn decimal(&self, raw: Raw<'_>, key: &str) -> Result<Option<Decimal>, Problem> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        parse_amount(raw).map(Some).ok_or_else(|| Problem::invalid(&self.child_path(key), AMOUNT_FORMS, &compact(raw)))
    }

    pub fn require_decimal(&self, raw: Raw<'_>, key: &str) -> Result<Decimal, Problem> {
        self.decimal(raw, key)?.ok_or_else(|| Problem::missing(self.child_path(key)))
    }

    /// `Y`/`N` flags; anything else but `Y` is "no".
    pub fn flag(&self, raw: Raw<'_>, key: &str) -> Result<bool, Problem> {
        Ok(matches!(self.text(raw, key)?.as_deref(), Some("Y" | "y")))
    }
}

/// A JSON string (unescaped) or a JSON number's source text.
pub(crate) enum Scalar<'a> {
    Text(Cow<'a, str>),
    Number(&'a str),
}

/// Reads `raw` as a string or a number; `None` for anything else.
pub(crate) fn string_or_number(raw: &RawValue) -> Option<Scalar<'_>> {
    let json = raw.get();
    match json.as_bytes().first()? {
        b'"' => match json[1..json.len() - 1].contains('\\') {
            // No escape: the text between the quotes is the string.
            false => Some(Scalar::Text(Cow::Borrowed(&json[1..json.len() - 1]))),
            true => serde_json::from_str::<String>(json).ok().map(|s| Scalar::Text(Cow::Owned(s))),
        },
        b'-' | b'0'..=b'9' => Some(Scalar::Number(json)),
        _ => None,
    }
}

fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) if s.trim().len() == s.len() => Cow::Owned(s),
        Cow::Owned(s) => Cow::Owned(s.trim().to_owned()),
    }
}

/// The value as compact JSON, as a refusal shows it.
pub(crate) fn compact(raw: &RawValue) -> String {
    serde_json::from_str::<serde_json::Value>(raw.get()).map_or_else(|_| raw.get().to_owned(), |v| v.to_string())
}

/// An amount from a JSON number or a numeric string (see [`parse_decimal`]).
pub(crate) fn parse_amount(raw: &RawValue) -> Option<Decimal> {
    match string_or_number(raw)? {
        Scalar::Text(text) => parse_decimal(&text),
        Scalar::Number(number) => parse_decimal(number),
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
pub(crate) fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.len() > 64 || !is_json_number(&text) {
        return None;
    }
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()?
    } else {
        // `from_str_exact` refuses digits it would have to round away:
        // rounding an amount silently is not an option.
        Decimal::from_str_exact(text).ok()?
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
    use serde_json::value::RawValue;

    use super::{MAX_FRACTION_DIGITS, parse_amount};

    fn number(text: &str) -> Value {
        serde_json::from_str(text).expect("a JSON number")
    }

    /// The amount read from `value` as the document would carry it.
    fn parse_decimal(value: &Value) -> Option<Decimal> {
        let raw = RawValue::from_string(value.to_string()).expect("JSON text");
        parse_amount(&raw)
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
