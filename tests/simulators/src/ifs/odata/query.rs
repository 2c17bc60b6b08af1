//! System query options and server-driven paging.
//!
//! Collections take `$filter $select $expand $orderby $top $skip $count`;
//! a single entity only `$select $expand`. Names are checked against the
//! entity type; an unknown option, attribute or navigation is a 400, never
//! silently ignored. Parameters without `$` are ignored. `$expand` takes
//! navigation names only (no nested options).

use std::collections::HashSet;

use super::filter::{self, Expr};
use crate::ifs::schema::{EntityType, Nav};

/// Parsed query options of one request.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pub filter: Option<Expr>,
    pub select: Option<Vec<&'static str>>,
    pub expand: Vec<&'static Nav>,
    /// (attribute, descending)
    pub orderby: Vec<(&'static str, bool)>,
    pub top: Option<usize>,
    pub skip: usize,
    pub count: bool,
    /// Every `$` option as received (decoded), for building `@odata.nextLink`.
    pub raw: Vec<(String, String)>,
}

/// Parses the query string for a collection (`single == false`) or a single
/// entity of `ty`; the error is the 400 message.
pub(crate) fn parse(
    query: Option<&str>,
    ty: &'static EntityType,
    namespace: &str,
    single: bool,
) -> Result<Query, String> {
    let mut q = Query::default();
    let mut seen = HashSet::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !key.starts_with('$') {
            continue;
        }
        if !seen.insert(key.to_string()) {
            return Err(format!("The query option '{key}' is given more than once."));
        }
        let collection_only = matches!(key.as_ref(), "$filter" | "$orderby" | "$top" | "$skip" | "$count");
        if single && collection_only {
            return Err(format!("The query option '{key}' applies to collections only."));
        }
        match key.as_ref() {
            "$filter" => q.filter = Some(filter::parse(&value, ty, namespace)?),
            "$select" => {
                let mut names = Vec::new();
                for item in list(&value) {
                    if item == "*" {
                        continue;
                    }
                    let attr = ty.attr(item).ok_or_else(|| no_property(item, ty, namespace))?;
                    names.push(attr.name);
                }
                q.select = Some(names);
            }
            "$expand" => {
                for item in list(&value) {
                    if item.contains('(') {
                        return Err(format!("Nested options in $expand ('{item}') are not supported."));
                    }
                    let nav = ty
                        .nav(item)
                        .ok_or_else(|| format!("'{item}' is not a navigation of '{namespace}.{}'.", ty.name))?;
                    q.expand.push(nav);
                }
            }
            "$orderby" => {
                for item in list(&value) {
                    let mut words = item.split_whitespace();
                    let name = words.next().unwrap_or_default();
                    let desc = match words.next() {
                        None | Some("asc") => false,
                        Some("desc") => true,
                        Some(other) => return Err(format!("'{other}' in $orderby must be 'asc' or 'desc'.")),
                    };
                    if words.next().is_some() {
                        return Err(format!("Invalid $orderby item '{item}'."));
                    }
                    let attr = ty.attr(name).ok_or_else(|| no_property(name, ty, namespace))?;
                    q.orderby.push((attr.name, desc));
                }
            }
            "$top" => q.top = Some(number(&key, &value)?),
            "$skip" => q.skip = number(&key, &value)?,
            "$count" => {
                q.count = match value.as_ref() {
                    "true" => true,
                    "false" => false,
                    other => return Err(format!("$count must be 'true' or 'false', not '{other}'.")),
                }
            }
            other => return Err(format!("The query option '{other}' is not supported.")),
        }
        q.raw.push((key.into_owned(), value.into_owned()));
    }
    Ok(q)
}

fn no_property(name: &str, ty: &EntityType, namespace: &str) -> String {
    format!("The property '{name}' does not exist in type '{namespace}.{}'.", ty.name)
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn number(key: &str, value: &str) -> Result<usize, String> {
    value.trim().parse().map_err(|_| format!("Invalid value '{value}' for {key}; a non-negative integer is required."))
}

/// Percent-encodes a query component, leaving OData's readable characters
/// (`$ ' ( ) , : /`) alone; `+` and spaces are always encoded.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~$'(),:/*!@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The query string of the next page: every option as received, with
/// `$skip` moved on and `$top` reduced by what was served.
pub(crate) fn next_page(q: &Query, served: usize) -> String {
    let mut parts: Vec<String> = q
        .raw
        .iter()
        .filter(|(k, _)| k != "$skip" && k != "$top")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if let Some(top) = q.top {
        parts.push(format!("$top={}", top - served));
    }
    parts.push(format!("$skip={}", q.skip + served));
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ifs::schema::ACCOUNT;

    const NS: &str = "IfsApp.AccountsHandling";

    #[test]
    fn parses_options_and_builds_the_next_page() {
        let q = parse(
            Some("$filter=Company%20eq%20'10'&$select=Account,Description&$orderby=Account%20desc&$top=250&$skip=0&$count=true&_=1"),
            &ACCOUNT,
            NS,
            false,
        )
        .unwrap();
        assert_eq!(q.select.as_deref(), Some(&["Account", "Description"][..]));
        assert_eq!(q.orderby, [("Account", true)]);
        assert_eq!((q.top, q.skip, q.count), (Some(250), 0, true));
        assert_eq!(
            next_page(&q, 100),
            "$filter=Company%20eq%20'10'&$select=Account,Description&$orderby=Account%20desc&$count=true&$top=150&$skip=100"
        );
        for bad in [
            "$select=Nope",
            "$expand=Lines",
            "$top=-1",
            "$orderby=Account%20up",
            "$search=x",
            "$filter=Company%20eq",
            "$top=1&$top=2",
        ] {
            assert!(parse(Some(bad), &ACCOUNT, NS, false).is_err(), "{bad}");
        }
        assert!(parse(Some("$filter=Company%20eq%20'10'"), &ACCOUNT, NS, true).is_err());
        assert!(parse(Some("$select=Account"), &ACCOUNT, NS, true).is_ok());
    }
}
