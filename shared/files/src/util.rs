//! Small helpers shared by the modules: error causes that cannot leak secrets,
//! hex formatting, time conversion and a panic guard around third-party parsers.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use time::OffsetDateTime;

/// The cause of a failure, as text that is safe to log.
///
/// The OpenPGP library's messages sometimes carry `Debug` renderings of packets
/// or byte buffers (its armor reader prints the unparsed input, which for a
/// secret key is the key itself). A `Cause` keeps the library's words but cuts
/// anything that looks like data: the text from the first `[` or `{` on (byte
/// arrays and structures), long unbroken tokens (hex or base64) and anything
/// past [`Cause::MAX_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause(String);

impl Cause {
    /// Longest cause text kept: enough for a library message, too short for a
    /// meaningful piece of key material even if one slipped through.
    pub const MAX_LEN: usize = 120;
    /// Tokens this long are data (hex, base64), never words.
    const MAX_TOKEN: usize = 24;

    /// A cause from any error's display text, redacted.
    pub fn new(text: impl fmt::Display) -> Self {
        Cause(redact(&text.to_string()))
    }

    /// The redacted text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cause {}

/// See [`Cause`]: first line only, up to the first `[`/`{`, long tokens masked,
/// length capped.
fn redact(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let (kept, withheld) = match line.find(['[', '{']) {
        Some(at) => (&line[..at], true),
        None => (line, false),
    };
    let mut out: Vec<String> = kept
        .split_whitespace()
        .map(|token| if token.chars().count() > Cause::MAX_TOKEN { "…".to_string() } else { token.to_string() })
        .collect();
    if withheld {
        out.push("(details withheld)".to_string());
    }
    let joined = out.join(" ");
    let trimmed = joined.trim();
    if trimmed.chars().count() <= Cause::MAX_LEN {
        return trimmed.to_string();
    }
    let mut short: String = trimmed.chars().take(Cause::MAX_LEN).collect();
    short.push('…');
    short
}

/// Upper-case hex, the way `gpg` prints fingerprints and key ids.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A timestamp from the OpenPGP library (seconds since the epoch) as UTC time.
/// OpenPGP times are 32-bit, so every value the library hands out converts;
/// an impossible one becomes the epoch rather than a panic.
pub(crate) fn from_unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Runs a parser of untrusted input and turns a panic inside it into an error.
///
/// The OpenPGP and zip libraries are written not to panic, but both keep
/// `panic!`/`unreachable!` on states they consider impossible; a hostile file
/// must not take the whole Lambda invocation down with it. Everything the
/// closure touches is local to one call, so nothing half-updated is observed
/// after an unwind.
pub(crate) fn guard<T, E>(work: impl FnOnce() -> Result<T, E>, on_panic: impl FnOnce() -> E) -> Result<T, E> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| Err(on_panic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_withholds_byte_arrays_and_long_tokens() {
        let cause = Cause::new("failed reading: header Error { input: [45, 45, 66], code: Tag }");
        assert_eq!(cause.as_str(), "failed reading: header Error (details withheld)");
        let cause = Cause::new("bad value lQVYBGZ3c2VjcmV0a2V5bWF0ZXJpYWwK here");
        assert_eq!(cause.as_str(), "bad value … here");
        let long = "word ".repeat(100);
        assert!(Cause::new(long).as_str().chars().count() <= Cause::MAX_LEN + 1);
        assert_eq!(Cause::new("first\nsecond").as_str(), "first");
    }

    #[test]
    fn hex_is_upper_case() {
        assert_eq!(hex_upper(&[0x0a, 0xbc]), "0ABC");
    }

    #[test]
    fn guard_turns_a_panic_into_the_error() {
        let result: Result<(), &str> = guard(|| panic!("boom"), || "panicked");
        assert_eq!(result, Err("panicked"));
    }
}
