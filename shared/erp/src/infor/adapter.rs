//! [`InforClient`] as an [`ErpAdapter`]: asynchronous outcomes, one part
//! per BOD, and the fix the operator is told for each of its errors.

use std::collections::BTreeMap;

use domain::{ConnectionId, ErpDocument, Failure};

use super::{InforClient, InforError, Listing, MasterList, Variation, references};
use crate::adapter::fix_by_kind;
use crate::{BoxFuture, ErpAdapter, ErpChecks, ErpProblem, ErpReference, MasterData, MasterDataError, MasterDataRead};

pub(crate) const CHECKS: ErpChecks = ErpChecks {
    sign_in: "Infor ION token",
    read: "Infor ION messaging",
    read_needs: "needs a token",
    missing_credentials: "no .ionapi file is stored",
    credentials_file: "FILE.ionapi",
    verdict_inbox: Some("ION inbox token"),
    master_data_unsupported: None,
};

impl ErpAdapter for InforClient {
    fn checks(&self) -> ErpChecks {
        CHECKS
    }

    fn sign_in<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>> {
        Box::pin(async move {
            self.authenticate().await.map_err(|e| problem(e, connection))?;
            Ok("the service account's password grant works".to_owned())
        })
    }

    fn read_probe<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>> {
        Box::pin(async move {
            self.ping().await.map_err(|e| problem(e, connection))?;
            Ok("IMS answers the ping".to_owned())
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), Failure>> {
        Box::pin(self.check_failure())
    }

    fn find_by_external_key<'a>(
        &'a self,
        external_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ErpReference>, Failure>> {
        Box::pin(self.find_key(external_key))
    }

    fn post<'a>(&'a self, document: &'a ErpDocument) -> BoxFuture<'a, Result<ErpReference, Failure>> {
        Box::pin(self.post_once(document))
    }

    /// `attempt` versions the BODs (their variationID): a resend after a
    /// crash is the same BOD (dropped as a duplicate by ION) while a replay
    /// after a refusal is a new one. Parts in `kept` are not sent again.
    fn post_attempt<'a>(
        &'a self,
        document: &'a ErpDocument,
        attempt: u32,
        kept: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<ErpReference, Failure>> {
        Box::pin(async move {
            let variation = Variation(u64::from(attempt.max(1)));
            let sent = self.post_parts(document, variation, kept).await?;
            Ok(references(&sent))
        })
    }

    fn part_ids(&self, document: &ErpDocument) -> Option<Result<Vec<String>, Failure>> {
        Some(InforClient::part_ids(self, document))
    }

    fn is_asynchronous(&self) -> bool {
        true
    }

    fn master_data_label(&self, list: &MasterData) -> String {
        match list {
            MasterData::GlAccounts => "GL accounts".to_owned(),
            MasterData::Suppliers => "suppliers".to_owned(),
            MasterData::Dimension(name) => format!("dimension {name}"),
        }
    }

    fn read_master_data<'a>(&'a self, list: &'a MasterData) -> BoxFuture<'a, Result<MasterDataRead, MasterDataError>> {
        Box::pin(async move {
            let list = match list {
                MasterData::GlAccounts => MasterList::GlAccounts,
                MasterData::Suppliers => MasterList::Suppliers,
                MasterData::Dimension(name) => MasterList::Dimension(name.clone()),
            };
            let (listing, _) = self.master_list(&list, true).await.map_err(|e| MasterDataError::List(e.into()))?;
            Ok(match listing.as_ref() {
                Listing::Values(known) => MasterDataRead::Known(known.clone()),
                Listing::Refused(reason) => MasterDataRead::Refused(format!("Infor refused the read: {reason}")),
            })
        })
    }
}

fn problem(error: InforError, connection: &ConnectionId) -> ErpProblem {
    let fix = fix_by_kind(
        &error.to_failure(""),
        || format!("download the app's .ionapi file again, then {}", CHECKS.store_again(connection)),
        || {
            format!(
                "check the authorized app, the connection point and `connector connections update {connection} \
                 --ion-…`"
            )
        },
    );
    ErpProblem::new(error, fix)
}
