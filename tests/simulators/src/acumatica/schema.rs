//! The contract of the simulated `Default` endpoint: entities, their fields,
//! value types, keys, linked/detail entities and custom-field views.
//!
//! Only the fields listed here are accepted in request bodies, `$select`,
//! `$filter` and `$expand`; everything else is rejected, which is how the
//! simulator catches field-name typos a lenient server would swallow.

/// Value type of a contract field (`StringValue`, `DecimalValue`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Str,
    Dec,
    Int,
    Bool,
    Date,
}

impl Ty {
    /// The contract model type name, as Json.NET names it in binding errors.
    pub(crate) fn model_name(self) -> &'static str {
        match self {
            Ty::Str => "PX.Api.ContractBased.Models.StringValue",
            Ty::Dec => "PX.Api.ContractBased.Models.DecimalValue",
            Ty::Int => "PX.Api.ContractBased.Models.IntValue",
            Ty::Bool => "PX.Api.ContractBased.Models.BooleanValue",
            Ty::Date => "PX.Api.ContractBased.Models.DateTimeValue",
        }
    }

    /// The OData type name used in `$filter` type errors.
    pub(crate) fn edm_name(self) -> &'static str {
        match self {
            Ty::Str => "Edm.String",
            Ty::Dec => "Edm.Decimal",
            Ty::Int => "Edm.Int32",
            Ty::Bool => "Edm.Boolean",
            Ty::Date => "Edm.DateTimeOffset",
        }
    }
}

/// One field of an entity.
#[derive(Debug)]
pub(crate) struct FieldDef {
    pub name: &'static str,
    pub ty: Ty,
    /// Read-only fields are returned but values sent for them are ignored
    /// (the screen field is disabled; the contract API skips it silently).
    pub read_only: bool,
}

const fn f(name: &'static str, ty: Ty) -> FieldDef {
    FieldDef { name, ty, read_only: false }
}

const fn ro(name: &'static str, ty: Ty) -> FieldDef {
    FieldDef { name, ty, read_only: true }
}

/// Shape of an entity (top-level, detail line or linked object).
#[derive(Debug)]
pub(crate) struct Schema {
    /// Contract type name (used in binding error messages).
    pub name: &'static str,
    pub fields: &'static [FieldDef],
    /// Single linked sub-entities (`MainContact`), returned only when expanded.
    pub linked: &'static [(&'static str, &'static Schema)],
    /// Detail collections (`Details`), returned only when expanded.
    pub collections: &'static [(&'static str, &'static Schema)],
    /// Data views whose non-contract fields may travel under `custom`.
    pub custom_views: &'static [&'static str],
}

impl Schema {
    pub(crate) fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub(crate) fn linked(&self, name: &str) -> Option<&'static Schema> {
        self.linked.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    pub(crate) fn collection(&self, name: &str) -> Option<&'static Schema> {
        self.collections.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}

/// The simulated top-level entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Bill,
    Journal,
    Vendor,
    Account,
    Subaccount,
    PurchaseOrder,
    PurchaseReceipt,
    Project,
    ProjectTask,
}

/// A top-level entity of the endpoint.
#[derive(Debug)]
pub(crate) struct EntityDef {
    pub kind: Kind,
    /// Name in the URL (`/entity/Default/24.200.001/{name}`).
    pub name: &'static str,
    pub schema: &'static Schema,
    /// Key fields in URL order.
    pub keys: &'static [&'static str],
    /// Seeded by the test (see [`super::purchasing`], [`super::project`])
    /// and read through the API, never written: PUT, DELETE and actions
    /// answer 501.
    pub seeded_only: bool,
    /// The key the server numbers itself; a create must not supply it.
    pub auto_key: Option<&'static str>,
    /// Default for the first key when a body omits it (`Type` = `Bill`).
    pub first_key_default: Option<&'static str>,
    /// Display name of the primary DAC in "Inserting 'X' record..." errors.
    pub dac: &'static str,
    pub actions: &'static [&'static str],
}

static ADDRESS: Schema = Schema {
    name: "Address",
    fields: &[
        f("AddressLine1", Ty::Str),
        f("AddressLine2", Ty::Str),
        f("City", Ty::Str),
        f("State", Ty::Str),
        f("PostalCode", Ty::Str),
        f("Country", Ty::Str),
    ],
    linked: &[],
    collections: &[],
    custom_views: &[],
};

static CONTACT: Schema = Schema {
    name: "Contact",
    fields: &[
        f("Attention", Ty::Str),
        f("CompanyName", Ty::Str),
        f("DisplayName", Ty::Str),
        f("Email", Ty::Str),
        f("Fax", Ty::Str),
        f("FirstName", Ty::Str),
        f("LastName", Ty::Str),
        f("MiddleName", Ty::Str),
        f("Phone1", Ty::Str),
        f("Phone2", Ty::Str),
        f("WebSite", Ty::Str),
    ],
    linked: &[("Address", &ADDRESS)],
    collections: &[],
    custom_views: &[],
};

static ATTRIBUTE: Schema = Schema {
    name: "AttributeValue",
    fields: &[f("AttributeID", Ty::Str), f("Value", Ty::Str)],
    linked: &[],
    collections: &[],
    custom_views: &[],
};

static BILL_DETAIL: Schema = Schema {
    name: "BillDetail",
    fields: &[
        f("Branch", Ty::Str),
        f("InventoryID", Ty::Str),
        f("TransactionDescription", Ty::Str),
        f("Qty", Ty::Dec),
        f("UOM", Ty::Str),
        f("UnitCost", Ty::Dec),
        f("ExtendedCost", Ty::Dec),
        f("Amount", Ty::Dec),
        f("Account", Ty::Str),
        f("Subaccount", Ty::Str),
        f("Project", Ty::Str),
        f("ProjectTask", Ty::Str),
        f("CostCode", Ty::Str),
        f("TaxCategory", Ty::Str),
        f("NonBillable", Ty::Bool),
        f("Description", Ty::Str),
    ],
    linked: &[],
    collections: &[],
    custom_views: &["Transactions"],
};

static BILL: Schema = Schema {
    name: "Bill",
    fields: &[
        f("Type", Ty::Str),
        f("ReferenceNbr", Ty::Str),
        f("Vendor", Ty::Str),
        f("LocationID", Ty::Str),
        f("VendorRef", Ty::Str),
        f("Date", Ty::Date),
        f("DueDate", Ty::Date),
        f("PostPeriod", Ty::Str),
        f("Description", Ty::Str),
        f("CurrencyID", Ty::Str),
        f("Terms", Ty::Str),
        f("BranchID", Ty::Str),
        f("Hold", Ty::Bool),
        f("Amount", Ty::Dec),
        ro("Balance", Ty::Dec),
        ro("TaxTotal", Ty::Dec),
        ro("Status", Ty::Str),
        f("ApprovedForPayment", Ty::Bool),
        f("CashAccount", Ty::Str),
        f("Project", Ty::Str),
        ro("IsTaxValid", Ty::Bool),
        ro("CreatedDateTime", Ty::Date),
        ro("LastModifiedDateTime", Ty::Date),
    ],
    linked: &[],
    collections: &[("Details", &BILL_DETAIL)],
    custom_views: &["Document"],
};

static JOURNAL_DETAIL: Schema = Schema {
    name: "JournalTransactionDetail",
    fields: &[
        f("BranchID", Ty::Str),
        f("Account", Ty::Str),
        f("Subaccount", Ty::Str),
        f("DebitAmount", Ty::Dec),
        f("CreditAmount", Ty::Dec),
        f("TransactionDescription", Ty::Str),
        f("Description", Ty::Str),
        f("ReferenceNbr", Ty::Str),
        f("VendorOrCustomer", Ty::Str),
        f("Qty", Ty::Dec),
        f("UOM", Ty::Str),
        f("Project", Ty::Str),
        f("ProjectTask", Ty::Str),
        f("CostCode", Ty::Str),
        f("NonBillable", Ty::Bool),
        f("IsNonPM", Ty::Bool),
        ro("LineNbr", Ty::Int),
        ro("ProjectTransactionID", Ty::Int),
    ],
    linked: &[],
    collections: &[],
    custom_views: &["GLTranModuleBatNbr"],
};

static JOURNAL: Schema = Schema {
    name: "JournalTransaction",
    fields: &[
        f("Module", Ty::Str),
        f("BatchNbr", Ty::Str),
        f("TransactionDate", Ty::Date),
        f("PostPeriod", Ty::Str),
        f("LedgerID", Ty::Str),
        f("BranchID", Ty::Str),
        f("CurrencyID", Ty::Str),
        f("Description", Ty::Str),
        f("Hold", Ty::Bool),
        ro("Status", Ty::Str),
        ro("CreatedDateTime", Ty::Date),
        ro("LastModifiedDateTime", Ty::Date),
    ],
    linked: &[],
    collections: &[("Details", &JOURNAL_DETAIL)],
    custom_views: &["BatchModule"],
};

static VENDOR: Schema = Schema {
    name: "Vendor",
    fields: &[
        f("VendorID", Ty::Str),
        f("VendorName", Ty::Str),
        f("LegalName", Ty::Str),
        f("VendorClass", Ty::Str),
        f("Status", Ty::Str),
        f("CurrencyID", Ty::Str),
        f("Terms", Ty::Str),
        f("TaxZone", Ty::Str),
        f("TaxRegistrationID", Ty::Str),
        f("PaymentMethod", Ty::Str),
        f("CashAccount", Ty::Str),
        f("APAccount", Ty::Str),
        f("APSubaccount", Ty::Str),
        f("AccountRef", Ty::Str),
        f("ParentAccount", Ty::Str),
        f("F1099Vendor", Ty::Bool),
        f("F1099Box", Ty::Str),
        f("LocationName", Ty::Str),
        ro("CreatedDateTime", Ty::Date),
        ro("LastModifiedDateTime", Ty::Date),
    ],
    linked: &[
        ("MainContact", &CONTACT),
        ("PrimaryContact", &CONTACT),
        ("RemittanceContact", &CONTACT),
        ("ShippingContact", &CONTACT),
    ],
    collections: &[("Attributes", &ATTRIBUTE)],
    custom_views: &["BAccount", "CurrentVendor"],
};

static ACCOUNT: Schema = Schema {
    name: "Account",
    fields: &[
        f("AccountCD", Ty::Str),
        ro("AccountID", Ty::Int),
        f("Description", Ty::Str),
        f("Type", Ty::Str),
        f("AccountClass", Ty::Str),
        f("AccountGroup", Ty::Str),
        f("Active", Ty::Bool),
        f("CashAccount", Ty::Bool),
        f("CurrencyID", Ty::Str),
        f("PostOption", Ty::Str),
        f("RequireUnits", Ty::Bool),
        f("Secured", Ty::Bool),
        f("TaxCategory", Ty::Str),
        f("UseDefaultSubaccount", Ty::Bool),
        f("ChartOfAccountsOrder", Ty::Int),
        f("ConsolidationAccount", Ty::Str),
        f("RevaluationRateType", Ty::Str),
        ro("CreatedDateTime", Ty::Date),
        ro("LastModifiedDateTime", Ty::Date),
    ],
    linked: &[],
    collections: &[],
    custom_views: &["AccountRecords"],
};

static SUBACCOUNT: Schema = Schema {
    name: "Subaccount",
    fields: &[
        f("SubaccountCD", Ty::Str),
        ro("SubaccountID", Ty::Int),
        f("Description", Ty::Str),
        f("Active", Ty::Bool),
        f("Secured", Ty::Bool),
        ro("LastModifiedDateTime", Ty::Date),
    ],
    linked: &[],
    collections: &[],
    custom_views: &["SubRecords"],
};

static PURCHASE_ORDER_DETAIL: Schema = Schema {
    name: "PurchaseOrderDetail",
    fields: &[
        ro("LineNbr", Ty::Int),
        f("LineType", Ty::Str),
        f("InventoryID", Ty::Str),
        f("LineDescription", Ty::Str),
        f("OrderQty", Ty::Dec),
        f("UOM", Ty::Str),
        f("UnitCost", Ty::Dec),
        ro("ExtendedCost", Ty::Dec),
        f("Account", Ty::Str),
        f("Subaccount", Ty::Str),
        // The trap of the contract: the *expense account's* description,
        // not the line's (that is `LineDescription`).
        ro("Description", Ty::Str),
        f("Branch", Ty::Str),
        f("Project", Ty::Str),
        f("ProjectTask", Ty::Str),
        f("CostCode", Ty::Str),
        ro("QtyOnReceipts", Ty::Dec),
        ro("ReceivedAmount", Ty::Dec),
        f("Completed", Ty::Bool),
        f("Cancelled", Ty::Bool),
    ],
    linked: &[],
    collections: &[],
    custom_views: &["Transactions"],
};

static PURCHASE_ORDER: Schema = Schema {
    name: "PurchaseOrder",
    fields: &[
        f("Type", Ty::Str),
        f("OrderNbr", Ty::Str),
        f("VendorID", Ty::Str),
        f("Location", Ty::Str),
        f("CurrencyID", Ty::Str),
        f("Date", Ty::Date),
        f("Description", Ty::Str),
        f("Terms", Ty::Str),
        ro("Status", Ty::Str),
        f("Hold", Ty::Bool),
        f("Branch", Ty::Str),
        f("VendorRef", Ty::Str),
        ro("OrderTotal", Ty::Dec),
        ro("TaxTotal", Ty::Dec),
        ro("CreatedDateTime", Ty::Date),
        ro("LastModifiedDateTime", Ty::Date),
    ],
    linked: &[],
    collections: &[("Details", &PURCHASE_ORDER_DETAIL)],
    custom_views: &["Document"],
};

static PURCHASE_RECEIPT_DETAIL: Schema = Schema {
    name: "PurchaseReceiptDetail",
    fields: &[
        ro("LineNbr", Ty::Int),
        f("POOrderType", Ty::Str),
        f("POOrderNbr", Ty::Str),
        f("POLineNbr", Ty::Int),
        f("InventoryID", Ty::Str),
        f("TransactionDescription", Ty::Str),
        f("ReceiptQty", Ty::Dec),
        f("UOM", Ty::Str),
        f("Branch", Ty::Str),
        f("Warehouse", Ty::Str),
        f("Location", Ty::Str),
    ],
    linked: &[],
    collections: &[],
    custom_views: &["transactions"],
};

static PURCHASE_RECEIPT: Schema = Schema {
    name: "PurchaseReceipt",
    fields: &[
        f("Type", Ty::Str),
        f("ReceiptNbr", Ty::Str),
        ro("Status", Ty::Str),
        f("Date", Ty::Date),
        f("VendorID", Ty::Str),
        f("Location", Ty::Str),
        f("CurrencyID", Ty::Str),
        f("Hold", Ty::Bool),
        f("Branch", Ty::Str),
        f("PostPeriod", Ty::Str),
        ro("TotalQty", Ty::Dec),
        ro("CreatedDateTime", Ty::Date),
        ro("LastModifiedDateTime", Ty::Date),
    ],
    linked: &[],
    collections: &[("Details", &PURCHASE_RECEIPT_DETAIL)],
    custom_views: &["Document"],
};

static PROJECT: Schema = Schema {
    name: "Project",
    fields: &[
        f("ProjectID", Ty::Str),
        f("Description", Ty::Str),
        ro("Status", Ty::Str),
        f("Hold", Ty::Bool),
        f("Customer", Ty::Str),
        f("ProjectTemplateID", Ty::Str),
        f("ExternalRefNbr", Ty::Str),
        f("StartDate", Ty::Date),
        f("EndDate", Ty::Date),
        ro("CreatedDateTime", Ty::Date),
        ro("LastModifiedDateTime", Ty::Date),
    ],
    linked: &[],
    collections: &[],
    custom_views: &["Project"],
};

static PROJECT_TASK: Schema = Schema {
    name: "ProjectTask",
    fields: &[
        f("ProjectID", Ty::Str),
        f("ProjectTaskID", Ty::Str),
        f("Description", Ty::Str),
        ro("Status", Ty::Str),
        f("Type", Ty::Str),
        f("Default", Ty::Bool),
        f("ExternalRefNbr", Ty::Str),
        f("PlannedStartDate", Ty::Date),
        f("PlannedEndDate", Ty::Date),
        ro("CreatedDateTime", Ty::Date),
        ro("LastModifiedDateTime", Ty::Date),
    ],
    linked: &[],
    collections: &[],
    custom_views: &["Task"],
};

/// Every simulated top-level entity.
pub(crate) static ENTITIES: &[EntityDef] = &[
    EntityDef {
        kind: Kind::Bill,
        name: "Bill",
        schema: &BILL,
        seeded_only: false,
        keys: &["Type", "ReferenceNbr"],
        auto_key: Some("ReferenceNbr"),
        first_key_default: Some("Bill"),
        dac: "Bill",
        actions: &["ReleaseBill"],
    },
    EntityDef {
        kind: Kind::Journal,
        name: "JournalTransaction",
        schema: &JOURNAL,
        seeded_only: false,
        keys: &["Module", "BatchNbr"],
        auto_key: Some("BatchNbr"),
        first_key_default: Some("GL"),
        dac: "Batch",
        actions: &["ReleaseJournalTransaction"],
    },
    EntityDef {
        kind: Kind::Vendor,
        name: "Vendor",
        schema: &VENDOR,
        seeded_only: false,
        keys: &["VendorID"],
        auto_key: None,
        first_key_default: None,
        dac: "Vendor",
        actions: &[],
    },
    EntityDef {
        kind: Kind::Account,
        name: "Account",
        schema: &ACCOUNT,
        seeded_only: false,
        keys: &["AccountCD"],
        auto_key: None,
        first_key_default: None,
        dac: "Account",
        actions: &[],
    },
    EntityDef {
        kind: Kind::Subaccount,
        name: "Subaccount",
        schema: &SUBACCOUNT,
        seeded_only: false,
        keys: &["SubaccountCD"],
        auto_key: None,
        first_key_default: None,
        dac: "Subaccount",
        actions: &[],
    },
    EntityDef {
        kind: Kind::PurchaseOrder,
        name: "PurchaseOrder",
        schema: &PURCHASE_ORDER,
        seeded_only: true,
        keys: &["Type", "OrderNbr"],
        auto_key: Some("OrderNbr"),
        first_key_default: Some("Normal"),
        dac: "POOrder",
        actions: &[],
    },
    EntityDef {
        kind: Kind::PurchaseReceipt,
        name: "PurchaseReceipt",
        schema: &PURCHASE_RECEIPT,
        seeded_only: true,
        keys: &["Type", "ReceiptNbr"],
        auto_key: Some("ReceiptNbr"),
        first_key_default: Some("Receipt"),
        dac: "POReceipt",
        actions: &[],
    },
    EntityDef {
        kind: Kind::Project,
        name: "Project",
        schema: &PROJECT,
        seeded_only: true,
        keys: &["ProjectID"],
        auto_key: None,
        first_key_default: None,
        dac: "PMProject",
        actions: &[],
    },
    EntityDef {
        kind: Kind::ProjectTask,
        name: "ProjectTask",
        schema: &PROJECT_TASK,
        seeded_only: true,
        keys: &["ProjectID", "ProjectTaskID"],
        auto_key: None,
        first_key_default: None,
        dac: "PMTask",
        actions: &[],
    },
];

/// The entity with this URL name (case-sensitive).
pub(crate) fn entity(name: &str) -> Option<&'static EntityDef> {
    ENTITIES.iter().find(|e| e.name == name)
}

/// The entity definition of a kind.
pub(crate) fn def(kind: Kind) -> &'static EntityDef {
    // ENTITIES lists every Kind exactly once.
    ENTITIES.iter().find(|e| e.kind == kind).unwrap_or(&ENTITIES[0])
}

/// The display label Acumatica uses for a field in validation messages.
pub(crate) fn label(field: &str) -> &str {
    match field {
        "VendorRef" => "Vendor Ref.",
        "ReferenceNbr" => "Reference Nbr.",
        "BatchNbr" => "Batch Number",
        "VendorID" => "Vendor ID",
        "VendorName" => "Vendor Name",
        "BranchID" => "Branch",
        "PostPeriod" => "Post Period",
        "CurrencyID" => "Currency",
        "AccountCD" => "Account",
        "SubaccountCD" => "Subaccount",
        "TransactionDate" => "Transaction Date",
        "LedgerID" => "Ledger",
        other => other,
    }
}
