//! What the poller tells CloudWatch (docs/metrics.md): with each poll of a
//! connection, the days left on its Concur refresh token and its OpenPGP
//! keys, and whether the poll failed; on every tick, how many documents are
//! not final past the stuck threshold.

use domain::Connection;
use domain::clock::parse_rfc3339;
use platform::telemetry::{Metric, Unit, emit};
use time::OffsetDateTime;

use crate::PollOutcome;

const PER_CONNECTION_AND_FLEET: &[&[&str]] = &[&["ConnectionId"], &[]];

/// The gauges and the failure count of one poll of `connection`.
pub(crate) fn poll(connection: &Connection, outcome: &PollOutcome, now: OffsetDateTime) {
    let dimensions = [("ConnectionId", connection.connection_id.as_str())];
    let gauge = |name, value| {
        emit(&Metric { name, unit: Unit::None, value, dimensions: &dimensions, sets: PER_CONNECTION_AND_FLEET })
    };
    if let Some(at) = connection.concur_refresh_expires_at.as_deref().and_then(parse_rfc3339) {
        gauge("ConcurTokenDaysLeft", days_between(now, at));
    }
    // After the key that expires last, no file can be decrypted.
    let last_key_expiry =
        connection.pgp_keys.values().filter_map(|k| k.expires_at.as_deref().and_then(parse_rfc3339)).max();
    let never_expiring = connection.pgp_keys.values().any(|k| k.expires_at.is_none());
    if let (Some(at), false) = (last_key_expiry, never_expiring) {
        gauge("PgpKeyDaysLeft", days_between(now, at));
    }
    if matches!(outcome, PollOutcome::Failed { .. }) {
        emit(&Metric {
            name: "PollFailures",
            unit: Unit::Count,
            value: 1.0,
            dimensions: &dimensions,
            sets: PER_CONNECTION_AND_FLEET,
        });
    }
}

/// Documents not final past the stuck threshold, fleet-wide (every tick, 0 too).
pub(crate) fn not_final(count: u64) {
    emit(&Metric { name: "DocumentsNotFinal", unit: Unit::Count, value: count as f64, dimensions: &[], sets: &[&[]] });
}

fn days_between(now: OffsetDateTime, at: OffsetDateTime) -> f64 {
    (at - now).as_seconds_f64() / 86_400.0
}
