//! `GET /profile/v1/me`: the company of a company token (auth.md §11).

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::Ctx;
use super::http::{forbidden, service_error, unauthorized};
use super::state::{AuthError, Company, Principal};

const PATH: &str = "/profile/v1/me";

pub(crate) async fn me(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    let state = ctx.sim.lock();
    let caller = match state.authenticate(&ctx.datacenter, &headers) {
        Ok(caller) => caller,
        // Profile answers the wrong datacenter with 301 to the right one (auth.md §6 rule 5).
        Err(AuthError::WrongDatacenter(home)) => {
            return moved_permanently(&format!("{home}{PATH}"));
        }
        Err(e) => return unauthorized(&e),
    };
    let Principal::Company(uuid) = &caller.principal else {
        return forbidden("The Profile API requires a company access token");
    };
    if !caller.has_scope("company.read") {
        return forbidden("access denied: scope company.read is required");
    }
    match state.companies.get(uuid) {
        Some(company) => (StatusCode::OK, Json(company_json(company))).into_response(),
        None => service_error(StatusCode::NOT_FOUND, "Company not found", Some(PATH), None),
    }
}

fn moved_permanently(location: &str) -> Response {
    let mut response = (StatusCode::MOVED_PERMANENTLY, Json(json!({"location": location}))).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The v1.company.md sample shape, with the edition under `com:concur:Expense:0.1`.
fn company_json(company: &Company) -> Value {
    let spec = &company.spec;
    let slug: String = spec.name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    let domain = format!("{}.example.com", if slug.is_empty() { "company" } else { &slug });
    let offering_code =
        if spec.marketing_name.to_ascii_lowercase().starts_with("standard") { "DIRECT-BREEZE+" } else { "CES" };
    let country = if spec.datacenter.starts_with("us") { "US" } else { "DE" };
    json!({
        "id": spec.uuid,
        "schemas": ["com:concur:Travel:0.1", "com:concur:Expense:0.1"],
        "internetDomain": domain,
        "companyDomain": domain,
        "name": spec.name,
        "defaultLanguage": "en-us",
        "meta": {"principalType": "company"},
        "addresses": [{
            "formatted": format!("\n   nil\n{country}"),
            "streetAddress": "",
            "locality": "",
            "region": "",
            "country": country,
            "postalCode": null,
        }],
        "com:concur:Travel:0.1": {
            "active": 1,
            "offeringCode": "STANDARD",
            "isVendor": false,
            "isBillable": true,
            "contact": {"name": "test contact", "phone": "", "emailAddress": null},
        },
        "com:concur:Expense:0.1": {
            "offeringCode": offering_code,
            "marketingName": spec.marketing_name,
        },
    })
}
