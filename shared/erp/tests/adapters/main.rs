//! The ERP adapters against the simulators, in one test binary (one link
//! serves every file; pick one with `-E 'test(/^ifs_posting::/)'`).

mod acumatica_posting;
mod acumatica_reference;
mod acumatica_support;
mod ifs_posting;
mod ifs_reference;
mod ifs_support;
mod ifs_vendors;
mod infor_posting;
mod infor_reference;
mod infor_support;
mod records;
