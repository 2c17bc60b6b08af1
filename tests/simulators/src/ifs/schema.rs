//! The projections, entity sets, entity types and attributes the simulator
//! serves (names from `shared/reference/erp/ifs-cloud.md`; the finance and
//! procurement ones are **[DEFAULT]** there and here).
//!
//! Attribute flags follow IFS's insert/update rules: a *key* identifies the
//! row; an *assigned* attribute is numbered by the server and cannot be sent
//! on insert (`InvoiceId`, `VoucherNo`, `RowNo`); a *read-only* one is never
//! sent (`Objstate`); a *no-update* one may be inserted but not changed.

/// An enumeration (`IfsApp.{Projection}.{name}'Value'` in URLs).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EnumDef {
    pub name: &'static str,
    pub values: &'static [&'static str],
}

/// Attribute type as declared in `$metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// `Edm.String`
    Str,
    /// `Edm.Int32` (never stringified by `IEEE754Compatible`).
    Int,
    /// `Edm.Decimal` (a JSON string with `IEEE754Compatible=true`).
    Dec,
    /// `Edm.Boolean`
    Bool,
    /// `Edm.Date`, `2024-03-15`
    Date,
    /// An IFS enumeration, `"Value"` in bodies.
    Enum(&'static EnumDef),
}

impl Ty {
    pub(crate) fn edm(self) -> String {
        match self {
            Ty::Str => "Edm.String".into(),
            Ty::Int => "Edm.Int32".into(),
            Ty::Dec => "Edm.Decimal".into(),
            Ty::Bool => "Edm.Boolean".into(),
            Ty::Date => "Edm.Date".into(),
            Ty::Enum(e) => e.name.to_owned(),
        }
    }
}

/// One attribute of an entity type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr {
    pub name: &'static str,
    pub ty: Ty,
    pub key: bool,
    /// Must be given (or defaulted) on insert.
    pub required: bool,
    /// Numbered by the server; not insertable.
    pub assigned: bool,
    /// Neither insertable nor updatable (`Objstate`).
    pub read_only: bool,
    /// Insertable but not updatable.
    pub no_update: bool,
}

impl Attr {
    const fn new(name: &'static str, ty: Ty) -> Attr {
        Attr { name, ty, key: false, required: false, assigned: false, read_only: false, no_update: false }
    }
    const fn key(mut self) -> Attr {
        self.key = true;
        self.required = true;
        self.no_update = true;
        self
    }
    const fn required(mut self) -> Attr {
        self.required = true;
        self
    }
    const fn assigned(mut self) -> Attr {
        self.assigned = true;
        self.required = false;
        self
    }
    const fn read_only(mut self) -> Attr {
        self.read_only = true;
        self
    }
    const fn no_update(mut self) -> Attr {
        self.no_update = true;
        self
    }

    /// May a client send this attribute on insert?
    pub(crate) fn insertable(&self) -> bool {
        !self.assigned && !self.read_only
    }

    /// May a client change this attribute on update?
    pub(crate) fn updatable(&self) -> bool {
        !self.assigned && !self.read_only && !self.no_update
    }
}

const fn s(name: &'static str) -> Attr {
    Attr::new(name, Ty::Str)
}
const fn int(name: &'static str) -> Attr {
    Attr::new(name, Ty::Int)
}
const fn dec(name: &'static str) -> Attr {
    Attr::new(name, Ty::Dec)
}
const fn boolean(name: &'static str) -> Attr {
    Attr::new(name, Ty::Bool)
}
const fn date(name: &'static str) -> Attr {
    Attr::new(name, Ty::Date)
}
const fn enumeration(name: &'static str, e: &'static EnumDef) -> Attr {
    Attr::new(name, Ty::Enum(e))
}
const fn objstate(e: &'static EnumDef) -> Attr {
    Attr::new("Objstate", Ty::Enum(e)).read_only()
}

/// A navigation to child rows. The child's key includes every key
/// attribute of the parent under the same name (how IFS keys its children).
#[derive(Debug)]
pub(crate) struct Nav {
    pub name: &'static str,
    pub target: &'static EntityType,
}

/// An entity type (one IFS logical unit as a projection exposes it).
#[derive(Debug)]
pub(crate) struct EntityType {
    /// CSDL type name (`IfsApp.{Projection}.{name}`).
    pub name: &'static str,
    /// `luname` in every entity.
    pub luname: &'static str,
    pub attrs: &'static [Attr],
    /// Key attributes in URL order.
    pub keys: &'static [&'static str],
    pub navigations: &'static [Nav],
    /// false = read-only set: POST/PATCH/DELETE answer 405.
    pub writable: bool,
}

impl EntityType {
    pub(crate) fn attr(&self, name: &str) -> Option<&'static Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    pub(crate) fn nav(&self, name: &str) -> Option<&'static Nav> {
        self.navigations.iter().find(|n| n.name == name)
    }

    /// Every finance/procurement row carries `Company`.
    pub(crate) fn has_company(&self) -> bool {
        self.attr("Company").is_some()
    }

    /// The `Objstate` enumeration, for types with a state machine.
    pub(crate) fn state(&self) -> Option<&'static EnumDef> {
        match self.attr("Objstate")?.ty {
            Ty::Enum(e) => Some(e),
            _ => None,
        }
    }
}

/// A projection (`{name}.svc`) and its entity sets.
#[derive(Debug)]
pub(crate) struct Projection {
    pub name: &'static str,
    pub sets: &'static [(&'static str, &'static EntityType)],
}

impl Projection {
    pub(crate) fn set(&self, name: &str) -> Option<&'static EntityType> {
        self.sets.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// `IfsApp.{Projection}` (the `$metadata` namespace and enum literal prefix).
    pub(crate) fn namespace(&self) -> String {
        format!("IfsApp.{}", self.name)
    }
}

// ---- enumerations -------------------------------------------------------

pub(crate) static PARTY_TYPE: EnumDef = EnumDef {
    name: "PartyType",
    values: &["Supplier", "Customer", "Company", "Employee", "Manufacturer", "Owner", "Forwarder"],
};
/// Logical account type ([DEFAULT] enumeration name).
pub(crate) static ACCOUNT_TYPE_VALUE: EnumDef =
    EnumDef { name: "AccountTypeValue", values: &["Asset", "Liability", "Cost", "Revenue", "Stat"] };
pub(crate) static MAN_SUPP_INVOICE_STATE: EnumDef = EnumDef {
    name: "ManSuppInvoiceState",
    values: &["Preliminary", "PartlyApproved", "Authorized", "Posted", "PartlyPaid", "Paid", "Cancelled"],
};
pub(crate) static VOUCHER_STATE: EnumDef =
    EnumDef { name: "VoucherState", values: &["Confirmed", "AwaitingApproval", "Approved", "Cancelled", "Posted"] };
pub(crate) static PURCHASE_ORDER_STATE: EnumDef = EnumDef {
    name: "PurchaseOrderState",
    values: &["Planned", "Released", "Confirmed", "Arrived", "Received", "Stopped", "Closed", "Cancelled"],
};
pub(crate) static PURCHASE_ORDER_LINE_STATE: EnumDef = EnumDef {
    name: "PurchaseOrderLinePartState",
    values: &["Planned", "Released", "Confirmed", "Arrived", "Received", "Stopped", "Closed", "Cancelled"],
};
/// [DEFAULT] states of a goods receipt (`PURCHASE_RECEIPT_TAB.ROWSTATE`).
pub(crate) static PURCHASE_RECEIPT_STATE: EnumDef =
    EnumDef { name: "PurchaseReceiptState", values: &["Arrived", "Received", "Returned", "Cancelled"] };

// ---- SupplierHandling.svc -----------------------------------------------

pub(crate) static SUPPLIER_INVOICE_COMPANY: EntityType = EntityType {
    name: "IdentityInvoiceInfo",
    luname: "IdentityInvoiceInfo",
    attrs: &[
        s("SupplierId").key(),
        s("Company").key(),
        s("Currency"),
        s("PayTermId"),
        s("SupplierGroup"),
        enumeration("PartyType", &PARTY_TYPE),
    ],
    keys: &["SupplierId", "Company"],
    navigations: &[],
    writable: true,
};

/// A supplier address (reference §5a: keys `SupplierId`, `AddressId`, the
/// latter chosen by the client). `Country` defaults to the supplier's.
pub(crate) static SUPPLIER_ADDRESS: EntityType = EntityType {
    name: "SupplierInfoAddress",
    luname: "SupplierInfoAddress",
    attrs: &[
        s("SupplierId").key(),
        s("AddressId").key(),
        s("Address1"),
        s("Address2"),
        s("City"),
        s("State"),
        s("ZipCode"),
        s("Country").required(),
        enumeration("PartyType", &PARTY_TYPE),
        boolean("DefaultDomain"),
    ],
    keys: &["SupplierId", "AddressId"],
    navigations: &[],
    writable: true,
};

pub(crate) static SUPPLIER: EntityType = EntityType {
    name: "SupplierInfoGeneral",
    luname: "SupplierInfoGeneral",
    attrs: &[
        s("SupplierId").key(),
        s("Name").required(),
        s("Country"),
        s("DefaultLanguage"),
        enumeration("PartyType", &PARTY_TYPE),
        s("AssociationNo"),
        s("CorporateForm"),
        date("CreationDate"),
        boolean("DefaultDomain"),
        s("SupplierCategory"),
        boolean("OneTime"),
        boolean("B2bSupplier"),
        s("Cf_Concur_Id"),
    ],
    keys: &["SupplierId"],
    navigations: &[
        Nav { name: "SupplierInvoiceCompanies", target: &SUPPLIER_INVOICE_COMPANY },
        Nav { name: "SupplierInfoAddresses", target: &SUPPLIER_ADDRESS },
    ],
    writable: true,
};

// ---- ManualSupplierInvoiceHandling.svc ------------------------------------

pub(crate) static MAN_SUPP_INVOICE_POSTING: EntityType = EntityType {
    name: "ManSuppInvoicePosting",
    luname: "ManSuppInvoicePosting",
    attrs: &[
        s("Company").key(),
        int("InvoiceId").key(),
        int("RowNo").key().assigned(),
        s("CodeA").required(),
        s("CodeB"),
        s("CodeC"),
        s("CodeD"),
        s("CodeE"),
        s("CodeF"),
        s("CodeG"),
        s("CodeH"),
        s("CodeI"),
        s("CodeJ"),
        dec("CurrAmount").required(),
        s("Text"),
        s("VatCode"),
        dec("Quantity"),
        s("ProcessCode"),
    ],
    keys: &["Company", "InvoiceId", "RowNo"],
    navigations: &[],
    writable: true,
};

pub(crate) static MAN_SUPP_INVOICE: EntityType = EntityType {
    name: "ManSuppInvoice",
    luname: "ManSuppInvoice",
    attrs: &[
        s("Company").key(),
        int("InvoiceId").key().assigned(),
        s("Identity").required().no_update(),
        enumeration("PartyType", &PARTY_TYPE).no_update(),
        s("InvoiceNo").required(),
        s("SeriesId"),
        date("InvoiceDate").required(),
        date("DueDate"),
        date("ArrivalDate"),
        s("Currency"),
        dec("CurrRate"),
        dec("NetCurrAmount"),
        dec("VatCurrAmount"),
        dec("GrossCurrAmount").required(),
        s("PayTermId"),
        s("VoucherType"),
        date("VoucherDate"),
        s("OurReference"),
        s("YourReference"),
        s("Description"),
        s("Text"),
        s("Cf_Concur_Id"),
        objstate(&MAN_SUPP_INVOICE_STATE),
    ],
    keys: &["Company", "InvoiceId"],
    navigations: &[Nav { name: "ManSuppInvoicePostings", target: &MAN_SUPP_INVOICE_POSTING }],
    writable: true,
};

// ---- VoucherEntryHandling.svc -------------------------------------------

pub(crate) static VOUCHER_ROW: EntityType = EntityType {
    name: "VoucherRow",
    luname: "VoucherRow",
    attrs: &[
        s("Company").key(),
        int("AccountingYear").key(),
        s("VoucherType").key(),
        int("VoucherNo").key(),
        int("RowNo").key().assigned(),
        s("CodeA").required(),
        s("CodeB"),
        s("CodeC"),
        s("CodeD"),
        s("CodeE"),
        s("CodeF"),
        s("CodeG"),
        s("CodeH"),
        s("CodeI"),
        s("CodeJ"),
        s("CurrencyCode"),
        dec("CurrencyRate"),
        dec("CurrencyDebitAmount"),
        dec("CurrencyCreditAmount"),
        dec("DebitAmount"),
        dec("CreditAmount"),
        s("Text"),
        s("ReferenceNumber"),
        s("ReferenceSerie"),
        s("TransCode"),
    ],
    keys: &["Company", "AccountingYear", "VoucherType", "VoucherNo", "RowNo"],
    navigations: &[],
    writable: true,
};

pub(crate) static VOUCHER: EntityType = EntityType {
    name: "Voucher",
    luname: "Voucher",
    attrs: &[
        s("Company").key(),
        int("AccountingYear").key(),
        s("VoucherType").key(),
        int("VoucherNo").key().assigned(),
        date("VoucherDate").required(),
        s("UserGroup"),
        s("Text"),
        s("Cf_Concur_Id"),
        objstate(&VOUCHER_STATE),
    ],
    keys: &["Company", "AccountingYear", "VoucherType", "VoucherNo"],
    navigations: &[Nav { name: "VoucherRowArray", target: &VOUCHER_ROW }],
    writable: true,
};

// ---- AccountsHandling.svc / CodePartValuesHandling.svc ---------------------

pub(crate) static ACCOUNT: EntityType = EntityType {
    name: "Account",
    luname: "Account",
    attrs: &[
        s("Company").key(),
        s("Account").key(),
        s("Description"),
        s("AccountGroup"),
        s("AccntType"),
        enumeration("LogicalAccountType", &ACCOUNT_TYPE_VALUE),
        date("ValidFrom"),
        date("ValidUntil"),
        s("Currency"),
        boolean("BlockedForDirectPosting"),
    ],
    keys: &["Company", "Account"],
    navigations: &[],
    writable: false,
};

pub(crate) static CODE_PART_VALUE: EntityType = EntityType {
    name: "CodePartValue",
    luname: "AccountingCodePartValue",
    attrs: &[
        s("Company").key(),
        s("CodePart").key(),
        s("CodeValue").key(),
        s("Description"),
        date("ValidFrom"),
        date("ValidUntil"),
    ],
    keys: &["Company", "CodePart", "CodeValue"],
    navigations: &[],
    writable: false,
};

pub(crate) static CODE_PART: EntityType = EntityType {
    name: "CodePart",
    luname: "AccountingCodeParts",
    attrs: &[s("Company").key(), s("CodePart").key(), s("CodeName"), boolean("CodePartUsed")],
    keys: &["Company", "CodePart"],
    navigations: &[],
    writable: false,
};

// ---- PurchaseOrderHandling.svc ([DEFAULT]) --------------------------------

pub(crate) static PURCHASE_ORDER_LINE: EntityType = EntityType {
    name: "PurchaseOrderLinePart",
    luname: "PurchaseOrderLinePart",
    attrs: &[
        s("OrderNo").key(),
        s("LineNo").key(),
        s("ReleaseNo").key(),
        s("PartNo").no_update(),
        s("Description"),
        dec("BuyQtyDue").required(),
        s("BuyUnitMeas"),
        dec("FbuyUnitPrice"),
        dec("BuyUnitPrice"),
        s("CodeA"),
        date("WantedDeliveryDate"),
        objstate(&PURCHASE_ORDER_LINE_STATE),
    ],
    keys: &["OrderNo", "LineNo", "ReleaseNo"],
    navigations: &[],
    writable: true,
};

pub(crate) static PURCHASE_ORDER: EntityType = EntityType {
    name: "PurchaseOrder",
    luname: "PurchaseOrder",
    attrs: &[
        s("OrderNo").key(),
        s("Company").required().no_update(),
        s("VendorNo").required().no_update(),
        s("Contract"),
        s("CurrencyCode"),
        date("OrderDate"),
        s("BuyerCode"),
        s("Cf_Concur_Po"),
        s("Cf_Concur_Status"),
        objstate(&PURCHASE_ORDER_STATE),
    ],
    keys: &["OrderNo"],
    navigations: &[Nav { name: "PurchaseOrderLineArray", target: &PURCHASE_ORDER_LINE }],
    writable: true,
};

// ---- PurchaseReceiptHandling.svc ([DEFAULT]: the reference found no set) ----

/// A goods receipt of a purchase order line (`PURCHASE_RECEIPT_TAB`'s
/// columns as OData names them), with the order's `Company`; read-only
/// (receipts are entered in IFS).
pub(crate) static PURCHASE_RECEIPT: EntityType = EntityType {
    name: "PurchaseReceipt",
    luname: "PurchaseReceipt",
    attrs: &[
        s("OrderNo").key(),
        s("LineNo").key(),
        s("ReleaseNo").key(),
        int("ReceiptNo").key(),
        s("Company").required(),
        date("ArrivalDate").required(),
        dec("QtyArrived").required(),
        dec("QtyInvoiced"),
        objstate(&PURCHASE_RECEIPT_STATE),
    ],
    keys: &["OrderNo", "LineNo", "ReleaseNo", "ReceiptNo"],
    navigations: &[],
    writable: false,
};

// ---- the catalogue -----------------------------------------------------------

pub(crate) static PROJECTIONS: &[Projection] = &[
    Projection { name: "SupplierHandling", sets: &[("SupplierInfoGeneralSet", &SUPPLIER)] },
    Projection { name: "ManualSupplierInvoiceHandling", sets: &[("ManSuppInvoiceSet", &MAN_SUPP_INVOICE)] },
    Projection { name: "VoucherEntryHandling", sets: &[("VoucherSet", &VOUCHER)] },
    Projection { name: "AccountsHandling", sets: &[("AccountSet", &ACCOUNT)] },
    Projection {
        name: "CodePartValuesHandling",
        sets: &[("CodePartValueSet", &CODE_PART_VALUE), ("CodePartSet", &CODE_PART)],
    },
    Projection { name: "PurchaseOrderHandling", sets: &[("PurchaseOrderSet", &PURCHASE_ORDER)] },
    Projection { name: "PurchaseReceiptHandling", sets: &[("PurchaseReceiptSet", &PURCHASE_RECEIPT)] },
];

pub(crate) fn projection(name: &str) -> Option<&'static Projection> {
    PROJECTIONS.iter().find(|p| p.name == name)
}

/// `InvoiceId` → `INVOICE_ID` (the `keyref` spelling).
pub(crate) fn db_name(attr: &str) -> String {
    let mut out = String::new();
    for (i, c) in attr.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_types() -> Vec<&'static EntityType> {
        let mut out = Vec::new();
        for p in PROJECTIONS {
            for (_, t) in p.sets {
                out.push(*t);
                out.extend(t.navigations.iter().map(|n| n.target));
            }
        }
        out
    }

    #[test]
    fn keys_are_attributes_and_children_carry_the_parent_keys() {
        for t in all_types() {
            for k in t.keys {
                assert!(t.attr(k).is_some_and(|a| a.key), "{}.{k}", t.name);
            }
            assert_eq!(t.attrs.iter().filter(|a| a.key).count(), t.keys.len(), "{}", t.name);
            for nav in t.navigations {
                for k in t.keys {
                    assert!(nav.target.attr(k).is_some_and(|a| a.key), "{} child {} lacks {k}", t.name, nav.name);
                }
            }
        }
    }

    #[test]
    fn keyref_names_are_upper_snake() {
        assert_eq!(db_name("InvoiceId"), "INVOICE_ID");
        assert_eq!(db_name("Company"), "COMPANY");
        assert_eq!(db_name("AccountingYear"), "ACCOUNTING_YEAR");
    }
}
