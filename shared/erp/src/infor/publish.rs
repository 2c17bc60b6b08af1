//! Publishing one BOD through the ION Messaging Service (reference §4):
//! `POST {base}/IONSERVICES/api/ion/messaging/service/v3/multipartMessage`
//! with a `ParameterRequest` JSON part and the `MessagePayload`.
//!
//! A 2xx means ION accepted the message for routing, not that the ERP posted
//! it. 429 and 5xx are retried by the transport with the **same** message
//! (same BODID, messageId, DocumentID and variationID: ION and the ERP drop
//! a repeat), as is a timeout. 409 is taken as "already have it" [DEFAULT
//! per reference §8].

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use serde_json::json;
use transport::Idempotency;

use super::bod::{self, Bod, BodSettings};
use super::{InforClient, InforError, error_message};

/// The IMS method used, below the API base.
pub const PUBLISH_PATH: &str = "IONSERVICES/api/ion/messaging/service/v3/multipartMessage";
/// Payloads above this are sent zlib-deflated (`encoding` `DEFLATE`) [DEFAULT client, reference §6].
pub const DEFLATE_ABOVE: usize = 256 * 1024;
const BOUNDARY: &str = "ConcurConnectorIonBoundary";

/// A BOD ION accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentBod {
    pub bod_id: String,
    pub document_id: String,
    pub message_id: String,
    /// `Process.SupplierInvoice`, …
    pub document_name: String,
    pub variation: bod::Variation,
    pub part: usize,
    pub parts: usize,
    /// Size of the BOD (before any compression).
    pub bytes: usize,
    /// `NONE` or `DEFLATE`.
    pub encoding: &'static str,
    /// ION answered 409: it already had this message.
    pub duplicate: bool,
    /// `ion:<DocumentID>:<variation>`.
    pub reference: String,
    /// Not sent: the ERP accepted this part earlier, under `reference`.
    pub kept: bool,
}

impl SentBod {
    /// `bod` as ION accepted it (`encoding`; `duplicate`: answered 409).
    fn sent(bod: &bod::Bod, encoding: &'static str, duplicate: bool) -> Self {
        Self {
            bod_id: bod.bod_id.clone(),
            document_id: bod.document_id.clone(),
            message_id: bod.message_id.clone(),
            document_name: bod.document_name.to_string(),
            variation: bod.variation,
            part: bod.part,
            parts: bod.parts,
            bytes: bod.xml.len(),
            encoding,
            duplicate,
            reference: bod::reference(&bod.document_id, bod.variation),
            kept: false,
        }
    }

    /// A part not sent again because the ERP accepted it earlier as `reference`.
    pub fn kept(bod: &bod::Bod, reference: &str) -> Self {
        Self { bytes: 0, reference: reference.to_owned(), kept: true, ..Self::sent(bod, "NONE", false) }
    }
}

/// The `ParameterRequest` part.
fn parameters(settings: &BodSettings, bod: &Bod, encoding: &str) -> serde_json::Value {
    json!({
        "documentName": bod.document_name.to_string(),
        "fromLogicalId": settings.logical_id,
        "toLogicalId": settings.to_logical_id,
        "messageId": bod.message_id,
        "encoding": encoding,
        "characterSet": "UTF-8",
        "accountingEntity": settings.accounting_entity,
        "documentId": bod.document_id,
        "variationId": bod.variation.0,
    })
}

/// The payload as sent, and its `encoding`.
pub(super) fn payload(xml: &str) -> (Vec<u8>, &'static str) {
    if xml.len() <= DEFLATE_ABOVE {
        return (xml.as_bytes().to_vec(), "NONE");
    }
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(xml.len() / 4), Compression::default());
    encoder.write_all(xml.as_bytes()).expect("compressing into memory cannot fail");
    (encoder.finish().expect("compressing into memory cannot fail"), "DEFLATE")
}

/// A `multipart/form-data` body and its boundary (one that does not occur
/// in the parts; deterministic, so a resend is byte-identical).
pub(super) fn multipart(parameters: &[u8], payload: &[u8]) -> (Vec<u8>, String) {
    let contains = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    let mut boundary = BOUNDARY.to_owned();
    let mut n = 0u32;
    while contains(payload, boundary.as_bytes()) || contains(parameters, boundary.as_bytes()) {
        n += 1;
        boundary = format!("{BOUNDARY}{n}");
    }
    let mut body = Vec::with_capacity(payload.len() + parameters.len() + 400);
    let mut part = |name: &str, filename: &str, content_type: &str, content: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part("ParameterRequest", "ParameterRequest.json", "application/json", parameters);
    part("MessagePayload", "payload.xml", "application/octet-stream", payload);
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (body, boundary)
}

impl InforClient {
    /// Publishes one rendered BOD.
    pub async fn publish(&self, settings: &BodSettings, bod: &Bod) -> Result<SentBod, InforError> {
        let (payload, encoding) = payload(&bod.xml);
        let parameters = parameters(settings, bod, encoding).to_string();
        let (body, boundary) = multipart(parameters.as_bytes(), &payload);
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let url = format!("{}/{PUBLISH_PATH}", self.api_base());
        let what = "publishing a BOD to ION";
        // Safe to repeat: the same BOD again is dropped by ION as a repeat.
        let response = self
            .send_authorized(what, Idempotency::Safe, |c, token| {
                c.post(&url)
                    .bearer_auth(token)
                    .header(reqwest::header::CONTENT_TYPE, &content_type)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .body(body.clone())
            })
            .await?;
        let status = response.status().as_u16();
        let document = || format!("BOD {} ({} part {} of {})", bod.bod_id, bod.document_name, bod.part, bod.parts);
        let duplicate = status == 409;
        if !(response.status().is_success() || duplicate) {
            let body = transport::bounded_text(response).await;
            return Err(match status {
                400 => InforError::BadRequest {
                    document: document(),
                    document_name: bod.document_name.to_string(),
                    logical_id: settings.logical_id.clone(),
                    message: error_message(&body),
                },
                403 => InforError::Forbidden {
                    what,
                    message: error_message(&body),
                    fix: "IMS only accepts messages from the authorized app bound to the connection point: bind \
                          this .ionapi file's app to the connection point in ION Desk, or download the bound app's \
                          file",
                },
                404 => InforError::NotFound {
                    what,
                    url,
                    fix: "check `iu` and `ti` in the .ionapi file and that the tenant has ION Messaging Service",
                },
                413 => {
                    InforError::TooLarge { document: document(), bytes: payload.len(), max: settings.max_message_bytes }
                }
                _ => InforError::Rejected { status, what, message: error_message(&body) },
            });
        }
        if duplicate {
            tracing::info!(service = "infor", bod_id = %bod.bod_id, "ION already had this message (409); taken as sent");
        }
        Ok(SentBod::sent(bod, encoding, duplicate))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn small_payloads_go_plain_and_large_ones_deflated() {
        let small = "<X>".to_owned() + &"a".repeat(1000) + "</X>";
        assert_eq!(payload(&small), (small.as_bytes().to_vec(), "NONE"));
        let large = "<X>".to_owned() + &"line ".repeat(DEFLATE_ABOVE / 4) + "</X>";
        let (bytes, encoding) = payload(&large);
        assert_eq!(encoding, "DEFLATE");
        assert!(bytes.len() < large.len() / 10);
        let mut inflated = String::new();
        flate2::read::ZlibDecoder::new(bytes.as_slice()).read_to_string(&mut inflated).unwrap();
        assert_eq!(inflated, large);
    }

    #[test]
    fn the_multipart_body_has_both_parts_and_a_boundary_not_in_them() {
        let payload = format!("<X>--{BOUNDARY}</X>");
        let (body, boundary) = multipart(b"{\"a\":1}", payload.as_bytes());
        assert_eq!(boundary, format!("{BOUNDARY}1"));
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"ParameterRequest\"; \
                 filename=\"ParameterRequest.json\"\r\nContent-Type: application/json\r\n\r\n{{\"a\":1}}\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"MessagePayload\"; \
                 filename=\"payload.xml\"\r\nContent-Type: application/octet-stream\r\n\r\n{payload}\r\n\
                 --{boundary}--\r\n"
            )
        );
    }
}
