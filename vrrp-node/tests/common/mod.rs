//! Helpers shared by the state-machine tests: addresses, times, configs, a router driven to
//! a state, and its actions drained.
#![allow(dead_code)] // each test file uses its own subset

use core::net::{IpAddr, Ipv4Addr};

use vrrp_node::fsm::*;
use vrrp_proto::Version;

/// 198.18.0.`last`.
pub fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, last))
}

/// `ms` milliseconds after the start.
pub fn t(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

/// VRID 7 at 198.18.0.10.
pub fn cfg(version: Version, prio: u8) -> RouterConfig {
    RouterConfig::new(7, version, prio, ip(10))
}

pub fn router(c: RouterConfig) -> VirtualRouter {
    VirtualRouter::new(c).expect("valid config")
}

pub fn drain(vr: &mut VirtualRouter) -> Vec<Action> {
    std::iter::from_fn(|| vr.poll_action()).collect()
}

/// Actions without observations, for checking what the driver must do.
pub fn effects(vr: &mut VirtualRouter) -> Vec<Action> {
    drain(vr)
        .into_iter()
        .filter(|a| !matches!(a, Action::Observe(_)))
        .collect()
}

/// An advert for VRID 7 from 198.18.0.`from`.
pub fn adv(from: u8, prio: u8, interval: u16, version: Version) -> Event {
    Event::Advert(Advert {
        source: ip(from),
        version,
        vrid: 7,
        priority: prio,
        max_advert_interval: interval,
    })
}

/// A v3 advert with a 1 s interval from 198.18.0.`from`.
pub fn adv3(from: u8, prio: u8) -> Event {
    adv(from, prio, 100, Version::V3)
}

/// Whether `actions` include an advert dropped for `reason`.
pub fn dropped(actions: &[Action], reason: DropReason) -> bool {
    actions.iter().any(|a| {
        matches!(a, Action::Observe(Observation::AdvertDropped { reason: r, .. }) if *r == reason)
    })
}

/// Started at time zero, its start-up actions drained.
pub fn started(c: RouterConfig) -> VirtualRouter {
    let mut vr = router(c);
    vr.handle(Instant::ZERO, Event::Startup);
    drain(&mut vr);
    vr
}

/// Started and, if it came up as Backup, timed out into Master; actions drained.
pub fn master(c: RouterConfig) -> VirtualRouter {
    let mut vr = started(c);
    if vr.state() == State::Backup {
        let d = vr.next_deadline().expect("down timer");
        vr.handle_timeout(d);
    }
    assert_eq!(vr.state(), State::Master);
    drain(&mut vr);
    vr
}
