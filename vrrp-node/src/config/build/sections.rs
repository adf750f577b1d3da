//! The blocks other than `vrrp_instance`: `global_defs`, `vrrp_script`, `vrrp_sync_group`,
//! and the notify keywords instances and groups share.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::config::model::{GlobalDefs, Notify, SyncGroup, VrrpScript};
use crate::config::tree::{Node, Word};

use super::keywords::{GLOBAL_UNIMPLEMENTED, GROUP_UNIMPLEMENTED};
use super::supported::{self, listed};
use super::values::*;
use super::{unhandled, Builder, R};

impl Builder {
    pub(super) fn global_defs(&mut self, nodes: &[Node], g: &mut GlobalDefs) {
        for node in nodes {
            let result = self.global_setting(node, g);
            self.keep(result);
        }
    }

    fn global_setting(&mut self, node: &Node, g: &mut GlobalDefs) -> R<()> {
        let context = || "global_defs".to_string();
        if let Some(r) = self.unlisted(node, supported::GLOBAL, GLOBAL_UNIMPLEMENTED, context) {
            return r;
        }
        match kw(node) {
            "router_id" => g.router_id = Some(one_arg(node, "a name")?.text.clone()),
            "vrrp_version" => g.vrrp_version = Some(version_arg(node)?.0),
            "script_user" => g.script_user = Some(script_user_arg(node)?),
            "enable_script_security" => g.enable_script_security = flag(node)?,
            "vrrp_garp_master_delay" => g.garp_master_delay = whole_seconds_arg(node, 0, 1000)?,
            "vrrp_garp_master_repeat" => g.garp_master_repeat = u32_arg(node, 1, 1000)?,
            "vrrp_garp_master_refresh" => {
                let d = whole_seconds_arg(node, 0, 86400)?;
                g.garp_master_refresh = (!d.is_zero()).then_some(d);
            }
            "vrrp_garp_master_refresh_repeat" => {
                g.garp_master_refresh_repeat = u32_arg(node, 1, 1000)?
            }
            "vrrp_garp_lower_prio_delay" => {
                g.garp_lower_prio_delay = Some(whole_seconds_arg(node, 0, 1000)?)
            }
            "vrrp_garp_lower_prio_repeat" => {
                g.garp_lower_prio_repeat = Some(u32_arg(node, 0, 1000)?)
            }
            "vrrp_lower_prio_no_advert" => g.lower_prio_no_advert = flag(node)?,
            "vrrp_higher_prio_send_advert" => g.higher_prio_send_advert = flag(node)?,
            "vrrp_mcast_group4" => {
                let w = one_arg(node, "an IPv4 multicast address")?;
                match w.text.parse::<Ipv4Addr>() {
                    Ok(a) if a.is_multicast() => g.mcast_group4 = a,
                    _ => return Err(invalid_value(w, kw(node), "an IPv4 multicast address")),
                }
            }
            "vrrp_mcast_group6" => {
                let w = one_arg(node, "an IPv6 multicast address")?;
                match w.text.parse::<std::net::Ipv6Addr>() {
                    Ok(a) if a.is_multicast() => g.mcast_group6 = a,
                    _ => return Err(invalid_value(w, kw(node), "an IPv6 multicast address")),
                }
            }
            "vrrp_strict" => g.vrrp_strict = flag(node)?,
            _ => return Err(unhandled(node)),
        }
        Ok(())
    }

    /// A `vrrp_script`; `None` when it has errors (each recorded).
    pub(super) fn script(&mut self, node: &Node) -> Option<VrrpScript> {
        let name = self.keep(block_name(node))?;
        let before = self.errors.len();
        let mut s = VrrpScript {
            name: name.text.clone(),
            span: name.span.clone(),
            command: Vec::new(),
            interval: Duration::from_secs(1),
            timeout: Duration::ZERO,
            weight: 0,
            weight_reverse: false,
            fall: 1,
            rise: 1,
            user: None,
            init_fail: false,
        };
        let mut timeout = None;
        let children = self.keep(block(node)).unwrap_or_default();
        for child in children {
            let result = script_setting(child, &name.text, &mut s, &mut timeout);
            self.keep(result);
        }
        // A bad `script` line is reported as such, not again as a missing one.
        if s.command.is_empty() && !children.iter().any(|c| kw(c) == "script") {
            self.errors.push(invalid(
                &name.span,
                format!("vrrp_script \"{}\" has no script", name.text),
            ));
        }
        if s.interval.is_zero() {
            self.errors.push(invalid(
                &name.span,
                format!("vrrp_script \"{}\": interval must be above 0", name.text),
            ));
        }
        // keepalived: no timeout means the interval.
        s.timeout = timeout
            .filter(|t: &Duration| !t.is_zero())
            .unwrap_or(s.interval);
        (self.errors.len() == before).then_some(s)
    }

    pub(super) fn notify_into(&mut self, node: &Node, notify: &mut Notify) -> R<bool> {
        let slot = match kw(node) {
            "notify_master" => &mut notify.master,
            "notify_backup" => &mut notify.backup,
            "notify_fault" => &mut notify.fault,
            "notify_stop" => &mut notify.stop,
            "notify" => &mut notify.any,
            _ => return Ok(false),
        };
        *slot = Some(command_arg(node)?);
        Ok(true)
    }

    /// A `vrrp_sync_group` and its member words; `None` when it has errors (each recorded).
    pub(super) fn sync_group(&mut self, node: &Node) -> Option<(SyncGroup, Vec<Word>)> {
        let name = self.keep(block_name(node))?;
        let before = self.errors.len();
        let mut members: Option<Vec<Word>> = None;
        let mut group = SyncGroup {
            name: name.text.clone(),
            span: name.span.clone(),
            instances: Vec::new(),
            notify: Notify::default(),
            track_processes: Vec::new(),
            track_files: Vec::new(),
        };
        for child in self.keep(block(node)).unwrap_or_default() {
            let result = self.group_setting(child, &mut members, &mut group);
            self.keep(result);
        }
        if members.as_ref().is_none_or(Vec::is_empty) {
            self.errors.push(invalid(
                &name.span,
                format!(
                    "vrrp_sync_group \"{}\" has no group {{ }} of instances",
                    name.text
                ),
            ));
        }
        if self.errors.len() != before {
            return None;
        }
        let members = members.unwrap_or_default();
        group.instances = members.iter().map(|w| w.text.clone()).collect();
        Some((group, members))
    }

    /// One keyword of a `vrrp_sync_group`.
    fn group_setting(
        &mut self,
        child: &Node,
        members: &mut Option<Vec<Word>>,
        group: &mut SyncGroup,
    ) -> R<()> {
        let context = || format!("vrrp_sync_group {}", group.name);
        if let Some(r) = self.unlisted(child, supported::GROUP, GROUP_UNIMPLEMENTED, context) {
            return r;
        }
        if self.notify_into(child, &mut group.notify)? {
            return Ok(());
        }
        match kw(child) {
            "track_process" => self.track_refs(child, "track_process", &mut group.track_processes),
            "track_file" => self.track_refs(child, "track_file", &mut group.track_files),
            "group" => {
                no_args(child)?;
                let mut words = Vec::new();
                for line in block(child)? {
                    if line.block.is_some() {
                        return Err(invalid(&line.name.span, "unexpected block in group"));
                    }
                    words.push(line.name.clone());
                    words.extend(line.args.iter().cloned());
                }
                *members = Some(words);
            }
            _ => return Err(unhandled(child)),
        }
        Ok(())
    }
}

/// One keyword of a `vrrp_script` into `s` (`timeout` as written, resolved at the end).
fn script_setting(
    child: &Node,
    name: &str,
    s: &mut VrrpScript,
    timeout: &mut Option<Duration>,
) -> R<()> {
    if !listed(supported::SCRIPT, kw(child)) {
        return Err(unknown_keyword(child, format!("vrrp_script {name}")));
    }
    match kw(child) {
        "script" => s.command = command_arg(child)?,
        "interval" => s.interval = seconds_arg(child, 86400)?,
        "timeout" => *timeout = Some(seconds_arg(child, 86400)?),
        "weight" => {
            no_block(child)?;
            match child.args.as_slice() {
                [] => return Err(missing(child, "an integer -253..253")),
                [w] => s.weight = weight_word(w, "weight")?,
                [w, r] if r.text == "reverse" => {
                    s.weight = weight_word(w, "weight")?;
                    s.weight_reverse = true;
                }
                [_, extra, ..] => return Err(unexpected(extra, "weight")),
            }
        }
        "fall" => s.fall = u32_arg(child, 1, 1000)?,
        "rise" => s.rise = u32_arg(child, 1, 1000)?,
        "user" => s.user = Some(script_user_arg(child)?),
        "init_fail" => s.init_fail = flag(child)?,
        _ => return Err(unhandled(child)),
    }
    Ok(())
}
