//! The state machine of one virtual router: its state, timers and counters, and the calls
//! in ([`VirtualRouter::handle`], [`VirtualRouter::handle_timeout`]) and out
//! ([`VirtualRouter::poll_action`], [`VirtualRouter::next_deadline`]).
//!
//! How an advert is judged is in `election`, how the state changes in `transitions`.

mod election;
mod transitions;

use std::collections::VecDeque;

use vrrp_proto::{Auth, ReceiveCheck, Version};

use super::config::{ConfigError, ReconfigureError, RouterConfig};
use super::rules::{self, track_faults, track_offset, tracked_priority, Level, OWNER_PRIORITY};
use super::stats::Stats;
use super::time::{Duration, Instant};
use super::timer::{Timer, TimerTable};
use super::types::{Action, Event, FaultSource, GarpReason, Observation, State, TrackId};

/// Which fault sources are active.
#[derive(Debug, Clone, Default)]
struct Faults {
    interface: bool,
    external: bool,
    sync: bool,
    /// Weight-0 tracks currently failing.
    tracks: u32,
}

impl Faults {
    fn any(&self) -> bool {
        self.interface || self.external || self.sync || self.tracks > 0
    }
}

/// One VRRP virtual router instance as a sans-IO state machine (RFC 5798/9568 for v3, RFC
/// 3768 for v2, with keepalived's FAULT, tracking, preempt_delay and GARP timing).
///
/// The driver feeds it events with the current time and carries out the actions it queues:
///
/// 1. [`handle`](Self::handle)`(now, event)` for every input (startup, a received advert,
///    a check result, an interface change, shutdown);
/// 2. [`poll_action`](Self::poll_action) until `None`, carrying out each [`Action`] in order;
/// 3. sleep until [`next_deadline`](Self::next_deadline), then
///    [`handle_timeout`](Self::handle_timeout)`(now)` and drain again.
///
/// It reads no clock and does no I/O: `now` is an [`Instant`] the caller owns.
///
/// ```
/// use core::net::{IpAddr, Ipv4Addr};
/// use vrrp_node::fsm::{Action, Duration, Event, Instant, RouterConfig, State, VirtualRouter};
/// use vrrp_proto::Version;
///
/// let me = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
/// let mut vr = VirtualRouter::new(RouterConfig::new(51, Version::V3, 100, me))
///     .expect("valid config");
/// let t0 = Instant::ZERO;
/// vr.handle(t0, Event::Startup);
/// assert_eq!(vr.state(), State::Backup);
/// while let Some(action) = vr.poll_action() {
///     // carry out: send adverts, install/remove VIPs, GARP, notify, log observations
///     let _ = action;
/// }
/// // No Master heard: at Master_Down_Interval (3 * 1 s + skew 0.60 s) it takes over.
/// let deadline = vr.next_deadline().expect("master down timer armed");
/// assert_eq!(deadline, t0 + Duration::from_millis(3_600));
/// vr.handle_timeout(deadline);
/// assert_eq!(vr.state(), State::Master);
/// assert!(std::iter::from_fn(|| vr.poll_action())
///     .any(|a| matches!(a, Action::SendAdvert { priority: 100, max_advert_interval: 100 })));
/// ```
#[derive(Debug, Clone)]
pub struct VirtualRouter {
    cfg: RouterConfig,
    state: State,
    priority: u8,
    /// Each tracked check's state, by [`TrackId`].
    levels: Vec<Level>,
    faults: Faults,
    /// Master_Adver_Interval in centiseconds (v3 learns it from the Master; v2 uses its own).
    master_adver_interval_cs: u16,
    /// vrrp-proto's version and interval rules for this configuration, for adverts that did
    /// not come through the codec (see `election`).
    receive: ReceiveCheck,
    /// Adver_Timer, Master_Down_Timer and keepalived's two GARP timers.
    timers: TimerTable,
    /// End of the preempt_delay window once it has started (a bound, not a wake-up).
    preempt_until: Option<Instant>,
    /// A sync-group member whose Master_Down_Timer expired, waiting for its group.
    ready_for_master: bool,
    stats: Stats,
    actions: VecDeque<Action>,
}

impl VirtualRouter {
    /// A router in Initialize for `cfg`, or why `cfg` is invalid.
    pub fn new(cfg: RouterConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let levels: Vec<Level> = cfg.tracks.iter().map(Level::initial).collect();
        let faults = Faults {
            tracks: track_faults(&cfg),
            ..Faults::default()
        };
        let priority = tracked_priority(&cfg, &levels);
        Ok(VirtualRouter {
            master_adver_interval_cs: cfg.advert_interval_cs,
            receive: receive_check(&cfg),
            cfg,
            state: State::Initialize,
            priority,
            levels,
            faults,
            timers: TimerTable::default(),
            preempt_until: None,
            ready_for_master: false,
            stats: Stats::default(),
            actions: VecDeque::with_capacity(16),
        })
    }

    /// The configuration this instance runs.
    pub fn config(&self) -> &RouterConfig {
        &self.cfg
    }

    /// Takes new settings without leaving the current state, as keepalived keeps an
    /// instance's state over a reload: a Master stays Master and advertises a changed
    /// priority or interval at once, a Backup keeps its Master_Down_Timer (re-armed for a
    /// changed v2 interval), Fault stays Fault. Preempt, preempt_delay, GARP timing and the
    /// track weights apply from now on.
    ///
    /// Each track's current state is read from `cfg.tracks[i].initially_up` (or
    /// `initial_value` for a check that reports numbers): the caller sets it to what it knows
    /// of that check now (tracks are matched by position).
    ///
    /// What a running router cannot take (see [`ReconfigureError`]) is refused and nothing
    /// changes: restart the instance for it.
    ///
    /// ```
    /// use core::net::{IpAddr, Ipv4Addr};
    /// use vrrp_node::fsm::{Action, Event, Instant, RouterConfig, State, VirtualRouter};
    /// use vrrp_proto::Version;
    ///
    /// let me = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    /// let mut cfg = RouterConfig::new(51, Version::V3, 110, me);
    /// cfg.initial_state = vrrp_node::fsm::InitialState::Master;
    /// let mut vr = VirtualRouter::new(cfg.clone()).unwrap();
    /// vr.handle(Instant::ZERO, Event::Startup);
    /// while vr.poll_action().is_some() {}
    ///
    /// cfg.priority = 120;
    /// vr.reconfigure(Instant::from_micros(500_000), cfg).unwrap();
    /// assert_eq!(vr.state(), State::Master);
    /// assert!(std::iter::from_fn(|| vr.poll_action())
    ///     .any(|a| matches!(a, Action::SendAdvert { priority: 120, .. })));
    /// ```
    pub fn reconfigure(&mut self, now: Instant, cfg: RouterConfig) -> Result<(), ReconfigureError> {
        self.check_reconfigure(&cfg)?;
        let old_interval = self.cfg.advert_interval_cs;
        let old_refresh = self.cfg.garp.master_refresh;
        self.levels = cfg.tracks.iter().map(Level::initial).collect();
        self.faults.tracks = track_faults(&cfg);
        self.receive = receive_check(&cfg);
        self.cfg = cfg;
        let priority = tracked_priority(&self.cfg, &self.levels);
        let priority_changed = priority != self.priority;
        if priority_changed {
            self.observe(Observation::PriorityChanged {
                from: self.priority,
                to: priority,
            });
            self.priority = priority;
        }
        let interval_changed = old_interval != self.cfg.advert_interval_cs;
        if self.cfg.version == Version::V2 {
            // v2 has no learning: the Master's interval is the configured one.
            self.master_adver_interval_cs = self.cfg.advert_interval_cs;
        }
        if self.cfg.preempt_delay == Duration::ZERO {
            self.preempt_until = None;
        }
        match self.state {
            State::Master => {
                if priority_changed || interval_changed {
                    self.send_advert(now);
                }
                if old_refresh != self.cfg.garp.master_refresh {
                    let r = self.cfg.garp.master_refresh;
                    let at = (r > Duration::ZERO).then(|| now + r);
                    self.timers.set_or_stop(Timer::GarpRefresh, at);
                }
            }
            State::Backup
                if interval_changed
                    && self.cfg.version == Version::V2
                    && self.timers.get(Timer::MasterDown).is_some() =>
            {
                self.timers
                    .set(Timer::MasterDown, now + self.master_down_interval());
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether [`reconfigure`](Self::reconfigure) would take `cfg`; changes nothing.
    pub fn check_reconfigure(&self, cfg: &RouterConfig) -> Result<(), ReconfigureError> {
        cfg.validate()?;
        let old = &self.cfg;
        if cfg.vrid != old.vrid {
            Err(ReconfigureError::Vrid)
        } else if cfg.version != old.version {
            Err(ReconfigureError::Version)
        } else if cfg.primary_address.is_ipv4() != old.primary_address.is_ipv4() {
            Err(ReconfigureError::Family)
        } else if (cfg.priority == OWNER_PRIORITY) != (old.priority == OWNER_PRIORITY) {
            Err(ReconfigureError::Owner)
        } else if cfg.sync_group_member != old.sync_group_member {
            Err(ReconfigureError::SyncGroup)
        } else if (track_faults(cfg) > 0) != (self.faults.tracks > 0) {
            Err(ReconfigureError::Fault)
        } else {
            Ok(())
        }
    }

    /// Current protocol state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Effective priority (base plus track weights); what adverts carry.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// Master_Adver_Interval in centiseconds: learned from the Master (v3) or configured.
    pub fn master_adver_interval_cs(&self) -> u16 {
        self.master_adver_interval_cs
    }

    /// Skew_Time for the current priority and Master_Adver_Interval.
    pub fn skew_time(&self) -> Duration {
        rules::skew_time(
            self.cfg.version,
            self.priority,
            self.master_adver_interval_cs,
        )
    }

    /// Master_Down_Interval for the current priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        rules::master_down_interval(
            self.cfg.version,
            self.priority,
            self.master_adver_interval_cs,
        )
    }

    /// Advertisement_Interval as configured.
    pub fn advert_interval(&self) -> Duration {
        Duration::from_centis(u64::from(self.cfg.advert_interval_cs))
    }

    /// Whether tracked check `id` counts as up now (one reporting numbers: whether its value
    /// does not hold the instance in Fault); `None` for an unknown id.
    pub fn track_up(&self, id: TrackId) -> Option<bool> {
        let i = usize::from(id.0);
        let (t, level) = (self.cfg.tracks.get(i)?, self.levels.get(i)?);
        Some(match level {
            Level::Up(up) => *up,
            Level::Value(_) => track_offset(t.weight, *level).is_some(),
        })
    }

    /// The number tracked check `id` last reported ([`Event::TrackValue`]); `None` for an
    /// unknown id or one that reports up/down.
    pub fn track_value(&self, id: TrackId) -> Option<i32> {
        match self.levels.get(usize::from(id.0))? {
            Level::Value(v) => Some(*v),
            Level::Up(_) => None,
        }
    }

    /// Whether any fault source is active.
    pub fn is_faulted(&self) -> bool {
        self.faults.any()
    }

    /// What this router has done so far: transitions and dropped adverts.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The earliest time [`handle_timeout`](Self::handle_timeout) must be called, if any
    /// timer is armed. Calling it later is safe (late timers fire then); earlier is a no-op.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// The next queued action, oldest first.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Fires every timer whose deadline is at or before `now`: Master_Down_Timer first, then
    /// (in Master) Adver_Timer and keepalived's GARP delay and refresh.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in Timer::VALUES {
            if !self.timers.is_expired(timer, now) {
                continue;
            }
            // Only a Backup's Master_Down_Timer runs outside Master.
            if timer != Timer::MasterDown && self.state != State::Master {
                continue;
            }
            self.timers.stop(timer);
            match timer {
                Timer::MasterDown => self.master_down_expired(now),
                Timer::Adver => self.send_advert(now),
                Timer::GarpDelay => self.push(Action::SendGarp {
                    count: self.cfg.garp.master_repeat,
                    reason: GarpReason::Delayed,
                }),
                Timer::GarpRefresh => {
                    self.timers
                        .set(Timer::GarpRefresh, now + self.cfg.garp.master_refresh);
                    self.push(Action::SendGarp {
                        count: self.cfg.garp.master_refresh_repeat,
                        reason: GarpReason::Refresh,
                    });
                }
                Timer::GarpLowerPriority => self.push(Action::SendGarp {
                    count: self.cfg.garp.lower_prio_repeat,
                    reason: GarpReason::LowerPriorityDelayed,
                }),
            }
        }
    }

    /// Processes one event at time `now` and queues the resulting actions.
    pub fn handle(&mut self, now: Instant, event: Event) {
        match event {
            Event::Startup => self.startup(now),
            Event::Shutdown => self.shutdown(),
            Event::Advert(adv) => self.advert(now, adv),
            Event::Track { id, up } => self.track(now, id, Level::Up(up)),
            Event::TrackValue { id, value } => self.track(now, id, Level::Value(value)),
            Event::InterfaceUp => self.set_fault(now, FaultSource::Interface, false),
            Event::InterfaceDown => self.set_fault(now, FaultSource::Interface, true),
            Event::FaultSet => self.set_fault(now, FaultSource::External, true),
            Event::FaultCleared => self.set_fault(now, FaultSource::External, false),
            Event::Sync(cmd) => self.sync(now, cmd),
        }
    }

    fn push(&mut self, a: Action) {
        self.actions.push_back(a);
    }

    fn observe(&mut self, o: Observation) {
        self.actions.push_back(Action::Observe(o));
    }

    fn packet_interval(&self) -> u16 {
        packet_interval(&self.cfg)
    }

    /// Sends an advert with the effective priority and resets Adver_Timer.
    fn send_advert(&mut self, now: Instant) {
        self.push(Action::SendAdvert {
            priority: self.priority,
            max_advert_interval: self.packet_interval(),
        });
        self.timers.set(Timer::Adver, now + self.advert_interval());
    }

    fn set_ready(&mut self, ready: bool) {
        if self.ready_for_master != ready {
            self.ready_for_master = ready;
            self.observe(Observation::MasterDownReady { ready });
        }
    }

    /// Whether this sync-group member's Master_Down_Timer expired and it waits for its group.
    pub fn is_ready_for_master(&self) -> bool {
        self.ready_for_master
    }
}

/// The interval as a packet carries it: centiseconds for v3, whole seconds for v2.
fn packet_interval(cfg: &RouterConfig) -> u16 {
    match cfg.version {
        Version::V3 => cfg.advert_interval_cs,
        Version::V2 => cfg.advert_interval_cs / 100,
    }
}

/// The receive rules of `cfg` that do not depend on authentication (the state machine never
/// sees it).
fn receive_check(cfg: &RouterConfig) -> ReceiveCheck {
    ReceiveCheck {
        version: cfg.version,
        auth: Auth::None,
        interval: packet_interval(cfg),
    }
}
