//! Backoff with full jitter and Retry-After, as pure logic (the only I/O is
//! the caller's sleep), so it is tested without clocks.

use std::time::Duration;

use rand::Rng;

/// How hard to retry transient failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts including the first (1 = no retry).
    pub max_attempts: u32,
    /// Cap of the first retry's jitter window; doubles every attempt.
    pub base_delay: Duration,
    /// Largest window, and the most a `Retry-After` is honoured for (a longer
    /// hint ends retrying here: the message goes back to the queue instead of
    /// holding a Lambda that bills while it sleeps).
    pub max_delay: Duration,
    /// The per-request timeout the client was built with (for messages).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            request_timeout: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    pub fn backoff(&self) -> Backoff {
        Backoff { policy: self.clone(), attempt: 1 }
    }
}

/// The state of one call's retries.
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    attempt: u32,
}

impl Backoff {
    /// The wait before the next attempt, or `None` when attempts are used up
    /// (or the server asks for a longer pause than the policy allows).
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.attempt >= self.policy.max_attempts {
            return None;
        }
        let exponent = self.attempt - 1;
        self.attempt += 1;
        if let Some(hint) = retry_after {
            return (hint <= self.policy.max_delay).then_some(hint);
        }
        let window = self.policy.base_delay.saturating_mul(1u32 << exponent.min(16)).min(self.policy.max_delay);
        let millis = window.as_millis() as u64;
        Some(Duration::from_millis(rand::rng().random_range(0..=millis)))
    }
}

/// `Retry-After` as seconds (the HTTP-date form is not used by the APIs we
/// call; it is treated as absent).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            request_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn full_jitter_windows_grow_and_are_capped() {
        let mut b = policy(10).backoff();
        let caps = [100u64, 200, 400, 800, 1600, 2000, 2000];
        for cap in caps {
            let d = b.next_delay(None).unwrap();
            assert!(d <= Duration::from_millis(cap), "{d:?} above window {cap}ms");
        }
    }

    #[test]
    fn attempts_run_out() {
        let mut b = policy(3).backoff();
        assert!(b.next_delay(None).is_some());
        assert!(b.next_delay(None).is_some());
        assert!(b.next_delay(None).is_none());
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let mut b = policy(5).backoff();
        assert_eq!(b.next_delay(Some(Duration::from_secs(1))), Some(Duration::from_secs(1)));
        assert_eq!(b.next_delay(Some(Duration::from_secs(30))), None, "too long a pause goes back to the queue");
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
