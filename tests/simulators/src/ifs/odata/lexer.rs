//! Tokens of key predicates and `$filter` expressions.

use std::str::FromStr;

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

use super::Lit;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    Comma,
    /// `=` (key predicates only)
    Equals,
    Lit(Lit),
    /// A name: attribute, operator, function (`Company`, `eq`, `contains`).
    Ident(String),
}

/// `(position, token)` pairs; the error is the 400 message.
pub(crate) fn tokens(src: &str) -> Result<Vec<(usize, Tok)>, String> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let error = |at: usize| format!("Syntax error at position {at} in '{src}'.");
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        let (at, c) = chars[pos];
        if c.is_whitespace() {
            pos += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                pos += 1;
                Tok::LParen
            }
            ')' => {
                pos += 1;
                Tok::RParen
            }
            ',' => {
                pos += 1;
                Tok::Comma
            }
            '=' => {
                pos += 1;
                Tok::Equals
            }
            '\'' => Tok::Lit(Lit::Str(quoted(src, &chars, &mut pos)?)),
            c if c.is_ascii_digit() || c == '-' => {
                let start = pos;
                while pos < chars.len()
                    && (chars[pos].1.is_ascii_alphanumeric() || matches!(chars[pos].1, '.' | ':' | '+' | '-'))
                {
                    pos += 1;
                }
                let text: String = chars[start..pos].iter().map(|(_, c)| c).collect();
                Tok::Lit(number_or_date(&text).ok_or_else(|| error(at))?)
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = pos;
                while pos < chars.len() && (chars[pos].1.is_alphanumeric() || matches!(chars[pos].1, '_' | '.')) {
                    pos += 1;
                }
                let word: String = chars[start..pos].iter().map(|(_, c)| c).collect();
                if chars.get(pos).is_some_and(|(_, c)| *c == '\'') {
                    // `IfsApp.Projection.EnumType'Value'`
                    if word.split('.').count() < 3 || word.split('.').any(str::is_empty) {
                        return Err(format!(
                            "Unknown typed literal '{word}'...' at position {at} in '{src}'; enumerations are written IfsApp.<Projection>.<EnumType>'Value'."
                        ));
                    }
                    let value = quoted(src, &chars, &mut pos)?;
                    Tok::Lit(Lit::Enum(word, value))
                } else {
                    match word.as_str() {
                        "true" => Tok::Lit(Lit::Bool(true)),
                        "false" => Tok::Lit(Lit::Bool(false)),
                        "null" => Tok::Lit(Lit::Null),
                        _ => Tok::Ident(word),
                    }
                }
            }
            _ => return Err(error(at)),
        };
        out.push((at, tok));
    }
    Ok(out)
}

/// A quoted string starting at `chars[*pos]`; `''` is one quote.
fn quoted(src: &str, chars: &[(usize, char)], pos: &mut usize) -> Result<String, String> {
    let (start, _) = chars[*pos];
    *pos += 1;
    let mut text = String::new();
    loop {
        match chars.get(*pos) {
            None => return Err(format!("Unterminated string literal at position {start} in '{src}'.")),
            Some((_, '\'')) => {
                if chars.get(*pos + 1).is_some_and(|(_, c)| *c == '\'') {
                    text.push('\'');
                    *pos += 2;
                } else {
                    *pos += 1;
                    return Ok(text);
                }
            }
            Some((_, c)) => {
                text.push(*c);
                *pos += 1;
            }
        }
    }
}

/// `2024-03-15`, `2024-03-15T10:00:00Z`, `123`, `-12.5`, `1e3`.
fn number_or_date(text: &str) -> Option<Lit> {
    let bytes = text.as_bytes();
    let looks_like_date = bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
        && bytes[8..10].iter().all(u8::is_ascii_digit);
    if looks_like_date {
        if bytes.len() == 10 {
            return Date::parse(text, format_description!("[year]-[month]-[day]")).ok().map(Lit::Date);
        }
        return OffsetDateTime::parse(text, &Rfc3339).ok().map(Lit::Timestamp);
    }
    if text.chars().any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') || text.contains(':') {
        return None;
    }
    Decimal::from_str(text).ok().or_else(|| Decimal::from_scientific(text).ok()).map(Lit::Num)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(src: &str) -> Vec<Tok> {
        tokens(src).unwrap().into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn lexes_ifs_literals() {
        assert_eq!(
            lits("Company='10',InvoiceId=104233"),
            [
                Tok::Ident("Company".into()),
                Tok::Equals,
                Tok::Lit(Lit::Str("10".into())),
                Tok::Comma,
                Tok::Ident("InvoiceId".into()),
                Tok::Equals,
                Tok::Lit(Lit::Num(Decimal::from(104_233))),
            ]
        );
        assert_eq!(lits("'O''Neil'"), [Tok::Lit(Lit::Str("O'Neil".into()))]);
        assert!(matches!(lits("2024-03-15")[..], [Tok::Lit(Lit::Date(_))]));
        assert!(matches!(lits("2024-03-15T10:00:00Z")[..], [Tok::Lit(Lit::Timestamp(_))]));
        assert_eq!(lits("-12.5"), [Tok::Lit(Lit::Num(Decimal::new(-125, 1)))]);
        assert_eq!(
            lits("IfsApp.SupplierHandling.PartyType'Supplier'"),
            [Tok::Lit(Lit::Enum("IfsApp.SupplierHandling.PartyType".into(), "Supplier".into()))]
        );
        for bad in ["'open", "2024-13-45", "12.5M", "datetime'2024-03-15'", "-", "#", "1:2"] {
            assert!(tokens(bad).is_err(), "{bad}");
        }
    }
}
