//! event-intake: Concur Event Subscription Service webhooks
//! (`POST /concur/events`).
//!
//! Answer codes follow ESS's retry rules on purpose: a 2xx only once the work
//! is durably queued; 5xx/429/401/403 make ESS retry (for up to 72 hours);
//! any other 4xx tells it never to send that event again. This module owns
//! the checks that come before any work: body size and shape. Signature
//! verification and queueing plug in behind [`Intake`] (issue 4); until then
//! a well-formed event gets 503, so ESS keeps it and retries later — no
//! event is lost while intake is not deployed.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use platform::http_api::{raw_body, response};

/// Larger bodies are refused before parsing: ESS events are ~1 KB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the intake step did with a well-formed event.
pub enum IntakeOutcome {
    Queued,
    /// Intake is not deployed in this build: ESS should retry later.
    NotAvailable,
}

/// Verification and queueing behind the HTTP checks.
pub trait Intake {
    fn accept(
        &self,
        raw_body: &[u8],
        event: &serde_json::Value,
        request: &ApiGatewayV2httpRequest,
    ) -> impl std::future::Future<Output = IntakeOutcome> + Send;
}

fn json(status: u16, message: &str) -> ApiGatewayV2httpResponse {
    response(status, "application/json", serde_json::json!({ "message": message }).to_string())
}

/// Handles one webhook delivery.
pub async fn handle(intake: &impl Intake, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let body = match raw_body(&request) {
        Ok(b) => b,
        Err(problem) => return json(400, problem),
    };
    if body.len() > MAX_BODY_BYTES {
        tracing::warn!(bytes = body.len(), "refused an oversized event");
        return json(413, "the event body is larger than 64 KiB");
    }
    let event: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => v,
        Ok(_) => return json(400, "the event body must be a JSON object"),
        Err(e) => return json(400, &format!("the event body is not valid JSON: {e}")),
    };
    match intake.accept(&body, &event, &request).await {
        IntakeOutcome::Queued => json(202, "queued"),
        IntakeOutcome::NotAvailable => json(503, "event intake is not deployed yet; retry later"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NotYet;
    impl Intake for NotYet {
        async fn accept(&self, _: &[u8], _: &serde_json::Value, _: &ApiGatewayV2httpRequest) -> IntakeOutcome {
            IntakeOutcome::NotAvailable
        }
    }

    fn post(body: &str) -> ApiGatewayV2httpRequest {
        let mut r = ApiGatewayV2httpRequest::default();
        r.body = Some(body.to_owned());
        r
    }

    #[tokio::test]
    async fn malformed_and_oversized_bodies_are_refused_without_retry() {
        assert_eq!(handle(&NotYet, post("{not json")).await.status_code, 400);
        assert_eq!(handle(&NotYet, post("42")).await.status_code, 400);
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(handle(&NotYet, post(&big)).await.status_code, 413);
    }

    #[tokio::test]
    async fn a_well_formed_event_is_kept_for_retry_until_intake_is_deployed() {
        assert_eq!(
            handle(&NotYet, post(r#"{"id":"3eabdcbf","topic":"public.concur.expense.report"}"#)).await.status_code,
            503
        );
    }
}
