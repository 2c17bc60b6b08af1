//! ESS webhooks (events.md §5–§8): checking the `Concur-Signature` header and
//! reading a notification into what intake should do with it. Pure: no AWS,
//! no HTTP; `event-intake` does the I/O.
//!
//! Signature scheme (events.md §7, as observed in Concur's own sample): the
//! header is base64 of an RSA-PSS signature (SHA-256, MGF1-SHA-256) over the
//! raw body bytes, with the *maximum* salt length (222 bytes for a 2048-bit
//! key). A verifier that insists on salt = hash length rejects every genuine
//! delivery, so both lengths are accepted: maximum first, then 32 bytes
//! (what some PSS signers use). Only public-key operations happen here.

use base64::Engine as _;
use domain::{CompanyUuid, ConcurDocumentId, DocumentType};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::pss::{Signature, VerifyingKey};
use rsa::signature::hazmat::PrehashVerifier;
use rsa::traits::PublicKeyParts;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The request header carrying the signature (HTTP headers are case-insensitive).
pub const SIGNATURE_HEADER: &str = "concur-signature";
/// The documented expense report topic.
pub const EXPENSE_REPORT_TOPIC: &str = "public.concur.expense.report";
/// The invoice topic: not documented by Concur (events.md §4).
pub const PAYMENT_REQUEST_TOPIC: &str = "public.concur.invoice.paymentrequest";
/// Approval status of a report the processor final-approved.
pub const APPROVED: &str = "A_APPR";
/// Payment status of a report FIS holds READY ("Processing Payment").
pub const PROCESSING_PAYMENT: &str = "P_PROC";

const SHA256_LEN: usize = 32;
/// Concur's key is RSA 2048; anything weaker is a configuration mistake.
const MIN_KEY_BITS: u32 = 2048;

// Lenient on padding only: the alphabet is standard base64 either way.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The configured webhook public key is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is neither PEM nor base64 DER on one line ({0})")]
    Encoding(String),
    #[error("the key is not an RSA public key (SubjectPublicKeyInfo or PKCS#1): {0}")]
    NotRsa(String),
    #[error("the key has {bits} bits; Concur signs with RSA 2048, so at least 2048 are required")]
    TooSmall { bits: u32 },
}

/// Why a delivery's signature was refused. None of these says which part of
/// the computation failed beyond what the sender already knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Concur-Signature header is missing")]
    Missing,
    #[error("the Concur-Signature header is empty")]
    Empty,
    #[error("the Concur-Signature header is not base64")]
    NotBase64,
    #[error("the Concur-Signature is {got} bytes long; signatures by the configured key are {expected}")]
    WrongLength { expected: usize, got: usize },
    #[error(
        "the Concur-Signature does not match the body under the configured key (a forged or altered request, \
         or Concur rotated its key: compare CONCUR_WEBHOOK_PUBLIC_KEY with Concur's published key)"
    )]
    Mismatch,
}

/// Checks `Concur-Signature` headers against one public key.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    max_salt: VerifyingKey<Sha256>,
    digest_salt: VerifyingKey<Sha256>,
    signature_len: usize,
}

impl WebhookVerifier {
    /// From the key as configured: base64 DER on one line (the template's
    /// `ConcurWebhookPublicKey`), or PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`).
    pub fn from_public_key(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        let key = if text.starts_with("-----BEGIN") {
            if text.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
                rsa::PublicKey::from_pkcs1_pem(text).map_err(|e| KeyError::NotRsa(e.to_string()))?
            } else {
                rsa::PublicKey::from_public_key_pem(text).map_err(|e| KeyError::NotRsa(e.to_string()))?
            }
        } else {
            // Tolerate a key pasted with line breaks.
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = BASE64.decode(compact).map_err(|e| KeyError::Encoding(e.to_string()))?;
            return Self::from_der(&der);
        };
        Self::from_key(key)
    }

    /// From a DER SubjectPublicKeyInfo (or, failing that, PKCS#1 RSAPublicKey).
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = match rsa::PublicKey::from_public_key_der(der) {
            Ok(key) => key,
            Err(spki) => rsa::PublicKey::from_pkcs1_der(der).map_err(|_| KeyError::NotRsa(spki.to_string()))?,
        };
        Self::from_key(key)
    }

    fn from_key(key: rsa::PublicKey) -> Result<Self, KeyError> {
        let bits = key.n().bit_width();
        if bits < MIN_KEY_BITS {
            return Err(KeyError::TooSmall { bits });
        }
        let signature_len = key.size();
        // RFC 8017 §9.1.1: emLen = ceil((modBits - 1) / 8); max salt = emLen - hLen - 2.
        let em_len = (bits as usize - 1).div_ceil(8);
        let max_salt = em_len - SHA256_LEN - 2;
        Ok(Self {
            max_salt: VerifyingKey::new_with_salt_len(key.clone(), max_salt),
            digest_salt: VerifyingKey::new_with_salt_len(key, SHA256_LEN),
            signature_len,
        })
    }

    /// The salt length a genuine ESS signature by this key carries.
    pub fn max_salt_len(&self) -> usize {
        self.max_salt.salt_len().unwrap_or(SHA256_LEN)
    }

    /// Verifies a `Concur-Signature` header value over the raw body bytes
    /// (exactly as received: never a re-serialization).
    pub fn verify(&self, header_value: &str, raw_body: &[u8]) -> Result<(), SignatureError> {
        let value = header_value.trim();
        if value.is_empty() {
            return Err(SignatureError::Empty);
        }
        let bytes = BASE64.decode(value).map_err(|_| SignatureError::NotBase64)?;
        if bytes.len() != self.signature_len {
            return Err(SignatureError::WrongLength { expected: self.signature_len, got: bytes.len() });
        }
        let signature = Signature::try_from(bytes.as_slice()).map_err(|_| SignatureError::Mismatch)?;
        let digest = Sha256::digest(raw_body);
        if self.max_salt.verify_prehash(&digest, &signature).is_ok()
            || self.digest_salt.verify_prehash(&digest, &signature).is_ok()
        {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// One delivered notification (events.md §5). Unknown fields are ignored;
/// every field is optional here and checked where it is used.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Unique event id (for logs and the audit; duplicates are collapsed by document instead).
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
    /// Expense: the company UUID; other topics: unspecified.
    #[serde(default)]
    pub subtopic: Option<String>,
    #[serde(default)]
    pub time_stamp: Option<String>,
    /// Topic-specific content; the docs' schema table spells it `Facts`.
    #[serde(default, alias = "Facts")]
    pub facts: Value,
}

/// `facts` of an expense report `statusChanged` (events.md §5.1), the fields
/// intake reads; the rest are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpenseReportFacts {
    #[serde(default)]
    pub company_id: Option<String>,
    #[serde(default)]
    pub report_id: Option<String>,
    #[serde(default)]
    pub current_approval_status: Option<String>,
    #[serde(default)]
    pub current_payment_status: Option<String>,
    #[serde(default)]
    pub previous_approval_status: Option<String>,
    #[serde(default)]
    pub previous_payment_status: Option<String>,
    #[serde(default)]
    pub step_code: Option<String>,
}

/// The body could not be read as notifications.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the body must be a notification object or an array of them, not {0}")]
    NotObject(&'static str),
    #[error("the body is an empty array: it holds no notification")]
    Empty,
    #[error("notification {index} is malformed: {message}")]
    Shape { index: usize, message: String },
}

/// Reads a body holding one notification object or an array of them (ESS
/// sends one per request in every sample; the docs do not rule out more).
pub fn parse_notifications(body: &[u8]) -> Result<Vec<Notification>, NotificationError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| NotificationError::NotJson(e.to_string()))?;
    let items = match value {
        Value::Object(_) => vec![value],
        Value::Array(items) if items.is_empty() => return Err(NotificationError::Empty),
        Value::Array(items) => items,
        Value::Null => return Err(NotificationError::NotObject("null")),
        Value::Bool(_) => return Err(NotificationError::NotObject("a boolean")),
        Value::Number(_) => return Err(NotificationError::NotObject("a number")),
        Value::String(_) => return Err(NotificationError::NotObject("a string")),
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            if !item.is_object() {
                return Err(NotificationError::Shape { index, message: "it is not a JSON object".into() });
            }
            Notification::deserialize(item).map_err(|e| NotificationError::Shape { index, message: e.to_string() })
        })
        .collect()
}

/// A document a notification asks the connector to pick up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentEvent {
    pub company: CompanyUuid,
    pub document_type: DocumentType,
    /// The Concur business id (`reportId`; the FI API's `docId` accepts it).
    pub document_id: ConcurDocumentId,
}

/// What intake should do with one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Queue this document for the company's connection.
    Queue(DocumentEvent),
    /// Nothing to do (a status or topic the connector does not act on): 2xx.
    Ignore { company: Option<CompanyUuid>, reason: String },
    /// Cannot be acted on as sent: 4xx (ESS does not retry) and audited.
    Malformed { company: Option<CompanyUuid>, reason: String },
}

impl Notification {
    /// Decides what intake does with this notification.
    pub fn action(&self) -> Action {
        match self.topic.as_deref() {
            Some(t) if t.eq_ignore_ascii_case(EXPENSE_REPORT_TOPIC) => self.expense_report(),
            Some(t) if t.eq_ignore_ascii_case(PAYMENT_REQUEST_TOPIC) => self.payment_request(),
            Some(t) => Action::Ignore {
                company: self.subtopic_company(),
                reason: format!("topic `{}` is not one the connector acts on", bounded(t)),
            },
            None => {
                Action::Ignore { company: self.subtopic_company(), reason: "the notification names no topic".into() }
            }
        }
    }

    /// The event id for logs and the audit, bounded.
    pub fn event_id(&self) -> String {
        self.id.as_deref().map(bounded).unwrap_or_else(|| "(none)".into())
    }

    /// The topic for logs and the audit, bounded.
    pub fn topic_label(&self) -> String {
        self.topic.as_deref().map(bounded).unwrap_or_else(|| "(none)".into())
    }

    fn subtopic_company(&self) -> Option<CompanyUuid> {
        self.subtopic.as_deref().and_then(|s| CompanyUuid::parse(s).ok())
    }

    /// Queued only when the processor final-approved the report, which is
    /// when FIS holds it READY (events.md §5.1, derived). Every other status
    /// change is expected and ignored; the poll is the safety net.
    fn expense_report(&self) -> Action {
        if self.event_type.as_deref() != Some("statusChanged") {
            return Action::Ignore {
                company: self.subtopic_company(),
                reason: format!(
                    "expense report event type `{}` is not acted on",
                    self.event_type.as_deref().map(bounded).unwrap_or_default()
                ),
            };
        }
        let facts = match &self.facts {
            Value::Null => ExpenseReportFacts::default(),
            // serde reads a struct from an array too, field by field in
            // order: `["A_APPR"]` would become companyId `A_APPR`.
            other if !other.is_object() => {
                return Action::Malformed {
                    company: self.subtopic_company(),
                    reason: "its facts are malformed: they must be a JSON object".into(),
                };
            }
            other => match ExpenseReportFacts::deserialize(other) {
                Ok(facts) => facts,
                Err(e) => {
                    return Action::Malformed {
                        company: self.subtopic_company(),
                        reason: format!("its facts are malformed: {e}"),
                    };
                }
            },
        };
        let company = match facts.company_id.as_deref().or(self.subtopic.as_deref()) {
            None => {
                return Action::Malformed { company: None, reason: "it names no company (facts.companyId)".into() };
            }
            Some(raw) => match CompanyUuid::parse(raw) {
                Ok(company) => company,
                Err(e) => return Action::Malformed { company: None, reason: format!("facts.companyId: {e}") },
            },
        };
        let report = match facts.report_id.as_deref() {
            None => {
                return Action::Malformed {
                    company: Some(company),
                    reason: "it names no report (facts.reportId)".into(),
                };
            }
            Some(raw) => match ConcurDocumentId::parse(raw) {
                Ok(report) => report,
                Err(e) => return Action::Malformed { company: Some(company), reason: format!("facts.reportId: {e}") },
            },
        };
        let approval = facts.current_approval_status.as_deref().unwrap_or("");
        let payment = facts.current_payment_status.as_deref().unwrap_or("");
        if approval == APPROVED && payment == PROCESSING_PAYMENT {
            Action::Queue(DocumentEvent { company, document_type: DocumentType::Expense, document_id: report })
        } else {
            Action::Ignore {
                company: Some(company),
                reason: format!(
                    "expense report {report} is {}/{} (step {}), not approved and ready for payment",
                    bounded(approval),
                    bounded(payment),
                    facts.step_code.as_deref().map(bounded).unwrap_or_else(|| "none".into())
                ),
            }
        }
    }

    /// The invoice topic is undocumented: act only when the facts plainly
    /// name a company and a payment request; anything else is ignored (not
    /// refused), since we cannot know the topic's real shape. The poll
    /// covers invoices either way.
    fn payment_request(&self) -> Action {
        let fact = |name: &str| self.facts.get(name).and_then(Value::as_str);
        let company = fact("companyId").or(self.subtopic.as_deref()).and_then(|c| CompanyUuid::parse(c).ok());
        let request =
            fact("paymentRequestId").or_else(|| fact("requestId")).and_then(|id| ConcurDocumentId::parse(id).ok());
        match (company, request) {
            (Some(company), Some(document_id)) => {
                Action::Queue(DocumentEvent { company, document_type: DocumentType::Invoice, document_id })
            }
            (company, _) => Action::Ignore {
                company,
                reason: "payment request event without a usable company id and request id (undocumented topic)".into(),
            },
        }
    }
}

/// At most 100 characters of a sender-supplied string, for logs and the audit.
fn bounded(s: &str) -> String {
    domain::text::truncate(s, 100).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use simulators::concur::webhook::{self, EssSigner, ExpenseStatusChanged, SAMPLE_COMPANY};

    const SAMPLE: &[u8] = include_bytes!("../../../tests/fixtures/ess-test-key/sample-notification.json");
    const OPENSSL_MAX_SALT: &str =
        include_str!("../../../tests/fixtures/ess-test-key/sample-notification.sig-max-salt.b64");
    const OPENSSL_DIGEST_SALT: &str =
        include_str!("../../../tests/fixtures/ess-test-key/sample-notification.sig-digest-salt.b64");
    /// Concur's published key (events.md §7), PEM.
    const CONCUR_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxS1LsXrEWEEMPooLHa4r
osCAnmkO3HaBAk0YcsDMR6hQeuQNLqRWP65TpbfTbKWmZ22Hzep3Ekhs1qvSZgI+
iq/bnVeDhkcD+LqVQGP+7fyE0E0bO96FOzMmtbRet4wAiiE9+uw5GmZfg+fRG3yI
y2N5u5p7VHJ1RwNugrIUQjhrLvZc+lhqR/aKTxQCQ5CGAgLZIcr3FIWCWrSBMK3d
Wy3KI+qe3ZX0STrCCNxl2UFnuuAa2RZZ2j4QtWHlNkyK+UEup+cGkvpc1XrT7anL
HlbTP6jE7MqB5sJ9r2EEzrJzJZjD13UqlzvI61tTC8SKpuk5AEaSsUV7RKlKUCjB
8wIDAQAB
-----END PUBLIC KEY-----";

    fn test_verifier() -> WebhookVerifier {
        WebhookVerifier::from_public_key(webhook::test_public_key_base64()).unwrap()
    }

    /// Found by the bad-input corpus: facts sent as an array were read
    /// positionally and refused as "company UUID `A_APPR` is invalid".
    #[test]
    fn facts_that_are_not_an_object_are_named_as_such() {
        let mut event = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").to_json();
        event["facts"] = serde_json::json!(["A_APPR", SAMPLE_COMPANY, "R1"]);
        let notification = Notification::deserialize(&event).unwrap();
        match notification.action() {
            Action::Malformed { reason, .. } => assert!(reason.contains("must be a JSON object"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accepts_openssl_signatures_with_the_maximum_and_the_digest_salt() {
        let verifier = test_verifier();
        assert_eq!(verifier.max_salt_len(), 222);
        assert_eq!(verifier.verify(OPENSSL_MAX_SALT, SAMPLE), Ok(()));
        assert_eq!(verifier.verify(OPENSSL_DIGEST_SALT, SAMPLE), Ok(()));
    }

    #[test]
    fn accepts_what_the_simulated_ess_signs_with_either_salt() {
        let verifier = test_verifier();
        let signer = EssSigner::test_key();
        let (body, header) = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").signed(&signer);
        assert_eq!(verifier.verify(&header, &body), Ok(()));
        let digest_salt = signer.with_salt_len(32);
        assert_eq!(verifier.verify(&digest_salt.sign(&body), &body), Ok(()));
        // Padding-free base64 and surrounding spaces are tolerated.
        assert_eq!(verifier.verify(&format!(" {} ", header.trim_end_matches('=')), &body), Ok(()));
    }

    #[test]
    fn rejects_an_altered_body_a_wrong_key_and_garbage() {
        let verifier = test_verifier();
        let mut altered = SAMPLE.to_vec();
        let at = altered.iter().position(|b| *b == b'P').unwrap();
        altered[at] = b'Q';
        assert_eq!(verifier.verify(OPENSSL_MAX_SALT, &altered), Err(SignatureError::Mismatch));
        // One trailing byte (a re-serialization would do worse).
        let mut longer = SAMPLE.to_vec();
        longer.push(b'\n');
        assert_eq!(verifier.verify(OPENSSL_MAX_SALT, &longer), Err(SignatureError::Mismatch));

        let concur = WebhookVerifier::from_public_key(CONCUR_KEY_PEM).unwrap();
        assert_eq!(concur.verify(OPENSSL_MAX_SALT, SAMPLE), Err(SignatureError::Mismatch));

        assert_eq!(verifier.verify("not base64 at all!", SAMPLE), Err(SignatureError::NotBase64));
        assert_eq!(verifier.verify("c2hvcnQ=", SAMPLE), Err(SignatureError::WrongLength { expected: 256, got: 5 }));
        assert_eq!(verifier.verify("", SAMPLE), Err(SignatureError::Empty));
        assert_eq!(verifier.verify("   ", SAMPLE), Err(SignatureError::Empty));
        // 256 bytes that are no signature (and one ≥ n, out of range).
        let zeros = base64::engine::general_purpose::STANDARD.encode([0u8; 256]);
        assert_eq!(verifier.verify(&zeros, SAMPLE), Err(SignatureError::Mismatch));
        let ones = base64::engine::general_purpose::STANDARD.encode([0xffu8; 256]);
        assert_eq!(verifier.verify(&ones, SAMPLE), Err(SignatureError::Mismatch));
    }

    #[test]
    fn keys_load_from_base64_der_and_pem_and_bad_keys_are_explained() {
        let pem = WebhookVerifier::from_public_key(webhook::TEST_PUBLIC_KEY_PEM).unwrap();
        assert_eq!(pem.verify(OPENSSL_MAX_SALT, SAMPLE), Ok(()));
        // The template's default: Concur's key as base64 DER on one line.
        let one_line: String = CONCUR_KEY_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(WebhookVerifier::from_public_key(&one_line).is_ok());
        assert_eq!(WebhookVerifier::from_public_key("  ").unwrap_err(), KeyError::Empty);
        assert!(matches!(WebhookVerifier::from_public_key("not a key!"), Err(KeyError::Encoding(_))));
        assert!(matches!(WebhookVerifier::from_public_key("aGVsbG8="), Err(KeyError::NotRsa(_))));
        let cut = &one_line[..one_line.len() / 2];
        assert!(WebhookVerifier::from_public_key(cut).is_err());
    }

    #[test]
    fn the_documented_sample_parses_and_is_queued() {
        let notifications = parse_notifications(SAMPLE).unwrap();
        assert_eq!(notifications.len(), 1);
        let n = &notifications[0];
        assert_eq!(n.id.as_deref(), Some("3eabdcbf-07df-4acd-99de-7f5aef0f673d"));
        assert_eq!(n.correlation_id.as_deref(), Some("Viswa-test"));
        assert_eq!(n.event_type.as_deref(), Some("statusChanged"));
        assert_eq!(n.time_stamp.as_deref(), Some("2021-03-19T00:37:39.550Z"));
        assert_eq!(
            n.action(),
            Action::Queue(DocumentEvent {
                company: CompanyUuid::parse(SAMPLE_COMPANY).unwrap(),
                document_type: DocumentType::Expense,
                document_id: ConcurDocumentId::parse("1B5A6194DFB047DAB0BD").unwrap(),
            })
        );
    }

    #[test]
    fn bodies_are_one_object_or_an_array_with_unknown_fields_tolerated() {
        let one = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").to_json();
        let two = serde_json::json!([one, ExpenseStatusChanged::paid(SAMPLE_COMPANY, "R2").to_json()]);
        assert_eq!(parse_notifications(two.to_string().as_bytes()).unwrap().len(), 2);
        let extra = r#"{"id":"x","topic":"public.test","data":null,"transactionTimestamp":"t","arrayOfThings":[1]}"#;
        assert_eq!(parse_notifications(extra.as_bytes()).unwrap()[0].id.as_deref(), Some("x"));
        let capital = r#"{"topic":"public.concur.expense.report","eventType":"statusChanged",
            "Facts":{"companyId":"0ffa9ce0-f00b-408a-8344-8eaad502b0d7","reportId":"R9",
            "currentApprovalStatus":"A_APPR","currentPaymentStatus":"P_PROC"}}"#;
        assert!(matches!(parse_notifications(capital.as_bytes()).unwrap()[0].action(), Action::Queue(_)));

        assert!(matches!(parse_notifications(b"{not json"), Err(NotificationError::NotJson(_))));
        assert_eq!(parse_notifications(b"42"), Err(NotificationError::NotObject("a number")));
        assert_eq!(parse_notifications(b"[]"), Err(NotificationError::Empty));
        assert!(matches!(parse_notifications(b"[{}, 3]"), Err(NotificationError::Shape { index: 1, .. })));
        assert!(matches!(parse_notifications(br#"{"id": 5}"#), Err(NotificationError::Shape { index: 0, .. })));
    }

    fn action_of(json: serde_json::Value) -> Action {
        parse_notifications(json.to_string().as_bytes()).unwrap().remove(0).action()
    }

    fn with_facts(change: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
        let mut n = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").to_json();
        change(&mut n);
        n
    }

    #[test]
    fn only_approved_reports_ready_for_payment_are_queued() {
        let company = Some(CompanyUuid::parse(SAMPLE_COMPANY).unwrap());
        assert!(matches!(action_of(ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").to_json()), Action::Queue(_)));
        for other in [
            ExpenseStatusChanged::sent_back(SAMPLE_COMPANY, "R1").to_json(),
            ExpenseStatusChanged::paid(SAMPLE_COMPANY, "R1").to_json(),
            with_facts(|n| n["facts"]["currentPaymentStatus"] = "P_NOTP".into()),
            with_facts(|n| n["facts"]["currentApprovalStatus"] = "A_PEND".into()),
            with_facts(|n| n["facts"]["currentApprovalStatus"] = serde_json::Value::Null),
        ] {
            match action_of(other) {
                Action::Ignore { company: c, reason } => {
                    assert_eq!(c, company);
                    assert!(reason.contains("expense report R1"), "{reason}");
                }
                a => panic!("expected ignore, got {a:?}"),
            }
        }
        assert!(matches!(action_of(with_facts(|n| n["eventType"] = "reportDeleted".into())), Action::Ignore { .. }));
        assert!(matches!(action_of(with_facts(|n| n["topic"] = "public.test".into())), Action::Ignore { .. }));
        assert!(matches!(
            action_of(with_facts(|n| n["topic"] = "public.concur.request".into())),
            Action::Ignore { .. }
        ));
    }

    #[test]
    fn the_company_comes_from_the_facts_or_else_the_subtopic() {
        let other = "8568a4cd-8ffc-49d6-9417-be2d69aa075f";
        let from_facts = action_of(with_facts(|n| n["subtopic"] = other.into()));
        assert!(matches!(from_facts, Action::Queue(d) if d.company.as_str() == SAMPLE_COMPANY));
        let from_subtopic = action_of(with_facts(|n| {
            n["facts"].as_object_mut().unwrap().remove("companyId");
            n["subtopic"] = other.into();
        }));
        assert!(matches!(from_subtopic, Action::Queue(d) if d.company.as_str() == other));
    }

    #[test]
    fn a_missing_or_invalid_company_or_report_is_malformed() {
        let cases = [
            (with_facts(|n| n["facts"]["companyId"] = "not-a-uuid".into()), "facts.companyId"),
            (
                with_facts(|n| {
                    n["facts"].as_object_mut().unwrap().remove("companyId");
                    n.as_object_mut().unwrap().remove("subtopic");
                }),
                "no company",
            ),
            (with_facts(|n| n["facts"]["reportId"] = "1B5A-6194".into()), "facts.reportId"),
            (with_facts(|n| n["facts"]["reportId"] = serde_json::Value::Null), "no report"),
            (with_facts(|n| n["facts"]["reportId"] = 42.into()), "facts are malformed"),
            // No facts: the company falls back to the subtopic; the report is missing.
            (with_facts(|n| n["facts"] = serde_json::Value::Null), "no report"),
        ];
        for (notification, expected) in cases {
            match action_of(notification) {
                Action::Malformed { reason, .. } => assert!(reason.contains(expected), "{reason} / {expected}"),
                a => panic!("expected malformed ({expected}), got {a:?}"),
            }
        }
        let bad_report = action_of(with_facts(|n| n["facts"]["reportId"] = "x".repeat(40).into()));
        assert!(matches!(bad_report, Action::Malformed { company: Some(_), .. }));
    }

    #[test]
    fn payment_request_events_are_queued_only_when_they_name_company_and_request() {
        let event = |facts: serde_json::Value| serde_json::json!({"id": "e", "topic": PAYMENT_REQUEST_TOPIC, "eventType": "statusChanged", "facts": facts});
        let queued = action_of(event(serde_json::json!({"companyId": SAMPLE_COMPANY, "requestId": "ABC123"})));
        assert!(matches!(queued, Action::Queue(d) if d.document_type == DocumentType::Invoice
            && d.document_id.as_str() == "ABC123"));
        let alt = action_of(event(serde_json::json!({"companyId": SAMPLE_COMPANY, "paymentRequestId": "P9"})));
        assert!(matches!(alt, Action::Queue(d) if d.document_id.as_str() == "P9"));
        for facts in [
            serde_json::json!({"companyId": SAMPLE_COMPANY}),
            serde_json::json!({"requestId": "ABC123"}),
            serde_json::json!({"companyId": "nope", "requestId": "ABC123"}),
            serde_json::Value::Null,
        ] {
            assert!(matches!(action_of(event(facts)), Action::Ignore { .. }));
        }
    }

    #[test]
    fn labels_are_bounded() {
        let n = Notification { id: Some("x".repeat(10_000)), ..Default::default() };
        assert_eq!(n.event_id().len(), 100);
        assert_eq!(Notification::default().event_id(), "(none)");
    }
}
