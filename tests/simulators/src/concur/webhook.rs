//! ESS webhook deliveries as Concur makes them (events.md §5–§7): signed
//! notification bodies and their `Concur-Signature` header values.
//!
//! Signing uses the **test-only** key pair in `tests/fixtures/ess-test-key/`
//! (committed on purpose, see its README), with the scheme a genuine ESS
//! signature has: RSA-PSS, SHA-256, MGF1-SHA-256, maximum salt length (222
//! bytes for a 2048-bit key), base64 over the raw body bytes. Point the
//! connector at [`test_public_key_base64`] to accept these deliveries.

use base64::Engine as _;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::Sha256;

/// The test private key (PKCS#8 PEM). TEST ONLY: published in the repository.
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("../../../fixtures/ess-test-key/test-only-private-key.pem");

/// The test public key (SubjectPublicKeyInfo PEM).
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("../../../fixtures/ess-test-key/test-only-public-key.pem");

const TEST_PUBLIC_KEY_B64: &str = include_str!("../../../fixtures/ess-test-key/test-only-public-key.der.b64");

/// The test public key as base64 DER on one line: the format of the
/// template's `ConcurWebhookPublicKey` / `CONCUR_WEBHOOK_PUBLIC_KEY`.
pub fn test_public_key_base64() -> &'static str {
    TEST_PUBLIC_KEY_B64.trim()
}

/// The name of the header ESS puts the signature in.
pub const SIGNATURE_HEADER: &str = "Concur-Signature";

/// A company UUID for events (the sample's).
pub const SAMPLE_COMPANY: &str = "0ffa9ce0-f00b-408a-8344-8eaad502b0d7";

/// Signs webhook bodies the way ESS does.
#[derive(Clone)]
pub struct EssSigner {
    key: rsa::pss::SigningKey<Sha256>,
}

impl EssSigner {
    /// A signer with the committed test key and ESS's maximum salt length.
    ///
    /// Panics if the committed fixture is unreadable (a broken checkout).
    pub fn test_key() -> Self {
        match Self::from_pkcs8_pem(TEST_PRIVATE_KEY_PEM) {
            Ok(signer) => signer,
            Err(e) => panic!("tests/fixtures/ess-test-key/test-only-private-key.pem is unusable: {e}"),
        }
    }

    /// A signer with this PKCS#8 PEM private key and the maximum salt length.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, String> {
        let key = rsa::PrivateKey::from_pkcs8_pem(pem).map_err(|e| format!("not a PKCS#8 RSA private key: {e}"))?;
        let salt = max_salt_len(&key);
        Ok(Self { key: rsa::pss::SigningKey::new_with_salt_len(key, salt) })
    }

    /// The same key with another salt length (e.g. 32, the digest length,
    /// which some signers use instead of the maximum).
    pub fn with_salt_len(&self, salt_len: usize) -> Self {
        let key: &rsa::PrivateKey = self.key.as_ref();
        Self { key: rsa::pss::SigningKey::new_with_salt_len(key.clone(), salt_len) }
    }

    /// The salt length this signer uses.
    pub fn salt_len(&self) -> usize {
        self.key.salt_len()
    }

    /// The `Concur-Signature` header value for exactly these body bytes.
    pub fn sign(&self, body: &[u8]) -> String {
        let signature = self.key.sign(body);
        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
    }

    /// Serializes a notification (or array of them) and signs the bytes:
    /// `(body, Concur-Signature value)`.
    pub fn signed(&self, notification: &Value) -> (Vec<u8>, String) {
        let body = serde_json::to_vec(notification).unwrap_or_default();
        let signature = self.sign(&body);
        (body, signature)
    }
}

/// `emLen - hLen - 2`, with `emLen = ceil((modBits - 1) / 8)` (RFC 8017 §9.1.1).
fn max_salt_len(key: &rsa::PrivateKey) -> usize {
    let em_bits = (key.n().bit_width() as usize).saturating_sub(1);
    em_bits.div_ceil(8).saturating_sub(32 + 2)
}

/// The expense report status changes a connector cares about (events.md §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatusChange {
    /// The processor final-approved it: FIS now has it READY (`A_APPR`/`P_PROC`).
    ApprovedReady,
    /// Sent back or recalled (`A_RESU`, step `SENDBACK`).
    SentBack,
    /// Paid (`P_PAID`, step `PAIDREPORT`).
    Paid,
}

/// One `public.concur.expense.report` `statusChanged` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpenseStatusChanged {
    pub event_id: String,
    pub company: String,
    pub report_id: String,
    pub change: ReportStatusChange,
}

impl ExpenseStatusChanged {
    /// A notification with a fresh event id.
    pub fn new(company: &str, report_id: &str, change: ReportStatusChange) -> Self {
        Self {
            event_id: uuid::Uuid::new_v4().to_string(),
            company: company.to_owned(),
            report_id: report_id.to_owned(),
            change,
        }
    }

    /// Approved and ready for payment (what the connector queues).
    pub fn approved(company: &str, report_id: &str) -> Self {
        Self::new(company, report_id, ReportStatusChange::ApprovedReady)
    }

    pub fn sent_back(company: &str, report_id: &str) -> Self {
        Self::new(company, report_id, ReportStatusChange::SentBack)
    }

    pub fn paid(company: &str, report_id: &str) -> Self {
        Self::new(company, report_id, ReportStatusChange::Paid)
    }

    /// The same notification under a given event id (a redelivery keeps its id).
    pub fn with_event_id(mut self, event_id: &str) -> Self {
        self.event_id = event_id.to_owned();
        self
    }

    /// The notification as ESS sends it (shape of the documented sample).
    pub fn to_json(&self) -> Value {
        let (previous_approval, approval, previous_payment, payment, step) = match self.change {
            ReportStatusChange::ApprovedReady => ("A_ACCO", "A_APPR", "P_NOTP", "P_PROC", Value::from("EXRTREADY")),
            ReportStatusChange::SentBack => ("A_PEND", "A_RESU", "P_NOTP", "P_NOTP", Value::from("SENDBACK")),
            ReportStatusChange::Paid => ("A_APPR", "A_APPR", "P_PROC", "P_PAID", Value::from("PAIDREPORT")),
        };
        let user = "13fa626b-9563-4013-886c-9fd730545277";
        json!({
            "id": self.event_id,
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "eventType": "statusChanged",
            "topic": "public.concur.expense.report",
            "timeStamp": now_rfc3339(),
            "subtopic": self.company,
            "facts": {
                "currentApprovalStatus": approval,
                "companyId": self.company,
                "reportId": self.report_id,
                "stepCode": step,
                "currentPaymentStatus": payment,
                "previousApprovalStatus": previous_approval,
                "actingUserId": null,
                "href": format!(
                    "https://us.api.concursolutions.com/expensereports/v4/users/{user}/context/TRAVELER/reports/{}",
                    self.report_id
                ),
                "userId": user,
                "previousPaymentStatus": previous_payment,
            }
        })
    }

    /// `(body bytes, Concur-Signature value)` signed by `signer`.
    pub fn signed(&self, signer: &EssSigner) -> (Vec<u8>, String) {
        signer.signed(&self.to_json())
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;

    fn public_key() -> rsa::PublicKey {
        rsa::PublicKey::from_public_key_pem(TEST_PUBLIC_KEY_PEM).unwrap()
    }

    #[test]
    fn the_test_key_signs_with_the_maximum_salt_like_ess() {
        let signer = EssSigner::test_key();
        assert_eq!(signer.salt_len(), 222, "2048-bit key: 256 - 32 - 2");
        let (body, header) = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "1B5A6194DFB047DAB0BD").signed(&signer);
        let signature = base64::engine::general_purpose::STANDARD.decode(header).unwrap();
        let signature = rsa::pss::Signature::try_from(signature.as_slice()).unwrap();
        let max = rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(public_key(), 222);
        assert!(max.verify(&body, &signature).is_ok());
        let digest_len = rsa::pss::VerifyingKey::<Sha256>::new(public_key());
        assert!(digest_len.verify(&body, &signature).is_err(), "a salt = hash length verifier rejects it");
    }

    #[test]
    fn the_base64_public_key_is_the_pem_key() {
        let der = base64::engine::general_purpose::STANDARD.decode(test_public_key_base64()).unwrap();
        assert_eq!(rsa::PublicKey::from_public_key_der(&der).unwrap(), public_key());
    }

    #[test]
    fn notifications_have_the_documented_shape() {
        let sent_back = ExpenseStatusChanged::sent_back(SAMPLE_COMPANY, "R1").with_event_id("e-1").to_json();
        assert_eq!(sent_back["id"], "e-1");
        assert_eq!(sent_back["facts"]["stepCode"], "SENDBACK");
        assert_eq!(sent_back["subtopic"], SAMPLE_COMPANY);
        let paid = ExpenseStatusChanged::paid(SAMPLE_COMPANY, "R1").to_json();
        assert_eq!(paid["facts"]["currentPaymentStatus"], "P_PAID");
        let a = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1");
        assert_ne!(a.event_id, ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").event_id, "fresh ids");
    }
}
