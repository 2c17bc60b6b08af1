//! The benchmarks' headline figures, for the one table `tests/bench` prints: when `BENCH_SUMMARY` names a file,
//! each figure is appended to it as a tab-separated line (benchmark, figure, value, unit, reference, reference
//! value, ratio, goal, verdict). Included by path in every benchmark, like the counting allocator.

#![allow(dead_code)] // each benchmark records the figures it has

use std::io::Write;

/// What the ratio of a figure to its reference must be.
#[derive(Clone, Copy)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

impl Goal {
    fn text(self) -> String {
        match self {
            Goal::AtLeast(x) => format!("≥ {x}×"),
            Goal::AtMost(x) => format!("≤ {x}×"),
        }
    }

    fn met(self, ratio: f64) -> bool {
        match self {
            Goal::AtLeast(x) => ratio >= x,
            Goal::AtMost(x) => ratio <= x,
        }
    }
}

/// One figure, with the reference measured in the same run (`None` for a figure that has none) and the goal
/// on their ratio, if any.
pub fn record(
    benchmark: &str,
    figure: &str,
    value: f64,
    unit: &str,
    reference: Option<(&str, f64)>,
    goal: Option<Goal>,
) {
    let Ok(path) = std::env::var("BENCH_SUMMARY") else {
        return;
    };
    let (reference_name, reference_value, ratio) = match reference {
        Some((name, x)) if x != 0.0 => (name.to_owned(), format!("{x:.4}"), Some(value / x)),
        _ => (String::new(), String::new(), None),
    };
    let (goal_text, verdict) = match (goal, ratio) {
        (Some(goal), Some(ratio)) => (goal.text(), if goal.met(ratio) { "met" } else { "NOT met" }.to_owned()),
        _ => (String::new(), String::new()),
    };
    let ratio = ratio.map(|r| format!("{r:.3}")).unwrap_or_default();
    let line = [
        benchmark,
        figure,
        &format!("{value:.4}"),
        unit,
        &reference_name,
        &reference_value,
        &ratio,
        &goal_text,
        &verdict,
    ]
    .join("\t");
    let written =
        std::fs::OpenOptions::new().create(true).append(true).open(&path).and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = written {
        eprintln!("could not append to BENCH_SUMMARY {path}: {e}");
    }
}
