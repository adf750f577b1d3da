//! RFC 5798/9568/3768 and keepalived behaviour of one `VirtualRouter`, event by event: the
//! election (startup, timers, adverts, preemption, tie-breaks, drops). Tracking, faults,
//! GARP timing, settings and sync groups are in `fsm_keepalived.rs`.
#![allow(clippy::unwrap_used)]

use core::net::{IpAddr, Ipv6Addr};

use vrrp_node::fsm::*;
use vrrp_proto::Version;

mod common;
use common::*;

#[test]
fn owner_goes_master_at_once_and_advertises() {
    let mut vr = router(cfg(Version::V3, 255));
    vr.handle(t(0), Event::Startup);
    assert_eq!(vr.state(), State::Master);
    assert_eq!(
        effects(&mut vr),
        vec![
            Action::InstallVips,
            Action::SendAdvert {
                priority: 255,
                max_advert_interval: 100
            },
            Action::SendGarp {
                count: 5,
                reason: GarpReason::Transition
            },
            Action::Notify {
                state: State::Master
            },
        ]
    );
    assert_eq!(vr.next_deadline(), Some(t(1000)));
    vr.handle_timeout(t(1000));
    assert_eq!(
        effects(&mut vr),
        vec![Action::SendAdvert {
            priority: 255,
            max_advert_interval: 100
        }]
    );
}

#[test]
fn master_down_interval_per_version() {
    // v3, prio 100, 100 cs: skew = 156*100/256 = 60 cs, MDI = 360 cs.
    let vr = started(cfg(Version::V3, 100));
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.skew_time(), Duration::from_centis(60));
    assert_eq!(vr.next_deadline(), Some(t(3600)));
    // v2, prio 100, 1 s: skew = 156/256 s = 609375 us, exactly.
    let vr = started(cfg(Version::V2, 100));
    assert_eq!(vr.skew_time(), Duration::from_micros(609_375));
    assert_eq!(
        vr.next_deadline(),
        Some(t(3000) + Duration::from_micros(609_375))
    );
    // Free functions agree.
    assert_eq!(
        master_down_interval(Version::V3, 254, 100),
        Duration::from_centis(300)
    );
    assert_eq!(
        skew_time(Version::V3, 1, 4095),
        Duration::from_centis(255 * 4095 / 256)
    );
}

#[test]
fn backup_resets_down_timer_on_master_adverts_and_takes_over_when_they_stop() {
    let mut vr = started(cfg(Version::V3, 100));
    for s in 1..=5u64 {
        vr.handle(t(s * 1000), adv3(20, 150));
        assert_eq!(vr.state(), State::Backup);
        assert_eq!(vr.next_deadline(), Some(t(s * 1000 + 3600)));
    }
    assert!(effects(&mut vr).is_empty());
    vr.handle_timeout(t(5000 + 3599));
    assert_eq!(vr.state(), State::Backup);
    vr.handle_timeout(t(5000 + 3600));
    assert_eq!(vr.state(), State::Master);
    let a = drain(&mut vr);
    assert!(a.contains(&Action::Observe(Observation::StateChanged {
        from: State::Backup,
        to: State::Master,
        reason: TransitionReason::MasterDown
    })));
    assert!(a.contains(&Action::SendAdvert {
        priority: 100,
        max_advert_interval: 100
    }));
}

#[test]
fn preempting_backup_ignores_lower_master_and_nopreempt_accepts_it() {
    let mut vr = started(cfg(Version::V3, 200));
    let first = vr.next_deadline();
    vr.handle(t(1000), adv3(20, 100));
    assert!(dropped(&drain(&mut vr), DropReason::LowerPriority));
    assert_eq!(
        vr.next_deadline(),
        first,
        "lower advert must not reset the timer"
    );

    let mut c = cfg(Version::V3, 200);
    c.preempt = false;
    let mut vr = started(c);
    vr.handle(t(1000), adv3(20, 100));
    assert!(drain(&mut vr).is_empty());
    // 200: skew = 56*100/256 = 21 cs.
    assert_eq!(vr.next_deadline(), Some(t(1000 + 3210)));
}

#[test]
fn equal_priority_in_backup_is_accepted_whatever_the_address() {
    let mut vr = started(cfg(Version::V3, 100));
    vr.handle(t(500), adv3(5, 100)); // lower address than ours (.10)
    assert_eq!(vr.next_deadline(), Some(t(500 + 3600)));
}

#[test]
fn preempt_delay_accepts_lower_master_for_the_delay_then_preempts() {
    let mut c = cfg(Version::V3, 200);
    c.preempt_delay = Duration::from_secs(10);
    let mut vr = started(c);
    for s in 1..=10u64 {
        vr.handle(t(s * 1000), adv3(20, 100));
        assert!(drain(&mut vr).is_empty(), "accepted during delay at {s}s");
    }
    // Window opened at 1 s, closes at 11 s.
    vr.handle(t(11_000), adv3(20, 100));
    assert!(dropped(&drain(&mut vr), DropReason::LowerPriority));
    assert_eq!(vr.next_deadline(), Some(t(10_000 + 3210)));
    vr.handle_timeout(t(13_210));
    assert_eq!(vr.state(), State::Master);
}

#[test]
fn priority_zero_makes_backup_take_over_after_skew_time() {
    let mut vr = started(cfg(Version::V3, 100));
    vr.handle(t(1000), adv3(20, 150));
    vr.handle(t(1500), adv3(20, 0));
    let a = drain(&mut vr);
    assert!(a.contains(&Action::Observe(Observation::MasterLeaving {
        source: ip(20)
    })));
    assert_eq!(vr.next_deadline(), Some(t(1500 + 600)));
    vr.handle_timeout(t(2100));
    assert_eq!(vr.state(), State::Master);
}

#[test]
fn master_shutdown_sends_priority_zero_and_removes_vips() {
    let mut vr = master(cfg(Version::V3, 100));
    vr.handle(t(5000), Event::Shutdown);
    assert_eq!(vr.state(), State::Initialize);
    assert_eq!(
        effects(&mut vr),
        vec![
            Action::SendAdvert {
                priority: 0,
                max_advert_interval: 100
            },
            Action::RemoveVips,
            Action::Notify {
                state: State::Initialize
            }
        ]
    );
    assert_eq!(vr.next_deadline(), None);
    vr.handle(t(6000), Event::Shutdown);
    assert!(
        drain(&mut vr).contains(&Action::Observe(Observation::EventIgnored {
            state: State::Initialize,
            what: Ignored::Shutdown
        }))
    );
}

#[test]
fn master_yields_to_higher_priority_and_learns_its_interval() {
    let mut vr = master(cfg(Version::V3, 100));
    vr.handle(t(4000), adv(20, 101, 50, Version::V3));
    assert_eq!(vr.state(), State::Backup);
    let a = drain(&mut vr);
    assert!(a.contains(&Action::RemoveVips));
    assert!(
        !a.iter()
            .any(|x| matches!(x, Action::SendAdvert { priority: 0, .. })),
        "no priority 0 when another Master took over"
    );
    assert!(
        a.contains(&Action::Observe(Observation::MasterIntervalLearned {
            from_cs: 100,
            to_cs: 50
        }))
    );
    // MDI with 50 cs: 150 + 156*50/256 = 150 + 30 = 180 cs.
    assert_eq!(vr.next_deadline(), Some(t(4000 + 1800)));
}

#[test]
fn equal_priority_tie_broken_by_higher_primary_address() {
    let mut vr = master(cfg(Version::V3, 100));
    vr.handle(t(4000), adv3(9, 100));
    assert_eq!(vr.state(), State::Master);
    let a = drain(&mut vr);
    assert!(dropped(&a, DropReason::LowerPriority));
    assert!(a.contains(&Action::SendAdvert {
        priority: 100,
        max_advert_interval: 100
    }));
    vr.handle(t(4100), adv3(11, 100));
    assert_eq!(vr.state(), State::Backup);
    assert!(
        drain(&mut vr).contains(&Action::Observe(Observation::StateChanged {
            from: State::Master,
            to: State::Backup,
            reason: TransitionReason::EqualPriorityHigherAddress
        }))
    );
}

#[test]
fn ipv6_tie_break_compares_addresses_as_unsigned_bytes() {
    let me = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x10));
    let mut vr = master(RouterConfig::new(7, Version::V3, 100, me));
    let higher = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xff00));
    vr.handle(
        t(4000),
        Event::Advert(Advert {
            source: higher,
            version: Version::V3,
            vrid: 7,
            priority: 100,
            max_advert_interval: 100,
        }),
    );
    assert_eq!(vr.state(), State::Backup);

    // And the other side: the Master with the higher address keeps its place.
    let mut vr = master(RouterConfig::new(7, Version::V3, 100, higher));
    vr.handle(
        t(4000),
        Event::Advert(Advert {
            source: me,
            version: Version::V3,
            vrid: 7,
            priority: 100,
            max_advert_interval: 100,
        }),
    );
    assert_eq!(vr.state(), State::Master);
}

#[test]
fn master_answers_lower_priority_with_an_advert_and_garps_now_and_later() {
    let mut vr = master(cfg(Version::V3, 100));
    vr.handle(t(4200), adv3(20, 50));
    assert_eq!(
        effects(&mut vr),
        vec![
            Action::SendAdvert {
                priority: 100,
                max_advert_interval: 100
            },
            // keepalived's defaults: garp_lower_prio_repeat = garp_master_repeat = 5.
            Action::SendGarp {
                count: 5,
                reason: GarpReason::LowerPriority
            }
        ]
    );
    assert_eq!(vr.next_deadline(), Some(t(5200)), "adver timer reset");
    // garp_lower_prio_delay = garp_master_delay = 5 s: once more then.
    let garps_until = |vr: &mut VirtualRouter, until: u64| {
        let mut garps = Vec::new();
        while let Some(at) = vr.next_deadline().filter(|&at| at <= t(until)) {
            vr.handle_timeout(at);
            garps.extend(effects(vr).into_iter().filter_map(|a| match a {
                Action::SendGarp { count, reason } => Some((at, count, reason)),
                _ => None,
            }));
        }
        garps
    };
    assert!(
        garps_until(&mut vr, 9199)
            .iter()
            .all(|g| g.2 != GarpReason::LowerPriorityDelayed),
        "not before the delay"
    );
    assert_eq!(
        garps_until(&mut vr, 9200),
        vec![(t(9200), 5, GarpReason::LowerPriorityDelayed)]
    );
}

#[test]
fn lower_priority_garps_follow_their_settings() {
    let mut c = cfg(Version::V3, 100);
    c.lower_prio_no_advert = true;
    c.garp.lower_prio_repeat = 2;
    c.garp.lower_prio_delay = Duration::ZERO;
    let mut vr = master(c.clone());
    vr.handle(t(4200), adv3(20, 50));
    assert_eq!(
        effects(&mut vr),
        vec![Action::SendGarp {
            count: 2,
            reason: GarpReason::LowerPriority
        }]
    );
    while let Some(at) = vr.next_deadline().filter(|&at| at <= t(10_000)) {
        vr.handle_timeout(at);
        assert!(
            !effects(&mut vr).contains(&Action::SendGarp {
                count: 2,
                reason: GarpReason::LowerPriorityDelayed
            }),
            "garp_lower_prio_delay 0: no second burst"
        );
    }

    c.garp.lower_prio_repeat = 0;
    let mut vr = master(c);
    vr.handle(t(4200), adv3(20, 50));
    assert_eq!(
        effects(&mut vr),
        vec![],
        "repeat 0: neither advert nor GARP"
    );
}

#[test]
fn a_master_that_goes_backup_sends_no_delayed_lower_priority_garps() {
    let mut vr = master(cfg(Version::V3, 100));
    vr.handle(t(4200), adv3(20, 50));
    vr.handle(t(4300), adv3(30, 200));
    assert_eq!(vr.state(), State::Backup);
    effects(&mut vr);
    // The higher-priority Master advertises every second, past the lower-priority delay.
    for ms in (5300..=10_300).step_by(1000) {
        while let Some(at) = vr.next_deadline().filter(|&at| at < t(ms)) {
            vr.handle_timeout(at);
        }
        vr.handle(t(ms), adv3(30, 200));
        assert!(
            !effects(&mut vr)
                .iter()
                .any(|a| matches!(a, Action::SendGarp { .. })),
            "a Backup sends no GARP (until {ms} ms)"
        );
    }
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn with_higher_prio_send_advert_a_master_advertises_once_before_it_yields() {
    let mut c = cfg(Version::V3, 100);
    let mut vr = master(c.clone());
    vr.handle(t(4200), adv3(30, 200));
    assert!(
        !effects(&mut vr)
            .iter()
            .any(|a| matches!(a, Action::SendAdvert { .. })),
        "keepalived's default: no advert"
    );

    c.higher_prio_send_advert = true;
    let mut vr = master(c);
    vr.handle(t(4200), adv3(30, 200));
    let actions = effects(&mut vr);
    let advert = actions.iter().position(|a| {
        *a == Action::SendAdvert {
            priority: 100,
            max_advert_interval: 100,
        }
    });
    let removal = actions.iter().position(|a| *a == Action::RemoveVips);
    assert!(advert.is_some() && advert < removal, "{actions:?}");
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn master_hearing_priority_zero_advertises_at_once() {
    let mut vr = master(cfg(Version::V3, 100));
    vr.handle(t(4200), adv3(20, 0));
    assert_eq!(vr.state(), State::Master);
    assert_eq!(
        effects(&mut vr),
        vec![Action::SendAdvert {
            priority: 100,
            max_advert_interval: 100
        }]
    );
}

#[test]
fn invalid_adverts_are_dropped_with_a_reason() {
    let mut vr = started(cfg(Version::V2, 100));
    let before = vr.next_deadline();
    let cases = [
        (
            Event::Advert(Advert {
                source: ip(20),
                version: Version::V2,
                vrid: 8,
                priority: 200,
                max_advert_interval: 1,
            }),
            DropReason::WrongVrid,
        ),
        (adv(20, 200, 100, Version::V3), DropReason::WrongVersion),
        (adv(10, 200, 1, Version::V2), DropReason::OwnAddress),
        (adv(20, 200, 2, Version::V2), DropReason::IntervalMismatch),
        (adv(20, 200, 0, Version::V2), DropReason::ZeroInterval),
        (
            Event::Advert(Advert {
                source: IpAddr::V6(Ipv6Addr::LOCALHOST),
                version: Version::V2,
                vrid: 7,
                priority: 200,
                max_advert_interval: 1,
            }),
            DropReason::AddressFamily,
        ),
    ];
    for (ev, reason) in cases {
        vr.handle(t(100), ev);
        assert!(dropped(&drain(&mut vr), reason), "{reason:?}");
    }
    assert_eq!(vr.next_deadline(), before);
    // A good v2 advert is accepted.
    vr.handle(t(100), adv(20, 200, 1, Version::V2));
    assert!(drain(&mut vr).is_empty());
    assert_ne!(vr.next_deadline(), before);

    let mut idle = router(cfg(Version::V3, 100));
    idle.handle(t(0), adv3(20, 100));
    assert!(dropped(&drain(&mut idle), DropReason::NotRunning));
}
