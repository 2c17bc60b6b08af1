//! The `/oauth2/v0/token` response and error shapes.

use domain::Secret;
use serde::{Deserialize, Deserializer};

/// A successful token response (password, refresh or client-credentials grant).
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: Secret,
    /// Seconds; Concur documents it both as `"3600"` and `3600`.
    #[serde(deserialize_with = "number_or_string")]
    pub expires_in: u64,
    /// Absent for client-credentials (application) tokens.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// Absolute expiry of the refresh token, Unix epoch seconds (not a duration).
    #[serde(default, deserialize_with = "optional_number_or_string")]
    pub refresh_expires_in: Option<u64>,
    /// Base URL of the company's datacenter: the host for every later call.
    pub geolocation: String,
    #[serde(default)]
    pub scope: Option<String>,
}

/// A 4xx token error: `{"code": 5, "error": "invalid_grant", ...}` (code may be quoted).
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct TokenError {
    #[serde(default, deserialize_with = "optional_number_or_string")]
    pub code: Option<u64>,
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
    /// Present with code 16 "user lives elsewhere": retry there.
    #[serde(default)]
    pub geolocation: Option<String>,
}

impl TokenError {
    /// The refresh token or request token is dead: a human must reconnect.
    pub fn needs_reconnect(&self) -> bool {
        self.error == "invalid_grant"
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(u64),
    String(String),
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match NumberOrString::deserialize(d)? {
        NumberOrString::Number(n) => Ok(n),
        NumberOrString::String(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

fn optional_number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<NumberOrString>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrString::Number(n)) => Ok(Some(n)),
        Some(NumberOrString::String(s)) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_documented_examples() {
        let company_auth = r#"{"expires_in":"3600","scope":"app_scopes","token_type":"Bearer","access_token":"access_token","refresh_token":"refresh_token","geolocation":"https://us.api.concursolutions.com"}"#;
        let t: TokenResponse = serde_json::from_str(company_auth).unwrap();
        assert_eq!(t.expires_in, 3600);
        assert_eq!(t.refresh_expires_in, None);
        let tmc = r#"{"expires_in":3600,"scope":"openid","token_type":"Bearer","access_token":"BYx","refresh_token":"a95c","refresh_expires_in":1517039403,"id_token":"4n7","geolocation":"https://us.api.Concursolutions.com"}"#;
        let t: TokenResponse = serde_json::from_str(tmc).unwrap();
        assert_eq!(t.refresh_expires_in, Some(1_517_039_403));
        assert_eq!(t.refresh_token.unwrap().expose(), "a95c");
    }

    #[test]
    fn token_values_never_print() {
        let t: TokenResponse = serde_json::from_str(
            r#"{"expires_in":1,"access_token":"SECRET-A","refresh_token":"SECRET-R","geolocation":"https://x"}"#,
        )
        .unwrap();
        let printed = format!("{t:?}");
        assert!(!printed.contains("SECRET"), "{printed}");
    }

    #[test]
    fn errors_with_quoted_or_numeric_codes() {
        let e: TokenError = serde_json::from_str(
            r#"{"code":"108","error":"invalid_grant","error_description":"bad or expired refresh token"}"#,
        )
        .unwrap();
        assert_eq!(e.code, Some(108));
        assert!(e.needs_reconnect());
        let e: TokenError = serde_json::from_str(
            r#"{"code":16,"error":"invalid_request","geolocation":"https://emea.api.concursolutions.com"}"#,
        )
        .unwrap();
        assert_eq!(e.geolocation.as_deref(), Some("https://emea.api.concursolutions.com"));
        assert!(!e.needs_reconnect());
    }
}
