//! RFC 5798/9568/3768 and keepalived behaviour of one `VirtualRouter`, event by event.
#![allow(clippy::unwrap_used)]

use core::net::{IpAddr, Ipv6Addr};

use vrrp_node::fsm::*;
use vrrp_proto::Version;

mod common;
use common::*;

fn adv3(from: u8, prio: u8) -> Event {
    adv(from, prio, 100, Version::V3)
}

fn dropped(actions: &[Action], reason: DropReason) -> bool {
    actions.iter().any(|a| {
        matches!(a, Action::Observe(Observation::AdvertDropped { reason: r, .. }) if *r == reason)
    })
}

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
fn master_answers_lower_priority_at_once_unless_configured_not_to() {
    let mut vr = master(cfg(Version::V3, 100));
    vr.handle(t(4200), adv3(20, 50));
    assert!(effects(&mut vr).contains(&Action::SendAdvert {
        priority: 100,
        max_advert_interval: 100
    }));
    assert_eq!(vr.next_deadline(), Some(t(5200)), "adver timer reset");

    let mut c = cfg(Version::V3, 100);
    c.lower_prio_no_advert = true;
    c.garp.lower_prio_repeat = 2;
    let mut vr = master(c);
    vr.handle(t(4200), adv3(20, 50));
    assert_eq!(
        effects(&mut vr),
        vec![Action::SendGarp {
            count: 2,
            reason: GarpReason::LowerPriority
        }]
    );
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

#[test]
fn effective_priority_clamps_and_never_touches_255() {
    assert_eq!(effective_priority(100, [(50, true), (-20, true)]), 150);
    assert_eq!(effective_priority(100, [(50, false), (-20, false)]), 80);
    assert_eq!(effective_priority(10, [(-100, false)]), 1);
    assert_eq!(effective_priority(200, [(100, true)]), 254);
    assert_eq!(effective_priority(255, [(-100, false)]), 255);
    assert_eq!(effective_priority(100, [(0, false)]), 100);
}

#[test]
fn track_changes_priority_and_master_advertises_it_at_once() {
    let mut c = cfg(Version::V3, 100);
    c.tracks = vec![TrackConfig::new(-30), TrackConfig::new(20)];
    let mut vr = master(c);
    assert_eq!(vr.priority(), 120);
    vr.handle(
        t(4100),
        Event::Track {
            id: TrackId(0),
            up: false,
        },
    );
    assert_eq!(vr.priority(), 90);
    let a = drain(&mut vr);
    assert!(a.contains(&Action::Observe(Observation::PriorityChanged {
        from: 120,
        to: 90
    })));
    assert!(a.contains(&Action::SendAdvert {
        priority: 90,
        max_advert_interval: 100
    }));
    // Same value again: nothing.
    vr.handle(
        t(4200),
        Event::Track {
            id: TrackId(0),
            up: false,
        },
    );
    assert!(drain(&mut vr).is_empty());
    vr.handle(
        t(4300),
        Event::Track {
            id: TrackId(9),
            up: false,
        },
    );
    assert!(
        drain(&mut vr).contains(&Action::Observe(Observation::EventIgnored {
            state: State::Master,
            what: Ignored::UnknownTrack(TrackId(9))
        }))
    );
}

#[test]
fn weight_zero_track_failing_faults_a_master_with_priority_zero() {
    let mut c = cfg(Version::V3, 100);
    c.tracks = vec![TrackConfig::new(0)];
    let mut vr = master(c);
    vr.handle(
        t(4100),
        Event::Track {
            id: TrackId(0),
            up: false,
        },
    );
    assert_eq!(vr.state(), State::Fault);
    assert_eq!(
        effects(&mut vr),
        vec![
            Action::SendAdvert {
                priority: 0,
                max_advert_interval: 100
            },
            Action::RemoveVips,
            Action::Notify {
                state: State::Fault
            }
        ]
    );
    assert_eq!(vr.next_deadline(), None);
    vr.handle(t(4200), adv3(20, 50));
    assert!(dropped(&drain(&mut vr), DropReason::InFault));
    vr.handle(
        t(5000),
        Event::Track {
            id: TrackId(0),
            up: true,
        },
    );
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.next_deadline(), Some(t(5000 + 3600)));
}

#[test]
fn interface_down_faults_and_recovery_goes_backup_or_owner_master() {
    let mut vr = started(cfg(Version::V3, 100));
    vr.handle(t(100), Event::InterfaceDown);
    assert_eq!(vr.state(), State::Fault);
    // Two sources: both must clear.
    vr.handle(t(200), Event::FaultSet);
    vr.handle(t(300), Event::InterfaceUp);
    assert_eq!(vr.state(), State::Fault);
    vr.handle(t(400), Event::FaultCleared);
    assert_eq!(vr.state(), State::Backup);

    let mut owner = master(cfg(Version::V3, 255));
    owner.handle(t(100), Event::InterfaceDown);
    assert_eq!(owner.state(), State::Fault);
    owner.handle(t(200), Event::InterfaceUp);
    assert_eq!(owner.state(), State::Master);
}

#[test]
fn startup_while_faulted_goes_to_fault() {
    let mut c = cfg(Version::V3, 100);
    c.tracks = vec![TrackConfig {
        weight: 0,
        initially_up: false,
    }];
    let mut vr = router(c);
    vr.handle(t(0), Event::Startup);
    assert_eq!(vr.state(), State::Fault);
    assert_eq!(
        effects(&mut vr),
        vec![Action::Notify {
            state: State::Fault
        }]
    );
}

#[test]
fn initial_state_master_takes_over_at_startup_and_yields_to_higher() {
    let mut c = cfg(Version::V3, 100);
    c.initial_state = InitialState::Master;
    let mut vr = router(c);
    vr.handle(t(0), Event::Startup);
    assert_eq!(vr.state(), State::Master);
    drain(&mut vr);
    vr.handle(t(10), adv3(20, 150));
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn garp_bursts_follow_master_delay_and_refresh() {
    let mut c = cfg(Version::V3, 255);
    c.garp.master_refresh = Duration::from_secs(60);
    c.garp.master_refresh_repeat = 2;
    let mut vr = master(c);
    let mut garps = Vec::new();
    let mut now = t(0);
    while now < t(130_000) {
        let Some(d) = vr.next_deadline() else { break };
        now = d;
        vr.handle_timeout(now);
        for a in drain(&mut vr) {
            if let Action::SendGarp { count, reason } = a {
                garps.push((now, count, reason));
            }
        }
    }
    assert_eq!(
        garps,
        vec![
            (t(5000), 5, GarpReason::Delayed),
            (t(60_000), 2, GarpReason::Refresh),
            (t(120_000), 2, GarpReason::Refresh)
        ]
    );
}

#[test]
fn config_validation() {
    let ok = cfg(Version::V3, 100);
    assert!(VirtualRouter::new(ok.clone()).is_ok());
    let mut c = ok.clone();
    c.vrid = 0;
    assert_eq!(VirtualRouter::new(c).err(), Some(ConfigError::VridZero));
    let mut c = ok.clone();
    c.priority = 0;
    assert_eq!(VirtualRouter::new(c).err(), Some(ConfigError::PriorityZero));
    let mut c = ok.clone();
    c.advert_interval_cs = 4096;
    assert!(matches!(
        VirtualRouter::new(c).err(),
        Some(ConfigError::IntervalTooLarge { .. })
    ));
    let mut c = cfg(Version::V2, 100);
    c.advert_interval_cs = 150;
    assert!(matches!(
        VirtualRouter::new(c).err(),
        Some(ConfigError::V2IntervalNotWholeSeconds { .. })
    ));
    let c = RouterConfig::new(7, Version::V2, 100, IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(VirtualRouter::new(c).err(), Some(ConfigError::V2NeedsIpv4));
    let mut c = ok;
    c.tracks = vec![TrackConfig::new(255)];
    assert!(matches!(
        VirtualRouter::new(c).err(),
        Some(ConfigError::WeightOutOfRange { index: 0, .. })
    ));
}

#[test]
fn sync_group_members_fault_and_fail_over_together() {
    let mut a = started(cfg(Version::V3, 100));
    let mut b = started(RouterConfig::new(8, Version::V3, 100, ip(10)));
    let mut group = SyncGroup::new(2);
    // Replay the startup transitions into the group.
    group.observe(
        0,
        &Action::Observe(Observation::StateChanged {
            from: State::Initialize,
            to: State::Backup,
            reason: TransitionReason::Startup,
        }),
    );
    group.observe(
        1,
        &Action::Observe(Observation::StateChanged {
            from: State::Initialize,
            to: State::Backup,
            reason: TransitionReason::Startup,
        }),
    );
    fn pump(now: Instant, group: &mut SyncGroup, rs: &mut [&mut VirtualRouter]) {
        loop {
            for (i, r) in rs.iter_mut().enumerate() {
                while let Some(a) = r.poll_action() {
                    group.observe(i, &a);
                }
            }
            let Some((m, cmd)) = group.poll_command() else {
                break;
            };
            rs[m].handle(now, Event::Sync(cmd));
        }
    }
    // a's timer runs out first (b hears a Master): b follows a to Master.
    b.handle(
        t(1000),
        Event::Advert(Advert {
            source: ip(20),
            version: Version::V3,
            vrid: 8,
            priority: 50,
            max_advert_interval: 100,
        }),
    );
    a.handle_timeout(t(3600));
    pump(t(3600), &mut group, &mut [&mut a, &mut b]);
    assert_eq!((a.state(), b.state()), (State::Master, State::Master));
    // b's interface fails: both Fault.
    b.handle(t(4000), Event::InterfaceDown);
    pump(t(4000), &mut group, &mut [&mut a, &mut b]);
    assert_eq!((a.state(), b.state()), (State::Fault, State::Fault));
    assert!(group.is_faulted());
    b.handle(t(5000), Event::InterfaceUp);
    pump(t(5000), &mut group, &mut [&mut a, &mut b]);
    assert_eq!((a.state(), b.state()), (State::Backup, State::Backup));
    // Both Master again, then a hears a higher Master: b follows to Backup.
    a.handle_timeout(t(8600));
    pump(t(8600), &mut group, &mut [&mut a, &mut b]);
    assert_eq!((a.state(), b.state()), (State::Master, State::Master));
    a.handle(t(9000), adv3(20, 200));
    pump(t(9000), &mut group, &mut [&mut a, &mut b]);
    assert_eq!((a.state(), b.state()), (State::Backup, State::Backup));
    assert_eq!(group.member_state(1), Some(State::Backup));
}

/// From the simulator: v3 routers whose intervals differ threefold or more flap, because a
/// Backup starts with its own interval (RFC 9568 6.4.1) and can time out before a slower
/// Master's next advert. Once it hears that Master it must learn the slower interval and hold.
#[test]
fn backup_with_short_interval_learns_a_slow_masters_interval() {
    let mut c = cfg(Version::V3, 100);
    c.advert_interval_cs = 20;
    let mut vr = started(c);
    // Own interval: 3 * 20 + 156 * 20 / 256 = 60 + 12 cs.
    assert_eq!(vr.next_deadline(), Some(t(720)));
    vr.handle(t(500), adv(20, 200, 100, Version::V3));
    assert_eq!(vr.master_adver_interval_cs(), 100);
    // Learned: 300 + 60 cs.
    assert_eq!(vr.next_deadline(), Some(t(500 + 3600)));
    vr.handle_timeout(t(1720));
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn sync_group_members_wait_for_each_other_before_going_master() {
    let member = |vrid: u8| {
        let mut c = RouterConfig::new(vrid, Version::V3, 100, ip(10));
        c.sync_group_member = true;
        started(c)
    };
    let (mut a, mut b) = (member(1), member(2));
    let mut group = SyncGroup::new(2);
    let startup = Action::Observe(Observation::StateChanged {
        from: State::Initialize,
        to: State::Backup,
        reason: TransitionReason::Startup,
    });
    group.observe(0, &startup);
    group.observe(1, &startup);
    // b still hears its Master; a's timer expires: a only reports ready.
    b.handle(
        t(3000),
        Event::Advert(Advert {
            source: ip(20),
            version: Version::V3,
            vrid: 2,
            priority: 200,
            max_advert_interval: 100,
        }),
    );
    a.handle_timeout(t(3600));
    assert_eq!(a.state(), State::Backup);
    assert!(a.is_ready_for_master());
    assert_eq!(a.next_deadline(), None);
    for act in drain(&mut a) {
        group.observe(0, &act);
    }
    assert_eq!(group.poll_command(), None, "b is not ready");
    // b's Master goes silent too: both ready, both become Master.
    b.handle_timeout(t(6600));
    for act in drain(&mut b) {
        group.observe(1, &act);
    }
    let mut cmds = Vec::new();
    while let Some(c) = group.poll_command() {
        cmds.push(c);
    }
    assert_eq!(
        cmds,
        vec![
            (0, SyncCommand::BecomeMaster),
            (1, SyncCommand::BecomeMaster)
        ]
    );
    a.handle(t(6600), Event::Sync(SyncCommand::BecomeMaster));
    b.handle(t(6600), Event::Sync(SyncCommand::BecomeMaster));
    assert_eq!((a.state(), b.state()), (State::Master, State::Master));
}
