//! OData v4 as IFS speaks it: the literal lexer shared by key predicates and
//! `$filter`, key predicates, `$filter`, and the other query options
//! (`$select $expand $orderby $top $skip $count`, server paging).
//!
//! IFS literal syntax: strings `'x'` (`''` escapes a quote), bare numbers
//! `123` / `12.5`, `true`/`false`/`null`, bare dates `2024-03-15`
//! (`Edm.Date`), timestamps `2024-03-15T10:00:00Z`, and enumerations typed
//! with the projection namespace, `IfsApp.{Projection}.{EnumType}'Value'`.

pub(crate) mod filter;
pub(crate) mod keys;
pub(crate) mod lexer;
pub(crate) mod query;

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use super::schema::Ty;
use super::state::Val;

/// A literal as written in a URL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Num(Decimal),
    Bool(bool),
    Null,
    Date(Date),
    Timestamp(OffsetDateTime),
    /// `IfsApp.P.E'V'`: (`IfsApp.P.E`, `V`)
    Enum(String, String),
}

impl Lit {
    /// The type name used in error messages.
    pub(crate) fn edm(&self) -> String {
        match self {
            Lit::Str(_) => "Edm.String".into(),
            Lit::Num(d) if d.scale() == 0 => "Edm.Int32".into(),
            Lit::Num(_) => "Edm.Decimal".into(),
            Lit::Bool(_) => "Edm.Boolean".into(),
            Lit::Null => "null".into(),
            Lit::Date(_) => "Edm.Date".into(),
            Lit::Timestamp(_) => "Edm.DateTimeOffset".into(),
            Lit::Enum(ty, _) => ty.clone(),
        }
    }

    /// Converts the literal for an attribute of type `ty` in projection
    /// namespace `namespace` (`IfsApp.X`); `Ok(None)` is `null`. The error
    /// names both types.
    pub(crate) fn to_val(&self, ty: Ty, namespace: &str) -> Result<Option<Val>, String> {
        let mismatch = || {
            format!(
                "A literal of type '{}' cannot be used for a property of type '{}'.",
                self.edm(),
                full_edm(ty, namespace)
            )
        };
        Ok(Some(match (self, ty) {
            (Lit::Null, _) => return Ok(None),
            (Lit::Str(s), Ty::Str) => Val::Str(s.clone()),
            (Lit::Num(d), Ty::Int) => {
                if d.scale() != 0 && !d.fract().is_zero() {
                    return Err(mismatch());
                }
                Val::Int(i64::try_from(d.trunc()).map_err(|_| mismatch())?)
            }
            (Lit::Num(d), Ty::Dec) => Val::Dec(*d),
            (Lit::Bool(b), Ty::Bool) => Val::Bool(*b),
            (Lit::Date(d), Ty::Date) => Val::Date(*d),
            (Lit::Enum(name, value), Ty::Enum(e)) => {
                let expected = format!("{namespace}.{}", e.name);
                if *name != expected {
                    return Err(mismatch());
                }
                if !e.values.contains(&value.as_str()) {
                    return Err(format!(
                        "'{value}' is not a member of the enumeration '{expected}' (members: {}).",
                        e.values.join(", ")
                    ));
                }
                Val::Str(value.clone())
            }
            _ => return Err(mismatch()),
        }))
    }

    /// The literal's own value (for comparing two literals).
    pub(crate) fn own_val(&self) -> Option<Val> {
        Some(match self {
            Lit::Str(s) | Lit::Enum(_, s) => Val::Str(s.clone()),
            Lit::Num(d) => Val::Dec(*d),
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Null => return None,
            Lit::Date(d) => Val::Date(*d),
            Lit::Timestamp(t) => Val::Timestamp(*t),
        })
    }
}

/// `Edm.String`, or `IfsApp.P.PartyType` for an enumeration.
pub(crate) fn full_edm(ty: Ty, namespace: &str) -> String {
    match ty {
        Ty::Enum(e) => format!("{namespace}.{}", e.name),
        other => other.edm(),
    }
}
