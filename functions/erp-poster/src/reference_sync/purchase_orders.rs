//! Purchase orders and their goods receipts: the ERP's (read page by page,
//! changed since the cursor where the ERP can filter) into Concur's
//! Purchase Order v3 and PO Receipt v3, one record per call as both APIs
//! take them. Orders go first in a request, receipts after (a receipt
//! needs its order's line in Concur).
//!
//! Concur deletes no purchase order: one gone from the ERP is closed
//! (read back from Concur, sent `Closed`). A receipt reversed or gone is
//! deleted; Concur refuses that for a receipt a payment request uses, and
//! the refusal is listed.

use std::collections::HashMap;

use concur::{AccessToken, ConcurClient, ConcurError, WriteVerb};
use domain::Failure;
use domain::reference::{KnownRecord, PoReceiptRecord, PurchaseOrderRecord, PurchaseOrderSettings, ReferenceKind};
use time::OffsetDateTime;

use super::{SourceRead, SyncTarget, WriteStop, Written, first_verb, read_pages};

/// Why the kind stops when Concur answers 404 on its collection.
fn not_offered(api: &str, message: &str) -> WriteStop {
    WriteStop::NotOffered(format!(
        "Concur does not offer the {api} API to this company (HTTP 404: {message}); it needs Concur Invoice with \
         Purchase Orders and is not available in the China datacenter. It is not synced."
    ))
}

/// One write's outcome, or why the kind stops.
fn written(key: String, outcome: Result<Option<String>, ConcurError>, api: &str) -> Result<Written, WriteStop> {
    match outcome {
        Ok(refused) => Ok(Written { key, refused, target_id: None, unchanged: false }),
        Err(ConcurError::Rejected { status: 404, message }) => Err(not_offered(api, &message)),
        Err(e) => Err(WriteStop::Failed(e.to_failure(&format!("writing to Concur's {api} API")))),
    }
}

pub(super) struct PurchaseOrderTarget<'a> {
    concur: &'a ConcurClient,
    token: AccessToken,
    settings: PurchaseOrderSettings,
}

impl<'a> PurchaseOrderTarget<'a> {
    pub(super) fn new(concur: &'a ConcurClient, token: AccessToken, settings: PurchaseOrderSettings) -> Self {
        Self { concur, token, settings }
    }
}

impl SyncTarget for PurchaseOrderTarget<'_> {
    type Record = PurchaseOrderRecord;
    const KIND: ReferenceKind = ReferenceKind::PurchaseOrders;

    async fn read(
        &mut self,
        erp: &dyn erp::ErpAdapter,
        changed_after: Option<OffsetDateTime>,
    ) -> Result<SourceRead<PurchaseOrderRecord>, Failure> {
        Ok(SourceRead::from_pages(read_pages(changed_after, |page| erp.read_purchase_orders(page)).await?))
    }

    async fn write(
        &mut self,
        _erp: &dyn erp::ErpAdapter,
        records: &[PurchaseOrderRecord],
        known: &HashMap<String, KnownRecord>,
    ) -> Result<Vec<Written>, WriteStop> {
        let mut outcomes = Vec::with_capacity(records.len());
        for order in records {
            let first = first_verb(known, &order.number);
            let outcome = self.concur.write_purchase_order(&self.token, order, &self.settings, first).await;
            outcomes.push(written(order.number.clone(), outcome, "Purchase Order v3")?);
        }
        Ok(outcomes)
    }

    /// Closes the order in Concur (read back, sent `Closed`); one Concur
    /// does not hold needs nothing.
    async fn deactivate(&mut self, key: &str, _known: Option<&KnownRecord>) -> Result<Option<String>, Failure> {
        let failed = |e: ConcurError| e.to_failure(&format!("closing purchase order `{key}` in Concur"));
        let Some(mut order) = self.concur.purchase_order(&self.token, key).await.map_err(failed)? else {
            return Ok(None);
        };
        if order.closed {
            return Ok(None);
        }
        order.closed = true;
        let update = self.concur.write_purchase_order(&self.token, &order, &self.settings, WriteVerb::Update);
        update.await.map_err(failed)
    }
}

pub(super) struct ReceiptTarget<'a> {
    concur: &'a ConcurClient,
    token: AccessToken,
}

impl<'a> ReceiptTarget<'a> {
    pub(super) fn new(concur: &'a ConcurClient, token: AccessToken) -> Self {
        Self { concur, token }
    }
}

impl SyncTarget for ReceiptTarget<'_> {
    type Record = PoReceiptRecord;
    const KIND: ReferenceKind = ReferenceKind::PoReceipts;

    async fn read(
        &mut self,
        erp: &dyn erp::ErpAdapter,
        changed_after: Option<OffsetDateTime>,
    ) -> Result<SourceRead<PoReceiptRecord>, Failure> {
        Ok(SourceRead::from_pages(read_pages(changed_after, |page| erp.read_po_receipts(page)).await?))
    }

    async fn write(
        &mut self,
        _erp: &dyn erp::ErpAdapter,
        records: &[PoReceiptRecord],
        known: &HashMap<String, KnownRecord>,
    ) -> Result<Vec<Written>, WriteStop> {
        let mut outcomes = Vec::with_capacity(records.len());
        for receipt in records {
            let key = domain::reference::SyncRecord::key(receipt);
            let outcome = self.concur.write_po_receipt(&self.token, receipt, first_verb(known, &key)).await;
            outcomes.push(written(key, outcome, "PO Receipt v3")?);
        }
        Ok(outcomes)
    }

    /// Deletes the receipt; Concur keeps one a payment request uses (the
    /// refusal says so).
    async fn deactivate(&mut self, key: &str, _known: Option<&KnownRecord>) -> Result<Option<String>, Failure> {
        let mut parts = key.split('\u{1f}');
        let (Some(order), Some(line), Some(receipt)) = (parts.next(), parts.next(), parts.next()) else {
            return Ok(None);
        };
        let deleted = self.concur.delete_po_receipt(&self.token, order, line, receipt).await;
        deleted
            .map_err(|e| e.to_failure(&format!("deleting receipt `{receipt}` of purchase order `{order}` in Concur")))
    }
}
