//! The protocol's formulas, written once: effective priority (keepalived's tracking),
//! Skew_Time and Master_Down_Interval (RFC 9568 §6.1, RFC 3768 §6.1).

use vrrp_proto::Version;

use super::config::RouterConfig;
use super::time::Duration;

/// The priority of the address owner, which never moves to or from it.
pub const OWNER_PRIORITY: u8 = 255;

/// Effective priority from a base priority and the weights of tracked checks, keepalived's
/// rule: a positive weight counts while its check passes, a negative one while it fails;
/// the sum is clamped to 1..=254; the owner (255) stays 255 whatever the checks say.
/// Weight-0 checks do not count here (they put the instance in Fault instead).
///
/// ```
/// use vrrp_node::fsm::effective_priority;
/// assert_eq!(effective_priority(100, [(10, true), (-30, false)]), 80);
/// assert_eq!(effective_priority(250, [(10, true)]), 254);
/// assert_eq!(effective_priority(255, [(-50, false)]), 255);
/// ```
pub fn effective_priority(base: u8, tracks: impl IntoIterator<Item = (i16, bool)>) -> u8 {
    if base == OWNER_PRIORITY {
        return OWNER_PRIORITY;
    }
    let mut p = i32::from(base);
    for (weight, up) in tracks {
        if (weight > 0 && up) || (weight < 0 && !up) {
            p += i32::from(weight);
        }
    }
    // Clamped, so the cast cannot truncate.
    p.clamp(1, 254) as u8
}

/// Skew_Time for a priority: v3 `((256 - priority) * Master_Adver_Interval) / 256`
/// centiseconds (integer division in centiseconds, as RFC 9568 and keepalived compute it);
/// v2 `(256 - priority) / 256` seconds, computed in microseconds.
pub fn skew_time(version: Version, priority: u8, master_adver_interval_cs: u16) -> Duration {
    let k = 256 - u64::from(priority);
    match version {
        Version::V3 => Duration::from_centis(k * u64::from(master_adver_interval_cs) / 256),
        Version::V2 => Duration::from_micros(k * 1_000_000 / 256),
    }
}

/// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time` (v2: the local
/// Advertisement_Interval, which must equal the Master's).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval_cs: u16,
) -> Duration {
    Duration::from_centis(3 * u64::from(master_adver_interval_cs))
        + skew_time(version, priority, master_adver_interval_cs)
}

/// The effective priority of `cfg` with its tracks in the states `track_up`.
pub(super) fn tracked_priority(cfg: &RouterConfig, track_up: &[bool]) -> u8 {
    effective_priority(
        cfg.priority,
        cfg.tracks
            .iter()
            .zip(track_up)
            .map(|(t, up)| (t.weight, *up)),
    )
}

/// How many weight-0 checks of `cfg` start (or, on reconfigure, are) failing: each holds
/// the instance in Fault.
pub(super) fn track_faults(cfg: &RouterConfig) -> u32 {
    let n = cfg
        .tracks
        .iter()
        .filter(|t| t.weight == 0 && !t.initially_up)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}
