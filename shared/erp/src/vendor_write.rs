//! The one way a vendor from Concur is written into an ERP
//! ([`crate::Erp::write_vendor`]): read it by its code, create it when absent,
//! else write only the owned fields that differ. Each ERP supplies the three
//! calls ([`VendorStore`]); the order, the comparison and the handling of a
//! concurrent writer live here once.
//!
//! None of the ERPs offers a compare-and-set on a vendor, but each refuses a
//! create of a code that exists (Acumatica `If-None-Match: *` → 412, M3
//! `AddSupplier` → "already exists") and an update of one that does not.
//! Such a refusal may be the work of a concurrent writer, so the vendor is
//! read again and the step decided anew; a refusal that the fresh read does
//! not explain is the ERP's verdict and is returned. So a vendor is created
//! once however many writers race.

use domain::Failure;
use domain::reference::{VendorField, VendorFields, VendorRecord};

use crate::VendorWritten;

/// Reads and write steps in one run: create refused (it exists now) →
/// update refused (deleted meanwhile) → create again. More than that is a
/// vendor being created and deleted under us: the last refusal is returned.
const ROUNDS: usize = 3;

/// What a create or an update came to.
pub(crate) enum Stored<E> {
    Written,
    /// Refused, perhaps because a concurrent writer created or deleted the
    /// vendor since it was read: read again before taking `E` as the answer.
    Refused(E),
}

/// One ERP's vendor calls, each in the connection's company.
pub(crate) trait VendorStore: Sync {
    type Error: Send;

    /// The vendor with `wanted`'s code as a Concur record (keyed and
    /// limited like `wanted`), `None` when the ERP has none.
    fn read_vendor(
        &self,
        wanted: &VendorRecord,
    ) -> impl Future<Output = Result<Option<VendorRecord>, Self::Error>> + Send;

    /// Creates `vendor` with every field; refused when its code exists.
    fn create_vendor(
        &self,
        vendor: &VendorRecord,
    ) -> impl Future<Output = Result<Stored<Self::Error>, Self::Error>> + Send;

    /// What the ERP holds once `wanted` is written over `current`: the
    /// record compared with `current` and written. By default a currency or
    /// country Concur leaves empty is the ERP's own (each ERP fills them in
    /// from its defaults), so it is no difference.
    fn as_written(&self, wanted: &VendorRecord, current: &VendorRecord) -> VendorRecord {
        let mut written = wanted.clone();
        if written.currency_code.is_none() {
            written.currency_code.clone_from(&current.currency_code);
        }
        if written.country_code.is_none() {
            written.country_code.clone_from(&current.country_code);
        }
        written
    }

    /// Writes `changed` of `vendor` (and nothing else); refused when the
    /// code does not exist.
    fn update_vendor(
        &self,
        vendor: &VendorRecord,
        changed: &[VendorField],
    ) -> impl Future<Output = Result<Stored<Self::Error>, Self::Error>> + Send;
}

/// Which write a refusal answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Create,
    Update,
}

/// Creates `wanted` or writes the fields among `fields` that differ (see
/// [`crate::Erp::write_vendor`]).
pub(crate) async fn write_vendor<S: VendorStore>(
    store: &S,
    wanted: &VendorRecord,
    fields: &VendorFields,
) -> Result<VendorWritten, S::Error> {
    let mut refused: Option<(Step, S::Error)> = None;
    let mut round = 0;
    loop {
        round += 1;
        let current = store.read_vendor(wanted).await?;
        let step = if current.is_some() { Step::Update } else { Step::Create };
        // The same step refused and the vendor as it was: the refusal stands.
        if let Some((earlier, error)) = refused.take()
            && earlier == step
        {
            return Err(error);
        }
        let error = match current {
            None => match store.create_vendor(wanted).await? {
                Stored::Written => return Ok(VendorWritten::Created),
                Stored::Refused(error) => error,
            },
            Some(current) => {
                let target = store.as_written(wanted, &current);
                let changed = owned_changes(&current, &target, fields);
                if changed.is_empty() {
                    return Ok(VendorWritten::Unchanged);
                }
                match store.update_vendor(&target, &changed).await? {
                    Stored::Written => return Ok(VendorWritten::Updated(changed)),
                    Stored::Refused(error) => error,
                }
            }
        };
        if round == ROUNDS {
            return Err(error);
        }
        refused = Some((step, error));
    }
}

/// A vendor without a code cannot be written: the code is how it is found
/// again, and an ERP that numbers vendors itself would create a new one on
/// every run. Checked before any call to `erp`.
/// One ERP's `write` of `vendor` as [`crate::Erp::write_vendor`] answers:
/// the code checked before any call, the ERP's error turned into a failure.
pub(crate) async fn answer<E>(
    vendor: &VendorRecord,
    erp: &str,
    write: impl Future<Output = Result<VendorWritten, E>>,
    failure: impl FnOnce(E) -> Failure,
) -> Result<Option<VendorWritten>, Failure> {
    check_code(vendor, erp)?;
    write.await.map(Some).map_err(failure)
}

fn check_code(vendor: &VendorRecord, erp: &str) -> Result<(), Failure> {
    if vendor.vendor_code.trim().is_empty() {
        return Err(Failure::permanent(format!(
            "vendor `{}` has no vendor code, so it was not written into {erp}: give it a code in Concur (the {erp} \
             vendor id it is to have)",
            vendor.name
        )));
    }
    Ok(())
}

/// The fields among `fields` whose values differ between the ERP's vendor
/// and Concur's. Keys and the active flag are taken from `wanted` first:
/// the ERP may spell the code in another case, and activity is not a field
/// this write carries.
pub(crate) fn owned_changes(current: &VendorRecord, wanted: &VendorRecord, fields: &VendorFields) -> Vec<VendorField> {
    let mut current = current.clone();
    current.vendor_code.clone_from(&wanted.vendor_code);
    current.address_code.clone_from(&wanted.address_code);
    current.active = wanted.active;
    current.differing(wanted, fields)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::reference::VendorLimits;

    use super::*;

    /// An ERP in memory that refuses the first `races` writes as if another
    /// writer had just created the vendor.
    #[derive(Default)]
    struct Memory {
        held: Mutex<Option<VendorRecord>>,
        races: Mutex<usize>,
        writes: Mutex<Vec<String>>,
    }

    impl VendorStore for Memory {
        type Error = String;

        async fn read_vendor(&self, _wanted: &VendorRecord) -> Result<Option<VendorRecord>, String> {
            Ok(self.held.lock().unwrap().clone())
        }

        async fn create_vendor(&self, vendor: &VendorRecord) -> Result<Stored<String>, String> {
            let mut held = self.held.lock().unwrap();
            let mut races = self.races.lock().unwrap();
            if *races > 0 {
                *races -= 1;
                let mut theirs = vendor.clone();
                theirs.name = "Created by the other writer".into();
                *held = Some(theirs);
                return Ok(Stored::Refused("exists".into()));
            }
            if held.is_some() {
                return Ok(Stored::Refused("exists".into()));
            }
            self.writes.lock().unwrap().push("create".into());
            *held = Some(vendor.clone());
            Ok(Stored::Written)
        }

        async fn update_vendor(
            &self,
            vendor: &VendorRecord,
            changed: &[VendorField],
        ) -> Result<Stored<String>, String> {
            let mut held = self.held.lock().unwrap();
            let Some(current) = held.as_mut() else { return Ok(Stored::Refused("missing".into())) };
            current.take(vendor, &changed.iter().copied().collect());
            self.writes.lock().unwrap().push(format!("update {changed:?}"));
            Ok(Stored::Written)
        }
    }

    fn vendor(name: &str, city: &str) -> VendorRecord {
        let mut v = VendorRecord::named("V1".into(), "MAIN".into(), name.into(), VendorLimits::default());
        v.city = Some(city.into());
        v
    }

    #[tokio::test]
    async fn absent_is_created_present_is_compared_on_the_owned_fields_only() {
        let erp = Memory::default();
        let all = VendorField::all();
        assert_eq!(write_vendor(&erp, &vendor("Acme", "Austin"), &all).await, Ok(VendorWritten::Created));
        assert_eq!(write_vendor(&erp, &vendor("Acme", "Austin"), &all).await, Ok(VendorWritten::Unchanged));
        let names: VendorFields = [VendorField::Name].into();
        let changed = vendor("Acme Corp", "Dallas");
        assert_eq!(write_vendor(&erp, &changed, &names).await, Ok(VendorWritten::Updated(vec![VendorField::Name])));
        let held = erp.held.lock().unwrap().clone().unwrap();
        assert_eq!((held.name.as_str(), held.city.as_deref()), ("Acme Corp", Some("Austin")), "the city is not owned");
        assert_eq!(*erp.writes.lock().unwrap(), ["create", "update [Name]"]);
    }

    #[tokio::test]
    async fn a_create_refused_by_a_concurrent_create_becomes_an_update() {
        let erp = Memory { races: Mutex::new(1), ..Memory::default() };
        let written = write_vendor(&erp, &vendor("Acme", "Austin"), &VendorField::all()).await;
        assert_eq!(written, Ok(VendorWritten::Updated(vec![VendorField::Name])));
        assert_eq!(*erp.writes.lock().unwrap(), ["update [Name]"]);
    }

    #[tokio::test]
    async fn a_refusal_the_fresh_read_does_not_explain_is_returned() {
        struct Refusing;
        impl VendorStore for Refusing {
            type Error = String;
            async fn read_vendor(&self, _: &VendorRecord) -> Result<Option<VendorRecord>, String> {
                Ok(None)
            }
            async fn create_vendor(&self, _: &VendorRecord) -> Result<Stored<String>, String> {
                Ok(Stored::Refused("Currency XXX does not exist".into()))
            }
            async fn update_vendor(&self, _: &VendorRecord, _: &[VendorField]) -> Result<Stored<String>, String> {
                unreachable!("never read as present")
            }
        }
        let written = write_vendor(&Refusing, &vendor("Acme", "Austin"), &VendorField::all()).await;
        assert_eq!(written, Err("Currency XXX does not exist".to_owned()));
    }

    #[test]
    fn keys_in_another_case_and_the_active_flag_are_not_changes() {
        let wanted = vendor("Acme", "Austin");
        let mut current = wanted.clone();
        current.vendor_code = "v1".into();
        current.active = false;
        assert!(owned_changes(&current, &wanted, &VendorField::all()).is_empty());
        current.postal_code = Some("73301".into());
        assert_eq!(owned_changes(&current, &wanted, &VendorField::all()), [VendorField::Address]);
    }
}
