//! erp-poster: consumes the FIFO work queue and reports partial batch
//! failures, so one document's transient failure never redelivers the rest.
//!
//! Per work item the pipeline is: claim in the ledger → fetch → acknowledge →
//! normalize → map → validate → post → record → confirm (see README, "How a
//! document flows"). The steps arrive behind [`DocumentPipeline`]; this
//! module owns the batch semantics that do not change with the pipeline:
//! malformed messages are recorded and dropped (they would fail forever and
//! block their FIFO group), permanent failures are recorded and dropped,
//! retryable ones are reported back to SQS for redelivery.

pub mod erp_clients;
mod metrics;
pub mod pipeline;
pub mod purchase_orders;
pub mod reference_sync;
mod setup;

use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use domain::reference::ReferenceKind;
use domain::{ErpOutcome, Failure, FailureKind, QueueMessage, ReferenceSyncRequest, WorkItem};

pub use pipeline::{FUNCTION, Poster, Processed};
pub use setup::{PosterOptions, Settings, SetupError};

/// The posting pipeline for one work item, and the reference-data sync that
/// shares its queue.
pub trait DocumentPipeline {
    fn process(&self, item: &WorkItem) -> impl std::future::Future<Output = Result<(), Failure>> + Send;

    fn reference_sync(
        &self,
        request: &ReferenceSyncRequest,
    ) -> impl std::future::Future<Output = Result<(), Failure>> + Send;

    /// An asynchronous ERP's verdict on a document it accepted for routing.
    fn erp_outcome(&self, outcome: &ErpOutcome) -> impl std::future::Future<Output = Result<(), Failure>> + Send;

    /// Makes a message that failed retryably visible again after `after`
    /// (SQS otherwise waits the queue's whole visibility timeout). Best effort.
    fn defer(&self, _receipt_handle: &str, _after: Duration) -> impl std::future::Future<Output = ()> + Send {
        async {}
    }

    /// Hands a retry over to the ledger, whose sweeper re-queues the work
    /// after `wait`, so the message can be dropped (instead of blocking its
    /// group or being dead-lettered). `true` once the ledger holds it;
    /// `false` keeps the message on the queue.
    fn park(
        &self,
        _message: &QueueMessage,
        _reason: &str,
        _wait: Duration,
    ) -> impl std::future::Future<Output = bool> + Send {
        async { false }
    }
}

/// How a batch treats time and retries (production values from the
/// template's environment; tests shrink the waits).
///
/// A retry waits `first_retry` doubled per earlier attempt of the document
/// (the ledger counts attempts across messages), up to `longest_retry`.
/// Short waits stay on the queue; a longer one, or any on the message's
/// last receive, is handed to the ledger, whose sweeper re-queues the
/// document when it is due. A FIFO message group is therefore never held
/// up for longer than `longest_queue_wait` by one failing document, and an
/// outage of hours costs a handful of tries per document and loses none.
#[derive(Debug, Clone)]
pub struct BatchRules {
    /// The work queue's `maxReceiveCount` (the template's
    /// `WORK_QUEUE_MAX_RECEIVES`): the last receive never dead-letters a
    /// document the ledger can hold.
    pub max_receives: u32,
    pub first_retry: Duration,
    /// The longest wait kept on the queue (it blocks the message's group).
    pub longest_queue_wait: Duration,
    pub longest_retry: Duration,
    /// Time one document may take; a batch starts none with less left
    /// before its deadline, and stops one that runs into it.
    pub item_budget: Duration,
    /// How long a connection whose ERP refused its credentials is left
    /// alone before a document tries again: repeated refused logins can
    /// lock an ERP service account.
    pub erp_hold_recheck: Duration,
    /// How long a connection whose ERP failed `erp_outage_after` posts in
    /// a row (through every retry) is left alone before a document probes
    /// it again [DEFAULT 2 minutes].
    pub erp_outage_recheck: Duration,
    /// Failed posts in a row that put the connection's ERP on hold
    /// [DEFAULT 3].
    pub erp_outage_after: u32,
    /// How long an ERP create whose outcome is unknown (timeout, 5xx) may
    /// still commit: no attempt looks the document up and creates it again
    /// before this has passed [DEFAULT 5 minutes].
    pub settle_window: Duration,
}

impl Default for BatchRules {
    fn default() -> Self {
        Self {
            max_receives: 5,
            first_retry: Duration::from_secs(30),
            longest_queue_wait: Duration::from_secs(60),
            longest_retry: Duration::from_secs(4 * 3600),
            item_budget: Duration::from_secs(30),
            erp_hold_recheck: Duration::from_secs(30 * 60),
            erp_outage_recheck: Duration::from_secs(2 * 60),
            erp_outage_after: domain::connection::ERP_OUTAGE_AFTER,
            settle_window: Duration::from_secs(5 * 60),
        }
    }
}

impl BatchRules {
    /// How long each kind of ERP hold keeps documents away from the ERP.
    pub fn erp_holds(&self) -> domain::ErpHoldRules {
        domain::ErpHoldRules {
            refused_recheck: self.erp_hold_recheck,
            unavailable_recheck: self.erp_outage_recheck,
            unavailable_after: self.erp_outage_after,
        }
    }

    /// The wait before a document's next try after `attempts` retryable
    /// failures: `first_retry` × 2^(attempts−1), at most `longest_retry`,
    /// with full jitter on the upper half.
    pub fn retry_wait(&self, attempts: u32) -> Duration {
        let doublings = attempts.clamp(1, 20) - 1;
        let ceiling = self.first_retry.saturating_mul(1 << doublings).min(self.longest_retry);
        let half = ceiling / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::Rng::random_range(&mut rand::rng(), 0..=jitter_ms))
    }
}

/// What happened to each message, for logs and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub done: usize,
    pub malformed: usize,
    pub stopped: usize,
    /// Retried through the queue (a short wait).
    pub retry: usize,
    /// Handed to the ledger: its sweeper re-queues them when due.
    pub parked: usize,
    /// Not worked on (deadline near, or an earlier message of the same
    /// FIFO group failed): returned to the queue with no failure counted.
    pub returned: usize,
}

/// Handles one SQS batch before `deadline` (the Lambda's; `None` = no limit).
///
/// SQS FIFO rules: a batch may hold several message groups; each group's
/// messages run one after another in batch order, and after one of them
/// fails every later message of that group is returned unprocessed, so the
/// group's order holds. Different groups run at the same time: a group is
/// one of a connection's concurrency slots, so the ERP sees at most the
/// connection's concurrency level whichever way SQS packs the batches, and a
/// month-end burst is not held to one document at a time per invocation.
/// See [`BatchRules`] for where a retry waits.
pub async fn handle(
    pipeline: &impl DocumentPipeline,
    event: SqsEvent,
    rules: &BatchRules,
    deadline: Option<std::time::Instant>,
) -> (SqsBatchResponse, BatchOutcome) {
    let groups = fifo_groups(event.records);
    let runs = groups.iter().map(|group| run_group(pipeline, group, rules, deadline));
    let mut fates: Vec<(usize, String, Fate)> =
        futures_util::future::join_all(runs).await.into_iter().flatten().collect();
    fates.sort_unstable_by_key(|(position, _, _)| *position);
    let mut batch = Batch::default();
    for (_, message_id, fate) in fates {
        batch.count(fate, message_id);
    }
    (batch.response, batch.outcome)
}

/// The batch's messages by FIFO group, each with its position in the batch
/// and in batch order; a message without a group is a group of its own.
fn fifo_groups(records: Vec<SqsMessage>) -> Vec<Vec<(usize, SqsMessage)>> {
    let mut groups: Vec<Vec<(usize, SqsMessage)>> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (position, record) in records.into_iter().enumerate() {
        match record.attributes.get("MessageGroupId") {
            Some(group) => match index.entry(group.clone()) {
                std::collections::hash_map::Entry::Occupied(at) => groups[*at.get()].push((position, record)),
                std::collections::hash_map::Entry::Vacant(at) => {
                    at.insert(groups.len());
                    groups.push(vec![(position, record)]);
                }
            },
            None => groups.push(vec![(position, record)]),
        }
    }
    groups
}

/// One FIFO group's messages, one after another; after a failure the rest
/// of the group is returned untried.
async fn run_group(
    pipeline: &impl DocumentPipeline,
    group: &[(usize, SqsMessage)],
    rules: &BatchRules,
    deadline: Option<std::time::Instant>,
) -> Vec<(usize, String, Fate)> {
    let mut fates = Vec::with_capacity(group.len());
    let mut failed = false;
    for (position, record) in group {
        let message_id = record.message_id.clone().unwrap_or_default();
        let Some(message) = read_message(record, &message_id) else {
            fates.push((*position, message_id, Fate::Malformed));
            continue;
        };
        let receives: u32 = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
        platform::telemetry::queue_age("work", record);
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let out_of_time = left.is_some_and(|left| left < rules.item_budget);
        let fate = if out_of_time || failed {
            return_untried(pipeline, record, &message, receives >= rules.max_receives, rules).await
        } else {
            let result = run_within(pipeline, &message, left, rules).await;
            settle(pipeline, record, &message, result, receives, rules).await
        };
        failed |= matches!(fate, Fate::Retried | Fate::Returned);
        fates.push((*position, message_id, fate));
    }
    fates
}

/// What became of one message of a batch.
enum Fate {
    Done,
    Stopped,
    /// Unreadable: logged and dropped (it would fail forever and block its group).
    Malformed,
    /// The ledger holds it; the message is done.
    Parked,
    /// Back to the queue for a retry (counted against its receives).
    Retried,
    /// Back to the queue untried (deadline, or its group failed before).
    Returned,
}

/// The batch's answer to SQS and its counts.
#[derive(Default)]
struct Batch {
    response: SqsBatchResponse,
    outcome: BatchOutcome,
}

impl Batch {
    fn count(&mut self, fate: Fate, message_id: String) {
        match fate {
            Fate::Done => self.outcome.done += 1,
            Fate::Stopped => self.outcome.stopped += 1,
            Fate::Malformed => self.outcome.malformed += 1,
            Fate::Parked => self.outcome.parked += 1,
            Fate::Retried => {
                self.outcome.retry += 1;
                self.response.batch_item_failures.push(item_failure(message_id));
            }
            Fate::Returned => {
                self.outcome.returned += 1;
                self.response.batch_item_failures.push(item_failure(message_id));
            }
        }
    }
}

/// The message's body as a queue message; `None` (logged) when it has none
/// or cannot be read: it would fail forever and block its FIFO group.
fn read_message(record: &SqsMessage, message_id: &str) -> Option<QueueMessage> {
    match record.body.as_deref().map(QueueMessage::from_json) {
        Some(Ok(message)) => Some(message),
        Some(Err(reason)) => {
            tracing::error!(message_id, %reason, "dropping a malformed work item");
            None
        }
        None => {
            tracing::error!(message_id, "dropping a work item without a body");
            None
        }
    }
}

/// Not tried: back on the queue at once with nothing recorded against it,
/// unless this was its last receive (then the ledger takes it).
async fn return_untried(
    pipeline: &impl DocumentPipeline,
    record: &SqsMessage,
    message: &QueueMessage,
    last_receive: bool,
    rules: &BatchRules,
) -> Fate {
    if last_receive && pipeline.park(message, "not tried before its receives ran out", rules.first_retry).await {
        return Fate::Parked;
    }
    if let Some(receipt) = record.receipt_handle.as_deref() {
        pipeline.defer(receipt, Duration::ZERO).await;
    }
    Fate::Returned
}

/// Runs the message's work; one that runs into the deadline is cut off as
/// a crash would be (its claim lapses, the ERP lookup by key makes a resend
/// safe), so the rest of the batch is not redelivered with it.
async fn run_within(
    pipeline: &impl DocumentPipeline,
    message: &QueueMessage,
    left: Option<Duration>,
    rules: &BatchRules,
) -> Result<(), Failure> {
    let work = run(pipeline, message);
    match left {
        Some(left) => {
            tokio::time::timeout(left.saturating_sub(rules.item_budget / 2), work).await.unwrap_or_else(|_| {
                Err(Failure::retryable("the invocation ran out of time while posting it", Some(Duration::ZERO)))
            })
        }
        None => work.await,
    }
}

/// Where a failed message waits: a short retry stays on the queue; a long
/// one, or any on its last receive, is handed to the ledger.
async fn settle(
    pipeline: &impl DocumentPipeline,
    record: &SqsMessage,
    message: &QueueMessage,
    result: Result<(), Failure>,
    receives: u32,
    rules: &BatchRules,
) -> Fate {
    let message_id = record.message_id.as_deref().unwrap_or_default();
    let subject = describe(message);
    match result {
        Ok(()) => Fate::Done,
        Err(Failure { kind: FailureKind::Retryable { after }, reason }) => {
            let wait = after.unwrap_or_else(|| rules.retry_wait(receives)).min(rules.longest_retry);
            let last_receive = receives >= rules.max_receives;
            if (last_receive || wait > rules.longest_queue_wait) && pipeline.park(message, &reason, wait).await {
                tracing::warn!(message_id, subject, %reason, receives, wait_s = wait.as_secs(),
                    "waiting in the ledger; the sweeper re-queues it when due");
                return Fate::Parked;
            }
            tracing::warn!(message_id, subject, %reason, receives, wait_s = wait.as_secs(), "will retry");
            if let Some(receipt) = record.receipt_handle.as_deref() {
                pipeline.defer(receipt, wait.min(MAX_QUEUE_DEFER)).await;
            }
            Fate::Retried
        }
        Err(Failure { kind: FailureKind::Parked, reason }) => {
            tracing::warn!(message_id, subject, %reason, "waiting in the ledger; the sweeper re-queues it");
            Fate::Parked
        }
        Err(failure) => {
            tracing::error!(message_id, subject, reason = %failure.reason, "stopped");
            Fate::Stopped
        }
    }
}

/// The longest wait put on a message the ledger could not take (SQS's
/// limit is 12 hours; the queue's own visibility timeout is 12 minutes).
const MAX_QUEUE_DEFER: Duration = Duration::from_secs(900);

/// The invocation's deadline (Lambda gives epoch milliseconds) as an
/// `Instant` on this machine's monotonic clock.
pub fn deadline_instant(deadline_epoch_ms: u64) -> std::time::Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    std::time::Instant::now() + Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms))
}

async fn run(pipeline: &impl DocumentPipeline, message: &QueueMessage) -> Result<(), Failure> {
    // Boxed: the pipeline's futures nest deeply, and a box here keeps the
    // handler's future within the compiler's layout depth (one allocation
    // per message).
    let work: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Failure>> + Send + '_>> = match message {
        QueueMessage::Document(item) => Box::pin(pipeline.process(item)),
        QueueMessage::ReferenceSync(request) => Box::pin(pipeline.reference_sync(request)),
        QueueMessage::ErpOutcome(verdict) => Box::pin(pipeline.erp_outcome(verdict)),
    };
    work.await
}

fn describe(message: &QueueMessage) -> String {
    match message {
        QueueMessage::Document(item) => format!("{} of connection {}", item.document_key(), item.connection_id),
        QueueMessage::ReferenceSync(request) => format!("reference sync of connection {}", request.connection_id),
        QueueMessage::ErpOutcome(verdict) => {
            format!("ERP verdict on {} of connection {}", verdict.document_key(), verdict.connection_id)
        }
    }
}

fn item_failure(message_id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = message_id;
    failure
}

/// The kinds a sync request runs, in order: the ERP's vendors reach
/// Concur before Concur's reach the ERP, so a first run in `both` creates
/// in the ERP only what Concur alone holds; purchase orders follow the
/// vendors they name, receipts the orders they receive.
const SYNCED_KINDS: [ReferenceKind; 5] = [
    ReferenceKind::Vendors,
    ReferenceKind::VendorsToErp,
    ReferenceKind::Lists,
    ReferenceKind::PurchaseOrders,
    ReferenceKind::PoReceipts,
];

impl<S: concur::GrantStore> DocumentPipeline for Poster<S> {
    async fn process(&self, item: &WorkItem) -> Result<(), Failure> {
        match self.process_item(item).await {
            Ok(processed) => {
                tracing::info!(connection = %item.connection_id, document = %item.document_key(), ?processed, "done");
                Ok(())
            }
            Err(failure) => Err(pipeline::waits_for_reauth(failure)),
        }
    }

    /// Brings the connection's reference data in step: vendors (each
    /// direction the connection has), the lists it feeds, then purchase
    /// orders and their receipts where the connection sends them. A
    /// request is safe to drop once a run covered it: every run brings the
    /// whole state in step. One kind failing does not keep the other from
    /// running; the message is retried for the failure.
    async fn reference_sync(&self, request: &ReferenceSyncRequest) -> Result<(), Failure> {
        let id = &request.connection_id;
        let connection = self.connections.get(id).await.map_err(|e| Failure::retryable(e.to_string(), None))?;
        let Some(connection) = connection.filter(|c| c.is_flowing()) else {
            tracing::info!(connection = %id, "reference sync skipped: the connection does not exist or is not active");
            return Ok(());
        };
        if !request.purchase_orders.is_empty() {
            let numbers =
                &request.purchase_orders[..request.purchase_orders.len().min(ReferenceSyncRequest::MAX_PULLED)];
            return self.pull_purchase_orders(&connection, numbers).await;
        }
        // A first sync and an operator's request read everything; the
        // schedule reads what changed.
        let everything = !matches!(request.reason, domain::SyncReason::Scheduled);
        let mode = reference_sync::SyncMode { everything, dry_run: request.dry_run };
        let mut result = Ok(());
        for kind in SYNCED_KINDS.into_iter().filter(|k| request.wants(*k)) {
            let outcome = self.sync_kind(&connection, kind, mode).await;
            tracing::info!(connection = %id, kind = kind.as_str(), reason = ?request.reason, ?outcome, "reference sync");
            result = result.and(outcome.map(drop));
        }
        result
    }

    async fn erp_outcome(&self, outcome: &ErpOutcome) -> Result<(), Failure> {
        match self.process_outcome(outcome).await {
            Ok(processed) => {
                tracing::info!(connection = %outcome.connection_id, document = %outcome.document_key(), ?processed, "ERP verdict handled");
                Ok(())
            }
            Err(failure) => Err(pipeline::waits_for_reauth(failure)),
        }
    }

    async fn defer(&self, receipt_handle: &str, after: Duration) {
        self.defer_message(receipt_handle, after).await;
    }

    async fn park(&self, message: &QueueMessage, reason: &str, wait: Duration) -> bool {
        match message {
            QueueMessage::Document(item) => self.park_item(item, reason, wait).await,
            // A sync always brings the whole reference state in step: the next one loses nothing.
            QueueMessage::ReferenceSync(_) => true,
            // Once the verdict waits on the document's record, the document
            // is parked like any other; until then the message stays.
            QueueMessage::ErpOutcome(outcome) => self.park_outcome(outcome, reason, wait).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsMessage;
    use domain::{ConcurDocumentId, ConnectionId, DocumentType, WorkSource};

    /// Answers by document id, and remembers what it was asked to do.
    #[derive(Default)]
    struct Scripted {
        processed: std::sync::Mutex<Vec<String>>,
        parked: std::sync::Mutex<Vec<String>>,
        /// Documents `pause…` being worked on now, and the most at once.
        in_flight: std::sync::atomic::AtomicUsize,
        most_in_flight: std::sync::atomic::AtomicUsize,
    }

    impl Scripted {
        fn processed(&self) -> Vec<String> {
            self.processed.lock().unwrap().clone()
        }
    }

    impl DocumentPipeline for Scripted {
        async fn process(&self, item: &WorkItem) -> Result<(), Failure> {
            self.processed.lock().unwrap().push(item.document_id.to_string());
            match item.document_id.as_str() {
                "retry" | "retry2" => Err(Failure::retryable("ERP answered 429", None)),
                "stop" => Err(Failure::permanent("account 9999 is not mapped")),
                "waits" => Err(Failure::parked("connection acme needs a reconnect")),
                "later" => Err(Failure::retryable("Concur has no FI document yet", Some(Duration::from_secs(300)))),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                }
                "slowish" => {
                    tokio::time::sleep(Duration::from_millis(1700)).await;
                    Ok(())
                }
                id if id.starts_with("pause") => {
                    use std::sync::atomic::Ordering::SeqCst;
                    let now = self.in_flight.fetch_add(1, SeqCst) + 1;
                    self.most_in_flight.fetch_max(now, SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    self.in_flight.fetch_sub(1, SeqCst);
                    Ok(())
                }
                _ => Ok(()),
            }
        }

        async fn park(&self, message: &QueueMessage, _reason: &str, _wait: Duration) -> bool {
            if let QueueMessage::Document(item) = message {
                self.parked.lock().unwrap().push(item.document_id.to_string());
            }
            true
        }

        async fn reference_sync(&self, request: &ReferenceSyncRequest) -> Result<(), Failure> {
            match request.connection_id.as_str() {
                "busy" => Err(Failure::retryable("ERP answered 503", None)),
                _ => Ok(()),
            }
        }

        async fn erp_outcome(&self, _outcome: &ErpOutcome) -> Result<(), Failure> {
            Ok(())
        }
    }

    fn sync(connection: &str) -> Option<String> {
        Some(
            ReferenceSyncRequest::new(
                ConnectionId::parse(connection).unwrap(),
                domain::SyncReason::Connected,
                time::OffsetDateTime::UNIX_EPOCH,
            )
            .to_json(),
        )
    }

    fn message(id: &str, body: Option<String>) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = body;
        m
    }

    /// A message of FIFO group `group`, received `receives` times.
    fn in_group(id: &str, doc: &str, group: &str, receives: u32) -> SqsMessage {
        let mut m = message(id, body(doc));
        m.attributes.insert("MessageGroupId".into(), group.into());
        m.attributes.insert("ApproximateReceiveCount".into(), receives.to_string());
        m
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
    }

    fn body(doc: &str) -> Option<String> {
        Some(
            WorkItem::new(
                ConnectionId::parse("acme").unwrap(),
                DocumentType::Expense,
                ConcurDocumentId::parse(doc).unwrap(),
                WorkSource::Poll,
                time::OffsetDateTime::UNIX_EPOCH,
            )
            .to_json(),
        )
    }

    #[tokio::test]
    async fn only_retryable_failures_are_reported_back() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message("m1", body("ok")),
            message("m2", body("retry")),
            message("m3", body("stop")),
            message("m4", Some("{not json".into())),
            message("m5", None),
            message("m6", sync("acme")),
            message("m7", sync("busy")),
        ];
        let (response, outcome) = handle(&Scripted::default(), event, &BatchRules::default(), None).await;
        assert_eq!(failed_ids(&response), ["m2", "m7"]);
        assert_eq!(outcome, BatchOutcome { done: 2, malformed: 2, stopped: 1, retry: 2, ..Default::default() });
    }

    #[tokio::test]
    async fn after_a_failure_the_rest_of_its_fifo_group_is_returned_untried() {
        let mut event = SqsEvent::default();
        event.records = vec![
            in_group("m1", "retry", "acme#1", 1),
            in_group("m2", "okA", "acme#1", 1),
            in_group("m3", "okB", "acme#2", 1),
            in_group("m4", "stop", "acme#1", 1),
        ];
        let pipeline = Scripted::default();
        let (response, outcome) = handle(&pipeline, event, &BatchRules::default(), None).await;
        assert_eq!(failed_ids(&response), ["m1", "m2", "m4"], "m2 and m4 come after m1 in its group");
        assert_eq!(pipeline.processed(), ["retry", "okB"], "nothing of group acme#1 ran after its failure");
        assert_eq!(outcome, BatchOutcome { done: 1, retry: 1, returned: 2, ..Default::default() });
    }

    #[tokio::test]
    async fn on_the_last_receive_a_retryable_document_is_parked_not_dead_lettered() {
        let rules = BatchRules { first_retry: Duration::from_secs(1), ..BatchRules::default() };
        let mut event = SqsEvent::default();
        event.records = vec![in_group("m1", "retry", "acme#1", 4), in_group("m2", "retry2", "acme#2", 5)];
        let pipeline = Scripted::default();
        let (response, outcome) = handle(&pipeline, event, &rules, None).await;
        assert_eq!(failed_ids(&response), ["m1"], "the 4th receive still goes back to the queue");
        assert_eq!(*pipeline.parked.lock().unwrap(), ["retry2"], "the 5th (the template's limit) is parked");
        assert_eq!(outcome, BatchOutcome { retry: 1, parked: 1, ..Default::default() });
    }

    #[tokio::test]
    async fn a_long_wait_is_held_by_the_ledger_so_the_group_moves_on() {
        let mut event = SqsEvent::default();
        event.records = vec![in_group("m1", "later", "acme#1", 1), in_group("m2", "ok", "acme#1", 1)];
        let pipeline = Scripted::default();
        let (response, outcome) = handle(&pipeline, event, &BatchRules::default(), None).await;
        assert!(failed_ids(&response).is_empty(), "nothing blocks the group");
        assert_eq!(*pipeline.parked.lock().unwrap(), ["later"]);
        assert_eq!(pipeline.processed(), ["later", "ok"]);
        assert_eq!(outcome, BatchOutcome { done: 1, parked: 1, ..Default::default() });
    }

    #[test]
    fn retry_waits_double_per_attempt_up_to_the_longest() {
        let rules = BatchRules::default();
        for (attempts, low, high) in [(1, 15, 30), (2, 30, 60), (5, 240, 480), (30, 7200, 14_400)] {
            let wait = rules.retry_wait(attempts).as_secs();
            assert!((low..=high).contains(&wait), "attempt {attempts}: {wait} s");
        }
    }

    #[tokio::test]
    async fn a_document_that_waits_in_the_ledger_is_done_with_its_message() {
        let mut event = SqsEvent::default();
        event.records = vec![in_group("m1", "waits", "acme#1", 1), in_group("m2", "ok", "acme#1", 1)];
        let pipeline = Scripted::default();
        let (response, outcome) = handle(&pipeline, event, &BatchRules::default(), None).await;
        assert!(failed_ids(&response).is_empty());
        assert_eq!(outcome, BatchOutcome { done: 1, parked: 1, ..Default::default() });
    }

    #[tokio::test]
    async fn near_the_deadline_nothing_new_starts_and_a_slow_document_is_cut_off_alone() {
        let rules = BatchRules { item_budget: Duration::from_millis(400), ..BatchRules::default() };
        let mut event = SqsEvent::default();
        event.records = vec![
            in_group("m1", "ok", "acme#1", 1),
            in_group("m2", "slow", "acme#2", 1),
            in_group("m3", "okToo", "acme#2", 1),
            in_group("m4", "slowish", "acme#3", 1),
            in_group("m5", "okAfter", "acme#3", 1),
        ];
        let pipeline = Scripted::default();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let (response, outcome) = handle(&pipeline, event, &rules, Some(deadline)).await;
        // m2 ran into the deadline (cut off at 2 s − budget/2) and m3, after it in its group, was
        // not started; m4 finished with less than the budget left, so m5 was not started either.
        assert_eq!(failed_ids(&response), ["m2", "m3", "m5"]);
        assert_eq!(pipeline.processed(), ["ok", "slow", "slowish"]);
        assert_eq!(outcome, BatchOutcome { done: 2, retry: 1, returned: 2, ..Default::default() });
    }

    #[tokio::test]
    async fn the_groups_of_a_batch_run_at_once_and_each_group_in_order() {
        let mut event = SqsEvent::default();
        let groups = ["acme#0", "acme#1", "acme#2", "acme#3", "acme#4"];
        event.records = (0..10)
            .map(|n| in_group(&format!("m{n}"), &format!("pause{}{}", n % 5, n / 5), groups[n % 5], 1))
            .collect();
        let pipeline = Scripted::default();
        let (response, outcome) = handle(&pipeline, event, &BatchRules::default(), None).await;
        assert!(failed_ids(&response).is_empty());
        assert_eq!(outcome, BatchOutcome { done: 10, ..Default::default() });
        let most = pipeline.most_in_flight.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(most, 5, "one document of each of the five groups at a time, all five at once");
        let processed = pipeline.processed();
        for g in 0..5 {
            let first = processed.iter().position(|d| *d == format!("pause{g}0"));
            let second = processed.iter().position(|d| *d == format!("pause{g}1"));
            assert!(first < second, "group {g} kept its order: {processed:?}");
        }
    }
}
