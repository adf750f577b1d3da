//! Sync groups under simulation: each host runs two instances (VRID 1 and VRID 2, one
//! simulator each, partitions shared) joined by a `SyncGroup`; interfaces fail one VRID at a
//! time, hosts crash and return, the link loses and duplicates. After the link calms and
//! settles: each VRID has one Master per connected group, and on every host both instances
//! are in the same state, so both VRIDs have their Master on the same host.

use core::net::{IpAddr, Ipv4Addr};

use vrrp_node::fsm::Duration;
use vrrp_node::fsm::{Event, Instant, RouterConfig, State, SyncGroup};
use vrrp_node::sim::{LinkConfig, Rng, Sim};
use vrrp_proto::Version;

struct Pair {
    sims: [Sim; 2],
    groups: Vec<SyncGroup>,
}

impl Pair {
    fn relay(&mut self) {
        for h in 0..self.groups.len() {
            loop {
                for (m, sim) in self.sims.iter_mut().enumerate() {
                    for a in sim.take_actions(h) {
                        if let Some(g) = self.groups.get_mut(h) {
                            g.observe(m, &a);
                        }
                    }
                }
                let Some((m, cmd)) = self.groups.get_mut(h).and_then(SyncGroup::poll_command)
                else {
                    break;
                };
                if let Some(sim) = self.sims.get_mut(m) {
                    sim.inject(h, Event::Sync(cmd));
                }
            }
        }
    }

    fn run_until(&mut self, end: Instant) {
        loop {
            let next = self
                .sims
                .iter()
                .filter_map(Sim::next_event_time)
                .min()
                .filter(|&t| t <= end);
            let Some(t) = next else { break };
            for s in &mut self.sims {
                s.run_until(t);
            }
            self.relay();
        }
        for s in &mut self.sims {
            s.run_until(end);
        }
        self.relay();
    }

    fn now(&self) -> Instant {
        self.sims[0].now()
    }

    fn start(&mut self, h: usize) {
        if self.sims[0].nodes().get(h).is_some_and(|n| n.running()) {
            return;
        }
        // A returning host starts its coordinator afresh, like its instances.
        if let Some(g) = self.groups.get_mut(h) {
            *g = SyncGroup::new(2);
        }
        for s in &mut self.sims {
            s.start(h);
        }
        self.relay();
    }

    fn crash(&mut self, h: usize) {
        for s in &mut self.sims {
            s.crash(h);
            s.take_actions(h);
        }
    }

    fn set_groups(&mut self, g: &[u8]) {
        for s in &mut self.sims {
            s.set_groups(g);
        }
    }

    fn check(&mut self, when: &str) -> Vec<String> {
        let mut out = Vec::new();
        for s in &mut self.sims {
            s.check_single_master(when);
            out.extend(s.violations().iter().cloned());
        }
        for h in 0..self.groups.len() {
            let st = |s: &Sim| {
                s.nodes()
                    .get(h)
                    .filter(|n| n.running())
                    .map(|n| n.router().state())
            };
            let (a, b) = (st(&self.sims[0]), st(&self.sims[1]));
            if a != b {
                out.push(format!("{when}: host {h}: VRID 1 {a:?}, VRID 2 {b:?}"));
            }
        }
        out
    }
}

/// Two virtual routers (VRID 1 and 2) on 2 to 4 hosts, one sync group per host: a chaos
/// phase of crashes, restarts, partitions and interface flaps, then a calm link; after
/// settling both VRIDs agree on every host and nothing changes any more. Returns the
/// problems found and a report.
fn run(seed: u64, trace: bool) -> (Vec<String>, String) {
    let mut rng = Rng::new(seed);
    let (mut p, summary, delay_max) = setup(&mut rng, seed, trace);
    let hosts = p.groups.len();
    for h in 0..hosts {
        let t = p.now() + Duration::from_micros(rng.below(1_000_000));
        p.run_until(t);
        p.start(h);
    }
    chaos(&mut p, &mut rng);
    for s in &mut p.sims {
        s.set_link(LinkConfig::calm(Duration::ZERO, delay_max));
    }
    if rng.chance(500) {
        p.set_groups(&vec![0; hosts]);
    }
    // Settle: v2 interval 1 s, v3 default 100 cs.
    let t = p.now() + Duration::from_secs(12);
    p.run_until(t);
    let mut v = p.check("after settling");
    let before: u64 = p.sims.iter().map(Sim::total_transitions).sum();
    let t = p.now() + Duration::from_secs(3);
    p.run_until(t);
    let after: u64 = p.sims.iter().map(Sim::total_transitions).sum();
    if before != after {
        v.push("state changed after settling".into());
    }
    let mut report = summary;
    if !v.is_empty() {
        for s in &p.sims {
            report.push('\n');
            report.push_str(&s.describe());
            for l in s.trace().unwrap_or_default().iter().rev().take(150).rev() {
                report.push_str("\n  ");
                report.push_str(l);
            }
        }
    }
    (v, report)
}

/// The pair of simulations drawn from `rng`, its summary and the link's delay bound.
fn setup(rng: &mut Rng, seed: u64, trace: bool) -> (Pair, String, Duration) {
    let hosts = usize::try_from(rng.range(2, 4)).unwrap_or(2);
    let version = if rng.chance(500) {
        Version::V3
    } else {
        Version::V2
    };
    // Half the seeds with keepalived's wait-for-every-member, half without.
    let sync_wait = rng.chance(500);
    let prios: Vec<u8> = (0..hosts)
        .map(|_| [100u8, 100, 150, 200][usize::try_from(rng.below(4)).unwrap_or(0)])
        .collect();
    let delay_max = Duration::from_micros(rng.below(200_000));
    let chaos = LinkConfig {
        delay_min: Duration::ZERO,
        delay_max,
        loss_per_mille: u16::try_from(rng.below(200)).unwrap_or(0),
        dup_per_mille: u16::try_from(rng.below(100)).unwrap_or(0),
        fifo: false,
    };
    let mk = |vrid: u8, seed: u64| {
        let cfgs = (0..hosts)
            .map(|h| {
                let ip = IpAddr::V4(Ipv4Addr::new(198, 18, vrid, 10 + h as u8));
                let mut c = RouterConfig::new(vrid, version, prios[h], ip);
                c.sync_group_member = sync_wait;
                c
            })
            .collect();
        let mut s = Sim::new(seed, chaos, cfgs, trace).expect("valid configs");
        s.record_actions();
        s
    };
    let (s1, s2) = (rng.next_u64(), rng.next_u64());
    let p = Pair {
        sims: [mk(1, s1), mk(2, s2)],
        groups: (0..hosts).map(|_| SyncGroup::new(2)).collect(),
    };
    let summary =
        format!("seed {seed}: {version:?}, priorities {prios:?}, wait {sync_wait}, link {chaos:?}");
    (p, summary, delay_max)
}

/// Up to 10 disruptions, 3 s apart at most: crashes, restarts, partitions, interfaces.
fn chaos(p: &mut Pair, rng: &mut Rng) {
    let hosts = p.groups.len();
    for _ in 0..rng.below(10) {
        let t = p.now() + Duration::from_micros(rng.below(3_000_000));
        p.run_until(t);
        let h = usize::try_from(rng.below(hosts as u64)).unwrap_or(0);
        let m = usize::try_from(rng.below(2)).unwrap_or(0);
        match rng.below(5) {
            0 => p.crash(h),
            1 => p.start(h),
            2 => {
                let g: Vec<u8> = (0..hosts).map(|_| u8::from(rng.chance(500))).collect();
                p.set_groups(&g);
            }
            3 => {
                p.sims[m].interface(h, false);
                p.relay();
            }
            _ => {
                p.sims[m].interface(h, true);
                p.relay();
            }
        }
    }
}

#[test]
fn sync_group_seeds() {
    let n: u64 = std::env::var("VRRP_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(1_000, |n: u64| n / 10 + 1);
    for seed in 0..n {
        let (v, _) = run(seed, false);
        if !v.is_empty() {
            let (v, report) = run(seed, true);
            panic!("sync group seed {seed} failed: {v:#?}\n{report}");
        }
    }
}

#[test]
fn sync_group_interface_failure_moves_both_vrids() {
    let calm = LinkConfig::calm(Duration::from_millis(1), Duration::from_millis(5));
    let mk = |vrid: u8| {
        let cfgs = [200u8, 100]
            .iter()
            .enumerate()
            .map(|(h, &prio)| {
                let ip = IpAddr::V4(Ipv4Addr::new(198, 18, vrid, 10 + h as u8));
                RouterConfig::new(vrid, Version::V3, prio, ip)
            })
            .collect();
        let mut s = Sim::new(u64::from(vrid), calm, cfgs, true).expect("valid configs");
        s.record_actions();
        s
    };
    let mut p = Pair {
        sims: [mk(1), mk(2)],
        groups: vec![SyncGroup::new(2), SyncGroup::new(2)],
    };
    let states = |p: &Pair, h: usize| [0, 1].map(|m| p.sims[m].nodes()[h].router().state());
    p.start(0);
    p.start(1);
    p.run_until(Instant::ZERO + Duration::from_secs(10));
    assert_eq!(states(&p, 0), [State::Master; 2]);
    assert_eq!(states(&p, 1), [State::Backup; 2]);
    // Only VRID 1's interface fails on host 0: both its instances go to Fault.
    p.sims[0].interface(0, false);
    p.relay();
    assert_eq!(states(&p, 0), [State::Fault; 2]);
    p.run_until(Instant::ZERO + Duration::from_secs(12));
    assert_eq!(states(&p, 1), [State::Master; 2]);
    // It returns: host 0 comes back as Backup on both and preempts both back.
    p.sims[0].interface(0, true);
    p.relay();
    assert_eq!(states(&p, 0), [State::Backup; 2]);
    p.run_until(Instant::ZERO + Duration::from_secs(20));
    assert_eq!(states(&p, 0), [State::Master; 2]);
    assert_eq!(states(&p, 1), [State::Backup; 2]);
    assert!(p.check("end").is_empty());
}
