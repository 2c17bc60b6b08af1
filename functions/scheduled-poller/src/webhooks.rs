//! The daily re-assert of the webhook subscriptions (EventBridge,
//! `{"run":"webhooks"}`): Concur deletes a subscription after 30 days of
//! failed deliveries, and nothing else would notice (polling still finds
//! every document, only later). Each run counts what was missing
//! (`WebhookSubscriptionsMissing`, 0 too) and puts every subscription back.

use concur::GrantStore;
use concur::webhooks::{Asserted, assert_subscriptions};
use platform::telemetry::{Metric, Unit, emit};

use crate::Poller;

/// Why the re-assert did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum WebhookCheckError {
    #[error("listing the connections for the webhook check failed: {0}")]
    Connections(#[from] platform::StoreError),
    #[error("re-asserting the webhook subscriptions failed: {source} ({advice}); the next daily run tries again")]
    Concur { source: concur::ConcurError, advice: &'static str },
}

/// Re-asserts the subscriptions; `None` when no connection is connected to
/// Concur (the subscriptions deliver nothing then, and none are made).
pub async fn reassert<S: GrantStore>(poller: &Poller<S>) -> Result<Option<Asserted>, WebhookCheckError> {
    let (connections, _unreadable) = poller.connections.list_readable().await?;
    if !connections.iter().any(|c| c.is_flowing()) {
        missing(0);
        return Ok(None);
    }
    let concur = |source: concur::ConcurError| WebhookCheckError::Concur { advice: source.advice(), source };
    let app = poller.tokens.app().await.map_err(concur)?;
    let asserted = assert_subscriptions(poller.tokens.client(), app, &poller.webhooks).await.map_err(concur)?;
    missing(asserted.missing.len());
    if asserted.missing.is_empty() {
        tracing::info!(subscribed = ?asserted.subscribed, not_offered = ?asserted.not_offered, "webhook subscriptions in place");
    } else {
        tracing::warn!(missing = ?asserted.missing, subscribed = ?asserted.subscribed,
            "webhook subscriptions were missing (Concur deletes one after 30 days of failed deliveries) and are back");
    }
    Ok(Some(asserted))
}

fn missing(count: usize) {
    emit(&Metric {
        name: "WebhookSubscriptionsMissing",
        unit: Unit::Count,
        value: count as f64,
        dimensions: &[],
        sets: &[&[]],
    });
}
