//! The command line. Values are kept as text here and parsed by
//! [`crate::settings`], so every refusal is worded by us, names the flag and
//! happens before anything is written.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

/// Configure and check the connections of a Concur → ERP connector stack,
/// inspect and replay its documents.
#[derive(Debug, Parser)]
#[command(name = "connector", version, about)]
pub struct Cli {
    /// The SAM stack's name (its tables are `<stack>-connections`, …).
    #[arg(long, env = "CONNECTOR_STACK", global = true)]
    pub stack: Option<String>,

    /// The Concur application secret (name or ARN); default `<stack>/concur-app`.
    #[arg(long, env = "CONCUR_APP_SECRET_ID", global = true)]
    pub concur_app_secret: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Did everything post? Every connection at a glance (status, last poll, documents posted / failed /
    /// waiting today, the oldest not final, the Concur token); with an ID, that connection's failures grouped
    /// by what fixes them.
    Status {
        /// One connection, in detail.
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A connection's Financial Integration poll: where its schedule stands; with --now, poll it at once
    /// (outside its schedule) and show what was queued for the poster.
    Poll {
        id: String,
        /// Poll now: read the READY documents and queue them, as the scheduled poll does.
        #[arg(long)]
        now: bool,
        #[arg(long)]
        json: bool,
    },
    /// List, show, create, update and test connections.
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Import or export a connection's mapping (Concur codes → ERP accounts, vendors, dimensions).
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// A document's ledger record and audit trail; failed documents; replay.
    #[command(subcommand)]
    Documents(DocumentsCommand),
    /// The work queue's dead-letter queue.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Reference data kept in step between the ERP and Concur (vendors).
    #[command(subcommand)]
    Sync(SyncCommand),
    /// A connection's OpenPGP keys for encrypted extract files: add, list, show, remove.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// A connection's extract and payment batch files: those seen, and taking new ones now.
    #[command(subcommand)]
    Files(FilesCommand),
    /// Offline: print, as JSON, what the connector would post for Concur FI
    /// documents or an SAE / PRAE extract file (no AWS, Concur or ERP call).
    /// Exit 1 if a document would be stopped.
    Preview {
        /// An FI response (either envelope, one or many documents), one FI document, or an SAE / PRAE file
        /// (comma or pipe delimited; plain, zipped or OpenPGP-encrypted), recognised by its content.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// A mapping file: adds ERP accounts and the ERP documents each would become.
        #[arg(long, value_name = "FILE.yaml")]
        mapping: Option<PathBuf>,
        /// The private key (ASCII-armored) of an encrypted extract file.
        #[arg(long, value_name = "KEY.asc")]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a private key (ASCII-armored) beside the connection's others: files encrypted to any of them decrypt.
    Add {
        id: String,
        /// The armored private key (`gpg --export-secret-keys --armor`).
        #[arg(long, value_name = "KEY.asc")]
        file: PathBuf,
        /// A file holding the key's passphrase, if it has one.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Each key: fingerprint, user, expiry, when it was added and last decrypted a file.
    List {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a key's public half, to give to Concur.
    Show { id: String, fingerprint: String },
    /// Remove a key once no file is encrypted to it any more.
    Remove { id: String, fingerprint: String },
}

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Every file the connection has seen (extract jobs, payment batches, inbox files) and where it stands.
    List {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Ask file-intake to take the connection's new files now (the schedule does it anyway).
    Take { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DocumentsCommand {
    /// The document's ledger record and its audit events, oldest first.
    History {
        /// The connection id.
        connection: String,
        /// expense | invoice | cashadvance
        #[arg(value_name = "TYPE")]
        document_type: String,
        /// The Concur document id.
        #[arg(value_name = "DOCID")]
        document_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Every FAILED document of the connection, least recently changed first.
    Failed {
        /// The connection id.
        connection: String,
        #[arg(long)]
        json: bool,
    },
    /// Queue documents again (FAILED ones are reset first), once the cause is fixed.
    Replay(ReplayArgs),
}

/// `documents replay`: which documents, exactly one way of choosing.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("selection").required(true).multiple(false).args(["document", "failed", "since"])),
    after_help = "A FAILED document is reset (to RECEIVED, or to POSTED when it is already in the ERP, so that it \
                  is only confirmed) and queued. A document in any other state is queued as it is: the poster's \
                  ledger claim sees a POSTED or CONFIRMED document and never posts it again, so queueing it is \
                  harmless. Each replay gets its own deduplication id, so it is queued even if the document was \
                  queued a moment ago."
)]
pub struct ReplayArgs {
    /// The connection id.
    pub connection: String,
    /// One document (repeat the flag for more), e.g. `expense:0EE74C75C9344DEA942F`.
    #[arg(long, value_name = "TYPE:DOCID")]
    pub document: Vec<String>,
    /// Every FAILED document of the connection.
    #[arg(long)]
    pub failed: bool,
    /// Every document whose ledger record changed at or after this time, in any state (e.g. 2026-11-23T10:00:00Z).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// With --since: changed at or before this time (default: now).
    #[arg(long, value_name = "RFC3339", requires = "since")]
    pub until: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Move the dead-letter queue's messages back to the work queue (each keeps its message group).
    Redrive {
        /// Move at most N messages (default: all).
        #[arg(long, value_name = "N")]
        max: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Per kind: the last run and its counts, the cursor, the records Concur could not hold.
    Status {
        /// The connection id.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Queue a full sync now (reads everything: finds records deleted in the ERP, retries refusals).
    Run {
        /// The connection id.
        id: String,
        /// Only this kind: vendors (both directions) | vendors_to_erp | lists | purchase_orders | po_receipts (every kind
        /// when absent).
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// Plan only: `sync status` then shows what the run would write, deactivate and refuse; nothing is written.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show, or set, which Concur lists the connection feeds and from which ERP source.
    Lists {
        /// The connection id.
        id: String,
        /// A Concur list and its source, e.g. `Cost Centers=subaccounts` (Acumatica: subaccounts, accounts,
        /// projects (projects → tasks, two levels); IFS Cloud: code_part:B … code_part:J; Infor M3: accounts,
        /// dimension:NAME). Repeat for several lists; replaces the stored feeds.
        #[arg(long = "feed", value_name = "LIST=SOURCE")]
        feeds: Vec<String>,
        /// Feed no list any more (Concur's items stay as they are).
        #[arg(long, conflicts_with = "feeds")]
        clear: bool,
    },
    /// Pull named Concur purchase orders into the connection's ERP (IFS Cloud) ahead of their invoices.
    Po {
        /// The connection id.
        id: String,
        /// A Concur PurchaseOrderNumber; repeat for several.
        #[arg(long = "number", value_name = "N", required = true)]
        numbers: Vec<String>,
    },
    /// Show, or set, whether the ERP's purchase orders and receipts go to Concur, with the policy and addresses
    /// Concur requires on every order.
    PurchaseOrders {
        /// The connection id.
        id: String,
        /// PolicyExternalID (Standard edition: PO).
        #[arg(long, value_name = "POLICY")]
        policy: Option<String>,
        /// EXTERNALID|ADDRESS1|CITY|STATE|POSTALCODE|COUNTRY
        #[arg(long, value_name = "ADDRESS")]
        bill_to: Option<String>,
        /// EXTERNALID|ADDRESS1|CITY|STATE|POSTALCODE|COUNTRY
        #[arg(long, value_name = "ADDRESS")]
        ship_to: Option<String>,
        /// Send no more purchase orders (those in Concur stay).
        #[arg(long, conflicts_with_all = ["policy", "bill_to", "ship_to"])]
        off: bool,
    },
    /// Show, or set, which way the connection's vendors flow and who owns each field.
    Vendors {
        /// The connection id.
        id: String,
        /// erp_to_concur (the default) | concur_to_erp | both.
        #[arg(long, value_name = "DIRECTION")]
        direction: Option<String>,
        /// For `both`: a field and its owner, e.g. `name=concur` (fields: name, address, currency, tax_id;
        /// owners: erp, concur). Repeat for several; replaces the stored owners; a field not named is the ERP's.
        #[arg(long = "owner", value_name = "FIELD=SIDE")]
        owners: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Validate a YAML mapping file and store it (all problems are listed; nothing is stored while there is one).
    Import {
        id: String,
        #[arg(value_name = "FILE.yaml")]
        file: PathBuf,
    },
    /// Print the stored mapping as YAML (edit it and import it again).
    Export { id: String },
    /// Check that every account, vendor and dimension value the stored
    /// mapping names exists in the connection's ERP (IFS Cloud, Infor).
    Check { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// One line per connection.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Every setting of one connection (ERP credentials: only where they are stored and their keys).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a connection (refused if it exists).
    Create(CreateArgs),
    /// Change the given settings of a connection; everything else is kept.
    Update(UpdateArgs),
    /// Check the Concur side and the ERP side, one line per check.
    Test { id: String },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub id: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub settings: SettingsFlags,
    /// Create it switched off.
    #[arg(long)]
    pub disable: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    pub id: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub settings: SettingsFlags,
    /// Stop borrowing concurrency from another connection.
    #[arg(long, conflicts_with = "borrow_concurrency_from")]
    pub no_borrow: bool,
    /// Switch the connection on again.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Switch the connection off (documents stop flowing; nothing is lost).
    #[arg(long)]
    pub disable: bool,
}

/// Settings shared by `create` and `update`; absent = unchanged (update) or default (create).
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsFlags {
    /// The Concur company's UUID.
    #[arg(long)]
    pub company_uuid: Option<String>,
    /// acumatica | ifs_cloud | infor
    #[arg(long)]
    pub erp: Option<String>,
    /// The ERP instance's base URL (https; Acumatica: everything before /entity).
    #[arg(long)]
    pub erp_url: Option<String>,
    /// Acumatica tenant login name.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Acumatica endpoint name (default `Default`).
    #[arg(long)]
    pub endpoint_name: Option<String>,
    /// Acumatica endpoint version (default `24.200.001`).
    #[arg(long)]
    pub endpoint_version: Option<String>,
    /// Acumatica branch ID (`--branch ""` removes it).
    #[arg(long)]
    pub branch: Option<String>,
    /// IFS Cloud namespace (Keycloak realm).
    #[arg(long)]
    pub namespace: Option<String>,
    /// IFS Cloud company.
    #[arg(long)]
    pub ifs_company: Option<String>,
    /// Infor: our ION connection point (`fromLogicalId`), e.g. `lid://infor.ims.concurconnector`.
    #[arg(long)]
    pub ion_logical_id: Option<String>,
    /// Infor: the accounting entity the BODs post into.
    #[arg(long)]
    pub ion_accounting_entity: Option<String>,
    /// Infor: the accounting entity's functional currency (ISO 4217), carried
    /// as `FunctionalAmount` on every journal line; journals are refused without it.
    #[arg(long)]
    pub ion_functional_currency: Option<String>,
    /// Infor: rates to the functional currency, `GBP=1.27,CAD=0.73` (units of
    /// the functional currency per unit); replaces the list, `""` empties it.
    #[arg(long)]
    pub ion_functional_rates: Option<String>,
    /// Infor: how a debit adjustment is sent: negative_total (default) or credit_note.
    #[arg(long)]
    pub ion_debit_adjustment_form: Option<String>,
    /// Infor: seconds a document may wait for the ERP's verdict before the
    /// same BODs are sent again (default 3600).
    #[arg(long)]
    pub ion_verdict_wait_seconds: Option<String>,
    /// Infor: times the same BODs are sent again for want of a verdict
    /// before the document stops for an operator (default 3).
    #[arg(long)]
    pub ion_verdict_resends: Option<String>,
    /// Infor: true when the ERP replaces a document it holds on a higher
    /// variation; then a replay sends every part again (default false:
    /// parts the ERP accepted are never sent again).
    #[arg(long)]
    pub ion_replaces_on_higher_variation: Option<String>,
    /// JSON file with the ERP credentials (never give credentials on the command line).
    #[arg(long, value_name = "FILE.json")]
    pub erp_credentials_file: Option<PathBuf>,
    /// "every 15m", "every 2h", "daily 06:00", "weekly mon 06:00" (UTC).
    #[arg(long)]
    pub schedule: Option<String>,
    /// Comma list of expense, invoice, cashadvance.
    #[arg(long)]
    pub document_types: Option<String>,
    /// Documents worked on at once, 1–25.
    #[arg(long, allow_hyphen_values = true)]
    pub concurrency: Option<String>,
    /// Use another connection's concurrency slots (same ERP instance).
    #[arg(long, value_name = "ID")]
    pub borrow_concurrency_from: Option<String>,
    /// Confirm postings back to Concur: true | false.
    #[arg(long)]
    pub confirm_postings: Option<String>,
    /// What expense reports become: ap_bill | journal.
    #[arg(long)]
    pub expense_as: Option<String>,
    /// What invoices become: ap_bill | journal.
    #[arg(long)]
    pub invoice_as: Option<String>,
    /// What cash advances become: ap_bill | journal.
    #[arg(long)]
    pub cash_advance_as: Option<String>,
    /// Where documents come from: fis | extract | payment_batch | auto (from the edition).
    #[arg(long)]
    pub source: Option<String>,
    /// Extract definitions to read, by name or id, comma separated (`""`: every definition).
    #[arg(long)]
    pub definitions: Option<String>,
    /// Extract: start a job each run when none is running: true | false (default: only Concur's scheduled jobs).
    #[arg(long)]
    pub start_jobs: Option<String>,
    /// Payment batches to close by payee type, comma separated, e.g. `Employee` (`""`: every type).
    #[arg(long)]
    pub batch_types: Option<String>,
    /// Payment batches to close by currency, comma separated (`""`: every currency).
    #[arg(long)]
    pub batch_currencies: Option<String>,
    /// Payment batches to close by payment method, comma separated (`""`: every method).
    #[arg(long)]
    pub batch_payment_methods: Option<String>,
    /// The files' field separator: comma | pipe | tab | semicolon.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// Extract jobs started before this RFC 3339 time are not taken (default: when the source was chosen).
    #[arg(long)]
    pub files_since: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["connector", "--stack", "s"].iter().chain(args))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn contradictory_flags_are_refused_by_the_parser() {
        assert!(parse(&["connections", "update", "a", "--enable", "--disable"]).is_err());
        assert!(parse(&["connections", "update", "a", "--no-borrow", "--borrow-concurrency-from", "b"]).is_err());
        assert!(parse(&["connections", "create", "a"]).is_err(), "create needs --name");
        assert!(parse(&["connections", "create", "a", "--name", "A", "--enable"]).is_err(), "create has no --enable");
    }

    #[test]
    fn values_reach_our_own_validation() {
        let cli = parse(&["connections", "update", "a", "--concurrency", "-1", "--schedule", "daily 06:00"]).unwrap();
        let Command::Connections(ConnectionsCommand::Update(args)) = cli.command else { panic!("update expected") };
        assert_eq!(args.settings.concurrency.as_deref(), Some("-1"));
        assert_eq!(args.settings.schedule.as_deref(), Some("daily 06:00"));
        let cli = Cli::try_parse_from(["connector", "connections", "test", "a", "--stack", "s"]).unwrap();
        assert_eq!(cli.stack.as_deref(), Some("s"), "--stack may come after the command");
    }

    #[test]
    fn a_replay_chooses_its_documents_exactly_one_way() {
        assert!(parse(&["documents", "replay", "a"]).is_err(), "a selection is required");
        assert!(parse(&["documents", "replay", "a", "--failed", "--document", "expense:X"]).is_err());
        assert!(parse(&["documents", "replay", "a", "--failed", "--since", "2026-11-23T10:00:00Z"]).is_err());
        assert!(
            parse(&["documents", "replay", "a", "--until", "2026-11-23T10:00:00Z"]).is_err(),
            "--until needs --since"
        );
        let cli = parse(&["documents", "replay", "a", "--document", "expense:X", "--document", "invoice:Y"]).unwrap();
        let Command::Documents(DocumentsCommand::Replay(args)) = cli.command else { panic!("replay expected") };
        assert_eq!(args.document, ["expense:X", "invoice:Y"]);
        assert!(
            parse(&["documents", "replay", "a", "--since", "x", "--until", "y"]).is_ok(),
            "times are ours to check"
        );
        assert!(parse(&["queue", "redrive", "--max", "5"]).is_ok());
    }
}
