//! Syslog framing (RFC 3164) and HAProxy's date formats.

use std::time::{SystemTime, UNIX_EPOCH};

/// An RFC 3164 line: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE` (UTC), where PRI is
/// `facility * 8 + severity` (severity 0 emerg .. 7 debug; a larger one counts as debug).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// // 2026-11-02 03:04:05 UTC, daemon.info
/// let at = UNIX_EPOCH + Duration::from_secs(1_793_588_645);
/// assert_eq!(
///     l7_proxy::log::syslog_line(3, 6, at, "vrrpd", 42, "hello"),
///     "<30>Nov  2 03:04:05 vrrpd[42]: hello"
/// );
/// ```
pub fn syslog_line(
    facility: u8,
    severity: u8,
    at: SystemTime,
    tag: &str,
    pid: u32,
    message: &str,
) -> String {
    let pri = u32::from(facility) * 8 + u32::from(severity.min(7));
    format!("<{pri}>{} {tag}[{pid}]: {message}", syslog_date(at))
}

/// RFC 3164 timestamp: `Nov 22 03:22:49`.
pub(super) fn syslog_date(t: SystemTime) -> String {
    let d = accept_date(t);
    // `22/Nov/2026:03:22:49.123` -> `Nov 22 03:22:49`
    let day = d.get(0..2).unwrap_or("01");
    let mon = d.get(3..6).unwrap_or("Jan");
    let time = d.get(12..20).unwrap_or("00:00:00");
    format!("{mon} {:>2} {time}", day.trim_start_matches('0'))
}

/// HAProxy's accept date: `22/Nov/2026:03:22:49.123` (UTC).
pub fn accept_date(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days(i64::try_from(secs / 86400).unwrap_or(0));
    let rem = secs % 86400;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = MONTHS[usize::try_from(m.saturating_sub(1)).unwrap_or(0).min(11)];
    format!(
        "{day:02}/{mon}/{y}:{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
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
    fn date_format() {
        // 2026-11-22T03:22:49.123Z
        let t = UNIX_EPOCH + Duration::from_millis(1_795_317_769_123);
        assert_eq!(accept_date(t), "22/Nov/2026:03:22:49.123");
        assert_eq!(accept_date(UNIX_EPOCH), "01/Jan/1970:00:00:00.000");
    }
}
