//! ion-inbox served over HTTP on loopback, the way API Gateway would call
//! it: the Infor simulator pushes its acknowledgements and ConfirmBODs here.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use ion_inbox::Inbox;
use simulators::RunningSimulator;
use std::sync::Arc;

use crate::TestStack;

/// The inbox of `stack` behind `http://127.0.0.1:<port>/ion/...`.
pub async fn serve_inbox(stack: &TestStack) -> RunningSimulator {
    let inbox = Inbox::from_env(&stack.env_of("IonInboxFunction"), &stack.aws()).expect("ion-inbox wires");
    let router = Router::new().fallback(forward).with_state(Arc::new(inbox));
    simulators::spawn(router, 0).await.expect("the inbox server starts")
}

/// An HTTP request as API Gateway's payload 2.0, handled, and back.
async fn forward(State(inbox): State<Arc<Inbox>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    let mut event = ApiGatewayV2httpRequest::default();
    event.raw_path = Some(parts.uri.path().to_owned());
    event.request_context.http.method = parts.method.clone();
    event.headers = parts.headers.clone();
    event.body = Some(base64::engine::general_purpose::STANDARD.encode(&bytes));
    event.is_base64_encoded = true;
    let answer = ion_inbox::handle(&inbox, event).await;
    let status = axum::http::StatusCode::from_u16(u16::try_from(answer.status_code).unwrap_or(500))
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let text = match answer.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => t,
        _ => String::new(),
    };
    (status, Body::from(text)).into_response()
}
