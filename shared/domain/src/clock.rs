//! Times as the connector writes them: RFC 3339 in UTC. One place, so every
//! stored, queued and printed time reads the same way. (The ledger's
//! `updated_at` keeps its own fixed-width form: it is an index sort key.)

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// `at` in UTC, RFC 3339, with its fraction of a second when it has one.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    // Formatting fails only outside years 0–9999, which no clock here reads.
    utc.format(&Rfc3339).unwrap_or_else(|_| utc.unix_timestamp().to_string())
}

/// `at` in UTC, RFC 3339, in whole seconds (`2024-03-15T14:02:11Z`).
pub fn rfc3339_seconds(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    rfc3339(utc.replace_nanosecond(0).unwrap_or(utc))
}

/// Now, as [`rfc3339`].
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// Epoch seconds as [`rfc3339`]; `None` out of range.
pub fn epoch_rfc3339(epoch_seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(epoch_seconds).ok().map(rfc3339)
}

/// An RFC 3339 time as written by [`rfc3339`] (or by anyone else).
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_written_in_utc_and_read_back() {
        let at = datetime!(2024-03-15 15:02:11.25 +01:00);
        assert_eq!(rfc3339(at), "2024-03-15T14:02:11.25Z");
        assert_eq!(rfc3339_seconds(at), "2024-03-15T14:02:11Z");
        assert_eq!(parse_rfc3339(&rfc3339(at)), Some(at));
        assert_eq!(epoch_rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(parse_rfc3339("15 March"), None);
    }
}
