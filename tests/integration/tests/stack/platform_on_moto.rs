//! The platform stores against moto, on tables and queues provisioned from
//! the SAM template.

use domain::{
    CompanyUuid, ConcurDocumentId, ConcurrencyLevel, Connection, ConnectionId, ConnectionStatus, DocumentType,
    MessageGroupId, WorkItem, WorkSource,
};
use integration::TestStack;
use platform::queue::Outgoing;

const POSTER: &str = "ErpPosterFunction";
const CALLBACK: &str = "OAuthCallbackFunction";
const INTAKE: &str = "EventIntakeFunction";

fn connection(id: &str, company: Option<&str>) -> Connection {
    let mut c = Connection::new(ConnectionId::parse(id).unwrap(), format!("{id} corp"), None, "2026-11-23T10:00:00Z");
    c.company_uuid = company.map(|c| CompanyUuid::parse(c).unwrap());
    c.status = ConnectionStatus::Active;
    c.geolocation = Some("https://emea.api.concursolutions.com".into());
    c.concurrency_level = ConcurrencyLevel::new(3).unwrap();
    c.enabled_document_types = vec![DocumentType::Expense, DocumentType::Invoice];
    c
}

#[tokio::test]
async fn connections_round_trip_and_refuse_silent_overwrites() {
    let stack = TestStack::new().await;
    let store = stack.connections(CALLBACK);
    let acme = connection("acme", Some("8568a4cd-8ffc-49d6-9417-be2d69aa075f"));
    store.create(&acme).await.unwrap();
    assert_eq!(store.get(&acme.connection_id).await.unwrap(), Some(acme.clone()));

    let again = store.create(&acme).await.unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");

    let mut renamed = acme.clone();
    renamed.name = "Acme Europe".into();
    store.replace(&renamed).await.unwrap();
    let ghost = connection("ghost", None);
    assert!(store.replace(&ghost).await.unwrap_err().to_string().contains("does not exist"));

    // Optimistic concurrency: a write over settings read before someone
    // else's write is refused as a conflict, and changes nothing.
    let read = store.get(&acme.connection_id).await.unwrap().unwrap();
    let mut theirs = read.clone();
    theirs.updated_at = "2026-11-23T11:00:00Z".into();
    store.replace_if_unchanged(&theirs, &read.updated_at).await.unwrap();
    let mut mine = read.clone();
    mine.name = "stale write".into();
    mine.updated_at = "2026-11-23T11:00:01Z".into();
    let stale = store.replace_if_unchanged(&mine, &read.updated_at).await.unwrap_err();
    assert!(stale.conflict, "{stale}");
    assert_eq!(store.get(&acme.connection_id).await.unwrap(), Some(theirs.clone()));

    let company = CompanyUuid::parse("8568A4CD-8FFC-49D6-9417-BE2D69AA075F").unwrap();
    let found = stack.connections(INTAKE).find_by_company(&company).await.unwrap();
    assert_eq!(found.map(|c| c.name), Some("Acme Europe".into()));
    let unknown = CompanyUuid::parse("00000000-0000-0000-0000-000000000001").unwrap();
    assert_eq!(store.find_by_company(&unknown).await.unwrap(), None);

    store.create(&connection("beta", None)).await.unwrap();
    let ids: Vec<String> = store.list().await.unwrap().into_iter().map(|c| c.connection_id.to_string()).collect();
    assert_eq!(ids, ["acme", "beta"]);
}

#[tokio::test]
async fn secrets_are_created_updated_and_missing_ones_are_none() {
    let stack = TestStack::new().await;
    let secrets = stack.secrets();
    let prefix = stack.env_of(CALLBACK).required("CONNECTION_SECRET_PREFIX").unwrap();
    let name = format!("{prefix}acme/concur");
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Stored {
        refresh_token: String,
    }
    assert_eq!(secrets.get_json::<Stored>(&name).await.unwrap(), None);
    secrets.put_json(&name, &Stored { refresh_token: "r1".into() }, "test").await.unwrap();
    secrets.put_json(&name, &Stored { refresh_token: "r2".into() }, "test").await.unwrap();
    // A second store has no cache: it reads what moto holds.
    let fresh = stack.secrets();
    assert_eq!(fresh.get_json::<Stored>(&name).await.unwrap(), Some(Stored { refresh_token: "r2".into() }));

    let app_secret_id = stack.env_of(POSTER).required("CONCUR_APP_SECRET_ID").unwrap();
    let app: serde_json::Value = fresh.get_json(&app_secret_id).await.unwrap().unwrap();
    assert_eq!(app["client_id"], "test-client");
}

#[tokio::test]
async fn work_items_reach_the_fifo_queue_once_per_deduplication_id() {
    let stack = TestStack::new().await;
    let queue = stack.work_queue(INTAKE);
    let owner = ConnectionId::parse("acme").unwrap();
    let level = ConcurrencyLevel::new(3).unwrap();
    let outgoing: Vec<Outgoing> = (0..12)
        .map(|i| {
            // Twelve sends of six documents: each document twice.
            let doc = format!("DOC{}", i % 6);
            let item = WorkItem::new(
                owner.clone(),
                DocumentType::Expense,
                ConcurDocumentId::parse(&doc).unwrap(),
                WorkSource::Poll,
                time::OffsetDateTime::now_utc(),
            );
            let group = MessageGroupId::for_document(&owner, level, &item.document_key());
            Outgoing { item, group, dedup_id: format!("acme:expense:{doc}") }
        })
        .collect();
    let refused = queue.send_batch(&outgoing).await.unwrap_err();
    assert!(refused.to_string().contains("at most 10"), "{refused}");
    for chunk in outgoing.chunks(platform::queue::MAX_BATCH) {
        assert!(queue.send_batch(chunk).await.unwrap().is_empty());
    }

    let sqs = stack.sqs();
    let url = stack.work_queue_url(POSTER);
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            let item = WorkItem::from_json(m.body.as_deref().unwrap()).unwrap();
            let group = m.attributes.unwrap()[&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId].clone();
            assert_eq!(group, MessageGroupId::for_document(&owner, level, &item.document_key()).as_str());
            bodies.push(item.document_id.to_string());
            sqs.delete_message().queue_url(&url).receipt_handle(m.receipt_handle.unwrap()).send().await.unwrap();
        }
    }
    bodies.sort();
    assert_eq!(bodies, ["DOC0", "DOC1", "DOC2", "DOC3", "DOC4", "DOC5"]);
}

#[tokio::test]
async fn audit_events_are_kept_in_order_with_a_retention_date() {
    let stack = TestStack::new().await;
    let audit = stack.audit(POSTER);
    for step in ["received", "claimed", "posted"] {
        audit.record(&audit.event("acme", "expense#DOC1", step, "ok")).await.unwrap();
    }
    let history = audit.history("acme#expense#DOC1").await.unwrap();
    let steps: Vec<&str> = history.iter().map(|e| e.step.as_str()).collect();
    assert_eq!(steps, ["received", "claimed", "posted"]);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(history.iter().all(|e| e.expires_at > now + 29 * 86_400 && e.function == POSTER));
}

#[tokio::test]
async fn the_poller_covers_only_connections_that_are_due() {
    let stack = TestStack::new().await;
    let store = stack.connections("ScheduledPollerFunction");
    let mut acme = connection("acme", None);
    acme.erp = Some(domain::ErpSettings::Acumatica(domain::AcumaticaSettings {
        base_url: domain::ErpUrl::parse("https://acme.acumatica.com").unwrap(),
        tenant: "Acme".into(),
        endpoint_name: "Default".into(),
        endpoint_version: "24.200.001".into(),
        branch: None,
    }));
    store.create(&acme).await.unwrap();
    store.create(&connection("no-erp", None)).await.unwrap();
    let mut off = connection("dormant", None);
    off.status = ConnectionStatus::Disabled;
    store.create(&off).await.unwrap();
    let (connections, unreadable) = store.list_readable().await.unwrap();
    assert!(unreadable.is_empty());
    let selection = scheduled_poller::select_due(connections, time::OffsetDateTime::now_utc());
    let due: Vec<_> = selection.due.iter().map(|c| c.connection_id.as_str()).collect();
    assert_eq!(due, ["acme"]);
    let skipped: Vec<_> = selection.skipped.iter().map(|s| (s.connection_id.as_str(), s.reason.as_str())).collect();
    assert_eq!(
        skipped,
        [("dormant", "disabled by an operator"), ("no-erp", "no ERP is configured yet (connections update)")]
    );
}
