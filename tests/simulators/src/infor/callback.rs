//! Pushing outcome BODs to a tenant's callback the way ION calls an IMS
//! application endpoint (reference §5.5): `POST {url}/v3/multipartMessage`
//! with `X-TenantId` and the parts `ParameterRequest` + `MessagePayload`.
//!
//! Each processed message's outcomes go out in order on one spawned task;
//! a non-2xx answer or transport error is retried [`MAX_ATTEMPTS`] times in
//! all with a short doubling pause. [`super::InforSim::flush_callbacks`]
//! waits for every task.

use std::time::Duration;

use serde_json::json;

use super::InforSim;
use super::multipart::{self, Part};
use super::state::{CallbackDelivery, DeliveryState, OutboundMessage};

/// Attempts per outcome (first try included).
pub const MAX_ATTEMPTS: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_millis(25);

/// Records the deliveries as pending and spawns the task pushing them.
pub(crate) fn schedule(sim: &InforSim, ti: &str, callback: &str, messages: Vec<OutboundMessage>) {
    if messages.is_empty() {
        return;
    }
    let url = format!("{}/v3/multipartMessage", callback.trim_end_matches('/'));
    {
        let mut state = sim.lock();
        let tenant = state.tenant_mut(ti);
        for m in &messages {
            tenant.deliveries.push(CallbackDelivery {
                message_id: m.message_id.clone(),
                document_name: m.document_name.clone(),
                url: url.clone(),
                attempts: 0,
                state: DeliveryState::Pending,
            });
        }
    }
    let task_sim = sim.clone();
    let ti = ti.to_owned();
    let handle = tokio::spawn(async move {
        for message in messages {
            deliver(&task_sim, &ti, &url, &message).await;
        }
    });
    sim.pending_pushes().push(handle);
}

async fn deliver(sim: &InforSim, ti: &str, url: &str, message: &OutboundMessage) {
    let parameters = json!({
        "documentName": message.document_name,
        "fromLogicalId": message.from_logical_id,
        "toLogicalId": message.to_logical_id,
        "messageId": message.message_id,
        "encoding": "NONE",
        "characterSet": "UTF-8",
    });
    let boundary = multipart::new_boundary();
    let body = multipart::build(
        &boundary,
        &[
            Part::file("ParameterRequest", "ParameterRequest.json", "application/json", parameters.to_string()),
            Part::file("MessagePayload", "payload.xml", "application/octet-stream", message.xml.clone()),
        ],
    );
    let token = sim.lock().tenant(ti).callback_token.clone();
    let mut pause = FIRST_PAUSE;
    for attempt in 1..=MAX_ATTEMPTS {
        let mut request = sim
            .http()
            .post(url)
            .header("X-TenantId", ti)
            .header(reqwest::header::CONTENT_TYPE, multipart::content_type(&boundary));
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        let result = request.body(body.clone()).send().await;
        let state = match result {
            Ok(response) if response.status().is_success() => {
                DeliveryState::Delivered { status: response.status().as_u16() }
            }
            Ok(response) => DeliveryState::Failed { last_error: format!("HTTP {}", response.status().as_u16()) },
            Err(e) => DeliveryState::Failed { last_error: e.to_string() },
        };
        let done = matches!(state, DeliveryState::Delivered { .. });
        let final_state = if done || attempt == MAX_ATTEMPTS { state } else { DeliveryState::Pending };
        {
            let mut guard = sim.lock();
            let tenant = guard.tenant_mut(ti);
            if let Some(d) = tenant.deliveries.iter_mut().find(|d| d.message_id == message.message_id) {
                d.attempts = attempt;
                d.state = final_state;
            }
        }
        if done {
            return;
        }
        if attempt < MAX_ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
}
