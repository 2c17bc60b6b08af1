//! The Infor simulator the Infor adapter tests run against, and a client of
//! it: tenant `ACME_TST` with connection point `lid://infor.ims.concurconnector`
//! and accounting entity 1000 (accounts, two cost centers, suppliers
//! `EMPJDOE` and `AMEX`).
#![allow(dead_code)]

use std::time::Duration;

use domain::InforSettings;
use erp::infor::{InforClient, IonApi};
use simulators::RunningSimulator;
use simulators::infor::InforSim;
use transport::{HttpClient, RetryPolicy};

pub const TI: &str = "ACME_TST";
pub const ENTITY: &str = "1000";
pub const LID: &str = "lid://infor.ims.concurconnector";
pub const CLEARING: &str = "1999";

pub async fn site() -> (InforSim, RunningSimulator) {
    let sim = InforSim::new();
    sim.add_tenant(TI);
    sim.add_connection_point(TI, LID, &["Process.SupplierInvoice", "Process.SourceSystemJournalEntry"]);
    for account in ["6100", "6200", "2440", CLEARING] {
        sim.add_account(TI, ENTITY, account);
    }
    for cost_center in ["110", "120"] {
        sim.add_dimension_value(TI, ENTITY, "CostCenter", cost_center);
    }
    sim.add_supplier(TI, ENTITY, "EMPJDOE");
    sim.add_supplier(TI, ENTITY, "AMEX");
    let running = sim.clone().start().await;
    (sim, running)
}

pub fn settings() -> InforSettings {
    let mut settings = InforSettings {
        logical_id: Some(LID.into()),
        accounting_entity: Some(ENTITY.into()),
        functional_currency: Some("USD".into()),
        ..Default::default()
    };
    settings.api.chunk_clearing_account = Some(CLEARING.into());
    settings
}

pub fn http() -> HttpClient {
    let policy = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
    };
    HttpClient::new(transport::build_client(Duration::from_secs(10)), policy)
}

pub fn ionapi(sim: &InforSim, running: &RunningSimulator) -> IonApi {
    IonApi::from_value(&sim.ionapi_file(&running.base_url(), TI)).unwrap()
}

pub fn client_with(sim: &InforSim, running: &RunningSimulator, settings: InforSettings) -> InforClient {
    InforClient::new(http(), settings, ionapi(sim, running))
}

pub fn client(sim: &InforSim, running: &RunningSimulator) -> InforClient {
    client_with(sim, running, settings())
}
