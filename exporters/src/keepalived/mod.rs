//! keepalived's VRRP state and statistics as mehdy/keepalived-exporter publishes them:
//! `keepalived_up`, `keepalived_vrrp_state{iname,intf,vrid,ip_address}` (0 INIT, 1 BACKUP,
//! 2 MASTER, 3 FAULT), a counter `keepalived_<stat>_total{iname,intf,vrid}` per keepalived
//! statistic (`advert_rcvd`, `become_master`, `auth_failure`, ...), `keepalived_script_status`
//! and `keepalived_script_state{name}`, `keepalived_check_script_status`. Counters carry no
//! state label, so `rate()` over a failover stays one series.
//!
//! Read from a real keepalived ([`data`], [`stats`], [`json`]: the files its signals make it
//! write) or from vrrpd's status ([`crate::vrrpd`]), into one [`VrrpReport`].

pub mod data;
pub mod json;
pub mod stats;

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::text::{Exposition, Kind};

/// `keepalived_up`'s name and help.
pub const UP: (&str, &str) = ("keepalived_up", "Status");

/// The family of each VIP's instance state.
pub const VRRP_STATE: (&str, &str) = ("keepalived_vrrp_state", "State of vrrp");

/// keepalived's statistics of an instance (`keepalived.stats`, the JSON dump's `stats`), with
/// the help texts of keepalived-exporter's families.
pub const KEEPALIVED_STATS: [(&str, &str); 14] = [
    ("advert_rcvd", "Advertisements received"),
    ("advert_sent", "Advertisements sent"),
    ("become_master", "Became master"),
    ("release_master", "Released master"),
    ("packet_len_err", "Packet length errors"),
    ("advert_interval_err", "Advertisement interval errors"),
    ("ip_ttl_err", "TTL errors"),
    ("invalid_type_rcvd", "Invalid type errors"),
    ("addr_list_err", "Address list errors"),
    ("invalid_authtype", "Authentication invalid"),
    ("authtype_mismatch", "Authentication mismatch"),
    ("auth_failure", "Authentication failure"),
    ("pri_zero_rcvd", "Priority zero received"),
    ("pri_zero_sent", "Priority zero sent"),
];

/// A VRRP state as keepalived-exporter numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VrrpState {
    /// 0: INIT (vrrpd's STOP: not running the protocol).
    Init,
    /// 1.
    Backup,
    /// 2.
    Master,
    /// 3.
    Fault,
}

impl VrrpState {
    /// From keepalived's or vrrpd's name of the state.
    pub fn from_name(name: &str) -> Option<VrrpState> {
        match name {
            "INIT" | "STOP" => Some(VrrpState::Init),
            "BACKUP" => Some(VrrpState::Backup),
            "MASTER" => Some(VrrpState::Master),
            "FAULT" => Some(VrrpState::Fault),
            _ => None,
        }
    }

    /// From keepalived's number of the state (its JSON dump's `state`).
    pub fn from_number(n: u64) -> Option<VrrpState> {
        [
            VrrpState::Init,
            VrrpState::Backup,
            VrrpState::Master,
            VrrpState::Fault,
        ]
        .get(usize::try_from(n).ok()?)
        .copied()
    }

    /// The sample value.
    pub fn number(self) -> f64 {
        match self {
            VrrpState::Init => 0.0,
            VrrpState::Backup => 1.0,
            VrrpState::Master => 2.0,
            VrrpState::Fault => 3.0,
        }
    }
}

/// A virtual address of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    /// As keepalived writes it, with its prefix: `198.18.0.100/24`.
    pub address: String,
    /// The interface it is added to.
    pub intf: String,
}

impl Vip {
    /// From keepalived's description of a VIP, `198.18.0.100/24 dev eth0 scope global set`;
    /// without `dev`, on `default_intf`.
    pub fn parse(text: &str, default_intf: &str) -> Option<Vip> {
        let mut words = text.split_whitespace();
        let address = words.next()?.to_string();
        let mut intf = default_intf.to_string();
        while let Some(w) = words.next() {
            if w == "dev" {
                intf = words.next()?.to_string();
            }
        }
        Some(Vip { address, intf })
    }
}

/// One VRRP instance: identity, state and counters.
#[derive(Debug, Clone, PartialEq)]
pub struct VrrpInstance {
    /// `vrrp_instance` name.
    pub iname: String,
    /// Its interface.
    pub intf: String,
    /// Virtual router id.
    pub vrid: u8,
    /// State.
    pub state: VrrpState,
    /// VIPs.
    pub vips: Vec<Vip>,
    /// Counters by keepalived's name (`advert_rcvd`, ...), in the order to publish them.
    pub counters: Vec<(Cow<'static, str>, u64)>,
    /// `garp_delay` (keepalived only), published as keepalived-exporter does.
    pub garp_delay: Option<u64>,
}

/// A `vrrp_script`'s result and process state, as keepalived.data shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScript {
    /// Script name.
    pub name: String,
    /// `Status = GOOD|BAD`.
    pub status: Option<String>,
    /// `State = idle|running|requested termination|forcing termination`.
    pub state: Option<String>,
}

/// Everything one VRRP daemon reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VrrpReport {
    /// Instances.
    pub instances: Vec<VrrpInstance>,
    /// Track scripts (keepalived's data file only).
    pub scripts: Vec<TrackScript>,
}

/// Why keepalived's files could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line that should hold a number does not.
    #[error("{file}: line {line}: {what}: expected a number, found {found:?}")]
    NotANumber {
        /// keepalived.data, keepalived.stats.
        file: &'static str,
        /// 1-based line number.
        line: usize,
        /// The field.
        what: String,
        /// The text.
        found: String,
    },
    /// A state name keepalived does not use.
    #[error("instance {instance}: unknown VRRP state {state:?}")]
    UnknownState {
        /// Instance.
        instance: String,
        /// The text.
        state: String,
    },
    /// The data and stats files list different instances (one was written before a reload
    /// and the other after).
    #[error("keepalived.data and keepalived.stats list different instances: {0}")]
    Mismatch(String),
    /// The JSON dump does not parse.
    #[error("keepalived.json: {0}")]
    Json(String),
    /// An instance without a field every instance has.
    #[error("instance {instance}: no {what}")]
    Missing {
        /// Instance.
        instance: String,
        /// The field.
        what: &'static str,
    },
}

const SCRIPT_STATUSES: [&str; 2] = ["BAD", "GOOD"];
const SCRIPT_STATES: [&str; 4] = [
    "idle",
    "running",
    "requested termination",
    "forcing termination",
];

/// Adds `report`'s families to `out`, each sample with `extra` labels too. `checks` holds
/// the result of the exporter's check script by VIP address (`keepalived_check_script_status`,
/// one per VIP that has a result).
pub fn export(
    report: &VrrpReport,
    out: &mut Exposition,
    extra: &[(&str, &str)],
    checks: &BTreeMap<String, bool>,
) {
    for inst in &report.instances {
        let vrid = inst.vrid.to_string();
        let mut labels: Vec<(&str, &str)> = vec![
            ("iname", &inst.iname),
            ("intf", &inst.intf),
            ("vrid", &vrid),
        ];
        labels.extend_from_slice(extra);
        for (name, value) in &inst.counters {
            let help = KEEPALIVED_STATS
                .iter()
                .find(|(n, _)| n == name)
                .map_or_else(
                    || Cow::Owned(format!("vrrpd counter {name}")),
                    |(_, h)| Cow::Borrowed(*h),
                );
            out.sample(
                format!("keepalived_{name}_total"),
                help,
                Kind::Counter,
                &labels,
                *value as f64,
            );
        }
        if let Some(delay) = inst.garp_delay {
            out.sample(
                "keepalived_garp_delay_total",
                "Gratuitous ARP delay",
                Kind::Counter,
                &labels,
                delay as f64,
            );
        }
        let no_vip = [Vip {
            address: String::new(),
            intf: inst.intf.clone(),
        }];
        let vips = if inst.vips.is_empty() {
            &no_vip[..]
        } else {
            &inst.vips[..]
        };
        for vip in vips {
            let mut labels: Vec<(&str, &str)> = vec![
                ("iname", &inst.iname),
                ("intf", &vip.intf),
                ("vrid", &vrid),
                ("ip_address", &vip.address),
            ];
            labels.extend_from_slice(extra);
            out.sample(
                VRRP_STATE.0,
                VRRP_STATE.1,
                Kind::Gauge,
                &labels,
                inst.state.number(),
            );
            if let Some(ok) = checks.get(&vip.address) {
                out.sample(
                    "keepalived_check_script_status",
                    "Check Script status for each VIP",
                    Kind::Gauge,
                    &labels,
                    if *ok { 1.0 } else { 0.0 },
                );
            }
        }
    }
    for script in &report.scripts {
        let mut labels: Vec<(&str, &str)> = vec![("name", &script.name)];
        labels.extend_from_slice(extra);
        let position = |list: &[&str], v: &Option<String>| {
            v.as_deref().and_then(|v| list.iter().position(|s| *s == v))
        };
        if let Some(i) = position(&SCRIPT_STATUSES, &script.status) {
            out.sample(
                "keepalived_script_status",
                "Tracker Script Status",
                Kind::Gauge,
                &labels,
                i as f64,
            );
        }
        if let Some(i) = position(&SCRIPT_STATES, &script.state) {
            out.sample(
                "keepalived_script_state",
                "Tracker Script State",
                Kind::Gauge,
                &labels,
                i as f64,
            );
        }
    }
}

/// Joins what keepalived.data and keepalived.stats say about each instance.
pub fn join(data: data::Data, stats: Vec<stats::InstanceStats>) -> Result<VrrpReport, ParseError> {
    let names = |v: &mut Vec<String>| {
        v.sort();
        v.join(",")
    };
    let mut in_data: Vec<String> = data.instances.iter().map(|i| i.iname.clone()).collect();
    let mut in_stats: Vec<String> = stats.iter().map(|s| s.iname.clone()).collect();
    if names(&mut in_data) != names(&mut in_stats) {
        return Err(ParseError::Mismatch(format!(
            "data [{}], stats [{}]",
            in_data.join(","),
            in_stats.join(",")
        )));
    }
    let mut instances = data.instances;
    for inst in &mut instances {
        if let Some(s) = stats.iter().find(|s| s.iname == inst.iname) {
            inst.counters = s.counters.clone();
        }
    }
    Ok(VrrpReport {
        instances,
        scripts: data.scripts,
    })
}
