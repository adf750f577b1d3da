//! Random event sequences against one router: no panic, and the state machine's own
//! invariants hold after every event (VIPs iff Master, timers per state, no timer left in the
//! past after `handle_timeout`, adverts carry the effective priority or 0 when leaving).
//! Reloads come among the events: new random settings, taken in place (the invariants still
//! hold) or refused with nothing changed.

use core::net::{IpAddr, Ipv4Addr};

use vrrp_node::fsm::*;
use vrrp_node::sim::Rng;
use vrrp_proto::Version;

fn pick<T: Copy>(rng: &mut Rng, xs: &[T]) -> T {
    xs[usize::try_from(rng.below(xs.len() as u64)).unwrap_or(0)]
}

fn config(rng: &mut Rng) -> RouterConfig {
    let version = pick(rng, &[Version::V2, Version::V3]);
    config_for(rng, version)
}

fn config_for(rng: &mut Rng, version: Version) -> RouterConfig {
    let prio = pick(rng, &[1u8, 50, 100, 200, 254, 255]);
    let mut c = RouterConfig::new(7, version, prio, IpAddr::V4(Ipv4Addr::new(198, 18, 0, 10)));
    c.advert_interval_cs = match version {
        Version::V2 => pick(rng, &[100u16, 300]),
        Version::V3 => pick(rng, &[1u16, 20, 100, 4095]),
    };
    c.preempt = rng.chance(700);
    c.preempt_delay = Duration::from_millis(pick(rng, &[0u64, 0, 1500]));
    c.initial_state = pick(rng, &[InitialState::Backup, InitialState::Master]);
    c.lower_prio_no_advert = rng.chance(200);
    c.sync_group_member = rng.chance(200);
    c.garp.master_delay = Duration::from_millis(pick(rng, &[0u64, 5000]));
    c.garp.master_refresh = Duration::from_millis(pick(rng, &[0u64, 0, 2000]));
    c.garp.lower_prio_repeat = pick(rng, &[0u8, 1]);
    for _ in 0..rng.below(3) {
        c.tracks.push(TrackConfig {
            weight: pick(rng, &[-254i16, -50, 0, 10, 254]),
            initially_up: rng.chance(800),
            initial_value: None,
        });
    }
    c
}

/// One input to the router: an event, or its timers' expiry (`handle_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Event(Event),
    Timeout,
}

fn input(rng: &mut Rng, version: Version) -> Input {
    let event = match rng.below(12) {
        0 => Event::Startup,
        1 => Event::Shutdown,
        2 => Event::Track {
            id: TrackId(u16::try_from(rng.below(4)).unwrap_or(0)),
            up: rng.chance(500),
        },
        3 => pick(rng, &[Event::InterfaceDown, Event::InterfaceUp]),
        4 => pick(rng, &[Event::FaultSet, Event::FaultCleared]),
        5 => Event::Sync(pick(
            rng,
            &[
                SyncCommand::BecomeMaster,
                SyncCommand::BecomeBackup,
                SyncCommand::Fault,
                SyncCommand::FaultCleared,
            ],
        )),
        6 => return Input::Timeout,
        _ => Event::Advert(Advert {
            source: IpAddr::V4(Ipv4Addr::new(198, 18, 0, pick(rng, &[9u8, 10, 11]))),
            version: if rng.chance(950) {
                version
            } else {
                Version::V2
            },
            vrid: if rng.chance(950) { 7 } else { 8 },
            priority: pick(rng, &[0u8, 1, 50, 100, 200, 254, 255]),
            max_advert_interval: pick(rng, &[0u16, 1, 3, 20, 100, 4095, 65535]),
        }),
    };
    Input::Event(event)
}

/// One seed's router and what the checks need to know of it.
struct Run {
    seed: u64,
    rng: Rng,
    cfg: RouterConfig,
    version: Version,
    base: u8,
    adv: Duration,
    vr: VirtualRouter,
    vips: bool,
    now: Instant,
    /// Reloads taken and refused.
    reloads: (u32, u32),
}

impl Run {
    fn new(seed: u64) -> Run {
        let mut rng = Rng::new(seed);
        let cfg = config(&mut rng);
        Run {
            seed,
            version: cfg.version,
            base: cfg.priority,
            adv: Duration::from_centis(u64::from(cfg.advert_interval_cs)),
            vr: VirtualRouter::new(cfg.clone()).expect("generated configs are valid"),
            cfg,
            rng,
            vips: false,
            now: Instant::ZERO,
            reloads: (0, 0),
        }
    }

    /// A reload: mostly the same version (taken unless owner, sync group or fault status
    /// change), sometimes the other one (always refused).
    fn reload(&mut self, step: u32) {
        let (seed, version) = (self.seed, self.version);
        let v = if self.rng.chance(900) {
            version
        } else {
            pick(&mut self.rng, &[Version::V2, Version::V3])
        };
        let new = config_for(&mut self.rng, v);
        let vr = &mut self.vr;
        let state = vr.state();
        let (prio, deadline) = (vr.priority(), vr.next_deadline());
        let verdict = vr.check_reconfigure(&new);
        let taken = vr.reconfigure(self.now, new.clone());
        assert_eq!(
            taken, verdict,
            "seed {seed} step {step}: check and apply agree"
        );
        assert_eq!(
            vr.state(),
            state,
            "seed {seed} step {step}: a reload keeps the state"
        );
        match taken {
            Ok(()) => {
                self.reloads.0 += 1;
                self.cfg = new;
                self.base = self.cfg.priority;
                self.adv = Duration::from_centis(u64::from(self.cfg.advert_interval_cs));
                // In place: no VIP change, no notify; adverts carry the new priority.
                while let Some(a) = vr.poll_action() {
                    match a {
                        Action::SendAdvert { priority, .. } => {
                            assert_eq!(state, State::Master, "seed {seed} step {step}");
                            assert_eq!(priority, vr.priority(), "seed {seed} step {step}");
                        }
                        Action::Observe(_) => {}
                        other => panic!("seed {seed} step {step}: a reload did {other:?}"),
                    }
                }
                if state == State::Master {
                    let d = vr.next_deadline().expect("Master has an Adver_Timer");
                    assert!(
                        d <= self.now + self.adv,
                        "seed {seed} step {step}: new interval"
                    );
                }
            }
            Err(e) => {
                self.reloads.1 += 1;
                assert_eq!(vr.priority(), prio, "seed {seed} step {step} {e}");
                assert_eq!(vr.next_deadline(), deadline, "seed {seed} step {step} {e}");
                assert_eq!(vr.poll_action(), None, "seed {seed} step {step} {e}");
                if v != version {
                    assert_eq!(e, ReconfigureError::Version, "seed {seed} step {step}");
                }
            }
        }
    }

    /// The next input: sometimes the timers at the next deadline, sometimes an event
    /// somewhere before it.
    fn next_input(&mut self) -> Input {
        if self.rng.chance(400) {
            match self.vr.next_deadline() {
                Some(d) => {
                    self.now = self.now.max(d);
                    Input::Timeout
                }
                None => input(&mut self.rng, self.version),
            }
        } else {
            self.now += Duration::from_micros(self.rng.below(2_000_000));
            input(&mut self.rng, self.version)
        }
    }

    /// Hands the router one input and checks its actions and the invariants after it.
    fn input(&mut self, step: u32) {
        let ev = self.next_input();
        let before = self.vr.state();
        match ev {
            Input::Event(e) => self.vr.handle(self.now, e),
            Input::Timeout => self.vr.handle_timeout(self.now),
        }
        let (seed, cfg) = (self.seed, &self.cfg);
        let ctx = |vr: &VirtualRouter| {
            format!(
                "seed {seed} step {step} {ev:?} {before} -> {} cfg {cfg:?}",
                vr.state()
            )
        };
        let vr = &mut self.vr;
        let mut last_notify = None;
        while let Some(a) = vr.poll_action() {
            match a {
                Action::InstallVips => {
                    assert!(!self.vips, "installed twice: {}", ctx(vr));
                    self.vips = true;
                }
                Action::RemoveVips => {
                    assert!(self.vips, "removed while not installed: {}", ctx(vr));
                    self.vips = false;
                }
                Action::SendAdvert { priority, .. } => {
                    if priority == 0 {
                        assert_eq!(before, State::Master, "{}", ctx(vr));
                        assert!(
                            matches!(vr.state(), State::Fault | State::Initialize),
                            "{}",
                            ctx(vr)
                        );
                    } else {
                        assert_eq!(priority, vr.priority(), "{}", ctx(vr));
                    }
                }
                Action::Notify { state } => last_notify = Some(state),
                _ => {}
            }
        }
        if let Some(s) = last_notify {
            assert_eq!(s, vr.state(), "{}", ctx(vr));
        }
        assert_eq!(self.vips, vr.state() == State::Master, "{}", ctx(vr));
        let p = vr.priority();
        assert!(p >= 1 && (p == 255) == (self.base == 255), "{}", ctx(vr));
        let deadline = vr.next_deadline();
        match vr.state() {
            State::Initialize | State::Fault => assert_eq!(deadline, None, "{}", ctx(vr)),
            State::Master => {
                let d = deadline.expect("Master has an Adver_Timer");
                assert!(d <= self.now + self.adv, "{}", ctx(vr));
            }
            State::Backup if vr.is_ready_for_master() => {
                assert_eq!(
                    deadline,
                    None,
                    "ready members wait without a timer: {}",
                    ctx(vr)
                );
            }
            State::Backup => {
                let d = deadline.expect("Backup has a Master_Down_Timer");
                // At most 3 intervals plus a skew below one interval, of the largest interval.
                assert!(
                    d <= self.now + Duration::from_centis(4 * 4095),
                    "{}",
                    ctx(vr)
                );
            }
        }
        if ev == Input::Timeout {
            let now = self.now;
            assert!(
                deadline.is_none_or(|d| d > now),
                "timer left in the past: {}",
                ctx(vr)
            );
        }
    }
}

/// Runs one seed's sequence; returns how many reloads were taken and refused.
fn check_sequence(seed: u64) -> (u32, u32) {
    let mut run = Run::new(seed);
    for step in 0..60 {
        if run.rng.chance(80) {
            run.reload(step);
        }
        run.input(step);
    }
    run.reloads
}

#[test]
fn random_event_sequences_keep_the_invariants() {
    let (mut taken, mut refused) = (0, 0);
    for seed in 0..20_000 {
        let (t, r) = check_sequence(seed);
        taken += t;
        refused += r;
    }
    // Both paths of a reload are exercised, many times.
    assert!(
        taken > 10_000 && refused > 1_000,
        "{taken} taken, {refused} refused"
    );
}
