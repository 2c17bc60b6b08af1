//! Logging: JSON lines to stdout (CloudWatch), level from `RUST_LOG`.
//!
//! Secrets are kept out of logs by construction rather than by scrubbing:
//! they travel as `domain::Secret`, whose Debug/Display print `***`, and
//! request/response bodies that may hold tokens are never logged.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time() // CloudWatch stamps every line
        .with_target(false)
        .try_init();
}
