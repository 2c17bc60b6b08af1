//! Warm-handler benchmark: the real handler (real RSA-PSS verification, JSON
//! parsing, work item and message group) over in-memory ports, as a warm
//! Lambda container runs it. Prints time per request (median, p99, max)
//! and heap use from a counting global allocator.
//!
//! `cargo bench -p event-intake` (optionally `-- <requests per case>`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use concur::events::WebhookVerifier;
use domain::{CompanyUuid, ConcurrencyLevel, Connection, ConnectionId, ConnectionStatus, ErpSettings, InforSettings};
use event_intake::{AuditEntry, AuditSink, ConnectionLookup, Intake, WorkSender};
use platform::StoreError;
use platform::queue::Outgoing;
use simulators::concur::webhook::{EssSigner, ExpenseStatusChanged, SAMPLE_COMPANY, test_public_key_base64};

#[path = "../../../shared/domain/benches/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "../../../shared/domain/benches/support/summary.rs"]
mod summary;
use counting_alloc::{ALLOCATED, ALLOCATIONS, LIVE, PEAK, PROCESS_PEAK};

/// One connection, a queue and an audit trail that only count (so the
/// benchmark measures the handler, not a growing fake).
struct Ports {
    connection: Connection,
    sent: AtomicUsize,
    recorded: AtomicUsize,
}

impl ConnectionLookup for &Ports {
    async fn find_by_company(&self, company: &CompanyUuid) -> Result<Option<Connection>, StoreError> {
        Ok((self.connection.company_uuid.as_ref() == Some(company)).then(|| self.connection.clone()))
    }

    async fn slot_owner(&self, connection: &Connection) -> Result<(ConnectionId, ConcurrencyLevel), StoreError> {
        Ok((connection.connection_id.clone(), connection.concurrency_level))
    }
}

impl WorkSender for &Ports {
    async fn send(&self, message: &Outgoing) -> Result<(), StoreError> {
        // The real sender serializes the item; so does this one.
        std::hint::black_box(message.item.to_json());
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl AuditSink for &Ports {
    async fn record(&self, entry: AuditEntry) -> Result<(), StoreError> {
        std::hint::black_box(entry);
        self.recorded.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn request(body: &[u8], signature: &str) -> ApiGatewayV2httpRequest {
    let mut r = ApiGatewayV2httpRequest::default();
    r.body = Some(String::from_utf8_lossy(body).into_owned());
    r.headers.insert("concur-signature", signature.parse().expect("base64 is a valid header value"));
    r
}

struct Measured {
    times: Vec<Duration>,
    allocations: usize,
    allocated: usize,
    peak_above_start: usize,
}

fn run(
    runtime: &tokio::runtime::Runtime,
    intake: &Intake<&Ports, &Ports, &Ports>,
    requests: Vec<ApiGatewayV2httpRequest>,
    expect: i64,
) -> Measured {
    let count = requests.len();
    let mut times = Vec::with_capacity(count);
    let start_live = LIVE.load(Ordering::Relaxed);
    PEAK.store(start_live, Ordering::Relaxed);
    let (allocations, allocated) = (ALLOCATIONS.load(Ordering::Relaxed), ALLOCATED.load(Ordering::Relaxed));
    runtime.block_on(async {
        for request in requests {
            let started = Instant::now();
            let response = event_intake::handle(intake, request).await;
            times.push(started.elapsed());
            assert_eq!(response.status_code, expect, "{:?}", response.body);
        }
    });
    Measured {
        times,
        allocations: (ALLOCATIONS.load(Ordering::Relaxed) - allocations) / count,
        allocated: (ALLOCATED.load(Ordering::Relaxed) - allocated) / count,
        peak_above_start: PEAK.load(Ordering::Relaxed).saturating_sub(start_live),
    }
}

/// Prints a case's line; its median, in µs.
fn print(name: &str, mut m: Measured) -> f64 {
    m.times.sort();
    let at = |q: f64| m.times[((m.times.len() - 1) as f64 * q).round() as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name:<34} n={:<5} median {:>7.1} µs  p99 {:>7.1} µs  max {:>7.1} µs  {:>4} allocs/req  {:>6} B/req  peak heap +{} KiB",
        m.times.len(),
        us(at(0.5)),
        us(at(0.99)),
        us(at(1.0)),
        m.allocations,
        m.allocated,
        m.peak_above_start / 1024,
    );
    us(at(0.5))
}

fn main() {
    // `cargo bench` passes `--bench`; a number sets the requests per case.
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a tokio runtime");

    let mut connection = Connection::new(
        ConnectionId::parse("acme").expect("valid id"),
        "Acme",
        Some(ErpSettings::Infor(InforSettings::default())),
        "2026-11-01T00:00:00Z",
    );
    connection.company_uuid = CompanyUuid::parse(SAMPLE_COMPANY).ok();
    connection.status = ConnectionStatus::Active;
    connection.geolocation = Some("https://us.api.concursolutions.com".into());
    connection.concurrency_level = ConcurrencyLevel::new(5).expect("valid level");
    let ports = Ports { connection, sent: AtomicUsize::new(0), recorded: AtomicUsize::new(0) };
    let verifier = WebhookVerifier::from_public_key(test_public_key_base64()).expect("the test key loads");
    let intake = Intake { verifier, connections: &ports, queue: &ports, audit: &ports };
    let signer = EssSigner::test_key();

    // Signing is a private-key operation (slow): prepare every body first.
    let approved: Vec<_> = (0..n + 200)
        .map(|i| {
            let (body, signature) = ExpenseStatusChanged::approved(SAMPLE_COMPANY, &format!("R{i:08}")).signed(&signer);
            request(&body, &signature)
        })
        .collect();
    let (sent_back_body, sent_back_sig) = ExpenseStatusChanged::sent_back(SAMPLE_COMPANY, "R1").signed(&signer);
    let (forged_body, _) = ExpenseStatusChanged::approved(SAMPLE_COMPANY, "R1").signed(&signer);
    let forged_sig = signer.sign(b"another body");

    let before = LIVE.load(Ordering::Relaxed);
    println!("event-intake warm handler, {n} requests per case (body ~{} bytes)", sent_back_body.len());
    let (warm_up, approved) = approved.split_at(200);
    run(&runtime, &intake, warm_up.to_vec(), 202);
    let queued = print("approved report → queued (202)", run(&runtime, &intake, approved.to_vec(), 202));
    let ignored = (0..n).map(|_| request(&sent_back_body, &sent_back_sig)).collect();
    print("sent back → ignored (200)", run(&runtime, &intake, ignored, 200));
    let forged = (0..n).map(|_| request(&forged_body, &forged_sig)).collect();
    let refused = print("forged signature → 401", run(&runtime, &intake, forged, 401));
    // The reference: a forged delivery costs the signature check and the refusal, the floor of any request.
    summary::record(
        "intake",
        "webhook → queued, warm handler, median µs",
        queued,
        "µs",
        Some(("forged signature → 401, median µs", refused)),
        None,
    );
    println!(
        "queued {} work items, {} audit records; process heap peak {} KiB (the prepared requests held {} KiB)",
        ports.sent.load(Ordering::Relaxed),
        ports.recorded.load(Ordering::Relaxed),
        PROCESS_PEAK.load(Ordering::Relaxed) / 1024,
        before / 1024,
    );
}
