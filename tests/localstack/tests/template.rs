//! Offline tests of the template parser and resolver on the real
//! `infra/template.yaml`: the key schema the application code depends on, the
//! queues, and every function's environment.

use std::collections::{BTreeMap, BTreeSet};

use localstack::{
    BUNDLED_TEMPLATE, KeyAttribute, MOTO_ACCOUNT_ID, Projection, ProvisionError, SecretKeys, StackValues, Template,
    check_app_secret, resolve_function_env,
};
use serde_json::json;

fn template() -> Template {
    Template::bundled().expect("infra/template.yaml parses")
}

fn s(name: &str) -> KeyAttribute {
    KeyAttribute { name: name.into(), attribute_type: "S".into() }
}

/// Resources of a type, counted straight from the YAML text (independently of the parser).
fn raw_resource_ids(ty: &str) -> BTreeSet<String> {
    let raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(BUNDLED_TEMPLATE).unwrap();
    raw["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .map(|(k, _)| k.as_str().unwrap().to_owned())
        .collect()
}

fn predicted(stack: &str) -> StackValues {
    let t = template();
    let mut values = StackValues::predicted(&t, stack, "us-east-1", MOTO_ACCOUNT_ID, &BTreeMap::new()).unwrap();
    values.parameters.insert(
        "ConcurAppSecretArn".into(),
        format!("arn:aws:secretsmanager:us-east-1:{MOTO_ACCOUNT_ID}:secret:{stack}/concur-app-AbCdEf"),
    );
    values
}

#[test]
fn every_table_of_the_template_is_found() {
    let t = template();
    let parsed: BTreeSet<String> = t.tables.keys().cloned().collect();
    assert_eq!(parsed, raw_resource_ids("AWS::DynamoDB::Table"));
    assert_eq!(parsed, ["AuditTable", "ConnectionsTable", "LedgerTable", "ReferenceTable"].map(String::from).into());
    for (id, table) in &t.tables {
        assert_eq!(table.billing_mode, "PAY_PER_REQUEST", "{id}");
        assert!(table.point_in_time_recovery, "{id} has point-in-time recovery");
        assert!(table.sse, "{id} has SSE");
    }
}

#[test]
fn connections_table_keys() {
    let t = template();
    let c = &t.tables["ConnectionsTable"];
    assert_eq!(c.table_name, json!({"Fn::Sub": "${AWS::StackName}-connections"}));
    assert_eq!(c.hash_key, s("connection_id"));
    assert_eq!(c.range_key, Some(s("item")));
    assert_eq!(c.global_secondary_indexes.len(), 1);
    let gsi = &c.global_secondary_indexes[0];
    assert_eq!(gsi.name, "by-company");
    assert_eq!(gsi.hash_key, s("company_uuid"));
    assert_eq!(gsi.range_key, None);
    assert_eq!(gsi.projection, Projection::All);
    assert_eq!(c.ttl_attribute.as_deref(), Some("expires_at"));
}

#[test]
fn ledger_table_keys() {
    let t = template();
    let l = &t.tables["LedgerTable"];
    assert_eq!(l.table_name, json!({"Fn::Sub": "${AWS::StackName}-ledger"}));
    assert_eq!(l.hash_key, s("connection_id"));
    assert_eq!(l.range_key, Some(s("document_key")));
    assert_eq!(l.global_secondary_indexes.len(), 1);
    let gsi = &l.global_secondary_indexes[0];
    assert_eq!(gsi.name, "by-status");
    assert_eq!(gsi.hash_key, s("status_key"));
    assert_eq!(gsi.range_key, Some(s("updated_at")));
    assert_eq!(gsi.projection, Projection::All);
    assert_eq!(l.ttl_attribute, None, "the ledger is the exactly-once record: no TTL");
}

#[test]
fn audit_table_keys() {
    let t = template();
    let a = &t.tables["AuditTable"];
    assert_eq!(a.table_name, json!({"Fn::Sub": "${AWS::StackName}-audit"}));
    assert_eq!(a.hash_key, s("document_ref"));
    assert_eq!(a.range_key, Some(s("event_key")));
    assert_eq!(a.global_secondary_indexes.len(), 1);
    let gsi = &a.global_secondary_indexes[0];
    assert_eq!(gsi.name, "by-connection");
    assert_eq!(gsi.hash_key, s("connection_id"));
    assert_eq!(gsi.range_key, Some(s("event_key")));
    assert_eq!(gsi.projection, Projection::All);
    assert_eq!(a.ttl_attribute.as_deref(), Some("expires_at"));
}

#[test]
fn work_queue_is_high_throughput_fifo_with_a_dead_letter_queue() {
    let t = template();
    let parsed: BTreeSet<String> = t.queues.keys().cloned().collect();
    assert_eq!(parsed, raw_resource_ids("AWS::SQS::Queue"));

    let w = &t.queues["WorkQueue"];
    assert!(w.fifo);
    assert_eq!(w.content_based_deduplication, Some(false));
    assert_eq!(w.deduplication_scope.as_deref(), Some("messageGroup"));
    assert_eq!(w.fifo_throughput_limit.as_deref(), Some("perMessageGroupId"));
    assert_eq!(w.sqs_managed_sse, Some(true));
    let redrive = w.redrive.as_ref().expect("WorkQueue has a RedrivePolicy");
    assert_eq!(redrive.dead_letter_queue, "WorkDeadLetterQueue");
    assert_eq!(redrive.max_receive_count, 5);

    let poster_timeout = t.functions["ErpPosterFunction"].timeout.expect("poster timeout");
    assert!(
        w.visibility_timeout.unwrap() >= 6 * poster_timeout,
        "VisibilityTimeout {:?} must be at least 6x the poster's timeout {poster_timeout}",
        w.visibility_timeout
    );

    let d = &t.queues["WorkDeadLetterQueue"];
    assert!(d.fifo);
    assert_eq!(d.message_retention_period, Some(14 * 86_400));
    assert!(d.redrive_allow_policy.is_some());
    let order = t.queue_creation_order().unwrap();
    let at = |id: &str| order.iter().position(|q| q == id).unwrap();
    assert!(
        at("WorkDeadLetterQueue") < at("WorkQueue"),
        "the DLQ is created before the queue that redrives into it: {order:?}"
    );

    let values = predicted("unit");
    assert_eq!(values.resources["WorkQueue"].attributes["QueueName"], "unit-work.fifo");
    assert_eq!(values.resources["WorkDeadLetterQueue"].attributes["QueueName"], "unit-work-dlq.fifo");
    let allow = values.resolve_deep(d.redrive_allow_policy.as_ref().unwrap()).unwrap();
    assert_eq!(
        allow,
        json!({"redrivePermission": "byQueue", "sourceQueueArns": ["arn:aws:sqs:us-east-1:123456789012:unit-work.fifo"]})
    );
}

#[test]
fn functions_and_binaries() {
    let t = template();
    let parsed: BTreeSet<String> = t.functions.keys().cloned().collect();
    assert_eq!(parsed, raw_resource_ids("AWS::Serverless::Function"));
    let binaries: BTreeMap<&str, &str> =
        t.functions.iter().map(|(id, f)| (id.as_str(), f.binary.as_deref().unwrap_or("<none>"))).collect();
    assert_eq!(
        binaries,
        BTreeMap::from([
            ("ErpPosterFunction", "erp-poster"),
            ("EventIntakeFunction", "event-intake"),
            ("FileIntakeFunction", "file-intake"),
            ("IonInboxFunction", "ion-inbox"),
            ("OAuthCallbackFunction", "oauth-callback"),
            ("ScheduledPollerFunction", "scheduled-poller"),
        ])
    );
    assert_eq!(t.functions["ErpPosterFunction"].events["Work"], "SQS");
    assert_eq!(t.functions["ScheduledPollerFunction"].events["Schedule"], "ScheduleV2");
    assert_eq!(t.functions["OAuthCallbackFunction"].events["Connect"], "HttpApi");
    assert_eq!(t.functions["EventIntakeFunction"].events["Events"], "HttpApi");
    assert_eq!(t.functions["IonInboxFunction"].events["Ion"], "HttpApi");
    assert_eq!(t.functions["FileIntakeFunction"].events["Inbox"], "SQS");
    for (id, f) in &t.functions {
        // file-intake holds a whole extract file in memory.
        let memory = if id == "FileIntakeFunction" { 1024 } else { 256 };
        assert_eq!(f.memory_size, Some(memory), "{id}");
    }
}

/// The contract with the application code: each function gets exactly these
/// variables (plus RUST_LOG, STAGE and METRICS_NAMESPACE from Globals).
#[test]
fn every_function_env_var_resolves() {
    let t = template();
    let values = predicted("unit");
    let env = resolve_function_env(&t, &values).expect("every variable resolves");
    let names = |id: &str| -> BTreeSet<&str> { env[id].keys().map(String::as_str).collect() };
    let common = [
        "RUST_LOG",
        "STAGE",
        "METRICS_NAMESPACE",
        "CONNECTIONS_TABLE",
        "AUDIT_TABLE",
        "AUDIT_RETENTION_DAYS",
        "WORK_QUEUE_URL",
    ];
    let with = |extra: &[&'static str]| -> BTreeSet<&str> { common.iter().chain(extra).copied().collect() };
    assert_eq!(
        names("OAuthCallbackFunction"),
        with(&["CONCUR_APP_SECRET_ID", "CONNECTION_SECRET_PREFIX", "CONCUR_EVENTS_URL", "CONCUR_SUBSCRIPTION_PREFIX"])
    );
    // One namespace per stack (docs/metrics.md).
    assert_eq!(env["ErpPosterFunction"]["METRICS_NAMESPACE"], "ConcurConnector/unit");
    let callback = &env["OAuthCallbackFunction"];
    assert_eq!(callback["CONCUR_EVENTS_URL"], "https://local-api.execute-api.us-east-1.amazonaws.com/concur/events");
    assert_eq!(callback["CONCUR_SUBSCRIPTION_PREFIX"], "concur-erp-connector.us-east-1.unit");
    assert_eq!(names("EventIntakeFunction"), with(&["CONCUR_WEBHOOK_PUBLIC_KEY"]));
    assert_eq!(
        names("ScheduledPollerFunction"),
        with(&[
            "LEDGER_TABLE",
            "INBOX_QUEUE_URL",
            "CONCUR_APP_SECRET_ID",
            "CONNECTION_SECRET_PREFIX",
            "DIGEST_TOPIC_ARN",
            "NOT_FINAL_AFTER_HOURS",
            "CONCUR_EVENTS_URL",
            "CONCUR_SUBSCRIPTION_PREFIX",
        ])
    );
    // The failure digest goes to the alarm topic (Ref of a topic is its ARN).
    assert_eq!(env["ScheduledPollerFunction"]["DIGEST_TOPIC_ARN"], "arn:aws:sns:us-east-1:123456789012:unit-alarms");
    assert_eq!(env["ScheduledPollerFunction"]["NOT_FINAL_AFTER_HOURS"], "4");
    assert_eq!(
        names("ErpPosterFunction"),
        with(&[
            "LEDGER_TABLE",
            "WORK_QUEUE_MAX_RECEIVES",
            "REFERENCE_TABLE",
            "FILES_BUCKET",
            "CONCUR_APP_SECRET_ID",
            "CONNECTION_SECRET_PREFIX",
        ])
    );
    assert_eq!(
        names("FileIntakeFunction"),
        with(&["LEDGER_TABLE", "REFERENCE_TABLE", "FILES_BUCKET", "CONCUR_APP_SECRET_ID", "CONNECTION_SECRET_PREFIX"])
    );
    assert_eq!(names("IonInboxFunction"), with(&["LEDGER_TABLE", "CONNECTION_SECRET_PREFIX"]));

    let poster = &env["ErpPosterFunction"];
    assert_eq!(poster["CONNECTIONS_TABLE"], "unit-connections");
    assert_eq!(poster["LEDGER_TABLE"], "unit-ledger");
    assert_eq!(poster["AUDIT_TABLE"], "unit-audit");
    assert_eq!(poster["WORK_QUEUE_URL"], "https://sqs.us-east-1.amazonaws.com/123456789012/unit-work.fifo");
    assert_eq!(poster["CONNECTION_SECRET_PREFIX"], "unit/connections/");
    assert_eq!(poster["CONCUR_APP_SECRET_ID"], values.parameters["ConcurAppSecretArn"]);
    assert_eq!(poster["AUDIT_RETENTION_DAYS"], "400");
    assert_eq!(poster["RUST_LOG"], "info");
    assert_eq!(poster["STAGE"], "dev");
    let bucket = &values.resources["FilesBucket"].reference;
    assert_eq!(&poster["FILES_BUCKET"], bucket);
    assert_eq!(&env["FileIntakeFunction"]["FILES_BUCKET"], bucket);
    assert_eq!(env["FileIntakeFunction"]["WORK_QUEUE_URL"], poster["WORK_QUEUE_URL"]);
    assert_eq!(
        env["ScheduledPollerFunction"]["INBOX_QUEUE_URL"],
        "https://sqs.us-east-1.amazonaws.com/123456789012/unit-inbox"
    );

    // The poster parks a document on its last receive: it must know the queue's real limit.
    let redrive = t.queues["WorkQueue"].redrive.as_ref().expect("the work queue has a dead-letter queue");
    assert_eq!(poster["WORK_QUEUE_MAX_RECEIVES"], redrive.max_receive_count.to_string());

    // The public key parameter is the PEM body of events.md §7 on one line: valid base64 DER.
    let key = &env["EventIntakeFunction"]["CONCUR_WEBHOOK_PUBLIC_KEY"];
    assert!(key.starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"), "{key}");
    assert!(key.ends_with("8wIDAQAB"), "{key}");
    assert_eq!(key.len(), 392, "2048-bit RSA SubjectPublicKeyInfo is 294 bytes = 392 base64 chars");
}

#[test]
fn parameter_overrides_reach_the_environment() {
    let t = template();
    let overrides = BTreeMap::from([
        ("Stage".to_owned(), "prod".to_owned()),
        ("LogLevel".to_owned(), "debug".to_owned()),
        ("AuditRetentionDays".to_owned(), "30".to_owned()),
        ("ConcurAppSecretArn".to_owned(), "arn:aws:secretsmanager:us-east-1:1:secret:x".to_owned()),
    ]);
    let values = StackValues::predicted(&t, "p", "us-east-1", MOTO_ACCOUNT_ID, &overrides).unwrap();
    let env = resolve_function_env(&t, &values).unwrap();
    assert_eq!(env["ScheduledPollerFunction"]["STAGE"], "prod");
    assert_eq!(env["ScheduledPollerFunction"]["RUST_LOG"], "debug");
    assert_eq!(env["ErpPosterFunction"]["AUDIT_RETENTION_DAYS"], "30");

    let bad = BTreeMap::from([("Stage".to_owned(), "staging".to_owned())]);
    let err = StackValues::predicted(&t, "p", "us-east-1", MOTO_ACCOUNT_ID, &bad).unwrap_err();
    assert!(err.reason.contains("allowed values"), "{err}");
    let unknown = BTreeMap::from([("Nope".to_owned(), "x".to_owned())]);
    assert!(StackValues::predicted(&t, "p", "us-east-1", MOTO_ACCOUNT_ID, &unknown).is_err());
}

#[test]
fn a_parameter_without_default_is_an_error_not_an_empty_string() {
    let t = template();
    // ConcurAppSecretArn has no Default and no override here.
    let values = StackValues::predicted(&t, "unit", "us-east-1", MOTO_ACCOUNT_ID, &BTreeMap::new()).unwrap();
    let err = resolve_function_env(&t, &values).unwrap_err().to_string();
    assert!(err.contains("ConcurAppSecretArn"), "{err}");
    assert!(err.contains("CONCUR_APP_SECRET_ID"), "{err}");
}

#[test]
fn connector_secrets_metadata() {
    let t = template();
    let app = &t.connector_secrets["ConcurApp"];
    assert_eq!(app.keys, SecretKeys::Fixed(vec!["client_id".into(), "client_secret".into(), "app_base_url".into()]));
    let concur = &t.connector_secrets["ConnectionConcur"];
    assert_eq!(concur.name.as_deref(), Some("<prefix><connection_id>/concur"));
    assert_eq!(
        concur.keys,
        SecretKeys::Fixed(vec!["refresh_token".into(), "refresh_expires_at".into(), "geolocation".into()])
    );
    let erp = &t.connector_secrets["ConnectionErp"];
    assert_eq!(erp.name.as_deref(), Some("<prefix><connection_id>/erp"));
    let (acumatica, _) = erp.keys_for(Some("acumatica")).unwrap();
    assert_eq!(acumatica, ["client_id", "client_secret", "username", "password"].map(String::from).into());
    // One entry per domain::ErpKind (snake_case).
    let SecretKeys::ByKind(kinds) = &erp.keys else { panic!("ERP keys are per kind") };
    assert_eq!(kinds.keys().map(String::as_str).collect::<Vec<_>>(), ["acumatica", "ifs_cloud", "infor"]);
}

#[test]
fn app_secret_keys_are_checked_against_the_metadata() {
    let t = template();
    let good = json!({"client_id": "a", "client_secret": "b", "app_base_url": "http://127.0.0.1:9"});
    check_app_secret(&t, &good).unwrap();

    let missing = json!({"client_id": "a", "client_secret": "b"});
    let err = check_app_secret(&t, &missing).unwrap_err();
    assert!(matches!(err, ProvisionError::AppSecret(_)));
    assert!(err.to_string().contains("missing keys app_base_url"), "{err}");

    let extra = json!({"client_id": "a", "client_secret": "b", "app_base_url": "u", "password": "p"});
    let err = check_app_secret(&t, &extra).unwrap_err().to_string();
    assert!(err.contains("unexpected keys password"), "{err}");

    assert!(check_app_secret(&t, &json!(["client_id"])).is_err());
}

// ------------------------------------------------------------------ resolver on small templates

const MINI: &str = r#"
Parameters:
  Env:
    Type: String
    Default: dev
  Days:
    Type: Number
    Default: 7
Mappings:
  Sizes:
    dev:
      Mem: 128
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-q"
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName:
        Fn::Sub: "${AWS::StackName}-t"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
  Logs:
    Type: AWS::Logs::LogGroup
  F:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          SHORT_REF: !Ref T
          LONG_REF: {Ref: T}
          SHORT_ARN: !GetAtt Q.Arn
          LONG_ARN: {"Fn::GetAtt": [Q, Arn]}
          QUEUE_URL: !GetAtt Q.QueueUrl
          SUB_ATTR: !Sub "${T.Arn}/index/*"
          SUB_VARS: !Sub ["${A}-${Env}-${!Literal}", {A: !Ref Days}]
          PSEUDO: !Sub "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}"
          JOINED: !Join [",", [a, !Ref Env, 3]]
          MAPPED: !FindInMap [Sizes, !Ref Env, Mem]
          SELECTED: !Select [2, !Split ["/", !Ref AWS::StackId]]
          PICKED: !Select [1, [a, !Ref Env]]
          NUMBER: 42
"#;

#[test]
fn short_and_long_intrinsics_resolve_alike() {
    let t = Template::parse(MINI).unwrap();
    let values = StackValues::predicted(&t, "st", "eu-west-1", "111122223333", &BTreeMap::new()).unwrap();
    let env = resolve_function_env(&t, &values).unwrap();
    let f = &env["F"];
    assert_eq!(f["SHORT_REF"], "st-t");
    assert_eq!(f["LONG_REF"], "st-t");
    assert_eq!(f["SHORT_ARN"], "arn:aws:sqs:eu-west-1:111122223333:st-q");
    assert_eq!(f["LONG_ARN"], f["SHORT_ARN"]);
    assert_eq!(f["QUEUE_URL"], "https://sqs.eu-west-1.amazonaws.com/111122223333/st-q");
    assert_eq!(f["SUB_ATTR"], "arn:aws:dynamodb:eu-west-1:111122223333:table/st-t/index/*");
    assert_eq!(f["SUB_VARS"], "7-dev-${Literal}");
    assert_eq!(f["PSEUDO"], "arn:aws:x:eu-west-1:111122223333:st");
    assert_eq!(f["JOINED"], "a,dev,3");
    assert_eq!(f["MAPPED"], "128");
    assert_eq!(f["SELECTED"], localstack::stack_uuid("st"));
    assert_eq!(f["PICKED"], "dev");
    assert_eq!(f["NUMBER"], "42");
}

fn env_error(var_yaml: &str) -> String {
    let yaml = format!("{}\n          BAD: {var_yaml}\n", MINI.trim_end().rsplit_once('\n').unwrap().0);
    let t = Template::parse(&yaml).unwrap();
    let values = StackValues::predicted(&t, "st", "us-east-1", MOTO_ACCOUNT_ID, &BTreeMap::new()).unwrap();
    resolve_function_env(&t, &values).unwrap_err().to_string()
}

#[test]
fn unknown_or_unsupported_intrinsics_are_errors() {
    let err = env_error("!Base64 abc");
    assert!(err.contains("Fn::Base64") && err.contains("not supported"), "{err}");
    let err = env_error("!If [C, a, b]");
    assert!(err.contains("Fn::If"), "{err}");
    let err = env_error("!Ref Nowhere");
    assert!(err.contains("Nowhere is neither a parameter"), "{err}");
    let err = env_error("!Ref Logs");
    assert!(err.contains("AWS::Logs::LogGroup"), "{err}");
    let err = env_error("!GetAtt Q.Nope");
    assert!(err.contains("no attribute Nope"), "{err}");
    let err = env_error("!Sub \"${AWS::NotificationARNs}\"");
    assert!(err.contains("pseudo parameter"), "{err}");
    let err = env_error("{Fn::Made: up}");
    assert!(err.contains("Fn::Made"), "{err}");
    let err = env_error("[a, b]");
    assert!(err.contains("list"), "{err}");
    let err = env_error("!Select [3, [a, b]]");
    assert!(err.contains("index 3 of a list of 2"), "{err}");
    let err = env_error("!Select [0, !GetAZs \"\"]");
    assert!(err.contains("literal list or Fn::Split"), "{err}");
    let err = env_error("!Split [\",\", \"a,b\"]");
    assert!(err.contains("Fn::Split") && err.contains("not supported"), "{err}");
    let err = env_error("!Sub \"${Unclosed\"");
    assert!(err.contains("unterminated"), "{err}");
    // The error names the function and the variable.
    assert!(err.contains("F.Environment.Variables.BAD"), "{err}");
}

#[test]
fn unsupported_resource_properties_are_errors() {
    let yaml = MINI.replace(
        "      BillingMode: PAY_PER_REQUEST\n",
        "      BillingMode: PAY_PER_REQUEST\n      StreamSpecification: {StreamViewType: NEW_IMAGE}\n",
    );
    let err = Template::parse(&yaml).unwrap_err().to_string();
    assert!(err.contains("StreamSpecification") && err.contains("not supported"), "{err}");

    let yaml = MINI.replace("      BillingMode: PAY_PER_REQUEST\n", "");
    let err = Template::parse(&yaml).unwrap_err().to_string();
    assert!(err.contains("PAY_PER_REQUEST"), "{err}");

    let yaml = MINI.replace(
        "        - {AttributeName: pk, AttributeType: S}\n",
        "        - {AttributeName: pk, AttributeType: S}\n        - {AttributeName: unused, AttributeType: S}\n",
    );
    let err = Template::parse(&yaml).unwrap_err().to_string();
    assert!(err.contains("unused"), "{err}");
}

#[test]
fn describe_prints_the_parsed_template() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_localstack"))
        .args(["describe", "--stack-name", "desc"])
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["tables"]["LedgerTable"]["global_secondary_indexes"][0]["name"], "by-status");
    assert_eq!(doc["queues"]["WorkQueue"]["redrive"]["dead_letter_queue"], "WorkDeadLetterQueue");
    assert_eq!(doc["predicted_function_env"]["ErpPosterFunction"]["LEDGER_TABLE"], "desc-ledger");
}

#[test]
fn provision_refuses_to_run_without_a_local_endpoint() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_localstack"))
        .args(["provision", "--stack-name", "x", "--app-secret-file", "/nonexistent"])
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AWS_ENDPOINT_URL"));
}

/// Every string under a YAML value (tags such as `!Sub` keep their string).
fn strings(value: &serde_yaml_ng::Value, out: &mut Vec<String>) {
    use serde_yaml_ng::Value;
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Mapping(map) => map.iter().for_each(|(_, v)| strings(v, out)),
        Value::Tagged(tagged) => strings(&tagged.value, out),
        _ => {}
    }
}

/// The resources of every IAM statement under `resource` that allows `action`.
fn resources_allowed(resource: &str, action: &str) -> Vec<String> {
    fn walk(value: &serde_yaml_ng::Value, action: &str, out: &mut Vec<String>) {
        use serde_yaml_ng::Value;
        match value {
            Value::Mapping(map) => {
                let mut actions = Vec::new();
                if let Some(a) = map.get("Action") {
                    strings(a, &mut actions);
                }
                if actions.iter().any(|a| a == action)
                    && let Some(r) = map.get("Resource")
                {
                    strings(r, out);
                }
                map.iter().for_each(|(_, v)| walk(v, action, out));
            }
            Value::Sequence(items) => items.iter().for_each(|v| walk(v, action, out)),
            Value::Tagged(tagged) => walk(&tagged.value, action, out),
            _ => {}
        }
    }
    let raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(BUNDLED_TEMPLATE).unwrap();
    let mut out = Vec::new();
    walk(&raw["Resources"][resource], action, &mut out);
    out
}

/// Least privilege: each function reads only the per-connection secrets it
/// uses — the poller only the Concur grants, erp-poster never ION's inbox
/// token, ion-inbox only that token — and none reads every connection secret.
#[test]
fn each_function_reads_only_the_connection_secrets_it_uses() {
    let read = |resource: &str| resources_allowed(resource, "secretsmanager:GetSecretValue");
    let connection_secrets = |resource: &str| -> Vec<String> {
        read(resource).into_iter().filter(|r| r.contains("/connections/")).collect()
    };
    for resource in
        ["ScheduledPollerFunction", "ErpPosterRole", "FileIntakeRole", "IonInboxFunction", "EventIntakeFunction"]
    {
        for secret in connection_secrets(resource) {
            assert!(!secret.ends_with("/connections/*"), "{resource} may read every connection secret: {secret}");
        }
    }
    let poller = connection_secrets("ScheduledPollerFunction");
    assert!(!poller.is_empty() && poller.iter().all(|r| r.ends_with("/concur-??????")), "{poller:?}");
    let poster = connection_secrets("ErpPosterRole");
    assert!(poster.iter().any(|r| r.ends_with("/erp-??????")), "{poster:?}");
    assert!(poster.iter().all(|r| !r.contains("ion-inbox")), "{poster:?}");
    let intake = connection_secrets("FileIntakeRole");
    let (concur, pgp) = ("/concur-??????", "/pgp-??????");
    assert!(intake.iter().all(|r| r.ends_with(concur) || r.ends_with(pgp)), "no ERP secret: {intake:?}");
    assert!(intake.iter().any(|r| r.ends_with(pgp)), "the OpenPGP keys: {intake:?}");
    let inbox = connection_secrets("IonInboxFunction");
    assert!(!inbox.is_empty() && inbox.iter().all(|r| r.ends_with("/ion-inbox-??????")), "{inbox:?}");
}

// ------------------------------------------------------------------ files bucket and inbox queue

/// A resource of the bundled template as long-form JSON (intrinsics as `{"Fn::…": …}`).
fn raw_resource(id: &str) -> serde_json::Value {
    let raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(BUNDLED_TEMPLATE).unwrap();
    let doc = localstack::template::yaml_to_json(raw, "").unwrap();
    doc["Resources"][id].clone()
}

#[test]
fn inbox_queue_is_standard_with_a_dead_letter_queue() {
    let t = template();
    let q = &t.queues["InboxQueue"];
    assert!(!q.fifo, "S3 cannot notify a FIFO queue");
    assert_eq!(q.sqs_managed_sse, Some(true));
    let redrive = q.redrive.as_ref().expect("InboxQueue has a RedrivePolicy");
    assert_eq!(redrive.dead_letter_queue, "InboxDeadLetterQueue");
    assert_eq!(redrive.max_receive_count, t.queues["WorkQueue"].redrive.as_ref().unwrap().max_receive_count);
    let intake = &t.functions["FileIntakeFunction"];
    assert_eq!(intake.timeout, Some(900));
    assert!(
        q.visibility_timeout.unwrap() >= 6 * intake.timeout.unwrap(),
        "VisibilityTimeout {:?} must be at least 6x file-intake's timeout",
        q.visibility_timeout
    );
    assert!(q.visibility_timeout.unwrap() <= 43_200, "SQS's maximum visibility timeout is 12 h");

    let d = &t.queues["InboxDeadLetterQueue"];
    assert!(!d.fifo);
    assert_eq!(d.message_retention_period, Some(14 * 86_400));
    let values = predicted("unit");
    assert_eq!(values.resources["InboxQueue"].attributes["QueueName"], "unit-inbox");
    let allow = values.resolve_deep(d.redrive_allow_policy.as_ref().unwrap()).unwrap();
    assert_eq!(allow["sourceQueueArns"], json!([values.resources["InboxQueue"].attributes["Arn"]]));

    // file-intake takes one message per invocation and reports failures per message.
    let event = &raw_resource("FileIntakeFunction")["Properties"]["Events"]["Inbox"]["Properties"];
    assert_eq!(event["Queue"], json!({"Fn::GetAtt": ["InboxQueue", "Arn"]}));
    assert_eq!(event["BatchSize"], 1);
    assert_eq!(event["FunctionResponseTypes"], json!(["ReportBatchItemFailures"]));
}

#[test]
fn files_bucket_notifies_the_inbox_queue_and_only_it_may_send() {
    let t = template();
    let parsed: BTreeSet<String> = t.buckets.keys().cloned().collect();
    assert_eq!(parsed, raw_resource_ids("AWS::S3::Bucket"));
    assert_eq!(parsed, ["FilesBucket".to_owned()].into());
    let b = &t.buckets["FilesBucket"];

    // A valid bucket name for any stack name, also one with capitals at the length limit.
    for stack in ["unit", "Connector-Prod-EU-With-A-Rather-Long-Stack-Name"] {
        let values = predicted(stack);
        let name = &values.resources["FilesBucket"].reference;
        assert!(name.starts_with("concur-erp-files-"), "{name}");
        assert!(name.len() <= 63, "{name}");
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{name}");
        assert_eq!(values.resources["FilesBucket"].attributes["Arn"], format!("arn:aws:s3:::{name}"));
    }
    assert_ne!(predicted("a").resources["FilesBucket"].reference, predicted("b").resources["FilesBucket"].reference);

    // The notification: every object created under inbox/, to InboxQueue.
    let values = predicted("unit");
    assert_eq!(b.queue_notifications.len(), 1);
    let n = &b.queue_notifications[0];
    assert_eq!(n.event, "s3:ObjectCreated:*");
    assert_eq!(values.resolve(&n.queue).unwrap(), values.resources["InboxQueue"].attributes["Arn"]);
    assert_eq!((n.prefix.as_deref(), n.suffix.as_deref()), (Some("inbox/"), None));

    // The queue policy lets S3 send for this bucket only; the bucket waits for
    // it (S3 validates the destination), which is why the policy builds the
    // bucket's ARN instead of referring to the bucket.
    let bucket = raw_resource("FilesBucket");
    assert_eq!(bucket["DependsOn"], "InboxQueuePolicy");
    let policy = raw_resource("InboxQueuePolicy");
    assert_eq!(policy["Type"], "AWS::SQS::QueuePolicy");
    assert_eq!(policy["Properties"]["Queues"], json!([{"Ref": "InboxQueue"}]));
    let statements = values.resolve_deep(&policy["Properties"]["PolicyDocument"]["Statement"]).unwrap();
    let statements = statements.as_array().unwrap();
    assert_eq!(statements.len(), 1);
    let s = &statements[0];
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(s["Principal"], json!({"Service": "s3.amazonaws.com"}));
    assert_eq!(s["Action"], "sqs:SendMessage");
    assert_eq!(s["Resource"], values.resources["InboxQueue"].attributes["Arn"]);
    assert_eq!(s["Condition"]["ArnEquals"]["aws:SourceArn"], values.resources["FilesBucket"].attributes["Arn"]);
    assert_eq!(s["Condition"]["StringEquals"]["aws:SourceAccount"], MOTO_ACCOUNT_ID);
    let policy_text = policy.to_string();
    for reference in ["\"FilesBucket\"", "${FilesBucket"] {
        assert!(!policy_text.contains(reference), "a reference to the bucket would be a circular dependency");
    }
}

#[test]
fn files_bucket_is_private_encrypted_and_expires_what_it_holds() {
    let t = template();
    let b = &t.buckets["FilesBucket"];
    let raw = raw_resource("FilesBucket");
    assert_eq!(raw["DeletionPolicy"], "Retain", "staged documents outlive the stack, as the tables do");
    let only = &b.deploy_only;
    assert_eq!(
        only["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    let block = &only["PublicAccessBlockConfiguration"];
    for key in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[key], true, "{key}");
    }
    assert_eq!(only["OwnershipControls"]["Rules"], json!([{"ObjectOwnership": "BucketOwnerEnforced"}]));
    assert!(!only.contains_key("VersioningConfiguration"), "versioning stays off");

    let values = predicted("unit");
    let rules = values.resolve_deep(&only["LifecycleConfiguration"]["Rules"]).unwrap();
    let expiry = |prefix: &str| -> String {
        let rule = rules.as_array().unwrap().iter().find(|r| r["Prefix"] == prefix).expect(prefix);
        assert_eq!(rule["Status"], "Enabled", "{prefix}");
        rule["ExpirationInDays"].to_string().trim_matches('"').to_owned()
    };
    assert_eq!(expiry("staged/"), values.parameters["StagedDocumentRetentionDays"]);
    assert_eq!(
        values.parameters["StagedDocumentRetentionDays"], values.parameters["AuditRetentionDays"],
        "a staged document lives as long as its audit trail"
    );
    assert_eq!(expiry("inbox/"), "30");

    // Plain HTTP is refused for everything in the bucket.
    let policy = raw_resource("FilesBucketPolicy");
    assert_eq!(policy["Properties"]["Bucket"], json!({"Ref": "FilesBucket"}));
    let statements = values.resolve_deep(&policy["Properties"]["PolicyDocument"]["Statement"]).unwrap();
    let deny = statements.as_array().unwrap().iter().find(|s| s["Effect"] == "Deny").expect("a Deny statement");
    assert_eq!(deny["Principal"], "*");
    assert_eq!(deny["Action"], "s3:*");
    assert_eq!(deny["Condition"], json!({"Bool": {"aws:SecureTransport": "false"}}));
    let arn = &values.resources["FilesBucket"].attributes["Arn"];
    assert_eq!(deny["Resource"], json!([arn, format!("{arn}/*")]));
}

/// Least privilege on the files bucket: only file-intake writes, and only
/// staged documents; nobody writes a customer's inbox/; the poster reads
/// staged documents only.
#[test]
fn files_bucket_access_is_least_privilege() {
    let writers: Vec<(String, Vec<String>)> = raw_resource_ids("AWS::Serverless::Function")
        .into_iter()
        .chain(raw_resource_ids("AWS::IAM::Role"))
        .map(|r| {
            let w = resources_allowed(&r, "s3:PutObject");
            (r, w)
        })
        .filter(|(_, w)| !w.is_empty())
        .collect();
    assert_eq!(writers, vec![("FileIntakeRole".to_owned(), vec!["${FilesBucket.Arn}/staged/*".to_owned()])]);
    assert_eq!(
        resources_allowed("FileIntakeRole", "s3:GetObject"),
        ["${FilesBucket.Arn}/inbox/*", "${FilesBucket.Arn}/staged/*"]
    );
    assert_eq!(resources_allowed("ErpPosterRole", "s3:GetObject"), ["${FilesBucket.Arn}/staged/*"]);
    // ListBucket makes a missing staged document a 404 (None), not a 403.
    for role in ["FileIntakeRole", "ErpPosterRole"] {
        assert_eq!(resources_allowed(role, "s3:ListBucket"), ["FilesBucket.Arn"], "{role}");
    }
    for action in ["s3:DeleteObject", "s3:*", "s3:PutBucketPolicy"] {
        for role in ["FileIntakeRole", "ErpPosterRole", "ScheduledPollerFunction"] {
            assert!(resources_allowed(role, action).is_empty(), "{role} may {action}");
        }
    }
    // The poller asks file-intake for a connection's files through InboxQueue.
    assert!(resources_allowed("ScheduledPollerFunction", "sqs:SendMessage").contains(&"InboxQueue.Arn".to_owned()));
    assert_eq!(resources_allowed("FileIntakeRole", "sqs:ReceiveMessage"), ["InboxQueue.Arn"]);
}

const MINI_BUCKET: &str = r#"
Resources:
  Q:
    Type: AWS::SQS::Queue
  Plain:
    Type: AWS::S3::Bucket
  Named:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::AccountId}-named"
      NotificationConfiguration:
        QueueConfigurations:
          - Event: s3:ObjectCreated:Put
            Queue: !GetAtt Q.Arn
            Filter:
              S3Key:
                Rules:
                  - {Name: suffix, Value: .csv}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          PLAIN: !Ref Plain
          NAMED_ARN: !GetAtt Named.Arn
          DOMAIN: !GetAtt Named.RegionalDomainName
"#;

#[test]
fn buckets_resolve_with_or_without_a_name_and_unsupported_settings_are_errors() {
    let t = Template::parse(MINI_BUCKET).unwrap();
    let values = StackValues::predicted(&t, "My-Stack", "eu-west-1", "111122223333", &BTreeMap::new()).unwrap();
    let env = resolve_function_env(&t, &values).unwrap();
    let f = &env["F"];
    let plain = &f["PLAIN"];
    assert!(plain.starts_with("my-stack-plain-") && plain.len() <= 63, "{plain}");
    assert_eq!(f["NAMED_ARN"], "arn:aws:s3:::111122223333-named");
    assert_eq!(f["DOMAIN"], "111122223333-named.s3.eu-west-1.amazonaws.com");
    let n = &t.buckets["Named"].queue_notifications[0];
    assert_eq!(
        (n.event.as_str(), n.prefix.as_deref(), n.suffix.as_deref()),
        ("s3:ObjectCreated:Put", None, Some(".csv"))
    );
    assert!(t.buckets["Plain"].queue_notifications.is_empty());

    // A long stack name still gives a valid default name.
    let long = "S".repeat(128);
    let values = StackValues::predicted(&t, &long, "eu-west-1", "111122223333", &BTreeMap::new()).unwrap();
    let name = &values.resources["Plain"].reference;
    assert!(name.len() <= 63 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));

    let topic = MINI_BUCKET.replace("QueueConfigurations:", "TopicConfigurations:");
    let err = Template::parse(&topic).unwrap_err().to_string();
    assert!(err.contains("TopicConfigurations") && err.contains("not supported"), "{err}");
    let website = MINI_BUCKET
        .replace("      BucketName:", "      WebsiteConfiguration: {IndexDocument: i.html}\n      BucketName:");
    let err = Template::parse(&website).unwrap_err().to_string();
    assert!(err.contains("WebsiteConfiguration") && err.contains("not supported"), "{err}");
    let other_rule = MINI_BUCKET.replace("Name: suffix", "Name: middle");
    let err = Template::parse(&other_rule).unwrap_err().to_string();
    assert!(err.contains("prefix or suffix"), "{err}");
    let conditional = MINI_BUCKET
        .replace("  Plain:\n    Type: AWS::S3::Bucket\n", "  Plain:\n    Type: AWS::S3::Bucket\n    Condition: C\n");
    let err = Template::parse(&conditional).unwrap_err().to_string();
    assert!(err.contains("Condition"), "{err}");
}
