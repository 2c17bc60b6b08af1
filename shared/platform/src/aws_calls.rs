//! Counting the AWS calls a function makes, by service and operation: the figures behind "DynamoDB writes and
//! Secrets Manager reads per document" (docs/performance.md), read by the test that holds the pipeline to them
//! and by the benchmarks. An SDK interceptor on every client built from an [`crate::aws::Aws`] that carries
//! a counter; clients without one pay nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{ConfigBag, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// DynamoDB operations that write (each is one call, whatever it carries).
pub const DYNAMODB_WRITES: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

/// Calls made so far, by `(service, operation)`: one per operation started (the SDK's own retries of a call
/// are not counted again). Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct AwsCalls {
    counts: Arc<Mutex<BTreeMap<(String, String), u64>>>,
}

impl AwsCalls {
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.counts.lock().map(|counts| counts.clone()).unwrap_or_default()
    }

    /// Calls of `service` (as the SDK names it: `DynamoDB`, `SQS`, `Secrets Manager`, `S3`) whose operation is
    /// one of `operations` (all of the service's when empty).
    pub fn count(&self, service: &str, operations: &[&str]) -> u64 {
        self.snapshot()
            .iter()
            .filter(|((s, op), _)| s == service && (operations.is_empty() || operations.contains(&op.as_str())))
            .map(|(_, n)| n)
            .sum()
    }

    /// DynamoDB write calls so far.
    pub fn dynamodb_writes(&self) -> u64 {
        self.count("DynamoDB", &DYNAMODB_WRITES)
    }

    pub fn reset(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
    }
}

impl Intercept for AwsCalls {
    fn name(&self) -> &'static str {
        "AwsCalls"
    }

    // Not `read_before_execution`: a client's interceptors run that before the operation's configuration (its
    // name) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) =
            cfg.load::<Metadata>().map_or(("?", "?"), |metadata| (metadata.service(), metadata.name()));
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry((service.to_owned(), operation.to_owned())).or_default() += 1;
        }
        Ok(())
    }
}
