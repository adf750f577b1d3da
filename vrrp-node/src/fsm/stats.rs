//! What a virtual router has done, counted where it is decided: in the state machine.

use super::types::{DropReason, State};

/// Counters of one virtual router (keepalived's per-instance statistics that the protocol
/// decides: transitions and dropped adverts); the driver counts what it sends and receives.
///
/// ```
/// use core::net::{IpAddr, Ipv4Addr};
/// use vrrp_node::fsm::{DropReason, Event, Instant, RouterConfig, VirtualRouter};
/// use vrrp_proto::Version;
///
/// let me = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
/// let mut vr = VirtualRouter::new(RouterConfig::new(51, Version::V3, 100, me)).unwrap();
/// vr.handle(Instant::ZERO, Event::Startup);
/// assert_eq!((vr.stats().become_backup, vr.stats().transitions), (1, 1));
/// assert_eq!(vr.stats().dropped(DropReason::LowerPriority), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Transitions into Master.
    pub become_master: u64,
    /// Transitions into Backup.
    pub become_backup: u64,
    /// Transitions into Fault.
    pub become_fault: u64,
    /// Transitions out of Master.
    pub release_master: u64,
    /// State transitions of any kind (to Initialize too).
    pub transitions: u64,
    /// Adverts dropped, by [`DropReason::ALL`] index.
    drops: [u64; DropReason::ALL.len()],
}

impl Stats {
    /// Adverts dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Counts a transition from `from` to `to`.
    pub(super) fn transition(&mut self, from: State, to: State) {
        match to {
            State::Master => self.become_master += 1,
            State::Backup => self.become_backup += 1,
            State::Fault => self.become_fault += 1,
            State::Initialize => {}
        }
        if from == State::Master {
            self.release_master += 1;
        }
        self.transitions += 1;
    }

    /// Counts an advert dropped for `reason`.
    pub(super) fn drop_advert(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_own_count() {
        let mut s = Stats::default();
        for (i, r) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(r as usize, i, "ALL is in declaration order");
            s.drop_advert(r);
        }
        s.drop_advert(DropReason::LowerPriority);
        assert_eq!(s.dropped(DropReason::LowerPriority), 2);
        assert_eq!(s.dropped(DropReason::NotRunning), 1);
    }
}
