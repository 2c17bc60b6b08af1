//! SAP Concur APIs as typed models and clients. No AWS: where tokens are
//! stored is the caller's business (the [`tokens::GrantStore`] trait;
//! `platform` implements it over Secrets Manager and DynamoDB).
//!
//! - [`app`]: the partner application's credentials.
//! - [`token`]: the OAuth2 token response, tolerant of Concur's documented
//!   quirks (`expires_in` as string or number, `refresh_expires_in` as an
//!   absolute epoch, optional `id_token`).
//! - [`client`]: typed calls (token grants, Company Profile, ESS management,
//!   authorized JSON reads) over the retrying transport.
//! - [`tokens`]: the per-connection token manager (memory-only access tokens,
//!   single-flight refresh, cross-process refresh lease, rotation saved once).
//! - [`fi`]: Financial Integration v4 pages, accepting both the documented
//!   `content/page/links` envelope and the older `fIDocuments` one.
//! - [`fi_posting`]: what posting needs from Financial Integration: a
//!   document by business or FI id, acknowledgements and posting
//!   confirmations, each answer typed by Concur's code.
//! - [`vendors`]: Invoice Vendor v3 writes (reference sync), one outcome
//!   per record.
//! - [`extracts`]: Extract v1 and Payment Batch v1 XML (definitions, jobs,
//!   batch lists, close answers), parsed by local name within bounds.
//! - [`events`]: ESS webhooks: the `Concur-Signature` check and what a
//!   notification asks the connector to do.
//! - [`webhooks`]: this deployment's subscriptions, asserted at every
//!   connect and daily.

pub mod app;
pub mod client;
pub mod events;
pub mod extracts;
pub mod fi;
pub mod fi_posting;
pub mod lists;
pub mod purchase_orders;
pub mod token;
pub mod tokens;
pub mod vendors;
pub mod webhooks;

pub use app::AppCredentials;
pub use client::{CompanyProfile, ConcurClient, ConcurError, WebhookSubscription, WriteVerb};
pub use tokens::{
    AccessToken, GrantSecretError, GrantStore, GrantStoreError, RefreshHealth, StoredGrant, TokenManager, TokenOptions,
};
