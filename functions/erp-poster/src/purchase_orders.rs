//! Concur purchase orders into an ERP that keeps them (IFS Cloud): the
//! one way a PO comes over, whether an invoice that references it brings
//! it or the operator pulls it (`connector sync po ID --number N`).
//!
//! Concur announces no new purchase order (no event, no list call): Purchase
//! Order v3 reads one by number. So a PO comes over when something names
//! it. Looked up in the ERP first, read from Concur only when missing, and
//! created by the ERP's exactly-once create (lookup by the Concur number):
//! once however often it is asked for.

use domain::{Connection, Failure};
use erp::ErpAdapter;

use crate::Poster;

/// What bringing one purchase order came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Brought {
    /// The ERP keeps no Concur purchase orders (only IFS Cloud does).
    NotKept,
    /// The ERP holds it already.
    Held,
    /// Created in the ERP: its reference and how many lines it has.
    Created { reference: String, lines: usize },
    /// Concur has no purchase order with this number.
    NotInConcur,
}

impl<S: concur::GrantStore> Poster<S> {
    /// Concur purchase order `number` into the connection's ERP, unless the
    /// ERP holds it or keeps none.
    pub async fn bring_purchase_order(
        &self,
        connection: &Connection,
        erp: &dyn ErpAdapter,
        number: &str,
    ) -> Result<Brought, Failure> {
        match erp.holds_purchase_order(number).await? {
            None => return Ok(Brought::NotKept),
            Some(true) => return Ok(Brought::Held),
            Some(false) => {}
        }
        let client = self.tokens.client();
        let read = self
            .tokens
            .with_token(&connection.connection_id, |token| async move { client.purchase_order(&token, number).await })
            .await
            .map_err(|e| e.to_failure(&format!("reading purchase order `{number}` from Concur")))?;
        let Some(order) = read else { return Ok(Brought::NotInConcur) };
        let created = erp.create_purchase_order(&order).await?;
        Ok(Brought::Created { reference: created.reference, lines: order.lines.len() })
    }

    /// The operator's pull of named purchase orders (`connector sync po`):
    /// each brought over and audited under the connection
    /// (`<id>#purchase_order#<number>`); a number Concur lacks is audited as
    /// failed, and the others go on. An error (an outage) retries the
    /// message, which brings only what is still missing.
    pub async fn pull_purchase_orders(&self, connection: &Connection, numbers: &[String]) -> Result<(), Failure> {
        let erp = self.erp.for_connection(connection).await?;
        let id = connection.connection_id.as_str();
        for number in numbers {
            let (outcome, detail) = match self.bring_purchase_order(connection, &*erp, number).await? {
                Brought::NotKept => {
                    ("skipped", "this ERP keeps no Concur purchase orders (only IFS Cloud takes them)".to_owned())
                }
                Brought::Held => ("ok", "the ERP holds it already".to_owned()),
                Brought::Created { reference, lines } => {
                    ("ok", format!("created in the ERP as {reference} ({lines} lines)"))
                }
                Brought::NotInConcur => ("failed", "Concur's Purchase Order API has no such number".to_owned()),
            };
            let mut event = self.audit.event(id, &format!("purchase_order#{number}"), "purchase order pull", outcome);
            event.detail = Some(detail);
            if let Err(e) = self.audit.record(&event).await {
                tracing::warn!(connection = id, error = %e, "audit event not recorded");
            }
        }
        Ok(())
    }
}
