//! The service document (`GET {Projection}.svc/`) and a CSDL `$metadata`
//! generated from [`super::schema`].

use axum::{
    Json,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::schema::{EntityType, EnumDef, Projection, Ty};

pub(crate) fn service_document(projection: &Projection, base: &str) -> Response {
    let sets: Vec<Value> =
        projection.sets.iter().map(|(name, _)| json!({"name": name, "kind": "EntitySet", "url": name})).collect();
    Json(json!({
        "@odata.context": format!("{base}/{}.svc/$metadata", projection.name),
        "value": sets,
    }))
    .into_response()
}

fn types_of(projection: &Projection) -> Vec<&'static EntityType> {
    let mut out: Vec<&'static EntityType> = Vec::new();
    let mut stack: Vec<&'static EntityType> = projection.sets.iter().map(|(_, t)| *t).collect();
    while let Some(t) = stack.pop() {
        if !out.iter().any(|o| o.name == t.name) {
            out.push(t);
            stack.extend(t.navigations.iter().map(|n| n.target));
        }
    }
    out.sort_by_key(|t| t.name);
    out
}

pub(crate) fn csdl(projection: &Projection) -> Response {
    let ns = projection.namespace();
    let types = types_of(projection);
    let mut enums: Vec<&'static EnumDef> = Vec::new();
    for t in &types {
        for a in t.attrs {
            if let Ty::Enum(e) = a.ty
                && !enums.iter().any(|x| x.name == e.name)
            {
                enums.push(e);
            }
        }
    }
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n<edmx:DataServices>\n",
    );
    xml.push_str(&format!("<Schema Namespace=\"{ns}\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\n"));
    for e in enums {
        xml.push_str(&format!("<EnumType Name=\"{}\">", e.name));
        for (i, v) in e.values.iter().enumerate() {
            xml.push_str(&format!("<Member Name=\"{v}\" Value=\"{i}\"/>"));
        }
        xml.push_str("</EnumType>\n");
    }
    for t in types {
        xml.push_str(&format!("<EntityType Name=\"{}\"><Key>", t.name));
        for k in t.keys {
            xml.push_str(&format!("<PropertyRef Name=\"{k}\"/>"));
        }
        xml.push_str("</Key>");
        for a in t.attrs {
            let ty = match a.ty {
                Ty::Enum(e) => format!("{ns}.{}", e.name),
                other => other.edm(),
            };
            let nullable = if a.key { " Nullable=\"false\"" } else { "" };
            xml.push_str(&format!("<Property Name=\"{}\" Type=\"{ty}\"{nullable}/>", a.name));
        }
        for n in t.navigations {
            xml.push_str(&format!(
                "<NavigationProperty Name=\"{}\" Type=\"Collection({ns}.{})\" ContainsTarget=\"true\"/>",
                n.name, n.target.name
            ));
        }
        xml.push_str("</EntityType>\n");
    }
    xml.push_str("<EntityContainer Name=\"Main\">");
    for (name, t) in projection.sets {
        xml.push_str(&format!("<EntitySet Name=\"{name}\" EntityType=\"{ns}.{}\"/>", t.name));
    }
    xml.push_str("</EntityContainer>\n</Schema>\n</edmx:DataServices>\n</edmx:Edmx>\n");
    let mut response = xml.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}
