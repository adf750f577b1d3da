//! The status a running `vrrpd` publishes for the exporter and for operators: per instance
//! name, interface, VRID, state, priorities, VIPs and counters, as JSON over loopback HTTP.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, warn};
use vrrp_proto::DropCounter;

use crate::fsm::{DropReason, Stats};

/// Counters of one instance, named as keepalived's statistics.
///
/// Every counter is always present, zeros included, so that a scraper sees the full set
/// from the start: also every drop reason in [`Counters::drops`] (see [`drop_names`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

impl Default for Counters {
    fn default() -> Self {
        Counters {
            advert_rcvd: 0,
            advert_sent: 0,
            pri_zero_rcvd: 0,
            pri_zero_sent: 0,
            become_master: 0,
            become_backup: 0,
            become_fault: 0,
            release_master: 0,
            transitions: 0,
            garp_sent: 0,
            send_errors: 0,
            drops: drop_names().map(|n| (n.to_string(), 0)).collect(),
        }
    }
}

impl Counters {
    /// Adds one to the drop counter `name`.
    pub fn count_drop(&mut self, name: &str) {
        *self.drops.entry(name.to_string()).or_insert(0) += 1;
    }

    /// These counters plus the ones a state machine keeps itself (transitions, `fsm_*`
    /// drops). The driver's own hold, for those, what the instance's earlier state machines
    /// counted: a restarted instance keeps its counters.
    pub fn plus(&self, fsm: &Stats) -> Counters {
        let mut total = self.clone();
        total.become_master += fsm.become_master;
        total.become_backup += fsm.become_backup;
        total.become_fault += fsm.become_fault;
        total.release_master += fsm.release_master;
        total.transitions += fsm.transitions;
        for reason in DropReason::ALL {
            *total
                .drops
                .entry(fsm_drop_name(reason).to_string())
                .or_insert(0) += fsm.dropped(reason);
        }
        total
    }
}

/// The drop counter of an advert the address list of which differs from ours.
pub const ADDR_LIST_ERR: &str = "addr_list_err";

/// The counter name of a state machine drop reason.
pub fn fsm_drop_name(reason: DropReason) -> &'static str {
    match reason {
        DropReason::NotRunning => "fsm_not_running",
        DropReason::InFault => "fsm_in_fault",
        DropReason::WrongVrid => "fsm_wrong_vrid",
        DropReason::WrongVersion => "fsm_wrong_version",
        DropReason::OwnAddress => "fsm_own_address",
        DropReason::AddressFamily => "fsm_address_family",
        DropReason::ZeroInterval => "fsm_zero_interval",
        DropReason::IntervalMismatch => "fsm_interval_mismatch",
        DropReason::LowerPriority => "fsm_lower_priority",
    }
}

/// Every key of [`Counters::drops`]: the codec's, `addr_list_err`, the state machine's.
pub fn drop_names() -> impl Iterator<Item = &'static str> {
    DropCounter::ALL
        .into_iter()
        .map(DropCounter::name)
        .chain([ADDR_LIST_ERR])
        .chain(DropReason::ALL.into_iter().map(fsm_drop_name))
}

/// One instance's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// The whole daemon's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DaemonStatus {
    /// `router_id` from global_defs.
    pub router_id: Option<String>,
    /// Successful reloads.
    pub reloads: u64,
    /// Reloads rejected because the new configuration was bad.
    pub reload_failures: u64,
    /// Instances, in configuration order.
    pub instances: Vec<InstanceStatus>,
}

/// Serves `GET /status` (JSON) on `addr` until the task is dropped.
pub async fn serve(listener: TcpListener, status: watch::Receiver<DaemonStatus>) {
    loop {
        let (mut conn, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!("status endpoint accept: {e}");
                continue;
            }
        };
        let status = status.clone();
        tokio::spawn(async move {
            let mut head = [0u8; 1024];
            let n =
                match tokio::time::timeout(std::time::Duration::from_secs(2), conn.read(&mut head))
                    .await
                {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
            let line = String::from_utf8_lossy(&head[..n]);
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let (code, body) = if line.starts_with("GET ") && (path == "/status" || path == "/") {
                let snapshot = status.borrow().clone();
                (
                    "200 OK",
                    serde_json::to_string_pretty(&snapshot)
                        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
                )
            } else {
                (
                    "404 Not Found",
                    "{\"error\":\"try GET /status\"}".to_string(),
                )
            };
            let resp = format!(
                "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            if let Err(e) = conn.write_all(resp.as_bytes()).await {
                debug!(%peer, "status endpoint write: {e}");
            }
        });
    }
}

/// Binds the status listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_drop_reason_starts_at_zero_under_a_distinct_snake_case_name() {
        let c = Counters::default();
        let names: Vec<&str> = drop_names().collect();
        assert_eq!(c.drops.len(), names.len(), "names are distinct: {names:?}");
        assert!(c.drops.values().all(|v| *v == 0));
        for n in names {
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{n} is snake_case"
            );
        }
        assert!(c.drops.contains_key("auth_failure"));
        assert!(c.drops.contains_key("fsm_lower_priority"));
    }
}
