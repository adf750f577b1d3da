//! How an advert is judged: the receive rules, then a Backup's (RFC 9568 §6.4.2) and a
//! Master's (§6.4.3) answer to it, with keepalived's preempt_delay and
//! lower-priority GARPs.

use vrrp_proto::{DecodeError, Version};

use super::VirtualRouter;
use crate::fsm::time::{Duration, Instant};
use crate::fsm::timer::Timer;
use crate::fsm::types::{
    Action, Advert, DropReason, GarpReason, Observation, State, TransitionReason,
};

impl VirtualRouter {
    fn drop_advert(&mut self, adv: &Advert, reason: DropReason) {
        self.stats.drop_advert(reason);
        self.observe(Observation::AdvertDropped {
            source: adv.source,
            reason,
        });
    }

    /// An advert for this instance (RFC 9568 §6.4.2, §6.4.3). The driver's have passed
    /// vrrp-proto's receive checks already; the simulator's and a test's have not, so the
    /// same rules apply here (vrrp-proto's own, not a copy), each with its drop reason.
    pub(super) fn advert(&mut self, now: Instant, adv: Advert) {
        let receive = &self.receive;
        let reason = match self.state {
            State::Initialize => Some(DropReason::NotRunning),
            State::Fault => Some(DropReason::InFault),
            _ if adv.vrid != self.cfg.vrid => Some(DropReason::WrongVrid),
            _ if receive.check_version(adv.version).is_err() => Some(DropReason::WrongVersion),
            _ if adv.source == self.cfg.primary_address => Some(DropReason::OwnAddress),
            _ if adv.source.is_ipv4() != self.cfg.primary_address.is_ipv4() => {
                Some(DropReason::AddressFamily)
            }
            _ => match receive.check_interval(adv.max_advert_interval) {
                Ok(()) => None,
                Err(DecodeError::IntervalMismatch { found: 0, .. }) => {
                    Some(DropReason::ZeroInterval)
                }
                Err(_) => Some(DropReason::IntervalMismatch),
            },
        };
        if let Some(r) = reason {
            self.drop_advert(&adv, r);
            return;
        }
        if self.state == State::Backup {
            self.advert_in_backup(now, adv);
        } else {
            self.advert_in_master(now, adv);
        }
    }

    /// The Master's interval in centiseconds as the advert states it.
    fn advert_interval_cs(&self, adv: &Advert) -> u16 {
        match self.cfg.version {
            // Checked equal to our own in `advert` (RFC 3768 §7.1).
            Version::V2 => self.cfg.advert_interval_cs,
            // The field is 12 bits on the wire; clamp in case the driver passed more.
            Version::V3 => adv.max_advert_interval.min(4095),
        }
    }

    /// RFC 9568 §6.4.2: a Backup learns the Master's interval (v3) before recomputing timers.
    fn learn_interval(&mut self, adv: &Advert) {
        let to_cs = self.advert_interval_cs(adv);
        if to_cs != self.master_adver_interval_cs {
            self.observe(Observation::MasterIntervalLearned {
                from_cs: self.master_adver_interval_cs,
                to_cs,
            });
            self.master_adver_interval_cs = to_cs;
        }
    }

    fn advert_in_backup(&mut self, now: Instant, adv: Advert) {
        if adv.priority == 0 {
            self.observe(Observation::MasterLeaving { source: adv.source });
            // A member already waiting for its group has nothing left to time.
            if !self.ready_for_master {
                self.timers.set(Timer::MasterDown, now + self.skew_time());
            }
            return;
        }
        let accept = if !self.cfg.preempt || adv.priority >= self.priority {
            true
        } else if self.cfg.preempt_delay > Duration::ZERO {
            // keepalived: the delay starts when a lower Master is first heard.
            let until = *self
                .preempt_until
                .get_or_insert(now + self.cfg.preempt_delay);
            now < until
        } else {
            false
        };
        if accept {
            self.learn_interval(&adv);
            self.set_ready(false);
            self.timers
                .set(Timer::MasterDown, now + self.master_down_interval());
        } else {
            self.drop_advert(&adv, DropReason::LowerPriority);
        }
    }

    fn advert_in_master(&mut self, now: Instant, adv: Advert) {
        if adv.priority == 0 {
            // Another Master is leaving: take its Backups at once.
            self.send_advert(now);
            return;
        }
        let reason = if adv.priority > self.priority {
            Some(TransitionReason::HigherPriority)
        } else if adv.priority == self.priority && ip_gt(adv.source, self.cfg.primary_address) {
            Some(TransitionReason::EqualPriorityHigherAddress)
        } else {
            None
        };
        match reason {
            Some(reason) => {
                if self.cfg.higher_prio_send_advert {
                    // keepalived: our (lower) advert makes the other Master repeat its
                    // GARPs after ours, in case a host heard ours last.
                    self.send_advert(now);
                }
                self.learn_interval(&adv);
                self.become_backup(now, reason);
            }
            None => {
                self.drop_advert(&adv, DropReason::LowerPriority);
                if !self.cfg.lower_prio_no_advert {
                    // RFC 9568 6.4.3: assert Mastership so the other stops at once.
                    self.send_advert(now);
                }
                // keepalived: the other was Master too and announced the VIPs; announce
                // them again, now and once more `garp_lower_prio_delay` later.
                let g = self.cfg.garp;
                if g.lower_prio_repeat > 0 {
                    self.push(Action::SendGarp {
                        count: g.lower_prio_repeat,
                        reason: GarpReason::LowerPriority,
                    });
                    if g.lower_prio_delay > Duration::ZERO {
                        self.timers
                            .set(Timer::GarpLowerPriority, now + g.lower_prio_delay);
                    }
                }
            }
        }
    }
}

/// Unsigned comparison of addresses in network byte order (RFC 9568 §6.4.3); callers ensure
/// both are of one family.
fn ip_gt(a: core::net::IpAddr, b: core::net::IpAddr) -> bool {
    use core::net::IpAddr::{V4, V6};
    match (a, b) {
        (V4(a), V4(b)) => a.octets() > b.octets(),
        (V6(a), V6(b)) => a.octets() > b.octets(),
        _ => false,
    }
}
