//! Creates the template's tables, queues, buckets (with their queue
//! notifications) and the Concur app secret through the AWS SDK (normally
//! against moto), and resolves every function's environment the way
//! CloudFormation would.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection as DynamoProjection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::resolve::{MOTO_ACCOUNT_ID, ResolveError, ResourceValue, StackValues, queue_value, topic_value};
use crate::template::{BucketSpec, KeyAttribute, Projection, TableSpec, Template, TemplateError};

/// The template parameter the provisioner fills with the app secret it creates.
pub const APP_SECRET_PARAMETER: &str = "ConcurAppSecretArn";
/// The `ConnectorSecrets` entry that describes the app secret's keys.
pub const APP_SECRET_METADATA: &str = "ConcurApp";

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{at}: {source}")]
    Resolve { at: String, source: ResolveError },
    #[error("the Concur app secret does not match Metadata.ConnectorSecrets.{APP_SECRET_METADATA}: {0}")]
    AppSecret(String),
    #[error("invalid stack name {name:?}: {reason}")]
    StackName { name: String, reason: String },
    #[error("the SDK config has no region (set AWS_REGION)")]
    NoRegion,
    #[error("{action}: {message}")]
    Aws { action: String, message: String },
}

fn resolve_err(at: impl Into<String>) -> impl FnOnce(ResolveError) -> ProvisionError {
    move |source| ProvisionError::Resolve { at: at.into(), source }
}

fn aws<E, R>(action: impl Into<String>) -> impl FnOnce(SdkError<E, R>) -> ProvisionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |err| {
        let message = match err.as_service_error() {
            Some(s) => format!("{}: {}", s.code().unwrap_or("ServiceError"), s.message().unwrap_or("no message")),
            None => DisplayErrorContext(&err).to_string(),
        };
        ProvisionError::Aws { action: action.into(), message }
    }
}

fn aws_build(action: impl Into<String>) -> impl FnOnce(aws_sdk_dynamodb::error::BuildError) -> ProvisionError {
    move |err| ProvisionError::Aws { action: action.into(), message: err.to_string() }
}

/// What [`provision`] created, with every function's resolved environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedStack {
    pub stack_name: String,
    /// Table logical id → table name.
    pub tables: BTreeMap<String, String>,
    /// Queue logical id → queue URL.
    pub queue_urls: BTreeMap<String, String>,
    /// Bucket logical id → bucket name.
    #[serde(default)]
    pub buckets: BTreeMap<String, String>,
    /// Topic logical id → topic ARN.
    #[serde(default)]
    pub topics: BTreeMap<String, String>,
    pub app_secret_arn: String,
    /// Function logical id → variable → value, as CloudFormation would set them.
    pub function_env: BTreeMap<String, BTreeMap<String, String>>,
}

impl ProvisionedStack {
    /// A function's environment. Panics (with the known ids) for an unknown
    /// function: meant for tests.
    pub fn function_env(&self, function_logical_id: &str) -> &BTreeMap<String, String> {
        self.function_env.get(function_logical_id).unwrap_or_else(|| {
            panic!(
                "no function {function_logical_id} in the template (known: {:?})",
                self.function_env.keys().collect::<Vec<_>>()
            )
        })
    }

    /// A table's name. Panics for an unknown logical id (tests).
    pub fn table(&self, logical_id: &str) -> &str {
        self.tables
            .get(logical_id)
            .unwrap_or_else(|| panic!("no table {logical_id} (known: {:?})", self.tables.keys().collect::<Vec<_>>()))
    }

    /// A queue's URL. Panics for an unknown logical id (tests).
    pub fn queue_url(&self, logical_id: &str) -> &str {
        self.queue_urls.get(logical_id).unwrap_or_else(|| {
            panic!("no queue {logical_id} (known: {:?})", self.queue_urls.keys().collect::<Vec<_>>())
        })
    }

    /// A bucket's name. Panics for an unknown logical id (tests).
    pub fn bucket(&self, logical_id: &str) -> &str {
        self.buckets
            .get(logical_id)
            .unwrap_or_else(|| panic!("no bucket {logical_id} (known: {:?})", self.buckets.keys().collect::<Vec<_>>()))
    }
}

/// Options of [`provision_with`].
#[derive(Debug, Clone, Default)]
pub struct ProvisionOptions {
    /// Parameter values instead of the template's Defaults (not ConcurAppSecretArn).
    pub parameter_overrides: BTreeMap<String, String>,
    /// Another template than the bundled `infra/template.yaml`.
    pub template: Option<Template>,
}

/// Provisions `infra/template.yaml`'s tables, queues, buckets and Concur app
/// secret under `stack_name`, with the template's parameter Defaults.
pub async fn provision(
    sdk_config: &aws_config::SdkConfig,
    stack_name: &str,
    app_secret: &Json,
) -> Result<ProvisionedStack, ProvisionError> {
    provision_with(sdk_config, stack_name, app_secret, &ProvisionOptions::default()).await
}

/// [`provision`] with parameter overrides and/or another template.
pub async fn provision_with(
    sdk_config: &aws_config::SdkConfig,
    stack_name: &str,
    app_secret: &Json,
    options: &ProvisionOptions,
) -> Result<ProvisionedStack, ProvisionError> {
    let bundled;
    let template = match &options.template {
        Some(t) => t,
        None => {
            bundled = Template::bundled()?;
            &bundled
        }
    };
    check_stack_name(stack_name)?;
    check_app_secret(template, app_secret)?;
    if options.parameter_overrides.contains_key(APP_SECRET_PARAMETER) {
        return Err(ProvisionError::Resolve {
            at: "parameter overrides".into(),
            source: ResolveError {
                expression: APP_SECRET_PARAMETER.into(),
                reason: "is set by the provisioner to the app secret it creates".into(),
            },
        });
    }
    let region = sdk_config.region().ok_or(ProvisionError::NoRegion)?.to_string();

    // 1. The app secret: its ARN also tells the account id and partition.
    let secrets = aws_sdk_secretsmanager::Client::new(sdk_config);
    let secret_name = format!("{stack_name}/concur-app");
    let created = secrets
        .create_secret()
        .name(&secret_name)
        .description("Concur application credentials (local stack)")
        .secret_string(app_secret.to_string())
        .send()
        .await
        .map_err(aws(format!("creating secret {secret_name}")))?;
    let app_secret_arn = created.arn.ok_or_else(|| ProvisionError::Aws {
        action: format!("creating secret {secret_name}"),
        message: "the response has no ARN".into(),
    })?;
    let mut arn_parts = app_secret_arn.split(':');
    let partition = arn_parts.nth(1).unwrap_or("aws").to_owned();
    let account_id = arn_parts.nth(2).filter(|a| !a.is_empty()).unwrap_or(MOTO_ACCOUNT_ID).to_owned();

    let mut overrides = options.parameter_overrides.clone();
    overrides.insert(APP_SECRET_PARAMETER.into(), app_secret_arn.clone());
    let mut values = StackValues::new(template, stack_name, &region, &account_id, &overrides)
        .map_err(resolve_err("parameter overrides"))?;
    values.partition = partition;

    // 2. Tables.
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk_config);
    let mut tables = BTreeMap::new();
    for (id, spec) in &template.tables {
        let name =
            values.resolve(&spec.table_name).map_err(resolve_err(format!("Resources.{id}.Properties.TableName")))?;
        let arn = create_table(&dynamodb, &name, spec).await?;
        values.resources.insert(
            id.clone(),
            ResourceValue { reference: name.clone(), attributes: [("Arn".to_owned(), arn)].into() },
        );
        tables.insert(id.clone(), name);
    }

    // 3. Queues, dead-letter queues first.
    let sqs = aws_sdk_sqs::Client::new(sdk_config);
    let mut queue_urls = BTreeMap::new();
    for id in template.queue_creation_order()? {
        let spec = &template.queues[&id];
        let at = format!("Resources.{id}.Properties");
        let name = values.resolve(&spec.queue_name).map_err(resolve_err(format!("{at}.QueueName")))?;
        let mut attributes: HashMap<QueueAttributeName, String> = HashMap::new();
        let mut set = |k: QueueAttributeName, v: Option<String>| {
            if let Some(v) = v {
                attributes.insert(k, v);
            }
        };
        set(QueueAttributeName::FifoQueue, spec.fifo.then(|| "true".to_owned()));
        set(QueueAttributeName::ContentBasedDeduplication, spec.content_based_deduplication.map(|b| b.to_string()));
        set(QueueAttributeName::DeduplicationScope, spec.deduplication_scope.clone());
        set(QueueAttributeName::FifoThroughputLimit, spec.fifo_throughput_limit.clone());
        set(QueueAttributeName::VisibilityTimeout, spec.visibility_timeout.map(|v| v.to_string()));
        set(QueueAttributeName::MessageRetentionPeriod, spec.message_retention_period.map(|v| v.to_string()));
        set(QueueAttributeName::SqsManagedSseEnabled, spec.sqs_managed_sse.map(|b| b.to_string()));
        for (k, v) in &spec.other_attributes {
            set(QueueAttributeName::from(k.as_str()), Some(v.clone()));
        }
        if let Some(redrive) = &spec.redrive {
            let dlq_arn = values
                .resources
                .get(&redrive.dead_letter_queue)
                .and_then(|r| r.attributes.get("Arn"))
                .cloned()
                .ok_or_else(|| ProvisionError::Resolve {
                    at: format!("{at}.RedrivePolicy"),
                    source: ResolveError {
                        expression: redrive.dead_letter_queue.clone(),
                        reason: "the dead-letter queue was not created first".into(),
                    },
                })?;
            set(
                QueueAttributeName::RedrivePolicy,
                Some(
                    serde_json::json!({
                        "deadLetterTargetArn": dlq_arn,
                        "maxReceiveCount": redrive.max_receive_count,
                    })
                    .to_string(),
                ),
            );
        }
        if let Some(allow) = &spec.redrive_allow_policy {
            let allow = values.resolve_deep(allow).map_err(resolve_err(format!("{at}.RedriveAllowPolicy")))?;
            set(QueueAttributeName::RedriveAllowPolicy, Some(allow.to_string()));
        }

        let url = sqs
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(aws(format!("creating queue {name}")))?
            .queue_url
            .ok_or_else(|| ProvisionError::Aws {
                action: format!("creating queue {name}"),
                message: "the response has no queue URL".into(),
            })?;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(aws(format!("reading the ARN of queue {name}")))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| ProvisionError::Aws {
                action: format!("reading the ARN of queue {name}"),
                message: "no QueueArn attribute".into(),
            })?;
        values.resources.insert(id.clone(), queue_value(url.clone(), arn, name));
        queue_urls.insert(id.clone(), url);
    }

    // 4. Buckets, after the queues their notifications name.
    let s3 = s3_client(sdk_config);
    let mut buckets = BTreeMap::new();
    for (id, spec) in &template.buckets {
        let name = values
            .bucket_name(id, spec.bucket_name.as_ref())
            .map_err(resolve_err(format!("Resources.{id}.Properties.BucketName")))?;
        create_bucket(&s3, &name, &region, id, spec, &values).await?;
        values.resources.insert(id.clone(), values.bucket_value(name.clone()));
        buckets.insert(id.clone(), name);
    }

    // 5. Topics.
    let sns = aws_sdk_sns::Client::new(sdk_config);
    let mut topics = BTreeMap::new();
    for (id, spec) in &template.topics {
        let at = format!("Resources.{id}.Properties.TopicName");
        let name = values.resolve(&spec.topic_name).map_err(resolve_err(at))?;
        let arn = sns
            .create_topic()
            .name(&name)
            .send()
            .await
            .map_err(aws(format!("creating topic {name}")))?
            .topic_arn
            .ok_or_else(|| ProvisionError::Aws {
                action: format!("creating topic {name}"),
                message: "the response has no topic ARN".into(),
            })?;
        values.resources.insert(id.clone(), topic_value(arn.clone(), name));
        topics.insert(id.clone(), arn);
    }

    // 6. Function environments.
    values.add_local_apis();
    let function_env = resolve_function_env(template, &values)?;

    Ok(ProvisionedStack {
        stack_name: stack_name.to_owned(),
        tables,
        queue_urls,
        buckets,
        topics,
        app_secret_arn,
        function_env,
    })
}

/// Every function's environment resolved against `values`.
pub fn resolve_function_env(
    template: &Template,
    values: &StackValues,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ProvisionError> {
    let mut out = BTreeMap::new();
    for (id, function) in &template.functions {
        let mut env = BTreeMap::new();
        for (var, expr) in &function.environment {
            let value = values.resolve(expr).map_err(resolve_err(format!("{id}.Environment.Variables.{var}")))?;
            env.insert(var.clone(), value);
        }
        out.insert(id.clone(), env);
    }
    Ok(out)
}

/// Stack names as CloudFormation accepts them: a letter, then letters,
/// digits and hyphens, at most 128 characters.
pub fn check_stack_name(name: &str) -> Result<(), ProvisionError> {
    let reason = if name.is_empty() || name.len() > 128 {
        Some("must be 1 to 128 characters")
    } else if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must start with a letter")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("may contain only letters, digits and hyphens")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(ProvisionError::StackName { name: name.to_owned(), reason: reason.to_owned() }),
    }
}

/// The app secret must be a JSON object with exactly the keys the metadata lists
/// (optional keys allowed).
pub fn check_app_secret(template: &Template, app_secret: &Json) -> Result<(), ProvisionError> {
    let spec = template.connector_secrets.get(APP_SECRET_METADATA).ok_or_else(|| {
        ProvisionError::AppSecret(format!("the template has no Metadata.ConnectorSecrets.{APP_SECRET_METADATA}"))
    })?;
    let (required, optional) = spec
        .keys_for(None)
        .ok_or_else(|| ProvisionError::AppSecret(format!("{APP_SECRET_METADATA}.keys must be a plain list")))?;
    let object = app_secret.as_object().ok_or_else(|| ProvisionError::AppSecret("it is not a JSON object".into()))?;
    let given: BTreeSet<String> = object.keys().cloned().collect();
    let missing: Vec<_> = required.difference(&given).cloned().collect();
    let extra: Vec<_> = given.iter().filter(|k| !required.contains(*k) && !optional.contains(*k)).cloned().collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing keys {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        problems.push(format!("unexpected keys {}", extra.join(", ")));
    }
    if problems.is_empty() { Ok(()) } else { Err(ProvisionError::AppSecret(problems.join("; "))) }
}

fn scalar_type(t: &str) -> ScalarAttributeType {
    match t {
        "N" => ScalarAttributeType::N,
        "B" => ScalarAttributeType::B,
        _ => ScalarAttributeType::S,
    }
}

fn key_schema(
    hash: &KeyAttribute,
    range: Option<&KeyAttribute>,
    action: &str,
) -> Result<Vec<KeySchemaElement>, ProvisionError> {
    let mut keys = vec![
        KeySchemaElement::builder()
            .attribute_name(&hash.name)
            .key_type(KeyType::Hash)
            .build()
            .map_err(aws_build(action))?,
    ];
    if let Some(range) = range {
        keys.push(
            KeySchemaElement::builder()
                .attribute_name(&range.name)
                .key_type(KeyType::Range)
                .build()
                .map_err(aws_build(action))?,
        );
    }
    Ok(keys)
}

/// Creates one table (and its TTL), waits until it is ACTIVE, returns its ARN.
async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    spec: &TableSpec,
) -> Result<String, ProvisionError> {
    let action = format!("creating table {name}");
    let mut definitions: BTreeMap<&str, &str> = BTreeMap::new();
    let keys = [Some(&spec.hash_key), spec.range_key.as_ref()]
        .into_iter()
        .chain(spec.global_secondary_indexes.iter().flat_map(|g| [Some(&g.hash_key), g.range_key.as_ref()]))
        .flatten();
    for key in keys {
        definitions.insert(&key.name, &key.attribute_type);
    }
    let definitions = definitions
        .into_iter()
        .map(|(n, t)| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(scalar_type(t))
                .build()
                .map_err(aws_build(&action))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(key_schema(&spec.hash_key, spec.range_key.as_ref(), &action)?));
    for gsi in &spec.global_secondary_indexes {
        let projection = match &gsi.projection {
            Projection::All => DynamoProjection::builder().projection_type(ProjectionType::All).build(),
            Projection::KeysOnly => DynamoProjection::builder().projection_type(ProjectionType::KeysOnly).build(),
            Projection::Include(attrs) => DynamoProjection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(attrs.clone()))
                .build(),
        };
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&gsi.name)
                .set_key_schema(Some(key_schema(&gsi.hash_key, gsi.range_key.as_ref(), &action)?))
                .projection(projection)
                .build()
                .map_err(aws_build(&action))?,
        );
    }
    request.send().await.map_err(aws(action.clone()))?;

    // moto answers ACTIVE at once; real DynamoDB takes seconds.
    let mut arn = None;
    for _ in 0..240 {
        let table = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(aws(format!("describing table {name}")))?
            .table;
        let Some(table) = table else { continue };
        let indexes_active =
            table.global_secondary_indexes().iter().all(|g| g.index_status().is_none_or(|s| s.as_str() == "ACTIVE"));
        if table.table_status() == Some(&TableStatus::Active) && indexes_active {
            arn = table.table_arn;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let arn = arn.ok_or_else(|| ProvisionError::Aws {
        action: action.clone(),
        message: "the table did not become ACTIVE within 60 s".into(),
    })?;

    if let Some(ttl) = &spec.ttl_attribute {
        let enabled = client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(ttl)
                    .enabled(true)
                    .build()
                    .map_err(aws_build(&action))?,
            )
            .send()
            .await;
        match enabled {
            Ok(_) => {}
            // dynalite (`with-stack.sh --dynalite`) has no TTL; neither stand-in
            // expires items, so nothing a run sees changes.
            Err(e) if e.code() == Some("UnknownOperationException") => {}
            Err(e) => return Err(aws(format!("enabling TTL on {ttl} of table {name}"))(e)),
        }
    }
    Ok(arn)
}

/// An S3 client with path-style addressing: on a local endpoint (moto),
/// `<bucket>.127.0.0.1` does not resolve. Real S3 still serves path style.
pub fn s3_client(sdk_config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk_config).force_path_style(true).build())
}

/// Creates one bucket and applies its queue notifications (the queues exist
/// already; S3, real or moto, then sends each queue an `s3:TestEvent`).
async fn create_bucket(
    client: &aws_sdk_s3::Client,
    name: &str,
    region: &str,
    id: &str,
    spec: &BucketSpec,
    values: &StackValues,
) -> Result<(), ProvisionError> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, Event, FilterRule, FilterRuleName,
        NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let action = format!("creating bucket {name}");
    let mut request = client.create_bucket().bucket(name);
    // us-east-1 takes no location constraint (and rejects its own name).
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        );
    }
    request.send().await.map_err(aws(action.clone()))?;

    if spec.queue_notifications.is_empty() {
        return Ok(());
    }
    let action = format!("applying the queue notifications of bucket {name}");
    let mut configuration = NotificationConfiguration::builder();
    for (i, n) in spec.queue_notifications.iter().enumerate() {
        let at = format!("Resources.{id}.Properties.NotificationConfiguration.QueueConfigurations[{i}].Queue");
        let queue_arn = values.resolve(&n.queue).map_err(resolve_err(at))?;
        let mut queue = QueueConfiguration::builder().queue_arn(queue_arn).events(Event::from(n.event.as_str()));
        let rules = [(FilterRuleName::Prefix, &n.prefix), (FilterRuleName::Suffix, &n.suffix)]
            .into_iter()
            .filter_map(|(rule, value)| value.as_ref().map(|v| FilterRule::builder().name(rule).value(v).build()))
            .collect::<Vec<_>>();
        if !rules.is_empty() {
            queue = queue.filter(
                NotificationConfigurationFilter::builder()
                    .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                    .build(),
            );
        }
        configuration = configuration.queue_configurations(queue.build().map_err(aws_build(&action))?);
    }
    client
        .put_bucket_notification_configuration()
        .bucket(name)
        .notification_configuration(configuration.build())
        .send()
        .await
        .map_err(aws(action))?;
    Ok(())
}
