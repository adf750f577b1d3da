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
//!
//! Here: the hosts and what can happen to them. Elsewhere: the random source (`rng`), the
//! link and its packets (`link`), the event scheduler (`schedule`), the invariants
//! (`invariants`).

mod invariants;
mod link;
mod rng;
pub mod scenario;
mod schedule;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;

use crate::fsm::{
    Action, ConfigError, Event, Instant, Observation, RouterConfig, State, TrackId, VirtualRouter,
};

use invariants::Handover;
pub use link::LinkConfig;
use link::Packet;
pub use rng::Rng;

/// One simulated host running one virtual router.
#[derive(Debug, Clone)]
pub struct SimNode {
    cfg: RouterConfig,
    vr: VirtualRouter,
    running: bool,
    vips: bool,
    /// State changes of the routers this host ran before its current one.
    earlier_transitions: u64,
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

    /// State changes so far, of every router this host has run.
    pub fn transitions(&self) -> u64 {
        self.earlier_transitions + self.vr.stats().transitions
    }
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
                    earlier_transitions: 0,
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
            Ok(vr) => {
                node.earlier_transitions += node.vr.stats().transitions;
                node.vr = vr;
            }
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

    fn input(&mut self, i: usize, ev: Event) {
        if self.nodes.get(i).is_some_and(|n| n.running) {
            self.handle(i, ev);
            self.after_step();
        }
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
                if let Observation::StateChanged { from, to, reason } = o {
                    self.note(|| format!("n{i} {from} -> {to} ({reason:?})"));
                } else {
                    self.note(|| format!("n{i} {o:?}"));
                }
            }
        }
    }

    /// Total state changes of all nodes so far.
    pub fn total_transitions(&self) -> u64 {
        self.nodes.iter().map(SimNode::transitions).sum()
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
