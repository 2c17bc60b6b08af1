//! How often a connection is polled for READY documents.
//!
//! Written and shown as text an operator can type: `every 15m`, `every 2h`,
//! `daily 06:00`, `weekly mon 06:00` (times in UTC). The poller's own
//! EventBridge tick is the finest grain; a connection is due when its
//! schedule says a run should have started since its last successful poll.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, Time, Weekday};

/// Why a schedule text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule `{text}` is invalid: {why} (examples: `every 15m`, `every 2h`, `daily 06:00`, `weekly mon 06:00`)")]
pub struct ScheduleError {
    pub text: String,
    pub why: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PollSchedule {
    /// Every N minutes, 5 to 1440.
    Every { minutes: u16 },
    /// Once a day at this UTC time.
    Daily { at: Time },
    /// Once a week on this day at this UTC time.
    Weekly { day: Weekday, at: Time },
}

impl Default for PollSchedule {
    fn default() -> Self {
        PollSchedule::Every { minutes: 15 }
    }
}

impl PollSchedule {
    /// The latest moment at or before `now` when a run was scheduled to start.
    fn last_slot(&self, now: OffsetDateTime) -> OffsetDateTime {
        let now = now.to_offset(time::UtcOffset::UTC);
        match *self {
            PollSchedule::Every { minutes } => {
                let step = i64::from(minutes) * 60;
                let ts = now.unix_timestamp();
                OffsetDateTime::from_unix_timestamp(ts - ts.rem_euclid(step)).unwrap_or(now)
            }
            PollSchedule::Daily { at } => {
                let today = now.replace_time(at);
                if today <= now { today } else { today - Duration::days(1) }
            }
            PollSchedule::Weekly { day, at } => {
                let back = (now.weekday().number_days_from_monday() + 7 - day.number_days_from_monday()) % 7;
                let slot = (now - Duration::days(i64::from(back))).replace_time(at);
                if slot <= now { slot } else { slot - Duration::weeks(1) }
            }
        }
    }

    /// Whether a poll is due: a scheduled start has passed since the last
    /// successful poll (or there never was one).
    pub fn is_due(&self, last_success: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
        match last_success {
            None => true,
            Some(last) => last < self.last_slot(now),
        }
    }
}

fn refuse(text: &str, why: &'static str) -> ScheduleError {
    ScheduleError { text: crate::text::truncate(text, 60).to_owned(), why }
}

fn parse_time(text: &str, raw: &str) -> Result<Time, ScheduleError> {
    let (h, m) = raw.split_once(':').ok_or_else(|| refuse(text, "the time must be HH:MM (UTC)"))?;
    let h: u8 = h.parse().map_err(|_| refuse(text, "the hour must be 00 to 23"))?;
    let m: u8 = m.parse().map_err(|_| refuse(text, "the minutes must be 00 to 59"))?;
    Time::from_hms(h, m, 0).map_err(|_| refuse(text, "the time must be HH:MM between 00:00 and 23:59"))
}

fn parse_day(text: &str, raw: &str) -> Result<Weekday, ScheduleError> {
    Ok(match raw.to_ascii_lowercase().get(..3) {
        Some("mon") => Weekday::Monday,
        Some("tue") => Weekday::Tuesday,
        Some("wed") => Weekday::Wednesday,
        Some("thu") => Weekday::Thursday,
        Some("fri") => Weekday::Friday,
        Some("sat") => Weekday::Saturday,
        Some("sun") => Weekday::Sunday,
        _ => return Err(refuse(text, "the day must be mon, tue, wed, thu, fri, sat or sun")),
    })
}

impl FromStr for PollSchedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["every", amount] => {
                let (number, unit) =
                    amount.split_at(amount.find(|c: char| !c.is_ascii_digit()).unwrap_or(amount.len()));
                let n: u16 = number.parse().map_err(|_| refuse(text, "the interval must be a number with m or h"))?;
                let minutes = match unit {
                    "m" | "min" => n,
                    "h" => n.saturating_mul(60),
                    _ => return Err(refuse(text, "the interval's unit must be m (minutes) or h (hours)")),
                };
                if !(5..=1440).contains(&minutes) {
                    return Err(refuse(text, "the interval must be between 5 minutes and 24 hours"));
                }
                Ok(PollSchedule::Every { minutes })
            }
            ["daily", at] => Ok(PollSchedule::Daily { at: parse_time(text, at)? }),
            ["weekly", day, at] => Ok(PollSchedule::Weekly { day: parse_day(text, day)?, at: parse_time(text, at)? }),
            _ => Err(refuse(text, "unknown form")),
        }
    }
}

impl fmt::Display for PollSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PollSchedule::Every { minutes } if minutes % 60 == 0 => write!(f, "every {}h", minutes / 60),
            PollSchedule::Every { minutes } => write!(f, "every {minutes}m"),
            PollSchedule::Daily { at } => write!(f, "daily {:02}:{:02}", at.hour(), at.minute()),
            PollSchedule::Weekly { day, at } => {
                let day = &day.to_string()[..3];
                write!(f, "weekly {} {:02}:{:02}", day.to_ascii_lowercase(), at.hour(), at.minute())
            }
        }
    }
}

impl TryFrom<String> for PollSchedule {
    type Error = ScheduleError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PollSchedule> for String {
    fn from(s: PollSchedule) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trips_every_form() {
        for text in ["every 15m", "every 2h", "daily 06:00", "weekly mon 06:30"] {
            let s: PollSchedule = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
        }
        assert_eq!("every 60m".parse::<PollSchedule>().unwrap().to_string(), "every 1h");
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for bad in ["every 1m", "every 25h", "every 5x", "daily 25:00", "daily 6", "weekly xyz 06:00", "hourly", ""] {
            assert!(bad.parse::<PollSchedule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn due_when_a_slot_passed_since_the_last_success() {
        let every = PollSchedule::Every { minutes: 15 };
        let now = datetime!(2026-11-23 10:16 UTC);
        assert!(every.is_due(None, now));
        assert!(every.is_due(Some(datetime!(2026-11-23 10:14 UTC)), now));
        assert!(!every.is_due(Some(datetime!(2026-11-23 10:15:30 UTC)), now));

        let daily: PollSchedule = "daily 06:00".parse().unwrap();
        assert!(!daily.is_due(Some(datetime!(2026-11-23 06:01 UTC)), datetime!(2026-11-24 05:59 UTC)));
        assert!(daily.is_due(Some(datetime!(2026-11-23 06:01 UTC)), datetime!(2026-11-24 06:00 UTC)));

        // 2026-11-23 is a Monday.
        let weekly: PollSchedule = "weekly wed 06:00".parse().unwrap();
        assert!(!weekly.is_due(Some(datetime!(2026-11-18 07:00 UTC)), datetime!(2026-11-23 12:00 UTC)));
        assert!(weekly.is_due(Some(datetime!(2026-11-18 07:00 UTC)), datetime!(2026-11-25 06:00 UTC)));
    }
}
