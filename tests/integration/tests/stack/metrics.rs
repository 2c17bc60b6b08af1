//! The poster's metrics (docs/metrics.md) as the CloudWatch EMF lines it
//! writes, for a posted, a duplicate and a failed document on the local
//! stack: names, units, dimension sets, dimension values and values.

use domain::WorkSource;
use erp_poster::Processed;
use integration::posting::{PostingWorld, example_mapping, example_work_items};
use serde_json::{Value, json};

/// The lines of metric `name` for `connection` (the fleet sets carry the
/// connection too: one line holds every set).
fn lines_of<'a>(lines: &'a [Value], name: &str, connection: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l.get(name).is_some() && l["ConnectionId"] == connection).collect()
}

fn metric_of(line: &Value) -> &Value {
    &line["_aws"]["CloudWatchMetrics"][0]
}

#[tokio::test]
async fn a_posted_a_duplicate_and_a_failed_document_write_their_metrics() {
    let captured = platform::telemetry::capture();
    let posting = PostingWorld::new("acme-metrics").await;
    let failing = PostingWorld::new("acme-metrics-bad").await;
    for world in [&posting, &failing] {
        world.load_examples();
    }
    let example = |world: &PostingWorld| {
        example_work_items(&world.connection, WorkSource::Poll)
            .into_iter()
            .find(|(file, _)| file.contains("Example-2.1"))
            .expect("official Example 2.1")
            .1
    };
    let mut broken = example_mapping();
    broken.accounts.remove("37");
    failing.import_mapping(&broken).await;

    let (posted_poster, failing_poster) = (posting.poster().await, failing.poster().await);
    let item = example(&posting);
    assert!(matches!(posted_poster.process_item(&item).await, Ok(Processed::Posted { .. })));
    assert!(matches!(posted_poster.process_item(&item).await, Ok(Processed::Duplicate)));
    let refused = failing_poster.process_item(&example(&failing)).await.unwrap_err();
    assert!(!refused.is_retryable(), "{}", refused.reason);

    let lines = captured.lines();
    let document_sets = json!([["ConnectionId", "Erp", "DocumentType"], []]);
    for (name, count) in
        [("DocumentsReceived", 1), ("DocumentsPosted", 1), ("DocumentsConfirmed", 1), ("DuplicatesPrevented", 1)]
    {
        let found = lines_of(&lines, name, "acme-metrics");
        assert_eq!(found.len(), count, "{name}: {found:?}");
        let line = found[0];
        assert_eq!(line[name], 1.0, "{name}");
        assert_eq!((&line["Erp"], &line["DocumentType"]), (&json!("acumatica"), &json!("expense")), "{name}");
        let metric = metric_of(line);
        assert_eq!(metric["Dimensions"], document_sets, "{name}");
        assert_eq!(metric["Metrics"], json!([{"Name": name, "Unit": "Count"}]), "{name}");
        // The template's namespace when it sets one (docs/metrics.md), else the default.
        assert!(metric["Namespace"].as_str().is_some_and(|n| n.starts_with("Concur")), "{metric}");
    }
    assert!(lines_of(&lines, "DocumentsFailed", "acme-metrics").is_empty(), "nothing failed on the good mapping");

    let failed = lines_of(&lines, "DocumentsFailed", "acme-metrics-bad");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!((&failed[0]["Reason"], &failed[0]["DocumentsFailed"]), (&json!("mapping"), &json!(1.0)));
    assert_eq!(
        metric_of(failed[0])["Dimensions"],
        json!([["ConnectionId", "Erp", "DocumentType"], [], ["ConnectionId", "Reason"], ["Reason"]])
    );
    assert_eq!(lines_of(&lines, "DocumentsReceived", "acme-metrics-bad").len(), 1);
    assert!(lines_of(&lines, "DocumentsPosted", "acme-metrics-bad").is_empty(), "a refused document is not posted");

    // The posted document's steps, per ERP (no connection: the set is [Erp, Step]).
    let steps: Vec<(&str, f64)> = lines
        .iter()
        .filter(|l| l.get("StepLatency").is_some())
        .map(|l| {
            assert_eq!(metric_of(l)["Dimensions"], json!([["Erp", "Step"]]));
            assert_eq!(metric_of(l)["Metrics"][0]["Unit"], "Milliseconds");
            assert_eq!(l["Erp"], "acumatica");
            (l["Step"].as_str().unwrap_or_default(), l["StepLatency"].as_f64().unwrap_or(-1.0))
        })
        .collect();
    for step in ["fetch", "post", "confirm"] {
        assert!(steps.iter().any(|(s, ms)| *s == step && *ms >= 0.0), "{step}: {steps:?}");
    }

    // Every HTTP call, by outcome: the ERP's per ERP, Concur's together.
    let calls = |name: &str| -> Vec<&Value> { lines.iter().filter(|l| l.get(name).is_some()).collect() };
    let erp = calls("ErpCalls");
    assert!(!erp.is_empty(), "the post called Acumatica");
    for line in &erp {
        assert_eq!(
            (&line["Erp"], &line["Outcome"], &line["ErpCalls"]),
            (&json!("acumatica"), &json!("2xx"), &json!(1.0))
        );
        assert_eq!(metric_of(line)["Dimensions"], json!([["Erp", "Outcome"], ["Outcome"]]));
    }
    let concur = calls("ConcurCalls");
    assert!(concur.len() >= 3, "fetch, acknowledge and confirm at least: {concur:?}");
    for line in &concur {
        assert_eq!((&line["Outcome"], &line["ConcurCalls"]), (&json!("2xx"), &json!(1.0)));
        assert_eq!(metric_of(line)["Dimensions"], json!([["Outcome"]]));
    }
}
