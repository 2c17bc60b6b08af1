//! [`IfsClient`] as an [`ErpAdapter`], and the fix the operator is told for
//! each of its errors.

use std::collections::BTreeSet;

use domain::{ConnectionId, ErpDocument, Failure};

use super::{IfsClient, IfsError};
use crate::adapter::fix_by_kind;
use crate::{BoxFuture, ErpAdapter, ErpChecks, ErpProblem, ErpReference, MasterData, MasterDataError, MasterDataRead};

pub(crate) const CHECKS: ErpChecks = ErpChecks {
    sign_in: "IFS Cloud token",
    read: "IFS Cloud read",
    read_needs: "needs a token",
    missing_credentials: "no ERP credentials are stored",
    credentials_file: "FILE",
    verdict_inbox: None,
    master_data_unsupported: None,
};

impl ErpAdapter for IfsClient {
    fn checks(&self) -> ErpChecks {
        CHECKS
    }

    fn sign_in<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>> {
        Box::pin(async move {
            self.authenticate().await.map_err(|e| problem(e, connection))?;
            Ok(format!("realm {} at {}", self.settings.namespace, self.settings.base_url))
        })
    }

    fn read_probe<'a>(&'a self, connection: &'a ConnectionId) -> BoxFuture<'a, Result<String, ErpProblem>> {
        Box::pin(async move {
            self.read_probe().await.map_err(|e| problem(e, connection))?;
            Ok(format!("company {}: {}", self.settings.company, self.settings.api.account_set))
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

    fn master_data_label(&self, list: &MasterData) -> String {
        match list {
            MasterData::GlAccounts => "GL accounts".to_owned(),
            MasterData::Suppliers => format!("suppliers of company {}", self.settings.company),
            MasterData::Dimension(name) => match self.code_part_of(name) {
                Some(letter) => format!("dimension {name} (code part {letter})"),
                None => format!("dimension {name}"),
            },
        }
    }

    fn read_master_data<'a>(&'a self, list: &'a MasterData) -> BoxFuture<'a, Result<MasterDataRead, MasterDataError>> {
        Box::pin(async move {
            let known: Result<BTreeSet<String>, IfsError> = match list {
                MasterData::GlAccounts => self.accounts().await.map(|a| a.into_iter().map(|a| a.account).collect()),
                MasterData::Suppliers => {
                    self.suppliers().await.map(|s| s.into_iter().filter(|s| s.in_company).map(|s| s.id).collect())
                }
                MasterData::Dimension(name) => {
                    let Some(letter) = self.code_part_of(name) else {
                        return Ok(MasterDataRead::NotUsed(
                            "IFS Cloud does not use it (name it cost_center or code_b…code_j)",
                        ));
                    };
                    self.code_part_values(letter).await.map(|v| v.into_iter().map(|v| v.value).collect())
                }
            };
            known.map(MasterDataRead::Known).map_err(|e| MasterDataError::Erp { erp: "IFS Cloud", source: e.into() })
        })
    }
}

impl IfsClient {
    /// The code part a mapping's dimension goes to: `cost_center` → the
    /// settings' cost-center code part, `code_b`…`code_j` → that letter.
    fn code_part_of(&self, dimension: &str) -> Option<char> {
        match dimension {
            "cost_center" => self.settings.api.cost_center_code_part.chars().next(),
            other => other.strip_prefix("code_").and_then(|l| l.chars().next()).filter(|_| other.len() == 6),
        }
    }
}

fn problem(error: IfsError, connection: &ConnectionId) -> ErpProblem {
    let fix = fix(&error, connection);
    ErpProblem::new(error, fix)
}

/// Which command fixes an IFS Cloud failure.
pub(crate) fn fix(e: &IfsError, id: &ConnectionId) -> String {
    fix_by_kind(
        &e.to_failure(""),
        || {
            format!(
                "check the IAM client in IFS (confidential, service account enabled), then {}",
                CHECKS.store_again(id)
            )
        },
        || {
            format!(
                "check the URL, namespace, company and the service user's permission sets; \
                 `connector connections update {id} …`"
            )
        },
    )
}
