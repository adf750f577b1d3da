//! What one instance's configuration means for the driver, before any socket is open: the
//! state machine's settings, the sockets', the receive checks, the virtual addresses on
//! their interfaces and the tracked checks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration as StdDuration;

use vrrp_proto::{Auth, Family, ReceiveCheck, Version};

use crate::config::{
    self, Authentication, SyncGroup, TrackInterface, TrackRef, TrackScript, VrrpInstance,
};
use crate::fsm::{self, RouterConfig, TrackConfig};
use crate::net::iface::{index_of, InterfaceError, InterfaceInfo};
use crate::net::SocketConfig;
use crate::track::file::effective_weight;
use crate::vip::VirtualAddress;

use super::DriverError;

/// Which tracked thing a [`TrackId`](crate::fsm::TrackId) of an instance stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackSource {
    /// A `vrrp_script`, by name; `reverse` inverts what counts as up.
    Script {
        /// The script's name.
        name: String,
        /// `weight ... reverse`.
        reverse: bool,
    },
    /// A `track_interface` (or the instance's own interface).
    Interface {
        /// The interface name.
        name: String,
    },
    /// A `vrrp_track_process`: up while its quorum is met; `reverse` inverts that (and its
    /// weight is negated: keepalived reverses the adjustment).
    Process {
        /// The `vrrp_track_process` name.
        name: String,
        /// `weight ... reverse`.
        reverse: bool,
    },
    /// A `track_file`: its value (reverse is in the weight).
    File {
        /// The `track_file` name.
        name: String,
    },
}

/// What the driver knows of a tracked check now, for the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackReading {
    /// Passing or failing (a script, an interface, a process).
    Up(bool),
    /// A number (a file).
    Value(i32),
}

/// Everything derived from the configuration of one instance, before any socket is open.
#[derive(Debug, Clone)]
pub struct InstancePlan {
    /// Instance name.
    pub name: String,
    /// The configuration it was built from (to tell on reload whether it changed).
    pub source: VrrpInstance,
    /// State machine settings.
    pub router: RouterConfig,
    /// Socket settings.
    pub socket: SocketConfig,
    /// Receive checks.
    pub check: ReceiveCheck,
    /// v3/IPv4 checksum form to send: pseudo-header (keepalived's default) or message only.
    pub v3_checksum_as_v2: bool,
    /// Virtual addresses, resolved to interfaces.
    pub vips: Vec<VirtualAddress>,
    /// The interface of the instance.
    pub interface: InterfaceInfo,
    /// The other interfaces VIPs are on (`dev D`), for GARP/NA there.
    pub other_interfaces: Vec<InterfaceInfo>,
    /// Tracked checks, indexed by TrackId.
    pub tracks: Vec<TrackSource>,
}

impl InstancePlan {
    /// Gives the VIPs a lifetime of at least `min` (none when `min` is `None`), and never
    /// less than 4 advert intervals + 1 s: a killed Master's VIPs must outlast the
    /// Backup's Master_Down_Interval (3 intervals + Skew_Time), since its proxy may still
    /// be answering on them until the Backup takes over.
    pub fn set_vip_lifetime(&mut self, min: Option<StdDuration>) {
        let lifetime = min.map(|min| {
            let interval = StdDuration::from_millis(u64::from(self.router.advert_interval_cs) * 10);
            let floor = interval * 4 + StdDuration::from_secs(1);
            let d = min.max(floor);
            // Whole seconds (IFA_CACHEINFO), rounded up.
            u32::try_from(d.as_secs() + u64::from(d.subsec_nanos() > 0)).unwrap_or(u32::MAX)
        });
        for vip in &mut self.vips {
            vip.lifetime = lifetime;
        }
    }

    /// How often a Master renews its VIPs: a third of their lifetime (1 s at vrrpd's default
    /// 3 s, 1.7 s at advert_int 1, whose floor is 5 s), so two renewals can fail before an
    /// address goes; `None` without a lifetime.
    pub fn vip_renewal(&self) -> Option<StdDuration> {
        let secs = self.vips.iter().filter_map(|v| v.lifetime).min()?;
        Some(StdDuration::from_secs(u64::from(secs)) / 3)
    }

    /// Builds the plan for `inst`, looking interfaces up now.
    ///
    /// The instance's interface may be missing: the plan then stands for an instance
    /// waiting for it ([`InstancePlan::has_interface`] is false), as keepalived keeps such an
    /// instance in FAULT until the interface appears instead of refusing to start.
    pub fn build(inst: &VrrpInstance, all: &config::Config) -> Result<InstancePlan, DriverError> {
        let fail = |what: String| DriverError::Instance {
            instance: inst.name.clone(),
            what,
        };
        let vip_addrs: Vec<IpAddr> = inst.virtual_ipaddresses.iter().map(|v| v.addr).collect();
        let interface = match InterfaceInfo::lookup(&inst.interface, &vip_addrs) {
            Ok(found) => found,
            Err(InterfaceError::Missing { .. }) => InterfaceInfo::absent(&inst.interface),
            // The error names the interface already.
            Err(e) => return Err(fail(e.to_string())),
        };
        let family = Family::from(inst.family);
        let version = Version::from(inst.version);
        let source = source_address(inst, family, &interface).map_err(fail)?;
        let auth = authentication(inst).map_err(fail)?;
        let mut router = router_config(inst, all, version, source);
        let (tracks, track_cfgs) = tracks(inst, all).map_err(fail)?;
        router.tracks = track_cfgs;
        let (vips, other_interfaces) =
            virtual_addresses(inst, &interface, &vip_addrs).map_err(fail)?;
        Ok(InstancePlan {
            name: inst.name.clone(),
            source: inst.clone(),
            router,
            socket: SocketConfig {
                family,
                interface: inst.interface.clone(),
                ifindex: interface.index,
                source,
                group: inst.mcast_group,
                unicast_peers: inst.unicast_peers.clone(),
            },
            check: ReceiveCheck {
                version,
                auth,
                // The field as sent: whole seconds for v2, centiseconds for v3.
                interval: match version {
                    Version::V2 => inst.advert_int_cs / 100,
                    Version::V3 => inst.advert_int_cs,
                },
            },
            v3_checksum_as_v2: inst.v3_checksum_as_v2,
            vips,
            interface,
            other_interfaces,
            tracks,
        })
    }

    /// Whether `inst` in `all` tracks the same checks with the same weights as this plan
    /// (a changed `vrrp_script`, `vrrp_track_process`, `track_file` or sync group changes
    /// them without changing the instance's own block).
    pub fn same_tracks(&self, inst: &VrrpInstance, all: &config::Config) -> bool {
        let Ok((sources, cfgs)) = tracks(inst, all) else {
            return false;
        };
        let shape = |t: &TrackConfig| (t.weight, t.initial_value.is_some());
        sources == self.tracks
            && cfgs
                .iter()
                .map(shape)
                .eq(self.router.tracks.iter().map(shape))
    }

    /// Whether the instance's interface existed when the plan was made; without it the
    /// instance has no sockets and stays in FAULT.
    pub fn has_interface(&self) -> bool {
        self.interface.exists()
    }

    /// This plan once its interface is gone: the interface [absent](InterfaceInfo::absent)
    /// and the VIPs on it with index 0 (they went with it, nothing to remove). The source
    /// address stays, for the state machine, until the interface is back.
    pub fn without_interface(&self) -> InstancePlan {
        let mut plan = self.clone();
        let gone = plan.interface.index;
        plan.interface = InterfaceInfo::absent(&plan.socket.interface);
        plan.socket.ifindex = 0;
        for vip in plan.vips.iter_mut().filter(|v| v.ifindex == gone) {
            vip.ifindex = 0;
        }
        plan
    }

    /// The addresses carried in adverts: the non-excluded virtual addresses of the instance's
    /// family.
    pub fn advertised(&self) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for v in &self.source.virtual_ipaddresses {
            match v.addr {
                IpAddr::V4(a) => v4.push(a),
                IpAddr::V6(a) => v6.push(a),
            }
        }
        (v4, v6)
    }
}

/// What is said of an instance whose interface does not exist, at start and by `vrrpd -t`
/// (keepalived: "WARNING - interface %s for vrrp_instance %s doesn't exist").
pub fn missing_interface(instance: &str, interface: &str) -> String {
    format!(
        "interface {interface} for vrrp_instance {instance} does not exist; \
         the instance stays in FAULT until it appears"
    )
}

/// A warning for each instance of `config` whose interface does not exist now, or cannot
/// be looked up: a configuration check warns of them but passes, as keepalived's does.
pub fn interface_warnings(config: &config::Config) -> Vec<String> {
    config
        .instances
        .iter()
        .filter_map(|inst| match index_of(&inst.interface) {
            Ok(Some(_)) => None,
            Ok(None) => Some(missing_interface(&inst.name, &inst.interface)),
            Err(e) => Some(format!("vrrp_instance {}: {e}", inst.name)),
        })
        .collect()
}

/// The address adverts are sent from: the configured one, else the interface's primary IPv4
/// address (RFC 3768 §7.1) or its IPv6 link-local one (RFC 9568 §7.1).
fn source_address(
    inst: &VrrpInstance,
    family: Family,
    interface: &InterfaceInfo,
) -> Result<IpAddr, String> {
    let missing = |what: &str| format!("interface {} has no {what}", inst.interface);
    match (family, inst.unicast_src_ip.or(inst.mcast_src_ip)) {
        (_, Some(src)) => Ok(src),
        // Waiting for the interface: its address is known once it is there.
        (Family::Ipv4, None) if !interface.exists() => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        (Family::Ipv6, None) if !interface.exists() => Ok(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        (Family::Ipv4, None) => interface
            .primary_ipv4
            .map(IpAddr::V4)
            .ok_or_else(|| missing("IPv4 address to send from")),
        (Family::Ipv6, None) => interface
            .link_local_ipv6
            .map(IpAddr::V6)
            .ok_or_else(|| missing("IPv6 link-local address")),
    }
}

/// The v2 authentication adverts carry (RFC 3768 §5.3.6).
fn authentication(inst: &VrrpInstance) -> Result<Auth, String> {
    match &inst.authentication {
        None => Ok(Auth::None),
        Some(Authentication::Pass(p)) => Ok(Auth::pass(p)),
        Some(Authentication::Ah(_)) => {
            Err("auth_type AH is not supported by vrrpd; use PASS or none".into())
        }
    }
}

/// The state machine's settings, without the tracks.
fn router_config(
    inst: &VrrpInstance,
    all: &config::Config,
    version: Version,
    source: IpAddr,
) -> RouterConfig {
    let mut router = RouterConfig::new(inst.virtual_router_id, version, inst.priority, source);
    router.advert_interval_cs = inst.advert_int_cs;
    router.initial_state = match inst.state {
        config::InitialState::Master => fsm::InitialState::Master,
        config::InitialState::Backup => fsm::InitialState::Backup,
    };
    router.preempt = inst.preempt;
    // keepalived: a group goes Master only once every member's timer has run out.
    router.sync_group_member = all.sync_group_of(&inst.name).is_some();
    router.preempt_delay = to_fsm_duration(inst.preempt_delay);
    router.garp.master_delay = to_fsm_duration(inst.garp_master_delay);
    router.garp.master_repeat = inst.garp_master_repeat.min(255) as u8;
    router.garp.master_refresh = inst
        .garp_master_refresh
        .map(to_fsm_duration)
        .unwrap_or(fsm::Duration::ZERO);
    router.garp.master_refresh_repeat = inst.garp_master_refresh_repeat.min(255) as u8;
    router.garp.lower_prio_repeat = inst.garp_lower_prio_repeat.min(255) as u8;
    router.garp.lower_prio_delay = to_fsm_duration(inst.garp_lower_prio_delay);
    router.lower_prio_no_advert = inst.lower_prio_no_advert;
    router.higher_prio_send_advert = inst.higher_prio_send_advert;
    router
}

/// The tracked scripts, interfaces, processes and files of `inst`, then those of its sync
/// group (weight 0: a failure faults the group), as the state machine's tracks and what
/// each stands for, in the same order.
fn tracks(
    inst: &VrrpInstance,
    all: &config::Config,
) -> Result<(Vec<TrackSource>, Vec<TrackConfig>), String> {
    let lists = TrackLists {
        scripts: &inst.track_scripts,
        interfaces: &inst.track_interfaces,
        processes: &inst.track_processes,
        files: &inst.track_files,
        group: all.sync_group_of(&inst.name),
    };
    track_lists(&lists, all)
}

/// The `track_*` lists of a block (an instance, an `anycast_route`), and the sync group
/// whose tracks it shares.
pub(super) struct TrackLists<'a> {
    pub(super) scripts: &'a [TrackScript],
    pub(super) interfaces: &'a [TrackInterface],
    pub(super) processes: &'a [TrackRef],
    pub(super) files: &'a [TrackRef],
    pub(super) group: Option<&'a SyncGroup>,
}

/// The tracks of `lists` (see [`tracks`]).
pub(super) fn track_lists(
    lists: &TrackLists<'_>,
    all: &config::Config,
) -> Result<(Vec<TrackSource>, Vec<TrackConfig>), String> {
    let mut sources = Vec::new();
    let mut cfgs = Vec::new();
    for ts in lists.scripts {
        let script = all
            .script(&ts.name)
            .ok_or_else(|| format!("track_script {} names no vrrp_script", ts.name))?;
        let weight = ts.weight.unwrap_or(script.weight);
        let reverse = ts.weight_reverse || (ts.weight.is_none() && script.weight_reverse);
        let initially_ok = !script.init_fail;
        cfgs.push(TrackConfig {
            weight: clamp_weight(weight),
            initially_up: initially_ok != reverse,
            initial_value: None,
        });
        sources.push(TrackSource::Script {
            name: ts.name.clone(),
            reverse,
        });
    }
    for ti in lists.interfaces {
        cfgs.push(TrackConfig::new(clamp_weight(ti.weight.unwrap_or(0))));
        sources.push(TrackSource::Interface {
            name: ti.name.clone(),
        });
    }
    const NONE: &[TrackRef] = &[];
    let group = lists.group;
    let processes = [
        (lists.processes, false),
        (group.map_or(NONE, |g| g.track_processes.as_slice()), true),
    ];
    for (refs, in_group) in processes {
        for t in refs {
            let (source, cfg) = process_track(t, all, in_group)?;
            sources.push(source);
            cfgs.push(cfg);
        }
    }
    let files = [
        (lists.files, false),
        (group.map_or(NONE, |g| g.track_files.as_slice()), true),
    ];
    for (refs, in_group) in files {
        for t in refs {
            let block = all
                .track_file(&t.name)
                .ok_or_else(|| format!("track_file {} names no track_file block", t.name))?;
            let (weight, reverse) = t.resolve(block.weight, block.weight_reverse);
            let weight = if in_group { 0 } else { weight };
            // keepalived multiplies the value by the weight, negated by reverse; the value
            // is known once the file is read.
            cfgs.push(TrackConfig::value(effective_weight(weight, reverse), 0));
            sources.push(TrackSource::File {
                name: t.name.clone(),
            });
        }
    }
    Ok((sources, cfgs))
}

/// A `track_process` line as a track: keepalived's `reverse` negates the weight and counts
/// it on the other side of the quorum (weight 0: FAULT while the quorum is met). In a sync
/// group the weight is 0.
fn process_track(
    t: &TrackRef,
    all: &config::Config,
    in_group: bool,
) -> Result<(TrackSource, TrackConfig), String> {
    let block = all
        .track_process(&t.name)
        .ok_or_else(|| format!("track_process {} names no vrrp_track_process", t.name))?;
    let (weight, reverse) = t.resolve(block.weight, block.weight_reverse);
    let weight = if in_group { 0 } else { weight };
    let weight = if reverse { -weight } else { weight };
    let source = TrackSource::Process {
        name: t.name.clone(),
        reverse,
    };
    // The state is the monitor's, set before the instance starts (see `router_config_now`).
    Ok((source, TrackConfig::new(clamp_weight(weight))))
}

fn clamp_weight(w: i32) -> i16 {
    // Clamped, so the cast cannot truncate.
    w.clamp(-254, 254) as i16
}

/// Every VIP on its `dev`, the instance's interface when it names none; the other
/// interfaces are looked up once, for the address and for GARP/NA on them.
fn virtual_addresses(
    inst: &VrrpInstance,
    interface: &InterfaceInfo,
    vip_addrs: &[IpAddr],
) -> Result<(Vec<VirtualAddress>, Vec<InterfaceInfo>), String> {
    let mut vips = Vec::new();
    let mut other_interfaces: Vec<InterfaceInfo> = Vec::new();
    let lists = [
        ("virtual_ipaddress", &inst.virtual_ipaddresses),
        (
            "virtual_ipaddress_excluded",
            &inst.virtual_ipaddresses_excluded,
        ),
    ];
    for (list, entries) in lists {
        for v in entries {
            let dev = v.dev.as_deref().unwrap_or(&inst.interface);
            let ifindex = if dev == inst.interface {
                interface.index
            } else if let Some(known) = other_interfaces.iter().find(|i| i.name == dev) {
                known.index
            } else {
                // The error names the interface: not again here.
                let info = InterfaceInfo::lookup(dev, vip_addrs)
                    .map_err(|e| format!("{list} {}: {e}", v.addr))?;
                let index = info.index;
                other_interfaces.push(info);
                index
            };
            vips.push(VirtualAddress {
                addr: v.addr,
                prefix_len: v.prefix_len,
                ifindex,
                broadcast: v.broadcast,
                scope: v.scope.map(|s| s.as_u8()).unwrap_or(0),
                label: v.label.clone(),
                lifetime: None,
            });
        }
    }
    Ok((vips, other_interfaces))
}

fn to_fsm_duration(d: StdDuration) -> fsm::Duration {
    fsm::Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_processes_and_files_become_tracks_and_a_group_s_have_weight_0() {
        let text = "vrrp_track_process p {\n process x\n weight 20 reverse\n}
track_file f {\n file /run/f\n weight 3\n}
vrrp_instance VI_1 {\n interface vrrpd-nx0\n virtual_router_id 9
 track_process {\n  p\n  q weight -5\n }\n track_file {\n  f weight 3 reverse\n }\n}
vrrp_track_process q {\n process y\n}
vrrp_sync_group G {\n group {\n  VI_1\n }\n track_process {\n  q\n }\n track_file {\n  f weight 0\n }\n}\n";
        let loaded = config::parse_str(text, "k.conf").expect("valid");
        let inst = loaded.config.instance("VI_1").expect("VI_1");
        let plan = InstancePlan::build(inst, &loaded.config).expect("plan");
        let process = |name: &str, reverse| TrackSource::Process {
            name: name.into(),
            reverse,
        };
        let file = |name: &str| TrackSource::File { name: name.into() };
        assert_eq!(
            plan.tracks,
            [
                process("p", true),
                process("q", false),
                process("q", false),
                file("f"),
                file("f")
            ]
        );
        let weights: Vec<(i16, Option<i32>)> = plan
            .router
            .tracks
            .iter()
            .map(|t| (t.weight, t.initial_value))
            .collect();
        // keepalived's reverse negates a process's weight and a file's multiplier; the
        // group's are 0.
        assert_eq!(
            weights,
            [
                (-20, None),
                (-5, None),
                (0, None),
                (-3, Some(0)),
                (0, Some(0))
            ]
        );
        assert!(plan.same_tracks(inst, &loaded.config));
        let mut changed = loaded.config.clone();
        changed.track_processes[0].weight = 7;
        assert!(!plan.same_tracks(inst, &changed));
    }

    #[test]
    fn a_missing_interface_gives_a_waiting_plan_named_once() {
        let text = "vrrp_instance VI_1 {
    interface vrrpd-nx0
    virtual_router_id 9
    virtual_ipaddress {
        198.18.0.9/24
    }
}
";
        let loaded = config::parse_str(text, "k.conf").expect("valid");
        let inst = loaded.config.instance("VI_1").expect("VI_1");
        let plan = InstancePlan::build(inst, &loaded.config).expect("a plan all the same");
        assert!(!plan.has_interface());
        assert_eq!(plan.socket.ifindex, 0);
        assert_eq!(plan.socket.source, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert!(plan.vips.iter().all(|v| v.ifindex == 0));

        let err = InterfaceInfo::lookup("vrrpd-nx0", &[]).expect_err("missing");
        assert_eq!(err.to_string(), "interface vrrpd-nx0 does not exist");
        assert_eq!(
            interface_warnings(&loaded.config),
            [missing_interface("VI_1", "vrrpd-nx0")]
        );
    }
}
