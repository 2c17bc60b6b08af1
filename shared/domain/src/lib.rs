//! The connector's domain: identifiers, the work item that travels through the
//! queue, settings that shape concurrency, and the failure taxonomy.
//!
//! Pure code: no I/O, no AWS, no HTTP. Every other crate of ours may depend on
//! this one; it depends on none of them.

pub mod clock;
pub mod connection;
pub mod currency;
pub mod erp_url;
pub mod extract;
pub mod failure;
pub mod ids;
pub mod inbox;
pub mod journal;
pub mod mapping;
pub mod normalize;
pub mod posting;
pub mod posting_source;
pub mod reference;
pub mod schedule;
pub mod secret;
pub mod text;
pub mod work_item;

pub use connection::{
    AcumaticaSettings, Connection, ConnectionStatus, DebitAdjustmentForm, Edition, ErpHold, ErpHoldKind, ErpHoldRules,
    ErpKind, ErpSettings, FlowOptions, IfsApiNames, IfsCloudSettings, InforApiNames, InforSettings,
    InforSupplierDefaults, PollCursor, PostingForm,
};
pub use erp_url::{ErpUrl, ErpUrlError, UrlPolicy};
pub use failure::{Failure, FailureClass, FailureKind};
pub use ids::{CompanyUuid, ConcurDocumentId, ConcurrencyLevel, ConnectionId, DocumentType, ParseError};
pub use journal::{
    CostObject, EntryError, EntryHeader, JournalEntry, JournalLine, LineRole, LineSource, Side, TaxKey, Totals,
};
pub use normalize::{
    DocumentSeed, NormalizeError, NormalizeOptions, Problem, TypedDocument, normalize, normalize_json, normalize_typed,
};
pub use posting::{
    ErpDocument, ErpDocumentKind, HeldComparison, HeldVendorDocument, MappedLine, PlanError, PlannedLine, PostingPlan,
    Target,
};
pub use schedule::PollSchedule;
pub use secret::Secret;
pub use work_item::{
    ErpOutcome, MessageGroupId, QueueMessage, QueueMessageError, ReferenceSyncRequest, SyncReason, WorkItem, WorkSource,
};
