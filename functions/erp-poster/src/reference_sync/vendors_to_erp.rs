//! Concur's vendors into the ERP, where the connection's vendor direction
//! is `concur_to_erp` or `both` (issue 14, point 4).
//!
//! Vendor v3 has no change filter, so every run reads every vendor (pages
//! of 1000) and the content hashes keep the writes to what changed. Only
//! the fields Concur owns count as content and are written to a vendor the
//! ERP holds; a vendor the ERP lacks is created with every field. Each ERP
//! looks its vendor up by code before it creates one and takes a create
//! refused as "exists" as an update, so a vendor created in Concur reaches
//! the ERP once, even when two runs race past the lease.
//!
//! Concur's vendors are the ERP's keys (`VendorCode` = the ERP's vendor
//! id) and the ERPs show one address per vendor, so only the address
//! `MAIN` [DEFAULT] goes to the ERP; other addresses are refused with
//! that reason. A vendor deleted in Concur is left as it is in the ERP:
//! the ERP's vendor carries its posted bills, and Concur deletes an address
//! the ERP inactivated, so a delete says nothing new about the ERP's vendor.

use std::collections::HashMap;

use concur::{AccessToken, ConcurClient};
use domain::reference::{
    DEFAULT_ADDRESS_CODE, FieldOwner, KnownRecord, OwnedVendor, ReferenceKind, Refusal, SyncRecord, VendorFields,
    VendorLimits, VendorSync,
};
use domain::{Connection, Failure, FailureKind};
use erp::VendorWritten;
use platform::audit::AuditLog;
use platform::reference::ReferenceStore;
use time::OffsetDateTime;

use super::vendors::vendor_api_not_offered;
use super::{SourceRead, SyncTarget, WriteStop, Written};

pub(super) struct ConcurVendorTarget<'a> {
    concur: &'a ConcurClient,
    token: AccessToken,
    audit: &'a AuditLog,
    connection: &'a Connection,
    /// The fields Concur owns: what an existing ERP vendor takes.
    owned: VendorFields,
    /// The fields the ERP owns: what the other direction hashes.
    erp_owned: VendorFields,
    reference: &'a ReferenceStore,
}

impl<'a> ConcurVendorTarget<'a> {
    pub(super) fn new<S: concur::GrantStore>(
        poster: &'a crate::Poster<S>,
        connection: &'a Connection,
        token: AccessToken,
        owners: &VendorSync,
    ) -> Self {
        Self {
            concur: poster.tokens.client(),
            token,
            audit: &poster.audit,
            connection,
            owned: owners.owned_by(FieldOwner::Concur),
            erp_owned: owners.owned_by(FieldOwner::Erp),
            reference: &poster.reference,
        }
    }

    /// A vendor created in the ERP from Concur is, as far as the other
    /// direction goes, already in Concur with these values: remembering
    /// that keeps the next ERP → Concur run from writing it back unchanged.
    /// (Should the ERP store a value differently, the hashes differ and
    /// that run writes the ERP's value: correct, only not free.)
    async fn remember_in_concur(&self, vendor: &OwnedVendor) {
        let as_erp_sends = OwnedVendor { record: vendor.record.clone(), owned: self.erp_owned.clone() };
        let known =
            KnownRecord { hash: as_erp_sends.content_hash(), active: true, rank: 0, target_id: None, state: None };
        let id = &self.connection.connection_id;
        if let Err(e) = self.reference.remember(id, ReferenceKind::Vendors, &vendor.key(), &known).await {
            tracing::warn!(connection = %id, error = %e, "not remembered; the next run writes the vendor to Concur again");
        }
    }

    /// One audit event per vendor the ERP took a change of.
    async fn audit_written(&self, vendor_code: &str, written: &VendorWritten) {
        let detail = match written {
            VendorWritten::Created => "created in the ERP from Concur".to_owned(),
            VendorWritten::Updated(fields) => {
                let names: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
                format!("updated in the ERP from Concur: {}", names.join(", "))
            }
            VendorWritten::Unchanged => return,
        };
        let id = self.connection.connection_id.as_str();
        let mut event = self.audit.event(id, &format!("vendor#{vendor_code}"), "vendor to erp", "ok");
        event.detail = Some(detail);
        if let Err(e) = self.audit.record(&event).await {
            tracing::warn!(connection = id, vendor = vendor_code, error = %e, "audit event not recorded");
        }
    }
}

impl SyncTarget for ConcurVendorTarget<'_> {
    type Record = OwnedVendor;
    const KIND: ReferenceKind = ReferenceKind::VendorsToErp;

    /// Every vendor Concur holds; addresses other than `MAIN` are refused.
    async fn read(
        &mut self,
        _erp: &dyn erp::ErpAdapter,
        _changed_after: Option<OffsetDateTime>,
    ) -> Result<SourceRead<OwnedVendor>, Failure> {
        let vendors = match self.concur.all_vendors(&self.token, VendorLimits::default()).await {
            Ok(vendors) => vendors,
            Err(concur::ConcurError::Rejected { status: 404, message }) => {
                return Ok(SourceRead::NotOffered(vendor_api_not_offered(&message)));
            }
            Err(e) => return Err(e.to_failure("reading Concur's vendors")),
        };
        let (records, other_addresses): (Vec<_>, Vec<_>) =
            vendors.into_iter().partition(|v| v.address_code == DEFAULT_ADDRESS_CODE);
        let refused = other_addresses
            .into_iter()
            .map(|v| Refusal {
                key: v.key(),
                reason: format!(
                    "address `{}` of vendor `{}` stays in Concur: the ERP shows one address per vendor, so only \
                     address `{DEFAULT_ADDRESS_CODE}` goes to it; give the vendor's main address that code in Concur",
                    v.address_code, v.vendor_code
                ),
            })
            .collect();
        let records = records.into_iter().map(|record| OwnedVendor { record, owned: self.owned.clone() }).collect();
        Ok(SourceRead::Records { records, refused })
    }

    fn reads_everything(&self) -> bool {
        true
    }

    fn deactivates(&self) -> bool {
        false
    }

    /// One ERP write per vendor; a vendor the ERP refuses is reported with
    /// its reason and tried again next run, the rest go on.
    async fn write(
        &mut self,
        erp: &dyn erp::ErpAdapter,
        records: &[OwnedVendor],
        _known: &HashMap<String, KnownRecord>,
    ) -> Result<Vec<Written>, WriteStop> {
        let mut outcomes = Vec::with_capacity(records.len());
        for vendor in records {
            let key = vendor.key();
            let mut unchanged = false;
            let refused = match erp.write_vendor(&vendor.record, &self.owned).await {
                Ok(Some(written)) => {
                    unchanged = written == VendorWritten::Unchanged;
                    if written == VendorWritten::Created {
                        self.remember_in_concur(vendor).await;
                    }
                    self.audit_written(&vendor.record.vendor_code, &written).await;
                    None
                }
                Ok(None) => {
                    return Err(WriteStop::NotOffered(
                        "this ERP takes no vendors from Concur yet: set the vendor direction to erp_to_concur".into(),
                    ));
                }
                Err(failure) if failure.kind == FailureKind::Permanent => Some(failure.reason),
                Err(failure) => return Err(WriteStop::Failed(failure)),
            };
            outcomes.push(Written { key, refused, target_id: None, unchanged });
        }
        Ok(outcomes)
    }

    /// Never called: [`Self::deactivates`] is false.
    async fn deactivate(&mut self, _key: &str, _known: Option<&KnownRecord>) -> Result<Option<String>, Failure> {
        Ok(None)
    }
}
