//! The keys of each ERP's credentials secret (`<stack>/connections/<id>/erp`).
//!
//! The operator writes that secret from a JSON file; checking the file's keys
//! here, next to the adapters that read them, keeps the two from drifting.
//! Errors name keys, never values: the values are secrets.

use domain::ErpKind;
use serde_json::Value;

/// The keys a credentials file for one ERP kind has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialKeys {
    /// Must be present, each a non-empty string.
    pub required: &'static [&'static str],
    /// May be present (strings or numbers); anything else is refused.
    pub optional: &'static [&'static str],
}

impl CredentialKeys {
    pub fn for_kind(kind: ErpKind) -> Self {
        match kind {
            // A connected application (SM303010) and its integration user.
            ErpKind::Acumatica => {
                Self { required: &["client_id", "client_secret", "username", "password"], optional: &[] }
            }
            // An IAM client with service accounts (client_credentials grant).
            ErpKind::IfsCloud => Self { required: &["client_id", "client_secret"], optional: &[] },
            // The `.ionapi` file as Infor's API Gateway downloads it; the
            // undocumented stamps (`dt`, `ev`, `v`) are accepted and ignored.
            ErpKind::Infor => Self {
                required: &["ti", "ci", "cs", "iu", "pu", "ot"],
                optional: &["cn", "dt", "oa", "or", "ev", "v", "saak", "sask"],
            },
        }
    }

    fn expected(&self) -> String {
        let mut keys: Vec<&str> = self.required.to_vec();
        keys.extend(self.optional.iter().copied());
        keys.join(", ")
    }
}

/// Why a credentials document was refused. Never contains a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("the {kind} credentials must be a JSON object with the keys {expected}")]
    NotAnObject { kind: ErpKind, expected: String },
    #[error("the {kind} credentials lack {missing} (expected keys: {expected})")]
    Missing { kind: ErpKind, missing: String, expected: String },
    #[error("the {kind} credentials have unknown keys {unknown} (expected keys: {expected}); remove them")]
    Unknown { kind: ErpKind, unknown: String, expected: String },
    #[error("the {kind} credentials' `{key}` must be a non-empty string")]
    NotText { kind: ErpKind, key: String },
}

/// Checks a credentials document for `kind`; returns its keys, sorted.
pub fn check_credentials(kind: ErpKind, value: &Value) -> Result<Vec<String>, CredentialsError> {
    let spec = CredentialKeys::for_kind(kind);
    let Some(object) = value.as_object() else {
        return Err(CredentialsError::NotAnObject { kind, expected: spec.expected() });
    };
    let unknown: Vec<String> = object
        .keys()
        .filter(|k| !spec.required.contains(&k.as_str()) && !spec.optional.contains(&k.as_str()))
        // A key name is not a secret, but keep a pasted value in key position short.
        .map(|k| format!("`{}`", domain::text::truncate(k, 40)))
        .collect();
    if !unknown.is_empty() {
        return Err(CredentialsError::Unknown { kind, unknown: unknown.join(", "), expected: spec.expected() });
    }
    let missing: Vec<String> =
        spec.required.iter().filter(|k| !object.contains_key(**k)).map(|k| format!("`{k}`")).collect();
    if !missing.is_empty() {
        return Err(CredentialsError::Missing { kind, missing: missing.join(", "), expected: spec.expected() });
    }
    for (key, v) in object {
        let ok = match v {
            Value::String(s) => !s.trim().is_empty(),
            Value::Number(_) => spec.optional.contains(&key.as_str()),
            _ => false,
        };
        if !ok {
            return Err(CredentialsError::NotText { kind, key: key.clone() });
        }
    }
    let mut keys: Vec<String> = object.keys().cloned().collect();
    keys.sort();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn acumatica_needs_its_four_keys_and_no_others() {
        let good = json!({"client_id": "G", "client_secret": "S", "username": "u", "password": "p"});
        assert_eq!(check_credentials(ErpKind::Acumatica, &good).unwrap().len(), 4);

        let missing = json!({"client_id": "G", "client_secret": "S", "username": "u"});
        let e = check_credentials(ErpKind::Acumatica, &missing).unwrap_err();
        assert!(e.to_string().contains("`password`"), "{e}");

        let extra = json!({"client_id": "G", "client_secret": "S", "username": "u", "password": "p", "tenant": "T"});
        let e = check_credentials(ErpKind::Acumatica, &extra).unwrap_err();
        assert!(matches!(e, CredentialsError::Unknown { .. }), "{e}");
    }

    #[test]
    fn values_must_be_text_and_are_never_echoed() {
        let empty = json!({"client_id": "G", "client_secret": "", "username": "u", "password": "hunter2"});
        let e = check_credentials(ErpKind::Acumatica, &empty).unwrap_err();
        assert_eq!(e, CredentialsError::NotText { kind: ErpKind::Acumatica, key: "client_secret".into() });
        let number = json!({"client_id": "G", "client_secret": 12, "username": "u", "password": "hunter2"});
        let e = check_credentials(ErpKind::Acumatica, &number).unwrap_err();
        assert!(!e.to_string().contains("hunter2") && !e.to_string().contains("12"), "{e}");
        assert!(matches!(
            check_credentials(ErpKind::IfsCloud, &json!(["a"])),
            Err(CredentialsError::NotAnObject { .. })
        ));
    }

    #[test]
    fn an_ionapi_file_is_accepted_as_downloaded() {
        let ionapi = json!({
            "ti": "ACME_TST", "cn": "ConcurConnector", "dt": 12, "ci": "ACME_TST~q", "cs": "Zk3",
            "iu": "https://mingle-ionapi.inforcloudsuite.com", "pu": "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/",
            "oa": "authorization.oauth2", "ot": "token.oauth2", "or": "revoke_token.oauth2", "ev": "U1", "v": "1.0",
            "saak": "ACME_TST#Mx8", "sask": "Hq0"
        });
        assert_eq!(check_credentials(ErpKind::Infor, &ionapi).unwrap().len(), 14);
    }
}
