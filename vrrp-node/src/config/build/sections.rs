//! The blocks other than `vrrp_instance`: `global_defs`, `vrrp_script`, `vrrp_sync_group`,
//! and the notify keywords instances and groups share.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::config::model::{GlobalDefs, Notify, SyncGroup, VrrpScript};
use crate::config::tree::{Node, Word};

use super::keywords::{GLOBAL_UNIMPLEMENTED, GROUP_UNIMPLEMENTED};
use super::values::*;
use super::{Builder, R};

impl Builder {
    pub(super) fn global_defs(&mut self, nodes: &[Node], g: &mut GlobalDefs) -> R<()> {
        for node in nodes {
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
                _ => {
                    if !self.not_implemented(node, GLOBAL_UNIMPLEMENTED) {
                        return Err(unknown_keyword(node, "global_defs"));
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn script(&mut self, node: &Node) -> R<VrrpScript> {
        let name = block_name(node)?;
        let mut command = None;
        let mut interval = Duration::from_secs(1);
        let mut timeout = None;
        let mut weight = 0;
        let mut weight_reverse = false;
        let mut fall = 1;
        let mut rise = 1;
        let mut user = None;
        let mut init_fail = false;
        for child in block(node)? {
            match kw(child) {
                "script" => command = Some(command_arg(child)?),
                "interval" => interval = seconds_arg(child, 86400)?,
                "timeout" => timeout = Some(seconds_arg(child, 86400)?),
                "weight" => {
                    no_block(child)?;
                    match child.args.as_slice() {
                        [] => return Err(missing(child, "an integer -253..253")),
                        [w] => weight = weight_word(w, "weight")?,
                        [w, r] if r.text == "reverse" => {
                            weight = weight_word(w, "weight")?;
                            weight_reverse = true;
                        }
                        [_, extra, ..] => return Err(unexpected(extra, "weight")),
                    }
                }
                "fall" => fall = u32_arg(child, 1, 1000)?,
                "rise" => rise = u32_arg(child, 1, 1000)?,
                "user" => user = Some(script_user_arg(child)?),
                "init_fail" => init_fail = flag(child)?,
                _ => return Err(unknown_keyword(child, format!("vrrp_script {}", name.text))),
            }
        }
        let Some(command) = command else {
            return Err(invalid(
                &name.span,
                format!("vrrp_script \"{}\" has no script", name.text),
            ));
        };
        if interval.is_zero() {
            return Err(invalid(
                &name.span,
                format!("vrrp_script \"{}\": interval must be above 0", name.text),
            ));
        }
        Ok(VrrpScript {
            name: name.text.clone(),
            span: name.span.clone(),
            command,
            interval,
            // keepalived: no timeout means the interval.
            timeout: timeout.filter(|t| !t.is_zero()).unwrap_or(interval),
            weight,
            weight_reverse,
            fall,
            rise,
            user,
            init_fail,
        })
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

    pub(super) fn sync_group(&mut self, node: &Node) -> R<(SyncGroup, Vec<Word>)> {
        let name = block_name(node)?;
        let mut members: Option<Vec<Word>> = None;
        let mut notify = Notify::default();
        for child in block(node)? {
            if self.notify_into(child, &mut notify)? {
                continue;
            }
            match kw(child) {
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
                    members = Some(words);
                }
                _ => {
                    if !self.not_implemented(child, GROUP_UNIMPLEMENTED) {
                        return Err(unknown_keyword(
                            child,
                            format!("vrrp_sync_group {}", name.text),
                        ));
                    }
                }
            }
        }
        let members = match members {
            Some(m) if !m.is_empty() => m,
            _ => {
                return Err(invalid(
                    &name.span,
                    format!(
                        "vrrp_sync_group \"{}\" has no group {{ }} of instances",
                        name.text
                    ),
                ))
            }
        };
        let group = SyncGroup {
            name: name.text.clone(),
            span: name.span.clone(),
            instances: members.iter().map(|w| w.text.clone()).collect(),
            notify,
        };
        Ok((group, members))
    }
}
