//! VIP lifetimes: a Master renews its VIPs every [`VIP_RENEWAL`], each instance on a
//! deadline of its own, so the daemon wakes only when some renewal is due (a 100 ms tick
//! that looked for due slices cost an idle node 10 wake-ups a second, issue 16).
//!
//! Instances are spread over ten phases of the second by id, so hundreds of Masters that
//! took over together do not renew in one burst between their adverts.

use std::time::{Duration, Instant};

use tracing::warn;

use super::Daemon;

/// How often a Master renews its VIPs' lifetime: a third of the shortest one (3 s), and
/// never more than one advert-interval floor below the lifetime's (4 intervals + 1 s).
pub(super) const VIP_RENEWAL: Duration = Duration::from_secs(1);

/// How early a renewal may be done when the daemon is awake anyway: half a period, so the
/// period stays between a half and one [`VIP_RENEWAL`].
const RENEWAL_AHEAD: Duration = Duration::from_millis(500);

/// Phases of [`VIP_RENEWAL`] the instances are spread over.
const PHASES: u64 = 10;

/// When the instance numbered `id` whose VIPs were installed at `now` renews them first:
/// within one [`VIP_RENEWAL`], in its phase.
fn first_renewal(id: u64, now: Instant) -> Instant {
    let phase = u32::try_from(id % PHASES + 1).unwrap_or(1);
    now + VIP_RENEWAL / u32::try_from(PHASES).unwrap_or(1) * phase
}

/// The renewal after one due at `due`, done at `now`: one [`VIP_RENEWAL`] later, in the
/// same phase, unless the daemon fell more than a period behind (then from `now`).
fn next_renewal(due: Instant, now: Instant) -> Instant {
    let next = due + VIP_RENEWAL;
    if next > now {
        next
    } else {
        now + VIP_RENEWAL
    }
}

impl Daemon {
    /// Starts the renewals of Masters that installed their VIPs since the last call, stops
    /// those of instances that removed them, and returns when the next one is due.
    pub(super) fn schedule_renewals(&mut self, now: Instant) -> Option<Instant> {
        self.options.vip_lifetime?;
        let mut next: Option<Instant> = None;
        for r in &mut self.instances {
            r.renew_at = match (r.inst.vips_installed, r.renew_at) {
                (false, _) => None,
                (true, None) => Some(first_renewal(r.id, now)),
                (true, at) => at,
            };
            next = match (next, r.renew_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    /// Renews the VIPs of every Master whose renewal is due within [`RENEWAL_AHEAD`]:
    /// a renewal a little early rides on a wake-up the daemon had anyway (an advert), where
    /// one on time would wake it for nothing else. The requests are queued, not awaited
    /// (see [`VipManager::renew`](crate::vip::VipManager::renew)).
    pub(super) fn renew_due(&mut self, now: Instant) {
        let horizon = now + RENEWAL_AHEAD;
        for r in &mut self.instances {
            let Some(due) = r.renew_at.filter(|&at| at <= horizon) else {
                continue;
            };
            r.renew_at = Some(next_renewal(due, now));
            for vip in r.inst.plan.vips.iter().filter(|v| v.ifindex != 0) {
                if let Err(e) = self.vips.renew(vip, r.inst.name()) {
                    warn!(instance = %r.inst.name(), "renewing VIP: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_renewals_are_spread_over_the_period_and_within_it() {
        let now = Instant::now();
        let firsts: Vec<Duration> = (0..PHASES).map(|id| first_renewal(id, now) - now).collect();
        assert_eq!(firsts[0], Duration::from_millis(100));
        assert_eq!(firsts[9], VIP_RENEWAL);
        assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
        assert_eq!(first_renewal(PHASES + 3, now), first_renewal(3, now));
    }

    #[test]
    fn a_renewal_keeps_its_phase_unless_the_daemon_fell_behind() {
        let due = Instant::now();
        let on_time = due + Duration::from_millis(2);
        assert_eq!(next_renewal(due, on_time), due + VIP_RENEWAL);
        let late = due + Duration::from_millis(1500);
        assert_eq!(next_renewal(due, late), late + VIP_RENEWAL);
    }
}
