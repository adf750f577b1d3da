//! VIP lifetimes: a Master renews its VIPs every third of their lifetime
//! ([`InstancePlan::vip_renewal`](super::plan::InstancePlan::vip_renewal)), each instance
//! on a deadline of its own, so the daemon wakes only when some renewal is due (a 100 ms
//! tick that looked for due slices cost an idle node 10 wake-ups a second, issue 16).
//!
//! Instances are spread over ten phases of the period by VRID, so hundreds of Masters that
//! took over together do not renew in one burst between their adverts.

use std::time::{Duration, Instant};

/// Phases of the renewal period the instances are spread over.
const PHASES: u32 = 10;

/// When a Master renews its VIPs next; none while it holds none (or they have no lifetime).
#[derive(Debug, Default, Clone, Copy)]
pub struct Renewal {
    at: Option<Instant>,
}

impl Renewal {
    /// The VIPs were installed at `now`: the first renewal within one `period` (`None`: no
    /// lifetime, no renewal), in the phase of `key` (the VRID).
    pub fn start(&mut self, key: u8, period: Option<Duration>, now: Instant) {
        self.at = period.map(|p| first_renewal(key, now, p));
    }

    /// The VIPs were removed.
    pub fn stop(&mut self) {
        self.at = None;
    }

    /// When the next renewal is due.
    pub fn at(&self) -> Option<Instant> {
        self.at
    }

    /// Whether to renew at `now`: the renewal is due within half its `period`, so a renewal a
    /// little early rides on a wake-up the daemon had anyway (an advert), where one on time
    /// would wake it for nothing else; the period stays between a half and one. If so, the
    /// next one is scheduled.
    pub fn take_due(&mut self, now: Instant, period: Duration) -> bool {
        let Some(due) = self.at.filter(|&at| at <= now + period / 2) else {
            return false;
        };
        self.at = Some(next_renewal(due, now, period));
        true
    }
}

/// The first renewal of VIPs installed at `now`: within one `period`, in the phase of `key`.
fn first_renewal(key: u8, now: Instant, period: Duration) -> Instant {
    let phase = u32::from(key) % PHASES + 1;
    now + period / PHASES * phase
}

/// The renewal after one due at `due`, done at `now`: one `period` later, in the same
/// phase, unless the daemon fell more than a period behind (then from `now`).
fn next_renewal(due: Instant, now: Instant, period: Duration) -> Instant {
    let next = due + period;
    if next > now {
        next
    } else {
        now + period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(1);

    #[test]
    fn first_renewals_are_spread_over_the_period_and_within_it() {
        let now = Instant::now();
        let firsts: Vec<Duration> = (0..10u8)
            .map(|key| first_renewal(key, now, PERIOD) - now)
            .collect();
        assert_eq!(firsts[0], Duration::from_millis(100));
        assert_eq!(firsts[9], PERIOD);
        assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
        assert_eq!(
            first_renewal(13, now, PERIOD),
            first_renewal(3, now, PERIOD)
        );
    }

    #[test]
    fn a_renewal_keeps_its_phase_unless_the_daemon_fell_behind() {
        let due = Instant::now();
        let on_time = due + Duration::from_millis(2);
        assert_eq!(next_renewal(due, on_time, PERIOD), due + PERIOD);
        let late = due + Duration::from_millis(1500);
        assert_eq!(next_renewal(due, late, PERIOD), late + PERIOD);
    }

    #[test]
    fn a_renewal_is_taken_within_half_a_period_and_then_scheduled_anew() {
        let now = Instant::now();
        let mut r = Renewal::default();
        assert!(
            !r.take_due(now, PERIOD),
            "none before the VIPs are installed"
        );
        r.start(9, Some(PERIOD), now);
        assert_eq!(r.at(), Some(now + PERIOD));
        assert!(!r.take_due(now + Duration::from_millis(499), PERIOD));
        assert!(r.take_due(now + Duration::from_millis(500), PERIOD));
        assert_eq!(r.at(), Some(now + 2 * PERIOD));
        r.stop();
        assert_eq!(r.at(), None);
        r.start(9, None, now);
        assert_eq!(r.at(), None, "no lifetime, no renewal");
    }
}
