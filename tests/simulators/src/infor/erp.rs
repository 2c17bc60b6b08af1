//! "The Infor instance" behind ION: what happens to a BOD once IMS accepted
//! it — identification, variation dedup, validation against the accounting
//! entity's master data, storage — and the outcome BODs it sends back
//! (`Acknowledge<Noun>`, `ConfirmBOD`; reference §5.5).

use super::bod::{self, BOD_NAMESPACE, BOD_RELEASE_ID, BodId, Confirmation, Envelope, Origin};
use super::state::{DocKey, OutboundMessage, ReceivedMessage, ReceivedStatus, Tenant};
use super::xml::escape;

/// `versionID` of the outcome BODs.
const OUTCOME_VERSION_ID: &str = "2.14.0";

/// A message IMS accepted, as handed to the ERP.
pub(crate) struct Incoming {
    pub endpoint: String,
    pub message_id: String,
    pub document_name: String,
    pub from_logical_id: String,
    pub to_logical_id: String,
    pub encoding: String,
    pub parameters: std::collections::BTreeMap<String, String>,
    pub payload_bytes: usize,
    pub document: Vec<u8>,
}

/// The business result for an identified document.
enum Verdict {
    Accepted { erp_id: String, replaced: bool },
    Rejected(String),
}

/// A message IMS lost before the ERP saw it, as `received` shows it.
pub(crate) fn lost(incoming: Incoming) -> ReceivedMessage {
    received_as(&incoming, ReceivedStatus::Lost)
}

/// `incoming` as `received` lists it, before the ERP read its envelope.
fn received_as(incoming: &Incoming, status: ReceivedStatus) -> ReceivedMessage {
    ReceivedMessage {
        message_id: incoming.message_id.clone(),
        endpoint: incoming.endpoint.clone(),
        document_name: incoming.document_name.clone(),
        from_logical_id: incoming.from_logical_id.clone(),
        to_logical_id: incoming.to_logical_id.clone(),
        encoding: incoming.encoding.clone(),
        parameters: incoming.parameters.clone(),
        payload_bytes: incoming.payload_bytes,
        xml: String::from_utf8_lossy(&incoming.document).into_owned(),
        bod_id: None,
        document_id: None,
        variation_id: None,
        accounting_entity: None,
        status,
    }
}

/// Processes one message: records it in `received`, stores the document,
/// appends outcomes to the outbox and returns them (for pushing).
pub(crate) fn process(tenant: &mut Tenant, incoming: Incoming) -> Vec<OutboundMessage> {
    let ti = tenant.ti.clone();
    let envelope = bod::read_envelope(&ti, &incoming.document_name, &incoming.from_logical_id, &incoming.document);
    let mut received = received_as(&incoming, ReceivedStatus::Failed { reason: String::new() });
    let mut outcomes = Vec::new();
    match envelope {
        Err(failure) => {
            received.bod_id = failure.origin.bod_id.clone();
            received.document_id = failure.document_id.clone();
            received.variation_id = failure.variation;
            received.accounting_entity = failure.origin.entity.clone();
            received.status = ReceivedStatus::Failed { reason: failure.reason.clone() };
            outcomes.push(confirm_bod(
                tenant,
                &incoming,
                &failure.origin,
                failure.document_id.as_deref(),
                failure.variation,
                Err(&failure.reason),
            ));
        }
        Ok(env) => {
            received.bod_id = Some(env.bod_id.clone());
            received.document_id = Some(env.document_id.clone());
            received.variation_id = Some(env.variation);
            received.accounting_entity = Some(env.entity.clone());
            let supported = matches!(
                (env.verb.as_str(), env.noun.as_str()),
                ("Process", "SourceSystemJournalEntry")
                    | ("Process", "SupplierInvoice")
                    | ("Sync" | "Process", "SupplierPartyMaster")
            );
            let key: DocKey = (env.noun.clone(), env.document_id.clone(), env.entity.clone());
            if !supported {
                let reason = format!("No document flow delivers '{}' to the ERP", incoming.document_name);
                received.status = ReceivedStatus::Failed { reason: reason.clone() };
                outcomes.push(confirm_bod(
                    tenant,
                    &incoming,
                    &env.origin,
                    Some(&env.document_id),
                    Some(env.variation),
                    Err(&reason),
                ));
            } else if let Some((held, _)) = tenant.held.get(&key).filter(|(held, _)| env.variation <= *held) {
                // Same or older variation: ignored, nothing comes back.
                received.status = ReceivedStatus::Duplicate { held_variation: *held };
            } else {
                let refusal = tenant.refusals.iter().find(|(pattern, _)| env.document_id.contains(pattern.as_str()));
                let verdict = match refusal {
                    Some((_, reason)) => Verdict::Rejected(reason.clone()),
                    None => match decide(tenant, &env, &incoming.message_id) {
                        Ok(v) => v,
                        Err(reason) => Verdict::Rejected(reason),
                    },
                };
                let (erp_id, result) = match &verdict {
                    Verdict::Accepted { erp_id, replaced } => {
                        received.status = ReceivedStatus::Accepted { erp_id: erp_id.clone(), replaced: *replaced };
                        (Some(erp_id.as_str()), Ok(erp_id.as_str()))
                    }
                    Verdict::Rejected(reason) => {
                        received.status = ReceivedStatus::Rejected { reason: reason.clone() };
                        (None, Err(reason.as_str()))
                    }
                };
                if env.verb == "Process" {
                    outcomes.push(acknowledge(tenant, &incoming, &env, erp_id, result.err()));
                }
                let wanted = match env.confirmation {
                    Confirmation::Always => true,
                    Confirmation::OnError => result.is_err(),
                    Confirmation::Never => false,
                };
                if wanted {
                    outcomes.push(confirm_bod(
                        tenant,
                        &incoming,
                        &env.origin,
                        Some(&env.document_id),
                        Some(env.variation),
                        result,
                    ));
                }
            }
        }
    }
    tenant.received.push(received);
    tenant.outbox.extend(outcomes.iter().cloned());
    outcomes
}

/// Validates and stores an identified, non-duplicate document.
fn decide(tenant: &mut Tenant, env: &Envelope, message_id: &str) -> Result<Verdict, String> {
    match env.action_code.as_deref() {
        None | Some("Add" | "Replace" | "Change") => {}
        Some("Delete") => return Err("actionCode Delete is not supported for this document".into()),
        Some(other) => return Err(format!("actionCode '{other}' is not one of Add, Replace, Change, Delete")),
    }
    if !tenant.entities.contains_key(&env.entity) {
        return Err(format!("Accounting entity '{}' does not exist", env.entity));
    }
    let key: DocKey = (env.noun.clone(), env.document_id.clone(), env.entity.clone());
    let held_id = tenant.held.get(&key).map(|(_, id)| id.clone());
    let replaced = held_id.is_some();
    let erp_id =
        match env.noun.as_str() {
            "SourceSystemJournalEntry" => {
                let mut journal = bod::journal(env)?;
                for line in &journal.lines {
                    known_account(tenant, &env.entity, &line.account)?;
                    known_dimensions(tenant, &env.entity, &line.dimensions)?;
                }
                let erp_id = held_id.unwrap_or_else(|| {
                    tenant.last_journal_number += 1;
                    format!("JE-{:06}", tenant.last_journal_number)
                });
                journal.erp_id = erp_id.clone();
                journal.message_id = message_id.to_owned();
                let existing = tenant.journals.iter().position(|j| {
                    j.document_id == journal.document_id && j.accounting_entity == journal.accounting_entity
                });
                match existing {
                    Some(i) => {
                        journal.replaced = tenant.journals[i].replaced + 1;
                        tenant.journals[i] = journal;
                    }
                    None => tenant.journals.push(journal),
                }
                erp_id
            }
            "SupplierInvoice" => {
                let mut invoice = bod::supplier_invoice(env)?;
                let entity = &tenant.entities[&env.entity];
                if !entity.suppliers.contains_key(&invoice.supplier_id) {
                    return Err(format!(
                        "Supplier '{}' does not exist in accounting entity '{}'",
                        invoice.supplier_id, env.entity
                    ));
                }
                for line in &invoice.lines {
                    for distribution in &line.distributions {
                        known_account(tenant, &env.entity, &distribution.account)?;
                        known_dimensions(tenant, &env.entity, &distribution.dimensions)?;
                    }
                }
                let erp_id = held_id.unwrap_or_else(|| {
                    tenant.last_invoice_number += 1;
                    format!("SI-{:06}", tenant.last_invoice_number)
                });
                invoice.erp_id = erp_id.clone();
                invoice.message_id = message_id.to_owned();
                let existing = tenant.supplier_invoices.iter().position(|s| {
                    s.document_id == invoice.document_id && s.accounting_entity == invoice.accounting_entity
                });
                match existing {
                    Some(i) => {
                        invoice.replaced = tenant.supplier_invoices[i].replaced + 1;
                        tenant.supplier_invoices[i] = invoice;
                    }
                    None => tenant.supplier_invoices.push(invoice),
                }
                erp_id
            }
            "SupplierPartyMaster" => {
                let (id, name) = bod::supplier_party(env)?;
                tenant.entity_mut(&env.entity).suppliers.entry(id.clone()).or_default().rename(&name);
                id
            }
            other => return Err(format!("The ERP does not process {other}")),
        };
    tenant.held.insert(key, (env.variation, erp_id.clone()));
    Ok(Verdict::Accepted { erp_id, replaced })
}

fn known_account(tenant: &Tenant, entity: &str, account: &str) -> Result<(), String> {
    if tenant.entities[entity].accounts.contains_key(account) {
        Ok(())
    } else {
        Err(format!("GL account '{account}' does not exist in accounting entity '{entity}'"))
    }
}

fn known_dimensions(tenant: &Tenant, entity: &str, dimensions: &[super::state::Dimension]) -> Result<(), String> {
    for d in dimensions {
        let known = tenant.entities[entity].dimensions.get(&d.list_id).is_some_and(|values| values.contains(&d.value));
        if !known {
            return Err(format!(
                "Value '{}' of dimension '{}' does not exist in accounting entity '{entity}'",
                d.value, d.list_id
            ));
        }
    }
    Ok(())
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn element(name: &str, value: Option<&str>) -> String {
    value.map(|v| format!("<{name}>{}</{name}>", escape(v))).unwrap_or_default()
}

fn application_area(tenant: &Tenant, bod_id: &str) -> String {
    format!(
        "<ApplicationArea><Sender><LogicalID>{}</LogicalID><ComponentID>ERP</ComponentID></Sender>\
         <CreationDateTime>{}</CreationDateTime><BODID>{}</BODID></ApplicationArea>",
        escape(&tenant.erp_logical_id),
        now_rfc3339(),
        escape(bod_id)
    )
}

fn original_application_area(origin: &Origin) -> String {
    let sender = [
        element("LogicalID", origin.sender_lid.as_deref()),
        element("ComponentID", origin.component_id.as_deref()),
        element("ConfirmationCode", origin.confirmation_code.as_deref()),
    ]
    .concat();
    format!(
        "<OriginalApplicationArea><Sender>{sender}</Sender>{}{}</OriginalApplicationArea>",
        element("CreationDateTime", origin.creation.as_deref()),
        element("BODID", origin.bod_id.as_deref())
    )
}

fn outbound(
    tenant: &Tenant,
    incoming: &Incoming,
    origin: &Origin,
    document_name: &str,
    bod_id: String,
    xml: String,
) -> OutboundMessage {
    OutboundMessage {
        document_name: document_name.to_owned(),
        message_id: uuid::Uuid::new_v4().to_string(),
        bod_id,
        original_bod_id: origin.bod_id.clone(),
        original_message_id: incoming.message_id.clone(),
        from_logical_id: tenant.erp_logical_id.clone(),
        to_logical_id: incoming.from_logical_id.clone(),
        xml,
    }
}

/// `Acknowledge<Noun>` for a Process BOD: Accepted with the ERP id, or Rejected with the reason.
fn acknowledge(
    tenant: &Tenant,
    incoming: &Incoming,
    env: &Envelope,
    erp_id: Option<&str>,
    rejection: Option<&str>,
) -> OutboundMessage {
    let noun = &env.noun;
    let bod_id =
        BodId::format(&tenant.ti, &env.entity, "", &env.document_id, &env.variation.to_string(), noun, "Acknowledge");
    let id_attrs = format!(r#" accountingEntity="{}" variationID="{}""#, escape(&env.entity), env.variation);
    let doc_id = escape(&env.document_id);
    let display = element("DisplayID", erp_id);
    let noun_body = match noun.as_str() {
        "SourceSystemJournalEntry" => {
            format!("<JournalEntryHeader><JournalID{id_attrs}>{doc_id}</JournalID>{display}</JournalEntryHeader>")
        }
        "SupplierInvoice" => {
            format!(
                "<SupplierInvoiceHeader><DocumentID><ID{id_attrs}>{doc_id}</ID></DocumentID>{display}</SupplierInvoiceHeader>"
            )
        }
        _ => format!("<DocumentID><ID{id_attrs}>{doc_id}</ID></DocumentID>{display}"),
    };
    let criteria = match rejection {
        None => r#"<ResponseCriteria><ResponseExpression actionCode="Accepted"/></ResponseCriteria>"#.to_owned(),
        Some(reason) => format!(
            r#"<ResponseCriteria><ResponseExpression actionCode="Rejected"/><ChangeStatus><Code>Rejected</Code><Description>{}</Description></ChangeStatus></ResponseCriteria>"#,
            escape(reason)
        ),
    };
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Acknowledge{noun} xmlns="{BOD_NAMESPACE}" releaseID="{BOD_RELEASE_ID}" versionID="{OUTCOME_VERSION_ID}">{}<DataArea><Acknowledge><TenantID>{}</TenantID><AccountingEntityID>{}</AccountingEntityID>{}{criteria}</Acknowledge><{noun}>{noun_body}</{noun}></DataArea></Acknowledge{noun}>"#,
        application_area(tenant, &bod_id),
        escape(&tenant.ti),
        escape(&env.entity),
        original_application_area(&env.origin),
    );
    outbound(tenant, incoming, &env.origin, &format!("Acknowledge.{noun}"), bod_id, xml)
}

/// `ConfirmBOD`: success (`Ok(erp id)`) or failure (`Err(reason)`).
fn confirm_bod(
    tenant: &Tenant,
    incoming: &Incoming,
    origin: &Origin,
    document_id: Option<&str>,
    variation: Option<u64>,
    result: Result<&str, &str>,
) -> OutboundMessage {
    let entity = origin.entity.as_deref().unwrap_or("");
    let bod_id = BodId::format(
        &tenant.ti,
        entity,
        "",
        document_id.unwrap_or(""),
        &variation.map(|v| v.to_string()).unwrap_or_default(),
        "BOD",
        "Confirm",
    );
    let noun_id = element("NounID", document_id);
    let message = match result {
        Ok(erp_id) => format!(
            "<BODSuccessMessage><NounOutcome>{noun_id}{}</NounOutcome></BODSuccessMessage>",
            element("DisplayID", Some(erp_id))
        ),
        Err(reason) => {
            let description = match &origin.bod_id {
                Some(_) => reason.to_owned(),
                None => format!("Message '{}': {reason}", incoming.message_id),
            };
            let outcome =
                if noun_id.is_empty() { String::new() } else { format!("<NounOutcome>{noun_id}</NounOutcome>") };
            format!(
                "<BODFailureMessage><ErrorProcessMessage><Description>{}</Description><Type>Error</Type></ErrorProcessMessage>{outcome}</BODFailureMessage>",
                escape(&description)
            )
        }
    };
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ConfirmBOD xmlns="{BOD_NAMESPACE}" releaseID="{BOD_RELEASE_ID}" versionID="{OUTCOME_VERSION_ID}">{}<DataArea><Confirm><TenantID>{}</TenantID>{}{}</Confirm><BOD>{message}</BOD></DataArea></ConfirmBOD>"#,
        application_area(tenant, &bod_id),
        escape(&tenant.ti),
        element("AccountingEntityID", origin.entity.as_deref()),
        original_application_area(origin),
    );
    outbound(tenant, incoming, origin, "Confirm.BOD", bod_id, xml)
}
