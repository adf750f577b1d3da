//! The typed configuration: what the daemon runs on. Every value here has been validated and
//! has keepalived's default filled in where the file said nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::anycast::AnycastRoute;
use super::error::Span;
use super::tracked::{TrackRef, VrrpTrackFile, VrrpTrackProcess};

/// A whole keepalived.conf, VRRP part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `global_defs`.
    pub global: GlobalDefs,
    /// `vrrp_script` blocks, in file order.
    pub scripts: Vec<VrrpScript>,
    /// `vrrp_instance` blocks, in file order.
    pub instances: Vec<VrrpInstance>,
    /// `vrrp_sync_group` blocks, in file order.
    pub sync_groups: Vec<SyncGroup>,
    /// `vrrp_track_process` blocks, in file order.
    pub track_processes: Vec<VrrpTrackProcess>,
    /// `track_file` (`vrrp_track_file`) blocks, in file order.
    pub track_files: Vec<VrrpTrackFile>,
    /// `anycast_route` blocks (a halb extension), in file order.
    pub anycast_routes: Vec<AnycastRoute>,
}

impl Config {
    /// The instance called `name`.
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The script called `name`.
    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// The `vrrp_track_process` called `name`.
    pub fn track_process(&self, name: &str) -> Option<&VrrpTrackProcess> {
        self.track_processes.iter().find(|p| p.name == name)
    }

    /// The `track_file` called `name`.
    pub fn track_file(&self, name: &str) -> Option<&VrrpTrackFile> {
        self.track_files.iter().find(|f| f.name == name)
    }

    /// The sync group that `instance` belongs to, if any.
    pub fn sync_group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.instances.iter().any(|i| i == instance))
    }
}

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VrrpVersion {
    /// RFC 3768: whole-second intervals, IPv4 only.
    V2,
    /// RFC 5798: centisecond intervals, IPv4 and IPv6.
    V3,
}

/// Address family of an instance (of its virtual addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// `IPv4` or `IPv6`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

impl From<Family> for vrrp_proto::Family {
    fn from(family: Family) -> Self {
        match family {
            Family::V4 => vrrp_proto::Family::Ipv4,
            Family::V6 => vrrp_proto::Family::Ipv6,
        }
    }
}

impl From<VrrpVersion> for vrrp_proto::Version {
    fn from(version: VrrpVersion) -> Self {
        match version {
            VrrpVersion::V2 => vrrp_proto::Version::V2,
            VrrpVersion::V3 => vrrp_proto::Version::V3,
        }
    }
}

/// A user and optional group scripts run as (`script_user`, a script's `user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptUser {
    /// User name.
    pub user: String,
    /// Group name; the user's primary group when absent.
    pub group: Option<String>,
}

/// `global_defs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalDefs {
    /// `router_id`; keepalived uses the host name when absent.
    pub router_id: Option<String>,
    /// `vrrp_version`: the default version of instances that name none.
    pub vrrp_version: Option<VrrpVersion>,
    /// `script_user USER [GROUP]`; keepalived tries `keepalived_script`, then root, when absent.
    pub script_user: Option<ScriptUser>,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `vrrp_garp_master_delay` (default 5 s): second GARP burst after becoming Master.
    pub garp_master_delay: Duration,
    /// `vrrp_garp_master_repeat` (default 5): GARPs per burst.
    pub garp_master_repeat: u32,
    /// `vrrp_garp_master_refresh` (default none): periodic GARP while Master.
    pub garp_master_refresh: Option<Duration>,
    /// `vrrp_garp_master_refresh_repeat` (default 1): GARPs per refresh.
    pub garp_master_refresh_repeat: u32,
    /// `vrrp_garp_lower_prio_delay` (default: `vrrp_garp_master_delay`): a second GARP
    /// burst this long after a Master heard a lower-priority advert.
    pub garp_lower_prio_delay: Option<Duration>,
    /// `vrrp_garp_lower_prio_repeat` (default: `vrrp_garp_master_repeat`): GARPs a Master
    /// sends when it hears a lower-priority advert.
    pub garp_lower_prio_repeat: Option<u32>,
    /// `vrrp_lower_prio_no_advert`: a Master does not answer a lower-priority advert with
    /// one of its own.
    pub lower_prio_no_advert: bool,
    /// `vrrp_higher_prio_send_advert`: a Master that hears a higher priority advertises once
    /// before it goes Backup.
    pub higher_prio_send_advert: bool,
    /// `vrrp_mcast_group4` (default 224.0.0.18).
    pub mcast_group4: Ipv4Addr,
    /// `vrrp_mcast_group6` (default ff02::12).
    pub mcast_group6: Ipv6Addr,
    /// `vrrp_strict`.
    pub vrrp_strict: bool,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            vrrp_version: None,
            script_user: None,
            enable_script_security: false,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp_master_refresh: None,
            garp_master_refresh_repeat: 1,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_strict: false,
        }
    }
}

/// `vrrp_script NAME { ... }`: a check whose result moves priority or faults an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpScript {
    /// The block's name, as `track_script` refers to it.
    pub name: String,
    /// Where the block starts.
    pub span: Span,
    /// `script`: the command line split into argv (quotes honoured, as keepalived does).
    pub command: Vec<String>,
    /// `interval` (default 1 s).
    pub interval: Duration,
    /// `timeout` (default: the interval, as keepalived).
    pub timeout: Duration,
    /// `weight` (default 0, range -253..253). 0: failure puts the instance in FAULT.
    pub weight: i32,
    /// `weight N reverse`: the weight applies while the script fails, not while it succeeds.
    pub weight_reverse: bool,
    /// `fall` (default 1): failures in a row before the script counts as failed.
    pub fall: u32,
    /// `rise` (default 1): successes in a row before it counts as good.
    pub rise: u32,
    /// `user USER [GROUP]`; `global.script_user` applies when absent.
    pub user: Option<ScriptUser>,
    /// `init_fail`: start in the failed state until the first success.
    pub init_fail: bool,
}

impl VrrpScript {
    /// Equal in everything but where it was written (see [`VrrpInstance::same_settings`]).
    pub fn same_settings(&self, other: &VrrpScript) -> bool {
        VrrpScript {
            span: Span::nowhere(),
            ..self.clone()
        } == VrrpScript {
            span: Span::nowhere(),
            ..other.clone()
        }
    }
}

/// `state`: where an instance starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InitialState {
    /// `state MASTER`.
    Master,
    /// `state BACKUP` (the default).
    Backup,
}

/// `authentication { auth_type ..; auth_pass .. }` (VRRPv2 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// `auth_type PASS`: the password, at most 8 bytes (longer ones are cut with a warning).
    Pass(String),
    /// `auth_type AH`: IPsec AH with the given key material.
    Ah(String),
}

/// `scope` of a virtual address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `global` (0).
    Global,
    /// `site` (200).
    Site,
    /// `link` (253).
    Link,
    /// `host` (254).
    Host,
    /// `nowhere` (255).
    Nowhere,
    /// A numeric scope not named above.
    Other(u8),
}

impl Scope {
    /// The kernel's number for this scope (`RT_SCOPE_*`).
    pub fn as_u8(self) -> u8 {
        match self {
            Scope::Global => 0,
            Scope::Site => 200,
            Scope::Link => 253,
            Scope::Host => 254,
            Scope::Nowhere => 255,
            Scope::Other(n) => n,
        }
    }
}

/// One line of `virtual_ipaddress { }` / `virtual_ipaddress_excluded { }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualIp {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (default /32 or /128).
    pub prefix_len: u8,
    /// `brd B` (IPv4 only).
    pub broadcast: Option<Ipv4Addr>,
    /// `dev D`; the instance's interface when absent.
    pub dev: Option<String>,
    /// `scope S`.
    pub scope: Option<Scope>,
    /// `label L`.
    pub label: Option<String>,
    /// Where it was written.
    pub span: Span,
}

/// One line of `track_script { }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScript {
    /// Name of a `vrrp_script` (checked to exist).
    pub name: String,
    /// `weight N`: overrides the script's own weight for this instance.
    pub weight: Option<i32>,
    /// `weight N reverse`: the weight applies while the script fails.
    pub weight_reverse: bool,
    /// Where it was written.
    pub span: Span,
}

/// One line of `track_interface { }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInterface {
    /// Interface name.
    pub name: String,
    /// `weight N` (default none: the interface going down faults the instance).
    pub weight: Option<i32>,
    /// `weight N reverse`: the weight applies while the interface is down.
    pub weight_reverse: bool,
    /// Where it was written.
    pub span: Span,
}

/// Notify command lines, each an argv. keepalived appends its own arguments to `notify`
/// (`GROUP|INSTANCE name state priority`) and none to the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notify {
    /// `notify_master`.
    pub master: Option<Vec<String>>,
    /// `notify_backup`.
    pub backup: Option<Vec<String>>,
    /// `notify_fault`.
    pub fault: Option<Vec<String>>,
    /// `notify_stop`.
    pub stop: Option<Vec<String>>,
    /// `notify`: called on every transition.
    pub any: Option<Vec<String>>,
}

/// `vrrp_instance NAME { ... }`: one virtual router on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpInstance {
    /// The block's name.
    pub name: String,
    /// Where the block starts.
    pub span: Span,
    /// `state` (default BACKUP).
    pub state: InitialState,
    /// `interface` (required).
    pub interface: String,
    /// `virtual_router_id` 1..255 (required).
    pub virtual_router_id: u8,
    /// `priority` 1..255 (default 100; 255 is the address owner).
    pub priority: u8,
    /// `advert_int` in centiseconds (default 100 = 1 s). Whole seconds for v2 (1..255 s),
    /// 1..4095 cs for v3.
    pub advert_int_cs: u16,
    /// Effective version: `version`, else `vrrp_version`, else v2 (v3 for IPv6).
    pub version: VrrpVersion,
    /// Family of the virtual addresses (IPv4 when there are none and no unicast peers).
    pub family: Family,
    /// Preempt a lower-priority Master (default true; `nopreempt` clears it).
    pub preempt: bool,
    /// `preempt_delay` 0..1000 s (default 0).
    pub preempt_delay: Duration,
    /// `unicast_src_ip`.
    pub unicast_src_ip: Option<IpAddr>,
    /// `unicast_peer { }`: when not empty, adverts go unicast to these instead of multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// `mcast_src_ip`.
    pub mcast_src_ip: Option<IpAddr>,
    /// Multicast group for this instance's family (from `global_defs`).
    pub mcast_group: IpAddr,
    /// `authentication { }` (v2 only).
    pub authentication: Option<Authentication>,
    /// `virtual_ipaddress { }`: the VIPs carried in adverts.
    pub virtual_ipaddresses: Vec<VirtualIp>,
    /// `virtual_ipaddress_excluded { }`: installed with the VIPs, not carried in adverts.
    pub virtual_ipaddresses_excluded: Vec<VirtualIp>,
    /// `track_script { }`.
    pub track_scripts: Vec<TrackScript>,
    /// `track_interface { }`.
    pub track_interfaces: Vec<TrackInterface>,
    /// `track_process { }`.
    pub track_processes: Vec<TrackRef>,
    /// `track_file { }`.
    pub track_files: Vec<TrackRef>,
    /// `dont_track_primary`: `interface` going down does not fault the instance.
    pub dont_track_primary: bool,
    /// `notify_*` and `notify`.
    pub notify: Notify,
    /// `garp_master_delay` (default: `vrrp_garp_master_delay`).
    pub garp_master_delay: Duration,
    /// `garp_master_repeat` (default: `vrrp_garp_master_repeat`).
    pub garp_master_repeat: u32,
    /// `garp_master_refresh` (default: `vrrp_garp_master_refresh`).
    pub garp_master_refresh: Option<Duration>,
    /// `garp_master_refresh_repeat` (default: `vrrp_garp_master_refresh_repeat`).
    pub garp_master_refresh_repeat: u32,
    /// `garp_lower_prio_delay` (default: the global one; 0 in strict mode).
    pub garp_lower_prio_delay: Duration,
    /// `garp_lower_prio_repeat` (default: the global one; 0 in strict mode).
    pub garp_lower_prio_repeat: u32,
    /// `lower_prio_no_advert` (default: the global one; always in strict mode).
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert` (default: the global one; never in strict mode).
    pub higher_prio_send_advert: bool,
    /// `v3_checksum_as_v2`: v3 over IPv4 checksums the message only (RFC 9568 form).
    pub v3_checksum_as_v2: bool,
    /// `accept` / `no_accept`: a non-owner Master accepts packets to the VIPs. Default on,
    /// off in strict mode (as keepalived). Off, and priority below 255, the driver drops
    /// traffic to the VIPs with an nftables rule (`driver::firewall`).
    pub accept: bool,
    /// Strict RFC mode: `vrrp_strict`, or the instance's `strict_mode`.
    pub strict: bool,
}

impl VrrpInstance {
    /// `advert_int` as a duration.
    pub fn advert_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.advert_int_cs) * 10)
    }

    /// Whether adverts go unicast (there are unicast peers).
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// Equal in everything but where it was written: what a reload uses to tell a changed
    /// instance from one that only moved in the file.
    ///
    /// ```
    /// let a = vrrp_node::config::parse_str(
    ///     "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}", "a.conf")?;
    /// let b = vrrp_node::config::parse_str(
    ///     "\n\nvrrp_instance A {\n  interface eth0\n  virtual_router_id 1\n}", "b.conf")?;
    /// assert_ne!(a.config.instances[0], b.config.instances[0]);
    /// assert!(a.config.instances[0].same_settings(&b.config.instances[0]));
    /// # Ok::<(), vrrp_node::config::ConfigError>(())
    /// ```
    pub fn same_settings(&self, other: &VrrpInstance) -> bool {
        fn strip(i: &VrrpInstance) -> VrrpInstance {
            let mut i = i.clone();
            i.span = Span::nowhere();
            for v in i
                .virtual_ipaddresses
                .iter_mut()
                .chain(i.virtual_ipaddresses_excluded.iter_mut())
            {
                v.span = Span::nowhere();
            }
            for t in &mut i.track_scripts {
                t.span = Span::nowhere();
            }
            for t in &mut i.track_interfaces {
                t.span = Span::nowhere();
            }
            for t in i.track_processes.iter_mut().chain(&mut i.track_files) {
                t.span = Span::nowhere();
            }
            i
        }
        strip(self) == strip(other)
    }
}

/// `vrrp_sync_group NAME { group { ... } notify_* }`: instances that change state together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    /// The block's name.
    pub name: String,
    /// Where the block starts.
    pub span: Span,
    /// Member instance names (checked to exist; an instance is in at most one group).
    pub instances: Vec<String>,
    /// Group notify scripts.
    pub notify: Notify,
    /// `track_process { }`: tracked by every member, with weight 0 (a failure faults the
    /// whole group; keepalived needs `sync_group_tracking_weight`, not implemented, for
    /// weights in a group).
    pub track_processes: Vec<TrackRef>,
    /// `track_file { }`: as `track_processes`.
    pub track_files: Vec<TrackRef>,
}

impl SyncGroup {
    /// Equal in everything but where it was written (see [`VrrpInstance::same_settings`]).
    pub fn same_settings(&self, other: &SyncGroup) -> bool {
        let refs = |list: &[TrackRef]| -> Vec<(String, Option<i32>, Option<bool>)> {
            list.iter()
                .map(|t| (t.name.clone(), t.weight, t.weight_reverse))
                .collect()
        };
        self.name == other.name
            && self.instances == other.instances
            && self.notify == other.notify
            && refs(&self.track_processes) == refs(&other.track_processes)
            && refs(&self.track_files) == refs(&other.track_files)
    }
}
