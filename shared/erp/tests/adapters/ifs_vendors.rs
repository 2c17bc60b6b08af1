//! Vendors from Concur written into the IFS Cloud simulator as suppliers
//! over HTTP: created once with every field and read back active, only the
//! fields Concur owns updated (with the current ETag, a 412 retried once),
//! nothing written when nothing differs, a half-made supplier completed,
//! concurrent creates resolved to one supplier, and IFS's refusals kept.

use crate::ifs_support;

use domain::FailureKind;
use domain::reference::{DEFAULT_ADDRESS_CODE, ReadPage, VendorField, VendorFields, VendorLimits, VendorRecord};
use erp::{ErpAdapter, VendorWritten};
use ifs_support::{client, site};
use serde_json::Value;
use simulators::faults::{FaultKind, FaultSpec, SeenRequest};
use simulators::ifs::{AfterCommit, IfsSim};

const SUPPLIERS: &str = "/main/ifsapplications/projection/v1/SupplierHandling.svc/SupplierInfoGeneralSet";

/// A Concur vendor with every field IFS carries (and a tax id, which it does not).
fn vendor(code: &str) -> VendorRecord {
    VendorRecord {
        address1: Some("1 Main St".into()),
        address2: Some("Suite 5".into()),
        city: Some("Austin".into()),
        state: Some("TX".into()),
        postal_code: Some("73301".into()),
        country_code: Some("US".into()),
        currency_code: Some("EUR".into()),
        tax_id: Some("US-123".into()),
        ..VendorRecord::named(code.into(), DEFAULT_ADDRESS_CODE.into(), format!("Vendor {code}"), limits())
    }
}

fn limits() -> VendorLimits {
    VendorLimits::default()
}

fn fields(list: &[VendorField]) -> VendorFields {
    list.iter().copied().collect()
}

/// The vendor records the IFS vendor read gives for `code`.
async fn read_back(erp: &dyn ErpAdapter, code: &str) -> Vec<VendorRecord> {
    let page = ReadPage { changed_after: None, skip: 0, top: 100 };
    let records = erp.read_vendors(page, limits()).await.unwrap().unwrap();
    records.into_iter().filter(|r| r.vendor_code == code).collect()
}

/// The supplier `code` as the simulator holds it (navigations expanded).
fn supplier(sim: &IfsSim, code: &str) -> Vec<Value> {
    sim.suppliers().into_iter().filter(|s| s["SupplierId"] == code).collect()
}

/// Writes (anything but GET) to the projections, from request `from` on.
fn writes_since(sim: &IfsSim, from: usize) -> Vec<SeenRequest> {
    let requests = sim.requests();
    requests.into_iter().skip(from).filter(|r| r.method != "GET" && !r.path.starts_with("/auth/")).collect()
}

#[tokio::test]
async fn a_new_vendor_is_created_with_every_field_and_read_back_active() {
    let (sim, running) = site().await;
    let erp = client(&running.base_url());
    let new = vendor("NEWV1");

    let written = erp.write_vendor(&new, &fields(&[VendorField::Name])).await.unwrap();

    assert_eq!(written, Some(VendorWritten::Created));
    let read = read_back(&erp, "NEWV1").await;
    // Everything but the tax id, which IFS does not carry here.
    assert_eq!(read, vec![VendorRecord { tax_id: None, ..new }]);
    let held = supplier(&sim, "NEWV1");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["SupplierInvoiceCompanies"].as_array().unwrap().len(), 1);
    assert_eq!(held[0]["SupplierInfoAddresses"][0]["AddressId"], DEFAULT_ADDRESS_CODE);
    let posts: Vec<(String, u16)> = writes_since(&sim, 0).into_iter().map(|r| (r.path, r.status)).collect();
    assert_eq!(
        posts,
        [
            (SUPPLIERS.to_owned(), 201),
            (format!("{SUPPLIERS}(SupplierId='NEWV1')/SupplierInfoAddresses"), 201),
            (format!("{SUPPLIERS}(SupplierId='NEWV1')/SupplierInvoiceCompanies"), 201),
        ]
    );
}

#[tokio::test]
async fn a_second_write_of_the_same_vendor_is_unchanged_and_writes_nothing() {
    let (sim, running) = site().await;
    let erp = client(&running.base_url());
    let new = vendor("NEWV2");
    let owned = VendorField::all();
    assert_eq!(erp.write_vendor(&new, &owned).await.unwrap(), Some(VendorWritten::Created));
    let before = sim.requests().len();

    assert_eq!(erp.write_vendor(&new, &owned).await.unwrap(), Some(VendorWritten::Unchanged));

    assert_eq!(writes_since(&sim, before), []);
    assert_eq!(sim.writes(), []);
}

#[tokio::test]
async fn an_update_writes_only_the_differing_fields_concur_owns() {
    let (sim, running) = site().await;
    let erp = client(&running.base_url());
    erp.write_vendor(&vendor("NEWV3"), &VendorField::all()).await.unwrap();
    let changed = VendorRecord {
        name: "Vendor NEWV3 Inc".into(),
        city: Some("Dallas".into()),
        address2: None,
        currency_code: Some("USD".into()),
        ..vendor("NEWV3")
    };

    // Concur owns the name and the address; the currency differs too but is IFS's.
    let written = erp.write_vendor(&changed, &fields(&[VendorField::Name, VendorField::Address])).await.unwrap();

    assert_eq!(written, Some(VendorWritten::Updated(vec![VendorField::Name, VendorField::Address])));
    let read = read_back(&erp, "NEWV3").await;
    assert_eq!(read, vec![VendorRecord { currency_code: Some("EUR".into()), tax_id: None, ..changed.clone() }]);
    let patched: Vec<String> = sim.writes().iter().map(|w| w.path.clone()).collect();
    assert_eq!(
        patched,
        [
            format!("{SUPPLIERS}(SupplierId='NEWV3')"),
            format!("{SUPPLIERS}(SupplierId='NEWV3')/SupplierInfoAddresses(SupplierId='NEWV3',AddressId='MAIN')"),
        ]
    );
    assert!(sim.writes().iter().all(|w| w.method == "PATCH" && w.was_current && w.status == 200), "{:?}", sim.writes());

    // Now Concur owns the currency: only the company's invoice data is written.
    sim.clear_writes();
    let written = erp.write_vendor(&changed, &fields(&[VendorField::Currency, VendorField::TaxId])).await.unwrap();
    assert_eq!(written, Some(VendorWritten::Updated(vec![VendorField::Currency])));
    let patched: Vec<String> = sim.writes().iter().map(|w| w.path.clone()).collect();
    assert_eq!(
        patched,
        [format!("{SUPPLIERS}(SupplierId='NEWV3')/SupplierInvoiceCompanies(Company='10',SupplierId='NEWV3')")]
    );
    assert_eq!(read_back(&erp, "NEWV3").await[0].currency_code.as_deref(), Some("USD"));
}

#[tokio::test]
async fn an_owned_address_is_added_to_a_supplier_that_has_none() {
    let (sim, running) = site().await;
    let erp = client(&running.base_url());
    let moved = VendorRecord { name: "Jane Doe (employee)".into(), currency_code: None, ..vendor("EMPJDOE") };

    let written = erp.write_vendor(&moved, &fields(&[VendorField::Address])).await.unwrap();

    assert_eq!(written, Some(VendorWritten::Updated(vec![VendorField::Address])));
    let read = read_back(&erp, "EMPJDOE").await;
    assert_eq!(read, vec![VendorRecord { currency_code: Some("USD".into()), tax_id: None, ..moved.clone() }]);
    // The supplier's country PATCHed with its ETag, the address created.
    let patched: Vec<(String, bool)> = sim.writes().iter().map(|w| (w.path.clone(), w.was_current)).collect();
    assert_eq!(patched, [(format!("{SUPPLIERS}(SupplierId='EMPJDOE')"), true)]);
    assert_eq!(supplier(&sim, "EMPJDOE")[0]["SupplierInfoAddresses"][0]["City"], "Austin");
    assert_eq!(erp.write_vendor(&moved, &VendorField::all()).await.unwrap(), Some(VendorWritten::Unchanged));
}

#[tokio::test]
async fn a_stale_etag_is_read_again_and_retried_once() {
    let (sim, running) = site().await;
    let erp = client(&running.base_url());
    let renamed = VendorRecord {
        name: "Jane Doe".into(),
        ..VendorRecord::named("EMPJDOE".into(), DEFAULT_ADDRESS_CODE.into(), String::new(), limits())
    };
    sim.stale_etag_next(1);

    let written = erp.write_vendor(&renamed, &fields(&[VendorField::Name])).await.unwrap();

    assert_eq!(written, Some(VendorWritten::Updated(vec![VendorField::Name])));
    let answers: Vec<(u16, bool)> = sim.writes().iter().map(|w| (w.status, w.was_current)).collect();
    assert_eq!(answers, [(412, true), (200, true)]);
    assert!(sim.writes().iter().all(|w| w.if_match.as_deref().is_some_and(|m| m.starts_with("W/"))));
    assert_eq!(supplier(&sim, "EMPJDOE")[0]["Name"], "Jane Doe");

    // A record that keeps changing is retryable, and says how to try again.
    sim.stale_etag_next(2);
    let again = VendorRecord { name: "Jane Q. Doe".into(), ..renamed };
    let failure = erp.write_vendor(&again, &fields(&[VendorField::Name])).await.unwrap_err();
    assert!(matches!(failure.kind, FailureKind::Retryable { .. }), "{failure:?}");
    assert!(failure.reason.contains("HTTP 412 twice") && failure.reason.contains("EMPJDOE"), "{}", failure.reason);
    assert!(failure.reason.contains("sync the vendors again"), "{}", failure.reason);
}

#[tokio::test]
async fn two_concurrent_writes_of_a_new_vendor_create_one_supplier() {
    let (sim, running) = site().await;
    let (one, two) = (client(&running.base_url()), client(&running.base_url()));
    // Both reads answer only after both were sent: both find nothing.
    let slow = FaultKind::Slow { delay_ms: 300 };
    let prefix = format!("{SUPPLIERS}(");
    let spec = FaultSpec {
        fault: slow,
        count: Some(2),
        fraction: None,
        path_prefix: Some(prefix),
        method: Some("GET".into()),
    };
    sim.faults().inject(spec).unwrap();
    let new = vendor("RACE1");
    let owned = VendorField::all();

    let (a, b) = tokio::join!(one.write_vendor(&new, &owned), two.write_vendor(&new, &owned));

    let mut outcomes = vec![a.unwrap().unwrap(), b.unwrap().unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [VendorWritten::Created, VendorWritten::Unchanged]);
    let held = supplier(&sim, "RACE1");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["SupplierInvoiceCompanies"].as_array().unwrap().len(), 1);
    assert_eq!(held[0]["SupplierInfoAddresses"].as_array().unwrap().len(), 1);
    let refused = writes_since(&sim, 0).into_iter().filter(|r| r.status == 409).count();
    assert!(refused >= 1, "the two creates did not race: {:?}", writes_since(&sim, 0));
    assert!(read_back(&one, "RACE1").await[0].active);
}

#[tokio::test]
async fn a_supplier_left_without_its_company_data_is_completed() {
    let (sim, running) = site().await;
    let erp = client(&running.base_url());
    // A crash after the supplier's POST: no address, no invoice data in company 10.
    sim.add_supplier("HALF1", "Vendor HALF1", &[]);
    let half = vendor("HALF1");

    let written = erp.write_vendor(&half, &fields(&[VendorField::Name])).await.unwrap();

    assert_eq!(written, Some(VendorWritten::Created));
    let read = read_back(&erp, "HALF1").await;
    assert_eq!(read.len(), 1);
    assert!(read[0].active);
    assert_eq!(read[0].currency_code.as_deref(), Some("EUR"));
    assert_eq!(read[0].city.as_deref(), Some("Austin"));
    // A supplier of another company only is made a vendor of this one too.
    sim.add_supplier("OTHER1", "Other One", &["20"]);
    let other = VendorRecord { currency_code: None, ..vendor("OTHER1") };
    assert_eq!(erp.write_vendor(&other, &VendorFields::new()).await.unwrap(), Some(VendorWritten::Created));
    let read = read_back(&erp, "OTHER1").await;
    // The name is IFS's (Concur owns nothing here); the currency is the company's default.
    assert_eq!((read[0].name.as_str(), read[0].currency_code.as_deref()), ("Other One", Some("USD")));
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_not_sent_again_and_the_next_write_completes_it() {
    let (sim, running) = site().await;
    let erp = client(&running.base_url());
    // The supplier and then its invoice data commit, and both answers are 503s.
    sim.after_commit(2, AfterCommit::ServerError { status: 503 });
    let new =
        VendorRecord { address1: None, address2: None, city: None, state: None, postal_code: None, ..vendor("LOST1") };

    for _ in 0..2 {
        let failure = erp.write_vendor(&new, &VendorField::all()).await.unwrap_err();
        assert!(matches!(failure.kind, FailureKind::Retryable { .. }), "{failure:?}");
    }
    assert_eq!(erp.write_vendor(&new, &VendorField::all()).await.unwrap(), Some(VendorWritten::Unchanged));

    // Each call sent each create at most once; the supplier kept from the first.
    let posts: Vec<(String, u16)> = writes_since(&sim, 0).into_iter().map(|r| (r.path, r.status)).collect();
    assert_eq!(
        posts,
        [
            (SUPPLIERS.to_owned(), 503),
            (SUPPLIERS.to_owned(), 409),
            (format!("{SUPPLIERS}(SupplierId='LOST1')/SupplierInvoiceCompanies"), 503),
        ]
    );
    assert_eq!(supplier(&sim, "LOST1")[0]["SupplierInvoiceCompanies"].as_array().unwrap().len(), 1);
    assert!(read_back(&erp, "LOST1").await[0].active);
}

#[tokio::test]
async fn an_ifs_refusal_is_permanent_and_keeps_ifs_reason() {
    let (sim, running) = site().await;
    let erp = client(&running.base_url());
    let bad = VendorRecord { country_code: Some("USA".into()), ..vendor("BADC1") };

    let failure = erp.write_vendor(&bad, &VendorField::all()).await.unwrap_err();

    assert_eq!(failure.kind, FailureKind::Permanent);
    for part in ["supplier `BADC1`", "IsoCountry.NOTEXIST", "Country code USA", "sync the vendors again"] {
        assert!(failure.reason.contains(part), "{part}: {}", failure.reason);
    }
    assert_eq!(supplier(&sim, "BADC1"), Vec::<Value>::new());

    // A vendor IFS could not key is refused before any request.
    let before = sim.requests().len();
    let nameless = VendorRecord { name: " ".into(), ..vendor("NONAME") };
    let failure = erp.write_vendor(&nameless, &VendorField::all()).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Permanent);
    assert!(failure.reason.contains("the vendor name is empty"), "{}", failure.reason);
    assert_eq!(sim.requests().len(), before);
}
