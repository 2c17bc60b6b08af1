//! Vendors: the ERP's vendors (read page by page, changed since the
//! cursor) into Concur's Vendor v3, keyed by `VendorCode` + `AddressCode`.

use std::collections::HashMap;

use concur::vendors::VendorVerb;
use concur::{AccessToken, ConcurClient};
use domain::Failure;
use domain::reference::{KnownRecord, ReadPage, ReferenceKind, SyncRecord, VendorLimits, VendorRecord};
use time::OffsetDateTime;

use super::{READ_PAGE, SourceRead, SyncTarget, WriteStop, Written};

pub(super) struct VendorTarget<'a> {
    concur: &'a ConcurClient,
    token: AccessToken,
}

impl<'a> VendorTarget<'a> {
    pub(super) fn new(concur: &'a ConcurClient, token: AccessToken) -> Self {
        Self { concur, token }
    }
}

impl SyncTarget for VendorTarget<'_> {
    type Record = VendorRecord;
    const KIND: ReferenceKind = ReferenceKind::Vendors;

    /// Every vendor in the window, page by page until a short page.
    async fn read(
        &mut self,
        erp: &dyn erp::ErpAdapter,
        changed_after: Option<OffsetDateTime>,
    ) -> Result<SourceRead<VendorRecord>, Failure> {
        let mut records = Vec::new();
        let mut skip = 0;
        loop {
            let page = ReadPage { changed_after, skip, top: READ_PAGE };
            let Some(rows) = erp.read_vendors(page, VendorLimits::default()).await? else {
                return Ok(SourceRead::NotSupported);
            };
            let short = rows.len() < READ_PAGE;
            skip += rows.len();
            records.extend(rows);
            if short {
                return Ok(SourceRead::Records { records, refused: Vec::new() });
            }
        }
    }

    /// Each record with the verb Concur should see first: an update for
    /// what it holds from us, else a create.
    async fn write(
        &mut self,
        records: &[VendorRecord],
        known: &HashMap<String, KnownRecord>,
    ) -> Result<Vec<Written>, WriteStop> {
        let verb = |record: &VendorRecord| match known.get(&record.key()) {
            Some(k) if k.active => VendorVerb::Update,
            _ => VendorVerb::Create,
        };
        let writes: Vec<(VendorRecord, VendorVerb)> = records.iter().map(|r| (r.clone(), verb(r))).collect();
        match self.concur.write_vendors(&self.token, &writes).await {
            Ok(outcomes) => {
                Ok(outcomes.into_iter().map(|o| Written { key: o.key, refused: o.refused, target_id: None }).collect())
            }
            // Not an outage and nothing to retry: the API is not there.
            Err(concur::ConcurError::Rejected { status: 404, message }) => Err(WriteStop::NotOffered(format!(
                "Concur does not offer the Vendor v3 API to this company (HTTP 404: {message}); it is not \
                 available in the China datacenter and needs Concur Invoice. Vendors are not synced."
            ))),
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
