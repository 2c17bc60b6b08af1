//! `sync status`, `sync run`, `sync lists` and `sync vendors`: the reference syncs of a connection (issue
//! 14). The state is what the poster's runs leave in `<stack>-reference`;
//! a run is asked for through the work queue, as Quick Connect asks for
//! the first one.

use std::io::Write;

use std::collections::BTreeMap;

use domain::reference::{
    CannotHold, FieldOwner, ListFeed, PoAddress, PurchaseOrderSettings, ReferenceKind, ReferenceSettings,
    VendorDirection, VendorField, VendorSync,
};
use domain::{ReferenceSyncRequest, SyncReason};
use serde_json::json;

use crate::commands::{load, parse_id};
use crate::documents::queue_url;
use crate::{CliError, Deps, Outcome};

/// `sync status ID [--json]`: per kind, the last run, its counts, the
/// cursor and the records Concur could not hold.
pub async fn status(deps: &Deps, raw_id: &str, as_json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let connection = load(deps, &id).await?;
    let next_run = next_scheduled(&connection);
    let store = deps.aws.reference(&deps.names.reference_table);
    let mut kinds = Vec::new();
    for kind in ReferenceKind::ALL {
        kinds.push((kind, store.state(&id, kind).await?));
    }
    if as_json {
        let value: serde_json::Map<String, serde_json::Value> =
            kinds.iter().map(|(kind, state)| (kind.as_str().to_owned(), json!(state))).collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"connection": id.as_str(), "next_run": next_run, "syncs": value}))
                .unwrap_or_default()
        )?;
        return Ok(Outcome::Done);
    }
    writeln!(out, "{:<16}{}", "next run", next_run.as_deref().unwrap_or("at the next scheduler tick"))?;
    for (kind, state) in &kinds {
        let Some(state) = state else {
            writeln!(out, "{:<16}never run", kind.as_str())?;
            continue;
        };
        let counts = state.last_run.as_ref().map_or("no run finished".to_owned(), |c| {
            format!(
                "read {}, written {}, deactivated {}, unchanged {}, refused {}",
                c.read, c.written, c.deactivated, c.unchanged, c.refused
            )
        });
        writeln!(out, "{:<16}last run {}: {counts}", kind.as_str(), state.last_run_at.as_deref().unwrap_or("-"))?;
        writeln!(out, "{:<16}cursor {}", "", state.cursor.as_deref().unwrap_or("- (the next run reads everything)"))?;
        if let Some(error) = &state.last_error {
            writeln!(out, "{:<16}last error {error}", "")?;
        }
        for refusal in &state.refused {
            // Keys join their parts with a unit separator: show them as `A/B`.
            writeln!(out, "{:<16}refused {}: {}", "", refusal.key.replace('\u{1f}', "/"), refusal.reason)?;
        }
        if let Some(dry) = &state.last_dry_run {
            let c = &dry.would;
            writeln!(
                out,
                "{:<16}dry run {}: would write {}, deactivate {}, refuse {} (read {}, unchanged {})",
                "", dry.at, c.written, c.deactivated, c.refused, c.read, c.unchanged
            )?;
            for refusal in &dry.refused {
                writeln!(out, "{:<16}would refuse {}: {}", "", refusal.key.replace('\u{1f}', "/"), refusal.reason)?;
            }
        }
    }
    Ok(Outcome::Done)
}

/// When the schedule queues the connection's next sync (RFC 3339), if known.
fn next_scheduled(connection: &domain::Connection) -> Option<String> {
    let last = connection.last_sync_queued_at.as_deref().or(connection.connected_at.as_deref());
    let at = last.and_then(domain::clock::parse_rfc3339)?;
    Some(domain::clock::rfc3339(at + domain::reference::SYNC_EVERY))
}

/// `sync run ID [--kind K]`: queues a full sync of the connection (every
/// kind it keeps, or only `K`; records deleted in the ERP and refusals are
/// looked at again).
pub async fn run(
    deps: &Deps,
    raw_id: &str,
    kind: Option<&str>,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let refused = |e: domain::reference::CannotHold| CliError::Refused(crate::settings::Refusal(e.0));
    let only = kind.map(ReferenceKind::parse).transpose().map_err(refused)?;
    let connection = load(deps, &id).await?;
    if !connection.is_flowing() {
        return Err(CliError::Refused(crate::settings::Refusal(format!(
            "connection {id} is {:?}: a sync runs once it is active (reconnect it in Concur first)",
            connection.status
        ))));
    }
    let queue = deps.aws.work_queue(queue_url(deps, &deps.names.work_queue).await?);
    let mut request = ReferenceSyncRequest::new(id.clone(), SyncReason::Operator, time::OffsetDateTime::now_utc());
    request.only = only;
    request.dry_run = dry_run;
    queue.send_reference_sync(&request).await?;
    let what = only.map_or("reference".to_owned(), |k| k.as_str().to_owned());
    let how = if dry_run { "dry run of a full" } else { "full" };
    writeln!(out, "queued a {how} {what} sync of {id}; `connector sync status {id}` shows its result")?;
    Ok(Outcome::Done)
}

/// `sync po ID --number N…`: queues the pull of named Concur purchase
/// orders into the connection's ERP (IFS Cloud), ahead of the invoices
/// that will reference them; `connector documents history ID
/// purchase_order#N` shows each outcome.
pub async fn pull_purchase_orders(
    deps: &Deps,
    raw_id: &str,
    numbers: &[String],
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let refused = |reason: String| CliError::Refused(crate::settings::Refusal(reason));
    let numbers: Vec<String> = numbers.iter().map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).collect();
    if numbers.is_empty() || numbers.len() > ReferenceSyncRequest::MAX_PULLED {
        return Err(refused(format!("name 1 to {} purchase orders with --number", ReferenceSyncRequest::MAX_PULLED)));
    }
    let connection = load(deps, &id).await?;
    if !connection.is_flowing() {
        return Err(refused(format!("connection {id} is {:?}: reconnect it in Concur first", connection.status)));
    }
    let queue = deps.aws.work_queue(queue_url(deps, &deps.names.work_queue).await?);
    let mut request = ReferenceSyncRequest::new(id.clone(), SyncReason::Operator, time::OffsetDateTime::now_utc());
    request.purchase_orders = numbers.clone();
    queue.send_reference_sync(&request).await?;
    writeln!(out, "queued the pull of {} purchase order(s) into {id}'s ERP: {}", numbers.len(), numbers.join(", "))?;
    Ok(Outcome::Done)
}

/// `sync lists ID [--feed LIST=SOURCE]… [--clear]`: prints the lists the
/// connection feeds, or replaces them. The next sync writes the new feeds;
/// a list no longer fed is left as it is in Concur (its items are neither
/// updated nor removed), so dropping a feed never empties a list.
pub async fn lists(
    deps: &Deps,
    raw_id: &str,
    feeds: &[String],
    clear: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let current = load(deps, &id).await?;
    if feeds.is_empty() && !clear {
        if current.reference.lists.is_empty() {
            writeln!(out, "connection {id} feeds no Concur list (`connector sync lists {id} --feed LIST=SOURCE`)")?;
        }
        for feed in &current.reference.lists {
            writeln!(out, "{} <- {}", feed.list, feed.source)?;
        }
        return Ok(Outcome::Done);
    }
    let refused = |e: domain::reference::CannotHold| CliError::Refused(crate::settings::Refusal(e.0));
    let parsed: Vec<ListFeed> = feeds.iter().map(|f| ListFeed::parse(f)).collect::<Result<_, _>>().map_err(refused)?;
    let mut names: Vec<&str> = parsed.iter().map(|f| f.list.as_str()).collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(CliError::Refused(crate::settings::Refusal(format!(
            "list `{}` is named twice: one source per Concur list",
            twice[0]
        ))));
    }
    let reference = ReferenceSettings { lists: parsed, ..current.reference.clone() };
    let count = reference.lists.len();
    if !store_reference(deps, &current, reference, out).await? {
        return Ok(Outcome::Done);
    }
    match count {
        0 => writeln!(out, "connection {id} feeds no Concur list now")?,
        n => writeln!(out, "connection {id} feeds {n} Concur list(s); `connector sync run {id}` writes them now")?,
    }
    Ok(Outcome::Done)
}

/// `sync vendors ID [--direction D] [--owner FIELD=SIDE]…`: prints which
/// way the connection's vendors flow and who owns each field, or sets it.
/// Owners only matter for `both` (one way, the source owns every field);
/// a field not named stays the ERP's.
pub async fn vendors(
    deps: &Deps,
    raw_id: &str,
    direction: Option<&str>,
    owners: &[String],
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let current = load(deps, &id).await?;
    let refused = |e: domain::reference::CannotHold| CliError::Refused(crate::settings::Refusal(e.0));
    if direction.is_none() && owners.is_empty() {
        return print_vendor_sync(&current.reference.vendors, &id, out);
    }
    let mut sync = current.reference.vendors.clone();
    if let Some(direction) = direction {
        sync.direction = VendorDirection::parse(direction).map_err(refused)?;
    }
    if !owners.is_empty() {
        sync.owners = parse_owners(owners).map_err(refused)?;
    }
    if sync.direction != VendorDirection::Both && !sync.owners.is_empty() {
        return Err(CliError::Refused(crate::settings::Refusal(format!(
            "field owners are for `--direction both`; with {} the source owns every field",
            sync.direction.as_str()
        ))));
    }
    let reference = ReferenceSettings { vendors: sync.clone(), ..current.reference.clone() };
    if store_reference(deps, &current, reference, out).await? {
        print_vendor_sync(&sync, &id, out)?;
        writeln!(out, "`connector sync run {id} --kind vendors` applies it now")?;
    }
    Ok(Outcome::Done)
}

/// `sync purchase-orders ID [--policy P --bill-to A --ship-to A | --off]`:
/// prints whether the ERP's purchase orders and receipts go to Concur, or
/// sets it. Concur's PO v3 needs a policy and both addresses on every
/// order; the ERPs' orders carry none it can take, so they are set here.
pub async fn purchase_orders(
    deps: &Deps,
    raw_id: &str,
    policy: Option<&str>,
    addresses: (Option<&str>, Option<&str>),
    off: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let id = parse_id(raw_id)?;
    let current = load(deps, &id).await?;
    let refused = |e: CannotHold| CliError::Refused(crate::settings::Refusal(e.0));
    let settings = match (policy, addresses, off) {
        (None, (None, None), false) => {
            print_purchase_orders(current.reference.purchase_orders.as_ref(), &id, out)?;
            return Ok(Outcome::Done);
        }
        (_, _, true) => None,
        (Some(policy), (Some(bill_to), Some(ship_to)), false) => Some(PurchaseOrderSettings {
            policy_external_id: policy.trim().to_owned(),
            bill_to: PoAddress::parse(bill_to).map_err(refused)?,
            ship_to: PoAddress::parse(ship_to).map_err(refused)?,
        }),
        _ => {
            return Err(refused(CannotHold(
                "give --policy, --bill-to and --ship-to together (Concur requires all three on every order), or --off"
                    .into(),
            )));
        }
    };
    if settings.as_ref().is_some_and(|s| s.policy_external_id.is_empty()) {
        return Err(refused(CannotHold("--policy is empty: the Standard edition's policy is `PO`".into())));
    }
    let reference = ReferenceSettings { purchase_orders: settings.clone(), ..current.reference.clone() };
    if store_reference(deps, &current, reference, out).await? {
        print_purchase_orders(settings.as_ref(), &id, out)?;
    }
    Ok(Outcome::Done)
}

fn print_purchase_orders(
    settings: Option<&PurchaseOrderSettings>,
    id: &domain::ConnectionId,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let Some(settings) = settings else {
        writeln!(out, "connection {id} sends no purchase orders to Concur (`--policy --bill-to --ship-to` to start)")?;
        return Ok(());
    };
    let address = |a: &PoAddress| {
        format!(
            "{}: {}, {} {} {} {}",
            a.external_id, a.address1, a.postal_code, a.city, a.state_province, a.country_code
        )
    };
    writeln!(
        out,
        "connection {id} sends purchase orders and receipts to Concur, policy {}",
        settings.policy_external_id
    )?;
    writeln!(out, "  bill to {}", address(&settings.bill_to))?;
    writeln!(out, "  ship to {}", address(&settings.ship_to))?;
    Ok(())
}

/// `FIELD=erp|concur`, each field once.
fn parse_owners(owners: &[String]) -> Result<BTreeMap<VendorField, FieldOwner>, CannotHold> {
    let mut parsed = BTreeMap::new();
    for owner in owners {
        let Some((field, side)) = owner.split_once('=') else {
            return Err(CannotHold(format!("`{owner}` is not FIELD=erp|concur (for example `name=concur`)")));
        };
        if parsed.insert(VendorField::parse(field)?, FieldOwner::parse(side)?).is_some() {
            return Err(CannotHold(format!("field `{}` is named twice: one owner per field", field.trim())));
        }
    }
    Ok(parsed)
}

fn print_vendor_sync(sync: &VendorSync, id: &domain::ConnectionId, out: &mut dyn Write) -> Result<Outcome, CliError> {
    writeln!(out, "connection {id}: vendors {}", sync.direction.as_str())?;
    for field in VendorField::ALL {
        writeln!(out, "  {:<10}owned by {}", field.as_str(), sync.owner(field).as_str())?;
    }
    Ok(Outcome::Done)
}

/// Stores `reference` on the connection unless it is what it holds:
/// whether it changed (else says so).
async fn store_reference(
    deps: &Deps,
    current: &domain::Connection,
    reference: ReferenceSettings,
    out: &mut dyn Write,
) -> Result<bool, CliError> {
    if reference == current.reference {
        writeln!(out, "connection {}: nothing to change", current.connection_id)?;
        return Ok(false);
    }
    let next = domain::Connection { reference, updated_at: domain::clock::now_rfc3339(), ..current.clone() };
    deps.connections.replace_if_unchanged(&next, &current.updated_at).await?;
    Ok(true)
}
