//! A `vrrp_instance` block as read: its keywords into a [`RawInstance`], with the
//! authentication block and the virtual address lines.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::error::{ConfigError, Span, WarningKind};
use crate::config::model::{
    Authentication, InitialState, Notify, Scope, TrackInterface, TrackScript, VirtualIp,
    VrrpVersion,
};
use crate::config::tracked::TrackRef;
use crate::config::tree::{Node, Word};

use super::keywords::{INSTANCE_UNIMPLEMENTED, VIP_UNIMPLEMENTED};
use super::supported::{self, listed, PEER_UNIMPLEMENTED};
use super::values::*;
use super::{unhandled, Builder, R};

/// An instance as read, before defaults and the checks that need the whole instance.
#[derive(Default)]
pub(super) struct RawInstance {
    pub(super) name: String,
    pub(super) span: Span,
    pub(super) state: Option<InitialState>,
    pub(super) interface: Option<String>,
    pub(super) vrid: Option<(u8, Span)>,
    pub(super) priority: Option<u8>,
    /// (centiseconds, has a fractional part, the word)
    pub(super) advert_int: Option<(u64, bool, Word)>,
    pub(super) version: Option<(VrrpVersion, Span)>,
    pub(super) preempt: Option<(bool, Span)>,
    pub(super) preempt_delay: Option<Duration>,
    pub(super) unicast_src_ip: Option<(IpAddr, Span)>,
    pub(super) unicast_peers: Vec<(IpAddr, Span)>,
    pub(super) mcast_src_ip: Option<(IpAddr, Span)>,
    pub(super) authentication: Option<(Authentication, Span)>,
    pub(super) vips: Vec<VirtualIp>,
    pub(super) vips_excluded: Vec<VirtualIp>,
    pub(super) track_scripts: Vec<TrackScript>,
    pub(super) track_interfaces: Vec<TrackInterface>,
    pub(super) track_processes: Vec<TrackRef>,
    pub(super) track_files: Vec<TrackRef>,
    pub(super) dont_track_primary: bool,
    pub(super) notify: Notify,
    pub(super) garp_master_delay: Option<Duration>,
    pub(super) garp_master_repeat: Option<u32>,
    pub(super) garp_master_refresh: Option<Duration>,
    pub(super) garp_master_refresh_repeat: Option<u32>,
    pub(super) garp_lower_prio_delay: Option<(Duration, Span)>,
    pub(super) garp_lower_prio_repeat: Option<(u32, Span)>,
    pub(super) lower_prio_no_advert: Option<(bool, Span)>,
    pub(super) higher_prio_send_advert: Option<(bool, Span)>,
    pub(super) v3_checksum_as_v2: bool,
    pub(super) accept: Option<bool>,
    pub(super) strict: Option<bool>,
    /// The keywords whose lines had errors (already reported).
    pub(super) failed: Vec<String>,
}

impl Builder {
    /// A `vrrp_instance` as read, every bad keyword recorded and skipped; `None` without a
    /// name.
    pub(super) fn raw_instance(&mut self, node: &Node) -> Option<RawInstance> {
        let name = self.keep(block_name(node))?;
        let mut r = RawInstance {
            name: name.text.clone(),
            span: name.span.clone(),
            ..RawInstance::default()
        };
        for child in self.keep(block(node)).unwrap_or_default() {
            let result = self.instance_setting(child, &mut r);
            if self.keep(result).is_none() {
                r.failed.push(kw(child).to_string());
            }
        }
        Some(r)
    }

    fn instance_setting(&mut self, child: &Node, r: &mut RawInstance) -> R<()> {
        let context = || format!("vrrp_instance {}", r.name);
        let (table, unimplemented) = (supported::INSTANCE, INSTANCE_UNIMPLEMENTED);
        if let Some(result) = self.unlisted(child, table, unimplemented, context) {
            return result;
        }
        let known = self.notify_into(child, &mut r.notify)?
            || self.router_setting(child, r)?
            || behaviour_setting(child, r)?
            || self.instance_list(child, r)?;
        if !known {
            return Err(unhandled(child));
        }
        Ok(())
    }

    /// What the router is and how it elects: state, interface, VRID, priority, interval,
    /// version, preemption, authentication, source address. Returns whether `child` was one.
    fn router_setting(&mut self, child: &Node, r: &mut RawInstance) -> R<bool> {
        match kw(child) {
            "state" => {
                let w = one_arg(child, "MASTER or BACKUP")?;
                r.state = Some(match w.text.as_str() {
                    "MASTER" => InitialState::Master,
                    "BACKUP" => InitialState::Backup,
                    _ => return Err(invalid_value(w, "state", "MASTER or BACKUP")),
                });
            }
            "interface" => {
                let w = one_arg(child, "an interface name")?;
                r.interface = Some(ifname_word(w, "interface")?);
            }
            "virtual_router_id" => {
                let v = u8_arg(child, 1, 255)?;
                r.vrid = Some((v, child.name.span.clone()));
            }
            "priority" => r.priority = Some(u8_arg(child, 1, 255)?),
            "advert_int" => {
                let w = one_arg(child, "a number of seconds")?;
                let Some((s, cs, frac)) = fixed_point(&w.text, 2) else {
                    return Err(invalid_value(
                        w,
                        "advert_int",
                        "a number of seconds with at most 2 decimals",
                    ));
                };
                let total = s.saturating_mul(100).saturating_add(cs);
                r.advert_int = Some((total, frac, w.clone()));
            }
            "version" => r.version = Some(version_arg(child)?),
            "nopreempt" => {
                no_block(child)?;
                no_args(child)?;
                r.preempt = Some((false, child.name.span.clone()));
            }
            "preempt" => r.preempt = Some((flag(child)?, child.name.span.clone())),
            "preempt_delay" => r.preempt_delay = Some(seconds_arg(child, 1000)?),
            "unicast_src_ip" => {
                let w = one_arg(child, "an IP address")?;
                r.unicast_src_ip = Some((ip_word(w, "unicast_src_ip")?, w.span.clone()));
            }
            "mcast_src_ip" => {
                let w = one_arg(child, "an IP address")?;
                r.mcast_src_ip = Some((ip_word(w, "mcast_src_ip")?, w.span.clone()));
            }
            "authentication" => r.authentication = Some(self.authentication(child)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The lists in blocks: unicast peers, virtual addresses, tracked scripts, interfaces,
    /// processes and files. Returns whether `child` was one.
    fn instance_list(&mut self, child: &Node, r: &mut RawInstance) -> R<bool> {
        let keyword = kw(child);
        match keyword {
            "track_process" => {
                self.track_refs(child, keyword, &mut r.track_processes);
                return Ok(true);
            }
            "track_file" => {
                self.track_refs(child, keyword, &mut r.track_files);
                return Ok(true);
            }
            _ => {}
        }
        let lines = match keyword {
            "unicast_peer"
            | "virtual_ipaddress"
            | "virtual_ipaddress_excluded"
            | "track_script"
            | "track_interface" => {
                no_args(child)?;
                block(child)?
            }
            _ => return Ok(false),
        };
        // Each line on its own: two bad addresses are two errors.
        for line in lines {
            let result = self.list_line(keyword, line, r);
            self.keep(result);
        }
        Ok(true)
    }

    /// One line of the list block `keyword`.
    fn list_line(&mut self, keyword: &str, line: &Node, r: &mut RawInstance) -> R<()> {
        match keyword {
            "unicast_peer" => r.unicast_peers.push(self.unicast_peer(line)?),
            "virtual_ipaddress" => r.vips.push(self.vip(line, keyword)?),
            "virtual_ipaddress_excluded" => r.vips_excluded.push(self.vip(line, keyword)?),
            "track_script" => {
                no_block(line)?;
                let (weight, weight_reverse) = track_weight(line, keyword)?;
                r.track_scripts.push(TrackScript {
                    name: line.name.text.clone(),
                    weight,
                    weight_reverse,
                    span: line.name.span.clone(),
                });
            }
            _ => {
                no_block(line)?;
                let name = ifname_word(&line.name, keyword)?;
                let (weight, weight_reverse) = track_weight(line, keyword)?;
                r.track_interfaces.push(TrackInterface {
                    name,
                    weight,
                    weight_reverse,
                    span: line.name.span.clone(),
                });
            }
        }
        Ok(())
    }

    /// One `unicast_peer` line: an address, and TTL bounds we do not implement.
    fn unicast_peer(&mut self, line: &Node) -> R<(IpAddr, Span)> {
        no_block(line)?;
        let addr = ip_word(&line.name, "unicast_peer")?;
        let mut args = line.args.iter();
        while let Some(a) = args.next() {
            if PEER_UNIMPLEMENTED.contains(&a.text.as_str()) {
                args.next();
                self.warn(
                    &a.span,
                    &a.text,
                    WarningKind::NotImplemented,
                    "not implemented; ignored",
                );
            } else {
                return Err(unexpected(a, "unicast_peer"));
            }
        }
        Ok((addr, line.name.span.clone()))
    }

    fn authentication(&mut self, node: &Node) -> R<(Authentication, Span)> {
        no_args(node)?;
        let mut kind: Option<(bool, &Word)> = None; // (is AH, the word)
        let mut pass: Option<&Word> = None;
        for child in block(node)? {
            if !listed(supported::AUTHENTICATION, kw(child)) {
                return Err(unknown_keyword(child, "authentication"));
            }
            match kw(child) {
                "auth_type" => {
                    let w = one_arg(child, "PASS or AH")?;
                    kind = Some(match w.text.as_str() {
                        "PASS" => (false, w),
                        "AH" => (true, w),
                        _ => return Err(invalid_value(w, "auth_type", "PASS or AH")),
                    });
                }
                "auth_pass" => pass = Some(one_arg(child, "a password")?),
                _ => return Err(unhandled(child)),
            }
        }
        let Some((ah, _)) = kind else {
            return Err(missing(node, "auth_type PASS or AH in the block"));
        };
        let Some(pass) = pass else {
            return Err(missing(node, "auth_pass in the block"));
        };
        let mut secret = pass.text.clone();
        // The advert has 8 bytes for the password; keepalived cuts longer ones and says so.
        if secret.len() > 8 {
            let mut cut = 8;
            while !secret.is_char_boundary(cut) {
                cut -= 1;
            }
            secret.truncate(cut);
            self.warn(
                &pass.span,
                "auth_pass",
                WarningKind::Adjusted,
                format!("password longer than 8 characters; truncated to \"{secret}\""),
            );
        }
        let auth = if ah {
            Authentication::Ah(secret)
        } else {
            Authentication::Pass(secret)
        };
        Ok((auth, node.name.span.clone()))
    }

    /// One virtual address line: `ADDR[/PREFIX] [brd B] [dev D] [scope S] [label L]`, and
    /// modifiers keepalived knows that we accept without acting on.
    pub(super) fn vip(&mut self, line: &Node, keyword: &str) -> R<VirtualIp> {
        no_block(line)?;
        let mut vip = vip_address(&line.name, keyword)?;
        let mut args = line.args.iter();
        while let Some(a) = args.next() {
            let key = a.text.as_str();
            if let Some(&(_, takes_value)) = VIP_UNIMPLEMENTED.iter().find(|(k, _)| *k == key) {
                if takes_value && args.next().is_none() {
                    return Err(missing_value(a));
                }
                self.warn(
                    &a.span,
                    key,
                    WarningKind::NotImplemented,
                    "not implemented; ignored",
                );
                continue;
            }
            if !listed(supported::VIP_MODIFIERS, key) {
                return Err(unexpected(a, keyword));
            }
            let value = args.next().ok_or_else(|| missing_value(a))?;
            vip_modifier(&mut vip, a, value)?;
        }
        Ok(vip)
    }
}

/// Settings of how the instance behaves once elected: link tracking, GARP timing, the
/// checksum form, accept mode, strict mode. Returns whether `child` was one.
fn behaviour_setting(child: &Node, r: &mut RawInstance) -> R<bool> {
    match kw(child) {
        "dont_track_primary" => r.dont_track_primary = flag(child)?,
        "garp_master_delay" => r.garp_master_delay = Some(whole_seconds_arg(child, 0, 1000)?),
        "garp_master_repeat" => r.garp_master_repeat = Some(u32_arg(child, 1, 1000)?),
        "garp_master_refresh" => r.garp_master_refresh = Some(whole_seconds_arg(child, 0, 86400)?),
        "garp_master_refresh_repeat" => {
            r.garp_master_refresh_repeat = Some(u32_arg(child, 1, 1000)?)
        }
        "garp_lower_prio_delay" => {
            r.garp_lower_prio_delay =
                Some((whole_seconds_arg(child, 0, 1000)?, child.name.span.clone()))
        }
        "garp_lower_prio_repeat" => {
            r.garp_lower_prio_repeat = Some((u32_arg(child, 0, 1000)?, child.name.span.clone()))
        }
        "lower_prio_no_advert" => {
            r.lower_prio_no_advert = Some((flag(child)?, child.name.span.clone()))
        }
        "higher_prio_send_advert" => {
            r.higher_prio_send_advert = Some((flag(child)?, child.name.span.clone()))
        }
        "v3_checksum_as_v2" => r.v3_checksum_as_v2 = flag(child)?,
        "accept" => r.accept = Some(flag(child)?),
        "no_accept" => {
            no_args(child)?;
            no_block(child)?;
            r.accept = Some(false);
        }
        "strict_mode" => r.strict = Some(flag(child)?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// A modifier keyword of a virtual address line without its value.
fn missing_value(key: &Word) -> ConfigError {
    ConfigError::MissingValue {
        span: key.span.clone(),
        keyword: key.text.clone(),
        expected: "a value".into(),
    }
}

/// `ADDR[/PREFIX]`: the address and its prefix length (the whole address without one).
pub(super) fn vip_address(w: &Word, keyword: &str) -> R<VirtualIp> {
    let (addr_text, prefix_text) = match w.text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (w.text.as_str(), None),
    };
    let addr: IpAddr = addr_text
        .parse()
        .map_err(|_| invalid_value(w, keyword, "an IP address with an optional /prefix"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix_len = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && !p.starts_with('+') => n,
            _ => {
                return Err(invalid_value(
                    w,
                    keyword,
                    format!("a prefix length 0..{max} after the /"),
                ))
            }
        },
    };
    Ok(VirtualIp {
        addr,
        prefix_len,
        broadcast: None,
        dev: None,
        scope: None,
        label: None,
        span: w.span.clone(),
    })
}

/// `brd`/`broadcast`, `dev`, `scope` or `label` (`key`) with its `value`.
fn vip_modifier(vip: &mut VirtualIp, key: &Word, value: &Word) -> R<()> {
    match key.text.as_str() {
        "brd" | "broadcast" => {
            if !vip.addr.is_ipv4() {
                return Err(invalid(&key.span, "brd applies to IPv4 addresses only"));
            }
            vip.broadcast = Some(
                value
                    .text
                    .parse()
                    .map_err(|_| invalid_value(value, &key.text, "an IPv4 address"))?,
            );
        }
        "dev" => vip.dev = Some(ifname_word(value, "dev")?),
        "scope" => vip.scope = Some(scope_word(value)?),
        "label" => {
            if value.text.is_empty() || value.text.chars().count() > MAX_IFNAME {
                return Err(invalid_value(
                    value,
                    "label",
                    format!("a label of 1..{MAX_IFNAME} characters"),
                ));
            }
            vip.label = Some(value.text.clone());
        }
        _ => return Err(invalid(&key.span, format!("{} is not handled", key.text))),
    }
    Ok(())
}

/// An address scope by name (as `ip address` takes it) or number.
fn scope_word(value: &Word) -> R<Scope> {
    Ok(match value.text.as_str() {
        "global" | "universe" => Scope::Global,
        "site" => Scope::Site,
        "link" => Scope::Link,
        "host" => Scope::Host,
        "nowhere" => Scope::Nowhere,
        t => match t.parse::<u8>() {
            Ok(n) => Scope::Other(n),
            Err(_) => {
                return Err(invalid_value(
                    value,
                    "scope",
                    "global, site, link, host, nowhere or 0..255",
                ))
            }
        },
    })
}
