//! [`AcumaticaClient`] as an [`ErpAdapter`], and the fix the operator is
//! told for each of its errors.

use domain::{ConnectionId, ErpDocument, Failure};

use super::{AcumaticaClient, AcumaticaError};
use crate::{BoxFuture, ErpAdapter, ErpChecks, ErpProblem, ErpReference, MasterData, MasterDataError, MasterDataRead};

pub(crate) const CHECKS: ErpChecks = ErpChecks {
    sign_in: "Acumatica sign-in",
    read: "Acumatica read",
    read_needs: "needs a sign-in",
    missing_credentials: "no ERP credentials are stored",
    credentials_file: "FILE",
    verdict_inbox: None,
    master_data_unsupported: Some(NO_MASTER_DATA),
};

const NO_MASTER_DATA: &str =
    "the Acumatica adapter does not read accounts and vendors yet; `connections test` proves access";

impl ErpAdapter for AcumaticaClient {
    fn checks(&self) -> ErpChecks {
        CHECKS
    }

    fn sign_in<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>> {
        Box::pin(async move {
            self.authenticate().await.map_err(|e| problem(e, connection))?;
            let settings = &self.settings;
            Ok(format!("tenant {} at {} as user {}", settings.tenant, settings.base_url, self.credentials.username))
        })
    }

    fn read_probe<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>> {
        Box::pin(async move {
            self.read_probe().await.map_err(|e| problem(e, connection))?;
            Ok(format!("{}/{} Vendor", self.settings.endpoint_name, self.settings.endpoint_version))
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

    fn master_data_label(&self, _list: &MasterData) -> String {
        "ERP values".to_owned()
    }

    fn read_master_data<'a>(&'a self, _list: &'a MasterData) -> BoxFuture<'a, Result<MasterDataRead, MasterDataError>> {
        Box::pin(async { Err(MasterDataError::Unsupported(NO_MASTER_DATA)) })
    }
}

fn problem(error: AcumaticaError, connection: &ConnectionId) -> ErpProblem {
    let fix = fix(&error, connection);
    ErpProblem::new(error, fix)
}

/// Which command fixes an Acumatica failure.
fn fix(e: &AcumaticaError, id: &ConnectionId) -> String {
    match e {
        AcumaticaError::InvalidClient { .. } => format!(
            "correct the credentials file and store it with `connector connections update {id} \
             --erp-credentials-file FILE` (or correct the tenant with `--tenant`)"
        ),
        AcumaticaError::InvalidUser { .. }
        | AcumaticaError::InvalidScope { .. }
        | AcumaticaError::TokenRefused { .. } => {
            format!(
                "fix it in Acumatica or in the credentials file, then `connector connections update {id} \
                 --erp-credentials-file FILE`"
            )
        }
        AcumaticaError::NoTokenEndpoint { .. } | AcumaticaError::Unreachable { .. } => {
            format!("`connector connections update {id} --erp-url URL` if the URL is wrong; then test again")
        }
        AcumaticaError::EndpointNotPublished { .. } => {
            format!("`connector connections update {id} --endpoint-version V` (and `--endpoint-name N` if it differs)")
        }
        AcumaticaError::Unauthorized { .. } | AcumaticaError::Forbidden { .. } => {
            "give the integration user the rights named above in Acumatica, then test again".to_owned()
        }
        AcumaticaError::Unavailable { .. } => "wait a few minutes and test again; nothing to change".to_owned(),
        AcumaticaError::Rejected { .. } | AcumaticaError::Malformed { .. } => {
            "check the instance's web service endpoint configuration; report the message if it persists".to_owned()
        }
        // Posting errors; `test` only signs in and reads, so these come from posting paths.
        AcumaticaError::Invalid { .. }
        | AcumaticaError::Refused { .. }
        | AcumaticaError::BadRequest { .. }
        | AcumaticaError::ReleaseFailed { .. } => {
            "see the message: it names the document, line and field Acumatica refused".to_owned()
        }
    }
}
