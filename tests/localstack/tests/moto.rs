//! Provisions the template into a running moto server and checks, through the
//! SDK, that what exists is what the template says. Runs under
//! `infra/local/with-stack.sh -- cargo test -p localstack`; without
//! `AWS_ENDPOINT_URL` each test prints why it is skipped and passes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::{KeyType, ProjectionType, TimeToLiveStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use localstack::{ProvisionError, ProvisionOptions, ProvisionedStack, Template, provision, provision_with};
use serde_json::{Value, json};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A stack name no other test (or test process) uses.
fn unique_stack(prefix: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{}-{nanos:x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

async fn local_sdk(test: &str) -> Option<aws_config::SdkConfig> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        // Written to the stderr handle directly: the test harness captures
        // eprintln!, and a skip should be visible without --nocapture.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: AWS_ENDPOINT_URL is not set; run `infra/local/with-stack.sh -- cargo test -p localstack`"
        );
        return None;
    }
    Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
}

fn app_secret() -> Value {
    json!({"client_id": "local-client", "client_secret": "local-secret", "app_base_url": "http://127.0.0.1:1"})
}

async fn check_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    hash: &str,
    range: &str,
    gsi: (&str, &str, Option<&str>),
    ttl: Option<&str>,
) {
    let table = client.describe_table().table_name(name).send().await.unwrap().table.unwrap();
    let keys: Vec<(String, KeyType)> =
        table.key_schema().iter().map(|k| (k.attribute_name().to_owned(), k.key_type().clone())).collect();
    assert_eq!(keys, vec![(hash.to_owned(), KeyType::Hash), (range.to_owned(), KeyType::Range)], "{name}");
    assert!(
        table.attribute_definitions().iter().all(|d| d.attribute_type().as_str() == "S"),
        "{name}: all key attributes are strings"
    );
    let billing = table.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str().to_owned());
    assert_eq!(billing.as_deref(), Some("PAY_PER_REQUEST"), "{name}");

    let gsis = table.global_secondary_indexes();
    assert_eq!(gsis.len(), 1, "{name}");
    let index = &gsis[0];
    assert_eq!(index.index_name(), Some(gsi.0), "{name}");
    let mut index_keys = vec![(gsi.1.to_owned(), KeyType::Hash)];
    if let Some(r) = gsi.2 {
        index_keys.push((r.to_owned(), KeyType::Range));
    }
    let got: Vec<(String, KeyType)> =
        index.key_schema().iter().map(|k| (k.attribute_name().to_owned(), k.key_type().clone())).collect();
    assert_eq!(got, index_keys, "{name} {}", gsi.0);
    assert_eq!(index.projection().and_then(|p| p.projection_type()), Some(&ProjectionType::All), "{name} {}", gsi.0);

    let ttl_desc =
        client.describe_time_to_live().table_name(name).send().await.unwrap().time_to_live_description.unwrap();
    match ttl {
        Some(attr) => {
            assert_eq!(ttl_desc.time_to_live_status(), Some(&TimeToLiveStatus::Enabled), "{name}");
            assert_eq!(ttl_desc.attribute_name(), Some(attr), "{name}");
        }
        None => assert_ne!(ttl_desc.time_to_live_status(), Some(&TimeToLiveStatus::Enabled), "{name}"),
    }
}

#[tokio::test]
async fn provisions_tables_queues_and_secret_from_the_template() {
    let Some(sdk) = local_sdk("provisions_tables_queues_and_secret_from_the_template").await else {
        return;
    };
    let stack_name = unique_stack("prov");
    let stack: ProvisionedStack = provision(&sdk, &stack_name, &app_secret()).await.unwrap();

    // Tables, by the names the functions get.
    assert_eq!(stack.table("ConnectionsTable"), format!("{stack_name}-connections"));
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    check_table(
        &dynamodb,
        stack.table("ConnectionsTable"),
        "connection_id",
        "item",
        ("by-company", "company_uuid", None),
        Some("expires_at"),
    )
    .await;
    check_table(
        &dynamodb,
        stack.table("LedgerTable"),
        "connection_id",
        "document_key",
        ("by-status", "status_key", Some("updated_at")),
        None,
    )
    .await;
    check_table(
        &dynamodb,
        stack.table("AuditTable"),
        "document_ref",
        "event_key",
        ("by-connection", "connection_id", Some("event_key")),
        Some("expires_at"),
    )
    .await;

    // The FIFO work queue and its redrive policy.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let attrs = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap_or_default()
        }
    };
    let dlq = attrs(stack.queue_url("WorkDeadLetterQueue").to_owned()).await;
    let work = attrs(stack.queue_url("WorkQueue").to_owned()).await;
    assert!(stack.queue_url("WorkQueue").ends_with(&format!("/{stack_name}-work.fifo")));
    assert_eq!(work[&QueueAttributeName::FifoQueue], "true");
    assert_eq!(work[&QueueAttributeName::ContentBasedDeduplication], "false");
    assert_eq!(work[&QueueAttributeName::VisibilityTimeout], "720");
    assert_eq!(work[&QueueAttributeName::DeduplicationScope], "messageGroup");
    assert_eq!(work[&QueueAttributeName::FifoThroughputLimit], "perMessageGroupId");
    let redrive: Value = serde_json::from_str(&work[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], dlq[&QueueAttributeName::QueueArn].as_str());
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "5");
    assert_eq!(dlq[&QueueAttributeName::FifoQueue], "true");
    assert_eq!(dlq[&QueueAttributeName::MessageRetentionPeriod], "1209600");
    // moto 5.2.5 accepts RedriveAllowPolicy but does not return it; real SQS does.
    if let Some(allow) = dlq.get(&QueueAttributeName::RedriveAllowPolicy) {
        let allow: Value = serde_json::from_str(allow).unwrap();
        assert_eq!(allow["sourceQueueArns"][0], work[&QueueAttributeName::QueueArn].as_str());
    }

    // The app secret holds what was given.
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let got = secrets.get_secret_value().secret_id(&stack.app_secret_arn).send().await.unwrap();
    assert_eq!(got.name(), Some(format!("{stack_name}/concur-app").as_str()));
    let value: Value = serde_json::from_str(got.secret_string().unwrap()).unwrap();
    assert_eq!(value, app_secret());

    // Every function's environment points at what exists.
    for (id, env) in &stack.function_env {
        for (var, value) in env {
            assert!(!value.is_empty(), "{id}.{var} is empty");
        }
    }
    let poster = stack.function_env("ErpPosterFunction");
    assert_eq!(poster["LEDGER_TABLE"], stack.table("LedgerTable"));
    assert_eq!(poster["CONCUR_APP_SECRET_ID"], stack.app_secret_arn);
    assert_eq!(poster["CONNECTION_SECRET_PREFIX"], format!("{stack_name}/connections/"));
    let intake = stack.function_env("EventIntakeFunction");
    assert_eq!(intake["WORK_QUEUE_URL"], stack.queue_url("WorkQueue"));
    assert!(!intake.contains_key("LEDGER_TABLE"), "event-intake gets only what it uses");

    // The queue URL the functions get works for a FIFO send with explicit dedup id.
    sqs.send_message()
        .queue_url(&intake["WORK_QUEUE_URL"])
        .message_body("{}")
        .message_group_id("c1#0")
        .message_deduplication_id("d1")
        .send()
        .await
        .unwrap();
    // And the table names work for the documented GSI.
    let out = dynamodb
        .query()
        .table_name(&poster["LEDGER_TABLE"])
        .index_name("by-status")
        .key_condition_expression("status_key = :s")
        .expression_attribute_values(":s", aws_sdk_dynamodb::types::AttributeValue::S("c1#FAILED".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 0);

    // The JSON the binary prints round-trips.
    let text = serde_json::to_string(&stack).unwrap();
    assert_eq!(serde_json::from_str::<ProvisionedStack>(&text).unwrap(), stack);
}

#[tokio::test]
async fn parallel_stacks_do_not_collide_and_a_name_is_taken_once() {
    let Some(sdk) = local_sdk("parallel_stacks_do_not_collide_and_a_name_is_taken_once").await else {
        return;
    };
    let (a, b) = (unique_stack("par"), unique_stack("par"));
    let secret = app_secret();
    let (ra, rb) = tokio::join!(provision(&sdk, &a, &secret), provision(&sdk, &b, &secret));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_ne!(ra.table("LedgerTable"), rb.table("LedgerTable"));
    assert_ne!(ra.queue_url("WorkQueue"), rb.queue_url("WorkQueue"));

    let again = provision(&sdk, &a, &app_secret()).await.unwrap_err();
    assert!(matches!(again, ProvisionError::Aws { .. }), "{again}");
}

#[tokio::test]
async fn overrides_and_bad_inputs() {
    let Some(sdk) = local_sdk("overrides_and_bad_inputs").await else {
        return;
    };
    let options = ProvisionOptions {
        parameter_overrides: BTreeMap::from([("LogLevel".to_owned(), "debug".to_owned())]),
        template: Some(Template::bundled().unwrap()),
    };
    let stack = provision_with(&sdk, &unique_stack("ovr"), &app_secret(), &options).await.unwrap();
    assert_eq!(stack.function_env("ScheduledPollerFunction")["RUST_LOG"], "debug");

    // Key mismatch: rejected before anything is created.
    let name = unique_stack("bad");
    let err = provision(&sdk, &name, &json!({"client_id": "x"})).await.unwrap_err();
    assert!(err.to_string().contains("missing keys"), "{err}");
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    assert!(
        secrets.describe_secret().secret_id(format!("{name}/concur-app")).send().await.is_err(),
        "nothing was created"
    );

    let err = provision(&sdk, "1-starts-with-a-digit", &app_secret()).await.unwrap_err();
    assert!(matches!(err, ProvisionError::StackName { .. }), "{err}");
}

/// The files bucket exists, notifies the standard inbox queue of objects
/// created under inbox/ (and only there), and the functions get its name.
#[tokio::test]
async fn files_bucket_notifies_the_inbox_queue() {
    let Some(sdk) = local_sdk("files_bucket_notifies_the_inbox_queue").await else {
        return;
    };
    let stack_name = unique_stack("files");
    let stack = provision(&sdk, &stack_name, &app_secret()).await.unwrap();
    let bucket = stack.bucket("FilesBucket");
    assert!(bucket.starts_with("concur-erp-files-"), "{bucket}");
    assert_eq!(stack.function_env("FileIntakeFunction")["FILES_BUCKET"], bucket);
    assert_eq!(stack.function_env("ErpPosterFunction")["FILES_BUCKET"], bucket);
    assert_eq!(stack.function_env("ScheduledPollerFunction")["INBOX_QUEUE_URL"], stack.queue_url("InboxQueue"));

    let s3 = localstack::s3_client(&sdk);
    s3.head_bucket().bucket(bucket).send().await.expect("the bucket exists");
    let notifications = s3.get_bucket_notification_configuration().bucket(bucket).send().await.unwrap();
    let queues = notifications.queue_configurations();
    assert_eq!(queues.len(), 1, "{queues:?}");

    // The inbox queue: standard, redriving into its (standard) DLQ.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let inbox_url = stack.queue_url("InboxQueue");
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(inbox_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    assert!(!attrs.contains_key(&QueueAttributeName::FifoQueue) || attrs[&QueueAttributeName::FifoQueue] == "false");
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "5400");
    assert_eq!(queues[0].queue_arn(), attrs[&QueueAttributeName::QueueArn]);
    let redrive: Value = serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert!(redrive["deadLetterTargetArn"].as_str().unwrap().ends_with(&format!(":{stack_name}-inbox-dlq")));

    // An object outside inbox/ notifies nothing; one under inbox/ does.
    for key in ["staged/c1/expense/r1.json", "inbox/c1/file.csv"] {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"a,b\n"))
            .send()
            .await
            .unwrap();
    }
    let mut bodies: Vec<Value> = Vec::new();
    for _ in 0..3 {
        let out = sqs.receive_message().queue_url(inbox_url).max_number_of_messages(10).send().await.unwrap();
        for m in out.messages() {
            bodies.push(serde_json::from_str(m.body().unwrap()).unwrap());
            sqs.delete_message().queue_url(inbox_url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
    // S3 (and moto) send one s3:TestEvent when the notification is applied:
    // file-intake must acknowledge it.
    let tests: Vec<&Value> = bodies.iter().filter(|b| b["Event"] == "s3:TestEvent").collect();
    assert_eq!(tests.len(), 1, "{bodies:?}");
    assert_eq!(tests[0]["Bucket"], bucket);
    let records: Vec<&Value> = bodies.iter().filter_map(|b| b["Records"].as_array()).flatten().collect();
    assert_eq!(records.len(), 1, "only inbox/ notifies: {bodies:?}");
    let record = records[0];
    assert_eq!(record["eventSource"], "aws:s3");
    assert!(record["eventName"].as_str().unwrap().starts_with("ObjectCreated:"), "{record}");
    assert_eq!(record["s3"]["bucket"]["name"], bucket);
    // The key is form-URL-encoded in the event: real S3 writes a space as `+`
    // and keeps `/`; moto also encodes `/` (`inbox%2Fc1%2Ffile.csv`).
    // Decoding gives the key either way.
    assert_eq!(form_url_decode(record["s3"]["object"]["key"].as_str().unwrap()), "inbox/c1/file.csv");
    assert_eq!(record["s3"]["object"]["size"], 4);
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space, `%XX` a byte).
fn form_url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}
