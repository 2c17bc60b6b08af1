//! URL query options (§4): `$filter`, `$select`, `$expand`, `$custom`,
//! `$top`, `$skip`. Names are checked against the contract; an unknown
//! option, field or view is a 400 rather than being silently ignored.

use std::collections::{BTreeSet, HashSet};

use super::filter::{self, Expr};
use super::schema::Schema;
use super::wire::Select;

/// Parsed query options of one request.
#[derive(Debug, Default, Clone)]
pub(crate) struct QueryOptions {
    pub filter: Option<Expr>,
    pub select: Option<Select>,
    pub expand: BTreeSet<String>,
    pub custom: Vec<(String, String)>,
    pub top: Option<usize>,
    pub skip: usize,
}

/// Parses and validates the query string for an entity; the error is the 400 message.
pub(crate) fn parse(query: Option<&str>, schema: &Schema) -> Result<QueryOptions, String> {
    let mut opts = QueryOptions::default();
    let mut seen = HashSet::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !key.starts_with('$') {
            continue; // plain parameters (cache busters...) are ignored by Web API
        }
        if !seen.insert(key.to_string()) {
            return Err(format!("The query parameter '{key}' is specified more than once."));
        }
        match key.as_ref() {
            "$filter" => {
                let expr = filter::parse(&value)?;
                filter::check(&expr, schema)?;
                opts.filter = Some(expr);
            }
            "$select" => opts.select = Some(parse_select(&value, schema)?),
            "$expand" => {
                for item in list(&value) {
                    let mut parts = item.split('/');
                    let first = parts.next().unwrap_or_default();
                    let mut current = if let Some(s) = schema.collection(first) {
                        s
                    } else if let Some(s) = schema.linked(first) {
                        s
                    } else {
                        return Err(format!("Could not find a property named '{first}' on type '{}'.", schema.name));
                    };
                    for part in parts {
                        current = current.linked(part).or_else(|| current.collection(part)).ok_or_else(|| {
                            format!("Could not find a property named '{part}' on type '{}'.", current.name)
                        })?;
                    }
                    opts.expand.insert(first.to_owned());
                }
            }
            "$custom" => {
                for item in list(&value) {
                    let Some((view, field)) = item.split_once('.') else {
                        return Err(format!("The $custom item '{item}' must be given as 'View.Field'."));
                    };
                    let known = schema.custom_views.contains(&view)
                        || schema.collections.iter().any(|(_, s)| s.custom_views.contains(&view));
                    if !known || field.is_empty() {
                        return Err(format!("'{view}' is not a data view of '{}' ($custom='{item}').", schema.name));
                    }
                    opts.custom.push((view.to_owned(), field.to_owned()));
                }
            }
            "$top" => opts.top = Some(number(&key, &value)?),
            "$skip" => opts.skip = number(&key, &value)?,
            other => return Err(format!("The query parameter '{other}' is not supported.")),
        }
    }
    Ok(opts)
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn number(key: &str, value: &str) -> Result<usize, String> {
    value.trim().parse().map_err(|_| format!("Invalid value '{value}' for {key}; a non-negative integer is required."))
}

fn parse_select(value: &str, schema: &Schema) -> Result<Select, String> {
    let mut select = Select::default();
    for item in list(value) {
        match item.split_once('/') {
            None => {
                if schema.field(item).is_none() && schema.collection(item).is_none() && schema.linked(item).is_none() {
                    return Err(format!("Could not find a property named '{item}' on type '{}'.", schema.name));
                }
                select.fields.insert(item.to_owned());
            }
            Some((child, path)) => {
                let child_schema = schema
                    .collection(child)
                    .or_else(|| schema.linked(child))
                    .ok_or_else(|| format!("Could not find a property named '{child}' on type '{}'.", schema.name))?;
                // Deeper paths (`MainContact/Address/City`) go through linked
                // entities to a field; the linked entity below is rendered whole.
                let mut current = child_schema;
                let mut parts = path.split('/').peekable();
                while let Some(part) = parts.next() {
                    let found = match parts.peek() {
                        Some(_) => current.linked(part).map(|next| current = next).is_some(),
                        None => current.field(part).is_some(),
                    };
                    if !found {
                        return Err(format!("Could not find a property named '{part}' on type '{}'.", current.name));
                    }
                }
                let first = path.split('/').next().unwrap_or(path);
                select.nested.entry(child.to_owned()).or_default().insert(first.to_owned());
            }
        }
    }
    Ok(select)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acumatica::schema;

    #[test]
    fn parses_and_validates_options() {
        let bill = schema::entity("Bill").unwrap().schema;
        let q = parse(
            Some("$filter=Vendor%20eq%20'V1'&$select=Type,ReferenceNbr,Details/Amount&$expand=Details&$custom=Document.UsrKey&$top=5&$skip=2&_=1"),
            bill,
        )
        .unwrap();
        assert!(q.filter.is_some());
        assert!(q.expand.contains("Details"));
        assert_eq!(q.custom, [("Document".to_owned(), "UsrKey".to_owned())]);
        assert_eq!((q.top, q.skip), (Some(5), 2));
        let select = q.select.unwrap();
        assert!(select.fields.contains("ReferenceNbr"));
        assert!(select.nested["Details"].contains("Amount"));

        for bad in
            ["$select=Nope", "$expand=Lines", "$top=-1", "$orderby=Vendor", "$custom=Foo.Bar", "$filter=Vendor%20eq"]
        {
            assert!(parse(Some(bad), bill).is_err(), "{bad}");
        }
    }
}
