//! keepalived behaviour of one `VirtualRouter` beyond the RFC's election, event by event:
//! tracked checks and priorities, faults, `state MASTER`, GARP timing, settings
//! validation, sync groups.
#![allow(clippy::unwrap_used)]

use core::net::{IpAddr, Ipv6Addr};

use vrrp_node::fsm::*;
use vrrp_proto::Version;

mod common;
use common::*;

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
fn value_track_weight_zero_faults_on_any_non_zero_value_and_recovers_at_zero() {
    // keepalived's track_file with weight 0: 0 is OK, anything else a failure.
    let mut c = cfg(Version::V3, 100);
    c.tracks = vec![TrackConfig::value(0, 0)];
    let mut vr = master(c);
    assert_eq!(vr.track_value(TrackId(0)), Some(0));
    vr.handle(
        t(4100),
        Event::TrackValue {
            id: TrackId(0),
            value: 3,
        },
    );
    assert_eq!(vr.state(), State::Fault);
    assert_eq!(vr.track_up(TrackId(0)), Some(false));
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
    // Another non-zero value: still Fault, nothing new.
    vr.handle(
        t(4200),
        Event::TrackValue {
            id: TrackId(0),
            value: -1,
        },
    );
    assert_eq!(vr.state(), State::Fault);
    assert!(effects(&mut vr).is_empty());
    vr.handle(
        t(5000),
        Event::TrackValue {
            id: TrackId(0),
            value: 0,
        },
    );
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.priority(), 100);
}

#[test]
fn value_track_moves_priority_by_value_times_weight_and_faults_at_minus_254() {
    let mut c = cfg(Version::V3, 100);
    c.tracks = vec![TrackConfig::value(10, 2)];
    let mut vr = master(c);
    assert_eq!(vr.priority(), 120);
    vr.handle(
        t(4100),
        Event::TrackValue {
            id: TrackId(0),
            value: -3,
        },
    );
    assert_eq!(vr.priority(), 70);
    assert_eq!(vr.state(), State::Master);
    assert!(drain(&mut vr).contains(&Action::SendAdvert {
        priority: 70,
        max_advert_interval: 100
    }));
    // -26 × 10 is below -253: keepalived's fault.
    vr.handle(
        t(4200),
        Event::TrackValue {
            id: TrackId(0),
            value: -26,
        },
    );
    assert_eq!(vr.state(), State::Fault);
    let a = drain(&mut vr);
    assert!(a.contains(&Action::SendAdvert {
        priority: 0,
        max_advert_interval: 100
    }));
    assert!(!a.contains(&Action::SendAdvert {
        priority: 100,
        max_advert_interval: 100
    }));
    // Out of the fault with the value's priority.
    vr.handle(
        t(4300),
        Event::TrackValue {
            id: TrackId(0),
            value: 5,
        },
    );
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.priority(), 150);
    // A value starting in the faulting range starts in Fault.
    let mut c = cfg(Version::V3, 100);
    c.tracks = vec![TrackConfig::value(-254, 1)];
    let vr = started(c);
    assert_eq!(vr.state(), State::Fault);
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
        initial_value: None,
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
