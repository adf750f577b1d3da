//! `anycast_route` blocks (a halb extension): the prefix, its interface and priority, and
//! the same `track_*` lists a `vrrp_instance` has, naming the same blocks.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::config::anycast::{AnycastRoute, DEFAULT_ANYCAST_PRIORITY};
use crate::config::error::{ConfigError, Span};
use crate::config::model::{TrackInterface, TrackScript};
use crate::config::tree::Node;

use super::instance::vip_address;
use super::tracked::unknown_refs;
use super::values::*;
use super::{supported, unhandled, Builder, Known, R};

impl Builder {
    /// An `anycast_route`; `None` when it has errors (each recorded).
    pub(super) fn anycast_route(&mut self, node: &Node) -> Option<AnycastRoute> {
        let name = self.keep(block_name(node))?;
        let before = self.errors.len();
        let mut a = AnycastRoute {
            name: name.text.clone(),
            span: name.span.clone(),
            prefix: IpAddr::from([0, 0, 0, 0]),
            prefix_len: 0,
            interface: "lo".into(),
            priority: DEFAULT_ANYCAST_PRIORITY,
            track_scripts: Vec::new(),
            track_interfaces: Vec::new(),
            track_processes: Vec::new(),
            track_files: Vec::new(),
        };
        let mut has_prefix = false;
        let children = self.keep(block(node)).unwrap_or_default();
        for child in children {
            let context = || format!("anycast_route {}", name.text);
            if let Some(r) = self.unlisted(child, supported::ANYCAST, &[], context) {
                self.keep(r);
                continue;
            }
            has_prefix |= kw(child) == "prefix";
            let result = self.anycast_setting(child, &mut a);
            self.keep(result);
        }
        if !has_prefix {
            self.errors.push(invalid(
                &name.span,
                format!("anycast_route \"{}\" has no prefix", name.text),
            ));
        }
        (self.errors.len() == before).then_some(a)
    }

    /// One keyword of an `anycast_route`.
    fn anycast_setting(&mut self, child: &Node, a: &mut AnycastRoute) -> R<()> {
        let keyword = kw(child);
        match keyword {
            "prefix" => {
                no_block(child)?;
                let w = one_arg(child, "an IP prefix")?;
                let v = vip_address(w, keyword)?;
                if !host_bits_zero(v.addr, v.prefix_len) {
                    return Err(invalid_value(
                        w,
                        keyword,
                        "a network address (host bits zero) with its /prefix",
                    ));
                }
                (a.prefix, a.prefix_len) = (v.addr, v.prefix_len);
            }
            "interface" => {
                no_block(child)?;
                a.interface = ifname_word(one_arg(child, "an interface name")?, keyword)?;
            }
            "priority" => a.priority = u8_arg(child, 1, 255)?,
            "track_process" => self.track_refs(child, keyword, &mut a.track_processes),
            "track_file" => self.track_refs(child, keyword, &mut a.track_files),
            "track_script" | "track_interface" => {
                no_args(child)?;
                for line in block(child)? {
                    let result = track_line(line, keyword, a);
                    self.keep(result);
                }
            }
            _ => return Err(unhandled(child)),
        }
        Ok(())
    }
}

/// One line of an `anycast_route`'s `track_script { }` or `track_interface { }`.
fn track_line(line: &Node, keyword: &str, a: &mut AnycastRoute) -> R<()> {
    no_block(line)?;
    let (weight, weight_reverse) = track_weight(line, keyword)?;
    let span = line.name.span.clone();
    if keyword == "track_script" {
        a.track_scripts.push(TrackScript {
            name: line.name.text.clone(),
            weight,
            weight_reverse,
            span,
        });
    } else {
        a.track_interfaces.push(TrackInterface {
            name: ifname_word(&line.name, keyword)?,
            weight,
            weight_reverse,
            span,
        });
    }
    Ok(())
}

/// Whether `addr` has no bit set past `len` (the kernel refuses a route that has).
fn host_bits_zero(addr: IpAddr, len: u8) -> bool {
    let (bits, width) = match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32u32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    let len = u32::from(len).min(width);
    len == 128 || bits << len == 0
}

/// An error for each track line of `routes` naming no block of `known`, and each prefix
/// two routes share.
pub(super) fn check_anycast_routes(routes: &[AnycastRoute], known: &Known<'_>) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut prefixes: Vec<(IpAddr, u8, &Span)> = Vec::new();
    for a in routes {
        for t in &a.track_scripts {
            if !known.scripts.contains(t.name.as_str()) {
                let message = format!("track_script \"{}\" names no vrrp_script", t.name);
                errors.push(invalid(&t.span, message));
            }
        }
        errors.extend(unknown_refs(
            &a.track_processes,
            &known.processes,
            "track_process",
            "vrrp_track_process",
        ));
        errors.extend(unknown_refs(
            &a.track_files,
            &known.files,
            "track_file",
            "track_file block",
        ));
        if let Some((_, _, first)) = prefixes
            .iter()
            .find(|(p, l, _)| (*p, *l) == (a.prefix, a.prefix_len))
        {
            let message = format!(
                "anycast_route \"{}\": prefix {}/{} is already announced by the block at {}",
                a.name,
                a.prefix,
                a.prefix_len,
                earlier(first, &a.span)
            );
            errors.push(invalid(&a.span, message));
        }
        prefixes.push((a.prefix, a.prefix_len, &a.span));
        let mut seen = HashSet::new();
        for t in &a.track_scripts {
            if !seen.insert(t.name.as_str()) {
                let message = format!("track_script \"{}\" is listed twice", t.name);
                errors.push(invalid(&t.span, message));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::host_bits_zero;

    #[test]
    fn a_prefix_is_a_network_address() {
        let ip = |s: &str| s.parse().expect("address");
        assert!(host_bits_zero(ip("198.18.200.1"), 32));
        assert!(host_bits_zero(ip("198.18.200.0"), 24));
        assert!(!host_bits_zero(ip("198.18.200.1"), 24));
        assert!(host_bits_zero(ip("0.0.0.0"), 0));
        assert!(host_bits_zero(ip("fd00:198:18::"), 64));
        assert!(!host_bits_zero(ip("fd00:198:18::1"), 64));
        assert!(host_bits_zero(ip("fd00:198:18::1"), 128));
    }
}
