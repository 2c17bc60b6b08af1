//! Reads of the FI document's scalar fields, checked where they are used.
//!
//! The typed structs of [`super::document`] keep each scalar as Concur sent
//! it ([`Scalar`], borrowed from the input where it can be): a field is
//! checked and converted only when the normalizer reads it, in the order it
//! reads them, so a refusal names the same field as before and a field that
//! is never read (an unused custom field, a net amount of a row without tax)
//! is never refused. Amounts are parsed from the number's source text
//! (serde_json's `arbitrary_precision`), so `0E-8` or `50.00000000` never go
//! through `f64`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::Problem;

/// A scalar member as Concur sent it; `None` when absent or `null`.
pub(crate) type Raw<'a> = Option<Scalar<'a>>;

/// A JSON value where a scalar is expected.
pub(crate) enum Scalar<'a> {
    /// A string, unescaped.
    Text(Cow<'a, str>),
    /// A number's source text.
    Number(Cow<'a, str>),
    /// Anything else (`true`, an array, an object), as compact JSON for a refusal.
    Other(String),
}

impl Scalar<'_> {
    /// The value as compact JSON, as a refusal shows it.
    pub fn found(&self) -> String {
        match self {
            Scalar::Text(text) => Value::String(text.as_ref().to_owned()).to_string(),
            Scalar::Number(number) => number.as_ref().to_owned(),
            Scalar::Other(json) => json.clone(),
        }
    }
}

/// The member name serde_json gives a number read with `arbitrary_precision`
/// (a one-member map holding its source text); rust_decimal reads it the same way.
pub(crate) const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor(PhantomData))
    }
}

struct ScalarVisitor<'a>(PhantomData<Scalar<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Text(Cow::Borrowed(text)))
    }
    fn visit_str<E>(self, text: &str) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Text(Cow::Owned(text.to_owned())))
    }
    fn visit_string<E>(self, text: String) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Text(Cow::Owned(text)))
    }
    // Integers that fit, and (from a `Value`) decimals whose shortest form is
    // their source text: the same number, written as Rust writes it.
    fn visit_u64<E>(self, n: u64) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Number(Cow::Owned(n.to_string())))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Number(Cow::Owned(n.to_string())))
    }
    fn visit_u128<E>(self, n: u128) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Number(Cow::Owned(n.to_string())))
    }
    fn visit_i128<E>(self, n: i128) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Number(Cow::Owned(n.to_string())))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Number(Cow::Owned(n.to_string())))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Other(b.to_string()))
    }
    fn visit_unit<E>(self) -> Result<Scalar<'a>, E> {
        Ok(Scalar::Other("null".to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'a>, A::Error> {
        let items = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Scalar::Other(items.to_string()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'a>, A::Error> {
        let Some(key) = map.next_key::<Cow<'de, str>>()? else {
            return Ok(Scalar::Other("{}".to_owned()));
        };
        if key == NUMBER_TOKEN {
            return Ok(Scalar::Number(Cow::Owned(map.next_value::<String>()?)));
        }
        let mut object = serde_json::Map::new();
        object.insert(key.into_owned(), map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            object.insert(key, value);
        }
        Ok(Scalar::Other(Value::Object(object).to_string()))
    }
}

/// The JSON path of an object of the document, to name its members in a
/// refusal (built once per object; a member's path only on refusal).
#[derive(Clone, Copy)]
pub(crate) struct At<'p>(pub &'p str);

impl<'p> At<'p> {
    pub fn path(&self) -> &'p str {
        self.0
    }

    /// The path of member `key` (any `Display`, so a member name built from
    /// parts is formatted only when a refusal names it).
    pub fn child_path(&self, key: impl fmt::Display) -> String {
        format!("{}.{key}", self.0)
    }

    /// A text member, trimmed (codes can carry trailing blanks); empty text
    /// reads as absent. Numbers are accepted as their text (account codes are
    /// numbers in some schemas).
    pub fn text<'a>(&self, raw: &'a Raw<'_>, key: impl fmt::Display) -> Result<Option<&'a str>, Problem> {
        let text = match raw {
            None => return Ok(None),
            Some(Scalar::Text(text)) => text.trim(),
            Some(Scalar::Number(number)) => number,
            Some(other) => return Err(Problem::invalid(&self.child_path(key), "a string", &other.found())),
        };
        Ok(if text.is_empty() { None } else { Some(text) })
    }

    /// [`At::text`] as an owned string, for what goes into the entry.
    pub fn string(&self, raw: &Raw<'_>, key: impl fmt::Display + Copy) -> Result<Option<String>, Problem> {
        Ok(self.text(raw, key)?.map(str::to_owned))
    }

    pub fn require_string(&self, raw: &Raw<'_>, key: impl fmt::Display + Copy) -> Result<String, Problem> {
        self.string(raw, key)?.ok_or_else(|| Problem::missing(self.child_path(key)))
    }

    /// An exact decimal member; `None` when absent or `null`.
    pub fn decimal(&self, raw: &Raw<'_>, key: impl fmt::Display + Copy) -> Result<Option<Decimal>, Problem> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        parse_amount(raw).map(Some).ok_or_else(|| Problem::invalid(&self.child_path(key), AMOUNT_FORMS, &raw.found()))
    }

    pub fn require_decimal(&self, raw: &Raw<'_>, key: impl fmt::Display + Copy) -> Result<Decimal, Problem> {
        self.decimal(raw, key)?.ok_or_else(|| Problem::missing(self.child_path(key)))
    }

    /// `Y`/`N` flags; anything else but `Y` is "no".
    pub fn flag(&self, raw: &Raw<'_>, key: impl fmt::Display + Copy) -> Result<bool, Problem> {
        Ok(matches!(self.text(raw, key)?, Some("Y" | "y")))
    }
}

/// An amount from a JSON number or a numeric string (see [`parse_decimal`]).
pub(crate) fn parse_amount(raw: &Scalar<'_>) -> Option<Decimal> {
    match raw {
        Scalar::Text(text) | Scalar::Number(text) => parse_decimal(text),
        Scalar::Other(_) => None,
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
    if text.len() > 64 || !is_json_number(text) {
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
    use serde::Deserialize;
    use serde_json::Value;

    use super::{MAX_FRACTION_DIGITS, Scalar, parse_amount};

    fn number(text: &str) -> Value {
        serde_json::from_str(text).expect("a JSON number")
    }

    /// The amount read from `value`, as the document's text and as a parsed `Value`.
    fn parse_decimal(value: &Value) -> Option<Decimal> {
        let text = value.to_string();
        let from_text = parse_amount(&Scalar::deserialize(&mut serde_json::Deserializer::from_str(&text)).ok()?);
        let from_value = parse_amount(&Scalar::deserialize(value).ok()?);
        assert_eq!(from_text, from_value, "{text}");
        from_text
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
