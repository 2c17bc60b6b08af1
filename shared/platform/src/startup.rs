//! The cold start every function shares: logging (with `LogLevel` reaching
//! the function's own crate), the environment and the AWS configuration.
//! Each function's `main.rs` then reads its typed settings and builds its
//! stores from these in one place, and serves.

use crate::aws::Aws;
use crate::config::Env;

/// Starts logging for the function whose crate is `function_crate` (pass
/// `env!("CARGO_CRATE_NAME")`), and loads the AWS configuration.
pub async fn start(function_crate: &'static str) -> (Env, Aws) {
    crate::telemetry::init(function_crate);
    (Env::process(), Aws::load().await)
}

/// Logs why the function cannot start (a cold start that fails leaves only
/// this line in CloudWatch), and passes the result on.
pub fn ready<T, E: std::fmt::Display>(built: Result<T, E>) -> Result<T, E> {
    built.inspect_err(|e| tracing::error!(error = %e, "the function cannot start"))
}
