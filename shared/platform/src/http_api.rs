//! API Gateway HTTP API (payload 2.0) helpers shared by the HTTP functions.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use http::{HeaderMap, HeaderValue, header};
use lambda_runtime::{LambdaEvent, service_fn};

/// Serves API Gateway requests with `handler` until the runtime stops: the
/// loop of every HTTP function's `main.rs`.
pub async fn serve<H, F>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(ApiGatewayV2httpRequest) -> F,
    F: Future<Output = ApiGatewayV2httpResponse>,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
        Ok::<_, lambda_runtime::Error>(handler(event.payload).await)
    }))
    .await
}

/// A response with a body and content type.
pub fn response(status: u16, content_type: &'static str, body: String) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // These pages and answers are per request; never let a proxy keep them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut r = ApiGatewayV2httpResponse::default();
    r.status_code = i64::from(status);
    r.headers = headers;
    r.body = Some(Body::Text(body));
    r.is_base64_encoded = false;
    r
}

/// The raw body bytes exactly as sent (API Gateway base64-encodes binary
/// bodies); signatures are verified over these bytes, never a re-encoding.
pub fn raw_body(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, &'static str> {
    let Some(body) = request.body.as_deref() else {
        return Ok(Vec::new());
    };
    if request.is_base64_encoded {
        base64_decode(body).ok_or("the body is marked base64 but is not valid base64")
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// One query parameter, first value; accepts alternative spellings.
pub fn query_param<'a>(request: &'a ApiGatewayV2httpRequest, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| request.query_string_parameters.first(n))
}

fn base64_decode(input: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(input.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_rejects_garbage() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("eyJhIjoxfQ==").unwrap(), br#"{"a":1}"#);
        assert!(base64_decode("a$==").is_none());
        assert!(base64_decode("abc").is_none());
    }
}
