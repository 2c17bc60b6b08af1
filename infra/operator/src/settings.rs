//! Pure validation: flags → checked values → the connection to store. No
//! I/O here (DNS lives in [`crate::dns`], the stores in the commands), so
//! every refusal is unit-tested and happens before any write.

use std::collections::BTreeMap;
use std::str::FromStr;

use domain::extract::Delimiter;
use domain::posting_source::{PostingSource, SourceChoice};
use domain::{
    AcumaticaSettings, CompanyUuid, ConcurrencyLevel, Connection, ConnectionId, DebitAdjustmentForm, DocumentType,
    ErpKind, ErpSettings, ErpUrl, IfsCloudSettings, InforSettings, PollSchedule, PostingForm, UrlPolicy,
};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::cli::SettingsFlags;

/// A setting the CLI refuses, worded for the operator who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(message.into()))
}

/// Longest credentials file read (they are a few hundred bytes).
const MAX_CREDENTIALS_BYTES: usize = 64 * 1024;

/// The flags, each parsed and checked on its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub company_uuid: Option<CompanyUuid>,
    pub erp_kind: Option<ErpKind>,
    pub erp_url: Option<ErpUrl>,
    pub tenant: Option<String>,
    pub endpoint_name: Option<String>,
    pub endpoint_version: Option<String>,
    /// `Some(None)`: remove the branch.
    pub branch: Option<Option<String>>,
    pub namespace: Option<String>,
    pub ifs_company: Option<String>,
    pub ion_logical_id: Option<String>,
    pub ion_accounting_entity: Option<String>,
    pub ion_functional_currency: Option<String>,
    pub ion_functional_rates: Option<BTreeMap<String, Decimal>>,
    pub ion_debit_adjustment_form: Option<DebitAdjustmentForm>,
    pub ion_verdict_wait_seconds: Option<u64>,
    pub ion_verdict_resends: Option<u32>,
    pub ion_replaces_on_higher_variation: Option<bool>,
    pub schedule: Option<PollSchedule>,
    pub document_types: Option<Vec<DocumentType>>,
    pub concurrency: Option<ConcurrencyLevel>,
    pub borrow_from: Option<ConnectionId>,
    pub confirm_postings: Option<bool>,
    pub expense_as: Option<PostingForm>,
    pub invoice_as: Option<PostingForm>,
    pub cash_advance_as: Option<PostingForm>,
    pub source: SourceFlags,
}

/// The posting source flags, parsed (issue 15).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceFlags {
    pub choice: Option<SourceChoice>,
    pub definitions: Option<Vec<String>>,
    pub start_jobs: Option<bool>,
    pub batch_types: Option<Vec<String>>,
    pub batch_currencies: Option<Vec<String>>,
    pub batch_payment_methods: Option<Vec<String>>,
    pub delimiter: Option<Delimiter>,
    pub since: Option<String>,
}

/// Parses every given flag; the first bad one is refused.
pub fn parse_flags(flags: &SettingsFlags, policy: UrlPolicy) -> Result<Parsed, Refusal> {
    let mut p = Parsed::default();
    parse_erp_flags(flags, policy, &mut p)?;
    parse_flow_flags(flags, &mut p)?;
    p.source = parse_source_flags(flags)?;
    Ok(p)
}

/// `--source` and the settings of the files it reads.
fn parse_source_flags(flags: &SettingsFlags) -> Result<SourceFlags, Refusal> {
    let list = |flag: &str, raw: &str| -> Result<Vec<String>, Refusal> {
        raw.split(',').map(str::trim).filter(|v| !v.is_empty()).map(|v| text(flag, v, 200)).collect()
    };
    Ok(SourceFlags {
        choice: given(&flags.source, |raw| {
            SourceChoice::from_str(raw.trim()).map_err(|e| Refusal(format!("--source: {e}")))
        })?,
        definitions: given(&flags.definitions, |raw| list("--definitions", raw))?,
        start_jobs: given(&flags.start_jobs, |raw| boolean("--start-jobs", raw))?,
        batch_types: given(&flags.batch_types, |raw| list("--batch-types", raw))?,
        batch_currencies: given(&flags.batch_currencies, |raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|c| currency_code("--batch-currencies", c))
                .collect()
        })?,
        batch_payment_methods: given(&flags.batch_payment_methods, |raw| list("--batch-payment-methods", raw))?,
        delimiter: given(&flags.delimiter, |raw| {
            domain::posting_source::delimiter_name::parse(raw.trim())
                .ok_or_else(|| Refusal(format!("--delimiter: `{}` is not comma, pipe, tab or semicolon", shown(raw))))
        })?,
        since: given(&flags.files_since, |raw| {
            domain::clock::parse_rfc3339(raw.trim())
                .map(domain::clock::rfc3339)
                .ok_or_else(|| Refusal(format!("--files-since: `{}` is not an RFC 3339 time", shown(raw))))
        })?,
    })
}

/// Applies the posting source flags; choosing a file source starts taking files from now unless
/// `--files-since` says otherwise (the last hundred jobs Concur lists are not posted again).
fn apply_source(source: &mut PostingSource, flags: &SourceFlags, now: &str) {
    if let Some(choice) = flags.choice {
        if choice != source.choice && source.since.is_none() {
            source.since = Some(now.to_owned());
        }
        source.choice = choice;
    }
    let set = |target: &mut Vec<String>, value: &Option<Vec<String>>| {
        if let Some(value) = value {
            target.clone_from(value);
        }
    };
    set(&mut source.definitions, &flags.definitions);
    set(&mut source.batch_types, &flags.batch_types);
    set(&mut source.batch_currencies, &flags.batch_currencies);
    set(&mut source.batch_payment_methods, &flags.batch_payment_methods);
    if let Some(start) = flags.start_jobs {
        source.start_jobs = start;
    }
    if let Some(delimiter) = flags.delimiter {
        source.delimiter = delimiter;
    }
    if let Some(since) = &flags.since {
        source.since = Some(since.clone());
    }
}

/// The flag's value parsed by `parse`, when the flag was given.
fn given<T>(raw: &Option<String>, parse: impl FnOnce(&str) -> Result<T, Refusal>) -> Result<Option<T>, Refusal> {
    raw.as_deref().map(parse).transpose()
}

/// The company and the ERP's connection settings.
fn parse_erp_flags(flags: &SettingsFlags, policy: UrlPolicy, p: &mut Parsed) -> Result<(), Refusal> {
    p.company_uuid =
        given(&flags.company_uuid, |raw| CompanyUuid::parse(raw).map_err(|e| Refusal(format!("--company-uuid: {e}"))))?;
    p.erp_kind = given(&flags.erp, |raw| ErpKind::from_str(raw.trim()).map_err(|e| Refusal(format!("--erp: {e}"))))?;
    p.erp_url =
        given(&flags.erp_url, |raw| ErpUrl::parse_with(raw, policy).map_err(|e| Refusal(format!("--erp-url: {e}"))))?;
    p.tenant = given(&flags.tenant, |raw| {
        let tenant = text("--tenant", raw, 100)?;
        if tenant.contains('@') || tenant.contains('/') {
            return refuse("--tenant: give the tenant's login name (screen SM203520), without '@' or '/'");
        }
        Ok(tenant)
    })?;
    p.endpoint_name = given(&flags.endpoint_name, |raw| path_token("--endpoint-name", raw))?;
    p.endpoint_version = given(&flags.endpoint_version, |raw| path_token("--endpoint-version", raw))?;
    p.branch =
        given(&flags.branch, |raw| if raw.trim().is_empty() { Ok(None) } else { text("--branch", raw, 60).map(Some) })?;
    p.namespace = given(&flags.namespace, |raw| path_token("--namespace", raw))?;
    p.ifs_company = given(&flags.ifs_company, |raw| text("--ifs-company", raw, 60))?;
    p.ion_logical_id = given(&flags.ion_logical_id, |raw| {
        let lid = text("--ion-logical-id", raw, 200)?;
        if !lid.starts_with("lid://") {
            return refuse(format!(
                "--ion-logical-id: `{lid}` is not an ION logical id (they look like lid://infor.ims.concurconnector)"
            ));
        }
        Ok(lid)
    })?;
    p.ion_accounting_entity = given(&flags.ion_accounting_entity, |raw| text("--ion-accounting-entity", raw, 60))?;
    p.ion_functional_currency =
        given(&flags.ion_functional_currency, |raw| currency_code("--ion-functional-currency", raw))?;
    p.ion_functional_rates = given(&flags.ion_functional_rates, functional_rates)?;
    p.ion_debit_adjustment_form = given(&flags.ion_debit_adjustment_form, |raw| {
        DebitAdjustmentForm::from_str(raw.trim()).map_err(|e| Refusal(format!("--ion-debit-adjustment-form: {e}")))
    })?;
    p.ion_verdict_wait_seconds = given(&flags.ion_verdict_wait_seconds, |raw| {
        bounded_number("--ion-verdict-wait-seconds", raw, 60, 7 * 24 * 3600)
    })?;
    p.ion_verdict_resends = given(&flags.ion_verdict_resends, |raw| {
        bounded_number("--ion-verdict-resends", raw, 0, 20).map(|n| u32::try_from(n).unwrap_or(20))
    })?;
    p.ion_replaces_on_higher_variation =
        given(&flags.ion_replaces_on_higher_variation, |raw| boolean("--ion-replaces-on-higher-variation", raw))?;
    Ok(())
}

/// `true`/`yes` or `false`/`no`.
fn boolean(flag: &str, raw: &str) -> Result<bool, Refusal> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => refuse(format!("{flag} `{}` is invalid: give true or false", shown(raw))),
    }
}

/// A whole number from `min` to `max`.
fn bounded_number(flag: &str, raw: &str, min: u64, max: u64) -> Result<u64, Refusal> {
    match raw.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => refuse(format!("{flag} `{}` is invalid: give a whole number from {min} to {max}", shown(raw))),
    }
}

/// How documents flow: schedule, types, concurrency, confirmation, forms.
fn parse_flow_flags(flags: &SettingsFlags, p: &mut Parsed) -> Result<(), Refusal> {
    p.schedule = given(&flags.schedule, |raw| raw.parse().map_err(|e| Refusal(format!("--schedule: {e}"))))?;
    p.document_types = given(&flags.document_types, document_types)?;
    p.concurrency = given(&flags.concurrency, concurrency)?;
    p.borrow_from = given(&flags.borrow_concurrency_from, |raw| {
        ConnectionId::parse(raw.trim()).map_err(|e| Refusal(format!("--borrow-concurrency-from: {e}")))
    })?;
    p.confirm_postings = given(&flags.confirm_postings, |raw| boolean("--confirm-postings", raw))?;
    let form = |flag: &str, raw: &Option<String>| {
        given(raw, |r| PostingForm::from_str(r.trim()).map_err(|e| Refusal(format!("{flag}: {e}"))))
    };
    p.expense_as = form("--expense-as", &flags.expense_as)?;
    p.invoice_as = form("--invoice-as", &flags.invoice_as)?;
    p.cash_advance_as = form("--cash-advance-as", &flags.cash_advance_as)?;
    Ok(())
}

/// An ISO 4217 code the connector knows the precision of.
fn currency_code(flag: &str, raw: &str) -> Result<String, Refusal> {
    let code = raw.trim().to_ascii_uppercase();
    if domain::currency::minor_units(&code).is_none() {
        return refuse(format!("{flag}: `{}` is not an ISO 4217 currency code (e.g. USD)", shown(raw)));
    }
    Ok(code)
}

/// `GBP=1.27,CAD=0.73`: each code known, each rate a positive exact decimal.
fn functional_rates(raw: &str) -> Result<BTreeMap<String, Decimal>, Refusal> {
    let flag = "--ion-functional-rates";
    let mut rates = BTreeMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((code, rate)) = pair.split_once('=') else {
            return refuse(format!("{flag}: `{}` is not CURRENCY=RATE (e.g. GBP=1.27)", shown(pair)));
        };
        let code = currency_code(flag, code)?;
        let rate = Decimal::from_str_exact(rate.trim()).ok().filter(|r| *r > Decimal::ZERO).ok_or_else(|| {
            Refusal(format!("{flag}: the rate for {code} `{}` is not a positive number", shown(rate)))
        })?;
        if rates.insert(code.clone(), rate).is_some() {
            return refuse(format!("{flag}: {code} is given twice"));
        }
    }
    Ok(rates)
}

/// An operator's input as quoted back in a refusal: bounded, since it may
/// be a pasted file.
pub(crate) fn shown(raw: &str) -> &str {
    domain::text::truncate(raw, 60)
}

/// Non-empty text without control characters, at most `max` characters.
pub fn text(flag: &str, raw: &str, max: usize) -> Result<String, Refusal> {
    let value = raw.trim();
    if value.is_empty() {
        return refuse(format!("{flag} is empty"));
    }
    if value.chars().any(char::is_control) {
        return refuse(format!("{flag} contains control characters"));
    }
    if value.chars().count() > max {
        return refuse(format!("{flag} is longer than {max} characters"));
    }
    Ok(value.to_owned())
}

/// A value that goes into a URL path: letters, digits, `.`, `_`, `-`.
fn path_token(flag: &str, raw: &str) -> Result<String, Refusal> {
    let value = text(flag, raw, 60)?;
    if value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        Ok(value)
    } else {
        refuse(format!("{flag} `{}` may contain only letters, digits, '.', '_' and '-'", shown(&value)))
    }
}

fn document_types(raw: &str) -> Result<Vec<DocumentType>, Refusal> {
    let mut types = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let t = DocumentType::from_str(&part.to_ascii_lowercase())
            .map_err(|e| Refusal(format!("--document-types: {e}")))?;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if types.is_empty() {
        return refuse("--document-types: give at least one of expense, invoice, cashadvance");
    }
    types.sort();
    Ok(types)
}

fn concurrency(raw: &str) -> Result<ConcurrencyLevel, Refusal> {
    let bad = || {
        Refusal(format!("--concurrency: concurrency level `{}` is invalid: it must be between 1 and 25", shown(raw)))
    };
    let n: i64 = raw.trim().parse().map_err(|_| bad())?;
    let n = u8::try_from(n).map_err(|_| bad())?;
    ConcurrencyLevel::new(n).map_err(|e| Refusal(format!("--concurrency: {e}")))
}

/// Which ERP-specific flags were given (to refuse those of another kind).
fn given_erp_flags(p: &Parsed) -> Vec<(&'static str, ErpKind)> {
    let mut given = Vec::new();
    let acumatica = [
        ("--tenant", p.tenant.is_some()),
        ("--endpoint-name", p.endpoint_name.is_some()),
        ("--endpoint-version", p.endpoint_version.is_some()),
        ("--branch", p.branch.is_some()),
    ];
    let ifs = [("--namespace", p.namespace.is_some()), ("--ifs-company", p.ifs_company.is_some())];
    let infor = [
        ("--ion-logical-id", p.ion_logical_id.is_some()),
        ("--ion-accounting-entity", p.ion_accounting_entity.is_some()),
        ("--ion-functional-currency", p.ion_functional_currency.is_some()),
        ("--ion-functional-rates", p.ion_functional_rates.is_some()),
        ("--ion-debit-adjustment-form", p.ion_debit_adjustment_form.is_some()),
        ("--ion-verdict-wait-seconds", p.ion_verdict_wait_seconds.is_some()),
        ("--ion-verdict-resends", p.ion_verdict_resends.is_some()),
        ("--ion-replaces-on-higher-variation", p.ion_replaces_on_higher_variation.is_some()),
    ];
    given.extend(acumatica.into_iter().filter(|(_, on)| *on).map(|(f, _)| (f, ErpKind::Acumatica)));
    given.extend(ifs.into_iter().filter(|(_, on)| *on).map(|(f, _)| (f, ErpKind::IfsCloud)));
    given.extend(infor.into_iter().filter(|(_, on)| *on).map(|(f, _)| (f, ErpKind::Infor)));
    given
}

/// The ERP side after the flags: the current settings with the given values
/// on top when the kind stays, or new settings (every required value given)
/// when the kind is set or changes.
pub fn apply_erp(current: Option<&ErpSettings>, p: &Parsed) -> Result<Option<ErpSettings>, Refusal> {
    let kind = p.erp_kind.or(current.map(ErpSettings::kind));
    let flags = given_erp_flags(p);
    let Some(kind) = kind else {
        if p.erp_url.is_some() || !flags.is_empty() {
            return refuse("ERP settings were given without an ERP: add --erp acumatica|ifs_cloud|infor");
        }
        return Ok(None);
    };
    if let Some((flag, owner)) = flags.iter().find(|(_, owner)| *owner != kind) {
        return refuse(format!("{flag} applies to --erp {owner} only, and this connection's ERP is {kind}"));
    }
    let current = current.filter(|c| c.kind() == kind);
    let settings = match (kind, current) {
        (ErpKind::Acumatica, Some(ErpSettings::Acumatica(old))) => ErpSettings::Acumatica(acumatica(Some(old), p)?),
        (ErpKind::Acumatica, _) => ErpSettings::Acumatica(acumatica(None, p)?),
        (ErpKind::IfsCloud, Some(ErpSettings::IfsCloud(old))) => ErpSettings::IfsCloud(ifs_cloud(Some(old), p)?),
        (ErpKind::IfsCloud, _) => ErpSettings::IfsCloud(ifs_cloud(None, p)?),
        (ErpKind::Infor, Some(ErpSettings::Infor(old))) => ErpSettings::Infor(infor(old.clone(), p)?),
        (ErpKind::Infor, _) => ErpSettings::Infor(infor(InforSettings::default(), p)?),
    };
    Ok(Some(settings))
}

/// A required ERP value that neither a flag nor the stored settings give.
fn need(kind: ErpKind, what: &str) -> Refusal {
    Refusal(format!("{kind} needs {what}"))
}

/// Acumatica's settings: the flags over the stored ones (`old`).
fn acumatica(old: Option<&AcumaticaSettings>, p: &Parsed) -> Result<AcumaticaSettings, Refusal> {
    let need = |what| need(ErpKind::Acumatica, what);
    Ok(AcumaticaSettings {
        base_url: p.erp_url.clone().or(old.map(|a| a.base_url.clone())).ok_or_else(|| need("--erp-url"))?,
        tenant: p.tenant.clone().or(old.map(|a| a.tenant.clone())).ok_or_else(|| need("--tenant"))?,
        endpoint_name: p
            .endpoint_name
            .clone()
            .or(old.map(|a| a.endpoint_name.clone()))
            .unwrap_or_else(domain::connection::default_acumatica_endpoint),
        endpoint_version: p
            .endpoint_version
            .clone()
            .or(old.map(|a| a.endpoint_version.clone()))
            .unwrap_or_else(domain::connection::default_acumatica_version),
        branch: match &p.branch {
            Some(b) => b.clone(),
            None => old.and_then(|a| a.branch.clone()),
        },
    })
}

/// IFS Cloud's settings: the flags over the stored ones (`old`).
fn ifs_cloud(old: Option<&IfsCloudSettings>, p: &Parsed) -> Result<IfsCloudSettings, Refusal> {
    let need = |what| need(ErpKind::IfsCloud, what);
    Ok(IfsCloudSettings {
        base_url: p.erp_url.clone().or(old.map(|i| i.base_url.clone())).ok_or_else(|| need("--erp-url"))?,
        namespace: p.namespace.clone().or(old.map(|i| i.namespace.clone())).ok_or_else(|| need("--namespace"))?,
        company: p.ifs_company.clone().or(old.map(|i| i.company.clone())).ok_or_else(|| need("--ifs-company"))?,
        // Name overrides are kept across updates (set in the stored settings).
        api: old.map(|i| i.api.clone()).unwrap_or_default(),
    })
}

/// Infor's settings: the given flags over `infor` (the stored ones, or the defaults).
fn infor(mut infor: InforSettings, p: &Parsed) -> Result<InforSettings, Refusal> {
    if p.erp_url.is_some() {
        return refuse(
            "--erp-url does not apply to infor: the ION API URLs come from the .ionapi file given with \
             --erp-credentials-file",
        );
    }
    if let Some(lid) = &p.ion_logical_id {
        infor.logical_id = Some(lid.clone());
    }
    if let Some(entity) = &p.ion_accounting_entity {
        infor.accounting_entity = Some(entity.clone());
    }
    if let Some(currency) = &p.ion_functional_currency {
        infor.functional_currency = Some(currency.clone());
    }
    if let Some(rates) = &p.ion_functional_rates {
        infor.functional_rates = rates.clone();
    }
    if let Some(form) = p.ion_debit_adjustment_form {
        infor.debit_adjustment_form = form;
    }
    if let Some(seconds) = p.ion_verdict_wait_seconds {
        infor.api.verdict_wait_seconds = seconds;
    }
    if let Some(resends) = p.ion_verdict_resends {
        infor.api.verdict_resends = resends;
    }
    if let Some(replaces) = p.ion_replaces_on_higher_variation {
        infor.api.replaces_on_higher_variation = replaces;
    }
    Ok(infor)
}

/// Applies the parsed flags (except name, status and borrowing, which the
/// commands handle) to `connection`.
pub fn apply(connection: &mut Connection, p: &Parsed) -> Result<(), Refusal> {
    connection.erp = apply_erp(connection.erp.as_ref(), p)?;
    if let Some(c) = &p.company_uuid {
        connection.company_uuid = Some(c.clone());
    }
    if let Some(s) = p.schedule {
        connection.schedule = s;
    }
    if let Some(t) = &p.document_types {
        connection.enabled_document_types = t.clone();
    }
    if let Some(level) = p.concurrency {
        connection.concurrency_level = level;
    }
    if let Some(lender) = &p.borrow_from {
        connection.borrow_concurrency_from = Some(lender.clone());
    }
    if let Some(confirm) = p.confirm_postings {
        connection.flow.confirm_postings = confirm;
    }
    if let Some(f) = p.expense_as {
        connection.flow.expense_report_as = f;
    }
    if let Some(f) = p.invoice_as {
        connection.flow.invoice_as = f;
    }
    if let Some(f) = p.cash_advance_as {
        connection.flow.cash_advance_as = f;
    }
    let now = domain::clock::rfc3339(time::OffsetDateTime::now_utc());
    apply_source(&mut connection.posting_source, &p.source, &now);
    Ok(())
}

/// Borrowing rules, checked on the connection as it would be stored against
/// every other stored connection: the lender exists, is not itself, does not
/// borrow in turn; and nobody borrows from a connection that borrows (no
/// chains, so the slot owner is always one hop away).
pub fn check_borrowing(connection: &Connection, all: &[Connection]) -> Result<(), Refusal> {
    let id = &connection.connection_id;
    let others: Vec<&Connection> = all.iter().filter(|c| &c.connection_id != id).collect();
    let Some(lender) = &connection.borrow_concurrency_from else {
        return Ok(());
    };
    if lender == id {
        return refuse(format!("connection {id} cannot borrow concurrency from itself"));
    }
    let Some(found) = others.iter().find(|c| &c.connection_id == lender) else {
        return refuse(format!(
            "--borrow-concurrency-from: connection {lender} does not exist (see `connector connections list`)"
        ));
    };
    if let Some(further) = &found.borrow_concurrency_from {
        return refuse(format!(
            "connection {lender} itself borrows concurrency from {further}; borrow from {further} directly (no chains)"
        ));
    }
    let borrowers: Vec<&str> = others
        .iter()
        .filter(|c| c.borrow_concurrency_from.as_ref() == Some(id))
        .map(|c| c.connection_id.as_str())
        .collect();
    if !borrowers.is_empty() {
        return refuse(format!(
            "connection {id} lends its concurrency to {}; a lender cannot borrow in turn (no chains): run \
             `connector connections update <id> --no-borrow` for those first, or let them borrow from {lender}",
            borrowers.join(", ")
        ));
    }
    Ok(())
}

/// One company, one connection: webhooks name only the company.
pub fn check_company_unique(connection: &Connection, all: &[Connection]) -> Result<(), Refusal> {
    let Some(company) = &connection.company_uuid else { return Ok(()) };
    match all.iter().find(|c| c.connection_id != connection.connection_id && c.company_uuid.as_ref() == Some(company)) {
        Some(other) => refuse(format!("company {company} already belongs to connection {}", other.connection_id)),
        None => Ok(()),
    }
}

/// A credentials file's JSON, checked for the ERP it is for; returns the
/// document to store and its keys. Never quotes a value.
pub fn parse_credentials(erp: &ErpSettings, file: &str, bytes: &[u8]) -> Result<(Value, Vec<String>), Refusal> {
    if bytes.len() > MAX_CREDENTIALS_BYTES {
        return refuse(format!("credentials file {file} is larger than 64 KiB; give the JSON credentials only"));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Refusal(format!("credentials file {file} is not JSON (line {}, column {})", e.line(), e.column()))
    })?;
    let keys = erp::credentials::check_credentials(erp.kind(), &value)
        .map_err(|e| Refusal(format!("credentials file {file}: {e}")))?;
    if let ErpSettings::Acumatica(a) = erp {
        let client_id = value.get("client_id").and_then(Value::as_str).unwrap_or_default().trim();
        if let Some((_, suffix)) = client_id.split_once('@')
            && suffix != a.tenant
        {
            return refuse(format!(
                "credentials file {file}: client_id names tenant `{}` but the connection's tenant is `{}`; the \
                     tenant in the client id decides which tenant's data the connector reaches",
                shown(suffix),
                a.tenant
            ));
        }
    }
    Ok((value, keys))
}

/// URLs inside a credentials document that receive the credentials (Infor's
/// `.ionapi` names its own token and API hosts); checked like `--erp-url`.
pub fn credential_urls(kind: ErpKind, value: &Value, policy: UrlPolicy, file: &str) -> Result<Vec<ErpUrl>, Refusal> {
    if kind != ErpKind::Infor {
        return Ok(Vec::new());
    }
    ["iu", "pu"]
        .iter()
        .filter_map(|key| value.get(*key).and_then(Value::as_str).map(|raw| (*key, raw)))
        .map(|(key, raw)| {
            ErpUrl::parse_with(raw, policy).map_err(|e| Refusal(format!("credentials file {file}: `{key}`: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flags() -> SettingsFlags {
        SettingsFlags::default()
    }

    fn acumatica_flags() -> SettingsFlags {
        SettingsFlags {
            erp: Some("acumatica".into()),
            erp_url: Some("https://acme.acumatica.com".into()),
            tenant: Some("Acme".into()),
            ..flags()
        }
    }

    fn connection(id: &str, borrow: Option<&str>) -> Connection {
        let mut c = Connection::new(ConnectionId::parse(id).unwrap(), id, None, "2026-11-23T00:00:00Z");
        c.borrow_concurrency_from = borrow.map(|b| ConnectionId::parse(b).unwrap());
        c
    }

    fn refusal(f: SettingsFlags) -> String {
        parse_flags(&f, UrlPolicy::PublicHttpsOnly).unwrap_err().0
    }

    #[test]
    fn the_posting_source_flags_are_checked_and_applied() {
        let given = SettingsFlags {
            source: Some("payment_batch".into()),
            batch_currencies: Some("usd, EUR".into()),
            batch_types: Some("Employee".into()),
            delimiter: Some("pipe".into()),
            ..flags()
        };
        let parsed = parse_flags(&given, UrlPolicy::PublicHttpsOnly).unwrap();
        let mut connection = Connection::new(ConnectionId::parse("a").unwrap(), "A", None, "2026-12-01T00:00:00Z");
        apply(&mut connection, &parsed).unwrap();
        let source = &connection.posting_source;
        assert_eq!(source.choice, SourceChoice::PaymentBatch);
        assert_eq!(source.batch_currencies, ["USD", "EUR"]);
        assert_eq!(source.delimiter, Delimiter::Pipe);
        assert!(source.since.is_some(), "choosing a file source takes files from now on");
        let refused = |f: SettingsFlags| parse_flags(&f, UrlPolicy::PublicHttpsOnly).unwrap_err().0;
        assert!(refused(SettingsFlags { source: Some("ftp".into()), ..flags() }).contains("--source"));
        assert!(refused(SettingsFlags { batch_currencies: Some("XXQ".into()), ..flags() }).contains("ISO 4217"));
        assert!(refused(SettingsFlags { delimiter: Some("#".into()), ..flags() }).contains("--delimiter"));
        assert!(refused(SettingsFlags { files_since: Some("yesterday".into()), ..flags() }).contains("RFC 3339"));
    }

    #[test]
    fn concurrency_outside_1_to_25_is_refused() {
        for bad in ["0", "26", "-1", "300", "x", ""] {
            let e = refusal(SettingsFlags { concurrency: Some(bad.into()), ..flags() });
            assert!(e.contains("--concurrency") && e.contains("between 1 and 25"), "{bad}: {e}");
        }
        let p = parse_flags(&SettingsFlags { concurrency: Some("25".into()), ..flags() }, UrlPolicy::PublicHttpsOnly);
        assert_eq!(p.unwrap().concurrency.unwrap().get(), 25);
    }

    #[test]
    fn infor_functional_currency_rates_and_credit_form_are_checked() {
        let p = parse_flags(
            &SettingsFlags {
                ion_functional_currency: Some("usd".into()),
                ion_functional_rates: Some("GBP=1.27, CAD=0.73".into()),
                ion_debit_adjustment_form: Some("credit-note".into()),
                ..flags()
            },
            UrlPolicy::PublicHttpsOnly,
        )
        .unwrap();
        assert_eq!(p.ion_functional_currency.as_deref(), Some("USD"));
        let rates = p.ion_functional_rates.unwrap();
        assert_eq!(rates["GBP"].to_string(), "1.27");
        assert_eq!(p.ion_debit_adjustment_form, Some(DebitAdjustmentForm::CreditNote));
        for (bad, says) in [
            (SettingsFlags { ion_functional_currency: Some("XYZ".into()), ..flags() }, "ISO 4217"),
            (SettingsFlags { ion_functional_rates: Some("GBP=0".into()), ..flags() }, "positive"),
            (SettingsFlags { ion_functional_rates: Some("GBP=-1".into()), ..flags() }, "positive"),
            (SettingsFlags { ion_functional_rates: Some("GBP=1e3".into()), ..flags() }, "positive"),
            (SettingsFlags { ion_functional_rates: Some("GBP".into()), ..flags() }, "CURRENCY=RATE"),
            (SettingsFlags { ion_functional_rates: Some("GBP=1,GBP=2".into()), ..flags() }, "twice"),
            (SettingsFlags { ion_debit_adjustment_form: Some("refund".into()), ..flags() }, "credit_note"),
        ] {
            let e = refusal(bad);
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn infor_verdict_settings_are_checked_and_applied() {
        let p = parse_flags(
            &SettingsFlags {
                ion_verdict_wait_seconds: Some("1800".into()),
                ion_verdict_resends: Some("5".into()),
                ion_replaces_on_higher_variation: Some("yes".into()),
                ..flags()
            },
            UrlPolicy::PublicHttpsOnly,
        )
        .unwrap();
        let infor = infor(InforSettings::default(), &p).unwrap();
        assert_eq!(
            (infor.api.verdict_wait_seconds, infor.api.verdict_resends, infor.api.replaces_on_higher_variation),
            (1800, 5, true)
        );
        for (bad, says) in [
            (SettingsFlags { ion_verdict_wait_seconds: Some("5".into()), ..flags() }, "from 60 to 604800"),
            (SettingsFlags { ion_verdict_resends: Some("-1".into()), ..flags() }, "from 0 to 20"),
            (SettingsFlags { ion_replaces_on_higher_variation: Some("maybe".into()), ..flags() }, "true or false"),
        ] {
            let e = refusal(bad);
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn erp_urls_must_be_public_https() {
        for bad in ["http://acme.acumatica.com", "https://10.0.0.5", "https://169.254.169.254", "https://localhost"] {
            let e = refusal(SettingsFlags { erp_url: Some(bad.into()), ..flags() });
            assert!(e.starts_with("--erp-url:"), "{bad}: {e}");
        }
        let local = SettingsFlags { erp_url: Some("http://127.0.0.1:8080".into()), ..flags() };
        assert!(parse_flags(&local, UrlPolicy::AllowLoopbackHttp).is_ok());
        assert!(parse_flags(&local, UrlPolicy::PublicHttpsOnly).is_err());
        let private = SettingsFlags { erp_url: Some("http://10.0.0.5".into()), ..flags() };
        assert!(parse_flags(&private, UrlPolicy::AllowLoopbackHttp).is_err());
    }

    #[test]
    fn document_types_schedule_and_forms_are_checked() {
        let e = refusal(SettingsFlags { document_types: Some("expense,payroll".into()), ..flags() });
        assert!(e.contains("payroll"), "{e}");
        assert!(refusal(SettingsFlags { document_types: Some(" , ".into()), ..flags() }).contains("at least one"));
        let p = parse_flags(
            &SettingsFlags { document_types: Some("invoice, expense,invoice".into()), ..flags() },
            UrlPolicy::PublicHttpsOnly,
        )
        .unwrap();
        assert_eq!(p.document_types.unwrap(), vec![DocumentType::Expense, DocumentType::Invoice]);
        assert!(refusal(SettingsFlags { schedule: Some("hourly".into()), ..flags() }).starts_with("--schedule"));
        assert!(refusal(SettingsFlags { expense_as: Some("voucher".into()), ..flags() }).starts_with("--expense-as"));
        assert!(refusal(SettingsFlags { confirm_postings: Some("maybe".into()), ..flags() }).contains("true or false"));
        assert!(refusal(SettingsFlags { erp: Some("sap".into()), ..flags() }).starts_with("--erp"));
        assert!(
            refusal(SettingsFlags { endpoint_version: Some("24/../x".into()), ..flags() }).contains("only letters")
        );
        assert!(refusal(SettingsFlags { tenant: Some("a@b".into()), ..flags() }).contains("login name"));
    }

    #[test]
    fn erp_settings_must_be_complete_for_their_kind() {
        let p = parse_flags(&SettingsFlags { tenant: None, ..acumatica_flags() }, UrlPolicy::PublicHttpsOnly).unwrap();
        assert_eq!(apply_erp(None, &p).unwrap_err().0, "acumatica needs --tenant");

        let ifs = SettingsFlags {
            erp: Some("ifs_cloud".into()),
            erp_url: Some("https://ifs.example.com".into()),
            namespace: Some("prod".into()),
            ..flags()
        };
        let p = parse_flags(&ifs, UrlPolicy::PublicHttpsOnly).unwrap();
        assert_eq!(apply_erp(None, &p).unwrap_err().0, "ifs_cloud needs --ifs-company");

        let p = parse_flags(&SettingsFlags { tenant: Some("Acme".into()), ..flags() }, UrlPolicy::PublicHttpsOnly);
        assert!(apply_erp(None, &p.unwrap()).unwrap_err().0.contains("add --erp"));

        let mixed = SettingsFlags { namespace: Some("prod".into()), ..acumatica_flags() };
        let p = parse_flags(&mixed, UrlPolicy::PublicHttpsOnly).unwrap();
        assert!(apply_erp(None, &p).unwrap_err().0.contains("--namespace applies to --erp ifs_cloud only"));
    }

    #[test]
    fn erp_updates_keep_what_is_not_given() {
        let p = parse_flags(
            &SettingsFlags {
                branch: Some("HQ".into()),
                endpoint_version: Some("23.200.001".into()),
                ..acumatica_flags()
            },
            UrlPolicy::PublicHttpsOnly,
        )
        .unwrap();
        let first = apply_erp(None, &p).unwrap().unwrap();
        let p = parse_flags(&SettingsFlags { tenant: Some("Acme2".into()), ..flags() }, UrlPolicy::PublicHttpsOnly);
        let ErpSettings::Acumatica(a) = apply_erp(Some(&first), &p.unwrap()).unwrap().unwrap() else { panic!() };
        assert_eq!(
            (a.base_url.as_str(), a.tenant.as_str(), a.endpoint_version.as_str(), a.branch.as_deref()),
            ("https://acme.acumatica.com", "Acme2", "23.200.001", Some("HQ"))
        );
        let p = parse_flags(&SettingsFlags { branch: Some(String::new()), ..flags() }, UrlPolicy::PublicHttpsOnly);
        let ErpSettings::Acumatica(a) = apply_erp(Some(&first), &p.unwrap()).unwrap().unwrap() else { panic!() };
        assert_eq!(a.branch, None);
    }

    #[test]
    fn borrowing_has_no_chains() {
        let all = vec![connection("a", None), connection("b", Some("a")), connection("c", None)];
        assert!(check_borrowing(&connection("c", Some("a")), &all).is_ok());
        let e = check_borrowing(&connection("c", Some("c")), &all).unwrap_err().0;
        assert!(e.contains("from itself"), "{e}");
        let e = check_borrowing(&connection("c", Some("zz")), &all).unwrap_err().0;
        assert!(e.contains("zz does not exist"), "{e}");
        let e = check_borrowing(&connection("c", Some("b")), &all).unwrap_err().0;
        assert!(e.contains("b itself borrows concurrency from a"), "{e}");
        // a lends to b: a may not start borrowing.
        let e = check_borrowing(&connection("a", Some("c")), &all).unwrap_err().0;
        assert!(e.contains("lends its concurrency to b"), "{e}");
        assert!(check_borrowing(&connection("a", None), &all).is_ok());
    }

    #[test]
    fn a_company_belongs_to_one_connection() {
        let uuid = CompanyUuid::parse("8568a4cd-8ffc-49d6-9417-be2d69aa075f").unwrap();
        let mut a = connection("a", None);
        a.company_uuid = Some(uuid.clone());
        let mut b = connection("b", None);
        b.company_uuid = Some(uuid);
        assert!(check_company_unique(&b, &[a.clone()]).unwrap_err().0.contains("already belongs to connection a"));
        assert!(check_company_unique(&a, &[a.clone()]).is_ok());
    }

    #[test]
    fn credentials_files_are_checked_without_quoting_values() {
        let p = parse_flags(&acumatica_flags(), UrlPolicy::PublicHttpsOnly).unwrap();
        let erp = apply_erp(None, &p).unwrap().unwrap();
        let good = br#"{"client_id":"G","client_secret":"S3cr3t","username":"u","password":"hunter2"}"#;
        let (_, keys) = parse_credentials(&erp, "c.json", good).unwrap();
        assert_eq!(keys, ["client_id", "client_secret", "password", "username"]);

        let missing = br#"{"client_id":"G","client_secret":"S3cr3t","username":"u"}"#;
        assert!(parse_credentials(&erp, "c.json", missing).unwrap_err().0.contains("lack `password`"));
        let unknown = br#"{"client_id":"G","client_secret":"S3cr3t","username":"u","password":"hunter2","pwd":"x"}"#;
        assert!(parse_credentials(&erp, "c.json", unknown).unwrap_err().0.contains("unknown keys `pwd`"));
        let broken = br#"{"client_id":"G","client_secret":"hunter2""#;
        let e = parse_credentials(&erp, "c.json", broken).unwrap_err().0;
        assert!(e.contains("not JSON") && !e.contains("hunter2"), "{e}");
        let other_tenant = br#"{"client_id":"G@Globex","client_secret":"S","username":"u","password":"p"}"#;
        assert!(parse_credentials(&erp, "c.json", other_tenant).unwrap_err().0.contains("tenant `Globex`"));
    }

    #[test]
    fn ionapi_urls_are_checked_like_erp_urls() {
        let ionapi = json!({"iu": "https://mingle-ionapi.inforcloudsuite.com", "pu": "https://10.1.1.1/ACME/as/"});
        let e = credential_urls(ErpKind::Infor, &ionapi, UrlPolicy::PublicHttpsOnly, "f").unwrap_err().0;
        assert!(e.contains("`pu`") && e.contains("private"), "{e}");
        assert!(credential_urls(ErpKind::Acumatica, &ionapi, UrlPolicy::PublicHttpsOnly, "f").unwrap().is_empty());
    }
}
