//! Response bodies are read as a stream and refused past a limit: a
//! misconfigured URL, a hostile server or a broken proxy must not make a
//! Lambda buffer hundreds of megabytes (or run out of memory) before any
//! check runs.

use crate::TransportError;

/// The most any API answer may be. Concur's and the ERPs' largest answers
/// (a page of FI documents, a master-data list) are a few MiB at most.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How much of an error body is read for messages: the rest is dropped.
pub const ERROR_BODY_BYTES: usize = 4096;

/// The whole body, refused with [`TransportError::TooLarge`] past
/// [`MAX_BODY_BYTES`] (announced by `Content-Length` or counted while
/// streaming).
pub async fn read_body(service: &'static str, response: reqwest::Response) -> Result<Vec<u8>, TransportError> {
    read_body_within(service, response, MAX_BODY_BYTES).await
}

/// As [`read_body`] with another limit.
pub async fn read_body_within(
    service: &'static str,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, TransportError> {
    let too_large = || TransportError::TooLarge { service, limit };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| TransportError::Other { service, message: format!("the answer's body could not be read: {e}") })?
    {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body as JSON, read within [`MAX_BODY_BYTES`]. The parse error is
/// positional only (bodies may hold tokens).
pub async fn read_json<T: serde::de::DeserializeOwned>(
    service: &'static str,
    response: reqwest::Response,
) -> Result<T, TransportError> {
    let body = read_body(service, response).await?;
    serde_json::from_slice(&body).map_err(|e| TransportError::Other {
        service,
        message: format!("the answer is not the expected JSON (line {} column {})", e.line(), e.column()),
    })
}

/// At most [`ERROR_BODY_BYTES`] of an error body, for messages and the
/// audit trail; the rest is never read.
pub async fn bounded_text(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = ERROR_BODY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= ERROR_BODY_BYTES {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return format!("(body unreadable: {e})"),
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}
