use std::cell::RefCell;

use domain::MessageGroupId;
use serde_json::json;
use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-11-23 10:16 UTC);

/// A READY document as a page read gives it.
fn fi(doc_type: &str, fi_id: &str, document: serde_json::Value) -> FiDocument {
    let page = serde_json::json!({"fIDocuments": [
        {"id": fi_id, "docType": doc_type, "docStatus": "READY", "document": document}
    ]});
    concur::fi::DocumentPage::parse(page.to_string().as_bytes()).expect("an FI page").documents.remove(0)
}

#[test]
fn work_items_are_keyed_by_business_id_once_per_poll() {
    let acme = ConnectionId::parse("acme").unwrap();
    let lender = ConnectionId::parse("lender").unwrap();
    let level = ConcurrencyLevel::new(4).unwrap();
    let mut progress = Progress::default();
    let page = vec![
        fi("expense", "c6fdf05516374771bbec427e4d0901e5", json!({"report": {"reportId": "0C45F960C3064ED88C39"}})),
        // A second FI document of the same report (a resubmission): one key.
        fi("expense", "d6fdf05516374771bbec427e4d0901e5", json!({"report": {"reportId": "0C45F960C3064ED88C39"}})),
        fi("expense", "e7f810cabc8348cdb051dd9431c8cfbb", json!({"report": {}})),
        fi("expense", "bad id!", json!({"report": {"reportId": "not a valid id"}})),
    ];
    let messages = work_items(&acme, DocumentType::Expense, page, NOW, (&lender, level), &mut progress);
    let keys: Vec<String> = messages.iter().map(|m| m.item.document_key()).collect();
    assert_eq!(keys, ["expense#0C45F960C3064ED88C39", "expense#e7f810cabc8348cdb051dd9431c8cfbb"]);
    for m in &messages {
        assert_eq!(m.item.source, WorkSource::Poll);
        assert_eq!(m.item.connection_id, acme);
        assert_eq!(m.item.received_at, "2026-11-23T10:16:00Z");
        assert_eq!(m.group, MessageGroupId::for_document(&lender, level, &m.item.document_key()), "slot owner's group");
        assert_eq!(m.dedup_id, format!("acme#{}", m.item.document_key()));
    }
    assert_eq!(progress.problems.len(), 1);
    assert!(progress.problems[0].contains("bad id!"), "{:?}", progress.problems);

    // The same report on a later page of the same poll is not queued again.
    let again = vec![fi("expense", "ffff", json!({"report": {"reportId": "0C45F960C3064ED88C39"}}))];
    assert!(work_items(&acme, DocumentType::Expense, again, NOW, (&lender, level), &mut progress).is_empty());
}

fn outgoing(n: usize) -> Vec<Outgoing> {
    let acme = ConnectionId::parse("acme").unwrap();
    (0..n)
        .map(|i| {
            let id = domain::ConcurDocumentId::parse(&format!("R{i:04}")).unwrap();
            let item = WorkItem::new(acme.clone(), DocumentType::Expense, id, WorkSource::Poll, NOW);
            Outgoing::document(item, &acme, ConcurrencyLevel::lowest())
        })
        .collect()
}

/// A fake `send_batch`: records batch sizes, refuses what `refuse` says.
struct FakeQueue {
    batches: RefCell<Vec<usize>>,
    accepted: RefCell<Vec<String>>,
    /// (document id, how many more times to refuse it)
    refusals: RefCell<Vec<(String, usize)>>,
    fail_call: Option<usize>,
}

impl FakeQueue {
    fn new(refusals: &[(&str, usize)], fail_call: Option<usize>) -> Self {
        Self {
            batches: RefCell::default(),
            accepted: RefCell::default(),
            refusals: RefCell::new(refusals.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect()),
            fail_call,
        }
    }

    async fn send(&self, batch: Vec<Outgoing>) -> Result<Vec<(Outgoing, String)>, StoreError> {
        assert!(batch.len() <= MAX_BATCH, "a batch of {}", batch.len());
        let call = self.batches.borrow().len();
        self.batches.borrow_mut().push(batch.len());
        if self.fail_call == Some(call) {
            return Err(StoreError::new("queueing a batch", "AccessDenied: not allowed"));
        }
        let mut refused = Vec::new();
        for m in batch {
            let id = m.item.document_id.to_string();
            let mut refusals = self.refusals.borrow_mut();
            match refusals.iter_mut().find(|(r, n)| *r == id && *n > 0) {
                Some((_, n)) => {
                    *n -= 1;
                    refused.push((m, "ThrottlingException".to_owned()));
                }
                None => self.accepted.borrow_mut().push(id),
            }
        }
        Ok(refused)
    }
}

#[tokio::test]
async fn documents_go_out_in_batches_of_ten() {
    let queue = FakeQueue::new(&[], None);
    let sent = send_all(outgoing(23), |batch| queue.send(batch)).await;
    assert_eq!(*queue.batches.borrow(), [10, 10, 3]);
    assert_eq!((sent.queued.len(), sent.refused.len(), sent.error.is_none()), (23, 0, true));
    let sent = send_all(Vec::new(), |batch| queue.send(batch)).await;
    assert!(sent.queued.is_empty());
    assert_eq!(queue.batches.borrow().len(), 3, "nothing to send, no call");
}

#[tokio::test]
async fn refused_entries_are_retried_once_then_reported() {
    // R0003 is refused once (then accepted), R0012 twice (reported).
    let queue = FakeQueue::new(&[("R0003", 1), ("R0012", 5)], None);
    let sent = send_all(outgoing(15), |batch| queue.send(batch)).await;
    assert_eq!(*queue.batches.borrow(), [10, 1, 5, 1], "each batch's refusals are sent once more");
    assert_eq!(sent.queued.len(), 14);
    assert_eq!(sent.refused, ["expense R0012: ThrottlingException"]);
    assert!(sent.error.is_none());
    assert_eq!(queue.accepted.borrow().len(), 14);
}

#[tokio::test]
async fn a_failed_batch_call_stops_the_sending() {
    let queue = FakeQueue::new(&[], Some(1));
    let sent = send_all(outgoing(25), |batch| queue.send(batch)).await;
    assert_eq!(*queue.batches.borrow(), [10, 10]);
    assert_eq!(sent.queued.len(), 10);
    assert!(sent.error.unwrap().to_string().contains("AccessDenied"));
}
