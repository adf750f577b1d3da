//! From the statement tree to the typed [`Config`]: keyword dispatch, value parsing, defaults
//! and the cross-checks between instances, scripts and sync groups.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::error::{ConfigError, Span, Warning, WarningKind};
use super::model::*;
use super::tree::{Node, Word};

type R<T> = Result<T, ConfigError>;

/// Largest script or track weight keepalived accepts.
const MAX_WEIGHT: i64 = 253;
/// Longest interface name (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

// keepalived keywords accepted and reported as not implemented, per block. Block keywords
// among them have their whole block skipped.
const TOP_UNIMPLEMENTED: &[&str] = &[
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "linkbeat_interfaces",
    "vrrp_track_process",
    "vrrp_track_file",
    "track_file",
    "bfd_instance",
    "garp_group",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "local_address_group",
];

const GLOBAL_UNIMPLEMENTED: &[&str] = &[
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "enable_traps",
    "enable_snmp_vrrp",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_keepalived",
    "snmp_socket",
    "enable_dbus",
    "lvs_id",
    "lvs_sync_daemon",
    "lvs_flush",
    "lvs_timeouts",
    "vrrp_skip_check_adv_addr",
    "vrrp_check_unicast_src",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_priority",
    "checker_priority",
    "bfd_priority",
    "vrrp_no_swap",
    "checker_no_swap",
    "bfd_no_swap",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "vrrp_rlimit_rttime",
    "dynamic_interfaces",
    "vrrp_startup_delay",
    "max_auto_priority",
    "min_auto_priority_delay",
    "vrrp_min_garp",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_down_timer_adverts",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "default_interface",
    "process_names",
    "vrrp_process_name",
    "umask",
    "linkbeat_use_polling",
    "net_namespace",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "vrrp_owner_ignore_adverts",
];

const INSTANCE_UNIMPLEMENTED: &[&str] = &[
    "smtp_alert",
    "lvs_sync_daemon_interface",
    "use_vmac",
    "vmac_xmit_base",
    "native_ipv6",
    "unicast_ttl",
    "virtual_routes",
    "virtual_rules",
    "track_file",
    "track_process",
    "track_bfd",
    "debug",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "kernel_rx_buf_size",
    "skip_check_adv_addr",
    "check_unicast_src",
    "unicast_fault_no_peer",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "notify_priority_changes",
    "linkbeat_use_polling",
    "track_src_ip",
    "old_unicast_checksum",
];

const GROUP_UNIMPLEMENTED: &[&str] = &[
    "smtp_alert",
    "global_tracking",
    "sync_group_tracking_weight",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "notify_priority_changes",
];

/// Modifiers of a virtual address keepalived knows and we accept without acting on; the
/// bool says whether the modifier takes a value.
const VIP_UNIMPLEMENTED: &[(&str, bool)] = &[
    ("no_track", false),
    ("home", false),
    ("nodad", false),
    ("-nodad", false),
    ("noprefixroute", false),
    ("autojoin", false),
    ("preferred_lft", true),
    ("track_group", true),
];

struct Builder {
    warnings: Vec<Warning>,
}

pub(crate) fn build(nodes: &[Node], warnings: &mut Vec<Warning>) -> R<Config> {
    let mut b = Builder {
        warnings: std::mem::take(warnings),
    };
    let result = b.config(nodes);
    *warnings = b.warnings;
    result
}

// ---------- small value parsers ----------

/// Where an earlier definition is, for "already defined" messages: line:col in the same
/// file, else the full place.
fn earlier(prev: &Span, here: &Span) -> String {
    if prev.file == here.file {
        format!("line {}:{}", prev.line, prev.column)
    } else {
        prev.to_string()
    }
}

fn kw(node: &Node) -> &str {
    &node.name.text
}

fn invalid_value(w: &Word, keyword: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        span: w.span.clone(),
        keyword: keyword.to_string(),
        expected: expected.into(),
        found: w.text.clone(),
    }
}

fn invalid(span: &Span, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        span: span.clone(),
        message: message.into(),
    }
}

fn no_block(node: &Node) -> R<()> {
    if node.block.is_some() {
        return Err(invalid(
            &node.name.span,
            format!("{} takes no block", kw(node)),
        ));
    }
    Ok(())
}

fn block(node: &Node) -> R<&[Node]> {
    match &node.block {
        Some(children) => Ok(children),
        None => Err(ConfigError::MissingValue {
            span: node.name.span.clone(),
            keyword: kw(node).to_string(),
            expected: "a { } block".into(),
        }),
    }
}

fn no_args(node: &Node) -> R<()> {
    match node.args.first() {
        Some(extra) => Err(unexpected(extra, kw(node))),
        None => Ok(()),
    }
}

fn unexpected(extra: &Word, keyword: &str) -> ConfigError {
    ConfigError::UnexpectedArgument {
        span: extra.span.clone(),
        keyword: keyword.to_string(),
        found: extra.text.clone(),
    }
}

fn missing(node: &Node, expected: &str) -> ConfigError {
    ConfigError::MissingValue {
        span: node.name.span.clone(),
        keyword: kw(node).to_string(),
        expected: expected.to_string(),
    }
}

/// The single value of a `keyword value` line.
fn one_arg<'n>(node: &'n Node, expected: &str) -> R<&'n Word> {
    no_block(node)?;
    match node.args.as_slice() {
        [] => Err(missing(node, expected)),
        [w] => Ok(w),
        [_, extra, ..] => Err(unexpected(extra, kw(node))),
    }
}

fn parse_bool(w: &Word, keyword: &str) -> R<bool> {
    match w.text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(invalid_value(w, keyword, "on|off|true|false|yes|no")),
    }
}

/// A flag keyword: alone it means on; keepalived also accepts an explicit boolean.
fn flag(node: &Node) -> R<bool> {
    no_block(node)?;
    match node.args.as_slice() {
        [] => Ok(true),
        [w] => parse_bool(w, kw(node)),
        [_, extra, ..] => Err(unexpected(extra, kw(node))),
    }
}

/// `[weight N [reverse]]` after a tracked script or interface name.
fn track_weight(line: &Node, keyword: &str) -> R<(Option<i32>, bool)> {
    match line.args.as_slice() {
        [] => Ok((None, false)),
        [k] if k.text == "weight" => Err(ConfigError::MissingValue {
            span: k.span.clone(),
            keyword: "weight".into(),
            expected: "an integer -253..253".into(),
        }),
        [k, w] if k.text == "weight" => Ok((Some(weight_word(w, "weight")?), false)),
        [k, w, r] if k.text == "weight" && r.text == "reverse" => {
            Ok((Some(weight_word(w, "weight")?), true))
        }
        [k, _, extra, ..] if k.text == "weight" => Err(unexpected(extra, keyword)),
        [extra, ..] => Err(unexpected(extra, keyword)),
    }
}

/// A decimal integer in `lo..=hi`; anything else names the range expected.
fn int_word(w: &Word, keyword: &str, lo: i64, hi: i64) -> R<i64> {
    let expected = || invalid_value(w, keyword, format!("an integer {lo}..{hi}"));
    let t = w.text.as_str();
    let digits = t
        .strip_prefix('-')
        .or_else(|| t.strip_prefix('+'))
        .unwrap_or(t);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected());
    }
    let v: i64 = t.parse().map_err(|_| expected())?;
    if v < lo || v > hi {
        return Err(expected());
    }
    Ok(v)
}

fn int_arg(node: &Node, lo: i64, hi: i64) -> R<i64> {
    let w = one_arg(node, &format!("an integer {lo}..{hi}"))?;
    int_word(w, kw(node), lo, hi)
}

fn u32_arg(node: &Node, lo: u32, hi: u32) -> R<u32> {
    let v = int_arg(node, i64::from(lo), i64::from(hi))?;
    // In range by construction.
    Ok(u32::try_from(v).unwrap_or(hi))
}

fn u8_arg(node: &Node, lo: u8, hi: u8) -> R<u8> {
    let v = int_arg(node, i64::from(lo), i64::from(hi))?;
    Ok(u8::try_from(v).unwrap_or(hi))
}

fn weight_word(w: &Word, keyword: &str) -> R<i32> {
    let v = int_word(w, keyword, -MAX_WEIGHT, MAX_WEIGHT)?;
    Ok(i32::try_from(v).unwrap_or(0))
}

/// A non-negative decimal `W[.F]` as (whole, fraction scaled to `digits` places). No floats:
/// `0.1` must be exactly 10 cs.
fn fixed_point(text: &str, digits: u32) -> Option<(u64, u64, bool)> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let Some(frac) = frac else {
        return Some((whole, 0, false));
    };
    if frac.is_empty() || frac.len() > digits as usize || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut scaled: u64 = frac.parse().ok()?;
    for _ in frac.len()..digits as usize {
        scaled *= 10;
    }
    let nonzero = scaled != 0;
    Some((whole, scaled, nonzero))
}

/// Seconds with up to microsecond decimals, in `0..=max_secs`.
fn seconds_arg(node: &Node, max_secs: u64) -> R<Duration> {
    let expected = format!("a number of seconds 0..{max_secs}");
    let w = one_arg(node, &expected)?;
    match fixed_point(&w.text, 6) {
        Some((s, us, _)) if s < max_secs || (s == max_secs && us == 0) => {
            Ok(Duration::from_secs(s) + Duration::from_micros(us))
        }
        _ => Err(invalid_value(w, kw(node), expected)),
    }
}

/// Whole seconds in `lo..=hi`.
fn whole_seconds_arg(node: &Node, lo: u32, hi: u32) -> R<Duration> {
    let w = one_arg(node, &format!("a whole number of seconds {lo}..{hi}"))?;
    let v = int_word(w, kw(node), i64::from(lo), i64::from(hi))
        .map_err(|_| invalid_value(w, kw(node), format!("a whole number of seconds {lo}..{hi}")))?;
    Ok(Duration::from_secs(u64::try_from(v).unwrap_or(0)))
}

fn ip_word(w: &Word, keyword: &str) -> R<IpAddr> {
    w.text
        .parse::<IpAddr>()
        .map_err(|_| invalid_value(w, keyword, "an IPv4 or IPv6 address"))
}

fn ifname_word(w: &Word, keyword: &str) -> R<String> {
    let ok = !w.text.is_empty()
        && w.text.chars().count() <= MAX_IFNAME
        && !w.text.contains('/')
        && w.text != "."
        && w.text != ".."
        && !w.text.chars().any(char::is_whitespace);
    if !ok {
        return Err(invalid_value(
            w,
            keyword,
            format!("an interface name of 1..{MAX_IFNAME} characters"),
        ));
    }
    Ok(w.text.clone())
}

/// Splits a command line on whitespace, honouring single and double quotes and backslash
/// escapes, the way keepalived splits `script` and `notify*` strings.
pub(crate) fn split_command_line(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => match chars.next() {
                Some(n) => cur.push(n),
                None => cur.push('\\'),
            },
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// A command line: one (usually quoted) string split like a shell would, or several words
/// taken as argv as they stand.
fn command_arg(node: &Node) -> R<Vec<String>> {
    no_block(node)?;
    let argv = match node.args.as_slice() {
        [] => return Err(missing(node, "a command line")),
        [one] => split_command_line(&one.text),
        many => many.iter().map(|w| w.text.clone()).collect(),
    };
    if argv.is_empty() {
        return Err(invalid_value(&node.args[0], kw(node), "a command line"));
    }
    Ok(argv)
}

fn script_user_arg(node: &Node) -> R<ScriptUser> {
    no_block(node)?;
    match node.args.as_slice() {
        [] => Err(missing(node, "a user name and optional group")),
        [u] => Ok(ScriptUser {
            user: u.text.clone(),
            group: None,
        }),
        [u, g] => Ok(ScriptUser {
            user: u.text.clone(),
            group: Some(g.text.clone()),
        }),
        [_, _, extra, ..] => Err(unexpected(extra, kw(node))),
    }
}

fn version_arg(node: &Node) -> R<(VrrpVersion, Span)> {
    let w = one_arg(node, "2 or 3")?;
    match w.text.as_str() {
        "2" => Ok((VrrpVersion::V2, w.span.clone())),
        "3" => Ok((VrrpVersion::V3, w.span.clone())),
        _ => Err(invalid_value(w, kw(node), "2 or 3")),
    }
}

/// A name after a block keyword (`vrrp_instance VI_1 {`).
fn block_name(node: &Node) -> R<&Word> {
    match node.args.as_slice() {
        [] => Err(missing(node, "a name")),
        [w] => Ok(w),
        [_, extra, ..] => Err(unexpected(extra, kw(node))),
    }
}

// ---------- the instance as read, before defaults and cross-checks ----------

#[derive(Default)]
struct RawInstance {
    name: String,
    span: Option<Span>,
    state: Option<InitialState>,
    interface: Option<String>,
    vrid: Option<(u8, Span)>,
    priority: Option<u8>,
    /// (centiseconds, has a fractional part, the word)
    advert_int: Option<(u64, bool, Word)>,
    version: Option<(VrrpVersion, Span)>,
    preempt: Option<(bool, Span)>,
    preempt_delay: Option<Duration>,
    unicast_src_ip: Option<(IpAddr, Span)>,
    unicast_peers: Vec<(IpAddr, Span)>,
    mcast_src_ip: Option<(IpAddr, Span)>,
    authentication: Option<(Authentication, Span)>,
    vips: Vec<VirtualIp>,
    vips_excluded: Vec<VirtualIp>,
    track_scripts: Vec<TrackScript>,
    track_interfaces: Vec<TrackInterface>,
    dont_track_primary: bool,
    notify: Notify,
    garp_master_delay: Option<Duration>,
    garp_master_repeat: Option<u32>,
    garp_master_refresh: Option<Duration>,
    garp_master_refresh_repeat: Option<u32>,
    v3_checksum_as_v2: bool,
    accept: Option<bool>,
    strict: Option<bool>,
}

impl Builder {
    fn warn(&mut self, span: &Span, keyword: &str, kind: WarningKind, message: impl Into<String>) {
        self.warnings.push(Warning {
            span: span.clone(),
            keyword: keyword.to_string(),
            kind,
            message: message.into(),
        });
    }

    /// Handles a keyword from `list`, returning whether it was one.
    fn not_implemented(&mut self, node: &Node, list: &[&str]) -> bool {
        if !list.contains(&kw(node)) {
            return false;
        }
        let message = if node.block.is_some() {
            "not implemented; block ignored"
        } else {
            "not implemented; ignored"
        };
        self.warn(
            &node.name.span,
            kw(node),
            WarningKind::NotImplemented,
            message,
        );
        true
    }

    fn config(&mut self, nodes: &[Node]) -> R<Config> {
        let mut global = GlobalDefs::default();
        let mut scripts: Vec<VrrpScript> = Vec::new();
        let mut raw_instances: Vec<RawInstance> = Vec::new();
        let mut groups: Vec<(SyncGroup, Vec<Word>)> = Vec::new();
        // Name -> index, so that many instances do not cost quadratic time.
        let mut script_names: HashMap<String, usize> = HashMap::new();
        let mut instance_names: HashMap<String, usize> = HashMap::new();
        let mut group_names: HashMap<String, usize> = HashMap::new();

        // global_defs first: instances take their defaults from it wherever it stands.
        for node in nodes.iter().filter(|n| kw(n) == "global_defs") {
            no_args(node)?;
            self.global_defs(block(node)?, &mut global)?;
        }
        for node in nodes {
            match kw(node) {
                "global_defs" => {}
                "vrrp_script" => {
                    let s = self.script(node)?;
                    if let Some(prev) = script_names.get(&s.name).and_then(|&i| scripts.get(i)) {
                        return Err(invalid(
                            &s.span,
                            format!(
                                "vrrp_script \"{}\" is already defined at {}",
                                s.name,
                                earlier(&prev.span, &s.span)
                            ),
                        ));
                    }
                    script_names.insert(s.name.clone(), scripts.len());
                    scripts.push(s);
                }
                "vrrp_instance" => {
                    let r = self.raw_instance(node)?;
                    if let Some(prev) = instance_names
                        .get(&r.name)
                        .and_then(|&i| raw_instances.get(i))
                    {
                        let here = r.span.clone().unwrap_or_else(|| node.name.span.clone());
                        let at = prev
                            .span
                            .as_ref()
                            .map(|p| earlier(p, &here))
                            .unwrap_or_default();
                        return Err(invalid(
                            &here,
                            format!("vrrp_instance \"{}\" is already defined at {at}", r.name),
                        ));
                    }
                    instance_names.insert(r.name.clone(), raw_instances.len());
                    raw_instances.push(r);
                }
                "vrrp_sync_group" => {
                    let g = self.sync_group(node)?;
                    if let Some(prev) = group_names.get(&g.0.name).and_then(|&i| groups.get(i)) {
                        return Err(invalid(
                            &g.0.span,
                            format!(
                                "vrrp_sync_group \"{}\" is already defined at {}",
                                g.0.name,
                                earlier(&prev.0.span, &g.0.span)
                            ),
                        ));
                    }
                    group_names.insert(g.0.name.clone(), groups.len());
                    groups.push(g);
                }
                _ => {
                    if !self.not_implemented(node, TOP_UNIMPLEMENTED) {
                        return Err(ConfigError::UnknownKeyword {
                            span: node.name.span.clone(),
                            keyword: kw(node).to_string(),
                            context: "the top level".into(),
                        });
                    }
                }
            }
        }

        let mut instances = Vec::with_capacity(raw_instances.len());
        for raw in raw_instances {
            let inst = self.finish_instance(raw, &global, &scripts)?;
            instances.push(inst);
        }
        // One VRID per interface and family: two instances would answer each other's adverts.
        let mut seen: HashMap<(&str, u8, Family), &VrrpInstance> = HashMap::new();
        for inst in &instances {
            let key = (inst.interface.as_str(), inst.virtual_router_id, inst.family);
            if let Some(prev) = seen.insert(key, inst) {
                return Err(invalid(
                    &inst.span,
                    format!(
                        "virtual_router_id {} on {} ({}) is already used by vrrp_instance \"{}\" at {}",
                        inst.virtual_router_id,
                        inst.interface,
                        match inst.family {
                            Family::V4 => "IPv4",
                            Family::V6 => "IPv6",
                        },
                        prev.name,
                        earlier(&prev.span, &inst.span)
                    ),
                ));
            }
        }

        let mut sync_groups = Vec::with_capacity(groups.len());
        let mut member_of: HashMap<String, String> = HashMap::new();
        let known: HashSet<&str> = instances.iter().map(|i| i.name.as_str()).collect();
        for (group, words) in groups {
            for w in &words {
                if !known.contains(w.text.as_str()) {
                    return Err(invalid(
                        &w.span,
                        format!(
                            "vrrp_sync_group \"{}\" names unknown vrrp_instance \"{}\"",
                            group.name, w.text
                        ),
                    ));
                }
                if let Some(other) = member_of.insert(w.text.clone(), group.name.clone()) {
                    let message = if other == group.name {
                        format!("vrrp_instance \"{}\" is listed twice in this group", w.text)
                    } else {
                        format!(
                            "vrrp_instance \"{}\" is already in vrrp_sync_group \"{other}\"",
                            w.text
                        )
                    };
                    return Err(invalid(&w.span, message));
                }
            }
            sync_groups.push(group);
        }

        Ok(Config {
            global,
            scripts,
            instances,
            sync_groups,
        })
    }

    fn global_defs(&mut self, nodes: &[Node], g: &mut GlobalDefs) -> R<()> {
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
                        return Err(ConfigError::UnknownKeyword {
                            span: node.name.span.clone(),
                            keyword: kw(node).to_string(),
                            context: "global_defs".into(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn script(&mut self, node: &Node) -> R<VrrpScript> {
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
                _ => {
                    return Err(ConfigError::UnknownKeyword {
                        span: child.name.span.clone(),
                        keyword: kw(child).to_string(),
                        context: format!("vrrp_script {}", name.text),
                    })
                }
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

    fn notify_into(&mut self, node: &Node, notify: &mut Notify) -> R<bool> {
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

    fn sync_group(&mut self, node: &Node) -> R<(SyncGroup, Vec<Word>)> {
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
                        return Err(ConfigError::UnknownKeyword {
                            span: child.name.span.clone(),
                            keyword: kw(child).to_string(),
                            context: format!("vrrp_sync_group {}", name.text),
                        });
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

    fn raw_instance(&mut self, node: &Node) -> R<RawInstance> {
        let name = block_name(node)?;
        let mut r = RawInstance {
            name: name.text.clone(),
            span: Some(name.span.clone()),
            ..RawInstance::default()
        };
        for child in block(node)? {
            if self.notify_into(child, &mut r.notify)? {
                continue;
            }
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
                "unicast_peer" => {
                    no_args(child)?;
                    for line in block(child)? {
                        no_block(line)?;
                        let addr = ip_word(&line.name, "unicast_peer")?;
                        let mut args = line.args.iter();
                        while let Some(a) = args.next() {
                            if a.text == "min_ttl" || a.text == "max_ttl" {
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
                        r.unicast_peers.push((addr, line.name.span.clone()));
                    }
                }
                "authentication" => r.authentication = Some(self.authentication(child)?),
                "virtual_ipaddress" => {
                    no_args(child)?;
                    for line in block(child)? {
                        let vip = self.vip(line, "virtual_ipaddress")?;
                        r.vips.push(vip);
                    }
                }
                "virtual_ipaddress_excluded" => {
                    no_args(child)?;
                    for line in block(child)? {
                        let vip = self.vip(line, "virtual_ipaddress_excluded")?;
                        r.vips_excluded.push(vip);
                    }
                }
                "track_script" => {
                    no_args(child)?;
                    for line in block(child)? {
                        no_block(line)?;
                        let (weight, weight_reverse) = track_weight(line, "track_script")?;
                        r.track_scripts.push(TrackScript {
                            name: line.name.text.clone(),
                            weight,
                            weight_reverse,
                            span: line.name.span.clone(),
                        });
                    }
                }
                "track_interface" => {
                    no_args(child)?;
                    for line in block(child)? {
                        no_block(line)?;
                        let name = ifname_word(&line.name, "track_interface")?;
                        let (weight, weight_reverse) = track_weight(line, "track_interface")?;
                        r.track_interfaces.push(TrackInterface {
                            name,
                            weight,
                            weight_reverse,
                            span: line.name.span.clone(),
                        });
                    }
                }
                "dont_track_primary" => r.dont_track_primary = flag(child)?,
                "garp_master_delay" => {
                    r.garp_master_delay = Some(whole_seconds_arg(child, 0, 1000)?)
                }
                "garp_master_repeat" => r.garp_master_repeat = Some(u32_arg(child, 1, 1000)?),
                "garp_master_refresh" => {
                    r.garp_master_refresh = Some(whole_seconds_arg(child, 0, 86400)?)
                }
                "garp_master_refresh_repeat" => {
                    r.garp_master_refresh_repeat = Some(u32_arg(child, 1, 1000)?)
                }
                "v3_checksum_as_v2" => r.v3_checksum_as_v2 = flag(child)?,
                "accept" => r.accept = Some(flag(child)?),
                "no_accept" => {
                    no_args(child)?;
                    no_block(child)?;
                    r.accept = Some(false);
                }
                "strict_mode" => r.strict = Some(flag(child)?),
                _ => {
                    if !self.not_implemented(child, INSTANCE_UNIMPLEMENTED) {
                        return Err(ConfigError::UnknownKeyword {
                            span: child.name.span.clone(),
                            keyword: kw(child).to_string(),
                            context: format!("vrrp_instance {}", r.name),
                        });
                    }
                }
            }
        }
        Ok(r)
    }

    fn authentication(&mut self, node: &Node) -> R<(Authentication, Span)> {
        no_args(node)?;
        let mut kind: Option<(bool, &Word)> = None; // (is AH, the word)
        let mut pass: Option<&Word> = None;
        for child in block(node)? {
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
                _ => {
                    return Err(ConfigError::UnknownKeyword {
                        span: child.name.span.clone(),
                        keyword: kw(child).to_string(),
                        context: "authentication".into(),
                    })
                }
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

    fn vip(&mut self, line: &Node, keyword: &str) -> R<VirtualIp> {
        no_block(line)?;
        let w = &line.name;
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
        let mut vip = VirtualIp {
            addr,
            prefix_len,
            broadcast: None,
            dev: None,
            scope: None,
            label: None,
            span: w.span.clone(),
        };
        let mut args = line.args.iter();
        while let Some(a) = args.next() {
            let key = a.text.as_str();
            if let Some(&(_, takes_value)) = VIP_UNIMPLEMENTED.iter().find(|(k, _)| *k == key) {
                if takes_value && args.next().is_none() {
                    return Err(ConfigError::MissingValue {
                        span: a.span.clone(),
                        keyword: key.to_string(),
                        expected: "a value".into(),
                    });
                }
                self.warn(
                    &a.span,
                    key,
                    WarningKind::NotImplemented,
                    "not implemented; ignored",
                );
                continue;
            }
            let value = match key {
                "brd" | "broadcast" | "dev" | "scope" | "label" => match args.next() {
                    Some(v) => v,
                    None => {
                        return Err(ConfigError::MissingValue {
                            span: a.span.clone(),
                            keyword: key.to_string(),
                            expected: "a value".into(),
                        })
                    }
                },
                _ => return Err(unexpected(a, keyword)),
            };
            match key {
                "brd" | "broadcast" => {
                    if !addr.is_ipv4() {
                        return Err(invalid(&a.span, "brd applies to IPv4 addresses only"));
                    }
                    vip.broadcast = Some(
                        value
                            .text
                            .parse()
                            .map_err(|_| invalid_value(value, key, "an IPv4 address"))?,
                    );
                }
                "dev" => vip.dev = Some(ifname_word(value, "dev")?),
                "scope" => {
                    vip.scope = Some(match value.text.as_str() {
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
                _ => {
                    if value.text.is_empty() || value.text.chars().count() > MAX_IFNAME {
                        return Err(invalid_value(
                            value,
                            "label",
                            format!("a label of 1..{MAX_IFNAME} characters"),
                        ));
                    }
                    vip.label = Some(value.text.clone());
                }
            }
        }
        Ok(vip)
    }

    fn finish_instance(
        &mut self,
        r: RawInstance,
        g: &GlobalDefs,
        scripts: &[VrrpScript],
    ) -> R<VrrpInstance> {
        let name = r.name;
        let span = r.span.unwrap_or_else(Span::nowhere);
        let Some(interface) = r.interface else {
            return Err(invalid(
                &span,
                format!("vrrp_instance \"{name}\" has no interface"),
            ));
        };
        let Some((vrid, _)) = r.vrid else {
            return Err(invalid(
                &span,
                format!("vrrp_instance \"{name}\" has no virtual_router_id"),
            ));
        };

        // Family: the VIPs decide, all of one family; else the unicast addresses; else IPv4.
        let family = r
            .vips
            .first()
            .map(|v| Family::of(&v.addr))
            .or_else(|| r.unicast_src_ip.as_ref().map(|(a, _)| Family::of(a)))
            .or_else(|| r.unicast_peers.first().map(|(a, _)| Family::of(a)))
            .unwrap_or(Family::V4);
        let fam_name = |f: Family| match f {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        };
        for v in &r.vips {
            if Family::of(&v.addr) != family {
                return Err(invalid(
                    &v.span,
                    format!(
                        "virtual_ipaddress {} is {} but the instance's first address is {}; use another instance for the other family (or virtual_ipaddress_excluded)",
                        v.addr,
                        fam_name(Family::of(&v.addr)),
                        fam_name(family)
                    ),
                ));
            }
        }
        let check_family = |addr: &IpAddr, at: &Span, what: &str| -> R<()> {
            if Family::of(addr) != family {
                return Err(invalid(
                    at,
                    format!(
                        "{what} {addr} is {} but the instance is {}",
                        fam_name(Family::of(addr)),
                        fam_name(family)
                    ),
                ));
            }
            Ok(())
        };
        if let Some((a, s)) = &r.unicast_src_ip {
            check_family(a, s, "unicast_src_ip")?;
        }
        if let Some((a, s)) = &r.mcast_src_ip {
            check_family(a, s, "mcast_src_ip")?;
        }
        for (a, s) in &r.unicast_peers {
            check_family(a, s, "unicast_peer")?;
        }

        let version = match (r.version, g.vrrp_version) {
            (Some((VrrpVersion::V2, vspan)), _) if family == Family::V6 => {
                return Err(invalid(
                    &vspan,
                    "VRRP version 2 does not support IPv6 addresses; use version 3",
                ))
            }
            (Some((v, _)), _) => v,
            (None, Some(VrrpVersion::V2)) if family == Family::V6 => {
                // keepalived moves IPv6 instances to v3 whatever vrrp_version says.
                self.warn(
                    &span,
                    "vrrp_version",
                    WarningKind::Adjusted,
                    format!("vrrp_instance \"{name}\" is IPv6; using VRRP version 3"),
                );
                VrrpVersion::V3
            }
            (None, Some(v)) => v,
            (None, None) if family == Family::V6 => VrrpVersion::V3,
            (None, None) => VrrpVersion::V2,
        };

        let advert_int_cs = match (&r.advert_int, version) {
            (None, _) => 100,
            (Some((cs, frac, w)), VrrpVersion::V2) => {
                if *frac || !(100..=25500).contains(cs) {
                    return Err(invalid_value(
                        w,
                        "advert_int",
                        "whole seconds 1..255 with VRRP version 2 (decimals need version 3)",
                    ));
                }
                u16::try_from(*cs).unwrap_or(100)
            }
            (Some((cs, _, w)), VrrpVersion::V3) => {
                if !(1..=4095).contains(cs) {
                    return Err(invalid_value(
                        w,
                        "advert_int",
                        "0.01..40.95 seconds with VRRP version 3",
                    ));
                }
                u16::try_from(*cs).unwrap_or(100)
            }
        };

        let strict = r.strict.unwrap_or(g.vrrp_strict);
        let mut authentication = r.authentication;
        if let Some((_, aspan)) = &authentication {
            if strict {
                return Err(invalid(
                    aspan,
                    "authentication is not allowed with vrrp_strict (RFC 5798 removed it)",
                ));
            }
            if version == VrrpVersion::V3 {
                self.warn(
                    aspan,
                    "authentication",
                    WarningKind::Ignored,
                    "VRRP version 3 has no authentication; ignored",
                );
                authentication = None;
            }
        }
        if strict {
            if let Some((_, s)) = r.unicast_peers.first() {
                return Err(invalid(s, "unicast_peer is not allowed with vrrp_strict"));
            }
            if r.vips.is_empty() {
                return Err(invalid(
                    &span,
                    format!("vrrp_instance \"{name}\": vrrp_strict needs at least one virtual_ipaddress"),
                ));
            }
        }

        for t in &r.track_scripts {
            if !scripts.iter().any(|s| s.name == t.name) {
                return Err(invalid(
                    &t.span,
                    format!("track_script \"{}\" names no vrrp_script", t.name),
                ));
            }
        }
        let state = r.state.unwrap_or(InitialState::Backup);
        let preempt = !matches!(r.preempt, Some((false, _)));
        if let (Some((false, pspan)), InitialState::Master) = (&r.preempt, state) {
            self.warn(
                pspan,
                "nopreempt",
                WarningKind::Ignored,
                "nopreempt has no effect with state MASTER; use state BACKUP",
            );
        }

        // The kernel takes a label only if it is the device name or starts with "dev:".
        for v in r.vips.iter().chain(&r.vips_excluded) {
            if let Some(label) = &v.label {
                let dev = v.dev.as_deref().unwrap_or(&interface);
                if label != dev && !label.starts_with(&format!("{dev}:")) {
                    return Err(invalid(
                        &v.span,
                        format!("label \"{label}\" must be \"{dev}\" or start with \"{dev}:\""),
                    ));
                }
            }
        }

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

        Ok(VrrpInstance {
            name,
            span,
            state,
            interface,
            virtual_router_id: vrid,
            priority: r.priority.unwrap_or(100),
            advert_int_cs,
            version,
            family,
            preempt,
            preempt_delay: r.preempt_delay.unwrap_or(Duration::ZERO),
            unicast_src_ip: r.unicast_src_ip.map(|p| p.0),
            unicast_peers: r.unicast_peers.into_iter().map(|p| p.0).collect(),
            mcast_src_ip: r.mcast_src_ip.map(|p| p.0),
            mcast_group: match family {
                Family::V4 => IpAddr::V4(g.mcast_group4),
                Family::V6 => IpAddr::V6(g.mcast_group6),
            },
            authentication: authentication.map(|a| a.0),
            virtual_ipaddresses: r.vips,
            virtual_ipaddresses_excluded: r.vips_excluded,
            track_scripts: r.track_scripts,
            track_interfaces: r.track_interfaces,
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
            v3_checksum_as_v2: r.v3_checksum_as_v2,
            accept: r.accept.unwrap_or(!strict),
            strict,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_is_exact() {
        assert_eq!(fixed_point("0.1", 2), Some((0, 10, true)));
        assert_eq!(fixed_point("1", 2), Some((1, 0, false)));
        assert_eq!(fixed_point("1.00", 2), Some((1, 0, false)));
        assert_eq!(fixed_point("0.05", 2), Some((0, 5, true)));
        assert_eq!(fixed_point("0.005", 2), None);
        assert_eq!(fixed_point(".5", 2), None);
        assert_eq!(fixed_point("1.", 2), None);
        assert_eq!(fixed_point("-1", 2), None);
        assert_eq!(fixed_point("99999999999999999999", 2), None);
    }

    #[test]
    fn command_lines_split_like_keepalived() {
        assert_eq!(
            split_command_line(r#"/bin/notify.sh "two words" 'x y' a\ b"#),
            vec!["/bin/notify.sh", "two words", "x y", "a b"]
        );
        assert_eq!(split_command_line("   "), Vec::<String>::new());
        assert_eq!(split_command_line(r#""""#), vec![String::new()]);
    }
}
