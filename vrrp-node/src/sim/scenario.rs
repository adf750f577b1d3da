//! Random scenarios from a seed, with the election invariants checked after each phase.
//!
//! A scenario draws from its seed: the version (v2/v3) and interval, 2 to 6 routers with
//! random (often equal) priorities, sometimes an address owner, `nopreempt`,
//! `preempt_delay`, `state MASTER`, `lower_prio_no_advert`, tracked checks with weights; a
//! lossy, duplicating, reordering link; and a chaos phase of crashes, restarts, graceful
//! shutdowns, partitions, heals, flapping checks and interfaces. Then:
//!
//! 1. the link turns calm (no loss or duplicates, in order, delays still random up to the
//!    bound), some down hosts restart, some partitions heal; from here on two connected
//!    nodes may hold the VIPs together for at most one advert interval plus the delay bound;
//! 2. once the network has been quiet for Master_Down_Interval plus the delay bound (plus
//!    `preempt_delay` and a second Master_Down_Interval where a router has a preempt delay:
//!    that delay starts when a lower Master is first heard), each connected group has exactly
//!    one Master, no preempting Backup above it, and nothing changes state during the next
//!    three intervals;
//! 3. the Master of one group crashes (a Backup must be Master within Master_Down_Interval
//!    plus the delay bound) or shuts down (within Skew_Time plus the delay bound), or
//!    nothing happens; then phase 2's checks again.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::fmt::Write as _;

use vrrp_proto::Version;

use super::{LinkConfig, Rng, Sim};
use crate::fsm::{Duration, InitialState, Instant, RouterConfig, State, TrackConfig, TrackId};

/// Trace lines a report shows at most (the last ones).
const TRACE_TAIL: usize = 400;

/// What one seed's run found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// The scenario in a few lines.
    pub summary: String,
    /// Invariant violations; empty when the run passed.
    pub violations: Vec<String>,
    /// The full trace, when tracing was asked for.
    pub trace: Vec<String>,
    /// Simulation steps (deliveries and timer firings).
    pub steps: u64,
}

impl Outcome {
    /// Whether no invariant was violated.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// Seed, summary, violations and trace, for a failure message.
    pub fn report(&self) -> String {
        let mut s = format!(
            "seed {} (rerun with VRRP_SIM_SEED={})\n",
            self.seed, self.seed
        );
        s.push_str(&self.summary);
        s.push_str("violations:\n");
        for v in &self.violations {
            let _ = writeln!(s, "  {v}");
        }
        if !self.trace.is_empty() {
            // The end of the trace is where things went wrong; keep reports readable.
            let skip = self.trace.len().saturating_sub(TRACE_TAIL);
            if skip > 0 {
                let _ = writeln!(s, "trace (first {skip} lines omitted):");
            } else {
                s.push_str("trace:\n");
            }
            for l in self.trace.iter().skip(skip) {
                let _ = writeln!(s, "  {l}");
            }
        }
        s
    }
}

fn address(v6: bool, i: usize) -> IpAddr {
    // Benchmarking ranges only (198.18.0.0/15, fd00:198:18::/64).
    let host = u8::try_from(10 + i).unwrap_or(u8::MAX);
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0xfd00,
            0x198,
            0x18,
            0,
            0,
            0,
            0,
            u16::from(host),
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 18, 0, host))
    }
}

/// Builds the routers of a scenario.
fn configs(rng: &mut Rng, summary: &mut String) -> Vec<RouterConfig> {
    let version = if rng.chance(500) {
        Version::V3
    } else {
        Version::V2
    };
    let interval_cs: u16 = match version {
        Version::V2 => 100,
        Version::V3 => [20u16, 50, 100][usize::try_from(rng.below(3)).unwrap_or(0)],
    };
    let v6 = version == Version::V3 && rng.chance(300);
    let n = usize::try_from(rng.range(2, 6)).unwrap_or(2);
    let owner = if rng.chance(100) {
        Some(usize::try_from(rng.below(n as u64)).unwrap_or(0))
    } else {
        None
    };
    let _ = writeln!(
        summary,
        "{version:?} interval {interval_cs} cs, {n} routers"
    );
    (0..n)
        .map(|i| {
            // A small set of values makes equal priorities (the address tie-break) common.
            let prio = if owner == Some(i) {
                255
            } else if rng.chance(600) {
                [50u8, 100, 100, 150, 200][usize::try_from(rng.below(5)).unwrap_or(0)]
            } else {
                u8::try_from(rng.range(1, 254)).unwrap_or(100)
            };
            let mut c = RouterConfig::new(42, version, prio, address(v6, i));
            // v3 routers may differ (Backups learn the Master's); v2 ones must agree. At most
            // by a factor of 2: a Backup starts with its own interval (RFC 9568 6.4.1), and
            // when 3 * shortest <= longest + delay it times out before a slow Master's next
            // advert and the group flaps; that is the protocol with a misconfiguration (seeds
            // 366 and 2000000484 of an earlier generator showed it), not what we test here.
            c.advert_interval_cs = if version == Version::V3 && rng.chance(250) {
                interval_cs * [3u16, 4][usize::try_from(rng.below(2)).unwrap_or(0)] / 2
            } else {
                interval_cs
            };
            c.preempt = !rng.chance(200);
            if c.preempt && rng.chance(100) {
                c.preempt_delay = Duration::from_centis(rng.range(1, 3 * u64::from(interval_cs)));
            }
            if rng.chance(100) {
                c.initial_state = InitialState::Master;
            }
            c.lower_prio_no_advert = rng.chance(100);
            if rng.chance(400) {
                let w = [-60i16, -20, 0, 20, 60][usize::try_from(rng.below(5)).unwrap_or(0)];
                c.tracks.push(TrackConfig::new(w));
            }
            let _ = writeln!(
                summary,
                "  n{i} {} prio {} interval {} cs preempt {} delay {} init {:?} lpna {} tracks {:?}",
                c.primary_address,
                c.priority,
                c.advert_interval_cs,
                c.preempt,
                c.preempt_delay,
                c.initial_state,
                c.lower_prio_no_advert,
                c.tracks.iter().map(|t| t.weight).collect::<Vec<_>>()
            );
            c
        })
        .collect()
}

/// Runs the scenario of `seed` like [`run`], but a panic (in the simulator or the state
/// machine) becomes a violation of its own, with the seed and, when tracing, the trace up to
/// the panic: a panicking seed is reported like any other failing one.
pub fn run_catching(seed: u64, trace: bool) -> Outcome {
    match std::panic::catch_unwind(|| run(seed, trace)) {
        Ok(outcome) => outcome,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string panic payload".to_string());
            let mut summary = String::new();
            // The summary is drawn first from the seed: redraw it for the report.
            configs(&mut Rng::new(seed), &mut summary);
            Outcome {
                seed,
                summary,
                violations: vec![format!("panicked: {message}")],
                trace: super::take_unwound_trace().unwrap_or_default(),
                steps: 0,
            }
        }
    }
}

/// Runs the scenario of `seed`; with `trace`, the outcome carries a full event trace.
pub fn run(seed: u64, trace: bool) -> Outcome {
    let mut rng = Rng::new(seed);
    let mut summary = String::new();
    let cfgs = configs(&mut rng, &mut summary);
    let pace = Pace::of(&cfgs, &mut rng);
    let _ = writeln!(summary, "  chaos link {:?}", pace.chaos);
    let mut sim = match Sim::new(rng.next_u64(), pace.chaos, cfgs, trace) {
        Ok(s) => s,
        Err(e) => {
            return Outcome {
                seed,
                summary,
                violations: vec![format!("scenario config rejected: {e}")],
                trace: Vec::new(),
                steps: 0,
            }
        }
    };
    pace.boot(&mut sim, &mut rng);
    pace.chaos(&mut sim, &mut rng);
    pace.calm(&mut sim, &mut rng);
    let settle = pace.settle_time();
    settle_and_check(&mut sim, settle, pace.adv, "after chaos");
    // One more disruption under calm conditions, with its timing bound.
    let incumbent = disrupt(&mut sim);
    settle_and_check(&mut sim, settle, pace.adv, "after handover");
    if let Some((m, d)) = incumbent {
        let still = sim
            .nodes()
            .get(m)
            .is_some_and(|x| x.running() && x.router().state() == State::Master);
        if !still {
            sim.violation(format!(
                "nopreempt n{d} returned and Master n{m} lost its place"
            ));
        }
    }
    Outcome {
        seed,
        summary,
        violations: sim.violations().to_vec(),
        trace: sim.trace().map(<[String]>::to_vec).unwrap_or_default(),
        steps: sim.steps(),
    }
}

/// A scenario's pace, drawn after its routers: the longest interval, the link's delays, the
/// longest preempt delay.
struct Pace {
    n: usize,
    /// The longest interval: it sets the scenario's pace and settling times.
    adv: Duration,
    max_preempt_delay: Duration,
    has_tracks: bool,
    /// The lossy, duplicating, reordering link of the chaos phase.
    chaos: LinkConfig,
}

impl Pace {
    fn of(cfgs: &[RouterConfig], rng: &mut Rng) -> Pace {
        let adv = Duration::from_centis(u64::from(
            cfgs.iter()
                .map(|c| c.advert_interval_cs)
                .max()
                .unwrap_or(100),
        ));
        // Delays stay below a quarter of the interval, as on a real LAN.
        let delay_max = Duration::from_micros(rng.below(adv.as_micros() / 4 + 1));
        let delay_min = Duration::from_micros(rng.below(delay_max.as_micros() + 1));
        Pace {
            n: cfgs.len(),
            adv,
            max_preempt_delay: cfgs
                .iter()
                .map(|c| c.preempt_delay)
                .max()
                .unwrap_or(Duration::ZERO),
            has_tracks: cfgs.iter().any(|c| !c.tracks.is_empty()),
            chaos: LinkConfig {
                delay_min,
                delay_max,
                loss_per_mille: u16::try_from(rng.below(300)).unwrap_or(0),
                dup_per_mille: u16::try_from(rng.below(200)).unwrap_or(0),
                fifo: false,
            },
        }
    }

    /// Staggered boots, within two intervals.
    fn boot(&self, sim: &mut Sim, rng: &mut Rng) {
        let mut boots: Vec<(u64, usize)> = (0..self.n)
            .map(|i| (rng.below(2 * self.adv.as_micros()), i))
            .collect();
        boots.sort_unstable();
        for (at, i) in boots {
            sim.run_until(Instant::from_micros(at));
            sim.start(i);
        }
    }

    /// Up to 24 disruptions over 3 to 30 intervals: crashes, restarts, shutdowns,
    /// partitions, heals, flapping checks and interfaces.
    fn chaos(&self, sim: &mut Sim, rng: &mut Rng) {
        let n = self.n;
        let chaos_len = self.adv.saturating_mul(rng.range(3, 30));
        let chaos_end = sim.now() + chaos_len;
        let mut t = sim.now();
        for _ in 0..rng.below(24) {
            t += Duration::from_micros(rng.below(chaos_len.as_micros() / 8 + 1));
            if t > chaos_end {
                break;
            }
            sim.run_until(t);
            let i = usize::try_from(rng.below(n as u64)).unwrap_or(0);
            match rng.below(8) {
                0 => sim.crash(i),
                1 => sim.start(i),
                2 => sim.shutdown(i),
                3 => {
                    let groups: Vec<u8> = (0..n).map(|_| u8::from(rng.chance(500))).collect();
                    sim.set_groups(&groups);
                }
                4 => sim.heal(),
                5 | 6 if self.has_tracks => {
                    let up = rng.chance(500);
                    sim.track(i, TrackId(0), up);
                }
                _ => {
                    let up = rng.chance(500);
                    sim.interface(i, up);
                }
            }
        }
        sim.run_until(chaos_end);
    }

    /// The link turns calm (delays still random up to the bound); some down hosts restart,
    /// some partitions heal.
    fn calm(&self, sim: &mut Sim, rng: &mut Rng) {
        sim.set_link(LinkConfig::calm(self.chaos.delay_min, self.chaos.delay_max));
        for i in 0..self.n {
            let down = sim.nodes().get(i).is_some_and(|x| !x.running());
            if down && rng.chance(500) {
                sim.start(i);
            }
        }
        if rng.chance(500) {
            sim.heal();
        }
    }

    /// How long the network needs, once calm, to have one Master per group.
    ///
    /// It is quiet once the chaos phase's last adverts are delivered (delay_max after calm).
    /// From then on the protocol needs one Master_Down_Interval for a Master to emerge and
    /// one delay for its advert to stop any other. keepalived's preempt_delay starts when a
    /// lower Master is first heard, so with it a higher Backup accepts that Master's adverts
    /// for the delay and then needs its own Master_Down_Interval (and a delay) to take over.
    fn settle_time(&self) -> Duration {
        let delay_max = self.chaos.delay_max;
        // 4 intervals bound 3 * Master_Adver_Interval + Skew_Time for every priority.
        let mdi_max = Duration::from_centis(4 * self.adv.as_micros() / 10_000);
        let mdi_then_advert = mdi_max + delay_max;
        delay_max
            + mdi_then_advert
            + if self.max_preempt_delay > Duration::ZERO {
                self.max_preempt_delay + mdi_then_advert
            } else {
                Duration::ZERO
            }
    }
}

/// One disruption drawn from the simulator's own source: the Master of a group crashes or
/// shuts down, partitions merge, a down node returns, or nothing. Returns the Master that
/// must keep its place when a `nopreempt` node returns, with that node.
fn disrupt(sim: &mut Sim) -> Option<(usize, usize)> {
    let n = sim.nodes().len();
    let masters: Vec<usize> = (0..n)
        .filter(|&i| {
            sim.nodes()
                .get(i)
                .is_some_and(|x| x.running() && x.router().state() == State::Master)
        })
        .collect();
    let pick = usize::try_from(sim.rng().below(masters.len() as u64)).unwrap_or(0);
    let down: Vec<usize> = (0..n)
        .filter(|&i| sim.nodes().get(i).is_some_and(|x| !x.running()))
        .collect();
    let pick_down = usize::try_from(sim.rng().below(down.len() as u64)).unwrap_or(0);
    let mut incumbent = None;
    match (sim.rng().below(5), masters.get(pick), down.get(pick_down)) {
        (0, Some(&m), _) => sim.crash(m),
        (1, Some(&m), _) => sim.shutdown(m),
        // Merging partitions: two Masters meet.
        (2, _, _) => sim.heal(),
        // A returning node (an owner or a higher one preempts).
        (3, _, Some(&d)) => {
            incumbent = nopreempt_incumbent(sim, d);
            sim.start(d);
        }
        _ => sim.note(|| "no disruption".to_string()),
    }
    incumbent
}

/// When `d` would return as a `nopreempt` Backup (not owner, not `state MASTER`) into a
/// group that has a Master: that Master, which must stay Master.
fn nopreempt_incumbent(sim: &Sim, d: usize) -> Option<(usize, usize)> {
    let node = sim.nodes().get(d)?;
    let cfg = node.router().config();
    if cfg.preempt || cfg.priority == 255 || cfg.initial_state == InitialState::Master {
        return None;
    }
    let m = (0..sim.nodes().len()).find(|&m| {
        m != d
            && sim.connected(m, d)
            && sim
                .nodes()
                .get(m)
                .is_some_and(|x| x.running() && x.router().state() == State::Master)
    })?;
    Some((m, d))
}

/// Runs for `settle`, checks one Master per group, then checks nothing changes for three
/// intervals.
fn settle_and_check(sim: &mut Sim, settle: Duration, adv: Duration, when: &str) {
    let t = sim.now() + settle;
    sim.run_until(t);
    let state = sim.describe();
    sim.note(|| format!("check ({when}):\n{state}"));
    if sim.check_single_master(when) {
        let before = sim.total_transitions();
        let t = sim.now() + adv.saturating_mul(3);
        sim.run_until(t);
        if sim.total_transitions() != before {
            sim.violation(format!("{when}: state changed after settling"));
        }
    }
}
