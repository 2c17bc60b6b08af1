//! [`IfsClient`] as an [`ErpAdapter`], and the fix the operator is told for
//! each of its errors.

use std::collections::BTreeSet;

use domain::reference::{
    DEFAULT_ADDRESS_CODE, ListItemRecord, ListSource, PoReceiptRecord, PurchaseOrderRecord, ReadPage, VendorFields,
    VendorLimits, VendorRecord,
};
use domain::{ConnectionId, ErpDocument, ErpDocumentKind, Failure, HeldVendorDocument};

use super::{IfsClient, IfsError, IfsPurchaseOrder};
use crate::adapter::fix_by_kind;
use crate::{
    Erp, ErpChecks, ErpProblem, ErpReference, ListItemsRead, MasterData, MasterDataError, MasterDataRead, VendorWritten,
};

pub(crate) const CHECKS: ErpChecks = ErpChecks {
    sign_in: "IFS Cloud token",
    read: "IFS Cloud read",
    read_needs: "needs a token",
    missing_credentials: "no ERP credentials are stored",
    credentials_file: "FILE",
    verdict_inbox: None,
    master_data_unsupported: None,
};

impl Erp for IfsClient {
    const CHECKS: ErpChecks = CHECKS;

    async fn sign_in(&self, connection: &ConnectionId) -> Result<String, ErpProblem> {
        self.authenticate().await.map_err(|e| problem(e, connection))?;
        Ok(format!("realm {} at {}", self.settings.namespace, self.settings.base_url))
    }

    async fn read_probe(&self, connection: &ConnectionId) -> Result<String, ErpProblem> {
        IfsClient::read_probe(self).await.map_err(|e| problem(e, connection))?;
        Ok(format!("company {}: {}", self.settings.company, self.settings.api.account_set))
    }

    async fn check(&self) -> Result<(), Failure> {
        let context = format!("checking IFS Cloud company {} at {}", self.company(), self.base());
        self.check_access().await.map_err(|e| e.to_failure(&context))
    }

    /// A complete supplier invoice whose `InvoiceNo` is the key (any
    /// supplier of this company), else a complete voucher carrying it.
    async fn find_by_external_key(&self, external_key: &str) -> Result<Option<ErpReference>, Failure> {
        let context = format!("looking up Concur key `{external_key}` in IFS Cloud company {}", self.company());
        let invoice = self.find_invoice(None, external_key).await.map_err(|e| e.to_failure(&context))?;
        if invoice.is_some() {
            return Ok(invoice);
        }
        self.find_voucher(external_key).await.map_err(|e| e.to_failure(&context))
    }

    async fn vendor_documents_for_key(&self, external_key: &str) -> Result<Option<Vec<HeldVendorDocument>>, Failure> {
        let context = format!(
            "listing the supplier invoices of Concur key `{external_key}` in IFS Cloud company {}",
            self.company()
        );
        self.invoices_by_number(external_key).await.map(Some).map_err(|e| e.to_failure(&context))
    }

    async fn post(&self, document: &ErpDocument) -> Result<ErpReference, Failure> {
        let context = format!(
            "posting the {} for Concur key `{}` in IFS Cloud company {}",
            document.label(),
            document.key,
            self.company()
        );
        let created = match &document.kind {
            ErpDocumentKind::Journal => match self.voucher_for(document) {
                Ok(voucher) => self.create_voucher(&voucher).await,
                Err(e) => Err(e),
            },
            _ => match self.invoice_for(document) {
                Ok(invoice) => self.create_invoice(&invoice).await,
                Err(e) => Err(e),
            },
        };
        created.map_err(|e| e.to_failure(&context))
    }

    async fn read_list_items(&self, source: &ListSource, list: &str) -> Result<ListItemsRead, Failure> {
        let ListSource::CodePart(letter) = source else {
            return Ok(ListItemsRead::NotOffered(format!(
                "IFS Cloud has no list source `{source}`: use code_part:B … code_part:J"
            )));
        };
        let context =
            format!("reading code part {letter} of IFS Cloud company {} for Concur list `{list}`", self.company());
        let values = self.code_part_values(*letter).await.map_err(|e| e.to_failure(&context))?;
        let today = time::OffsetDateTime::now_utc().date();
        let items = values
            .into_iter()
            .map(|v| ListItemRecord {
                list: list.to_owned(),
                active: v.valid_from.is_none_or(|from| from <= today)
                    && v.valid_until.is_none_or(|until| today <= until),
                value: v.description.filter(|d| !d.trim().is_empty()).unwrap_or_else(|| v.value.clone()),
                path: vec![v.value],
            })
            .collect();
        Ok(ListItemsRead::Items(items))
    }

    /// The supplier `vendor.vendor_code`, made a vendor of the company
    /// ([`IfsClient::write_supplier`]).
    async fn write_vendor(
        &self,
        vendor: &VendorRecord,
        fields: &VendorFields,
    ) -> Result<Option<VendorWritten>, Failure> {
        let context = format!(
            "writing vendor `{}` from Concur to IFS Cloud company {} as a supplier",
            vendor.vendor_code,
            self.company()
        );
        let write = self.write_supplier(vendor, fields);
        crate::vendor_write::answer(vendor, "IFS Cloud", write, |e| e.to_failure(&context)).await
    }

    async fn holds_purchase_order(&self, number: &str) -> Result<Option<bool>, Failure> {
        let context = format!("looking up Concur PO `{number}` in IFS Cloud company {}", self.company());
        self.holds_purchase_order(number).await.map(Some).map_err(|e| e.to_failure(&context))
    }

    async fn create_purchase_order(&self, order: &PurchaseOrderRecord) -> Result<ErpReference, Failure> {
        let context = format!("creating Concur PO `{}` in IFS Cloud company {}", order.number, self.company());
        let ifs_order = IfsPurchaseOrder::from_record(order)
            .map_err(|problem| Failure::permanent(format!("{context}: {problem}")))?;
        self.create_purchase_order(&ifs_order).await.map_err(|e| e.to_failure(&context))
    }

    async fn read_vendors(&self, page: ReadPage, limits: VendorLimits) -> Result<Option<Vec<VendorRecord>>, Failure> {
        let context = format!("reading the suppliers of IFS Cloud company {}", self.company());
        let records = self.vendors_page(page, DEFAULT_ADDRESS_CODE, limits).await;
        records.map(Some).map_err(|e| e.to_failure(&context))
    }

    /// The company's released orders, every read a full one (IFS has no
    /// filterable change time): see [`IfsClient::purchase_orders_page`].
    async fn read_purchase_orders(&self, page: ReadPage) -> Result<Option<Vec<PurchaseOrderRecord>>, Failure> {
        let context = format!("reading the purchase orders of IFS Cloud company {}", self.company());
        let records = self.purchase_orders_page(page, DEFAULT_ADDRESS_CODE).await;
        records.map(Some).map_err(|e| e.to_failure(&context))
    }

    /// The goods receipts of the company's orders, every read a full one:
    /// see [`IfsClient::po_receipts_page`].
    async fn read_po_receipts(&self, page: ReadPage) -> Result<Option<Vec<PoReceiptRecord>>, Failure> {
        let context = format!("reading the purchase receipts of IFS Cloud company {}", self.company());
        self.po_receipts_page(page).await.map(Some).map_err(|e| e.to_failure(&context))
    }

    fn master_data_label(&self, list: &MasterData) -> String {
        match list {
            MasterData::GlAccounts => "GL accounts".to_owned(),
            MasterData::Suppliers => format!("suppliers of company {}", self.settings.company),
            MasterData::Dimension(name) => match self.code_part_of(name) {
                Some(letter) => format!("dimension {name} (code part {letter})"),
                None => format!("dimension {name}"),
            },
        }
    }

    async fn read_master_data(&self, list: &MasterData) -> Result<MasterDataRead, MasterDataError> {
        let known: Result<BTreeSet<String>, IfsError> = match list {
            MasterData::GlAccounts => self.accounts().await.map(|a| a.into_iter().map(|a| a.account).collect()),
            MasterData::Suppliers => {
                self.suppliers().await.map(|s| s.into_iter().filter(|s| s.in_company).map(|s| s.id).collect())
            }
            MasterData::Dimension(name) => {
                let Some(letter) = self.code_part_of(name) else {
                    return Ok(MasterDataRead::NotUsed(
                        "IFS Cloud does not use it (name it cost_center or code_b…code_j)",
                    ));
                };
                self.code_part_values(letter).await.map(|v| v.into_iter().map(|v| v.value).collect())
            }
        };
        known.map(MasterDataRead::Known).map_err(|e| MasterDataError::Erp { erp: "IFS Cloud", source: e.into() })
    }
}

impl IfsClient {
    /// The code part a mapping's dimension goes to: `cost_center` → the
    /// settings' cost-center code part, `code_b`…`code_j` → that letter.
    fn code_part_of(&self, dimension: &str) -> Option<char> {
        match dimension {
            "cost_center" => self.settings.api.cost_center_code_part.chars().next(),
            other => other.strip_prefix("code_").and_then(|l| l.chars().next()).filter(|_| other.len() == 6),
        }
    }
}

fn problem(error: IfsError, connection: &ConnectionId) -> ErpProblem {
    let fix = fix(&error, connection);
    ErpProblem::new(error, fix)
}

/// Which command fixes an IFS Cloud failure.
pub(crate) fn fix(e: &IfsError, id: &ConnectionId) -> String {
    fix_by_kind(
        &e.to_failure(""),
        || {
            format!(
                "check the IAM client in IFS (confidential, service account enabled), then {}",
                CHECKS.store_again(id)
            )
        },
        || {
            format!(
                "check the URL, namespace, company and the service user's permission sets; \
                 `connector connections update {id} …`"
            )
        },
    )
}
