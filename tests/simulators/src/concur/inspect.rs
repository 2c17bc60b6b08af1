//! Test-side inspection of what the simulator handed out.

use super::ConcurSim;

impl ConcurSim {
    /// Every credential this simulator ever issued or knows: the app's
    /// client secret, request tokens, refresh tokens (live or dead) and
    /// access tokens. Tests scan logs, pages, tables and queues for them.
    pub fn issued_credentials(&self) -> Vec<String> {
        let state = self.lock();
        let mut all = vec![state.app.client_secret.clone()];
        all.extend(state.request_tokens.keys().cloned());
        all.extend(state.refresh_tokens.keys().cloned());
        all.extend(state.access_tokens.keys().cloned());
        all
    }
}
