//! VIP lifetimes: a Master renews its VIPs every third of their lifetime
//! ([`InstancePlan::vip_renewal`](super::plan::InstancePlan::vip_renewal)), each instance
//! on a deadline of its own, so the daemon wakes only when some renewal is due (a 100 ms
//! tick that looked for due slices cost an idle node 10 wake-ups a second, issue 16).
//!
//! Instances are spread over ten phases of the period by id, so hundreds of Masters that
//! took over together do not renew in one burst between their adverts.

use std::time::{Duration, Instant};

use tracing::warn;

use super::Daemon;

/// Phases of the renewal period the instances are spread over.
const PHASES: u32 = 10;

/// When the instance numbered `id` whose VIPs were installed at `now` renews them first:
/// within one `period`, in its phase.
fn first_renewal(id: u64, now: Instant, period: Duration) -> Instant {
    let phase = u32::try_from(id % u64::from(PHASES)).unwrap_or(0) + 1;
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

impl Daemon {
    /// Starts the renewals of Masters that installed their VIPs since the last call, stops
    /// those of instances that removed them, and returns when the next one is due.
    pub(super) fn schedule_renewals(&mut self, now: Instant) -> Option<Instant> {
        self.options.vip_lifetime?;
        let mut next: Option<Instant> = None;
        for r in &mut self.instances {
            r.renew_at = match (r.inst.vips_installed, r.renew_at, r.inst.plan.vip_renewal()) {
                (false, _, _) | (_, _, None) => None,
                (true, None, Some(period)) => Some(first_renewal(r.id, now, period)),
                (true, at, Some(_)) => at,
            };
            next = match (next, r.renew_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    /// Renews the VIPs of every Master whose renewal is due within half its period: a
    /// renewal a little early rides on a wake-up the daemon had anyway (an advert), where
    /// one on time would wake it for nothing else; the period stays between a half and one.
    /// The requests are queued, not awaited (see
    /// [`VipManager::renew`](crate::vip::VipManager::renew)).
    pub(super) fn renew_due(&mut self, now: Instant) {
        for r in &mut self.instances {
            let Some(period) = r.inst.plan.vip_renewal() else {
                continue;
            };
            let Some(due) = r.renew_at.filter(|&at| at <= now + period / 2) else {
                continue;
            };
            r.renew_at = Some(next_renewal(due, now, period));
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

    const PERIOD: Duration = Duration::from_secs(1);

    #[test]
    fn first_renewals_are_spread_over_the_period_and_within_it() {
        let now = Instant::now();
        let firsts: Vec<Duration> = (0..u64::from(PHASES))
            .map(|id| first_renewal(id, now, PERIOD) - now)
            .collect();
        assert_eq!(firsts[0], Duration::from_millis(100));
        assert_eq!(firsts[9], PERIOD);
        assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
        assert_eq!(
            first_renewal(u64::from(PHASES) + 3, now, PERIOD),
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
}
