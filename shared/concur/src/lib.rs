//! SAP Concur APIs as typed models and clients. No AWS: storage of tokens is
//! the caller's business.
//!
//! - [`token`]: the OAuth2 token response, tolerant of Concur's documented
//!   quirks (`expires_in` as string or number, `refresh_expires_in` as an
//!   absolute epoch, optional `id_token`).
//! - [`fi`]: Financial Integration v4 pages, accepting both the documented
//!   `content/page/links` envelope and the older `fIDocuments` one.

pub mod fi;
pub mod token;
