//! Per-instance settings the state machine needs, and their validation.

use core::net::IpAddr;

use thiserror::Error;
use vrrp_proto::Version;

use super::time::Duration;

/// What the instance does at [`Event::Startup`](super::Event::Startup), keepalived's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InitialState {
    /// `state BACKUP` (and the RFC's behaviour for every router that is not the address owner):
    /// wait Master_Down_Interval for a Master before taking over.
    #[default]
    Backup,
    /// `state MASTER`: become Master at once, like the address owner, and let the election
    /// sort it out (a higher-priority Master's advert sends this one back to Backup).
    Master,
}

/// Gratuitous ARP / unsolicited NA timing, keepalived's `garp_master_*` keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GarpConfig {
    /// `garp_master_delay`: a second burst this long after becoming Master (zero: none).
    /// keepalived's default is 5 s.
    pub master_delay: Duration,
    /// `garp_master_repeat`: messages per burst at the transition and at the delayed burst.
    /// keepalived's default is 5.
    pub master_repeat: u8,
    /// `garp_master_refresh`: while Master, a burst every this long (zero: never, the default).
    pub master_refresh: Duration,
    /// `garp_master_refresh_repeat`: messages per refresh burst. Default 1.
    pub master_refresh_repeat: u8,
    /// `garp_lower_prio_repeat`: messages sent when a Master hears a lower-priority advert
    /// (zero: none). keepalived's default is `garp_master_repeat`, 5: two routers that
    /// were Master at once each announced the VIP, and a host whose ARP cache kept the other's
    /// MAC (Linux keeps the first answer for `locktime`) would send to a Backup.
    pub lower_prio_repeat: u8,
    /// `garp_lower_prio_delay`: a second such burst this long after the lower-priority advert
    /// (zero: none). keepalived's default is `garp_master_delay`, 5 s.
    pub lower_prio_delay: Duration,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
        }
    }
}

/// One tracked check (script, interface or file) and its weight, keepalived's `track_*`
/// entries. Its index in [`RouterConfig::tracks`] is its [`TrackId`](super::TrackId).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackConfig {
    /// Positive: added to the priority while the check passes. Negative: added (so
    /// subtracted) while it fails. Zero: a failing check puts the instance in Fault.
    /// Range -254..=254 as in keepalived.
    pub weight: i16,
    /// Whether the check counts as passing before its first report.
    pub initially_up: bool,
    /// `Some` for a check that reports a number instead of pass/fail (keepalived's
    /// `track_file`): the number it starts with. Its worth is then value × weight, clamped
    /// to -254..=253, and -254 (with weight 0: any value but 0) holds the instance in Fault
    /// (keepalived.conf(5), "Track files"); `initially_up` is not used.
    pub initial_value: Option<i32>,
}

impl TrackConfig {
    /// A check with `weight` that starts as passing.
    pub const fn new(weight: i16) -> Self {
        TrackConfig {
            weight,
            initially_up: true,
            initial_value: None,
        }
    }

    /// A check reporting numbers (see [`TrackConfig::initial_value`]) that starts at `value`.
    pub const fn value(weight: i16, value: i32) -> Self {
        TrackConfig {
            weight,
            initially_up: true,
            initial_value: Some(value),
        }
    }
}

/// Everything one virtual router instance needs to run its state machine.
///
/// Build it with [`RouterConfig::new`] (RFC and keepalived defaults) and set fields as needed;
/// [`VirtualRouter::new`](super::VirtualRouter::new) validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// Virtual router identifier, 1..=255.
    pub vrid: u8,
    /// Protocol version of this instance. Adverts of the other version are dropped.
    pub version: Version,
    /// Base priority, 1..=255; 255 means this router owns the virtual addresses.
    pub priority: u8,
    /// Advertisement_Interval in centiseconds, 1..=4095 for v3. For v2 it must be whole
    /// seconds (a multiple of 100), 1..=255 s.
    pub advert_interval_cs: u16,
    /// This router's primary address on the interface (IPv6: its link-local address), the
    /// source of its adverts; compared with the sender's to break equal-priority ties.
    pub primary_address: IpAddr,
    /// keepalived's `state MASTER|BACKUP`.
    pub initial_state: InitialState,
    /// Preempt_Mode: a Backup with higher priority takes over from a lower Master.
    /// keepalived's `nopreempt` sets it to false. Default true.
    pub preempt: bool,
    /// keepalived's `preempt_delay`: once a Backup first hears a lower-priority Master, it
    /// still accepts it for this long before preempting. Zero (the default): preempt at once.
    pub preempt_delay: Duration,
    /// keepalived's `lower_prio_no_advert`: when true, a Master that hears a lower-priority
    /// advert only drops it (RFC 5798/3768) instead of answering at once (RFC 9568).
    pub lower_prio_no_advert: bool,
    /// keepalived's `higher_prio_send_advert`: a Master that hears a higher-priority advert
    /// sends one advert of its own before it goes Backup, so that the other Master, hearing
    /// a lower priority, repeats its GARPs (`garp_lower_prio_repeat`) after ours. Default
    /// false.
    pub higher_prio_send_advert: bool,
    /// Set for instances of a `vrrp_sync_group` coordinated by a
    /// [`SyncGroup`](super::SyncGroup): when Master_Down_Timer expires the instance does not
    /// go Master by itself but reports [`Observation::MasterDownReady`](super::Observation::MasterDownReady)
    /// and waits in Backup for the group's [`SyncCommand::BecomeMaster`](super::SyncCommand::BecomeMaster),
    /// which comes once every Backup member is ready (keepalived prefers Backup over a group
    /// split between states). Default false.
    pub sync_group_member: bool,
    /// Gratuitous ARP / NA timing.
    pub garp: GarpConfig,
    /// Tracked checks and their weights.
    pub tracks: Vec<TrackConfig>,
}

impl RouterConfig {
    /// A config with the defaults of keepalived and the RFC: advert interval 1 s, initial
    /// state Backup, preempt on, no preempt delay, RFC 9568 answers to lower-priority adverts,
    /// default GARP timing, no tracked checks.
    pub fn new(vrid: u8, version: Version, priority: u8, primary_address: IpAddr) -> Self {
        RouterConfig {
            vrid,
            version,
            priority,
            advert_interval_cs: 100,
            primary_address,
            initial_state: InitialState::Backup,
            preempt: true,
            preempt_delay: Duration::ZERO,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            sync_group_member: false,
            garp: GarpConfig::default(),
            tracks: Vec::new(),
        }
    }

    /// Checks every field against the ranges the RFCs and keepalived allow.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vrid == 0 {
            return Err(ConfigError::VridZero);
        }
        if self.priority == 0 {
            return Err(ConfigError::PriorityZero);
        }
        if self.advert_interval_cs == 0 {
            return Err(ConfigError::IntervalZero);
        }
        match self.version {
            Version::V3 => {
                // The v3 field is 12 bits.
                if self.advert_interval_cs > 4095 {
                    return Err(ConfigError::IntervalTooLarge {
                        centis: self.advert_interval_cs,
                    });
                }
            }
            Version::V2 => {
                // The v2 field is 8 bits of whole seconds.
                if !self.advert_interval_cs.is_multiple_of(100) {
                    return Err(ConfigError::V2IntervalNotWholeSeconds {
                        centis: self.advert_interval_cs,
                    });
                }
                if self.advert_interval_cs / 100 > 255 {
                    return Err(ConfigError::IntervalTooLarge {
                        centis: self.advert_interval_cs,
                    });
                }
                if !self.primary_address.is_ipv4() {
                    return Err(ConfigError::V2NeedsIpv4);
                }
            }
        }
        for (index, t) in self.tracks.iter().enumerate() {
            if !(-254..=254).contains(&t.weight) {
                return Err(ConfigError::WeightOutOfRange {
                    index,
                    weight: t.weight,
                });
            }
        }
        if self.tracks.len() > usize::from(u16::MAX) {
            return Err(ConfigError::TooManyTracks);
        }
        Ok(())
    }
}

/// Why a [`RouterConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// VRID 0 is reserved.
    #[error("virtual router id 0 is reserved (use 1..=255)")]
    VridZero,
    /// Priority 0 is reserved for "Master is leaving".
    #[error("priority 0 is reserved (use 1..=255)")]
    PriorityZero,
    /// A zero advert interval would make every timer fire at once.
    #[error("advertisement interval must be at least 1 centisecond")]
    IntervalZero,
    /// The interval does not fit the packet field.
    #[error("advertisement interval {centis} cs does not fit the packet field")]
    IntervalTooLarge {
        /// The configured interval.
        centis: u16,
    },
    /// VRRPv2 carries whole seconds only.
    #[error("VRRPv2 advertisement interval must be whole seconds, got {centis} cs")]
    V2IntervalNotWholeSeconds {
        /// The configured interval.
        centis: u16,
    },
    /// VRRPv2 is IPv4 only.
    #[error("VRRPv2 is IPv4 only but the primary address is IPv6")]
    V2NeedsIpv4,
    /// A track weight outside keepalived's -254..=254.
    #[error("track {index}: weight {weight} outside -254..=254")]
    WeightOutOfRange {
        /// Index of the track in the config.
        index: usize,
        /// The weight given.
        weight: i16,
    },
    /// More tracked checks than a [`TrackId`](super::TrackId) can name.
    #[error("more than 65535 tracked checks")]
    TooManyTracks,
}

/// Why a running router cannot take new settings in place and must be restarted (see
/// [`VirtualRouter::reconfigure`](super::VirtualRouter::reconfigure)).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReconfigureError {
    /// The new settings are invalid.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// Another VRID is another virtual router.
    #[error("the virtual router id changed")]
    Vrid,
    /// v2 and v3 differ in timers and packets.
    #[error("the VRRP version changed")]
    Version,
    /// IPv4 and IPv6 instances use other sockets.
    #[error("the address family changed")]
    Family,
    /// The address owner (priority 255) follows other rules at startup.
    #[error("the instance became or stopped being the address owner (priority 255)")]
    Owner,
    /// Sync group members wait for their group before becoming Master.
    #[error("the sync group membership changed")]
    SyncGroup,
    /// The tracked checks would move the instance into or out of Fault.
    #[error("the tracked checks would move the instance into or out of FAULT")]
    Fault,
}
