//! New settings for a running router (a reload): taken in place with the state kept, or
//! refused with the reason and nothing changed.
#![allow(clippy::unwrap_used)]

use core::net::{IpAddr, Ipv6Addr};

use vrrp_node::fsm::*;
use vrrp_proto::Version;

mod common;
use common::*;

#[test]
fn a_master_keeps_its_state_and_advertises_a_new_priority_and_interval_at_once() {
    let mut c = cfg(Version::V3, 100);
    let mut vr = master(c.clone());
    c.priority = 150;
    c.advert_interval_cs = 50;
    vr.reconfigure(t(5000), c).unwrap();
    assert_eq!(vr.state(), State::Master);
    assert_eq!(vr.priority(), 150);
    let actions = drain(&mut vr);
    assert!(
        actions.contains(&Action::Observe(Observation::PriorityChanged {
            from: 100,
            to: 150
        }))
    );
    // No VIP churn, no notify, no GARP: only the advert with the new values.
    let effects: Vec<_> = actions
        .into_iter()
        .filter(|a| !matches!(a, Action::Observe(_)))
        .collect();
    assert_eq!(
        effects,
        vec![Action::SendAdvert {
            priority: 150,
            max_advert_interval: 50
        }]
    );
    assert_eq!(
        vr.next_deadline(),
        Some(t(5500)),
        "adverts at the new interval"
    );
}

#[test]
fn an_unrelated_change_sends_nothing() {
    let mut c = cfg(Version::V3, 100);
    let mut vr = master(c.clone());
    let before = vr.next_deadline();
    c.lower_prio_no_advert = true;
    c.garp.lower_prio_repeat = 0;
    vr.reconfigure(t(5000), c).unwrap();
    assert!(drain(&mut vr).is_empty());
    assert_eq!(vr.next_deadline(), before);
    // ... and the new settings apply: a lower advert gets no answer now.
    vr.handle(t(5100), adv(20, 50, 100, Version::V3));
    assert!(effects(&mut vr).is_empty());
}

#[test]
fn a_v2_backup_rearms_its_master_down_timer_for_a_new_interval() {
    let mut c = cfg(Version::V2, 100);
    let mut vr = started(c.clone());
    vr.handle(t(1000), adv(20, 200, 1, Version::V2));
    drain(&mut vr);
    c.advert_interval_cs = 200;
    vr.reconfigure(t(1500), c).unwrap();
    assert_eq!(vr.state(), State::Backup);
    // 3 * 2 s + (256 - 100) / 256 s, from the reload.
    assert_eq!(
        vr.next_deadline(),
        Some(t(1500) + Duration::from_micros(6_609_375))
    );
    // Adverts at the old interval are now a misconfiguration (v2 intervals must agree).
    vr.handle(t(2000), adv(20, 200, 1, Version::V2));
    assert!(
        drain(&mut vr).contains(&Action::Observe(Observation::AdvertDropped {
            source: ip(20),
            reason: DropReason::IntervalMismatch
        }))
    );
}

#[test]
fn turning_preempt_on_makes_a_higher_backup_ignore_a_lower_master() {
    let mut c = cfg(Version::V3, 150);
    c.preempt = false;
    let mut vr = started(c.clone());
    vr.handle(t(1000), adv(20, 100, 100, Version::V3));
    assert!(effects(&mut vr).is_empty(), "accepted: nopreempt");
    c.preempt = true;
    vr.reconfigure(t(1100), c).unwrap();
    vr.handle(t(2000), adv(20, 100, 100, Version::V3));
    assert!(
        drain(&mut vr).contains(&Action::Observe(Observation::AdvertDropped {
            source: ip(20),
            reason: DropReason::LowerPriority
        }))
    );
    // Its timer still runs from the last advert it accepted (t = 1 s): it takes over then.
    let d = vr.next_deadline().unwrap();
    assert_eq!(d, t(1000) + master_down_interval(Version::V3, 150, 100));
    vr.handle_timeout(d);
    assert_eq!(vr.state(), State::Master);
}

#[test]
fn track_weights_and_states_come_from_the_new_config() {
    let mut c = cfg(Version::V3, 100);
    c.tracks = vec![TrackConfig::new(20)];
    let mut vr = master(c.clone());
    assert_eq!(vr.priority(), 120);
    // A second check, failing, with a negative weight; the first one's weight doubled.
    c.tracks = vec![
        TrackConfig::new(40),
        TrackConfig {
            weight: -30,
            initially_up: false,
            initial_value: None,
        },
    ];
    vr.reconfigure(t(5000), c).unwrap();
    assert_eq!(vr.priority(), 110);
    assert_eq!(vr.state(), State::Master);
    // The new track is live: it recovers and the priority follows.
    vr.handle(
        t(5100),
        Event::Track {
            id: TrackId(1),
            up: true,
        },
    );
    assert_eq!(vr.priority(), 140);
}

#[test]
fn what_needs_a_restart_is_refused_and_nothing_changes() {
    let base = cfg(Version::V3, 100);
    let mut vr = master(base.clone());
    let deadline = vr.next_deadline();
    let refuse = |vr: &mut VirtualRouter, c: RouterConfig, want: ReconfigureError| {
        assert_eq!(vr.check_reconfigure(&c), Err(want.clone()));
        assert_eq!(vr.reconfigure(t(5000), c), Err(want));
        assert_eq!(vr.state(), State::Master);
        assert_eq!(vr.priority(), 100);
        assert_eq!(vr.next_deadline(), deadline);
        assert!(drain(vr).is_empty());
    };
    let mut c = base.clone();
    c.vrid = 8;
    refuse(&mut vr, c, ReconfigureError::Vrid);
    let mut c = base.clone();
    c.version = Version::V2;
    refuse(&mut vr, c, ReconfigureError::Version);
    let mut c = base.clone();
    c.primary_address = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    refuse(&mut vr, c, ReconfigureError::Family);
    let mut c = base.clone();
    c.priority = 255;
    refuse(&mut vr, c, ReconfigureError::Owner);
    let mut c = base.clone();
    c.sync_group_member = true;
    refuse(&mut vr, c, ReconfigureError::SyncGroup);
    let mut c = base.clone();
    c.tracks = vec![TrackConfig {
        weight: 0,
        initially_up: false,
        initial_value: None,
    }];
    refuse(&mut vr, c, ReconfigureError::Fault);
    let mut c = base.clone();
    c.advert_interval_cs = 0;
    refuse(
        &mut vr,
        c,
        ReconfigureError::Invalid(ConfigError::IntervalZero),
    );
}

#[test]
fn an_owner_stays_owner_through_an_interval_change() {
    let mut c = cfg(Version::V3, 255);
    let mut vr = started(c.clone());
    assert_eq!(vr.state(), State::Master);
    c.advert_interval_cs = 20;
    vr.reconfigure(t(300), c).unwrap();
    assert_eq!(vr.priority(), 255);
    assert_eq!(
        effects(&mut vr),
        vec![Action::SendAdvert {
            priority: 255,
            max_advert_interval: 20
        }]
    );
}
