//! The operator CLI, `connector`: configure and check connections of a
//! deployed stack, or of the local stack (moto + simulators); look at a
//! document's ledger record and audit trail, replay documents and redrive
//! the dead-letter queue ([`documents`]).
//!
//! Not a Lambda: it runs on an operator's machine with the operator's AWS
//! configuration (`platform::Aws`; locally `AWS_ENDPOINT_URL`).
//! Resource names derive from the stack name as infra/template.yaml builds
//! them ([`stack::StackNames`]). Every setting is checked before anything is
//! written ([`settings`], [`dns`]); ERP credentials come only from a file
//! and are never printed.

pub mod cli;
pub mod commands;
pub mod dns;
pub mod documents;
pub mod keys;
pub mod poll;
pub mod preview;
pub mod render;
pub mod settings;
pub mod stack;
pub mod status;
pub mod sync;

use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

use clap::Parser;
use domain::UrlPolicy;
use platform::{Aws, StoreError, connections::ConnectionStore, secrets::SecretStore};
use transport::{HttpClient, RetryPolicy};

use cli::{
    Cli, Command, ConnectionsCommand, DocumentsCommand, FilesCommand, KeysCommand, MappingCommand, QueueCommand,
    SyncCommand,
};
use dns::Resolver;
use settings::Refusal;
use stack::StackNames;

/// What the commands work with; built once from the environment.
pub struct Deps {
    pub names: StackNames,
    pub connections: ConnectionStore,
    /// Without a cache: the CLI always reads what is stored now.
    pub secrets: SecretStore,
    /// Builds the other stores and finds the queues (`documents replay`, `queue redrive`).
    pub aws: Aws,
    pub url_policy: UrlPolicy,
    pub resolver: Resolver,
    /// For the `test` checks (Concur and the ERP).
    pub http: HttpClient,
}

impl Deps {
    /// AWS from the usual configuration chain; the URL policy from
    /// `AWS_ENDPOINT_URL` (loopback = a local stack).
    pub async fn from_environment(names: StackNames) -> Self {
        let aws = Aws::load().await;
        let secrets = aws.secrets(Duration::ZERO);
        // An operator waits for `test`: two attempts, short pauses.
        let policy = RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            request_timeout: Duration::from_secs(15),
        };
        let url_policy = stack::url_policy_for(std::env::var("AWS_ENDPOINT_URL").ok().as_deref());
        Self {
            connections: aws.connections(&names.connections_table),
            names,
            secrets,
            aws,
            url_policy,
            resolver: Resolver::System,
            // `connections test` sends credentials: the same policy at connect time.
            http: HttpClient::for_deployment(policy, url_policy),
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
    /// Something else named on the command line (a document, a queue) does not exist.
    #[error("{0}")]
    Absent(String),
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
            CliError::Refused(_) | CliError::NotFound(_) | CliError::Absent(_) => 2,
            _ => 1,
        }
    }
}

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Exit 1: a check of `test` or `mapping check` failed, or `poll --now`'s poll did.
    Failed,
}

/// Runs a parsed command.
pub async fn run(command: &Command, deps: &Deps, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let command = match command {
        Command::Connections(command) => command,
        Command::Mapping(MappingCommand::Import { id, file }) => {
            return commands::mapping_import(deps, id, file, out).await;
        }
        Command::Mapping(MappingCommand::Export { id }) => return commands::mapping_export(deps, id, out).await,
        Command::Mapping(MappingCommand::Check { id }) => return commands::mapping_check(deps, id, out).await,
        Command::Documents(command) => return run_documents(command, deps, out).await,
        Command::Queue(QueueCommand::Redrive { max }) => return documents::redrive(deps, max.as_deref(), out).await,
        Command::Sync(SyncCommand::Status { id, json }) => return sync::status(deps, id, *json, out).await,
        Command::Sync(SyncCommand::Run { id, kind, dry_run }) => {
            return sync::run(deps, id, kind.as_deref(), *dry_run, out).await;
        }
        Command::Sync(SyncCommand::Lists { id, feeds, clear }) => {
            return sync::lists(deps, id, feeds, *clear, out).await;
        }
        Command::Sync(SyncCommand::Po { id, numbers }) => {
            return sync::pull_purchase_orders(deps, id, numbers, out).await;
        }
        Command::Sync(SyncCommand::PurchaseOrders { id, policy, bill_to, ship_to, off }) => {
            let addresses = (bill_to.as_deref(), ship_to.as_deref());
            return sync::purchase_orders(deps, id, policy.as_deref(), addresses, *off, out).await;
        }
        Command::Sync(SyncCommand::Vendors { id, direction, owners }) => {
            return sync::vendors(deps, id, direction.as_deref(), owners, out).await;
        }
        Command::Status { id, json } => return status::status(deps, id.as_deref(), *json, out).await,
        Command::Poll { id, now, json } => return poll::poll(deps, id, *now, *json, out).await,
        Command::Keys(command) => return run_keys(command, deps, out).await,
        Command::Files(FilesCommand::List { id, json }) => return keys::files_list(deps, id, *json, out).await,
        Command::Files(FilesCommand::Take { id }) => return keys::files_take(deps, id, out).await,
        // Offline; `main_with` runs it before any stack is set up.
        Command::Preview { .. } => return Ok(Outcome::Done),
    };
    match command {
        ConnectionsCommand::List { json } => commands::list(deps, *json, out).await,
        ConnectionsCommand::Show { id, json } => commands::show(deps, id, *json, out).await,
        ConnectionsCommand::Create(args) => commands::create(deps, args, out).await,
        ConnectionsCommand::Update(args) => commands::update(deps, args, out).await,
        ConnectionsCommand::Test { id } => commands::test(deps, id, out).await,
    }
}

async fn run_keys(command: &KeysCommand, deps: &Deps, out: &mut dyn Write) -> Result<Outcome, CliError> {
    match command {
        KeysCommand::Add { id, file, passphrase_file } => {
            keys::add(deps, id, file, passphrase_file.as_deref(), out).await
        }
        KeysCommand::List { id, json } => keys::list(deps, id, *json, out).await,
        KeysCommand::Show { id, fingerprint } => keys::show(deps, id, fingerprint, out).await,
        KeysCommand::Remove { id, fingerprint } => keys::remove(deps, id, fingerprint, out).await,
    }
}

async fn run_documents(command: &DocumentsCommand, deps: &Deps, out: &mut dyn Write) -> Result<Outcome, CliError> {
    match command {
        DocumentsCommand::History { connection, document_type, document_id, json } => {
            documents::history(deps, connection, document_type, document_id, *json, out).await
        }
        DocumentsCommand::Failed { connection, json } => documents::failed(deps, connection, *json, out).await,
        DocumentsCommand::Replay(args) => documents::replay(deps, args, out).await,
    }
}

/// The whole CLI: parses `args`, builds [`Deps`] from the environment, runs,
/// and returns the process exit code. Output goes to `out`, errors to `err`.
/// `connector preview`: offline, so no stack and no AWS client.
fn preview_command(
    file: &std::path::Path,
    mapping: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let read = |path: &std::path::Path| std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
    let text = |path: &std::path::Path| {
        String::from_utf8(read(path)?).map_err(|_| format!("{} is not UTF-8 text", path.display()))
    };
    let result = read(file).and_then(|bytes| {
        let mapping = match mapping {
            Some(path) => Some(domain::mapping::Mapping::from_yaml(&text(path)?).map_err(|e| e.to_string())?),
            None => None,
        };
        let keys = match key {
            Some(path) => {
                let armored = text(path)?;
                Some(files::Keyring::from_armored(&[files::KeySource::new(&armored)]).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        preview::preview_file(&bytes, keys.as_ref(), mapping.as_ref(), &domain::FlowOptions::default())
            .map_err(|e| format!("{}: {e}", file.display()))
    });
    match result {
        Ok(value) => {
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&value).unwrap_or_default());
            let stopped = value.as_array().is_some_and(|docs| docs.iter().any(|d| d.get("error").is_some()));
            i32::from(stopped)
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            2
        }
    }
}

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
    if let Command::Preview { file, mapping, key } = &cli.command {
        return preview_command(file, mapping.as_deref(), key.as_deref(), out, err);
    }
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
        Ok(Outcome::Failed) => 1,
        // The reader went away (`connector … | head`): nothing left to say.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            e.exit_code()
        }
    }
}
