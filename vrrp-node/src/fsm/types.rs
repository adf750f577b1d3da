//! Events in, actions and observations out.

use core::fmt;
use core::net::IpAddr;

use vrrp_proto::Version;

/// Protocol state of one virtual router (RFC 5798 section 6.4, plus keepalived's FAULT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Not running: before [`Event::Startup`] and after [`Event::Shutdown`]. A notify with
    /// this state after a shutdown is keepalived's `STOP`.
    Initialize,
    /// Listening for the Master's adverts, ready to take over.
    Backup,
    /// Owning the virtual addresses and advertising.
    Master,
    /// keepalived's FAULT: interface down, a weight-0 tracked check failing, an operator or
    /// sync-group fault. No adverts sent or accepted, no addresses held.
    Fault,
}

impl State {
    /// Upper-case name as keepalived's notify scripts receive it (`STOP` for Initialize).
    pub const fn keepalived_name(self) -> &'static str {
        match self {
            State::Initialize => "STOP",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Initialize => "Initialize",
            State::Backup => "Backup",
            State::Master => "Master",
            State::Fault => "Fault",
        })
    }
}

/// Index of a tracked check in [`RouterConfig::tracks`](super::RouterConfig::tracks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(pub u16);

/// A received advertisement, already decoded and checked by the driver (TTL 255, checksum,
/// authentication, address list): only the fields the election needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Advert {
    /// Source address of the IP packet: the sender's primary address.
    pub source: IpAddr,
    /// Version field of the packet.
    pub version: Version,
    /// VRID field.
    pub vrid: u8,
    /// Priority field; 0 means the sender's Master is leaving.
    pub priority: u8,
    /// Interval field in the packet's own unit: centiseconds for v3 (Max Adver Int), whole
    /// seconds for v2 (Adver Int).
    pub max_advert_interval: u16,
}

/// A command from a [`SyncGroup`](super::SyncGroup) coordinator to one of its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncCommand {
    /// Another member became Master: a Backup member follows at once.
    BecomeMaster,
    /// Another member fell back to Backup: a Master member follows.
    BecomeBackup,
    /// Some member has a fault of its own: every member goes to Fault.
    Fault,
    /// No member has a fault of its own any more.
    FaultCleared,
}

/// An input to [`VirtualRouter::handle`](super::VirtualRouter::handle). A timer's expiry
/// is not one: it goes to [`VirtualRouter::handle_timeout`](super::VirtualRouter::handle_timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// The instance starts (Initialize → Backup, Master or Fault).
    Startup,
    /// The instance stops: a Master sends a priority-0 advert and releases its addresses.
    Shutdown,
    /// An advertisement for this interface arrived.
    Advert(Advert),
    /// A tracked check changed: `up` is true while it passes.
    Track {
        /// Which check.
        id: TrackId,
        /// Its new result.
        up: bool,
    },
    /// A tracked check that reports numbers (keepalived's `track_file`, see
    /// [`TrackConfig::initial_value`](super::TrackConfig::initial_value)) read `value`.
    TrackValue {
        /// Which check.
        id: TrackId,
        /// The number it now reports.
        value: i32,
    },
    /// The instance's interface came up (carrier, admin up).
    InterfaceUp,
    /// The instance's interface went down: Fault.
    InterfaceDown,
    /// An operator or other external fault began.
    FaultSet,
    /// The external fault ended.
    FaultCleared,
    /// A command from the sync group coordinator.
    Sync(SyncCommand),
}

/// A source of Fault; an instance is in Fault while any is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultSource {
    /// The interface is down.
    Interface,
    /// A tracked check holds the instance in Fault (a weight-0 check fails, or a value check
    /// reads a faulting value).
    Track(TrackId),
    /// [`Event::FaultSet`].
    External,
    /// [`SyncCommand::Fault`].
    SyncGroup,
}

/// Why a Gratuitous ARP / unsolicited NA burst is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GarpReason {
    /// Becoming Master.
    Transition,
    /// `garp_master_delay` after becoming Master.
    Delayed,
    /// `garp_master_refresh` while Master.
    Refresh,
    /// A lower-priority advert was heard (`garp_lower_prio_repeat`).
    LowerPriority,
    /// `garp_lower_prio_delay` after a lower-priority advert was heard.
    LowerPriorityDelayed,
}

/// Why the state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransitionReason {
    /// Startup as the address owner (priority 255).
    OwnerStartup,
    /// Startup with `state MASTER`.
    InitialMaster,
    /// Startup as Backup.
    Startup,
    /// Master_Down_Timer expired (no Master heard, or a priority-0 advert's Skew_Time).
    MasterDown,
    /// A Master heard a higher-priority advert.
    HigherPriority,
    /// A Master heard an equal-priority advert from a higher primary address.
    EqualPriorityHigherAddress,
    /// [`Event::Shutdown`].
    Shutdown,
    /// A fault began.
    Fault(FaultSource),
    /// The last fault ended.
    FaultCleared,
    /// A [`SyncCommand`] from the sync group.
    SyncGroup,
}

/// Why an advert was dropped (or, for [`DropReason::LowerPriority`] in Master, answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The instance is not running.
    NotRunning,
    /// The instance is in Fault.
    InFault,
    /// VRID differs from this instance's.
    WrongVrid,
    /// Version differs from this instance's.
    WrongVersion,
    /// Source is this router's own primary address (our advert looped back).
    OwnAddress,
    /// Source address family differs from the primary address's.
    AddressFamily,
    /// Interval field is zero.
    ZeroInterval,
    /// v2: interval differs from the configured one (RFC 3768 section 7.1 says discard).
    IntervalMismatch,
    /// Lower priority (or equal priority from a lower address, in Master): a preempting
    /// Backup ignores it so its Master_Down_Timer runs out; a Master answers with its own
    /// advert (RFC 9568) unless `lower_prio_no_advert`.
    LowerPriority,
}

impl DropReason {
    /// Every reason, in declaration order (the index of [`Stats`](super::Stats)' counts).
    pub const ALL: [DropReason; 9] = [
        DropReason::NotRunning,
        DropReason::InFault,
        DropReason::WrongVrid,
        DropReason::WrongVersion,
        DropReason::OwnAddress,
        DropReason::AddressFamily,
        DropReason::ZeroInterval,
        DropReason::IntervalMismatch,
        DropReason::LowerPriority,
    ];
}

/// Something the driver should log and count; it needs no other reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Observation {
    /// The protocol state changed.
    StateChanged {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: TransitionReason,
    },
    /// An advert was dropped.
    AdvertDropped {
        /// Its source address.
        source: IpAddr,
        /// Why.
        reason: DropReason,
    },
    /// A Backup heard a priority-0 advert: it takes over after Skew_Time.
    MasterLeaving {
        /// The leaving Master.
        source: IpAddr,
    },
    /// The effective priority changed (tracked checks).
    PriorityChanged {
        /// Previous effective priority.
        from: u8,
        /// New effective priority.
        to: u8,
    },
    /// A v3 Backup learned a different Master_Adver_Interval from the Master's adverts.
    MasterIntervalLearned {
        /// Previous value in centiseconds.
        from_cs: u16,
        /// New value in centiseconds.
        to_cs: u16,
    },
    /// A fault source began or ended.
    FaultChanged {
        /// Which source.
        source: FaultSource,
        /// True when it began.
        active: bool,
    },
    /// A sync-group member's Master_Down_Timer expired (`ready`) and it waits for its group,
    /// or it heard a Master again and is no longer ready.
    MasterDownReady {
        /// True when the member is ready to become Master.
        ready: bool,
    },
    /// An event that means nothing in the current state (e.g. a second Startup, an unknown
    /// track id).
    EventIgnored {
        /// The state at the time.
        state: State,
        /// What was ignored.
        what: Ignored,
    },
}

/// Kind of event ignored by [`Observation::EventIgnored`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ignored {
    /// Startup while already running.
    Startup,
    /// Shutdown while not running.
    Shutdown,
    /// Track event with an id beyond the configured tracks.
    UnknownTrack(TrackId),
    /// A sync command that does not apply in the current state.
    Sync(SyncCommand),
}

/// An output of the state machine, drained with
/// [`VirtualRouter::poll_action`](super::VirtualRouter::poll_action) in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send an advertisement now, with the instance's configured addresses.
    SendAdvert {
        /// Priority field: the effective priority, or 0 when leaving Master.
        priority: u8,
        /// Interval field in the packet's unit: centiseconds for v3, seconds for v2.
        max_advert_interval: u16,
    },
    /// Add the virtual addresses (and virtual routes/rules) to the interface.
    InstallVips,
    /// Remove the virtual addresses. Emitted on every exit from Master.
    RemoveVips,
    /// Send a burst of gratuitous ARPs (IPv4) / unsolicited NAs (IPv6) for every address.
    SendGarp {
        /// Messages per address in this burst.
        count: u8,
        /// Why.
        reason: GarpReason,
    },
    /// Run the notify scripts / publish the state: keepalived's `notify_master` etc.
    Notify {
        /// The new state.
        state: State,
    },
    /// Log and count this; no other reaction needed.
    Observe(Observation),
}
