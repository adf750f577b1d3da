//! The state machine of one virtual router.

use std::collections::VecDeque;

use vrrp_proto::Version;

use super::config::{ConfigError, InitialState, ReconfigureError, RouterConfig};
use super::time::{Duration, Instant};
use super::types::{
    Action, Advert, DropReason, Event, FaultSource, GarpReason, Ignored, Observation, State,
    SyncCommand, TrackId, TransitionReason,
};

/// The priority of the address owner, which never moves to or from it.
pub const OWNER_PRIORITY: u8 = 255;

/// Effective priority from a base priority and the weights of tracked checks, keepalived's
/// rule: a positive weight counts while its check passes, a negative one while it fails;
/// the sum is clamped to 1..=254; the owner (255) stays 255 whatever the checks say.
/// Weight-0 checks do not count here (they put the instance in Fault instead).
///
/// ```
/// use vrrp_node::fsm::effective_priority;
/// assert_eq!(effective_priority(100, [(10, true), (-30, false)]), 80);
/// assert_eq!(effective_priority(250, [(10, true)]), 254);
/// assert_eq!(effective_priority(255, [(-50, false)]), 255);
/// ```
pub fn effective_priority(base: u8, tracks: impl IntoIterator<Item = (i16, bool)>) -> u8 {
    if base == OWNER_PRIORITY {
        return OWNER_PRIORITY;
    }
    let mut p = i32::from(base);
    for (weight, up) in tracks {
        if (weight > 0 && up) || (weight < 0 && !up) {
            p += i32::from(weight);
        }
    }
    // Clamped, so the cast cannot truncate.
    p.clamp(1, 254) as u8
}

/// Skew_Time for a priority: v3 `((256 - priority) * Master_Adver_Interval) / 256`
/// centiseconds (integer division in centiseconds, as RFC 9568 and keepalived compute it);
/// v2 `(256 - priority) / 256` seconds, computed in microseconds.
pub fn skew_time(version: Version, priority: u8, master_adver_interval_cs: u16) -> Duration {
    let k = 256 - u64::from(priority);
    match version {
        Version::V3 => Duration::from_centis(k * u64::from(master_adver_interval_cs) / 256),
        Version::V2 => Duration::from_micros(k * 1_000_000 / 256),
    }
}

/// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time` (v2: the local
/// Advertisement_Interval, which must equal the Master's).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval_cs: u16,
) -> Duration {
    Duration::from_centis(3 * u64::from(master_adver_interval_cs))
        + skew_time(version, priority, master_adver_interval_cs)
}

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
    track_up: Vec<bool>,
    faults: Faults,
    /// Master_Adver_Interval in centiseconds (v3 learns it from the Master; v2 uses its own).
    master_adver_interval_cs: u16,
    adver_timer: Option<Instant>,
    master_down_timer: Option<Instant>,
    garp_delay_at: Option<Instant>,
    garp_refresh_at: Option<Instant>,
    /// End of the preempt_delay window once it has started.
    preempt_until: Option<Instant>,
    /// A sync-group member whose Master_Down_Timer expired, waiting for its group.
    ready_for_master: bool,
    actions: VecDeque<Action>,
}

impl VirtualRouter {
    /// A router in Initialize for `cfg`, or why `cfg` is invalid.
    pub fn new(cfg: RouterConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let track_up: Vec<bool> = cfg.tracks.iter().map(|t| t.initially_up).collect();
        let faults = Faults {
            tracks: track_faults(&cfg),
            ..Faults::default()
        };
        let priority = tracked_priority(&cfg, &track_up);
        Ok(VirtualRouter {
            master_adver_interval_cs: cfg.advert_interval_cs,
            cfg,
            state: State::Initialize,
            priority,
            track_up,
            faults,
            adver_timer: None,
            master_down_timer: None,
            garp_delay_at: None,
            garp_refresh_at: None,
            preempt_until: None,
            ready_for_master: false,
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
    /// Each track's current state is read from `cfg.tracks[i].initially_up`: the caller
    /// sets it to what it knows of that check now (tracks are matched by position).
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
        self.track_up = cfg.tracks.iter().map(|t| t.initially_up).collect();
        self.faults.tracks = track_faults(&cfg);
        self.cfg = cfg;
        let priority = tracked_priority(&self.cfg, &self.track_up);
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
                    self.garp_refresh_at = (r > Duration::ZERO).then(|| now + r);
                }
            }
            State::Backup
                if interval_changed
                    && self.cfg.version == Version::V2
                    && self.master_down_timer.is_some() =>
            {
                self.master_down_timer = Some(now + self.master_down_interval());
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
        skew_time(
            self.cfg.version,
            self.priority,
            self.master_adver_interval_cs,
        )
    }

    /// Master_Down_Interval for the current priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.cfg.version,
            self.priority,
            self.master_adver_interval_cs,
        )
    }

    /// Advertisement_Interval as configured.
    pub fn advert_interval(&self) -> Duration {
        Duration::from_centis(u64::from(self.cfg.advert_interval_cs))
    }

    /// Whether any fault source is active.
    pub fn is_faulted(&self) -> bool {
        self.faults.any()
    }

    /// The earliest time [`handle_timeout`](Self::handle_timeout) must be called, if any
    /// timer is armed. Calling it later is safe (late timers fire then); earlier is a no-op.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.adver_timer,
            self.master_down_timer,
            self.garp_delay_at,
            self.garp_refresh_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next queued action, oldest first.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Fires every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.master_down_timer.is_some_and(|t| t <= now) {
            self.master_down_timer = None;
            if self.state == State::Backup {
                if self.cfg.sync_group_member {
                    self.set_ready(true);
                } else {
                    self.become_master(now, TransitionReason::MasterDown);
                }
            }
        }
        if self.state != State::Master {
            return;
        }
        if self.adver_timer.is_some_and(|t| t <= now) {
            self.send_advert(now);
        }
        if self.garp_delay_at.is_some_and(|t| t <= now) {
            self.garp_delay_at = None;
            self.push(Action::SendGarp {
                count: self.cfg.garp.master_repeat,
                reason: GarpReason::Delayed,
            });
        }
        if self.garp_refresh_at.is_some_and(|t| t <= now) {
            self.garp_refresh_at = Some(now + self.cfg.garp.master_refresh);
            self.push(Action::SendGarp {
                count: self.cfg.garp.master_refresh_repeat,
                reason: GarpReason::Refresh,
            });
        }
    }

    /// Processes one event at time `now` and queues the resulting actions.
    pub fn handle(&mut self, now: Instant, event: Event) {
        match event {
            Event::Startup => self.startup(now),
            Event::Shutdown => self.shutdown(),
            Event::Advert(adv) => self.advert(now, adv),
            Event::Timeout => self.handle_timeout(now),
            Event::Track { id, up } => self.track(now, id, up),
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
        match self.cfg.version {
            Version::V3 => self.cfg.advert_interval_cs,
            Version::V2 => self.cfg.advert_interval_cs / 100,
        }
    }

    /// Sends an advert with the effective priority and resets Adver_Timer.
    fn send_advert(&mut self, now: Instant) {
        self.push(Action::SendAdvert {
            priority: self.priority,
            max_advert_interval: self.packet_interval(),
        });
        self.adver_timer = Some(now + self.advert_interval());
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

    fn set_state(&mut self, to: State, reason: TransitionReason) {
        let from = self.state;
        self.state = to;
        // Readiness only means something while waiting in Backup.
        self.ready_for_master = false;
        self.observe(Observation::StateChanged { from, to, reason });
    }

    fn become_master(&mut self, now: Instant, reason: TransitionReason) {
        self.set_state(State::Master, reason);
        self.master_down_timer = None;
        self.preempt_until = None;
        // Addresses first so the GARPs that follow announce something that answers.
        self.push(Action::InstallVips);
        self.send_advert(now);
        self.push(Action::SendGarp {
            count: self.cfg.garp.master_repeat,
            reason: GarpReason::Transition,
        });
        let g = self.cfg.garp;
        self.garp_delay_at = (g.master_delay > Duration::ZERO).then(|| now + g.master_delay);
        self.garp_refresh_at = (g.master_refresh > Duration::ZERO).then(|| now + g.master_refresh);
        self.push(Action::Notify {
            state: State::Master,
        });
    }

    /// Leaves Master for `to`: cancels Master timers, sends priority 0 unless another Master
    /// already took over (`to == Backup`), and always removes the addresses.
    fn leave_master(&mut self, to: State, reason: TransitionReason) {
        self.set_state(to, reason);
        self.adver_timer = None;
        self.garp_delay_at = None;
        self.garp_refresh_at = None;
        if to != State::Backup {
            self.push(Action::SendAdvert {
                priority: 0,
                max_advert_interval: self.packet_interval(),
            });
        }
        self.push(Action::RemoveVips);
    }

    fn become_backup(&mut self, now: Instant, reason: TransitionReason) {
        match self.state {
            State::Master => self.leave_master(State::Backup, reason),
            _ => self.set_state(State::Backup, reason),
        }
        self.master_down_timer = Some(now + self.master_down_interval());
        self.push(Action::Notify {
            state: State::Backup,
        });
    }

    fn become_fault(&mut self, reason: TransitionReason) {
        match self.state {
            State::Master => self.leave_master(State::Fault, reason),
            _ => self.set_state(State::Fault, reason),
        }
        self.master_down_timer = None;
        self.preempt_until = None;
        self.push(Action::Notify {
            state: State::Fault,
        });
    }

    /// Initialize (or a cleared Fault) to the running state the RFC and keepalived choose.
    fn start_running(&mut self, now: Instant, backup_reason: TransitionReason) {
        // Backups start by assuming a Master with their own interval (RFC 5798 6.4.1).
        self.master_adver_interval_cs = self.cfg.advert_interval_cs;
        if self.priority == OWNER_PRIORITY {
            self.become_master(now, TransitionReason::OwnerStartup);
        } else if self.cfg.initial_state == InitialState::Master
            && backup_reason == TransitionReason::Startup
        {
            self.become_master(now, TransitionReason::InitialMaster);
        } else {
            self.become_backup(now, backup_reason);
        }
    }

    fn startup(&mut self, now: Instant) {
        if self.state != State::Initialize {
            self.observe(Observation::EventIgnored {
                state: self.state,
                what: Ignored::Startup,
            });
            return;
        }
        if self.faults.any() {
            let src = self.first_fault_source();
            self.become_fault(TransitionReason::Fault(src));
        } else {
            self.start_running(now, TransitionReason::Startup);
        }
    }

    fn shutdown(&mut self) {
        match self.state {
            State::Initialize => {
                self.observe(Observation::EventIgnored {
                    state: self.state,
                    what: Ignored::Shutdown,
                });
                return;
            }
            State::Master => self.leave_master(State::Initialize, TransitionReason::Shutdown),
            State::Backup | State::Fault => {
                self.set_state(State::Initialize, TransitionReason::Shutdown)
            }
        }
        self.master_down_timer = None;
        self.preempt_until = None;
        self.push(Action::Notify {
            state: State::Initialize,
        });
    }

    fn drop_advert(&mut self, adv: &Advert, reason: DropReason) {
        self.observe(Observation::AdvertDropped {
            source: adv.source,
            reason,
        });
    }

    fn advert(&mut self, now: Instant, adv: Advert) {
        let reason = match self.state {
            State::Initialize => Some(DropReason::NotRunning),
            State::Fault => Some(DropReason::InFault),
            _ if adv.vrid != self.cfg.vrid => Some(DropReason::WrongVrid),
            _ if adv.version != self.cfg.version => Some(DropReason::WrongVersion),
            _ if adv.source == self.cfg.primary_address => Some(DropReason::OwnAddress),
            _ if adv.source.is_ipv4() != self.cfg.primary_address.is_ipv4() => {
                Some(DropReason::AddressFamily)
            }
            _ if adv.max_advert_interval == 0 => Some(DropReason::ZeroInterval),
            _ if self.cfg.version == Version::V2
                && adv.max_advert_interval != self.cfg.advert_interval_cs / 100 =>
            {
                Some(DropReason::IntervalMismatch)
            }
            _ => None,
        };
        if let Some(r) = reason {
            self.drop_advert(&adv, r);
            return;
        }
        if self.state == State::Backup {
            self.advert_in_backup(now, adv);
        } else {
            self.advert_in_master(now, adv);
        }
    }

    /// The Master's interval in centiseconds as the advert states it.
    fn advert_interval_cs(&self, adv: &Advert) -> u16 {
        match self.cfg.version {
            // Checked equal to our own in `advert`.
            Version::V2 => self.cfg.advert_interval_cs,
            // The field is 12 bits on the wire; clamp in case the driver passed more.
            Version::V3 => adv.max_advert_interval.min(4095),
        }
    }

    /// RFC 9568 6.4.2: Backup learns the Master's interval (v3) before recomputing timers.
    fn learn_interval(&mut self, adv: &Advert) {
        let to_cs = self.advert_interval_cs(adv);
        if to_cs != self.master_adver_interval_cs {
            self.observe(Observation::MasterIntervalLearned {
                from_cs: self.master_adver_interval_cs,
                to_cs,
            });
            self.master_adver_interval_cs = to_cs;
        }
    }

    fn advert_in_backup(&mut self, now: Instant, adv: Advert) {
        if adv.priority == 0 {
            self.observe(Observation::MasterLeaving { source: adv.source });
            // A member already waiting for its group has nothing left to time.
            if !self.ready_for_master {
                self.master_down_timer = Some(now + self.skew_time());
            }
            return;
        }
        let accept = if !self.cfg.preempt || adv.priority >= self.priority {
            true
        } else if self.cfg.preempt_delay > Duration::ZERO {
            // keepalived: the delay starts when a lower Master is first heard.
            let until = *self
                .preempt_until
                .get_or_insert(now + self.cfg.preempt_delay);
            now < until
        } else {
            false
        };
        if accept {
            self.learn_interval(&adv);
            self.set_ready(false);
            self.master_down_timer = Some(now + self.master_down_interval());
        } else {
            self.drop_advert(&adv, DropReason::LowerPriority);
        }
    }

    fn advert_in_master(&mut self, now: Instant, adv: Advert) {
        if adv.priority == 0 {
            // Another Master is leaving: take its Backups at once.
            self.send_advert(now);
            return;
        }
        let reason = if adv.priority > self.priority {
            Some(TransitionReason::HigherPriority)
        } else if adv.priority == self.priority && ip_gt(adv.source, self.cfg.primary_address) {
            Some(TransitionReason::EqualPriorityHigherAddress)
        } else {
            None
        };
        match reason {
            Some(reason) => {
                self.learn_interval(&adv);
                self.become_backup(now, reason);
            }
            None => {
                self.drop_advert(&adv, DropReason::LowerPriority);
                if !self.cfg.lower_prio_no_advert {
                    // RFC 9568 6.4.3: assert Mastership so the other stops at once.
                    self.send_advert(now);
                }
                if self.cfg.garp.lower_prio_repeat > 0 {
                    self.push(Action::SendGarp {
                        count: self.cfg.garp.lower_prio_repeat,
                        reason: GarpReason::LowerPriority,
                    });
                }
            }
        }
    }

    fn track(&mut self, now: Instant, id: TrackId, up: bool) {
        let i = usize::from(id.0);
        let (Some(cfg), Some(&was_up)) = (self.cfg.tracks.get(i), self.track_up.get(i)) else {
            self.observe(Observation::EventIgnored {
                state: self.state,
                what: Ignored::UnknownTrack(id),
            });
            return;
        };
        if was_up == up {
            return;
        }
        let weight = cfg.weight;
        if let Some(slot) = self.track_up.get_mut(i) {
            *slot = up;
        }
        if weight == 0 {
            self.set_fault(now, FaultSource::Track(id), !up);
            return;
        }
        let new = tracked_priority(&self.cfg, &self.track_up);
        if new == self.priority {
            return;
        }
        self.observe(Observation::PriorityChanged {
            from: self.priority,
            to: new,
        });
        self.priority = new;
        if self.state == State::Master {
            // Tell the Backups now rather than at the next interval: a preempting Backup
            // that is now higher takes over one Master_Down_Interval sooner.
            self.send_advert(now);
        }
    }

    fn first_fault_source(&self) -> FaultSource {
        if self.faults.interface {
            FaultSource::Interface
        } else if self.faults.tracks > 0 {
            let id = self
                .cfg
                .tracks
                .iter()
                .zip(&self.track_up)
                .position(|(t, up)| t.weight == 0 && !up)
                .and_then(|i| u16::try_from(i).ok())
                .unwrap_or(0);
            FaultSource::Track(TrackId(id))
        } else if self.faults.external {
            FaultSource::External
        } else {
            FaultSource::SyncGroup
        }
    }

    fn set_fault(&mut self, now: Instant, source: FaultSource, active: bool) {
        let was = self.faults.any();
        let changed = match source {
            FaultSource::Interface => {
                std::mem::replace(&mut self.faults.interface, active) != active
            }
            FaultSource::External => std::mem::replace(&mut self.faults.external, active) != active,
            FaultSource::SyncGroup => std::mem::replace(&mut self.faults.sync, active) != active,
            FaultSource::Track(_) => {
                // `track` only calls this on a real change of a weight-0 check.
                if active {
                    self.faults.tracks += 1;
                } else {
                    self.faults.tracks = self.faults.tracks.saturating_sub(1);
                }
                true
            }
        };
        if !changed {
            return;
        }
        self.observe(Observation::FaultChanged { source, active });
        let is = self.faults.any();
        match (self.state, was, is) {
            (State::Backup | State::Master, _, true) => {
                self.become_fault(TransitionReason::Fault(source))
            }
            (State::Fault, true, false) => self.start_running(now, TransitionReason::FaultCleared),
            _ => {}
        }
    }

    fn sync(&mut self, now: Instant, cmd: SyncCommand) {
        match (cmd, self.state) {
            (SyncCommand::BecomeMaster, State::Backup) => {
                self.become_master(now, TransitionReason::SyncGroup)
            }
            (SyncCommand::BecomeBackup, State::Master) => {
                self.become_backup(now, TransitionReason::SyncGroup)
            }
            (SyncCommand::Fault, _) => self.set_fault(now, FaultSource::SyncGroup, true),
            (SyncCommand::FaultCleared, _) => self.set_fault(now, FaultSource::SyncGroup, false),
            _ => self.observe(Observation::EventIgnored {
                state: self.state,
                what: Ignored::Sync(cmd),
            }),
        }
    }
}

/// The effective priority of `cfg` with its tracks in the states `track_up`.
fn tracked_priority(cfg: &RouterConfig, track_up: &[bool]) -> u8 {
    effective_priority(
        cfg.priority,
        cfg.tracks
            .iter()
            .zip(track_up)
            .map(|(t, up)| (t.weight, *up)),
    )
}

/// How many weight-0 checks of `cfg` start (or, on reconfigure, are) failing: each holds
/// the instance in Fault.
fn track_faults(cfg: &RouterConfig) -> u32 {
    let n = cfg
        .tracks
        .iter()
        .filter(|t| t.weight == 0 && !t.initially_up)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Unsigned comparison of addresses in network byte order (RFC 9568 6.4.3); callers ensure
/// both are of one family.
fn ip_gt(a: core::net::IpAddr, b: core::net::IpAddr) -> bool {
    use core::net::IpAddr::{V4, V6};
    match (a, b) {
        (V4(a), V4(b)) => a.octets() > b.octets(),
        (V6(a), V6(b)) => a.octets() > b.octets(),
        _ => false,
    }
}
