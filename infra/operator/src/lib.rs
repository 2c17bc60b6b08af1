//! The operator CLI, `connector`: configure and check connections of a
//! deployed stack, or of the local stack (moto + simulators).
//!
//! Not a Lambda: it runs on an operator's machine with the operator's AWS
//! configuration (`platform::aws::sdk_config`; locally `AWS_ENDPOINT_URL`).
//! Resource names derive from the stack name as infra/template.yaml builds
//! them ([`stack::StackNames`]). Every setting is checked before anything is
//! written ([`settings`], [`dns`]); ERP credentials come only from a file
//! and are never printed.

pub mod cli;
pub mod commands;
pub mod dns;
pub mod render;
pub mod settings;
pub mod stack;

use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

use clap::Parser;
use domain::UrlPolicy;
use platform::{StoreError, connections::ConnectionStore, secrets::SecretStore};
use transport::{HttpClient, RetryPolicy};

use cli::{Cli, Command, ConnectionsCommand, MappingCommand};
use dns::Resolver;
use settings::Refusal;
use stack::StackNames;

/// What the commands work with; built once from the environment.
pub struct Deps {
    pub names: StackNames,
    pub connections: ConnectionStore,
    /// Without a cache: the CLI always reads what is stored now.
    pub secrets: SecretStore,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub url_policy: UrlPolicy,
    pub resolver: Resolver,
    /// For the `test` checks (Concur and the ERP).
    pub http: HttpClient,
}

impl Deps {
    /// AWS from the usual configuration chain; the URL policy from
    /// `AWS_ENDPOINT_URL` (loopback = a local stack).
    pub async fn from_environment(names: StackNames) -> Self {
        let sdk = platform::aws::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = SecretStore::new(aws_sdk_secretsmanager::Client::new(&sdk), Duration::ZERO);
        // An operator waits for `test`: two attempts, short pauses.
        let policy = RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            request_timeout: Duration::from_secs(15),
        };
        Self {
            connections: ConnectionStore::new(dynamodb.clone(), names.connections_table.clone()),
            names,
            secrets,
            dynamodb,
            url_policy: stack::url_policy_for(std::env::var("AWS_ENDPOINT_URL").ok().as_deref()),
            resolver: Resolver::System,
            http: HttpClient::new(transport::build_client(policy.request_timeout), policy),
        }
    }
}

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("refused, nothing was changed: {0}")]
    Refused(#[from] Refusal),
    #[error("connection {0} does not exist: see `connector connections list`")]
    NotFound(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A write succeeded and a later one failed: says what is stored and how to finish.
    #[error("{0}")]
    Partial(String),
    #[error("writing the output failed: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// 2: refused or not found (nothing changed); 1: something failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Refused(_) | CliError::NotFound(_) => 2,
            _ => 1,
        }
    }
}

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// `test`: at least one check failed.
    ChecksFailed,
}

/// Runs a parsed command.
pub async fn run(command: &Command, deps: &Deps, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let command = match command {
        Command::Connections(command) => command,
        Command::Mapping(MappingCommand::Import { id, file }) => {
            return commands::mapping_import(deps, id, file, out).await;
        }
        Command::Mapping(MappingCommand::Export { id }) => return commands::mapping_export(deps, id, out).await,
    };
    match command {
        ConnectionsCommand::List { json } => commands::list(deps, *json, out).await,
        ConnectionsCommand::Show { id, json } => commands::show(deps, id, *json, out).await,
        ConnectionsCommand::Create(args) => commands::create(deps, args, out).await,
        ConnectionsCommand::Update(args) => commands::update(deps, args, out).await,
        ConnectionsCommand::Test { id } => commands::test(deps, id, out).await,
    }
}

/// The whole CLI: parses `args`, builds [`Deps`] from the environment, runs,
/// and returns the process exit code. Output goes to `out`, errors to `err`.
pub async fn main_with<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that print to stdout and exit 0.
            let target: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = write!(target, "{}", e.render());
            return e.exit_code();
        }
    };
    let Some(stack) = cli.stack.as_deref() else {
        let _ = writeln!(err, "error: name the stack with --stack NAME or CONNECTOR_STACK=NAME");
        return 2;
    };
    let names = match StackNames::new(stack, cli.concur_app_secret.as_deref()) {
        Ok(names) => names,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return 2;
        }
    };
    let deps = Deps::from_environment(names).await;
    match run(&cli.command, &deps, out).await {
        Ok(Outcome::Done) => 0,
        Ok(Outcome::ChecksFailed) => 1,
        // The reader went away (`connector … | head`): nothing left to say.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            e.exit_code()
        }
    }
}
