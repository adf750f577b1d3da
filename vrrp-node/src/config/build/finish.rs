//! From an instance as read to a [`VrrpInstance`]: the defaults (from `global_defs` or
//! keepalived's), and the checks that need the whole instance.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use crate::config::error::{Span, WarningKind};
use crate::config::model::{
    Authentication, Family, GlobalDefs, InitialState, VrrpInstance, VrrpVersion,
};

use super::instance::RawInstance;
use super::tracked::unknown_refs;
use super::values::{invalid, invalid_value};
use super::{Builder, Known, R};

impl Builder {
    /// The instance with its defaults, or `None` with every problem recorded (the checks
    /// that do not depend on each other all run).
    pub(super) fn finish_instance(
        &mut self,
        mut r: RawInstance,
        g: &GlobalDefs,
        known: &Known<'_>,
    ) -> Option<VrrpInstance> {
        let before = self.errors.len();
        self.required(&r);
        let name = std::mem::take(&mut r.name);
        let interface = r.interface.take();
        let family = self.keep(family_of(&r));
        let version = family.and_then(|f| {
            let v = self.version(&r, &name, g, f);
            self.keep(v)
        });
        let advert_int_cs = version.and_then(|v| self.keep(advert_int_cs(&r, v)));
        let strict = r.strict.unwrap_or(g.vrrp_strict);
        let authentication = version.and_then(|v| {
            let a = self.authentication_in_force(r.authentication.take(), v, strict);
            self.keep(a)
        });
        if strict {
            self.keep(check_strict(&r, &name));
        }
        self.keep(check_track_scripts(&r, &known.scripts));
        self.errors.extend(unknown_refs(
            &r.track_processes,
            &known.processes,
            "track_process",
            "vrrp_track_process",
        ));
        self.errors.extend(unknown_refs(
            &r.track_files,
            &known.files,
            "track_file",
            "track_file block",
        ));
        if let Some(interface) = &interface {
            self.keep(check_labels(&r, interface));
        }
        self.keep(check_listed_once(&r));
        let state = r.state.unwrap_or(InitialState::Backup);
        let preempt = self.preempt(&r, state);
        if self.errors.len() != before {
            return None;
        }
        let settled = Settled {
            name,
            interface: interface?,
            vrid: r.vrid.as_ref()?.0,
            family: family?,
            version: version?,
            advert_int_cs: advert_int_cs?,
            strict,
            authentication: authentication?,
            state,
            preempt,
        };
        Some(settled.instance(r, g))
    }

    /// The keywords an instance cannot do without and that are not there at all (a bad
    /// line of one is reported as such already). Checked for every instance, also one read
    /// with errors: these do not follow from the others.
    pub(super) fn required(&mut self, r: &RawInstance) {
        let absent = |keyword: &str| !r.failed.iter().any(|f| f == keyword);
        if r.interface.is_none() && absent("interface") {
            self.errors.push(invalid(
                &r.span,
                format!("vrrp_instance \"{}\" has no interface", r.name),
            ));
        }
        if r.vrid.is_none() && absent("virtual_router_id") {
            self.errors.push(invalid(
                &r.span,
                format!("vrrp_instance \"{}\" has no virtual_router_id", r.name),
            ));
        }
    }

    /// The instance's version, else `vrrp_version`, else 2 for IPv4 and 3 for IPv6 (v2 has
    /// no IPv6, RFC 3768 §1).
    fn version(
        &mut self,
        r: &RawInstance,
        name: &str,
        g: &GlobalDefs,
        family: Family,
    ) -> R<VrrpVersion> {
        Ok(match (&r.version, g.vrrp_version) {
            (Some((VrrpVersion::V2, vspan)), _) if family == Family::V6 => {
                return Err(invalid(
                    vspan,
                    "VRRP version 2 does not support IPv6 addresses; use version 3",
                ))
            }
            (Some((v, _)), _) => *v,
            (None, Some(VrrpVersion::V2)) if family == Family::V6 => {
                // keepalived moves IPv6 instances to v3 whatever vrrp_version says.
                self.warn(
                    &r.span,
                    "vrrp_version",
                    WarningKind::Adjusted,
                    format!("vrrp_instance \"{name}\" is IPv6; using VRRP version 3"),
                );
                VrrpVersion::V3
            }
            (None, Some(v)) => v,
            (None, None) if family == Family::V6 => VrrpVersion::V3,
            (None, None) => VrrpVersion::V2,
        })
    }

    /// The authentication the instance uses: none under v3, which has none (RFC 5798 §9
    /// removed it, with a warning), and an error under `vrrp_strict`.
    fn authentication_in_force(
        &mut self,
        configured: Option<(Authentication, Span)>,
        version: VrrpVersion,
        strict: bool,
    ) -> R<Option<Authentication>> {
        let Some((auth, aspan)) = configured else {
            return Ok(None);
        };
        if strict {
            return Err(invalid(
                &aspan,
                "authentication is not allowed with vrrp_strict (RFC 5798 removed it)",
            ));
        }
        if version == VrrpVersion::V3 {
            self.warn(
                &aspan,
                "authentication",
                WarningKind::Ignored,
                "VRRP version 3 has no authentication; ignored",
            );
            return Ok(None);
        }
        Ok(Some(auth))
    }

    /// Whether the instance preempts; `nopreempt` means nothing to a `state MASTER`.
    fn preempt(&mut self, r: &RawInstance, state: InitialState) -> bool {
        if let (Some((false, pspan)), InitialState::Master) = (&r.preempt, state) {
            self.warn(
                pspan,
                "nopreempt",
                WarningKind::Ignored,
                "nopreempt has no effect with state MASTER; use state BACKUP",
            );
        }
        !matches!(r.preempt, Some((false, _)))
    }
}

/// What [`Builder::finish_instance`] settled, checked.
struct Settled {
    name: String,
    interface: String,
    vrid: u8,
    family: Family,
    version: VrrpVersion,
    advert_int_cs: u16,
    strict: bool,
    authentication: Option<Authentication>,
    state: InitialState,
    preempt: bool,
}

impl Settled {
    /// The instance: these settings, the rest of `r`, and the defaults of `g` or
    /// keepalived's for what neither sets.
    fn instance(self, r: RawInstance, g: &GlobalDefs) -> VrrpInstance {
        VrrpInstance {
            name: self.name,
            span: r.span,
            state: self.state,
            interface: self.interface,
            virtual_router_id: self.vrid,
            priority: r.priority.unwrap_or(100),
            advert_int_cs: self.advert_int_cs,
            version: self.version,
            family: self.family,
            preempt: self.preempt,
            preempt_delay: r.preempt_delay.unwrap_or(Duration::ZERO),
            unicast_src_ip: r.unicast_src_ip.map(|p| p.0),
            unicast_peers: r.unicast_peers.into_iter().map(|p| p.0).collect(),
            mcast_src_ip: r.mcast_src_ip.map(|p| p.0),
            mcast_group: match self.family {
                Family::V4 => IpAddr::V4(g.mcast_group4),
                Family::V6 => IpAddr::V6(g.mcast_group6),
            },
            authentication: self.authentication,
            virtual_ipaddresses: r.vips,
            virtual_ipaddresses_excluded: r.vips_excluded,
            track_scripts: r.track_scripts,
            track_interfaces: r.track_interfaces,
            track_processes: r.track_processes,
            track_files: r.track_files,
            dont_track_primary: r.dont_track_primary,
            notify: r.notify,
            garp_master_delay: r.garp_master_delay.unwrap_or(g.garp_master_delay),
            garp_master_repeat: r.garp_master_repeat.unwrap_or(g.garp_master_repeat),
            garp_master_refresh: match r.garp_master_refresh {
                Some(d) => (!d.is_zero()).then_some(d),
                None => g.garp_master_refresh,
            },
            garp_master_refresh_repeat: r
                .garp_master_refresh_repeat
                .unwrap_or(g.garp_master_refresh_repeat),
            // keepalived: unset, these follow the global ones, which follow the master
            // ones; strict mode sends neither the GARPs nor the answering advert.
            garp_lower_prio_delay: match (r.garp_lower_prio_delay, self.strict) {
                (Some((d, _)), _) => d,
                (None, true) => Duration::ZERO,
                (None, false) => g.garp_lower_prio_delay.unwrap_or(g.garp_master_delay),
            },
            garp_lower_prio_repeat: match (r.garp_lower_prio_repeat, self.strict) {
                (Some((n, _)), _) => n,
                (None, true) => 0,
                (None, false) => g.garp_lower_prio_repeat.unwrap_or(g.garp_master_repeat),
            },
            lower_prio_no_advert: r
                .lower_prio_no_advert
                .map_or(self.strict || g.lower_prio_no_advert, |(b, _)| b),
            higher_prio_send_advert: r
                .higher_prio_send_advert
                .map_or(!self.strict && g.higher_prio_send_advert, |(b, _)| b),
            v3_checksum_as_v2: r.v3_checksum_as_v2,
            accept: r.accept.unwrap_or(!self.strict),
            strict: self.strict,
        }
    }
}

/// The family: the VIPs decide, all of one family; else the unicast addresses; else IPv4.
/// Every address of the instance must be of it.
fn family_of(r: &RawInstance) -> R<Family> {
    let family = r
        .vips
        .first()
        .map(|v| Family::of(&v.addr))
        .or_else(|| r.unicast_src_ip.as_ref().map(|(a, _)| Family::of(a)))
        .or_else(|| r.unicast_peers.first().map(|(a, _)| Family::of(a)))
        .unwrap_or(Family::V4);
    for v in &r.vips {
        if Family::of(&v.addr) != family {
            return Err(invalid(
                &v.span,
                format!(
                    "virtual_ipaddress {} is {} but the instance's first address is {}; use another instance for the other family (or virtual_ipaddress_excluded)",
                    v.addr,
                    Family::of(&v.addr).name(),
                    family.name()
                ),
            ));
        }
    }
    let check = |addr: &IpAddr, at: &Span, what: &str| -> R<()> {
        if Family::of(addr) != family {
            return Err(invalid(
                at,
                format!(
                    "{what} {addr} is {} but the instance is {}",
                    Family::of(addr).name(),
                    family.name()
                ),
            ));
        }
        Ok(())
    };
    if let Some((a, s)) = &r.unicast_src_ip {
        check(a, s, "unicast_src_ip")?;
    }
    if let Some((a, s)) = &r.mcast_src_ip {
        check(a, s, "mcast_src_ip")?;
    }
    for (a, s) in &r.unicast_peers {
        check(a, s, "unicast_peer")?;
    }
    Ok(family)
}

/// The advert interval in centiseconds: whole seconds 1..255 for v2 (RFC 3768 §5.3.7),
/// 1..4095 cs for v3 (RFC 9568 §5.2.7); keepalived's default is 1 s.
fn advert_int_cs(r: &RawInstance, version: VrrpVersion) -> R<u16> {
    let Some((cs, frac, w)) = &r.advert_int else {
        return Ok(100);
    };
    let ok = match version {
        VrrpVersion::V2 => !*frac && (100..=25500).contains(cs),
        VrrpVersion::V3 => (1..=4095).contains(cs),
    };
    if !ok {
        let expected = match version {
            VrrpVersion::V2 => "whole seconds 1..255 with VRRP version 2 (decimals need version 3)",
            VrrpVersion::V3 => "0.01..40.95 seconds with VRRP version 3",
        };
        return Err(invalid_value(w, "advert_int", expected));
    }
    Ok(u16::try_from(*cs).unwrap_or(100))
}

/// `vrrp_strict`: multicast only, and at least one address to protect (keepalived's
/// reading of RFC 5798).
fn check_strict(r: &RawInstance, name: &str) -> R<()> {
    if let Some((_, s)) = r.unicast_peers.first() {
        return Err(invalid(s, "unicast_peer is not allowed with vrrp_strict"));
    }
    if r.vips.is_empty() {
        return Err(invalid(
            &r.span,
            format!("vrrp_instance \"{name}\": vrrp_strict needs at least one virtual_ipaddress"),
        ));
    }
    // keepalived resets these with an error; a setting the operator wrote is not dropped
    // here, it is refused.
    let refused = [
        r.garp_lower_prio_repeat
            .as_ref()
            .filter(|(n, _)| *n != 0)
            .map(|(_, s)| (s, "garp_lower_prio_repeat other than 0")),
        r.garp_lower_prio_delay
            .as_ref()
            .filter(|(d, _)| !d.is_zero())
            .map(|(_, s)| (s, "garp_lower_prio_delay other than 0")),
        r.lower_prio_no_advert
            .as_ref()
            .filter(|(b, _)| !b)
            .map(|(_, s)| (s, "lower_prio_no_advert false")),
        r.higher_prio_send_advert
            .as_ref()
            .filter(|(b, _)| *b)
            .map(|(_, s)| (s, "higher_prio_send_advert")),
    ];
    if let Some((s, what)) = refused.into_iter().flatten().next() {
        return Err(invalid(
            s,
            format!("{what} is not allowed with vrrp_strict"),
        ));
    }
    Ok(())
}

/// Every `track_script` names a `vrrp_script`.
fn check_track_scripts(r: &RawInstance, scripts: &HashSet<&str>) -> R<()> {
    for t in &r.track_scripts {
        if !scripts.contains(t.name.as_str()) {
            return Err(invalid(
                &t.span,
                format!("track_script \"{}\" names no vrrp_script", t.name),
            ));
        }
    }
    Ok(())
}

/// The kernel takes a label only if it is the device name or starts with "dev:".
fn check_labels(r: &RawInstance, interface: &str) -> R<()> {
    for v in r.vips.iter().chain(&r.vips_excluded) {
        if let Some(label) = &v.label {
            let dev = v.dev.as_deref().unwrap_or(interface);
            if label != dev && !label.starts_with(&format!("{dev}:")) {
                return Err(invalid(
                    &v.span,
                    format!("label \"{label}\" must be \"{dev}\" or start with \"{dev}:\""),
                ));
            }
        }
    }
    Ok(())
}

/// A virtual address (with its prefix and device) is listed once.
fn check_listed_once(r: &RawInstance) -> R<()> {
    let mut seen = HashSet::new();
    for v in &r.vips {
        if !seen.insert((v.addr, v.prefix_len, v.dev.clone())) {
            return Err(invalid(
                &v.span,
                format!(
                    "virtual_ipaddress {}/{} is listed twice",
                    v.addr, v.prefix_len
                ),
            ));
        }
    }
    Ok(())
}
