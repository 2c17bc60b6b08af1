//! The tests that run the functions against the local stack (moto) and the
//! API simulators, in one test binary: each file is a module, so one link of
//! the whole stack serves them all (a binary per file took 33 links of about
//! 220 MB each). Pick a file's tests with nextest's filter:
//! `cargo nextest run -p integration -E 'test(/^calls_per_document::/)'`.

mod calls_per_document;
mod chaos;
mod concur_tokens;
mod connect_page;
mod corpus;
mod digest;
mod documents_cli;
mod event_intake;
mod extract_files;
mod file_store;
mod infor_verdicts;
mod ion_inbox;
mod keys_cli;
mod ledger;
mod list_sync;
mod mapping_check;
mod mapping_cli;
mod metrics;
mod no_erp_secret_leaks;
mod no_secret_leaks;
mod nothing_lost;
mod operator_cli;
mod platform_on_moto;
mod po_sync;
mod poll_backlog;
mod poller;
mod posting;
mod posting_ifs;
mod posting_infor;
mod quick_connect;
mod reference_store;
mod reference_sync;
mod settings_contract;
mod status_cli;
mod transport_retry;
mod vendor_sync_scale;
mod vendor_two_way;
