//! Reads `infra/template.yaml` into the few things the local stack needs:
//! DynamoDB tables, SQS queues, S3 buckets (with their queue notifications),
//! function environments and the `ConnectorSecrets` metadata.
//!
//! CloudFormation short tags (`!Ref`, `!Sub`, `!GetAtt`, …) arrive from
//! serde_yaml_ng as `Value::Tagged`; they are rewritten to the long JSON form
//! (`{"Ref": …}`, `{"Fn::Sub": …}`, `{"Fn::GetAtt": [res, attr]}`) so the rest
//! of the crate handles one representation only.
//!
//! The parser is strict on purpose: a property the local stack would silently
//! drop is an error, so the template and the local stack cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value as Yaml;

/// The SAM template, compiled in (cargo rebuilds this crate when it changes).
pub const BUNDLED_TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// A template that cannot be read, or uses something the local stack does not support.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("template {at}: {message}")]
    Invalid { at: String, message: String },
}

fn invalid(at: impl Into<String>, message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid { at: at.into(), message: message.into() }
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    #[serde(rename = "type")]
    pub param_type: String,
    /// The default as CloudFormation passes it on: always a string.
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
}

/// A key attribute: name and DynamoDB scalar type (`S`, `N` or `B`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyAttribute {
    pub name: String,
    pub attribute_type: String,
}

/// What a global secondary index projects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexSpec {
    pub name: String,
    pub hash_key: KeyAttribute,
    pub range_key: Option<KeyAttribute>,
    pub projection: Projection,
}

/// An `AWS::DynamoDB::Table`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableSpec {
    /// The `TableName` expression (long-form intrinsics), unresolved.
    pub table_name: Json,
    pub billing_mode: String,
    pub hash_key: KeyAttribute,
    pub range_key: Option<KeyAttribute>,
    pub global_secondary_indexes: Vec<IndexSpec>,
    /// The TTL attribute when `TimeToLiveSpecification.Enabled` is true.
    pub ttl_attribute: Option<String>,
    pub point_in_time_recovery: bool,
    pub sse: bool,
}

/// `RedrivePolicy` of a queue: the dead-letter queue's logical id and the
/// receive count after which a message moves there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedriveSpec {
    pub dead_letter_queue: String,
    pub max_receive_count: u32,
}

/// An `AWS::SQS::Queue`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSpec {
    /// The `QueueName` expression, unresolved.
    pub queue_name: Json,
    pub fifo: bool,
    pub content_based_deduplication: Option<bool>,
    pub deduplication_scope: Option<String>,
    pub fifo_throughput_limit: Option<String>,
    pub visibility_timeout: Option<u32>,
    pub message_retention_period: Option<u32>,
    pub sqs_managed_sse: Option<bool>,
    pub redrive: Option<RedriveSpec>,
    /// `RedriveAllowPolicy`, unresolved (it usually holds `!Sub` ARNs).
    pub redrive_allow_policy: Option<Json>,
    /// Other SQS attributes passed through as they are (DelaySeconds, …).
    pub other_attributes: BTreeMap<String, String>,
}

/// One `NotificationConfiguration.QueueConfigurations` entry of a bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueNotificationSpec {
    /// The S3 event, e.g. `s3:ObjectCreated:*`.
    pub event: String,
    /// The `Queue` expression (the queue's ARN, usually `!GetAtt Q.Arn`), unresolved.
    pub queue: Json,
    /// `Filter.S3Key.Rules` `prefix` value.
    pub prefix: Option<String>,
    /// `Filter.S3Key.Rules` `suffix` value.
    pub suffix: Option<String>,
}

/// An `AWS::SNS::Topic` (its subscriptions are deploy-only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicSpec {
    /// The `TopicName` expression, unresolved.
    pub topic_name: Json,
}

/// An `AWS::S3::Bucket`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketSpec {
    /// The `BucketName` expression, unresolved; `None` when CloudFormation
    /// names the bucket (the local stack then derives a name from the stack
    /// name and the logical id).
    pub bucket_name: Option<Json>,
    pub queue_notifications: Vec<QueueNotificationSpec>,
    /// Deploy-only settings, kept as written (unresolved) so tests can check
    /// them: `BucketEncryption`, `PublicAccessBlockConfiguration`,
    /// `OwnershipControls`, `LifecycleConfiguration`, `VersioningConfiguration`.
    pub deploy_only: BTreeMap<String, Json>,
}

/// An `AWS::Serverless::Function`, merged with `Globals.Function`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionSpec {
    /// `Metadata.BuildProperties.Binary` (the cargo binary name).
    pub binary: Option<String>,
    pub timeout: Option<u32>,
    pub memory_size: Option<u32>,
    /// `Environment.Variables`, Globals first, then the function's own; unresolved.
    pub environment: BTreeMap<String, Json>,
    /// Event name → event type (`HttpApi`, `SQS`, `ScheduleV2`, …).
    pub events: BTreeMap<String, String>,
    /// The IAM actions its role allows (`dynamodb:PutItem`, `sqs:*`, …),
    /// from its `Policies` or from the `AWS::IAM::Role` its `Role` names;
    /// the resources they apply to are not read. A SAM policy template
    /// (`DynamoDBCrudPolicy: …`) stands as `template:<name>`, so a check of
    /// what the code calls names it instead of passing over it.
    pub granted_actions: BTreeSet<String>,
}

impl FunctionSpec {
    /// Whether its role allows `action` (exactly, or through `service:*`).
    pub fn allows(&self, action: &str) -> bool {
        let service_wide = action.split_once(':').map(|(service, _)| format!("{service}:*"));
        self.granted_actions.contains(action) || service_wide.is_some_and(|any| self.granted_actions.contains(&any))
    }
}

/// Keys of a secret: one list, or one list per variant (e.g. per ERP kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SecretKeys {
    Fixed(Vec<String>),
    ByKind(BTreeMap<String, Vec<String>>),
}

/// One entry of the `ConnectorSecrets` metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretSpec {
    pub name: Option<String>,
    pub description: Option<String>,
    pub keys: SecretKeys,
    pub optional_keys: Option<SecretKeys>,
}

impl SecretSpec {
    /// Required and optional keys of a fixed-shape secret, or of one kind.
    pub fn keys_for(&self, kind: Option<&str>) -> Option<(BTreeSet<String>, BTreeSet<String>)> {
        fn pick(keys: &SecretKeys, kind: Option<&str>) -> Option<BTreeSet<String>> {
            match (keys, kind) {
                (SecretKeys::Fixed(list), None) => Some(list.iter().cloned().collect()),
                (SecretKeys::ByKind(map), Some(kind)) => map.get(kind).map(|l| l.iter().cloned().collect()),
                _ => None,
            }
        }
        let required = pick(&self.keys, kind)?;
        let optional = self.optional_keys.as_ref().and_then(|o| pick(o, kind)).unwrap_or_default();
        Some((required, optional))
    }
}

/// What the local stack knows about the template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    pub parameters: BTreeMap<String, Parameter>,
    /// `Mappings`, as JSON (for `Fn::FindInMap`).
    pub mappings: Map<String, Json>,
    pub tables: BTreeMap<String, TableSpec>,
    pub queues: BTreeMap<String, QueueSpec>,
    pub buckets: BTreeMap<String, BucketSpec>,
    pub topics: BTreeMap<String, TopicSpec>,
    pub functions: BTreeMap<String, FunctionSpec>,
    /// `Metadata.ConnectorSecrets`.
    pub connector_secrets: BTreeMap<String, SecretSpec>,
    /// Every resource's type, by logical id (also the ones not provisioned locally).
    pub resource_types: BTreeMap<String, String>,
}

impl Template {
    /// The repository's `infra/template.yaml` as compiled into this crate.
    pub fn bundled() -> Result<Self, TemplateError> {
        Self::parse(BUNDLED_TEMPLATE)
    }

    pub fn from_file(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TemplateError::Io { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    pub fn parse(yaml: &str) -> Result<Self, TemplateError> {
        let raw: Yaml = serde_yaml_ng::from_str(yaml)?;
        let doc = yaml_to_json(raw, "")?;
        let doc = doc.as_object().ok_or_else(|| invalid("top level", "is not a mapping"))?;

        let parameters = match doc.get("Parameters") {
            None => BTreeMap::new(),
            Some(p) => parse_parameters(p)?,
        };
        let mappings = match doc.get("Mappings") {
            None => Map::new(),
            Some(Json::Object(m)) => m.clone(),
            Some(_) => return Err(invalid("Mappings", "is not a mapping")),
        };
        let connector_secrets = match doc.get("Metadata").and_then(|m| m.get("ConnectorSecrets")) {
            None => BTreeMap::new(),
            Some(s) => parse_connector_secrets(s)?,
        };
        let globals = doc.get("Globals").and_then(|g| g.get("Function")).cloned().unwrap_or(Json::Object(Map::new()));

        let resources = doc
            .get("Resources")
            .and_then(Json::as_object)
            .ok_or_else(|| invalid("Resources", "is missing or not a mapping"))?;

        let mut template = Template {
            parameters,
            mappings,
            tables: BTreeMap::new(),
            queues: BTreeMap::new(),
            buckets: BTreeMap::new(),
            topics: BTreeMap::new(),
            functions: BTreeMap::new(),
            connector_secrets,
            resource_types: BTreeMap::new(),
        };
        for (id, resource) in resources {
            let at = format!("Resources.{id}");
            let kind = resource.get("Type").and_then(Json::as_str).ok_or_else(|| invalid(&at, "has no Type"))?;
            template.resource_types.insert(id.clone(), kind.to_owned());
            let provisioned = matches!(
                kind,
                "AWS::DynamoDB::Table"
                    | "AWS::SQS::Queue"
                    | "AWS::S3::Bucket"
                    | "AWS::SNS::Topic"
                    | "AWS::Serverless::Function"
            );
            if provisioned && resource.get("Condition").is_some() {
                return Err(invalid(
                    format!("{at}.Condition"),
                    "conditional tables, queues, buckets and functions are not supported by the local stack",
                ));
            }
            let empty = Json::Object(Map::new());
            let props = resource.get("Properties").unwrap_or(&empty);
            let props = props.as_object().ok_or_else(|| invalid(format!("{at}.Properties"), "is not a mapping"))?;
            match kind {
                "AWS::DynamoDB::Table" => {
                    template.tables.insert(id.clone(), parse_table(id, props)?);
                }
                "AWS::SQS::Queue" => {
                    template.queues.insert(id.clone(), parse_queue(id, props)?);
                }
                "AWS::S3::Bucket" => {
                    template.buckets.insert(id.clone(), parse_bucket(id, props)?);
                }
                "AWS::SNS::Topic" => {
                    template.topics.insert(id.clone(), parse_topic(id, props)?);
                }
                "AWS::Serverless::Function" => {
                    template.functions.insert(id.clone(), parse_function(id, resource, props, &globals)?);
                }
                _ => {}
            }
        }
        for (id, function) in template.functions.iter_mut() {
            function.granted_actions = granted_actions(id, resources)?;
        }
        for (id, queue) in &template.queues {
            let Some(redrive) = &queue.redrive else {
                continue;
            };
            if !template.queues.contains_key(&redrive.dead_letter_queue) {
                return Err(invalid(
                    format!("Resources.{id}.Properties.RedrivePolicy"),
                    format!("points at {}, which is not a queue of this template", redrive.dead_letter_queue),
                ));
            }
        }
        Ok(template)
    }

    /// Queue logical ids in creation order: every dead-letter queue before the
    /// queues that redrive into it.
    pub fn queue_creation_order(&self) -> Result<Vec<String>, TemplateError> {
        let mut order: Vec<String> = Vec::new();
        let mut visiting = BTreeSet::new();
        fn visit(
            t: &Template,
            id: &str,
            order: &mut Vec<String>,
            visiting: &mut BTreeSet<String>,
        ) -> Result<(), TemplateError> {
            if order.iter().any(|o| o == id) {
                return Ok(());
            }
            if !visiting.insert(id.to_owned()) {
                return Err(invalid(format!("Resources.{id}"), "is part of a redrive cycle"));
            }
            if let Some(redrive) = t.queues.get(id).and_then(|q| q.redrive.as_ref()) {
                visit(t, &redrive.dead_letter_queue, order, visiting)?;
            }
            order.push(id.to_owned());
            Ok(())
        }
        for id in self.queues.keys() {
            visit(self, id, &mut order, &mut visiting)?;
        }
        Ok(order)
    }
}

// ------------------------------------------------------------------ YAML → JSON

/// Converts YAML to JSON, rewriting CloudFormation short tags to long form.
pub fn yaml_to_json(value: Yaml, at: &str) -> Result<Json, TemplateError> {
    Ok(match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Json::Number)
                    .ok_or_else(|| invalid(at, format!("number {n} is not representable")))?
            }
        }
        Yaml::String(s) => Json::String(s),
        Yaml::Sequence(items) => Json::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| yaml_to_json(v, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => return Err(invalid(at, format!("has a non-scalar key {other:?}"))),
                };
                let child = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
                out.insert(key, yaml_to_json(v, &child)?);
            }
            Json::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_owned();
            let inner = yaml_to_json(tagged.value, at)?;
            let (key, inner) = match name.as_str() {
                "Ref" | "Condition" => (name, inner),
                "GetAtt" => {
                    let inner = match inner {
                        Json::String(s) => match s.split_once('.') {
                            Some((res, attr)) => Json::Array(vec![res.into(), attr.into()]),
                            None => {
                                return Err(invalid(at, format!("!GetAtt {s} has no attribute")));
                            }
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_owned(), inner)
                }
                _ => (format!("Fn::{name}"), inner),
            };
            let mut out = Map::new();
            out.insert(key, inner);
            Json::Object(out)
        }
    })
}

// ------------------------------------------------------------------ helpers

fn scalar_string(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn literal_str(props: &Map<String, Json>, key: &str, at: &str) -> Result<Option<String>, TemplateError> {
    match props.get(key) {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{at}.{key}"), "must be a literal string here")),
    }
}

fn literal_bool(props: &Map<String, Json>, key: &str, at: &str) -> Result<Option<bool>, TemplateError> {
    match props.get(key) {
        None => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(*b)),
        Some(Json::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(_) => Err(invalid(format!("{at}.{key}"), "must be a literal boolean here")),
    }
}

fn literal_u32(props: &Map<String, Json>, key: &str, at: &str) -> Result<Option<u32>, TemplateError> {
    match props.get(key) {
        None => Ok(None),
        Some(v) => scalar_string(v)
            .and_then(|s| s.parse::<u32>().ok())
            .map(Some)
            .ok_or_else(|| invalid(format!("{at}.{key}"), "must be a literal non-negative integer here")),
    }
}

fn check_known(props: &Map<String, Json>, at: &str, known: &[&str], kind: &str) -> Result<(), TemplateError> {
    for key in props.keys() {
        if !known.contains(&key.as_str()) {
            return Err(invalid(
                format!("{at}.{key}"),
                format!(
                    "{kind} property {key} is not supported by the local stack; teach tests/localstack/src/template.rs about it"
                ),
            ));
        }
    }
    Ok(())
}

fn string_list(v: &Json, at: &str) -> Result<Vec<String>, TemplateError> {
    v.as_array()
        .ok_or_else(|| invalid(at, "must be a list of strings"))?
        .iter()
        .map(|s| s.as_str().map(str::to_owned).ok_or_else(|| invalid(at, "must be a list of strings")))
        .collect()
}

// ------------------------------------------------------------------ sections

fn parse_parameters(p: &Json) -> Result<BTreeMap<String, Parameter>, TemplateError> {
    let p = p.as_object().ok_or_else(|| invalid("Parameters", "is not a mapping"))?;
    let mut out = BTreeMap::new();
    for (name, spec) in p {
        let at = format!("Parameters.{name}");
        let param_type = spec.get("Type").and_then(Json::as_str).ok_or_else(|| invalid(&at, "has no Type"))?.to_owned();
        let default = match spec.get("Default") {
            None => None,
            Some(v) => Some(scalar_string(v).ok_or_else(|| invalid(format!("{at}.Default"), "is not a scalar"))?),
        };
        let allowed_values = match spec.get("AllowedValues") {
            None => Vec::new(),
            Some(Json::Array(items)) => items
                .iter()
                .map(|v| scalar_string(v).ok_or_else(|| invalid(format!("{at}.AllowedValues"), "holds a non-scalar")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(format!("{at}.AllowedValues"), "is not a list")),
        };
        out.insert(name.clone(), Parameter { param_type, default, allowed_values });
    }
    Ok(out)
}

fn parse_connector_secrets(s: &Json) -> Result<BTreeMap<String, SecretSpec>, TemplateError> {
    let at = "Metadata.ConnectorSecrets";
    let s = s.as_object().ok_or_else(|| invalid(at, "is not a mapping"))?;
    let keys_of = |v: &Json, at: &str| -> Result<SecretKeys, TemplateError> {
        match v {
            Json::Array(_) => Ok(SecretKeys::Fixed(string_list(v, at)?)),
            Json::Object(m) => Ok(SecretKeys::ByKind(
                m.iter()
                    .map(|(k, l)| Ok((k.clone(), string_list(l, &format!("{at}.{k}"))?)))
                    .collect::<Result<_, TemplateError>>()?,
            )),
            _ => Err(invalid(at, "must be a list of keys or a mapping of kind → list of keys")),
        }
    };
    let mut out = BTreeMap::new();
    for (name, spec) in s {
        let at = format!("{at}.{name}");
        let spec = spec.as_object().ok_or_else(|| invalid(&at, "is not a mapping"))?;
        check_known(spec, &at, &["name", "description", "keys", "optional_keys"], "ConnectorSecrets")?;
        let keys = keys_of(spec.get("keys").ok_or_else(|| invalid(&at, "has no keys"))?, &format!("{at}.keys"))?;
        let optional_keys =
            spec.get("optional_keys").map(|o| keys_of(o, &format!("{at}.optional_keys"))).transpose()?;
        out.insert(
            name.clone(),
            SecretSpec {
                name: spec.get("name").and_then(Json::as_str).map(str::to_owned),
                description: spec.get("description").and_then(Json::as_str).map(str::to_owned),
                keys,
                optional_keys,
            },
        );
    }
    Ok(out)
}

fn parse_key_schema(
    v: Option<&Json>,
    types: &BTreeMap<String, String>,
    at: &str,
) -> Result<(KeyAttribute, Option<KeyAttribute>), TemplateError> {
    let items = v.and_then(Json::as_array).ok_or_else(|| invalid(at, "KeySchema is missing or not a list"))?;
    let mut hash = None;
    let mut range = None;
    for item in items {
        let name = item
            .get("AttributeName")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid(at, "a KeySchema entry has no literal AttributeName"))?;
        let attribute_type = types
            .get(name)
            .cloned()
            .ok_or_else(|| invalid(at, format!("key attribute {name} is not in AttributeDefinitions")))?;
        let key = KeyAttribute { name: name.to_owned(), attribute_type };
        match item.get("KeyType").and_then(Json::as_str) {
            Some("HASH") if hash.is_none() => hash = Some(key),
            Some("RANGE") if range.is_none() => range = Some(key),
            other => {
                return Err(invalid(at, format!("unexpected KeyType {other:?} for {name}")));
            }
        }
    }
    let hash = hash.ok_or_else(|| invalid(at, "KeySchema has no HASH key"))?;
    Ok((hash, range))
}

const TABLE_PROPERTIES: &[&str] = &[
    "TableName",
    "BillingMode",
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "TimeToLiveSpecification",
    // Deploy-only: recorded or ignored locally, they do not change behaviour.
    "PointInTimeRecoverySpecification",
    "SSESpecification",
    "Tags",
    "DeletionProtectionEnabled",
    "ContributorInsightsSpecification",
    "TableClass",
];

fn parse_table(id: &str, props: &Map<String, Json>) -> Result<TableSpec, TemplateError> {
    let at = format!("Resources.{id}.Properties");
    check_known(props, &at, TABLE_PROPERTIES, "AWS::DynamoDB::Table")?;

    let table_name =
        props.get("TableName").cloned().unwrap_or_else(|| Json::String(format!("${{AWS::StackName}}-{id}")));
    let table_name = match table_name {
        Json::String(s) if s.contains("${") => serde_json::json!({ "Fn::Sub": s }),
        other => other,
    };
    let billing_mode = literal_str(props, "BillingMode", &at)?.unwrap_or_else(|| "PROVISIONED".into());
    if billing_mode != "PAY_PER_REQUEST" {
        return Err(invalid(format!("{at}.BillingMode"), "only PAY_PER_REQUEST is supported by the local stack"));
    }

    let mut types = BTreeMap::new();
    for def in props
        .get("AttributeDefinitions")
        .and_then(Json::as_array)
        .ok_or_else(|| invalid(&at, "AttributeDefinitions is missing or not a list"))?
    {
        let name = def.get("AttributeName").and_then(Json::as_str);
        let ty = def.get("AttributeType").and_then(Json::as_str);
        match (name, ty) {
            (Some(n), Some(t @ ("S" | "N" | "B"))) => {
                if types.insert(n.to_owned(), t.to_owned()).is_some() {
                    return Err(invalid(&at, format!("attribute {n} is defined twice")));
                }
            }
            _ => {
                return Err(invalid(&at, format!("malformed AttributeDefinitions entry {def}")));
            }
        }
    }

    let (hash_key, range_key) = parse_key_schema(props.get("KeySchema"), &types, &format!("{at}.KeySchema"))?;
    let mut used: BTreeSet<String> =
        [Some(&hash_key), range_key.as_ref()].into_iter().flatten().map(|k| k.name.clone()).collect();

    let mut global_secondary_indexes = Vec::new();
    if let Some(gsis) = props.get("GlobalSecondaryIndexes") {
        for (i, gsi) in
            gsis.as_array().ok_or_else(|| invalid(&at, "GlobalSecondaryIndexes is not a list"))?.iter().enumerate()
        {
            let gat = format!("{at}.GlobalSecondaryIndexes[{i}]");
            let name = gsi
                .get("IndexName")
                .and_then(Json::as_str)
                .ok_or_else(|| invalid(&gat, "has no literal IndexName"))?
                .to_owned();
            let (h, r) = parse_key_schema(gsi.get("KeySchema"), &types, &format!("{gat}.KeySchema"))?;
            used.insert(h.name.clone());
            if let Some(r) = &r {
                used.insert(r.name.clone());
            }
            let projection = gsi.get("Projection").ok_or_else(|| invalid(&gat, "has no Projection"))?;
            let projection = match projection.get("ProjectionType").and_then(Json::as_str) {
                Some("ALL") => Projection::All,
                Some("KEYS_ONLY") => Projection::KeysOnly,
                Some("INCLUDE") => Projection::Include(string_list(
                    projection
                        .get("NonKeyAttributes")
                        .ok_or_else(|| invalid(&gat, "INCLUDE projection without NonKeyAttributes"))?,
                    &format!("{gat}.Projection.NonKeyAttributes"),
                )?),
                other => {
                    return Err(invalid(&gat, format!("unsupported ProjectionType {other:?}")));
                }
            };
            global_secondary_indexes.push(IndexSpec { name, hash_key: h, range_key: r, projection });
        }
    }
    if let Some(unused) = types.keys().find(|k| !used.contains(*k)) {
        return Err(invalid(
            format!("{at}.AttributeDefinitions"),
            format!("{unused} is defined but is not a key of the table or an index (DynamoDB rejects that)"),
        ));
    }

    let ttl_attribute = match props.get("TimeToLiveSpecification") {
        None => None,
        Some(Json::Object(ttl)) => {
            let tat = format!("{at}.TimeToLiveSpecification");
            let enabled = literal_bool(ttl, "Enabled", &tat)?.unwrap_or(false);
            let name = literal_str(ttl, "AttributeName", &tat)?;
            if enabled { Some(name.ok_or_else(|| invalid(&tat, "is enabled without an AttributeName"))?) } else { None }
        }
        Some(_) => {
            return Err(invalid(format!("{at}.TimeToLiveSpecification"), "is not a mapping"));
        }
    };
    let flag = |outer: &str, inner: &str| -> bool {
        props.get(outer).and_then(|o| o.get(inner)).is_some_and(|v| *v == Json::Bool(true) || *v == "true")
    };

    Ok(TableSpec {
        table_name,
        billing_mode,
        hash_key,
        range_key,
        global_secondary_indexes,
        ttl_attribute,
        point_in_time_recovery: flag("PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"),
        sse: flag("SSESpecification", "SSEEnabled"),
    })
}

const QUEUE_PROPERTIES: &[&str] = &[
    "QueueName",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "SqsManagedSseEnabled",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    // Deploy-only.
    "Tags",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
];

fn parse_queue(id: &str, props: &Map<String, Json>) -> Result<QueueSpec, TemplateError> {
    let at = format!("Resources.{id}.Properties");
    check_known(props, &at, QUEUE_PROPERTIES, "AWS::SQS::Queue")?;
    let fifo = literal_bool(props, "FifoQueue", &at)?.unwrap_or(false);
    let queue_name = props.get("QueueName").cloned().unwrap_or_else(|| {
        let suffix = if fifo { ".fifo" } else { "" };
        Json::String(format!("${{AWS::StackName}}-{id}{suffix}"))
    });
    let queue_name = match queue_name {
        Json::String(s) if s.contains("${") => serde_json::json!({ "Fn::Sub": s }),
        other => other,
    };

    let redrive = match props.get("RedrivePolicy") {
        None => None,
        Some(Json::Object(r)) => {
            let rat = format!("{at}.RedrivePolicy");
            let target = r.get("deadLetterTargetArn").ok_or_else(|| invalid(&rat, "has no deadLetterTargetArn"))?;
            let dead_letter_queue = match target.get("Fn::GetAtt").and_then(Json::as_array).map(Vec::as_slice) {
                Some([Json::String(res), Json::String(attr)]) if attr == "Arn" => res.clone(),
                _ => {
                    return Err(invalid(
                        format!("{rat}.deadLetterTargetArn"),
                        "must be !GetAtt <queue of this template>.Arn for the local stack",
                    ));
                }
            };
            let max_receive_count =
                literal_u32(r, "maxReceiveCount", &rat)?.ok_or_else(|| invalid(&rat, "has no maxReceiveCount"))?;
            Some(RedriveSpec { dead_letter_queue, max_receive_count })
        }
        Some(_) => return Err(invalid(format!("{at}.RedrivePolicy"), "must be a mapping")),
    };

    let mut other_attributes = BTreeMap::new();
    for key in ["DelaySeconds", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds"] {
        if let Some(v) = literal_u32(props, key, &at)? {
            other_attributes.insert(key.to_owned(), v.to_string());
        }
    }

    Ok(QueueSpec {
        queue_name,
        fifo,
        content_based_deduplication: literal_bool(props, "ContentBasedDeduplication", &at)?,
        deduplication_scope: literal_str(props, "DeduplicationScope", &at)?,
        fifo_throughput_limit: literal_str(props, "FifoThroughputLimit", &at)?,
        visibility_timeout: literal_u32(props, "VisibilityTimeout", &at)?,
        message_retention_period: literal_u32(props, "MessageRetentionPeriod", &at)?,
        sqs_managed_sse: literal_bool(props, "SqsManagedSseEnabled", &at)?,
        redrive,
        redrive_allow_policy: props.get("RedriveAllowPolicy").cloned(),
        other_attributes,
    })
}

const BUCKET_PROPERTIES: &[&str] = &[
    "BucketName",
    "NotificationConfiguration",
    // Deploy-only: recorded in `deploy_only`, not applied to moto (which
    // neither enforces nor expires anything).
    "BucketEncryption",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
    "LifecycleConfiguration",
    "VersioningConfiguration",
    "Tags",
];

fn parse_bucket(id: &str, props: &Map<String, Json>) -> Result<BucketSpec, TemplateError> {
    let at = format!("Resources.{id}.Properties");
    check_known(props, &at, BUCKET_PROPERTIES, "AWS::S3::Bucket")?;
    let bucket_name = props.get("BucketName").cloned().map(|name| match name {
        Json::String(s) if s.contains("${") => serde_json::json!({ "Fn::Sub": s }),
        other => other,
    });

    let mut queue_notifications = Vec::new();
    if let Some(notifications) = props.get("NotificationConfiguration") {
        let nat = format!("{at}.NotificationConfiguration");
        let notifications = notifications.as_object().ok_or_else(|| invalid(&nat, "is not a mapping"))?;
        check_known(notifications, &nat, &["QueueConfigurations"], "NotificationConfiguration (only queues locally)")?;
        let queues = notifications.get("QueueConfigurations").map(Json::as_array);
        let queues = match queues {
            None => Vec::new(),
            Some(Some(list)) => list.clone(),
            Some(None) => return Err(invalid(format!("{nat}.QueueConfigurations"), "is not a list")),
        };
        for (i, q) in queues.iter().enumerate() {
            let qat = format!("{nat}.QueueConfigurations[{i}]");
            let q = q.as_object().ok_or_else(|| invalid(&qat, "is not a mapping"))?;
            check_known(q, &qat, &["Event", "Queue", "Filter"], "QueueConfiguration")?;
            let event = literal_str(q, "Event", &qat)?.ok_or_else(|| invalid(&qat, "has no Event"))?;
            let queue = q.get("Queue").cloned().ok_or_else(|| invalid(&qat, "has no Queue"))?;
            let (mut prefix, mut suffix) = (None, None);
            if let Some(filter) = q.get("Filter") {
                let fat = format!("{qat}.Filter");
                let rules = filter
                    .get("S3Key")
                    .and_then(|k| k.get("Rules"))
                    .and_then(Json::as_array)
                    .ok_or_else(|| invalid(&fat, "must be S3Key.Rules (a list)"))?;
                for rule in rules {
                    let name = rule.get("Name").and_then(Json::as_str).map(str::to_ascii_lowercase);
                    let value = rule.get("Value").and_then(Json::as_str).map(str::to_owned);
                    let slot = match name.as_deref() {
                        Some("prefix") => &mut prefix,
                        Some("suffix") => &mut suffix,
                        _ => return Err(invalid(&fat, format!("unexpected rule {rule} (prefix or suffix)"))),
                    };
                    if value.is_none() || slot.is_some() {
                        return Err(invalid(&fat, format!("rule {rule} needs a literal Value and may appear once")));
                    }
                    *slot = value;
                }
            }
            queue_notifications.push(QueueNotificationSpec { event, queue, prefix, suffix });
        }
    }

    let deploy_only = props
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "BucketName" | "NotificationConfiguration" | "Tags"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(BucketSpec { bucket_name, queue_notifications, deploy_only })
}

fn parse_topic(id: &str, props: &Map<String, Json>) -> Result<TopicSpec, TemplateError> {
    let at = format!("Resources.{id}.Properties");
    check_known(props, &at, &["TopicName", "DisplayName", "Tags"], "AWS::SNS::Topic")?;
    let topic_name = props
        .get("TopicName")
        .cloned()
        .ok_or_else(|| invalid(&at, "has no TopicName (the local stack names topics as the template does)"))?;
    Ok(TopicSpec { topic_name })
}

fn parse_function(
    id: &str,
    resource: &Json,
    props: &Map<String, Json>,
    globals: &Json,
) -> Result<FunctionSpec, TemplateError> {
    let at = format!("Resources.{id}.Properties");
    let empty = Map::new();
    let globals = globals.as_object().unwrap_or(&empty);

    let mut environment = BTreeMap::new();
    for (source, gat) in [(globals, "Globals.Function".to_owned()), (props, at.clone())] {
        if let Some(vars) = source.get("Environment").and_then(|e| e.get("Variables")) {
            let vars =
                vars.as_object().ok_or_else(|| invalid(format!("{gat}.Environment.Variables"), "is not a mapping"))?;
            for (k, v) in vars {
                environment.insert(k.clone(), v.clone());
            }
        }
    }
    let number = |key: &str| -> Result<Option<u32>, TemplateError> {
        match literal_u32(props, key, &at)? {
            Some(v) => Ok(Some(v)),
            None => literal_u32(globals, key, "Globals.Function"),
        }
    };
    let mut events = BTreeMap::new();
    if let Some(ev) = props.get("Events").and_then(Json::as_object) {
        for (name, e) in ev {
            let ty = e
                .get("Type")
                .and_then(Json::as_str)
                .ok_or_else(|| invalid(format!("{at}.Events.{name}"), "has no Type"))?;
            events.insert(name.clone(), ty.to_owned());
        }
    }
    Ok(FunctionSpec {
        binary: resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Json::as_str)
            .map(str::to_owned),
        timeout: number("Timeout")?,
        memory_size: number("MemorySize")?,
        environment,
        events,
        granted_actions: BTreeSet::new(),
    })
}

/// The actions function `id`'s role allows: its own `Policies` (inline
/// documents or SAM policy templates) and those of the role its `Role`
/// names.
fn granted_actions(id: &str, resources: &Map<String, Json>) -> Result<BTreeSet<String>, TemplateError> {
    let props = resources.get(id).and_then(|r| r.get("Properties"));
    let mut documents: Vec<(String, &Json)> = Vec::new();
    let mut actions = BTreeSet::new();
    let own = props.and_then(|p| p.get("Policies")).and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
    for (i, policy) in own.iter().enumerate() {
        let at = format!("Resources.{id}.Properties.Policies[{i}]");
        match policy.as_object() {
            Some(p) if p.contains_key("Statement") => documents.push((at, policy)),
            Some(p) => actions.extend(p.keys().map(|name| format!("template:{name}"))),
            None => {
                actions.insert(format!("template:{}", policy.as_str().unwrap_or("?")));
            }
        }
    }
    if let Some(role) = props.and_then(|p| p.get("Role")) {
        let at = format!("Resources.{id}.Properties.Role");
        let role_id = role
            .get("Fn::GetAtt")
            .and_then(Json::as_array)
            .and_then(|a| a.first())
            .and_then(Json::as_str)
            .ok_or_else(|| invalid(&at, "is not a !GetAtt of a role in this template"))?;
        let policies = resources
            .get(role_id)
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("Policies"))
            .and_then(Json::as_array)
            .ok_or_else(|| invalid(&at, format!("names {role_id}, which has no Policies")))?;
        for (i, policy) in policies.iter().enumerate() {
            let at = format!("Resources.{role_id}.Properties.Policies[{i}].PolicyDocument");
            let document = policy.get("PolicyDocument").ok_or_else(|| invalid(&at, "is missing"))?;
            documents.push((at, document));
        }
    }
    for (at, document) in documents {
        let statements = match document.get("Statement") {
            Some(Json::Array(list)) => list.iter().collect(),
            Some(one @ Json::Object(_)) => vec![one],
            _ => return Err(invalid(format!("{at}.Statement"), "is not a statement or a list of them")),
        };
        for statement in statements.into_iter().filter(|s| s.get("Effect").and_then(Json::as_str) == Some("Allow")) {
            match statement.get("Action") {
                Some(Json::String(action)) => {
                    actions.insert(action.clone());
                }
                Some(Json::Array(list)) => actions.extend(list.iter().filter_map(Json::as_str).map(str::to_owned)),
                _ => return Err(invalid(format!("{at}.Statement"), "has an Allow without an Action")),
            }
        }
    }
    Ok(actions)
}
