//! Currencies and their precision (ISO 4217 minor units), and the one
//! rounding rule amounts sent to an ERP follow.
//!
//! Concur sends amounts with up to 8 fractional digits; an ERP books them in
//! the currency's minor units (cents, yen, fils). The table below lists the
//! active ISO 4217 codes whose exponent is not 2 explicitly and the others
//! by name, so an unknown or mistyped code is refused instead of guessed.

use rust_decimal::{Decimal, RoundingStrategy};

/// How an amount is brought to a currency's minor units: half away from zero
/// (commercial rounding, what accountants and ERPs do by default; banker's
/// rounding would surprise a reader checking a voucher by hand).
pub const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

/// ISO 4217 codes with no minor unit.
const EXPONENT_0: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
    "XPF",
];

/// ISO 4217 codes with three decimals.
const EXPONENT_3: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// ISO 4217 codes with four decimals.
const EXPONENT_4: &[&str] = &["CLF", "UYW"];

/// Active ISO 4217 codes with two decimals.
const EXPONENT_2: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
    "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP", "CVE", "CZK",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK",
    "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON",
    "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD",
    "YER", "ZAR", "ZMW", "ZWG",
];

/// The number of decimals of `code` (ISO 4217 exponent), `None` for a code
/// that is not an active ISO 4217 currency.
pub fn minor_units(code: &str) -> Option<u32> {
    [(EXPONENT_0, 0), (EXPONENT_2, 2), (EXPONENT_3, 3), (EXPONENT_4, 4)]
        .into_iter()
        .find_map(|(codes, exponent)| codes.contains(&code).then_some(exponent))
}

/// A currency code the connector can book amounts in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "currency {code} is not an ISO 4217 currency the connector knows the precision of; nothing was posted: \
     check the currency configured in Concur (or add the currency to the table in shared/domain/src/currency.rs)"
)]
pub struct UnknownCurrency {
    pub code: String,
}

/// `amount` in `code`'s minor units, by [`ROUNDING`], with exactly that many
/// decimals (so `50.00000000` GBP is sent as `50.00`).
/// An amount too large to be written with its currency's decimals (near
/// 7.9 × 10²⁸, far beyond any ERP) is refused too.
pub fn round(amount: Decimal, code: &str) -> Result<Decimal, RoundingError> {
    let exponent = minor_units(code).ok_or_else(|| UnknownCurrency { code: code.to_owned() })?;
    round_to(amount, exponent).ok_or(RoundingError::TooLarge { amount, code: code.to_owned() })
}

/// Why an amount cannot be brought to its currency's minor units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundingError {
    #[error(transparent)]
    Unknown(#[from] UnknownCurrency),
    #[error("{amount} {code} is too large to be written with the currency's decimals")]
    TooLarge { amount: Decimal, code: String },
}

/// `amount` rounded to `exponent` decimals by [`ROUNDING`], scale set to it;
/// `None` when the amount is too large to carry that many decimals.
pub fn round_to(amount: Decimal, exponent: u32) -> Option<Decimal> {
    let mut rounded = amount.round_dp_with_strategy(exponent, ROUNDING);
    // round_dp never raises the scale: `50` stays `50`, not `50.00`.
    rounded.rescale(exponent);
    (rounded.scale() == exponent).then_some(rounded)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn exponents_of_the_table() {
        for (code, exponent) in [("JPY", 0), ("USD", 2), ("GBP", 2), ("CAD", 2), ("EUR", 2), ("BHD", 3), ("KWD", 3)] {
            assert_eq!(minor_units(code), Some(exponent), "{code}");
        }
        assert_eq!(minor_units("XXX"), None);
        assert_eq!(minor_units("usd"), None, "codes are normalized to upper case before");
    }

    #[test]
    fn rounding_is_half_away_from_zero_at_the_currency_precision() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(round(d("12.345678901"), "GBP").unwrap().to_string(), "12.35");
        assert_eq!(round(d("-0.005"), "USD").unwrap().to_string(), "-0.01");
        assert_eq!(round(d("0.125"), "EUR").unwrap().to_string(), "0.13");
        assert_eq!(round(d("1234.5"), "JPY").unwrap().to_string(), "1235");
        assert_eq!(round(d("50.00000000"), "GBP").unwrap().to_string(), "50.00");
        assert_eq!(round(d("7"), "KWD").unwrap().to_string(), "7.000");
        let e = round(d("1"), "ABC").unwrap_err().to_string();
        assert!(e.contains("ABC") && e.contains("ISO 4217"), "{e}");
        assert!(round(Decimal::MAX, "USD").is_err(), "no room for two decimals");
    }
}
