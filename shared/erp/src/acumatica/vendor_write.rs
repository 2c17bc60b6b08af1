//! Vendors from Concur into Acumatica (reference-data-from-erp.md §1.3):
//! `PUT /Vendor` with `If-None-Match: *` creates (412 when the VendorID
//! exists), `PUT /Vendor` with `If-Match: *` updates (412 when it does not),
//! after a read by VendorID mapped as the vendor read maps it
//! ([`AcumaticaClient::vendor_by_id`]). The order and the handling of a
//! concurrent writer are [`crate::vendor_write`]'s.
//!
//! Written: `VendorID`, `VendorName`, `CurrencyID`, `TaxRegistrationID` and
//! `MainContact/Address/{AddressLine1, AddressLine2, City, State, PostalCode,
//! Country}`. Nothing else is sent: Acumatica gives a new vendor the vendor
//! class of AP Preferences (AP101000) and with it the terms, accounts and
//! status `Active`, so no setting of the connection is needed for it. A
//! currency or country Concur leaves empty stays Acumatica's own; any other
//! field Concur empties is emptied (`{"value": null}`).

use domain::reference::{VendorField, VendorFields, VendorRecord};
use serde_json::{Map, Value, json};
use transport::Idempotency;

use super::posting::field_errors;
use super::reference::ADDRESS_MEMBERS;
use super::{AcumaticaClient, AcumaticaError, error_message};
use crate::VendorWritten;
use crate::vendor_write::{self, Stored, VendorStore};

/// Which of the two PUTs is sent.
#[derive(Clone, Copy)]
enum Put {
    /// `If-None-Match: *`: insert only.
    Create,
    /// `If-Match: *`: update only.
    Update,
}

impl Put {
    fn precondition(self) -> reqwest::header::HeaderName {
        match self {
            Put::Create => reqwest::header::IF_NONE_MATCH,
            Put::Update => reqwest::header::IF_MATCH,
        }
    }

    /// As the refusal words it: "Acumatica refused to create vendor …".
    fn action(self) -> &'static str {
        match self {
            Put::Create => "create",
            Put::Update => "update",
        }
    }
}

impl AcumaticaClient {
    /// Creates `vendor` or writes its `fields` that differ, keyed by its
    /// code (see [`crate::Erp::write_vendor`]).
    pub async fn write_vendor(
        &self,
        vendor: &VendorRecord,
        fields: &VendorFields,
    ) -> Result<VendorWritten, AcumaticaError> {
        vendor_write::write_vendor(self, vendor, fields).await
    }

    /// One PUT of `body` for vendor `vendor`. Safe to repeat: a repeated
    /// create meets 412 and is read again, a repeated update writes the
    /// same values.
    async fn put_vendor(&self, put: Put, vendor: &str, body: &Value) -> Result<Stored<AcumaticaError>, AcumaticaError> {
        let url = format!("{}?$select=VendorID", self.entity_url("Vendor"));
        let response = self
            .send_authorized(Idempotency::Safe, |c, token| {
                c.put(&url)
                    .bearer_auth(token)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .header(put.precondition(), "*")
                    .json(body)
            })
            .await?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(Stored::Written);
        }
        let text = transport::bounded_text(response).await;
        let refused = |errors: String| AcumaticaError::VendorRefused {
            vendor: vendor.to_owned(),
            action: put.action(),
            status,
            errors,
        };
        match status {
            // Created or deleted by someone else since the read: read again.
            412 => Ok(Stored::Refused(refused(error_message(&text)))),
            422 => Err(refused(field_errors(&text))),
            _ => {
                let what = format!("the {} of vendor `{vendor}`", put.action());
                Err(self.document_error(VENDOR_SCREEN_NAME, &what, status, &text).await)
            }
        }
    }
}

/// How a 401/403 names the screen a vendor write needs.
const VENDOR_SCREEN_NAME: &str = "vendors (screen AP303000)";

impl VendorStore for AcumaticaClient {
    type Error = AcumaticaError;

    async fn read_vendor(&self, wanted: &VendorRecord) -> Result<Option<VendorRecord>, AcumaticaError> {
        self.vendor_by_id(&wanted.vendor_code, &wanted.address_code, wanted.limits).await
    }

    async fn create_vendor(&self, vendor: &VendorRecord) -> Result<Stored<AcumaticaError>, AcumaticaError> {
        let body = vendor_body(vendor, &VendorField::ALL, Absent::Omit);
        self.put_vendor(Put::Create, &vendor.vendor_code, &body).await
    }

    async fn update_vendor(
        &self,
        vendor: &VendorRecord,
        changed: &[VendorField],
    ) -> Result<Stored<AcumaticaError>, AcumaticaError> {
        let body = vendor_body(vendor, changed, Absent::Clear);
        self.put_vendor(Put::Update, &vendor.vendor_code, &body).await
    }
}

/// What a field Concur leaves empty becomes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Absent {
    /// Not sent (a create: Acumatica's default stands).
    Omit,
    /// Sent as `{"value": null}`, which empties it (an update).
    Clear,
}

/// The PUT body: `VendorID` and the members of `fields`, value-wrapped.
fn vendor_body(vendor: &VendorRecord, fields: &[VendorField], absent: Absent) -> Value {
    let put = |members: &mut Map<String, Value>, name: &str, value: Option<&str>| match (value, absent) {
        (Some(value), _) => {
            members.insert(name.to_owned(), json!({ "value": value }));
        }
        (None, Absent::Clear) => {
            members.insert(name.to_owned(), json!({ "value": null }));
        }
        (None, Absent::Omit) => {}
    };
    let mut body = Map::new();
    put(&mut body, "VendorID", Some(vendor.vendor_code.trim()));
    for field in fields {
        match field {
            VendorField::Name => put(&mut body, "VendorName", Some(&vendor.name)),
            VendorField::Currency => put(&mut body, "CurrencyID", vendor.currency_code.as_deref()),
            VendorField::TaxId => put(&mut body, "TaxRegistrationID", vendor.tax_id.as_deref()),
            VendorField::Address => {
                let mut address = Map::new();
                for (member, value) in ADDRESS_MEMBERS.into_iter().zip(vendor.address()) {
                    put(&mut address, member, value.as_deref());
                }
                if !address.is_empty() {
                    body.insert("MainContact".to_owned(), json!({ "Address": address }));
                }
            }
        }
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use domain::reference::VendorLimits;

    use super::*;

    fn vendor() -> VendorRecord {
        let mut v = VendorRecord::named("V100".into(), "MAIN".into(), "Acme".into(), VendorLimits::default());
        v.address1 = Some("1 Main St".into());
        v.city = Some("Austin".into());
        v.currency_code = Some("USD".into());
        v
    }

    #[test]
    fn a_create_sends_every_field_concur_has_and_nothing_empty() {
        let body = vendor_body(&vendor(), &VendorField::ALL, Absent::Omit);
        assert_eq!(
            body,
            json!({
                "VendorID": {"value": "V100"},
                "VendorName": {"value": "Acme"},
                "CurrencyID": {"value": "USD"},
                "MainContact": {"Address": {"AddressLine1": {"value": "1 Main St"}, "City": {"value": "Austin"}}},
            })
        );
    }

    #[test]
    fn an_update_sends_only_the_changed_fields_and_empties_what_concur_emptied() {
        let body = vendor_body(&vendor(), &[VendorField::Address], Absent::Clear);
        let address = &body["MainContact"]["Address"];
        assert_eq!(address["AddressLine1"], json!({"value": "1 Main St"}));
        assert_eq!(address["AddressLine2"], json!({"value": null}));
        assert_eq!(address["Country"], json!({"value": null}));
        assert!(body.get("VendorName").is_none() && body.get("CurrencyID").is_none(), "{body}");
    }
}
