//! RFC 3164 syslog lines, for both daemons: `vrrpd`'s log writer and `lbproxy`'s log
//! targets. Framing only; where a line goes is each daemon's business.

use std::time::{SystemTime, UNIX_EPOCH};

/// Facility `daemon` (RFC 3164 §4.1.1, table 1), as keepalived logs.
pub const FACILITY_DAEMON: u8 = 3;

/// A message's severity (RFC 3164 §4.1.1, table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// 0: the system is unusable (HAProxy: a backend has no server left).
    Emergency = 0,
    /// 1: act at once (HAProxy: a server went down).
    Alert = 1,
    /// 2: critical.
    Critical = 2,
    /// 3: an error.
    Error = 3,
    /// 4: a warning.
    Warning = 4,
    /// 5: normal but significant (HAProxy: a server came up).
    Notice = 5,
    /// 6: informational (access logs).
    Informational = 6,
    /// 7: debugging.
    Debug = 7,
}

impl Severity {
    /// The severity of a `tracing` event of `level`: the one mapping from tracing's five
    /// levels to syslog's eight.
    ///
    /// ```
    /// use health::syslog::Severity;
    /// assert_eq!(Severity::of_level(&tracing::Level::WARN), Severity::Warning);
    /// assert_eq!(Severity::of_level(&tracing::Level::TRACE), Severity::Debug);
    /// ```
    pub fn of_level(level: &tracing::Level) -> Severity {
        match *level {
            tracing::Level::ERROR => Severity::Error,
            tracing::Level::WARN => Severity::Warning,
            tracing::Level::INFO => Severity::Informational,
            tracing::Level::DEBUG | tracing::Level::TRACE => Severity::Debug,
        }
    }
}

/// An RFC 3164 line: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE`, the time in UTC, PRI
/// `facility * 8 + severity` (§4.1.1), the timestamp as §4.1.2 writes it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use health::syslog::{line, Severity, FACILITY_DAEMON};
/// // 2026-11-02 03:04:05 UTC, daemon.info
/// let at = UNIX_EPOCH + Duration::from_secs(1_793_588_645);
/// assert_eq!(
///     line(FACILITY_DAEMON, Severity::Informational, at, "vrrpd", 42, "hello"),
///     "<30>Nov  2 03:04:05 vrrpd[42]: hello"
/// );
/// ```
pub fn line(
    facility: u8,
    severity: Severity,
    at: SystemTime,
    tag: &str,
    pid: u32,
    message: &str,
) -> String {
    let pri = u32::from(facility) * 8 + severity as u32;
    let t = UtcTime::from_system(at);
    format!(
        "<{pri}>{} {:>2} {:02}:{:02}:{:02} {tag}[{pid}]: {message}",
        t.month_abbrev(),
        t.day,
        t.hour,
        t.minute,
        t.second
    )
}

/// A calendar time in UTC, to the millisecond: what log timestamps are written from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Year.
    pub year: i64,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
    /// Millisecond, 0..=999.
    pub millis: u32,
}

impl UtcTime {
    /// `t` in UTC; a time before 1970 counts as 1970-01-01.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let t = health::syslog::UtcTime::from_system(UNIX_EPOCH + Duration::from_millis(1_795_317_769_123));
    /// assert_eq!((t.year, t.month, t.day), (2026, 11, 22));
    /// assert_eq!((t.hour, t.minute, t.second, t.millis), (3, 22, 49, 123));
    /// assert_eq!(t.month_abbrev(), "Nov");
    /// ```
    pub fn from_system(t: SystemTime) -> UtcTime {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs();
        let (year, month, day) = civil_from_days(i64::try_from(secs / 86400).unwrap_or(0));
        let rem = secs % 86400;
        // Below 86400, so the casts cannot truncate.
        UtcTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: ((rem / 60) % 60) as u32,
            second: (rem % 60) as u32,
            millis: d.subsec_millis(),
        }
    }

    /// `Jan` .. `Dec`.
    pub fn month_abbrev(&self) -> &'static str {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        MONTHS[usize::try_from(self.month.saturating_sub(1))
            .unwrap_or(0)
            .min(11)]
    }
}

/// Howard Hinnant's days-to-civil algorithm: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_epoch_and_a_leap_day() {
        let t = UtcTime::from_system(UNIX_EPOCH);
        assert_eq!((t.year, t.month, t.day, t.hour), (1970, 1, 1, 0));
        // 2024-02-29 23:59:59 UTC
        let t = UtcTime::from_system(UNIX_EPOCH + Duration::from_secs(1_709_251_199));
        assert_eq!((t.year, t.month, t.day), (2024, 2, 29));
        assert_eq!((t.hour, t.minute, t.second), (23, 59, 59));
    }

    #[test]
    fn pri_is_facility_times_eight_plus_severity() {
        let l = line(FACILITY_DAEMON, Severity::Warning, UNIX_EPOCH, "t", 1, "m");
        assert_eq!(l, "<28>Jan  1 00:00:00 t[1]: m");
        let l = line(23, Severity::Debug, UNIX_EPOCH, "t", 1, "m");
        assert!(l.starts_with("<191>"), "{l}");
    }
}
