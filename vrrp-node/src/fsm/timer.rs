//! Every deadline of one virtual router in one table (the shape of quinn-proto's
//! `connection/timer.rs`): one slot per [`Timer`], the earliest armed one is the next wake-up.

use super::time::Instant;

/// The timers of a virtual router, in the order [`VirtualRouter::handle_timeout`] fires
/// them when several are due at once.
///
/// [`VirtualRouter::handle_timeout`]: super::VirtualRouter::handle_timeout
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Master_Down_Timer (RFC 9568 §6.2): a Backup that hears no Master takes over.
    MasterDown = 0,
    /// Adver_Timer (RFC 9568 §6.2): a Master's next advert.
    Adver = 1,
    /// keepalived's `garp_master_delay`: the second GARP burst after becoming Master.
    GarpDelay = 2,
    /// keepalived's `garp_master_refresh`: GARP bursts while Master.
    GarpRefresh = 3,
    /// keepalived's `garp_lower_prio_delay`: the second GARP burst after a lower-priority
    /// advert was heard.
    GarpLowerPriority = 4,
}

impl Timer {
    /// Every timer, in firing order.
    pub(super) const VALUES: [Timer; 5] = [
        Timer::MasterDown,
        Timer::Adver,
        Timer::GarpDelay,
        Timer::GarpRefresh,
        Timer::GarpLowerPriority,
    ];
}

/// When each [`Timer`] expires, if it is armed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TimerTable {
    data: [Option<Instant>; Timer::VALUES.len()],
}

impl TimerTable {
    /// Arms `timer` for `at`, replacing any earlier setting.
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        self.data[timer as usize] = Some(at);
    }

    /// Arms `timer` for `at`, or disarms it when `at` is `None`.
    pub(super) fn set_or_stop(&mut self, timer: Timer, at: Option<Instant>) {
        self.data[timer as usize] = at;
    }

    /// When `timer` expires, if armed.
    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        self.data[timer as usize]
    }

    /// Disarms `timer`.
    pub(super) fn stop(&mut self, timer: Timer) {
        self.data[timer as usize] = None;
    }

    /// The earliest armed deadline.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        self.data.iter().flatten().min().copied()
    }

    /// Whether `timer` is armed for `now` or earlier.
    pub(super) fn is_expired(&self, timer: Timer, now: Instant) -> bool {
        self.data[timer as usize].is_some_and(|at| at <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_timeout_is_the_earliest_armed_one() {
        let mut t = TimerTable::default();
        assert_eq!(t.next_timeout(), None);
        t.set(Timer::Adver, Instant::from_micros(30));
        t.set(Timer::GarpRefresh, Instant::from_micros(10));
        assert_eq!(t.next_timeout(), Some(Instant::from_micros(10)));
        t.stop(Timer::GarpRefresh);
        assert_eq!(t.next_timeout(), Some(Instant::from_micros(30)));
        assert!(t.is_expired(Timer::Adver, Instant::from_micros(30)));
        assert!(!t.is_expired(Timer::Adver, Instant::from_micros(29)));
        assert!(!t.is_expired(Timer::MasterDown, Instant::from_micros(99)));
    }
}
