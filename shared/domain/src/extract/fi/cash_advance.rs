//! SAE cash advance issuance rows (col 185 = 1) → the FI cash advance document (`docs/extract-files.md`).

use serde_json::Value;

use super::{Built, CASH_ADVANCE_KEY_PREFIX, Cells, Object, Sources, sae_employee};
use crate::extract::row::Row;

pub(super) fn document(rows: &[Row<'_>], sources: &mut Sources) -> Built {
    let head = Cells(&rows[0]);
    head.key(187)?;
    let business_id = head.business_id(187, CASH_ADVANCE_KEY_PREFIX)?;
    let data = Object::default()
        .text("cashAdvanceId", Some(business_id.as_str()))
        .text("name", head.text(259))
        .amount("requestAmount", head.amount(177)?)
        .text("currencyAlphaCode", head.text(178))
        .amount("exchangeRate", head.amount(180)?)
        .text("employeeCurrencyAlphaCode", head.text(181))
        .build();
    let mut journals = Vec::with_capacity(rows.len());
    for (j, row) in rows.iter().enumerate() {
        let cells = Cells(row);
        sources.push((format!("document.journalData[{j}]"), row.number()));
        journals.push(
            Object::default()
                .amount("amount", Some(row.journal_amount()))
                .text("debitOrCredit", cells.text(168))
                .text("accountCode", cells.text(167))
                .text("payer", cells.text(164))
                .text("payee", cells.text(166))
                .text("paymentCode", cells.text(184))
                .build(),
        );
    }
    let document = Object::default()
        .value("cashAdvanceData", data)
        .value("employeeData", sae_employee(head))
        .value("journalData", Value::Array(journals))
        .build();
    Ok((business_id, document))
}
