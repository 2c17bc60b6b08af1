//! Vendors: the ERP's vendors (read page by page, changed since the
//! cursor) into Concur's Vendor v3, keyed by `VendorCode` + `AddressCode`.
//!
//! With vendors flowing both ways, only the fields the ERP owns count as a
//! record's content (its hash), and the fields Concur owns are written with
//! Concur's own values (read once per run, when a chunk needs them): a
//! change Concur made is never overwritten, and a change the other
//! direction wrote into the ERP is never carried back.

use std::collections::HashMap;

use concur::{AccessToken, ConcurClient};
use domain::Failure;
use domain::reference::{
    FieldOwner, KnownRecord, OwnedVendor, ReferenceKind, SyncRecord, VendorFields, VendorLimits, VendorRecord,
    VendorSync,
};
use time::OffsetDateTime;

use super::{SourceRead, SyncTarget, WriteStop, Written, first_verb, read_pages};

pub(super) struct VendorTarget<'a> {
    concur: &'a ConcurClient,
    token: AccessToken,
    /// The fields the ERP owns (every field unless vendors flow both ways).
    erp_owned: VendorFields,
    /// The fields Concur owns, written with Concur's values.
    concur_owned: VendorFields,
    /// Concur's vendors by key, read on the first chunk that needs them.
    concur_values: Option<HashMap<String, VendorRecord>>,
}

impl<'a> VendorTarget<'a> {
    pub(super) fn new(concur: &'a ConcurClient, token: AccessToken, owners: VendorSync) -> Self {
        let erp_owned = owners.owned_by(FieldOwner::Erp);
        let concur_owned = owners.owned_by(FieldOwner::Concur);
        Self { concur, token, erp_owned, concur_owned, concur_values: None }
    }

    /// `record` with the fields Concur owns as Concur holds them (a vendor
    /// Concur does not hold yet keeps the ERP's values: they are all there is).
    async fn with_concur_values(&mut self, record: &VendorRecord) -> Result<VendorRecord, WriteStop> {
        if self.concur_owned.is_empty() {
            return Ok(record.clone());
        }
        if self.concur_values.is_none() {
            let read = self.concur.all_vendors(&self.token, VendorLimits::default()).await;
            let vendors = read.map_err(|e| match e {
                concur::ConcurError::Rejected { status: 404, message } => {
                    WriteStop::NotOffered(vendor_api_not_offered(&message))
                }
                e => WriteStop::Failed(e.to_failure("reading Concur's vendors")),
            })?;
            self.concur_values = Some(vendors.into_iter().map(|v| (v.key(), v)).collect());
        }
        let mut merged = record.clone();
        if let Some(held) = self.concur_values.as_ref().and_then(|values| values.get(&record.key())) {
            merged.take(held, &self.concur_owned);
        }
        Ok(merged)
    }
}

impl SyncTarget for VendorTarget<'_> {
    type Record = OwnedVendor;
    const KIND: ReferenceKind = ReferenceKind::Vendors;

    /// Every vendor in the window, page by page until a short page.
    async fn read(
        &mut self,
        erp: &dyn erp::ErpAdapter,
        changed_after: Option<OffsetDateTime>,
    ) -> Result<SourceRead<OwnedVendor>, Failure> {
        let read = read_pages(changed_after, |page| erp.read_vendors(page, VendorLimits::default())).await?;
        let Some(vendors) = read else { return Ok(SourceRead::NotSupported) };
        let owned = |record| OwnedVendor { record, owned: self.erp_owned.clone() };
        Ok(SourceRead::Records { records: vendors.into_iter().map(owned).collect(), refused: Vec::new() })
    }

    /// Each record with the verb Concur should see first: an update for
    /// what it holds from us, else a create.
    async fn write(
        &mut self,
        _erp: &dyn erp::ErpAdapter,
        records: &[OwnedVendor],
        known: &HashMap<String, KnownRecord>,
    ) -> Result<Vec<Written>, WriteStop> {
        let mut writes = Vec::with_capacity(records.len());
        for owned in records {
            writes.push((self.with_concur_values(&owned.record).await?, first_verb(known, &owned.key())));
        }
        match self.concur.write_vendors(&self.token, &writes).await {
            Ok(outcomes) => Ok(outcomes
                .into_iter()
                .map(|o| Written { key: o.key, refused: o.refused, target_id: None, unchanged: false })
                .collect()),
            // Not an outage and nothing to retry: the API is not there.
            Err(concur::ConcurError::Rejected { status: 404, message }) => {
                Err(WriteStop::NotOffered(vendor_api_not_offered(&message)))
            }
            Err(e) => Err(WriteStop::Failed(e.to_failure("writing vendors to Concur"))),
        }
    }

    /// Deletes the vendor address (Vendor v3 has no inactive flag); a
    /// refusal for an address Concur does not hold is what we want.
    async fn deactivate(&mut self, key: &str, _known: Option<&KnownRecord>) -> Result<Option<String>, Failure> {
        let Some((vendor_code, address_code)) = key.split_once('\u{1f}') else { return Ok(None) };
        let failed = |e: concur::ConcurError| e.to_failure("deleting a vendor in Concur");
        let Some(refusal) = self.concur.delete_vendor(&self.token, vendor_code, address_code).await.map_err(failed)?
        else {
            return Ok(None);
        };
        let held = self.concur.vendor_exists(&self.token, vendor_code, address_code).await.map_err(failed)?;
        Ok(held.then_some(refusal))
    }
}

/// Why vendors are not synced when Vendor v3 answers 404 to its collection.
pub(super) fn vendor_api_not_offered(message: &str) -> String {
    format!(
        "Concur does not offer the Vendor v3 API to this company (HTTP 404: {message}); it is not available in \
         the China datacenter and needs Concur Invoice. Vendors are not synced."
    )
}
