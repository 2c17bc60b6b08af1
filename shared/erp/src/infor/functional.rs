//! Journal lines in the accounting entity's functional currency
//! (`FunctionalAmount`, reference §5.3): Infor's ledger books both.
//!
//! Each line is converted at the connection's rate for the document currency
//! (1 when it is the functional currency) and rounded to the functional
//! currency's minor units by the connector's one rounding rule
//! ([`domain::currency::ROUNDING`]). The converted lines of a balanced
//! journal may miss a few minor units; that difference is put on the line
//! with the largest amount (the first of equals), where it is smallest
//! relative to the line, so every journal — and every chunk of it, see
//! [`super::chunk`] — balances in both currencies. The difference is at most
//! half a minor unit per line.

use domain::currency::{minor_units, round_to};
use domain::{ErpDocument, ErpDocumentKind};
use rust_decimal::Decimal;

use super::InforError;
use super::bod::BodSettings;
use crate::DocumentProblem;

/// The functional amount of each line of `document` (signed like the line),
/// empty for anything but a journal.
pub fn functional_amounts(document: &ErpDocument, settings: &BodSettings) -> Result<Vec<Decimal>, InforError> {
    if !matches!(document.kind, ErpDocumentKind::Journal) {
        return Ok(Vec::new());
    }
    let functional = settings.functional_currency.as_deref().ok_or_else(|| InforError::Setting {
        setting: "functional_currency",
        problem: "is not set: a journal line must carry its amount in the accounting entity's functional \
                  currency (e.g. USD)"
            .into(),
    })?;
    let rate = if document.currency == functional {
        Decimal::ONE
    } else {
        *settings.functional_rates.get(&document.currency).ok_or_else(|| InforError::Setting {
            setting: "functional_rates",
            problem: format!(
                "has no rate from {} (the document's currency) to {functional}: the journal for Concur key `{}` \
                 cannot be booked in the functional currency; add the rate (units of {functional} per {})",
                document.currency, document.key, document.currency
            ),
        })?
    };
    let exponent = minor_units(functional).ok_or_else(|| InforError::Setting {
        setting: "functional_currency",
        problem: format!("`{functional}` is not an ISO 4217 currency"),
    })?;
    let overflow = || InforError::Invalid {
        document: format!("the journal for Concur key `{}`", document.key),
        problem: Box::new(DocumentProblem::FunctionalOverflow),
    };
    let mut amounts = document
        .lines
        .iter()
        .map(|l| l.amount.checked_mul(rate).and_then(|a| round_to(a, exponent)).ok_or_else(overflow))
        .collect::<Result<Vec<_>, _>>()?;
    let sum = amounts.iter().try_fold(Decimal::ZERO, |s, a| s.checked_add(*a)).ok_or_else(overflow)?;
    if !sum.is_zero()
        && let Some(largest) = (0..amounts.len()).max_by_key(|&i| (document.lines[i].amount.abs(), usize::MAX - i))
    {
        amounts[largest] = amounts[largest].checked_sub(sum).ok_or_else(overflow)?;
    }
    // A rate below one minor unit per line could leave a line with nothing
    // or the other side; DebitCreditFlag cannot say that.
    if let Some(i) = (0..amounts.len())
        .find(|&i| amounts[i].is_sign_negative() != document.lines[i].amount.is_sign_negative() || amounts[i].is_zero())
    {
        return Err(InforError::Invalid {
            document: format!("the journal for Concur key `{}`", document.key),
            problem: Box::new(DocumentProblem::FunctionalSide {
                line: i + 1,
                amount: document.lines[i].amount,
                currency: document.currency.clone(),
                functional_amount: amounts[i],
                functional: functional.to_owned(),
                rate,
            }),
        });
    }
    Ok(amounts)
}
