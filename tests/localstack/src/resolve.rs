//! Resolves CloudFormation intrinsics the way CloudFormation would, given the
//! stack's pseudo parameters, parameter values and the physical ids of its
//! resources. Anything it does not understand is an error, never an empty
//! string.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::template::Template;

/// An expression that cannot be resolved, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve {expression}: {reason}")]
pub struct ResolveError {
    pub expression: String,
    pub reason: String,
}

fn fail(expr: &Json, reason: impl Into<String>) -> ResolveError {
    ResolveError { expression: expr.to_string(), reason: reason.into() }
}

/// What `!Ref` and `!GetAtt` give for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceValue {
    /// `!Ref` (table name, queue URL, bucket name, …).
    pub reference: String,
    /// `!GetAtt` attributes (`Arn`, `QueueUrl`, `QueueName`, `DomainName`, …).
    pub attributes: BTreeMap<String, String>,
}

/// Everything an expression of the template can refer to.
#[derive(Debug, Clone, PartialEq)]
pub struct StackValues {
    pub stack_name: String,
    pub region: String,
    pub account_id: String,
    pub partition: String,
    pub url_suffix: String,
    /// Parameter values: Defaults, then overrides. A parameter without either is absent.
    pub parameters: BTreeMap<String, String>,
    /// Resources created so far, by logical id.
    pub resources: BTreeMap<String, ResourceValue>,
    /// `Mappings` of the template.
    pub mappings: Map<String, Json>,
    /// Resource types of the template, to explain a `!Ref` to something not provisioned.
    pub resource_types: BTreeMap<String, String>,
}

/// The id local HTTP APIs resolve to (see [`StackValues::add_local_apis`]).
pub const LOCAL_API_ID: &str = "local-api";

/// The account id moto reports (and the default for predictions).
pub const MOTO_ACCOUNT_ID: &str = "123456789012";

impl StackValues {
    /// Parameters from Defaults and `overrides` (an override of an unknown
    /// parameter, or one outside AllowedValues, is an error); no resources yet.
    pub fn new(
        template: &Template,
        stack_name: &str,
        region: &str,
        account_id: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self, ResolveError> {
        let mut parameters = BTreeMap::new();
        for (name, p) in &template.parameters {
            if let Some(d) = &p.default {
                parameters.insert(name.clone(), d.clone());
            }
        }
        for (name, value) in overrides {
            let Some(p) = template.parameters.get(name) else {
                return Err(ResolveError {
                    expression: format!("{name}={value}"),
                    reason: format!("the template has no parameter {name}"),
                });
            };
            if !p.allowed_values.is_empty() && !p.allowed_values.contains(value) {
                return Err(ResolveError {
                    expression: format!("{name}={value}"),
                    reason: format!("allowed values are {:?}", p.allowed_values),
                });
            }
            parameters.insert(name.clone(), value.clone());
        }
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        Ok(Self {
            stack_name: stack_name.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            partition: partition.to_owned(),
            url_suffix: if partition == "aws-cn" { "amazonaws.com.cn".into() } else { "amazonaws.com".into() },
            parameters,
            resources: BTreeMap::new(),
            mappings: template.mappings.clone(),
            resource_types: template.resource_types.clone(),
        })
    }

    /// The values real CloudFormation would give the template's tables,
    /// queues and buckets in `region` / `account_id` (no AWS call): used by
    /// `describe` and by the offline tests.
    pub fn predicted(
        template: &Template,
        stack_name: &str,
        region: &str,
        account_id: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self, ResolveError> {
        let mut values = Self::new(template, stack_name, region, account_id, overrides)?;
        for (id, table) in &template.tables {
            let name = values.resolve(&table.table_name)?;
            let arn = values.arn("dynamodb", &format!("table/{name}"));
            values
                .resources
                .insert(id.clone(), ResourceValue { reference: name, attributes: [("Arn".to_owned(), arn)].into() });
        }
        for (id, queue) in &template.queues {
            let name = values.resolve(&queue.queue_name)?;
            let url = format!("https://sqs.{}.{}/{}/{}", values.region, values.url_suffix, values.account_id, name);
            let arn = values.arn("sqs", &name);
            values.resources.insert(id.clone(), queue_value(url, arn, name));
        }
        for (id, bucket) in &template.buckets {
            let name = values.bucket_name(id, bucket.bucket_name.as_ref())?;
            values.resources.insert(id.clone(), values.bucket_value(name));
        }
        for (id, topic) in &template.topics {
            let name = values.resolve(&topic.topic_name)?;
            let arn = values.arn("sns", &name);
            values.resources.insert(id.clone(), topic_value(arn, name));
        }
        values.add_local_apis();
        Ok(values)
    }

    /// A bucket's name: its `BucketName` resolved, or (none given) what the
    /// local stack uses in place of CloudFormation's generated name:
    /// `<stack>-<logical id>-<hash>`, lower case, at most 63 characters.
    pub fn bucket_name(&self, logical_id: &str, expr: Option<&Json>) -> Result<String, ResolveError> {
        match expr {
            Some(expr) => self.resolve(expr),
            None => {
                let hash = &stack_uuid(&self.stack_name)[..8];
                let mut base = format!("{}-{logical_id}", self.stack_name).to_ascii_lowercase();
                base.truncate(63 - hash.len() - 1);
                Ok(format!("{}-{hash}", base.trim_end_matches('-')))
            }
        }
    }

    /// The `!Ref` / `!GetAtt` values of a bucket named `name`.
    pub fn bucket_value(&self, name: String) -> ResourceValue {
        ResourceValue {
            attributes: [
                ("Arn".to_owned(), format!("arn:{}:s3:::{name}", self.partition)),
                ("DomainName".to_owned(), format!("{name}.s3.{}", self.url_suffix)),
                ("RegionalDomainName".to_owned(), format!("{name}.s3.{}.{}", self.region, self.url_suffix)),
            ]
            .into(),
            reference: name,
        }
    }

    /// API Gateway is not emulated locally (the demo and tests call the
    /// handlers directly), but functions may name their own public URL
    /// (`!Sub "https://${HttpApi}.execute-api…"`): such APIs resolve to the
    /// id [`LOCAL_API_ID`], so the URL is well formed and plainly not real.
    pub fn add_local_apis(&mut self) {
        for (id, kind) in &self.resource_types {
            if kind == "AWS::Serverless::HttpApi" || kind == "AWS::ApiGatewayV2::Api" {
                self.resources.entry(id.clone()).or_insert_with(|| ResourceValue {
                    reference: LOCAL_API_ID.to_owned(),
                    attributes: BTreeMap::new(),
                });
            }
        }
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{}:{}:{resource}", self.partition, self.region, self.account_id)
    }

    /// Resolves an expression to the string CloudFormation would produce.
    pub fn resolve(&self, expr: &Json) -> Result<String, ResolveError> {
        match expr {
            Json::String(s) => Ok(s.clone()),
            Json::Number(n) => Ok(n.to_string()),
            Json::Bool(b) => Ok(b.to_string()),
            Json::Null => Err(fail(expr, "null is not a value")),
            Json::Array(_) => Err(fail(expr, "a list is not a string value")),
            Json::Object(map) => {
                let mut entries = map.iter();
                let (Some((key, arg)), None) = (entries.next(), entries.next()) else {
                    return Err(fail(expr, "a mapping is not a string value (an intrinsic has exactly one key)"));
                };
                match key.as_str() {
                    "Ref" => self.reference(expr, arg),
                    "Fn::GetAtt" => self.get_att(expr, arg),
                    "Fn::Sub" => self.sub(expr, arg),
                    "Fn::Join" => self.join(expr, arg),
                    "Fn::FindInMap" => self.find_in_map(expr, arg),
                    "Fn::Select" => self.select(expr, arg),
                    k if k.starts_with("Fn::") || k == "Condition" => Err(fail(
                        expr,
                        format!(
                            "the intrinsic {k} is not supported by the local stack (tests/localstack/src/resolve.rs)"
                        ),
                    )),
                    _ => Err(fail(expr, "a mapping is not a string value")),
                }
            }
        }
    }

    /// Resolves every intrinsic inside a JSON structure (e.g. a
    /// RedriveAllowPolicy); plain values are kept as they are.
    pub fn resolve_deep(&self, value: &Json) -> Result<Json, ResolveError> {
        match value {
            Json::Object(map) if map.len() == 1 && is_intrinsic(map.keys().next().map(String::as_str)) => {
                self.resolve(value).map(Json::String)
            }
            Json::Object(map) => Ok(Json::Object(
                map.iter().map(|(k, v)| Ok((k.clone(), self.resolve_deep(v)?))).collect::<Result<_, ResolveError>>()?,
            )),
            Json::Array(items) => {
                Ok(Json::Array(items.iter().map(|v| self.resolve_deep(v)).collect::<Result<_, _>>()?))
            }
            other => Ok(other.clone()),
        }
    }

    fn pseudo(&self, name: &str) -> Option<String> {
        Some(match name {
            "AWS::StackName" => self.stack_name.clone(),
            "AWS::Region" => self.region.clone(),
            "AWS::AccountId" => self.account_id.clone(),
            "AWS::Partition" => self.partition.clone(),
            "AWS::URLSuffix" => self.url_suffix.clone(),
            "AWS::StackId" => {
                self.arn("cloudformation", &format!("stack/{}/{}", self.stack_name, stack_uuid(&self.stack_name)))
            }
            _ => return None,
        })
    }

    fn ref_name(&self, expr: &Json, name: &str) -> Result<String, ResolveError> {
        if let Some(v) = self.pseudo(name) {
            return Ok(v);
        }
        if name.starts_with("AWS::") {
            return Err(fail(expr, format!("the pseudo parameter {name} is not supported by the local stack")));
        }
        if let Some(v) = self.parameters.get(name) {
            return Ok(v.clone());
        }
        if let Some(r) = self.resources.get(name) {
            return Ok(r.reference.clone());
        }
        Err(fail(expr, self.why_unknown(name)))
    }

    fn why_unknown(&self, name: &str) -> String {
        match self.resource_types.get(name) {
            Some(ty) => format!("{name} is a {ty}, which the local stack does not create (or has not created yet)"),
            None => {
                format!("{name} is neither a parameter with a value nor a resource of the template")
            }
        }
    }

    fn reference(&self, expr: &Json, arg: &Json) -> Result<String, ResolveError> {
        match arg {
            Json::String(name) => self.ref_name(expr, name),
            _ => Err(fail(expr, "Ref takes a name")),
        }
    }

    fn attribute(&self, expr: &Json, resource: &str, attribute: &str) -> Result<String, ResolveError> {
        let Some(r) = self.resources.get(resource) else {
            return Err(fail(expr, self.why_unknown(resource)));
        };
        r.attributes.get(attribute).cloned().ok_or_else(|| {
            fail(
                expr,
                format!(
                    "{resource} has no attribute {attribute} locally (known: {})",
                    r.attributes.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })
    }

    fn get_att(&self, expr: &Json, arg: &Json) -> Result<String, ResolveError> {
        match arg {
            Json::Array(parts) if parts.len() == 2 => {
                let resource = parts[0].as_str().ok_or_else(|| fail(expr, "GetAtt's resource must be a name"))?;
                let attribute = self.resolve(&parts[1])?;
                self.attribute(expr, resource, &attribute)
            }
            Json::String(s) => match s.split_once('.') {
                Some((resource, attribute)) => self.attribute(expr, resource, attribute),
                None => Err(fail(expr, "GetAtt needs Resource.Attribute")),
            },
            _ => Err(fail(expr, "GetAtt takes [resource, attribute]")),
        }
    }

    fn sub(&self, expr: &Json, arg: &Json) -> Result<String, ResolveError> {
        let (text, vars) = match arg {
            Json::String(s) => (s.as_str(), None),
            Json::Array(parts) if parts.len() == 2 => match (&parts[0], &parts[1]) {
                (Json::String(s), Json::Object(vars)) => (s.as_str(), Some(vars)),
                _ => {
                    return Err(fail(expr, "Fn::Sub takes a string or [string, {variables}]"));
                }
            },
            _ => {
                return Err(fail(expr, "Fn::Sub takes a string or [string, {variables}]"));
            }
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            if let Some(literal) = after.strip_prefix('!') {
                // `${!Literal}` is the literal text `${Literal}`.
                out.push_str("${");
                rest = literal;
                continue;
            }
            let end = after.find('}').ok_or_else(|| fail(expr, "unterminated ${ in Fn::Sub"))?;
            let name = after[..end].trim();
            let value = match vars.and_then(|v| v.get(name)) {
                Some(v) => self.resolve(v)?,
                None => match name.split_once('.') {
                    Some((resource, attribute)) if !name.starts_with("AWS::") => {
                        self.attribute(expr, resource, attribute)?
                    }
                    _ => self.ref_name(expr, name)?,
                },
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn join(&self, expr: &Json, arg: &Json) -> Result<String, ResolveError> {
        match arg.as_array().map(Vec::as_slice) {
            Some([Json::String(delimiter), Json::Array(items)]) => {
                Ok(items.iter().map(|i| self.resolve(i)).collect::<Result<Vec<_>, _>>()?.join(delimiter))
            }
            _ => Err(fail(expr, "Fn::Join takes [delimiter, [values]] (a literal list)")),
        }
    }

    /// `Fn::Select [index, list]`, the list being literal or an `Fn::Split`.
    fn select(&self, expr: &Json, arg: &Json) -> Result<String, ResolveError> {
        let Some([index, list]) = arg.as_array().map(Vec::as_slice) else {
            return Err(fail(expr, "Fn::Select takes [index, list]"));
        };
        let index: usize = self
            .resolve(index)?
            .parse()
            .map_err(|_| fail(expr, "Fn::Select's index must be a non-negative integer"))?;
        let items = self.resolve_list(list)?;
        let count = items.len();
        items.into_iter().nth(index).ok_or_else(|| fail(expr, format!("index {index} of a list of {count}")))
    }

    /// A list value: a literal list (each item resolved) or `Fn::Split`.
    fn resolve_list(&self, list: &Json) -> Result<Vec<String>, ResolveError> {
        match list {
            Json::Array(items) => items.iter().map(|i| self.resolve(i)).collect(),
            Json::Object(map) if map.len() == 1 && map.contains_key("Fn::Split") => {
                match map["Fn::Split"].as_array().map(Vec::as_slice) {
                    Some([Json::String(delimiter), source]) if !delimiter.is_empty() => {
                        Ok(self.resolve(source)?.split(delimiter.as_str()).map(str::to_owned).collect())
                    }
                    _ => Err(fail(list, "Fn::Split takes [delimiter, string]")),
                }
            }
            _ => Err(fail(list, "the local stack takes a literal list or Fn::Split here")),
        }
    }

    fn find_in_map(&self, expr: &Json, arg: &Json) -> Result<String, ResolveError> {
        let Some([map, top, second]) = arg.as_array().map(Vec::as_slice) else {
            return Err(fail(expr, "Fn::FindInMap takes [map, top-level key, second-level key]"));
        };
        let (map, top, second) = (self.resolve(map)?, self.resolve(top)?, self.resolve(second)?);
        let value = self
            .mappings
            .get(&map)
            .and_then(|m| m.get(&top))
            .and_then(|t| t.get(&second))
            .ok_or_else(|| fail(expr, format!("Mappings has no {map}.{top}.{second}")))?;
        self.resolve(value)
    }
}

fn is_intrinsic(key: Option<&str>) -> bool {
    key.is_some_and(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::"))
}

/// The UUID part of the local stack id (`arn:…:stack/<name>/<uuid>`): a
/// lower-case UUID-shaped hash of the stack name, so it is fixed for a stack
/// name and differs between stacks (names derived from it, such as the files
/// bucket's, do not collide in one moto server).
pub fn stack_uuid(stack_name: &str) -> String {
    // FNV-1a, 64 bits, twice with different offset bases: 128 bits.
    fn fnv(seed: u64, bytes: &[u8]) -> u64 {
        bytes.iter().fold(seed, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
    }
    let hi = fnv(0xcbf2_9ce4_8422_2325, stack_name.as_bytes());
    let lo = fnv(0x6c62_272e_07bb_0142, stack_name.as_bytes());
    let hex = format!("{hi:016x}{lo:016x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The `!Ref` / `!GetAtt` values of a topic: `Ref` is its ARN.
pub fn topic_value(arn: String, name: String) -> ResourceValue {
    ResourceValue {
        reference: arn.clone(),
        attributes: [("TopicArn".to_owned(), arn), ("TopicName".to_owned(), name)].into(),
    }
}

/// The `!Ref` / `!GetAtt` values of a queue.
pub fn queue_value(url: String, arn: String, name: String) -> ResourceValue {
    ResourceValue {
        reference: url.clone(),
        attributes: [("Arn".to_owned(), arn), ("QueueUrl".to_owned(), url), ("QueueName".to_owned(), name)].into(),
    }
}
