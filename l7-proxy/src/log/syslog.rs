//! HAProxy's accept date in log lines; the syslog framing itself is `health::syslog`,
//! shared with vrrpd.

use std::time::SystemTime;

use health::syslog::UtcTime;

/// HAProxy's accept date: `22/Nov/2026:03:22:49.123` (UTC).
pub fn accept_date(t: SystemTime) -> String {
    let u = UtcTime::from_system(t);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02}.{:03}",
        u.day,
        u.month_abbrev(),
        u.year,
        u.hour,
        u.minute,
        u.second,
        u.millis
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn date_format() {
        // 2026-11-22T03:22:49.123Z
        let t = UNIX_EPOCH + Duration::from_millis(1_795_317_769_123);
        assert_eq!(accept_date(t), "22/Nov/2026:03:22:49.123");
        assert_eq!(accept_date(UNIX_EPOCH), "01/Jan/1970:00:00:00.000");
    }
}
