//! The partner application's own credentials (the operator-created secret).

use domain::Secret;
use serde::Deserialize;

/// The Concur application credentials secret (keys client_id, client_secret, app_base_url).
#[derive(Debug, Clone, Deserialize)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: Secret,
    /// The application's geolocation, e.g. `https://us.api.concursolutions.com`:
    /// only the Quick Connect exchange and application tokens go here; every
    /// company call goes to the token's own geolocation.
    pub app_base_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_secret_and_never_prints_the_client_secret() {
        let app: AppCredentials = serde_json::from_str(
            r#"{"client_id":"c","client_secret":"S3CRET","app_base_url":"https://us.api.concursolutions.com"}"#,
        )
        .unwrap();
        assert_eq!(app.client_secret.expose(), "S3CRET");
        assert!(!format!("{app:?}").contains("S3CRET"));
    }
}
