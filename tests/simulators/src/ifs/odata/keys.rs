//! Key predicates: `(SupplierId='S1000')`, `(Company='10',InvoiceId=104233)`,
//! `(…,PartyType=IfsApp.SupplierHandling.PartyType'Supplier')`.
//!
//! Every key attribute must be given exactly once, typed as declared
//! (strings quoted, numbers bare, enumerations typed); a single-key type may
//! also be addressed as `Set('S1000')`.

use super::lexer::{Tok, tokens};
use crate::ifs::schema::EntityType;
use crate::ifs::state::Val;

/// Key values in the type's key order; the error is the 400 message.
pub(crate) fn parse(src: &str, ty: &'static EntityType, namespace: &str) -> Result<Vec<(&'static str, Val)>, String> {
    let toks: Vec<Tok> = tokens(src)?.into_iter().map(|(_, t)| t).collect();
    let syntax = || format!("The key predicate '({src})' is not valid for '{namespace}.{}'.", ty.name);
    let mut given: Vec<(String, super::Lit)> = Vec::new();
    match toks.as_slice() {
        [Tok::Lit(lit)] if ty.keys.len() == 1 => given.push((ty.keys[0].to_owned(), lit.clone())),
        _ => {
            let mut rest = toks.as_slice();
            loop {
                match rest {
                    [Tok::Ident(name), Tok::Equals, Tok::Lit(lit), tail @ ..] => {
                        given.push((name.clone(), lit.clone()));
                        match tail {
                            [] => break,
                            [Tok::Comma, more @ ..] if !more.is_empty() => rest = more,
                            _ => return Err(syntax()),
                        }
                    }
                    _ => return Err(syntax()),
                }
            }
        }
    }
    let mut out = Vec::with_capacity(ty.keys.len());
    for key in ty.keys {
        let mut values = given.iter().filter(|(n, _)| n == key);
        let Some((_, lit)) = values.next() else {
            return Err(format!("The key '{key}' of '{namespace}.{}' is missing in '({src})'.", ty.name));
        };
        if values.next().is_some() {
            return Err(format!("The key '{key}' is given more than once in '({src})'."));
        }
        let attr = ty.attr(key).ok_or_else(syntax)?;
        let value = lit
            .to_val(attr.ty, namespace)
            .map_err(|e| format!("Key '{key}': {e}"))?
            .ok_or_else(|| format!("The key '{key}' cannot be null."))?;
        out.push((attr.name, value));
    }
    if let Some((name, _)) = given.iter().find(|(n, _)| !ty.keys.contains(&n.as_str())) {
        return Err(format!("'{name}' is not a key of '{namespace}.{}' (keys: {}).", ty.name, ty.keys.join(", ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ifs::schema::{MAN_SUPP_INVOICE, SUPPLIER};

    #[test]
    fn parses_typed_keys() {
        let ns = "IfsApp.ManualSupplierInvoiceHandling";
        let keys = parse("Company='10',InvoiceId=104233", &MAN_SUPP_INVOICE, ns).unwrap();
        assert_eq!(keys, [("Company", Val::Str("10".into())), ("InvoiceId", Val::Int(104_233))]);
        let keys = parse("InvoiceId=7, Company='1''0'", &MAN_SUPP_INVOICE, ns).unwrap();
        assert_eq!(keys[0], ("Company", Val::Str("1'0".into())));
        assert_eq!(parse("'S1'", &SUPPLIER, "IfsApp.SupplierHandling").unwrap()[0].1, Val::Str("S1".into()));
        for bad in [
            "Company='10'",
            "Company='10',InvoiceId='104233'",
            "Company=10,InvoiceId=1",
            "Company='10',InvoiceId=1,Extra=1",
            "Company='10',InvoiceId=1,",
            "Company='10',Company='10',InvoiceId=1",
            "Company='10',InvoiceId=null",
            "'10'",
            "",
        ] {
            assert!(parse(bad, &MAN_SUPP_INVOICE, ns).is_err(), "{bad}");
        }
    }
}
