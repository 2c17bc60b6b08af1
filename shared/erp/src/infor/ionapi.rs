//! The `.ionapi` credential file (reference §1): what Infor OS's API Gateway
//! downloads for an authorized app of type Backend Service with a service
//! account. The connection keeps it as one JSON secret.

use domain::Secret;
use serde::{Deserialize, Deserializer, de::Error as _};
use serde_json::Value;

/// The keys [`IonApi::validate`] insists on, in the file's usual order.
const REQUIRED: [&str; 8] = ["ti", "ci", "cs", "iu", "pu", "ot", "saak", "sask"];

/// A customer's `.ionapi` file. `Debug` shows no secret (`cs`, `saak` and
/// `sask` are [`Secret`]s).
///
/// Deserializing is lenient about *missing* keys (they become empty) so that
/// [`IonApi::validate`] can explain everything wrong with a file at once;
/// values must be text (numbers are accepted for the opaque stamps).
#[derive(Debug, Clone, Deserialize)]
pub struct IonApi {
    /// Tenant identifier, e.g. `ACME_TST`.
    #[serde(default, deserialize_with = "text")]
    pub ti: String,
    /// The authorized app's name.
    #[serde(default, deserialize_with = "text")]
    pub cn: String,
    /// OAuth client id, `<ti>~<random>`.
    #[serde(default, deserialize_with = "text")]
    pub ci: String,
    /// OAuth client secret.
    #[serde(default = "no_secret", deserialize_with = "secret")]
    pub cs: Secret,
    /// ION API Gateway base URL (no tenant).
    #[serde(default, deserialize_with = "text")]
    pub iu: String,
    /// Authorization-server base URL, ending with `/`.
    #[serde(default, deserialize_with = "text")]
    pub pu: String,
    /// Authorize path (after `pu`).
    #[serde(default, deserialize_with = "text")]
    pub oa: String,
    /// Token path (after `pu`).
    #[serde(default, deserialize_with = "text")]
    pub ot: String,
    /// Revoke path (after `pu`).
    #[serde(default, rename = "or", deserialize_with = "text")]
    pub or: String,
    /// Environment stamp (opaque).
    #[serde(default, deserialize_with = "text")]
    pub ev: String,
    /// Service-account access key, already prefixed `<ti>#`: the OAuth `username`.
    #[serde(default = "no_secret", deserialize_with = "secret")]
    pub saak: Secret,
    /// Service-account secret key: the OAuth `password`.
    #[serde(default = "no_secret", deserialize_with = "secret")]
    pub sask: Secret,
    /// Undocumented; ignored.
    #[serde(default, deserialize_with = "optional_text")]
    pub dt: Option<String>,
    /// File format version.
    #[serde(default, deserialize_with = "optional_text")]
    pub v: Option<String>,
}

fn no_secret() -> Secret {
    Secret::new("")
}

/// A string (or number) value; the error names no value (it may be a secret).
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok(String::new()),
        _ => Err(D::Error::custom("every .ionapi value must be text")),
    }
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    text(d).map(Secret::new)
}

fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d).map(|s| Some(s).filter(|s| !s.is_empty()))
}

/// Everything wrong with a `.ionapi` file, worded without its values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.join("; "))]
pub struct IonApiProblems {
    pub problems: Vec<String>,
}

impl IonApi {
    /// Reads a file's JSON text. The error names keys, never values.
    pub fn from_json(text: &str) -> Result<Self, IonApiProblems> {
        let value: Value = serde_json::from_str(text).map_err(|e| IonApiProblems {
            // serde_json's syntax errors carry a position, not the text.
            problems: vec![format!("it is not JSON ({} at line {} column {})", kind(&e), e.line(), e.column())],
        })?;
        Self::from_value(&value)
    }

    /// Reads the file from its parsed JSON (e.g. a Secrets Manager blob).
    pub fn from_value(value: &Value) -> Result<Self, IonApiProblems> {
        let Some(object) = value.as_object() else {
            return Err(IonApiProblems { problems: vec!["it must be a JSON object".into()] });
        };
        let bad: Vec<String> = object
            .iter()
            .filter(|(_, v)| !matches!(v, Value::String(_) | Value::Number(_) | Value::Null))
            .map(|(k, _)| format!("`{}` must be text", domain::text::truncate(k, 40)))
            .collect();
        if !bad.is_empty() {
            return Err(IonApiProblems { problems: bad });
        }
        Self::deserialize(value).map_err(|_| IonApiProblems { problems: vec!["its values must be text".into()] })
    }

    /// `pu + ot`, e.g. `https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/token.oauth2`.
    pub fn token_url(&self) -> String {
        format!("{}{}", self.pu.trim(), self.ot.trim())
    }

    /// `iu + "/" + ti`: every API call goes below it (no trailing slash).
    pub fn api_base(&self) -> String {
        format!("{}/{}", self.iu.trim().trim_end_matches('/'), self.ti.trim())
    }

    /// Explains everything that keeps this file from working, or `Ok`.
    /// Names keys and the tenant id, never a value.
    pub fn validate(&self) -> Result<(), IonApiProblems> {
        let mut problems = Vec::new();
        let values: [(&str, &str); 8] = [
            ("ti", &self.ti),
            ("ci", &self.ci),
            ("cs", self.cs.expose()),
            ("iu", &self.iu),
            ("pu", &self.pu),
            ("ot", &self.ot),
            ("saak", self.saak.expose()),
            ("sask", self.sask.expose()),
        ];
        let missing: Vec<String> = REQUIRED
            .iter()
            .filter(|key| values.iter().any(|(k, v)| k == *key && v.trim().is_empty()))
            .map(|k| format!("`{k}`"))
            .collect();
        if !missing.is_empty() {
            let mut problem = format!("it lacks {}", missing.join(", "));
            if self.saak.expose().trim().is_empty() && self.sask.expose().trim().is_empty() {
                problem.push_str(
                    " (a file without saak/sask belongs to an app without a service account: switch on \
                     \"Create Service Account\" when downloading the credentials)",
                );
            }
            problems.push(problem);
        }
        let ti = self.ti.trim();
        if !self.pu.trim().is_empty() && !self.pu.trim().ends_with('/') {
            problems.push("`pu` must end with `/` (the token URL is pu followed by ot)".into());
        }
        if self.ot.trim().starts_with('/') {
            problems.push("`ot` must not start with `/` (it is appended to pu, which ends with one)".into());
        }
        for (key, url) in [("iu", self.iu.trim()), ("pu", self.pu.trim())] {
            if !url.is_empty() && !is_web_url(url) {
                problems.push(format!("`{key}` is not an http(s) URL"));
            }
        }
        if !ti.is_empty() {
            let saak = self.saak.expose().trim();
            if !saak.is_empty() && !saak.starts_with(&format!("{ti}#")) {
                problems.push(format!(
                    "`saak` does not start with the tenant `{ti}#` (a service-account access key always does: \
                     is the file from another tenant, or was the key edited?)"
                ));
            }
            let ci = self.ci.trim();
            if !ci.is_empty() && !ci.starts_with(&format!("{ti}~")) {
                problems.push(format!(
                    "`ci` does not start with the tenant `{ti}~` (an ION API client id always does: is the file \
                     from another tenant, or was the id edited?)"
                ));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(IonApiProblems { problems }) }
    }
}

fn is_web_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

fn kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "it ends too early",
        _ => "a syntax error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file() -> Value {
        json!({
            "ti": "ACME_TST", "cn": "ConcurConnector", "dt": 12, "ci": "ACME_TST~q4dG", "cs": "Zk3-client-secret",
            "iu": "https://mingle-ionapi.inforcloudsuite.com",
            "pu": "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/",
            "oa": "authorization.oauth2", "ot": "token.oauth2", "or": "revoke_token.oauth2", "ev": "U147858101",
            "v": "1.0", "saak": "ACME_TST#Mx8-access", "sask": "Hq0-secret-key"
        })
    }

    #[test]
    fn a_downloaded_file_reads_and_validates() {
        let ionapi = IonApi::from_value(&file()).unwrap();
        ionapi.validate().unwrap();
        assert_eq!(ionapi.token_url(), "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/token.oauth2");
        assert_eq!(ionapi.api_base(), "https://mingle-ionapi.inforcloudsuite.com/ACME_TST");
        assert_eq!(ionapi.dt.as_deref(), Some("12"));
        assert_eq!(ionapi.or, "revoke_token.oauth2");
        let text = serde_json::to_string(&file()).unwrap();
        assert_eq!(IonApi::from_json(&text).unwrap().ci, "ACME_TST~q4dG");
    }

    #[test]
    fn debug_prints_no_secret() {
        let shown = format!("{:?}", IonApi::from_value(&file()).unwrap());
        for secret in ["Zk3-client-secret", "Mx8-access", "Hq0-secret-key"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("ACME_TST~q4dG"), "the client id is not a secret: {shown}");
    }

    #[test]
    fn validation_explains_every_problem_without_values() {
        let mut broken = file();
        let object = broken.as_object_mut().unwrap();
        object.remove("cs");
        object.remove("ot");
        object.insert("pu".into(), json!("https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as"));
        object.insert("saak".into(), json!("OTHER#Mx8-access"));
        object.insert("ci".into(), json!("OTHER~q4dG"));
        let problems = IonApi::from_value(&broken).unwrap().validate().unwrap_err();
        let text = problems.to_string();
        assert_eq!(problems.problems.len(), 4, "{text}");
        assert!(text.contains("lacks `cs`, `ot`"), "{text}");
        assert!(text.contains("`pu` must end with `/`"), "{text}");
        assert!(text.contains("`saak` does not start with the tenant `ACME_TST#`"), "{text}");
        assert!(text.contains("`ci` does not start with the tenant `ACME_TST~`"), "{text}");
        for value in ["Mx8-access", "q4dG", "OTHER"] {
            assert!(!text.contains(value), "{text}");
        }
    }

    #[test]
    fn a_client_credentials_file_is_told_to_get_a_service_account() {
        let mut object = file();
        object.as_object_mut().unwrap().retain(|k, _| !["saak", "sask"].contains(&k.as_str()));
        let text = IonApi::from_value(&object).unwrap().validate().unwrap_err().to_string();
        assert!(text.contains("lacks `saak`, `sask`") && text.contains("Create Service Account"), "{text}");
    }

    #[test]
    fn non_text_values_are_refused_by_key() {
        let mut object = file();
        object.as_object_mut().unwrap().insert("cs".into(), json!({"nested": "hunter2"}));
        let text = IonApi::from_value(&object).unwrap_err().to_string();
        assert_eq!(text, "`cs` must be text");
        let text = IonApi::from_json("{\"cs\": \"hunter2\"").unwrap_err().to_string();
        assert!(text.starts_with("it is not JSON") && !text.contains("hunter2"), "{text}");
    }
}
