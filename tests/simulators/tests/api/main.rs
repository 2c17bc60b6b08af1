//! The simulators held to the real APIs' rules, in one test binary (one
//! link serves every file; pick one with `-E 'test(/^concur_fi::/)'`).

mod acumatica_auth;
mod acumatica_entities;
mod concur_auth;
mod concur_extracts;
mod concur_extracts_support;
mod concur_fi;
mod concur_lists;
mod concur_payment_batches;
mod concur_refdata_support;
mod concur_vendors;
mod ifs_auth;
mod ifs_entities;
mod ifs_query;
mod ifs_support;
mod infor_auth;
mod infor_messaging;
