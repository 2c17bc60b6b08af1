//! Logging: JSON lines to stdout (CloudWatch), level from `RUST_LOG`.
//!
//! Secrets are kept out of logs by construction rather than by scrubbing:
//! they travel as `domain::Secret`, whose Debug/Display print `***`, and
//! request/response bodies that may hold tokens are never logged.
//!
//! The stack's `LogLevel` (error … trace) applies to *our* crates. Libraries
//! (the AWS SDK, hyper, reqwest, rustls) stay at `info` whatever the level:
//! at debug/trace some of them print request bodies and headers, which carry
//! tokens and secret values. An operator who needs them can still set a full
//! filter expression (`RUST_LOG=info,aws_smithy_runtime=trace`) knowingly.

use tracing_subscriber::EnvFilter;

/// Targets of the shared crates every function logs through (module paths
/// use underscores). The function's own crate is added by [`init`]'s
/// caller, so no list of functions has to be kept by hand.
pub const SHARED_CRATES: [&str; 6] = ["domain", "concur", "erp", "files", "platform", "transport"];

/// The filter for a `RUST_LOG` value in the function whose crate is
/// `function_crate`: a bare level is applied to that crate and the shared
/// ones only (libraries capped at `info`); anything else is taken as written.
pub fn filter_for(rust_log: &str, function_crate: &str) -> EnvFilter {
    let level = rust_log.trim().to_ascii_lowercase();
    let directives = match level.as_str() {
        "error" | "warn" => level.clone(),
        "info" | "debug" | "trace" => {
            let ours: Vec<String> = SHARED_CRATES
                .iter()
                .copied()
                .chain(std::iter::once(function_crate))
                .map(|c| format!("{c}={level}"))
                .collect();
            format!("info,{}", ours.join(","))
        }
        _ => rust_log.to_owned(),
    };
    EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// JSON logging for the function whose crate is `function_crate` (its
/// `env!("CARGO_CRATE_NAME")`), at the level of `RUST_LOG`.
pub fn init(function_crate: &str) {
    let filter = filter_for(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()), function_crate);
    let _ = tracing::subscriber::set_global_default(subscriber(filter, std::io::stdout));
    count_http_calls();
}

/// The functions' log format, writing to `writer`: one JSON object per
/// line, with the list of spans it happened in (a document's run carries
/// its connection and document, each step its name), no time (CloudWatch
/// stamps every line) and no colour.
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(writer)
        .finish()
}

/// The CloudWatch namespace of the connector's metrics when the template
/// names none (`METRICS_NAMESPACE`, one per stack: docs/metrics.md).
pub const DEFAULT_METRICS_NAMESPACE: &str = "ConcurErpConnector";

/// The namespace metrics go to: the template's, read once.
fn metrics_namespace() -> &'static str {
    static NAMESPACE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAMESPACE.get_or_init(|| {
        std::env::var("METRICS_NAMESPACE")
            .ok()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_owned())
    })
}

/// One count for one connection (the single dimension `ConnectionId`).
pub fn metric(name: &str, value: f64, connection_id: &str) {
    emit(&Metric {
        name,
        unit: Unit::Count,
        value,
        dimensions: &[("ConnectionId", connection_id)],
        sets: &[&["ConnectionId"]],
    });
}

/// Counts every HTTP call of the process as `ConcurCalls` or `ErpCalls`
/// (docs/metrics.md), by the service name its caller gave the transport:
/// `concur-…` is Concur; `acumatica`, `ifs`, `infor` are the ERPs (their
/// token endpoints included). Installed at start-up and by [`capture`].
pub fn count_http_calls() {
    transport::observe_calls(count_call);
}

fn count_call(service: &'static str, outcome: transport::CallOutcome) {
    let outcome = outcome.as_str();
    if service.starts_with("concur") {
        let dimensions = [("Outcome", outcome)];
        emit(&Metric {
            name: "ConcurCalls",
            unit: Unit::Count,
            value: 1.0,
            dimensions: &dimensions,
            sets: &[&["Outcome"]],
        });
    } else if matches!(service, "acumatica" | "ifs" | "infor") {
        let dimensions = [("Erp", service), ("Outcome", outcome)];
        let sets: &[&[&str]] = &[&["Erp", "Outcome"], &["Outcome"]];
        emit(&Metric { name: "ErpCalls", unit: Unit::Count, value: 1.0, dimensions: &dimensions, sets });
    }
}

/// One call from outside that a function answered, as `InboundCalls`
/// (docs/metrics.md): `endpoint` is `concur_events` (event-intake) or
/// `ion_inbox`; `outcome` is `queued`, `ignored`, `refused`,
/// `unauthorized`, `unknown_company` or `unavailable`.
pub fn inbound_call(endpoint: &str, outcome: &str) {
    let dimensions = [("Endpoint", endpoint), ("Outcome", outcome)];
    emit(&Metric {
        name: "InboundCalls",
        unit: Unit::Count,
        value: 1.0,
        dimensions: &dimensions,
        sets: &[&["Endpoint", "Outcome"]],
    });
}

/// How long an SQS message waited on `queue` (`work`, `inbox`) since it
/// was first sent, as the `QueueAge` metric (docs/metrics.md). A message
/// without its `SentTimestamp` attribute is not counted.
pub fn queue_age(queue: &str, message: &aws_lambda_events::sqs::SqsMessage) {
    let Some(sent_ms) = message.attributes.get("SentTimestamp").and_then(|t| t.parse::<i128>().ok()) else {
        return;
    };
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let age_ms = (now_ms - sent_ms).max(0) as f64;
    emit(&Metric {
        name: "QueueAge",
        unit: Unit::Milliseconds,
        value: age_ms,
        dimensions: &[("Queue", queue)],
        sets: &[&["Queue"]],
    });
}

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    /// A plain number (days left on a token).
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// One value of one metric (docs/metrics.md), published under each of its
/// dimension sets: `sets` name dimensions of `dimensions`; `&[]` is the
/// total with no dimension (the fleet).
#[derive(Debug, Clone, Copy)]
pub struct Metric<'a> {
    pub name: &'a str,
    pub unit: Unit,
    pub value: f64,
    pub dimensions: &'a [(&'a str, &'a str)],
    pub sets: &'a [&'a [&'a str]],
}

/// Writes `metric` as one CloudWatch Embedded Metric Format line on stdout
/// (Lambda ships it to CloudWatch Logs, which extracts the metric; no API
/// call, nothing to wait for). Dimension values are low-cardinality (a
/// connection id at most, never a document id).
pub fn emit(metric: &Metric<'_>) {
    let line = metric_line(metrics_namespace(), metric, time::OffsetDateTime::now_utc());
    if let Some(captured) = CAPTURED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut() {
        captured.push(line);
        return;
    }
    // Outside Lambda (the demo, the CLI, tests) stdout is a program's own
    // output (`tests/demo --json`), so the line goes to stderr there.
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        println!("{line}");
    } else {
        eprintln!("{line}");
    }
}

fn metric_line(namespace: &str, metric: &Metric<'_>, at: time::OffsetDateTime) -> String {
    let millis = at.unix_timestamp_nanos() / 1_000_000;
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": i64::try_from(millis).unwrap_or(0),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": metric.sets,
                "Metrics": [{ "Name": metric.name, "Unit": metric.unit.as_str() }],
            }],
        },
    });
    for (name, value) in metric.dimensions {
        line[*name] = serde_json::json!(value);
    }
    line[metric.name] = serde_json::json!(metric.value);
    line.to_string()
}

/// Lines emitted while a [`Capture`] is alive, instead of written.
static CAPTURED: std::sync::Mutex<Option<Vec<String>>> = std::sync::Mutex::new(None);

/// Keeps the process's metric lines instead of writing them, for a test to
/// read; writing resumes when it is dropped. One process, one capture.
pub struct Capture(());

/// Starts capturing the process's metric lines, HTTP calls counted as a
/// function's start-up counts them.
pub fn capture() -> Capture {
    count_http_calls();
    *CAPTURED.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Vec::new());
    Capture(())
}

impl Capture {
    /// The lines emitted so far, parsed.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let captured = CAPTURED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        captured.iter().flatten().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        *CAPTURED.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_message_s_wait_on_the_work_queue_is_its_queue_age() {
        let captured = super::capture();
        let message = |id: &str| {
            let mut m = aws_lambda_events::sqs::SqsMessage::default();
            m.message_id = Some(id.to_owned());
            m
        };
        let mut m = message("m1");
        let sent = time::OffsetDateTime::now_utc() - time::Duration::milliseconds(1500);
        m.attributes.insert("SentTimestamp".into(), (sent.unix_timestamp_nanos() / 1_000_000).to_string());
        super::queue_age("work", &m);
        super::queue_age("work", &message("without a timestamp"));
        let ages: Vec<_> = captured.lines().into_iter().filter(|l| l.get("QueueAge").is_some()).collect();
        assert_eq!(ages.len(), 1, "{ages:?}");
        let age = ages[0]["QueueAge"].as_f64().unwrap_or_default();
        assert!((1500.0..60_000.0).contains(&age), "{age}");
        assert_eq!(ages[0]["Queue"], "work");
        assert_eq!(ages[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "Queue");
    }

    #[test]
    fn a_metric_is_one_emf_line_with_the_connection_as_its_only_dimension() {
        let metric = super::Metric {
            name: "DocumentsRequeued",
            unit: super::Unit::Count,
            value: 3.0,
            dimensions: &[("ConnectionId", "acme")],
            sets: &[&["ConnectionId"]],
        };
        let line = super::metric_line("ConcurConnector/prod", &metric, time::OffsetDateTime::UNIX_EPOCH);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ConcurConnector/prod");
        assert_eq!(v["DocumentsRequeued"], 3.0);
        assert_eq!(v["ConnectionId"], "acme");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "ConnectionId");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "DocumentsRequeued");
    }

    #[test]
    fn every_dimension_set_is_listed_and_the_empty_one_is_the_fleet_total() {
        let metric = super::Metric {
            name: "StepLatency",
            unit: super::Unit::Milliseconds,
            value: 12.5,
            dimensions: &[("Erp", "acumatica"), ("Step", "post")],
            sets: &[&["Erp", "Step"], &[]],
        };
        let line = super::metric_line("ns", &metric, time::OffsetDateTime::UNIX_EPOCH);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Erp", "Step"], []]));
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Milliseconds");
        assert_eq!(
            (v["Erp"].as_str(), v["Step"].as_str(), v["StepLatency"].as_f64()),
            (Some("acumatica"), Some("post"), Some(12.5))
        );
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    #[test]
    fn bare_levels_apply_to_our_crates_and_cap_libraries() {
        let f = filter_for("trace", "erp_poster").to_string();
        assert!(f.contains("concur=trace") && f.contains("erp_poster=trace"), "{f}");
        assert!(!f.contains("aws_smithy"), "{f}");
        assert_eq!(filter_for("warn", "erp_poster").to_string(), "warn");
        assert!(
            filter_for("info,aws_smithy_runtime=trace", "erp_poster").to_string().contains("aws_smithy_runtime=trace")
        );
    }

    /// The crate names of the workspace's functions, read from their
    /// manifests (`functions/*/Cargo.toml`), as module paths.
    fn function_crates() -> Vec<String> {
        let functions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../functions");
        let mut crates: Vec<String> = std::fs::read_dir(&functions)
            .expect("the functions directory")
            .map(|entry| {
                std::fs::read_to_string(entry.unwrap().path().join("Cargo.toml")).expect("a function manifest")
            })
            .map(|manifest| {
                let name = manifest.lines().find_map(|l| l.strip_prefix("name = ")).expect("a package name");
                name.trim_matches('"').replace('-', "_")
            })
            .collect();
        crates.sort();
        crates
    }

    fn debug_reaches(filter: EnvFilter, target_crate: &str) -> bool {
        let subscriber = tracing_subscriber::fmt().with_env_filter(filter).finish();
        tracing::subscriber::with_default(subscriber, || match target_crate {
            // `enabled!` needs a constant target: one arm per function.
            "erp_poster" => tracing::enabled!(target: "erp_poster", tracing::Level::DEBUG),
            "event_intake" => tracing::enabled!(target: "event_intake", tracing::Level::DEBUG),
            "file_intake" => tracing::enabled!(target: "file_intake", tracing::Level::DEBUG),
            "ion_inbox" => tracing::enabled!(target: "ion_inbox", tracing::Level::DEBUG),
            "oauth_callback" => tracing::enabled!(target: "oauth_callback", tracing::Level::DEBUG),
            "scheduled_poller" => tracing::enabled!(target: "scheduled_poller", tracing::Level::DEBUG),
            other => panic!("function crate {other} is new: add an arm for it here"),
        })
    }

    #[test]
    fn log_level_debug_reaches_every_function_and_no_library() {
        let crates = function_crates();
        assert_eq!(crates.len(), 6, "{crates:?}");
        for function in &crates {
            assert!(debug_reaches(filter_for("debug", function), function), "LogLevel=debug does not reach {function}");
        }
        let filter = filter_for("debug", "ion_inbox");
        let subscriber = tracing_subscriber::fmt().with_env_filter(filter).finish();
        tracing::subscriber::with_default(subscriber, || {
            assert!(!tracing::enabled!(target: "aws_smithy_runtime", tracing::Level::DEBUG));
        });
    }
}
