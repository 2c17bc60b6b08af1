//! Which stack the CLI works on, and the names of its resources. The names
//! follow infra/template.yaml (`!Sub "${AWS::StackName}-connections"`,
//! `…-ledger`, `…-work.fifo`, the `ConnectionSecretPrefix` output); the local
//! stack provisions the same (tests/localstack creates what the template
//! names).

use domain::{ConnectionId, UrlPolicy};

/// The resource names of one deployed (or local) stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackNames {
    pub stack: String,
    pub connections_table: String,
    pub ledger_table: String,
    pub audit_table: String,
    /// The reference syncs' state, `<stack>-reference`.
    pub reference_table: String,
    /// The FIFO work queue, `<stack>-work.fifo`.
    pub work_queue: String,
    /// Its dead-letter queue, `<stack>-work-dlq.fifo`.
    pub work_dead_letter_queue: String,
    /// The inbox queue of `file-intake`, `<stack>-inbox`.
    pub inbox_queue: String,
    /// `<stack>/connections/`: `<prefix><id>/concur` and `<prefix><id>/erp`.
    pub secret_prefix: String,
    /// The Concur application secret (id or ARN).
    pub concur_app_secret: String,
}

impl StackNames {
    /// Names for `stack`; the Concur app secret defaults to
    /// `<stack>/concur-app`, which the local stack creates.
    pub fn new(stack: &str, concur_app_secret: Option<&str>) -> Result<Self, InvalidStackName> {
        check_stack_name(stack)?;
        let concur_app_secret = match concur_app_secret.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => id.to_owned(),
            None => format!("{stack}/concur-app"),
        };
        Ok(Self {
            stack: stack.to_owned(),
            connections_table: format!("{stack}-connections"),
            ledger_table: format!("{stack}-ledger"),
            audit_table: format!("{stack}-audit"),
            reference_table: format!("{stack}-reference"),
            work_queue: format!("{stack}-work.fifo"),
            work_dead_letter_queue: format!("{stack}-work-dlq.fifo"),
            inbox_queue: format!("{stack}-inbox"),
            secret_prefix: format!("{stack}/connections/"),
            concur_app_secret,
        })
    }

    pub fn erp_secret(&self, id: &ConnectionId) -> String {
        format!("{}{id}/erp", self.secret_prefix)
    }

    /// The bearer token ION presents to ion-inbox for this connection.
    pub fn ion_inbox_secret(&self, id: &ConnectionId) -> String {
        format!("{}{id}/ion-inbox", self.secret_prefix)
    }

    /// The connection's OpenPGP private keys (extract files).
    pub fn pgp_secret(&self, id: &ConnectionId) -> String {
        platform::files::keyring_secret_id(&self.secret_prefix, id)
    }

    pub fn concur_secret(&self, id: &ConnectionId) -> String {
        format!("{}{id}/concur", self.secret_prefix)
    }
}

/// A name that cannot be a CloudFormation stack's.
#[derive(Debug, thiserror::Error)]
#[error(
    "stack name `{shown}` is invalid: give the SAM stack's name (a letter, then letters, digits and '-') with \
     --stack or CONNECTOR_STACK"
)]
pub struct InvalidStackName {
    /// The name as given, cut to 60 characters.
    shown: String,
}

/// CloudFormation stack names: a letter, then letters, digits and `-`, at most 128.
fn check_stack_name(stack: &str) -> Result<(), InvalidStackName> {
    let ok = !stack.is_empty()
        && stack.len() <= 128
        && stack.starts_with(|c: char| c.is_ascii_alphabetic())
        && stack.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok { Ok(()) } else { Err(InvalidStackName { shown: crate::settings::shown(stack).to_owned() }) }
}

/// ERP URLs may be plain http to the loopback address only when the AWS
/// endpoint itself is on loopback (see [`UrlPolicy::for_aws_endpoint`]).
pub fn url_policy_for(aws_endpoint_url: Option<&str>) -> UrlPolicy {
    UrlPolicy::for_aws_endpoint(aws_endpoint_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_template() {
        let n = StackNames::new("concur-erp", None).unwrap();
        assert_eq!(n.connections_table, "concur-erp-connections");
        assert_eq!(n.ledger_table, "concur-erp-ledger");
        assert_eq!(n.audit_table, "concur-erp-audit");
        assert_eq!(n.work_queue, "concur-erp-work.fifo");
        assert_eq!(n.work_dead_letter_queue, "concur-erp-work-dlq.fifo");
        assert_eq!(n.concur_app_secret, "concur-erp/concur-app");
        let id = ConnectionId::parse("acme").unwrap();
        assert_eq!(n.erp_secret(&id), "concur-erp/connections/acme/erp");
        assert_eq!(n.concur_secret(&id), "concur-erp/connections/acme/concur");
        let n = StackNames::new("prod", Some("arn:aws:secretsmanager:eu-west-1:1:secret:app")).unwrap();
        assert_eq!(n.concur_app_secret, "arn:aws:secretsmanager:eu-west-1:1:secret:app");
    }

    #[test]
    fn stack_names_are_checked() {
        for bad in ["", "1abc", "a b", "a/b", &"a".repeat(129)] {
            assert!(StackNames::new(bad, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn loopback_http_only_for_a_local_stack() {
        assert_eq!(url_policy_for(Some("http://127.0.0.1:5000")), UrlPolicy::AllowLoopbackHttp);
        assert_eq!(url_policy_for(Some("http://localhost:5000")), UrlPolicy::AllowLoopbackHttp);
        assert_eq!(url_policy_for(Some("http://[::1]:5000")), UrlPolicy::AllowLoopbackHttp);
        assert_eq!(url_policy_for(Some("https://dynamodb.eu-west-1.amazonaws.com")), UrlPolicy::PublicHttpsOnly);
        assert_eq!(url_policy_for(Some("http://10.0.0.5:4566")), UrlPolicy::PublicHttpsOnly);
        assert_eq!(url_policy_for(None), UrlPolicy::PublicHttpsOnly);
    }
}
