//! A deterministic network simulator for [`VirtualRouter`]s (feature `sim`).
//!
//! [`Sim`] puts N routers on one simulated link with a simulated clock and a seeded random
//! source: each advert is lost, duplicated, delayed (and so reordered) per the
//! [`LinkConfig`]; the link can be cut into partitions and healed; nodes crash, restart, shut
//! down gracefully; tracked checks and interfaces flap. While it runs it checks invariants
//! (see [`Sim::violations`]). [`scenario`] builds random scenarios from a seed and checks the
//! election invariants after every disruption.
//!
//! Same seed, same run: nothing reads a clock or an OS random source.

pub mod scenario;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;

use crate::fsm::{
    Action, Advert, ConfigError, Duration, Event, Instant, Observation, RouterConfig, State,
    TrackId, VirtualRouter,
};

/// SplitMix64: tiny, fast, and good enough to drive a simulation deterministically.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0). The modulo bias is irrelevant at these ranges.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// How the simulated link treats each advert copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Smallest one-way delay.
    pub delay_min: Duration,
    /// Largest one-way delay: the link's delay bound used by the invariants.
    pub delay_max: Duration,
    /// Probability a copy is lost, per mille.
    pub loss_per_mille: u16,
    /// Probability a copy is delivered twice, per mille.
    pub dup_per_mille: u16,
    /// Deliver in send order between each pair of nodes (no reordering).
    pub fifo: bool,
}

impl LinkConfig {
    /// A perfect link: no loss, no duplicates, in order, delays in `min..=max`.
    pub fn calm(delay_min: Duration, delay_max: Duration) -> Self {
        LinkConfig {
            delay_min,
            delay_max,
            loss_per_mille: 0,
            dup_per_mille: 0,
            fifo: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Packet {
    at: Instant,
    seq: u64,
    from: usize,
    to: usize,
    priority: u8,
    interval: u16,
}

/// One simulated host running one virtual router.
#[derive(Debug, Clone)]
pub struct SimNode {
    cfg: RouterConfig,
    vr: VirtualRouter,
    running: bool,
    vips: bool,
    transitions: u64,
}

impl SimNode {
    /// The router (its state, priority, timers).
    pub fn router(&self) -> &VirtualRouter {
        &self.vr
    }

    /// Whether the host is up and the instance started.
    pub fn running(&self) -> bool {
        self.running
    }

    /// Whether the host holds the virtual addresses.
    pub fn has_vips(&self) -> bool {
        self.vips
    }

    /// State changes so far.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }
}

/// Skew_Time (or Master_Down_Interval when `down`) per RFC 9568 6.1 / RFC 3768 6.1, written
/// out independently of the state machine so the simulator checks it.
/// `master_cs` is the leaving Master's interval, which a v3 Backup has learned.
fn rfc_bound(cfg: &RouterConfig, priority: u8, down: bool, master_cs: u16) -> Duration {
    let adv_cs = u64::from(match cfg.version {
        vrrp_proto::Version::V3 => master_cs,
        vrrp_proto::Version::V2 => cfg.advert_interval_cs,
    });
    let skew_us = match cfg.version {
        vrrp_proto::Version::V3 => (256 - u64::from(priority)) * adv_cs / 256 * 10_000,
        vrrp_proto::Version::V2 => (256 - u64::from(priority)) * 1_000_000 / 256,
    };
    let mdi_us = if down { 3 * adv_cs * 10_000 } else { 0 };
    Duration::from_micros(mdi_us + skew_us)
}

/// A run stops with a violation after this many steps: a livelock (two routers answering
/// each other forever) must fail, not hang.
const MAX_STEPS: u64 = 1_000_000;

/// A pending "someone takes over in time" check.
#[derive(Debug, Clone)]
struct Handover {
    what: &'static str,
    from: usize,
    deadline: Instant,
    candidates: Vec<usize>,
}

thread_local! {
    /// The trace of a [`Sim`] dropped while its thread panicked (see [`take_unwound_trace`]).
    static UNWOUND_TRACE: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Takes the trace of the last traced [`Sim`] that this thread dropped while panicking.
///
/// A panic inside the simulator or the state machine unwinds through the `Sim` and would
/// lose its trace with it; this keeps the trace readable for the failure report.
pub fn take_unwound_trace() -> Option<Vec<String>> {
    UNWOUND_TRACE.with(|t| t.borrow_mut().take())
}

/// The simulated link, clock and hosts.
#[derive(Debug)]
pub struct Sim {
    now: Instant,
    nodes: Vec<SimNode>,
    link: LinkConfig,
    rng: Rng,
    group: Vec<u8>,
    queue: BinaryHeap<Reverse<Packet>>,
    seq: u64,
    /// Latest delivery time per (from, to), for FIFO links.
    last_delivery: Vec<Instant>,
    trace: Option<Vec<String>>,
    /// Since when the link is calm and the timing invariants apply.
    calm_since: Option<Instant>,
    /// Start of VIP overlap per (i, j), i < j.
    overlap: Vec<Option<Instant>>,
    handovers: Vec<Handover>,
    violations: Vec<String>,
    steps: u64,
    /// Actions per node kept for [`Sim::take_actions`], when asked for.
    recorded: Option<Vec<Vec<Action>>>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(trace) = self.trace.take() {
                UNWOUND_TRACE.with(|t| *t.borrow_mut() = Some(trace));
            }
        }
    }
}

impl Sim {
    /// A simulation of one router per config, all connected, none started, at time zero.
    pub fn new(
        seed: u64,
        link: LinkConfig,
        configs: Vec<RouterConfig>,
        trace: bool,
    ) -> Result<Self, ConfigError> {
        let n = configs.len();
        let nodes = configs
            .into_iter()
            .map(|cfg| {
                Ok(SimNode {
                    vr: VirtualRouter::new(cfg.clone())?,
                    cfg,
                    running: false,
                    vips: false,
                    transitions: 0,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(Sim {
            now: Instant::ZERO,
            nodes,
            link,
            rng: Rng::new(seed),
            group: vec![0; n],
            queue: BinaryHeap::new(),
            seq: 0,
            last_delivery: vec![Instant::ZERO; n * n],
            trace: trace.then(Vec::new),
            calm_since: None,
            overlap: vec![None; n * n],
            handovers: Vec::new(),
            violations: Vec::new(),
            steps: 0,
            recorded: None,
        })
    }

    /// Current simulated time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The hosts.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// The random source, for scenario decisions drawn from the same seed.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The link settings in force.
    pub fn link(&self) -> LinkConfig {
        self.link
    }

    /// Events processed so far (deliveries and timer firings).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Invariant violations found so far, each a readable line with its time.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// The trace, if tracing was asked for.
    pub fn trace(&self) -> Option<&[String]> {
        self.trace.as_deref()
    }

    /// Adds a line to the trace (scenario notes).
    pub fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_mut() {
            t.push(format!("{} {}", self.now, line()));
        }
    }

    /// Records a violation (and traces it).
    pub fn violation(&mut self, what: String) {
        let line = format!("{} VIOLATION {}", self.now, what);
        if let Some(t) = self.trace.as_mut() {
            t.push(line.clone());
        }
        self.violations.push(line);
    }

    /// Whether `a` and `b` are on the same side of every partition.
    pub fn connected(&self, a: usize, b: usize) -> bool {
        self.group.get(a) == self.group.get(b)
    }

    /// The partition group of each node.
    pub fn groups(&self) -> &[u8] {
        &self.group
    }

    /// Replaces the link settings. Switching to a calm link (no loss, no duplicates, FIFO)
    /// starts the timing invariants from now; any other switch stops them.
    pub fn set_link(&mut self, link: LinkConfig) {
        self.link = link;
        let calm = link.loss_per_mille == 0 && link.dup_per_mille == 0 && link.fifo;
        self.calm_since = if calm { Some(self.now) } else { None };
        self.note(|| format!("link {link:?}"));
    }

    /// Cuts the link: nodes talk only to nodes with the same group number.
    pub fn set_groups(&mut self, groups: &[u8]) {
        for (g, v) in self.group.iter_mut().zip(groups) {
            *g = *v;
        }
        let g = self.group.clone();
        self.note(|| format!("partition {g:?}"));
        self.after_step();
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.group.iter_mut().for_each(|g| *g = 0);
        self.note(|| "heal".to_string());
        self.after_step();
    }

    /// Boots host `i` and starts its instance (a fresh state machine).
    pub fn start(&mut self, i: usize) {
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        if node.running {
            return;
        }
        match VirtualRouter::new(node.cfg.clone()) {
            Ok(vr) => node.vr = vr,
            Err(e) => {
                self.violation(format!("n{i} config rejected on restart: {e}"));
                return;
            }
        }
        node.running = true;
        self.note(|| format!("n{i} start"));
        self.handle(i, Event::Startup);
        self.after_step();
    }

    /// Host `i` dies: no priority 0, addresses gone with it. A Master's death starts the
    /// "a Backup is Master within Master_Down_Interval + delay" check when the link is calm.
    pub fn crash(&mut self, i: usize) {
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        let was_master = node.running && node.vr.state() == State::Master;
        node.running = false;
        node.vips = false;
        self.note(|| format!("n{i} crash"));
        if was_master && self.calm_since.is_some() {
            self.expect_handover(i, "crash", true);
        }
        self.after_step();
    }

    /// Graceful stop of host `i`'s instance (priority 0 if Master). Starts the
    /// "handover within Skew_Time + delay" check when the link is calm.
    pub fn shutdown(&mut self, i: usize) {
        let Some(node) = self.nodes.get(i) else {
            return;
        };
        if !node.running {
            return;
        }
        let was_master = node.vr.state() == State::Master;
        self.note(|| format!("n{i} shutdown"));
        if was_master && self.calm_since.is_some() {
            self.expect_handover(i, "priority-0 shutdown", false);
        }
        self.handle(i, Event::Shutdown);
        if let Some(node) = self.nodes.get_mut(i) {
            node.running = false;
        }
        self.after_step();
    }

    /// A tracked check of host `i` changes.
    pub fn track(&mut self, i: usize, id: TrackId, up: bool) {
        self.note(|| format!("n{i} track {} {}", id.0, if up { "up" } else { "down" }));
        self.input(i, Event::Track { id, up });
    }

    /// Host `i`'s interface goes up or down.
    pub fn interface(&mut self, i: usize, up: bool) {
        self.note(|| format!("n{i} interface {}", if up { "up" } else { "down" }));
        self.input(
            i,
            if up {
                Event::InterfaceUp
            } else {
                Event::InterfaceDown
            },
        );
    }

    /// Keeps every action of every node from now on, for [`Sim::take_actions`] (a sync group
    /// coordinator outside the simulator needs them).
    pub fn record_actions(&mut self) {
        self.recorded = Some(vec![Vec::new(); self.nodes.len()]);
    }

    /// The actions node `i` emitted since the last call (empty unless
    /// [`Sim::record_actions`] was called).
    pub fn take_actions(&mut self, i: usize) -> Vec<Action> {
        self.recorded
            .as_mut()
            .and_then(|r| r.get_mut(i))
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Hands `ev` to node `i` now, if it is running (e.g. a [`SyncCommand`](crate::fsm::SyncCommand)).
    pub fn inject(&mut self, i: usize, ev: Event) {
        self.note(|| format!("n{i} inject {ev:?}"));
        self.input(i, ev);
    }

    /// When the next delivery or timer is due, if any.
    pub fn next_event_time(&self) -> Option<Instant> {
        let pkt = self.queue.peek().map(|Reverse(p)| p.at);
        let timer = self
            .nodes
            .iter()
            .filter(|n| n.running)
            .filter_map(|n| n.vr.next_deadline())
            .min();
        match (pkt, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn input(&mut self, i: usize, ev: Event) {
        if self.nodes.get(i).is_some_and(|n| n.running) {
            self.handle(i, ev);
            self.after_step();
        }
    }

    /// Expects a Backup connected to `from` to be Master within the delay bound plus the
    /// best candidate's Master_Down_Interval (`down`) or Skew_Time, computed here from the
    /// RFC formulas rather than by the state machine under test.
    fn expect_handover(&mut self, from: usize, what: &'static str, down: bool) {
        let mut candidates = Vec::new();
        let mut best: Option<Duration> = None;
        let master_cs = self.nodes.get(from).map_or(0, |n| n.cfg.advert_interval_cs);
        for (j, n) in self.nodes.iter().enumerate() {
            if j != from && n.running && n.vr.state() == State::Backup && self.connected(from, j) {
                candidates.push(j);
                let b = rfc_bound(&n.cfg, n.vr.priority(), down, master_cs);
                best = Some(best.map_or(b, |x| x.min(b)));
            }
        }
        if let Some(b) = best {
            let deadline = self.now + self.link.delay_max + b;
            self.note(|| format!("expect a Master among {candidates:?} by {deadline} ({what})"));
            self.handovers.push(Handover {
                what,
                from,
                deadline,
                candidates,
            });
        }
    }

    /// Runs the simulation up to and including time `end`.
    pub fn run_until(&mut self, end: Instant) {
        loop {
            let next_pkt = self.queue.peek().map(|Reverse(p)| p.at);
            let next_timer = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.running)
                .filter_map(|(i, n)| n.vr.next_deadline().map(|d| (d, i)))
                .min();
            let take_timer = match (next_pkt, next_timer) {
                (None, None) => break,
                (Some(p), Some((d, _))) => d < p,
                (None, Some(_)) => true,
                (Some(_), None) => false,
            };
            let at = if take_timer {
                next_timer.map(|(d, _)| d)
            } else {
                next_pkt
            };
            let Some(at) = at.filter(|&a| a <= end) else {
                break;
            };
            self.advance(at);
            self.steps += 1;
            if self.steps > MAX_STEPS {
                self.violation(format!("more than {MAX_STEPS} steps: livelock"));
                self.queue.clear();
                for n in &mut self.nodes {
                    n.running = false;
                }
                break;
            }
            if take_timer {
                if let Some((_, i)) = next_timer {
                    self.handle_timeout(i);
                }
            } else if let Some(Reverse(p)) = self.queue.pop() {
                self.deliver(p);
            }
            self.after_step();
        }
        self.advance(end);
        self.after_step();
    }

    fn advance(&mut self, to: Instant) {
        if to > self.now {
            self.now = to;
        }
        // Handover deadlines passed without a Master.
        let now = self.now;
        let late: Vec<Handover> = self
            .handovers
            .iter()
            .filter(|h| h.deadline < now)
            .cloned()
            .collect();
        self.handovers.retain(|h| h.deadline >= now);
        for h in late {
            self.violation(format!(
                "after {} of n{} no Master among {:?} by {}",
                h.what, h.from, h.candidates, h.deadline
            ));
        }
    }

    fn deliver(&mut self, p: Packet) {
        let (Some(from), Some(to)) = (self.nodes.get(p.from), self.nodes.get(p.to)) else {
            return;
        };
        if !to.running || !self.connected(p.from, p.to) {
            return;
        }
        let adv = Advert {
            source: from.cfg.primary_address,
            version: from.cfg.version,
            vrid: from.cfg.vrid,
            priority: p.priority,
            max_advert_interval: p.interval,
        };
        self.handle(p.to, Event::Advert(adv));
    }

    fn handle(&mut self, i: usize, ev: Event) {
        self.step(i, |vr, now| vr.handle(now, ev));
    }

    fn handle_timeout(&mut self, i: usize) {
        self.step(i, |vr, now| vr.handle_timeout(now));
    }

    /// Gives node `i`'s router one input at the current time, then carries out its actions.
    fn step(&mut self, i: usize, input: impl FnOnce(&mut VirtualRouter, Instant)) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        input(&mut node.vr, now);
        while let Some(a) = self.nodes.get_mut(i).and_then(|n| n.vr.poll_action()) {
            self.apply(i, a);
        }
    }

    fn apply(&mut self, i: usize, a: Action) {
        if let Some(r) = self.recorded.as_mut().and_then(|r| r.get_mut(i)) {
            r.push(a);
        }
        match a {
            Action::SendAdvert {
                priority,
                max_advert_interval,
            } => {
                self.note(|| format!("n{i} send advert prio {priority}"));
                self.broadcast(i, priority, max_advert_interval);
            }
            Action::InstallVips => {
                if let Some(n) = self.nodes.get_mut(i) {
                    n.vips = true;
                }
            }
            Action::RemoveVips => {
                if let Some(n) = self.nodes.get_mut(i) {
                    n.vips = false;
                }
            }
            Action::SendGarp { .. } | Action::Notify { .. } => {}
            Action::Observe(o) => {
                if let Observation::StateChanged { .. } = o {
                    if let Some(n) = self.nodes.get_mut(i) {
                        n.transitions += 1;
                    }
                }
                if let Observation::StateChanged { from, to, reason } = o {
                    self.note(|| format!("n{i} {from} -> {to} ({reason:?})"));
                } else {
                    self.note(|| format!("n{i} {o:?}"));
                }
            }
        }
    }

    fn broadcast(&mut self, from: usize, priority: u8, interval: u16) {
        let n = self.nodes.len();
        for to in 0..n {
            if to == from || !self.connected(from, to) {
                continue;
            }
            if self.rng.chance(u64::from(self.link.loss_per_mille)) {
                self.note(|| format!("  lost n{from}->n{to}"));
                continue;
            }
            let copies = if self.rng.chance(u64::from(self.link.dup_per_mille)) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let delay = self.rng.range(
                    self.link.delay_min.as_micros(),
                    self.link.delay_max.as_micros(),
                );
                let mut at = self.now + Duration::from_micros(delay);
                if self.link.fifo {
                    if let Some(last) = self.last_delivery.get_mut(from * n + to) {
                        at = at.max(*last);
                        *last = at;
                    }
                }
                self.seq += 1;
                self.queue.push(Reverse(Packet {
                    at,
                    seq: self.seq,
                    from,
                    to,
                    priority,
                    interval,
                }));
            }
        }
    }

    /// Invariants that hold at every instant: VIPs held exactly by running Masters; once the
    /// link is calm, two connected nodes hold the VIPs together for at most one advert
    /// interval plus the delay bound; pending handovers resolve.
    fn after_step(&mut self) {
        let n = self.nodes.len();
        for i in 0..n {
            let Some(node) = self.nodes.get(i) else {
                continue;
            };
            if node.running && node.vips != (node.vr.state() == State::Master) {
                let (s, v) = (node.vr.state(), node.vips);
                self.violation(format!("n{i} in {s} with vips={v}"));
            }
        }
        // Handovers: resolved once a candidate is Master.
        let nodes = &self.nodes;
        self.handovers.retain(|h| {
            !h.candidates.iter().any(|&j| {
                nodes
                    .get(j)
                    .is_some_and(|x| x.running && x.vr.state() == State::Master)
            })
        });
        let now = self.now;
        let mut found = Vec::new();
        for i in 0..n {
            for j in (i + 1)..n {
                let both = self.nodes.get(i).is_some_and(|x| x.running && x.vips)
                    && self.nodes.get(j).is_some_and(|x| x.running && x.vips)
                    && self.connected(i, j);
                let slot = i * n + j;
                let start = self.overlap.get(slot).copied().flatten();
                match (both, start) {
                    (true, None) => {
                        if let Some(s) = self.overlap.get_mut(slot) {
                            *s = Some(now);
                        }
                    }
                    (false, Some(_)) => {
                        if let Some(s) = self.overlap.get_mut(slot) {
                            *s = None;
                        }
                    }
                    _ => {}
                }
                if let (true, Some(start), Some(calm)) = (both, start, self.calm_since) {
                    let begin = start.max(calm);
                    let bound = self.overlap_bound(i, j);
                    if now - begin > bound {
                        found.push((i, j, begin, bound));
                        // Report once per overlap.
                        if let Some(s) = self.overlap.get_mut(slot) {
                            *s = Some(Instant::from_micros(u64::MAX));
                        }
                    }
                }
            }
        }
        for (i, j, begin, bound) in found {
            self.violation(format!(
                "n{i} and n{j} both hold the VIPs since {begin}, longer than {bound}"
            ));
        }
    }

    fn overlap_bound(&self, i: usize, j: usize) -> Duration {
        let adv = |k: usize| {
            self.nodes
                .get(k)
                .map_or(Duration::ZERO, |n| n.vr.advert_interval())
        };
        adv(i).max(adv(j)) + self.link.delay_max
    }

    /// Checks that every connected group with at least one eligible node (running, not in
    /// Fault) has exactly one Master and that no preempting node of that group has a higher
    /// effective priority than it. Returns false (and records a violation) otherwise.
    pub fn check_single_master(&mut self, when: &str) -> bool {
        let mut groups: Vec<u8> = self.group.clone();
        groups.sort_unstable();
        groups.dedup();
        let mut problems = Vec::new();
        for g in groups {
            let members: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| self.group.get(i) == Some(&g))
                .filter(|&i| {
                    self.nodes.get(i).is_some_and(|n| {
                        n.running && matches!(n.vr.state(), State::Backup | State::Master)
                    })
                })
                .collect();
            if members.is_empty() {
                continue;
            }
            let masters: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| {
                    self.nodes
                        .get(i)
                        .is_some_and(|n| n.vr.state() == State::Master)
                })
                .collect();
            let [m] = masters[..] else {
                problems.push(format!(
                    "{when}: group {g} members {members:?} has Masters {masters:?}"
                ));
                continue;
            };
            let mp = self.nodes.get(m).map_or(0, |n| n.vr.priority());
            for &i in &members {
                let Some(node) = self.nodes.get(i) else {
                    continue;
                };
                if i != m && node.cfg.preempt && node.vr.priority() > mp {
                    problems.push(format!(
                        "{when}: group {g}: n{i} (prio {}, preempt) is Backup under n{m} (prio {mp})",
                        node.vr.priority()
                    ));
                }
            }
        }
        let ok = problems.is_empty();
        for p in problems {
            self.violation(p);
        }
        ok
    }

    /// Total state changes of all nodes so far.
    pub fn total_transitions(&self) -> u64 {
        self.nodes.iter().map(|n| n.transitions).sum()
    }

    /// One line per node: state, priority, running, VIPs, group.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let _ = writeln!(
                s,
                "  n{i} {} prio {} (base {}, preempt {}) {} vips={} group {}",
                n.cfg.primary_address,
                n.vr.priority(),
                n.cfg.priority,
                n.cfg.preempt,
                if n.running {
                    n.vr.state().to_string()
                } else {
                    "down".to_string()
                },
                n.vips,
                self.group.get(i).copied().unwrap_or(0)
            );
        }
        s
    }
}
