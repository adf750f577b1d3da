//! The protocol's formulas, written once: effective priority (keepalived's tracking),
//! Skew_Time and Master_Down_Interval (RFC 9568 §6.1, RFC 3768 §6.1).

use vrrp_proto::Version;

use super::config::{RouterConfig, TrackConfig};
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

/// The state of one tracked check: passing or failing, or the number it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    /// A script, an interface, a process: up or down.
    Up(bool),
    /// A file: the value read from it.
    Value(i32),
}

impl Level {
    /// The state `t` starts in.
    pub(super) fn initial(t: &TrackConfig) -> Level {
        match t.initial_value {
            Some(v) => Level::Value(v),
            None => Level::Up(t.initially_up),
        }
    }
}

/// keepalived's status of a value check that faults its instance.
const FAULT_STATUS: i64 = -254;

/// What a check with `weight` in state `level` adds to the priority, or `None` while it
/// holds the instance in Fault. Up/down: the weight counts while up (positive) or while down
/// (negative); weight 0 faults while down. A value (keepalived.conf(5), "Track files"):
/// value × weight clamped to -254..=253, where -254 faults; with weight 0 any value but 0
/// faults.
pub(super) fn track_offset(weight: i16, level: Level) -> Option<i32> {
    let w = i32::from(weight);
    match level {
        Level::Up(up) if w == 0 => up.then_some(0),
        Level::Up(up) => Some(if (w > 0) == up { w } else { 0 }),
        Level::Value(v) if w == 0 => (v == 0).then_some(0),
        Level::Value(v) => {
            let status = (i64::from(v) * i64::from(w)).clamp(FAULT_STATUS, 253);
            // Clamped to -254..=253 above, so it fits.
            (status != FAULT_STATUS).then_some(status as i32)
        }
    }
}

/// The effective priority of `cfg` with its tracks in the states `levels`: the base plus
/// every check's offset, clamped to 1..=254; the owner (255) stays 255 (see
/// [`effective_priority`]). A faulting check adds nothing.
pub(super) fn tracked_priority(cfg: &RouterConfig, levels: &[Level]) -> u8 {
    if cfg.priority == OWNER_PRIORITY {
        return OWNER_PRIORITY;
    }
    let sum: i32 = cfg
        .tracks
        .iter()
        .zip(levels)
        .filter_map(|(t, level)| track_offset(t.weight, *level))
        .sum();
    // Clamped, so the cast cannot truncate.
    (i32::from(cfg.priority) + sum).clamp(1, 254) as u8
}

/// How many checks of `cfg` start (or, on reconfigure, are) in a state that holds the
/// instance in Fault.
pub(super) fn track_faults(cfg: &RouterConfig) -> u32 {
    let n = cfg
        .tracks
        .iter()
        .filter(|t| track_offset(t.weight, Level::initial(t)).is_none())
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_down_checks_count_their_weight_as_effective_priority_does() {
        for weight in [-30i16, -1, 0, 1, 30, 254] {
            for up in [true, false] {
                let by_rule = effective_priority(100, [(weight, up)]);
                match track_offset(weight, Level::Up(up)) {
                    Some(offset) => {
                        assert_eq!(
                            i32::from(by_rule),
                            (100 + offset).clamp(1, 254),
                            "{weight} {up}"
                        )
                    }
                    None => assert!(weight == 0 && !up),
                }
            }
        }
    }

    #[test]
    fn a_value_counts_times_the_weight_and_faults_at_minus_254() {
        assert_eq!(track_offset(10, Level::Value(3)), Some(30));
        assert_eq!(track_offset(-10, Level::Value(3)), Some(-30));
        assert_eq!(track_offset(100, Level::Value(3)), Some(253));
        assert_eq!(track_offset(1, Level::Value(-253)), Some(-253));
        assert_eq!(track_offset(1, Level::Value(-254)), None);
        assert_eq!(track_offset(254, Level::Value(-1)), None);
        assert_eq!(track_offset(254, Level::Value(i32::MIN)), None);
        assert_eq!(track_offset(-254, Level::Value(i32::MIN)), Some(253));
        // Weight 0: zero is OK, anything else a fault.
        assert_eq!(track_offset(0, Level::Value(0)), Some(0));
        assert_eq!(track_offset(0, Level::Value(1)), None);
        assert_eq!(track_offset(0, Level::Value(-7)), None);
    }
}
