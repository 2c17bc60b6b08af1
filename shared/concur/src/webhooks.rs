//! This deployment's webhook subscriptions (ESS). They belong to the
//! application, not to a company: Quick Connect asserts them at every
//! connect, and the poller re-asserts them daily, because Concur deletes a
//! subscription after 30 days of failed deliveries and nothing else would
//! notice (polling still finds every document, only later).

use serde::Deserialize;

use crate::AppCredentials;
use crate::client::{ConcurClient, ConcurError, WebhookSubscription};

/// Topics subscribed by default. The invoice topic is not documented by
/// Concur; it is subscribed only where the application is offered it, and
/// invoices are polled either way.
pub const DEFAULT_TOPICS: [&str; 2] = ["public.concur.expense.report", "public.concur.invoice.paymentrequest"];

/// Which subscriptions this deployment wants, and where they deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPlan {
    /// Where ESS delivers webhooks (`…/concur/events`).
    pub events_url: String,
    /// Globally unique prefix of this deployment's subscription ids.
    pub subscription_prefix: String,
    pub topics: Vec<String>,
}

impl WebhookPlan {
    /// `topics`: a comma list (`CONCUR_EVENT_TOPICS`), or the defaults.
    pub fn new(events_url: String, subscription_prefix: String, topics: Option<&str>) -> Self {
        let topics = match topics {
            Some(list) => list.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect(),
            None => DEFAULT_TOPICS.iter().map(|t| (*t).to_owned()).collect(),
        };
        Self { events_url, subscription_prefix, topics }
    }

    /// `<prefix>.<topic without "public.concur.">`, in the alphabet ESS
    /// accepts (lower-case letters, digits, `.` and `-`).
    pub fn subscription_id(&self, topic: &str) -> String {
        let short = topic.strip_prefix("public.concur.").unwrap_or(topic);
        format!("{}.{short}", self.subscription_prefix)
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' { c } else { '-' })
            .collect()
    }
}

/// What asserting the subscriptions found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asserted {
    /// Topics subscribed (created or refreshed).
    pub subscribed: Vec<String>,
    /// Topics this deployment wants that Concur does not offer the application.
    pub not_offered: Vec<String>,
    /// Topics whose subscription was not there (or delivered elsewhere)
    /// before this assert re-created it.
    pub missing: Vec<String>,
}

/// A subscription as `GET /events/v4/subscriptions` lists it (what is read of it).
#[derive(Debug, Deserialize)]
struct Listed {
    id: String,
    #[serde(rename = "webHookConfig")]
    web_hook_config: Option<ListedConfig>,
}

#[derive(Debug, Deserialize)]
struct ListedConfig {
    endpoint: Option<String>,
}

/// Creates or refreshes every subscription of `plan` the application is
/// offered (PUT is idempotent), after noting which were missing.
pub async fn assert_subscriptions(
    concur: &ConcurClient,
    app: &AppCredentials,
    plan: &WebhookPlan,
) -> Result<Asserted, ConcurError> {
    let app_token = concur.app_token(app).await?;
    let offered = concur.event_topics(app, &app_token.access_token).await?;
    let listed: Vec<Listed> = concur.webhook_subscriptions(app, &app_token.access_token).await?;
    let mut asserted = Asserted::default();
    for topic in &plan.topics {
        if !offered.iter().any(|t| t == topic) {
            asserted.not_offered.push(topic.clone());
            continue;
        }
        let id = plan.subscription_id(topic);
        let present = listed.iter().any(|s| {
            s.id == id && s.web_hook_config.as_ref().and_then(|c| c.endpoint.as_deref()) == Some(&plan.events_url)
        });
        if !present {
            asserted.missing.push(topic.clone());
        }
        let subscription = WebhookSubscription {
            id,
            topic: topic.clone(),
            endpoint: plan.events_url.clone(),
            filter: ".*".to_owned(),
        };
        concur.put_webhook_subscription(app, &app_token.access_token, &subscription).await?;
        asserted.subscribed.push(topic.clone());
    }
    Ok(asserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_ids_fit_what_ess_accepts() {
        let plan = WebhookPlan::new(String::new(), "concur-erp-connector.eu-west-1.My_Stack".into(), None);
        assert_eq!(
            plan.subscription_id("public.concur.expense.report"),
            "concur-erp-connector.eu-west-1.my-stack.expense.report"
        );
        assert_eq!(plan.topics, DEFAULT_TOPICS);
        let plan = WebhookPlan::new(String::new(), "p".into(), Some(" public.test , ,public.concur.request"));
        assert_eq!(plan.topics, ["public.test", "public.concur.request"]);
    }
}
