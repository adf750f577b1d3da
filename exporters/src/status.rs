//! The status records `vrrpd` publishes on `GET /status` (JSON), shared by the producer
//! (`vrrp-node`'s status endpoint) and the consumer (the [`vrrpd`](crate::vrrpd) source of
//! `lb-exporter`).
//!
//! Every field a reader may not find in an older `vrrpd` has a serde default, so the
//! consumer reads what an older or newer producer serves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counters of one instance, named as keepalived's statistics.
///
/// The producer fills [`Counters::drops`] with every drop reason it knows, zeros included, so
/// that a scraper sees the full set from the start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Valid adverts received for this VRID.
    pub advert_rcvd: u64,
    /// Adverts sent.
    pub advert_sent: u64,
    /// Priority-0 adverts received.
    pub pri_zero_rcvd: u64,
    /// Priority-0 adverts sent.
    pub pri_zero_sent: u64,
    /// Transitions into Master.
    pub become_master: u64,
    /// Transitions into Backup.
    pub become_backup: u64,
    /// Transitions into Fault.
    pub become_fault: u64,
    /// Transitions out of Master.
    pub release_master: u64,
    /// State transitions of any kind.
    pub transitions: u64,
    /// Gratuitous ARP / unsolicited NA messages sent.
    pub garp_sent: u64,
    /// Adverts that could not be sent.
    pub send_errors: u64,
    /// Dropped adverts by reason: the codec's counters (`auth_failure`, ...), the
    /// address-list mismatch `addr_list_err`, and the state machine's reasons prefixed
    /// `fsm_`.
    pub drops: BTreeMap<String, u64>,
}

impl Counters {
    /// Counters at zero, with a zero drop counter for each of `drop_names`.
    pub fn with_drops<'a>(drop_names: impl IntoIterator<Item = &'a str>) -> Counters {
        Counters {
            drops: drop_names.into_iter().map(|n| (n.to_string(), 0)).collect(),
            ..Counters::default()
        }
    }

    /// Adds one to the drop counter `name`.
    pub fn count_drop(&mut self, name: &str) {
        *self.drops.entry(name.to_string()).or_insert(0) += 1;
    }

    /// Every counter but the drops, by its keepalived name, in a fixed order.
    pub fn named(&self) -> [(&'static str, u64); 11] {
        [
            ("advert_rcvd", self.advert_rcvd),
            ("advert_sent", self.advert_sent),
            ("pri_zero_rcvd", self.pri_zero_rcvd),
            ("pri_zero_sent", self.pri_zero_sent),
            ("become_master", self.become_master),
            ("become_backup", self.become_backup),
            ("become_fault", self.become_fault),
            ("release_master", self.release_master),
            ("transitions", self.transitions),
            ("garp_sent", self.garp_sent),
            ("send_errors", self.send_errors),
        ]
    }
}

/// One instance's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceStatus {
    /// `vrrp_instance` name.
    pub name: String,
    /// Interface.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Protocol version.
    pub version: u8,
    /// MASTER, BACKUP, FAULT or STOP.
    pub state: String,
    /// Configured priority.
    pub base_priority: u8,
    /// Priority after tracked checks.
    pub effective_priority: u8,
    /// Virtual addresses with prefix.
    pub vips: Vec<String>,
    /// Whether the VIPs are installed here now.
    pub vips_installed: bool,
    /// Counters.
    pub counters: Counters,
}

/// One `anycast_route`'s status (a halb extension: docs/anycast.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnycastRouteStatus {
    /// `anycast_route` name.
    pub name: String,
    /// The prefix with its length.
    pub prefix: String,
    /// The route's interface.
    pub interface: String,
    /// Whether the kernel route is installed (so FRR announces it).
    pub announced: bool,
    /// Whether the tracked checks want it announced (differs from `announced` while the
    /// kernel refuses the route, e.g. its interface is down).
    pub wanted: bool,
    /// Priority after tracked checks, while wanted.
    pub effective_priority: Option<u8>,
    /// The installed route's metric (the MED FRR announces).
    pub metric: Option<u32>,
    /// Times the route was withdrawn.
    pub withdrawals: u64,
}

/// The whole daemon's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DaemonStatus {
    /// `router_id` from global_defs.
    pub router_id: Option<String>,
    /// The config id the configuration was read as (`vrrpd -i`, keepalived's conditional
    /// configuration); absent from daemons that do not say.
    pub config_id: Option<String>,
    /// Successful reloads.
    pub reloads: u64,
    /// Reloads rejected because the new configuration was bad.
    pub reload_failures: u64,
    /// Instances, in configuration order.
    pub instances: Vec<InstanceStatus>,
    /// `anycast_route`s, in configuration order.
    pub anycast_routes: Vec<AnycastRouteStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_back_as_it_was_written() {
        let mut counters = Counters::with_drops(["auth_failure", "fsm_lower_priority"]);
        counters.advert_rcvd = 7;
        counters.count_drop("auth_failure");
        let status = DaemonStatus {
            router_id: Some("lb1".into()),
            config_id: Some("lb1".into()),
            reloads: 2,
            reload_failures: 1,
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                version: 3,
                state: "MASTER".into(),
                base_priority: 150,
                effective_priority: 140,
                vips: vec!["198.18.0.100/24".into()],
                vips_installed: true,
                counters,
            }],
            anycast_routes: vec![AnycastRouteStatus {
                name: "web".into(),
                prefix: "198.18.200.1/32".into(),
                interface: "lo".into(),
                announced: true,
                wanted: true,
                effective_priority: Some(100),
                metric: Some(155),
                withdrawals: 2,
            }],
        };
        let json = serde_json::to_string(&status).expect("serializes");
        let back: DaemonStatus = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, status);
        assert_eq!(back.instances[0].counters.drops["auth_failure"], 1);
    }

    #[test]
    fn fields_an_older_vrrpd_does_not_send_read_as_zero() {
        let old = r#"{"instances":[{"name":"VI_1","interface":"eth0","vrid":9,"state":"BACKUP",
                      "counters":{"advert_rcvd":3}}]}"#;
        let status: DaemonStatus = serde_json::from_str(old).expect("parses");
        let inst = &status.instances[0];
        assert_eq!((inst.vrid, inst.state.as_str()), (9, "BACKUP"));
        assert_eq!(inst.counters.advert_rcvd, 3);
        assert_eq!(inst.counters.become_master, 0);
        assert!(inst.vips.is_empty());
    }
}
